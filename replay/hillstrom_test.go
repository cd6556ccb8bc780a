package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/schemas"
)

const hillstromPath = "../data/hillstrom.csv"

func openHillstrom(t *testing.T) *os.File {
	t.Helper()
	f, err := os.Open(hillstromPath)
	if err != nil {
		t.Fatalf("cannot open the Hillstrom data (data/hillstrom.csv is part of the repository): %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// round6 rounds to the README's six decimals.
func roundTo(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// TestHillstromAnchors replays the whole file and checks the summary
// against every anchor of /work/shared/data/README.md, to the printed digit.
func TestHillstromAnchors(t *testing.T) {
	mem := eventsink.NewMemory()
	sum, err := Hillstrom(context.Background(), openHillstrom(t), Options{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 64000 {
		t.Fatalf("Rows = %d, want 64000", sum.Rows)
	}
	arms := []struct {
		id                           string
		n                            int
		visit, visitSE, conv, convSE float64
		spend, spendSE               float64
	}{
		{InterventionWomens, 21387, 0.151400, 0.002451, 0.008837, 0.000640, 1.077202, 0.103363},
		{InterventionMens, 21307, 0.182757, 0.002648, 0.012531, 0.000762, 1.422617, 0.121630},
		{InterventionNone, 21306, 0.106167, 0.002110, 0.005726, 0.000517, 0.652789, 0.079390},
	}
	for _, want := range arms {
		got, ok := sum.Arm(want.id)
		if !ok {
			t.Fatalf("no arm %s", want.id)
		}
		if got.N != want.n {
			t.Errorf("%s: n = %d, want %d", want.id, got.N, want.n)
		}
		for _, c := range []struct {
			what      string
			got, want float64
		}{
			{"visit", got.Visit.Value, want.visit}, {"visit se", got.Visit.SE, want.visitSE},
			{"conversion", got.Conversion.Value, want.conv}, {"conversion se", got.Conversion.SE, want.convSE},
			{"spend", got.SpendMean.Value, want.spend}, {"spend se", got.SpendMean.SE, want.spendSE},
		} {
			if roundTo(c.got, 6) != c.want {
				t.Errorf("%s %s = %.8f, README says %.6f", want.id, c.what, c.got, c.want)
			}
		}
		if got.Visits != int(math.Round(got.Visit.Value*float64(got.N))) || math.Abs(got.Spend/float64(got.N)-got.SpendMean.Value) > 1e-12 {
			t.Errorf("%s: counts and sums disagree with the means: %+v", want.id, got)
		}
	}
	effects := []struct {
		id                           string
		visit, visitSE, conv, convSE float64
		spend, spendSE               float64
	}{
		{InterventionWomens, 0.045233, 0.003234, 0.003111, 0.000823, 0.4244, 0.1303},
		{InterventionMens, 0.076590, 0.003386, 0.006805, 0.000921, 0.7698, 0.1452},
	}
	for _, want := range effects {
		got, ok := sum.Effect(want.id)
		if !ok {
			t.Fatalf("no effect %s", want.id)
		}
		if got.ControlID != InterventionNone {
			t.Errorf("%s: control %q, want %q", want.id, got.ControlID, InterventionNone)
		}
		for _, c := range []struct {
			what      string
			got, want float64
			digits    int
		}{
			{"visit ATE", got.Visit.Value, want.visit, 6}, {"visit SE", got.Visit.SE, want.visitSE, 6},
			{"conversion ATE", got.Conversion.Value, want.conv, 6}, {"conversion SE", got.Conversion.SE, want.convSE, 6},
			{"spend ATE", got.Spend.Value, want.spend, 4}, {"spend SE", got.Spend.SE, want.spendSE, 4},
		} {
			if roundTo(c.got, c.digits) != c.want {
				t.Errorf("%s %s = %.8f, README says %.*f", want.id, c.what, c.got, c.digits, c.want)
			}
		}
	}

	// Overall rates from the README: visit 14.68%, conversion 0.903%,
	// mean spend $1.0509; and the events carry the same totals.
	var visits, purchases, exposures int
	var spend float64
	for i, ev := range mem.Events() {
		if err := ev.Validate(); err != nil {
			t.Fatalf("event %d (%s) invalid: %v", i, ev.Type(), err)
		}
		switch e := ev.(type) {
		case *schemas.Exposure:
			exposures++
		case *schemas.Outcome:
			switch e.OutcomeType {
			case "visit":
				visits++
			case "purchase":
				purchases++
				spend += e.Value
			}
		}
	}
	if exposures != 64000 {
		t.Errorf("%d exposures, want 64000", exposures)
	}
	if got := roundTo(float64(visits)/64000*100, 2); got != 14.68 {
		t.Errorf("visit rate from events %.2f%%, README says 14.68%%", got)
	}
	if got := roundTo(float64(purchases)/64000*100, 3); got != 0.903 {
		t.Errorf("conversion rate from events %.3f%%, README says 0.903%%", got)
	}
	if got := roundTo(spend/64000, 4); got != 1.0509 {
		t.Errorf("mean spend from events %.4f, README says 1.0509", got)
	}
	want := map[string]int64{"segment": 7, "intervention": 2, "entity": 64000, "exposure": 64000, "outcome": int64(visits + purchases)}
	for k, v := range want {
		if sum.Events[k] != v {
			t.Errorf("Events[%s] = %d, want %d", k, sum.Events[k], v)
		}
	}
}

// TestHillstromEvents checks every event of the replay: it validates,
// round-trips through the wire format, and each entity's events are in
// time order within the 14-day window.
func TestHillstromEvents(t *testing.T) {
	mem := eventsink.NewMemory()
	opts := Options{Cost: 0.25, Limit: 5000}
	if _, err := Hillstrom(context.Background(), openHillstrom(t), opts, mem); err != nil {
		t.Fatal(err)
	}
	evs := mem.Events()
	sent := map[string]time.Time{}
	last := map[string]time.Time{}
	segments := map[string]bool{}
	interventions := map[string]bool{}
	for i, ev := range evs {
		b, err := schemas.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		back, err := schemas.Decode(ev.Type().SchemaName(), b)
		if err != nil {
			t.Fatalf("event %d (%s) does not decode: %v\n%s", i, ev.Type(), err, b)
		}
		if b2, _ := schemas.Encode(back); !bytes.Equal(b, b2) {
			t.Fatalf("event %d does not round-trip:\n%s\n%s", i, b, b2)
		}
		if p, ok := last[ev.Key()]; ok && ev.Time().Before(p) {
			t.Fatalf("entity %s: event %d out of time order", ev.Key(), i)
		}
		last[ev.Key()] = ev.Time()
		switch e := ev.(type) {
		case *schemas.Segment:
			segments[e.SegmentID] = true
		case *schemas.Intervention:
			interventions[e.InterventionID] = true
		case *schemas.Entity:
			if !segments[e.SegmentID] {
				t.Fatalf("entity %s in segment %q that was not defined first", e.EntityID, e.SegmentID)
			}
		case *schemas.Exposure:
			if e.Timestamp.Before(DefaultStart) || !e.Timestamp.Before(DefaultStart.Add(24*time.Hour)) {
				t.Fatalf("exposure at %s, want within the first day", e.Timestamp)
			}
			switch e.Arm {
			case schemas.ArmTreatment:
				if e.Cost != 0.25 || !interventions[e.InterventionID] {
					t.Fatalf("treatment exposure %+v: want cost 0.25 and a defined intervention", e)
				}
			case schemas.ArmControl:
				if e.InterventionID != InterventionNone {
					t.Fatalf("control exposure with intervention %q", e.InterventionID)
				}
			}
			sent[e.EntityID] = e.Timestamp
		case *schemas.Outcome:
			s, ok := sent[e.EntityID]
			if !ok || e.Timestamp.Before(s) || e.Timestamp.After(s.Add(attributionWindow)) {
				t.Fatalf("outcome %s at %s, want within 14 days after its exposure at %s", e.OutcomeID, e.Timestamp, s)
			}
			if e.CampaignID != DefaultCampaignID {
				t.Fatalf("outcome attributed to %q", e.CampaignID)
			}
		}
	}
	if len(sent) != 5000 {
		t.Errorf("%d exposed entities, want 5000 (Limit)", len(sent))
	}

	// Ids are stable across replays, so a second replay deduplicates.
	mem2 := eventsink.NewMemory()
	if _, err := Hillstrom(context.Background(), openHillstrom(t), opts, mem2); err != nil {
		t.Fatal(err)
	}
	for i, ev := range mem2.Events() {
		if ev.ID() != evs[i].ID() {
			t.Fatalf("event %d has id %s in one replay and %s in another", i, evs[i].ID(), ev.ID())
		}
	}
	id, err := EntityID(opts, 1)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range evs {
		if e, ok := ev.(*schemas.Entity); ok && e.EntityID == id {
			found = e.Attributes["hillstrom_row"] == 1
		}
	}
	if !found {
		t.Errorf("EntityID(opts, 1) = %s names no entity of row 1", id)
	}
}

const tinyHeader = "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend\r\n"

// TestHillstromTiny replays a hand-made file and checks its events exactly.
func TestHillstromTiny(t *testing.T) {
	csv := tinyHeader +
		"10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,1,1,29.99\r\n" +
		`6,"6) $750 - $1,000",800.5,1,1,Rural,1,Web,No E-Mail,1,0,0` + "\r\n" +
		"1,1) $0 - $100,45.34,0,1,Urban,0,Multichannel,Mens E-Mail,0,0,0"
	mem := eventsink.NewMemory()
	sum, err := Hillstrom(context.Background(), strings.NewReader(csv), Options{Segment: func(r Row) string {
		if r.HistoryBin >= 5 {
			return "big"
		}
		return "small"
	}}, mem)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != 3 {
		t.Fatalf("Rows = %d, want 3", sum.Rows)
	}
	w, _ := sum.Arm(InterventionWomens)
	if w.N != 1 || w.Conversions != 1 || w.Spend != 29.99 || w.Visit.SE != 0 {
		t.Errorf("womens arm = %+v", w)
	}
	e, _ := sum.Effect(InterventionWomens)
	if e.Visit.Value != 0 || e.Conversion.Value != 1 || e.Spend.Value != 29.99 {
		t.Errorf("womens effect = %+v, want visit 0, conversion 1, spend 29.99", e)
	}
	var types []string
	for _, ev := range mem.Events() {
		types = append(types, string(ev.Type()))
		switch e := ev.(type) {
		case *schemas.Segment:
			if e.SegmentID == "big" && (e.Size != 1 || e.Definition["history_segment"] != "6) $750 - $1,000") {
				t.Errorf("segment big = %+v", e)
			}
		case *schemas.Entity:
			if e.Attributes["history_segment"] == "6) $750 - $1,000" {
				if e.SegmentID != "big" || e.LifecycleStage != "new" || e.ValueTier != "high" || e.Attributes["zip_code"] != "Rural" {
					t.Errorf("entity of row 2 = %+v", e)
				}
				if want := DefaultStart.AddDate(0, -6, -1); !e.CreatedAt.Equal(want) {
					t.Errorf("newbie created at %s, want %s", e.CreatedAt, want)
				}
			}
		case *schemas.Outcome:
			if e.OutcomeType == "purchase" && e.Value != 29.99 {
				t.Errorf("purchase value %g, want 29.99", e.Value)
			}
		}
	}
	want := "segment segment intervention intervention entity entity entity exposure exposure exposure outcome outcome outcome"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("event types in order:\n%s\nwant\n%s", got, want)
	}
}

// TestHillstromMalformed checks that each kind of bad input is reported
// with its line and column, and that nothing is written.
func TestHillstromMalformed(t *testing.T) {
	good := "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0\r\n"
	tests := []struct {
		name string
		csv  string
		want string // exact error suffix after "cannot parse Hillstrom CSV: "
		line int
	}{
		{"bad number", tinyHeader + good + "abc,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0\r\n",
			`line 3, column 1 (recency): want a non-negative whole number of months, got "abc"`, 3},
		{"bad flag", tinyHeader + good + good + "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,yes,0,0\r\n",
			`line 4, column 62 (visit): want 0 or 1, got "yes"`, 4},
		{"unknown arm", tinyHeader + "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,SMS,0,0,0\r\n",
			`line 2, column 48 (segment): want "Mens E-Mail", "Womens E-Mail" or "No E-Mail", got "SMS"`, 2},
		{"negative spend", tinyHeader + "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,No E-Mail,0,0,-3\r\n",
			`line 2, column 62 (spend): want a non-negative number, got "-3"`, 2},
		{"bad history segment", tinyHeader + "10,lots,142.44,1,0,Surburban,0,Phone,No E-Mail,0,0,0\r\n",
			`line 2, column 4 (history_segment): want a label such as "2) $100 - $200", got "lots"`, 2},
		{"field count", tinyHeader + good + "10,2) $100 - $200,142.44\r\n",
			"line 3, column 1: wrong number of fields", 3},
		{"bare quote", tinyHeader + `10,2) $100 - $2"00,142.44,1,0,Surburban,0,Phone,No E-Mail,0,0,0` + "\r\n",
			`line 2, column 16: bare " in non-quoted-field`, 2},
		{"missing column", "recency,history_segment\r\n1,2\r\n",
			`line 1 (history): header lacks column "history" (want [recency history_segment history mens womens zip_code newbie channel segment visit conversion spend])`, 1},
		{"empty", "", "line 1: empty file: want a header line", 1},
		{"header only", tinyHeader, "line 2: no data rows after the header", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := eventsink.NewMemory()
			_, err := Hillstrom(context.Background(), strings.NewReader(tt.csv), Options{}, mem)
			if err == nil {
				t.Fatal("no error")
			}
			if got := strings.TrimPrefix(err.Error(), "cannot parse Hillstrom CSV: "); got != tt.want {
				t.Errorf("error:\n%s\nwant\n%s", got, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != tt.line {
				t.Errorf("error %v is not a *ParseError at line %d", err, tt.line)
			}
			if mem.Len() != 0 {
				t.Errorf("%d events written from a malformed file, want 0", mem.Len())
			}
		})
	}
}

func TestHillstromOptionsAndSinkErrors(t *testing.T) {
	csv := tinyHeader + "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,1,1,29.99\r\n"
	if _, err := Hillstrom(context.Background(), strings.NewReader(csv), Options{Cost: -1}, eventsink.NewMemory()); err == nil || !strings.Contains(err.Error(), "cost") {
		t.Errorf("negative cost: %v, want an error about cost", err)
	}
	boom := errors.New("boom")
	failing := eventsink.Func(func(context.Context, schemas.Event) error { return boom })
	if _, err := Hillstrom(context.Background(), strings.NewReader(csv), Options{}, failing); !errors.Is(err, boom) {
		t.Errorf("failing sink: %v, want it wrapped", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Hillstrom(ctx, strings.NewReader(csv), Options{}, eventsink.NewMemory()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// ExampleHillstrom replays the file to JSON-lines files and prints the
// conversion effect of the women's e-mail.
func ExampleHillstrom() {
	f, err := os.Open(hillstromPath)
	if err != nil {
		fmt.Println("no data")
		return
	}
	defer f.Close()
	sink := eventsink.Func(func(context.Context, schemas.Event) error { return nil })
	sum, err := Hillstrom(context.Background(), f, Options{}, sink)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _ := sum.Effect(InterventionWomens)
	fmt.Printf("conversion ATE %+.6f ± %.6f\n", e.Conversion.Value, e.Conversion.SE)
	// Output: conversion ATE +0.003111 ± 0.000823
}
