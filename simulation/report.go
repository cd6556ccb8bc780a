package simulation

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/simulation/api"
)

// mcResult holds the Monte Carlo runs of one configuration.
type mcResult struct {
	// Totals per run.
	convRate, ctrlRate, uplift, revenue, revUplift, roi, unsubRate, cost []float64
	// incr is the incremental conversions, sends the messages delivered,
	// unsubs the people unsubscribed and n the population, per run.
	incr, sends, unsubs []float64
	n                   float64
	// seg[i][k] is target i's outcome in run k.
	seg [][]segResult
}

// monteCarlo runs cfg rq.runs times with draws from r.
func monteCarlo(ctx context.Context, rq *request, cfg *config, r *rand.Rand) (*mcResult, error) {
	n := rq.runs
	mc := &mcResult{
		convRate: make([]float64, n), ctrlRate: make([]float64, n), uplift: make([]float64, n),
		revenue: make([]float64, n), revUplift: make([]float64, n), roi: make([]float64, n),
		unsubRate: make([]float64, n), cost: make([]float64, n),
		incr: make([]float64, n), sends: make([]float64, n), unsubs: make([]float64, n),
		seg: make([][]segResult, len(rq.targets)),
	}
	for i := range mc.seg {
		mc.seg[i] = make([]segResult, n)
	}
	nc := len(rq.channels)
	sc := &scratch{u: make([]float64, nc), shift: make([]float64, nc)}
	out := make([]segResult, len(rq.targets))
	for k := range n {
		if k%16 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("simulation stopped after %d of %d Monte Carlo runs: %w", k, n, err)
			}
		}
		run(cfg.segs, cfg.sched, rq.days, r, sc, out, nil)
		var tot segResult
		for i, o := range out {
			mc.seg[i][k] = o
			tot = tot.add(o)
		}
		mc.convRate[k] = tot.conv / tot.n
		mc.ctrlRate[k] = tot.ctrl / tot.n
		mc.uplift[k] = (tot.conv - tot.ctrl) / tot.n
		mc.revenue[k] = tot.revenue
		mc.revUplift[k] = tot.revUplift
		mc.roi[k] = roi(tot.revUplift, tot.cost)
		mc.unsubRate[k] = tot.unsub / tot.n
		mc.cost[k] = tot.cost
		mc.incr[k] = tot.conv - tot.ctrl
		mc.sends[k] = tot.sends
		mc.unsubs[k] = tot.unsub
		mc.n = tot.n
	}
	return mc, nil
}

// mean returns the arithmetic mean of xs (0 for none).
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// quantile returns the q-quantile of xs by linear interpolation between
// order statistics (Hyndman & Fan 1996, type 7); 0 for no xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// interval is the central 95% interval of the runs.
func interval(xs []float64) api.Interval {
	return api.Interval{quantile(xs, 0.025), quantile(xs, 0.975)}
}

// riskLevel grades an unsubscribe rate of mean v and upper bound hi
// against limit.
func riskLevel(v, hi, limit float64) api.RiskLevel {
	switch {
	case v > limit:
		return api.RiskUnacceptable
	case hi > limit:
		return api.RiskElevated
	}
	return api.RiskAcceptable
}

// unsubscribeLimit is max_unsubscribe_rate, or, without one, the
// tenant's historical unsubscribe rate for the same sends: the
// population-weighted per-exposure rate of the target cells of the
// configuration's channels times the sends per persona.
func (e *Engine) unsubscribeLimit(rq *request, cfg *config) float64 {
	if k := rq.Constraints; k != nil && k.MaxUnsubscribeRate != nil {
		return *k.MaxUnsubscribeRate
	}
	var num, den float64
	for i, t := range rq.targets {
		for _, day := range cfg.sched {
			for _, s := range day {
				if p, ok := e.cells[t][rq.channels[s.ch]]; ok {
					num += rq.sizes[i] * p.unsub
				}
			}
		}
		den += rq.sizes[i]
	}
	return num / den
}

// report builds the predictions and insights of the chosen configuration.
func (e *Engine) report(rq *request, effects [][][][]segEffect, cfg *config, mc *mcResult) (*api.Predictions, []api.Insight) {
	pred := &api.Predictions{}
	eo := &pred.ExpectedOutcomes
	limit := e.unsubscribeLimit(rq, cfg)
	unsub := mean(mc.unsubRate)
	unsubHi := interval(mc.unsubRate)[1]
	for _, m := range rq.SuccessMetrics {
		switch m {
		case api.MetricConversionRate:
			eo.ConversionRate = &api.RateEstimate{Value: mean(mc.convRate), ConfidenceInterval: interval(mc.convRate), UpliftVsControl: mean(mc.uplift)}
		case api.MetricRevenueUplift:
			up := mean(mc.revUplift)
			eo.Revenue = &api.RevenueEstimate{Value: mean(mc.revenue), ConfidenceInterval: interval(mc.revenue), ROI: roi(up, mean(mc.cost)), UpliftVsControl: &up}
		case api.MetricUnsubscribeRate:
			eo.UnsubscribeRate = &api.UnsubscribeEstimate{Value: unsub, RiskLevel: riskLevel(unsub, unsubHi, limit)}
		case api.MetricCustomerLifetimeValue:
			eo.CustomerLifetimeValue = horizonValue(mc)
		default:
			if !m.IsCustom() {
				continue
			}
			if eo.CustomKPIs == nil {
				eo.CustomKPIs = map[string]api.RateEstimate{}
			}
			names := CustomKPIs
			if name, ok := strings.CutPrefix(string(m), api.CustomPrefix); ok {
				names = []string{name}
			}
			for _, name := range names {
				eo.CustomKPIs[api.CustomPrefix+name] = customKPI(mc, name)
			}
		}
	}
	if cfg.feasible {
		oc := &api.OptimalConfiguration{
			Timing:         rq.timings[cfg.timing].Label,
			ContentVariant: rq.Intervention.ContentVariants[cfg.variant].ID,
			ExpectedUplift: mean(mc.uplift),
		}
		for _, c := range cfg.chans {
			oc.Channels = append(oc.Channels, api.Channel(rq.channels[c]))
		}
		pred.OptimalConfiguration = oc
	}
	totalRevenue := mean(mc.revenue)
	insights := []api.Insight{}
	for i, t := range rq.targets {
		rs := mc.seg[i]
		rate := make([]float64, len(rs))
		up := make([]float64, len(rs))
		var rev, unsubS float64
		positive := 0
		for k, o := range rs {
			rate[k] = o.conv / max(o.n, 1)
			up[k] = (o.conv - o.ctrl) / max(o.n, 1)
			rev += o.revenue
			unsubS += o.unsub / max(o.n, 1)
			if o.conv > o.ctrl {
				positive++
			}
		}
		rev /= float64(len(rs))
		unsubS /= float64(len(rs))
		row := api.SegmentOutcome{Segment: e.segments[t], ResponseRate: mean(rate), Size: int(rq.sizes[i]),
			ResponseRateInterval: interval(rate), UpliftVsControl: mean(up), UpliftInterval: interval(up),
			Revenue: rev, UnsubscribeRate: unsubS}
		if totalRevenue > 0 {
			row.RevenueContribution = rev / totalRevenue
		}
		row.RiskFactors = e.riskFactors(rq, cfg, i, mean(up), interval(up), unsubS, limit)
		pred.SegmentBreakdown = append(pred.SegmentBreakdown, row)
		if in, ok := e.segmentInsight(rq, effects, cfg, i, mean(up), float64(positive)/float64(len(rs))); ok {
			insights = append(insights, in)
		}
	}
	if f := rq.TargetPopulation.Filters; f != nil && (f.MinTenureDays != nil || f.MaxFrequencyLast30d != nil) {
		insights = append(insights, api.Insight{
			Finding:        "The population filters (min_tenure_days, max_frequency_last_30d) were not applied: the calibration measures whole segments and has no per-customer tenure or recent-frequency distribution to restrict them by.",
			Confidence:     1,
			Recommendation: "Define the filtered audience as a segment in the CRM's segment events, so that it is calibrated and can be targeted by name.",
		})
	}
	if !cfg.feasible && rq.Constraints != nil {
		insights = append(insights, api.Insight{
			Finding:        "No configuration of channels, content variant and timing meets all the constraints; the outcomes shown are of the configuration with the best objective.",
			Confidence:     0.9,
			Recommendation: "Relax max_budget, max_unsubscribe_rate or min_roi, or lower the frequency cap.",
		})
	}
	if eo.UnsubscribeRate != nil && eo.UnsubscribeRate.RiskLevel != api.RiskAcceptable {
		insights = append(insights, api.Insight{
			Finding:        fmt.Sprintf("The predicted unsubscribe rate %.4f is %s against the limit %.4f.", unsub, eo.UnsubscribeRate.RiskLevel, limit),
			Confidence:     fractionAbove(mc.unsubRate, limit),
			Recommendation: "Lower the frequency cap or the cadence, or leave out the most fatigued segments.",
		})
	}
	return pred, insights
}

// fractionAbove is the share of xs above limit.
func fractionAbove(xs []float64, limit float64) float64 {
	n := 0
	for _, x := range xs {
		if x > limit {
			n++
		}
	}
	return float64(n) / float64(max(len(xs), 1))
}

// riskFactors names the risks of target i under cfg: "negative_response"
// when its mean uplift is negative, "uncertain_response" when its
// interval straddles 0, "fatigue" when its unsubscribe rate exceeds the
// limit or its last send's hazard is more than twice its first's,
// "saturation" when a channel sends three times or more (each further send
// adds at most a quarter of the first's uplift) or its planned daily spend
// exceeds the largest the marketing-mix model saw.
func (e *Engine) riskFactors(rq *request, cfg *config, i int, up float64, iv api.Interval, unsub, limit float64) []string {
	var out []string
	switch {
	case up < 0:
		out = append(out, "negative_response")
	case iv[0] <= 0 && iv[1] >= 0:
		out = append(out, "uncertain_response")
	}
	fatigue := unsub > limit
	saturation := false
	for _, c := range cfg.chans {
		ci := cfg.segs[i].ch[c]
		if !ci.ok {
			continue
		}
		if n := len(ci.logitHaz); n > 1 && sigmoid(ci.logitHaz[n-1]) > 2*sigmoid(ci.logitHaz[0]) {
			fatigue = true
		}
		if len(ci.logitHaz) >= 3 || cfg.saturated[c] {
			saturation = true
		}
	}
	if fatigue {
		out = append(out, "fatigue")
	}
	if saturation {
		out = append(out, "saturation")
	}
	return out
}

// segmentInsight states which driver target i responds to on its best
// channel of cfg, with the personas' rationales. Its confidence is the
// share of runs in which the segment's conversions moved in the direction
// of its mean uplift up. It reports false when no persona of the segment
// was judged.
func (e *Engine) segmentInsight(rq *request, effects [][][][]segEffect, cfg *config, i int, up, positive float64) (api.Insight, bool) {
	best, bestU := -1, math.Inf(-1)
	for _, c := range cfg.chans {
		ef := effects[cfg.variant][cfg.timing][c][i]
		if ef.judged > 0 && ef.uplift > bestU {
			best, bestU = c, ef.uplift
		}
	}
	if best < 0 {
		return api.Insight{}, false
	}
	ef := effects[cfg.variant][cfg.timing][best][i]
	// For a positive response the driver that lifts it most; for a
	// negative one the driver that drags it most.
	driver, effect := "", 0.0
	for _, f := range persona.Drivers {
		v, ok := ef.drivers[f]
		if !ok {
			continue
		}
		if up < 0 && v < 0 && (driver == "" || v < effect) || up >= 0 && v > 0 && (driver == "" || v > effect) {
			driver, effect = f, v
		}
	}
	seg := e.segments[rq.targets[i]]
	variant := rq.Intervention.ContentVariants[cfg.variant].ID
	conf := positive
	if up < 0 {
		conf = 1 - positive
	}
	in := api.Insight{PersonaRationales: ef.rationales, Confidence: conf}
	switch {
	case driver == "":
		in.Finding = fmt.Sprintf("Segment %s shows no clear driver for variant %s on %s; its predicted uplift is %+.2f percentage points.", seg, variant, rq.channels[best], 100*up)
		in.Recommendation = "Test a variant with a clearer offer or more relevant content for this segment."
	case up < 0:
		in.Finding = fmt.Sprintf("Segment %s responds negatively (%+.2f percentage points), driven mostly by %s (mean effect %+.2f) on %s.", seg, 100*up, driver, effect, rq.channels[best])
		in.Recommendation = fmt.Sprintf("Leave segment %s out of variant %s, or address %s.", seg, variant, driver)
	default:
		in.Finding = fmt.Sprintf("Segment %s responds most to %s (mean effect %+.2f) on %s, for an uplift of %+.2f percentage points.", seg, driver, effect, rq.channels[best], 100*up)
		in.Recommendation = fmt.Sprintf("Lead with %s for segment %s and prefer %s.", driver, seg, rq.channels[best])
	}
	return in, true
}

// CustomKPIs are the custom KPIs the engine computes, requested as
// "custom:<name>"; "custom_kpi" asks for all of them. Each is a total over
// the horizon and the target population, with its 95% interval over the
// Monte Carlo runs, and uplift_vs_control the same total minus the control
// arm's (which sends nothing and spends nothing):
//
//   - incremental_conversions: treated minus control conversions.
//   - cost: the spend on delivered messages.
//   - profit: incremental revenue minus cost.
//   - messages_delivered: the sends that reached a subscribed person.
//   - unsubscribes: the people who unsubscribed.
//   - revenue_per_customer: revenue per person of the target population.
var CustomKPIs = []string{"incremental_conversions", "cost", "profit", "messages_delivered", "unsubscribes", "revenue_per_customer"}

// customKPI estimates the custom KPI name (one of CustomKPIs) from the runs.
func customKPI(mc *mcResult, name string) api.RateEstimate {
	var xs, up []float64
	switch name {
	case "incremental_conversions":
		xs, up = mc.incr, mc.incr
	case "cost":
		xs, up = mc.cost, mc.cost
	case "profit":
		xs = make([]float64, len(mc.cost))
		for k := range xs {
			xs[k] = mc.revUplift[k] - mc.cost[k]
		}
		up = xs
	case "messages_delivered":
		xs, up = mc.sends, mc.sends
	case "unsubscribes":
		xs, up = mc.unsubs, mc.unsubs
	case "revenue_per_customer":
		xs, up = perCustomer(mc.revenue, mc.n), perCustomer(mc.revUplift, mc.n)
	}
	return api.RateEstimate{Value: mean(xs), ConfidenceInterval: interval(xs), UpliftVsControl: mean(up)}
}

// horizonValue is customer_lifetime_value as the engine can measure it: the
// revenue per targeted customer over the horizon (value and interval) and
// the incremental revenue per customer net of the spend per customer
// (uplift_vs_control). It does not extrapolate past the horizon: the
// calibration has no retention model to do so with.
func horizonValue(mc *mcResult) *api.RateEstimate {
	net := make([]float64, len(mc.revUplift))
	for k := range net {
		net[k] = mc.revUplift[k] - mc.cost[k]
	}
	v := perCustomer(mc.revenue, mc.n)
	return &api.RateEstimate{Value: mean(v), ConfidenceInterval: interval(v), UpliftVsControl: mean(perCustomer(net, mc.n))}
}

func perCustomer(xs []float64, n float64) []float64 {
	out := make([]float64, len(xs))
	if n > 0 {
		for k, x := range xs {
			out[k] = x / n
		}
	}
	return out
}
