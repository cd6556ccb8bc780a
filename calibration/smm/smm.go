package smm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/mathext"
)

// Weighting selects the weighting matrix W of the objective; Σ below is
// Options.Cov inflated for simulation noise (see Options.Sims).
type Weighting int

const (
	// Identity is W = I: every moment counts the same in its own units.
	Identity Weighting = iota
	// Diagonal is W = diag(1/max(Σ_kk, DiagonalFloor)): each moment is
	// measured in units of its standard error, correlations are ignored.
	// Non-efficient weights like this one usually have less finite-sample
	// bias than Optimal.
	Diagonal
	// Optimal is W = Σ⁻¹, the efficient weighting; with it the sandwich
	// covariance reduces to (GᵀΣ⁻¹G)⁻¹ and J is χ²(M − P).
	Optimal
)

// String returns the name of the weighting.
func (w Weighting) String() string {
	switch w {
	case Identity:
		return "identity"
	case Diagonal:
		return "diagonal"
	case Optimal:
		return "optimal"
	}
	return fmt.Sprintf("Weighting(%d)", int(w))
}

// Options control Fit. Only Start is required.
type Options struct {
	// Start is the first starting point; its length is the number of
	// parameters P (at least 1).
	Start []float64
	// Cov is Σ, the M×M covariance of the observed moment estimates m̂
	// (for example from a bootstrap of the data), in squared moment units.
	// Diagonal and Optimal need it; with Identity it is optional. Without
	// it Fit reports no covariance, standard errors or J.
	Cov *mat.SymDense
	// Sims is S, the number of simulated data sets (each the size of the
	// observed data) that m̃ averages. When S > 0 the simulation noise is
	// folded into Σ as (1 + 1/S)·Σ (McFadden 1989; Pakes & Pollard 1989).
	// Default 0: the simulated moments carry no simulation noise (they are
	// exact, as in PersonaWeights).
	Sims int
	// DiagonalFloor is the smallest variance Diagonal divides by. Default
	// 1e-6, in squared moment units.
	DiagonalFloor float64
	// Starts is the number of Nelder–Mead starts: Start, then Starts − 1
	// points Start + StartSpread·z with z standard normal drawn from Rand.
	// Default 4; only Start is used when Rand is nil.
	Starts int
	// StartSpread is the standard deviation of the extra starts around
	// Start, in parameter units. Default 1.
	StartSpread float64
	// Rand draws the extra starts; nil means a single start.
	Rand *rand.Rand
	// SimplexSize is the edge of Nelder–Mead's initial simplex, in
	// parameter units. Default 0.5.
	SimplexSize float64
	// MaxEvals bounds the objective evaluations of each Nelder–Mead start
	// and of the L-BFGS polish (gradient evaluations count 2P each).
	// Default 2000·P.
	MaxEvals int
	// Step is the central-difference step for the gradient and the
	// Jacobian, in parameter units. Default 1e-5.
	Step float64
	// RankTol is the relative tolerance of the Jacobian's rank: singular
	// values below RankTol times the largest count as zero. Default 1e-6.
	RankTol float64
}

func (o Options) withDefaults(p int) Options {
	if o.DiagonalFloor <= 0 {
		o.DiagonalFloor = 1e-6
	}
	if o.Starts <= 0 {
		o.Starts = 4
	}
	if o.Rand == nil {
		o.Starts = 1
	}
	if o.StartSpread <= 0 {
		o.StartSpread = 1
	}
	if o.SimplexSize <= 0 {
		o.SimplexSize = 0.5
	}
	if o.MaxEvals <= 0 {
		o.MaxEvals = 2000 * p
	}
	if o.Step <= 0 {
		o.Step = 1e-5
	}
	if o.RankTol <= 0 {
		o.RankTol = 1e-6
	}
	return o
}

// Result describes the fit at θ̂. Matrices are nil when they cannot be
// computed (see each field).
type Result struct {
	// Theta is θ̂.
	Theta []float64
	// Objective is Q(θ̂) = gᵀWg.
	Objective float64
	// Moments is m̃(θ̂); Residuals is g = m̂ − m̃(θ̂).
	Moments, Residuals []float64
	// Converged is true when the best Nelder–Mead start or the L-BFGS
	// polish stopped on a convergence test (simplex size and spread,
	// gradient, or function decrease), not on an evaluation limit. Status
	// names how each stage stopped.
	Converged bool
	Status    string
	// GradNorm is the infinity norm of the central-difference gradient of
	// Q at θ̂.
	GradNorm float64
	// StartObjectives holds Q at the end of each Nelder–Mead start; widely
	// different values reveal several local minima.
	StartObjectives []float64
	// Evaluations counts the calls to the simulator.
	Evaluations int

	// W is the weighting matrix used (M×M).
	W *mat.SymDense
	// Jacobian is G = ∂m̃/∂θᵀ at θ̂ (M×P), by central differences.
	Jacobian *mat.Dense
	// SingularValues are the P singular values of G, largest first
	// (zeros appended when M < P).
	SingularValues []float64
	// Rank is the number of singular values above RankTol times the
	// largest; Condition is the largest over the smallest (+Inf when the
	// smallest is zero).
	Rank      int
	Condition float64
	// Identified is true when Rank = P: no direction of θ leaves the
	// moments unchanged to first order. With M < P it is always false.
	Identified bool
	// FlatDirections holds, as columns (P×(P − Rank)), the right singular
	// vectors of G with (near) zero singular values: moving θ̂ along them
	// does not change the moments, so the data cannot tell those
	// parameter combinations apart. Nil when Identified.
	FlatDirections *mat.Dense

	// Cov is the sandwich covariance of θ̂ (P×P),
	//	V = (GᵀWG)⁻¹ GᵀW Σ W G (GᵀWG)⁻¹,
	// which is (GᵀΣ⁻¹G)⁻¹ for Optimal. Nil without Options.Cov or when not
	// Identified. StdErr holds the square roots of its diagonal.
	Cov    *mat.SymDense
	StdErr []float64
	// Sensitivity is −(GᵀWG)⁻¹GᵀW (P×M), the change of θ̂ per unit change
	// of each observed moment (Honoré, Jørgensen & de Paula 2020). Nil when
	// not Identified.
	Sensitivity *mat.Dense
	// J is Hansen's over-identification statistic gᵀΣ⁻¹g at θ̂, χ²(JDF)
	// with JDF = M − P under correct specification, and JPValue its upper
	// tail probability. Computed only with Optimal weighting, M > P and an
	// identified fit; otherwise J and JPValue are NaN and JDF is 0.
	J       float64
	JDF     int
	JPValue float64
}

// objective evaluates Q and counts simulator calls; it is not safe for
// concurrent use.
type objective struct {
	sim      func([]float64) []float64
	observed []float64
	w        *mat.SymDense
	g        []float64
	evals    int
}

func (o *objective) residuals(theta []float64) ([]float64, bool) {
	m := o.sim(theta)
	o.evals++
	if len(m) != len(o.observed) {
		panic(fmt.Sprintf("smm: simulator returned %d moments, want %d", len(m), len(o.observed)))
	}
	ok := true
	for i := range o.g {
		o.g[i] = o.observed[i] - m[i]
		if math.IsNaN(o.g[i]) || math.IsInf(o.g[i], 0) {
			ok = false
		}
	}
	return o.g, ok
}

func (o *objective) value(theta []float64) float64 {
	g, ok := o.residuals(theta)
	if !ok {
		return math.Inf(1)
	}
	gv := mat.NewVecDense(len(g), g)
	return mat.Inner(gv, o.w, gv)
}

// weightMatrix builds W from the kind and the inflated covariance.
func weightMatrix(kind Weighting, m int, cov *mat.SymDense, floor float64) (*mat.SymDense, error) {
	w := mat.NewSymDense(m, nil)
	switch kind {
	case Identity:
		for i := range m {
			w.SetSym(i, i, 1)
		}
	case Diagonal:
		if cov == nil {
			return nil, errors.New("diagonal weighting needs the moment covariance (Options.Cov)")
		}
		for i := range m {
			w.SetSym(i, i, 1/max(cov.At(i, i), floor))
		}
	case Optimal:
		if cov == nil {
			return nil, errors.New("optimal weighting needs the moment covariance (Options.Cov)")
		}
		var ch mat.Cholesky
		if !ch.Factorize(cov) {
			return nil, errors.New("optimal weighting needs a positive definite moment covariance")
		}
		if err := ch.InverseTo(w); err != nil {
			return nil, fmt.Errorf("cannot invert the moment covariance: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown weighting %d", int(kind))
	}
	return w, nil
}

// Fit estimates θ by the simulated method of moments: it minimizes
//
//	Q(θ) = g(θ)ᵀ W g(θ),   g(θ) = observed − sim(θ),
//
// over θ ∈ R^P (P = len(opts.Start)), with W chosen by weighting. sim must
// be deterministic (fixed random streams: common random numbers, so that
// every θ sees the same draws), return len(observed) moments, and neither
// keep nor modify its argument; it is called from one goroutine.
//
// The minimization runs Nelder–Mead from each start (Options.Starts),
// keeps the best end point and polishes it with L-BFGS on the
// central-difference gradient; θ̂ is the better of the two. At θ̂ Fit
// computes the Jacobian G by central differences, its singular values,
// rank and flat directions, and, when Σ = (1 + 1/S)·Options.Cov is
// available and G has full column rank, the sandwich covariance
//
//	V = (GᵀWG)⁻¹ GᵀWΣWG (GᵀWG)⁻¹
//
// (McFadden 1989; Pakes & Pollard 1989), and the sensitivity −(GᵀWG)⁻¹GᵀW.
// With Optimal weighting and M > P it reports J = gᵀΣ⁻¹g ~ χ²(M − P).
//
// Special cases: a simulator returning NaN or ±Inf makes Q = +Inf there,
// which the optimizers avoid. With fewer moments than parameters, or a
// Jacobian of deficient rank, the fit may still reach Q ≈ 0 but θ̂ is one
// point of a flat set: Identified is false, FlatDirections spans the set
// locally, and Cov, StdErr and Sensitivity are nil. Fit fails on invalid
// inputs (no parameters, no moments, a covariance of the wrong size, a
// Diagonal or Optimal weighting without covariance, a non-positive-definite
// covariance with Optimal, a non-finite Q at Start); it never reports
// convergence the optimizer did not reach.
func Fit(sim func(theta []float64) []float64, observed []float64, weighting Weighting, opts Options) ([]float64, Result, error) {
	p, m := len(opts.Start), len(observed)
	if p == 0 {
		return nil, Result{}, errors.New("cannot fit: no parameters (empty Options.Start)")
	}
	if m == 0 {
		return nil, Result{}, errors.New("cannot fit: no observed moments")
	}
	opts = opts.withDefaults(p)
	var sigma *mat.SymDense
	if opts.Cov != nil {
		if r, c := opts.Cov.Dims(); r != m || c != m {
			return nil, Result{}, fmt.Errorf("cannot fit: moment covariance is %d×%d for %d moments", r, c, m)
		}
		sigma = mat.NewSymDense(m, nil)
		f := 1.0
		if opts.Sims > 0 {
			f = 1 + 1/float64(opts.Sims)
		}
		sigma.ScaleSym(f, opts.Cov)
	}
	w, err := weightMatrix(weighting, m, sigma, opts.DiagonalFloor)
	if err != nil {
		return nil, Result{}, fmt.Errorf("cannot fit: %w", err)
	}
	obj := &objective{sim: sim, observed: observed, w: w, g: make([]float64, m)}
	if q := obj.value(opts.Start); math.IsInf(q, 0) || math.IsNaN(q) {
		return nil, Result{}, fmt.Errorf("cannot fit: objective at the start is %v", q)
	}

	// Nelder–Mead from every start.
	res := Result{W: w}
	var best minResult
	for s := range opts.Starts {
		x0 := append([]float64(nil), opts.Start...)
		if s > 0 {
			for i := range x0 {
				x0[i] += opts.StartSpread * opts.Rand.NormFloat64()
			}
		}
		r := nelderMead(obj.value, x0, opts.SimplexSize, opts.MaxEvals)
		res.StartObjectives = append(res.StartObjectives, r.f)
		if s == 0 || r.f < best.f {
			best = r
		}
	}
	theta := best.x
	res.Objective, res.Status, res.Converged = best.f, "nelder-mead: "+best.status, best.converged

	// L-BFGS polish on the central-difference gradient; it starts at the
	// simplex's best point and only moves to lower Q. The fit has converged
	// when either stage stopped on a convergence test: a polish whose line
	// search cannot improve on a converged simplex point (the usual end
	// with a finite-difference gradient) leaves the fit converged.
	fds := &fd.Settings{Formula: fd.Central, Step: opts.Step}
	grad := func(dst, x []float64) { fd.Gradient(dst, obj.value, x, fds) }
	gtol := 1e-12 * max(math.Abs(obj.value(opts.Start)), 1e-300)
	polish := lbfgs(obj.value, grad, theta, gtol, opts.MaxEvals)
	if polish.f <= res.Objective {
		theta, res.Objective = polish.x, polish.f
	}
	res.Status += "; lbfgs: " + polish.status
	res.Converged = res.Converged || polish.converged
	res.Theta = theta
	gr := make([]float64, p)
	grad(gr, theta)
	for _, v := range gr {
		res.GradNorm = max(res.GradNorm, math.Abs(v))
	}
	g, _ := obj.residuals(theta)
	res.Residuals = append([]float64(nil), g...)
	res.Moments = make([]float64, m)
	for i := range m {
		res.Moments[i] = observed[i] - g[i]
	}

	// Jacobian and identification.
	jac := mat.NewDense(m, p, nil)
	fd.Jacobian(jac, func(y, x []float64) {
		mm := sim(x)
		obj.evals++
		copy(y, mm)
	}, theta, &fd.JacobianSettings{Formula: fd.Central, Step: opts.Step})
	res.Jacobian = jac
	identify(&res, jac, p, opts.RankTol)

	if res.Identified {
		inference(&res, jac, w, sigma, weighting, m, p)
	}
	if math.IsNaN(res.J) || res.JDF == 0 {
		res.J, res.JPValue, res.JDF = math.NaN(), math.NaN(), 0
	}
	res.Evaluations = obj.evals
	return theta, res, nil
}

// identify fills the singular values, rank, condition number and flat
// directions of the Jacobian.
func identify(res *Result, jac *mat.Dense, p int, rankTol float64) {
	var svd mat.SVD
	if !svd.Factorize(jac, mat.SVDFull) {
		res.Condition = math.Inf(1)
		return
	}
	s := svd.Values(nil)
	for len(s) < p {
		s = append(s, 0)
	}
	res.SingularValues = s
	for _, v := range s {
		if s[0] > 0 && v > rankTol*s[0] {
			res.Rank++
		}
	}
	res.Condition = math.Inf(1)
	if last := s[p-1]; last > 0 {
		res.Condition = s[0] / last
	}
	res.Identified = res.Rank == p
	if !res.Identified {
		var v mat.Dense
		svd.VTo(&v)
		res.FlatDirections = mat.DenseCopyOf(v.Slice(0, p, res.Rank, p))
	}
}

// inference fills the sandwich covariance, standard errors, sensitivity
// and J statistic of an identified fit.
func inference(res *Result, jac *mat.Dense, w, sigma *mat.SymDense, weighting Weighting, m, p int) {
	// A = GᵀWG, B = GᵀW (P×M).
	var bt mat.Dense
	bt.Mul(jac.T(), w)
	var a mat.Dense
	a.Mul(&bt, jac)
	as := mat.NewSymDense(p, nil)
	for i := range p {
		for j := i; j < p; j++ {
			as.SetSym(i, j, (a.At(i, j)+a.At(j, i))/2)
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(as) {
		res.Identified = false
		return
	}
	var sens mat.Dense // A⁻¹GᵀW
	if err := ch.SolveTo(&sens, &bt); err != nil {
		res.Identified = false
		return
	}
	sens.Scale(-1, &sens)
	res.Sensitivity = &sens
	if sigma == nil {
		return
	}
	// V = S Σ Sᵀ with S the sensitivity (the sign cancels).
	var tmp, v mat.Dense
	tmp.Mul(&sens, sigma)
	v.Mul(&tmp, sens.T())
	res.Cov = mat.NewSymDense(p, nil)
	res.StdErr = make([]float64, p)
	for i := range p {
		for j := i; j < p; j++ {
			res.Cov.SetSym(i, j, (v.At(i, j)+v.At(j, i))/2)
		}
		res.StdErr[i] = math.Sqrt(max(res.Cov.At(i, i), 0))
	}
	if weighting == Optimal && m > p {
		g := mat.NewVecDense(m, res.Residuals)
		res.J = mat.Inner(g, w, g)
		res.JDF = m - p
		res.JPValue = mathext.GammaIncRegComp(float64(m-p)/2, res.J/2)
	}
}
