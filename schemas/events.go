// Package schemas defines Preflight's wire events: the five event types CRMs
// produce (entity, exposure, outcome, intervention, segment), their decoding
// and validation, and the JSON Schema documents that producers written in
// other languages can validate against.
//
// One JSON event travels per Kafka record. The record key is the entity id
// (segment id or intervention id for those types) and the header "schema"
// names the event type and version, e.g. "exposure.v1".
package schemas

import (
	"encoding/json"
	"time"
)

// Type names one of the five event types.
type Type string

// The event types of the PRD's data schema.
const (
	TypeEntity       Type = "entity"
	TypeExposure     Type = "exposure"
	TypeOutcome      Type = "outcome"
	TypeIntervention Type = "intervention"
	TypeSegment      Type = "segment"
)

// Types lists every event type in a fixed order.
var Types = []Type{TypeEntity, TypeExposure, TypeOutcome, TypeIntervention, TypeSegment}

// Version is the only schema version this release reads and writes.
const Version = "v1"

// HeaderSchema is the Kafka record header that names an event's type and
// version, e.g. "exposure.v1".
const HeaderSchema = "schema"

// SchemaName returns the header value for t at the current version.
func (t Type) SchemaName() string { return string(t) + "." + Version }

// Arms of a randomized exposure.
const (
	// ArmTreatment means the entity was assigned to receive the message and
	// it was sent.
	ArmTreatment = "treatment"
	// ArmControl means the entity was assigned to the holdout: nothing was
	// sent and the cost is zero. The event records the assignment so that
	// outcomes of the holdout can be compared with those of the treated.
	ArmControl = "control"
)

// Channels Preflight knows. Other channel names are accepted (the PRD lists
// mail and call too) as long as they are short lower-case identifiers.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
	ChannelPush  = "push"
)

// OutcomeTypes lists the accepted values of Outcome.OutcomeType.
var OutcomeTypes = []string{"open", "click", "visit", "purchase", "subscribe", "unsubscribe", "complaint", "churn", "custom"}

// Event is implemented by the five event types.
type Event interface {
	// Type returns the event's type.
	Type() Type
	// ID returns the event's event_id.
	ID() string
	// Key returns the Kafka record key: the entity id for entity, exposure
	// and outcome events, the intervention id and the segment id otherwise.
	Key() string
	// Time returns the moment the event happened.
	Time() time.Time
	// Validate reports every problem with the event, each naming its field.
	Validate() error
}

// Entity is a customer, member or account, as the PRD's entities table.
type Entity struct {
	EventID        string    `json:"event_id"`
	EntityID       string    `json:"entity_id"`
	SegmentID      string    `json:"segment_id"`
	CreatedAt      time.Time `json:"created_at"`
	LifecycleStage string    `json:"lifecycle_stage,omitempty"`
	ValueTier      string    `json:"value_tier,omitempty"`
	// Attributes holds industry-specific fields. Top-level fields of the
	// JSON event that this type does not know are kept here too.
	Attributes map[string]any `json:"attributes,omitempty"`
}

// Exposure records that an entity was assigned to a campaign's arm: sent a
// message (treatment) or deliberately held out (control).
type Exposure struct {
	EventID    string    `json:"event_id"`
	ExposureID string    `json:"exposure_id"`
	EntityID   string    `json:"entity_id"`
	SegmentID  string    `json:"segment_id,omitempty"`
	Timestamp  time.Time `json:"timestamp"`
	Channel    string    `json:"channel"`
	// CampaignID groups the exposures of one randomized send; the arm is
	// relative to it.
	CampaignID     string `json:"campaign_id"`
	InterventionID string `json:"intervention_id"`
	Arm            string `json:"arm"`
	// Content describes what was sent (subject, offer, features). Empty for
	// the control arm.
	Content map[string]any `json:"content,omitempty"`
	// Cost is what the send cost in the account's currency; 0 for control.
	Cost float64 `json:"cost"`
	// FrequencyCumulative counts the messages this entity received on this
	// channel up to and including this one (0 for control).
	FrequencyCumulative int `json:"frequency_cumulative"`
	// Metadata keeps top-level fields this type does not know.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Outcome is something an entity did: opened, clicked, bought, left.
type Outcome struct {
	EventID     string    `json:"event_id"`
	OutcomeID   string    `json:"outcome_id"`
	EntityID    string    `json:"entity_id"`
	Timestamp   time.Time `json:"timestamp"`
	OutcomeType string    `json:"outcome_type"`
	// Value is the outcome's amount (revenue for a purchase), 0 when the
	// outcome has none.
	Value float64 `json:"value"`
	// CampaignID attributes the outcome to a campaign the entity was
	// exposed to (or held out of). Empty means unattributed.
	CampaignID string `json:"campaign_id,omitempty"`
	// Metadata holds anything else; unknown top-level fields are kept here.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Intervention defines a message or policy that exposures refer to.
type Intervention struct {
	EventID           string         `json:"event_id"`
	InterventionID    string         `json:"intervention_id"`
	Kind              string         `json:"type"`
	CreatedAt         time.Time      `json:"created_at"`
	ContentTemplate   string         `json:"content_template,omitempty"`
	CreativeElements  map[string]any `json:"creative_elements,omitempty"`
	TargetingCriteria map[string]any `json:"targeting_criteria,omitempty"`
	// Metadata keeps top-level fields this type does not know.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Segment defines a group of entities and the priors personas are drawn from.
type Segment struct {
	EventID           string         `json:"event_id"`
	SegmentID         string         `json:"segment_id"`
	UpdatedAt         time.Time      `json:"updated_at"`
	Definition        map[string]any `json:"definition,omitempty"`
	Size              int64          `json:"size"`
	TraitPriors       map[string]any `json:"trait_priors,omitempty"`
	HistoricalMetrics map[string]any `json:"historical_metrics,omitempty"`
	// Metadata keeps top-level fields this type does not know.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// Type implements Event.
func (*Entity) Type() Type { return TypeEntity }

// Type implements Event.
func (*Exposure) Type() Type { return TypeExposure }

// Type implements Event.
func (*Outcome) Type() Type { return TypeOutcome }

// Type implements Event.
func (*Intervention) Type() Type { return TypeIntervention }

// Type implements Event.
func (*Segment) Type() Type { return TypeSegment }

// ID implements Event.
func (e *Entity) ID() string { return e.EventID }

// ID implements Event.
func (e *Exposure) ID() string { return e.EventID }

// ID implements Event.
func (e *Outcome) ID() string { return e.EventID }

// ID implements Event.
func (e *Intervention) ID() string { return e.EventID }

// ID implements Event.
func (e *Segment) ID() string { return e.EventID }

// Key implements Event.
func (e *Entity) Key() string { return e.EntityID }

// Key implements Event.
func (e *Exposure) Key() string { return e.EntityID }

// Key implements Event.
func (e *Outcome) Key() string { return e.EntityID }

// Key implements Event.
func (e *Intervention) Key() string { return e.InterventionID }

// Key implements Event.
func (e *Segment) Key() string { return e.SegmentID }

// Time implements Event.
func (e *Entity) Time() time.Time { return e.CreatedAt }

// Time implements Event.
func (e *Exposure) Time() time.Time { return e.Timestamp }

// Time implements Event.
func (e *Outcome) Time() time.Time { return e.Timestamp }

// Time implements Event.
func (e *Intervention) Time() time.Time { return e.CreatedAt }

// Time implements Event.
func (e *Segment) Time() time.Time { return e.UpdatedAt }

// Encode renders ev as the JSON value of a Kafka record.
func Encode(ev Event) ([]byte, error) { return json.Marshal(ev) }

// DefaultTopicPrefix is the prefix every Preflight topic name starts with
// unless configured otherwise.
const DefaultTopicPrefix = "preflight."

// Topic returns the Kafka topic that carries events of type t under prefix,
// e.g. "preflight.exposures".
func (t Type) Topic(prefix string) string { return prefix + t.Plural() }

// Plural returns the type's plural, the name of its topic and of its raw
// table: entities, exposures, outcomes, interventions, segments.
func (t Type) Plural() string {
	if t == TypeEntity {
		return "entities"
	}
	return string(t) + "s"
}
