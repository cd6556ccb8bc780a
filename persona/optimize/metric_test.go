package optimize

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/preflight-hq/preflight/persona"
)

func TestKendallTauB(t *testing.T) {
	for _, tc := range []struct {
		name string
		x, y []float64
		want float64
	}{
		{"perfect", []float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{"reversed", []float64{1, 2, 3}, []float64{3, 2, 1}, -1},
		// Pairs: (1,2) c, (1,3) c, (1,4) c, (2,3) tied x, (2,4) d,
		// (3,4) tied y; n0 = 6, n1 = n2 = 1: (3−1)/sqrt(5·5) = 0.4.
		{"ties in both", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 2}, 0.4},
		// Pair (1,2) tied in x and y; (1,3), (2,3) concordant; n0 = 3,
		// n1 = n2 = 1: 2/sqrt(2·2) = 1.
		{"joint tie", []float64{1, 1, 2}, []float64{5, 5, 7}, 1},
		// n_c = 1, n_d = 1 … computed by hand: x = (1,2,3), y = (1,3,2):
		// (1,2) c, (1,3) c, (2,3) d: (2−1)/3.
		{"one swap", []float64{1, 2, 3}, []float64{1, 3, 2}, 1.0 / 3},
		// The scipy.stats.kendalltau documentation example.
		{"scipy", []float64{12, 2, 1, 12, 2}, []float64{1, 4, 7, 1, 0}, -0.47140452079103173},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KendallTauB(tc.x, tc.y); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("KendallTauB = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		x, y []float64
	}{
		{"empty", nil, nil},
		{"one", []float64{1}, []float64{2}},
		{"x constant", []float64{1, 1, 1}, []float64{1, 2, 3}},
		{"y constant", []float64{1, 2, 3}, []float64{0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := KendallTauB(tc.x, tc.y); !math.IsNaN(got) {
				t.Errorf("KendallTauB = %v, want NaN", got)
			}
		})
	}
}

func ex(iv string, pid string, w, lift float64) Example {
	return Example{Persona: persona.Spec{ID: pid, Weight: w}, Intervention: persona.Intervention{ID: iv}, ObservedLift: lift}
}

func TestEvaluateByHand(t *testing.T) {
	// Two interventions, one persona each, scale 1. A: lift 0.5, intent
	// 0.5 (exact); B: lift −0.5, intent 0 (mean off by 0.5, sds both 0).
	// Tau: one concordant pair = 1. MSE = (0 + 0.25/2)/2 = 0.0625.
	// Score = 0.5 + 0.5·0.9375 = 0.96875.
	exs := []Example{ex("A", "p", 1, 0.5), ex("B", "p", 1, -0.5)}
	r := Evaluate(exs, []float64{0.5, 0}, nil, 1)
	want := Report{Score: 0.96875, Tau: 1, TauDefined: true, MSE: 0.0625, Examples: 2, Interventions: 2}
	if !close(r, want) {
		t.Errorf("got %+v, want %+v", r, want)
	}

	// Spread: intervention A with two personas of weight 1, intents 0.2
	// and 0.6 (mean 0.4, sd 0.2) against lifts 0.4, 0.4 (sd 0): the mean
	// matches, the sd term is 0.2²/2 = 0.02. Tau undefined (one
	// intervention) counts 0: Score = 0.5·0.98 = 0.49.
	exs = []Example{ex("A", "p1", 1, 0.4), ex("A", "p2", 1, 0.4)}
	r = Evaluate(exs, []float64{0.2, 0.6}, nil, 1)
	want = Report{Score: 0.49, MSE: 0.02, Examples: 2, Interventions: 1}
	if !close(r, want) {
		t.Errorf("got %+v, want %+v", r, want)
	}

	// A failed judgement counts as intent 0 and in the failure rate;
	// lifts scaled by 2 and clipped to [−1, 1].
	exs = []Example{ex("A", "p", 1, 2), ex("B", "p", 1, -4)}
	r = Evaluate(exs, []float64{1, 0.9}, []bool{false, true}, 2)
	// A: target 1, intent 1 → 0. B: target −1 (clipped), intent 0 →
	// 1/2. MSE = 0.25; pred (1, 0) vs lifts (2, −4): concordant, tau 1.
	want = Report{Score: 0.5 + 0.5*0.75, Tau: 1, TauDefined: true, MSE: 0.25, FailureRate: 0.5, Examples: 2, Failures: 1, Interventions: 2}
	if !close(r, want) {
		t.Errorf("got %+v, want %+v", r, want)
	}

	// The clip: everything maximally wrong gives MSE ≤ 1.
	exs = []Example{ex("A", "p1", 1, 1), ex("A", "p2", 1, -1)}
	r = Evaluate(exs, []float64{-1, -1}, nil, 1)
	if r.MSE > 1 || r.MSE < 0 {
		t.Errorf("MSE = %v outside [0, 1]", r.MSE)
	}
	r = Evaluate(nil, nil, nil, 1)
	if r.Examples != 0 || r.Score != 0.5 {
		t.Errorf("empty: %+v", r)
	}
}

func close(a, b Report) bool {
	f := func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }
	return f(a.Score, b.Score) && f(a.Tau, b.Tau) && f(a.MSE, b.MSE) && f(a.FailureRate, b.FailureRate) &&
		a.TauDefined == b.TauDefined && a.Examples == b.Examples && a.Failures == b.Failures && a.Interventions == b.Interventions
}

func TestTargetAndScale(t *testing.T) {
	if s := TargetScale([]Example{ex("A", "p", 1, 0.01), ex("B", "p", 1, -0.03)}); s != 0.03 {
		t.Errorf("TargetScale = %v", s)
	}
	if s := TargetScale(nil); s != 1 {
		t.Errorf("TargetScale(nil) = %v", s)
	}
	for _, tc := range [][3]float64{{0.015, 0.03, 0.5}, {0.06, 0.03, 1}, {-0.09, 0.03, -1}, {0.5, 0, 0.5}} {
		if got := Target(tc[0], tc[1]); math.Abs(got-tc[2]) > 1e-12 {
			t.Errorf("Target(%v, %v) = %v, want %v", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestAccept(t *testing.T) {
	j := func(x float64, drivers ...float64) persona.Judgement {
		out := persona.Judgement{IntentChange: x, Rationale: "because"}
		for _, d := range drivers {
			out.Drivers = append(out.Drivers, persona.Driver{Factor: persona.DriverOther, Effect: d})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		j      persona.Judgement
		target float64
		want   bool
	}{
		{"close", j(0.4), 0.5, true},
		{"wrong sign", j(-0.05), 0.1, false},
		{"too far", j(0.9), 0.5, false},
		{"zero target any sign", j(-0.1), 0, true},
		{"no rationale", persona.Judgement{IntentChange: 0.5}, 0.5, false},
		{"drivers disagree", j(0.5, -0.3), 0.5, false},
		{"drivers agree", j(0.5, 0.3, -0.1), 0.5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Accept(tc.j, tc.target, 0.3); got != tc.want {
				t.Errorf("Accept = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSplitByIntervention(t *testing.T) {
	w := newWorld(3, 20, 2)
	s, err := SplitByIntervention(w.examples, Fractions{}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	tr, va, te := interventionIDs(s.Train), interventionIDs(s.Val), interventionIDs(s.Test)
	if len(tr) != 10 || len(va) != 5 || len(te) != 5 {
		t.Errorf("sizes %d/%d/%d, want 10/5/5", len(tr), len(va), len(te))
	}
	if len(s.Train)+len(s.Val)+len(s.Test) != len(w.examples) {
		t.Errorf("examples lost")
	}
	in := map[string]int{}
	for _, ids := range [][]string{tr, va, te} {
		for _, id := range ids {
			in[id]++
		}
	}
	for id, n := range in {
		if n != 1 {
			t.Errorf("intervention %s in %d sets", id, n)
		}
	}
	s2, _ := SplitByIntervention(w.examples, Fractions{}, rand.New(rand.NewPCG(1, 2)))
	if got := interventionIDs(s2.Val); len(got) != len(va) || got[0] != va[0] {
		t.Errorf("same seed, different split")
	}

	// Three interventions: one each, whatever the fractions.
	small := []Example{ex("a", "p", 1, 0), ex("b", "p", 1, 0), ex("c", "p", 1, 0)}
	s, err = SplitByIntervention(small, Fractions{Train: 0, Val: 1, Test: 1}, rand.New(rand.NewPCG(1, 2)))
	if err != nil || len(s.Train) != 1 || len(s.Val) != 1 || len(s.Test) != 1 {
		t.Errorf("3 interventions: %v, %d/%d/%d", err, len(s.Train), len(s.Val), len(s.Test))
	}
	if _, err := SplitByIntervention(small[:2], Fractions{}, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Error("2 interventions split without error")
	}
}
