package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"time"

	"github.com/preflight-hq/preflight/schemas"
)

// Defaults used when the corresponding Config field is zero or nil.
const (
	DefaultEntities        = 20000
	DefaultDays            = 84
	DefaultNumCampaigns    = 12
	DefaultHoldoutShare    = 0.2
	DefaultAttributionDays = 7.0
)

// DefaultStart is the first instant of the simulated period when
// Config.Start is zero: Monday 2026-01-05 00:00 UTC.
var DefaultStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

// DefaultCategories are the product categories entities have an affinity
// for and campaigns can be relevant to.
var DefaultCategories = []string{"fashion", "electronics", "home", "beauty", "sports"}

// Config describes a synthetic world. The zero value of every field means
// its default, so Config{Seed: 1} is a complete world of DefaultEntities
// entities and DefaultNumCampaigns campaigns.
type Config struct {
	// Seed makes the world reproducible: the same Config gives the same
	// events, byte for byte, and the same Truth.
	Seed uint64 `json:"seed"`
	// Entities is the number of customers. Default DefaultEntities.
	Entities int `json:"entities"`
	// Categories lists product categories. Default DefaultCategories.
	Categories []string `json:"categories"`
	// Segments describes the segments and their attribute priors. Default
	// DefaultSegments().
	Segments []SegmentSpec `json:"segments"`
	// Start is the first instant of the simulated period; entities were
	// created before it. Default DefaultStart.
	Start time.Time `json:"start"`
	// Days is the length of the period over which campaigns are sent, in
	// days. Default DefaultDays.
	Days int `json:"days"`
	// Campaigns lists the campaigns. When nil, NumCampaigns campaigns are
	// drawn from the seed: channels cycle email, sms, email, push; every
	// third campaign targets all segments, the others one to three
	// segments; creative features are drawn at random.
	Campaigns []CampaignSpec `json:"campaigns"`
	// NumCampaigns is the number of campaigns drawn when Campaigns is nil.
	// Default DefaultNumCampaigns.
	NumCampaigns int `json:"num_campaigns,omitempty"`
	// HoldoutShare is the probability that a targeted entity is assigned
	// to the control arm (independently per entity and campaign). It must
	// lie in (0, 1). Default DefaultHoldoutShare.
	HoldoutShare float64 `json:"holdout_share"`
	// AttributionDays is the window after a send in which outcomes are
	// attributed to its campaign, in days. Default
	// DefaultAttributionDays.
	AttributionDays float64 `json:"attribution_days"`
	// Costs is the cost of one send per channel, in currency units.
	// Default DefaultCosts(). Every channel used needs an entry.
	Costs map[string]float64 `json:"costs"`
	// Saturation holds the Hill parameters of each channel. Default
	// DefaultSaturation(). Every channel used needs an entry.
	Saturation map[string]Hill `json:"saturation"`
	// Fatigue holds the unsubscribe and complaint hazards. Default
	// DefaultFatigue().
	Fatigue *Fatigue `json:"fatigue"`
	// Model holds the purchase, visit and revenue model. Default
	// DefaultModel().
	Model *Model `json:"model"`
	// Drift, when not nil, changes the world for campaigns sent at or
	// after Drift.At.
	Drift *Drift `json:"drift,omitempty"`
	// EntityTruth asks Generate to record every assignment's planted
	// probabilities and effect in Truth.EntityEffects (large: one row per
	// entity and campaign).
	EntityTruth bool `json:"entity_truth,omitempty"`
}

// SegmentSpec is one segment and the priors its entities' attributes are
// drawn from.
type SegmentSpec struct {
	// ID names the segment, e.g. "at_risk": lower case, digits and '_'.
	ID string `json:"id"`
	// Description says who is in the segment.
	Description string `json:"description,omitempty"`
	// Share is the segment's relative size; shares are normalised.
	Share float64 `json:"share"`
	// AgeMean is the mean of a normal prior on age in years (clipped to
	// [18, 90]).
	AgeMean float64 `json:"age_mean"`
	// AgeSD is the standard deviation of the age prior.
	AgeSD float64 `json:"age_sd"`
	// TenureMeanDays is the mean of a Gamma(2) prior on tenure_days (days
	// since the entity was created, at Start), at least 1.
	TenureMeanDays float64 `json:"tenure_mean_days"`
	// TenureMaxDays, when > 0, caps tenure_days.
	TenureMaxDays int `json:"tenure_max_days,omitempty"`
	// RecencyMeanDays is the mean of an exponential prior on recency_days
	// (days since the last purchase, at Start), capped at tenure_days.
	RecencyMeanDays float64 `json:"recency_mean_days"`
	// HistoryMedian is the median of a log-normal prior on history_value
	// (spend in the past year).
	HistoryMedian float64 `json:"history_median"`
	// HistorySigma is the log-scale standard deviation of that prior.
	HistorySigma float64 `json:"history_sigma"`
	// PriceSensitivity is a Beta(a, b) prior on price_sensitivity in [0,1].
	PriceSensitivity [2]float64 `json:"price_sensitivity_beta"`
	// Engagement is a Beta(a, b) prior on engagement in [0, 1].
	Engagement [2]float64 `json:"engagement_beta"`
	// CategoryWeights gives the relative probability of each category
	// affinity; categories missing from the map have weight 0. When nil,
	// every category is equally likely.
	CategoryWeights map[string]float64 `json:"category_weights,omitempty"`
	// BaseOffset is added to the purchase logit of the segment's entities.
	BaseOffset float64 `json:"base_offset"`
	// Sensitivity multiplies the treatment effect (on the logit scale) of
	// the segment's entities.
	Sensitivity float64 `json:"sensitivity"`
}

// CampaignSpec is one randomized send.
type CampaignSpec struct {
	// ID names the campaign, e.g. "cmp-01". Default "cmp-NN" by position.
	ID string `json:"id"`
	// InterventionID names what was sent. Default ID + "-" + Channel.
	InterventionID string `json:"intervention_id"`
	// Channel is email, sms, push or another lower-case channel name.
	Channel string `json:"channel"`
	// Day is when the send starts, in days after Start (fractions allowed).
	// Entities receive it over the following two hours.
	Day float64 `json:"day"`
	// Segments lists the targeted segments; empty targets all segments.
	Segments []string `json:"segments,omitempty"`
	// Creative describes the content.
	Creative Creative `json:"creative"`
	// Template is the content template text. Default: composed from the
	// creative features.
	Template string `json:"template,omitempty"`
}

// Creative holds the content features that the planted treatment effect
// depends on.
type Creative struct {
	// Urgency in [0, 1]: how strongly the message urges acting now.
	Urgency float64 `json:"urgency"`
	// DiscountPct in [0, 90]: the discount offered, in percent.
	DiscountPct float64 `json:"discount_pct"`
	// Category is the product category the content is about; it is
	// relevant to entities whose category_affinity matches. Empty means
	// none.
	Category string `json:"relevance_category"`
	// Personalization in [0, 1]: how personalised the content is.
	Personalization float64 `json:"personalization"`
}

// Hill parameterises channel saturation. A campaign that treats n entities
// multiplies each entity's treatment effect (logit scale) by
//
//	m(n) = K^S / (K^S + n^S) = 1 − Hill(n; K, S),
//
// so the effect per send declines with the audience; for S = 1 the
// campaign's total effect n·m(n) = K·n/(K+n) is K times the Hill curve
// n/(K+n). In spend units the half-saturation point is K times the cost
// per send.
type Hill struct {
	// K is the audience, in sends, at which each send's effect is halved.
	K float64 `json:"k"`
	// S is the Hill shape (slope) parameter.
	S float64 `json:"s"`
}

// Multiplier returns m(n), the factor applied to each treated entity's
// effect when n entities are treated.
func (h Hill) Multiplier(n float64) float64 {
	if n <= 0 {
		return 1
	}
	ks := math.Pow(h.K, h.S)
	return ks / (ks + math.Pow(n, h.S))
}

// Fatigue parameterises the hazards of a treated send. With f the send's
// frequency_cumulative on its channel and e the entity's engagement:
//
//	P(unsubscribe) = σ(UnsubIntercept[channel] + FrequencySlope·(f−1) + EngagementCoef·(e−0.5))
//	P(complaint)   = σ(ComplaintIntercept + ComplaintSlope·(f−1))
//
// where σ is the logistic function. An entity that unsubscribes from a
// channel is never targeted on that channel again (in either arm).
type Fatigue struct {
	// UnsubIntercept is the logit of the unsubscribe probability of a
	// first send to an average-engagement entity, per channel.
	UnsubIntercept map[string]float64 `json:"unsub_intercept"`
	// FrequencySlope is the increase of the unsubscribe logit per earlier
	// send on the same channel.
	FrequencySlope float64 `json:"frequency_slope"`
	// EngagementCoef multiplies (engagement − 0.5) in the unsubscribe
	// logit; negative means engaged entities unsubscribe less.
	EngagementCoef float64 `json:"engagement_coef"`
	// ComplaintIntercept is the logit of the complaint probability of a
	// first send.
	ComplaintIntercept float64 `json:"complaint_intercept"`
	// ComplaintSlope is the increase of the complaint logit per earlier
	// send on the same channel.
	ComplaintSlope float64 `json:"complaint_slope"`
}

// Model holds the planted outcome model. For entity i and campaign c,
// with σ the logistic function:
//
//	η0 = BaseIntercept + segment.BaseOffset
//	     + HistoryCoef·(ln(1+history_value) − 5.5)
//	     + RecencyCoef·recency_days/30
//	     + EngagementCoef·(engagement − 0.5)
//	g  = ChannelEffect[channel]
//	     + UrgencyCoef·urgency·(risk − 0.35)              risk = min(recency_days/120, 1)
//	     + DiscountCoef·(discount_pct/30)·(price_sensitivity − 0.35)
//	     + RelevanceCoef·[relevance_category = category_affinity]
//	     + PersonalizationCoef·personalization·(engagement − 0.2)
//	τ  = m(n_c)·segment.Sensitivity·g                     (the CATE on the logit scale)
//	P(purchase | control)   = p0 = σ(η0)
//	P(purchase | treatment) = p1 = σ(η0 + τ)
//
// A drift in effect from the campaign's send time adds ln(BaseOddsFactor)
// to η0 and multiplies τ by EffectFactor (for its segment, or everyone).
// A purchaser also visits; a non-purchaser visits with probability
// σ(η0 + VisitLift + VisitEffectShare·τ·[treated]). A purchase's value is
// log-normal with mean (BasketBase + BasketPerHistory·history_value),
// times (1 − discount_pct/100) when treated, and log-sd BasketSigma.
// Opens and clicks (treated only) are engagement signals with no causal
// link to purchases.
type Model struct {
	// BaseIntercept is the purchase logit of an average entity.
	BaseIntercept float64 `json:"base_intercept"`
	// HistoryCoef multiplies ln(1+history_value) − 5.5.
	HistoryCoef float64 `json:"history_coef"`
	// RecencyCoef multiplies recency_days/30.
	RecencyCoef float64 `json:"recency_coef"`
	// EngagementCoef multiplies engagement − 0.5.
	EngagementCoef float64 `json:"engagement_coef"`
	// ChannelEffect is the base treatment effect of each channel.
	ChannelEffect map[string]float64 `json:"channel_effect"`
	// UrgencyCoef multiplies urgency·(risk − 0.35) in the effect.
	UrgencyCoef float64 `json:"urgency_coef"`
	// DiscountCoef multiplies (discount_pct/30)·(price_sensitivity − 0.35).
	DiscountCoef float64 `json:"discount_coef"`
	// RelevanceCoef is added when the content's category matches the
	// entity's affinity.
	RelevanceCoef float64 `json:"relevance_coef"`
	// PersonalizationCoef multiplies personalization·(engagement − 0.2).
	PersonalizationCoef float64 `json:"personalization_coef"`
	// VisitLift is added to η0 for the visit logit of non-purchasers.
	VisitLift float64 `json:"visit_lift"`
	// VisitEffectShare is the share of τ that carries over to visits.
	VisitEffectShare float64 `json:"visit_effect_share"`
	// BasketBase is the expected purchase value of an entity with no
	// history.
	BasketBase float64 `json:"basket_base"`
	// BasketPerHistory adds to the expected purchase value per unit of
	// history_value.
	BasketPerHistory float64 `json:"basket_per_history"`
	// BasketSigma is the log-scale standard deviation of purchase values.
	BasketSigma float64 `json:"basket_sigma"`
	// OpenRate is the open probability of a treated send to an
	// average-engagement entity, per channel; engagement shifts its logit
	// by 2·(engagement − 0.5).
	OpenRate map[string]float64 `json:"open_rate"`
	// ClickRate is the click probability of an open; a relevant category
	// adds 0.8 and personalization 0.5·personalization to its logit.
	ClickRate float64 `json:"click_rate"`
}

// Drift changes the world for campaigns sent at or after At.
type Drift struct {
	// At is the moment from which campaigns are affected (by send time).
	At time.Time `json:"at"`
	// Segment restricts the drift to one segment; empty means all.
	Segment string `json:"segment,omitempty"`
	// BaseOddsFactor multiplies the odds of the baseline purchase
	// probability (about the rate itself while rates are small). 1 means
	// no change; must be > 0.
	BaseOddsFactor float64 `json:"base_odds_factor"`
	// EffectFactor multiplies the treatment effect τ. 1 means no change;
	// 0 removes the effect; must be >= 0.
	EffectFactor float64 `json:"effect_factor"`
}

// DefaultSegments returns the five default segments.
func DefaultSegments() []SegmentSpec {
	return []SegmentSpec{
		{ID: "high_value", Description: "big spenders who buy often", Share: 0.15,
			AgeMean: 45, AgeSD: 10, TenureMeanDays: 900, RecencyMeanDays: 20, HistoryMedian: 900, HistorySigma: 0.5,
			PriceSensitivity: [2]float64{2, 6}, Engagement: [2]float64{5, 3},
			CategoryWeights: map[string]float64{"electronics": 3, "home": 2.5, "fashion": 2, "beauty": 1.5, "sports": 1},
			BaseOffset:      0.5, Sensitivity: 0.8},
		{ID: "at_risk", Description: "customers who have not bought for a long time", Share: 0.20,
			AgeMean: 40, AgeSD: 12, TenureMeanDays: 700, RecencyMeanDays: 110, HistoryMedian: 250, HistorySigma: 0.7,
			PriceSensitivity: [2]float64{3, 4}, Engagement: [2]float64{2, 5},
			BaseOffset: -0.6, Sensitivity: 1.2},
		{ID: "new_users", Description: "customers created in the last 90 days", Share: 0.20,
			AgeMean: 30, AgeSD: 8, TenureMeanDays: 45, TenureMaxDays: 90, RecencyMeanDays: 15, HistoryMedian: 60, HistorySigma: 0.6,
			PriceSensitivity: [2]float64{3, 3}, Engagement: [2]float64{4, 3},
			CategoryWeights: map[string]float64{"fashion": 3, "beauty": 2, "sports": 2, "electronics": 1.5, "home": 1},
			BaseOffset:      -0.3, Sensitivity: 1.1},
		{ID: "loyal", Description: "long-standing regular customers", Share: 0.25,
			AgeMean: 50, AgeSD: 12, TenureMeanDays: 1500, RecencyMeanDays: 25, HistoryMedian: 450, HistorySigma: 0.5,
			PriceSensitivity: [2]float64{2, 5}, Engagement: [2]float64{6, 2},
			CategoryWeights: map[string]float64{"home": 3, "fashion": 2, "beauty": 2, "electronics": 1.5, "sports": 1.5},
			BaseOffset:      0.3, Sensitivity: 0.7},
		{ID: "bargain_hunters", Description: "price-driven customers who wait for offers", Share: 0.20,
			AgeMean: 35, AgeSD: 10, TenureMeanDays: 500, RecencyMeanDays: 45, HistoryMedian: 200, HistorySigma: 0.6,
			PriceSensitivity: [2]float64{7, 2}, Engagement: [2]float64{3, 3},
			BaseOffset: -0.2, Sensitivity: 1.0},
	}
}

// DefaultCosts returns the default cost of one send per channel.
func DefaultCosts() map[string]float64 {
	return map[string]float64{schemas.ChannelEmail: 0.01, schemas.ChannelSMS: 0.05, schemas.ChannelPush: 0.002}
}

// DefaultSaturation returns the default Hill parameters per channel.
func DefaultSaturation() map[string]Hill {
	return map[string]Hill{
		schemas.ChannelEmail: {K: 12000, S: 1},
		schemas.ChannelSMS:   {K: 6000, S: 1},
		schemas.ChannelPush:  {K: 15000, S: 1},
	}
}

// DefaultFatigue returns the default hazards.
func DefaultFatigue() *Fatigue {
	return &Fatigue{
		UnsubIntercept:     map[string]float64{schemas.ChannelEmail: -5.5, schemas.ChannelSMS: -4.8, schemas.ChannelPush: -5.0},
		FrequencySlope:     0.45,
		EngagementCoef:     -1.5,
		ComplaintIntercept: -7.5,
		ComplaintSlope:     0.3,
	}
}

// DefaultModel returns the default outcome model: about 3.5% of control
// entities buy within a week of a send, and a typical treatment lifts that
// by one to two percentage points.
func DefaultModel() *Model {
	return &Model{
		BaseIntercept: -3.3, HistoryCoef: 0.35, RecencyCoef: -0.25, EngagementCoef: 1.0,
		ChannelEffect: map[string]float64{schemas.ChannelEmail: 0.45, schemas.ChannelSMS: 0.55, schemas.ChannelPush: 0.30},
		UrgencyCoef:   1.2, DiscountCoef: 1.5, RelevanceCoef: 0.6, PersonalizationCoef: 0.5,
		VisitLift: 1.9, VisitEffectShare: 0.7,
		BasketBase: 30, BasketPerHistory: 0.04, BasketSigma: 0.5,
		OpenRate:  map[string]float64{schemas.ChannelEmail: 0.22, schemas.ChannelSMS: 0.45, schemas.ChannelPush: 0.08},
		ClickRate: 0.12,
	}
}

var idRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// resolve returns a copy of c with defaults filled in and checks it. It
// draws default campaigns from r.
func (c Config) resolve(r *rand.Rand) (Config, error) {
	if c.Entities == 0 {
		c.Entities = DefaultEntities
	}
	if c.Categories == nil {
		c.Categories = slices.Clone(DefaultCategories)
	}
	if c.Segments == nil {
		c.Segments = DefaultSegments()
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC()
	if c.Days == 0 {
		c.Days = DefaultDays
	}
	if c.HoldoutShare == 0 {
		c.HoldoutShare = DefaultHoldoutShare
	}
	if c.AttributionDays == 0 {
		c.AttributionDays = DefaultAttributionDays
	}
	if c.Costs == nil {
		c.Costs = DefaultCosts()
	}
	if c.Saturation == nil {
		c.Saturation = DefaultSaturation()
	}
	if c.Fatigue == nil {
		c.Fatigue = DefaultFatigue()
	}
	if c.Model == nil {
		c.Model = DefaultModel()
	}
	if err := c.validateWorld(); err != nil {
		return c, err
	}
	if c.Campaigns == nil {
		n := c.NumCampaigns
		if n == 0 {
			n = DefaultNumCampaigns
		}
		if n < 0 {
			return c, errors.New("invalid synth config: num_campaigns must be >= 0")
		}
		c.Campaigns = defaultCampaigns(r, c, n)
	} else {
		c.Campaigns = slices.Clone(c.Campaigns)
	}
	c.NumCampaigns = len(c.Campaigns)
	for i := range c.Campaigns {
		cs := &c.Campaigns[i]
		if cs.ID == "" {
			cs.ID = fmt.Sprintf("cmp-%02d", i+1)
		}
		if cs.InterventionID == "" {
			cs.InterventionID = cs.ID + "-" + cs.Channel
		}
		if cs.Template == "" {
			cs.Template = composeTemplate(cs.Creative, cs.Channel)
		}
	}
	if err := c.validateCampaigns(); err != nil {
		return c, err
	}
	return c, nil
}

func (c *Config) validateWorld() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Entities < 1 || c.Entities > 50_000_000 {
		add("entities: must be in [1, 50000000], got %d", c.Entities)
	}
	if c.Days < 1 {
		add("days: must be >= 1, got %d", c.Days)
	}
	if c.Start.Year() < 1990 || c.Start.Year() > 2100 {
		add("start: must be between 1990 and 2100, got %s", c.Start.Format(time.RFC3339))
	}
	if !(c.HoldoutShare > 0 && c.HoldoutShare < 1) {
		add("holdout_share: must be in (0, 1), got %g", c.HoldoutShare)
	}
	if !(c.AttributionDays > 0 && c.AttributionDays <= 90) {
		add("attribution_days: must be in (0, 90], got %g", c.AttributionDays)
	}
	if len(c.Categories) == 0 {
		add("categories: at least one is required")
	}
	for _, cat := range c.Categories {
		if !idRE.MatchString(cat) {
			add("categories: %q is not a lower-case identifier", cat)
		}
	}
	if len(c.Segments) == 0 {
		add("segments: at least one is required")
	}
	seen := map[string]bool{}
	for i, s := range c.Segments {
		p := fmt.Sprintf("segments[%d] (%s)", i, s.ID)
		if !idRE.MatchString(s.ID) {
			add("%s: id must be a lower-case identifier", p)
		}
		if seen[s.ID] {
			add("%s: duplicate id", p)
		}
		seen[s.ID] = true
		if !(s.Share > 0) {
			add("%s: share must be > 0", p)
		}
		if !(s.AgeSD >= 0) || !(s.TenureMeanDays > 0) || !(s.RecencyMeanDays > 0) || !(s.HistoryMedian > 0) || !(s.HistorySigma >= 0) {
			add("%s: age_sd and history_sigma must be >= 0; tenure_mean_days, recency_mean_days and history_median > 0", p)
		}
		if !(s.PriceSensitivity[0] > 0 && s.PriceSensitivity[1] > 0 && s.Engagement[0] > 0 && s.Engagement[1] > 0) {
			add("%s: Beta parameters of price_sensitivity and engagement must be > 0", p)
		}
		if s.CategoryWeights != nil {
			total := 0.0
			for cat, w := range s.CategoryWeights {
				if !slices.Contains(c.Categories, cat) {
					add("%s: category_weights names unknown category %q", p, cat)
				}
				if !(w >= 0) {
					add("%s: category weight of %q must be >= 0", p, cat)
				}
				total += w
			}
			if !(total > 0) {
				add("%s: category weights must not all be 0", p)
			}
		}
		if !(s.Sensitivity >= 0) {
			add("%s: sensitivity must be >= 0", p)
		}
	}
	if d := c.Drift; d != nil {
		if d.At.IsZero() {
			add("drift.at: is required")
		}
		if d.Segment != "" && !seen[d.Segment] {
			add("drift.segment: unknown segment %q", d.Segment)
		}
		if !(d.BaseOddsFactor > 0) || math.IsInf(d.BaseOddsFactor, 0) {
			add("drift.base_odds_factor: must be > 0 (1 = unchanged), got %g", d.BaseOddsFactor)
		}
		if !(d.EffectFactor >= 0) || math.IsInf(d.EffectFactor, 0) {
			add("drift.effect_factor: must be >= 0 (1 = unchanged), got %g", d.EffectFactor)
		}
	}
	m := c.Model
	if !(m.BasketBase >= 0 && m.BasketPerHistory >= 0 && m.BasketSigma >= 0) || !(m.ClickRate > 0 && m.ClickRate < 1) {
		add("model: basket parameters must be >= 0 and click_rate in (0, 1)")
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid synth config: %w", errors.Join(errs...))
	}
	return nil
}

func (c *Config) validateCampaigns() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Campaigns) > 10000 {
		add("campaigns: at most 10000, got %d", len(c.Campaigns))
	}
	ids := map[string]bool{}
	for i, cs := range c.Campaigns {
		p := fmt.Sprintf("campaigns[%d] (%s)", i, cs.ID)
		if ids[cs.ID] {
			add("%s: duplicate id", p)
		}
		ids[cs.ID] = true
		if len(cs.ID) > 64 || len(cs.InterventionID) > 64 {
			add("%s: id and intervention_id must be at most 64 bytes", p)
		}
		if !idRE.MatchString(cs.Channel) {
			add("%s: channel %q is not a lower-case identifier", p, cs.Channel)
			continue
		}
		if _, ok := c.Costs[cs.Channel]; !ok {
			add("%s: no cost for channel %s", p, cs.Channel)
		} else if !(c.Costs[cs.Channel] >= 0) {
			add("%s: cost of channel %s must be >= 0", p, cs.Channel)
		}
		if h, ok := c.Saturation[cs.Channel]; !ok || !(h.K > 0) || !(h.S > 0) {
			add("%s: saturation of channel %s needs k > 0 and s > 0", p, cs.Channel)
		}
		if _, ok := c.Fatigue.UnsubIntercept[cs.Channel]; !ok {
			add("%s: fatigue.unsub_intercept has no entry for channel %s", p, cs.Channel)
		}
		if _, ok := c.Model.ChannelEffect[cs.Channel]; !ok {
			add("%s: model.channel_effect has no entry for channel %s", p, cs.Channel)
		}
		if r, ok := c.Model.OpenRate[cs.Channel]; !ok || !(r > 0 && r < 1) {
			add("%s: model.open_rate of channel %s must be in (0, 1)", p, cs.Channel)
		}
		if !(cs.Day >= 0 && cs.Day <= float64(c.Days)) {
			add("%s: day must be in [0, %d], got %g", p, c.Days, cs.Day)
		}
		for _, s := range cs.Segments {
			if !slices.ContainsFunc(c.Segments, func(sp SegmentSpec) bool { return sp.ID == s }) {
				add("%s: unknown segment %q", p, s)
			}
		}
		cr := cs.Creative
		if !(cr.Urgency >= 0 && cr.Urgency <= 1) || !(cr.Personalization >= 0 && cr.Personalization <= 1) || !(cr.DiscountPct >= 0 && cr.DiscountPct <= 90) {
			add("%s: urgency and personalization must be in [0, 1], discount_pct in [0, 90]", p)
		}
		if cr.Category != "" && !slices.Contains(c.Categories, cr.Category) {
			add("%s: unknown relevance_category %q", p, cr.Category)
		}
	}
	// Sends on one channel must be at least six hours apart so that an
	// unsubscribe always happens before the next send on that channel.
	byChannel := map[string][]float64{}
	for _, cs := range c.Campaigns {
		byChannel[cs.Channel] = append(byChannel[cs.Channel], cs.Day)
	}
	for ch, days := range byChannel {
		slices.Sort(days)
		for i := 1; i < len(days); i++ {
			if days[i]-days[i-1] < 0.25 {
				add("campaigns on channel %s at days %g and %g are less than 6 hours apart", ch, days[i-1], days[i])
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid synth config: %w", errors.Join(errs...))
	}
	return nil
}

// defaultCampaigns draws n campaigns spread evenly over the period.
func defaultCampaigns(r *rand.Rand, c Config, n int) []CampaignSpec {
	channels := []string{schemas.ChannelEmail, schemas.ChannelSMS, schemas.ChannelEmail, schemas.ChannelPush}
	discounts := []float64{0, 0, 10, 15, 20, 25, 30}
	out := make([]CampaignSpec, n)
	for k := range n {
		day := math.Floor((float64(k) + 0.5) * float64(c.Days) / float64(n))
		cs := CampaignSpec{
			Channel: channels[k%len(channels)],
			Day:     day + (9+float64(k%3))/24,
			Creative: Creative{
				Urgency:         math.Round(r.Float64()*100) / 100,
				DiscountPct:     discounts[r.IntN(len(discounts))],
				Category:        c.Categories[r.IntN(len(c.Categories))],
				Personalization: math.Round(r.Float64()*100) / 100,
			},
		}
		if k%3 != 0 && len(c.Segments) > 1 {
			perm := r.Perm(len(c.Segments))
			m := 1 + r.IntN(min(3, len(c.Segments)-1))
			for _, j := range perm[:m] {
				cs.Segments = append(cs.Segments, c.Segments[j].ID)
			}
			slices.Sort(cs.Segments)
		}
		out[k] = cs
	}
	return out
}

// composeTemplate writes a short content template from the features.
func composeTemplate(cr Creative, channel string) string {
	s := "{{first_name}}, "
	switch {
	case cr.DiscountPct > 0 && cr.Category != "":
		s += fmt.Sprintf("%g%% off %s", cr.DiscountPct, cr.Category)
	case cr.DiscountPct > 0:
		s += fmt.Sprintf("%g%% off everything", cr.DiscountPct)
	case cr.Category != "":
		s += "new in " + cr.Category
	default:
		s += "we picked something for you"
	}
	if cr.Personalization >= 0.5 {
		s += " based on {{last_purchase}}"
	}
	switch {
	case cr.Urgency >= 0.7:
		s += " - ends tonight!"
	case cr.Urgency >= 0.4:
		s += " - this week only."
	default:
		s += "."
	}
	if channel == schemas.ChannelSMS {
		s += " Reply STOP to opt out."
	}
	return s
}
