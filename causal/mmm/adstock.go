package mmm

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
)

// AdstockKind selects the carryover kernel of a channel.
type AdstockKind int

const (
	// Geometric is the normalized geometric kernel w_l ∝ α^l for lags
	// l = 0..L−1, α ∈ (0, 1) (Jin et al. 2017, eq. 1 with θ = 0;
	// PyMC-Marketing GeometricAdstock with normalize=True; Meridian).
	Geometric AdstockKind = iota
	// WeibullCDF is PyMC-Marketing's Weibull CDF kernel, normalized:
	// v_0 = 1, v_l = Π_{j=1}^{l} (1 − F(j; k, λ)) for l = 1..L (L+1
	// weights), w_l = v_l / Σ v, where F is the Weibull CDF with shape k
	// and scale λ. It decays monotonically, like Geometric, but its shape
	// parameter lets the decay speed up (k > 1) or slow down (k < 1) with
	// the lag. We use the CDF form rather than the PDF form because the PDF
	// form is min–max scaled, which is not differentiable where the argmax
	// lag changes and so breaks the analytic gradient NUTS needs.
	WeibullCDF
)

// String returns the kernel's name.
func (k AdstockKind) String() string {
	switch k {
	case Geometric:
		return "geometric"
	case WeibullCDF:
		return "weibull_cdf"
	default:
		return fmt.Sprintf("AdstockKind(%d)", int(k))
	}
}

// numParams returns how many parameters the kernel has.
func (k AdstockKind) numParams() int {
	if k == WeibullCDF {
		return 2
	}
	return 1
}

// numWeights returns the number of kernel weights for a maximum lag
// maxLag, following PyMC-Marketing's l_max: maxLag weights for Geometric
// (lags 0..maxLag−1) and maxLag+1 for WeibullCDF (lags 0..maxLag).
func (k AdstockKind) numWeights(maxLag int) int {
	if k == WeibullCDF {
		return maxLag + 1
	}
	return maxLag
}

// GeometricWeights returns the L geometric carryover weights
// w_l = α^l, l = 0..L−1, divided by Σ_l α^l when normalize is true
// (Jin et al. 2017, eq. 1; PyMC-Marketing geometric_adstock). α = 0 puts
// all weight on lag 0. It panics if L < 1 or α is outside [0, 1).
//
// Example: α = 0.5, L = 4 gives [1, 0.5, 0.25, 0.125] raw and
// [0.533333, 0.266667, 0.133333, 0.066667] normalized.
func GeometricWeights(alpha float64, L int, normalize bool) []float64 {
	if L < 1 || !(alpha >= 0 && alpha < 1) {
		panic(fmt.Sprintf("mmm: GeometricWeights(α=%v, L=%d): need 0 ≤ α < 1 and L ≥ 1", alpha, L))
	}
	w := make([]float64, L)
	p := 1.0
	for l := range w {
		w[l] = p
		p *= alpha
	}
	if normalize {
		normalizeSum(w)
	}
	return w
}

// WeibullCDFWeights returns PyMC-Marketing's Weibull CDF carryover weights
// for maximum lag L (L+1 weights):
//
//	w_0 = 1,  w_l = Π_{j=1}^{l} (1 − F(j; k, λ)) = exp(−Σ_{j=1}^{l} (j/λ)^k),
//
// with F the Weibull CDF of shape k > 0 and scale λ > 0, divided by their
// sum when normalize is true. It panics if L < 0 or k, λ are not positive.
//
// Example: λ = 2, k = 1.5, L = 6 gives [1, 0.702189, 0.258321, 0.041144,
// 0.002432, 0.000047, 0.000000] raw.
func WeibullCDFWeights(k, lambda float64, L int, normalize bool) []float64 {
	if L < 0 || !(k > 0) || !(lambda > 0) {
		panic(fmt.Sprintf("mmm: WeibullCDFWeights(k=%v, λ=%v, L=%d): need k, λ > 0 and L ≥ 0", k, lambda, L))
	}
	w := make([]float64, L+1)
	s := 0.0
	for l := range w {
		if l > 0 {
			s += math.Pow(float64(l)/lambda, k)
		}
		w[l] = math.Exp(-s)
	}
	if normalize {
		normalizeSum(w)
	}
	return w
}

// Convolve writes the trailing ("After") carryover a_t = Σ_l w_l·x_{t−l}
// into out, treating x_t as 0 before the first period. out must have the
// length of x and must not alias it. Cost O(len(x)·len(w)).
func Convolve(x, w, out []float64) {
	if len(out) != len(x) {
		panic("mmm: Convolve: len(out) != len(x)")
	}
	for t := range x {
		s := 0.0
		lmax := min(len(w)-1, t)
		for l := 0; l <= lmax; l++ {
			s += w[l] * x[t-l]
		}
		out[t] = s
	}
}

// convolveFast computes what Convolve does, lag by lag rather than period
// by period: out = Σ_l w_l · (x shifted by l), one contiguous a·x + y
// (gonum's assembly AxpyUnitary) per lag instead of a short, bounds-checked
// inner loop per period. Sums are taken in a different order than
// Convolve's, so results agree to rounding.
func convolveFast(x, w, out []float64) {
	clear(out)
	T := len(x)
	for l, wl := range w {
		if l >= T {
			break
		}
		floats.AddScaled(out[l:], wl, x[:T-l])
	}
}

// normalizeSum divides w by its sum.
func normalizeSum(w []float64) {
	s := 0.0
	for _, v := range w {
		s += v
	}
	for i := range w {
		w[i] /= s
	}
}

// adstockKernel computes the normalized weights w of a kernel and the
// derivatives of log v_l (the unnormalized log-weights) with respect to the
// kernel's unconstrained parameters u (logit α for Geometric; log k, log λ
// for WeibullCDF): glog[p][l] = ∂ log v_l / ∂u_p. The derivative of the
// normalized weight is then ∂w_l/∂u_p = w_l·(glog[p][l] − Σ_j w_j glog[p][j]).
// theta holds the constrained parameters (α, or k and λ).
func adstockKernel(kind AdstockKind, theta []float64, w []float64, glog [][]float64) {
	switch kind {
	case Geometric:
		// v_l = α^l by repeated multiplication (no Log or Exp per lag);
		// v_0 = 1 is the largest weight, so the sum cannot overflow.
		alpha := theta[0]
		v, tot := 1.0, 0.0
		for l := range w {
			w[l] = v
			tot += v
			v *= alpha
			glog[0][l] = float64(l) * (1 - alpha) // ∂(l ln α)/∂ logit α
		}
		for l := range w {
			w[l] /= tot
		}
		return
	case WeibullCDF:
		k, lam := theta[0], theta[1]
		s, dk, dl := 0.0, 0.0, 0.0
		for l := range w {
			if l > 0 {
				r := float64(l) / lam
				lr := math.Log(r)
				p := math.Exp(k * lr) // (l/λ)^k
				s += p
				dk += k * lr * p // ∂/∂log k of (l/λ)^k
				dl += -k * p     // ∂/∂log λ of (l/λ)^k
			}
			w[l] = -s
			glog[0][l] = -dk
			glog[1][l] = -dl
		}
	default:
		panic(fmt.Sprintf("mmm: unknown adstock kind %d", int(kind)))
	}
	// Normalize through a log-sum-exp.
	mx := math.Inf(-1)
	for _, v := range w {
		mx = max(mx, v)
	}
	s := 0.0
	for l, v := range w {
		w[l] = math.Exp(v - mx)
		s += w[l]
	}
	for l := range w {
		w[l] /= s
	}
}
