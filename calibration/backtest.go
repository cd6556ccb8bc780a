package calibration

import (
	"math"
	"slices"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Backtest metric names, the keys of Quality.Backtests.
const (
	MetricConversionRate  = "conversion_rate"
	MetricRevenue         = "revenue"
	MetricUnsubscribeRate = "unsubscribe_rate"
)

// MinBacktestExposures is the fewest treated exposures an actual cell needs
// to enter a backtest or a residual: below it a cell's observed rate is
// mostly sampling noise.
const MinBacktestExposures = 50

// Residual is one standardized residual of the live calibration: the
// observed minus the predicted treated conversion rate of one segment ×
// channel on one exposure day, divided by the predictive standard deviation
// (the prediction's standard error, the between-campaign heterogeneity and
// the binomial noise of N exposures). Without drift it is roughly standard
// normal.
type Residual struct {
	SegmentID string
	Channel   string
	Day       time.Time
	Value     float64
	// N is the number of treated exposures behind the observed rate.
	N uint64
	// Observed and Predicted are the rates the residual compares.
	Observed, Predicted float64
}

// predIndex finds the prediction for an observed cell: the cell of the same
// segment, channel and intervention, else the segment × channel cell that
// pools every intervention.
type predIndex map[[3]string]*Cell

func newPredIndex(pred []Cell) predIndex {
	idx := predIndex{}
	for i := range pred {
		p := &pred[i]
		if !p.Day.IsZero() {
			continue
		}
		idx[[3]string{p.SegmentID, p.Channel, p.InterventionID}] = p
	}
	return idx
}

func (idx predIndex) find(a Cell) *Cell {
	if a.InterventionID != "" {
		if p := idx[[3]string{a.SegmentID, a.Channel, a.InterventionID}]; p != nil {
			return p
		}
	}
	return idx[[3]string{a.SegmentID, a.Channel, ""}]
}

// conversionPrediction returns a cell's predicted treated conversion rate
// and the variance of that prediction for a new campaign (estimation
// variance plus between-campaign heterogeneity), without the new
// campaign's own sampling noise.
func conversionPrediction(p *Cell) (rate, variance float64) {
	rate = p.ConversionRate
	if p.TreatedExposures == 0 {
		rate = p.BaseRate + p.Uplift
	}
	return rate, p.ConversionRateSE*p.ConversionRateSE + p.Heterogeneity*p.Heterogeneity
}

// unsubscribePrediction returns a cell's predicted unsubscribe rate for a
// campaign whose treated exposures have mean frequency freq (0: unknown,
// the cell's own) and the variance of that prediction: the cell's rate
// moved along its frequency slope on the logit scale (delta method).
func unsubscribePrediction(p *Cell, freq float64) (rate, variance float64) {
	q := p.UnsubscribeRate
	np := math.Max(float64(p.TreatedExposures), 1)
	variance = q * (1 - q) / np
	if freq <= 0 || p.MeanFrequency <= 0 || p.UnsubscribeFrequencySlope == 0 || q <= 0 || q >= 1 {
		return q, variance
	}
	d := freq - p.MeanFrequency
	r := 1 / (1 + math.Exp(-(math.Log(q/(1-q)) + p.UnsubscribeFrequencySlope*d)))
	g := r * (1 - r) // dσ/dη
	lv := variance/(q*q*(1-q)*(1-q)) + p.UnsubscribeFrequencySlopeSE*p.UnsubscribeFrequencySlopeSE*d*d
	return r, g * g * lv
}

// BacktestCells compares predictions with what happened. pred are cells of
// a snapshot fitted without the held-out interventions; actual are the
// observed cells of those interventions (BuildCells with
// Grouping{Intervention: true}). Each actual cell with at least
// MinBacktestExposures treated exposures is predicted by the pred cell of
// the same segment, channel and intervention, else of the same segment and
// channel pooled over interventions. It returns, per metric
// (MetricConversionRate: treated conversion rate; MetricRevenue: revenue
// per treated exposure; MetricUnsubscribeRate: unsubscribes per treated
// exposure, moved along the pred cell's frequency slope to the actual
// cell's mean frequency), the number of cells compared, the Pearson correlation of
// predicted and actual values, the mean absolute percentage error over
// cells whose actual value is not 0, and the share of actual values inside
// the predictive interval at level (prediction variance plus the actual
// cell's sampling variance). Metrics without a comparable cell are absent.
func BacktestCells(pred []Cell, actual []Cell, level float64) map[string]Backtest {
	if !(level > 0 && level < 1) {
		level = DefaultLevel
	}
	z := distuv.UnitNormal.Quantile(1 - (1-level)/2)
	idx := newPredIndex(pred)
	type acc struct {
		p, a        []float64
		ape         []float64
		inside, all int
	}
	accs := map[string]*acc{}
	add := func(metric string, p, a, sd float64) {
		if math.IsNaN(p) || math.IsNaN(a) {
			return
		}
		m := accs[metric]
		if m == nil {
			m = &acc{}
			accs[metric] = m
		}
		m.p = append(m.p, p)
		m.a = append(m.a, a)
		if a != 0 {
			m.ape = append(m.ape, math.Abs(a-p)/math.Abs(a))
		}
		m.all++
		if math.Abs(a-p) <= z*sd {
			m.inside++
		}
	}
	for _, a := range actual {
		if a.TreatedExposures < MinBacktestExposures {
			continue
		}
		p := idx.find(a)
		if p == nil || p.TreatedExposures == 0 {
			continue
		}
		na, np := float64(a.TreatedExposures), float64(p.TreatedExposures)

		cr, cv := conversionPrediction(p)
		add(MetricConversionRate, cr, a.ConversionRate, math.Sqrt(cv+cr*(1-cr)/na))

		// Revenue per exposure: a purchase-probability × value mixture
		// with per-exposure variance pc·(sd² + μ²) − (pc·μ)².
		mu, sdv := p.RevenuePerConversion, p.RevenuePerConversionSD
		perExp := math.Max(cr*(sdv*sdv+mu*mu)-cr*cr*mu*mu, 0)
		rv := perExp/np + perExp/na + p.Heterogeneity*p.Heterogeneity*mu*mu
		add(MetricRevenue, p.RevenuePerExposure, a.RevenuePerExposure, math.Sqrt(rv))

		q, qv := unsubscribePrediction(p, a.MeanFrequency)
		add(MetricUnsubscribeRate, q, a.UnsubscribeRate, math.Sqrt(qv+q*(1-q)/na))
	}
	out := make(map[string]Backtest, len(accs))
	for metric, m := range accs {
		b := Backtest{N: m.all}
		if m.all > 0 {
			b.Coverage = float64(m.inside) / float64(m.all)
		}
		if len(m.ape) > 0 {
			b.MAPE = stat.Mean(m.ape, nil)
		}
		if len(m.p) > 1 && stat.StdDev(m.p, nil) > 0 && stat.StdDev(m.a, nil) > 0 {
			b.Correlation = stat.Correlation(m.p, m.a, nil)
		}
		out[metric] = b
	}
	return out
}

// Residuals returns the standardized residuals of s's treated conversion
// rate against actual, one per actual cell with at least
// MinBacktestExposures treated exposures and a segment × channel
// prediction in s. actual are normally per-day cells (BuildCells or Observe
// with Grouping{Day: true}), which gives one value per segment × channel
// per day; the result is sorted by day, segment and channel.
func Residuals(s *Snapshot, actual []Cell) []Residual {
	if s == nil {
		return nil
	}
	idx := newPredIndex(s.Cells)
	var out []Residual
	for _, a := range actual {
		if a.TreatedExposures < MinBacktestExposures {
			continue
		}
		p := idx[[3]string{a.SegmentID, a.Channel, ""}]
		if p == nil || p.TreatedExposures == 0 {
			continue
		}
		cr, cv := conversionPrediction(p)
		n := float64(a.TreatedExposures)
		sd := math.Sqrt(cv + math.Max(cr*(1-cr), 1/n)/n)
		out = append(out, Residual{
			SegmentID: a.SegmentID, Channel: a.Channel, Day: a.Day,
			Value: (a.ConversionRate - cr) / sd, N: a.TreatedExposures,
			Observed: a.ConversionRate, Predicted: cr,
		})
	}
	slices.SortStableFunc(out, func(x, y Residual) int {
		if c := x.Day.Compare(y.Day); c != 0 {
			return c
		}
		if x.SegmentID != y.SegmentID {
			if x.SegmentID < y.SegmentID {
				return -1
			}
			return 1
		}
		if x.Channel < y.Channel {
			return -1
		}
		if x.Channel > y.Channel {
			return 1
		}
		return 0
	})
	return out
}
