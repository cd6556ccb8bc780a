package api

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds of the request's number fields, as the JSON Schema states them.
const (
	MaxBudgetLimit = 1e15
	MinROILow      = -1.0
	MinROIHigh     = 1e6
)

// Identifier patterns, written as the JSON Schema writes them.
var (
	variantIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	fieldRE     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	segmentRE   = regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,128}$`)
	customRE    = regexp.MustCompile(`^custom:[a-z][a-z0-9_]{0,63}$`)
)

// Validate checks r against the contract as it stands, before defaults,
// and returns nil or an *Error of KindValidation listing every problem in a
// stable order. It does not check Limits (Decode does) nor whether the
// segments exist (the calibration does). Decode calls it; callers that
// build requests in Go may call it before sending.
func (r SimulateRequest) Validate() error {
	p := r.problems()
	if len(p) == 0 {
		return nil
	}
	sortFieldErrors(p)
	return &Error{Kind: KindValidation, Message: fmt.Sprintf("request breaks the contract in %d place(s)", len(p)), Fields: p}
}

type checker struct{ errs []FieldError }

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, FieldError{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// enum checks a required (or, with optional, defaulted) enum field.
func enum[T ~string](c *checker, path string, v T, allowed []T, optional bool) {
	if v == "" {
		if !optional {
			c.add(path, "is required (one of %s)", quoteAll(allowed))
		}
		return
	}
	if !slices.Contains(allowed, v) {
		c.add(path, "must be one of %s, got %q", quoteAll(allowed), clip(string(v)))
	}
}

func quoteAll[T ~string](vs []T) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(string(v))
	}
	return strings.Join(q, ", ")
}

func (c *checker) intRange(path string, v *int, lo, hi int) {
	if v != nil && (*v < lo || *v > hi) {
		c.add(path, "must be in [%d, %d]", lo, hi)
	}
}

func (c *checker) floatRange(path string, v *float64, lo, hi float64) {
	// NaN fails both comparisons, so test for being inside.
	if v != nil && !(*v >= lo && *v <= hi) {
		c.add(path, "must be in [%g, %g]", lo, hi)
	}
}

// items checks an optional array's length: nil is absent, empty is not.
func (c *checker) items(path string, n int, present bool, lo, hi int) {
	switch {
	case !present:
	case n < lo:
		c.add(path, "must have at least %d item(s) (omit the field if there are none)", lo)
	case n > hi:
		c.add(path, "must have at most %d items, got %d", hi, n)
	}
}

// distinct reports every element equal to an earlier one.
func distinct[T comparable](c *checker, path string, vs []T) {
	for i, v := range vs {
		if j := slices.Index(vs[:i], v); j >= 0 {
			c.add(fmt.Sprintf("%s[%d]", path, i), "duplicates %s[%d]", path, j)
		}
	}
}

// problems lists every problem with r, unsorted.
func (r SimulateRequest) problems() []FieldError {
	c := &checker{}
	enum(c, "simulation_type", r.SimulationType, SimulationTypes, true)
	enum(c, "industry_context", r.IndustryContext, Industries, false)
	if r.Intervention == nil {
		c.add("intervention", "is required")
	} else {
		r.Intervention.check(c, "intervention")
	}
	if r.TargetPopulation == nil {
		c.add("target_population", "is required")
	} else {
		r.TargetPopulation.check(c, "target_population")
	}
	if p := r.SimulationParams; p != nil {
		const at = "simulation_params."
		c.intRange(at+"num_personas", p.NumPersonas, 1, MaxNumPersonas)
		c.intRange(at+"time_horizon_days", p.TimeHorizonDays, 1, MaxTimeHorizonDays)
		c.intRange(at+"monte_carlo_runs", p.MonteCarloRuns, 1, MaxMonteCarloRuns)
		enum(c, at+"calibration_mode", p.CalibrationMode, CalibrationModes, true)
	}
	c.items("success_metrics", len(r.SuccessMetrics), r.SuccessMetrics != nil, 1, MaxSuccessMetrics)
	for i, m := range r.SuccessMetrics {
		if !slices.Contains(Metrics, m) && !customRE.MatchString(string(m)) {
			c.add(fmt.Sprintf("success_metrics[%d]", i), "must be one of %s or \"custom:<name>\" (name: 1 to 64 lower-case letters, digits or '_', starting with a letter), got %q",
				quoteAll(Metrics), clip(string(m)))
		}
	}
	distinct(c, "success_metrics", r.SuccessMetrics)
	if k := r.Constraints; k != nil {
		c.floatRange("constraints.max_budget", k.MaxBudget, 0, MaxBudgetLimit)
		c.floatRange("constraints.max_unsubscribe_rate", k.MaxUnsubscribeRate, 0, 1)
		c.floatRange("constraints.min_roi", k.MinROI, MinROILow, MinROIHigh)
	}
	return c.errs
}

func (iv *Intervention) check(c *checker, at string) {
	enum(c, at+".type", iv.Type, InterventionTypes, false)
	if len(iv.Channels) == 0 {
		c.add(at+".channels", "is required (at least one of %s)", quoteAll(Channels))
	}
	for i, ch := range iv.Channels {
		enum(c, fmt.Sprintf("%s.channels[%d]", at, i), ch, Channels, false)
	}
	distinct(c, at+".channels", iv.Channels)
	switch n := len(iv.ContentVariants); {
	case n == 0:
		c.add(at+".content_variants", "is required (1 to %d variants)", MaxContentVariants)
	case n > MaxContentVariants:
		c.add(at+".content_variants", "must have at most %d items, got %d", MaxContentVariants, n)
	}
	for i, v := range iv.ContentVariants {
		vp := fmt.Sprintf("%s.content_variants[%d]", at, i)
		switch {
		case v.ID == "":
			c.add(vp+".id", "is required")
		case !variantIDRE.MatchString(v.ID):
			c.add(vp+".id", "must be 1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit, got %q", clip(v.ID))
		default:
			if j := slices.IndexFunc(iv.ContentVariants[:i], func(w ContentVariant) bool { return w.ID == v.ID }); j >= 0 {
				c.add(vp+".id", "duplicates %s.content_variants[%d].id (%q)", at, j, clip(v.ID))
			}
		}
		switch n := utf8.RuneCountInString(v.Template); {
		case n == 0:
			c.add(vp+".template", "is required")
		case n > MaxTemplateChars:
			c.add(vp+".template", "must be at most %d characters, got %d", MaxTemplateChars, n)
		}
		if n := len(v.PersonalizationFields); n > MaxPersonalizationFields {
			c.add(vp+".personalization_fields", "must have at most %d items, got %d", MaxPersonalizationFields, n)
		}
		for j, f := range v.PersonalizationFields {
			if !fieldRE.MatchString(f) {
				c.add(fmt.Sprintf("%s.personalization_fields[%d]", vp, j), "must be 1 to 64 lower-case letters, digits or '_', starting with a letter, got %q", clip(f))
			}
		}
		distinct(c, vp+".personalization_fields", v.PersonalizationFields)
	}
	if t := iv.Timing; t != nil {
		enum(c, at+".timing.schedule", t.Schedule, Schedules, true)
		enum(c, at+".timing.cadence", t.Cadence, Cadences, true)
		c.intRange(at+".timing.frequency_cap", t.FrequencyCap, 1, MaxFrequencyCap)
	}
}

func (tp *TargetPopulation) check(c *checker, at string) {
	enum(c, at+".selection_method", tp.SelectionMethod, SelectionMethods, false)
	if tp.SelectionMethod == SelectSegment && len(tp.Segments) == 0 {
		c.add(at+".segments", "is required (at least one segment) when selection_method is \"segment\"")
	} else {
		c.items(at+".segments", len(tp.Segments), tp.Segments != nil, 1, MaxSegments)
	}
	for i, s := range tp.Segments {
		if !segmentRE.MatchString(s) {
			c.add(fmt.Sprintf("%s.segments[%d]", at, i), "must be a segment id of 1 to 128 characters without control characters, got %q", clip(s))
		}
	}
	distinct(c, at+".segments", tp.Segments)
	switch {
	case tp.Size == 0:
		c.add(at+".size", "is required (an integer in [1, %d])", MaxPopulationSize)
	case tp.Size < 1 || tp.Size > MaxPopulationSize:
		c.add(at+".size", "must be in [1, %d]", MaxPopulationSize)
	}
	if f := tp.Filters; f != nil {
		c.intRange(at+".filters.min_tenure_days", f.MinTenureDays, 0, MaxFilterDays)
		c.intRange(at+".filters.max_frequency_last_30d", f.MaxFrequencyLast30d, 0, MaxFilterFrequency)
	}
}
