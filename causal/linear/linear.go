// Package linear holds L2-regularized (ridge) linear regression and
// L2-regularized logistic regression on gonum, as base learners for the
// meta-learners in package causal and as the GLM behind causal/hazard.
//
// Both models fit an unpenalized intercept and standardize every feature
// internally to weighted mean 0 and weighted standard deviation 1, so that
// Lambda penalizes a one-standard-deviation change equally whatever the
// units of a feature. Coefficients are reported on the original scale.
// Sample weights act like frequency weights: a weight of 2 gives the same
// fit as the row appearing twice. A feature that is constant (zero weighted
// variance) gets coefficient 0.
//
// The objectives, with z the standardized features and β their
// coefficients (see Hastie, Tibshirani & Friedman, The Elements of
// Statistical Learning, 2nd ed., §3.4.1 and §4.4.4):
//
//	Ridge:    Σ_i w_i (y_i − b − z_iᵀβ)²            + Lambda·‖β‖²
//	Logistic: −Σ_i w_i [y_i log p_i + (1−y_i) log(1−p_i)] + (Lambda/2)·‖β‖²,  p_i = σ(b + z_iᵀβ)
//
// so that in both cases the penalty adds Lambda to the diagonal of the
// (Gauss–Newton) Hessian. Ridge's Lambda is scikit-learn's Ridge alpha and
// Logistic's Lambda is 1/C of scikit-learn's LogisticRegression, for unit
// weights and standardized features.
package linear

import (
	"fmt"
	"math"

	"github.com/preflight-hq/preflight/causal"
)

// design is a validated, standardized copy of a feature matrix: the columns
// with nonzero weighted variance, centered and scaled, with a leading
// column of ones for the intercept.
type design struct {
	n, p   int       // rows and original columns
	keep   []int     // original column index of each kept (non-constant) column
	mean   []float64 // weighted mean per original column
	scale  []float64 // weighted standard deviation per original column (0 when constant)
	z      []float64 // n × (1+len(keep)) row-major: 1, standardized kept columns
	w      []float64 // weights (all 1 when none were given)
	sumW   float64
	stride int
}

// newDesign validates x, y and w and standardizes x. what names the model
// for error text. y is checked to be finite; the caller checks its range.
func newDesign(what string, x causal.Matrix, y, w []float64) (*design, error) {
	if x.Rows <= 0 {
		return nil, fmt.Errorf("cannot fit %s: no rows", what)
	}
	if x.Cols < 0 || len(x.Data) != x.Rows*x.Cols {
		return nil, fmt.Errorf("cannot fit %s: matrix has %d values, want Rows·Cols = %d·%d", what, len(x.Data), x.Rows, x.Cols)
	}
	if len(y) != x.Rows {
		return nil, fmt.Errorf("cannot fit %s: %d targets for %d rows", what, len(y), x.Rows)
	}
	if w != nil && len(w) != x.Rows {
		return nil, fmt.Errorf("cannot fit %s: %d weights for %d rows", what, len(w), x.Rows)
	}
	d := &design{n: x.Rows, p: x.Cols, mean: make([]float64, x.Cols), scale: make([]float64, x.Cols), w: make([]float64, x.Rows)}
	for i := range x.Rows {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		if math.IsNaN(wi) || math.IsInf(wi, 0) || wi < 0 {
			return nil, fmt.Errorf("cannot fit %s: weight of row %d is %v, want finite and >= 0", what, i, wi)
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("cannot fit %s: target of row %d is %v", what, i, y[i])
		}
		d.w[i] = wi
		d.sumW += wi
		for j, v := range x.Row(i) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("cannot fit %s: feature at row %d, column %d is %v", what, i, j, v)
			}
			d.mean[j] += wi * v
		}
	}
	if !(d.sumW > 0) {
		return nil, fmt.Errorf("cannot fit %s: weights sum to %v, want > 0", what, d.sumW)
	}
	for j := range d.mean {
		d.mean[j] /= d.sumW
	}
	vr := make([]float64, x.Cols)
	for i := range x.Rows {
		for j, v := range x.Row(i) {
			dv := v - d.mean[j]
			vr[j] += d.w[i] * dv * dv
		}
	}
	for j := range vr {
		s := math.Sqrt(vr[j] / d.sumW)
		// A column whose spread is lost in rounding is constant.
		if s > 1e-12*math.Max(1, math.Abs(d.mean[j])) {
			d.scale[j] = s
			d.keep = append(d.keep, j)
		}
	}
	d.stride = 1 + len(d.keep)
	d.z = make([]float64, d.n*d.stride)
	for i := range x.Rows {
		row := d.z[i*d.stride : (i+1)*d.stride]
		row[0] = 1
		for k, j := range d.keep {
			row[1+k] = (x.At(i, j) - d.mean[j]) / d.scale[j]
		}
	}
	return d, nil
}

// row returns the standardized design row i (leading 1 included).
func (d *design) row(i int) []float64 { return d.z[i*d.stride : (i+1)*d.stride] }

// toOriginal maps standardized parameters θ = (b, β_kept) to the intercept
// and per-column coefficients on the original scale:
// coef_j = β_j / s_j and intercept = b − Σ_j β_j m_j / s_j.
func (d *design) toOriginal(theta []float64) (intercept float64, coef []float64) {
	coef = make([]float64, d.p)
	intercept = theta[0]
	for k, j := range d.keep {
		coef[j] = theta[1+k] / d.scale[j]
		intercept -= coef[j] * d.mean[j]
	}
	return intercept, coef
}

// jacobian returns the (1+p) × (1+len(keep)) matrix A, row-major, with
// (intercept, coef) = A·θ, used to carry a covariance to the original scale.
func (d *design) jacobian() []float64 {
	q := d.stride
	a := make([]float64, (1+d.p)*q)
	a[0] = 1
	for k, j := range d.keep {
		a[1+k] = -d.mean[j] / d.scale[j]
		a[(1+j)*q+1+k] = 1 / d.scale[j]
	}
	return a
}

// linearPredict returns intercept + xᵀcoef per row of x. It panics when x
// has the wrong number of columns or the model is unfitted, both programmer
// errors.
func linearPredict(what string, x causal.Matrix, intercept float64, coef []float64) []float64 {
	if coef == nil {
		panic(fmt.Sprintf("linear: %s used before Fit", what))
	}
	if x.Cols != len(coef) {
		panic(fmt.Sprintf("linear: %s fitted on %d columns, got %d", what, len(coef), x.Cols))
	}
	out := make([]float64, x.Rows)
	for i := range out {
		s := intercept
		for j, v := range x.Row(i) {
			s += coef[j] * v
		}
		out[i] = s
	}
	return out
}
