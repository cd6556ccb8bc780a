package calibration

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/warehouse"
)

// Outcome types the cells are built from.
const (
	outcomePurchase    = "purchase"
	outcomeUnsubscribe = "unsubscribe"
)

// Grouping says which keys of the daily moments cells are split by, on top
// of segment × channel.
type Grouping struct {
	// Intervention splits cells by intervention (InterventionID is set).
	Intervention bool
	// Day splits cells by exposure day (Day is set).
	Day bool
}

// cellKey identifies one output cell.
type cellKey struct {
	day                     time.Time
	segment, channel, inter string
}

// stratum is one campaign × arm-pair inside a cell: the unit of
// randomization. Rates are estimated per stratum and combined with
// stratum-size weights, so cells that pool campaigns of different sizes and
// base rates stay unbiased for the size-weighted effect.
type stratum struct {
	campaign string
	// Exposures, distinct exposed entities, purchasers and unsubscribes
	// per arm (index 0 control, 1 treatment).
	exposures [2]uint64
	entities  [2]uint64
	buyers    [2]uint64
	unsubs    [2]uint64
	// Treated purchase events and their value moments.
	purchases         uint64
	valueSum, valueSq float64
	cost              float64
	// freqSum is the treated exposures' Σ frequency_cumulative.
	freqSum uint64
}

func armIndex(arm string) (int, bool) {
	switch arm {
	case schemas.ArmControl:
		return 0, true
	case schemas.ArmTreatment:
		return 1, true
	}
	return 0, false
}

// BuildCells turns daily exposure and outcome moments into cells, one per
// segment × channel (× intervention and × day as g asks), sorted by day,
// segment, channel and intervention.
//
// Rates are per assignment: a purchase rate is the number of distinct
// entities with at least one purchase attributed to the campaign, divided by
// the distinct entities exposed (or held out) by it, summed over the cell's
// campaigns. This is the definition of synth's Truth ("mean purchase
// probability over the entities assigned to the arm"), because synth
// exposes an entity at most once per campaign. Within a cell, each campaign
// is a randomization stratum: the base rate and uplift are the
// stratum-size-weighted means of the per-campaign control rate and
// treatment − control difference (the post-stratified difference in means,
// which is also the AIPW estimator with a saturated outcome model and the
// known assignment probability of each stratum), with the conservative
// Neyman variance Σ w²(p̂₁(1−p̂₁)/n₁ + p̂₀(1−p̂₀)/n₀) and a normal interval at
// level. Campaigns lacking one arm inform the rates of the arm they have but
// not the uplift.
//
// RevenuePerConversion is the mean and sd of the value of treated purchase
// events; UnsubscribeRate is unsubscribe events per treated exposure;
// CostPerExposure is the treated arm's cost per exposure.
func BuildCells(em []warehouse.ExposureMoment, om []warehouse.OutcomeMoment, g Grouping, level float64) []Cell {
	if !(level > 0 && level < 1) {
		level = DefaultLevel
	}
	key := func(k warehouse.MomentKey) cellKey {
		ck := cellKey{segment: k.SegmentID, channel: k.Channel}
		if g.Intervention {
			ck.inter = k.InterventionID
		}
		if g.Day {
			ck.day = k.Day.UTC()
		}
		return ck
	}
	type campaignKey struct {
		cell     cellKey
		campaign string
	}
	strata := map[campaignKey]*stratum{}
	get := func(k warehouse.MomentKey) *stratum {
		ck := campaignKey{key(k), k.CampaignID}
		s := strata[ck]
		if s == nil {
			s = &stratum{campaign: k.CampaignID}
			strata[ck] = s
		}
		return s
	}
	for _, m := range em {
		a, ok := armIndex(m.Arm)
		if !ok {
			continue
		}
		s := get(m.MomentKey)
		s.exposures[a] += m.Exposures
		s.entities[a] += m.Entities
		if a == 1 {
			s.cost += m.Cost
			s.freqSum += m.FreqSum
		}
	}
	for _, m := range om {
		a, ok := armIndex(m.Arm)
		if !ok {
			continue
		}
		ck := campaignKey{key(m.MomentKey), m.CampaignID}
		s := strata[ck]
		if s == nil {
			continue // outcomes without exposures in range
		}
		switch m.OutcomeType {
		case outcomePurchase:
			s.buyers[a] += m.Entities
			if a == 1 {
				s.purchases += m.Outcomes
				s.valueSum += m.ValueSum
				s.valueSq += m.ValueSumSq
			}
		case outcomeUnsubscribe:
			s.unsubs[a] += m.Outcomes
		}
	}
	byCell := map[cellKey][]*stratum{}
	for ck, s := range strata {
		byCell[ck.cell] = append(byCell[ck.cell], s)
	}
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	out := make([]Cell, 0, len(byCell))
	// The unsubscribe frequency slope is shared by the segments of a
	// channel (and day and intervention, when cells are split by them):
	// a fixed-effects fit that centres each cell's campaigns on the cell's
	// own means.
	type slopeKey struct {
		day            time.Time
		channel, inter string
	}
	slopes := map[slopeKey]*slopeAcc{}
	// In a fixed order, so that the slopes' sums do not depend on map
	// iteration (the snapshot is the same for the same moments).
	keys := slices.SortedFunc(maps.Keys(byCell), func(a, b cellKey) int {
		return cmp.Or(a.day.Compare(b.day), cmp.Compare(a.segment, b.segment), cmp.Compare(a.channel, b.channel), cmp.Compare(a.inter, b.inter))
	})
	for _, ck := range keys {
		ss := byCell[ck]
		slices.SortFunc(ss, func(a, b *stratum) int { return cmp.Compare(a.campaign, b.campaign) })
		c, pts := cellFromStrata(ss, z)
		c.SegmentID, c.Channel, c.InterventionID, c.Day = ck.segment, ck.channel, ck.inter, ck.day
		out = append(out, c)
		sk := slopeKey{ck.day, ck.channel, ck.inter}
		if slopes[sk] == nil {
			slopes[sk] = &slopeAcc{}
		}
		slopes[sk].add(pts)
	}
	for i := range out {
		c := &out[i]
		c.UnsubscribeFrequencySlope, c.UnsubscribeFrequencySlopeSE = slopes[slopeKey{c.Day, c.Channel, c.InterventionID}].result()
	}
	slices.SortFunc(out, func(a, b Cell) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.SegmentID, b.SegmentID), cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.InterventionID, b.InterventionID))
	})
	return out
}

// cellFromStrata combines the strata of one cell; z is the normal quantile
// of the interval.
func cellFromStrata(ss []*stratum, z float64) (Cell, []slopePoint) {
	var c Cell
	var (
		// Base rate: Σ n p̂₀ / Σ n over strata with a control arm.
		baseW, baseSum, baseVar float64
		// Uplift: strata with both arms.
		upW, upSum, upVar float64
		// Treated rate and its DerSimonian–Laird heterogeneity.
		trW, trSum, trVar float64
		ys, vs            []float64
		value, valueSq    float64
		cost              float64
		freqSum           uint64
		// Per stratum: mean treated frequency, empirical logit of the
		// unsubscribe rate and its inverse variance.
		pts []slopePoint
	)
	for _, s := range ss {
		n0, n1 := float64(s.entities[0]), float64(s.entities[1])
		n := n0 + n1
		c.Exposures += s.exposures[0] + s.exposures[1]
		c.ControlExposures += s.exposures[0]
		c.TreatedExposures += s.exposures[1]
		c.ControlConversions += s.buyers[0]
		c.Conversions += s.buyers[1]
		c.Purchases += s.purchases
		c.Unsubscribes += s.unsubs[1]
		value += s.valueSum
		valueSq += s.valueSq
		cost += s.cost
		freqSum += s.freqSum
		c.Campaigns++
		if e := float64(s.exposures[1]); e > 0 && s.freqSum > 0 {
			u := float64(min(s.unsubs[1], s.exposures[1]))
			pts = append(pts, slopePoint{
				x: float64(s.freqSum) / e,
				y: math.Log((u + 0.5) / (e - u + 0.5)),
				w: 1 / (1/(u+0.5) + 1/(e-u+0.5)),
			})
		}
		var p0, p1, v0, v1 float64
		if n0 > 0 {
			p0 = min(float64(s.buyers[0])/n0, 1)
			v0 = p0 * (1 - p0) / n0
			baseW += n
			baseSum += n * p0
			baseVar += n * n * v0
		}
		if n1 > 0 {
			p1 = min(float64(s.buyers[1])/n1, 1)
			v1 = p1 * (1 - p1) / n1
			trW += n
			trSum += n * p1
			trVar += n * n * v1
			ys = append(ys, p1)
			vs = append(vs, math.Max(v1, 0.25/(n1*n1)))
		}
		if n0 > 0 && n1 > 0 {
			upW += n
			upSum += n * (p1 - p0)
			upVar += n * n * (v0 + v1)
		}
	}
	if baseW > 0 {
		c.BaseRate = baseSum / baseW
		c.BaseRateSE = math.Sqrt(baseVar) / baseW
	}
	if trW > 0 {
		c.ConversionRate = trSum / trW
		c.ConversionRateSE = math.Sqrt(trVar) / trW
		c.Heterogeneity = dersimonianLaird(ys, vs)
	}
	if upW > 0 {
		c.Uplift = upSum / upW
		c.UpliftSE = math.Sqrt(upVar) / upW
		c.UpliftLo = c.Uplift - z*c.UpliftSE
		c.UpliftHi = c.Uplift + z*c.UpliftSE
	} else if trW > 0 && baseW > 0 {
		// No stratum has both arms: the unadjusted difference, with
		// the sum of the arms' variances.
		c.Uplift = c.ConversionRate - c.BaseRate
		c.UpliftSE = math.Hypot(c.ConversionRateSE, c.BaseRateSE)
		c.UpliftLo = c.Uplift - z*c.UpliftSE
		c.UpliftHi = c.Uplift + z*c.UpliftSE
	}
	if c.Purchases > 0 {
		n := float64(c.Purchases)
		c.RevenuePerConversion = value / n
		if c.Purchases > 1 {
			c.RevenuePerConversionSD = math.Sqrt(math.Max(valueSq-value*value/n, 0) / (n - 1))
		}
	}
	if c.TreatedExposures > 0 {
		t := float64(c.TreatedExposures)
		c.UnsubscribeRate = float64(c.Unsubscribes) / t
		c.CostPerExposure = cost / t
		c.RevenuePerExposure = value / t
		c.MeanFrequency = float64(freqSum) / t
	}
	return c, pts
}

// slopePoint is one campaign of a cell: its treated mean frequency x, the
// empirical logit y of its unsubscribe rate and the inverse variance w.
type slopePoint struct{ x, y, w float64 }

// slopeAcc accumulates the within-cell weighted least-squares fit of y on x
// over several cells.
type slopeAcc struct {
	sxx, sxy float64
	n        int
}

// add adds one cell's points, centred on their weighted means.
func (a *slopeAcc) add(pts []slopePoint) {
	if len(pts) < 2 {
		return
	}
	var sw, swx, swy float64
	for _, p := range pts {
		sw += p.w
		swx += p.w * p.x
		swy += p.w * p.y
	}
	mx, my := swx/sw, swy/sw
	for _, p := range pts {
		a.sxx += p.w * (p.x - mx) * (p.x - mx)
		a.sxy += p.w * (p.x - mx) * (p.y - my)
	}
	a.n += len(pts) - 1
}

// result returns the slope and its standard error; 0, 0 with fewer than
// two degrees of freedom or no spread in frequency.
func (a *slopeAcc) result() (slope, se float64) {
	if a == nil || a.n < 2 || a.sxx < 1e-9 {
		return 0, 0
	}
	return a.sxy / a.sxx, math.Sqrt(1 / a.sxx)
}

// dersimonianLaird returns the method-of-moments estimate of the
// between-stratum standard deviation τ of the true rates ys with sampling
// variances vs (DerSimonian & Laird 1986); 0 with fewer than two strata.
func dersimonianLaird(ys, vs []float64) float64 {
	k := len(ys)
	if k < 2 {
		return 0
	}
	var sw, sw2, swy float64
	for i := range ys {
		w := 1 / vs[i]
		sw += w
		sw2 += w * w
		swy += w * ys[i]
	}
	mean := swy / sw
	var q float64
	for i := range ys {
		d := ys[i] - mean
		q += d * d / vs[i]
	}
	den := sw - sw2/sw
	if den <= 0 {
		return 0
	}
	return math.Sqrt(math.Max(0, (q-float64(k-1))/den))
}

// Observe reads the stored daily moments of the exposure days in [from, to]
// (inclusive UTC days, zero = unbounded) from wh and builds cells split as g
// asks (see BuildCells). It does not refresh the moments.
func Observe(ctx context.Context, wh warehouse.Warehouse, from, to time.Time, g Grouping, level float64) ([]Cell, error) {
	em, om, err := readMoments(ctx, wh, warehouse.MomentFilter{From: from, To: to})
	if err != nil {
		return nil, err
	}
	return BuildCells(em, om, g, level), nil
}

// readMoments reads the exposure and outcome moments that f selects.
func readMoments(ctx context.Context, wh warehouse.Warehouse, f warehouse.MomentFilter) ([]warehouse.ExposureMoment, []warehouse.OutcomeMoment, error) {
	em, err := wh.ExposureMoments(ctx, f)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read exposure moments: %w", err)
	}
	om, err := wh.OutcomeMoments(ctx, f)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read outcome moments: %w", err)
	}
	// ClickHouse adds floats in whatever order its threads and parts give,
	// so the same events can sum to values a few ulps apart, and the
	// marketing-mix sampler and the persona re-weighting amplify such
	// differences. Rounded to 12 significant digits, the same events give
	// the same snapshot.
	for i := range em {
		em[i].Cost = round12(em[i].Cost)
	}
	for i := range om {
		om[i].ValueSum, om[i].ValueSumSq = round12(om[i].ValueSum), round12(om[i].ValueSumSq)
	}
	return em, om, nil
}

// round12 rounds x to 12 significant digits.
func round12(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	v, err := strconv.ParseFloat(strconv.FormatFloat(x, 'g', 12, 64), 64)
	if err != nil {
		return x
	}
	return v
}
