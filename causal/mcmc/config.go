package mcmc

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Defaults applied by Sample to zero-valued Config fields; they are Stan's.
const (
	// DefaultChains is the default number of chains.
	DefaultChains = 4
	// DefaultWarmup is the default number of warm-up iterations per chain.
	DefaultWarmup = 1000
	// DefaultDraws is the default number of kept draws per chain.
	DefaultDraws = 1000
	// DefaultMaxDepth is the default maximum tree depth.
	DefaultMaxDepth = 10
	// DefaultTargetAccept is the default target mean acceptance statistic.
	DefaultTargetAccept = 0.8
)

// maxMaxDepth bounds Config.MaxDepth: a tree of depth 30 already needs 2³⁰
// gradient evaluations per draw.
const maxMaxDepth = 30

// Config configures Sample. Zero values select the documented defaults.
type Config struct {
	// Chains is the number of independent chains. Default 4; at least 2
	// are needed for a between-chain R̂, 4 is what Stan recommends.
	Chains int
	// Warmup is the number of warm-up (adaptation) iterations per chain,
	// discarded from the result. Default 1000.
	Warmup int
	// Draws is the number of post-warm-up draws kept per chain. Default 1000.
	Draws int
	// MaxDepth is the maximum tree depth: a transition takes at most
	// 2^MaxDepth − 1 leapfrog steps. Default 10, at most 30.
	MaxDepth int
	// TargetAccept is the mean acceptance statistic that step-size
	// adaptation aims for, in (0, 1). Default 0.8; raise it (0.9–0.99) when a
	// model reports divergences.
	TargetAccept float64
	// Seed seeds every random draw. Chain c uses a generator derived from
	// Seed and c only.
	Seed uint64
	// Workers is the number of goroutines that run chains in parallel.
	// Default (0) is GOMAXPROCS. Results do not depend on it.
	Workers int
	// Init, if set, writes chain's initial unconstrained position into q
	// (len Dim). It is called again, with the same rng, when the position
	// has a non-finite log-density or gradient, up to 100 times. Default:
	// each coordinate uniform on (−2, 2), as Stan.
	Init func(chain int, rng *rand.Rand, q []float64)
	// Progress, if set, is called after every iteration of every chain with
	// the number of iterations done over all chains and the total
	// Chains·(Warmup+Draws). It is called from the chains' goroutines,
	// possibly concurrently, and must be fast.
	Progress func(done, total int)
}

// Validate reports the first invalid field of c, naming it and saying why.
// Zero values are valid: they select the defaults.
func (c Config) Validate() error {
	switch {
	case c.Chains < 0:
		return fmt.Errorf("invalid mcmc config: Chains is %d, want ≥ 1 (or 0 for the default %d)", c.Chains, DefaultChains)
	case c.Warmup < 0:
		return fmt.Errorf("invalid mcmc config: Warmup is %d, want ≥ 1 (or 0 for the default %d)", c.Warmup, DefaultWarmup)
	case c.Draws < 0:
		return fmt.Errorf("invalid mcmc config: Draws is %d, want ≥ 1 (or 0 for the default %d)", c.Draws, DefaultDraws)
	case c.MaxDepth < 0 || c.MaxDepth > maxMaxDepth:
		return fmt.Errorf("invalid mcmc config: MaxDepth is %d, want 1..%d (or 0 for the default %d)", c.MaxDepth, maxMaxDepth, DefaultMaxDepth)
	case math.IsNaN(c.TargetAccept) || c.TargetAccept < 0 || c.TargetAccept >= 1:
		return fmt.Errorf("invalid mcmc config: TargetAccept is %v, want a value in (0, 1) (or 0 for the default %v)", c.TargetAccept, DefaultTargetAccept)
	case c.Workers < 0:
		return fmt.Errorf("invalid mcmc config: Workers is %d, want ≥ 1 (or 0 for GOMAXPROCS)", c.Workers)
	}
	return nil
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Chains == 0 {
		c.Chains = DefaultChains
	}
	if c.Warmup == 0 {
		c.Warmup = DefaultWarmup
	}
	if c.Draws == 0 {
		c.Draws = DefaultDraws
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.TargetAccept == 0 {
		c.TargetAccept = DefaultTargetAccept
	}
	return c
}

// chainRand returns the generator of chain c: a PCG stream keyed by the seed
// and a SplitMix64 hash of the chain index, so that neighbouring chains get
// unrelated streams.
func chainRand(seed uint64, c int) *rand.Rand {
	z := uint64(c) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return rand.New(rand.NewPCG(seed, z))
}
