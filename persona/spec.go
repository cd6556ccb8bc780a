package persona

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Big Five trait names, the keys of Spec.Traits.
const (
	TraitOpenness          = "openness"
	TraitConscientiousness = "conscientiousness"
	TraitExtraversion      = "extraversion"
	TraitAgreeableness     = "agreeableness"
	TraitNeuroticism       = "neuroticism"
)

// BigFive lists the trait names in their conventional (OCEAN) order, the
// order in which they render.
var BigFive = []string{TraitOpenness, TraitConscientiousness, TraitExtraversion, TraitAgreeableness, TraitNeuroticism}

// Lifecycle stages of Spec.LifecycleStage.
const (
	StageProspect = "prospect"
	StageNew      = "new"
	StageActive   = "active"
	StageLapsed   = "lapsed"
)

// LifecycleStages lists the valid lifecycle stages.
var LifecycleStages = []string{StageProspect, StageNew, StageActive, StageLapsed}

// IncomeBands lists the valid income bands, low to high.
var IncomeBands = []string{"low", "medium", "high"}

// Channels lists the channels that render first, in this order; other
// channel names follow alphabetically.
var Channels = []string{"email", "sms", "push"}

// Render returns the persona block of a prompt: one "Field: value" line
// per known attribute in a fixed order, numbers with two decimals, maps in
// a fixed order (traits in BigFive order, preferences by affinity then
// name, purchases by count then name, channels in Channels order), ending
// with a newline. Empty fields are left out. The ID and SegmentID are not
// rendered (the prompt tag carries the ID).
func (s Spec) Render() string {
	var b strings.Builder
	line := func(k, v string) {
		if v == "" {
			return
		}
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	line("Name", s.Name)
	line("Age", s.AgeBand)
	line("Gender", s.Gender)
	line("Region", s.Region)
	line("Occupation", s.Occupation)
	line("Income", s.IncomeBand)
	line("Customer stage", s.LifecycleStage)
	if len(s.Traits) > 0 {
		var parts []string
		for _, k := range orderedKeys(s.Traits, BigFive) {
			v := s.Traits[k]
			parts = append(parts, k+" "+fmt2(v)+" ("+level(v)+")")
		}
		line("Personality (0 = very low, 1 = very high)", strings.Join(parts, ", "))
	}
	if len(s.Preferences) > 0 {
		var parts []string
		for _, k := range byValueDesc(s.Preferences) {
			parts = append(parts, k+" "+fmt2(s.Preferences[k]))
		}
		line("Interest in product categories (0 = none, 1 = strong)", strings.Join(parts, ", "))
	}
	h := s.PurchaseHistory
	if len(h.Categories) > 0 {
		counts := make(map[string]float64, len(h.Categories))
		for k, v := range h.Categories {
			counts[k] = float64(v)
		}
		var parts []string
		for _, k := range byValueDesc(counts) {
			parts = append(parts, k+" "+strconv.Itoa(h.Categories[k]))
		}
		line("Purchases in the last year", strings.Join(parts, ", "))
	} else {
		line("Purchases in the last year", "none")
	}
	line("Orders per year", fmtNum(h.OrdersPerYear))
	line("Average order value", fmt2(h.AvgOrderValue))
	if h.OrdersPerYear > 0 || len(h.Categories) > 0 || h.DaysSinceLastOrder > 0 {
		line("Days since last order", strconv.Itoa(h.DaysSinceLastOrder))
	}
	line("Price sensitivity (0 = ignores discounts, 1 = buys on price)", fmt2(s.PriceSensitivity))
	line("Tolerance for marketing messages (0 = annoyed by the first, 1 = reads them all)", fmt2(s.FatigueTolerance))
	if len(s.ChannelAffinity) > 0 {
		var parts []string
		for _, k := range orderedKeys(s.ChannelAffinity, Channels) {
			parts = append(parts, k+" "+fmt2(s.ChannelAffinity[k]))
		}
		line("Receptiveness by channel (0 = ignores, 1 = always reads)", strings.Join(parts, ", "))
	}
	if !s.PreferredHours.IsZero() {
		line("Preferred time for reading messages", fmt.Sprintf("%02d:00-%02d:00", s.PreferredHours.From, s.PreferredHours.To))
	}
	return b.String()
}

// level names the band of a trait value.
func level(v float64) string {
	switch {
	case v < 1.0/3:
		return "low"
	case v < 2.0/3:
		return "medium"
	}
	return "high"
}

// orderedKeys returns the keys of m that appear in first, in that order,
// then the others sorted.
func orderedKeys(m map[string]float64, first []string) []string {
	keys := make([]string, 0, len(m))
	for _, k := range first {
		if _, ok := m[k]; ok {
			keys = append(keys, k)
		}
	}
	var rest []string
	for k := range m {
		if !slices.Contains(first, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(keys, rest...)
}

// byValueDesc returns the keys of m by value, largest first, ties by name.
func byValueDesc(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		switch {
		case m[a] > m[b]:
			return -1
		case m[a] < m[b]:
			return 1
		}
		return strings.Compare(a, b)
	})
	return keys
}

// FavoriteCategory returns the category with the highest preference (ties
// by name), or "" when there are no preferences.
func (s Spec) FavoriteCategory() string {
	if len(s.Preferences) == 0 {
		return ""
	}
	return byValueDesc(s.Preferences)[0]
}

// TopPurchaseCategory returns the category bought most often in the last
// year (ties by name), or "" when the persona bought nothing.
func (s Spec) TopPurchaseCategory() string {
	best, n := "", 0
	for k, v := range s.PurchaseHistory.Categories {
		if v > n || (v == n && v > 0 && k < best) {
			best, n = k, v
		}
	}
	return best
}

// Validate checks a spec. The error names every offending field (as its
// JSON path) and the reason, e.g. "traits.openness: must be in [0, 1], got
// 1.2".
func (s Spec) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	unit := func(field string, v float64) {
		if !(v >= 0 && v <= 1) {
			add(field, "must be in [0, 1], got %g", v)
		}
	}
	if s.ID == "" {
		add("id", "is required")
	}
	if s.SegmentID == "" {
		add("segment_id", "is required")
	}
	if !(s.Weight > 0 && s.Weight <= 1) {
		add("weight", "must be in (0, 1], got %g", s.Weight)
	}
	if strings.TrimSpace(s.Name) == "" {
		add("name", "is required")
	}
	if s.IncomeBand != "" && !slices.Contains(IncomeBands, s.IncomeBand) {
		add("income_band", "must be one of %s, got %q", strings.Join(IncomeBands, ", "), s.IncomeBand)
	}
	for _, k := range BigFive {
		v, ok := s.Traits[k]
		if !ok {
			add("traits."+k, "is required")
			continue
		}
		unit("traits."+k, v)
	}
	for _, k := range sortedKeys(s.Traits) {
		if !slices.Contains(BigFive, k) {
			add("traits."+k, "is not a Big Five trait (%s)", strings.Join(BigFive, ", "))
		}
	}
	for _, k := range sortedKeys(s.Preferences) {
		unit("preferences."+k, s.Preferences[k])
	}
	for _, k := range sortedKeys(s.ChannelAffinity) {
		unit("channel_affinity."+k, s.ChannelAffinity[k])
	}
	unit("price_sensitivity", s.PriceSensitivity)
	unit("fatigue_tolerance", s.FatigueTolerance)
	if !slices.Contains(LifecycleStages, s.LifecycleStage) {
		add("lifecycle_stage", "must be one of %s, got %q", strings.Join(LifecycleStages, ", "), s.LifecycleStage)
	}
	h := s.PurchaseHistory
	cats := make([]string, 0, len(h.Categories))
	for k := range h.Categories {
		cats = append(cats, k)
	}
	slices.Sort(cats)
	for _, k := range cats {
		if h.Categories[k] < 0 {
			add("purchase_history.categories."+k, "must be >= 0, got %d", h.Categories[k])
		}
	}
	if !(h.OrdersPerYear >= 0) || math.IsInf(h.OrdersPerYear, 0) {
		add("purchase_history.orders_per_year", "must be a finite number >= 0, got %g", h.OrdersPerYear)
	}
	if !(h.AvgOrderValue >= 0) || math.IsInf(h.AvgOrderValue, 0) {
		add("purchase_history.avg_order_value", "must be a finite number >= 0, got %g", h.AvgOrderValue)
	}
	if h.DaysSinceLastOrder < 0 {
		add("purchase_history.days_since_last_order", "must be >= 0, got %d", h.DaysSinceLastOrder)
	}
	if b := s.PreferredHours; b.From < 0 || b.From > 23 || b.To < 0 || b.To > 23 {
		add("preferred_hours", "hours must be in [0, 23], got %d-%d", b.From, b.To)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid persona spec %q: %w", s.ID, errors.Join(errs...))
	}
	return nil
}

// Validate checks an intervention: an ID and a channel, a known offer kind
// with a value in range, a send hour in [-1, 23], a day of week in
// [-1, 6] and non-negative exposures. The error names every offending
// field and the reason.
func (iv Intervention) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if iv.ID == "" {
		add("id", "is required")
	}
	if iv.Channel == "" {
		add("channel", "is required")
	}
	switch iv.Offer.Kind {
	case "", OfferNone, OfferFreeShipping, OfferGift:
	case OfferPercentOff:
		if !(iv.Offer.Value > 0 && iv.Offer.Value <= 100) {
			add("offer.value", "a percent_off offer needs a value in (0, 100], got %g", iv.Offer.Value)
		}
	case OfferAmountOff:
		if !(iv.Offer.Value > 0) || math.IsInf(iv.Offer.Value, 0) {
			add("offer.value", "an amount_off offer needs a finite value > 0, got %g", iv.Offer.Value)
		}
	default:
		add("offer.kind", "must be none, percent_off, amount_off, free_shipping or gift, got %q", iv.Offer.Kind)
	}
	if !(iv.Offer.ExpiresHours >= 0) || math.IsInf(iv.Offer.ExpiresHours, 0) {
		add("offer.expires_hours", "must be a finite number >= 0, got %g", iv.Offer.ExpiresHours)
	}
	if iv.SendHour < -1 || iv.SendHour > 23 {
		add("send_hour", "must be in [0, 23] or -1, got %d", iv.SendHour)
	}
	if iv.DayOfWeek < -1 || iv.DayOfWeek > 6 {
		add("day_of_week", "must be in [0, 6] or -1, got %d", iv.DayOfWeek)
	}
	if iv.RecentExposures < 0 {
		add("recent_exposures", "must be >= 0, got %d", iv.RecentExposures)
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid intervention %q: %w", iv.ID, errors.Join(errs...))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
