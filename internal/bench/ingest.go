// Package bench holds the `preflight bench` measurements. They are not
// tests: they report what this machine does, next to a baseline measured in
// the same run.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/ingest"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/warehouse"
)

// IngestConfig configures the ingest benchmark.
type IngestConfig struct {
	// Events produced for the throughput phases (default 200,000).
	Events int
	// Rate of the latency phase, events/s (default 20,000).
	Rate int
	// Duration of the latency phase (default 10s).
	Duration time.Duration
	// DSN of a ClickHouse server; empty benchmarks embedded chDB.
	DSN      string
	Password string
	// Brokers of a real Kafka; empty uses the embedded broker.
	Brokers []string
	// BatchRows and BatchInterval tune the ingestor (defaults 10000, 1s).
	BatchRows     int
	BatchInterval time.Duration
	// Seed makes the generated events reproducible.
	Seed uint64
}

// IngestResult is what the benchmark measured.
type IngestResult struct {
	Backend              string
	Events               int
	RawRowsPerSec        float64 // plain batch inserts, no duplicate check
	DirectRowsPerSec     float64 // Warehouse.Insert: duplicate check + batch insert
	PipelineEventsPerSec float64
	Ratio                float64 // pipeline / direct
	RawRatio             float64 // pipeline / raw
	LatencyRate          float64 // achieved produce rate in the latency phase
	LatencyEvents        int
	P50, P99, Max        time.Duration
}

// Ingest measures direct inserts, the Kafka→ClickHouse pipeline's
// throughput, and event→queryable latency at a steady rate.
func Ingest(ctx context.Context, cfg IngestConfig, log *slog.Logger, out io.Writer) (*IngestResult, error) {
	if cfg.Events <= 0 {
		cfg.Events = 200_000
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 20_000
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.BatchRows <= 0 {
		cfg.BatchRows = 10_000
	}
	if cfg.BatchInterval <= 0 {
		cfg.BatchInterval = time.Second
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 1))
	run := fmt.Sprintf("%d", time.Now().Unix())
	var dataDir string
	if cfg.DSN == "" {
		d, err := os.MkdirTemp("", "preflight-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dataDir = d
	}
	dsnFor := func(db string) (string, error) { return databaseDSN(cfg.DSN, dataDir, "bench_"+db+"_"+run) }
	res := &IngestResult{Events: cfg.Events}

	// Phase 1: the baselines. The same rows inserted directly in batches,
	// once as plain batch inserts (clickhouse-go batches or one chDB
	// INSERT per batch, no duplicate check) and once through
	// Warehouse.Insert, which adds the event_id lookup the ingestor uses.
	events := exposures(rng, cfg.Events, time.Now().UTC().Add(-time.Hour), time.Hour/time.Duration(cfg.Events))
	fmt.Fprintf(out, "phase 1/3: %d exposures inserted directly in batches of %d\n", cfg.Events, cfg.BatchRows)
	for _, mode := range []string{"raw", "dedup"} {
		dsn, err := dsnFor("direct_" + mode)
		if err != nil {
			return nil, err
		}
		rate, backend, err := direct(ctx, dsn, cfg, events, mode == "raw", out)
		if err != nil {
			return nil, err
		}
		res.Backend = backend
		if mode == "raw" {
			res.RawRowsPerSec = rate
		} else {
			res.DirectRowsPerSec = rate
		}
		fmt.Fprintf(out, "\n  direct (%s): %.0f rows/s\n", mode, rate)
	}

	// Phase 2: the same rows through Kafka and the ingestor.
	fmt.Fprintf(out, "phase 2/3: the same %d events produced to Kafka, then ingested\n", cfg.Events)
	topics := streams.Topics{Prefix: "bench" + run + "."}
	dsn, err := dsnFor("pipeline")
	if err != nil {
		return nil, err
	}
	st, err := stack.Start(ctx, stack.Config{Brokers: cfg.Brokers, DSN: dsn, Password: cfg.Password, Topics: topics, DeferIngest: true,
		Ingest: ingest.Config{Group: "bench-" + run, BatchRows: cfg.BatchRows, BatchInterval: cfg.BatchInterval}}, log)
	if err != nil {
		return nil, err
	}
	if err := produceAll(ctx, st, topics, events); err != nil {
		st.Close()
		return nil, err
	}
	start := time.Now()
	st.StartIngestor(ctx)
	bar := progressbar.NewOptions(cfg.Events, progressbar.OptionSetWriter(out), progressbar.OptionShowCount(), progressbar.OptionSetItsString("events"), progressbar.OptionShowIts())
	for {
		n := st.Ingestor.Stats().Stored
		_ = bar.Set(int(n))
		if n >= int64(cfg.Events) {
			break
		}
		select {
		case <-ctx.Done():
			st.Close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	res.PipelineEventsPerSec = float64(cfg.Events) / time.Since(start).Seconds()
	res.Ratio = res.PipelineEventsPerSec / res.DirectRowsPerSec
	res.RawRatio = res.PipelineEventsPerSec / res.RawRowsPerSec
	_ = bar.Finish()
	if n, err := st.Warehouse.Count(ctx, schemas.TypeExposure); err != nil || n != uint64(cfg.Events) {
		st.Close()
		return nil, fmt.Errorf("pipeline stored %d exposures, want %d (err %v)", n, cfg.Events, err)
	}
	if err := st.Close(); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "\n  pipeline: %.0f events/s (%.0f%% of direct with dedup, %.0f%% of raw batch inserts)\n", res.PipelineEventsPerSec, 100*res.Ratio, 100*res.RawRatio)

	// Phase 3: latency at a steady rate.
	fmt.Fprintf(out, "phase 3/3: %d events/s for %s, event→queryable latency\n", cfg.Rate, cfg.Duration)
	topics = streams.Topics{Prefix: "benchlat" + run + "."}
	dsn, err = dsnFor("latency")
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	onStored := func(times []time.Time, stored time.Time) {
		mu.Lock()
		for _, t := range times {
			lats = append(lats, stored.Sub(t))
		}
		mu.Unlock()
	}
	st, err = stack.Start(ctx, stack.Config{Brokers: cfg.Brokers, DSN: dsn, Password: cfg.Password, Topics: topics,
		Ingest: ingest.Config{Group: "benchlat-" + run, BatchRows: cfg.BatchRows, BatchInterval: cfg.BatchInterval, OnStored: onStored}}, log)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	n := int(float64(cfg.Rate) * cfg.Duration.Seconds())
	lev := exposures(rng, n, time.Now().UTC(), time.Second/time.Duration(cfg.Rate))
	achieved, err := produceAtRate(ctx, st, topics, lev, cfg.Rate, out)
	if err != nil {
		return nil, err
	}
	res.LatencyRate = achieved
	deadline := time.Now().Add(2 * time.Minute)
	for st.Ingestor.Stats().Stored < int64(n) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lats) < n {
		return nil, fmt.Errorf("latency phase: %d of %d events stored within 2 minutes", len(lats), n)
	}
	slices.Sort(lats)
	res.LatencyEvents = len(lats)
	res.P50 = lats[len(lats)/2]
	res.P99 = lats[len(lats)*99/100]
	res.Max = lats[len(lats)-1]
	fmt.Fprintf(out, "\n  latency at %.0f events/s: p50 %s, p99 %s, max %s\n", achieved, res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond), res.Max.Round(time.Millisecond))
	return res, nil
}

// direct inserts events into a fresh database at dsn in batches and returns
// rows/s and the backend's name. raw skips the duplicate check.
func direct(ctx context.Context, dsn string, cfg IngestConfig, events []schemas.Event, raw bool, out io.Writer) (float64, string, error) {
	wh, err := warehouse.Open(ctx, dsn, warehouse.Options{Password: cfg.Password})
	if err != nil {
		return 0, "", err
	}
	defer wh.Close()
	if err := wh.Migrate(ctx); err != nil {
		return 0, "", err
	}
	insert := func(rows []warehouse.Row) error {
		_, err := wh.Insert(ctx, schemas.TypeExposure, rows)
		return err
	}
	if raw {
		ui, ok := wh.(warehouse.UncheckedInserter)
		if !ok {
			return 0, "", fmt.Errorf("%s has no unchecked insert", wh.Backend())
		}
		insert = func(rows []warehouse.Row) error {
			_, err := ui.InsertUnchecked(ctx, schemas.TypeExposure, rows)
			return err
		}
	}
	bar := progressbar.NewOptions(len(events), progressbar.OptionSetWriter(out), progressbar.OptionShowCount(), progressbar.OptionSetItsString("rows"), progressbar.OptionShowIts())
	start := time.Now()
	for i := 0; i < len(events); i += cfg.BatchRows {
		chunk := events[i:min(i+cfg.BatchRows, len(events))]
		rows := make([]warehouse.Row, len(chunk))
		for j, ev := range chunk {
			rows[j] = warehouse.Row{Event: ev, Offset: -1}
		}
		if err := insert(rows); err != nil {
			return 0, "", err
		}
		_ = bar.Add(len(chunk))
	}
	rate := float64(len(events)) / time.Since(start).Seconds()
	_ = bar.Finish()
	return rate, wh.Backend(), nil
}

// databaseDSN returns the DSN of database db on the server dsn, or on the
// embedded engine under dataDir when dsn is empty.
func databaseDSN(dsn, dataDir, db string) (string, error) {
	if dsn == "" {
		abs, err := filepath.Abs(dataDir)
		if err != nil {
			return "", err
		}
		return "chdb://" + abs + "?database=" + db, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("cannot parse DSN: %w", err)
	}
	u.Path = "/" + db
	return u.String(), nil
}

// exposures returns n valid exposure events whose times start at t0 and
// advance by step, as a live stream's do (events are produced as they
// happen).
func exposures(rng *rand.Rand, n int, t0 time.Time, step time.Duration) []schemas.Event {
	out := make([]schemas.Event, n)
	channels := []string{schemas.ChannelEmail, schemas.ChannelSMS, schemas.ChannelPush}
	for i := range out {
		arm, cost, freq := schemas.ArmTreatment, 0.002+0.01*rng.Float64(), 1+rng.IntN(6)
		if rng.IntN(5) == 0 {
			arm, cost, freq = schemas.ArmControl, 0, 0
		}
		out[i] = &schemas.Exposure{
			EventID: uuid.NewString(), ExposureID: uuid.NewString(),
			EntityID:  fmt.Sprintf("ent-%07d", rng.IntN(1_000_000)),
			SegmentID: fmt.Sprintf("seg_%d", rng.IntN(5)),
			Timestamp: t0.Add(time.Duration(i) * step),
			Channel:   channels[rng.IntN(3)], CampaignID: fmt.Sprintf("camp-%02d", rng.IntN(12)),
			InterventionID: fmt.Sprintf("int-%02d", rng.IntN(12)), Arm: arm, Cost: cost, FrequencyCumulative: freq,
			Content: map[string]any{"subject": "Last chance: 20% off", "urgency": 0.8},
		}
	}
	return out
}

func toRecord(topics streams.Topics, ev schemas.Event) (*kgo.Record, error) {
	v, err := schemas.Encode(ev)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: ev.Type().Topic(topics.Prefix), Key: []byte(ev.Key()), Value: v,
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte(ev.Type().SchemaName())}}}, nil
}

func produceAll(ctx context.Context, st *stack.Stack, topics streams.Topics, events []schemas.Event) error {
	cl, err := st.Client(kgo.ProducerLinger(5 * time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	for _, ev := range events {
		r, err := toRecord(topics, ev)
		if err != nil {
			return err
		}
		wg.Add(1)
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// produceAtRate produces events at rate per second in 10 ms ticks and
// returns the rate achieved.
func produceAtRate(ctx context.Context, st *stack.Stack, topics streams.Topics, events []schemas.Event, rate int, out io.Writer) (float64, error) {
	cl, err := st.Client(kgo.ProducerLinger(0))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(events))
	for i, ev := range events {
		if recs[i], err = toRecord(topics, ev); err != nil {
			return 0, err
		}
	}
	bar := progressbar.NewOptions(len(recs), progressbar.OptionSetWriter(out), progressbar.OptionShowCount(), progressbar.OptionSetItsString("events"), progressbar.OptionShowIts())
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for sent < len(recs) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		due := min(int(time.Since(start).Seconds()*float64(rate)), len(recs))
		for ; sent < due; sent++ {
			wg.Add(1)
			cl.Produce(ctx, recs[sent], func(_ *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			})
		}
		_ = bar.Set(sent)
	}
	wg.Wait()
	_ = bar.Finish()
	return float64(len(recs)) / time.Since(start).Seconds(), first
}
