package linear

import (
	"encoding/json"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/preflight-hq/preflight/causal"
)

// Ridge is L2-regularized least squares with an unpenalized intercept. It
// minimizes Σ_i w_i (y_i − b − z_iᵀβ)² + Lambda·‖β‖² over standardized
// features z (see the package comment) and solves the normal equations
// (ZᵀWZ + Lambda·I₀)θ = ZᵀWy by Cholesky factorization, where I₀ is the
// identity with a zero in the intercept's place (Hoerl & Kennard 1970;
// Hastie et al., ESL §3.4.1). Ridge implements causal.Regressor; a fitted
// Ridge is safe for concurrent Predict calls. It marshals to JSON with its
// fitted coefficients, so a snapshot can carry it.
type Ridge struct {
	// Lambda is the penalty on the standardized coefficients, >= 0. With
	// Lambda = 0 the fit is ordinary (weighted) least squares and fails
	// when the features are collinear.
	Lambda float64

	intercept float64
	coef      []float64
}

var _ causal.Regressor = (*Ridge)(nil)

// NewRidge returns an unfitted Ridge with penalty lambda.
func NewRidge(lambda float64) *Ridge { return &Ridge{Lambda: lambda} }

// RidgeFactory returns a causal.NewRegressor that makes fresh Ridge models
// with penalty lambda. Ridge has no randomness, so the seed is unused.
func RidgeFactory(lambda float64) causal.NewRegressor {
	return func(uint64) causal.Regressor { return NewRidge(lambda) }
}

// Fit trains the model on x and y with optional non-negative weights w
// (nil means all 1). It returns an error, and leaves r unchanged, when the
// inputs have mismatched lengths, a feature, target or weight is NaN or
// infinite (naming the row and column), the weights sum to zero, Lambda is
// negative, or the system is singular (Lambda = 0 with collinear features).
func (r *Ridge) Fit(x causal.Matrix, y, w []float64) error {
	if !(r.Lambda >= 0) || math.IsInf(r.Lambda, 0) {
		return fmt.Errorf("cannot fit ridge: Lambda is %v, want finite and >= 0", r.Lambda)
	}
	d, err := newDesign("ridge", x, y, w)
	if err != nil {
		return err
	}
	q := d.stride
	zw := mat.NewDense(d.n, q, nil)
	wy := make([]float64, d.n)
	for i := range d.n {
		sw := math.Sqrt(d.w[i])
		for k, v := range d.row(i) {
			zw.Set(i, k, sw*v)
		}
		wy[i] = sw * y[i]
	}
	var a mat.SymDense
	a.SymOuterK(1, zw.T())
	for k := 1; k < q; k++ {
		a.SetSym(k, k, a.At(k, k)+r.Lambda)
	}
	var b mat.VecDense
	b.MulVec(zw.T(), mat.NewVecDense(d.n, wy))
	var ch mat.Cholesky
	if ok := ch.Factorize(&a); !ok {
		return fmt.Errorf("cannot fit ridge: normal equations are not positive definite (collinear features with Lambda = %v)", r.Lambda)
	}
	var theta mat.VecDense
	// After a successful factorization the only possible error is
	// mat.Condition, a warning of near-singularity; the solution is still
	// computed.
	_ = ch.SolveVecTo(&theta, &b)
	r.intercept, r.coef = d.toOriginal(theta.RawVector().Data)
	return nil
}

// Predict returns intercept + xᵢᵀcoef for every row of x; a row with a NaN
// feature predicts NaN. It panics when r is unfitted or x has a different
// number of columns than the training data.
func (r *Ridge) Predict(x causal.Matrix) []float64 {
	return linearPredict("ridge", x, r.intercept, r.coef)
}

// Coef returns a copy of the fitted coefficients on the original feature
// scale, one per column; nil before Fit.
func (r *Ridge) Coef() []float64 { return cloneFloats(r.coef) }

// Intercept returns the fitted intercept on the original feature scale.
func (r *Ridge) Intercept() float64 { return r.intercept }

// ridgeJSON is Ridge's JSON form.
type ridgeJSON struct {
	Lambda    float64   `json:"lambda"`
	Intercept float64   `json:"intercept"`
	Coef      []float64 `json:"coef"`
}

// MarshalJSON encodes the penalty and the fitted coefficients as
// {"lambda", "intercept", "coef"}.
func (r Ridge) MarshalJSON() ([]byte, error) {
	return json.Marshal(ridgeJSON{Lambda: r.Lambda, Intercept: r.intercept, Coef: r.coef})
}

// UnmarshalJSON decodes the form written by MarshalJSON.
func (r *Ridge) UnmarshalJSON(b []byte) error {
	var v ridgeJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("cannot decode ridge: %w", err)
	}
	r.Lambda, r.intercept, r.coef = v.Lambda, v.Intercept, v.Coef
	return nil
}

func cloneFloats(s []float64) []float64 {
	if s == nil {
		return nil
	}
	return append([]float64(nil), s...)
}
