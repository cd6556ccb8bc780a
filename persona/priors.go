package persona

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// TraitPriors are the distributions a segment's personas are drawn from.
// They are plain JSON, a superset of the trait_priors that synth writes on
// its segment events (age_mean, age_sd, tenure_mean_days,
// tenure_max_days, recency_mean_days, history_median, history_sigma,
// price_sensitivity_beta, engagement_beta, category_weights), so a
// segment event's trait_priors decode into them (ParsePriors). A zero
// field means "use the generic default" (GenericPriors) when sampling.
//
// How Sample uses them, per persona:
//
//   - age ~ Normal(AgeMean, AgeSD) clipped to [18, 90], then banded
//     (AgeBands); when AgeMean is 0 the band is drawn from AgeBand;
//   - gender, region, occupation, income band, preferred reading hours ~
//     their Categorical;
//   - each Big Five trait ~ its Beta in Traits;
//   - engagement e ~ Engagement (latent, not part of the Spec); each channel
//     affinity = clamp₀¹(c + EngagementShift·(e − E[e])) with c ~
//     ChannelAffinity[channel]; fatigue tolerance = clamp₀¹(f +
//     EngagementShift·(e − E[e])) with f ~ FatigueTolerance;
//   - price sensitivity ~ PriceSensitivity;
//   - favourite category ~ CategoryWeights (synth's category_affinity);
//     its preference ~ FavoriteAffinity, every other category's ~
//     OtherAffinity;
//   - tenure ~ Gamma(2, TenureMeanDays/2) days, at least 1, capped at
//     TenureMaxDays; recency ~ Exponential(mean RecencyMeanDays), capped
//     at tenure; the lifecycle stage follows synth: "new" when tenure ≤ 90
//     days, else "lapsed" when recency > 90 days, else "active" (when
//     TenureMeanDays is 0 it is drawn from LifecycleStage instead);
//   - orders per year ~ OrdersPerYear (Gamma); purchases in the last year
//     N ~ Poisson(orders·min(tenure, 365)/365), at least 1 when the last
//     order is within the year and 0 otherwise, each one in a category
//     drawn with probability ∝ preference^PurchaseSharpness, so the
//     history follows the preferences;
//   - yearly spend ~ LogNormal(ln HistoryMedian, HistorySigma) and average
//     order value = spend / max(N, 1).
type TraitPriors struct {
	// Description says who is in the segment.
	Description string `json:"description,omitempty"`

	// AgeMean is the mean of a normal prior on age in years; 0 draws the
	// band from AgeBand instead.
	AgeMean float64 `json:"age_mean,omitempty"`
	// AgeSD is the standard deviation of the age prior, in years.
	AgeSD float64 `json:"age_sd,omitempty"`
	// AgeBand is the distribution of age bands when AgeMean is 0.
	AgeBand Categorical `json:"age_band,omitempty"`
	// Gender is the distribution of genders (free text).
	Gender Categorical `json:"gender,omitempty"`
	// Region is the distribution of regions (free text).
	Region Categorical `json:"region,omitempty"`
	// Occupation is the distribution of occupations (free text).
	Occupation Categorical `json:"occupation,omitempty"`
	// IncomeBand is the distribution over "low", "medium" and "high".
	IncomeBand Categorical `json:"income_band,omitempty"`

	// TenureMeanDays is the mean of a Gamma(2) prior on days since the
	// customer was created; 0 draws LifecycleStage instead.
	TenureMeanDays float64 `json:"tenure_mean_days,omitempty"`
	// TenureMaxDays, when > 0, caps the tenure.
	TenureMaxDays int `json:"tenure_max_days,omitempty"`
	// RecencyMeanDays is the mean of an exponential prior on days since
	// the last order.
	RecencyMeanDays float64 `json:"recency_mean_days,omitempty"`
	// LifecycleStage is the distribution of stages when TenureMeanDays is
	// 0.
	LifecycleStage Categorical `json:"lifecycle_stage,omitempty"`

	// Traits holds a Beta prior for each Big Five trait.
	Traits map[string]Beta `json:"traits,omitempty"`
	// PriceSensitivity is the Beta prior on price sensitivity.
	PriceSensitivity Beta `json:"price_sensitivity_beta,omitzero"`
	// Engagement is the Beta prior on the latent engagement that raises
	// every channel affinity and the fatigue tolerance together.
	Engagement Beta `json:"engagement_beta,omitzero"`
	// FatigueTolerance is the Beta prior on fatigue tolerance.
	FatigueTolerance Beta `json:"fatigue_tolerance_beta,omitzero"`
	// ChannelAffinity holds a Beta prior per channel.
	ChannelAffinity map[string]Beta `json:"channel_affinity,omitempty"`
	// PreferredHours is the distribution of reading-time bands, keyed
	// "HH-HH" (from, to; e.g. "18-22").
	PreferredHours Categorical `json:"preferred_hours,omitempty"`

	// Categories lists the product categories; default the keys of
	// CategoryWeights, or DefaultCategories.
	Categories []string `json:"categories,omitempty"`
	// CategoryWeights is the distribution of the favourite category (the
	// relative probability of each); nil means all categories equally.
	CategoryWeights Categorical `json:"category_weights,omitempty"`
	// FavoriteAffinity is the Beta prior on the favourite category's
	// preference.
	FavoriteAffinity Beta `json:"favorite_affinity_beta,omitzero"`
	// OtherAffinity is the Beta prior on every other category's
	// preference.
	OtherAffinity Beta `json:"other_affinity_beta,omitzero"`
	// PurchaseSharpness is the exponent on preferences when purchases are
	// spread over categories; higher concentrates them on the favourite.
	PurchaseSharpness float64 `json:"purchase_sharpness,omitempty"`
	// OrdersPerYear is the Gamma prior on order frequency.
	OrdersPerYear Gamma `json:"orders_per_year_gamma,omitzero"`
	// HistoryMedian is the median of a log-normal prior on yearly spend,
	// in the account's currency.
	HistoryMedian float64 `json:"history_median,omitempty"`
	// HistorySigma is the log-scale standard deviation of that prior.
	HistorySigma float64 `json:"history_sigma,omitempty"`
}

// EngagementShift is how strongly the latent engagement moves channel
// affinities and fatigue tolerance away from their own draws.
const EngagementShift = 0.5

// DefaultCategories are the product categories of the synthetic world
// (synth.DefaultCategories).
var DefaultCategories = []string{"fashion", "electronics", "home", "beauty", "sports"}

// AgeBands lists the age bands, youngest first.
var AgeBands = []string{"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}

// ageBand returns the band of an age in years.
func ageBand(age float64) string {
	switch {
	case age < 25:
		return AgeBands[0]
	case age < 35:
		return AgeBands[1]
	case age < 45:
		return AgeBands[2]
	case age < 55:
		return AgeBands[3]
	case age < 65:
		return AgeBands[4]
	}
	return AgeBands[5]
}

// SegmentIDs lists the segments DefaultPriors knows: synth's default
// segments.
var SegmentIDs = []string{"high_value", "at_risk", "new_users", "loyal", "bargain_hunters"}

// concentration is the a+b of the derived channel Beta priors.
const concentration = 6.0

// betaMean returns the Beta with the given mean and a+b = concentration.
func betaMean(m float64) Beta {
	m = min(max(m, 0.02), 0.98)
	return Beta{A: round3(m * concentration), B: round3((1 - m) * concentration)}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// channelPriors derives per-channel Beta priors from an engagement prior:
// email reaches the engaged best, push a little less, sms least.
func channelPriors(engagement Beta) map[string]Beta {
	m := engagement.Mean()
	return map[string]Beta{
		"email": betaMean(0.1 + 0.8*m),
		"sms":   betaMean(0.05 + 0.5*m),
		"push":  betaMean(0.05 + 0.7*m),
	}
}

// GenericPriors returns the priors of an average customer of the synthetic
// world; Sample fills every unset field of its priors from them.
func GenericPriors() TraitPriors {
	engagement := Beta{A: 4, B: 4}
	return TraitPriors{
		Description: "an average customer",
		AgeMean:     40, AgeSD: 12,
		AgeBand: Categorical{"18-24": 1, "25-34": 2, "35-44": 2, "45-54": 2, "55-64": 1.5, "65+": 1},
		Gender:  Categorical{"woman": 0.49, "man": 0.49, "non-binary": 0.02},
		Region: Categorical{"a large city": 0.35, "a mid-sized city": 0.25, "a suburb": 0.2,
			"a small town": 0.12, "the countryside": 0.08},
		Occupation: Categorical{"office worker": 3, "teacher": 1, "nurse": 1, "retail worker": 1.5,
			"engineer": 1, "student": 1, "self-employed": 1, "retired": 1},
		IncomeBand:     Categorical{"low": 0.3, "medium": 0.5, "high": 0.2},
		TenureMeanDays: 700, RecencyMeanDays: 40,
		LifecycleStage: Categorical{StageNew: 0.2, StageActive: 0.6, StageLapsed: 0.2},
		Traits: map[string]Beta{
			TraitOpenness: {4, 4}, TraitConscientiousness: {4, 4}, TraitExtraversion: {4, 4},
			TraitAgreeableness: {4, 4}, TraitNeuroticism: {4, 4},
		},
		PriceSensitivity: Beta{A: 3, B: 4},
		Engagement:       engagement,
		FatigueTolerance: Beta{A: 4, B: 4},
		ChannelAffinity:  channelPriors(engagement),
		PreferredHours: Categorical{"07-10": 2, "12-14": 1.5, "17-20": 2.5, "20-23": 3,
			"09-17": 1},
		FavoriteAffinity:  Beta{A: 8, B: 2},
		OtherAffinity:     Beta{A: 2, B: 5},
		PurchaseSharpness: 3,
		OrdersPerYear:     Gamma{Shape: 2, Scale: 2.5},
		HistoryMedian:     300, HistorySigma: 0.6,
	}
}

// DefaultPriors returns the priors of one of synth's default segments
// (SegmentIDs): synth's own parameters (age, tenure, recency, spend, price
// sensitivity, engagement, category weights) plus the persona-only ones
// (Big Five, demographics, channels, reading hours, order frequency)
// chosen to fit the segment's description. An unknown segment gets
// GenericPriors.
func DefaultPriors(segmentID string) TraitPriors {
	p := GenericPriors()
	set := func(desc string, ageMean, ageSD, tenure float64, tenureMax int, recency, histMedian, histSigma float64,
		price, engagement [2]float64, weights Categorical) {
		p.Description = desc
		p.AgeMean, p.AgeSD = ageMean, ageSD
		p.TenureMeanDays, p.TenureMaxDays, p.RecencyMeanDays = tenure, tenureMax, recency
		p.HistoryMedian, p.HistorySigma = histMedian, histSigma
		p.PriceSensitivity = Beta{price[0], price[1]}
		p.Engagement = Beta{engagement[0], engagement[1]}
		p.ChannelAffinity = channelPriors(p.Engagement)
		p.CategoryWeights = weights
	}
	switch segmentID {
	case "high_value":
		set("big spenders who buy often", 45, 10, 900, 0, 20, 900, 0.5, [2]float64{2, 6}, [2]float64{5, 3},
			Categorical{"electronics": 3, "home": 2.5, "fashion": 2, "beauty": 1.5, "sports": 1})
		p.IncomeBand = Categorical{"low": 0.05, "medium": 0.35, "high": 0.6}
		p.Occupation = Categorical{"manager": 2, "engineer": 2, "doctor": 1, "lawyer": 1, "business owner": 1.5, "consultant": 1}
		p.Traits[TraitConscientiousness] = Beta{6, 3}
		p.Traits[TraitOpenness] = Beta{5, 4}
		p.Traits[TraitNeuroticism] = Beta{3, 5}
		p.FatigueTolerance = Beta{5, 3}
		p.OrdersPerYear = Gamma{Shape: 5, Scale: 2.4} // about 12 a year
		p.PreferredHours = Categorical{"07-10": 3, "12-14": 2, "20-23": 2, "17-20": 1}
	case "at_risk":
		set("customers who have not bought for a long time", 40, 12, 700, 0, 110, 250, 0.7,
			[2]float64{3, 4}, [2]float64{2, 5}, nil)
		p.Traits[TraitNeuroticism] = Beta{4, 4}
		p.Traits[TraitConscientiousness] = Beta{3, 4}
		p.FatigueTolerance = Beta{2, 5}
		p.OrdersPerYear = Gamma{Shape: 2, Scale: 1.25} // about 2.5 a year
		p.PreferredHours = Categorical{"17-20": 2, "20-23": 3, "12-14": 1}
	case "new_users":
		set("customers created in the last 90 days", 30, 8, 45, 90, 15, 60, 0.6, [2]float64{3, 3}, [2]float64{4, 3},
			Categorical{"fashion": 3, "beauty": 2, "sports": 2, "electronics": 1.5, "home": 1})
		p.Occupation = Categorical{"student": 2, "office worker": 2, "retail worker": 1, "designer": 1, "engineer": 1, "nurse": 1}
		p.IncomeBand = Categorical{"low": 0.4, "medium": 0.45, "high": 0.15}
		p.Traits[TraitOpenness] = Beta{6, 3}
		p.Traits[TraitExtraversion] = Beta{5, 4}
		p.FatigueTolerance = Beta{4, 4}
		p.OrdersPerYear = Gamma{Shape: 2, Scale: 2} // about 4 a year, at their pace
		p.ChannelAffinity["push"] = betaMean(0.15 + 0.8*p.Engagement.Mean())
		p.PreferredHours = Categorical{"20-23": 4, "12-14": 2, "17-20": 2, "07-10": 1}
	case "loyal":
		set("long-standing regular customers", 50, 12, 1500, 0, 25, 450, 0.5, [2]float64{2, 5}, [2]float64{6, 2},
			Categorical{"home": 3, "fashion": 2, "beauty": 2, "electronics": 1.5, "sports": 1.5})
		p.IncomeBand = Categorical{"low": 0.2, "medium": 0.55, "high": 0.25}
		p.Occupation = Categorical{"office worker": 2, "teacher": 1.5, "nurse": 1, "civil servant": 1, "retired": 2, "self-employed": 1}
		p.Traits[TraitConscientiousness] = Beta{6, 3}
		p.Traits[TraitAgreeableness] = Beta{6, 3}
		p.FatigueTolerance = Beta{6, 3}
		p.OrdersPerYear = Gamma{Shape: 4, Scale: 2} // about 8 a year
		p.PreferredHours = Categorical{"07-10": 3, "17-20": 2, "20-23": 2, "09-17": 1}
	case "bargain_hunters":
		set("price-driven customers who wait for offers", 35, 10, 500, 0, 45, 200, 0.6, [2]float64{7, 2}, [2]float64{3, 3}, nil)
		p.IncomeBand = Categorical{"low": 0.5, "medium": 0.4, "high": 0.1}
		p.Traits[TraitNeuroticism] = Beta{5, 4}
		p.Traits[TraitConscientiousness] = Beta{5, 4}
		p.FatigueTolerance = Beta{4, 4}
		p.OrdersPerYear = Gamma{Shape: 3, Scale: 1.7} // about 5 a year
		p.PreferredHours = Categorical{"12-14": 2, "17-20": 2, "20-23": 3}
	}
	return p
}

// ParsePriors decodes a segment event's trait_priors (schemas.Segment)
// over DefaultPriors(segmentID): fields present in raw replace the
// defaults, others stay. synth's keys decode directly; a "price_sensitivity"
// object such as {"mean": 0.3, "sd": 0.1} is taken as the price
// sensitivity prior when price_sensitivity_beta is absent, and an
// engagement_beta that differs from the default's, without
// channel_affinity, re-derives the channel priors from it. The result is
// validated.
func ParsePriors(segmentID string, raw map[string]any) (TraitPriors, error) {
	p := DefaultPriors(segmentID)
	data, err := json.Marshal(raw)
	if err != nil {
		return p, fmt.Errorf("cannot encode trait priors of segment %q: %w", segmentID, err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("cannot decode trait priors of segment %q: %w", segmentID, err)
	}
	if v, ok := raw["price_sensitivity"]; ok {
		if _, has := raw["price_sensitivity_beta"]; !has {
			d, _ := json.Marshal(v)
			if err := json.Unmarshal(d, &p.PriceSensitivity); err != nil {
				return p, fmt.Errorf("cannot decode trait priors of segment %q: price_sensitivity: %w", segmentID, err)
			}
		}
	}
	if _, ok := raw["engagement_beta"]; ok {
		if _, has := raw["channel_affinity"]; !has && p.Engagement != DefaultPriors(segmentID).Engagement {
			p.ChannelAffinity = channelPriors(p.Engagement)
		}
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("invalid trait priors of segment %q: %w", segmentID, err)
	}
	return p, nil
}

// Validate checks the priors: Beta parameters > 0 where set, Categorical
// weights >= 0 and not all 0 where set, known Big Five names and income
// bands and lifecycle stages, "HH-HH" reading-hour keys, non-negative
// scalars. The error names every offending field (its JSON name) and the
// reason.
func (tp TraitPriors) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	beta := func(field string, b Beta) {
		if !b.IsZero() && !b.valid() {
			add(field, "Beta parameters must be finite and > 0, got [%g, %g]", b.A, b.B)
		}
	}
	cat := func(field string, c Categorical, allowed []string) {
		if c == nil {
			return
		}
		total := 0.0
		for _, k := range sortedKeys(c) {
			w := c[k]
			if !(w >= 0) || math.IsInf(w, 0) {
				add(field+"."+k, "weight must be a finite number >= 0, got %g", w)
			}
			if allowed != nil && !slices.Contains(allowed, k) {
				add(field+"."+k, "must be one of %s", strings.Join(allowed, ", "))
			}
			total += max(w, 0)
		}
		if !(total > 0) {
			add(field, "weights must not all be 0")
		}
	}
	nonneg := func(field string, v float64) {
		if !(v >= 0) || math.IsInf(v, 0) {
			add(field, "must be a finite number >= 0, got %g", v)
		}
	}
	nonneg("age_mean", tp.AgeMean)
	nonneg("age_sd", tp.AgeSD)
	nonneg("tenure_mean_days", tp.TenureMeanDays)
	nonneg("recency_mean_days", tp.RecencyMeanDays)
	nonneg("history_median", tp.HistoryMedian)
	nonneg("history_sigma", tp.HistorySigma)
	nonneg("purchase_sharpness", tp.PurchaseSharpness)
	if tp.TenureMaxDays < 0 {
		add("tenure_max_days", "must be >= 0, got %d", tp.TenureMaxDays)
	}
	cat("age_band", tp.AgeBand, AgeBands)
	cat("gender", tp.Gender, nil)
	cat("region", tp.Region, nil)
	cat("occupation", tp.Occupation, nil)
	cat("income_band", tp.IncomeBand, IncomeBands)
	cat("lifecycle_stage", tp.LifecycleStage, LifecycleStages)
	cat("category_weights", tp.CategoryWeights, nil)
	cat("preferred_hours", tp.PreferredHours, nil)
	for _, k := range sortedKeys(tp.PreferredHours) {
		if _, err := parseHourBand(k); err != nil {
			add("preferred_hours."+k, "%v", err)
		}
	}
	for _, k := range sortedKeys(tp.Traits) {
		if !slices.Contains(BigFive, k) {
			add("traits."+k, "is not a Big Five trait (%s)", strings.Join(BigFive, ", "))
		}
		beta("traits."+k, tp.Traits[k])
	}
	beta("price_sensitivity_beta", tp.PriceSensitivity)
	beta("engagement_beta", tp.Engagement)
	beta("fatigue_tolerance_beta", tp.FatigueTolerance)
	beta("favorite_affinity_beta", tp.FavoriteAffinity)
	beta("other_affinity_beta", tp.OtherAffinity)
	for _, k := range sortedKeys(tp.ChannelAffinity) {
		beta("channel_affinity."+k, tp.ChannelAffinity[k])
	}
	if g := tp.OrdersPerYear; !g.IsZero() && !(g.Shape > 0 && g.Scale > 0) {
		add("orders_per_year_gamma", "shape and scale must be > 0, got %g and %g", g.Shape, g.Scale)
	}
	for i, c := range tp.Categories {
		if c == "" {
			add(fmt.Sprintf("categories[%d]", i), "must not be empty")
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// parseHourBand reads "HH-HH".
func parseHourBand(s string) (HourBand, error) {
	from, to, ok := strings.Cut(s, "-")
	f, err1 := strconv.Atoi(strings.TrimSpace(from))
	t, err2 := strconv.Atoi(strings.TrimSpace(to))
	if !ok || err1 != nil || err2 != nil || f < 0 || f > 23 || t < 0 || t > 23 || f == t {
		return HourBand{}, fmt.Errorf("must be \"HH-HH\" with two different hours in [0, 23], got %q", s)
	}
	return HourBand{From: f, To: t}, nil
}

// withDefaults returns tp with every unset field taken from
// GenericPriors, and the category list resolved.
func (tp TraitPriors) withDefaults() TraitPriors {
	g := GenericPriors()
	if tp.AgeMean == 0 && len(tp.AgeBand) == 0 {
		tp.AgeMean, tp.AgeSD = g.AgeMean, g.AgeSD
	}
	fillCat := func(c *Categorical, d Categorical) {
		if len(*c) == 0 {
			*c = d
		}
	}
	fillCat(&tp.Gender, g.Gender)
	fillCat(&tp.Region, g.Region)
	fillCat(&tp.Occupation, g.Occupation)
	fillCat(&tp.IncomeBand, g.IncomeBand)
	fillCat(&tp.LifecycleStage, g.LifecycleStage)
	fillCat(&tp.PreferredHours, g.PreferredHours)
	if tp.RecencyMeanDays == 0 {
		tp.RecencyMeanDays = g.RecencyMeanDays
	}
	traits := make(map[string]Beta, len(BigFive))
	for _, k := range BigFive {
		traits[k] = g.Traits[k]
	}
	for k, b := range tp.Traits {
		if !b.IsZero() {
			traits[k] = b
		}
	}
	tp.Traits = traits
	fillBeta := func(b *Beta, d Beta) {
		if b.IsZero() {
			*b = d
		}
	}
	fillBeta(&tp.PriceSensitivity, g.PriceSensitivity)
	fillBeta(&tp.Engagement, g.Engagement)
	fillBeta(&tp.FatigueTolerance, g.FatigueTolerance)
	fillBeta(&tp.FavoriteAffinity, g.FavoriteAffinity)
	fillBeta(&tp.OtherAffinity, g.OtherAffinity)
	if len(tp.ChannelAffinity) == 0 {
		tp.ChannelAffinity = channelPriors(tp.Engagement)
	}
	if tp.PurchaseSharpness == 0 {
		tp.PurchaseSharpness = g.PurchaseSharpness
	}
	if tp.OrdersPerYear.IsZero() {
		tp.OrdersPerYear = g.OrdersPerYear
	}
	if tp.HistoryMedian == 0 {
		tp.HistoryMedian, tp.HistorySigma = g.HistoryMedian, g.HistorySigma
	}
	if len(tp.Categories) == 0 {
		if len(tp.CategoryWeights) > 0 {
			tp.Categories = sortedKeys(tp.CategoryWeights)
		} else {
			tp.Categories = slices.Clone(DefaultCategories)
		}
	}
	if len(tp.CategoryWeights) == 0 {
		tp.CategoryWeights = Categorical{}
		for _, c := range tp.Categories {
			tp.CategoryWeights[c] = 1
		}
	}
	return tp
}
