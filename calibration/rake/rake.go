package rake

import (
	"errors"
	"fmt"
	"math"
)

// Margin is one categorical margin: the category of every unit and the
// target total of every category.
type Margin struct {
	// Name identifies the margin in errors; "margin <index>" when empty.
	Name string
	// Category holds the category of each unit, an index into Targets.
	// Its length must equal the number of units.
	Category []int
	// Targets holds the target total of each category; every target must
	// be finite and non-negative.
	Targets []float64
}

// Options control IPF and LogitShift. The zero value is usable.
type Options struct {
	// MaxSweeps is the most sweeps (one pass over all margins) to run.
	// Default 1000.
	MaxSweeps int
	// Tol is the convergence tolerance on the largest relative margin error
	// (see Result.MaxRelErr). Default 1e-10.
	Tol float64
	// Rescale, when true, rescales every margin's targets to the grand
	// total of the first margin when the grand totals differ, instead of
	// failing. Grand totals are equal when they differ by at most 1e-9
	// relative to the largest.
	Rescale bool
	// Cap, when positive, trims each weight to at most Cap·mean(w) after
	// every sweep (IPF only); unit: multiples of the mean weight. Default 0
	// (no cap). Must exceed 1 when set.
	Cap float64
	// Floor, when positive, raises each weight to at least Floor·mean(w)
	// after every sweep (IPF only); unit: multiples of the mean weight.
	// Default 0 (no floor). Must be below 1 when set. Units whose weight is
	// exactly zero (design weight zero or a zero-target category) stay zero.
	Floor float64
}

// Result reports how a fit ended.
type Result struct {
	// Converged is true only when MaxRelErr < Tol was reached.
	Converged bool
	// Sweeps is the number of sweeps run.
	Sweeps int
	// MaxRelErr is the largest error over all margins and categories,
	// |S_mc − T_mc|/T_mc for a positive target and |S_mc|/T for a zero
	// target, with S_mc the fitted total and T the common grand total.
	MaxRelErr float64
}

const (
	defaultMaxSweeps = 1000
	defaultTol       = 1e-10
	totalTol         = 1e-9
)

func (o Options) withDefaults() Options {
	if o.MaxSweeps <= 0 {
		o.MaxSweeps = defaultMaxSweeps
	}
	if !(o.Tol > 0) {
		o.Tol = defaultTol
	}
	return o
}

func marginName(m Margin, k int) string {
	if m.Name != "" {
		return fmt.Sprintf("margin %q", m.Name)
	}
	return fmt.Sprintf("margin %d", k)
}

// prepare validates the margins against n units and returns the targets to
// use (rescaled when asked) and the common grand total.
func prepare(n int, margins []Margin, opts Options) ([][]float64, float64, error) {
	if len(margins) == 0 {
		return nil, 0, errors.New("cannot rake: no margins")
	}
	targets := make([][]float64, len(margins))
	totals := make([]float64, len(margins))
	maxTotal := 0.0
	for k, m := range margins {
		name := marginName(m, k)
		if len(m.Category) != n {
			return nil, 0, fmt.Errorf("cannot rake: %s has %d unit categories for %d units", name, len(m.Category), n)
		}
		if len(m.Targets) == 0 {
			return nil, 0, fmt.Errorf("cannot rake: %s has no targets", name)
		}
		for c, t := range m.Targets {
			if !(t >= 0) || math.IsInf(t, 0) {
				return nil, 0, fmt.Errorf("cannot rake: %s category %d has target %v, want finite and non-negative", name, c, t)
			}
			totals[k] += t
		}
		for i, c := range m.Category {
			if c < 0 || c >= len(m.Targets) {
				return nil, 0, fmt.Errorf("cannot rake: %s puts unit %d in category %d, want 0..%d", name, i, c, len(m.Targets)-1)
			}
		}
		if !(totals[k] > 0) {
			return nil, 0, fmt.Errorf("cannot rake: %s has grand total %v, want positive", name, totals[k])
		}
		targets[k] = append([]float64(nil), m.Targets...)
		maxTotal = max(maxTotal, totals[k])
	}
	for k := 1; k < len(margins); k++ {
		if math.Abs(totals[k]-totals[0]) <= totalTol*maxTotal {
			continue
		}
		if !opts.Rescale {
			return nil, 0, fmt.Errorf("cannot rake: %s has grand total %v but %s has %v; IPF cannot meet inconsistent margins (set Rescale to rescale them)",
				marginName(margins[k], k), totals[k], marginName(margins[0], 0), totals[0])
		}
		f := totals[0] / totals[k]
		for c := range targets[k] {
			targets[k][c] *= f
		}
	}
	return targets, totals[0], nil
}

// checkFeasible fails for a category with a positive target whose units all
// have zero mass (no units at all, or only units of zero weight).
func checkFeasible(mass []float64, margins []Margin, targets [][]float64) error {
	for k, m := range margins {
		s := make([]float64, len(targets[k]))
		for i, c := range m.Category {
			s[c] += mass[i]
		}
		for c, t := range targets[k] {
			if t > 0 && !(s[c] > 0) {
				return fmt.Errorf("cannot rake: %s category %d has target %v but no units with positive weight; merge it with another category",
					marginName(m, k), c, t)
			}
		}
	}
	return nil
}

// maxRelErr returns the largest relative margin error of w (see Result).
func maxRelErr(w []float64, margins []Margin, targets [][]float64, total float64, sums []float64) float64 {
	worst := 0.0
	for k, m := range margins {
		s := sums[:len(targets[k])]
		clear(s)
		for i, c := range m.Category {
			s[c] += w[i]
		}
		for c, t := range targets[k] {
			var e float64
			if t > 0 {
				e = math.Abs(s[c]-t) / t
			} else {
				e = math.Abs(s[c]) / total
			}
			if !(e <= worst) { // also catches NaN
				worst = e
			}
		}
	}
	return worst
}

func maxCategories(targets [][]float64) int {
	n := 0
	for _, t := range targets {
		n = max(n, len(t))
	}
	return n
}

// IPF rakes the design weights to the margins by iterative proportional
// fitting (Deming & Stephan 1940) and returns the raked weights. Starting
// from w = design, each sweep visits the margins in order and, for every
// category c of margin m, multiplies the weights of its units by
//
//	f_c = T_mc / S_c,   S_c = Σ_{i: x_im = c} w_i,
//
// then, when Cap or Floor is set, trims every weight into
// [Floor·mean(w), Cap·mean(w)] and rescales the weights to the grand total.
// After each sweep the largest relative error over all margins and
// categories (Result.MaxRelErr) is compared with Tol. The result is the
// minimum raking-ratio distance solution of Deville & Särndal (1992) when
// one exists; IPF converges for any table without empty cells and, with
// empty cells, whenever a table with the same zero pattern meets the
// margins.
//
// Special cases: a nil design means all design weights are 1; design
// weights must be finite and non-negative, and a unit of design weight
// zero keeps weight zero. Margins whose grand totals differ fail unless
// Options.Rescale is set (IPF would oscillate forever otherwise). A
// category with a positive target and no unit of positive weight fails
// with an error naming the margin and the category. A zero target sets the
// weights of its units to zero. When MaxSweeps is reached first, or the
// trimming keeps the margins from being met, the weights of the last sweep
// are returned with Converged false and the error reached; IPF never
// reports convergence it did not reach.
func IPF(design []float64, margins []Margin, opts Options) ([]float64, Result, error) {
	opts = opts.withDefaults()
	if len(margins) == 0 {
		return nil, Result{}, errors.New("cannot rake: no margins")
	}
	n := len(margins[0].Category)
	if design != nil && len(design) != n {
		return nil, Result{}, fmt.Errorf("cannot rake: %d design weights for %d units", len(design), n)
	}
	if opts.Cap != 0 && !(opts.Cap > 1) {
		return nil, Result{}, fmt.Errorf("cannot rake: cap %v, want above 1", opts.Cap)
	}
	if opts.Floor != 0 && !(opts.Floor > 0 && opts.Floor < 1) {
		return nil, Result{}, fmt.Errorf("cannot rake: floor %v, want in (0, 1)", opts.Floor)
	}
	targets, total, err := prepare(n, margins, opts)
	if err != nil {
		return nil, Result{}, err
	}
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
		if design != nil {
			w[i] = design[i]
		}
		if !(w[i] >= 0) || math.IsInf(w[i], 0) {
			return nil, Result{}, fmt.Errorf("cannot rake: design weight %d is %v, want finite and non-negative", i, w[i])
		}
	}
	if err := checkFeasible(w, margins, targets); err != nil {
		return nil, Result{}, err
	}
	sums := make([]float64, maxCategories(targets))
	var res Result
	for res.Sweeps < opts.MaxSweeps {
		res.Sweeps++
		for k, m := range margins {
			s := sums[:len(targets[k])]
			clear(s)
			for i, c := range m.Category {
				s[c] += w[i]
			}
			for c, t := range targets[k] {
				if s[c] > 0 {
					s[c] = t / s[c]
				} // else: no mass and (by checkFeasible) target 0; nothing to scale.
			}
			for i, c := range m.Category {
				w[i] *= s[c]
			}
		}
		if opts.Cap > 0 || opts.Floor > 0 {
			trim(w, opts.Cap, opts.Floor, total)
		}
		res.MaxRelErr = maxRelErr(w, margins, targets, total, sums)
		if res.MaxRelErr < opts.Tol {
			res.Converged = true
			break
		}
	}
	return w, res, nil
}

// trim clamps the positive weights into [floor·mean, cap·mean] (a bound of
// 0 is unset) and rescales all weights to total.
func trim(w []float64, cap, floor, total float64) {
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	mean := sum / float64(len(w))
	for i, v := range w {
		if v == 0 {
			continue
		}
		if cap > 0 {
			v = min(v, cap*mean)
		}
		if floor > 0 {
			v = max(v, floor*mean)
		}
		w[i] = v
	}
	sum = 0
	for _, v := range w {
		sum += v
	}
	if sum > 0 {
		f := total / sum
		for i := range w {
			w[i] *= f
		}
	}
}

// Kish returns Kish's effective sample size of the weights,
//
//	n_eff = (Σ_i w_i)² / Σ_i w_i²,
//
// which equals len(w) for equal weights and falls as the weights spread;
// the design effect of weighting is len(w)/n_eff. It returns 0 for an
// empty vector or weights that are all zero. Weights are expected to be
// non-negative.
func Kish(w []float64) float64 {
	s, s2 := 0.0, 0.0
	for _, v := range w {
		s += v
		s2 += v * v
	}
	if s2 == 0 {
		return 0
	}
	return s * s / s2
}
