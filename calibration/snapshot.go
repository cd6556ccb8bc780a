package calibration

import (
	"time"

	"github.com/preflight-hq/preflight/causal/hazard"
	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/optimize"
)

// SnapshotSchema is the version of the Snapshot document format.
const SnapshotSchema = 1

// Snapshot is one version of a scope's calibration: everything a simulator
// needs to answer, and nothing it must fetch elsewhere. It is published as
// JSON to the compacted topic <prefix>calibration (key = scope) and stored in
// the warehouse's calibration_snapshots table.
type Snapshot struct {
	Schema    int       `json:"schema"`
	Scope     string    `json:"scope"`
	Version   uint64    `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	// Window is the stretch of data the models were fitted on.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Reason is why this version was made: "initial", "schedule" or "drift".
	Reason string `json:"reason"`

	// Cells are the calibrated base rates and effects per segment ×
	// channel (and intervention where known).
	Cells []Cell `json:"cells"`
	// Hazard holds the unsubscribe and complaint models.
	Hazard *hazard.Models `json:"hazard,omitempty"`
	// Personas are the scope's personas with their calibrated weights.
	Personas []persona.Spec `json:"personas,omitempty"`
	// Program is the persona prompt program in use.
	Program persona.Program `json:"program"`
	// EffectMap maps persona intent change to uplift.
	EffectMap *optimize.EffectMap `json:"effect_map,omitempty"`
	// ContentEffect says how far the simulator may trust the effect map
	// to move a measured uplift for new content (see ContentEffect).
	ContentEffect *ContentEffect `json:"content_effect,omitempty"`
	// Reweighting reports the persona re-weighting by the simulated
	// method of moments, one entry per segment fitted; empty when the
	// weights were kept (Notes say why).
	Reweighting []SegmentFit `json:"reweighting,omitempty"`
	// Raking reports how the intervention cells' predicted conversions
	// were raked to the window's margins and, when a marketing-mix
	// summary was given, scaled to its channel totals; nil when no cell
	// could be raked.
	Raking *Raking `json:"raking,omitempty"`
	// ProgramRetune reports the persona prompt program search; nil when
	// no ProgramReasoner was configured or the search could not run.
	ProgramRetune *ProgramRetune `json:"program_retune,omitempty"`
	// MMM summarizes the marketing-mix model refitted on the window (or,
	// when it could not be refitted, prev's, with its own window; Notes
	// say why); nil when none was ever fitted.
	MMM *MMMSummary `json:"mmm,omitempty"`
	// Quality is the backtest summary, as the PRD's calibration_quality.
	Quality Quality `json:"quality"`
	// Notes record what the fit could not do, e.g. why Hazard is nil.
	Notes []string `json:"notes,omitempty"`
}

// Cell is the calibrated state of one segment × channel (× intervention).
type Cell struct {
	SegmentID      string `json:"segment_id"`
	Channel        string `json:"channel"`
	InterventionID string `json:"intervention_id,omitempty"`
	// Exposures and entities behind the estimates.
	Exposures uint64 `json:"exposures"`
	// BaseRate is the control (holdout) conversion rate; Uplift the
	// treatment minus control rate, with its interval.
	BaseRate float64 `json:"base_rate"`
	Uplift   float64 `json:"uplift"`
	UpliftLo float64 `json:"uplift_lo"`
	UpliftHi float64 `json:"uplift_hi"`
	// RevenuePerConversion is the mean purchase value and its sd.
	RevenuePerConversion   float64 `json:"revenue_per_conversion"`
	RevenuePerConversionSD float64 `json:"revenue_per_conversion_sd"`
	// UnsubscribeRate is per treated exposure.
	UnsubscribeRate float64 `json:"unsubscribe_rate"`
	// CostPerExposure is the mean cost of a treated exposure.
	CostPerExposure float64 `json:"cost_per_exposure"`

	// Day is the exposure day of a per-day cell (observed cells for
	// residuals); zero in a snapshot's cells.
	Day time.Time `json:"day,omitzero"`
	// Campaigns counts the campaigns (randomization strata) pooled.
	Campaigns int `json:"campaigns,omitempty"`
	// TreatedExposures and ControlExposures split Exposures by arm.
	TreatedExposures uint64 `json:"treated_exposures,omitempty"`
	ControlExposures uint64 `json:"control_exposures,omitempty"`
	// Conversions and ControlConversions count the distinct purchasers
	// per campaign in each arm; Purchases the treated purchase events and
	// Unsubscribes the treated unsubscribe events.
	Conversions        uint64 `json:"conversions,omitempty"`
	ControlConversions uint64 `json:"control_conversions,omitempty"`
	Purchases          uint64 `json:"purchases,omitempty"`
	Unsubscribes       uint64 `json:"unsubscribes,omitempty"`
	// BaseRateSE and UpliftSE are the standard errors of BaseRate and
	// Uplift.
	BaseRateSE float64 `json:"base_rate_se,omitempty"`
	UpliftSE   float64 `json:"uplift_se,omitempty"`
	// ConversionRate is the treated arm's conversion rate, with its
	// standard error; Heterogeneity is the between-campaign standard
	// deviation of the treated rate (DerSimonian–Laird), which widens the
	// interval of a prediction for a new campaign.
	ConversionRate   float64 `json:"conversion_rate,omitempty"`
	ConversionRateSE float64 `json:"conversion_rate_se,omitempty"`
	Heterogeneity    float64 `json:"heterogeneity,omitempty"`
	// Intent is, for a judged intervention cell, the persona-weighted mean
	// intent change of the segment's personas on the intervention (the
	// snapshot's weights): the x of the cell's point on the effect map.
	// The simulator maps a new content's intent against the mean mapped
	// intent of a segment × channel's interventions. Absent when the
	// intervention was not judged.
	Intent *float64 `json:"intent,omitempty"`
	// RevenuePerExposure is treated revenue per treated exposure.
	RevenuePerExposure float64 `json:"revenue_per_exposure,omitempty"`
	// MeanFrequency is the treated exposures' mean frequency_cumulative.
	MeanFrequency float64 `json:"mean_frequency,omitempty"`
	// UnsubscribeFrequencySlope is the change of the unsubscribe logit
	// per unit of mean frequency across campaigns, shared by the segments
	// of the channel (a fixed-effects weighted least-squares fit on the
	// campaigns' empirical logits; 0 without two degrees of freedom), with
	// its standard error. It adjusts the unsubscribe
	// rate predicted for a campaign at another frequency.
	UnsubscribeFrequencySlope   float64 `json:"unsubscribe_frequency_slope,omitempty"`
	UnsubscribeFrequencySlopeSE float64 `json:"unsubscribe_frequency_slope_se,omitempty"`

	// PredictedConversions is, for an intervention cell, the treated
	// conversions the persona model predicts (see Raking.Source) before
	// raking; RakedConversions is the same after raking to the window's
	// segment and channel margins, and RakedConversionRate is it per
	// treated exposure. IncrementalConversions is RakedConversions minus
	// the control rate's conversions, scaled to the marketing-mix total of
	// the cell's channel when one was given. All are zero in pooled cells
	// and in intervention cells that were not raked.
	PredictedConversions   float64 `json:"predicted_conversions,omitempty"`
	RakedConversions       float64 `json:"raked_conversions,omitempty"`
	RakedConversionRate    float64 `json:"raked_conversion_rate,omitempty"`
	IncrementalConversions float64 `json:"incremental_conversions,omitempty"`
}

// Quality reports how well the calibration predicted held-out
// interventions: the PRD's calibration_quality.
type Quality struct {
	// HistoricalAccuracy is 1 − MAPE of the conversion-rate backtest,
	// clipped to [0, 1].
	HistoricalAccuracy float64 `json:"historical_accuracy"`
	// DriftDetected says whether a drift alarm is open in the window.
	DriftDetected bool `json:"drift_detected"`
	// LastCalibration is when this snapshot was made.
	LastCalibration time.Time `json:"last_calibration"`
	// Backtests per metric: "conversion_rate", "revenue", "unsubscribe_rate".
	Backtests map[string]Backtest `json:"backtests,omitempty"`
}

// Backtest compares predictions with outcomes for held-out interventions.
type Backtest struct {
	N           int     `json:"n"`
	Correlation float64 `json:"correlation"`
	MAPE        float64 `json:"mape"`
	Coverage    float64 `json:"coverage"` // share of actuals inside the predicted interval
}

// ContentEffect is the leave-one-intervention-out check of the persona
// adjustment: for each judged intervention cell j, the baseline is the
// inverse-variance mean uplift b_j of the other interventions of its
// segment × channel, and the adjustment d_j = Map(i_j) − mean_k Map(i_k)
// what an effect map fitted without intervention j says j's content adds
// to them. Weight is the least-squares slope of the residuals y_j − b_j on
// d_j (weights 1/var y_j), clamped to [0, 1]: 1 when the personas' intents
// explain how content moves uplift, 0 when they explain nothing. Segments
// holds each segment's slope as a random effect around the overall one
// (DerSimonian–Laird spread, posterior mean): personas may judge one
// segment well and another badly, but only a spread beyond noise lets a
// segment's weight leave the overall one. The simulator scales the adjustment by the segment's
// weight (Weight for a segment without one).
type ContentEffect struct {
	Weight   float64            `json:"weight"`
	Segments map[string]float64 `json:"segments,omitempty"`
	// Cells is the number of cells checked; SSEBaseline and SSEAdjusted
	// the weighted squared errors of the baseline and of the baseline plus
	// the segment's weight times the adjustment.
	Cells       int     `json:"cells"`
	SSEBaseline float64 `json:"sse_baseline"`
	SSEAdjusted float64 `json:"sse_adjusted"`
}
