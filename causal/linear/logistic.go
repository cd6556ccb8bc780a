package linear

import (
	"encoding/json"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/preflight-hq/preflight/causal"
)

// Default solver settings of Logistic.
const (
	// DefaultMaxIter is the number of Newton steps Logistic takes at most
	// when MaxIter is 0.
	DefaultMaxIter = 100
	// DefaultTol is Logistic's convergence tolerance when Tol is 0.
	DefaultTol = 1e-8
	// ProbClip bounds PredictProba to [ProbClip, 1−ProbClip].
	ProbClip = 1e-7
)

// Logistic is L2-regularized logistic regression with an unpenalized
// intercept. It minimizes the weighted negative log-likelihood plus
// (Lambda/2)·‖β‖² over standardized features (see the package comment) by
// Newton's method (iteratively reweighted least squares) with a
// backtracking line search: each step solves (ZᵀVZ + Lambda·I₀)δ = g by
// Cholesky, with V = diag(w_i p_i (1−p_i)) and g the gradient (McCullagh &
// Nelder, Generalized Linear Models, 2nd ed., §4.4; Hastie et al., ESL
// §4.4.1). The objective is strictly convex when Lambda > 0 and both
// classes have positive weight, so the fit stays finite even on separable
// data. Logistic implements causal.Classifier; a fitted Logistic is safe
// for concurrent use. It marshals to JSON with its fitted coefficients and
// covariance, so a snapshot can carry it.
type Logistic struct {
	// Lambda is the penalty on the standardized coefficients, >= 0. With
	// Lambda = 0 the fit is maximum likelihood and fails with an error on
	// separable data.
	Lambda float64
	// MaxIter caps the Newton steps. Default (0) DefaultMaxIter.
	MaxIter int
	// Tol stops the iterations once the largest parameter change of a step
	// is at most Tol·(1 + largest |parameter|), on the standardized scale.
	// Default (0) DefaultTol.
	Tol float64

	intercept float64
	coef      []float64
	cov       *mat.SymDense
	iters     int
}

var _ causal.Classifier = (*Logistic)(nil)

// NewLogistic returns an unfitted Logistic with penalty lambda and the
// default solver settings.
func NewLogistic(lambda float64) *Logistic { return &Logistic{Lambda: lambda} }

// LogisticFactory returns a causal.NewClassifier that makes fresh Logistic
// models with penalty lambda. Logistic has no randomness, so the seed is
// unused.
func LogisticFactory(lambda float64) causal.NewClassifier {
	return func(uint64) causal.Classifier { return NewLogistic(lambda) }
}

// Fit trains the model on x and labels y in [0, 1] (normally 0 or 1) with
// optional non-negative weights w (nil means all 1). It returns an error,
// and leaves l unchanged, when the inputs have mismatched lengths, a
// feature, label or weight is NaN or infinite (naming the row and column),
// a label lies outside [0, 1], only one class has positive weight (the
// intercept would diverge), the Hessian is singular, or the iterations do
// not converge within MaxIter.
func (l *Logistic) Fit(x causal.Matrix, y, w []float64) error {
	if !(l.Lambda >= 0) || math.IsInf(l.Lambda, 0) {
		return fmt.Errorf("cannot fit logistic: Lambda is %v, want finite and >= 0", l.Lambda)
	}
	if l.MaxIter < 0 || !(l.Tol >= 0) {
		return fmt.Errorf("cannot fit logistic: MaxIter %d and Tol %v, want both >= 0", l.MaxIter, l.Tol)
	}
	maxIter, tol := l.MaxIter, l.Tol
	if maxIter == 0 {
		maxIter = DefaultMaxIter
	}
	if tol == 0 {
		tol = DefaultTol
	}
	d, err := newDesign("logistic", x, y, w)
	if err != nil {
		return err
	}
	var pos, neg float64
	for i, v := range y {
		if v < 0 || v > 1 {
			return fmt.Errorf("cannot fit logistic: label of row %d is %v, want within [0, 1]", i, v)
		}
		pos += d.w[i] * v
		neg += d.w[i] * (1 - v)
	}
	if !(pos > 0) || !(neg > 0) {
		return fmt.Errorf("cannot fit logistic: only one class has positive weight (weighted positives %v, negatives %v)", pos, neg)
	}

	s := newNewton(d, y, l.Lambda)
	// Start at the intercept-only optimum: logit of the weighted mean.
	s.theta[0] = math.Log(pos / neg)
	f := s.objective(s.theta)
	converged := false
	iter := 0
	for iter < maxIter && !converged {
		iter++
		if err := s.factorize(); err != nil {
			return err
		}
		delta := s.step()
		// Directional derivative of f along −δ is −gᵀδ < 0.
		slope := 0.0
		for k := range delta {
			slope += s.grad[k] * delta[k]
		}
		t := 1.0
		var fNew float64
		accepted := false
		for range 60 {
			for k := range s.trial {
				s.trial[k] = s.theta[k] - t*delta[k]
			}
			fNew = s.objective(s.trial)
			if fNew <= f-1e-4*t*slope {
				accepted = true
				break
			}
			t /= 2
		}
		maxStep, maxTheta := 0.0, 0.0
		for k := range delta {
			maxStep = math.Max(maxStep, math.Abs(t*delta[k]))
			maxTheta = math.Max(maxTheta, math.Abs(s.theta[k]))
		}
		if !accepted {
			// No decrease is possible any more: we are at the optimum to
			// within rounding when the Newton decrement is negligible.
			if slope <= 1e-12*math.Max(1, math.Abs(f)) {
				converged = true
				break
			}
			return fmt.Errorf("cannot fit logistic: line search failed at iteration %d (objective %v, Newton decrement %v)", iter, f, slope)
		}
		copy(s.theta, s.trial)
		f = fNew
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("cannot fit logistic: objective became %v at iteration %d", f, iter)
		}
		converged = maxStep <= tol*(1+maxTheta)
	}
	if !converged {
		return fmt.Errorf("cannot fit logistic: no convergence in %d Newton steps (Lambda = %v; separable data needs Lambda > 0)", maxIter, l.Lambda)
	}
	// Covariance: inverse penalized Hessian at the optimum, carried to the
	// original scale as A·H⁻¹·Aᵀ.
	if err := s.factorize(); err != nil {
		return err
	}
	var hinv mat.SymDense
	if err := s.chol.InverseTo(&hinv); err != nil {
		return fmt.Errorf("cannot fit logistic: cannot invert the Hessian: %w", err)
	}
	a := mat.NewDense(1+d.p, d.stride, d.jacobian())
	cov := mat.NewSymDense(1+d.p, nil)
	var tmp mat.Dense
	tmp.Mul(a, &hinv)
	var full mat.Dense
	full.Mul(&tmp, a.T())
	for i := 0; i <= d.p; i++ {
		for j := i; j <= d.p; j++ {
			cov.SetSym(i, j, (full.At(i, j)+full.At(j, i))/2)
		}
	}
	l.intercept, l.coef = d.toOriginal(s.theta)
	l.cov = cov
	l.iters = iter
	return nil
}

// PredictProba returns P(y = 1 | x) = σ(intercept + xᵢᵀcoef) for every row
// of x, clipped to [ProbClip, 1−ProbClip]; a row with a NaN feature gets
// NaN. It panics when l is unfitted or x has a different number of columns
// than the training data.
func (l *Logistic) PredictProba(x causal.Matrix) []float64 {
	out := linearPredict("logistic", x, l.intercept, l.coef)
	for i, eta := range out {
		if math.IsNaN(eta) {
			continue
		}
		out[i] = min(max(sigmoid(eta), ProbClip), 1-ProbClip)
	}
	return out
}

// Coef returns a copy of the fitted coefficients on the original feature
// scale, one per column; nil before Fit.
func (l *Logistic) Coef() []float64 { return cloneFloats(l.coef) }

// Intercept returns the fitted intercept on the original feature scale.
func (l *Logistic) Intercept() float64 { return l.intercept }

// Iterations returns the number of Newton steps the last Fit took.
func (l *Logistic) Iterations() int { return l.iters }

// Covariance returns a copy of the inverse penalized Hessian at the
// optimum on the original feature scale, ordered intercept first and then
// one row per column: the usual (penalized) Wald covariance of
// (intercept, coef). Rows and columns of constant features are zero. It
// returns nil before Fit. For Lambda > 0 the intervals it implies are
// those of the posterior mode under a Gaussian prior and are slightly
// narrower than sandwich intervals.
func (l *Logistic) Covariance() *mat.SymDense {
	if l.cov == nil {
		return nil
	}
	return mat.NewSymDense(l.cov.SymmetricDim(), append([]float64(nil), l.cov.RawSymmetric().Data...))
}

// logisticJSON is Logistic's JSON form.
type logisticJSON struct {
	Lambda     float64     `json:"lambda"`
	MaxIter    int         `json:"max_iter,omitempty"`
	Tol        float64     `json:"tol,omitempty"`
	Intercept  float64     `json:"intercept"`
	Coef       []float64   `json:"coef"`
	Covariance [][]float64 `json:"covariance,omitempty"`
}

// MarshalJSON encodes the settings, the fitted coefficients and the
// covariance (as a square array of rows, intercept first).
func (l Logistic) MarshalJSON() ([]byte, error) {
	v := logisticJSON{Lambda: l.Lambda, MaxIter: l.MaxIter, Tol: l.Tol, Intercept: l.intercept, Coef: l.coef}
	if l.cov != nil {
		n := l.cov.SymmetricDim()
		v.Covariance = make([][]float64, n)
		for i := range n {
			v.Covariance[i] = make([]float64, n)
			for j := range n {
				v.Covariance[i][j] = l.cov.At(i, j)
			}
		}
	}
	return json.Marshal(v)
}

// UnmarshalJSON decodes the form written by MarshalJSON.
func (l *Logistic) UnmarshalJSON(b []byte) error {
	var v logisticJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("cannot decode logistic: %w", err)
	}
	var cov *mat.SymDense
	if n := len(v.Covariance); n > 0 {
		if n != len(v.Coef)+1 {
			return fmt.Errorf("cannot decode logistic: covariance has %d rows, want %d", n, len(v.Coef)+1)
		}
		cov = mat.NewSymDense(n, nil)
		for i := range n {
			if len(v.Covariance[i]) != n {
				return fmt.Errorf("cannot decode logistic: covariance row %d has %d values, want %d", i, len(v.Covariance[i]), n)
			}
			for j := i; j < n; j++ {
				cov.SetSym(i, j, v.Covariance[i][j])
			}
		}
	}
	l.Lambda, l.MaxIter, l.Tol = v.Lambda, v.MaxIter, v.Tol
	l.intercept, l.coef, l.cov = v.Intercept, v.Coef, cov
	return nil
}

// sigmoid is the logistic function 1/(1+e^−x), computed without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus is log(1+e^x), computed without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// newton holds the state of one logistic fit on the standardized scale.
type newton struct {
	d      *design
	y      []float64
	lambda float64
	theta  []float64
	trial  []float64
	grad   []float64
	zv     *mat.Dense // rows of Z scaled by √(w p (1−p))
	hess   mat.SymDense
	chol   mat.Cholesky
}

func newNewton(d *design, y []float64, lambda float64) *newton {
	q := d.stride
	return &newton{
		d: d, y: y, lambda: lambda,
		theta: make([]float64, q), trial: make([]float64, q), grad: make([]float64, q),
		zv: mat.NewDense(d.n, q, nil),
	}
}

// objective is Σ w (softplus(η) − yη) + (λ/2)‖β‖² at theta.
func (s *newton) objective(theta []float64) float64 {
	f := 0.0
	for i := range s.d.n {
		eta := dot(s.d.row(i), theta)
		f += s.d.w[i] * (softplus(eta) - s.y[i]*eta)
	}
	for k := 1; k < len(theta); k++ {
		f += s.lambda / 2 * theta[k] * theta[k]
	}
	return f
}

// factorize computes the gradient and the Cholesky factor of the penalized
// Hessian at s.theta.
func (s *newton) factorize() error {
	q := s.d.stride
	clear(s.grad)
	for i := range s.d.n {
		z := s.d.row(i)
		p := sigmoid(dot(z, s.theta))
		r := s.d.w[i] * (p - s.y[i])
		sv := math.Sqrt(s.d.w[i] * p * (1 - p))
		dst := s.zv.RawRowView(i)
		for k, v := range z {
			s.grad[k] += r * v
			dst[k] = sv * v
		}
	}
	for k := 1; k < q; k++ {
		s.grad[k] += s.lambda * s.theta[k]
	}
	s.hess.Reset()
	s.hess.SymOuterK(1, s.zv.T())
	for k := 1; k < q; k++ {
		s.hess.SetSym(k, k, s.hess.At(k, k)+s.lambda)
	}
	if ok := s.chol.Factorize(&s.hess); !ok {
		return fmt.Errorf("cannot fit logistic: Hessian is not positive definite (Lambda = %v; separable or collinear data needs Lambda > 0)", s.lambda)
	}
	return nil
}

// step returns the Newton direction δ = H⁻¹g; the update is θ − tδ.
func (s *newton) step() []float64 {
	var v mat.VecDense
	// After a successful factorization the only possible error is
	// mat.Condition, a warning of near-singularity: the solution is still
	// computed, and the line search guards the step.
	_ = s.chol.SolveVecTo(&v, mat.NewVecDense(len(s.grad), s.grad))
	return append([]float64(nil), v.RawVector().Data...)
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}
