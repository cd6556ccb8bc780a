package calibration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/synth"
	_ "github.com/preflight-hq/preflight/warehouse/embedded"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// world is one synthetic world streamed through an embedded stack (kfake,
// the ingestor and chDB), shared by the tests and the benchmark of the
// process.
type world struct {
	stack *stack.Stack
	truth *synth.Truth
	cfg   synth.Config
	load  time.Duration
}

// Test worlds, each loaded once per process.
var (
	worldsMu sync.Mutex
	worlds   = map[bool]*world{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, w := range worlds {
		w.stack.Close()
	}
	testenv.Shutdown()
	os.Exit(code)
}

// Layout of the test worlds: campaigns 3.5 days apart, alternating email
// and sms, each to every segment. The stable world has 8 campaigns over 28
// days and no drift; the drifting world has 16 over 56 days, and a drift
// (base odds ×2.5 for every segment) hits the campaigns sent from day 28
// on, the last eight.
const (
	worldDays     = 56
	worldDriftDay = 28
	worldEntities = 12000
	driftOdds     = 2.5
)

func worldConfig(drift bool) synth.Config {
	cfg := synth.Config{Seed: 12, Entities: worldEntities, Days: worldDriftDay}
	campaigns := 8
	if drift {
		cfg.Seed, cfg.Days, campaigns = 11, worldDays, 16
		cfg.Drift = &synth.Drift{At: synth.DefaultStart.AddDate(0, 0, worldDriftDay), BaseOddsFactor: driftOdds, EffectFactor: 1}
	}
	discounts := []float64{10, 20, 0, 15}
	for k := range campaigns {
		ch := schemas.ChannelEmail
		if k%2 == 1 {
			ch = schemas.ChannelSMS
		}
		cfg.Campaigns = append(cfg.Campaigns, synth.CampaignSpec{
			ID: fmt.Sprintf("cmp-%02d", k+1), Channel: ch, Day: 3.5*float64(k) + 0.4,
			Creative: synth.Creative{
				Urgency:         0.3 + 0.1*float64(k%4),
				DiscountPct:     discounts[k%len(discounts)],
				Personalization: 0.5,
			},
		})
	}
	return cfg
}

// getWorld generates a test world (with or without drift) once per process,
// streams it through Kafka into chDB and refreshes the moments.
func getWorld(tb testing.TB, drift bool) *world {
	tb.Helper()
	worldsMu.Lock()
	defer worldsMu.Unlock()
	if w := worlds[drift]; w != nil {
		return w
	}
	w, err := loadWorld(tb, worldConfig(drift))
	if err != nil {
		tb.Fatal(err)
	}
	worlds[drift] = w
	return w
}

func loadWorld(tb testing.TB, cfg synth.Config) (*world, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	prefix := fmt.Sprintf("calib%d.", cfg.Seed)
	st, err := stack.Start(ctx, stack.Config{DSN: testenv.ChDBDSN(tb), Topics: streams.Topics{Prefix: prefix}, Partitions: 2}, quiet)
	if err != nil {
		return nil, err
	}
	w := &world{stack: st, cfg: cfg}
	sink, err := eventsink.NewKafka(eventsink.KafkaConfig{Brokers: st.Kafka.Brokers, TopicPrefix: st.Topics.Prefix})
	if err != nil {
		st.Close()
		return nil, err
	}
	w.truth, err = synth.Generate(ctx, w.cfg, sink)
	if cerr := sink.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	produced := sink.Delivered()
	for {
		s := st.Ingestor.Stats()
		if s.Stored+s.Duplicates+s.Invalid >= produced {
			break
		}
		select {
		case <-ctx.Done():
			st.Close()
			return nil, fmt.Errorf("ingestor stored %d of %d events: %w", s.Stored, produced, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err := st.Warehouse.RefreshMoments(ctx, synth.DefaultStart.AddDate(0, 0, -1), synth.DefaultStart.AddDate(0, 0, cfg.Days+10)); err != nil {
		st.Close()
		return nil, err
	}
	w.load = time.Since(start)
	tb.Logf("world (seed %d, drift %v): %d events streamed through kfake into %s and refreshed in %s", cfg.Seed, cfg.Drift != nil, produced, st.Warehouse.Backend(), w.load.Round(time.Millisecond))
	return w, nil
}

// day returns the instant d days after the world's start.
func day(d int) time.Time { return synth.DefaultStart.AddDate(0, 0, d) }

// fixedNow makes snapshots reproducible.
func fixedNow() time.Time { return time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC) }

func testConfig() Config {
	return Config{Scope: "retail", Window: 28 * 24 * time.Hour, HoldOut: 2, Level: 0.9, Personas: 4, Seed: 3, Log: quiet, Now: fixedNow}
}

// truthUplift returns the planted expected treated − control purchase rate
// of a cell: per campaign of the cell's channel (and intervention) in the
// window, PurchaseRateTreated − PurchaseRateControl of the segment,
// weighted by the campaign's assigned entities, which is what BuildCells'
// stratified difference in means estimates without bias.
func truthUplift(tr *synth.Truth, c Cell, from, to time.Time) (float64, bool) {
	var w, sum float64
	for _, ct := range tr.Campaigns {
		if ct.Channel != c.Channel || ct.SentAt.Before(from) || !ct.SentAt.Before(to) {
			continue
		}
		if c.InterventionID != "" && ct.InterventionID != c.InterventionID {
			continue
		}
		e, ok := ct.BySegment[c.SegmentID]
		if !ok {
			continue
		}
		n := float64(e.Treated + e.Control)
		w += n
		sum += n * (e.PurchaseRateTreated - e.PurchaseRateControl)
	}
	if w == 0 {
		return 0, false
	}
	return sum / w, true
}

// TestCalibrateCoversTruth fits a snapshot on the stable world (no drift):
// at least 75% of the cells' 90% uplift intervals cover the planted uplift
// (90% is expected), and the conversion-rate backtest of the two held-out
// campaigns has a MAPE below 0.25.
func TestCalibrateCoversTruth(t *testing.T) {
	w := getWorld(t, false)
	ctx := context.Background()
	start := time.Now()
	s, err := Calibrate(ctx, w.stack.Warehouse, testConfig(), day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calibrated in %s; notes: %q", time.Since(start).Round(time.Millisecond), s.Notes)
	for _, ct := range w.truth.Campaigns {
		if ct.Drifted {
			t.Fatalf("campaign %s of the stable world is drifted", ct.ID)
		}
	}
	if s.Schema != SnapshotSchema || s.Version != 1 || s.Scope != "retail" || !s.WindowStart.Equal(day(0)) || !s.WindowEnd.Equal(day(worldDriftDay)) {
		t.Errorf("header: schema %d version %d scope %q window [%s, %s)", s.Schema, s.Version, s.Scope, s.WindowStart, s.WindowEnd)
	}
	var pooled, covered, total int
	for _, c := range s.Cells {
		truth, ok := truthUplift(w.truth, c, s.WindowStart, s.WindowEnd)
		if !ok {
			t.Errorf("cell %s/%s/%s has no truth", c.SegmentID, c.Channel, c.InterventionID)
			continue
		}
		total++
		if c.InterventionID == "" {
			pooled++
		}
		if c.UpliftLo <= truth && truth <= c.UpliftHi {
			covered++
		} else {
			t.Logf("not covered: %s/%s/%s uplift %.4f [%.4f, %.4f], planted %.4f", c.SegmentID, c.Channel, c.InterventionID, c.Uplift, c.UpliftLo, c.UpliftHi, truth)
		}
		if c.InterventionID == "" && (c.BaseRate <= 0 || c.ConversionRate <= 0 || c.RevenuePerConversion <= 0 || c.CostPerExposure <= 0) {
			t.Errorf("cell %s/%s/%s: implausible %+v", c.SegmentID, c.Channel, c.InterventionID, c)
		}
	}
	if pooled != 10 {
		t.Errorf("%d pooled segment × channel cells, want 10 (5 segments × 2 channels)", pooled)
	}
	share := float64(covered) / float64(total)
	t.Logf("uplift coverage: %d of %d cells (%.0f%%) at level 0.9", covered, total, 100*share)
	if share < 0.75 {
		t.Errorf("uplift intervals cover the planted uplift in only %d of %d cells", covered, total)
	}
	b, ok := s.Quality.Backtests[MetricConversionRate]
	if !ok {
		t.Fatalf("no conversion-rate backtest: %+v", s.Quality)
	}
	t.Logf("backtests: %+v, historical accuracy %.3f", s.Quality.Backtests, s.Quality.HistoricalAccuracy)
	if b.N != 10 {
		t.Errorf("backtest compared %d cells, want 10 (2 campaigns × 5 segments)", b.N)
	}
	if b.MAPE > 0.25 {
		t.Errorf("conversion-rate backtest MAPE %.3f > 0.25", b.MAPE)
	}
	if math.Abs(s.Quality.HistoricalAccuracy-(1-b.MAPE)) > 1e-12 {
		t.Errorf("historical accuracy %.4f, want 1 − MAPE = %.4f", s.Quality.HistoricalAccuracy, 1-b.MAPE)
	}
	if len(s.Personas) != 5*4 {
		t.Errorf("%d personas, want 20", len(s.Personas))
	}
	if s.Program.Instruction == "" {
		t.Error("no program")
	}
}

// TestDriftAndRetune checks the drift story on the planted drift (base odds
// ×2.5 from day 28): the snapshot fitted before the drift predicts the two
// last (drifted) campaigns badly (conversion-rate MAPE above 0.4 and at
// least twice its own pre-drift backtest MAPE), and the snapshot retuned
// on the 28 days after the drift predicts them, held out, about as well as
// the pre-drift snapshot predicted its own held-out campaigns: MAPE within
// 0.1 of the pre-drift level (and below 0.25).
func TestDriftAndRetune(t *testing.T) {
	w := getWorld(t, true)
	ctx := context.Background()
	cfg := testConfig()
	pre, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	preMAPE := pre.Quality.Backtests[MetricConversionRate].MAPE

	// The two most recent campaigns, observed.
	lastFrom, lastTo := day(worldDays-7), day(worldDays)
	actual, err := Observe(ctx, w.stack.Warehouse, lastFrom, lastTo, Grouping{Intervention: true}, cfg.Level)
	if err != nil {
		t.Fatal(err)
	}
	stale := BacktestCells(pre.Cells, actual, cfg.Level)[MetricConversionRate]

	post, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(worldDays), "drift", pre)
	if err != nil {
		t.Fatal(err)
	}
	retuned := post.Quality.Backtests[MetricConversionRate]
	t.Logf("conversion-rate MAPE: pre-drift snapshot on its own held-out campaigns %.3f (coverage %.2f); on the drifted last campaigns %.3f (coverage %.2f); retuned snapshot on them %.3f (coverage %.2f)",
		preMAPE, pre.Quality.Backtests[MetricConversionRate].Coverage, stale.MAPE, stale.Coverage, retuned.MAPE, retuned.Coverage)
	if stale.N != 10 || retuned.N != 10 {
		t.Errorf("backtests compared %d and %d cells, want 10", stale.N, retuned.N)
	}
	if stale.MAPE < 0.4 || stale.MAPE < 2*preMAPE {
		t.Errorf("the pre-drift snapshot predicts the drifted campaigns too well: MAPE %.3f (pre-drift level %.3f)", stale.MAPE, preMAPE)
	}
	if retuned.MAPE > preMAPE+0.1 || retuned.MAPE > 0.25 {
		t.Errorf("after retuning the MAPE %.3f did not return to the pre-drift level %.3f (+0.1)", retuned.MAPE, preMAPE)
	}
	if post.Version != pre.Version+1 || post.Reason != "drift" {
		t.Errorf("retuned snapshot: version %d reason %q", post.Version, post.Reason)
	}
	// Personas are carried over; their weights are refitted on the new
	// window and still sum to 1 per segment.
	if len(post.Personas) != len(pre.Personas) {
		t.Fatalf("personas not carried over: %d, were %d", len(post.Personas), len(pre.Personas))
	}
	sums := map[string]float64{}
	for i, p := range post.Personas {
		if p.ID != pre.Personas[i].ID {
			t.Errorf("persona %d is %s, was %s", i, p.ID, pre.Personas[i].ID)
		}
		sums[p.SegmentID] += p.Weight
	}
	for seg, sum := range sums {
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("weights of segment %s sum to %.12f after retuning", seg, sum)
		}
	}
	if len(post.Reweighting) == 0 {
		t.Errorf("persona weights not refitted on retuning; notes %q", post.Notes)
	}

	// Residuals of the stale snapshot on the drifted days are large and
	// positive; those of the retuned one are not.
	daily, err := Observe(ctx, w.stack.Warehouse, day(worldDriftDay), lastTo, Grouping{Day: true}, cfg.Level)
	if err != nil {
		t.Fatal(err)
	}
	meanResidual := func(s *Snapshot) (float64, int) {
		rs := Residuals(s, daily)
		var sum float64
		for _, r := range rs {
			sum += r.Value
		}
		return sum / float64(len(rs)), len(rs)
	}
	staleR, n := meanResidual(pre)
	freshR, _ := meanResidual(post)
	t.Logf("mean standardized residual over %d segment × channel × day cells: stale %.2f, retuned %.2f", n, staleR, freshR)
	if n != 8*5 {
		t.Errorf("%d residuals, want 40 (8 campaign days × 5 segments)", n)
	}
	if staleR < 2 || math.Abs(freshR) > 1 {
		t.Errorf("mean residuals: stale %.2f (want ≥ 2), retuned %.2f (want within ±1)", staleR, freshR)
	}
}

// TestSnapshotJSON round-trips a calibrated snapshot through JSON and
// checks that Decode rejects a wrong schema, a missing scope and garbage.
func TestSnapshotJSON(t *testing.T) {
	w := getWorld(t, false)
	s, err := Calibrate(context.Background(), w.stack.Warehouse, testConfig(), day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Errorf("round trip changed the document:\n%s\n%s", b, b2)
	}
	if len(got.Cells) != len(s.Cells) || got.Cells[0] != s.Cells[0] || got.Quality.Backtests[MetricConversionRate] != s.Quality.Backtests[MetricConversionRate] {
		t.Error("round trip changed cells or backtests")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"schema 2", func(m map[string]any) { m["schema"] = 2 }, "schema 2"},
		{"no schema", func(m map[string]any) { delete(m, "schema") }, "schema 0"},
		{"no scope", func(m map[string]any) { m["scope"] = "" }, "no scope"},
	} {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		tc.edit(c)
		bad, _ := json.Marshal(c)
		if _, err := Decode(bad); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Decode error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if _, err := Decode([]byte(`{"schema":`)); err == nil {
		t.Error("Decode accepted truncated JSON")
	}
}

// BenchmarkCalibrate measures one Calibrate of the stable test world (8
// campaigns, 96,000 assignments, 28 days) on embedded chDB.
func BenchmarkCalibrate(b *testing.B) {
	w := getWorld(b, false)
	ctx := context.Background()
	cfg := testConfig()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(worldDriftDay), "schedule", nil); err != nil {
			b.Fatal(err)
		}
	}
}
