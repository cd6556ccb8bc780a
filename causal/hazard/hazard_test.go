package hazard

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// fatigue is a planted hazard of the same form as synth.Fatigue's
// unsubscribe model,
//
//	h = σ(UnsubIntercept[channel] + FrequencySlope·(f−1) + EngagementCoef·(e−0.5)),
//
// with the engagement e fixed per segment so that the model, which sees
// the segment, is correctly specified.
type fatigue struct {
	intercept  map[string]float64
	slope      float64
	engCoef    float64
	engagement map[string]float64
}

// defaultFatigue uses synth.DefaultFatigue's unsubscribe numbers.
func defaultFatigue() fatigue {
	return fatigue{
		intercept:  map[string]float64{"email": -5.5, "sms": -4.8, "push": -5.0},
		slope:      0.45,
		engCoef:    -1.5,
		engagement: map[string]float64{"low": 0.2, "mid": 0.5, "high": 0.8},
	}
}

func (p fatigue) hazard(ch, seg string, f int) float64 {
	return sigmoid(p.intercept[ch] + p.slope*float64(f-1) + p.engCoef*(p.engagement[seg]-0.5))
}

func (p fatigue) cumulative(ch, seg string, k int) float64 {
	s := 1.0
	for f := 1; f <= k; f++ {
		s *= 1 - p.hazard(ch, seg, f)
	}
	return 1 - s
}

// simulate draws person-period rows: persons subscribers per channel and
// segment, each sent up to maxF times and leaving at the first event.
// Recency is drawn but has no effect.
func simulate(rng *rand.Rand, p fatigue, channels, segments []string, persons, maxF int) []Exposure {
	var rows []Exposure
	for _, ch := range channels {
		for _, seg := range segments {
			for range persons {
				for f := 1; f <= maxF; f++ {
					ev := rng.Float64() < p.hazard(ch, seg, f)
					rows = append(rows, Exposure{Channel: ch, Segment: seg, Frequency: f, RecencyDays: 120 * rng.Float64(), Event: ev})
					if ev {
						break
					}
				}
			}
		}
	}
	return rows
}

var (
	channels = []string{"email", "push", "sms"}
	segments = []string{"high", "low", "mid"}
)

func TestRecoversPlantedFatigue(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	truth := defaultFatigue()
	rows := simulate(rng, truth, channels, segments, 4000, 10)
	for _, monotone := range []bool{false, true} {
		m, err := Fit(Unsubscribe, rows, Options{Monotone: monotone})
		if err != nil {
			t.Fatal(err)
		}
		maxRel, maxZ := 0.0, 0.0
		covered, total := 0, 0
		for _, ch := range channels {
			for _, seg := range segments {
				prev := 0.0
				for f := 1; f <= 10; f++ {
					want := truth.hazard(ch, seg, f)
					p, lo, hi := m.Risk(ch, seg, f, 30)
					if !(lo <= p && p <= hi) {
						t.Errorf("%s/%s f=%d: interval [%v, %v] does not hold %v", ch, seg, f, lo, hi, p)
					}
					rel := math.Abs(p-want) / want
					maxRel = max(maxRel, rel)
					// Logit-scale error in standard errors.
					se := (logit(hi) - logit(lo)) / 2 / 1.959963984540054
					maxZ = max(maxZ, math.Abs(logit(p)-logit(want))/se)
					if rel > 0.2 || math.Abs(logit(p)-logit(want)) > 4*se {
						t.Errorf("%s/%s f=%d: risk %.5f, truth %.5f (%.0f%% off)", ch, seg, f, p, want, 100*rel)
					}
					total++
					if lo <= want && want <= hi {
						covered++
					}
					if monotone && p < prev*(1-1e-12) {
						t.Errorf("%s/%s f=%d: monotone fit falls from %v to %v", ch, seg, f, prev, p)
					}
					prev = p
				}
			}
		}
		t.Logf("monotone=%v: %d rows, max relative error %.3f, max |error|/se %.2f, 95%% interval covers truth %d/%d", monotone, len(rows), maxRel, maxZ, covered, total)
		if covered < total*85/100 {
			t.Errorf("monotone=%v: interval covers the truth for %d of %d (channel, segment, frequency), want >= 85%%", monotone, covered, total)
		}
	}
}

func TestMaxFrequencyTrueCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	truth := defaultFatigue()
	rows := simulate(rng, truth, channels, segments, 4000, 10)
	m, err := Fit(Unsubscribe, rows, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ch, seg string
		cap     int
	}{{"email", "mid", 5}, {"sms", "low", 2}, {"push", "high", 7}} {
		// r halfway between the true cumulative risks at the cap and one
		// more send: the true cap is c.cap.
		r := (truth.cumulative(c.ch, c.seg, c.cap) + truth.cumulative(c.ch, c.seg, c.cap+1)) / 2
		if got := m.MaxFrequency(c.ch, c.seg, 30, r); got != c.cap {
			p, _, _ := m.CumulativeRisk(c.ch, c.seg, 30, c.cap)
			t.Errorf("%s/%s r=%.4f: MaxFrequency = %d, want %d (fitted C(%d) = %.4f, true %.4f)", c.ch, c.seg, r, got, c.cap, c.cap, p, truth.cumulative(c.ch, c.seg, c.cap))
		}
		cons := m.MaxFrequencyConservative(c.ch, c.seg, 30, r)
		if cons > c.cap || cons < c.cap-2 {
			t.Errorf("%s/%s: conservative cap %d, want in [%d, %d]", c.ch, c.seg, cons, c.cap-2, c.cap)
		}
		// The cumulative interval holds the truth.
		p, lo, hi := m.CumulativeRisk(c.ch, c.seg, 30, c.cap)
		if want := truth.cumulative(c.ch, c.seg, c.cap); !(lo <= want && want <= hi) || !(lo <= p && p <= hi) {
			t.Errorf("%s/%s: C(%d) = %.4f [%.4f, %.4f], truth %.4f", c.ch, c.seg, c.cap, p, lo, hi, want)
		}
	}
	if got := m.MaxFrequency("email", "mid", 30, 1); got != m.MaxObservedFrequency {
		t.Errorf("r = 1: MaxFrequency = %d, want MaxObservedFrequency %d", got, m.MaxObservedFrequency)
	}
	if got := m.MaxFrequency("email", "mid", 30, 0); got != 0 {
		t.Errorf("r = 0: MaxFrequency = %d, want 0", got)
	}
	if got := m.MaxFrequency("fax", "mid", 30, 0.1); got != -1 {
		t.Errorf("unknown channel: MaxFrequency = %d, want -1", got)
	}
}

// TestCumulativeRiskHandComputed checks C(K) = 1 − Π(1 − h_f) against Risk.
func TestCumulativeRiskHandComputed(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	rows := simulate(rng, defaultFatigue(), []string{"email"}, []string{"mid"}, 3000, 6)
	m, err := Fit(Unsubscribe, rows, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := 1.0
	for f := 1; f <= 4; f++ {
		h, _, _ := m.Risk("email", "mid", f, 10)
		s *= 1 - h
	}
	p, _, _ := m.CumulativeRisk("email", "mid", 10, 4)
	if math.Abs(p-(1-s)) > 1e-12 {
		t.Errorf("C(4) = %v, want 1 − Π(1 − h) = %v", p, 1-s)
	}
	if p, lo, hi := m.CumulativeRisk("email", "mid", 10, 0); p != 0 || lo != 0 || hi != 0 {
		t.Errorf("C(0) = %v [%v, %v], want 0", p, lo, hi)
	}
}

func TestOneChannelOnly(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	truth := defaultFatigue()
	rows := simulate(rng, truth, []string{"sms"}, []string{"mid"}, 6000, 8)
	m, err := Fit(Unsubscribe, rows, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Channels) != 1 || len(m.Segments) != 1 {
		t.Fatalf("levels %v %v, want one each", m.Channels, m.Segments)
	}
	for f := 1; f <= 8; f++ {
		p, _, _ := m.Risk("sms", "mid", f, 3)
		if want := truth.hazard("sms", "mid", f); math.Abs(p-want) > 0.3*want {
			t.Errorf("f=%d: risk %.5f, truth %.5f", f, p, want)
		}
	}
	if p, lo, hi := m.Risk("email", "mid", 1, 3); !math.IsNaN(p) || !math.IsNaN(lo) || !math.IsNaN(hi) {
		t.Errorf("unseen channel: %v %v %v, want NaN", p, lo, hi)
	}
}

func TestNoEvents(t *testing.T) {
	var rows []Exposure
	for i := range 300 {
		for f := 1; f <= 3; f++ {
			rows = append(rows, Exposure{Channel: "email", Segment: []string{"a", "b"}[i%2], Frequency: f, RecencyDays: 5})
		}
	}
	m, err := Fit(Complaint, rows, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.NoEvents {
		t.Fatal("NoEvents not set")
	}
	// Exact 95% upper bound for 0 events in 300 exposures:
	// 1 − 0.025^(1/300) ≈ 0.01222 (about the "rule of three", 3.7/300).
	p, lo, hi := m.Risk("email", "a", 2, 5)
	if p != 0 || lo != 0 || math.Abs(hi-(1-math.Pow(0.025, 1.0/300))) > 1e-12 {
		t.Errorf("Risk = %v [%v, %v], want 0 [0, %v]", p, lo, hi, 1-math.Pow(0.025, 1.0/300))
	}
	if _, _, hi := m.Risk("email", "a", 4, 5); hi != 1 {
		t.Errorf("unobserved frequency: upper bound %v, want 1", hi)
	}
	if got := m.MaxFrequency("email", "a", 5, 0.001); got != 3 {
		t.Errorf("MaxFrequency = %d, want MaxObservedFrequency 3", got)
	}
	if got := m.MaxFrequencyConservative("email", "a", 5, 0.02); got != 1 {
		t.Errorf("MaxFrequencyConservative = %d, want 1", got)
	}
}

func TestMonotoneConstraintBinds(t *testing.T) {
	// A planted hazard that rises to frequency 4 and then falls: the
	// unconstrained fit follows the fall, the monotone fit stays flat.
	rng := rand.New(rand.NewPCG(19, 20))
	logit := []float64{-4, -3.5, -3, -2.5, -3.2, -3.9, -4.6, -5.3}
	var rows []Exposure
	for range 20000 {
		for f := 1; f <= len(logit); f++ {
			ev := rng.Float64() < sigmoid(logit[f-1])
			rows = append(rows, Exposure{Channel: "email", Segment: "all", Frequency: f, Event: ev})
			if ev {
				break
			}
		}
	}
	free, err := Fit(Unsubscribe, rows, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mono, err := Fit(Unsubscribe, rows, Options{Monotone: true})
	if err != nil {
		t.Fatal(err)
	}
	p4, _, _ := free.Risk("email", "all", 4, 0)
	p8, _, _ := free.Risk("email", "all", 8, 0)
	if p8 >= p4 {
		t.Errorf("unconstrained fit: risk at 8 (%v) >= at 4 (%v), want the planted fall", p8, p4)
	}
	prev := 0.0
	for f := 1; f <= 8; f++ {
		p, _, _ := mono.Risk("email", "all", f, 0)
		if p < prev*(1-1e-12) {
			t.Errorf("monotone fit falls at f=%d: %v < %v", f, p, prev)
		}
		prev = p
	}
	for j := mono.rampStart(); j < mono.rampStart()+mono.nRamps(); j++ {
		if mono.Coef[j] < 0 {
			t.Errorf("monotone slope %d = %v < 0", j, mono.Coef[j])
		}
	}
}

func TestErrorsAndJSON(t *testing.T) {
	bad := []struct {
		name string
		rows []Exposure
		opts Options
	}{
		{"no rows", nil, Options{}},
		{"frequency 0", []Exposure{{Channel: "e", Frequency: 0}}, Options{}},
		{"NaN recency", []Exposure{{Channel: "e", Frequency: 1, RecencyDays: math.NaN()}}, Options{}},
		{"negative weight", []Exposure{{Channel: "e", Frequency: 1, Weight: -1}}, Options{}},
		{"all events", []Exposure{{Channel: "e", Frequency: 1, Event: true}}, Options{}},
		{"bad knots", []Exposure{{Channel: "e", Frequency: 1}}, Options{FrequencyKnots: []int{3, 2}}},
		{"bad level", []Exposure{{Channel: "e", Frequency: 1}}, Options{Level: 1.5}},
	}
	for _, b := range bad {
		if _, err := Fit(Unsubscribe, b.rows, b.opts); err == nil {
			t.Errorf("%s: want an error", b.name)
		}
	}

	rng := rand.New(rand.NewPCG(21, 22))
	rows := simulate(rng, defaultFatigue(), channels, segments, 500, 6)
	ms, err := FitModels(rows, rows, Options{Monotone: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(ms)
	if err != nil {
		t.Fatal(err)
	}
	var back Models
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	p1, lo1, hi1 := ms.Unsubscribe.Risk("sms", "low", 3, 40)
	p2, lo2, hi2 := back.Unsubscribe.Risk("sms", "low", 3, 40)
	if p1 != p2 || lo1 != lo2 || hi1 != hi2 {
		t.Errorf("round trip changed Risk: %v %v %v → %v %v %v", p1, lo1, hi1, p2, lo2, hi2)
	}
	if back.Complaint.Outcome != Complaint || back.Unsubscribe.MaxFrequency("sms", "low", 40, 0.05) != ms.Unsubscribe.MaxFrequency("sms", "low", 40, 0.05) {
		t.Error("round trip lost the outcome or changed MaxFrequency")
	}
}

func TestRecencyBins(t *testing.T) {
	m := &Model{RecencyEdges: []float64{7, 30, 90}}
	for _, c := range []struct {
		days float64
		bin  int
	}{{0, 0}, {6.99, 0}, {7, 1}, {29, 1}, {30, 2}, {90, 3}, {1000, 3}, {-1, 0}} {
		if got := m.recencyBin(c.days); got != c.bin {
			t.Errorf("recencyBin(%v) = %d, want %d", c.days, got, c.bin)
		}
	}
}

func logit(p float64) float64 { return math.Log(p / (1 - p)) }
