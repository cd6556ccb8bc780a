package optimize

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestPAVA(t *testing.T) {
	for _, tc := range []struct {
		name string
		y, w []float64
		want []float64
	}{
		{"empty", nil, nil, []float64{}},
		{"sorted", []float64{1, 2, 3}, nil, []float64{1, 2, 3}},
		// 3 > 1 pools to 2; then 2 ≤ 2 stays.
		{"one violation", []float64{3, 1, 2}, nil, []float64{2, 2, 2}},
		{"two blocks", []float64{1, 3, 2, 4, 3.5}, nil, []float64{1, 2.5, 2.5, 3.75, 3.75}},
		{"reversed", []float64{4, 3, 2, 1}, nil, []float64{2.5, 2.5, 2.5, 2.5}},
		// Weighted: (3·1 + 1·3)/4 = 1.5.
		{"weighted", []float64{3, 1}, []float64{1, 3}, []float64{1.5, 1.5}},
		// Cascade: 5 > 2 pools to 3.5 (weight 2); then 3.5 > 0 pools to
		// (7+0)/3 = 7/3, which is ≥ 1, so the first value stays.
		{"cascade", []float64{1, 5, 2, 0}, nil, []float64{1, 7.0 / 3, 7.0 / 3, 7.0 / 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PAVA(tc.y, tc.w)
			if len(got) != len(tc.want) {
				t.Fatalf("PAVA = %v, want %v", got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-12 {
					t.Fatalf("PAVA = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestCurveAt(t *testing.T) {
	c := Curve{X: []float64{-0.5, 0, 0.5}, Y: []float64{-1, 0, 2}}
	for _, tc := range [][2]float64{{-1, -1}, {-0.5, -1}, {-0.25, -0.5}, {0, 0}, {0.25, 1}, {0.5, 2}, {0.9, 2}} {
		if got := c.At(tc[0]); math.Abs(got-tc[1]) > 1e-12 {
			t.Errorf("At(%v) = %v, want %v", tc[0], got, tc[1])
		}
	}
	if (&Curve{}).At(0.3) != 0 {
		t.Error("empty curve not 0")
	}
	// Ties in x are merged before PAVA.
	f := FitCurve([]EffectPoint{{Intent: 0, Uplift: 1}, {Intent: 0, Uplift: 3}, {Intent: 1, Uplift: 1}})
	if !reflect.DeepEqual(f.X, []float64{0, 1}) || !reflect.DeepEqual(f.Y, []float64{5.0 / 3, 5.0 / 3}) || f.Points != 3 {
		t.Errorf("FitCurve = %+v", f)
	}
}

func TestEffectMapFallback(t *testing.T) {
	var pts []EffectPoint
	add := func(ch, seg string, n int) {
		for i := range n {
			x := float64(i) / float64(n)
			pts = append(pts, EffectPoint{Channel: ch, Segment: seg, Intent: x, Uplift: x})
		}
	}
	add("email", "loyal", 8)   // cell of its own
	add("email", "at_risk", 3) // too small: email channel curve
	add("sms", "loyal", 4)     // sms has 4+3 = 7 < 8: pooled
	add("sms", "at_risk", 3)
	m, err := FitEffectMap(pts, EffectMapConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ch, seg, want string }{
		{"email", "loyal", LevelCell},
		{"email", "at_risk", LevelChannel},
		{"email", "unknown", LevelChannel},
		{"sms", "loyal", LevelPooled},
		{"push", "loyal", LevelPooled},
	} {
		if got := m.Level(tc.ch, tc.seg); got != tc.want {
			t.Errorf("Level(%s, %s) = %s, want %s", tc.ch, tc.seg, got, tc.want)
		}
	}
	// Distinct intents: 8 points on two intents are not enough.
	var flat []EffectPoint
	for i := range 8 {
		flat = append(flat, EffectPoint{Channel: "push", Segment: "s", Intent: float64(i % 2), Uplift: 1})
	}
	m, _ = FitEffectMap(append(flat, pts...), EffectMapConfig{})
	if got := m.Level("push", "s"); got != LevelPooled {
		t.Errorf("two distinct intents: level %s, want pooled", got)
	}
	if _, err := FitEffectMap(nil, EffectMapConfig{}); err == nil {
		t.Error("no points: no error")
	}
}

func TestEffectMapRecoversPlantedCurve(t *testing.T) {
	// Planted: uplift = 0.01·(1 + tanh(3·intent)) per channel × segment,
	// scaled by segment; observed with noise.
	r := rand.New(rand.NewPCG(4, 4))
	seg := map[string]float64{"loyal": 0.5, "at_risk": 1.5}
	planted := func(s string, x float64) float64 { return seg[s] * 0.01 * (1 + math.Tanh(3*x)) }
	var pts []EffectPoint
	for s := range seg {
		for range 200 {
			x := 2*r.Float64() - 1
			pts = append(pts, EffectPoint{Channel: "email", Segment: s, Intent: x, Uplift: planted(s, x) + 0.001*r.NormFloat64()})
		}
	}
	m, err := FitEffectMap(pts, EffectMapConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for s := range seg {
		prev := math.Inf(-1)
		maxErr := 0.0
		for x := -1.0; x <= 1.0001; x += 0.01 {
			y := m.Map("email", s, x)
			if y < prev-1e-15 {
				t.Fatalf("%s: not monotone at %v: %v < %v", s, x, y, prev)
			}
			prev = y
			if x > -0.9 && x < 0.9 {
				maxErr = math.Max(maxErr, math.Abs(y-planted(s, x)))
			}
		}
		if maxErr > 0.002 {
			t.Errorf("%s: max error %v on [−0.9, 0.9]", s, maxErr)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back EffectMap
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, m) || back.Map("email", "loyal", 0.3) != m.Map("email", "loyal", 0.3) {
		t.Error("JSON round trip differs")
	}
}
