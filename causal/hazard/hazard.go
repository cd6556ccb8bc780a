// Package hazard models the risk that a send makes a subscriber unsubscribe
// (or complain), as a function of how many sends they have already had.
//
// The model is a discrete-time hazard on person-period data (Singer &
// Willett, Applied Longitudinal Data Analysis, 2003, ch. 10–12; Allison
// 1982): every exposure (one send to one subscriber still subscribed on
// that channel) is a row, the event is 1 only on the exposure after which
// the subscriber unsubscribed, and the per-exposure hazard
//
//	h = P(event at this exposure | no event before)
//	  = σ(α + f(frequency) + g(recency) + channel + segment)
//
// is an ordinary logistic regression on those rows, fitted with
// causal/linear's L2-regularized Logistic. f is piecewise linear in the
// frequency with f(1) = 0 (optionally constrained non-decreasing), g is a
// step function of the days since the subscriber last engaged, and channel
// and segment are one-hot with the first level (in sorted order) as the
// reference. The probability of surviving K sends is Π_{f≤K}(1 − h_f).
// Unsubscribes and complaints are separate outcomes, one Model each.
//
// The frequency effect is causal only if frequency was randomized (a
// frequency test); fitted on observational sends it also carries whatever
// drives who gets sent more.
package hazard

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/preflight-hq/preflight/causal"
	"github.com/preflight-hq/preflight/causal/linear"
)

// Outcome names the event a Model predicts.
type Outcome string

const (
	// Unsubscribe is an unsubscribe from the channel after the send.
	Unsubscribe Outcome = "unsubscribe"
	// Complaint is a spam complaint after the send.
	Complaint Outcome = "complaint"
)

// Exposure is one send to one subscriber who was still at risk (had not
// yet had the event on that channel): one person-period row.
type Exposure struct {
	// Channel is the send's channel, e.g. "email".
	Channel string `json:"channel"`
	// Segment is the subscriber's segment.
	Segment string `json:"segment"`
	// Frequency is the send's rank among the subscriber's sends on the
	// channel: 1 for the first send, ≥ 1.
	Frequency int `json:"frequency"`
	// RecencyDays is the number of days since the subscriber last engaged
	// (opened, clicked or bought), ≥ 0.
	RecencyDays float64 `json:"recency_days"`
	// Event says the outcome happened after this send.
	Event bool `json:"event"`
	// Weight is the row's non-negative frequency weight; 0 means 1, so
	// unweighted rows can leave it out.
	Weight float64 `json:"weight,omitempty"`
}

// Defaults of Options.
const (
	// DefaultLambda is the L2 penalty on the standardized coefficients.
	DefaultLambda = 1.0
	// DefaultLevel is the confidence level of the intervals.
	DefaultLevel = 0.95
)

// DefaultRecencyEdges are the recency bin edges in days: bins [0, 7),
// [7, 30), [30, 90) and [90, ∞).
var DefaultRecencyEdges = []float64{7, 30, 90}

// defaultKnotCandidates are the frequencies the automatic knots are taken
// from: every send up to 6, then wider gaps.
var defaultKnotCandidates = []int{2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 70, 100}

// Options configures Fit. The zero value gives the defaults.
type Options struct {
	// Lambda is the L2 penalty of the logistic fit on standardized
	// coefficients (see causal/linear). Default (0) DefaultLambda; a
	// negative value means no penalty.
	Lambda float64 `json:"lambda,omitempty"`
	// FrequencyKnots are the interior knots of the piecewise-linear
	// frequency effect, strictly increasing and > 1. f has one slope on
	// each of [1, k_1], [k_1, k_2], …, [k_m, ∞). Default (nil): the
	// candidates 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, … below the largest
	// observed frequency, so every segment has data.
	FrequencyKnots []int `json:"frequency_knots,omitempty"`
	// Monotone constrains every slope of f to be ≥ 0, so the hazard never
	// falls as the frequency rises (an active-set fit: slopes that would be
	// negative are fixed at 0). Default false.
	Monotone bool `json:"monotone,omitempty"`
	// RecencyEdges are the increasing bin edges of recency in days.
	// Default (nil) DefaultRecencyEdges; an empty non-nil slice means one
	// bin (no recency effect).
	RecencyEdges []float64 `json:"recency_edges,omitempty"`
	// Level is the confidence level of the Wald intervals, in (0, 1).
	// Default (0) DefaultLevel.
	Level float64 `json:"level,omitempty"`
	// MaxIter and Tol are passed to linear.Logistic (0 means its
	// defaults).
	MaxIter int     `json:"max_iter,omitempty"`
	Tol     float64 `json:"tol,omitempty"`
}

// Model is a fitted discrete-time hazard model for one outcome. Its fields
// are exported so that it marshals to JSON as is; they are read-only after
// Fit. A Model is safe for concurrent use.
type Model struct {
	// Outcome is the event the model predicts.
	Outcome Outcome `json:"outcome"`
	// Channels and Segments are the levels seen in training, sorted; the
	// first of each is the reference level of its one-hot coding.
	Channels []string `json:"channels"`
	Segments []string `json:"segments"`
	// Knots are the interior frequency knots used.
	Knots []int `json:"knots"`
	// RecencyEdges are the recency bin edges used.
	RecencyEdges []float64 `json:"recency_edges"`
	// Monotone records whether the frequency effect was constrained.
	Monotone bool `json:"monotone"`
	// Lambda is the penalty used.
	Lambda float64 `json:"lambda"`
	// Level is the confidence level of Risk's and CumulativeRisk's
	// intervals.
	Level float64 `json:"level"`
	// MaxObservedFrequency is the largest frequency in the training rows;
	// MaxFrequency searches no further.
	MaxObservedFrequency int `json:"max_observed_frequency"`
	// Exposures[f−1] and Events[f−1] are the weighted numbers of exposures
	// and events at frequency f in the training rows.
	Exposures []float64 `json:"exposures"`
	Events    []float64 `json:"events"`
	// NoEvents is true when the training rows had no event: the model
	// then predicts a hazard of 0 with an exact upper bound (see Risk).
	NoEvents bool `json:"no_events"`
	// Intercept, Coef and Covariance are the logistic fit on the feature
	// layout channel dummies, segment dummies, frequency ramps, recency
	// dummies; Covariance is intercept first. They are empty when NoEvents.
	Intercept  float64     `json:"intercept"`
	Coef       []float64   `json:"coef"`
	Covariance [][]float64 `json:"covariance,omitempty"`
}

// Models holds one Model per outcome, for snapshots.
type Models struct {
	// Unsubscribe predicts unsubscribes.
	Unsubscribe *Model `json:"unsubscribe"`
	// Complaint predicts spam complaints.
	Complaint *Model `json:"complaint"`
}

// FitModels fits the unsubscribe model on unsub and the complaint model on
// complaint (each row's Event marks that outcome) with the same options.
func FitModels(unsub, complaint []Exposure, opts Options) (*Models, error) {
	u, err := Fit(Unsubscribe, unsub, opts)
	if err != nil {
		return nil, err
	}
	c, err := Fit(Complaint, complaint, opts)
	if err != nil {
		return nil, err
	}
	return &Models{Unsubscribe: u, Complaint: c}, nil
}

// cell is one distinct feature pattern with its weighted exposures and
// events; the binomial likelihood of the cells equals the Bernoulli
// likelihood of the rows, so fitting on cells is exact and fast.
type cell struct {
	ch, seg, freq, rbin int
	w, ev               float64
}

// Fit fits the hazard model of outcome on rows. It returns an error when a
// row is invalid (naming it), there are no rows, every row is an event, the
// options are invalid, or the logistic fit fails. With no events at all it
// returns a model with NoEvents set instead of failing.
func Fit(outcome Outcome, rows []Exposure, opts Options) (*Model, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("cannot fit %s hazard: no rows", outcome)
	}
	m := &Model{Outcome: outcome, Monotone: opts.Monotone, Lambda: opts.Lambda, Level: opts.Level}
	switch {
	case m.Lambda == 0:
		m.Lambda = DefaultLambda
	case m.Lambda < 0:
		m.Lambda = 0
	}
	if m.Level == 0 {
		m.Level = DefaultLevel
	}
	if !(m.Level > 0 && m.Level < 1) {
		return nil, fmt.Errorf("cannot fit %s hazard: Level %v, want in (0, 1)", outcome, opts.Level)
	}
	m.RecencyEdges = DefaultRecencyEdges
	if opts.RecencyEdges != nil {
		m.RecencyEdges = opts.RecencyEdges
	}
	m.RecencyEdges = slices.Clone(m.RecencyEdges)
	for i, e := range m.RecencyEdges {
		if math.IsNaN(e) || (i > 0 && e <= m.RecencyEdges[i-1]) {
			return nil, fmt.Errorf("cannot fit %s hazard: RecencyEdges %v, want strictly increasing", outcome, m.RecencyEdges)
		}
	}

	chans, segs := map[string]bool{}, map[string]bool{}
	var events, total float64
	for i, r := range rows {
		w := r.Weight
		if w == 0 {
			w = 1
		}
		switch {
		case r.Frequency < 1:
			return nil, fmt.Errorf("cannot fit %s hazard: row %d has frequency %d, want >= 1", outcome, i, r.Frequency)
		case math.IsNaN(r.RecencyDays) || math.IsInf(r.RecencyDays, 0):
			return nil, fmt.Errorf("cannot fit %s hazard: row %d has recency %v", outcome, i, r.RecencyDays)
		case !(w > 0) || math.IsInf(w, 0):
			return nil, fmt.Errorf("cannot fit %s hazard: row %d has weight %v, want finite and >= 0", outcome, i, r.Weight)
		}
		chans[r.Channel], segs[r.Segment] = true, true
		m.MaxObservedFrequency = max(m.MaxObservedFrequency, r.Frequency)
		total += w
		if r.Event {
			events += w
		}
	}
	if events == total {
		return nil, fmt.Errorf("cannot fit %s hazard: every exposure is an event", outcome)
	}
	m.Channels, m.Segments = sortedKeys(chans), sortedKeys(segs)
	if opts.FrequencyKnots != nil {
		m.Knots = slices.Clone(opts.FrequencyKnots)
		for i, k := range m.Knots {
			if k <= 1 || (i > 0 && k <= m.Knots[i-1]) {
				return nil, fmt.Errorf("cannot fit %s hazard: FrequencyKnots %v, want strictly increasing and > 1", outcome, m.Knots)
			}
		}
	} else {
		m.Knots = []int{}
		for _, k := range defaultKnotCandidates {
			if k < m.MaxObservedFrequency {
				m.Knots = append(m.Knots, k)
			}
		}
	}

	m.Exposures = make([]float64, m.MaxObservedFrequency)
	m.Events = make([]float64, m.MaxObservedFrequency)
	chIdx, segIdx := indexOf(m.Channels), indexOf(m.Segments)
	type key struct{ ch, seg, freq, rbin int }
	cells := map[key]*cell{}
	for _, r := range rows {
		w := r.Weight
		if w == 0 {
			w = 1
		}
		k := key{chIdx[r.Channel], segIdx[r.Segment], r.Frequency, m.recencyBin(r.RecencyDays)}
		c := cells[k]
		if c == nil {
			c = &cell{ch: k.ch, seg: k.seg, freq: k.freq, rbin: k.rbin}
			cells[k] = c
		}
		c.w += w
		m.Exposures[r.Frequency-1] += w
		if r.Event {
			c.ev += w
			m.Events[r.Frequency-1] += w
		}
	}
	if events == 0 {
		m.NoEvents = true
		return m, nil
	}
	list := make([]*cell, 0, len(cells))
	for _, c := range cells {
		list = append(list, c)
	}
	// A fixed order makes the fit bit-for-bit reproducible.
	slices.SortFunc(list, func(a, b *cell) int {
		for _, d := range [4]int{a.ch - b.ch, a.seg - b.seg, a.freq - b.freq, a.rbin - b.rbin} {
			if d != 0 {
				return d
			}
		}
		return 0
	})
	if err := m.fit(list, opts); err != nil {
		return nil, fmt.Errorf("cannot fit %s hazard: %w", outcome, err)
	}
	return m, nil
}

// Feature layout.
func (m *Model) nFeatures() int {
	return (len(m.Channels) - 1) + (len(m.Segments) - 1) + m.nRamps() + len(m.RecencyEdges)
}
func (m *Model) nRamps() int    { return len(m.Knots) + 1 }
func (m *Model) rampStart() int { return (len(m.Channels) - 1) + (len(m.Segments) - 1) }

// recencyBin returns the index of the bin holding days: 0 below the first
// edge, i for [edge_{i−1}, edge_i), len(edges) at or above the last.
func (m *Model) recencyBin(days float64) int {
	return sort.SearchFloat64s(m.RecencyEdges, math.Nextafter(days, math.Inf(1)))
}

// features writes the feature vector of a pattern into dst (length
// nFeatures): channel dummies, segment dummies, frequency ramps
// b_j(f) = clamp(f − k_j, 0, k_{j+1} − k_j) with k_0 = 1 and the last ramp
// max(f − k_m, 0), and recency dummies.
func (m *Model) features(dst []float64, ch, seg, freq, rbin int) {
	clear(dst)
	p := 0
	if ch > 0 {
		dst[p+ch-1] = 1
	}
	p += len(m.Channels) - 1
	if seg > 0 {
		dst[p+seg-1] = 1
	}
	p += len(m.Segments) - 1
	knots := append([]int{1}, m.Knots...)
	f := float64(freq)
	for j, k := range knots {
		v := f - float64(k)
		if j+1 < len(knots) {
			v = min(v, float64(knots[j+1]-k))
		}
		dst[p+j] = max(v, 0)
	}
	p += len(knots)
	if rbin > 0 {
		dst[p+rbin-1] = 1
	}
}

// fit fits the logistic model on the cells, with the active-set loop for
// the monotone constraint.
func (m *Model) fit(cells []*cell, opts Options) error {
	p := m.nFeatures()
	full := causal.Matrix{Rows: len(cells), Cols: p, Data: make([]float64, len(cells)*p)}
	y, w := make([]float64, len(cells)), make([]float64, len(cells))
	for i, c := range cells {
		m.features(full.Row(i), c.ch, c.seg, c.freq, c.rbin)
		y[i], w[i] = c.ev/c.w, c.w
	}
	active := make([]bool, p)
	for j := range active {
		active[j] = true
	}
	r0, nr := m.rampStart(), m.nRamps()
	var (
		intercept float64
		coef      []float64
		cov       [][]float64
	)
	// Lawson–Hanson-style active set over the ramp slopes: drop the most
	// negative slope and refit; when none is negative, re-admit the fixed
	// slope whose gradient most favours increasing it. Each step changes
	// one slope, so 4·(ramps+1) rounds are ample.
	for round := 0; ; round++ {
		var err error
		intercept, coef, cov, err = fitSubset(full, y, w, active, m.Lambda, opts)
		if err != nil {
			return err
		}
		if !m.Monotone {
			break
		}
		worst, at := 0.0, -1
		for j := r0; j < r0+nr; j++ {
			if active[j] && coef[j] < worst {
				worst, at = coef[j], j
			}
		}
		if round >= 4*(nr+1) {
			if at >= 0 {
				return fmt.Errorf("monotone fit did not settle in %d rounds", round)
			}
			break // feasible; stop re-admitting slopes
		}
		if at >= 0 {
			active[at] = false
			continue
		}
		// Gradient of the negative log-likelihood in a fixed slope at 0:
		// Σ w (p − y) b_j. Negative means raising the slope would help.
		grad := make([]float64, p)
		for i := range cells {
			x := full.Row(i)
			eta := intercept
			for j, v := range x {
				eta += coef[j] * v
			}
			d := w[i] * (sigmoid(eta) - y[i])
			for j := r0; j < r0+nr; j++ {
				if !active[j] {
					grad[j] += d * x[j]
				}
			}
		}
		best, add := -1e-9*sum(w), -1
		for j := r0; j < r0+nr; j++ {
			if !active[j] && grad[j] < best {
				best, add = grad[j], j
			}
		}
		if add < 0 {
			break
		}
		active[add] = true
	}
	m.Intercept, m.Coef, m.Covariance = intercept, coef, cov
	return nil
}

// fitSubset fits a linear.Logistic on the active columns of x and returns
// the intercept, the coefficients and the covariance expanded to all
// columns (zeros for inactive ones).
func fitSubset(x causal.Matrix, y, w []float64, active []bool, lambda float64, opts Options) (float64, []float64, [][]float64, error) {
	var cols []int
	for j, a := range active {
		if a {
			cols = append(cols, j)
		}
	}
	sub := causal.Matrix{Rows: x.Rows, Cols: len(cols), Data: make([]float64, x.Rows*len(cols))}
	for i := range x.Rows {
		row := x.Row(i)
		for k, j := range cols {
			sub.Data[i*len(cols)+k] = row[j]
		}
	}
	l := &linear.Logistic{Lambda: lambda, MaxIter: opts.MaxIter, Tol: opts.Tol}
	if err := l.Fit(sub, y, w); err != nil {
		return 0, nil, nil, err
	}
	coef := make([]float64, x.Cols)
	for k, j := range cols {
		coef[j] = l.Coef()[k]
	}
	c := l.Covariance()
	pos := append([]int{0}, make([]int, len(cols))...)
	for k, j := range cols {
		pos[k+1] = j + 1
	}
	cov := make([][]float64, x.Cols+1)
	for i := range cov {
		cov[i] = make([]float64, x.Cols+1)
	}
	for a, i := range pos {
		for b, j := range pos {
			cov[i][j] = c.At(a, b)
		}
	}
	return l.Intercept(), coef, cov, nil
}

// design returns the design vector (1, features) of a query, or ok false
// when the channel or segment is unknown, the frequency < 1 or the recency
// not a number.
func (m *Model) design(channel, segment string, freq int, recencyDays float64) ([]float64, bool) {
	ch, okc := slices.BinarySearch(m.Channels, channel)
	seg, oks := slices.BinarySearch(m.Segments, segment)
	if !okc || !oks || freq < 1 || math.IsNaN(recencyDays) {
		return nil, false
	}
	x := make([]float64, 1+m.nFeatures())
	x[0] = 1
	m.features(x[1:], ch, seg, freq, m.recencyBin(recencyDays))
	return x, true
}

// linpred returns η = intercept + coefᵀx and its variance xᵀΣx for the
// design vector x (leading 1).
func (m *Model) linpred(x []float64) (eta, variance float64) {
	eta = m.Intercept
	for j, v := range x[1:] {
		eta += m.Coef[j] * v
	}
	for i, a := range x {
		if a == 0 {
			continue
		}
		for j, b := range x {
			variance += a * m.Covariance[i][j] * b
		}
	}
	return eta, max(variance, 0)
}

// z returns the two-sided normal quantile of the model's level.
func (m *Model) z() float64 { return distuv.UnitNormal.Quantile(1 - (1-m.Level)/2) }

// Risk answers "what is the risk at frequency k": the hazard h that the
// frequency-th send on channel to a subscriber of segment, last engaged
// recencyDays ago and still subscribed, triggers the outcome, with a Wald
// interval at the model's Level computed on the logit scale and mapped
// through σ: σ(η ± z·√(xᵀΣx)) (Σ the penalized-Hessian covariance, so the
// interval is conditional on the chosen knots and, for a monotone fit, on
// the slopes fixed at 0). Frequencies above MaxObservedFrequency
// extrapolate the last slope. For a NoEvents model it returns 0, 0 and the
// exact (Clopper–Pearson) upper bound 1 − ((1 − Level)/2)^(1/n) for zero
// events among the n weighted exposures at that frequency (1 when n = 0),
// pooled over channels and segments. Unknown channel or segment, frequency
// < 1 or NaN recency give NaN for all three.
func (m *Model) Risk(channel, segment string, frequency int, recencyDays float64) (p, lo, hi float64) {
	x, ok := m.design(channel, segment, frequency, recencyDays)
	if !ok {
		return math.NaN(), math.NaN(), math.NaN()
	}
	if m.NoEvents {
		n := 0.0
		if frequency <= len(m.Exposures) {
			n = m.Exposures[frequency-1]
		}
		if n == 0 {
			return 0, 0, 1
		}
		return 0, 0, 1 - math.Pow((1-m.Level)/2, 1/n)
	}
	eta, v := m.linpred(x)
	se := math.Sqrt(v) * m.z()
	return sigmoid(eta), sigmoid(eta - se), sigmoid(eta + se)
}

// CumulativeRisk returns the probability that a subscriber who receives
// sends 1..upToFrequency on channel has the outcome after one of them,
//
//	C(K) = 1 − Π_{f=1}^{K} (1 − h_f),
//
// with recency held at recencyDays for every send (Singer & Willett 2003,
// §10.2: one minus the survival function). The interval is a delta-method
// Wald interval for u = log(−log S(K)), S(K) = Π(1 − h_f), whose gradient
// in the parameters is Σ_f h_f·x_f / log S(K); mapped back through
// 1 − exp(−e^u) it stays inside (0, 1). upToFrequency ≤ 0 gives 0, 0, 0.
// For a NoEvents model it returns 0, 0 and 1 − Π_f(1 − hi_f) with hi_f
// Risk's upper bounds (conservative). Unknown channel or segment or NaN
// recency give NaN for all three.
func (m *Model) CumulativeRisk(channel, segment string, recencyDays float64, upToFrequency int) (p, lo, hi float64) {
	if _, ok := m.design(channel, segment, 1, recencyDays); !ok {
		return math.NaN(), math.NaN(), math.NaN()
	}
	if upToFrequency <= 0 {
		return 0, 0, 0
	}
	if m.NoEvents {
		logS := 0.0
		for f := 1; f <= upToFrequency; f++ {
			_, _, h := m.Risk(channel, segment, f, recencyDays)
			logS += math.Log1p(-h)
		}
		return 0, 0, -math.Expm1(logS)
	}
	logS := 0.0
	grad := make([]float64, 1+m.nFeatures()) // ∂ log S / ∂θ = −Σ h_f x_f
	for f := 1; f <= upToFrequency; f++ {
		x, _ := m.design(channel, segment, f, recencyDays)
		eta, _ := m.linpred(x)
		h := sigmoid(eta)
		logS += math.Log1p(-h)
		for j, v := range x {
			grad[j] -= h * v
		}
	}
	p = -math.Expm1(logS)
	if logS == 0 {
		return p, p, p
	}
	var vL float64
	for i, a := range grad {
		for j, b := range grad {
			vL += a * m.Covariance[i][j] * b
		}
	}
	u := math.Log(-logS)
	se := math.Sqrt(max(vL, 0)) / -logS * m.z()
	cum := func(u float64) float64 { return -math.Expm1(-math.Exp(u)) }
	return p, cum(u - se), cum(u + se)
}

// MaxFrequency answers "what is the largest frequency cap whose risk stays
// under r": the largest K in [0, MaxObservedFrequency] with
//
//	CumulativeRisk(channel, segment, recencyDays, K) ≤ r,
//
// using the point estimates. Because C(K) ≥ h_f for every f ≤ K, each
// single send's risk then also stays under r. It returns 0 when even the
// first send's risk exceeds r, MaxObservedFrequency when no cap within the
// data reaches r (the model does not extrapolate caps), and −1 for an
// unknown channel or segment, NaN recency or r outside [0, 1].
func (m *Model) MaxFrequency(channel, segment string, recencyDays, r float64) int {
	return m.maxFrequency(channel, segment, recencyDays, r, false)
}

// MaxFrequencyConservative is MaxFrequency with the upper end of
// CumulativeRisk's interval in place of the point estimate: the largest
// cap for which the risk stays under r with the model's confidence. For a
// NoEvents model this is the only informative cap.
func (m *Model) MaxFrequencyConservative(channel, segment string, recencyDays, r float64) int {
	return m.maxFrequency(channel, segment, recencyDays, r, true)
}

func (m *Model) maxFrequency(channel, segment string, recencyDays, r float64, upper bool) int {
	if _, ok := m.design(channel, segment, 1, recencyDays); !ok || !(r >= 0 && r <= 1) {
		return -1
	}
	for k := 1; k <= m.MaxObservedFrequency; k++ {
		p, _, hi := m.CumulativeRisk(channel, segment, recencyDays, k)
		if upper {
			p = hi
		}
		if p > r {
			return k - 1
		}
	}
	return m.MaxObservedFrequency
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func sortedKeys(s map[string]bool) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func indexOf(levels []string) map[string]int {
	m := make(map[string]int, len(levels))
	for i, l := range levels {
		m[l] = i
	}
	return m
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}
