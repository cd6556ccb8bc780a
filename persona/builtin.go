package persona

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Coefficients are the named constants of the built-in reasoner. Their
// roles are given by the formula on Builtin; DefaultCoefficients holds the
// values, chosen so that the signs and the ordering of effects follow the
// planted model of the synthetic world (synth.Model): relevance when the
// category matches the persona's, discounts for the price-sensitive,
// urgency for those at risk of lapsing, personalization for the engaged.
type Coefficients struct {
	// RelevanceWeight multiplies (affinity − RelevancePivot).
	RelevanceWeight float64 `json:"relevance_weight"`
	// RelevancePivot is the category affinity at which a message is
	// neither relevant nor irrelevant.
	RelevancePivot float64 `json:"relevance_pivot"`
	// PreferenceShare is the weight of the stated preference in the
	// affinity; the purchase-history share gets 1 − PreferenceShare.
	PreferenceShare float64 `json:"preference_share"`
	// GenericAffinity is the affinity of a message about no category.
	GenericAffinity float64 `json:"generic_affinity"`
	// LifecycleRelevance multiplies the relevance term by stage.
	LifecycleRelevance map[string]float64 `json:"lifecycle_relevance"`
	// PersonalizationWeight multiplies pz·(engagement − PersonalizationPivot).
	PersonalizationWeight float64 `json:"personalization_weight"`
	// PersonalizationPivot is the engagement below which personalization
	// stops helping (synth's 0.2).
	PersonalizationPivot float64 `json:"personalization_pivot"`

	// DiscountWeight multiplies sat(v)·(price_sensitivity − DiscountPivot).
	DiscountWeight float64 `json:"discount_weight"`
	// DiscountPivot is the price sensitivity below which a discount
	// lowers intent (it cheapens the brand; synth's 0.35).
	DiscountPivot float64 `json:"discount_pivot"`
	// DiscountScale is the offer value (fraction of an order) at which
	// sat(v) = 1 − e^(−v/DiscountScale) reaches 63%.
	DiscountScale float64 `json:"discount_scale"`
	// LifecycleDiscount is added to the discount response by stage
	// (lapsed customers come back for discounts).
	LifecycleDiscount map[string]float64 `json:"lifecycle_discount"`
	// FreeShippingValue is the offer value of free shipping.
	FreeShippingValue float64 `json:"free_shipping_value"`
	// GiftValue is the offer value of a gift.
	GiftValue float64 `json:"gift_value"`
	// DefaultOrderValue converts amount_off offers when the persona's
	// average order value is unknown.
	DefaultOrderValue float64 `json:"default_order_value"`

	// UrgencyWeight multiplies g(u)·susceptibility.
	UrgencyWeight float64 `json:"urgency_weight"`
	// UrgencyHalfLifeHours is the deadline at which expiry urgency is 0.5:
	// u = H/(H + expires_hours).
	UrgencyHalfLifeHours float64 `json:"urgency_half_life_hours"`
	// UrgencyCue is the urgency of pressing words ("last chance",
	// "tonight", "hurry", …) in the text.
	UrgencyCue float64 `json:"urgency_cue"`
	// UrgencySaturation is the curvature c of the diminishing returns
	// g(u) = (1 − e^(−cu))/(1 − e^(−c)).
	UrgencySaturation float64 `json:"urgency_saturation"`
	// UrgencyNeuroticism multiplies (neuroticism − 0.5): anxious people
	// fear missing out.
	UrgencyNeuroticism float64 `json:"urgency_neuroticism"`
	// UrgencyConscientiousness multiplies (conscientiousness − 0.5),
	// subtracted: planners dislike being rushed.
	UrgencyConscientiousness float64 `json:"urgency_conscientiousness"`
	// UrgencyRisk multiplies (risk − UrgencyRiskPivot), risk =
	// min(days_since_last_order/UrgencyRiskDays, 1) as in synth.
	UrgencyRisk float64 `json:"urgency_risk"`
	// UrgencyRiskDays is the recency at which the lapse risk is 1.
	UrgencyRiskDays float64 `json:"urgency_risk_days"`
	// UrgencyRiskPivot is the lapse risk at which urgency is neutral.
	UrgencyRiskPivot float64 `json:"urgency_risk_pivot"`

	// ChannelReminder is the lift of any message that is read at all.
	ChannelReminder float64 `json:"channel_reminder"`
	// ChannelWeight multiplies (channel_affinity − ChannelPivot).
	ChannelWeight float64 `json:"channel_weight"`
	// ChannelPivot is the channel affinity at which the channel is
	// neutral.
	ChannelPivot float64 `json:"channel_pivot"`
	// MissingChannelAffinity is the affinity of a channel the persona has
	// none for.
	MissingChannelAffinity float64 `json:"missing_channel_affinity"`

	// TimingBonus is added when the send hour is in the preferred band.
	TimingBonus float64 `json:"timing_bonus"`
	// TimingPenalty is subtracted, times min(d, TimingSpanHours)/
	// TimingSpanHours, when the send hour is d hours outside the band.
	TimingPenalty float64 `json:"timing_penalty"`
	// TimingSpanHours is the distance at which the timing penalty is full.
	TimingSpanHours float64 `json:"timing_span_hours"`
	// NightPenalty is subtracted for sms and push sent between NightFrom
	// and NightTo.
	NightPenalty float64 `json:"night_penalty"`
	// NightFrom is the first hour of the night.
	NightFrom int `json:"night_from"`
	// NightTo is the hour the night ends.
	NightTo int `json:"night_to"`

	// FatigueWeight is the fatigue penalty at the threshold T.
	FatigueWeight float64 `json:"fatigue_weight"`
	// FatigueBase and FatigueSpan set the threshold T = FatigueBase +
	// FatigueSpan·fatigue_tolerance, in messages per week.
	FatigueBase float64 `json:"fatigue_base"`
	// FatigueSpan: see FatigueBase.
	FatigueSpan float64 `json:"fatigue_span"`
	// FatigueOverSlope is the extra penalty per message past T, relative
	// to FatigueWeight.
	FatigueOverSlope float64 `json:"fatigue_over_slope"`
	// FatigueChannel multiplies the fatigue term by channel (sms is the
	// most intrusive); missing channels use 1.
	FatigueChannel map[string]float64 `json:"fatigue_channel"`

	// CapsThreshold is the share of upper-case letters above which the
	// text reads as shouting.
	CapsThreshold float64 `json:"caps_threshold"`
	// CapsWeight is the trust penalty of a text in all capitals.
	CapsWeight float64 `json:"caps_weight"`
	// ExclaimWeight is the trust penalty of ExclaimMax or more extra
	// exclamation marks (the first is free).
	ExclaimWeight float64 `json:"exclaim_weight"`
	// ExclaimMax is the number of extra exclamation marks at which the
	// penalty is full.
	ExclaimMax float64 `json:"exclaim_max"`
	// SpamWeight is the trust penalty of each spammy phrase ("act now",
	// "guaranteed", "winner", …), at most two counted.
	SpamWeight float64 `json:"spam_weight"`
	// TrustAgreeableness scales the trust penalty by 1 +
	// TrustAgreeableness·(0.5 − agreeableness).
	TrustAgreeableness float64 `json:"trust_agreeableness"`

	// LengthLimit is the comfortable length of the message text in
	// characters, by channel; DefaultLengthLimit for others.
	LengthLimit map[string]float64 `json:"length_limit"`
	// DefaultLengthLimit is the comfortable length on unknown channels.
	DefaultLengthLimit float64 `json:"default_length_limit"`
	// LengthWeight is the clarity penalty of a text twice its limit.
	LengthWeight float64 `json:"length_weight"`
	// UnstatedOfferPenalty is subtracted when a percent or amount offer
	// is not stated in the text (no digit).
	UnstatedOfferPenalty float64 `json:"unstated_offer_penalty"`

	// Gain scales the sum before tanh.
	Gain float64 `json:"gain"`
	// ConfidenceBase is the confidence of a judgement with no drivers.
	ConfidenceBase float64 `json:"confidence_base"`
	// ConfidenceSpan is the most confidence that agreement can add.
	ConfidenceSpan float64 `json:"confidence_span"`
	// ConfidenceMassScale is the total driver magnitude at which the
	// agreement counts 63%.
	ConfidenceMassScale float64 `json:"confidence_mass_scale"`
	// RationaleMinEffect is the magnitude below which a driver is not
	// mentioned in the rationale.
	RationaleMinEffect float64 `json:"rationale_min_effect"`
}

// DefaultCoefficients returns the coefficients of NewBuiltin.
func DefaultCoefficients() Coefficients {
	return Coefficients{
		RelevanceWeight: 1.0, RelevancePivot: 0.35, PreferenceShare: 0.5, GenericAffinity: 0.3,
		LifecycleRelevance:    map[string]float64{StageProspect: 1.0, StageNew: 1.4, StageActive: 1.0, StageLapsed: 0.8},
		PersonalizationWeight: 0.25, PersonalizationPivot: 0.2,

		DiscountWeight: 1.2, DiscountPivot: 0.35, DiscountScale: 0.3,
		LifecycleDiscount: map[string]float64{StageProspect: 0.1, StageNew: -0.05, StageActive: 0, StageLapsed: 0.3},
		FreeShippingValue: 0.08, GiftValue: 0.05, DefaultOrderValue: 50,

		UrgencyWeight: 0.6, UrgencyHalfLifeHours: 24, UrgencyCue: 0.3, UrgencySaturation: 2,
		UrgencyNeuroticism: 1.0, UrgencyConscientiousness: 0.6, UrgencyRisk: 1.0, UrgencyRiskDays: 120, UrgencyRiskPivot: 0.35,

		ChannelReminder: 0.2, ChannelWeight: 0.4, ChannelPivot: 0.5, MissingChannelAffinity: 0.3,

		TimingBonus: 0.05, TimingPenalty: 0.06, TimingSpanHours: 6, NightPenalty: 0.15, NightFrom: 22, NightTo: 7,

		FatigueWeight: 0.4, FatigueBase: 2, FatigueSpan: 6, FatigueOverSlope: 0.35,
		FatigueChannel: map[string]float64{"email": 1.0, "push": 1.1, "sms": 1.3},

		CapsThreshold: 0.3, CapsWeight: 0.3, ExclaimWeight: 0.15, ExclaimMax: 3, SpamWeight: 0.1, TrustAgreeableness: 1.0,

		LengthLimit:        map[string]float64{"email": 600, "sms": 160, "push": 120},
		DefaultLengthLimit: 600, LengthWeight: 0.2, UnstatedOfferPenalty: 0.1,

		Gain: 1.0, ConfidenceBase: 0.3, ConfidenceSpan: 0.6, ConfidenceMassScale: 0.5, RationaleMinEffect: 0.03,
	}
}

// Builtin is the default Reasoner: a deterministic function of the
// persona's traits and the intervention's content features, with no
// network and no randomness, so the same input gives the same judgement
// bit for bit. With the coefficients C (Coefficients) and the persona's
// stage s, it adds one signed term per driver:
//
//	relevance = RelevanceWeight·LifecycleRelevance[s]·(a − RelevancePivot)
//	            + PersonalizationWeight·pz·(e − PersonalizationPivot)
//	    a  = PreferenceShare·pref[cat] + (1 − PreferenceShare)·bought[cat]/Σbought
//	         (pref[cat] alone without purchases; GenericAffinity without a category)
//	    pz = min(distinct {{fields}} in subject and text, 2)/2
//	    e  = mean channel affinity (the persona's engagement)
//	discount  = sat(v)·(DiscountWeight·(price_sensitivity − DiscountPivot) + LifecycleDiscount[s])
//	    sat(v) = 1 − exp(−v/DiscountScale); v = percent/100, amount/avg_order_value
//	    (capped at 1), FreeShippingValue or GiftValue
//	urgency   = UrgencyWeight·g(u)·(UrgencyNeuroticism·(N − 0.5)
//	            − UrgencyConscientiousness·(C − 0.5) + UrgencyRisk·(risk − UrgencyRiskPivot))
//	    u = min(1, H/(H + expires_hours)·[expires > 0] + UrgencyCue·[pressing words])
//	    g(u) = (1 − e^(−c·u))/(1 − e^(−c)), c = UrgencySaturation (diminishing returns)
//	    risk = min(days_since_last_order/UrgencyRiskDays, 1)
//	channel   = ChannelReminder + ChannelWeight·(affinity[channel] − ChannelPivot)
//	timing    = +TimingBonus in the preferred band, else −TimingPenalty·min(d, span)/span
//	            for d hours outside it; −NightPenalty for sms/push at night
//	fatigue   = −FatigueChannel[ch]·FatigueWeight·(x/T)²                 for x ≤ T
//	            −FatigueChannel[ch]·FatigueWeight·(1 + FatigueOverSlope·(x − T))  for x > T
//	    x = RecentExposures, T = FatigueBase + FatigueSpan·fatigue_tolerance
//	trust     = −(1 + TrustAgreeableness·(0.5 − A))·(CapsWeight·caps + ExclaimWeight·excl + SpamWeight·spam)
//	    caps = max(0, upper share − CapsThreshold)/(1 − CapsThreshold) (texts of 10+ letters)
//	    excl = min(max(#'!' − 1, 0), ExclaimMax)/ExclaimMax, spam = min(#phrases, 2)
//	clarity   = −LengthWeight·min(1, max(0, len − limit)/limit) − UnstatedOfferPenalty·[offer not stated]
//
// and intent_change = tanh(Gain·Σ terms), which is in [-1, 1]. Drivers
// are the non-zero terms, each clamped to [-1, 1], strongest first (ties
// in Drivers order). With P and M the sums of positive and negative term
// magnitudes, confidence = ConfidenceBase + ConfidenceSpan·|P − M|/(P + M)·
// (1 − e^(−(P+M)/ConfidenceMassScale)): high when the drivers agree and
// are strong. The rationale, in the first person, states the direction and
// names up to three drivers of at least RationaleMinEffect.
//
// Lifecycle enters through the stage multipliers: lapsed personas respond
// more to discounts (LifecycleDiscount) and less to relevance, new ones
// more to relevance (LifecycleRelevance).
type Builtin struct {
	// C holds the coefficients; NewBuiltin sets DefaultCoefficients.
	C Coefficients
}

// NewBuiltin returns the built-in reasoner with DefaultCoefficients.
func NewBuiltin() *Builtin { return &Builtin{C: DefaultCoefficients()} }

// Judge implements Reasoner. It fails only when ctx has ended.
func (b *Builtin) Judge(ctx context.Context, p Spec, iv Intervention) (Judgement, error) {
	if err := ctx.Err(); err != nil {
		return Judgement{}, fmt.Errorf("cannot judge intervention %q for persona %q: %w", iv.ID, p.ID, err)
	}
	return b.Evaluate(p, iv), nil
}

// term is one driver's contribution and the sentence that explains it.
type term struct {
	factor string
	effect float64
	why    string
}

// Evaluate returns the judgement of persona p on intervention iv; it is
// Judge without the context.
func (b *Builtin) Evaluate(p Spec, iv Intervention) Judgement {
	c := &b.C
	text := iv.Subject + "\n" + iv.Template
	terms := [...]term{
		b.relevance(p, iv, text),
		b.discount(p, iv),
		b.urgency(p, iv, text),
		b.trust(p, text),
		b.clarity(iv, text),
		b.timing(p, iv),
		b.fatigue(p, iv),
		b.channel(p, iv),
	}
	sum, pos, neg := 0.0, 0.0, 0.0
	var drivers []Driver
	order := make([]int, 0, len(terms))
	for i, t := range terms {
		sum += t.effect
		if t.effect > 0 {
			pos += t.effect
		} else {
			neg -= t.effect
		}
		if t.effect != 0 {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(i, j int) int {
		ei, ej := math.Abs(terms[i].effect), math.Abs(terms[j].effect)
		switch {
		case ei > ej:
			return -1
		case ei < ej:
			return 1
		}
		return slices.Index(Drivers, terms[i].factor) - slices.Index(Drivers, terms[j].factor)
	})
	drivers = make([]Driver, len(order))
	for k, i := range order {
		drivers[k] = Driver{Factor: terms[i].factor, Effect: min(max(terms[i].effect, -1), 1)}
	}
	intent := math.Tanh(c.Gain * sum)
	conf := c.ConfidenceBase
	if mass := pos + neg; mass > 0 {
		conf += c.ConfidenceSpan * math.Abs(pos-neg) / mass * (1 - math.Exp(-mass/c.ConfidenceMassScale))
	}
	var why []string
	for _, i := range order {
		if len(why) == 3 || math.Abs(terms[i].effect) < c.RationaleMinEffect {
			break
		}
		if terms[i].why != "" {
			why = append(why, terms[i].why)
		}
	}
	return Judgement{
		IntentChange: intent,
		Rationale:    strings.TrimSpace(stance(intent) + " " + strings.Join(why, " ")),
		Drivers:      drivers,
		Confidence:   min(max(conf, 0), 1),
	}
}

// stance words the overall direction.
func stance(intent float64) string {
	switch {
	case intent >= 0.5:
		return "This makes me much more likely to buy."
	case intent >= 0.15:
		return "This makes me somewhat more likely to buy."
	case intent > -0.15:
		return "This hardly changes whether I buy."
	case intent > -0.5:
		return "This makes me somewhat less likely to buy."
	}
	return "This makes me much less likely to buy."
}

// engagement is the mean channel affinity, summed in a fixed order.
func engagement(p Spec) float64 {
	if len(p.ChannelAffinity) == 0 {
		return 0.5
	}
	sum := 0.0
	for _, k := range orderedKeys(p.ChannelAffinity, Channels) {
		sum += p.ChannelAffinity[k]
	}
	return sum / float64(len(p.ChannelAffinity))
}

// placeholders counts the distinct {{fields}} in s.
func placeholders(s string) int {
	var seen []string
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return len(seen)
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return len(seen)
		}
		f := strings.TrimSpace(s[i+2 : i+j])
		if f != "" && !slices.Contains(seen, f) {
			seen = append(seen, f)
		}
		s = s[i+j+2:]
	}
}

func (b *Builtin) relevance(p Spec, iv Intervention, text string) term {
	c := &b.C
	var a float64
	var why string
	if iv.Category == "" {
		a = c.GenericAffinity
	} else {
		pref := p.Preferences[iv.Category]
		total := 0
		for _, n := range p.PurchaseHistory.Categories {
			total += n
		}
		if total > 0 {
			share := float64(p.PurchaseHistory.Categories[iv.Category]) / float64(total)
			a = c.PreferenceShare*pref + (1-c.PreferenceShare)*share
		} else {
			a = pref
		}
		if a >= c.RelevancePivot {
			why = "It is about " + iv.Category + ", which I like and buy."
		} else {
			why = "It is about " + iv.Category + ", which I rarely buy."
		}
	}
	life, ok := c.LifecycleRelevance[p.LifecycleStage]
	if !ok {
		life = 1
	}
	e := c.RelevanceWeight * life * (a - c.RelevancePivot)
	if pz := float64(min(placeholders(text), 2)) / 2; pz > 0 {
		e += c.PersonalizationWeight * pz * (engagement(p) - c.PersonalizationPivot)
		if why == "" {
			why = "It is written for me."
		}
	}
	if why == "" {
		why = "It is a generic message, not about anything I want."
	}
	return term{DriverRelevance, e, why}
}

// offerValue is the offer as a fraction of an order.
func (b *Builtin) offerValue(p Spec, o Offer) float64 {
	c := &b.C
	switch o.Kind {
	case OfferPercentOff:
		return clamp01(o.Value / 100)
	case OfferAmountOff:
		aov := p.PurchaseHistory.AvgOrderValue
		if !(aov > 0) {
			aov = c.DefaultOrderValue
		}
		return clamp01(o.Value / aov)
	case OfferFreeShipping:
		return c.FreeShippingValue
	case OfferGift:
		return c.GiftValue
	}
	return 0
}

func (b *Builtin) discount(p Spec, iv Intervention) term {
	c := &b.C
	v := b.offerValue(p, iv.Offer)
	if v <= 0 {
		return term{factor: DriverDiscount}
	}
	sat := 1 - math.Exp(-v/c.DiscountScale)
	e := sat * (c.DiscountWeight*(p.PriceSensitivity-c.DiscountPivot) + c.LifecycleDiscount[p.LifecycleStage])
	why := "The offer (" + iv.Offer.describe() + ") tempts me."
	if e < 0 {
		why = "A discount does not win me over; it makes the brand feel cheap."
	}
	return term{DriverDiscount, e, why}
}

// urgencyCues are words that press the reader to act now.
var urgencyCues = []string{"last chance", "tonight", "today only", "ends today", "ends soon", "hurry",
	"now or never", "final hours", "only today", "don't miss", "ends tonight", "limited time"}

func (b *Builtin) urgency(p Spec, iv Intervention, text string) term {
	c := &b.C
	u := 0.0
	if h := iv.Offer.ExpiresHours; h > 0 {
		u = c.UrgencyHalfLifeHours / (c.UrgencyHalfLifeHours + h)
	}
	lower := strings.ToLower(text)
	for _, cue := range urgencyCues {
		if strings.Contains(lower, cue) {
			u += c.UrgencyCue
			break
		}
	}
	u = min(u, 1)
	if u == 0 {
		return term{factor: DriverUrgency}
	}
	g := (1 - math.Exp(-c.UrgencySaturation*u)) / (1 - math.Exp(-c.UrgencySaturation))
	risk := min(float64(p.PurchaseHistory.DaysSinceLastOrder)/c.UrgencyRiskDays, 1)
	sus := c.UrgencyNeuroticism*(p.Traits[TraitNeuroticism]-0.5) -
		c.UrgencyConscientiousness*(p.Traits[TraitConscientiousness]-0.5) +
		c.UrgencyRisk*(risk-c.UrgencyRiskPivot)
	e := c.UrgencyWeight * g * sus
	why := "The deadline pushes me to act before I miss out."
	if e < 0 {
		why = "I dislike being rushed."
	}
	return term{DriverUrgency, e, why}
}

func (b *Builtin) channel(p Spec, iv Intervention) term {
	c := &b.C
	a, ok := p.ChannelAffinity[iv.Channel]
	if !ok {
		a = c.MissingChannelAffinity
	}
	e := c.ChannelReminder + c.ChannelWeight*(a-c.ChannelPivot)
	why := "I like hearing from you by " + iv.Channel + "."
	if e < 0 {
		why = "I do not pay much attention to " + iv.Channel + "."
	}
	return term{DriverChannel, e, why}
}

// hourDistance is the distance in hours from h to the band, around the
// clock; 0 inside.
func hourDistance(h int, band HourBand) int {
	if band.Contains(h) {
		return 0
	}
	d := func(a, b int) int { return min((a-b+24)%24, (b-a+24)%24) }
	last := (band.To + 23) % 24
	return min(d(h, band.From), d(h, last))
}

func (b *Builtin) timing(p Spec, iv Intervention) term {
	c := &b.C
	if iv.SendHour < 0 || iv.SendHour > 23 {
		return term{factor: DriverTiming}
	}
	e := 0.0
	why := ""
	if !p.PreferredHours.IsZero() {
		if d := hourDistance(iv.SendHour, p.PreferredHours); d == 0 {
			e = c.TimingBonus
			why = "It arrives when I usually read my messages."
		} else {
			e = -c.TimingPenalty * min(float64(d), c.TimingSpanHours) / c.TimingSpanHours
			why = "It arrives at a time when I do not read messages."
		}
	}
	night := HourBand{From: c.NightFrom, To: c.NightTo}
	if (iv.Channel == "sms" || iv.Channel == "push") && night.Contains(iv.SendHour) {
		e -= c.NightPenalty
		why = "It buzzes my phone at night."
	}
	return term{DriverTiming, e, why}
}

func (b *Builtin) fatigue(p Spec, iv Intervention) term {
	c := &b.C
	x := float64(max(iv.RecentExposures, 0))
	if x == 0 {
		return term{factor: DriverFatigue}
	}
	t := c.FatigueBase + c.FatigueSpan*p.FatigueTolerance
	k, ok := c.FatigueChannel[iv.Channel]
	if !ok {
		k = 1
	}
	var e float64
	if x <= t {
		e = -k * c.FatigueWeight * (x / t) * (x / t)
	} else {
		e = -k * c.FatigueWeight * (1 + c.FatigueOverSlope*(x-t))
	}
	why := fmt.Sprintf("I already got %s from you this week.", messages(iv.RecentExposures))
	if x > t {
		why = fmt.Sprintf("I already got %s from you this week; that is too many.", messages(iv.RecentExposures))
	}
	return term{DriverFatigue, e, why}
}

// messages says "1 message" or "n messages".
func messages(n int) string {
	if n == 1 {
		return "1 message"
	}
	return fmt.Sprintf("%d messages", n)
}

// spamPhrases are phrases that make a message read like spam.
var spamPhrases = []string{"act now", "guaranteed", "winner", "click here", "100%", "risk-free", "risk free",
	"once in a lifetime", "congratulations", "you have been selected"}

func (b *Builtin) trust(p Spec, text string) term {
	c := &b.C
	letters, upper, excl := 0, 0, 0
	skip := 0
	for i, r := range text {
		if i < skip {
			continue
		}
		if strings.HasPrefix(text[i:], "{{") {
			if j := strings.Index(text[i:], "}}"); j >= 0 {
				skip = i + j + 2
				continue
			}
		}
		switch {
		case r == '!':
			excl++
		case unicode.IsLetter(r):
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	caps := 0.0
	if letters >= 10 {
		caps = max(0, float64(upper)/float64(letters)-c.CapsThreshold) / (1 - c.CapsThreshold)
	}
	ex := min(max(float64(excl-1), 0), c.ExclaimMax) / c.ExclaimMax
	lower := strings.ToLower(text)
	spam := 0
	for _, s := range spamPhrases {
		if strings.Contains(lower, s) {
			spam++
		}
	}
	pen := c.CapsWeight*caps + c.ExclaimWeight*ex + c.SpamWeight*float64(min(spam, 2))
	if pen == 0 {
		return term{factor: DriverTrust}
	}
	e := -(1 + c.TrustAgreeableness*(0.5-p.Traits[TraitAgreeableness])) * pen
	return term{DriverTrust, e, "The shouting and hype make me distrust it."}
}

func (b *Builtin) clarity(iv Intervention, text string) term {
	c := &b.C
	limit, ok := c.LengthLimit[iv.Channel]
	if !ok {
		limit = c.DefaultLengthLimit
	}
	e := 0.0
	why := ""
	if n := float64(utf8.RuneCountInString(iv.Template)); limit > 0 && n > limit {
		e -= c.LengthWeight * min(1, (n-limit)/limit)
		why = "It is too long to read."
	}
	if k := iv.Offer.Kind; (k == OfferPercentOff || k == OfferAmountOff) && !strings.ContainsAny(text, "0123456789") {
		e -= c.UnstatedOfferPenalty
		why = "I cannot tell what the offer actually is."
	}
	return term{DriverClarity, e, why}
}

var _ Reasoner = (*Builtin)(nil)
