package mmm

import (
	"math"
	"testing"

	"github.com/preflight-hq/preflight/causal/mcmc"
)

// testSampler is the sampler budget of the posterior tests: enough for
// stable 90% intervals, small enough to keep the package's tests short.
var testSampler = mcmc.Config{Chains: 4, Warmup: 300, Draws: 250}

// TestRecovery fits data simulated from a known truth (two flighted
// channels, one always-on) over several seeds and checks the acceptance
// criteria: 90% credible intervals cover the true parameters at least 85%
// of the time; the flighted channels' contribution shares are within 10%
// of the truth; the always-on channel's share interval is honest — it
// contains the truth and is much wider than a flighted channel's.
func TestRecovery(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4}
	covered, total := 0, 0
	chans := mixedChannels()
	for _, seed := range seeds {
		sim := mustSimulate(t, simConfig(chans), seed)
		cfg := testSampler
		cfg.Seed = seed
		f := fitSim(t, sim, nil, cfg)
		r := f.Result
		t.Logf("seed %d: max R̂ %.3f, min bulk ESS %.0f, divergences %v", seed, r.MaxRHat(), r.MinESSBulk(), r.Divergences)
		names := f.Model().ParamNames()
		truth := sim.Truth.Flat()
		for i, iv := range f.ParamIntervals() {
			total++
			ok := iv.Contains(truth[i])
			if ok {
				covered++
			}
			t.Logf("  %-24s truth %8.4f  90%% CI [%8.4f, %8.4f] width %.4f covered %v", names[i], truth[i], iv.Lo, iv.Hi, iv.Width(), ok)
		}
		maxFlighted := 0.0
		summ := f.Channels()
		for ch, cs := range summ {
			truthShare := sim.ShareOfOutcome[ch]
			t.Logf("  share of outcome %-7s truth %.4f mean %.4f CI [%.4f, %.4f] width %.4f; ROAS truth %.3f mean %.3f CI [%.3f, %.3f]",
				cs.Name, truthShare, cs.ShareOfOutcome.Mean, cs.ShareOfOutcome.Lo, cs.ShareOfOutcome.Hi, cs.ShareOfOutcome.Width(),
				sim.ROAS[ch], cs.ROAS.Mean, cs.ROAS.Lo, cs.ROAS.Hi)
			if chans[ch].Flighted {
				maxFlighted = max(maxFlighted, cs.ShareOfOutcome.Width())
				if rel := math.Abs(cs.ShareOfOutcome.Mean-truthShare) / truthShare; rel > 0.10 {
					t.Errorf("seed %d: %s (flighted) share %.4f is %.0f%% off the truth %.4f", seed, cs.Name, cs.ShareOfOutcome.Mean, 100*rel, truthShare)
				}
			}
		}
		for ch, cs := range summ {
			if chans[ch].Flighted {
				continue
			}
			sh := cs.ShareOfOutcome
			if !sh.Contains(sim.ShareOfOutcome[ch]) {
				t.Errorf("seed %d: %s (always-on) share interval [%.4f, %.4f] misses the truth %.4f", seed, cs.Name, sh.Lo, sh.Hi, sim.ShareOfOutcome[ch])
			}
			if sh.Width() < 3*maxFlighted {
				t.Errorf("seed %d: %s (always-on) share interval width %.4f, want ≥ 3× the flighted channels' %.4f", seed, cs.Name, sh.Width(), maxFlighted)
			}
		}
	}
	rate := float64(covered) / float64(total)
	t.Logf("coverage of 90%% intervals: %d/%d = %.1f%%", covered, total, 100*rate)
	if rate < 0.85 {
		t.Errorf("coverage %.1f%% < 85%%", 100*rate)
	}
}
