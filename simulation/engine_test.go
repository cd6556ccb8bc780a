package simulation

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/causal/hazard"
	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/optimize"
	"github.com/preflight-hq/preflight/simulation/api"
)

// testSnapshot has two segments, a (3000 exposures) and b (1000), on
// email and sms, with no personas, hazard model or effect map: every
// expectation follows from the cells by hand.
func testSnapshot() *calibration.Snapshot {
	cell := func(seg, ch string, base, up, rpc, cpe, unsub float64, exp uint64) calibration.Cell {
		return calibration.Cell{
			SegmentID: seg, Channel: ch, Exposures: exp, BaseRate: base,
			Uplift: up, UpliftLo: up * 0.8, UpliftHi: up * 1.2,
			RevenuePerConversion: rpc, CostPerExposure: cpe, UnsubscribeRate: unsub,
		}
	}
	return &calibration.Snapshot{
		Schema: calibration.SnapshotSchema, Scope: "test", Version: 1,
		Cells: []calibration.Cell{
			cell("a", "email", 0.02, 0.01, 50, 0.01, 0.001, 1500),
			cell("a", "sms", 0.02, 0.02, 50, 0.05, 0.003, 1500),
			cell("b", "email", 0.04, 0.005, 100, 0.01, 0.002, 500),
			cell("b", "sms", 0.04, 0.01, 100, 0.05, 0.004, 500),
		},
		Quality: calibration.Quality{HistoricalAccuracy: 0.87, LastCalibration: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
	}
}

// testRequest is a campaign on channels to segments a and b of 100,000
// people over 30 days.
func testRequest(kind api.InterventionType, channels ...api.Channel) api.SimulateRequest {
	return api.SimulateRequest{
		IndustryContext: api.IndustryRetail,
		Intervention: &api.Intervention{
			Type: kind, Channels: channels,
			ContentVariants: []api.ContentVariant{{ID: "v1", Template: "New arrivals for {{first_name}}"}},
		},
		TargetPopulation: &api.TargetPopulation{SelectionMethod: api.SelectSegment, Segments: []string{"a", "b"}, Size: 100_000},
		SimulationParams: &api.SimulationParams{NumPersonas: new(50), TimeHorizonDays: new(30), MonteCarloRuns: new(400)},
	}
}

func newEngine(t testing.TB, snap *calibration.Snapshot) *Engine {
	t.Helper()
	e, err := NewEngine(snap, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func simulate(t testing.TB, e *Engine, req api.SimulateRequest, seed uint64) api.SimulateResponse {
	t.Helper()
	resp, err := e.Simulate(context.Background(), req, seed)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != api.StatusCompleted {
		t.Fatalf("status %s", resp.Status)
	}
	return resp
}

func near(t *testing.T, name string, got, want, relTol float64) {
	t.Helper()
	if math.Abs(got-want) > relTol*math.Abs(want) {
		t.Errorf("%s = %.6g, want %.6g within %.1f%%", name, got, want, 100*relTol)
	}
}

func covers(t *testing.T, name string, iv api.Interval, want float64) {
	t.Helper()
	if !(iv[0] <= want && want <= iv[1]) {
		t.Errorf("%s interval [%.6g, %.6g] does not cover %.6g", name, iv[0], iv[1], want)
	}
}

// TestHandComputed checks a one-send email campaign against expectations
// computed by hand: segment a is 75,000 people (b 0.02, u 0.01, 50 per
// conversion), b 25,000 (b 0.04, u 0.005, 100), one send at 0.01 each.
func TestHandComputed(t *testing.T) {
	e := newEngine(t, testSnapshot())
	resp := simulate(t, e, testRequest(api.InterventionCampaign, api.ChannelEmail), 7)
	eo := resp.Predictions.ExpectedOutcomes

	const (
		conv      = 0.75*0.03 + 0.25*0.045          // 0.03375
		uplift    = 0.75*0.01 + 0.25*0.005          // 0.00875
		revenue   = 75000*0.03*50 + 25000*0.045*100 // 225,000
		revUplift = 75000*0.01*50 + 25000*0.005*100 // 50,000
		cost      = 100000 * 0.01
		unsub     = 0.75*0.001 + 0.25*0.002
	)
	near(t, "conversion rate", eo.ConversionRate.Value, conv, 0.02)
	covers(t, "conversion rate", eo.ConversionRate.ConfidenceInterval, conv)
	near(t, "uplift", eo.ConversionRate.UpliftVsControl, uplift, 0.03)
	near(t, "revenue", eo.Revenue.Value, revenue, 0.02)
	covers(t, "revenue", eo.Revenue.ConfidenceInterval, revenue)
	near(t, "revenue uplift", *eo.Revenue.UpliftVsControl, revUplift, 0.03)
	near(t, "roi", eo.Revenue.ROI, (revUplift-cost)/cost, 0.03)
	near(t, "unsubscribe rate", eo.UnsubscribeRate.Value, unsub, 0.05)

	if got := resp.Predictions.SegmentBreakdown; len(got) != 2 || got[0].Segment != "a" || got[1].Segment != "b" {
		t.Fatalf("segment breakdown %+v", got)
	}
	sb := resp.Predictions.SegmentBreakdown
	near(t, "segment a response", sb[0].ResponseRate, 0.03, 0.03)
	near(t, "segment b contribution", sb[1].RevenueContribution, 0.5, 0.03)
	if oc := resp.Predictions.OptimalConfiguration; oc == nil || !slices.Equal(oc.Channels, []api.Channel{api.ChannelEmail}) || oc.ContentVariant != "v1" || oc.Timing != "immediate" {
		t.Errorf("optimal configuration %+v", oc)
	}
	if q := resp.CalibrationQuality; q == nil || q.HistoricalAccuracy != 0.87 || !q.LastCalibration.Equal(testSnapshot().Quality.LastCalibration) {
		t.Errorf("calibration quality %+v", q)
	}
}

// TestFrequencyCapLowersUnsubscribes runs a daily email sequence under caps
// of 1 and 7 sends a week.
func TestFrequencyCapLowersUnsubscribes(t *testing.T) {
	e := newEngine(t, testSnapshot())
	rate := func(freqCap int) float64 {
		req := testRequest(api.InterventionSequence, api.ChannelEmail)
		req.Intervention.Timing = &api.Timing{Cadence: api.CadenceDaily, FrequencyCap: new(freqCap)}
		return simulate(t, e, req, 1).Predictions.ExpectedOutcomes.UnsubscribeRate.Value
	}
	low, high := rate(1), rate(7)
	// 30 days: cap 1 sends on days 0, 7, 14, 21, 28 (5 sends), cap 7 every day.
	near(t, "unsubscribe rate, cap 1", low, 1-(0.75*math.Pow(1-0.001, 5)+0.25*math.Pow(1-0.002, 5)), 0.05)
	near(t, "unsubscribe rate, cap 7", high, 1-(0.75*math.Pow(1-0.001, 30)+0.25*math.Pow(1-0.002, 30)), 0.05)
	if !(low < high) {
		t.Errorf("unsubscribe rate with cap 1 = %v, not below cap 7's %v", low, high)
	}
}

// TestBudgetExcludesExpensiveChannel checks that sms (0.05 per send) is
// chosen without a budget and excluded by a budget of 2,000 that only
// email (1,000 for 100,000 sends) fits.
func TestBudgetExcludesExpensiveChannel(t *testing.T) {
	e := newEngine(t, testSnapshot())
	req := testRequest(api.InterventionCampaign, api.ChannelEmail, api.ChannelSMS)
	resp := simulate(t, e, req, 3)
	if oc := resp.Predictions.OptimalConfiguration; oc == nil || !slices.Equal(oc.Channels, []api.Channel{api.ChannelEmail, api.ChannelSMS}) {
		t.Fatalf("unconstrained optimal configuration %+v, want email and sms", oc)
	}
	req.Constraints = &api.Constraints{MaxBudget: new(2000.0)}
	resp = simulate(t, e, req, 3)
	if oc := resp.Predictions.OptimalConfiguration; oc == nil || !slices.Equal(oc.Channels, []api.Channel{api.ChannelEmail}) {
		t.Fatalf("optimal configuration under a budget of 2000: %+v, want email only", oc)
	}
	req.Constraints = &api.Constraints{MaxBudget: new(10.0)}
	resp = simulate(t, e, req, 3)
	if oc := resp.Predictions.OptimalConfiguration; oc != nil {
		t.Fatalf("optimal configuration under a budget of 10: %+v, want none", oc)
	}
}

// TestRiskLevel grades the unsubscribe rate of an email campaign
// (0.00125) against limits above, near and below it.
func TestRiskLevel(t *testing.T) {
	e := newEngine(t, testSnapshot())
	for _, tc := range []struct {
		limit float64
		want  api.RiskLevel
	}{{0.01, api.RiskAcceptable}, {0.0001, api.RiskUnacceptable}} {
		req := testRequest(api.InterventionCampaign, api.ChannelEmail)
		req.Constraints = &api.Constraints{MaxUnsubscribeRate: new(tc.limit)}
		got := simulate(t, e, req, 5).Predictions.ExpectedOutcomes.UnsubscribeRate.RiskLevel
		if got != tc.want {
			t.Errorf("limit %v: risk level %s, want %s", tc.limit, got, tc.want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	snap := withPersonas(testSnapshot())
	req := testRequest(api.InterventionSequence, api.ChannelEmail, api.ChannelSMS)
	req.Intervention.ContentVariants = append(req.Intervention.ContentVariants, api.ContentVariant{ID: "v2", Template: "20% off everything this weekend only"})
	req.Intervention.Timing = &api.Timing{Schedule: api.ScheduleScheduled}
	a := simulate(t, newEngine(t, snap), req, 42)
	b := simulate(t, newEngine(t, snap), req, 42)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different answers:\n%+v\n%+v", a, b)
	}
	c := simulate(t, newEngine(t, snap), req, 43)
	if c.Predictions.ExpectedOutcomes.ConversionRate.Value == a.Predictions.ExpectedOutcomes.ConversionRate.Value {
		t.Errorf("seeds 42 and 43 gave the same conversion rate %v", a.Predictions.ExpectedOutcomes.ConversionRate.Value)
	}
}

// withPersonas adds 20 personas per segment and a pooled effect map to
// snap.
func withPersonas(snap *calibration.Snapshot) *calibration.Snapshot {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, s := range []string{"a", "b"} {
		snap.Personas = append(snap.Personas, persona.Sample(persona.DefaultPriors(s), s, 20, rng)...)
	}
	snap.EffectMap = &optimize.EffectMap{Pooled: optimize.Curve{X: []float64{-1, 1}, Y: []float64{-0.01, 0.03}, Points: 10}}
	return snap
}

// TestPersonasAndInsights checks that judged personas produce insights
// with rationales and that a cached second call answers the same.
func TestPersonasAndInsights(t *testing.T) {
	e := newEngine(t, withPersonas(testSnapshot()))
	req := testRequest(api.InterventionCampaign, api.ChannelEmail, api.ChannelSMS)
	req.Intervention.ContentVariants = append(req.Intervention.ContentVariants, api.ContentVariant{ID: "v2", Template: "20% off everything this weekend only"})
	resp := simulate(t, e, req, 9)
	if len(resp.Insights) == 0 || len(resp.Insights[0].PersonaRationales) == 0 {
		t.Fatalf("insights without rationales: %+v", resp.Insights)
	}
	for _, in := range resp.Insights {
		if !(in.Confidence >= 0 && in.Confidence <= 1) {
			t.Errorf("insight confidence %v", in.Confidence)
		}
		// A segment is told to lead with a driver only when it lifts it.
		if strings.Contains(in.Finding, "responds most to") && !strings.Contains(in.Finding, "(mean effect +") {
			t.Errorf("insight leads with a driver that does not lift the segment: %q", in.Finding)
		}
	}
	n := e.cache.Len()
	if n == 0 {
		t.Fatal("no judgement cached")
	}
	again := simulate(t, e, req, 9)
	if e.cache.Len() != n || !reflect.DeepEqual(resp, again) {
		t.Errorf("second call: cache %d → %d entries, same answer %v", n, e.cache.Len(), reflect.DeepEqual(resp, again))
	}
}

func TestUnknownSegment(t *testing.T) {
	e := newEngine(t, testSnapshot())
	req := testRequest(api.InterventionCampaign, api.ChannelEmail)
	req.TargetPopulation.Segments = []string{"a", "zz"}
	resp, err := e.Simulate(context.Background(), req, 1)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Kind != api.KindValidation {
		t.Fatalf("error %v, want a validation *api.Error", err)
	}
	if len(ae.Fields) != 1 || ae.Fields[0].Path != "target_population.segments[1]" {
		t.Errorf("fields %+v", ae.Fields)
	}
	if resp.Status != api.StatusFailed || resp.Error != ae {
		t.Errorf("response %+v", resp)
	}
}

func TestBinomialMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		n int64
		p float64
	}{{10, 0.3}, {1000, 0.001}, {1000, 0.9}, {1_000_000, 0.02}} {
		const k = 20000
		var s, s2 float64
		for range k {
			x := float64(binomial(r, tc.n, tc.p))
			s += x
			s2 += x * x
		}
		m := s / k
		v := s2/k - m*m
		want := float64(tc.n) * tc.p
		if math.Abs(m-want) > 5*math.Sqrt(want*(1-tc.p)/k) {
			t.Errorf("Binomial(%d, %v): mean %v, want %v", tc.n, tc.p, m, want)
		}
		near(t, "variance", v, want*(1-tc.p), 0.1)
	}
}

func TestSchedule(t *testing.T) {
	got := schedule(api.InterventionSequence, api.CadenceDaily, 3, 8, []int{0, 1})
	var n []int
	for _, d := range got {
		n = append(n, len(d))
	}
	// Day 0: both channels (2), day 1: one more (cap 3), then none until
	// day 0's sends leave the window on day 7.
	if want := []int{2, 1, 0, 0, 0, 0, 0, 2}; !slices.Equal(n, want) {
		t.Errorf("sends per day %v, want %v", n, want)
	}
}

// BenchmarkStandard is the PRD's standard request: 100 personas, 100
// runs, 30 days, 3 variants, 3 channels, with a warm judgement cache.
func BenchmarkStandard(b *testing.B) {
	snap := withPersonas(testSnapshot())
	for _, s := range []string{"a", "b"} {
		snap.Cells = append(snap.Cells, calibration.Cell{SegmentID: s, Channel: "push", Exposures: 800, BaseRate: 0.03, Uplift: 0.004, UpliftLo: 0.001, UpliftHi: 0.007, RevenuePerConversion: 60, CostPerExposure: 0.001, UnsubscribeRate: 0.002})
	}
	e := newEngine(b, snap)
	req := testRequest(api.InterventionSequence, api.ChannelEmail, api.ChannelSMS, api.ChannelPush)
	req.SimulationParams = &api.SimulationParams{NumPersonas: new(100), TimeHorizonDays: new(30), MonteCarloRuns: new(100)}
	req.Intervention.ContentVariants = []api.ContentVariant{
		{ID: "v1", Template: "New arrivals for {{first_name}}"},
		{ID: "v2", Template: "20% off everything this weekend only"},
		{ID: "v3", Template: "Free shipping on your next order"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		simulate(b, e, req, uint64(i))
	}
}

// TestHazardModel fits an unsubscribe hazard that rises with frequency
// (0.001·1.3^(f−1) per send) and checks that the engine uses it: the
// unsubscribe rate of a daily sequence grows with the cap and its
// segments show fatigue.
func TestHazardModel(t *testing.T) {
	var rows []hazard.Exposure
	for _, ch := range []string{"email", "sms"} {
		for _, seg := range []string{"a", "b"} {
			for f := 1; f <= 12; f++ {
				h := 0.001 * math.Pow(1.3, float64(f-1))
				for _, rec := range []float64{1, 7} {
					rows = append(rows,
						hazard.Exposure{Channel: ch, Segment: seg, Frequency: f, RecencyDays: rec, Event: true, Weight: 1e6 * h},
						hazard.Exposure{Channel: ch, Segment: seg, Frequency: f, RecencyDays: rec, Weight: 1e6 * (1 - h)})
				}
			}
		}
	}
	models, err := hazard.FitModels(rows, rows, hazard.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap := testSnapshot()
	snap.Hazard = models
	e := newEngine(t, snap)
	var rates []float64
	for _, cap := range []int{1, 3, 7} {
		req := testRequest(api.InterventionSequence, api.ChannelEmail)
		req.SimulationParams.TimeHorizonDays = new(10)
		req.Intervention.Timing = &api.Timing{Cadence: api.CadenceDaily, FrequencyCap: new(cap)}
		resp := simulate(t, e, req, 2)
		rates = append(rates, resp.Predictions.ExpectedOutcomes.UnsubscribeRate.Value)
		if cap == 7 && !slices.Contains(resp.Predictions.SegmentBreakdown[0].RiskFactors, "fatigue") {
			t.Errorf("cap 7: risk factors %v lack fatigue", resp.Predictions.SegmentBreakdown[0].RiskFactors)
		}
	}
	// Cap 1 over 10 days: sends on days 0 and 7, hazards h1 and h2.
	near(t, "unsubscribe rate, cap 1", rates[0], 1-(1-0.001)*(1-0.0013), 0.1)
	if !(rates[0] < rates[1] && rates[1] < rates[2]) {
		t.Errorf("unsubscribe rates by cap 1, 3, 7: %v, want increasing", rates)
	}
}

func TestCancelledContext(t *testing.T) {
	e := newEngine(t, withPersonas(testSnapshot()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	resp, err := e.Simulate(ctx, testRequest(api.InterventionCampaign, api.ChannelEmail), 1)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Kind != api.KindTimeout || resp.Status != api.StatusFailed {
		t.Fatalf("error %v, status %s; want a timeout", err, resp.Status)
	}
}

// TestSpendResponse gives the snapshot a converged marketing-mix model that
// pins email down with a Hill curve (K = 0.5 of the largest daily spend,
// S = 1, no carryover): a campaign spending what the typical measured one
// did keeps its uplift; one spending four times as much gets the Hill
// curve's lower return per unit of spend, exactly.
func TestSpendResponse(t *testing.T) {
	snap := testSnapshot()
	// Two measured email interventions of segment a, 1000 € of email spend
	// in the window: the typical campaign spent 500 €.
	snap.Cells = append(snap.Cells,
		calibration.Cell{SegmentID: "a", Channel: "email", InterventionID: "e1", Exposures: 10},
		calibration.Cell{SegmentID: "a", Channel: "email", InterventionID: "e2", Exposures: 10})
	snap.MMM = &calibration.MMMSummary{
		Adstock: "geometric", MaxLag: 1, Saturation: "hill", OutcomeScale: 1,
		Diagnostics: calibration.MMMDiagnostics{MaxRHat: 1.01},
		Channels: []calibration.MMMChannel{{
			Channel: "email", Spend: 1000, SpendScale: 1000, Beta: 1,
			Contribution:  calibration.MMMInterval{Mean: 100, Lo: 80, Hi: 120},
			AdstockParams: []float64{0}, SaturationParams: []float64{0.5, 1},
		}},
	}
	e := newEngine(t, snap)
	// Hill(x) = x/(0.5+x) on x = spend/1000: return per € at 500 € is
	// 0.5/1/500, at 2000 € it is (2/2.5)/2000.
	if f := e.spendResponse("email", []float64{500}); math.Abs(f-1) > 1e-12 {
		t.Errorf("factor at the reference spend %v, want 1", f)
	}
	want := (0.8 / 2000) / (0.5 / 500)
	if f := e.spendResponse("email", []float64{2000}); math.Abs(f-want) > 1e-12 {
		t.Errorf("factor at 4× the spend %v, want %v", f, want)
	}
	if f := e.spendResponse("sms", []float64{2000}); f != 1 {
		t.Errorf("sms has no curve: factor %v, want 1", f)
	}
	// Unpinned (interval wider than twice the mean): no response.
	snap.MMM.Channels[0].Contribution = calibration.MMMInterval{Mean: 100, Lo: 0, Hi: 300}
	if f := newEngine(t, snap).spendResponse("email", []float64{2000}); f != 1 {
		t.Errorf("unpinned channel: factor %v, want 1", f)
	}
	// In a simulation, 100,000 people × 0.01 € = 1000 € of email on day 0:
	// the uplift of email shrinks by the factor at 1000 €, and the
	// conversions with it.
	snap.MMM.Channels[0].Contribution = calibration.MMMInterval{Mean: 100, Lo: 80, Hi: 120}
	with := simulate(t, newEngine(t, snap), testRequest(api.InterventionCampaign, "email"), 1)
	snap.MMM = nil
	without := simulate(t, newEngine(t, snap), testRequest(api.InterventionCampaign, "email"), 1)
	f := (1.0 / 1.5 / 1000) / (0.5 / 500)
	got := with.Predictions.ExpectedOutcomes.ConversionRate.UpliftVsControl / without.Predictions.ExpectedOutcomes.ConversionRate.UpliftVsControl
	if math.Abs(got-f) > 0.05 {
		t.Errorf("uplift with/without the spend response %.3f, want about %.3f", got, f)
	}
}

// TestCustomKPIsAndValue checks customer_lifetime_value and the custom KPIs
// against the other outcomes of the same runs, and that an unknown custom
// KPI is a validation error naming its place.
func TestCustomKPIsAndValue(t *testing.T) {
	e := newEngine(t, testSnapshot())
	req := testRequest(api.InterventionCampaign, "email", "sms")
	req.SuccessMetrics = []api.Metric{api.MetricRevenueUplift, api.MetricCustomerLifetimeValue, "custom:profit", api.MetricCustomKPI}
	resp := simulate(t, e, req, 3)
	eo := resp.Predictions.ExpectedOutcomes
	k := eo.CustomKPIs
	if len(k) != len(CustomKPIs) {
		t.Fatalf("custom KPIs %v, want all of %v", k, CustomKPIs)
	}
	cost := k["custom:cost"].Value
	near(t, "profit", k["custom:profit"].Value, *eo.Revenue.UpliftVsControl-cost, 1e-9)
	near(t, "revenue per customer", k["custom:revenue_per_customer"].Value, eo.Revenue.Value/100_000, 1e-9)
	near(t, "clv", eo.CustomerLifetimeValue.Value, eo.Revenue.Value/100_000, 1e-9)
	near(t, "clv uplift", eo.CustomerLifetimeValue.UpliftVsControl, (*eo.Revenue.UpliftVsControl-cost)/100_000, 1e-9)
	// Each of 100,000 people gets one email and one sms (less the few
	// unsubscribed by the first): 0.01 + 0.05 per person.
	near(t, "messages", k["custom:messages_delivered"].Value, 200_000, 0.01)
	near(t, "cost", cost, 100_000*(0.01+0.05), 0.01)
	if iv := k["custom:incremental_conversions"].ConfidenceInterval; !(iv[0] < iv[1]) {
		t.Errorf("incremental conversions interval %v", iv)
	}

	req.SuccessMetrics = []api.Metric{"custom:churn_saves"}
	_, err := e.Simulate(context.Background(), req, 1)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Kind != api.KindValidation || len(ae.Fields) != 1 || ae.Fields[0].Path != "success_metrics[0]" {
		t.Fatalf("unknown custom KPI: %v", err)
	}
}

// TestModelScoreSelection: segment a's cells measure more uplift than b's,
// so model_score fills a first, up to its audience (1500 exposures over 1
// campaign), then b (500); what neither can hold is split by exposures.
func TestModelScoreSelection(t *testing.T) {
	snap := testSnapshot()
	for i := range snap.Cells {
		snap.Cells[i].Campaigns = 1
	}
	e := newEngine(t, snap)
	req := testRequest(api.InterventionCampaign, "email")
	req.TargetPopulation.SelectionMethod = api.SelectModelScore
	for _, tc := range []struct{ size, a, b int }{{1200, 1200, 0}, {1800, 1500, 300}, {2500, 1875, 625}} {
		req.TargetPopulation.Size = tc.size
		resp := simulate(t, e, req, 1)
		got := map[string]int{}
		for _, r := range resp.Predictions.SegmentBreakdown {
			got[r.Segment] = r.Size
		}
		if got["a"] != tc.a || got["b"] != tc.b {
			t.Errorf("model_score split of %d: %v, want a %d, b %d", tc.size, got, tc.a, tc.b)
		}
	}
	req.TargetPopulation.Filters = &api.Filters{MinTenureDays: new(30)}
	resp := simulate(t, e, req, 1)
	found := false
	for _, in := range resp.Insights {
		found = found || strings.Contains(in.Finding, "filters")
	}
	if !found {
		t.Error("no insight says the filters were not applied")
	}
}

// slowReasoner is the built-in reasoner behind a pause, counting how many
// calls run at once.
type slowReasoner struct {
	b            *persona.Builtin
	now, maxSeen atomic.Int64
	calls        atomic.Int64
}

func (s *slowReasoner) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	n := s.now.Add(1)
	defer s.now.Add(-1)
	for {
		m := s.maxSeen.Load()
		if n <= m || s.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	s.calls.Add(1)
	time.Sleep(2 * time.Millisecond)
	return s.b.Judge(ctx, p, iv)
}

// TestParallelJudging: a reasoner that is not the built-in one is asked up
// to JudgeConcurrency judgements at once, each only once, and the answer is
// the one judging in turn gives.
func TestParallelJudging(t *testing.T) {
	snap := withPersonas(testSnapshot())
	req := testRequest(api.InterventionCampaign, "email", "sms")
	answer := func(conc int) (api.SimulateResponse, *slowReasoner) {
		r := &slowReasoner{b: persona.NewBuiltin()}
		e, err := NewEngine(snap, Options{Reasoner: r, JudgeConcurrency: conc})
		if err != nil {
			t.Fatal(err)
		}
		return simulate(t, e, req, 5), r
	}
	par, rp := answer(4)
	seq, rs := answer(1)
	if !reflect.DeepEqual(par, seq) {
		t.Error("parallel and sequential judging answer differently")
	}
	if m := rp.maxSeen.Load(); m < 2 || m > 4 {
		t.Errorf("at most %d judgements at once, want 2 to 4", m)
	}
	if rs.maxSeen.Load() != 1 {
		t.Errorf("JudgeConcurrency 1 ran %d at once", rs.maxSeen.Load())
	}
	if rp.calls.Load() != rs.calls.Load() || rp.calls.Load() == 0 {
		t.Errorf("%d calls in parallel, %d in turn: each judgement should be asked once", rp.calls.Load(), rs.calls.Load())
	}
}

// TestContentOf reads offer, deadline and category from templates.
func TestContentOf(t *testing.T) {
	snap := withPersonas(testSnapshot())
	snap.Personas[0].Preferences = map[string]float64{"home": 0.5, "home office": 0.9, "beauty": 0.1}
	e := newEngine(t, snap)
	half := persona.DefaultCoefficients().UrgencyHalfLifeHours
	for _, tc := range []struct {
		template string
		kind     string
		value    float64
		hours    float64
		category string
	}{
		{"{{first_name}}, 15% off home based on {{last_purchase}} - this week only.", persona.OfferPercentOff, 15, half, "home"},
		{"Last chance: $10 off Home Office gear, ends tonight!", persona.OfferAmountOff, 10, half * 0.25, "home office"},
		{"Free shipping on everything.", persona.OfferFreeShipping, 0, 0, ""},
		{"We picked something for you.", persona.OfferNone, 0, 0, ""},
	} {
		o, c := e.contentOf(tc.template)
		if o.Kind != tc.kind || o.Value != tc.value || math.Abs(o.ExpiresHours-tc.hours) > 1e-9 || c != tc.category {
			t.Errorf("%q: offer %+v, category %q; want %s %v expiring in %vh, %q", tc.template, o, c, tc.kind, tc.value, tc.hours, tc.category)
		}
	}
}
