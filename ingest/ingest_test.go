package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/warehouse"
	_ "github.com/preflight-hq/preflight/warehouse/embedded"
	"github.com/preflight-hq/preflight/warehouse/warehousetest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var topics = streams.Topics{Prefix: "test."}

type backend struct {
	name string
	open func(t *testing.T) warehouse.Warehouse
}

func backends() []backend {
	openDSN := func(t *testing.T, dsn string) warehouse.Warehouse {
		t.Helper()
		wh := warehousetest.Open(t, dsn)
		if err := wh.Migrate(context.Background()); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		return wh
	}
	return []backend{
		{"clickhouse-server", func(t *testing.T) warehouse.Warehouse { return openDSN(t, testenv.NewDatabase(t)) }},
		{"chdb", func(t *testing.T) warehouse.Warehouse { return openDSN(t, testenv.ChDBDSN(t)) }},
	}
}

func startBroker(t *testing.T) *streams.Embedded {
	t.Helper()
	b, err := streams.StartEmbedded(streams.EmbeddedConfig{Partitions: 3, Topics: append(topics.Events(), topics.DLQ())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// running is an ingestor started by startIngestor.
type running struct {
	in     *Ingestor
	cancel context.CancelFunc
	done   chan struct{} // closed when Run has returned err
	err    error
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(60 * time.Second):
		t.Fatal("ingestor did not stop within 60s")
		return nil
	}
}

func startIngestor(t *testing.T, b *streams.Embedded, wh warehouse.Warehouse, mod func(*Config, *Ingestor)) *running {
	t.Helper()
	cfg := Config{
		Kafka:          streams.KafkaConfig{Brokers: b.Addrs()},
		Topics:         topics,
		Group:          "ingestor-" + t.Name(),
		BatchRows:      500,
		BatchInterval:  100 * time.Millisecond,
		MaxRecordBytes: 64 << 10,
		RetryMin:       20 * time.Millisecond,
		RetryMax:       500 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg, nil)
	}
	in, err := New(cfg, wh, testLogger(t), NewMetrics(prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	if mod != nil {
		mod(&in.cfg, in)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{in: in, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = in.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, msg := cond()
		if ok {
			return
		}
		last = msg
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
}

func counts(t *testing.T, wh warehouse.Warehouse) map[schemas.Type]uint64 {
	t.Helper()
	out := map[schemas.Type]uint64{}
	for _, ty := range schemas.Types {
		n, err := wh.Count(context.Background(), ty)
		if err != nil {
			t.Fatalf("count %s: %v", ty, err)
		}
		out[ty] = n
	}
	return out
}

func waitCounts(t *testing.T, wh warehouse.Warehouse, want map[schemas.Type]uint64) {
	t.Helper()
	waitFor(t, 60*time.Second, "stored counts", func() (bool, string) {
		got := counts(t, wh)
		for _, ty := range schemas.Types {
			if got[ty] != want[ty] {
				return false, fmt.Sprintf("got %v, want %v", got, want)
			}
		}
		return true, ""
	})
}

// world is a small, valid set of events of every type with their records.
type world struct {
	events []schemas.Event
	want   map[schemas.Type]uint64
}

func newWorld(entities int) *world {
	w := &world{want: map[schemas.Type]uint64{}}
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	add := func(ev schemas.Event) { w.events = append(w.events, ev); w.want[ev.Type()]++ }
	add(&schemas.Segment{EventID: uuid.NewString(), SegmentID: "loyal", UpdatedAt: t0, Size: int64(entities)})
	add(&schemas.Intervention{EventID: uuid.NewString(), InterventionID: "promo-1", Kind: "email", CreatedAt: t0, ContentTemplate: "Hi {{name}}, 20% off"})
	for i := range entities {
		id := fmt.Sprintf("ent-%05d", i)
		add(&schemas.Entity{EventID: uuid.NewString(), EntityID: id, SegmentID: "loyal", CreatedAt: t0, Attributes: map[string]any{"age": float64(20 + i%50)}})
		arm, cost, freq := schemas.ArmTreatment, 0.01, 1
		if i%5 == 0 {
			arm, cost, freq = schemas.ArmControl, 0, 0
		}
		ts := t0.Add(time.Duration(i) * time.Second)
		add(&schemas.Exposure{EventID: uuid.NewString(), ExposureID: uuid.NewString(), EntityID: id, SegmentID: "loyal", Timestamp: ts,
			Channel: "email", CampaignID: "c1", InterventionID: "promo-1", Arm: arm, Cost: cost, FrequencyCumulative: freq})
		if i%3 == 0 {
			add(&schemas.Outcome{EventID: uuid.NewString(), OutcomeID: uuid.NewString(), EntityID: id, Timestamp: ts.Add(time.Hour),
				OutcomeType: "purchase", Value: float64(i % 40), CampaignID: "c1"})
		}
	}
	return w
}

func record(t *testing.T, ev schemas.Event) *kgo.Record {
	t.Helper()
	v, err := schemas.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: ev.Type().Topic(topics.Prefix), Key: []byte(ev.Key()), Value: v,
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte(ev.Type().SchemaName())}}}
}

func produce(t *testing.T, b *streams.Embedded, rs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func (w *world) records(t *testing.T) []*kgo.Record {
	rs := make([]*kgo.Record, len(w.events))
	for i, ev := range w.events {
		rs[i] = record(t, ev)
	}
	return rs
}

// poison returns invalid records with the DLQ kind each must get and a
// fragment its reason must contain.
func poison(t *testing.T) ([]*kgo.Record, []string, []string) {
	hdr := func(v string) []kgo.RecordHeader {
		return []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte(v)}}
	}
	exp := topics.Events()[1]
	good := &schemas.Exposure{EventID: "6f1c1b2e-3d4a-4b5c-8d6e-7f8091a2b3c4", ExposureID: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", EntityID: "ent-x", SegmentID: "loyal",
		Timestamp: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), Channel: "email", CampaignID: "c1", InterventionID: "promo-1",
		Arm: schemas.ArmTreatment, Cost: 0.01, FrequencyCumulative: 1}
	missing := strings.Replace(string(record(t, good).Value), `"arm":"treatment",`, "", 1)
	mistyped := strings.Replace(string(record(t, good).Value), `"cost":0.01`, `"cost":"cheap"`, 1)
	rs := []*kgo.Record{
		{Topic: exp, Key: []byte("p1"), Value: []byte(`{"event_id": nope`), Headers: hdr("exposure.v1")},
		{Topic: exp, Key: []byte("p2"), Value: []byte(missing), Headers: hdr("exposure.v1")},
		{Topic: exp, Key: []byte("p3"), Value: []byte(mistyped), Headers: hdr("exposure.v1")},
		{Topic: exp, Key: []byte("p4"), Value: record(t, good).Value, Headers: hdr("impression.v1")},
		{Topic: exp, Key: []byte("p5"), Value: record(t, good).Value},
		{Topic: exp, Key: []byte("p6"), Value: bytes.Repeat([]byte("x"), 100<<10), Headers: hdr("exposure.v1")},
		{Topic: topics.Events()[2], Key: []byte("p7"), Value: record(t, good).Value, Headers: hdr("exposure.v1")},
	}
	kinds := []string{"invalid_json", "invalid_event", "invalid_event", "unknown_schema", "unknown_schema", "oversize", "wrong_topic"}
	reasons := []string{"invalid character", "exposure.arm: is required", "exposure.cost: must be a number, got string", `unknown event type "impression"`, `no "schema" header`, "more than the limit", "on topic test.outcomes"}
	return rs, kinds, reasons
}

// readDLQ consumes n records from the DLQ topic.
func readDLQ(t *testing.T, b *streams.Embedded, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(topics.DLQ()), kgo.FetchMaxBytes(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d DLQ records before the deadline", len(out), n)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// TestEndToEnd streams valid events with poison records among them through
// a real broker into each warehouse backend, then delivers everything again.
func TestEndToEnd(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			b := startBroker(t)
			wh := be.open(t)
			w := newWorld(300)
			rs := w.records(t)
			bad, kinds, reasons := poison(t)
			// Interleave the poison records with the valid ones.
			var mixed []*kgo.Record
			for i, r := range rs {
				mixed = append(mixed, r)
				if i%50 == 0 && len(bad) > 0 {
					mixed = append(mixed, bad[0])
					bad = bad[1:]
				}
			}
			mixed = append(mixed, bad...)
			r := startIngestor(t, b, wh, nil)
			produce(t, b, mixed...)
			waitCounts(t, wh, w.want)

			bad, _, _ = poison(t)
			dlq := readDLQ(t, b, len(bad))
			if len(dlq) != len(bad) {
				t.Fatalf("DLQ has %d records, want %d", len(dlq), len(bad))
			}
			byKey := map[string]*kgo.Record{}
			for _, d := range dlq {
				byKey[string(d.Key)] = d
			}
			for i, p := range bad {
				d := byKey[string(p.Key)]
				if d == nil {
					t.Errorf("poison record %s missing from the DLQ", p.Key)
					continue
				}
				if got := string(streams.Header(d, streams.DLQHeaderKind)); got != kinds[i] {
					t.Errorf("record %s: DLQ kind %q, want %q", p.Key, got, kinds[i])
				}
				if reason := string(streams.Header(d, streams.DLQHeaderError)); !strings.Contains(reason, reasons[i]) {
					t.Errorf("record %s: DLQ reason %q does not contain %q", p.Key, reason, reasons[i])
				}
				if !bytes.Equal(d.Value, p.Value) {
					t.Errorf("record %s: DLQ value is not the original bytes", p.Key)
				}
				if got := string(streams.Header(d, streams.DLQHeaderTopic)); got != p.Topic {
					t.Errorf("record %s: source topic %q, want %q", p.Key, got, p.Topic)
				}
				if streams.Header(d, streams.DLQHeaderOffset) == nil || streams.Header(d, streams.DLQHeaderPartition) == nil {
					t.Errorf("record %s: DLQ record lacks source partition/offset headers", p.Key)
				}
			}
			if st := r.in.Stats(); st.Invalid != int64(len(bad)) {
				t.Errorf("Stats().Invalid = %d, want %d", st.Invalid, len(bad))
			}

			// Moments before and after a full re-send of every event.
			ctx := context.Background()
			day := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
			if err := wh.RefreshMoments(ctx, day, day); err != nil {
				t.Fatal(err)
			}
			before := moments(t, wh)
			produce(t, b, w.records(t)...)
			waitFor(t, 60*time.Second, "duplicates to be seen", func() (bool, string) {
				st := r.in.Stats()
				return st.Duplicates == int64(len(rs)), fmt.Sprintf("%+v", st)
			})
			waitCounts(t, wh, w.want)
			if err := wh.RefreshMoments(ctx, day, day); err != nil {
				t.Fatal(err)
			}
			if after := moments(t, wh); after != before {
				t.Errorf("moments changed after duplicate delivery:\nbefore %s\nafter  %s", before, after)
			}
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
		})
	}
}

func moments(t *testing.T, wh warehouse.Warehouse) string {
	t.Helper()
	ctx := context.Background()
	em, err := wh.ExposureMoments(ctx, warehouse.MomentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	om, err := wh.OutcomeMoments(ctx, warehouse.MomentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(em) == 0 || len(om) == 0 {
		t.Fatalf("no moments: %d exposure, %d outcome rows", len(em), len(om))
	}
	return fmt.Sprintf("%+v %+v", em, om)
}

// TestCrashBetweenInsertAndCommit kills an ingestor after its first insert
// and before its commit; the next member redelivers and stores nothing twice.
func TestCrashBetweenInsertAndCommit(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			b := startBroker(t)
			wh := be.open(t)
			w := newWorld(200)
			produce(t, b, w.records(t)...)
			crash := errors.New("simulated crash after insert")
			var once sync.Once
			r := startIngestor(t, b, wh, func(c *Config, in *Ingestor) {
				c.BatchRows = 100000
				c.BatchInterval = 300 * time.Millisecond
				if in != nil {
					in.afterInsert = func() error {
						var err error
						once.Do(func() { err = crash })
						return err
					}
				}
			})
			select {
			case <-r.done:
			case <-time.After(60 * time.Second):
				t.Fatal("ingestor did not crash")
			}
			if err := r.err; !errors.Is(err, crash) {
				t.Fatalf("Run returned %v, want the simulated crash", err)
			}
			stored := r.in.Stats().Stored
			if stored == 0 {
				t.Fatal("the crashed ingestor stored nothing before crashing; the test proves nothing")
			}
			r2 := startIngestor(t, b, wh, nil)
			waitCounts(t, wh, w.want)
			waitFor(t, 30*time.Second, "redelivered records to be seen as duplicates", func() (bool, string) {
				st := r2.in.Stats()
				return st.Duplicates == stored, fmt.Sprintf("%+v, crashed one stored %d", st, stored)
			})
			if err := r2.stop(t); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCommitFailures makes the broker refuse offset commits; the batches are
// redelivered to the next member and deduplicated.
func TestCommitFailures(t *testing.T) {
	b := startBroker(t)
	wh := backends()[1].open(t)
	h := b.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.OffsetCommit}, Err: kerr.RebalanceInProgress, Count: -1})
	w := newWorld(100)
	produce(t, b, w.records(t)...)
	r := startIngestor(t, b, wh, nil)
	waitCounts(t, wh, w.want)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if h.Hits() == 0 {
		t.Fatal("no offset commit was attempted")
	}
	h.Remove()
	r2 := startIngestor(t, b, wh, nil)
	waitFor(t, 30*time.Second, "redelivery", func() (bool, string) {
		st := r2.in.Stats()
		return st.Duplicates == int64(len(w.events)), fmt.Sprintf("%+v", st)
	})
	waitCounts(t, wh, w.want)
}

// TestShutdownFlushes cancels the ingestor while it holds an open batch; the
// batch is stored and committed on the way out.
func TestShutdownFlushes(t *testing.T) {
	b := startBroker(t)
	wh := backends()[1].open(t)
	w := newWorld(50)
	r := startIngestor(t, b, wh, func(c *Config, _ *Ingestor) { c.BatchInterval = time.Hour; c.BatchRows = 100000 })
	produce(t, b, w.records(t)...)
	waitFor(t, 30*time.Second, "records to be buffered", func() (bool, string) {
		n := r.in.buffered.Load()
		return n == int64(len(w.events)), fmt.Sprintf("%d buffered", n)
	})
	if got := counts(t, wh)[schemas.TypeEntity]; got != 0 {
		t.Fatalf("%d entities stored before shutdown; the batch should still be open", got)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, wh, w.want)
	r2 := startIngestor(t, b, wh, nil)
	produce(t, b, record(t, newWorld(1).events[0]))
	waitFor(t, 30*time.Second, "the new member to consume", func() (bool, string) {
		st := r2.in.Stats()
		return st.Stored == 1, fmt.Sprintf("%+v", st)
	})
	if st := r2.in.Stats(); st.Duplicates != 0 {
		t.Fatalf("offsets were not committed at shutdown: %d redelivered", st.Duplicates)
	}
}

// TestKcatProducer stores events produced by kcat (librdkafka), a client
// nobody here wrote.
func TestKcatProducer(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed: run `apt-get install -y kcat` (the README's test command does)")
	}
	b := startBroker(t)
	wh := backends()[0].open(t)
	startIngestor(t, b, wh, nil)
	w := newWorld(40)
	byType := map[schemas.Type]*bytes.Buffer{}
	for _, ev := range w.events {
		v, _ := schemas.Encode(ev)
		if byType[ev.Type()] == nil {
			byType[ev.Type()] = &bytes.Buffer{}
		}
		fmt.Fprintf(byType[ev.Type()], "%s\t%s\n", ev.Key(), v)
	}
	dir := t.TempDir()
	for ty, buf := range byType {
		path := filepath.Join(dir, string(ty))
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(kcat, "-P", "-b", b.Addrs()[0], "-t", ty.Topic(topics.Prefix), "-K", "\t",
			"-H", "schema="+ty.SchemaName(), "-l", path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("kcat: %v: %s", err, stderr.String())
		}
	}
	waitCounts(t, wh, w.want)
}

// TestClickHouseRestart stops the ClickHouse server in the middle of a
// stream and starts it again: the ingestor retries with backoff, pauses
// fetching, and loses nothing.
func TestClickHouseRestart(t *testing.T) {
	srv := testenv.StartServer(t)
	b := startBroker(t)
	ctx := context.Background()
	wh, err := warehouse.Open(ctx, strings.TrimSuffix(srv.DSN(), "/default")+"/restart", warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	if err := wh.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	r := startIngestor(t, b, wh, nil)
	w := newWorld(400)
	rs := w.records(t)
	half := len(rs) / 2
	produce(t, b, rs[:half]...)
	waitFor(t, 60*time.Second, "the first half to be stored", func() (bool, string) {
		st := r.in.Stats()
		return st.Stored == int64(half), fmt.Sprintf("%+v", st)
	})
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	produce(t, b, rs[half:]...)
	waitFor(t, 60*time.Second, "inserts to fail while the server is down", func() (bool, string) {
		n := testutilCounter(r.in.m.insertErrors)
		return n > 0, fmt.Sprintf("%v insert errors", n)
	})
	if st := r.in.Stats(); st.Stored != int64(half) {
		t.Fatalf("stored %d while the server was down", st.Stored)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitCounts(t, wh, w.want)
	if st := r.in.Stats(); st.Stored != int64(len(rs)) || st.Duplicates != 0 {
		t.Fatalf("stats after restart: %+v, want %d stored and no duplicates", st, len(rs))
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func testutilCounter(v *prometheus.CounterVec) float64 {
	ch := make(chan prometheus.Metric, 16)
	v.Collect(ch)
	close(ch)
	var sum float64
	for m := range ch {
		var pb dto.Metric
		_ = m.Write(&pb)
		sum += pb.GetCounter().GetValue()
	}
	return sum
}

// TestHugeRecordTruncatedInDLQ sends a record larger than the client can
// produce to the DLQ whole: its head and original length go to the DLQ and
// the records after it are stored.
func TestHugeRecordTruncatedInDLQ(t *testing.T) {
	b := startBroker(t)
	wh := backends()[1].open(t)
	startIngestor(t, b, wh, nil)
	huge := &kgo.Record{Topic: topics.Events()[0], Key: []byte("huge"), Value: bytes.Repeat([]byte("y"), 3<<20),
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte("entity.v1")}}}
	w := newWorld(20)
	produce(t, b, append([]*kgo.Record{huge}, w.records(t)...)...)
	waitCounts(t, wh, w.want)
	d := readDLQ(t, b, 1)[0]
	if got := string(streams.Header(d, streams.DLQHeaderTruncated)); got != fmt.Sprint(3<<20) {
		t.Fatalf("truncated header %q, want the original length", got)
	}
	if len(d.Value) != 64<<10 || string(streams.Header(d, streams.DLQHeaderKind)) != "oversize" {
		t.Fatalf("DLQ value of %d bytes, kind %q", len(d.Value), streams.Header(d, streams.DLQHeaderKind))
	}
}

// TestWrongKey dead-letters a record whose key is not its entity id: the
// per-entity order and the duplicate check depend on it.
func TestWrongKey(t *testing.T) {
	b := startBroker(t)
	wh := backends()[1].open(t)
	startIngestor(t, b, wh, nil)
	r := record(t, newWorld(1).events[2])
	r.Key = []byte("someone-else")
	produce(t, b, r)
	d := readDLQ(t, b, 1)[0]
	if k := string(streams.Header(d, streams.DLQHeaderKind)); k != "wrong_key" {
		t.Fatalf("DLQ kind %q, want wrong_key", k)
	}
}

// TestDuplicatesInAdjacentBatches sends every event twice, the copy in the
// batch right after the original's, so that the copy's lookup runs while the
// original's write may still be in flight: each event is stored once.
func TestDuplicatesInAdjacentBatches(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			b := startBroker(t)
			wh := be.open(t)
			w := newWorld(200)
			rs := w.records(t)
			const chunk = 60
			var seq []*kgo.Record
			for i := 0; i < len(rs); i += chunk {
				part := rs[i:min(i+chunk, len(rs))]
				seq = append(seq, part...)
				for _, r := range part {
					c := *r
					seq = append(seq, &c)
				}
			}
			produce(t, b, seq...)
			r := startIngestor(t, b, wh, func(c *Config, _ *Ingestor) { c.BatchRows = chunk })
			waitFor(t, 60*time.Second, "every record to be seen", func() (bool, string) {
				st := r.in.Stats()
				return st.Stored+st.Duplicates == int64(len(seq)), fmt.Sprintf("%+v of %d", st, len(seq))
			})
			if st := r.in.Stats(); st.Stored != int64(len(rs)) || st.Duplicates != int64(len(rs)) {
				t.Fatalf("stats %+v, want %d stored and %d duplicates", st, len(rs), len(rs))
			}
			waitCounts(t, wh, w.want)
		})
	}
}

// TestLagSeriesFollowPartitions starts a second member: the partitions
// that move to it leave the first member's lag gauge.
func TestLagSeriesFollowPartitions(t *testing.T) {
	b := startBroker(t)
	wh := backends()[1].open(t)
	a := startIngestor(t, b, wh, nil)
	w := newWorld(300)
	produce(t, b, w.records(t)...)
	waitCounts(t, wh, w.want)
	series := func(in *Ingestor) int {
		ch := make(chan prometheus.Metric, 64)
		in.m.lag.Collect(ch)
		close(ch)
		return len(ch)
	}
	total := series(a.in)
	if total < 10 {
		t.Fatalf("first member exports %d lag series, want one per partition it read (at least 10)", total)
	}
	startIngestor(t, b, wh, nil) // same group: the partitions are shared
	produce(t, b, newWorld(300).records(t)...)
	waitFor(t, 60*time.Second, "partitions to move to the second member", func() (bool, string) {
		n := series(a.in)
		return n < total, fmt.Sprintf("first member still exports %d of %d lag series", n, total)
	})
}
