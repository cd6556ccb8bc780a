package client

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/simulation/api"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// prdRequest is the PRD's example request.
func prdRequest() api.SimulateRequest {
	return api.SimulateRequest{
		SimulationType:  api.SimulationInterventionTest,
		IndustryContext: api.IndustryRetail,
		Intervention: &api.Intervention{
			Type:     api.InterventionCampaign,
			Channels: []api.Channel{api.ChannelEmail, api.ChannelSMS, api.ChannelPush},
			ContentVariants: []api.ContentVariant{
				{ID: "variant_a", Template: "...", PersonalizationFields: []string{"name", "last_purchase", "preferences"}},
				{ID: "variant_b", Template: "..."},
			},
			Timing: &api.Timing{Schedule: api.ScheduleImmediate, Cadence: api.CadenceWeekly, FrequencyCap: new(3)},
		},
		TargetPopulation: &api.TargetPopulation{
			SelectionMethod: api.SelectSegment, Segments: []string{"high_value", "at_risk", "new_users"}, Size: 10_000,
			Filters: &api.Filters{MinTenureDays: new(30), MaxFrequencyLast30d: new(5)},
		},
		SimulationParams: &api.SimulationParams{NumPersonas: new(100), TimeHorizonDays: new(30), MonteCarloRuns: new(100),
			CalibrationMode: api.CalibrationHistorical, IncludeExternalities: new(true)},
		SuccessMetrics: []api.Metric{api.MetricConversionRate, api.MetricRevenueUplift, api.MetricUnsubscribeRate},
		Constraints:    &api.Constraints{MaxBudget: new(10_000.0), MaxUnsubscribeRate: new(0.02), MinROI: new(1.5)},
	}
}

// prdResponse is the PRD's example response, with the fields this
// contract adds.
func prdResponse() api.SimulateResponse {
	return api.SimulateResponse{
		SimulationID: "sim_abc123", Status: api.StatusCompleted,
		Predictions: &api.Predictions{
			ExpectedOutcomes: api.ExpectedOutcomes{
				ConversionRate:  &api.RateEstimate{Value: 0.045, ConfidenceInterval: api.Interval{0.041, 0.049}, UpliftVsControl: 0.012},
				Revenue:         &api.RevenueEstimate{Value: 125000, ConfidenceInterval: api.Interval{115000, 135000}, ROI: 2.3, UpliftVsControl: new(33250.5)},
				UnsubscribeRate: &api.UnsubscribeEstimate{Value: 0.015, RiskLevel: api.RiskAcceptable},
			},
			SegmentBreakdown: []api.SegmentOutcome{
				{Segment: "high_value", ResponseRate: 0.08, RevenueContribution: 0.6, Size: 1500, ResponseRateInterval: api.Interval{0.071, 0.089},
					UpliftVsControl: 0.021, UpliftInterval: api.Interval{0.012, 0.03}, Revenue: 75000, UnsubscribeRate: 0.004, RiskFactors: []string{"saturation"}},
				{Segment: "at_risk", ResponseRate: 0.031, RevenueContribution: 0.25, Size: 4250, ResponseRateInterval: api.Interval{0.026, 0.036},
					UpliftVsControl: -0.002, UpliftInterval: api.Interval{-0.008, 0.004}, Revenue: 31250, UnsubscribeRate: 0.024, RiskFactors: []string{"negative_response", "fatigue"}},
				{Segment: "new_users", ResponseRate: 0.047, RevenueContribution: 0.15, Size: 4250, ResponseRateInterval: api.Interval{0.04, 0.054},
					UpliftVsControl: 0.013, UpliftInterval: api.Interval{0.006, 0.02}, Revenue: 18750, UnsubscribeRate: 0.011},
			},
			OptimalConfiguration: &api.OptimalConfiguration{Channels: []api.Channel{api.ChannelEmail, api.ChannelPush}, Timing: "tuesday_morning",
				ContentVariant: "variant_a", ExpectedUplift: 0.023},
		},
		Insights: []api.Insight{
			{Finding: "High-value segment shows 3x response to urgency messaging", Confidence: 0.85,
				Recommendation:    "Prioritize urgency framing for top 20% customers",
				PersonaRationales: []string{"A deadline makes me act now on things I already wanted.", "I buy often; a reminder is welcome."}},
			{Finding: "At-risk customers respond negatively to a third message in a week", Confidence: 0.6, Recommendation: "Cap at-risk sends at 2 per week"},
		},
		CalibrationQuality: &api.CalibrationQuality{HistoricalAccuracy: 0.92, LastCalibration: time.Date(2024, 12, 10, 8, 0, 0, 0, time.UTC)},
	}
}

// TestWriteReport renders responses against the golden files in testdata/
// (go test -update rewrites them): the PRD's example, one where no
// configuration meets the constraints with drift and extra metrics, and
// a validation failure with every field problem.
func TestWriteReport(t *testing.T) {
	noOptimum := prdResponse()
	p := *noOptimum.Predictions
	p.OptimalConfiguration = nil
	p.ExpectedOutcomes.Revenue = &api.RevenueEstimate{Value: 980.25, ConfidenceInterval: api.Interval{12.5, 1999}, ROI: -0.42}
	p.ExpectedOutcomes.UnsubscribeRate = &api.UnsubscribeEstimate{Value: 0.031, RiskLevel: api.RiskUnacceptable}
	p.ExpectedOutcomes.CustomerLifetimeValue = &api.RateEstimate{Value: 412.5, ConfidenceInterval: api.Interval{380, 445}, UpliftVsControl: 3.25}
	p.ExpectedOutcomes.CustomKPIs = map[string]api.RateEstimate{
		"custom:saves": {Value: 0.125, ConfidenceInterval: api.Interval{0.1, 0.15}, UpliftVsControl: -0.01},
		"custom_kpi":   {Value: 17, ConfidenceInterval: api.Interval{12, 22}, UpliftVsControl: 2},
	}
	p.SegmentBreakdown = []api.SegmentOutcome{{Segment: "everyone", ResponseRate: 0.02, RevenueContribution: 1}} // the PRD's row only
	noOptimum.Predictions = &p
	noOptimum.Insights = []api.Insight{}
	noOptimum.CalibrationQuality = &api.CalibrationQuality{HistoricalAccuracy: 0.61, DriftDetected: true, LastCalibration: time.Date(2026, 3, 1, 23, 30, 0, 0, time.FixedZone("CET", 3600))}
	minimal := api.SimulateRequest{IndustryContext: api.IndustryTelecom,
		Intervention:     &api.Intervention{Type: api.InterventionSequence, Channels: []api.Channel{api.ChannelSMS}, ContentVariants: []api.ContentVariant{{ID: "only", Template: "x"}}},
		TargetPopulation: &api.TargetPopulation{SelectionMethod: api.SelectRandom, Size: 1},
		SuccessMetrics:   []api.Metric{api.MetricConversionRate, api.MetricRevenueUplift, api.MetricUnsubscribeRate, api.MetricCustomerLifetimeValue, api.MetricCustomKPI, "custom:saves"},
	}

	bad := api.SimulateRequest{IndustryContext: "nope", TargetPopulation: &api.TargetPopulation{Size: 0}}
	failed := api.SimulateResponse{SimulationID: "sim_f00d", Status: api.StatusFailed, Error: &api.Error{
		Kind: api.KindValidation, Message: "request breaks the contract in 3 place(s)", Fields: []api.FieldError{
			{Path: "industry_context", Reason: `must be one of "retail", "telecom", "finance", "healthcare", "realestate", got "nope"`},
			{Path: "intervention", Reason: "is required"},
			{Path: "target_population.size", Reason: "must be in [1, 100000000], got 0"},
		}}}

	for _, tc := range []struct {
		name string
		req  api.SimulateRequest
		resp api.SimulateResponse
	}{
		{"prd", prdRequest(), prdResponse()},
		{"no_optimum", minimal, noOptimum},
		{"failed", bad, failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteReport(&b, tc.req, tc.resp); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", tc.name+".golden"), b.Bytes())
		})
	}
}

// golden compares got with the file at path, or writes it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestWriteReportError: the first write error is returned.
func TestWriteReportError(t *testing.T) {
	w := &failingWriter{after: 3}
	if err := WriteReport(w, prdRequest(), prdResponse()); !errors.Is(err, errDiskFull) {
		t.Fatalf("error %v, want the writer's", err)
	}
}

var errDiskFull = errors.New("disk full")

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after == 0 {
		return 0, errDiskFull
	}
	w.after--
	return len(p), nil
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{count(0), "0"}, {count(999), "999"}, {count(1000), "1,000"}, {count(-1234567), "-1,234,567"},
		{money(99.994), "99.99"}, {money(125000), "125,000"}, {money(-1234.5), "-1,234"}, {signedMoney(0), "+0.00"},
		{pct(0.045), "4.50%"}, {pts(-0.0123), "-1.23 pts"}, {pts(0), "+0.00 pts"},
		{plural(1, "day"), "1 day"}, {plural(30, "day"), "30 days"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if s := ptsInterval(api.Interval{-0.01, 0.02}); !strings.HasPrefix(s, "[-1.00, +2.00 pts]") {
		t.Errorf("ptsInterval = %q", s)
	}
}
