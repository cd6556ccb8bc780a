package mcmc_test

import (
	"context"
	"fmt"
	"math"

	"github.com/preflight-hq/preflight/causal/mcmc"
)

// normalModel is the posterior of the mean μ and scale σ of normal data
// with flat priors on μ and log σ, sampled on the unconstrained (μ, log σ).
// With a flat prior on log σ the log-Jacobian of σ = e^s cancels the 1/σ
// prior, so the density in (μ, s) is the likelihood alone.
type normalModel struct{ y []float64 }

func (m normalModel) Dim() int { return 2 }

func (m normalModel) LogDensityGrad(q, grad []float64) float64 {
	mu, s := q[0], q[1]
	inv := math.Exp(-2 * s) // 1/σ²
	var ss, sr float64
	for _, y := range m.y {
		ss += (y - mu) * (y - mu)
		sr += y - mu
	}
	n := float64(len(m.y))
	grad[0] = sr * inv
	grad[1] = -n + ss*inv
	return -n*s - 0.5*ss*inv
}

func ExampleSample() {
	y := []float64{9.8, 10.4, 10.1, 9.6, 10.3, 10.0, 9.9, 10.2}
	res, err := mcmc.Sample(context.Background(), normalModel{y: y}, mcmc.Config{Seed: 1, TargetAccept: 0.9})
	if err != nil {
		fmt.Println(err)
		return
	}
	mu := res.Summary()[0]
	fmt.Printf("posterior mean of μ ≈ %.1f\n", mu.Mean)
	fmt.Println("converged:", res.MaxRHat() < 1.01, "enough draws:", res.MinESSBulk() > 400)
	// Output:
	// posterior mean of μ ≈ 10.0
	// converged: true enough draws: true
}
