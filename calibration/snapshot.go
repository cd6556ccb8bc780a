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
	// Quality is the backtest summary, as the PRD's calibration_quality.
	Quality Quality `json:"quality"`
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
