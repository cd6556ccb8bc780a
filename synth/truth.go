package synth

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Truth is what the world was built from: the resolved configuration (with
// every default and drawn campaign filled in) and, per campaign and
// segment, the expected outcomes under each arm. Expectations are exact:
// they average the planted probabilities over the entities actually
// assigned, without sampling, so they are what an unbiased estimator run
// on the emitted events should recover up to sampling noise.
type Truth struct {
	// Config is the resolved configuration; generating it again gives the
	// same world.
	Config Config `json:"config"`
	// Segments describes the generated segments.
	Segments []SegmentTruth `json:"segments"`
	// Campaigns holds one entry per campaign in send order.
	Campaigns []CampaignTruth `json:"campaigns"`
	// Fatigue holds the planted hazards and their expected rates by
	// channel and frequency.
	Fatigue FatigueTruth `json:"fatigue"`
	// Saturation holds the Hill parameters per channel (see Hill).
	Saturation map[string]Hill `json:"saturation"`
	// Drift is the planted drift, or nil.
	Drift *Drift `json:"drift,omitempty"`
	// Events counts the emitted events by type name.
	Events map[string]int64 `json:"events"`
	// EntityEffects lists every assignment's planted probabilities when
	// Config.EntityTruth is set.
	EntityEffects []EntityEffect `json:"entity_effects,omitempty"`
}

// SegmentTruth describes one generated segment.
type SegmentTruth struct {
	// ID is the segment id.
	ID string `json:"id"`
	// Size is the number of entities generated in the segment.
	Size int `json:"size"`
	// BaselinePurchaseRate is the mean of σ(η0) over the segment's
	// entities before any drift: the one-week purchase probability of an
	// untreated entity.
	BaselinePurchaseRate float64 `json:"baseline_purchase_rate"`
}

// CampaignTruth is the truth of one campaign.
type CampaignTruth struct {
	// ID is the campaign id carried by its exposures and outcomes.
	ID string `json:"id"`
	// InterventionID names what was sent.
	InterventionID string `json:"intervention_id"`
	// Channel is the channel the campaign was sent on.
	Channel string `json:"channel"`
	// SentAt is when the send started; exposures follow within two hours.
	SentAt time.Time `json:"sent_at"`
	// Creative holds the content features.
	Creative Creative `json:"creative"`
	// Segments lists the targeted segments.
	Segments []string `json:"segments"`
	// CostPerSend is the cost of one treated send, in currency units.
	CostPerSend float64 `json:"cost_per_send"`
	// Spend is treated × CostPerSend.
	Spend float64 `json:"spend"`
	// SaturationMultiplier is m(treated) of the channel's Hill curve.
	SaturationMultiplier float64 `json:"saturation_multiplier"`
	// Drifted reports whether the drift applied to this campaign (to all
	// entities or to Drift.Segment's).
	Drifted bool `json:"drifted"`
	// All holds the expectations over every assigned entity.
	All Expected `json:"all"`
	// BySegment holds them per segment (targeted segments only).
	BySegment map[string]Expected `json:"by_segment"`
}

// Expected holds exact expectations for one group of assigned entities.
// "Rate" fields under an arm average the planted probability over the
// entities assigned to that arm, so they are the expectation of that arm's
// sample mean given the assignment. ATE fields average the individual
// effect p1 − p0 over all entities of the group (treated and control), the
// sample average treatment effect that a difference in means estimates.
type Expected struct {
	// Treated and Control count the entities assigned to each arm.
	Treated int `json:"treated"`
	// Control counts the entities held out.
	Control int `json:"control"`

	// PurchaseRateTreated is the mean purchase probability p1 over the
	// treated entities.
	PurchaseRateTreated float64 `json:"purchase_rate_treated"`
	// PurchaseRateControl is the mean purchase probability p0 over the
	// control entities.
	PurchaseRateControl float64 `json:"purchase_rate_control"`
	// MeanP1 is the mean of p1 over the whole group (both arms).
	MeanP1 float64 `json:"mean_p1"`
	// MeanP0 is the mean of p0 over the whole group (both arms).
	MeanP0 float64 `json:"mean_p0"`
	// PurchaseATE is MeanP1 − MeanP0, the sample average treatment effect.
	PurchaseATE float64 `json:"purchase_ate"`
	// MeanTau is the mean CATE on the logit scale over the group.
	MeanTau float64 `json:"mean_tau"`

	// VisitRateTreated is the mean visit probability over the treated.
	VisitRateTreated float64 `json:"visit_rate_treated"`
	// VisitRateControl is the mean visit probability over the control.
	VisitRateControl float64 `json:"visit_rate_control"`
	// VisitATE is the mean individual effect on the visit probability.
	VisitATE float64 `json:"visit_ate"`

	// RevenuePerEntityTreated is the expected revenue (purchase
	// probability × expected value) per treated entity.
	RevenuePerEntityTreated float64 `json:"revenue_per_entity_treated"`
	// RevenuePerEntityControl is the expected revenue per control entity.
	RevenuePerEntityControl float64 `json:"revenue_per_entity_control"`
	// RevenueATE is the mean individual effect on expected revenue.
	RevenueATE float64 `json:"revenue_ate"`

	// OpenRate is the mean open probability per treated send.
	OpenRate float64 `json:"open_rate"`
	// ClickRate is the mean click probability per treated send.
	ClickRate float64 `json:"click_rate"`
	// UnsubscribeRate is the mean unsubscribe probability per treated send.
	UnsubscribeRate float64 `json:"unsubscribe_rate"`
	// ComplaintRate is the mean complaint probability per treated send.
	ComplaintRate float64 `json:"complaint_rate"`
}

// FatigueTruth holds the planted hazards and what they imply.
type FatigueTruth struct {
	// Params are the planted hazard parameters.
	Params Fatigue `json:"params"`
	// ByChannel lists, per channel and frequency_cumulative, the treated
	// sends and their mean unsubscribe and complaint probabilities.
	ByChannel map[string][]FrequencyTruth `json:"by_channel"`
}

// FrequencyTruth is the expected hazard of the sends with one
// frequency_cumulative on one channel.
type FrequencyTruth struct {
	// Frequency is the sends' frequency_cumulative.
	Frequency int `json:"frequency"`
	// Sends counts the treated sends with that frequency.
	Sends int `json:"sends"`
	// UnsubscribeRate is their mean unsubscribe probability.
	UnsubscribeRate float64 `json:"unsubscribe_rate"`
	// ComplaintRate is their mean complaint probability.
	ComplaintRate float64 `json:"complaint_rate"`
}

// EntityEffect is one assignment's planted truth.
type EntityEffect struct {
	// EntityID is the entity.
	EntityID string `json:"entity_id"`
	// CampaignID is the campaign.
	CampaignID string `json:"campaign_id"`
	// Segment is the entity's segment.
	Segment string `json:"segment"`
	// Arm is the arm the entity was assigned to.
	Arm string `json:"arm"`
	// P0 is the purchase probability under control.
	P0 float64 `json:"p0"`
	// P1 is the purchase probability under treatment.
	P1 float64 `json:"p1"`
	// Tau is the CATE on the logit scale: logit(P1) − logit(P0).
	Tau float64 `json:"tau"`
}

// Campaign returns the truth of the campaign with the given id.
func (t *Truth) Campaign(id string) (CampaignTruth, bool) {
	for _, c := range t.Campaigns {
		if c.ID == id {
			return c, true
		}
	}
	return CampaignTruth{}, false
}

// WriteJSON writes t as indented JSON to path.
func (t *Truth) WriteJSON(path string) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode truth: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write truth: %w", err)
	}
	return nil
}

// ReadTruth reads a Truth written by WriteJSON.
func ReadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read truth: %w", err)
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("cannot decode truth %s: %w", path, err)
	}
	return &t, nil
}

// expAcc accumulates sums for one Expected.
type expAcc struct {
	nT, nC              int
	p1T, p0C            float64
	p1All, p0All        float64
	tau                 float64
	v1T, v0C, v1A, v0A  float64
	r1T, r0C, r1A, r0A  float64
	open, click, un, cp float64
}

func (a *expAcc) result() Expected {
	n := float64(a.nT + a.nC)
	div := func(x float64, n float64) float64 {
		if n == 0 {
			return 0
		}
		return x / n
	}
	nT, nC := float64(a.nT), float64(a.nC)
	return Expected{
		Treated: a.nT, Control: a.nC,
		PurchaseRateTreated: div(a.p1T, nT), PurchaseRateControl: div(a.p0C, nC),
		MeanP1: div(a.p1All, n), MeanP0: div(a.p0All, n), PurchaseATE: div(a.p1All-a.p0All, n),
		MeanTau:          div(a.tau, n),
		VisitRateTreated: div(a.v1T, nT), VisitRateControl: div(a.v0C, nC), VisitATE: div(a.v1A-a.v0A, n),
		RevenuePerEntityTreated: div(a.r1T, nT), RevenuePerEntityControl: div(a.r0C, nC), RevenueATE: div(a.r1A-a.r0A, n),
		OpenRate: div(a.open, nT), ClickRate: div(a.click, nT), UnsubscribeRate: div(a.un, nT), ComplaintRate: div(a.cp, nT),
	}
}
