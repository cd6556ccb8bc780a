package mcmc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Model is a differentiable log-density on an unconstrained space.
type Model interface {
	// Dim returns the number of unconstrained parameters.
	Dim() int
	// LogDensityGrad returns log π(q) up to a constant and writes
	// ∇ log π(q) into grad (len Dim). It returns −Inf (or NaN) when q is
	// outside the support or the density cannot be evaluated.
	LogDensityGrad(q, grad []float64) float64
}

// Cloner is implemented by models that keep scratch buffers: Sample calls
// Clone once per chain so that chains run concurrently without sharing
// mutable state. Models without it must be safe for concurrent calls.
type Cloner interface {
	// Clone returns a model with the same density and its own buffers.
	Clone() Model
}

// Result holds the post-warm-up draws of every chain and the sampler's
// per-chain diagnostics.
type Result struct {
	// Draws holds the draws as [chain][draw][param], post-warm-up.
	Draws [][][]float64
	// LogDensity holds log π of each draw as [chain][draw].
	LogDensity [][]float64
	// Divergences counts post-warm-up transitions per chain whose energy
	// error exceeded 1000. Any divergence means the draws may be biased.
	Divergences []int
	// TreeDepthHits counts post-warm-up transitions per chain that stopped
	// at the maximum tree depth rather than at a U-turn.
	TreeDepthHits []int
	// StepSize is the adapted step size of each chain.
	StepSize []float64
	// InvMetric is the adapted diagonal inverse metric (the estimated
	// posterior variances, regularized) of each chain.
	InvMetric [][]float64
	// MeanAcceptStat is the mean post-warm-up acceptance statistic of each
	// chain; it should be near Config.TargetAccept.
	MeanAcceptStat []float64
	// EBFMI is the energy Bayesian fraction of missing information of each
	// chain (see EBFMI); values below 0.3 indicate poor exploration.
	EBFMI []float64
}

// Sample draws from m with multinomial NUTS after Stan's windowed warm-up,
// running cfg.Chains chains on up to cfg.Workers goroutines.
//
// Each chain starts from cfg.Init (default uniform(−2, 2) per coordinate),
// with a unit metric and a step size found by doubling or halving until the
// one-step acceptance exp(H₀ − H) crosses 0.8 (Stan's heuristic; Hoffman &
// Gelman 2014, algorithm 4, use 0.5). During warm-up the step size is
// adapted by dual averaging toward cfg.TargetAccept and the diagonal
// inverse metric is set to the regularized variance of the draws at the end
// of each slow window (75 / 25, 50, 100, 200, 500 / 50 for 1000 warm-up
// iterations), after which the step size is searched again and its
// adaptation restarts. Draws then use the averaged step size ε̄.
//
// It returns an error if cfg is invalid, if a chain cannot find a finite
// initial point or step size, if the model panics, or if ctx is cancelled
// (the error then wraps ctx.Err() and no result is returned). A model that
// is hard to integrate does not fail: it shows up as divergences, tree-depth
// hits, low E-BFMI and high R̂ in the Result. All goroutines Sample starts
// have finished their work when it returns.
func Sample(ctx context.Context, m Model, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("cannot sample: model is nil")
	}
	d := m.Dim()
	if d < 1 {
		return nil, fmt.Errorf("cannot sample: model dimension is %d, want ≥ 1", d)
	}
	cfg = cfg.withDefaults()
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, cfg.Chains)

	res := &Result{
		Draws:          make([][][]float64, cfg.Chains),
		LogDensity:     make([][]float64, cfg.Chains),
		Divergences:    make([]int, cfg.Chains),
		TreeDepthHits:  make([]int, cfg.Chains),
		StepSize:       make([]float64, cfg.Chains),
		InvMetric:      make([][]float64, cfg.Chains),
		MeanAcceptStat: make([]float64, cfg.Chains),
		EBFMI:          make([]float64, cfg.Chains),
	}
	var done atomic.Int64
	total := cfg.Chains * (cfg.Warmup + cfg.Draws)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for c := range cfg.Chains {
		if gctx.Err() != nil {
			break
		}
		cm := m
		if cl, ok := m.(Cloner); ok {
			cm = cl.Clone()
		}
		g.Go(func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("chain %d panicked: %v", c, r)
				}
			}()
			if err := gctx.Err(); err != nil {
				return err
			}
			progress := func() {
				n := done.Add(1)
				if cfg.Progress != nil {
					cfg.Progress(int(n), total)
				}
			}
			if err := runChain(gctx, cm, cfg, c, res, progress); err != nil {
				return fmt.Errorf("cannot run chain %d: %w", c, err)
			}
			return nil
		})
	}
	err := g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sampling cancelled: %w", ctx.Err())
		}
		return nil, err
	}
	return res, nil
}

// maxInitTries is how many initial points a chain tries, as Stan.
const maxInitTries = 100

// runChain runs chain c to completion and writes its slots of res.
func runChain(ctx context.Context, m Model, cfg Config, c int, res *Result, progress func()) error {
	d := m.Dim()
	rng := chainRand(cfg.Seed, c)
	s := newNUTS(m, rng, cfg.MaxDepth, ctx.Done())
	if err := initialize(s, cfg, c); err != nil {
		return interruptedOr(ctx, err)
	}
	if err := s.initStepSize(); err != nil {
		return interruptedOr(ctx, err)
	}

	da := dualAveraging{delta: cfg.TargetAccept}
	da.restart(s.eps)
	ma := metricAdapter{win: newWindows(cfg.Warmup), est: newWelford(d)}
	for range cfg.Warmup {
		st, err := s.transition()
		if err != nil {
			return interruptedOr(ctx, err)
		}
		s.eps = da.learn(st.accept)
		if ma.learn(s.invMetric, s.z.q) {
			if err := s.initStepSize(); err != nil {
				return interruptedOr(ctx, err)
			}
			da.restart(s.eps)
		}
		progress()
	}
	s.eps = da.final()

	block := make([]float64, cfg.Draws*d)
	draws := make([][]float64, cfg.Draws)
	logp := make([]float64, cfg.Draws)
	energy := make([]float64, cfg.Draws)
	var divergences, depthHits int
	var sumAccept float64
	for i := range cfg.Draws {
		st, err := s.transition()
		if err != nil {
			return interruptedOr(ctx, err)
		}
		draws[i] = block[i*d : (i+1)*d : (i+1)*d]
		copy(draws[i], s.z.q)
		logp[i] = s.z.logp
		energy[i] = st.energy
		if st.divergent {
			divergences++
		}
		if st.depth >= cfg.MaxDepth {
			depthHits++
		}
		sumAccept += st.accept
		progress()
	}
	res.Draws[c] = draws
	res.LogDensity[c] = logp
	res.Divergences[c] = divergences
	res.TreeDepthHits[c] = depthHits
	res.StepSize[c] = s.eps
	res.InvMetric[c] = s.invMetric
	res.MeanAcceptStat[c] = sumAccept / float64(cfg.Draws)
	res.EBFMI[c] = EBFMI(energy)
	return nil
}

// interruptedOr maps errInterrupted to the context's error.
func interruptedOr(ctx context.Context, err error) error {
	if errors.Is(err, errInterrupted) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// initialize sets the chain's starting point: cfg.Init or uniform(−2, 2)
// per coordinate, retried until the log-density and gradient are finite.
func initialize(s *nuts, cfg Config, c int) error {
	z := &s.z
	for range maxInitTries {
		if s.cancelled() {
			return errInterrupted
		}
		if cfg.Init != nil {
			cfg.Init(c, s.rng, z.q)
		} else {
			uniformInit(s.rng, z.q)
		}
		z.logp = s.model.LogDensityGrad(z.q, z.grad)
		if finite(z.logp) && allFinite(z.grad) {
			return nil
		}
	}
	return fmt.Errorf("cannot find an initial point with finite log-density and gradient after %d tries", maxInitTries)
}

func uniformInit(rng *rand.Rand, q []float64) {
	for i := range q {
		q[i] = 4*rng.Float64() - 2
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func allFinite(xs []float64) bool {
	for _, x := range xs {
		if !finite(x) {
			return false
		}
	}
	return true
}
