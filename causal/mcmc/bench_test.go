package mcmc

import (
	"context"
	"math"
	"testing"
	"time"
)

// scaledGaussian returns a d-dimensional Gaussian with standard deviations
// log-spaced over 0.1..10 and correlation 0.5^|i−j|.
func scaledGaussian(d int) *gaussian {
	mean, sd := make([]float64, d), make([]float64, d)
	for i := range d {
		mean[i] = float64(i)
		sd[i] = math.Pow(10, -1+2*float64(i)/float64(d-1))
	}
	return newGaussian(mean, sd, func(i, j int) float64 { return math.Pow(0.5, math.Abs(float64(i-j))) })
}

// BenchmarkNUTSDraw20D measures one post-warm-up NUTS transition on a 20-D
// correlated, badly scaled Gaussian with the adapted step size and metric.
func BenchmarkNUTSDraw20D(b *testing.B) {
	g := scaledGaussian(20)
	warm, err := Sample(context.Background(), g, Config{Seed: 1, Chains: 1, Warmup: 500, Draws: 10})
	if err != nil {
		b.Fatal(err)
	}
	s := newNUTS(g, chainRand(2, 0), DefaultMaxDepth, nil)
	copy(s.invMetric, warm.InvMetric[0])
	s.eps = warm.StepSize[0]
	copy(s.z.q, warm.Draws[0][9])
	s.z.logp = g.LogDensityGrad(s.z.q, s.z.grad)
	leapfrogs := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		st, err := s.transition()
		if err != nil {
			b.Fatal(err)
		}
		leapfrogs += st.leapfrogs
	}
	b.ReportMetric(float64(leapfrogs)/float64(b.N), "leapfrogs/op")
}

// BenchmarkSample10D runs a full default Sample (4 chains, 1000 + 1000) on a
// 10-D correlated, badly scaled Gaussian and reports the minimum bulk ESS
// per second of wall time.
func BenchmarkSample10D(b *testing.B) {
	g := scaledGaussian(10)
	var ess, secs float64
	for b.Loop() {
		start := time.Now()
		res, err := Sample(context.Background(), g, Config{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		secs += time.Since(start).Seconds()
		ess += res.MinESSBulk()
	}
	b.ReportMetric(ess/secs, "minESS/s")
}
