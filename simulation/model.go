package simulation

import (
	"math"
	"math/rand/v2"

	"github.com/preflight-hq/preflight/simulation/api"
	"gonum.org/v1/gonum/stat/distuv"
)

// send is one send of a schedule: channel ch (an index into the request's
// channels) for the f-th time, recency days after its previous send on
// that channel (7 for the first).
type send struct {
	ch      int
	f       int
	recency float64
}

// schedule returns the sends of each day of the horizon for the channel
// subset chans (indices into the request's channels, in request order):
// see the package documentation for the cadence and frequency-cap rules.
func schedule(kind api.InterventionType, cadence api.Cadence, freqCap, days int, chans []int) [][]send {
	out := make([][]send, days)
	every := 7
	if cadence == api.CadenceDaily {
		every = 1
	}
	once := kind != api.InterventionSequence
	perDay := make([]int, days) // sends per persona per day, all channels
	freq := map[int]int{}
	last := map[int]int{}
	for d := 0; d < days; d++ {
		if once && d > 0 || d%every != 0 {
			continue
		}
		for _, c := range chans {
			window := 0
			for k := max(0, d-6); k <= d; k++ {
				window += perDay[k]
			}
			if window >= freqCap {
				break
			}
			freq[c]++
			rec := 7.0
			if l, ok := last[c]; ok {
				rec = float64(d - l)
			}
			last[c] = d
			perDay[d]++
			out[d] = append(out[d], send{ch: c, f: freq[c], recency: rec})
		}
	}
	return out
}

// chInputs are the parameters of one segment × channel under one
// configuration.
type chInputs struct {
	ok       bool
	uplift   float64
	upliftSE float64
	cpe      float64
	rpc      float64
	// logitHaz[f-1] is the logit of the hazard of the f-th send; hazSE
	// its standard error on the logit scale.
	logitHaz []float64
	hazSE    float64
}

// segInputs are the parameters of one target segment under one
// configuration.
type segInputs struct {
	n      float64
	base   float64
	baseSE float64
	rpc    float64
	ch     []chInputs // by request channel
}

// segResult is one segment's outcome of one run.
type segResult struct {
	n         float64
	conv      float64 // treated conversions
	ctrl      float64 // control conversions (same size)
	revenue   float64
	revUplift float64
	cost      float64
	unsub     float64
	sends     float64 // messages delivered
}

// hazardInputs fills ch's hazards for the sends of sched on channel c of
// segment seg.
func (e *Engine) hazardInputs(ci *chInputs, seg, channel string, c int, p cellParams, sched [][]send) {
	ci.logitHaz = ci.logitHaz[:0]
	m := e.unsubscribe
	for _, day := range sched {
		for _, s := range day {
			if s.ch != c {
				continue
			}
			h := math.NaN()
			if m != nil {
				var lo, hi float64
				h, lo, hi = m.Risk(channel, seg, s.f, s.recency)
				if s.f == 1 && !math.IsNaN(h) && lo > 0 && hi < 1 && m.Level > 0 && m.Level < 1 {
					z := distuv.UnitNormal.Quantile(1 - (1-m.Level)/2)
					ci.hazSE = (logit(hi) - logit(lo)) / (2 * z)
				}
			}
			if math.IsNaN(h) {
				h = p.unsub
				if p.unsubSlope != 0 && p.meanFreq > 0 && h > 0 && h < 1 {
					h = sigmoid(logit(h) + p.unsubSlope*(float64(s.f)-p.meanFreq))
				}
			}
			ci.logitHaz = append(ci.logitHaz, logit(clamp01(h)))
		}
	}
}

func logit(p float64) float64 {
	p = min(max(p, 1e-12), 1-1e-12)
	return math.Log(p / (1 - p))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// scratch holds a run's per-channel draws, reused across runs.
type scratch struct {
	u     []float64
	shift []float64
}

// run simulates one run of every segment of segs under sched into out.
// With r nil every draw is replaced by its mean (the expected-value run
// the search uses). When daily is not nil, daily[d][c] accumulates the
// spend of day d on channel c.
func run(segs []segInputs, sched [][]send, days int, r *rand.Rand, sc *scratch, out []segResult, daily [][]float64) {
	for i := range segs {
		s := &segs[i]
		b := s.base
		if r != nil && s.baseSE > 0 {
			b = clamp01(b + s.baseSE*r.NormFloat64())
		}
		for c := range s.ch {
			ci := &s.ch[c]
			sc.u[c], sc.shift[c] = ci.uplift, 0
			if r != nil && ci.ok {
				if ci.upliftSE > 0 {
					sc.u[c] += ci.upliftSE * r.NormFloat64()
				}
				if ci.hazSE > 0 {
					sc.shift[c] = ci.hazSE * r.NormFloat64()
				}
			}
		}
		subs := s.n
		var baseConv, incr, incrRev, cost, sends float64
		bd := b / float64(days)
		for d := range days {
			baseConv += draw(r, s.n, bd)
			for _, snd := range sched[d] {
				ci := &s.ch[snd.ch]
				if !ci.ok {
					continue
				}
				spend := subs * ci.cpe
				cost += spend
				sends += subs
				if daily != nil {
					daily[d][snd.ch] += spend
				}
				eff := sc.u[snd.ch] * math.Pow(RepeatDecay, float64(snd.f-1))
				x := draw(r, subs, min(math.Abs(eff), 1))
				if eff < 0 {
					x = -x
				}
				incr += x
				incrRev += x * ci.rpc
				h := sigmoid(ci.logitHaz[snd.f-1] + sc.shift[snd.ch])
				subs -= draw(r, subs, h)
			}
		}
		ctrl := draw(r, s.n, b)
		out[i] = segResult{
			n:         s.n,
			conv:      max(baseConv+incr, 0),
			ctrl:      ctrl,
			revenue:   max(baseConv*s.rpc+incrRev, 0),
			revUplift: (baseConv-ctrl)*s.rpc + incrRev,
			cost:      cost,
			unsub:     s.n - subs,
			sends:     sends,
		}
	}
}

// draw returns a binomial(n, p) draw from r, or its mean n·p when r is
// nil. n is a non-negative integer-valued count (any count when r is nil).
func draw(r *rand.Rand, n, p float64) float64 {
	if r == nil {
		return n * p
	}
	return float64(binomial(r, int64(n), p))
}

// binomial draws from Binomial(n, p): by summing Bernoulli trials for n ≤
// 64, by the normal approximation N(np, np(1−p)) rounded and clipped to
// [0, n] when np(1−p) ≥ 20, and otherwise by the Poisson(np)
// approximation drawn by Knuth's multiplication method (np < 40 there
// once p ≤ 1/2, which the symmetry Binomial(n, p) = n − Binomial(n, 1−p)
// ensures). n ≤ 0 or p ≤ 0 give 0; p ≥ 1 gives n.
func binomial(r *rand.Rand, n int64, p float64) int64 {
	switch {
	case n <= 0 || !(p > 0):
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(r, n, 1-p)
	case n <= 64:
		var k int64
		for range n {
			if r.Float64() < p {
				k++
			}
		}
		return k
	}
	mean := float64(n) * p
	if v := mean * (1 - p); v >= 20 {
		x := math.Round(mean + math.Sqrt(v)*r.NormFloat64())
		return int64(min(max(x, 0), float64(n)))
	}
	l := math.Exp(-mean)
	var k int64
	for prod := r.Float64(); prod > l; prod *= r.Float64() {
		k++
	}
	return min(k, n)
}
