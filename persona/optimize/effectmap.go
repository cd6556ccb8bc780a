package optimize

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
)

// PAVA returns the weighted isotonic (monotone non-decreasing) regression
// of y: the vector f minimizing Σ w_i (y_i − f_i)² subject to
// f_1 ≤ f_2 ≤ … ≤ f_n, computed by the pool-adjacent-violators algorithm
// (Ayer et al. 1955; Barlow et al., "Statistical Inference under Order
// Restrictions", 1972). Adjacent blocks that violate the order are merged
// into one block whose value is their weighted mean, until none violates
// it. A nil w means unit weights. It panics when w has a different length
// from y or a weight is not positive (programmer errors); an empty y gives
// an empty result. It runs in O(n).
func PAVA(y, w []float64) []float64 {
	if w != nil && len(w) != len(y) {
		panic("optimize: PAVA: weights of a different length")
	}
	type block struct {
		v, w float64
		n    int
	}
	blocks := make([]block, 0, len(y))
	for i, yi := range y {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		if !(wi > 0) {
			panic("optimize: PAVA: weights must be positive")
		}
		blocks = append(blocks, block{yi, wi, 1})
		for len(blocks) > 1 && blocks[len(blocks)-2].v > blocks[len(blocks)-1].v {
			a, b := blocks[len(blocks)-2], blocks[len(blocks)-1]
			blocks = blocks[:len(blocks)-2]
			sw := a.w + b.w
			blocks = append(blocks, block{(a.v*a.w + b.v*b.w) / sw, sw, a.n + b.n})
		}
	}
	f := make([]float64, 0, len(y))
	for _, b := range blocks {
		for range b.n {
			f = append(f, b.v)
		}
	}
	return f
}

// Curve is a fitted monotone intent-to-uplift curve: knots X (strictly
// increasing intents) with fitted uplifts Y (non-decreasing). Between
// knots it interpolates linearly; outside them it is flat.
type Curve struct {
	// X are the distinct intent values of the fitted points, increasing.
	X []float64 `json:"x"`
	// Y are the isotonic fitted uplifts at X.
	Y []float64 `json:"y"`
	// Points is the number of interventions the curve was fitted on.
	Points int `json:"points"`
}

// At returns the curve's uplift at intent x: linear interpolation between
// the knots around x, Y[0] left of the first knot, the last Y right of the
// last knot, and 0 for an empty curve.
func (c *Curve) At(x float64) float64 {
	n := len(c.X)
	switch {
	case n == 0:
		return 0
	case x <= c.X[0]:
		return c.Y[0]
	case x >= c.X[n-1]:
		return c.Y[n-1]
	}
	k := sort.SearchFloat64s(c.X, x) // c.X[k-1] < x <= c.X[k]
	x0, x1, y0, y1 := c.X[k-1], c.X[k], c.Y[k-1], c.Y[k]
	return y0 + (y1-y0)*(x-x0)/(x1-x0)
}

// FitCurve fits an isotonic curve to points (intent, uplift) with weights:
// points with equal intent are first merged into one (weighted mean
// uplift, summed weight), then PAVA orders the uplifts. Weights that are
// not positive count as 1. Points with a NaN intent or uplift are
// ignored.
func FitCurve(points []EffectPoint) Curve {
	type xyw struct{ x, y, w float64 }
	pts := make([]xyw, 0, len(points))
	for _, p := range points {
		if math.IsNaN(p.Intent) || math.IsNaN(p.Uplift) {
			continue
		}
		w := p.Weight
		if !(w > 0) {
			w = 1
		}
		pts = append(pts, xyw{p.Intent, p.Uplift, w})
	}
	slices.SortStableFunc(pts, func(a, b xyw) int { return cmp.Compare(a.x, b.x) })
	var xs, ys, ws []float64
	for _, p := range pts {
		if n := len(xs); n > 0 && xs[n-1] == p.x {
			sw := ws[n-1] + p.w
			ys[n-1] = (ys[n-1]*ws[n-1] + p.y*p.w) / sw
			ws[n-1] = sw
			continue
		}
		xs, ys, ws = append(xs, p.x), append(ys, p.y), append(ws, p.w)
	}
	return Curve{X: xs, Y: PAVA(ys, ws), Points: len(pts)}
}

// EffectPoint is one intervention measured on one segment: the judged
// intent change (the persona-weighted mean over the segment's personas)
// and the measured uplift.
type EffectPoint struct {
	// Channel is the intervention's channel.
	Channel string `json:"channel"`
	// Segment is the segment the uplift was measured on.
	Segment string `json:"segment"`
	// Intent is the aggregate judged intent change, in [−1, 1].
	Intent float64 `json:"intent"`
	// Uplift is the measured effect, in the outcome's units.
	Uplift float64 `json:"uplift"`
	// Weight is the point's weight, e.g. the inverse variance of the
	// uplift estimate; not positive means 1.
	Weight float64 `json:"weight,omitempty"`
}

// Defaults of EffectMapConfig.
const (
	// DefaultMinCellPoints is the default minimum number of interventions
	// for a channel × segment curve.
	DefaultMinCellPoints = 8
	// DefaultMinChannelPoints is the default minimum number of
	// interventions (over all segments) for a channel curve.
	DefaultMinChannelPoints = 8
	// DefaultMinDistinctIntents is the default minimum number of distinct
	// intent values a curve needs at either level.
	DefaultMinDistinctIntents = 3
)

// EffectMapConfig holds the thresholds of the hierarchical fallback.
type EffectMapConfig struct {
	// MinCellPoints is the minimum number of interventions a channel ×
	// segment cell needs for its own curve. Default
	// DefaultMinCellPoints (8).
	MinCellPoints int `json:"min_cell_points"`
	// MinChannelPoints is the minimum number of interventions a channel
	// needs (pooled over segments) for its own curve. Default
	// DefaultMinChannelPoints (8).
	MinChannelPoints int `json:"min_channel_points"`
	// MinDistinctIntents is the minimum number of distinct intent values
	// a cell or channel needs, on top of the point count, so that a curve
	// is not a single flat step. Default DefaultMinDistinctIntents (3).
	MinDistinctIntents int `json:"min_distinct_intents"`
}

// EffectMap turns judged intent changes into uplift: a monotone curve per
// channel × segment where the cell has enough interventions, else per
// channel, else one curve pooled over everything. It is plain data and
// serializes to JSON.
type EffectMap struct {
	// Config holds the thresholds used, defaults filled in.
	Config EffectMapConfig `json:"config"`
	// Cells holds the channel × segment curves, keyed "channel/segment".
	Cells map[string]Curve `json:"cells"`
	// Channels holds the per-channel curves, keyed by channel.
	Channels map[string]Curve `json:"channels"`
	// Pooled is the curve over all points.
	Pooled Curve `json:"pooled"`
}

// Levels of the fallback, as returned by EffectMap.Level.
const (
	LevelCell    = "cell"
	LevelChannel = "channel"
	LevelPooled  = "pooled"
)

// ErrNoPoints is returned by FitEffectMap when there is nothing to fit.
var ErrNoPoints = errors.New("optimize: no effect points to fit")

func cellKey(channel, segment string) string { return channel + "/" + segment }

// FitEffectMap fits the intent-to-effect map: a pooled curve over all
// points (FitCurve), a curve for every channel with at least
// MinChannelPoints points and MinDistinctIntents distinct intents, and a
// curve for every channel × segment cell with at least MinCellPoints points
// and MinDistinctIntents distinct intents. It returns ErrNoPoints when
// points has no usable point.
func FitEffectMap(points []EffectPoint, cfg EffectMapConfig) (*EffectMap, error) {
	if cfg.MinCellPoints <= 0 {
		cfg.MinCellPoints = DefaultMinCellPoints
	}
	if cfg.MinChannelPoints <= 0 {
		cfg.MinChannelPoints = DefaultMinChannelPoints
	}
	if cfg.MinDistinctIntents <= 0 {
		cfg.MinDistinctIntents = DefaultMinDistinctIntents
	}
	m := &EffectMap{Config: cfg, Cells: map[string]Curve{}, Channels: map[string]Curve{}}
	m.Pooled = FitCurve(points)
	if m.Pooled.Points == 0 {
		return nil, fmt.Errorf("cannot fit the intent-to-effect map of %d points: %w", len(points), ErrNoPoints)
	}
	byCell := map[string][]EffectPoint{}
	byChannel := map[string][]EffectPoint{}
	for _, p := range points {
		byCell[cellKey(p.Channel, p.Segment)] = append(byCell[cellKey(p.Channel, p.Segment)], p)
		byChannel[p.Channel] = append(byChannel[p.Channel], p)
	}
	for k, ps := range byChannel {
		if c := FitCurve(ps); c.Points >= cfg.MinChannelPoints && len(c.X) >= cfg.MinDistinctIntents {
			m.Channels[k] = c
		}
	}
	for k, ps := range byCell {
		if c := FitCurve(ps); c.Points >= cfg.MinCellPoints && len(c.X) >= cfg.MinDistinctIntents {
			m.Cells[k] = c
		}
	}
	return m, nil
}

// Level returns which curve Map uses for channel and segment: LevelCell,
// LevelChannel or LevelPooled.
func (m *EffectMap) Level(channel, segment string) string {
	if _, ok := m.Cells[cellKey(channel, segment)]; ok {
		return LevelCell
	}
	if _, ok := m.Channels[channel]; ok {
		return LevelChannel
	}
	return LevelPooled
}

// Map returns the uplift the map predicts for an aggregate intent change on
// channel and segment, from the most specific curve available (see Level).
func (m *EffectMap) Map(channel, segment string, intent float64) (uplift float64) {
	if c, ok := m.Cells[cellKey(channel, segment)]; ok {
		return c.At(intent)
	}
	if c, ok := m.Channels[channel]; ok {
		return c.At(intent)
	}
	return m.Pooled.At(intent)
}
