package mmm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/causal/mcmc"
)

// benchChannels returns n channels cycling through every kernel and curve,
// flighted and always-on.
func benchChannels(n, maxLag int) []SimChannel {
	var out []SimChannel
	for i := range n {
		c := SimChannel{Name: fmt.Sprintf("ch%d", i), MaxLag: maxLag, ROAS: 1 + 0.25*float64(i%4),
			MeanSpend: 5 + float64(i), Flighted: i%3 != 2}
		if i%2 == 0 {
			c.Adstock, c.AdstockParams = Geometric, []float64{0.3 + 0.1*float64(i%3)}
		} else {
			c.Adstock, c.AdstockParams = WeibullCDF, []float64{1.5, 2}
		}
		if i%4 < 2 {
			c.Saturation, c.SaturationParams = Hill, []float64{0.5, 1.3}
		} else {
			c.Saturation, c.SaturationParams = Logistic, []float64{2}
		}
		out = append(out, c)
	}
	return out
}

// benchFit fits a simulated data set once per iteration with 4 chains of
// 1000 warm-up and 1000 draws and reports the sampler's diagnostics.
func benchFit(b *testing.B, cfg SimConfig) {
	sim, err := Simulate(cfg, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewModel(sim.Data, sim.Spec, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		f, err := Sample(context.Background(), m, mcmc.Config{Chains: 4, Warmup: 1000, Draws: 1000, Seed: uint64(i + 1)})
		if err != nil {
			b.Fatal(err)
		}
		r := f.Result
		div, hits := 0, 0
		for c := range r.Divergences {
			div += r.Divergences[c]
			hits += r.TreeDepthHits[c]
		}
		b.ReportMetric(r.MaxRHat(), "maxRhat")
		b.ReportMetric(r.MinESSBulk(), "minESS")
		b.ReportMetric(float64(div), "divergences")
		b.Logf("T=%d M=%d dim=%d: %v, max R̂ %.4f, min bulk ESS %.0f, divergences %d, tree-depth hits %d, step sizes %.3g",
			cfg.Periods, len(cfg.Channels), m.Dim(), time.Since(start).Round(time.Millisecond), r.MaxRHat(), r.MinESSBulk(), div, hits, r.StepSize)
	}
}

// BenchmarkFitWeekly2y5ch fits 2 years of weekly data with 5 channels.
func BenchmarkFitWeekly2y5ch(b *testing.B) {
	cfg := simConfig(benchChannels(5, 8))
	benchFit(b, cfg)
}

// BenchmarkFitDaily3y8ch fits 3 years of daily data with 8 channels.
func BenchmarkFitDaily3y8ch(b *testing.B) {
	cfg := SimConfig{
		Periods: 3 * 365, Channels: benchChannels(8, 14),
		Intercept: 100, Trend: 10, Harmonics: 3, Period: 365.25, SeasonAmp: 5,
		Controls: 1, ControlAmp: 3, Noise: 3,
	}
	benchFit(b, cfg)
}

// BenchmarkLogDensityGrad measures one gradient evaluation.
func BenchmarkLogDensityGrad(b *testing.B) {
	for _, tc := range []struct {
		name string
		cfg  SimConfig
	}{
		{"weekly2y5ch", simConfig(benchChannels(5, 8))},
		{"daily3y8ch", SimConfig{Periods: 3 * 365, Channels: benchChannels(8, 14), Intercept: 100, Trend: 10,
			Harmonics: 3, Period: 365.25, SeasonAmp: 5, Noise: 3}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			sim, err := Simulate(tc.cfg, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				b.Fatal(err)
			}
			m, err := NewModel(sim.Data, sim.Spec, nil)
			if err != nil {
				b.Fatal(err)
			}
			q := m.Unconstrain(sim.Truth)
			g := make([]float64, m.Dim())
			for b.Loop() {
				m.LogDensityGrad(q, g)
			}
		})
	}
}
