package mcmc

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func TestEnsembleGaussian(t *testing.T) {
	// Affine invariance: scales 0.01 and 100 with correlation 0.95 are no
	// harder than an isotropic Gaussian.
	g := newGaussian([]float64{1, -50}, []float64{0.01, 100}, func(i, j int) float64 {
		if i == j {
			return 1
		}
		return 0.95
	})
	res, err := EnsembleSample(context.Background(), g, EnsembleConfig{Seed: 5, Warmup: 500, Draws: 2000})
	if err != nil {
		t.Fatal(err)
	}
	for j, s := range res.Summary() {
		sd := g.sd(j)
		if math.Abs(s.Mean-g.mean[j]) > 0.1*sd {
			t.Errorf("param %d: mean %.4g, want %.4g ± 0.1·sd", j, s.Mean, g.mean[j])
		}
		if math.Abs(s.SD/sd-1) > 0.1 {
			t.Errorf("param %d: sd %.4g, want %.4g ± 10%%", j, s.SD, sd)
		}
	}
	var acc float64
	for _, a := range res.MeanAcceptStat {
		acc += a / float64(len(res.MeanAcceptStat))
	}
	if acc < 0.2 || acc > 0.9 {
		t.Errorf("mean acceptance %.2f, want in [0.2, 0.9]", acc)
	}
}

func TestEnsembleMatchesClosedForm(t *testing.T) {
	m := betaBinomialLogit{a: 2, b: 3, k: 7, n: 20}
	res, err := EnsembleSample(context.Background(), m, EnsembleConfig{Seed: 8, Warmup: 300, Draws: 2000})
	if err != nil {
		t.Fatal(err)
	}
	post := distuv.Beta{Alpha: m.a + m.k, Beta: m.b + m.n - m.k}
	theta := pool(res.Param(0))
	for i, x := range theta {
		theta[i] = 1 / (1 + math.Exp(-x))
	}
	for _, p := range []float64{0.05, 0.5, 0.95} {
		cdf, _ := meanSD(indicator([][]float64{theta}, post.Quantile(p))[0])
		if math.Abs(cdf-p) > 0.03 {
			t.Errorf("P(θ ≤ q_%.2f) = %.3f, want %.2f ± 0.03", p, cdf, p)
		}
	}
}

func TestEnsembleConfigAndCancel(t *testing.T) {
	g := newGaussian([]float64{0, 0}, []float64{1, 1}, func(i, j int) float64 { return b2f(i == j) })
	for _, c := range []struct {
		cfg   EnsembleConfig
		field string
	}{
		{EnsembleConfig{Walkers: 5}, "Walkers"},
		{EnsembleConfig{Walkers: 4}, "Walkers"},
		{EnsembleConfig{Scale: 0.5}, "Scale"},
		{EnsembleConfig{Draws: -1}, "Draws"},
		{EnsembleConfig{Warmup: -1}, "Warmup"},
	} {
		if _, err := EnsembleSample(context.Background(), g, c.cfg); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%+v: err = %v, want one naming %s", c.cfg, err, c.field)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := EnsembleSample(ctx, g, EnsembleConfig{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	a, _ := EnsembleSample(context.Background(), g, EnsembleConfig{Seed: 1, Warmup: 10, Draws: 10})
	b, _ := EnsembleSample(context.Background(), g, EnsembleConfig{Seed: 1, Warmup: 10, Draws: 10})
	if a == nil || b == nil || a.Draws[3][9][1] != b.Draws[3][9][1] {
		t.Error("EnsembleSample is not deterministic under a seed")
	}
}

func TestGradientError(t *testing.T) {
	q := []float64{0.3, -1.2, 2}
	if e := GradientError(funnel{d: 3}, q, 0); e > 1e-7 {
		t.Errorf("funnel gradient error %.3g, want < 1e-7", e)
	}
	if e := GradientError(betaBinomialLogit{a: 2, b: 3, k: 7, n: 20}, q[:1], 0); e > 1e-7 {
		t.Errorf("beta-binomial gradient error %.3g, want < 1e-7", e)
	}
	if e := GradientError(wrongGrad{}, q, 0); e < 0.1 {
		t.Errorf("wrong gradient: error %.3g, want ≥ 0.1", e)
	}
}

// wrongGrad is −½|q|² with a gradient off by a factor 2.
type wrongGrad struct{}

func (wrongGrad) Dim() int { return 3 }

func (wrongGrad) LogDensityGrad(q, grad []float64) float64 {
	var lp float64
	for i, x := range q {
		lp -= 0.5 * x * x
		grad[i] = -2 * x
	}
	return lp
}
