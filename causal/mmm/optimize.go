package mmm

import (
	"errors"
	"fmt"
	"math"
)

// AllocateGrid solves the discretized budget allocation problem exactly by
// dynamic programming (a multiple-choice knapsack):
//
//	maximize Σ_m value[m][j_m]  subject to  Σ_m j_m = units,  lo[m] ≤ j_m ≤ hi[m],
//
// where value[m][j] is channel m's (expected) return at j budget units,
// j = 0..len(value[m])−1. It returns the optimal units per channel and the
// optimal total. Unlike bisection on a Lagrange multiplier, which needs
// concave curves, it is exact on the grid for any curve, including the
// S-shaped Hill curves with S > 1. Ties go to the allocation found first
// (more units on earlier channels). Cost O(M·units²) time and O(M·units)
// memory. It fails when no allocation satisfies the constraints.
func AllocateGrid(value [][]float64, units int, lo, hi []int) ([]int, float64, error) {
	M := len(value)
	if M == 0 || len(lo) != M || len(hi) != M || units < 0 {
		return nil, 0, errors.New("cannot allocate: need one value row and bounds per channel and units ≥ 0")
	}
	negInf := math.Inf(-1)
	// best[m][k]: best value of channels 0..m−1 using exactly k units.
	best := make([][]float64, M+1)
	choice := make([][]int, M+1)
	for i := range best {
		best[i] = make([]float64, units+1)
		choice[i] = make([]int, units+1)
		for k := range best[i] {
			best[i][k] = negInf
		}
	}
	best[0][0] = 0
	for m := range M {
		l, h := max(lo[m], 0), min(hi[m], len(value[m])-1, units)
		for k := 0; k <= units; k++ {
			for j := l; j <= min(h, k); j++ {
				prev := best[m][k-j]
				if prev == negInf {
					continue
				}
				if v := prev + value[m][j]; v > best[m+1][k] {
					best[m+1][k] = v
					choice[m+1][k] = j
				}
			}
		}
	}
	if best[M][units] == negInf {
		return nil, 0, fmt.Errorf("cannot allocate %d units: bounds are infeasible", units)
	}
	alloc := make([]int, M)
	k := units
	for m := M; m >= 1; m-- {
		alloc[m-1] = choice[m][k]
		k -= alloc[m-1]
	}
	return alloc, best[M][units], nil
}

// BudgetProblem is a fixed-budget allocation problem over the same periods
// as the data: each channel's total spend b_m is spread with its historical
// flighting pattern (its spend series times b_m / Σ_t x_{t,m}).
type BudgetProblem struct {
	// Budget is the total spend B = Σ_m b_m to allocate, in spend units.
	Budget float64
	// Lower and Upper bound each channel's total spend; nil means 0 and
	// Budget.
	Lower, Upper []float64
	// Steps is the number of grid units the budget is split into; the
	// allocation is exact on the grid of B/Steps. Default 200.
	Steps int
}

// BudgetResult is the optimal allocation and the posterior of its outcome.
type BudgetResult struct {
	// Allocation is the optimal total spend per channel.
	Allocation []float64
	// Expected is Σ_m E[Inc_m(b_m)], the maximized objective, in outcome
	// units.
	Expected float64
	// Outcome is the posterior of Σ_m Inc_m(b_m) at the optimum: the
	// optimal mix's outcome is uncertain (Jin et al. 2017, section 6), so
	// its distribution, not only its mean, is reported.
	Outcome Interval
	// OutcomeDraws holds Σ_m Inc_m(b_m) per posterior draw.
	OutcomeDraws []float64
	// Reference is the posterior of Σ_m Inc_m at the historical mix scaled
	// to the same budget (b_m ∝ Σ_t x_{t,m}), for comparison.
	Reference Interval
}

// OptimizeBudget maximizes Σ_m E_posterior[Inc_m(b_m)] subject to
// Σ_m b_m = Budget and Lower_m ≤ b_m ≤ Upper_m, where Inc_m(b) is channel
// m's incremental outcome (carryover included) when its historical spend
// series is rescaled to total b. The posterior mean of every channel's
// curve is evaluated on the grid b = j·Budget/Steps and AllocateGrid finds
// the exact optimum on that grid.
func (p *Posterior) OptimizeBudget(prob BudgetProblem) (*BudgetResult, error) {
	m := p.model
	M := len(m.spec.Channels)
	if !(prob.Budget > 0) || math.IsInf(prob.Budget, 0) {
		return nil, fmt.Errorf("cannot optimize budget %v: must be positive and finite", prob.Budget)
	}
	if len(p.draws) == 0 {
		return nil, errors.New("cannot optimize budget: no posterior draws")
	}
	steps := prob.Steps
	if steps <= 0 {
		steps = 200
	}
	step := prob.Budget / float64(steps)
	lo, hi := make([]int, M), make([]int, M)
	for ch := range M {
		lo[ch], hi[ch] = 0, steps
		if prob.Lower != nil {
			lo[ch] = int(math.Ceil(prob.Lower[ch]/step - 1e-9))
		}
		if prob.Upper != nil {
			hi[ch] = int(math.Floor(prob.Upper[ch]/step + 1e-9))
		}
	}
	hist := make([]float64, M)
	histTotal := 0.0
	for ch := range M {
		hist[ch] = sum(m.x[ch]) * m.scale.Spend[ch]
		histTotal += hist[ch]
	}
	// Mean curves on the grid.
	value := make([][]float64, M)
	for ch, c := range m.spec.Channels {
		value[ch] = make([]float64, steps+1)
		for _, pr := range p.draws {
			a := extendedAdstock(c, pr, ch, m.x[ch])
			for j := 1; j <= steps; j++ {
				r := float64(j) * step / hist[ch]
				value[ch][j] += incFromAdstock(c, pr, ch, a, r)
			}
		}
		for j := range value[ch] {
			value[ch][j] *= m.scale.Y / float64(len(p.draws))
		}
	}
	units, total, err := AllocateGrid(value, steps, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("cannot optimize budget: %w", err)
	}
	res := &BudgetResult{Allocation: make([]float64, M), Expected: total}
	for ch, u := range units {
		res.Allocation[ch] = float64(u) * step
	}
	ref := make([]float64, len(p.draws))
	res.OutcomeDraws = make([]float64, len(p.draws))
	for d, pr := range p.draws {
		for ch, c := range m.spec.Channels {
			a := extendedAdstock(c, pr, ch, m.x[ch])
			res.OutcomeDraws[d] += incFromAdstock(c, pr, ch, a, res.Allocation[ch]/hist[ch]) * m.scale.Y
			ref[d] += incFromAdstock(c, pr, ch, a, prob.Budget/histTotal) * m.scale.Y
		}
	}
	res.Outcome = Summarize(res.OutcomeDraws)
	res.Reference = Summarize(ref)
	return res, nil
}
