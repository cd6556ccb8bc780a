package api

import "slices"

// SimulationType says what kind of question a request asks. The PRD
// defines one.
type SimulationType string

// The simulation types.
const (
	// SimulationInterventionTest predicts the outcome of one intervention
	// against a held-out control. It is the default.
	SimulationInterventionTest SimulationType = "intervention_test"
)

// SimulationTypes lists the allowed simulation_type values.
var SimulationTypes = []SimulationType{SimulationInterventionTest}

// Industry is the industry_context of a request: it selects the priors used
// where the tenant's calibration has no data.
type Industry string

// The industries of the PRD.
const (
	IndustryRetail     Industry = "retail"
	IndustryTelecom    Industry = "telecom"
	IndustryFinance    Industry = "finance"
	IndustryHealthcare Industry = "healthcare"
	IndustryRealEstate Industry = "realestate"
)

// Industries lists the allowed industry_context values.
var Industries = []Industry{IndustryRetail, IndustryTelecom, IndustryFinance, IndustryHealthcare, IndustryRealEstate}

// InterventionType is intervention.type.
type InterventionType string

// The intervention types of the PRD.
const (
	// InterventionCampaign is a one-off send to the target population.
	InterventionCampaign InterventionType = "campaign"
	// InterventionSequence is a series of sends at the timing's cadence.
	InterventionSequence InterventionType = "sequence"
	// InterventionPolicyChange is a change of offer, price or rule rather
	// than a message; its content variants describe the policy.
	InterventionPolicyChange InterventionType = "policy_change"
)

// InterventionTypes lists the allowed intervention.type values.
var InterventionTypes = []InterventionType{InterventionCampaign, InterventionSequence, InterventionPolicyChange}

// Channel is a delivery channel.
type Channel string

// The channels of the PRD.
const (
	ChannelEmail Channel = "email"
	ChannelSMS   Channel = "sms"
	ChannelPush  Channel = "push"
)

// Channels lists the allowed channel values.
var Channels = []Channel{ChannelEmail, ChannelSMS, ChannelPush}

// Schedule is intervention.timing.schedule: when the first send happens.
type Schedule string

// The schedules of the PRD.
const (
	// ScheduleImmediate sends on day 0 of the horizon. It is the default.
	ScheduleImmediate Schedule = "immediate"
	// ScheduleScheduled sends at the best time the simulator finds within
	// the horizon (reported in optimal_configuration.timing).
	ScheduleScheduled Schedule = "scheduled"
	// ScheduleTriggered sends when a persona's simulated behaviour triggers
	// it (for example a lapsed purchase).
	ScheduleTriggered Schedule = "triggered"
)

// Schedules lists the allowed timing.schedule values.
var Schedules = []Schedule{ScheduleImmediate, ScheduleScheduled, ScheduleTriggered}

// Cadence is intervention.timing.cadence: how often a sequence sends.
type Cadence string

// The cadences of the PRD.
const (
	CadenceDaily      Cadence = "daily"
	CadenceWeekly     Cadence = "weekly"
	CadenceEventBased Cadence = "event_based"
)

// Cadences lists the allowed timing.cadence values.
var Cadences = []Cadence{CadenceDaily, CadenceWeekly, CadenceEventBased}

// SelectionMethod is target_population.selection_method.
type SelectionMethod string

// The selection methods of the PRD.
const (
	// SelectSegment targets the named segments; segments is then required.
	SelectSegment SelectionMethod = "segment"
	// SelectModelScore targets the size entities with the highest uplift
	// score, within segments when given.
	SelectModelScore SelectionMethod = "model_score"
	// SelectRandom targets a random sample of size entities, within
	// segments when given.
	SelectRandom SelectionMethod = "random"
)

// SelectionMethods lists the allowed selection_method values.
var SelectionMethods = []SelectionMethod{SelectSegment, SelectModelScore, SelectRandom}

// CalibrationMode is simulation_params.calibration_mode.
type CalibrationMode string

// The calibration modes of the PRD.
const (
	// CalibrationHistorical uses the calibration fitted on past campaigns as
	// is. It is the default.
	CalibrationHistorical CalibrationMode = "historical"
	// CalibrationProjected extrapolates the calibration's trends to the
	// simulated horizon (seasonality, drift).
	CalibrationProjected CalibrationMode = "projected"
)

// CalibrationModes lists the allowed calibration_mode values.
var CalibrationModes = []CalibrationMode{CalibrationHistorical, CalibrationProjected}

// Metric is one entry of success_metrics: one of the named metrics, the
// PRD's "custom_kpi" (the tenant's default custom KPI, as configured in its
// calibration) or "custom:<name>" for a named custom KPI, where <name> is 1
// to 64 lower-case letters, digits or underscores starting with a letter.
// The response answers a custom KPI in expected_outcomes.custom_kpis under
// the metric string as requested ("custom_kpi" or "custom:<name>").
type Metric string

// The named metrics of the PRD.
const (
	MetricConversionRate        Metric = "conversion_rate"
	MetricRevenueUplift         Metric = "revenue_uplift"
	MetricUnsubscribeRate       Metric = "unsubscribe_rate"
	MetricCustomerLifetimeValue Metric = "customer_lifetime_value"
	MetricCustomKPI             Metric = "custom_kpi"
)

// Metrics lists the named success metrics; "custom:<name>" is allowed too.
var Metrics = []Metric{MetricConversionRate, MetricRevenueUplift, MetricUnsubscribeRate, MetricCustomerLifetimeValue, MetricCustomKPI}

// CustomPrefix starts a named custom KPI metric, as in "custom:churn_saves".
const CustomPrefix = "custom:"

// IsCustom reports whether m names a custom KPI ("custom_kpi" or
// "custom:<name>").
func (m Metric) IsCustom() bool {
	return m == MetricCustomKPI || len(m) > len(CustomPrefix) && string(m[:len(CustomPrefix)]) == CustomPrefix
}

// Defaults applied by WithDefaults to absent fields.
const (
	DefaultSimulationType       = SimulationInterventionTest
	DefaultSchedule             = ScheduleImmediate
	DefaultCadence              = CadenceWeekly
	DefaultFrequencyCap         = 3
	DefaultNumPersonas          = 100
	DefaultTimeHorizonDays      = 30
	DefaultMonteCarloRuns       = 100
	DefaultCalibrationMode      = CalibrationHistorical
	DefaultIncludeExternalities = false
)

// DefaultSuccessMetrics is success_metrics when the request has none.
var DefaultSuccessMetrics = []Metric{MetricConversionRate, MetricRevenueUplift, MetricUnsubscribeRate}

// Bounds of the request's fields. The JSON Schema states the same bounds.
const (
	MaxContentVariants       = 20
	MaxTemplateChars         = 65536
	MaxPersonalizationFields = 32
	MaxSegments              = 100
	MaxPopulationSize        = 100_000_000
	MaxFrequencyCap          = 50
	MaxNumPersonas           = 10_000
	MaxTimeHorizonDays       = 365
	MaxMonteCarloRuns        = 10_000
	MaxSuccessMetrics        = 32
	MaxFilterDays            = 36_500
	MaxFilterFrequency       = 1_000
)

// SimulateRequest is the body of POST /api/v1/simulate.
type SimulateRequest struct {
	// SimulationType is the kind of question; default intervention_test.
	SimulationType SimulationType `json:"simulation_type,omitempty"`
	// IndustryContext selects industry priors; required.
	IndustryContext Industry `json:"industry_context"`
	// Intervention is what would be sent; required.
	Intervention *Intervention `json:"intervention"`
	// TargetPopulation is who it would be sent to; required.
	TargetPopulation *TargetPopulation `json:"target_population"`
	// SimulationParams sizes the simulation; optional, every field has a
	// default.
	SimulationParams *SimulationParams `json:"simulation_params,omitempty"`
	// SuccessMetrics are the metrics to predict, distinct; default
	// DefaultSuccessMetrics.
	SuccessMetrics []Metric `json:"success_metrics,omitempty"`
	// Constraints bound the acceptable configurations; optional, an absent
	// constraint does not bind.
	Constraints *Constraints `json:"constraints,omitempty"`
}

// Intervention is the intervention of a request.
type Intervention struct {
	// Type is campaign, sequence or policy_change; required.
	Type InterventionType `json:"type"`
	// Channels are the channels it may use, at least one, distinct.
	Channels []Channel `json:"channels"`
	// ContentVariants are the variants to compare, 1 to MaxContentVariants
	// with distinct ids.
	ContentVariants []ContentVariant `json:"content_variants"`
	// Timing is when and how often it sends; optional, defaulted.
	Timing *Timing `json:"timing,omitempty"`
}

// ContentVariant is one variant of the content.
type ContentVariant struct {
	// ID names the variant, unique within the request: 1 to 64 letters,
	// digits, '_', '-' or '.', starting with a letter or digit.
	ID string `json:"id"`
	// Template is the message (or policy description), 1 to
	// MaxTemplateChars Unicode characters; required.
	Template string `json:"template"`
	// PersonalizationFields are the persona attributes the template uses,
	// distinct lower-case identifiers; optional.
	PersonalizationFields []string `json:"personalization_fields,omitempty"`
}

// Timing is intervention.timing.
type Timing struct {
	// Schedule is when the first send happens; default immediate.
	Schedule Schedule `json:"schedule,omitempty"`
	// Cadence is how often a sequence sends; default weekly. A campaign
	// sends once whatever its cadence.
	Cadence Cadence `json:"cadence,omitempty"`
	// FrequencyCap is the most messages one persona receives in any 7
	// days, counting every channel, in [1, MaxFrequencyCap]; default 3.
	FrequencyCap *int `json:"frequency_cap,omitempty"`
}

// TargetPopulation is target_population.
type TargetPopulation struct {
	// SelectionMethod is segment, model_score or random; required.
	SelectionMethod SelectionMethod `json:"selection_method"`
	// Segments are segment ids, distinct; required (non-empty) for the
	// segment method, an optional restriction otherwise. Whether they exist
	// is checked against the calibration, not here.
	Segments []string `json:"segments,omitempty"`
	// Size is the number of real entities the intervention would reach, in
	// [1, MaxPopulationSize]; required. Predictions of totals (revenue)
	// are scaled to it.
	Size int `json:"size"`
	// Filters narrow the population; optional.
	Filters *Filters `json:"filters,omitempty"`
}

// Filters are target_population.filters. An absent filter does not filter.
type Filters struct {
	// MinTenureDays keeps entities known for at least this many days, in
	// [0, MaxFilterDays].
	MinTenureDays *int `json:"min_tenure_days,omitempty"`
	// MaxFrequencyLast30d keeps entities sent at most this many messages
	// in the last 30 days, in [0, MaxFilterFrequency].
	MaxFrequencyLast30d *int `json:"max_frequency_last_30d,omitempty"`
}

// SimulationParams is simulation_params. Its work, personas × runs × days,
// is bounded by Limits.MaxWork.
type SimulationParams struct {
	// NumPersonas is the number of synthetic personas sampled, in [1,
	// MaxNumPersonas]; default 100.
	NumPersonas *int `json:"num_personas,omitempty"`
	// TimeHorizonDays is the simulated horizon in days, in [1,
	// MaxTimeHorizonDays]; default 30.
	TimeHorizonDays *int `json:"time_horizon_days,omitempty"`
	// MonteCarloRuns is the number of Monte Carlo runs, in [1,
	// MaxMonteCarloRuns]; default 100.
	MonteCarloRuns *int `json:"monte_carlo_runs,omitempty"`
	// CalibrationMode is historical or projected; default historical.
	CalibrationMode CalibrationMode `json:"calibration_mode,omitempty"`
	// IncludeExternalities adds seasonality and competitor pressure to the
	// simulated world; default false.
	IncludeExternalities *bool `json:"include_externalities,omitempty"`
}

// Constraints is constraints. The simulator reports whether each is met and
// searches optimal_configuration among the configurations that meet all.
type Constraints struct {
	// MaxBudget is the most the intervention may cost for the whole
	// population, in the tenant's currency, >= 0.
	MaxBudget *float64 `json:"max_budget,omitempty"`
	// MaxUnsubscribeRate is the highest acceptable unsubscribe rate over
	// the horizon, a fraction in [0, 1].
	MaxUnsubscribeRate *float64 `json:"max_unsubscribe_rate,omitempty"`
	// MinROI is the lowest acceptable return on investment,
	// (revenue - cost) / cost, >= -1.
	MinROI *float64 `json:"min_roi,omitempty"`
}

// WithDefaults returns a copy of r with every absent optional field that has
// a default set to it (see the Default constants): simulation_type,
// intervention.timing and its fields, simulation_params and its fields, and
// success_metrics. Constraints and filters have no defaults. The copy shares
// no memory with r that WithDefaults writes to; r is not modified.
func (r SimulateRequest) WithDefaults() SimulateRequest {
	if r.SimulationType == "" {
		r.SimulationType = DefaultSimulationType
	}
	if r.Intervention != nil {
		iv := *r.Intervention
		t := Timing{}
		if iv.Timing != nil {
			t = *iv.Timing
		}
		if t.Schedule == "" {
			t.Schedule = DefaultSchedule
		}
		if t.Cadence == "" {
			t.Cadence = DefaultCadence
		}
		if t.FrequencyCap == nil {
			t.FrequencyCap = new(DefaultFrequencyCap)
		}
		iv.Timing = &t
		r.Intervention = &iv
	}
	p := SimulationParams{}
	if r.SimulationParams != nil {
		p = *r.SimulationParams
	}
	if p.NumPersonas == nil {
		p.NumPersonas = new(DefaultNumPersonas)
	}
	if p.TimeHorizonDays == nil {
		p.TimeHorizonDays = new(DefaultTimeHorizonDays)
	}
	if p.MonteCarloRuns == nil {
		p.MonteCarloRuns = new(DefaultMonteCarloRuns)
	}
	if p.CalibrationMode == "" {
		p.CalibrationMode = DefaultCalibrationMode
	}
	if p.IncludeExternalities == nil {
		p.IncludeExternalities = new(DefaultIncludeExternalities)
	}
	r.SimulationParams = &p
	if len(r.SuccessMetrics) == 0 {
		r.SuccessMetrics = slices.Clone(DefaultSuccessMetrics)
	}
	return r
}

// Work returns num_personas × monte_carlo_runs × time_horizon_days after
// defaults, the quantity Limits.MaxWork bounds. Each factor is bounded by
// validation, so the product cannot overflow for a valid request; for an
// invalid one, out-of-range factors are clamped to their bounds.
func (r SimulateRequest) Work() int64 {
	p := r.WithDefaults().SimulationParams
	f := func(v *int, hi int) int64 { return int64(min(max(*v, 1), hi)) }
	return f(p.NumPersonas, MaxNumPersonas) * f(p.MonteCarloRuns, MaxMonteCarloRuns) * f(p.TimeHorizonDays, MaxTimeHorizonDays)
}
