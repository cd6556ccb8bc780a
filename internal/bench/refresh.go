package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/schollz/progressbar/v3"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/ingest"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/synth"
	"github.com/preflight-hq/preflight/warehouse"
)

// Phases of the refresh benchmark, as named by RefreshConfig.Phases.
const (
	PhaseRefresh = "refresh"
	PhaseLatency = "latency"
)

// RefreshConfig configures the refresh benchmark. Zero values take the
// defaults of the command line (see Validate for the bounds).
type RefreshConfig struct {
	// Events is the number of exposures and outcomes stored before the
	// full refresh (default 1,000,000).
	Events int
	// Appends are the sizes, in percent of Events, of the batches of newer
	// events appended after the full refresh; each is followed by one
	// timed incremental refresh from the watermark (default 1 and 10).
	Appends []float64
	// BatchRows is the number of rows per direct insert in the refresh
	// phase and the ingestor's batch size in the latency phase (default
	// 10,000).
	BatchRows int
	// BatchInterval is the ingestor's batch interval (default 1s).
	BatchInterval time.Duration
	// Rate is the produce rate of the latency phase, events/s (default
	// 5,000).
	Rate int
	// Duration is the length of the latency phase (default 20s).
	Duration time.Duration
	// Interval is the time between two refreshes of the latency phase's
	// refresher, as the calibrator's --refresh-interval (default 1s).
	Interval time.Duration
	// Phases lists the phases to run, PhaseRefresh and PhaseLatency
	// (default both).
	Phases []string
	// DSN of a ClickHouse server; empty benchmarks embedded chDB.
	DSN      string
	Password string
	// Brokers of a real Kafka; empty uses the embedded broker.
	Brokers []string
	// Seed makes the generated events reproducible.
	Seed uint64
}

func (c *RefreshConfig) setDefaults() {
	if c.Events == 0 {
		c.Events = 1_000_000
	}
	if c.Appends == nil {
		c.Appends = []float64{1, 10}
	}
	if c.BatchRows == 0 {
		c.BatchRows = 10_000
	}
	if c.BatchInterval == 0 {
		c.BatchInterval = time.Second
	}
	if c.Rate == 0 {
		c.Rate = 5_000
	}
	if c.Duration == 0 {
		c.Duration = 20 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if len(c.Phases) == 0 {
		c.Phases = []string{PhaseRefresh, PhaseLatency}
	}
}

// Validate reports every value out of bounds, each error naming its flag.
// Zero values stand for the defaults and pass.
func (c RefreshConfig) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Events < 1_000 || c.Events > 100_000_000 {
		errs = append(errs, fmt.Errorf("events: %d is not in 1,000…100,000,000", c.Events))
	}
	for _, p := range c.Appends {
		if !(p > 0 && p <= 100) {
			errs = append(errs, fmt.Errorf("appends: %g%% is not in (0, 100]", p))
		}
	}
	if c.BatchRows < 1 || c.BatchRows > 1_000_000 {
		errs = append(errs, fmt.Errorf("batch rows: %d is not in 1…1,000,000", c.BatchRows))
	}
	if c.BatchInterval < 0 {
		errs = append(errs, fmt.Errorf("batch interval: %s is negative", c.BatchInterval))
	}
	if c.Rate < 1 || c.Rate > 1_000_000 {
		errs = append(errs, fmt.Errorf("rate: %d events/s is not in 1…1,000,000", c.Rate))
	}
	if c.Duration < time.Second {
		errs = append(errs, fmt.Errorf("duration: %s is shorter than 1s", c.Duration))
	}
	if c.Interval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("interval: %s is below 10ms", c.Interval))
	}
	if c.Duration >= time.Second && c.Interval > c.Duration {
		errs = append(errs, fmt.Errorf("interval: %s is longer than the duration %s", c.Interval, c.Duration))
	}
	for i, p := range c.Phases {
		if p != PhaseRefresh && p != PhaseLatency {
			errs = append(errs, fmt.Errorf("phases: %q is not %s or %s", p, PhaseRefresh, PhaseLatency))
		}
		if slices.Index(c.Phases, p) != i {
			errs = append(errs, fmt.Errorf("phases: %q is listed twice", p))
		}
	}
	return errors.Join(errs...)
}

// RefreshRun is one timed RefreshSince.
type RefreshRun struct {
	// Label says which refresh it was: "full" or "+N%".
	Label string
	// Stored is the number of raw exposures and outcomes in the tables
	// when it ran.
	Stored int
	// Rows is the count RefreshSince returned: the rows stamped in a later
	// second than its since.
	Rows uint64
	// Elapsed is the wall time of the call.
	Elapsed time.Duration
}

// PerMillion returns the seconds the run took per million new rows.
func (r RefreshRun) PerMillion() float64 {
	if r.Rows == 0 {
		return math.NaN()
	}
	return r.Elapsed.Seconds() / (float64(r.Rows) / 1e6)
}

// RefreshResult is what the refresh benchmark measured. The fields of a
// phase that did not run are zero.
type RefreshResult struct {
	Backend string
	// Events is RefreshConfig.Events; LoadRowsPerSec is the rate they were
	// inserted at (not part of any refresh time).
	Events         int
	LoadRowsPerSec float64
	// Full is RefreshSince from the zero time over Events rows;
	// Incremental are the refreshes from the watermark after each append.
	Full        RefreshRun
	Incremental []RefreshRun

	// LatencyRate is the produce rate achieved in the latency phase and
	// LatencyEvents the events produced.
	LatencyRate   float64
	LatencyEvents int
	// Refreshes is the number of refresher turns during the phase, and
	// RefreshP50/RefreshP99 the durations of their RefreshSince calls.
	Refreshes              int
	RefreshP50, RefreshP99 time.Duration
	// Produced* are per event: from the event's Kafka record timestamp to
	// the end of the first refresh that started after its batch was
	// stored (its moment updated).
	ProducedP50, ProducedP99, ProducedMax time.Duration
	// Stored* are per event: from its batch's insert being acknowledged to
	// its moment updated.
	StoredP50, StoredP99 time.Duration
	// Ingested* are per refresh that read new rows: from the newest row's
	// ingested_at (whole seconds) to the end of the refresh, the
	// calibrator's calib_event_to_moment_seconds.
	IngestedP50, IngestedP99 time.Duration
}

// Refresh measures RefreshSince: the time of a full refresh and of
// incremental refreshes after appends (phase "refresh"), and the time from
// an event produced to Kafka until its moments are refreshed by a
// refresher loop like the calibrator's (phase "latency").
func Refresh(ctx context.Context, cfg RefreshConfig, log *slog.Logger, out io.Writer) (*RefreshResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
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
	dsnFor := func(db string) (string, error) { return databaseDSN(cfg.DSN, dataDir, "benchrefresh_"+db+"_"+run) }
	res := &RefreshResult{Events: cfg.Events}
	if slices.Contains(cfg.Phases, PhaseRefresh) {
		dsn, err := dsnFor("size")
		if err != nil {
			return nil, err
		}
		if err := refreshBySize(ctx, cfg, dsn, res, out); err != nil {
			return nil, err
		}
	}
	if slices.Contains(cfg.Phases, PhaseLatency) {
		dsn, err := dsnFor("latency")
		if err != nil {
			return nil, err
		}
		if err := refreshLatency(ctx, cfg, dsn, run, res, log, out); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// newBar returns a progress bar of n items on out. The spinner does not
// redraw on a timer of its own, so nothing writes to out once the bar is
// finished.
func newBar(n int, items string, out io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions(n, progressbar.OptionSetWriter(out), progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionShowCount(), progressbar.OptionSetItsString(items), progressbar.OptionShowIts())
}

// refreshBySize is the refresh phase: it stores cfg.Events synthetic
// exposures and outcomes, times RefreshSince from the zero time, then
// appends each of cfg.Appends in turn (the next events of the same world in
// time order) and times RefreshSince from the watermark.
func refreshBySize(ctx context.Context, cfg RefreshConfig, dsn string, res *RefreshResult, out io.Writer) error {
	extra := 0
	for _, p := range cfg.Appends {
		extra += appendSize(cfg.Events, p)
	}
	fmt.Fprintf(out, "refresh phase: a synthetic world of %d exposures and outcomes (%d stored, then %d appended)\n", cfg.Events+extra, cfg.Events, extra)
	events, err := synthStream(ctx, cfg.Events+extra, cfg.Seed)
	if err != nil {
		return err
	}
	wh, err := warehouse.Open(ctx, dsn, warehouse.Options{Password: cfg.Password})
	if err != nil {
		return err
	}
	defer wh.Close()
	if err := wh.Migrate(ctx); err != nil {
		return err
	}
	cw, ok := wh.(warehouse.Calibrations)
	if !ok {
		return fmt.Errorf("%s does not implement the calibration tables", wh.Backend())
	}
	res.Backend = wh.Backend()

	fmt.Fprintf(out, "  storing %d events directly in batches of %d\n", cfg.Events, cfg.BatchRows)
	start := time.Now()
	if err := insertEvents(ctx, wh, events[:cfg.Events], cfg.BatchRows, out); err != nil {
		return err
	}
	res.LoadRowsPerSec = float64(cfg.Events) / time.Since(start).Seconds()
	fmt.Fprintf(out, "\n  stored at %.0f rows/s\n", res.LoadRowsPerSec)

	start = time.Now()
	wm, rows, err := cw.RefreshSince(ctx, time.Time{})
	if err != nil {
		return err
	}
	res.Full = RefreshRun{Label: "full", Stored: cfg.Events, Rows: rows, Elapsed: time.Since(start)}
	fmt.Fprintf(out, "  full refresh of %d rows: %.2f s (%.2f s per million)\n", rows, res.Full.Elapsed.Seconds(), res.Full.PerMillion())
	if rows != uint64(cfg.Events) {
		return fmt.Errorf("full refresh read %d rows, want %d", rows, cfg.Events)
	}

	stored, next := cfg.Events, cfg.Events
	for _, p := range cfg.Appends {
		n := appendSize(cfg.Events, p)
		// The appended rows must be stamped in a later second than the
		// watermark, as live rows are by the time the next refresh runs.
		if err := waitPastSecond(ctx, wm); err != nil {
			return err
		}
		fmt.Fprintf(out, "  appending %d events (%g%%)\n", n, p)
		if err := insertEvents(ctx, wh, events[next:next+n], cfg.BatchRows, out); err != nil {
			return err
		}
		fmt.Fprintln(out)
		next += n
		stored += n
		start = time.Now()
		newest, rows, err := cw.RefreshSince(ctx, wm)
		if err != nil {
			return err
		}
		r := RefreshRun{Label: fmt.Sprintf("+%g%%", p), Stored: stored, Rows: rows, Elapsed: time.Since(start)}
		res.Incremental = append(res.Incremental, r)
		fmt.Fprintf(out, "  incremental refresh of %d new rows over %d stored: %.2f s (%.2f s per million new rows)\n", rows, stored, r.Elapsed.Seconds(), r.PerMillion())
		if rows != uint64(n) {
			return fmt.Errorf("incremental refresh after %g%% read %d new rows, want %d", p, rows, n)
		}
		wm = newest
	}
	return nil
}

// appendSize returns the number of events p percent of n stands for (at
// least one).
func appendSize(n int, p float64) int {
	return max(1, int(math.Round(float64(n)*p/100)))
}

// waitPastSecond returns once the wall clock is in a later second than t's.
func waitPastSecond(ctx context.Context, t time.Time) error {
	next := t.Truncate(time.Second).Add(time.Second)
	if d := time.Until(next); d > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return nil
}

// synthStream returns the first n exposures and outcomes, in time order,
// of a synthetic world (synth, default campaigns) grown until it has that
// many.
func synthStream(ctx context.Context, n int, seed uint64) ([]schemas.Event, error) {
	entities := max(100, n/10) // the default world has about 11 exposures and outcomes per entity
	for {
		var evs []schemas.Event
		sink := eventsink.Func(func(_ context.Context, ev schemas.Event) error {
			if t := ev.Type(); t == schemas.TypeExposure || t == schemas.TypeOutcome {
				evs = append(evs, ev)
			}
			return nil
		})
		if _, err := synth.Generate(ctx, synth.Config{Seed: seed, Entities: entities}, sink); err != nil {
			return nil, err
		}
		if len(evs) >= n {
			return evs[:n], nil
		}
		entities = int(float64(entities)*1.05*float64(n)/float64(max(len(evs), 1))) + 1
	}
}

// insertEvents stores events in order in batches of batchRows, one insert
// per event type and batch, without the duplicate check when the backend
// has one (the events are new). The last rows, up to 1,000, are inserted
// in a second of their own: the second a refresh's watermark falls in
// then holds as few rows as a live stream's last second, not a bulk
// load's (RefreshSince reads the rows of that second again).
func insertEvents(ctx context.Context, wh warehouse.Warehouse, events []schemas.Event, batchRows int, out io.Writer) error {
	insert := func(t schemas.Type, rows []warehouse.Row) error {
		if len(rows) == 0 {
			return nil
		}
		if ui, ok := wh.(warehouse.UncheckedInserter); ok {
			_, err := ui.InsertUnchecked(ctx, t, rows)
			return err
		}
		_, err := wh.Insert(ctx, t, rows)
		return err
	}
	bar := newBar(len(events), "rows", out)
	batches := func(evs []schemas.Event) error {
		for chunk := range slices.Chunk(evs, batchRows) {
			byType := map[schemas.Type][]warehouse.Row{}
			for _, ev := range chunk {
				byType[ev.Type()] = append(byType[ev.Type()], warehouse.Row{Event: ev, Offset: -1})
			}
			for _, t := range []schemas.Type{schemas.TypeExposure, schemas.TypeOutcome} {
				if err := insert(t, byType[t]); err != nil {
					return err
				}
			}
			_ = bar.Add(len(chunk))
		}
		return nil
	}
	tail := min(len(events)/10, 1_000)
	if err := batches(events[:len(events)-tail]); err != nil {
		return err
	}
	if tail > 0 {
		if err := waitPastSecond(ctx, time.Now()); err != nil {
			return err
		}
		if err := batches(events[len(events)-tail:]); err != nil {
			return err
		}
	}
	_ = bar.Finish()
	return nil
}

// refreshTurn is one turn of the latency phase's refresher.
type refreshTurn struct {
	start, end time.Time // around RefreshSince; end is when the moments were updated
	newest     time.Time // the newest ingested_at it covered
	rows       uint64
}

// storedBatch is one batch the ingestor made durable.
type storedBatch struct {
	produced []time.Time
	stored   time.Time
}

// refreshLatency is the latency phase: the stack (broker, ingestor,
// warehouse) runs, events are produced at cfg.Rate for cfg.Duration, and a
// refresher refreshes the moments every cfg.Interval from its watermark as
// the calibrator's scope loop does (Watermark, RefreshSince, SetWatermark).
func refreshLatency(ctx context.Context, cfg RefreshConfig, dsn, run string, res *RefreshResult, log *slog.Logger, out io.Writer) error {
	fmt.Fprintf(out, "latency phase: %d events/s for %s, refresh every %s, event→moment latency\n", cfg.Rate, cfg.Duration, cfg.Interval)
	topics := streams.Topics{Prefix: "benchrefresh" + run + "."}
	var (
		mu      sync.Mutex
		batches []storedBatch
		nStored int
	)
	onStored := func(times []time.Time, stored time.Time) {
		mu.Lock()
		batches = append(batches, storedBatch{produced: slices.Clone(times), stored: stored})
		nStored += len(times)
		mu.Unlock()
	}
	st, err := stack.Start(ctx, stack.Config{Brokers: cfg.Brokers, DSN: dsn, Password: cfg.Password, Topics: topics,
		Ingest: ingest.Config{Group: "benchrefresh-" + run, BatchRows: cfg.BatchRows, BatchInterval: cfg.BatchInterval, OnStored: onStored}}, log)
	if err != nil {
		return err
	}
	defer st.Close()
	cw, ok := st.Warehouse.(warehouse.Calibrations)
	if !ok {
		return fmt.Errorf("%s does not implement the calibration tables", st.Warehouse.Backend())
	}
	if res.Backend == "" {
		res.Backend = st.Warehouse.Backend()
	}

	// The refresher: one turn every Interval; a turn longer than that is
	// followed at once by the next, as with the calibrator's ticker.
	var (
		tmu   sync.Mutex
		turns []refreshTurn
	)
	rctx, stopRefresher := context.WithCancel(ctx)
	defer stopRefresher()
	refErr := make(chan error, 1)
	go func() {
		refErr <- refresher(rctx, cw, "bench-"+run, cfg.Interval, func(t refreshTurn) {
			tmu.Lock()
			turns = append(turns, t)
			tmu.Unlock()
		})
	}()

	n := int(float64(cfg.Rate) * cfg.Duration.Seconds())
	rng := rand.New(rand.NewPCG(cfg.Seed, 2))
	events := liveEvents(rng, n, time.Now().UTC(), time.Second/time.Duration(cfg.Rate))
	achieved, err := produceAtRate(ctx, st, topics, events, cfg.Rate, out)
	if err != nil {
		return err
	}
	res.LatencyRate, res.LatencyEvents = achieved, n

	// Wait until every event is stored, then until a refresh that started
	// after the last batch was stored has ended.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		got := nStored
		done := got >= n
		var last time.Time
		if done {
			for _, b := range batches {
				if b.stored.After(last) {
					last = b.stored
				}
			}
		}
		mu.Unlock()
		if done {
			tmu.Lock()
			covered := len(turns) > 0 && turns[len(turns)-1].start.After(last)
			tmu.Unlock()
			if covered {
				break
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("latency phase: events not stored and refreshed within 2 minutes (%d of %d stored)", got, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-refErr:
			return fmt.Errorf("latency phase: refresher stopped: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stopRefresher()
	if err := <-refErr; err != nil {
		return fmt.Errorf("latency phase: refresher: %w", err)
	}

	mu.Lock()
	defer mu.Unlock()
	tmu.Lock()
	defer tmu.Unlock()
	var durs, produced, storedLat, ingested []time.Duration
	for _, t := range turns {
		durs = append(durs, t.end.Sub(t.start))
		if t.rows > 0 {
			ingested = append(ingested, t.end.Sub(t.newest))
		}
	}
	for _, b := range batches {
		// The first refresh that started after the insert was acknowledged
		// certainly covers the batch; an earlier one may have seen it too,
		// so the latencies are an upper bound by at most one turn.
		i, _ := slices.BinarySearchFunc(turns, b.stored, func(t refreshTurn, s time.Time) int { return t.start.Compare(s) })
		for i < len(turns) && !turns[i].start.After(b.stored) {
			i++
		}
		if i == len(turns) {
			return errors.New("latency phase: a stored batch has no refresh after it")
		}
		upd := turns[i].end
		for _, p := range b.produced {
			produced = append(produced, upd.Sub(p))
			storedLat = append(storedLat, upd.Sub(b.stored))
		}
	}
	res.Refreshes = len(turns)
	res.RefreshP50, res.RefreshP99 = quantile(durs, 0.5), quantile(durs, 0.99)
	res.ProducedP50, res.ProducedP99, res.ProducedMax = quantile(produced, 0.5), quantile(produced, 0.99), quantile(produced, 1)
	res.StoredP50, res.StoredP99 = quantile(storedLat, 0.5), quantile(storedLat, 0.99)
	res.IngestedP50, res.IngestedP99 = quantile(ingested, 0.5), quantile(ingested, 0.99)
	fmt.Fprintf(out, "\n  %d refreshes (p50 %s, p99 %s); event produced→moment p50 %s, p99 %s, max %s; stored→moment p50 %s, p99 %s; newest ingested_at→moment p50 %s, p99 %s\n",
		res.Refreshes, ms(res.RefreshP50), ms(res.RefreshP99), ms(res.ProducedP50), ms(res.ProducedP99), ms(res.ProducedMax),
		ms(res.StoredP50), ms(res.StoredP99), ms(res.IngestedP50), ms(res.IngestedP99))
	return nil
}

// refresher runs the calibrator's refresh turn for scope every interval
// until ctx ends, and reports each turn to record. It returns the first
// error of a turn not caused by ctx ending.
func refresher(ctx context.Context, cw warehouse.Calibrations, scope string, interval time.Duration, record func(refreshTurn)) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		wm, err := cw.Watermark(ctx, scope)
		if err != nil {
			return ignoreDone(ctx, err)
		}
		start := time.Now()
		newest, rows, err := cw.RefreshSince(ctx, wm)
		if err != nil {
			return ignoreDone(ctx, err)
		}
		end := time.Now()
		if newest.After(wm) {
			if err := cw.SetWatermark(ctx, scope, newest); err != nil {
				return ignoreDone(ctx, err)
			}
		}
		record(refreshTurn{start: start, end: end, newest: newest, rows: rows})
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// ignoreDone returns nil when ctx has ended (the error is then the stop),
// and err otherwise.
func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// quantile returns the q-quantile of ds (nearest rank, q = 1 the maximum),
// sorting ds in place; zero when ds is empty.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(int(q*float64(len(ds))), len(ds)-1)]
}

// ms rounds d to the millisecond for printing.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// liveEvents returns n events whose times start at t0 and advance by step:
// about three in four are exposures (as exposures makes them), the others
// outcomes of an entity and campaign exposed earlier in the stream, so
// that they are attributed.
func liveEvents(rng *rand.Rand, n int, t0 time.Time, step time.Duration) []schemas.Event {
	all := exposures(rng, n, t0, step)
	var seen []*schemas.Exposure
	kinds := []string{"open", "click", "visit", "purchase"}
	for i, ev := range all {
		if len(seen) == 0 || rng.IntN(4) != 0 {
			seen = append(seen, ev.(*schemas.Exposure))
			continue
		}
		x := seen[rng.IntN(len(seen))]
		kind, value := kinds[rng.IntN(len(kinds))], 0.0
		if kind == "purchase" {
			value = math.Round(2000+18000*rng.Float64()) / 100
		}
		all[i] = &schemas.Outcome{EventID: uuid.NewString(), OutcomeID: uuid.NewString(), EntityID: x.EntityID,
			Timestamp: t0.Add(time.Duration(i) * step), OutcomeType: kind, Value: value, CampaignID: x.CampaignID}
	}
	return all
}
