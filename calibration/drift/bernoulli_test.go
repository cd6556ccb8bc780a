package drift

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestRateResidual(t *testing.T) {
	// (0.06 − 0.05)/sqrt(0.05·0.95/1000) = 0.01/0.0068920… = 1.45095…
	if got := RateResidual(60, 1000, 0.05); !near(got, 1.4509525002200234, 1e-12) {
		t.Fatalf("RateResidual = %v, want 1.4509525002200234", got)
	}
	if got := RateResidual(50, 1000, 0.05); got != 0 {
		t.Fatalf("RateResidual at p0 = %v, want 0", got)
	}
	for _, c := range [][3]float64{{0, 0, 0.1}, {5, 4, 0.1}, {-1, 4, 0.1}, {1, 4, 0}, {1, 4, 1}} {
		if got := RateResidual(c[0], c[1], c[2]); !math.IsNaN(got) {
			t.Errorf("RateResidual(%v) = %v, want NaN", c, got)
		}
	}
}

// conversionDays simulates days of n exposures converting with probability p, dropping to pDrop
// from day dropAt on.
func conversionDays(seed uint64, days, dropAt, n int, p, pDrop float64) [][2]int {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([][2]int, days)
	for d := range out {
		rate := p
		if d >= dropAt {
			rate = pDrop
		}
		k := 0
		for range n {
			if rng.Float64() < rate {
				k++
			}
		}
		out[d] = [2]int{k, n}
	}
	return out
}

func TestBernoulliRateDrop(t *testing.T) {
	// 2,000 exposures a day at 5 % conversion, dropping to 4 % on day 120: a mean shift of
	// −0.01/sqrt(0.05·0.95/2000) ≈ −2.05 standard errors a day. Bound: alarm within 20 days
	// (benchmark, 2σ shifts over 30 seeds: CUSUM 6 samples on average and at most 10,
	// Page-Hinkley 10 and at most 15), and never before day 120.
	const dropAt, bound = 120, 20
	known := DefaultCUSUMConfig()
	known.Mean, known.Sigma = 0, 1
	for seed := uint64(1); seed <= 5; seed++ {
		days := conversionDays(seed, 200, dropAt, 2000, 0.05, 0.04)
		for _, tc := range []struct {
			name   string
			cfg    BernoulliConfig
			det    Detector
			offset int // periods not fed to the detector
		}{
			{"CUSUM known p0", BernoulliConfig{P0: 0.05}, must(NewCUSUM(known)), 0},
			{"Page-Hinkley estimated p0", DefaultBernoulliConfig(), must(NewPageHinkley(DefaultPageHinkleyConfig())), 28},
		} {
			b, err := NewBernoulli(tc.cfg, tc.det)
			if err != nil {
				t.Fatal(err)
			}
			alarm := -1
			for day, kn := range days {
				if b.Observe(kn[0], kn[1]) {
					alarm = day
					break
				}
			}
			if alarm < dropAt || alarm > dropAt+bound {
				t.Fatalf("seed %d %s: alarm on day %d, want in [%d, %d]", seed, tc.name, alarm, dropAt, dropAt+bound)
			}
			if b.Detector().Magnitude() >= 0 {
				t.Fatalf("seed %d %s: magnitude %v, want a drop", seed, tc.name, b.Detector().Magnitude())
			}
			// The change-point estimate is looser than the alarm: the argmax of Page-Hinkley's
			// sum moves with the offset left by the estimated P0 (see WarmupDays).
			if ci := b.Detector().ChangeIndex() + tc.offset; ci < dropAt-30 || ci > alarm {
				t.Fatalf("seed %d %s: change estimated on day %d, want near %d", seed, tc.name, ci, dropAt)
			}
		}
	}
}

func TestBernoulliValidate(t *testing.T) {
	wantFieldError(t, BernoulliConfig{P0: 1}.Validate(), "BernoulliConfig.P0")
	wantFieldError(t, BernoulliConfig{}.Validate(), "BernoulliConfig.WarmupDays")
	if _, err := NewBernoulli(DefaultBernoulliConfig(), nil); err == nil {
		t.Fatal("NewBernoulli accepted a nil detector")
	}
}
