package mmm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/preflight-hq/preflight/causal/mcmc"
)

// Clone returns an independent copy of the model for another goroutine
// (mcmc.Cloner): it shares the read-only scaled data and owns fresh scratch
// buffers.
func (m *Model) Clone() mcmc.Model { return m.cloneModel() }

var _ mcmc.Cloner = (*Model)(nil)

// Fit is a sampled MMM: its posterior draws, pooled over chains, with the
// sampler's output and diagnostics.
type Fit struct {
	*Posterior
	// Result is the sampler's output on the unconstrained scale, with
	// R̂, ESS, divergences and E-BFMI.
	Result *mcmc.Result
}

// Sample draws from the posterior of m with causal/mcmc's NUTS. Zero
// fields of cfg take mcmc's defaults, except TargetAccept, which defaults
// to 0.9 here (MMM posteriors have funnels between β and the curve
// parameters), and Init, which defaults to DefaultInit(m).
func Sample(ctx context.Context, m *Model, cfg mcmc.Config) (*Fit, error) {
	if cfg.TargetAccept == 0 {
		cfg.TargetAccept = 0.9
	}
	if cfg.Init == nil {
		cfg.Init = DefaultInit(m)
	}
	res, err := mcmc.Sample(ctx, m, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot sample MMM posterior: %w", err)
	}
	var q [][]float64
	for _, chain := range res.Draws {
		q = append(q, chain...)
	}
	return &Fit{Posterior: NewPosterior(m, q), Result: res}, nil
}

// DefaultInit returns an initializer that starts each chain at a dispersed
// point around a plausible one on the scaled data: the intercept near the
// mean of y, σ near its standard deviation, small media coefficients
// (β ≈ 0.1) and the prior medians of the kernels and curves, each
// coordinate jittered by up to ±0.5 on the unconstrained scale (± 0.1 for
// the linear baseline terms) so that chains start apart, as R̂ needs.
func DefaultInit(m *Model) func(chain int, rng *rand.Rand, q []float64) {
	meanY := sum(m.y) / float64(m.T)
	varY := 0.0
	for _, v := range m.y {
		varY += (v - meanY) * (v - meanY)
	}
	sdY := math.Sqrt(varY/float64(m.T)) + 1e-3
	pr := m.priors
	return func(_ int, rng *rand.Rand, q []float64) {
		j := func(s float64) float64 { return s * (2*rng.Float64() - 1) }
		clear(q)
		q[0] = meanY + j(0.1) // the mean level ℓ, see Model
		if m.iTrend >= 0 {
			q[m.iTrend] = j(0.1)
		}
		for i := range m.four {
			q[m.iSeason+i] = j(0.1)
		}
		for i := range m.z {
			q[m.iControl+i] = j(0.1)
		}
		for ch, c := range m.spec.Channels {
			q[m.iBeta[ch]] = math.Log(0.1) + j(0.5)
			if c.Adstock == Geometric {
				a := pr.AlphaA / (pr.AlphaA + pr.AlphaB)
				q[m.iAd[ch]] = math.Log(a/(1-a)) + j(0.5)
			} else {
				q[m.iAd[ch]] = pr.WeibullShapeLogMean + j(0.5)
				q[m.iAd[ch]+1] = pr.WeibullScaleLogMean + j(0.5)
			}
			if c.Saturation == Hill {
				q[m.iSat[ch]] = pr.HillKLogMean + j(0.5)
				q[m.iSat[ch]+1] = pr.HillSLogMean + j(0.5)
			} else {
				q[m.iSat[ch]] = math.Log(pr.LogisticShape/pr.LogisticRate) + j(0.5)
			}
		}
		q[m.iSigma] = math.Log(sdY) + j(0.5)
	}
}
