package mmm

import (
	"math"
	"testing"
)

// TestLiftTestNarrows checks lift-test calibration: a go-dark lift test
// (spend cut to zero for a while) on the always-on channel, whose effect
// the time series barely identifies, narrows its ROAS posterior and moves
// it toward the truth. (A small spend increase measures the slope of the
// curve, which pins down marginal ROAS rather than ROAS.)
func TestLiftTestNarrows(t *testing.T) {
	const seed, ch = 2, 2 // channel 2 ("social") is always on
	sim := mustSimulate(t, simConfig(mixedChannels()), seed)
	mean := sum(sim.Data.Spend[ch]) / float64(len(sim.Data.Spend[ch]))
	dy := sim.Lift(ch, mean, -mean)
	lift := LiftTest{Channel: ch, Spend: mean, DeltaSpend: -mean, DeltaY: dy, SE: 0.1 * math.Abs(dy)}
	t.Logf("lift test: spend %.2f → 0 per period, Δy %.3f ± %.3f", mean, dy, lift.SE)

	cfg := testSampler
	cfg.Seed = seed
	without := fitSim(t, sim, nil, cfg).Channels()[ch].ROAS
	with := fitSim(t, sim, []LiftTest{lift}, cfg).Channels()[ch].ROAS
	truth := sim.ROAS[ch]
	t.Logf("ROAS truth %.3f; without lift test %.3f [%.3f, %.3f] width %.3f; with %.3f [%.3f, %.3f] width %.3f",
		truth, without.Mean, without.Lo, without.Hi, without.Width(), with.Mean, with.Lo, with.Hi, with.Width())
	if with.Width() > without.Width()/3 {
		t.Errorf("lift test narrowed the ROAS interval only from %.3f to %.3f, want at least 3×", without.Width(), with.Width())
	}
	if math.Abs(with.Mean-truth) >= math.Abs(without.Mean-truth) {
		t.Errorf("lift test moved the ROAS mean from %.3f to %.3f, away from the truth %.3f", without.Mean, with.Mean, truth)
	}
	if !with.Contains(truth) {
		t.Errorf("with the lift test the ROAS interval [%.3f, %.3f] misses the truth %.3f", with.Lo, with.Hi, truth)
	}
}
