package mcmc

import "math"

// Dual-averaging constants of Hoffman & Gelman (2014), section 3.2, with
// Stan's defaults.
const (
	daGamma = 0.05
	daT0    = 10
	daKappa = 0.75
)

// dualAveraging adapts the step size ε toward a target mean acceptance
// statistic δ with Nesterov's (2009) primal-dual averaging as adapted by
// Hoffman & Gelman (2014), equation (6):
//
//	H̄_t = (1 − 1/(t+t₀))·H̄_{t−1} + (δ − a_t)/(t+t₀)
//	log ε_t = μ − (√t/γ)·H̄_t
//	log ε̄_t = t^(−κ)·log ε_t + (1 − t^(−κ))·log ε̄_{t−1}
//
// with μ = log(10·ε₀) reset after each metric update.
type dualAveraging struct {
	delta float64 // target acceptance δ
	mu    float64 // shrinkage point μ
	t     float64 // iterations since the last restart
	hBar  float64 // H̄_t
	xBar  float64 // log ε̄_t
}

// restart forgets the adaptation history and shrinks toward log(10·eps).
func (d *dualAveraging) restart(eps float64) {
	d.mu = math.Log(10 * eps)
	d.t, d.hBar, d.xBar = 0, 0, 0
}

// learn folds in the acceptance statistic of one transition and returns the
// step size to use for the next one.
func (d *dualAveraging) learn(accept float64) float64 {
	if math.IsNaN(accept) {
		accept = 0
	}
	accept = min(accept, 1)
	d.t++
	eta := 1 / (d.t + daT0)
	d.hBar = (1-eta)*d.hBar + eta*(d.delta-accept)
	x := d.mu - d.hBar*math.Sqrt(d.t)/daGamma
	w := math.Pow(d.t, -daKappa)
	d.xBar = (1-w)*d.xBar + w*x
	return math.Exp(x)
}

// final returns the averaged step size ε̄ used after warm-up.
func (d *dualAveraging) final() float64 { return math.Exp(d.xBar) }

// Stan's default warm-up buffers, in iterations.
const (
	initBuffer = 75
	termBuffer = 50
	baseWindow = 25
)

// windows schedules Stan's windowed metric adaptation: an initial fast
// buffer (step size only), slow windows of doubling length in which the
// variance of the draws is accumulated, and a terminal fast buffer. The last
// slow window is stretched to end where the terminal buffer begins. When the
// default buffers do not fit in the warm-up, they shrink to 15% / 75% / 10%
// of it; below 20 warm-up iterations the metric is not adapted.
type windows struct {
	warmup, init, term int
	size, next, count  int
	off                bool
}

func newWindows(warmup int) windows {
	w := windows{warmup: warmup, init: initBuffer, term: termBuffer, size: baseWindow}
	switch {
	case warmup < 20:
		w.off = true
	case initBuffer+baseWindow+termBuffer > warmup:
		w.init = int(0.15 * float64(warmup))
		w.term = int(0.1 * float64(warmup))
		w.size = warmup - (w.init + w.term)
	}
	w.next = w.init + w.size - 1
	return w
}

// inSlow reports whether the current iteration's draw feeds the variance.
func (w *windows) inSlow() bool {
	return !w.off && w.count >= w.init && w.count < w.warmup-w.term
}

// atEnd reports whether the current iteration closes a slow window.
func (w *windows) atEnd() bool { return !w.off && w.count == w.next && w.count != w.warmup }

// advance moves the schedule past a closed slow window.
func (w *windows) advance() {
	last := w.warmup - w.term - 1
	if w.next == last {
		return
	}
	w.size *= 2
	w.next = w.count + w.size
	if w.next != last && w.next+2*w.size >= w.warmup-w.term {
		w.next = last
	}
}

// welford accumulates a running mean and sum of squared deviations per
// coordinate (Welford 1962).
type welford struct {
	n    int
	mean []float64
	m2   []float64
}

func newWelford(d int) welford { return welford{mean: make([]float64, d), m2: make([]float64, d)} }

func (w *welford) add(x []float64) {
	w.n++
	for i, xi := range x {
		delta := xi - w.mean[i]
		w.mean[i] += delta / float64(w.n)
		w.m2[i] += delta * (xi - w.mean[i])
	}
}

func (w *welford) reset() {
	w.n = 0
	clear(w.mean)
	clear(w.m2)
}

// regularizedVariance writes Stan's regularized variance estimate into dst:
//
//	(n/(n+5))·s² + 10⁻³·(5/(n+5))
//
// where s² is the sample variance (denominator n−1) of the window's n draws.
// It shrinks toward a small constant so that short windows cannot produce a
// degenerate metric.
func (w *welford) regularizedVariance(dst []float64) {
	n := float64(w.n)
	for i := range dst {
		s2 := 0.0
		if w.n > 1 {
			s2 = w.m2[i] / (n - 1)
		}
		dst[i] = (n/(n+5))*s2 + 1e-3*(5/(n+5))
	}
}

// metricAdapter couples the window schedule with the variance estimate.
type metricAdapter struct {
	win windows
	est welford
}

// learn feeds the position q of the current warm-up iteration. At the end
// of a slow window it overwrites invMetric with the regularized variance and
// reports true.
func (m *metricAdapter) learn(invMetric, q []float64) bool {
	if m.win.inSlow() {
		m.est.add(q)
	}
	if m.win.atEnd() {
		m.win.advance()
		m.est.regularizedVariance(invMetric)
		m.est.reset()
		m.win.count++
		return true
	}
	m.win.count++
	return false
}
