package mmm

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/preflight-hq/preflight/causal/mcmc"
)

// testSampler is the sampler budget of the posterior tests: enough for
// stable 90% intervals, small enough to keep the package's tests short.
var testSampler = mcmc.Config{Chains: 4, Warmup: 300, Draws: 250}

// recoverySampler is the budget of TestRecovery: the always-on channel's
// posterior is a long, prior-shaped ridge, and R̂ < 1.01 on it needs more
// warm-up and draws than testSampler's.
var recoverySampler = mcmc.Config{Chains: 4, Warmup: 500, Draws: 500}

// recoveryConfig is TestRecovery's data-generating process: three years of
// weekly data with observation noise of 4 on a mean outcome of about 125
// (≈ 3%), two flighted channels whose dark stretches (4–10 weeks) are
// longer than their kernels, so that the carryover is seen decaying to
// zero, and whose burst spend varies over the saturation curve (log-sd
// 0.5), and one always-on channel, which the data cannot separate from the
// intercept.
func recoveryConfig() SimConfig {
	chans := mixedChannels()
	for i := range chans {
		if chans[i].Flighted {
			chans[i].BurstPeriods = [2]int{4, 10}
			chans[i].DarkPeriods = [2]int{4, 10}
			chans[i].BurstSpendSD = 0.5
		}
	}
	cfg := simConfig(chans)
	cfg.Periods = 156
	cfg.Noise = 4
	return cfg
}

// paramGroup names the group of parameter name in TestRecovery's
// per-group coverage: "baseline" (intercept, trend, seasonality,
// controls), "flighted" or "always-on" (a channel's coefficient, kernel
// and curve), or "sigma".
func paramGroup(name string, chans []SimChannel) string {
	if name == "sigma" {
		return "sigma"
	}
	for _, c := range chans {
		if strings.HasSuffix(name, "["+c.Name+"]") {
			if c.Flighted {
				return "flighted"
			}
			return "always-on"
		}
	}
	return "baseline"
}

// oracleBaselineZ returns, for each baseline coefficient (intercept,
// trend, Fourier, controls, in the order of Model.ParamNames), the
// z-score (b̂ − b)/se of the least-squares estimate that knows the true
// media contributions and the true σ. It is N(0, 1) whatever the model
// does, so a posterior miss that coincides with |z| > 1.645 here is the
// noise realization, not the model: such misses cluster within a seed
// because the trend and the sine terms are correlated over a series of a
// few seasonal periods.
func oracleBaselineZ(sim *Simulation, m *Model) []float64 {
	T := m.T
	one := make([]float64, T)
	for i := range one {
		one[i] = 1
	}
	cols := [][]float64{one, m.tau}
	cols = append(cols, m.four...)
	cols = append(cols, m.z...)
	X := mat.NewDense(T, len(cols), nil)
	r := mat.NewVecDense(T, nil)
	for i := range T {
		for j, c := range cols {
			X.Set(i, j, c[i])
		}
		v := m.y[i]
		for _, c := range sim.Contribution {
			v -= c[i] / m.scale.Y
		}
		r.SetVec(i, v)
	}
	var xtx, inv mat.Dense
	xtx.Mul(X.T(), X)
	if err := inv.Inverse(&xtx); err != nil {
		return nil
	}
	var xty, b mat.VecDense
	xty.MulVec(X.T(), r)
	b.MulVec(&inv, &xty)
	truth := sim.Truth.Flat()
	z := make([]float64, len(cols))
	for j := range z {
		z[j] = (b.AtVec(j) - truth[j]) / (sim.Truth.Sigma * math.Sqrt(inv.At(j, j)))
	}
	return z
}

// TestRecovery fits data simulated from a known truth (two flighted
// channels, one always-on; see recoveryConfig) over several seeds and
// checks the acceptance criteria: 90% credible intervals cover the true
// parameters at least 85% of the time, and at least 80% within the
// baseline and the flighted-channel groups (logged per group, with
// widths); the flighted channels' contribution shares are within 10% of
// the truth; the always-on channel's share interval is honest — it
// contains the truth and is much wider than a flighted channel's.
func TestRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("fits the model 8 times")
	}
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	cfgSim := recoveryConfig()
	chans := cfgSim.Channels
	type tally struct {
		covered, total int
		relWidth       float64 // Σ interval width / |truth|
	}
	groups := map[string]*tally{}
	shareWidth := map[string][]float64{}
	for _, seed := range seeds {
		sim := mustSimulate(t, cfgSim, seed)
		cfg := recoverySampler
		cfg.Seed = seed
		f := fitSim(t, sim, nil, cfg)
		r := f.Result
		div := 0
		for _, d := range r.Divergences {
			div += d
		}
		t.Logf("seed %d: max R̂ %.3f, min bulk ESS %.0f, divergences %d", seed, r.MaxRHat(), r.MinESSBulk(), div)
		if rh := r.MaxRHat(); rh > 1.05 {
			t.Errorf("seed %d: max R̂ %.3f > 1.05: the sampler did not converge", seed, rh)
		}
		names := f.Model().ParamNames()
		truth := sim.Truth.Flat()
		oracle := oracleBaselineZ(sim, f.Model())
		for i, iv := range f.ParamIntervals() {
			g := paramGroup(names[i], chans)
			tl := groups[g]
			if tl == nil {
				tl = &tally{}
				groups[g] = tl
			}
			tl.total++
			tl.relWidth += iv.Width() / max(math.Abs(truth[i]), 1e-12)
			ok := iv.Contains(truth[i])
			if ok {
				tl.covered++
			}
			note := ""
			if i < len(oracle) {
				note = fmt.Sprintf("  oracle z %+.2f", oracle[i])
			}
			t.Logf("  %-24s truth %8.4f  90%% CI [%8.4f, %8.4f] width %.4f covered %-5v%s", names[i], truth[i], iv.Lo, iv.Hi, iv.Width(), ok, note)
		}
		maxFlighted := 0.0
		summ := f.Channels()
		for ch, cs := range summ {
			truthShare := sim.ShareOfOutcome[ch]
			sh := cs.ShareOfOutcome
			t.Logf("  share of outcome %-7s truth %.4f mean %.4f (%+.1f%%) CI [%.4f, %.4f] width %.4f; ROAS truth %.3f mean %.3f CI [%.3f, %.3f]",
				cs.Name, truthShare, sh.Mean, 100*(sh.Mean/truthShare-1), sh.Lo, sh.Hi, sh.Width(),
				sim.ROAS[ch], cs.ROAS.Mean, cs.ROAS.Lo, cs.ROAS.Hi)
			shareWidth[cs.Name] = append(shareWidth[cs.Name], sh.Width()/truthShare)
			if chans[ch].Flighted {
				maxFlighted = max(maxFlighted, sh.Width())
				if rel := math.Abs(sh.Mean-truthShare) / truthShare; rel > 0.10 {
					t.Errorf("seed %d: %s (flighted) share %.4f is %.0f%% off the truth %.4f", seed, cs.Name, sh.Mean, 100*rel, truthShare)
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
	covered, total := 0, 0
	keys := make([]string, 0, len(groups))
	for g := range groups {
		keys = append(keys, g)
	}
	sort.Strings(keys)
	for _, g := range keys {
		tl := groups[g]
		covered += tl.covered
		total += tl.total
		rate := float64(tl.covered) / float64(tl.total)
		t.Logf("coverage %-9s %3d/%3d = %5.1f%%, mean 90%% interval width %.0f%% of |truth|",
			g, tl.covered, tl.total, 100*rate, 100*tl.relWidth/float64(tl.total))
		// The always-on channel's prior-wide intervals over-cover, so the
		// pooled rate alone could hide an under-covering group. With 56–64
		// cases a group's binomial sd at 90% is ≈ 4%: 80% is 2.5 sd low.
		if (g == "baseline" || g == "flighted") && rate < 0.80 {
			t.Errorf("coverage of the %s group %.1f%% < 80%%", g, 100*rate)
		}
	}
	for _, c := range chans {
		w := shareWidth[c.Name]
		t.Logf("share-of-outcome interval width, %s (flighted %v): mean %.0f%% of the true share", c.Name, c.Flighted, 100*sum(w)/float64(len(w)))
	}
	rate := float64(covered) / float64(total)
	t.Logf("coverage of 90%% intervals: %d/%d = %.1f%%", covered, total, 100*rate)
	if rate < 0.85 {
		t.Errorf("coverage %.1f%% < 85%%", 100*rate)
	}
}
