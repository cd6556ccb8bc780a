package mmm

import (
	"fmt"
	"math"
	"slices"
)

// CredibleMass is the mass of every reported credible interval: Lo and Hi
// of an Interval are the 5% and 95% posterior quantiles.
const CredibleMass = 0.9

// Interval summarizes a posterior sample of a scalar: its mean and the
// equal-tailed 90% credible interval [Lo, Hi].
type Interval struct {
	Mean, Lo, Hi float64
}

// Width returns Hi − Lo.
func (iv Interval) Width() float64 { return iv.Hi - iv.Lo }

// Contains reports whether Lo ≤ v ≤ Hi.
func (iv Interval) Contains(v float64) bool { return iv.Lo <= v && v <= iv.Hi }

// Summarize returns the mean and the 5% and 95% quantiles of x (linear
// interpolation between order statistics, "type 7" of Hyndman and Fan
// 1996, as numpy's default). Empty input gives NaNs; NaNs in x propagate
// to the mean.
func Summarize(x []float64) Interval {
	if len(x) == 0 {
		return Interval{math.NaN(), math.NaN(), math.NaN()}
	}
	s := slices.Clone(x)
	slices.Sort(s)
	lo := (1 - CredibleMass) / 2
	return Interval{Mean: sum(x) / float64(len(x)), Lo: quantileSorted(s, lo), Hi: quantileSorted(s, 1-lo)}
}

// quantileSorted returns the type-7 p-quantile of sorted s.
func quantileSorted(s []float64, p float64) float64 {
	h := p * float64(len(s)-1)
	i := int(math.Floor(h))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (h-float64(i))*(s[i+1]-s[i])
}

// Posterior is a set of posterior draws of a Model, with the derived
// quantities of the MMM computed per draw and then summarized.
type Posterior struct {
	model *Model
	draws []Params
}

// NewPosterior wraps unconstrained draws q (each of length m.Dim(), e.g.
// the draws of every chain of an mcmc.Result concatenated) of model m.
func NewPosterior(m *Model, q [][]float64) *Posterior {
	p := &Posterior{model: m}
	for _, v := range q {
		p.draws = append(p.draws, m.Constrain(v))
	}
	return p
}

// Model returns the model the draws belong to.
func (p *Posterior) Model() *Model { return p.model }

// Draws returns the constrained draws (shared, do not modify).
func (p *Posterior) Draws() []Params { return p.draws }

// Param returns the draws of parameter i in the order of
// Model.ParamNames, on the constrained scale.
func (p *Posterior) Param(i int) []float64 {
	out := make([]float64, len(p.draws))
	for d, pr := range p.draws {
		out[d] = pr.Flat()[i]
	}
	return out
}

// ParamIntervals returns the Interval of every parameter, in the order of
// Model.ParamNames.
func (p *Posterior) ParamIntervals() []Interval {
	n := p.model.Dim()
	cols := make([][]float64, n)
	for _, pr := range p.draws {
		for i, v := range pr.Flat() {
			cols[i] = append(cols[i], v)
		}
	}
	out := make([]Interval, n)
	for i := range out {
		out[i] = Summarize(cols[i])
	}
	return out
}

// extendedAdstock returns the adstock of channel ch's scaled spend xs
// under draw pr, continued with zero spend for len(w)−1 periods after the
// last one so that the carryover of late spend is counted.
func extendedAdstock(c ChannelSpec, pr Params, ch int, xs []float64) []float64 {
	w := kernelWeights(c.Adstock, pr.Adstock[ch], c.MaxLag)
	ext := make([]float64, len(xs)+len(w)-1)
	copy(ext, xs)
	a := make([]float64, len(ext))
	Convolve(ext, w, a)
	return a
}

// incFromAdstock returns β Σ_t Sat(r·a_t), the incremental outcome in
// scaled units of spend scaled by r, given the adstock a of the unscaled
// spend (adstock is linear, so Adstock(r·x) = r·Adstock(x)).
func incFromAdstock(c ChannelSpec, pr Params, ch int, a []float64, r float64) float64 {
	s := 0.0
	for _, v := range a {
		s += satValue(c.Saturation, r*v, pr.Saturation[ch])
	}
	return pr.Beta[ch] * s
}

// incremental returns the incremental outcome (scaled units) of channel
// ch's scaled spend xs multiplied by r, carryover after the last period
// included, relative to zero spend.
func incremental(c ChannelSpec, pr Params, ch int, xs []float64, r float64) float64 {
	return incFromAdstock(c, pr, ch, extendedAdstock(c, pr, ch, xs), r)
}

// ChannelSummary holds a channel's derived quantities, in the data's
// original units.
type ChannelSummary struct {
	// Name is the channel's name.
	Name string
	// Contribution is the channel's contribution β_m·Sat_m(Adstock_m(x)_t)
	// per period t, unscaled.
	Contribution []Interval
	// Total is Σ_t of the contribution over the observed periods.
	Total Interval
	// ShareOfOutcome is Total / Σ_t y_t (Meridian's "% of outcome").
	ShareOfOutcome Interval
	// ShareOfMedia is Total / Σ_{m'} Total_{m'} (PyMC-Marketing's
	// contribution share).
	ShareOfMedia Interval
	// ROAS is [Σ_t ŷ_t(x) − Σ_t ŷ_t(x without channel m)] / Σ_t x_{t,m}
	// over the whole series, summing t over the observed periods plus the
	// carryover periods after them (Meridian's ROI with W = the data).
	// Because the model is additive this is the channel's incremental
	// outcome divided by its spend.
	ROAS Interval
	// MROAS is Meridian's marginal ROAS: [Σ ŷ(x with channel m × 1.01) −
	// Σ ŷ(x)] / (0.01·Σ_t x_{t,m}).
	MROAS Interval
}

// Channels computes every channel's contributions, shares, ROAS and
// marginal ROAS per posterior draw and summarizes them.
func (p *Posterior) Channels() []ChannelSummary {
	m := p.model
	sc := m.scale
	T := m.T
	nd := len(p.draws)
	M := len(m.spec.Channels)
	sumY := 0.0
	for _, v := range m.y {
		sumY += v * sc.Y
	}
	totals := make([][]float64, M) // [m][draw]
	out := make([]ChannelSummary, M)
	perT := make([][]float64, T) // [t][draw], reused per channel
	for t := range perT {
		perT[t] = make([]float64, nd)
	}
	for ch, c := range m.spec.Channels {
		xs := m.x[ch]
		spend := sum(xs) * sc.Spend[ch]
		totals[ch] = make([]float64, nd)
		roas, mroas, share := make([]float64, nd), make([]float64, nd), make([]float64, nd)
		for d, pr := range p.draws {
			a := extendedAdstock(c, pr, ch, xs)
			tot := 0.0
			for t := range T {
				v := pr.Beta[ch] * satValue(c.Saturation, a[t], pr.Saturation[ch]) * sc.Y
				perT[t][d] = v
				tot += v
			}
			totals[ch][d] = tot
			share[d] = tot / sumY
			inc := incFromAdstock(c, pr, ch, a, 1) * sc.Y
			inc1 := incFromAdstock(c, pr, ch, a, 1.01) * sc.Y
			roas[d] = inc / spend
			mroas[d] = (inc1 - inc) / (0.01 * spend)
		}
		cs := ChannelSummary{Name: c.Name, Contribution: make([]Interval, T)}
		for t := range T {
			cs.Contribution[t] = Summarize(perT[t])
		}
		cs.Total = Summarize(totals[ch])
		cs.ShareOfOutcome = Summarize(share)
		cs.ROAS = Summarize(roas)
		cs.MROAS = Summarize(mroas)
		out[ch] = cs
	}
	for ch := range out {
		sh := make([]float64, nd)
		for d := range nd {
			all := 0.0
			for c2 := range M {
				all += totals[c2][d]
			}
			sh[d] = totals[ch][d] / all
		}
		out[ch].ShareOfMedia = Summarize(sh)
	}
	return out
}

// CurvePoint is one point of a response curve.
type CurvePoint struct {
	// Ratio is the factor r applied to the channel's historical spend.
	Ratio float64
	// Spend is r·Σ_t x_{t,m}, in spend units.
	Spend float64
	// Incremental is the channel's incremental outcome at that spend
	// relative to zero spend, carryover included, in outcome units.
	Incremental Interval
}

// DefaultRatios returns r = 0, 0.1, …, 2.
func DefaultRatios() []float64 {
	r := make([]float64, 21)
	for i := range r {
		r[i] = float64(i) / 10
	}
	return r
}

// ResponseCurve returns channel ch's response curve: for every ratio r,
// the posterior of the incremental outcome when its whole historical spend
// series is multiplied by r (the flighting pattern kept), with a 90%
// credible band. nil ratios means DefaultRatios.
func (p *Posterior) ResponseCurve(ch int, ratios []float64) ([]CurvePoint, error) {
	m := p.model
	if ch < 0 || ch >= len(m.spec.Channels) {
		return nil, fmt.Errorf("cannot compute response curve: channel %d out of range", ch)
	}
	if ratios == nil {
		ratios = DefaultRatios()
	}
	c := m.spec.Channels[ch]
	spend := sum(m.x[ch]) * m.scale.Spend[ch]
	vals := make([][]float64, len(ratios))
	for i := range vals {
		vals[i] = make([]float64, len(p.draws))
	}
	for d, pr := range p.draws {
		a := extendedAdstock(c, pr, ch, m.x[ch])
		for i, r := range ratios {
			vals[i][d] = incFromAdstock(c, pr, ch, a, r) * m.scale.Y
		}
	}
	out := make([]CurvePoint, len(ratios))
	for i, r := range ratios {
		out[i] = CurvePoint{Ratio: r, Spend: r * spend, Incremental: Summarize(vals[i])}
	}
	return out, nil
}

// Elasticity returns the posterior of channel ch's spend elasticity of its
// incremental outcome at r times its historical spend,
//
//	e(r) = d ln Inc / d ln spend ≈ [Inc(r(1+h)) − Inc(r(1−h))] / (2h·Inc(r)),
//
// with h = 0.01 (a central difference). It is 1 for a linear response,
// below 1 under diminishing returns, and above 1 on the convex part of an
// S-shaped Hill curve. r must be positive.
func (p *Posterior) Elasticity(ch int, r float64) (Interval, error) {
	m := p.model
	if ch < 0 || ch >= len(m.spec.Channels) {
		return Interval{}, fmt.Errorf("cannot compute elasticity: channel %d out of range", ch)
	}
	if !(r > 0) {
		return Interval{}, fmt.Errorf("cannot compute elasticity at spend ratio %v: must be positive", r)
	}
	const h = 0.01
	c := m.spec.Channels[ch]
	e := make([]float64, len(p.draws))
	for d, pr := range p.draws {
		a := extendedAdstock(c, pr, ch, m.x[ch])
		inc := incFromAdstock(c, pr, ch, a, r)
		up := incFromAdstock(c, pr, ch, a, r*(1+h))
		dn := incFromAdstock(c, pr, ch, a, r*(1-h))
		e[d] = (up - dn) / (2 * h * inc)
	}
	return Summarize(e), nil
}
