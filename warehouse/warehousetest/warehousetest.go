// Package warehousetest is the conformance suite of warehouse backends: Run
// exercises the whole warehouse.Warehouse interface on known data, so that
// the ClickHouse server and chDB backends are held to the same results.
package warehousetest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/warehouse"
)

// Opener returns a fresh, empty, not yet migrated Warehouse for one test and
// arranges for it to be closed when the test ends.
type Opener func(t *testing.T) warehouse.Warehouse

// Open opens the warehouse at dsn for one test, without migrating it, and
// closes it when the test ends.
func Open(t testing.TB, dsn string) warehouse.Warehouse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	w, err := warehouse.Open(ctx, dsn, warehouse.Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", dsn, err)
	}
	t.Cleanup(func() {
		if err := w.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return w
}

// Days of the fixture, UTC.
var (
	Day0 = time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	Day1 = Day0.AddDate(0, 0, 1)
	Day2 = Day0.AddDate(0, 0, 2)
	Day3 = Day0.AddDate(0, 0, 3)
)

// Run runs the conformance suite against the warehouses open returns.
func Run(t *testing.T, open Opener) {
	t.Run("Backend", func(t *testing.T) { testBackend(t, open) })
	t.Run("MigrateTwice", func(t *testing.T) { testMigrateTwice(t, open) })
	t.Run("InsertEveryType", func(t *testing.T) { testInsertEveryType(t, open) })
	t.Run("InsertDuplicates", func(t *testing.T) { testInsertDuplicates(t, open) })
	t.Run("InsertManyDuplicates", func(t *testing.T) { testInsertManyDuplicates(t, open) })
	t.Run("InsertRejectsBadRows", func(t *testing.T) { testInsertRejectsBadRows(t, open) })
	t.Run("StoresOddText", func(t *testing.T) { testStoresOddText(t, open) })
	t.Run("Moments", func(t *testing.T) { testMoments(t, open) })
	t.Run("MomentsFilter", func(t *testing.T) { testMomentsFilter(t, open) })
	t.Run("MomentsIgnoreStoredDuplicates", func(t *testing.T) { testMomentsIgnoreStoredDuplicates(t, open) })
	t.Run("MomentsReattribute", func(t *testing.T) { testMomentsReattribute(t, open) })
	t.Run("MomentsPartialRefresh", func(t *testing.T) { testMomentsPartialRefresh(t, open) })
	t.Run("RefreshRejectsBadRange", func(t *testing.T) { testRefreshRejectsBadRange(t, open) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open) })
	t.Run("Watermarks", func(t *testing.T) { testWatermarks(t, open) })
	t.Run("RefreshSince", func(t *testing.T) { testRefreshSince(t, open) })
	t.Run("FrequencyMoments", func(t *testing.T) { testFrequencyMoments(t, open) })
	t.Run("DriftEvents", func(t *testing.T) { testDriftEvents(t, open) })
	t.Run("Snapshots", func(t *testing.T) { testSnapshots(t, open) })
	t.Run("InterventionEvents", func(t *testing.T) { testInterventionEvents(t, open) })
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// migrated opens a warehouse and migrates it.
func migrated(t *testing.T, open Opener) (warehouse.Warehouse, context.Context) {
	t.Helper()
	w := open(t)
	ctx := ctxFor(t)
	if err := w.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return w, ctx
}

// rowsOf wraps events as rows read from Kafka topic "preflight.<type>s".
func rowsOf(evs ...schemas.Event) []warehouse.Row {
	out := make([]warehouse.Row, len(evs))
	for i, ev := range evs {
		out[i] = warehouse.Row{Event: ev, Topic: "preflight." + string(ev.Type()) + "s", Partition: int32(i % 3), Offset: int64(i)}
	}
	return out
}

func insert(t *testing.T, ctx context.Context, w warehouse.Warehouse, typ schemas.Type, rows []warehouse.Row) warehouse.InsertResult {
	t.Helper()
	res, err := w.Insert(ctx, typ, rows)
	if err != nil {
		t.Fatalf("Insert %d %s rows: %v", len(rows), typ, err)
	}
	return res
}

func wantCount(t *testing.T, ctx context.Context, w warehouse.Warehouse, typ schemas.Type, want uint64) {
	t.Helper()
	got, err := w.Count(ctx, typ)
	if err != nil {
		t.Fatalf("Count(%s): %v", typ, err)
	}
	if got != want {
		t.Errorf("Count(%s) = %d, want %d", typ, got, want)
	}
}

func testBackend(t *testing.T, open Opener) {
	w := open(t)
	if w.Backend() == "" {
		t.Error("Backend() is empty")
	}
	if err := w.Ping(ctxFor(t)); err != nil {
		t.Errorf("Ping: %v", err)
	}
	t.Logf("backend: %s", w.Backend())
}

func testMigrateTwice(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	if err := w.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	for _, typ := range schemas.Types {
		wantCount(t, ctx, w, typ, 0)
	}
	ms, err := w.ExposureMoments(ctx, warehouse.MomentFilter{})
	if err != nil || len(ms) != 0 {
		t.Errorf("ExposureMoments on an empty warehouse = %v, %v; want none", ms, err)
	}
	oms, err := w.OutcomeMoments(ctx, warehouse.MomentFilter{})
	if err != nil || len(oms) != 0 {
		t.Errorf("OutcomeMoments on an empty warehouse = %v, %v; want none", oms, err)
	}
}

// Event builders. Every event they return passes Validate.

// NewEntity returns a valid entity event.
func NewEntity(entityID, segmentID string, created time.Time) *schemas.Entity {
	return &schemas.Entity{
		EventID: uuid.NewString(), EntityID: entityID, SegmentID: segmentID, CreatedAt: created,
		LifecycleStage: "active", ValueTier: "gold",
		Attributes: map[string]any{"age": 41.0, "city": "Lyon", "tags": []any{"a", "b"}},
	}
}

// NewExposure returns a valid exposure event; cost and frequency follow the
// arm's rules (zero for control).
func NewExposure(entityID, segmentID, channel, campaignID, interventionID, arm string, at time.Time, cost float64, freq int) *schemas.Exposure {
	e := &schemas.Exposure{
		EventID: uuid.NewString(), ExposureID: uuid.NewString(), EntityID: entityID, SegmentID: segmentID,
		Timestamp: at, Channel: channel, CampaignID: campaignID, InterventionID: interventionID, Arm: arm,
		Cost: cost, FrequencyCumulative: freq,
		Metadata: map[string]any{"source": "test"},
	}
	if arm == schemas.ArmTreatment {
		e.Content = map[string]any{"subject": "Spring sale", "discount": 0.15}
	}
	return e
}

// NewOutcome returns a valid outcome event.
func NewOutcome(entityID, outcomeType, campaignID string, at time.Time, value float64) *schemas.Outcome {
	return &schemas.Outcome{
		EventID: uuid.NewString(), OutcomeID: uuid.NewString(), EntityID: entityID, Timestamp: at,
		OutcomeType: outcomeType, Value: value, CampaignID: campaignID,
	}
}

// NewIntervention returns a valid intervention event.
func NewIntervention(interventionID, kind string, created time.Time) *schemas.Intervention {
	return &schemas.Intervention{
		EventID: uuid.NewString(), InterventionID: interventionID, Kind: kind, CreatedAt: created,
		ContentTemplate:   "Hello {{name}}, 15% off; today only",
		CreativeElements:  map[string]any{"hero": "banner.png"},
		TargetingCriteria: map[string]any{"segment": []any{"s1", "s2"}},
	}
}

// NewSegment returns a valid segment event.
func NewSegment(segmentID string, updated time.Time, size int64) *schemas.Segment {
	return &schemas.Segment{
		EventID: uuid.NewString(), SegmentID: segmentID, UpdatedAt: updated, Size: size,
		Definition:        map[string]any{"rule": "spend > 100"},
		TraitPriors:       map[string]any{"price_sensitivity": map[string]any{"mean": 0.4, "sd": 0.1}},
		HistoricalMetrics: map[string]any{"open_rate": 0.21},
	}
}

func mustValid(t testing.TB, evs ...schemas.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := ev.Validate(); err != nil {
			t.Fatalf("fixture %s %s is invalid: %v", ev.Type(), ev.ID(), err)
		}
	}
}

func testInsertEveryType(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	at := Day1.Add(10*time.Hour + 30*time.Minute + 15*time.Second + 250*time.Millisecond)
	byType := map[schemas.Type][]schemas.Event{
		schemas.TypeEntity: {
			NewEntity("u1", "s1", time.Date(2009, 5, 1, 8, 0, 0, 0, time.UTC)),
			NewEntity("u2", "s2", time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC)),
			&schemas.Entity{EventID: uuid.NewString(), EntityID: "u3", SegmentID: "s1", CreatedAt: at}, // optional fields empty
		},
		schemas.TypeExposure: {
			NewExposure("u1", "s1", "email", "c1", "i1", schemas.ArmTreatment, at, 0.1, 1),
			NewExposure("u2", "", "push", "c1", "i1", schemas.ArmControl, at, 0, 0),
		},
		schemas.TypeOutcome: {
			NewOutcome("u1", "purchase", "c1", at, 12.5),
			NewOutcome("u2", "visit", "", at, 0),
		},
		schemas.TypeIntervention: {
			NewIntervention("i1", "email", at),
			&schemas.Intervention{EventID: uuid.NewString(), InterventionID: "i2", Kind: "policy_change", CreatedAt: at},
		},
		schemas.TypeSegment: {
			NewSegment("s1", at, 1200),
			&schemas.Segment{EventID: uuid.NewString(), SegmentID: "s2", UpdatedAt: at},
		},
	}
	for _, typ := range schemas.Types {
		evs := byType[typ]
		mustValid(t, evs...)
		res := insert(t, ctx, w, typ, rowsOf(evs...))
		if res.Inserted != len(evs) || res.Duplicates != 0 {
			t.Errorf("Insert %s: %+v, want %d inserted and no duplicate", typ, res, len(evs))
		}
	}
	for _, typ := range schemas.Types {
		wantCount(t, ctx, w, typ, uint64(len(byType[typ])))
	}
	// Rows that did not come through Kafka.
	ev := NewExposure("u9", "s1", "sms", "c9", "i9", schemas.ArmTreatment, at, 0.02, 7)
	res := insert(t, ctx, w, schemas.TypeExposure, []warehouse.Row{{Event: ev, Offset: -1}})
	if res.Inserted != 1 {
		t.Errorf("Insert of a row without Kafka coordinates: %+v, want 1 inserted", res)
	}
	wantCount(t, ctx, w, schemas.TypeExposure, 3)
	// An empty call does nothing.
	if res, err := w.Insert(ctx, schemas.TypeOutcome, nil); err != nil || res != (warehouse.InsertResult{}) {
		t.Errorf("Insert of no rows = %+v, %v; want nothing and no error", res, err)
	}
}

func testInsertDuplicates(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	var evs []schemas.Event
	for i := range 10 {
		evs = append(evs, NewOutcome(fmt.Sprintf("u%d", i), "click", "c1", Day1.Add(time.Duration(i)*time.Hour), 0))
	}
	rows := rowsOf(evs...)
	if res := insert(t, ctx, w, schemas.TypeOutcome, rows); res.Inserted != 10 || res.Duplicates != 0 {
		t.Errorf("first Insert: %+v, want 10 inserted", res)
	}
	// A redelivered batch changes nothing.
	if res := insert(t, ctx, w, schemas.TypeOutcome, rows); res.Inserted != 0 || res.Duplicates != 10 {
		t.Errorf("second Insert of the same rows: %+v, want 0 inserted, 10 duplicates", res)
	}
	wantCount(t, ctx, w, schemas.TypeOutcome, 10)
	// Repeats within one call, and a mix of stored and new rows.
	fresh := []schemas.Event{
		NewOutcome("u20", "purchase", "c1", Day2, 3),
		NewOutcome("u21", "purchase", "c1", Day2.Add(time.Minute), 4),
	}
	mixed := rowsOf(fresh[0], fresh[0], evs[3], fresh[1], evs[7], fresh[1], fresh[0])
	if res := insert(t, ctx, w, schemas.TypeOutcome, mixed); res.Inserted != 2 || res.Duplicates != 5 {
		t.Errorf("Insert of 2 new events among repeats and stored ones: %+v, want 2 inserted, 5 duplicates", res)
	}
	wantCount(t, ctx, w, schemas.TypeOutcome, 12)
	// A stored event re-sent with another time is still found if its time
	// falls in the batch's range... and the same event at the same time is
	// found whatever else the batch holds.
	wide := rowsOf(evs[0], NewOutcome("u30", "open", "c1", Day0, 0), NewOutcome("u31", "open", "c1", Day3, 0))
	if res := insert(t, ctx, w, schemas.TypeOutcome, wide); res.Inserted != 2 || res.Duplicates != 1 {
		t.Errorf("Insert spanning four days with one stored event: %+v, want 2 inserted, 1 duplicate", res)
	}
	wantCount(t, ctx, w, schemas.TypeOutcome, 14)
}

// testInsertManyDuplicates exercises the chunked duplicate lookup.
func testInsertManyDuplicates(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	const n = 4500 // three lookup chunks
	evs := make([]schemas.Event, n)
	for i := range evs {
		evs[i] = NewExposure(fmt.Sprintf("u%d", i), "s1", "email", "c1", "i1", schemas.ArmTreatment,
			Day1.Add(time.Duration(i)*time.Second*17), 0.01, 1)
	}
	rows := rowsOf(evs...)
	if res := insert(t, ctx, w, schemas.TypeExposure, rows[:n/2]); res.Inserted != n/2 {
		t.Fatalf("Insert of the first half: %+v, want %d inserted", res, n/2)
	}
	res := insert(t, ctx, w, schemas.TypeExposure, rows)
	if res.Inserted != n-n/2 || res.Duplicates != n/2 {
		t.Errorf("Insert of all: %+v, want %d inserted, %d duplicates", res, n-n/2, n/2)
	}
	wantCount(t, ctx, w, schemas.TypeExposure, n)
}

func testInsertRejectsBadRows(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	good := NewOutcome("u1", "click", "c1", Day1, 0)
	cases := map[string][]warehouse.Row{
		"wrong type": rowsOf(good, NewExposure("u1", "s1", "email", "c1", "i1", schemas.ArmControl, Day1, 0, 0)),
		"nil event":  {{Event: good}, {}},
		"invalid":    rowsOf(good, &schemas.Outcome{EventID: "not-a-uuid", EntityID: "u1", OutcomeType: "click", Timestamp: Day1}),
	}
	for name, rows := range cases {
		if res, err := w.Insert(ctx, schemas.TypeOutcome, rows); err == nil {
			t.Errorf("Insert with a row of the %s: %+v and no error, want an error", name, res)
		}
	}
	// Nothing was stored by the failed calls.
	wantCount(t, ctx, w, schemas.TypeOutcome, 0)
	if _, err := w.Insert(ctx, schemas.Type("bogus"), nil); err == nil {
		t.Error("Insert of an unknown type: no error")
	}
	if _, err := w.Count(ctx, schemas.Type("bogus")); err == nil {
		t.Error("Count of an unknown type: no error")
	}
}

// testStoresOddText stores text that quoting must survive, through the
// moments (whose keys come back as text).
func testStoresOddText(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	odd := []string{`it's`, `back\slash`, `"quoted"`, "per%cent_like", "semi;colon -- not a comment", "ünïcødé ✓", `{db}`, `?`, "' OR 1=1 --"}
	var evs []schemas.Event
	for i, s := range odd {
		e := NewExposure(fmt.Sprintf("u%d", i), s, "email", s, s, schemas.ArmTreatment, Day1, 1, 1)
		e.Metadata = map[string]any{"note": s, "ctl": "tab\there\nnew line\x00nul"}
		evs = append(evs, e)
	}
	mustValid(t, evs...)
	if res := insert(t, ctx, w, schemas.TypeExposure, rowsOf(evs...)); res.Inserted != len(odd) {
		t.Fatalf("Insert: %+v, want %d inserted", res, len(odd))
	}
	if res := insert(t, ctx, w, schemas.TypeExposure, rowsOf(evs...)); res.Duplicates != len(odd) {
		t.Fatalf("second Insert: %+v, want %d duplicates", res, len(odd))
	}
	if err := w.RefreshMoments(ctx, Day1, Day1); err != nil {
		t.Fatalf("RefreshMoments: %v", err)
	}
	for _, s := range odd {
		ms, err := w.ExposureMoments(ctx, warehouse.MomentFilter{CampaignID: s})
		if err != nil {
			t.Fatalf("ExposureMoments(campaign %q): %v", s, err)
		}
		if len(ms) != 1 || ms[0].CampaignID != s || ms[0].SegmentID != s || ms[0].InterventionID != s || ms[0].Exposures != 1 {
			t.Errorf("ExposureMoments(campaign %q) = %+v, want one cell with that campaign, segment and intervention", s, ms)
		}
	}
}

// Fixture is the moments fixture: exposures and outcomes whose moments are
// computed by hand in WantExposureMoments and WantOutcomeMoments.
type Fixture struct {
	Exposures []schemas.Event
	Outcomes  []schemas.Event
}

// NewFixture builds the moments fixture. Campaign c1 (intervention i1, by
// email) exposes u1..u5 on Day1, and u2 once more on Day2; campaign c2
// (intervention i2, by sms) exposes u1 and u6 on Day2. Outcomes attributed
// to c1 count on Day1, the day of the entity's first c1 exposure, even when
// they happen later; an outcome without campaign, of a campaign nobody was
// exposed to, or of an entity not exposed in its campaign is ignored.
func NewFixture() Fixture {
	h := func(d time.Time, hour int) time.Time { return d.Add(time.Duration(hour) * time.Hour) }
	T, C := schemas.ArmTreatment, schemas.ArmControl
	var f Fixture
	f.Exposures = []schemas.Event{
		NewExposure("u1", "s1", "email", "c1", "i1", T, h(Day1, 9), 0.10, 1),
		NewExposure("u2", "s1", "email", "c1", "i1", T, h(Day1, 9), 0.10, 3),
		NewExposure("u3", "s1", "email", "c1", "i1", C, h(Day1, 9), 0, 0),
		NewExposure("u4", "s2", "email", "c1", "i1", T, h(Day1, 10), 0.20, 2),
		NewExposure("u5", "s1", "email", "c1", "i1", C, h(Day1, 23), 0, 0),
		NewExposure("u2", "s1", "email", "c1", "i1", T, h(Day2, 8), 0.10, 4), // second c1 exposure of u2
		NewExposure("u1", "s1", "sms", "c2", "i2", T, h(Day2, 12), 0.05, 1),
		NewExposure("u6", "s2", "sms", "c2", "i2", C, h(Day2, 12), 0, 0),
	}
	f.Outcomes = []schemas.Event{
		NewOutcome("u1", "purchase", "c1", h(Day1, 15), 20),
		NewOutcome("u1", "purchase", "c1", h(Day3, 1), 30),
		NewOutcome("u1", "click", "c1", h(Day1, 10), 0),
		NewOutcome("u2", "purchase", "c1", h(Day2, 9), 50), // after u2's second exposure: still Day1's
		NewOutcome("u3", "purchase", "c1", h(Day1, 20), 10),
		NewOutcome("u4", "unsubscribe", "c1", h(Day2, 0), 0),
		NewOutcome("u1", "purchase", "c2", h(Day2, 13), 5),
		NewOutcome("u6", "click", "c2", h(Day2, 14), 0),
		NewOutcome("u6", "click", "c2", h(Day2, 15), 0),
		NewOutcome("u7", "purchase", "c1", h(Day1, 12), 100), // u7 was never exposed
		NewOutcome("u3", "visit", "", h(Day1, 12), 0),        // unattributed
		NewOutcome("u1", "purchase", "c3", h(Day1, 12), 99),  // nobody was exposed to c3
	}
	return f
}

// WantExposureMoments returns the fixture's exposure moments, in the order
// ExposureMoments returns them.
func WantExposureMoments() []warehouse.ExposureMoment {
	k := func(day time.Time, seg, ch, camp, iv, arm string) warehouse.MomentKey {
		return warehouse.MomentKey{Day: day, SegmentID: seg, Channel: ch, CampaignID: camp, InterventionID: iv, Arm: arm}
	}
	return []warehouse.ExposureMoment{
		{MomentKey: k(Day1, "s1", "email", "c1", "i1", "control"), Exposures: 2, Entities: 2, Cost: 0, FreqSum: 0},
		{MomentKey: k(Day1, "s1", "email", "c1", "i1", "treatment"), Exposures: 2, Entities: 2, Cost: 0.20, FreqSum: 4},
		{MomentKey: k(Day1, "s2", "email", "c1", "i1", "treatment"), Exposures: 1, Entities: 1, Cost: 0.20, FreqSum: 2},
		{MomentKey: k(Day2, "s1", "email", "c1", "i1", "treatment"), Exposures: 1, Entities: 1, Cost: 0.10, FreqSum: 4},
		{MomentKey: k(Day2, "s1", "sms", "c2", "i2", "treatment"), Exposures: 1, Entities: 1, Cost: 0.05, FreqSum: 1},
		{MomentKey: k(Day2, "s2", "sms", "c2", "i2", "control"), Exposures: 1, Entities: 1, Cost: 0, FreqSum: 0},
	}
}

// WantOutcomeMoments returns the fixture's outcome moments, in the order
// OutcomeMoments returns them.
func WantOutcomeMoments() []warehouse.OutcomeMoment {
	k := func(day time.Time, seg, ch, camp, iv, arm string) warehouse.MomentKey {
		return warehouse.MomentKey{Day: day, SegmentID: seg, Channel: ch, CampaignID: camp, InterventionID: iv, Arm: arm}
	}
	return []warehouse.OutcomeMoment{
		{MomentKey: k(Day1, "s1", "email", "c1", "i1", "control"), OutcomeType: "purchase", Outcomes: 1, Entities: 1, ValueSum: 10, ValueSumSq: 100},
		{MomentKey: k(Day1, "s1", "email", "c1", "i1", "treatment"), OutcomeType: "click", Outcomes: 1, Entities: 1},
		{MomentKey: k(Day1, "s1", "email", "c1", "i1", "treatment"), OutcomeType: "purchase", Outcomes: 3, Entities: 2, ValueSum: 100, ValueSumSq: 20*20 + 30*30 + 50*50},
		{MomentKey: k(Day1, "s2", "email", "c1", "i1", "treatment"), OutcomeType: "unsubscribe", Outcomes: 1, Entities: 1},
		{MomentKey: k(Day2, "s1", "sms", "c2", "i2", "treatment"), OutcomeType: "purchase", Outcomes: 1, Entities: 1, ValueSum: 5, ValueSumSq: 25},
		{MomentKey: k(Day2, "s2", "sms", "c2", "i2", "control"), OutcomeType: "click", Outcomes: 2, Entities: 1},
	}
}

func loadFixture(t *testing.T, ctx context.Context, w warehouse.Warehouse) Fixture {
	t.Helper()
	f := NewFixture()
	mustValid(t, f.Exposures...)
	mustValid(t, f.Outcomes...)
	if res := insert(t, ctx, w, schemas.TypeExposure, rowsOf(f.Exposures...)); res.Inserted != len(f.Exposures) {
		t.Fatalf("Insert exposures: %+v", res)
	}
	if res := insert(t, ctx, w, schemas.TypeOutcome, rowsOf(f.Outcomes...)); res.Inserted != len(f.Outcomes) {
		t.Fatalf("Insert outcomes: %+v", res)
	}
	return f
}

func refresh(t *testing.T, ctx context.Context, w warehouse.Warehouse, from, to time.Time) {
	t.Helper()
	if err := w.RefreshMoments(ctx, from, to); err != nil {
		t.Fatalf("RefreshMoments(%s, %s): %v", from.Format(time.DateOnly), to.Format(time.DateOnly), err)
	}
}

func exposureMoments(t *testing.T, ctx context.Context, w warehouse.Warehouse, f warehouse.MomentFilter) []warehouse.ExposureMoment {
	t.Helper()
	ms, err := w.ExposureMoments(ctx, f)
	if err != nil {
		t.Fatalf("ExposureMoments(%+v): %v", f, err)
	}
	return ms
}

func outcomeMoments(t *testing.T, ctx context.Context, w warehouse.Warehouse, f warehouse.MomentFilter) []warehouse.OutcomeMoment {
	t.Helper()
	ms, err := w.OutcomeMoments(ctx, f)
	if err != nil {
		t.Fatalf("OutcomeMoments(%+v): %v", f, err)
	}
	return ms
}

func approxEqual(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func keyString(k warehouse.MomentKey) string {
	return fmt.Sprintf("%s/%s/%s/%s/%s/%s", k.Day.Format(time.DateOnly), k.CampaignID, k.SegmentID, k.Channel, k.InterventionID, k.Arm)
}

// CheckExposureMoments reports every difference between got and want.
func CheckExposureMoments(t testing.TB, what string, got, want []warehouse.ExposureMoment) {
	t.Helper()
	var diffs []string
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			diffs = append(diffs, fmt.Sprintf("missing %s: %+v", keyString(want[i].MomentKey), want[i]))
		case i >= len(want):
			diffs = append(diffs, fmt.Sprintf("extra %s: %+v", keyString(got[i].MomentKey), got[i]))
		default:
			g, w := got[i], want[i]
			if !g.Day.Equal(w.Day) || g.Day.Location() != time.UTC || g.MomentKey != w.MomentKey ||
				g.Exposures != w.Exposures || g.Entities != w.Entities || g.FreqSum != w.FreqSum || !approxEqual(g.Cost, w.Cost) {
				diffs = append(diffs, fmt.Sprintf("cell %d:\n\tgot  %s %+v\n\twant %s %+v", i, keyString(g.MomentKey), g, keyString(w.MomentKey), w))
			}
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%s: exposure moments differ:\n%s", what, strings.Join(diffs, "\n"))
	}
}

// CheckOutcomeMoments reports every difference between got and want.
func CheckOutcomeMoments(t testing.TB, what string, got, want []warehouse.OutcomeMoment) {
	t.Helper()
	var diffs []string
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			diffs = append(diffs, fmt.Sprintf("missing %s %s: %+v", keyString(want[i].MomentKey), want[i].OutcomeType, want[i]))
		case i >= len(want):
			diffs = append(diffs, fmt.Sprintf("extra %s %s: %+v", keyString(got[i].MomentKey), got[i].OutcomeType, got[i]))
		default:
			g, w := got[i], want[i]
			if !g.Day.Equal(w.Day) || g.Day.Location() != time.UTC || g.MomentKey != w.MomentKey || g.OutcomeType != w.OutcomeType ||
				g.Outcomes != w.Outcomes || g.Entities != w.Entities || !approxEqual(g.ValueSum, w.ValueSum) || !approxEqual(g.ValueSumSq, w.ValueSumSq) {
				diffs = append(diffs, fmt.Sprintf("cell %d:\n\tgot  %s %s %+v\n\twant %s %s %+v", i, keyString(g.MomentKey), g.OutcomeType, g, keyString(w.MomentKey), w.OutcomeType, w))
			}
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%s: outcome moments differ:\n%s", what, strings.Join(diffs, "\n"))
	}
}

func checkAll(t *testing.T, ctx context.Context, w warehouse.Warehouse, what string) {
	t.Helper()
	CheckExposureMoments(t, what, exposureMoments(t, ctx, w, warehouse.MomentFilter{}), WantExposureMoments())
	CheckOutcomeMoments(t, what, outcomeMoments(t, ctx, w, warehouse.MomentFilter{}), WantOutcomeMoments())
}

func testMoments(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	f := loadFixture(t, ctx, w)
	if ms := exposureMoments(t, ctx, w, warehouse.MomentFilter{}); len(ms) != 0 {
		t.Errorf("ExposureMoments before any refresh = %+v, want none", ms)
	}
	refresh(t, ctx, w, Day1, Day3)
	checkAll(t, ctx, w, "after the first refresh")
	refresh(t, ctx, w, Day1, Day3)
	checkAll(t, ctx, w, "after refreshing twice")
	// A wider range (days with nothing in them) changes nothing, and
	// neither do times inside the days or outside UTC.
	paris := time.FixedZone("UTC+1", 3600)
	refresh(t, ctx, w, Day0.Add(13*time.Hour), time.Date(2026, 3, 20, 0, 30, 0, 0, paris))
	checkAll(t, ctx, w, "after refreshing a wider range")
	// Redelivered events and new unattributed outcomes change nothing.
	if res := insert(t, ctx, w, schemas.TypeExposure, rowsOf(f.Exposures...)); res.Inserted != 0 {
		t.Errorf("re-Insert of exposures stored %d rows", res.Inserted)
	}
	if res := insert(t, ctx, w, schemas.TypeOutcome, rowsOf(f.Outcomes...)); res.Inserted != 0 {
		t.Errorf("re-Insert of outcomes stored %d rows", res.Inserted)
	}
	insert(t, ctx, w, schemas.TypeOutcome, rowsOf(
		NewOutcome("u1", "purchase", "", Day1.Add(11*time.Hour), 1000),
		NewOutcome("u8", "purchase", "c1", Day1.Add(11*time.Hour), 1000),
		NewOutcome("u6", "purchase", "c1", Day2.Add(11*time.Hour), 1000), // u6 was exposed to c2 only
	))
	refresh(t, ctx, w, Day1, Day3)
	checkAll(t, ctx, w, "after unattributed outcomes and a refresh")
}

func testMomentsFilter(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	loadFixture(t, ctx, w)
	refresh(t, ctx, w, Day0, Day3)
	allE, allO := WantExposureMoments(), WantOutcomeMoments()
	filterE := func(keep func(warehouse.MomentKey) bool) []warehouse.ExposureMoment {
		var out []warehouse.ExposureMoment
		for _, m := range allE {
			if keep(m.MomentKey) {
				out = append(out, m)
			}
		}
		return out
	}
	filterO := func(keep func(warehouse.MomentKey) bool) []warehouse.OutcomeMoment {
		var out []warehouse.OutcomeMoment
		for _, m := range allO {
			if keep(m.MomentKey) {
				out = append(out, m)
			}
		}
		return out
	}
	cases := []struct {
		name string
		f    warehouse.MomentFilter
		keep func(warehouse.MomentKey) bool
	}{
		{"campaign c2", warehouse.MomentFilter{CampaignID: "c2"}, func(k warehouse.MomentKey) bool { return k.CampaignID == "c2" }},
		{"campaign c1", warehouse.MomentFilter{CampaignID: "c1"}, func(k warehouse.MomentKey) bool { return k.CampaignID == "c1" }},
		{"unknown campaign", warehouse.MomentFilter{CampaignID: "nope"}, func(warehouse.MomentKey) bool { return false }},
		{"Day2 only", warehouse.MomentFilter{From: Day2, To: Day2}, func(k warehouse.MomentKey) bool { return k.Day.Equal(Day2) }},
		{"from Day2", warehouse.MomentFilter{From: Day2.Add(5 * time.Hour)}, func(k warehouse.MomentKey) bool { return !k.Day.Before(Day2) }},
		{"to Day1", warehouse.MomentFilter{To: Day1.Add(23 * time.Hour)}, func(k warehouse.MomentKey) bool { return !k.Day.After(Day1) }},
		{"Day1 and c1", warehouse.MomentFilter{From: Day1, To: Day1, CampaignID: "c1"}, func(k warehouse.MomentKey) bool { return k.Day.Equal(Day1) && k.CampaignID == "c1" }},
		{"Day2 and c1", warehouse.MomentFilter{From: Day2, To: Day3, CampaignID: "c1"}, func(k warehouse.MomentKey) bool { return !k.Day.Before(Day2) && k.CampaignID == "c1" }},
		{"before the data", warehouse.MomentFilter{To: Day0}, func(warehouse.MomentKey) bool { return false }},
		{"far range", warehouse.MomentFilter{From: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)}, func(warehouse.MomentKey) bool { return true }},
	}
	for _, c := range cases {
		CheckExposureMoments(t, c.name, exposureMoments(t, ctx, w, c.f), filterE(c.keep))
		CheckOutcomeMoments(t, c.name, outcomeMoments(t, ctx, w, c.f), filterO(c.keep))
	}
}

// testMomentsIgnoreStoredDuplicates stores duplicates past the insert
// check, as two racing writers would, and expects counts and moments to
// ignore them.
func testMomentsIgnoreStoredDuplicates(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	f := loadFixture(t, ctx, w)
	ui, ok := w.(warehouse.UncheckedInserter)
	if !ok {
		t.Fatalf("%T does not implement warehouse.UncheckedInserter", w)
	}
	for _, batch := range []struct {
		typ schemas.Type
		evs []schemas.Event
	}{{schemas.TypeExposure, f.Exposures}, {schemas.TypeOutcome, f.Outcomes}} {
		rows := rowsOf(batch.evs...)
		rows = append(rows, rows...)
		n, err := ui.InsertUnchecked(ctx, batch.typ, rows)
		if err != nil || n != len(rows) {
			t.Fatalf("InsertUnchecked %s: %d, %v; want %d stored", batch.typ, n, err, len(rows))
		}
	}
	wantCount(t, ctx, w, schemas.TypeExposure, uint64(len(f.Exposures)))
	wantCount(t, ctx, w, schemas.TypeOutcome, uint64(len(f.Outcomes)))
	refresh(t, ctx, w, Day1, Day3)
	checkAll(t, ctx, w, "with duplicates stored")
	// Insert still sees them as stored.
	res := insert(t, ctx, w, schemas.TypeOutcome, rowsOf(f.Outcomes...))
	if res.Inserted != 0 || res.Duplicates != len(f.Outcomes) {
		t.Errorf("Insert of stored outcomes: %+v, want all duplicates", res)
	}
}

// testMomentsReattribute adds an earlier exposure of u4 to c1, on Day0 in
// segment s3: u4's outcome moves to that cell, and its old cell, which no
// refresh produces any more, disappears.
func testMomentsReattribute(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	loadFixture(t, ctx, w)
	refresh(t, ctx, w, Day1, Day3)
	checkAll(t, ctx, w, "before the new exposure")
	early := NewExposure("u4", "s3", "email", "c1", "i1", schemas.ArmTreatment, Day0.Add(22*time.Hour), 0.20, 1)
	insert(t, ctx, w, schemas.TypeExposure, rowsOf(early))
	refresh(t, ctx, w, Day0, Day3)
	wantE := append([]warehouse.ExposureMoment{{
		MomentKey: warehouse.MomentKey{Day: Day0, SegmentID: "s3", Channel: "email", CampaignID: "c1", InterventionID: "i1", Arm: "treatment"},
		Exposures: 1, Entities: 1, Cost: 0.20, FreqSum: 1,
	}}, WantExposureMoments()...)
	var wantO []warehouse.OutcomeMoment
	wantO = append(wantO, warehouse.OutcomeMoment{
		MomentKey:   warehouse.MomentKey{Day: Day0, SegmentID: "s3", Channel: "email", CampaignID: "c1", InterventionID: "i1", Arm: "treatment"},
		OutcomeType: "unsubscribe", Outcomes: 1, Entities: 1,
	})
	for _, m := range WantOutcomeMoments() {
		if m.SegmentID == "s2" && m.OutcomeType == "unsubscribe" {
			continue
		}
		wantO = append(wantO, m)
	}
	CheckExposureMoments(t, "after the earlier exposure", exposureMoments(t, ctx, w, warehouse.MomentFilter{}), wantE)
	CheckOutcomeMoments(t, "after the earlier exposure", outcomeMoments(t, ctx, w, warehouse.MomentFilter{}), wantO)
}

// testMomentsPartialRefresh refreshes one day at a time.
func testMomentsPartialRefresh(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	loadFixture(t, ctx, w)
	refresh(t, ctx, w, Day2, Day2)
	day2 := func(k warehouse.MomentKey) bool { return k.Day.Equal(Day2) }
	var wantE []warehouse.ExposureMoment
	for _, m := range WantExposureMoments() {
		if day2(m.MomentKey) {
			wantE = append(wantE, m)
		}
	}
	var wantO []warehouse.OutcomeMoment
	for _, m := range WantOutcomeMoments() {
		if day2(m.MomentKey) {
			wantO = append(wantO, m)
		}
	}
	CheckExposureMoments(t, "after refreshing Day2", exposureMoments(t, ctx, w, warehouse.MomentFilter{}), wantE)
	CheckOutcomeMoments(t, "after refreshing Day2", outcomeMoments(t, ctx, w, warehouse.MomentFilter{}), wantO)
	refresh(t, ctx, w, Day1, Day1)
	checkAll(t, ctx, w, "after refreshing Day1 too")
	refresh(t, ctx, w, Day2, Day2)
	checkAll(t, ctx, w, "after refreshing Day2 again")
}

func testRefreshRejectsBadRange(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	if err := w.RefreshMoments(ctx, Day2, Day1); err == nil {
		t.Error("RefreshMoments with to before from: no error")
	}
	if err := w.RefreshMoments(ctx, time.Time{}, Day1); err == nil {
		t.Error("RefreshMoments with a zero from: no error")
	}
	// Ranges outside what the engines can store are fine, and empty.
	if err := w.RefreshMoments(ctx, time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("RefreshMoments before 1970: %v", err)
	}
	if ms := exposureMoments(t, ctx, w, warehouse.MomentFilter{}); len(ms) != 0 {
		t.Errorf("moments after refreshing an empty range: %+v", ms)
	}
}

// testConcurrent uses one warehouse from several goroutines at once.
func testConcurrent(t *testing.T, open Opener) {
	w, ctx := migrated(t, open)
	const workers, per = 4, 250
	errs := make(chan error, workers)
	for g := range workers {
		go func() {
			rows := ExposureBatch(per, Day1)
			for i := range rows { // distinct entities per worker
				rows[i].Event.(*schemas.Exposure).EntityID = fmt.Sprintf("w%d-%d", g, i)
			}
			res, err := w.Insert(ctx, schemas.TypeExposure, rows)
			if err == nil && res.Inserted != per {
				err = fmt.Errorf("worker %d: Insert %+v, want %d inserted", g, res, per)
			}
			if err == nil {
				_, err = w.Count(ctx, schemas.TypeExposure)
			}
			if err == nil {
				err = w.RefreshMoments(ctx, Day1, Day1)
			}
			if err == nil {
				_, err = w.ExposureMoments(ctx, warehouse.MomentFilter{From: Day1, To: Day1})
			}
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	wantCount(t, ctx, w, schemas.TypeExposure, workers*per)
	refresh(t, ctx, w, Day1, Day1)
	var exposures, entities uint64
	for _, m := range exposureMoments(t, ctx, w, warehouse.MomentFilter{}) {
		exposures += m.Exposures
		entities += m.Entities
	}
	if exposures != workers*per || entities != workers*per {
		t.Errorf("moments count %d exposures of %d entities, want %d of each", exposures, entities, workers*per)
	}
}
