package calibration

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/preflight-hq/preflight/persona"
)

// contentWorld builds judged cells of 3 segments × 10 interventions on one
// channel: intent x_j of intervention j (the same for every segment),
// uplift = segment offset + slope·x_j + noise. With slope > 0 the intents
// explain how content moves uplift; with slope 0 they explain nothing.
func contentWorld(slope, noise float64, seed uint64) (*Snapshot, []judgedCell) {
	return contentWorldBySegment([]float64{slope, slope, slope}, noise, seed)
}

// contentWorldBySegment is contentWorld with a slope per segment a, b, c.
func contentWorldBySegment(slopes []float64, noise float64, seed uint64) (*Snapshot, []judgedCell) {
	return contentWorldN(slopes, noise, seed, 10)
}

// contentWorldN is contentWorldBySegment with n interventions.
func contentWorldN(slopes []float64, noise float64, seed uint64, n int) (*Snapshot, []judgedCell) {
	r := rand.New(rand.NewPCG(seed, 1))
	s := &Snapshot{}
	segs := []string{"a", "b", "c"}
	for i, seg := range segs {
		s.Personas = append(s.Personas, persona.Spec{ID: fmt.Sprintf("p%d", i), SegmentID: seg, Weight: 1})
	}
	var judged []judgedCell
	for j := range n {
		x := -0.5 + float64(j)/float64(n-1)
		for i, seg := range segs {
			c := Cell{SegmentID: seg, Channel: "email", InterventionID: fmt.Sprintf("iv%d", j),
				Uplift: 0.01*float64(i+1) + slopes[i]*x + noise*r.NormFloat64(), UpliftSE: math.Max(noise, 0.001)}
			s.Cells = append(s.Cells, c)
			judged = append(judged, judgedCell{idx: len(s.Cells) - 1, cell: c, personas: []int{i}, intents: []float64{x}})
		}
	}
	return s, judged
}

// TestContentEffect: intents that carry the effect get a weight near 1;
// intents unrelated to the measured uplifts get one near 0.
func TestContentEffect(t *testing.T) {
	s, judged := contentWorld(0.02, 0.001, 1)
	ce := checkContentEffect(s, judged)
	if ce == nil || ce.Cells != 30 || ce.Weight < 0.8 || ce.SSEAdjusted >= ce.SSEBaseline {
		t.Errorf("informative intents: %+v, want weight ≥ 0.8 over 30 cells and a smaller error", ce)
	}
	s, judged = contentWorld(0, 0.004, 2)
	ce = checkContentEffect(s, judged)
	if ce == nil || ce.Weight > 0.3 {
		t.Errorf("uninformative intents: %+v, want weight ≤ 0.3", ce)
	}
	t.Logf("uninformative: %+v", ce)
}

// TestContentEffectBySegment: where the personas explain segments a and b
// but not c, c's weight stays well below a's and b's; where every segment
// is explained alike, the segments share the overall weight. Seven
// interventions per segment are fewer than a segment's own curve needs, so
// the effect map is the channel's, shared by the segments.
func TestContentEffectBySegment(t *testing.T) {
	s, judged := contentWorldN([]float64{0.02, 0.02, 0}, 0.001, 3, 7)
	ce := checkContentEffect(s, judged)
	if ce == nil || ce.Segments["c"] > 0.3 || ce.Segments["a"] < 0.7 || ce.Segments["b"] < 0.7 {
		t.Errorf("segment weights %v (overall %.2f), want a, b ≥ 0.7 and c ≤ 0.3", ce.Segments, ce.Weight)
	}
	s, judged = contentWorldN([]float64{0.02, 0.02, 0.02}, 0.001, 4, 7)
	ce = checkContentEffect(s, judged)
	for seg, w := range ce.Segments {
		if math.Abs(w-ce.Weight) > 0.1 {
			t.Errorf("segment %s weight %.2f, overall %.2f: alike segments should share it", seg, w, ce.Weight)
		}
	}
}
