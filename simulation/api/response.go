package api

import "time"

// Status is the status of a response.
type Status string

// The response statuses.
const (
	// StatusCompleted means the simulation ran: predictions, insights and
	// calibration_quality are present.
	StatusCompleted Status = "completed"
	// StatusFailed means it did not: error is present and predictions are
	// absent.
	StatusFailed Status = "failed"
)

// RiskLevel grades the predicted unsubscribe rate against the request's
// max_unsubscribe_rate (or, without one, against the tenant's historical
// rate).
type RiskLevel string

// The risk levels.
const (
	// RiskAcceptable means the upper end of the interval is within the
	// limit.
	RiskAcceptable RiskLevel = "acceptable"
	// RiskElevated means the point estimate is within the limit but the
	// interval crosses it.
	RiskElevated RiskLevel = "elevated"
	// RiskUnacceptable means the point estimate exceeds the limit.
	RiskUnacceptable RiskLevel = "unacceptable"
)

// RiskLevels lists the allowed risk_level values.
var RiskLevels = []RiskLevel{RiskAcceptable, RiskElevated, RiskUnacceptable}

// Interval is a confidence interval [low, high], low <= high, at the
// simulator's confidence level (95% unless documented otherwise).
type Interval [2]float64

// SimulateResponse is the body of every response of POST /api/v1/simulate,
// successful or not, and of every Kafka reply.
type SimulateResponse struct {
	// SimulationID identifies the simulation in logs and traces, e.g.
	// "sim_abc123": "sim_" then 1 to 64 letters, digits, '_' or '-'. It is
	// set on failed responses too.
	SimulationID string `json:"simulation_id"`
	// Status is completed or failed.
	Status Status `json:"status"`
	// Predictions is present when Status is completed.
	Predictions *Predictions `json:"predictions,omitempty"`
	// Insights is present (possibly empty) when Status is completed; a nil
	// slice is omitted, an empty one written as [].
	Insights []Insight `json:"insights,omitzero"`
	// CalibrationQuality is present when Status is completed.
	CalibrationQuality *CalibrationQuality `json:"calibration_quality,omitempty"`
	// Error is present when Status is failed.
	Error *Error `json:"error,omitempty"`
}

// Predictions are the predicted outcomes of the requested intervention.
type Predictions struct {
	// ExpectedOutcomes are the outcomes of the requested metrics.
	ExpectedOutcomes ExpectedOutcomes `json:"expected_outcomes"`
	// SegmentBreakdown splits the outcome by segment; a nil slice is
	// omitted.
	SegmentBreakdown []SegmentOutcome `json:"segment_breakdown,omitzero"`
	// OptimalConfiguration is the best configuration found under the
	// constraints; absent when none meets them.
	OptimalConfiguration *OptimalConfiguration `json:"optimal_configuration,omitempty"`
}

// ExpectedOutcomes holds one estimate per requested metric; a metric that
// was not requested is absent. conversion_rate answers conversion_rate,
// revenue answers revenue_uplift, unsubscribe_rate answers
// unsubscribe_rate, customer_lifetime_value answers customer_lifetime_value,
// and custom_kpis answers custom KPIs keyed by the metric as requested.
type ExpectedOutcomes struct {
	// ConversionRate is the conversion rate over the horizon, a fraction.
	ConversionRate *RateEstimate `json:"conversion_rate,omitempty"`
	// Revenue is the revenue over the horizon and its ROI.
	Revenue *RevenueEstimate `json:"revenue,omitempty"`
	// UnsubscribeRate is the unsubscribe rate over the horizon.
	UnsubscribeRate *UnsubscribeEstimate `json:"unsubscribe_rate,omitempty"`
	// CustomerLifetimeValue is the mean customer lifetime value, in the
	// tenant's currency (an addition to the PRD's example).
	CustomerLifetimeValue *RateEstimate `json:"customer_lifetime_value,omitempty"`
	// CustomKPIs holds the requested custom KPIs, keyed "custom_kpi" or
	// "custom:<name>" as requested (an addition to the PRD's example).
	CustomKPIs map[string]RateEstimate `json:"custom_kpis,omitempty"`
}

// RateEstimate is a metric's predicted value under the intervention, its
// confidence interval and its difference from the control arm
// (treatment - control, in the metric's unit).
type RateEstimate struct {
	// Value is the point estimate, the mean over Monte Carlo runs.
	Value float64 `json:"value"`
	// ConfidenceInterval brackets Value.
	ConfidenceInterval Interval `json:"confidence_interval"`
	// UpliftVsControl is treatment minus control.
	UpliftVsControl float64 `json:"uplift_vs_control"`
}

// RevenueEstimate is the predicted revenue over the horizon for the whole
// population, in the tenant's currency, with its interval and its return on
// investment, (revenue - cost) / cost. UpliftVsControl, the revenue
// difference from control, is present when revenue_uplift was requested.
type RevenueEstimate struct {
	// Value is the point estimate, in the tenant's currency.
	Value float64 `json:"value"`
	// ConfidenceInterval brackets Value.
	ConfidenceInterval Interval `json:"confidence_interval"`
	// ROI is (revenue - cost) / cost.
	ROI float64 `json:"roi"`
	// UpliftVsControl is treatment revenue minus control revenue; present
	// when revenue_uplift was requested (an addition to the PRD's example).
	UpliftVsControl *float64 `json:"uplift_vs_control,omitempty"`
}

// UnsubscribeEstimate is the predicted unsubscribe rate over the horizon, a
// fraction, graded by RiskLevel.
type UnsubscribeEstimate struct {
	// Value is the point estimate, a fraction of the population.
	Value float64 `json:"value"`
	// RiskLevel grades Value against the limit.
	RiskLevel RiskLevel `json:"risk_level"`
}

// SegmentOutcome is one row of segment_breakdown.
type SegmentOutcome struct {
	// Segment is the segment id.
	Segment string `json:"segment"`
	// ResponseRate is the segment's predicted response (conversion) rate.
	ResponseRate float64 `json:"response_rate"`
	// RevenueContribution is the segment's share of the predicted revenue,
	// a fraction.
	RevenueContribution float64 `json:"revenue_contribution"`
	// The fields below add to the PRD's row. Size is the people of the
	// target population in the segment.
	Size int `json:"size,omitzero"`
	// ResponseRateInterval is the 95% interval of ResponseRate over the
	// Monte Carlo runs.
	ResponseRateInterval Interval `json:"response_rate_interval,omitzero"`
	// UpliftVsControl is ResponseRate minus the segment's control rate
	// over the horizon; UpliftInterval its 95% interval.
	UpliftVsControl float64  `json:"uplift_vs_control,omitzero"`
	UpliftInterval  Interval `json:"uplift_interval,omitzero"`
	// Revenue is the segment's predicted revenue over the horizon.
	Revenue float64 `json:"revenue,omitzero"`
	// UnsubscribeRate is the share of the segment predicted to
	// unsubscribe over the horizon.
	UnsubscribeRate float64 `json:"unsubscribe_rate,omitzero"`
	// RiskFactors name the risks found in the segment, e.g. "saturation";
	// omitted when none.
	RiskFactors []string `json:"risk_factors,omitempty"`
}

// OptimalConfiguration is the best configuration the simulator found.
type OptimalConfiguration struct {
	// Channels is the best channel subset.
	Channels []Channel `json:"channels"`
	// Timing is the best send slot, a lower-case label such as
	// "tuesday_morning".
	Timing string `json:"timing"`
	// ContentVariant is the id of the best content variant.
	ContentVariant string `json:"content_variant"`
	// ExpectedUplift is its conversion uplift over control.
	ExpectedUplift float64 `json:"expected_uplift"`
}

// Insight is one finding drawn from the simulation's decomposition.
type Insight struct {
	// Finding states what was found.
	Finding string `json:"finding"`
	// Confidence is the simulator's confidence in the finding, in [0, 1].
	Confidence float64 `json:"confidence"`
	// Recommendation says what to do about it.
	Recommendation string `json:"recommendation"`
	// PersonaRationales quote the persona reasoning behind the finding;
	// omitted when none.
	PersonaRationales []string `json:"persona_rationales,omitempty"`
}

// CalibrationQuality describes the calibration the answer was computed
// with.
type CalibrationQuality struct {
	// HistoricalAccuracy is the calibration's accuracy on held-out past
	// campaigns, in [0, 1].
	HistoricalAccuracy float64 `json:"historical_accuracy"`
	// DriftDetected reports whether recent data drifted from the
	// calibration.
	DriftDetected bool `json:"drift_detected"`
	// LastCalibration is when the calibration was fitted (RFC 3339).
	LastCalibration time.Time `json:"last_calibration"`
}
