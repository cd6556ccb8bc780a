package warehousetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/warehouse"
)

// The conformance tests of warehouse.Calibrations.

// calibrations opens and migrates a warehouse and returns it as
// Calibrations.
func calibrations(t *testing.T, open Opener) (warehouse.Warehouse, warehouse.Calibrations, context.Context) {
	t.Helper()
	w, ctx := migrated(t, open)
	c, ok := w.(warehouse.Calibrations)
	if !ok {
		t.Fatalf("%T does not implement warehouse.Calibrations", w)
	}
	return w, c, ctx
}

// sleepToNextSecond waits until the wall clock enters a new second, so
// that rows inserted afterwards carry a later ingestion time (stamped to
// the second by this process's clock) than any inserted before.
func sleepToNextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now) + 5*time.Millisecond)
}

func testWatermarks(t *testing.T, open Opener) {
	_, c, ctx := calibrations(t, open)
	get := func(scope string) time.Time {
		t.Helper()
		wm, err := c.Watermark(ctx, scope)
		if err != nil {
			t.Fatalf("Watermark(%q): %v", scope, err)
		}
		return wm
	}
	set := func(scope string, at time.Time) {
		t.Helper()
		if err := c.SetWatermark(ctx, scope, at); err != nil {
			t.Fatalf("SetWatermark(%q, %s): %v", scope, at, err)
		}
	}
	if wm := get("retail"); !wm.IsZero() {
		t.Errorf("Watermark of a scope never set = %s, want zero", wm)
	}
	t1 := Day2.Add(10*time.Hour + 30*time.Second + 700*time.Millisecond)
	set("retail", t1)
	if wm := get("retail"); !wm.Equal(t1.Truncate(time.Second)) || wm.Location() != time.UTC {
		t.Errorf("Watermark after one write = %s, want %s in UTC", wm, t1.Truncate(time.Second))
	}
	// The newest write wins, even when it is earlier, and even within one
	// second of the one before.
	for i, at := range []time.Time{Day1, Day3.Add(time.Hour), Day0.Add(time.Minute), Day2.Add(5 * time.Second)} {
		set("retail", at)
		if wm := get("retail"); !wm.Equal(at) {
			t.Errorf("Watermark after write %d = %s, want %s", i+2, wm, at)
		}
	}
	set("travel", Day0)
	if wm := get("travel"); !wm.Equal(Day0) {
		t.Errorf("Watermark(travel) = %s, want %s", wm, Day0)
	}
	if wm := get("retail"); !wm.Equal(Day2.Add(5 * time.Second)) {
		t.Errorf("Watermark(retail) after writing travel = %s, want %s", wm, Day2.Add(5*time.Second))
	}
	// A zero watermark resets the scope.
	set("travel", time.Time{})
	if wm := get("travel"); !wm.IsZero() {
		t.Errorf("Watermark after setting zero = %s, want zero", wm)
	}
	if err := c.SetWatermark(ctx, "", Day1); err == nil {
		t.Error("SetWatermark with an empty scope: no error")
	}
	if err := c.SetWatermark(ctx, "retail", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Error("SetWatermark in 2200: no error")
	}
}

func testRefreshSince(t *testing.T, open Opener) {
	w, c, ctx := calibrations(t, open)
	refreshSince := func(since time.Time, wantRows uint64) time.Time {
		t.Helper()
		newest, rows, err := c.RefreshSince(ctx, since)
		if err != nil {
			t.Fatalf("RefreshSince(%s): %v", since, err)
		}
		if rows != wantRows {
			t.Errorf("RefreshSince(%s) saw %d new rows, want %d", since, rows, wantRows)
		}
		if newest.Before(since) {
			t.Errorf("RefreshSince(%s) returned %s, before since", since, newest)
		}
		return newest
	}
	h := func(day time.Time, hour int) time.Time { return day.Add(time.Duration(hour) * time.Hour) }
	k := func(day time.Time, seg, ch, camp, iv string) warehouse.MomentKey {
		return warehouse.MomentKey{Day: day, SegmentID: seg, Channel: ch, CampaignID: camp, InterventionID: iv, Arm: schemas.ArmTreatment}
	}

	// Old rows, stored before the first since: never refreshed.
	insert(t, ctx, w, schemas.TypeExposure, rowsOf(NewExposure("u9", "s1", "email", "c9", "i9", schemas.ArmTreatment, h(Day0, 10), 0.1, 1)))
	sleepToNextSecond()
	since := time.Now().UTC().Truncate(time.Second)
	sleepToNextSecond()

	// First batch, on Day1: three rows.
	insert(t, ctx, w, schemas.TypeExposure, rowsOf(
		NewExposure("u1", "s1", "email", "c1", "i1", schemas.ArmTreatment, h(Day1, 9), 0.1, 1),
		NewExposure("u2", "s1", "email", "c1", "i1", schemas.ArmTreatment, h(Day1, 10), 0.1, 1),
	))
	insert(t, ctx, w, schemas.TypeOutcome, rowsOf(NewOutcome("u1", "purchase", "c1", h(Day1, 12), 10)))
	if later := time.Now().Add(time.Hour); !refreshSince(later, 0).Equal(later) {
		t.Error("RefreshSince of a time after every row did not return that time")
	}
	newest1 := refreshSince(since, 3)
	if !newest1.After(since) || newest1.After(time.Now()) {
		t.Errorf("RefreshSince returned %s, want a time after %s and not in the future", newest1, since)
	}
	wantE := []warehouse.ExposureMoment{{MomentKey: k(Day1, "s1", "email", "c1", "i1"), Exposures: 2, Entities: 2, Cost: 0.2, FreqSum: 2}}
	wantO := []warehouse.OutcomeMoment{{MomentKey: k(Day1, "s1", "email", "c1", "i1"), OutcomeType: "purchase", Outcomes: 1, Entities: 1, ValueSum: 10, ValueSumSq: 100}}
	CheckExposureMoments(t, "after the first RefreshSince", exposureMoments(t, ctx, w, warehouse.MomentFilter{}), wantE)
	CheckOutcomeMoments(t, "after the first RefreshSince", outcomeMoments(t, ctx, w, warehouse.MomentFilter{}), wantO)

	// Second batch, on Day2, in a later second: only Day2 appears.
	for !time.Now().After(newest1.Add(time.Second)) {
		sleepToNextSecond()
	}
	insert(t, ctx, w, schemas.TypeExposure, rowsOf(NewExposure("u3", "s2", "sms", "c2", "i2", schemas.ArmTreatment, h(Day2, 9), 0.05, 1)))
	insert(t, ctx, w, schemas.TypeOutcome, rowsOf(NewOutcome("u3", "click", "c2", h(Day2, 10), 0)))
	newest2 := refreshSince(newest1, 2)
	if !newest2.After(newest1) {
		t.Errorf("the second RefreshSince returned %s, want a time after %s", newest2, newest1)
	}
	wantE = append(wantE, warehouse.ExposureMoment{MomentKey: k(Day2, "s2", "sms", "c2", "i2"), Exposures: 1, Entities: 1, Cost: 0.05, FreqSum: 1})
	wantO = append(wantO, warehouse.OutcomeMoment{MomentKey: k(Day2, "s2", "sms", "c2", "i2"), OutcomeType: "click", Outcomes: 1, Entities: 1})
	CheckExposureMoments(t, "after the second RefreshSince", exposureMoments(t, ctx, w, warehouse.MomentFilter{}), wantE)
	CheckOutcomeMoments(t, "after the second RefreshSince", outcomeMoments(t, ctx, w, warehouse.MomentFilter{}), wantO)

	// Nothing new: no row, the same time back.
	if got := refreshSince(newest2, 0); !got.Equal(newest2) {
		t.Errorf("RefreshSince with nothing new returned %s, want %s", got, newest2)
	}

	// A late outcome, on Day3, of an entity first exposed on Day1 changes
	// the Day1 moments it is attributed to.
	for !time.Now().After(newest2.Add(time.Second)) {
		sleepToNextSecond()
	}
	insert(t, ctx, w, schemas.TypeOutcome, rowsOf(NewOutcome("u2", "purchase", "c1", h(Day3, 8), 20)))
	newest3 := refreshSince(newest2, 1)
	wantO[0].Outcomes, wantO[0].Entities, wantO[0].ValueSum, wantO[0].ValueSumSq = 2, 2, 30, 500
	CheckExposureMoments(t, "after a late outcome", exposureMoments(t, ctx, w, warehouse.MomentFilter{}), wantE)
	CheckOutcomeMoments(t, "after a late outcome", outcomeMoments(t, ctx, w, warehouse.MomentFilter{}), wantO)
	if got := refreshSince(newest3, 0); !got.Equal(newest3) {
		t.Errorf("RefreshSince with nothing new returned %s, want %s", got, newest3)
	}

	// An earlier exposure of u2 to c1, on Day0, takes u2's outcome over
	// from Day1: both days are refreshed, Day0 with the old row of u9 too.
	for !time.Now().After(newest3.Add(time.Second)) {
		sleepToNextSecond()
	}
	insert(t, ctx, w, schemas.TypeExposure, rowsOf(NewExposure("u2", "s3", "email", "c1", "i1", schemas.ArmTreatment, h(Day0, 20), 0.3, 1)))
	refreshSince(newest3, 1)
	wantE = append([]warehouse.ExposureMoment{
		{MomentKey: k(Day0, "s3", "email", "c1", "i1"), Exposures: 1, Entities: 1, Cost: 0.3, FreqSum: 1},
		{MomentKey: k(Day0, "s1", "email", "c9", "i9"), Exposures: 1, Entities: 1, Cost: 0.1, FreqSum: 1},
	}, wantE...)
	wantO[0].Outcomes, wantO[0].Entities, wantO[0].ValueSum, wantO[0].ValueSumSq = 1, 1, 10, 100
	wantO = append([]warehouse.OutcomeMoment{
		{MomentKey: k(Day0, "s3", "email", "c1", "i1"), OutcomeType: "purchase", Outcomes: 1, Entities: 1, ValueSum: 20, ValueSumSq: 400},
	}, wantO...)
	CheckExposureMoments(t, "after an earlier exposure", exposureMoments(t, ctx, w, warehouse.MomentFilter{}), wantE)
	CheckOutcomeMoments(t, "after an earlier exposure", outcomeMoments(t, ctx, w, warehouse.MomentFilter{}), wantO)
}

// frequencyWorld is a small world with known hazard counts: campaign c1
// (and one exposure of c2), exposures and unsubscribe/complaint outcomes
// placed around them.
func frequencyWorld() (exposures, outcomes []schemas.Event) {
	at := func(day time.Time, hour, minute int) time.Time {
		return day.Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
	}
	ex := func(entity, seg, ch, camp, arm string, when time.Time, freq int) {
		cost := 0.1
		if arm == schemas.ArmControl {
			cost, freq = 0, 0
		}
		exposures = append(exposures, NewExposure(entity, seg, ch, camp, "i-"+camp, arm, when, cost, freq))
	}
	out := func(entity, typ, camp string, when time.Time) {
		outcomes = append(outcomes, NewOutcome(entity, typ, camp, when, 0))
	}
	const tr, ctl = schemas.ArmTreatment, schemas.ArmControl
	// u1: frequencies 1, 2, 3; an unsubscribe between 2 and 3.
	ex("u1", "s1", "email", "c1", tr, at(Day1, 9, 0), 1)
	ex("u1", "s1", "email", "c1", tr, at(Day1, 15, 0), 2)
	ex("u1", "s1", "email", "c1", tr, at(Day2, 9, 0), 3)
	out("u1", "unsubscribe", "c1", at(Day1, 16, 0))
	// u2: a complaint in the very second of exposure 1, an unsubscribe
	// after the last exposure (2).
	ex("u2", "s1", "email", "c1", tr, at(Day1, 9, 0), 1)
	ex("u2", "s1", "email", "c1", tr, at(Day2, 9, 0), 2)
	out("u2", "complaint", "c1", at(Day1, 9, 0))
	out("u2", "unsubscribe", "c1", at(Day3, 0, 0))
	// u3: outcomes that follow no exposure of theirs: before it, of
	// another campaign, of none, and of another type.
	ex("u3", "s1", "email", "c1", tr, at(Day1, 9, 0), 1)
	out("u3", "unsubscribe", "c1", at(Day0, 12, 0))
	out("u3", "unsubscribe", "c2", at(Day1, 12, 0))
	out("u3", "unsubscribe", "", at(Day1, 12, 0))
	out("u3", "purchase", "c1", at(Day1, 12, 0))
	// u4: two unsubscribes after exposure 1 count once; a complaint after
	// exposure 3, on Day2, belongs to it and not to exposure 2.
	ex("u4", "s2", "push", "c1", tr, at(Day1, 10, 0), 1)
	ex("u4", "s2", "push", "c1", tr, at(Day1, 11, 0), 2)
	ex("u4", "s2", "push", "c1", tr, at(Day2, 10, 0), 3)
	out("u4", "unsubscribe", "c1", at(Day1, 10, 30))
	out("u4", "unsubscribe", "c1", at(Day1, 10, 45))
	out("u4", "complaint", "c1", at(Day2, 11, 0))
	// u5: held out; its unsubscribe counts nowhere.
	ex("u5", "s1", "email", "c1", ctl, at(Day1, 9, 0), 0)
	out("u5", "unsubscribe", "c1", at(Day1, 10, 0))
	// u7: campaign c2, frequency 1, then a complaint.
	ex("u7", "s1", "email", "c2", tr, at(Day1, 9, 0), 1)
	out("u7", "complaint", "c2", at(Day2, 9, 0))
	return exposures, outcomes
}

func testFrequencyMoments(t *testing.T, open Opener) {
	w, c, ctx := calibrations(t, open)
	if ms, err := c.FrequencyMoments(ctx, warehouse.MomentFilter{}); err != nil || len(ms) != 0 {
		t.Errorf("FrequencyMoments of an empty warehouse = %+v, %v; want none", ms, err)
	}
	exposures, outcomes := frequencyWorld()
	mustValid(t, exposures...)
	mustValid(t, outcomes...)
	insert(t, ctx, w, schemas.TypeExposure, rowsOf(exposures...))
	insert(t, ctx, w, schemas.TypeOutcome, rowsOf(outcomes...))
	// Copies stored past the insert check change nothing.
	ui, ok := w.(warehouse.UncheckedInserter)
	if !ok {
		t.Fatalf("%T does not implement warehouse.UncheckedInserter", w)
	}
	if _, err := ui.InsertUnchecked(ctx, schemas.TypeExposure, rowsOf(exposures[:3]...)); err != nil {
		t.Fatal(err)
	}
	if _, err := ui.InsertUnchecked(ctx, schemas.TypeOutcome, rowsOf(outcomes...)); err != nil {
		t.Fatal(err)
	}
	m := func(seg, ch string, freq uint32, n, unsubs, complaints uint64) warehouse.FrequencyMoment {
		return warehouse.FrequencyMoment{SegmentID: seg, Channel: ch, Frequency: freq, Exposures: n, Unsubscribes: unsubs, Complaints: complaints}
	}
	cases := []struct {
		name string
		f    warehouse.MomentFilter
		want []warehouse.FrequencyMoment
	}{
		{"everything", warehouse.MomentFilter{}, []warehouse.FrequencyMoment{
			m("s1", "email", 1, 4, 0, 2),
			m("s1", "email", 2, 2, 2, 0),
			m("s1", "email", 3, 1, 0, 0),
			m("s2", "push", 1, 1, 1, 0),
			m("s2", "push", 2, 1, 0, 0),
			m("s2", "push", 3, 1, 0, 1),
		}},
		{"campaign c2", warehouse.MomentFilter{CampaignID: "c2"}, []warehouse.FrequencyMoment{
			m("s1", "email", 1, 1, 0, 1),
		}},
		{"campaign c1", warehouse.MomentFilter{CampaignID: "c1"}, []warehouse.FrequencyMoment{
			m("s1", "email", 1, 3, 0, 1),
			m("s1", "email", 2, 2, 2, 0),
			m("s1", "email", 3, 1, 0, 0),
			m("s2", "push", 1, 1, 1, 0),
			m("s2", "push", 2, 1, 0, 0),
			m("s2", "push", 3, 1, 0, 1),
		}},
		{"Day2 only", warehouse.MomentFilter{From: Day2, To: Day2.Add(23 * time.Hour)}, []warehouse.FrequencyMoment{
			m("s1", "email", 2, 1, 1, 0),
			m("s1", "email", 3, 1, 0, 0),
			m("s2", "push", 3, 1, 0, 1),
		}},
		{"to Day1", warehouse.MomentFilter{To: Day1}, []warehouse.FrequencyMoment{
			m("s1", "email", 1, 4, 0, 2),
			m("s1", "email", 2, 1, 1, 0),
			m("s2", "push", 1, 1, 1, 0),
			m("s2", "push", 2, 1, 0, 0),
		}},
		{"before the data", warehouse.MomentFilter{To: Day0}, nil},
	}
	for _, tc := range cases {
		got, err := c.FrequencyMoments(ctx, tc.f)
		if err != nil {
			t.Errorf("%s: FrequencyMoments: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: FrequencyMoments =\n\t%+v\nwant\n\t%+v", tc.name, got, tc.want)
		}
	}
}

func testDriftEvents(t *testing.T, open Opener) {
	_, c, ctx := calibrations(t, open)
	ev := func(scope string, detected time.Time, stat float64) warehouse.DriftEvent {
		return warehouse.DriftEvent{
			EventID: uuid.NewString(), Scope: scope, Moment: "purchase_rate/segment=s1/channel=email", Detector: "page_hinkley",
			Statistic: stat, Threshold: 0.5, Magnitude: -0.012,
			WindowStart: detected.Add(-24 * time.Hour), WindowEnd: detected, DetectedAt: detected,
			Details: `{"delta":0.005,"note":"l'été \"chaud\""}`,
		}
	}
	e1 := ev("retail", Day1.Add(10*time.Hour), 1.25)
	e2 := ev("retail", Day2, 3)
	e3 := ev("travel", Day1.Add(12*time.Hour), 0.75)
	e3.WindowStart, e3.WindowEnd, e3.Details, e3.Detector = time.Time{}, time.Time{}, "", "psi"
	for i, batch := range [][]warehouse.DriftEvent{{e1, e2, e1}, {e2, e3}, {e3, e1}} {
		if err := c.InsertDriftEvents(ctx, batch); err != nil {
			t.Fatalf("InsertDriftEvents batch %d: %v", i, err)
		}
	}
	if err := c.InsertDriftEvents(ctx, nil); err != nil {
		t.Errorf("InsertDriftEvents of nothing: %v", err)
	}
	e3.Details = "{}" // as stored
	cases := []struct {
		scope string
		since time.Time
		want  []warehouse.DriftEvent
	}{
		{"retail", time.Time{}, []warehouse.DriftEvent{e1, e2}},
		{"", time.Time{}, []warehouse.DriftEvent{e1, e3, e2}},
		{"retail", Day2, []warehouse.DriftEvent{e2}},
		{"retail", e1.DetectedAt, []warehouse.DriftEvent{e1, e2}},
		{"retail", e1.DetectedAt.Add(time.Second), []warehouse.DriftEvent{e2}},
		{"", Day1.Add(11 * time.Hour), []warehouse.DriftEvent{e3, e2}},
		{"travel", time.Time{}, []warehouse.DriftEvent{e3}},
		{"nowhere", time.Time{}, nil},
		{"", Day3, nil},
	}
	for _, tc := range cases {
		got, err := c.DriftEvents(ctx, tc.scope, tc.since)
		if err != nil {
			t.Errorf("DriftEvents(%q, %s): %v", tc.scope, tc.since, err)
			continue
		}
		if diff := driftDiff(got, tc.want); diff != "" {
			t.Errorf("DriftEvents(%q, %s):\n%s", tc.scope, tc.since, diff)
		}
	}
	bad := map[string]warehouse.DriftEvent{
		"an id that is no UUID": func() warehouse.DriftEvent { e := ev("retail", Day1, 1); e.EventID = "x,y"; return e }(),
		"an empty scope":        func() warehouse.DriftEvent { e := ev("", Day1, 1); return e }(),
		"a NaN statistic":       ev("retail", Day1, math.NaN()),
		"no detection time":     ev("retail", time.Time{}, 1),
		"details not JSON":      func() warehouse.DriftEvent { e := ev("retail", Day1, 1); e.Details = "{"; return e }(),
	}
	for name, e := range bad {
		if err := c.InsertDriftEvents(ctx, []warehouse.DriftEvent{ev("retail", Day3, 1), e}); err == nil {
			t.Errorf("InsertDriftEvents of an event with %s: no error", name)
		}
	}
	if got, err := c.DriftEvents(ctx, "", Day3); err != nil || len(got) != 0 {
		t.Errorf("a refused batch stored %d events (%v)", len(got), err)
	}
}

// driftDiff describes how got differs from want, "" when it does not.
func driftDiff(got, want []warehouse.DriftEvent) string {
	var diffs []string
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			diffs = append(diffs, fmt.Sprintf("missing %+v", want[i]))
		case i >= len(want):
			diffs = append(diffs, fmt.Sprintf("extra %+v", got[i]))
		default:
			g, w := got[i], want[i]
			same := g.EventID == w.EventID && g.Scope == w.Scope && g.Moment == w.Moment && g.Detector == w.Detector &&
				approxEqual(g.Statistic, w.Statistic) && approxEqual(g.Threshold, w.Threshold) && approxEqual(g.Magnitude, w.Magnitude) &&
				g.WindowStart.Equal(w.WindowStart) && g.WindowEnd.Equal(w.WindowEnd) && g.DetectedAt.Equal(w.DetectedAt) &&
				g.DetectedAt.Location() == time.UTC && g.Details == w.Details
			if !same {
				diffs = append(diffs, fmt.Sprintf("event %d:\n\tgot  %+v\n\twant %+v", i, g, w))
			}
		}
	}
	return strings.Join(diffs, "\n")
}

func testSnapshots(t *testing.T, open Opener) {
	_, c, ctx := calibrations(t, open)
	latest := func(scope string) (warehouse.Snapshot, bool) {
		t.Helper()
		s, ok, err := c.LatestSnapshot(ctx, scope)
		if err != nil {
			t.Fatalf("LatestSnapshot(%q): %v", scope, err)
		}
		return s, ok
	}
	if s, ok := latest("retail"); ok {
		t.Errorf("LatestSnapshot of an empty warehouse = %+v, true; want false", s)
	}
	body := func(v int) []byte {
		return []byte(fmt.Sprintf(`{"version":%d,"moments":{"purchase_rate":0.031},"note":"naïve \"quote\" \\ \n"}`, v))
	}
	snaps := []warehouse.Snapshot{
		{Scope: "retail", Version: 1, CreatedAt: Day1, Body: body(1)},
		{Scope: "retail", Version: 3, CreatedAt: Day1.Add(2 * time.Hour), Body: body(3)},
		{Scope: "retail", Version: 2, CreatedAt: Day1.Add(3 * time.Hour), Body: body(2)},
		{Scope: "travel", Version: 7, CreatedAt: Day2, Body: body(7)},
	}
	for _, s := range snaps {
		if err := c.InsertSnapshot(ctx, s); err != nil {
			t.Fatalf("InsertSnapshot(%s v%d): %v", s.Scope, s.Version, err)
		}
	}
	check := func(scope string, want warehouse.Snapshot) {
		t.Helper()
		got, ok := latest(scope)
		if !ok || got.Scope != want.Scope || got.Version != want.Version || !got.CreatedAt.Equal(want.CreatedAt) ||
			got.CreatedAt.Location() != time.UTC || string(got.Body) != string(want.Body) {
			t.Errorf("LatestSnapshot(%q) = %+v (%s), %v; want %+v (%s)", scope, got, got.Body, ok, want, want.Body)
		}
	}
	check("retail", snaps[1])
	check("travel", snaps[3])
	if s, ok := latest("nowhere"); ok {
		t.Errorf("LatestSnapshot of a missing scope = %+v, true; want false", s)
	}
	// A version stored again: the copy created last wins.
	again := warehouse.Snapshot{Scope: "retail", Version: 3, CreatedAt: Day2, Body: []byte(`{"version":3,"fixed":true}`)}
	if err := c.InsertSnapshot(ctx, again); err != nil {
		t.Fatal(err)
	}
	check("retail", again)
	// A zero creation time is the time of the insert.
	before := time.Now().Truncate(time.Second)
	if err := c.InsertSnapshot(ctx, warehouse.Snapshot{Scope: "retail", Version: 4, Body: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := latest("retail"); got.Version != 4 || got.CreatedAt.Before(before) || got.CreatedAt.After(time.Now()) {
		t.Errorf("LatestSnapshot after a snapshot without creation time = %+v; want version 4 created now", got)
	}
	for name, s := range map[string]warehouse.Snapshot{
		"an empty scope":  {Version: 9, Body: []byte(`{}`)},
		"a body not JSON": {Scope: "retail", Version: 9, Body: []byte(`{"a":`)},
		"no body":         {Scope: "retail", Version: 9},
	} {
		if err := c.InsertSnapshot(ctx, s); err == nil {
			t.Errorf("InsertSnapshot with %s: no error", name)
		}
	}
}

// testInterventionEvents stores intervention events (one of them twice,
// past the insert-time lookup) and reads them back by creation time: one
// row per event_id, oldest first, with the template and the creative
// elements as stored, and [from, to) bounds to the second.
func testInterventionEvents(t *testing.T, open Opener) {
	w, c, ctx := calibrations(t, open)
	i1 := NewIntervention("iv-1", "email", Day1.Add(10*time.Hour+500*time.Millisecond))
	i1.CreativeElements = map[string]any{"discount_pct": 15.0, "urgency": 0.7, "relevance_category": "shoes", "channel": "email"}
	i2 := NewIntervention("iv-2", "sms", Day2)
	i2.ContentTemplate = "{{first_name}}, l'été \"chaud\" – 20% off\nReply STOP"
	i3 := NewIntervention("iv-3", "push", Day0.Add(23*time.Hour))
	i3.CreativeElements = nil
	// The same intervention id again, as a new event.
	i4 := NewIntervention("iv-1", "email", Day1.Add(9*time.Hour))
	mustValid(t, i1, i2, i3, i4)
	insert(t, ctx, w, schemas.TypeIntervention, rowsOf(i1, i2, i3, i4))
	ui, ok := w.(warehouse.UncheckedInserter)
	if !ok {
		t.Fatalf("%T does not implement warehouse.UncheckedInserter", w)
	}
	if n, err := ui.InsertUnchecked(ctx, schemas.TypeIntervention, rowsOf(i1, i2)); err != nil || n != 2 {
		t.Fatalf("InsertUnchecked of stored interventions: %d, %v", n, err)
	}
	want := func(iv *schemas.Intervention) warehouse.InterventionEvent {
		return warehouse.InterventionEvent{EventID: iv.EventID, InterventionID: iv.InterventionID, Type: iv.Kind,
			CreatedAt: iv.CreatedAt.Truncate(time.Second), ContentTemplate: iv.ContentTemplate}
	}
	cases := []struct {
		from, to time.Time
		want     []*schemas.Intervention
	}{
		{time.Time{}, time.Time{}, []*schemas.Intervention{i3, i4, i1, i2}},
		{Day1, time.Time{}, []*schemas.Intervention{i4, i1, i2}},
		{time.Time{}, Day2, []*schemas.Intervention{i3, i4, i1}},
		{Day1.Add(10 * time.Hour), Day1.Add(10*time.Hour + time.Second), []*schemas.Intervention{i1}},
		{Day1.Add(10*time.Hour + time.Second), Day2.Add(time.Second), []*schemas.Intervention{i2}},
		{Day2, Day1, nil},
		{Day3, time.Time{}, nil},
	}
	for _, tc := range cases {
		got, err := c.InterventionEvents(ctx, tc.from, tc.to)
		if err != nil {
			t.Errorf("InterventionEvents(%s, %s): %v", tc.from, tc.to, err)
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("InterventionEvents(%s, %s): %d events, want %d: %+v", tc.from, tc.to, len(got), len(tc.want), got)
			continue
		}
		for i, iv := range tc.want {
			g, w := got[i], want(iv)
			creative := g.CreativeElements
			g.CreativeElements = ""
			if g != w || g.CreatedAt.Location() != time.UTC {
				t.Errorf("InterventionEvents(%s, %s) event %d:\n\tgot  %+v\n\twant %+v", tc.from, tc.to, i, g, w)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(creative), &m); err != nil {
				t.Errorf("event %s: creative elements %q are not JSON: %v", g.EventID, creative, err)
				continue
			}
			if len(m) == 0 && len(iv.CreativeElements) == 0 {
				continue
			}
			if !reflect.DeepEqual(m, iv.CreativeElements) {
				t.Errorf("event %s: creative elements %v, want %v", g.EventID, m, iv.CreativeElements)
			}
		}
	}
}
