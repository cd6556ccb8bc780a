package mcmc

import "math"

// GradientError compares the analytic gradient of m at q with central
// finite differences and returns the largest scaled error over the
// coordinates,
//
//	max_i |g_i − ĝ_i| / max(1, |ĝ_i|),   ĝ_i = (log π(q + h_i e_i) − log π(q − h_i e_i)) / (2h_i),
//
// with h_i = h·max(1, |q_i|); h ≤ 0 selects 1e-5. The error is relative
// for large gradients and absolute for small ones. It is +Inf when a
// log-density or gradient is not finite. q is not modified. Use it in tests
// of hand-derived gradients: a correct gradient gives about 1e-8 or less.
func GradientError(m Model, q []float64, h float64) float64 {
	if h <= 0 {
		h = 1e-5
	}
	d := m.Dim()
	grad := make([]float64, d)
	scratch := make([]float64, d)
	x := append([]float64(nil), q...)
	if lp := m.LogDensityGrad(x, grad); !finite(lp) || !allFinite(grad) {
		return math.Inf(1)
	}
	worst := 0.0
	for i := range d {
		hi := h * max(1, math.Abs(q[i]))
		x[i] = q[i] + hi
		up := m.LogDensityGrad(x, scratch)
		x[i] = q[i] - hi
		down := m.LogDensityGrad(x, scratch)
		x[i] = q[i]
		fd := (up - down) / (2 * hi)
		if !finite(fd) {
			return math.Inf(1)
		}
		worst = max(worst, math.Abs(grad[i]-fd)/max(1, math.Abs(fd)))
	}
	return worst
}
