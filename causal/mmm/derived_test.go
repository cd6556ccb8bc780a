package mmm

import (
	"math"
	"testing"
)

// truthPosterior returns a posterior whose only draw is the truth.
func truthPosterior(t *testing.T, sim *Simulation) *Posterior {
	t.Helper()
	m, err := NewModel(sim.Data, sim.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewPosterior(m, [][]float64{m.Unconstrain(sim.Truth)})
}

// TestDerivedAtTruth checks the derived quantities on a one-draw posterior
// at the truth against the simulator's own bookkeeping.
func TestDerivedAtTruth(t *testing.T) {
	sim := mustSimulate(t, simConfig(mixedChannels()), 11)
	p := truthPosterior(t, sim)
	chs := p.Channels()
	shareSum := 0.0
	for ch, cs := range chs {
		for tt, iv := range cs.Contribution {
			if math.Abs(iv.Mean-sim.Contribution[ch][tt]) > 1e-9*math.Max(1, sim.Contribution[ch][tt]) {
				t.Fatalf("%s: contribution[%d] = %v, want %v", cs.Name, tt, iv.Mean, sim.Contribution[ch][tt])
			}
		}
		if math.Abs(cs.ROAS.Mean-sim.ROAS[ch]) > 1e-9 {
			t.Errorf("%s: ROAS %v, want %v", cs.Name, cs.ROAS.Mean, sim.ROAS[ch])
		}
		// In-sample ROAS is set to SimChannel.ROAS; carryover past the end
		// only adds.
		if r := mixedChannels()[ch].ROAS; cs.ROAS.Mean < r-1e-9 || cs.ROAS.Mean > 1.05*r {
			t.Errorf("%s: ROAS %v, want in [%v, %v]", cs.Name, cs.ROAS.Mean, r, 1.05*r)
		}
		if cs.MROAS.Mean <= 0 || cs.MROAS.Mean >= cs.ROAS.Mean*1.5 {
			t.Errorf("%s: mROAS %v implausible against ROAS %v", cs.Name, cs.MROAS.Mean, cs.ROAS.Mean)
		}
		if math.Abs(cs.ShareOfOutcome.Mean-sim.ShareOfOutcome[ch]) > 1e-12 ||
			math.Abs(cs.ShareOfMedia.Mean-sim.ShareOfMedia[ch]) > 1e-12 {
			t.Errorf("%s: shares %v/%v, want %v/%v", cs.Name, cs.ShareOfOutcome.Mean, cs.ShareOfMedia.Mean,
				sim.ShareOfOutcome[ch], sim.ShareOfMedia[ch])
		}
		shareSum += cs.ShareOfMedia.Mean

		curve, err := p.ResponseCurve(ch, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(curve) != 21 || curve[0].Incremental.Mean != 0 {
			t.Fatalf("%s: curve has %d points, starts at %v", cs.Name, len(curve), curve[0].Incremental.Mean)
		}
		at1 := curve[10]
		if math.Abs(at1.Incremental.Mean-cs.ROAS.Mean*at1.Spend) > 1e-9*at1.Incremental.Mean {
			t.Errorf("%s: curve at r=1 is %v, want ROAS·spend %v", cs.Name, at1.Incremental.Mean, cs.ROAS.Mean*at1.Spend)
		}
		for i := 1; i < len(curve); i++ {
			if curve[i].Incremental.Mean < curve[i-1].Incremental.Mean {
				t.Errorf("%s: response curve decreases at r=%v", cs.Name, curve[i].Ratio)
			}
		}
		// A response curve saturates: elasticity < 1 at twice the spend
		// for concave curves; always positive.
		e, err := p.Elasticity(ch, 2)
		if err != nil {
			t.Fatal(err)
		}
		if !(e.Mean > 0 && e.Mean < 1) {
			t.Errorf("%s: elasticity at r=2 is %v, want in (0, 1)", cs.Name, e.Mean)
		}
	}
	if math.Abs(shareSum-1) > 1e-12 {
		t.Errorf("media shares sum to %v", shareSum)
	}

	// Logistic is tanh(λa/2): elasticity → 1 as spend → 0.
	if e, _ := p.Elasticity(1, 1e-4); math.Abs(e.Mean-1) > 1e-3 {
		t.Errorf("logistic elasticity near zero spend %v, want 1", e.Mean)
	}
}

// TestOptimizeBudgetAtTruth checks the posterior budget optimizer on a
// one-draw posterior: it respects the budget and bounds and does at least
// as well as the historical mix.
func TestOptimizeBudgetAtTruth(t *testing.T) {
	sim := mustSimulate(t, simConfig(mixedChannels()), 11)
	p := truthPosterior(t, sim)
	hist := 0.0
	for _, x := range sim.Data.Spend {
		hist += sum(x)
	}
	prob := BudgetProblem{Budget: hist, Lower: []float64{0.2 * hist, 0, 0}, Upper: []float64{hist, hist, 0.3 * hist}, Steps: 300}
	res, err := p.OptimizeBudget(prob)
	if err != nil {
		t.Fatal(err)
	}
	if s := sum(res.Allocation); math.Abs(s-hist) > 1e-6*hist {
		t.Errorf("allocation sums to %v, want %v", s, hist)
	}
	for ch, b := range res.Allocation {
		if b < prob.Lower[ch]-1e-9 || b > prob.Upper[ch]+1e-9 {
			t.Errorf("b[%d] = %v outside [%v, %v]", ch, b, prob.Lower[ch], prob.Upper[ch])
		}
	}
	if res.Expected < res.Reference.Mean*0.995 {
		t.Errorf("optimum %v below the historical mix %v", res.Expected, res.Reference.Mean)
	}
	if math.Abs(res.Outcome.Mean-res.Expected) > 1e-9*res.Expected {
		t.Errorf("outcome mean %v, objective %v", res.Outcome.Mean, res.Expected)
	}
	t.Logf("allocation %v (historical %v), outcome %.1f vs historical mix %.1f",
		res.Allocation, []float64{sum(sim.Data.Spend[0]), sum(sim.Data.Spend[1]), sum(sim.Data.Spend[2])},
		res.Expected, res.Reference.Mean)
}
