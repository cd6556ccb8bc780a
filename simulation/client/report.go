package client

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/preflight-hq/preflight/simulation/api"
)

// WriteReport writes resp, the answer to req, for a marketer: the question
// asked, the expected outcomes with their 95% intervals and uplift over
// the control arm, revenue and ROI, the unsubscribe rate and its risk, the
// best configuration, one row per segment, the insights with the personas'
// rationales, and how good the calibration is. A failed response is
// written as the question, the error's kind and message, and every field
// problem. Rates are percentages, uplifts of rates percentage points, and
// money is in the tenant's currency. It returns the first write error.
func WriteReport(w io.Writer, req api.SimulateRequest, resp api.SimulateResponse) error {
	ew := &errWriter{w: w}
	id := resp.SimulationID
	if id != "" {
		id = " " + id
	}
	ew.printf("Preflight simulation%s: %s\n", id, resp.Status)
	writeQuestion(ew, req.WithDefaults())
	if resp.Status != api.StatusCompleted || resp.Predictions == nil {
		writeFailure(ew, resp.Error)
		return ew.err
	}
	p := resp.Predictions
	writeOutcomes(ew, req.WithDefaults(), p.ExpectedOutcomes)
	writeOptimal(ew, p.OptimalConfiguration)
	writeSegments(ew, p.SegmentBreakdown)
	writeInsights(ew, resp.Insights)
	writeCalibration(ew, resp.CalibrationQuality)
	return ew.err
}

// errWriter keeps the first write error and skips later writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// table returns a tabwriter over e for an indented two-space table; the
// caller flushes it.
func table(e *errWriter) *tabwriter.Writer { return tabwriter.NewWriter(e, 0, 0, 2, ' ', 0) }

func section(e *errWriter, title string) { e.printf("\n%s\n", title) }

func writeQuestion(e *errWriter, req api.SimulateRequest) {
	section(e, "What was asked")
	tw := table(e)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s\t%s\n", k, v) }
	if iv := req.Intervention; iv != nil {
		row("intervention", fmt.Sprintf("%s on %s", orNone(string(iv.Type)), orNone(joinChannels(iv.Channels, ", "))))
		ids := make([]string, len(iv.ContentVariants))
		for i, v := range iv.ContentVariants {
			ids[i] = v.ID
		}
		row("content variants", fmt.Sprintf("%d: %s", len(ids), orNone(strings.Join(ids, ", "))))
		if t := iv.Timing; t != nil {
			row("timing", fmt.Sprintf("%s, %s cadence, at most %s per person in any 7 days", t.Schedule, t.Cadence, plural(deref(t.FrequencyCap), "message")))
		}
	} else {
		row("intervention", "(none)")
	}
	if tp := req.TargetPopulation; tp != nil {
		who := "every segment"
		if len(tp.Segments) > 0 {
			who = strings.Join(tp.Segments, ", ")
		}
		people := count(tp.Size) + " people"
		if tp.Size == 1 {
			people = "1 person"
		}
		row("population", fmt.Sprintf("%s in %s, selected by %s", people, who, orNone(string(tp.SelectionMethod))))
		if f := tp.Filters; f != nil {
			var fs []string
			if f.MinTenureDays != nil {
				fs = append(fs, fmt.Sprintf("known for at least %s", plural(*f.MinTenureDays, "day")))
			}
			if f.MaxFrequencyLast30d != nil {
				fs = append(fs, fmt.Sprintf("sent at most %s in the last 30 days", plural(*f.MaxFrequencyLast30d, "message")))
			}
			if len(fs) > 0 {
				row("filters", strings.Join(fs, "; "))
			}
		}
	} else {
		row("population", "(none)")
	}
	if sp := req.SimulationParams; sp != nil {
		row("horizon", plural(deref(sp.TimeHorizonDays), "day"))
		ext := "without externalities"
		if sp.IncludeExternalities != nil && *sp.IncludeExternalities {
			ext = "with externalities (seasonality, competitor pressure)"
		}
		row("simulation", fmt.Sprintf("%s × %s, %s calibration, %s",
			plural(deref(sp.NumPersonas), "persona"), plural(deref(sp.MonteCarloRuns), "Monte Carlo run"), sp.CalibrationMode, ext))
	}
	row("industry", orNone(string(req.IndustryContext)))
	ms := make([]string, len(req.SuccessMetrics))
	for i, m := range req.SuccessMetrics {
		ms[i] = string(m)
	}
	row("success metrics", orNone(strings.Join(ms, ", ")))
	if c := req.Constraints; c != nil {
		var cs []string
		if c.MaxBudget != nil {
			cs = append(cs, "budget ≤ "+money(*c.MaxBudget))
		}
		if c.MaxUnsubscribeRate != nil {
			cs = append(cs, "unsubscribe rate ≤ "+pct(*c.MaxUnsubscribeRate))
		}
		if c.MinROI != nil {
			cs = append(cs, "ROI ≥ "+strconv.FormatFloat(*c.MinROI, 'f', 2, 64))
		}
		if len(cs) > 0 {
			row("constraints", strings.Join(cs, "; "))
		}
	}
	tw.Flush()
}

func writeOutcomes(e *errWriter, req api.SimulateRequest, eo api.ExpectedOutcomes) {
	title := "Expected outcomes (95% intervals; uplift is the difference from the control group)"
	if sp := req.SimulationParams; sp != nil && sp.TimeHorizonDays != nil {
		title = "Expected outcomes over " + plural(*sp.TimeHorizonDays, "day") + " (95% intervals; uplift is the difference from the control group)"
	}
	section(e, title)
	tw := table(e)
	n := 0
	if c := eo.ConversionRate; c != nil {
		fmt.Fprintf(tw, "  conversion rate\t%s\t%s\tuplift %s\n", pct(c.Value), pctInterval(c.ConfidenceInterval), pts(c.UpliftVsControl))
		n++
	}
	if r := eo.Revenue; r != nil {
		up := ""
		if r.UpliftVsControl != nil {
			up = "uplift " + signedMoney(*r.UpliftVsControl) + ", "
		}
		m := moneyOf(r.Value, r.ConfidenceInterval[0], r.ConfidenceInterval[1])
		fmt.Fprintf(tw, "  revenue\t%s\t[%s, %s]\t%sROI %s\n", m(r.Value), m(r.ConfidenceInterval[0]), m(r.ConfidenceInterval[1]),
			up, strconv.FormatFloat(r.ROI, 'f', 2, 64))
		n++
	}
	if u := eo.UnsubscribeRate; u != nil {
		limit := "against the historical rate"
		if c := req.Constraints; c != nil && c.MaxUnsubscribeRate != nil {
			limit = "against the limit of " + pct(*c.MaxUnsubscribeRate)
		}
		fmt.Fprintf(tw, "  unsubscribe rate\t%s\t\trisk %s (%s)\n", pct(u.Value), u.RiskLevel, limit)
		n++
	}
	if c := eo.CustomerLifetimeValue; c != nil {
		m := moneyOf(c.Value, c.ConfidenceInterval[0], c.ConfidenceInterval[1])
		fmt.Fprintf(tw, "  customer lifetime value\t%s\t[%s, %s]\tuplift %s\n", m(c.Value), m(c.ConfidenceInterval[0]),
			m(c.ConfidenceInterval[1]), signedMoney(c.UpliftVsControl))
		n++
	}
	keys := make([]string, 0, len(eo.CustomKPIs))
	for k := range eo.CustomKPIs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		c := eo.CustomKPIs[k]
		fmt.Fprintf(tw, "  %s\t%s\t[%s, %s]\tuplift %s\n", k, num(c.Value), num(c.ConfidenceInterval[0]), num(c.ConfidenceInterval[1]), signedNum(c.UpliftVsControl))
		n++
	}
	if n == 0 {
		fmt.Fprintf(tw, "  (no requested metric could be predicted)\n")
	}
	tw.Flush()
}

func writeOptimal(e *errWriter, oc *api.OptimalConfiguration) {
	section(e, "Best configuration")
	if oc == nil {
		e.printf("  No configuration meets the constraints; the outcomes above are those of the best one found, which breaks at least one.\n")
		return
	}
	e.printf("  %s, content variant %q, timing %s: conversion uplift %s over control\n",
		orNone(joinChannels(oc.Channels, " + ")), oc.ContentVariant, orNone(oc.Timing), pts(oc.ExpectedUplift))
}

func writeSegments(e *errWriter, rows []api.SegmentOutcome) {
	if len(rows) == 0 {
		return
	}
	section(e, "By segment (response rate and uplift with 95% intervals)")
	tw := table(e)
	fmt.Fprintf(tw, "  segment\tsize\tresponse rate\tinterval\tuplift\tinterval\trevenue share\tunsubscribes\trisk factors\n")
	for _, r := range rows {
		size, riv, uiv, unsub := "-", "-", "-", "-"
		if r.Size > 0 {
			size = count(r.Size)
		}
		if r.ResponseRateInterval != (api.Interval{}) {
			riv = pctInterval(r.ResponseRateInterval)
		}
		if r.UpliftInterval != (api.Interval{}) {
			uiv = ptsInterval(r.UpliftInterval)
		}
		if r.UnsubscribeRate != 0 || r.Size > 0 {
			unsub = pct(r.UnsubscribeRate)
		}
		risks := "none"
		if len(r.RiskFactors) > 0 {
			risks = strings.Join(r.RiskFactors, ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Segment, size, pct(r.ResponseRate), riv, pts(r.UpliftVsControl), uiv,
			strconv.FormatFloat(100*r.RevenueContribution, 'f', 1, 64)+"%", unsub, risks)
	}
	tw.Flush()
}

func writeInsights(e *errWriter, ins []api.Insight) {
	section(e, "Insights")
	if len(ins) == 0 {
		e.printf("  none\n")
		return
	}
	for i, in := range ins {
		e.printf("  %d. %s\n", i+1, in.Finding)
		e.printf("     Confidence: %s\n", strconv.FormatFloat(100*in.Confidence, 'f', 0, 64)+"%")
		if in.Recommendation != "" {
			e.printf("     Recommendation: %s\n", in.Recommendation)
		}
		if len(in.PersonaRationales) > 0 {
			e.printf("     Why, in the personas' words:\n")
			for _, r := range in.PersonaRationales {
				e.printf("       - %s\n", r)
			}
		}
	}
}

func writeCalibration(e *errWriter, q *api.CalibrationQuality) {
	section(e, "Calibration")
	if q == nil {
		e.printf("  unknown\n")
		return
	}
	tw := table(e)
	fmt.Fprintf(tw, "  historical accuracy\t%s on past campaigns held out from the fit\n", strconv.FormatFloat(100*q.HistoricalAccuracy, 'f', 0, 64)+"%")
	if q.DriftDetected {
		fmt.Fprintf(tw, "  drift\tDETECTED: recent data moved away from the calibration; read the predictions with care\n")
	} else {
		fmt.Fprintf(tw, "  drift\tnone detected\n")
	}
	last := "never"
	if !q.LastCalibration.IsZero() {
		last = q.LastCalibration.UTC().Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(tw, "  last calibration\t%s\n", last)
	tw.Flush()
}

// kindAdvice says what a caller can do about each error kind.
var kindAdvice = map[api.ErrorKind]string{
	api.KindValidation:   "the request breaks the contract; fix it and send it again",
	api.KindLimit:        "the request exceeds a limit; ask for less, or for the rate limit wait and retry",
	api.KindTimeout:      "the simulation did not finish in time; retry, perhaps with fewer personas or runs",
	api.KindInternal:     "the simulator failed; retry later",
	api.KindUnauthorized: "the API key is missing or not valid",
}

func writeFailure(e *errWriter, ae *api.Error) {
	section(e, "The simulator could not answer")
	if ae == nil {
		e.printf("  no error was given\n")
		return
	}
	tw := table(e)
	fmt.Fprintf(tw, "  error\t%s: %s\n", ae.Kind, orNone(kindAdvice[ae.Kind]))
	fmt.Fprintf(tw, "  message\t%s\n", ae.Message)
	tw.Flush()
	if len(ae.Fields) == 0 {
		return
	}
	e.printf("\n  %s:\n", plural(len(ae.Fields), "problem"))
	tw = table(e)
	for _, f := range ae.Fields {
		fmt.Fprintf(tw, "    %s\t%s\n", f.Path, f.Reason)
	}
	tw.Flush()
}

func joinChannels(cs []api.Channel, sep string) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, sep)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// plural writes n and the noun, with an "s" unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

// count writes n with thousands separators.
func count(n int) string { return group(strconv.Itoa(n)) }

// group puts thousands separators into the integer part of a decimal
// number.
func group(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		sign, s = s[:1], s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// money writes an amount: whole units with separators from 100 up, cents
// below.
func money(v float64) string { return moneyOf(v)(v) }

// moneyOf returns the writer of amounts for a row of values, so that they
// share one precision: whole units with separators when any is 100 or
// more, cents otherwise.
func moneyOf(vs ...float64) func(float64) string {
	prec := 2
	for _, v := range vs {
		if math.Abs(v) >= 100 {
			prec = 0
		}
	}
	return func(v float64) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return group(strconv.FormatFloat(v, 'f', prec, 64))
	}
}

func signedMoney(v float64) string {
	if v >= 0 {
		return "+" + money(v)
	}
	return money(v)
}

// num writes a number of unknown unit with four significant digits.
func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

func signedNum(v float64) string {
	if v >= 0 {
		return "+" + num(v)
	}
	return num(v)
}

// pct writes a fraction as a percentage with two decimals.
func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 2, 64) + "%" }

// pts writes a difference of fractions in signed percentage points.
func pts(v float64) string {
	s := strconv.FormatFloat(100*v, 'f', 2, 64)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s + " pts"
}

func pctInterval(iv api.Interval) string { return "[" + pct(iv[0]) + ", " + pct(iv[1]) + "]" }

func ptsInterval(iv api.Interval) string {
	return "[" + strings.TrimSuffix(pts(iv[0]), " pts") + ", " + pts(iv[1]) + "]"
}
