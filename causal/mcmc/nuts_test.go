package mcmc

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// checkMoments asserts that the posterior means and SDs are within z Monte
// Carlo standard errors of the truth.
func checkMoments(t *testing.T, res *Result, mean, sd []float64, z float64) {
	t.Helper()
	for j, s := range res.Summary() {
		if math.Abs(s.Mean-mean[j]) > z*s.MCSE {
			t.Errorf("param %d: mean %.4g, want %.4g ± %d·MCSE (MCSE %.3g)", j, s.Mean, mean[j], int(z), s.MCSE)
		}
		// MCSE of the SD: for a normal margin, var(ŝ) ≈ σ²/(2·ESS), with the
		// ESS of the squared deviations.
		sq := res.Param(j)
		for _, ch := range sq {
			for i := range ch {
				ch[i] = (ch[i] - mean[j]) * (ch[i] - mean[j])
			}
		}
		mcseSD := sd[j] / math.Sqrt(2*essMean(sq))
		if math.Abs(s.SD-sd[j]) > z*mcseSD {
			t.Errorf("param %d: sd %.4g, want %.4g ± %d·%.3g", j, s.SD, sd[j], int(z), mcseSD)
		}
		if s.RHat >= 1.01 {
			t.Errorf("param %d: R̂ = %.4f, want < 1.01", j, s.RHat)
		}
	}
}

func TestNUTSGaussians(t *testing.T) {
	tests := []struct {
		name string
		g    *gaussian
	}{
		{"2d-scales-corr", newGaussian([]float64{1, -50}, []float64{0.01, 100}, func(i, j int) float64 {
			if i == j {
				return 1
			}
			return 0.9
		})},
		{"10d-scales-ar", func() *gaussian {
			d := 10
			mean, sd := make([]float64, d), make([]float64, d)
			for i := range d {
				mean[i] = float64(i) - 3
				sd[i] = math.Pow(10, -1+2*float64(i)/float64(d-1)) // 0.1 … 10
			}
			return newGaussian(mean, sd, func(i, j int) float64 { return math.Pow(0.7, math.Abs(float64(i-j))) })
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Sample(context.Background(), tt.g, Config{Seed: 7, Warmup: 500, Draws: 1000})
			if err != nil {
				t.Fatal(err)
			}
			d := tt.g.Dim()
			sd := make([]float64, d)
			for i := range d {
				sd[i] = tt.g.sd(i)
			}
			checkMoments(t, res, tt.g.mean, sd, 4)
			for c, n := range res.Divergences {
				if n != 0 {
					t.Errorf("chain %d: %d divergences, want 0", c, n)
				}
			}
			for c := range res.StepSize {
				t.Logf("chain %d: ε=%.3g accept=%.3f E-BFMI=%.2f depth-hits=%d invM=%.3g", c, res.StepSize[c], res.MeanAcceptStat[c], res.EBFMI[c], res.TreeDepthHits[c], res.InvMetric[c])
			}
			t.Logf("min ESS bulk %.0f, max R̂ %.4f", res.MinESSBulk(), res.MaxRHat())
		})
	}
}

func TestNUTSClosedFormQuantiles(t *testing.T) {
	logistic := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	tests := []struct {
		name  string
		model Model
		to    func(float64) float64 // unconstrained → constrained
		post  interface{ Quantile(float64) float64 }
		mean  float64
		draws int
	}{
		// Beta(2, 3) prior, 7 successes in 20 trials: θ ~ Beta(9, 16).
		{"beta-binomial-logit", betaBinomialLogit{a: 2, b: 3, k: 7, n: 20}, logistic, distuv.Beta{Alpha: 9, Beta: 16}, 9.0 / 25, 1000},
		// θ ~ Gamma(1.5, 1) sampled on log θ.
		{"gamma-log", logGamma{alpha: 1.5}, math.Exp, distuv.Gamma{Alpha: 1.5, Beta: 1}, 1.5, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Sample(context.Background(), tt.model, Config{Seed: 11, Warmup: 500, Draws: tt.draws})
			if err != nil {
				t.Fatal(err)
			}
			theta := res.Param(0)
			for _, ch := range theta {
				for i, x := range ch {
					ch[i] = tt.to(x)
				}
			}
			// At the true p-quantile the empirical CDF should be p within a
			// few Monte Carlo standard errors √(p(1−p)/ESS) of the indicator.
			for _, p := range []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99} {
				ind := indicator(theta, tt.post.Quantile(p))
				cdf, _ := meanSD(pool(ind))
				mcse := math.Sqrt(p * (1 - p) / essMean(ind))
				if math.Abs(cdf-p) > 4*mcse {
					t.Errorf("P(θ ≤ q_%.2f) = %.4f, want %.2f ± 4·%.4f", p, cdf, p, mcse)
				}
			}
			s := Summarize(theta)
			if math.Abs(s.Mean-tt.mean) > 4*s.MCSE {
				t.Errorf("posterior mean %.4f, want %.4f ± 4·%.4f", s.Mean, tt.mean, s.MCSE)
			}
			if r := res.MaxRHat(); r >= 1.01 {
				t.Errorf("max R̂ = %.4f, want < 1.01", r)
			}
			if n := sum(res.Divergences); n != 0 {
				t.Errorf("%d divergences, want 0", n)
			}
		})
	}
}

func TestSampleDeterministic(t *testing.T) {
	g := newGaussian([]float64{0, 1, 2}, []float64{1, 2, 3}, func(i, j int) float64 {
		if i == j {
			return 1
		}
		return 0.3
	})
	run := func(seed uint64, workers int) *Result {
		t.Helper()
		res, err := Sample(context.Background(), g, Config{Seed: seed, Workers: workers, Chains: 3, Warmup: 150, Draws: 100})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b, c := run(42, 1), run(42, 2), run(43, 2)
	if !reflect.DeepEqual(a, b) {
		t.Error("same seed, Workers 1 and 2: results differ")
	}
	if reflect.DeepEqual(a.Draws, c.Draws) {
		t.Error("different seeds gave identical draws")
	}
	if reflect.DeepEqual(a.Draws[0], a.Draws[1]) {
		t.Error("chains 0 and 1 gave identical draws")
	}
}

func TestBadGeometryReportsDivergences(t *testing.T) {
	// Neal's funnel, centered, with a loose target acceptance: the neck
	// cannot be integrated with one step size.
	res, err := Sample(context.Background(), funnel{d: 10}, Config{Seed: 0, Warmup: 300, Draws: 300, TargetAccept: 0.6})
	if err != nil {
		t.Fatal(err)
	}
	if n := sum(res.Divergences); n == 0 {
		t.Error("centered funnel: no divergences reported, want some")
	}
	if r := res.MaxRHat(); r < 1.01 {
		t.Errorf("centered funnel: max R̂ = %.3f, want it flagged (> 1.01)", r)
	}
	t.Logf("funnel: divergences %v, depth hits %v, E-BFMI %.2f", res.Divergences, res.TreeDepthHits, res.EBFMI)

	// An exponential density left on its constrained scale: every step
	// across q = 0 leaves the support (log π = −Inf) and is divergent.
	res, err = Sample(context.Background(), halfLine{}, Config{Seed: 1, Warmup: 200, Draws: 200})
	if err != nil {
		t.Fatal(err)
	}
	if n := sum(res.Divergences); n == 0 {
		t.Error("hard boundary: no divergences reported, want some")
	}
	for _, ch := range res.Draws {
		for _, q := range ch {
			if q[0] <= 0 {
				t.Fatalf("draw %v outside the support", q)
			}
		}
	}
}

// halfLine is Exponential(1) on q > 0 without a log transform.
type halfLine struct{}

func (halfLine) Dim() int { return 1 }

func (halfLine) LogDensityGrad(q, grad []float64) float64 {
	if q[0] <= 0 {
		grad[0] = math.NaN()
		return math.Inf(-1)
	}
	grad[0] = -1
	return -q[0]
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// cancelAfter cancels its context at a given evaluation and counts the
// evaluations.
type cancelAfter struct {
	gaussian *gaussian
	cancel   context.CancelFunc
	limit    int64
	calls    atomic.Int64
	// atCancel is the evaluation count when cancel returned: from then on
	// every chain sees the context done.
	atCancel atomic.Int64
}

func (m *cancelAfter) Dim() int { return m.gaussian.Dim() }

func (m *cancelAfter) LogDensityGrad(q, grad []float64) float64 {
	if m.calls.Add(1) == m.limit {
		m.cancel()
		m.atCancel.Store(m.calls.Load())
	}
	return m.gaussian.LogDensityGrad(q, grad)
}

func TestSampleCancel(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &cancelAfter{gaussian: newGaussian([]float64{0, 0}, []float64{1, 1}, func(i, j int) float64 { return b2f(i == j) }), cancel: cancel, limit: 5000}
	res, err := Sample(ctx, m, Config{Seed: 1, Chains: 4, Workers: 2})
	if !errors.Is(err, context.Canceled) || res != nil {
		t.Fatalf("Sample after cancel = %v, %v; want nil and context.Canceled", res, err)
	}
	// A running chain checks the context before every leapfrog step, so it
	// finishes at most the evaluation it is in; chains not yet started never
	// start.
	if extra := m.calls.Load() - m.atCancel.Load(); extra > 2 {
		t.Errorf("%d evaluations after cancel, want ≤ 2 (one per worker)", extra)
	}
	checkNoLeak(t, before)

	// An already-cancelled context returns at once.
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := Sample(ctx2, m.gaussian, Config{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Sample with a cancelled context: err = %v, want context.Canceled", err)
	}
}

// checkNoLeak waits until the goroutine count is back to before. The chain
// goroutines have finished their work when Sample returns but may need a
// moment to exit, so it polls with a deadline, as goleak does.
func checkNoLeak(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Sample, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // "" for valid
	}{
		{"zero", Config{}, ""},
		{"full", Config{Chains: 2, Warmup: 10, Draws: 5, MaxDepth: 12, TargetAccept: 0.95, Workers: 1}, ""},
		{"chains", Config{Chains: -1}, "Chains"},
		{"warmup", Config{Warmup: -1}, "Warmup"},
		{"draws", Config{Draws: -3}, "Draws"},
		{"depth", Config{MaxDepth: 31}, "MaxDepth"},
		{"accept-high", Config{TargetAccept: 1}, "TargetAccept"},
		{"accept-neg", Config{TargetAccept: -0.5}, "TargetAccept"},
		{"accept-nan", Config{TargetAccept: math.NaN()}, "TargetAccept"},
		{"workers", Config{Workers: -2}, "Workers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tt.field)
			}
			if _, serr := Sample(context.Background(), funnel{d: 2}, tt.cfg); serr == nil {
				t.Error("Sample accepted an invalid config")
			}
		})
	}
}

type badModel struct{ panics bool }

func (badModel) Dim() int { return 2 }

func (m badModel) LogDensityGrad(q, grad []float64) float64 {
	if m.panics {
		panic("boom")
	}
	return math.Inf(-1)
}

func TestSampleModelErrors(t *testing.T) {
	if _, err := Sample(context.Background(), badModel{}, Config{Chains: 2}); err == nil || !strings.Contains(err.Error(), "initial point") {
		t.Errorf("unsupported everywhere: err = %v, want an initial-point error", err)
	}
	if _, err := Sample(context.Background(), badModel{panics: true}, Config{Chains: 2}); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("panicking model: err = %v, want a panic error", err)
	}
	if _, err := Sample(context.Background(), nil, Config{}); err == nil {
		t.Error("nil model accepted")
	}
}

func TestSampleInitAndProgress(t *testing.T) {
	g := newGaussian([]float64{5}, []float64{1}, func(int, int) float64 { return 1 })
	var calls atomic.Int64
	var last atomic.Int64
	cfg := Config{
		Seed: 9, Chains: 2, Warmup: 30, Draws: 20,
		Init: func(chain int, rng *rand.Rand, q []float64) { q[0] = 100 + float64(chain) },
		Progress: func(done, total int) {
			calls.Add(1)
			if total != 2*(30+20) {
				t.Errorf("progress total %d, want 100", total)
			}
			last.Store(max(last.Load(), int64(done)))
		},
	}
	if _, err := Sample(context.Background(), g, cfg); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 100 || last.Load() != 100 {
		t.Errorf("progress called %d times, max done %d; want 100, 100", calls.Load(), last.Load())
	}
}
