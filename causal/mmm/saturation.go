package mmm

import (
	"fmt"
	"math"
)

// SaturationKind selects the shape (diminishing-returns) curve of a channel.
type SaturationKind int

const (
	// Hill is the Hill curve x^S / (x^S + K^S), with half-saturation point
	// K > 0 and slope S > 0 (Jin et al. 2017, eq. 5; PyMC-Marketing
	// HillSaturation; Meridian). S > 1 makes it S-shaped.
	Hill SaturationKind = iota
	// Logistic is PyMC-Marketing's logistic saturation
	// (1 − e^{−λx}) / (1 + e^{−λx}) = tanh(λx/2), λ > 0; concave for x ≥ 0.
	Logistic
)

// String returns the curve's name.
func (k SaturationKind) String() string {
	switch k {
	case Hill:
		return "hill"
	case Logistic:
		return "logistic"
	default:
		return fmt.Sprintf("SaturationKind(%d)", int(k))
	}
}

// numParams returns how many parameters the curve has.
func (k SaturationKind) numParams() int {
	if k == Hill {
		return 2
	}
	return 1
}

// HillSaturation returns x^S / (x^S + K^S) for x ≥ 0, K > 0, S > 0, computed
// as the logistic function of S·(ln x − ln K) so that it neither overflows
// nor loses precision. HillSaturation(0, K, S) = 0 and
// HillSaturation(K, K, S) = ½.
//
// Example: K = 1, S = 2 at x = [0, 0.5, 1, 2, 4] gives
// [0, 0.2, 0.5, 0.8, 0.941176].
func HillSaturation(x, K, S float64) float64 {
	if x <= 0 {
		return 0
	}
	return 1 / (1 + math.Exp(-S*(math.Log(x)-math.Log(K))))
}

// LogisticSaturation returns (1 − e^{−λx}) / (1 + e^{−λx}) = tanh(λx/2),
// PyMC-Marketing's logistic_saturation without its β. It is 0 at x = 0 and
// tends to 1 as λx → ∞.
//
// Example: λ = 1 at x = [0, 0.5, 1, 2, 4] gives
// [0, 0.244919, 0.462117, 0.761594, 0.964028].
func LogisticSaturation(x, lambda float64) float64 {
	return math.Tanh(lambda * x / 2)
}

// saturate evaluates the curve at a ≥ 0 with constrained parameters theta
// (K, S for Hill; λ for Logistic). It returns s = Sat(a), ds/da, and in
// dtheta the derivatives with respect to the log of each parameter
// (log K, log S, or log λ). At a = 0 every derivative is reported as 0:
// a = 0 only when the channel spent nothing over the whole kernel window,
// and then ∂a/∂(anything) = 0 as well, so the chain rule never needs it.
func saturate(kind SaturationKind, a float64, theta, dtheta []float64) (s, dsda float64) {
	switch kind {
	case Hill:
		if a <= 0 {
			dtheta[0], dtheta[1] = 0, 0
			return 0, 0
		}
		K, S := theta[0], theta[1]
		d := math.Log(a) - math.Log(K)
		h := 1 / (1 + math.Exp(-S*d))
		hh := h * (1 - h) // dh / d(S·d)
		dtheta[0] = -S * hh
		dtheta[1] = S * d * hh
		return h, hh * S / a
	case Logistic:
		lam := theta[0]
		s := math.Tanh(lam * a / 2)
		g := (1 - s*s) / 2
		dtheta[0] = lam * a * g
		return s, lam * g
	default:
		panic(fmt.Sprintf("mmm: unknown saturation kind %d", int(kind)))
	}
}

// satValue evaluates the curve only.
func satValue(kind SaturationKind, a float64, theta []float64) float64 {
	if kind == Hill {
		return HillSaturation(a, theta[0], theta[1])
	}
	return LogisticSaturation(a, theta[0])
}
