package rake

import (
	"fmt"
	"math"
)

// LogitShift reconciles predicted probabilities p (for example per-user
// conversion under a plan) with category totals: it returns q with
//
//	q_i = σ(logit p_i + Σ_m δ_{m, x_im}),   Σ_{i: x_im = c} q_i = T_mc for all (m, c),
//
// where σ(z) = 1/(1 + e^(−z)). Like IPF it sweeps over the margins in
// order, but where IPF multiplies masses it shifts logits: for each
// category c of margin m it finds the offset δ with
//
//	F(δ) = Σ_{i∈c} σ(z_i + δ) − T_mc = 0,
//
// a one-dimensional increasing function (F' = Σ σ(1 − σ) > 0), solved by
// Newton's method safeguarded by bisection, and adds δ to the current logits
// z_i of the category's units. This is raking in the logit link, the
// "logit" member of the calibration family of Deville & Särndal (1992);
// unlike multiplying the probabilities as masses (IPF on p) it keeps every
// q_i in (0, 1). Units that share their category in every margin receive
// the same total shift, so their order is preserved (with one margin: the
// order within each category), and with it the uplift ranking and Qini
// curve within such cells.
//
// Convergence is judged as in IPF on the largest relative margin error of q
// after each sweep, against Tol; only MaxSweeps, Tol and Rescale of opts
// are used (trimming does not apply).
//
// Special cases: every p_i must lie strictly in (0, 1), since 0 and 1 have
// no logit. A category needs 0 < T_mc < n_mc with n_mc its number of units
// (a target of 0 or n_mc would need an infinite shift), or n_mc = 0 and
// T_mc = 0; otherwise LogitShift fails naming the margin and the category.
// Margins with different grand totals fail unless Rescale is set. Logits
// beyond about ±36 round q_i to 0 or 1 in float64; such values are clamped
// to the nearest representable value inside (0, 1).
func LogitShift(p []float64, margins []Margin, opts Options) ([]float64, Result, error) {
	opts = opts.withDefaults()
	n := len(p)
	targets, total, err := prepare(n, margins, opts)
	if err != nil {
		return nil, Result{}, fmt.Errorf("cannot shift logits: %w", err)
	}
	z := make([]float64, n)
	for i, v := range p {
		if !(v > 0 && v < 1) {
			return nil, Result{}, fmt.Errorf("cannot shift logits: prediction %d is %v, want in (0, 1)", i, v)
		}
		z[i] = math.Log(v) - math.Log1p(-v)
	}
	// Per margin, the units of each category, and feasibility.
	members := make([][][]int, len(margins))
	for k, m := range margins {
		members[k] = make([][]int, len(targets[k]))
		for i, c := range m.Category {
			members[k][c] = append(members[k][c], i)
		}
		for c, t := range targets[k] {
			nc := float64(len(members[k][c]))
			if (nc == 0 && t != 0) || (nc > 0 && !(t > 0 && t < nc)) {
				return nil, Result{}, fmt.Errorf("cannot shift logits: %s category %d has target %v for %d units, want strictly between 0 and %d",
					marginName(m, k), c, t, len(members[k][c]), len(members[k][c]))
			}
		}
	}
	q := make([]float64, n)
	sums := make([]float64, maxCategories(targets))
	var res Result
	for res.Sweeps < opts.MaxSweeps {
		res.Sweeps++
		for k := range margins {
			for c, idx := range members[k] {
				if len(idx) == 0 {
					continue
				}
				d := solveShift(z, idx, targets[k][c])
				for _, i := range idx {
					z[i] += d
				}
			}
		}
		for i, v := range z {
			q[i] = sigmoid(v)
		}
		res.MaxRelErr = maxRelErr(q, margins, targets, total, sums)
		if res.MaxRelErr < opts.Tol {
			res.Converged = true
			break
		}
	}
	return q, res, nil
}

// Bounds of the probabilities LogitShift returns.
var (
	probLow  = math.SmallestNonzeroFloat64
	probHigh = math.Nextafter(1, 0)
)

// sigmoid is the logistic function, clamped into (0, 1).
func sigmoid(z float64) float64 {
	var s float64
	if z >= 0 {
		s = 1 / (1 + math.Exp(-z))
	} else {
		e := math.Exp(z)
		s = e / (1 + e)
	}
	return min(max(s, probLow), probHigh)
}

// solveShift returns δ with Σ_{i∈idx} σ(z_i + δ) = t, for 0 < t < len(idx):
// it brackets the root by doubling and then runs Newton steps that fall
// back to bisection when they leave the bracket or stall.
func solveShift(z []float64, idx []int, t float64) float64 {
	f := func(d float64) (float64, float64) {
		s, ds := 0.0, 0.0
		for _, i := range idx {
			v := sigmoid(z[i] + d)
			s += v
			ds += v * (1 - v)
		}
		return s - t, ds
	}
	lo, hi := -1.0, 1.0
	for k := 0; k < 64; k++ {
		if v, _ := f(lo); v < 0 {
			break
		}
		lo *= 2
	}
	for k := 0; k < 64; k++ {
		if v, _ := f(hi); v > 0 {
			break
		}
		hi *= 2
	}
	d := 0.0
	if d <= lo || d >= hi {
		d = (lo + hi) / 2
	}
	scale := max(t, 1e-300)
	for range 200 {
		v, dv := f(d)
		if math.Abs(v) <= 1e-15*scale {
			return d
		}
		if v < 0 {
			lo = d
		} else {
			hi = d
		}
		next := d - v/dv
		if !(next > lo && next < hi) || dv == 0 {
			next = (lo + hi) / 2
		}
		if next == d || hi-lo <= 4*math.Abs(d)*1e-16 {
			return next
		}
		d = next
	}
	return d
}
