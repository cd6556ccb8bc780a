package persona

import "context"

// Spec is one synthetic persona, in the spirit of TinyTroupe's agent specs:
// who the person is, how they shop and how they like to be contacted. A Spec
// is plain data: it serializes to JSON and renders to prompt text
// deterministically (Render).
type Spec struct {
	// ID is unique within a population, stable under a seed.
	ID string `json:"id"`
	// SegmentID joins the persona to the causal models' segment.
	SegmentID string `json:"segment_id"`
	// Weight is the persona's share of its segment's population (the
	// weights of one segment sum to 1); calibration changes it.
	Weight float64 `json:"weight"`

	Name       string `json:"name"`
	AgeBand    string `json:"age_band"`    // e.g. "25-34"
	Gender     string `json:"gender"`      // free text
	Region     string `json:"region"`      // free text
	Occupation string `json:"occupation"`  // free text
	IncomeBand string `json:"income_band"` // "low", "medium", "high"

	// Traits are the Big Five, each in [0, 1]: openness,
	// conscientiousness, extraversion, agreeableness, neuroticism.
	Traits map[string]float64 `json:"traits"`
	// Preferences are product categories with an affinity in [0, 1].
	Preferences map[string]float64 `json:"preferences"`
	// ChannelAffinity is how receptive the persona is on each channel
	// (email, sms, push), in [0, 1].
	ChannelAffinity map[string]float64 `json:"channel_affinity"`
	// PriceSensitivity in [0, 1]: 0 ignores discounts, 1 buys on price.
	PriceSensitivity float64 `json:"price_sensitivity"`
	// FatigueTolerance in [0, 1]: how many messages before annoyance.
	FatigueTolerance float64 `json:"fatigue_tolerance"`
	// LifecycleStage is "prospect", "new", "active" or "lapsed".
	LifecycleStage string `json:"lifecycle_stage"`
	// PurchaseHistory summarizes past purchases: categories bought and
	// how often, in the persona's own terms.
	PurchaseHistory PurchaseHistory `json:"purchase_history"`
	// PreferredHours is the local time band in which the persona likes to
	// read messages; the zero value means unknown.
	PreferredHours HourBand `json:"preferred_hours,omitzero"`
}

// HourBand is a band of local hours [From, To), wrapping past midnight
// when To < From (22 to 7 is the night). From == To means unknown.
type HourBand struct {
	// From is the first hour of the band, 0–23.
	From int `json:"from"`
	// To is the hour the band ends (exclusive), 0–23.
	To int `json:"to"`
}

// IsZero reports whether the band is unknown (From == To).
func (b HourBand) IsZero() bool { return b.From == b.To }

// Contains reports whether hour h (0–23) lies in the band; an unknown band
// contains no hour.
func (b HourBand) Contains(h int) bool {
	switch {
	case b.From == b.To:
		return false
	case b.From < b.To:
		return h >= b.From && h < b.To
	}
	return h >= b.From || h < b.To
}

// PurchaseHistory summarizes what a persona has bought.
type PurchaseHistory struct {
	// Categories maps a product category to purchases in the last year.
	Categories map[string]int `json:"categories"`
	// OrdersPerYear is the persona's order frequency.
	OrdersPerYear float64 `json:"orders_per_year"`
	// AvgOrderValue is the persona's mean order value, in the account's
	// currency.
	AvgOrderValue float64 `json:"avg_order_value"`
	// DaysSinceLastOrder is the recency of the last order.
	DaysSinceLastOrder int `json:"days_since_last_order"`
}

// Intervention is what a persona judges: one message variant on one
// channel at one time, in the context of the persona's recent exposures.
type Intervention struct {
	// ID identifies the intervention (variant); it appears in prompts as a
	// stable tag.
	ID string `json:"id"`
	// Channel is "email", "sms" or "push".
	Channel string `json:"channel"`
	// Template is the message text with personalization fields such as
	// {{first_name}} or {{favorite_category}}.
	Template string `json:"template"`
	// Subject is the subject line or headline, possibly empty.
	Subject string `json:"subject,omitempty"`
	// Category is the product category the message is about, if any.
	Category string `json:"category,omitempty"`
	// Offer describes the incentive, if any.
	Offer Offer `json:"offer"`
	// SendHour is the local hour of sending, 0–23, or -1 when unknown.
	SendHour int `json:"send_hour"`
	// DayOfWeek is 0 (Sunday) to 6, or -1 when unknown.
	DayOfWeek int `json:"day_of_week"`
	// RecentExposures is how many messages the persona received in the
	// last 7 days before this one.
	RecentExposures int `json:"recent_exposures"`
}

// Offer is the incentive an intervention carries.
type Offer struct {
	// Kind is "none", "percent_off", "amount_off", "free_shipping" or
	// "gift".
	Kind string `json:"kind"`
	// Value is the percent (0–100) or the amount, by Kind.
	Value float64 `json:"value,omitempty"`
	// ExpiresHours is the offer's deadline from sending (urgency), 0 for
	// none.
	ExpiresHours float64 `json:"expires_hours,omitempty"`
}

// Driver factors a judgement may name.
const (
	DriverPrice     = "price"
	DriverDiscount  = "discount"
	DriverRelevance = "relevance"
	DriverUrgency   = "urgency"
	DriverTrust     = "trust"
	DriverClarity   = "clarity"
	DriverTiming    = "timing"
	DriverFatigue   = "fatigue"
	DriverChannel   = "channel"
	DriverOther     = "other"
)

// Drivers lists every driver factor, in a fixed order.
var Drivers = []string{DriverPrice, DriverDiscount, DriverRelevance, DriverUrgency, DriverTrust,
	DriverClarity, DriverTiming, DriverFatigue, DriverChannel, DriverOther}

// Driver is one reason behind a judgement, with its direction.
type Driver struct {
	// Factor is one of Drivers.
	Factor string `json:"factor"`
	// Effect is the signed contribution in [-1, 1]: positive raises intent.
	Effect float64 `json:"effect"`
}

// Judgement is a persona's reaction to an intervention. It is not a
// probability of conversion: IntentChange is the change in the persona's
// intent to act relative to not receiving the message.
type Judgement struct {
	// IntentChange is in [-1, 1]: -1 much less likely to act, 0 no change,
	// +1 much more likely.
	IntentChange float64 `json:"intent_change"`
	// Rationale is the persona's reason, in the first person.
	Rationale string `json:"rationale"`
	// Drivers are the factors behind the judgement, strongest first.
	Drivers []Driver `json:"drivers"`
	// Confidence is in [0, 1].
	Confidence float64 `json:"confidence"`
	// Reasoning is the step-by-step reasoning a chain-of-thought program
	// asks for before the answer; empty otherwise.
	Reasoning string `json:"reasoning,omitempty"`
	// Repairs lists what ParseJudgement had to fix to accept the answer
	// (a value clamped into range, an unknown driver factor mapped to
	// "other", a missing optional field defaulted), one sentence each;
	// empty when the answer was clean.
	Repairs []string `json:"repairs,omitempty"`
}

// Reasoner judges interventions for personas. Implementations are safe for
// concurrent use. Judge returns an error only when no judgement could be
// made (the endpoint failed after its retries, the context ended); a
// judgement that had to be repaired or clamped is returned without error.
type Reasoner interface {
	Judge(ctx context.Context, p Spec, iv Intervention) (Judgement, error)
}
