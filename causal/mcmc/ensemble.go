package mcmc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// EnsembleConfig configures EnsembleSample. Zero values select the
// documented defaults.
type EnsembleConfig struct {
	// Walkers is the number of walkers, even and at least 2·Dim+2. Default
	// max(4·Dim, 16).
	Walkers int
	// Warmup is the number of discarded iterations (each moves every
	// walker once). Default 1000.
	Warmup int
	// Draws is the number of kept iterations per walker. Default 1000.
	Draws int
	// Scale is the stretch-move parameter a > 1. Default 2, as Goodman &
	// Weare (2010) and emcee.
	Scale float64
	// Seed seeds every random draw.
	Seed uint64
	// Init, if set, writes walker's initial position into q; it is called
	// again while the log-density there is not finite, up to 100 times.
	// Default: each coordinate uniform on (−2, 2).
	Init func(walker int, rng *rand.Rand, q []float64)
}

// Validate reports the first invalid field of c for a model of dimension
// dim, naming it and saying why.
func (c EnsembleConfig) Validate(dim int) error {
	switch {
	case c.Walkers < 0 || c.Walkers > 0 && (c.Walkers%2 != 0 || c.Walkers < 2*dim+2):
		return fmt.Errorf("invalid ensemble config: Walkers is %d, want an even number ≥ %d (or 0 for the default)", c.Walkers, 2*dim+2)
	case c.Warmup < 0:
		return fmt.Errorf("invalid ensemble config: Warmup is %d, want ≥ 1 (or 0 for the default %d)", c.Warmup, DefaultWarmup)
	case c.Draws < 0:
		return fmt.Errorf("invalid ensemble config: Draws is %d, want ≥ 1 (or 0 for the default %d)", c.Draws, DefaultDraws)
	case math.IsNaN(c.Scale) || c.Scale < 0 || c.Scale > 0 && c.Scale <= 1:
		return fmt.Errorf("invalid ensemble config: Scale is %v, want > 1 (or 0 for the default 2)", c.Scale)
	}
	return nil
}

// EnsembleSample draws from m with the affine-invariant ensemble sampler of
// Goodman & Weare (2010), "Ensemble samplers with affine invariance",
// CAMCoS 5(1):65–80, using the stretch move in the parallel two-half form of
// Foreman-Mackey et al. (2013, emcee): each walker X_k of one half moves to
// Y = X_j + Z·(X_k − X_j), where X_j is a random walker of the other half
// and Z has density ∝ 1/√z on [1/a, a] (Z = ((a−1)U + 1)²/a), accepted
// with probability min(1, Z^(d−1)·π(Y)/π(X_k)). It needs no gradient (the
// grad argument of m is filled and ignored) and is meant as a cross-check
// of Sample on small models; it mixes poorly beyond a few tens of
// parameters.
//
// The result holds one "chain" per walker in Draws and LogDensity and each
// walker's acceptance rate in MeanAcceptStat; the other per-chain fields are
// nil. Walkers are not independent, so R̂ and ESS computed across them are
// optimistic: use the pooled means and quantiles. m is called from one
// goroutine only. ctx is checked once per iteration.
func EnsembleSample(ctx context.Context, m Model, cfg EnsembleConfig) (*Result, error) {
	if m == nil {
		return nil, errors.New("cannot sample: model is nil")
	}
	d := m.Dim()
	if d < 1 {
		return nil, fmt.Errorf("cannot sample: model dimension is %d, want ≥ 1", d)
	}
	if err := cfg.Validate(d); err != nil {
		return nil, err
	}
	if cfg.Walkers == 0 {
		cfg.Walkers = max(4*d, 16)
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = DefaultWarmup
	}
	if cfg.Draws == 0 {
		cfg.Draws = DefaultDraws
	}
	if cfg.Scale == 0 {
		cfg.Scale = 2
	}
	k, a := cfg.Walkers, cfg.Scale
	rng := chainRand(cfg.Seed, -1)
	grad := make([]float64, d)
	logDensity := func(q []float64) float64 {
		lp := m.LogDensityGrad(q, grad)
		if math.IsNaN(lp) {
			return math.Inf(-1)
		}
		return lp
	}

	pos := make([][]float64, k)
	lp := make([]float64, k)
	for w := range pos {
		pos[w] = make([]float64, d)
		ok := false
		for range maxInitTries {
			if cfg.Init != nil {
				cfg.Init(w, rng, pos[w])
			} else {
				uniformInit(rng, pos[w])
			}
			if lp[w] = logDensity(pos[w]); finite(lp[w]) {
				ok = true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("cannot find an initial point with finite log-density for walker %d after %d tries", w, maxInitTries)
		}
	}

	res := &Result{
		Draws:          make([][][]float64, k),
		LogDensity:     make([][]float64, k),
		MeanAcceptStat: make([]float64, k),
	}
	for w := range k {
		block := make([]float64, cfg.Draws*d)
		res.Draws[w] = make([][]float64, cfg.Draws)
		for i := range cfg.Draws {
			res.Draws[w][i] = block[i*d : (i+1)*d : (i+1)*d]
		}
		res.LogDensity[w] = make([]float64, cfg.Draws)
	}
	accepted := make([]int, k)
	y := make([]float64, d)
	half := k / 2
	for it := range cfg.Warmup + cfg.Draws {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sampling cancelled: %w", err)
		}
		for h := range 2 {
			self, other := h*half, (1-h)*half
			for w := self; w < self+half; w++ {
				j := other + rng.IntN(half)
				u := rng.Float64()
				z := ((a-1)*u + 1) * ((a-1)*u + 1) / a
				for i := range y {
					y[i] = pos[j][i] + z*(pos[w][i]-pos[j][i])
				}
				lpy := logDensity(y)
				logAccept := float64(d-1)*math.Log(z) + lpy - lp[w]
				if finite(lpy) && math.Log(rng.Float64()) < logAccept {
					copy(pos[w], y)
					lp[w] = lpy
					if it >= cfg.Warmup {
						accepted[w]++
					}
				}
			}
		}
		if it >= cfg.Warmup {
			i := it - cfg.Warmup
			for w := range k {
				copy(res.Draws[w][i], pos[w])
				res.LogDensity[w][i] = lp[w]
			}
		}
	}
	for w := range k {
		res.MeanAcceptStat[w] = float64(accepted[w]) / float64(cfg.Draws)
	}
	return res, nil
}
