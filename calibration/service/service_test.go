package service

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/calibration/drift"
	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/warehouse"
	_ "github.com/preflight-hq/preflight/warehouse/embedded"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testWarehouse is a migrated chDB warehouse of the test's own.
type testWarehouse interface {
	warehouse.Warehouse
	warehouse.Calibrations
}

func newWarehouse(t *testing.T) testWarehouse {
	t.Helper()
	ctx := context.Background()
	w, err := warehouse.Open(ctx, testenv.ChDBDSN(t), warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if err := w.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	tw, ok := w.(testWarehouse)
	if !ok {
		t.Fatalf("%T does not implement warehouse.Calibrations", w)
	}
	return tw
}

func newBroker(t *testing.T) *streams.Embedded {
	t.Helper()
	b, err := streams.StartEmbedded(streams.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func testConfig(b *streams.Embedded, scopes ...string) Config {
	return Config{
		Kafka:           streams.KafkaConfig{Brokers: b.Addrs()},
		TopicPrefix:     "t.",
		Scopes:          scopes,
		Partitions:      8,
		RefreshInterval: 100 * time.Millisecond,
		RetuneInterval:  time.Hour,
		DayGrace:        time.Millisecond,
		RetryMin:        10 * time.Millisecond,
		RetryMax:        100 * time.Millisecond,
	}
}

// fixedCalibrate returns a CalibrateFunc making snapshots with the given
// cells, whose window ends at end (or at windowEnd for the first one, when
// set), and counts its calls.
func fixedCalibrate(calls *atomic.Int64, firstWindowEnd time.Time, cells []calibration.Cell) CalibrateFunc {
	return func(_ context.Context, scope string, end time.Time, reason string, prev *calibration.Snapshot) (*calibration.Snapshot, error) {
		calls.Add(1)
		we := end
		if prev == nil && !firstWindowEnd.IsZero() {
			we = firstWindowEnd
		}
		return &calibration.Snapshot{Scope: scope, WindowStart: we.Add(-28 * day), WindowEnd: we, Reason: reason, Cells: cells}, nil
	}
}

// running is a Service whose Run goroutine the test owns.
type running struct {
	*Service
	reg  *prometheus.Registry
	stop func() error
}

func start(t *testing.T, cfg Config, d Deps, onOwn func(string, bool)) *running {
	t.Helper()
	return startWith(t, cfg, d, func(s *Service) { s.onOwn = onOwn })
}

// startWith is start with setup called on the Service before Run, to set
// its test hooks.
func startWith(t *testing.T, cfg Config, d Deps, setup func(*Service)) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	d.Metrics = NewMetrics(reg)
	s, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	setup(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var runErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(60 * time.Second):
				runErr = fmt.Errorf("Run did not return within 60s of cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return &running{Service: s, reg: reg, stop: stop}
}

// waitFor polls cond every 20ms until it holds or 60s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after 60s waiting for %s", what)
}

// owners records which instance owns each scope, from the loop hooks, and
// every moment two instances owned one scope at once.
type owners struct {
	mu         sync.Mutex
	by         map[string]string
	violations []string
}

func (o *owners) hook(instance string) func(string, bool) {
	return func(scope string, owned bool) {
		o.mu.Lock()
		defer o.mu.Unlock()
		cur := o.by[scope]
		if owned {
			if cur != "" && cur != instance {
				o.violations = append(o.violations, fmt.Sprintf("%s started %s while %s ran it", instance, scope, cur))
			}
			o.by[scope] = instance
		} else if cur == instance {
			delete(o.by, scope)
		}
	}
}

func (o *owners) snapshot() (map[string]string, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[string]string{}
	for k, v := range o.by {
		m[k] = v
	}
	return m, append([]string(nil), o.violations...)
}

// TestOwnershipMovesBetweenMembers runs two members of one group over four
// scopes: every scope is run by exactly one member at any time, and when
// one member stops its scopes move to the other.
func TestOwnershipMovesBetweenMembers(t *testing.T) {
	b := newBroker(t)
	wh := newWarehouse(t)
	// With four partitions these four scopes take one each (FNV-1a mod 4
	// = 2, 1, 3, 0), so two members get two scopes each.
	scopes := []string{"retail", "travel", "media", "gaming"}
	cfg := testConfig(b, scopes...)
	cfg.Partitions = 4
	var calls atomic.Int64
	d := Deps{Warehouse: wh, Calibrate: fixedCalibrate(&calls, time.Time{}, nil)}
	o := &owners{by: map[string]string{}}
	a := start(t, cfg, d, o.hook("a"))
	bb := start(t, cfg, d, o.hook("b"))
	ctx := context.Background()

	waitFor(t, "both members ready with two scopes each", func() bool {
		m, _ := o.snapshot()
		return a.Ready(ctx) == nil && bb.Ready(ctx) == nil && len(m) == len(scopes) &&
			len(a.Owned()) == 2 && len(bb.Owned()) == 2
	})
	for _, sc := range a.Owned() {
		for _, sc2 := range bb.Owned() {
			if sc == sc2 {
				t.Fatalf("scope %s runs in both members", sc)
			}
		}
	}
	t.Logf("a owns %v, b owns %v", a.Owned(), bb.Owned())
	if got := value(t, a.m.ownedScopes) + value(t, bb.m.ownedScopes); got != float64(len(scopes)) {
		t.Errorf("calib_owned_scopes summed over members = %g, want %d", got, len(scopes))
	}

	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every scope to move to b", func() bool {
		m, _ := o.snapshot()
		if len(bb.Owned()) != len(scopes) || bb.Ready(ctx) != nil {
			return false
		}
		for _, sc := range scopes {
			if m[sc] != "b" {
				return false
			}
		}
		return true
	})
	if len(a.Owned()) != 0 {
		t.Errorf("a still owns %v after it stopped", a.Owned())
	}
	if err := a.Ready(ctx); err == nil {
		t.Error("a stopped member reports ready")
	}
	if _, v := o.snapshot(); len(v) > 0 {
		t.Fatalf("a scope was run by two members at once: %v", v)
	}
	// One snapshot per scope: the member taking a scope over loads the
	// snapshot instead of making a new one.
	if n := calls.Load(); n != int64(len(scopes)) {
		t.Errorf("Calibrate was called %d times, want %d (one initial snapshot per scope)", n, len(scopes))
	}
	if err := bb.stop(); err != nil {
		t.Fatal(err)
	}
	checkNoLoops(t)
}

// insertDays stores, for each of the given days, a campaign of n treated
// and n control entities in segment s1 × email, with treated[i] and
// control[i] of them buying.
func insertDays(t *testing.T, wh warehouse.Warehouse, days []time.Time, n int, treated, control []int) {
	t.Helper()
	var exps, outs []warehouse.Row
	for i, d := range days {
		camp := "c-" + d.Format("20060102")
		for _, arm := range []string{schemas.ArmTreatment, schemas.ArmControl} {
			buyers := treated[i]
			if arm == schemas.ArmControl {
				buyers = control[i]
			}
			for e := range n {
				ent := fmt.Sprintf("%s-%s-%d", camp, arm, e)
				ex := &schemas.Exposure{EventID: uuid.NewString(), ExposureID: uuid.NewString(), EntityID: ent, SegmentID: "s1",
					Timestamp: d.Add(9 * time.Hour), Channel: "email", CampaignID: camp, InterventionID: "i1", Arm: arm}
				if arm == schemas.ArmTreatment {
					ex.Cost, ex.FrequencyCumulative = 0.01, 1
				}
				exps = append(exps, warehouse.Row{Event: ex, Offset: -1})
				if e < buyers {
					outs = append(outs, warehouse.Row{Event: &schemas.Outcome{EventID: uuid.NewString(), OutcomeID: uuid.NewString(), EntityID: ent,
						Timestamp: d.Add(15 * time.Hour), OutcomeType: "purchase", Value: 20, CampaignID: camp}, Offset: -1})
				}
			}
		}
	}
	ctx := context.Background()
	if _, err := wh.Insert(ctx, schemas.TypeExposure, exps); err != nil {
		t.Fatal(err)
	}
	if _, err := wh.Insert(ctx, schemas.TypeOutcome, outs); err != nil {
		t.Fatal(err)
	}
}

// s1Cell is the prediction for segment s1 × email the drift tests use:
// treated rate 0.10, base rate 0.05.
var s1Cell = calibration.Cell{SegmentID: "s1", Channel: "email", Exposures: 4000, TreatedExposures: 2000, ControlExposures: 2000,
	BaseRate: 0.05, BaseRateSE: 0.002, Uplift: 0.05, UpliftSE: 0.003, ConversionRate: 0.10, ConversionRateSE: 0.002}

// TestRestartResumesFromWatermark stops the only member after it has
// refreshed and starts a new one: the new one resumes from the stored
// watermark (nothing new to read), keeps the stored snapshot, and a
// RefreshSince from the watermark reads no rows.
func TestRestartResumesFromWatermark(t *testing.T) {
	b := newBroker(t)
	wh := newWarehouse(t)
	ctx := context.Background()
	today := time.Now().UTC().Truncate(day)
	insertDays(t, wh, []time.Time{today.Add(-2 * day), today.Add(-day)}, 60, []int{6, 6}, []int{3, 3})
	cfg := testConfig(b, "retail")
	var calls atomic.Int64
	d := Deps{Warehouse: wh, Calibrate: fixedCalibrate(&calls, time.Time{}, []calibration.Cell{s1Cell})}

	first := start(t, cfg, d, nil)
	// The loop refreshes before it makes the initial snapshot, so wait for
	// both: a stop between the two would leave no snapshot to resume from.
	waitFor(t, "the first member to refresh, store a watermark and publish its snapshot", func() bool {
		wm, err := wh.Watermark(ctx, "retail")
		_, found, serr := wh.LatestSnapshot(ctx, "retail")
		return err == nil && !wm.IsZero() && value(t, first.m.refreshRows.WithLabelValues("retail")) > 0 &&
			serr == nil && found
	})
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}
	wm, err := wh.Watermark(ctx, "retail")
	if err != nil {
		t.Fatal(err)
	}
	if n := histogramCount(t, first.reg, "calib_event_to_moment_seconds"); n == 0 {
		t.Error("calib_event_to_moment_seconds has no observation after a refresh that read new rows")
	}
	if got := value(t, first.m.refreshRows.WithLabelValues("retail")); got != 240+18 {
		t.Errorf("first member read %g new rows, want %d", got, 240+18)
	}

	second := start(t, cfg, d, nil)
	waitFor(t, "the second member to refresh twice", func() bool {
		return second.Ready(ctx) == nil && histogramCount(t, second.reg, "calib_refresh_duration_seconds") >= 2
	})
	if got := value(t, second.m.refreshRows.WithLabelValues("retail")); got != 0 {
		t.Errorf("the restarted member read %g rows again, want 0 (it should resume from the watermark)", got)
	}
	if wm2, _ := wh.Watermark(ctx, "retail"); !wm2.Equal(wm) {
		t.Errorf("watermark moved from %s to %s with nothing new", wm, wm2)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("Calibrate called %d times, want 1: the restarted member must load the stored snapshot", n)
	}
	if got := value(t, second.m.snapshotVersion.WithLabelValues("retail")); got != 1 {
		t.Errorf("calib_snapshot_version = %g, want 1", got)
	}
	if err := second.stop(); err != nil {
		t.Fatal(err)
	}
	if _, rows, err := wh.RefreshSince(ctx, wm); err != nil || rows != 0 {
		t.Errorf("RefreshSince(watermark) = %d rows, %v; want 0 new rows", rows, err)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

// readAll returns every record of topic, reading up to its end offsets.
func readAll(t *testing.T, b *streams.Embedded, topic string) []*kgo.Record {
	t.Helper()
	return readAllAt(t, b.Addrs(), topic)
}

// readAllAt returns every record of topic on the brokers at addrs.
func readAllAt(t *testing.T, addrs []string, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	var out []*kgo.Record
	for len(want) > 0 {
		f := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		f.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

// TestDriftAlarmPublishesOnce plants a jump of s1 × email's treated
// purchase rate from 0.10 to 0.40 ten days ago. The CUSUM on the
// conversion residual alarms once: one drift event on the Kafka topic and
// in the warehouse, a retune for drift, and snapshot version 2 on the
// compacted topic.
func TestDriftAlarmPublishesOnce(t *testing.T) {
	b := newBroker(t)
	wh := newWarehouse(t)
	ctx := context.Background()
	today := time.Now().UTC().Truncate(day)
	var days []time.Time
	var treated, control []int
	for i := 20; i >= 1; i-- {
		days = append(days, today.Add(-time.Duration(i)*day))
		k := 20 // of 200: 0.10
		if i <= 10 {
			k = 80 // 0.40
		}
		treated, control = append(treated, k), append(control, 10)
	}
	insertDays(t, wh, days, 200, treated, control)

	cfg := testConfig(b, "retail")
	var calls atomic.Int64
	cusum := DetectorFactory{Name: "cusum", New: func() Detector {
		c := drift.DefaultCUSUMConfig()
		c.Mean, c.Sigma = 0, 1
		return must(drift.NewCUSUM(c))
	}}
	// The first snapshot's window ends before the planted days, so
	// all twenty are watched.
	d := Deps{Warehouse: wh, Calibrate: fixedCalibrate(&calls, today.Add(-21*day), []calibration.Cell{s1Cell}), Detectors: []DetectorFactory{cusum}}
	r := start(t, cfg, d, nil)
	waitFor(t, "snapshot version 2 in the warehouse", func() bool {
		s, ok, err := wh.LatestSnapshot(ctx, "retail")
		return err == nil && ok && s.Version == 2
	})
	// Let the loop turn a few more times: nothing else may be published.
	n := histogramCount(t, r.reg, "calib_refresh_duration_seconds")
	waitFor(t, "three more refreshes", func() bool { return histogramCount(t, r.reg, "calib_refresh_duration_seconds") >= n+3 })
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}

	evs, err := wh.DriftEvents(ctx, "retail", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("warehouse holds %d drift events, want 1: %+v", len(evs), evs)
	}
	ev := evs[0]
	alarmDay := today.Add(-10 * day)
	if ev.Moment != "conversion_residual/segment=s1/channel=email" || ev.Detector != "cusum" ||
		ev.Statistic < ev.Threshold || ev.Threshold != drift.DefaultCUSUMConfig().H || ev.Magnitude <= 0 ||
		!ev.WindowStart.Equal(today.Add(-20*day)) || !ev.WindowEnd.Equal(alarmDay.Add(day-time.Second)) {
		t.Errorf("drift event = %+v; want conversion_residual/segment=s1/channel=email by cusum, statistic ≥ threshold h, positive magnitude, window %s … %s",
			ev, today.Add(-20*day), alarmDay.Add(day-time.Second))
	}

	recs := readAll(t, b, cfg.DriftTopic())
	if len(recs) != 1 {
		t.Fatalf("drift topic holds %d records, want 1", len(recs))
	}
	var body DriftEventJSON
	if err := json.Unmarshal(recs[0].Value, &body); err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Key) != "retail" || body.EventID != ev.EventID || body.Scope != "retail" || body.SnapshotVersion != 1 {
		t.Errorf("drift record key %q body %+v; want key retail and the stored event %s against snapshot 1", recs[0].Key, body, ev.EventID)
	}

	snaps := readAll(t, b, cfg.SnapshotTopic())
	var versions []string
	for _, rec := range snaps {
		s, err := calibration.Decode(rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		if string(rec.Key) != "retail" {
			t.Errorf("snapshot record key %q, want retail", rec.Key)
		}
		versions = append(versions, fmt.Sprintf("%d:%s", s.Version, s.Reason))
	}
	if strings.Join(versions, " ") != "1:initial 2:drift" {
		t.Errorf("snapshot topic holds versions %v, want [1:initial 2:drift]", versions)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cfgs, err := kadm.NewClient(cl).DescribeTopicConfigs(ctx, cfg.SnapshotTopic())
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cfgs.On(cfg.SnapshotTopic(), nil); err != nil || !hasConfig(c.Configs, "cleanup.policy", "compact") {
		t.Errorf("topic %s is not compacted: %+v %v", cfg.SnapshotTopic(), c.Configs, err)
	}

	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"calib_drift_alarms_total{detector=cusum}", value(t, r.m.driftAlarms.WithLabelValues("retail", "cusum")), 1},
		{"calib_retunes_total{reason=drift,result=ok}", value(t, r.m.retunes.WithLabelValues("retail", "drift", "ok")), 1},
		{"calib_retunes_total{reason=initial,result=ok}", value(t, r.m.retunes.WithLabelValues("retail", "initial", "ok")), 1},
	} {
		if c.got != c.want {
			t.Errorf("%s = %g, want %g", c.name, c.got, c.want)
		}
	}
}

func hasConfig(cs []kadm.Config, key, value string) bool {
	for _, c := range cs {
		if c.Key == key && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}

// TestReadyBeforeRun checks that a member that has not started is not
// ready and says why.
func TestReadyBeforeRun(t *testing.T) {
	s, err := New(Config{Kafka: streams.KafkaConfig{Brokers: []string{"127.0.0.1:1"}}, Scopes: []string{"retail"}},
		Deps{Warehouse: nil, Calibrate: fixedCalibrate(new(atomic.Int64), time.Time{}, nil), Metrics: NewMetrics(prometheus.NewRegistry())})
	if err == nil {
		t.Fatalf("New without a warehouse = %v, want an error", s)
	}
	s, err = New(Config{Kafka: streams.KafkaConfig{Brokers: []string{"127.0.0.1:1"}}, Scopes: []string{"retail"}},
		Deps{Warehouse: newWarehouse(t), Calibrate: fixedCalibrate(new(atomic.Int64), time.Time{}, nil), Metrics: NewMetrics(prometheus.NewRegistry())})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(context.Background()); err == nil || !strings.Contains(err.Error(), "not started") {
		t.Errorf("Ready before Run = %v, want an error saying it has not started", err)
	}
	if err := s.Healthy(context.Background()); err != nil {
		t.Errorf("Healthy before Run = %v, want nil", err)
	}
}

// TestConfigValidate checks that each bad setting is refused with a
// message naming the field.
func TestConfigValidate(t *testing.T) {
	good := Config{Kafka: streams.KafkaConfig{Brokers: []string{"k:9092"}}, Scopes: []string{"retail"}}
	if err := good.Validate(); err != nil {
		t.Fatalf("a good config is refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no scopes", func(c *Config) { c.Scopes = nil }, "scopes: at least one scope"},
		{"bad scope", func(c *Config) { c.Scopes = []string{"Retail Stores"} }, `scopes: "Retail Stores" is not a scope name`},
		{"duplicate scope", func(c *Config) { c.Scopes = []string{"a", "a"} }, `scopes: "a" is listed twice`},
		{"partitions", func(c *Config) { c.Partitions = -1 }, "scope partitions: -1"},
		{"refresh", func(c *Config) { c.RefreshInterval = time.Millisecond }, "refresh interval: 1ms"},
		{"retune", func(c *Config) { c.RefreshInterval, c.RetuneInterval = time.Hour, time.Minute }, "retune interval: 1m0s is below the refresh interval"},
		{"window", func(c *Config) { c.Window = time.Hour }, "window: 1h0m0s is shorter than one day"},
		{"level", func(c *Config) { c.Level = 1.5 }, "level: 1.5"},
		{"brokers", func(c *Config) { c.Kafka.Brokers = nil }, "kafka brokers"},
		{"retry", func(c *Config) { c.RetryMin, c.RetryMax = time.Second, time.Millisecond }, "retry max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestScopePartitionIsStable pins the scope → partition hash: changing it
// would move every scope in a rolling deploy while old and new replicas
// disagree.
func TestScopePartitionIsStable(t *testing.T) {
	for _, c := range []struct {
		scope string
		want  int32
	}{{"", 1}, {"retail", 10}, {"travel", 1}, {"media", 11}, {"banking", 5}} {
		if got := ScopePartition(c.scope, 12); got != c.want {
			t.Errorf("ScopePartition(%q, 12) = %d, want %d", c.scope, got, c.want)
		}
	}
}

// value returns the value of a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if c := d.GetCounter(); c != nil {
		return c.GetValue()
	}
	return d.GetGauge().GetValue()
}

// TestLostSessionStopsLoops fails the member's heartbeat with
// UNKNOWN_MEMBER_ID, as when the broker has expired its session: the
// member stops its loops (OnPartitionsLost), rejoins, and runs them again.
func TestLostSessionStopsLoops(t *testing.T) {
	b := newBroker(t)
	wh := newWarehouse(t)
	ctx := context.Background()
	cfg := testConfig(b, "retail", "travel")
	var calls atomic.Int64
	var mu sync.Mutex
	var events []string
	r := start(t, cfg, Deps{Warehouse: wh, Calibrate: fixedCalibrate(&calls, time.Time{}, nil)}, func(scope string, owned bool) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf("%s:%t", scope, owned))
	})
	waitFor(t, "the member to be ready with both scopes", func() bool { return r.Ready(ctx) == nil && len(r.Owned()) == 2 })
	f := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Heartbeat}, Group: cfg.Group, Err: kerr.UnknownMemberID})
	defer f.Remove()
	if err := f.Wait(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both loops to stop and start again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		var stops, starts int
		for _, e := range events {
			if strings.HasSuffix(e, ":false") {
				stops++
			} else {
				starts++
			}
		}
		return stops == 2 && starts == 4 && r.Ready(ctx) == nil && len(r.Owned()) == 2
	})
	if n := calls.Load(); n != 2 {
		t.Errorf("Calibrate called %d times, want 2: the loops must reload their snapshots after rejoining", n)
	}
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	checkNoLoops(t)
}

// checkNoLoops fails the test if a scope loop or a Run of this package is
// still running: every goroutine the package starts has a stop.
func checkNoLoops(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n := runtime.Stack(buf, true)
		leaked := bytes.Contains(buf[:n], []byte("service.(*scopeLoop).run")) || bytes.Contains(buf[:n], []byte("service.(*Service).Run"))
		if !leaked {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines of the service outlive it:\n%s", buf[:n])
		}
	}
}
