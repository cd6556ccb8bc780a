package mmm

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
)

// Model is the MMM's log posterior density on the unconstrained parameter
// space, with its analytic gradient, for the NUTS sampler in causal/mcmc.
//
// Parameters, in the order of ParamNames (unconstrained → constrained):
// intercept b₀; trend b₁ (if Spec.Trend); Fourier coefficients a_1, c_1,
// …, a_K, c_K (sin, cos pairs); control coefficients γ_c; per channel
// v_m = log β_m + log Sat_m(a_ref,m) (see below), the kernel's logit α
// (Geometric) or log k, log λ (WeibullCDF), and the curve's log K, log S
// (Hill) or log λ (Logistic); log σ last. The density includes the
// log-Jacobian of every transform (log θ for θ = e^u, log α + log(1−α) for
// α = logistic(u)) and is defined up to an additive constant.
//
// The channel coefficient is sampled as v_m, the log of the channel's
// effect at a typical spend level a_ref,m (the mean of its non-zero scaled
// spend), rather than as log β_m: when the data do not reach saturation,
// β_m and the half-saturation point trade off along a curved ridge
// (β·(a/K)^S stays fixed), which NUTS crosses with tiny steps, while the
// effect at typical spend is what the data pin down. The map
// (v, log θ) → (log β = v − log Sat(a_ref; θ), log θ) is a shear with unit
// Jacobian, so the priors keep their meaning on β.
//
// For the same reason the first coordinate is not b₀ but the mean level
// ℓ = b₀ + Σ_m κ_m e^{v_m}, with κ_m = mean_t(x_m)/a_ref,m, so that
// e^{v_m}κ_m approximates the channel's mean contribution: an always-on
// channel's contribution is nearly constant and trades off one for one
// with the intercept, a ridge that a diagonal mass matrix cannot follow.
// b₀ = ℓ − Σ_m κ_m e^{v_m} is again a shear with unit Jacobian. The trend
// regressor is centred, τ_t = t/(T−1) − ½, for the same reason: b₀ is
// the baseline at the middle of the series.
//
// A Model owns scratch buffers: it is not safe for concurrent use. Clone
// returns an independent copy for another goroutine.
type Model struct {
	spec   Spec
	priors Priors
	scale  Scaling
	T      int

	y    []float64   // scaled target
	x    [][]float64 // scaled spend [m][t]
	z    [][]float64 // scaled controls [c][t]
	tau  []float64   // trend regressor t/(T−1)
	four [][]float64 // Fourier regressors [2K][t]: sin_1, cos_1, …

	lifts []liftScaled

	// Layout of q.
	iTrend, iSeason, iControl, iSigma int
	iBeta, iAd, iSat                  []int
	dim                               int
	aRef                              []float64 // reference scaled spend per channel
	kappa                             []float64 // mean scaled spend / aRef per channel

	scr scratch
}

// liftScaled is a LiftTest on the model's scale.
type liftScaled struct {
	ch         int
	x0, x1     float64 // scaled spend before and during the test
	obs, se    float64 // scaled lift and its standard error
	s0, s1     float64 // scratch: saturation at x0, x1
	d0, d1     [2]float64
	pred, grad float64
}

// scratch holds per-evaluation buffers, allocated once by alloc so that
// LogDensityGrad does not allocate.
type scratch struct {
	mu, e []float64
	beta  []float64     // β per channel
	dlogh [][2]float64  // ∂ log Sat(a_ref)/∂ log θ per channel
	a, s  [][]float64   // adstocked spend, saturation, per channel
	ld    [][]float64   // Hill only: ln a_t − ln K per channel (0 where a_t = 0)
	rho   [][]float64   // ρ_t = g_t β Sat'(a_t) per channel (reverse sweep)
	w     [][]float64   // kernel weights per channel
	glog  [][][]float64 // ∂ log v_l / ∂u_p per channel, parameter, lag
	c     []float64     // Σ_t ρ_t x_{t−l} per lag
	theta [][]float64   // constrained kernel and curve parameters
	satTh [][]float64
}

// NewModel builds the model of data d under spec, calibrated with the
// given lift tests (may be nil). It scales the data (see Scaling) and
// allocates all scratch space.
func NewModel(d Data, spec Spec, lifts []LiftTest) (*Model, error) {
	if err := spec.validate(d); err != nil {
		return nil, fmt.Errorf("cannot build MMM: %w", err)
	}
	sc, err := NewScaling(d)
	if err != nil {
		return nil, fmt.Errorf("cannot build MMM: %w", err)
	}
	m := &Model{spec: spec, scale: sc, T: len(d.Y)}
	if spec.Priors != nil {
		m.priors = *spec.Priors
	} else {
		m.priors = DefaultPriors()
	}
	T := m.T
	m.y = make([]float64, T)
	for t, v := range d.Y {
		m.y[t] = v / sc.Y
	}
	for ch, xs := range d.Spend {
		row := make([]float64, T)
		for t, v := range xs {
			row[t] = v / sc.Spend[ch]
		}
		m.x = append(m.x, row)
	}
	for c, zs := range d.Controls {
		row := make([]float64, T)
		for t, v := range zs {
			row[t] = v / sc.Controls[c]
		}
		m.z = append(m.z, row)
	}
	m.tau = make([]float64, T)
	for t := range m.tau {
		m.tau[t] = float64(t)/float64(T-1) - 0.5
	}
	for k := 1; k <= spec.Harmonics; k++ {
		sn, cs := make([]float64, T), make([]float64, T)
		for t := range sn {
			arg := 2 * math.Pi * float64(k) * float64(t) / spec.Period
			sn[t], cs[t] = math.Sin(arg), math.Cos(arg)
		}
		m.four = append(m.four, sn, cs)
	}
	for i, lt := range lifts {
		if lt.Channel < 0 || lt.Channel >= len(spec.Channels) {
			return nil, fmt.Errorf("cannot build MMM: lift test %d: channel %d out of range", i, lt.Channel)
		}
		if !(lt.SE > 0) || !(lt.Spend >= 0) || !(lt.Spend+lt.DeltaSpend >= 0) || math.IsNaN(lt.DeltaY) {
			return nil, fmt.Errorf("cannot build MMM: lift test %d: need SE > 0, spend ≥ 0 before and during the test, finite DeltaY", i)
		}
		s := sc.Spend[lt.Channel]
		m.lifts = append(m.lifts, liftScaled{
			ch: lt.Channel, x0: lt.Spend / s, x1: (lt.Spend + lt.DeltaSpend) / s,
			obs: lt.DeltaY / sc.Y, se: lt.SE / sc.Y,
		})
	}
	for _, x := range m.x {
		n, tot := 0, 0.0
		for _, v := range x {
			if v > 0 {
				n++
				tot += v
			}
		}
		m.aRef = append(m.aRef, tot/float64(n))
		m.kappa = append(m.kappa, float64(n)/float64(len(x)))
	}
	m.layout()
	m.alloc()
	return m, nil
}

// layout assigns parameter indices.
func (m *Model) layout() {
	i := 1
	m.iTrend = -1
	if m.spec.Trend {
		m.iTrend = i
		i++
	}
	m.iSeason = i
	i += len(m.four)
	m.iControl = i
	i += len(m.z)
	M := len(m.spec.Channels)
	m.iBeta, m.iAd, m.iSat = make([]int, M), make([]int, M), make([]int, M)
	for ch, c := range m.spec.Channels {
		m.iBeta[ch] = i
		i++
		m.iAd[ch] = i
		i += c.Adstock.numParams()
		m.iSat[ch] = i
		i += c.Saturation.numParams()
	}
	m.iSigma = i
	m.dim = i + 1
}

// alloc allocates the scratch buffers.
func (m *Model) alloc() {
	T := m.T
	s := &m.scr
	s.mu, s.e = make([]float64, T), make([]float64, T)
	s.beta = make([]float64, len(m.spec.Channels))
	s.dlogh = make([][2]float64, len(m.spec.Channels))
	maxW := 0
	for _, c := range m.spec.Channels {
		nw := c.Adstock.numWeights(c.MaxLag)
		maxW = max(maxW, nw)
		s.a = append(s.a, make([]float64, T))
		s.s = append(s.s, make([]float64, T))
		s.ld = append(s.ld, make([]float64, T))
		s.rho = append(s.rho, make([]float64, T))
		s.w = append(s.w, make([]float64, nw))
		var g [][]float64
		for range c.Adstock.numParams() {
			g = append(g, make([]float64, nw))
		}
		s.glog = append(s.glog, g)
		s.theta = append(s.theta, make([]float64, c.Adstock.numParams()))
		s.satTh = append(s.satTh, make([]float64, c.Saturation.numParams()))
	}
	s.c = make([]float64, maxW)
}

// Dim returns the number of parameters.
func (m *Model) Dim() int { return m.dim }

// Scaling returns the scale factors the model divides the data by.
func (m *Model) Scaling() Scaling { return m.scale }

// Spec returns the model's structure.
func (m *Model) Spec() Spec { return m.spec }

// NumPeriods returns T.
func (m *Model) NumPeriods() int { return m.T }

// cloneModel returns a copy sharing the read-only data with fresh scratch.
func (m *Model) cloneModel() *Model {
	c := *m
	c.lifts = append([]liftScaled(nil), m.lifts...)
	c.scr = scratch{}
	c.alloc()
	return &c
}

// ParamNames returns the names of the parameters in the order of q, on
// their constrained scale (the order of Params.Flat).
func (m *Model) ParamNames() []string {
	names := []string{"intercept"}
	if m.spec.Trend {
		names = append(names, "trend")
	}
	for k := 1; k <= m.spec.Harmonics; k++ {
		names = append(names, fmt.Sprintf("season_sin%d", k), fmt.Sprintf("season_cos%d", k))
	}
	for c := range m.z {
		names = append(names, fmt.Sprintf("gamma[%d]", c))
	}
	for ch, c := range m.spec.Channels {
		n := c.Name
		if n == "" {
			n = fmt.Sprint(ch)
		}
		names = append(names, "beta["+n+"]")
		if c.Adstock == Geometric {
			names = append(names, "alpha["+n+"]")
		} else {
			names = append(names, "weibull_k["+n+"]", "weibull_lambda["+n+"]")
		}
		if c.Saturation == Hill {
			names = append(names, "hill_K["+n+"]", "hill_S["+n+"]")
		} else {
			names = append(names, "logistic_lambda["+n+"]")
		}
	}
	return append(names, "sigma")
}

// Params are the model parameters on their constrained scale, in the
// model's scaled units (see Scaling).
type Params struct {
	// Intercept is b₀, the baseline at mid-series.
	Intercept float64
	// Trend is b₁, the baseline change over the whole series; NaN when the
	// model has no trend.
	Trend float64
	// Season holds a_1, c_1, …, a_K, c_K.
	Season []float64
	// Controls holds γ_c.
	Controls []float64
	// Beta holds β_m ≥ 0.
	Beta []float64
	// Adstock holds per channel [α] (Geometric) or [k, λ] (WeibullCDF).
	Adstock [][]float64
	// Saturation holds per channel [K, S] (Hill) or [λ] (Logistic).
	Saturation [][]float64
	// Sigma is the noise standard deviation.
	Sigma float64
}

// Flat returns the parameters in the order of Model.ParamNames.
func (p Params) Flat() []float64 {
	f := []float64{p.Intercept}
	if p.hasTrend() {
		f = append(f, p.Trend)
	}
	f = append(f, p.Season...)
	f = append(f, p.Controls...)
	for ch := range p.Beta {
		f = append(f, p.Beta[ch])
		f = append(f, p.Adstock[ch]...)
		f = append(f, p.Saturation[ch]...)
	}
	return append(f, p.Sigma)
}

// hasTrend reports whether p has a trend (Constrain sets NaN otherwise).
func (p Params) hasTrend() bool { return !math.IsNaN(p.Trend) }

// Constrain maps an unconstrained vector q to Params. A model without a
// trend reports Trend = NaN (and Flat omits it).
func (m *Model) Constrain(q []float64) Params {
	p := Params{Intercept: m.intercept(q), Trend: math.NaN()}
	if m.iTrend >= 0 {
		p.Trend = q[m.iTrend]
	}
	p.Season = append([]float64(nil), q[m.iSeason:m.iSeason+len(m.four)]...)
	p.Controls = append([]float64(nil), q[m.iControl:m.iControl+len(m.z)]...)
	for ch, c := range m.spec.Channels {
		ad := make([]float64, c.Adstock.numParams())
		if c.Adstock == Geometric {
			ad[0] = logistic(q[m.iAd[ch]])
		} else {
			ad[0], ad[1] = math.Exp(q[m.iAd[ch]]), math.Exp(q[m.iAd[ch]+1])
		}
		p.Adstock = append(p.Adstock, ad)
		sat := make([]float64, c.Saturation.numParams())
		for i := range sat {
			sat[i] = math.Exp(q[m.iSat[ch]+i])
		}
		p.Saturation = append(p.Saturation, sat)
		var d [2]float64
		p.Beta = append(p.Beta, math.Exp(q[m.iBeta[ch]]-m.logRef(ch, sat, d[:])))
	}
	p.Sigma = math.Exp(q[m.iSigma])
	return p
}

// Unconstrain maps Params to the unconstrained vector q; it is the inverse
// of Constrain. It panics if p does not fit the model's layout.
func (m *Model) Unconstrain(p Params) []float64 {
	q := make([]float64, m.dim)
	if m.iTrend >= 0 {
		q[m.iTrend] = p.Trend
	}
	copy(q[m.iSeason:m.iSeason+len(m.four)], p.Season)
	copy(q[m.iControl:m.iControl+len(m.z)], p.Controls)
	for ch, c := range m.spec.Channels {
		var d [2]float64
		q[m.iBeta[ch]] = math.Log(p.Beta[ch]) + m.logRef(ch, p.Saturation[ch], d[:])
		if c.Adstock == Geometric {
			a := p.Adstock[ch][0]
			q[m.iAd[ch]] = math.Log(a) - math.Log1p(-a)
		} else {
			q[m.iAd[ch]], q[m.iAd[ch]+1] = math.Log(p.Adstock[ch][0]), math.Log(p.Adstock[ch][1])
		}
		for i, v := range p.Saturation[ch] {
			q[m.iSat[ch]+i] = math.Log(v)
		}
	}
	q[0] = p.Intercept
	for ch := range m.spec.Channels {
		q[0] += m.kappa[ch] * math.Exp(q[m.iBeta[ch]])
	}
	q[m.iSigma] = math.Log(p.Sigma)
	return q
}

// intercept returns b₀ = ℓ − Σ_m κ_m e^{v_m} from q.
func (m *Model) intercept(q []float64) float64 {
	b := q[0]
	for ch := range m.spec.Channels {
		b -= m.kappa[ch] * math.Exp(q[m.iBeta[ch]])
	}
	return b
}

// logRef returns log Sat_ch(a_ref) under curve parameters sat and writes
// its derivatives with respect to the log of each parameter into d.
func (m *Model) logRef(ch int, sat []float64, d []float64) float64 {
	h, _ := saturate(m.spec.Channels[ch].Saturation, m.aRef[ch], sat, d)
	for i := range m.spec.Channels[ch].Saturation.numParams() {
		d[i] /= h
	}
	return math.Log(h)
}

func logistic(u float64) float64 {
	if u >= 0 {
		return 1 / (1 + math.Exp(-u))
	}
	e := math.Exp(u)
	return e / (1 + e)
}

// normalLog returns the Normal(mean, sd) log-density (no constant) of
// u = log θ — a LogNormal prior on θ together with the Jacobian of
// θ = e^u — and its derivative.
func normalLog(u, mean, sd float64) (float64, float64) {
	d := (u - mean) / sd
	return -0.5 * d * d, -d / sd
}

// LogDensityGrad returns log π(q) (up to a constant) on the unconstrained
// space and writes its gradient into grad. It returns −Inf (grad then
// undefined) when q overflows the model's support.
//
// Gradient (chain rule, reverse sweep): with residual e_t = y_t − μ_t and
// g_t = e_t/σ², ∂/∂b₀ = Σ g_t, ∂/∂b₁ = Σ g_t τ_t, likewise for Fourier
// and control regressors; ∂/∂ log β_m = β_m Σ g_t s_{t,m};
// ∂/∂ log θ_sat = β_m Σ g_t ∂s_{t,m}/∂ log θ; for the kernel parameters u,
// with ρ_t = g_t β_m Sat'(a_t) and c_l = Σ_t ρ_t x_{t−l},
// ∂/∂u = Σ_l c_l ∂w_l/∂u, where ∂w_l/∂u = w_l (∂log v_l/∂u − Σ_j w_j
// ∂log v_j/∂u) for normalized weights w_l = v_l/Σ v; ∂/∂ log σ =
// −T + Σ e_t²/σ². Priors, Jacobians and lift tests add their own terms.
// These derivatives are in the natural coordinates (b₀, log β, log θ);
// the shears described on Model then map them to the sampled ones:
// ∂/∂ℓ = ∂/∂b₀, ∂/∂v_m = ∂/∂ log β_m − κ_m e^{v_m} ∂/∂b₀ and
// ∂/∂ log θ_sat gains −(∂/∂ log β_m)·∂ log Sat(a_ref)/∂ log θ_sat.
//
// Cost per call: the convolution and the correlations c_l, O(T·L_m) per
// channel, run lag by lag as contiguous a·x + y and dot products in
// gonum's assembly kernels; each channel and period then costs one Log and
// one Exp (Hill: h = 1/(1 + e^{−S(ln a − ln K)}), ln K taken straight from
// q and ln a − ln K kept for ∂/∂ log S) or one Tanh (Logistic), and a
// single fused reverse pass per channel forms ∂/∂ log β, the curve
// parameters' sums and ρ_t from the stored curve values. It allocates
// nothing.
func (m *Model) LogDensityGrad(q, grad []float64) float64 {
	if len(q) != m.dim || len(grad) != m.dim {
		panic(fmt.Sprintf("mmm: LogDensityGrad: len(q)=%d, len(grad)=%d, want %d", len(q), len(grad), m.dim))
	}
	clear(grad)
	pr := &m.priors
	s := &m.scr
	T := m.T
	lp := 0.0

	// Baseline and priors on the linear coefficients.
	b0 := m.intercept(q)
	v, g := normalLog(b0, pr.InterceptMean, pr.InterceptSD)
	lp += v
	grad[0] += g
	mu := s.mu
	for t := range mu {
		mu[t] = b0
	}
	if m.iTrend >= 0 {
		b := q[m.iTrend]
		v, g := normalLog(b, 0, pr.TrendSD)
		lp += v
		grad[m.iTrend] += g
		floats.AddScaled(mu, b, m.tau)
	}
	for j, f := range m.four {
		b := q[m.iSeason+j]
		v, g := normalLog(b, 0, pr.SeasonSD)
		lp += v
		grad[m.iSeason+j] += g
		floats.AddScaled(mu, b, f)
	}
	for j, z := range m.z {
		b := q[m.iControl+j]
		v, g := normalLog(b, 0, pr.ControlSD)
		lp += v
		grad[m.iControl+j] += g
		floats.AddScaled(mu, b, z)
	}

	// Media.
	for ch, c := range m.spec.Channels {
		th := s.theta[ch]
		ia := m.iAd[ch]
		if c.Adstock == Geometric {
			u := q[ia]
			a := logistic(u)
			// Beta(A, B) on α with the Jacobian α(1−α): A log α + B log(1−α).
			la, l1a := -softplus(-u), -softplus(u)
			lp += pr.AlphaA*la + pr.AlphaB*l1a
			grad[ia] += pr.AlphaA*(1-a) - pr.AlphaB*a
			th[0] = a
		} else {
			v1, g1 := normalLog(q[ia], pr.WeibullShapeLogMean, pr.WeibullShapeLogSD)
			v2, g2 := normalLog(q[ia+1], pr.WeibullScaleLogMean, pr.WeibullScaleLogSD)
			lp += v1 + v2
			grad[ia] += g1
			grad[ia+1] += g2
			th[0], th[1] = math.Exp(q[ia]), math.Exp(q[ia+1])
		}
		st := s.satTh[ch]
		is := m.iSat[ch]
		if c.Saturation == Hill {
			v1, g1 := normalLog(q[is], pr.HillKLogMean, pr.HillKLogSD)
			v2, g2 := normalLog(q[is+1], pr.HillSLogMean, pr.HillSLogSD)
			lp += v1 + v2
			grad[is] += g1
			grad[is+1] += g2
			st[0], st[1] = math.Exp(q[is]), math.Exp(q[is+1])
		} else {
			u := q[is]
			lam := math.Exp(u)
			// Gamma(A, B) on λ with the Jacobian of λ = e^u: A u − B λ.
			lp += pr.LogisticShape*u - pr.LogisticRate*lam
			grad[is] += pr.LogisticShape - pr.LogisticRate*lam
			st[0] = lam
		}
		// β from the sheared coordinate v = log β + log Sat(a_ref).
		ub := q[m.iBeta[ch]] - m.logRef(ch, st, s.dlogh[ch][:])
		beta := math.Exp(ub)
		s.beta[ch] = beta
		// HalfNormal(sd) on β with the Jacobian of β = e^u: −β²/(2sd²) + u.
		lp += -beta*beta/(2*pr.BetaSD*pr.BetaSD) + ub
		grad[m.iBeta[ch]] += -beta*beta/(pr.BetaSD*pr.BetaSD) + 1

		adstockKernel(c.Adstock, th, s.w[ch], s.glog[ch])
		a := s.a[ch]
		convolveFast(m.x[ch], s.w[ch], a)
		// The curve, with ln a_t − ln K kept for the reverse sweep (Hill) so
		// that each period costs one Log and one Exp (one Tanh for Logistic).
		// See saturate for the formulas and the a = 0 case.
		sv := s.s[ch]
		if c.Saturation == Hill {
			logK, S := q[is], st[1]
			ld := s.ld[ch]
			for t, at := range a {
				if at <= 0 {
					sv[t], ld[t] = 0, 0
					continue
				}
				d := math.Log(at) - logK
				h := 1 / (1 + math.Exp(-S*d))
				sv[t], ld[t] = h, d
			}
		} else {
			half := st[0] / 2
			for t, at := range a {
				sv[t] = math.Tanh(half * at)
			}
		}
		floats.AddScaled(mu, beta, sv)
	}

	// Likelihood.
	us := q[m.iSigma]
	sigma := math.Exp(us)
	lp += -sigma*sigma/(2*pr.SigmaSD*pr.SigmaSD) + us
	grad[m.iSigma] += -sigma*sigma/(pr.SigmaSD*pr.SigmaSD) + 1
	inv := 1 / (sigma * sigma)
	ss := 0.0
	e := s.e
	for t := range e {
		r := m.y[t] - mu[t]
		ss += r * r
		e[t] = r * inv // g_t
	}
	lp += -float64(T)*us - 0.5*ss*inv
	grad[m.iSigma] += -float64(T) + ss*inv

	// Lift tests.
	for i := range m.lifts {
		lt := &m.lifts[i]
		c := m.spec.Channels[lt.ch]
		st := s.satTh[lt.ch]
		beta := s.beta[lt.ch]
		s1, _ := saturate(c.Saturation, lt.x1, st, lt.d1[:])
		s0, _ := saturate(c.Saturation, lt.x0, st, lt.d0[:])
		pred := beta * (s1 - s0)
		r := (lt.obs - pred) / lt.se
		lp += -0.5 * r * r
		gp := r / lt.se // ∂/∂pred
		grad[m.iBeta[lt.ch]] += gp * pred
		for p := range c.Saturation.numParams() {
			grad[m.iSat[lt.ch]+p] += gp * beta * (lt.d1[p] - lt.d0[p])
		}
	}

	// Reverse sweep through the mean function.
	{
		sum := 0.0
		for _, v := range e {
			sum += v
		}
		grad[0] += sum
	}
	if m.iTrend >= 0 {
		grad[m.iTrend] += floats.Dot(e, m.tau)
	}
	for j, f := range m.four {
		grad[m.iSeason+j] += floats.Dot(e, f)
	}
	for j, z := range m.z {
		grad[m.iControl+j] += floats.Dot(e, z)
	}
	for ch, c := range m.spec.Channels {
		beta := s.beta[ch]
		a, sv, rho := s.a[ch], s.s[ch], s.rho[ch]
		e := e[:len(a)]
		sv = sv[:len(a)]
		rho = rho[:len(a)]
		// One pass per channel: ∂/∂ log β = β Σ g_t s_t, the curve
		// parameters' sums, and ρ_t = g_t β Sat'(a_t).
		if c.Saturation == Hill {
			S := s.satTh[ch][1]
			ld := s.ld[ch][:len(a)]
			sumS, sumK, sumD := 0.0, 0.0, 0.0
			bs := beta * S
			for t, at := range a {
				if at <= 0 {
					rho[t] = 0
					continue
				}
				h, g := sv[t], e[t]
				gh := g * h * (1 - h) // g_t ∂h/∂(S·d)
				sumS += g * h
				sumK += gh
				sumD += gh * ld[t]
				rho[t] = bs * gh / at
			}
			grad[m.iBeta[ch]] += beta * sumS
			grad[m.iSat[ch]] += -bs * sumK  // ∂h/∂ log K = −S h(1−h)
			grad[m.iSat[ch]+1] += bs * sumD // ∂h/∂ log S = S d h(1−h)
		} else {
			lam := s.satTh[ch][0]
			sumS, sumL := 0.0, 0.0
			bl := beta * lam
			for t, at := range a {
				v, g := sv[t], e[t]
				gg := g * (1 - v*v) / 2 // g_t ∂ tanh(u)/∂u at u = λa/2, halved
				sumS += g * v
				sumL += gg * at
				rho[t] = bl * gg
			}
			grad[m.iBeta[ch]] += beta * sumS
			grad[m.iSat[ch]] += bl * sumL // ∂v/∂ log λ = λ a (1−v²)/2
		}
		w := s.w[ch]
		cl := s.c[:len(w)]
		x := m.x[ch]
		for l := range cl {
			cl[l] = floats.Dot(rho[l:], x[:len(x)-l])
		}
		for p, gl := range s.glog[ch] {
			gbar := dot(w, gl)
			sum := 0.0
			for l := range w {
				sum += cl[l] * w[l] * (gl[l] - gbar)
			}
			grad[m.iAd[ch]+p] += sum
		}
	}

	// The shear: with log β = v − log h(θ), ∂/∂ log θ picks up
	// −(∂/∂ log β)·∂ log h/∂ log θ; ∂/∂v equals ∂/∂ log β.
	// Then b₀ = ℓ − Σ κ_m e^{v_m} adds −(∂/∂b₀)·κ_m e^{v_m} to ∂/∂v_m.
	for ch, c := range m.spec.Channels {
		gb := grad[m.iBeta[ch]]
		for p := range c.Saturation.numParams() {
			grad[m.iSat[ch]+p] -= gb * s.dlogh[ch][p]
		}
		grad[m.iBeta[ch]] -= grad[0] * m.kappa[ch] * math.Exp(q[m.iBeta[ch]])
	}

	if math.IsNaN(lp) || math.IsInf(lp, 0) {
		return math.Inf(-1)
	}
	for _, v := range grad {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return math.Inf(-1)
		}
	}
	return lp
}

// softplus returns log(1 + e^u) without overflow.
func softplus(u float64) float64 {
	if u > 0 {
		return u + math.Log1p(math.Exp(-u))
	}
	return math.Log1p(math.Exp(u))
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}
