package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/preflight-hq/preflight/internal/simworld"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/simulation"
	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/simulation/service"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/streams/reqrep"
)

// Transports of the simulator benchmark, as named by
// SimulateConfig.Transports.
const (
	// TransportEngine calls Engine.Simulate in-process: no decoding, no
	// encoding, no network. It is the baseline.
	TransportEngine = "engine"
	// TransportHTTP posts to /api/v1/simulate over loopback.
	TransportHTTP = "http"
	// TransportKafka sends over Kafka request/reply (reqrep.Client).
	TransportKafka = "kafka"
)

// Request mixes of the simulator benchmark, as named by
// SimulateConfig.Mixes.
const (
	// MixRepeat sends the identical standard request every time: after the
	// first, every persona judgement comes from the cache.
	MixRepeat = "repeat"
	// MixVaried appends a request number to every content variant's
	// template, so each request's variants are new to the judgement cache
	// and every persona it samples is judged again.
	MixVaried = "varied"
)

// Phases of the simulator benchmark, as PhaseResult.Phase names them.
const (
	PhaseBaseline   = "baseline"   // sequential, one request at a time
	PhaseSteady     = "steady"     // open loop at a fixed rate
	PhaseSaturation = "saturation" // closed loop with C callers
)

// SimulateConfig configures the simulator benchmark. Zero values take the
// defaults (see Validate for the bounds).
type SimulateConfig struct {
	// Entities is the size of the synthetic world (default
	// simworld.DefaultEntities, 40,000).
	Entities int
	// Seed draws the world (default 1).
	Seed uint64
	// Rate is the arrival rate of the steady phase, requests/s (default
	// 20).
	Rate float64
	// Duration is the length of each steady run, per transport and mix
	// (default 20s).
	Duration time.Duration
	// SaturationDuration is the length of each saturation run, per
	// transport, mix and concurrency (default 10s).
	SaturationDuration time.Duration
	// Concurrency lists the closed-loop callers of the saturation runs
	// (default 2×GOMAXPROCS and 16).
	Concurrency []int
	// Baseline is the number of sequential requests of the baseline, per
	// mix (default 100).
	Baseline int
	// LargeWarm is the number of warm calls of the 1000-persona request
	// after its first, cold one (default 5).
	LargeWarm int
	// Workers is the simulator's Kafka request workers (default 8).
	Workers int
	// Partitions of the simulator's topics (default 4).
	Partitions int32
	// MaxInFlight bounds the outstanding requests of a steady run (default
	// 1,024). A due request that finds them all busy waits, and its wait
	// counts in its latency.
	MaxInFlight int
	// Transports lists the transports of the steady and saturation runs:
	// TransportEngine, TransportHTTP, TransportKafka (default all three).
	Transports []string
	// Mixes lists the request mixes: MixRepeat, MixVaried (default both).
	Mixes []string
	// Timeout bounds one request (default 60s): the simulator's request
	// timeout, the Kafka deadline and the HTTP client's timeout.
	Timeout time.Duration
	// TopicPrefix prefixes every topic (default "benchsim-<unix time>.").
	TopicPrefix string
	// DSN of a ClickHouse server; empty uses embedded chDB under DataDir
	// (default a temporary directory).
	DSN      string
	Password string
	DataDir  string
	// Brokers of a real Kafka; empty uses the embedded broker.
	Brokers []string
	// Progress receives the progress bars (nil: none).
	Progress io.Writer
}

func (c *SimulateConfig) setDefaults() {
	if c.Entities == 0 {
		c.Entities = simworld.DefaultEntities
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Rate == 0 {
		c.Rate = 20
	}
	if c.Duration == 0 {
		c.Duration = 20 * time.Second
	}
	if c.SaturationDuration == 0 {
		c.SaturationDuration = 10 * time.Second
	}
	if len(c.Concurrency) == 0 {
		c.Concurrency = DefaultConcurrency()
	}
	if c.Baseline == 0 {
		c.Baseline = 100
	}
	if c.LargeWarm == 0 {
		c.LargeWarm = 5
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = 1024
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{TransportEngine, TransportHTTP, TransportKafka}
	}
	if len(c.Mixes) == 0 {
		c.Mixes = []string{MixRepeat, MixVaried}
	}
	if c.Timeout == 0 {
		c.Timeout = time.Minute
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = fmt.Sprintf("benchsim-%d.", time.Now().Unix())
	}
}

// DefaultConcurrency is the default list of saturation callers: twice
// GOMAXPROCS, and 16.
func DefaultConcurrency() []int {
	c := 2 * runtime.GOMAXPROCS(0)
	if c == 16 {
		return []int{16}
	}
	return []int{c, 16}
}

// Validate reports every value out of bounds, each error naming its flag.
// Zero values stand for the defaults and pass.
func (c SimulateConfig) Validate() error {
	c.setDefaults()
	var errs []error
	if c.Entities < 100 || c.Entities > 10_000_000 {
		errs = append(errs, fmt.Errorf("entities: %d is not in 100…10,000,000", c.Entities))
	}
	if !(c.Rate > 0 && c.Rate <= 100_000) {
		errs = append(errs, fmt.Errorf("rate: %g requests/s is not in (0, 100,000]", c.Rate))
	}
	if c.Duration < time.Second {
		errs = append(errs, fmt.Errorf("duration: %s is shorter than 1s", c.Duration))
	}
	if c.SaturationDuration < time.Second {
		errs = append(errs, fmt.Errorf("saturation duration: %s is shorter than 1s", c.SaturationDuration))
	}
	for i, n := range c.Concurrency {
		if n < 1 || n > 4096 {
			errs = append(errs, fmt.Errorf("concurrency: %d callers is not in 1…4,096", n))
		}
		if slices.Index(c.Concurrency, n) != i {
			errs = append(errs, fmt.Errorf("concurrency: %d is listed twice", n))
		}
	}
	if c.Baseline < 1 || c.Baseline > 1_000_000 {
		errs = append(errs, fmt.Errorf("baseline: %d requests is not in 1…1,000,000", c.Baseline))
	}
	if c.LargeWarm < 1 || c.LargeWarm > 1_000 {
		errs = append(errs, fmt.Errorf("large warm: %d calls is not in 1…1,000", c.LargeWarm))
	}
	if c.Workers < 1 || c.Workers > 1024 {
		errs = append(errs, fmt.Errorf("workers: %d is not in 1…1,024", c.Workers))
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("partitions: %d is not in 1…1,024", c.Partitions))
	}
	if c.MaxInFlight < 1 || c.MaxInFlight > 100_000 {
		errs = append(errs, fmt.Errorf("max in flight: %d is not in 1…100,000", c.MaxInFlight))
	}
	if c.Timeout < time.Second {
		errs = append(errs, fmt.Errorf("timeout: %s is shorter than 1s", c.Timeout))
	}
	for i, t := range c.Transports {
		if t != TransportEngine && t != TransportHTTP && t != TransportKafka {
			errs = append(errs, fmt.Errorf("transports: %q is not %s, %s or %s", t, TransportEngine, TransportHTTP, TransportKafka))
		}
		if slices.Index(c.Transports, t) != i {
			errs = append(errs, fmt.Errorf("transports: %q is listed twice", t))
		}
	}
	for i, m := range c.Mixes {
		if m != MixRepeat && m != MixVaried {
			errs = append(errs, fmt.Errorf("mixes: %q is not %s or %s", m, MixRepeat, MixVaried))
		}
		if slices.Index(c.Mixes, m) != i {
			errs = append(errs, fmt.Errorf("mixes: %q is listed twice", m))
		}
	}
	return errors.Join(errs...)
}

// LatencySummary describes the latencies of a set of requests. The
// quantiles are exact, over every sample (Quantile).
type LatencySummary struct {
	// Requests counts the requests answered, Errors those among them
	// that failed (their latencies are not in the quantiles).
	Requests int           `json:"requests"`
	Errors   int           `json:"errors"`
	Mean     time.Duration `json:"mean_ns"`
	P50      time.Duration `json:"p50_ns"`
	P95      time.Duration `json:"p95_ns"`
	P99      time.Duration `json:"p99_ns"`
	Max      time.Duration `json:"max_ns"`
}

// Quantile returns the q-quantile of the sorted durations xs by the
// nearest-rank method: the smallest x in xs such that at least a fraction
// q of xs is ≤ x, that is xs[⌈q·n⌉ − 1] for n = len(xs) (Hyndman & Fan
// 1996, definition 1, the inverse of the empirical distribution function).
// q ≤ 0 gives the minimum and q ≥ 1 the maximum; an empty xs gives 0. It
// never interpolates, so every quantile is a latency that was observed.
func Quantile(xs []time.Duration, q float64) time.Duration {
	n := len(xs)
	if n == 0 {
		return 0
	}
	// The small slack keeps q·n that should be whole (0.95·100) from
	// rounding up past it.
	k := int(math.Ceil(q*float64(n) - 1e-9))
	return xs[min(max(k, 1), n)-1]
}

// Summarize returns the summary of the latencies of the requests answered
// without error (sorted in place) and of failed more that failed.
func Summarize(latencies []time.Duration, failed int) LatencySummary {
	slices.Sort(latencies)
	s := LatencySummary{Requests: len(latencies) + failed, Errors: failed}
	if len(latencies) == 0 {
		return s
	}
	var sum time.Duration
	for _, d := range latencies {
		sum += d
	}
	s.Mean = sum / time.Duration(len(latencies))
	s.P50, s.P95, s.P99 = Quantile(latencies, 0.5), Quantile(latencies, 0.95), Quantile(latencies, 0.99)
	s.Max = latencies[len(latencies)-1]
	return s
}

// PhaseResult is one measured run: a phase, a transport and a mix.
type PhaseResult struct {
	Phase     string `json:"phase"`
	Transport string `json:"transport"`
	Mix       string `json:"mix"`
	// Rate is the offered arrival rate of a steady run (requests/s);
	// Concurrency the callers of a closed loop (1 for the baseline).
	Rate        float64 `json:"rate,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	// Throughput is the requests answered without error per second, from
	// the run's start to its last answer.
	Throughput float64 `json:"throughput"`
	// Latency is per request: from when it was due (steady runs: its slot
	// in the schedule, so time spent waiting to be sent counts) or from
	// when it was sent (closed loops) to its answer.
	Latency LatencySummary `json:"latency"`
	// Service is, for steady runs, from the actual send to the answer.
	Service *LatencySummary `json:"service,omitempty"`
	// Misses is the persona judgements computed (judgement-cache misses)
	// per request, over the engine's cache.
	Misses  float64       `json:"judgement_misses_per_request"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// FirstError is the first failure's text, if any failed.
	FirstError string `json:"first_error,omitempty"`
}

// LargeResult is the 1000-persona request's latency.
type LargeResult struct {
	// Cold is the first call over HTTP (no judgement of the request in the
	// cache; it is the first request the simulator answers).
	Cold time.Duration `json:"cold_http_ns"`
	// WarmHTTP is the median of the warm calls over HTTP; WarmEngine the
	// same request's median on the engine alone.
	WarmHTTP   time.Duration   `json:"warm_http_median_ns"`
	WarmEngine time.Duration   `json:"warm_engine_median_ns"`
	Calls      []time.Duration `json:"warm_http_calls_ns"`
	Misses     float64         `json:"cold_judgement_misses"`
	Bytes      int             `json:"response_bytes"`
}

// Target is one latency target checked against one measurement.
type Target struct {
	// Source is "issue" or "PRD".
	Source string `json:"source"`
	// What the target is about, e.g. "standard request p95".
	What string `json:"what"`
	// Where it was measured, e.g. "http, steady 20/s, repeat".
	Where    string        `json:"where"`
	Limit    time.Duration `json:"limit_ns"`
	Measured time.Duration `json:"measured_ns"`
	Pass     bool          `json:"pass"`
}

// SimulateResult is what the simulator benchmark measured.
type SimulateResult struct {
	Backend    string `json:"backend"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	Entities   int    `json:"entities"`
	Events     int64  `json:"events"`
	// Personas and Segments are the snapshot's; the engine samples a
	// request's personas among them, with replacement.
	// Weighted counts those of positive weight, the only ones the engine
	// samples.
	Personas int `json:"snapshot_personas"`
	Weighted int `json:"snapshot_personas_weighted"`
	Segments int `json:"snapshot_segments"`
	// StreamTime is the world through Kafka into ClickHouse and its
	// moments; CalibrateTime the snapshot's fit.
	StreamTime    time.Duration `json:"stream_ns"`
	CalibrateTime time.Duration `json:"calibrate_ns"`
	// ResponseBytes is the size of the standard request's response body,
	// RequestBytes its request's.
	RequestBytes  int `json:"request_bytes"`
	ResponseBytes int `json:"response_bytes"`
	// CacheEntries is the judgements in the simulator's cache at the end
	// of the run. SetupHeapBytes and EndHeapBytes are the live Go heap
	// (after a collection) of the whole process, the embedded broker's
	// records included, once the simulator has started and at the end of
	// the run: the difference is what the requests left behind, the
	// judgement cache mostly.
	CacheEntries   int           `json:"judgement_cache_entries"`
	SetupHeapBytes uint64        `json:"setup_live_heap_bytes"`
	EndHeapBytes   uint64        `json:"end_live_heap_bytes"`
	Large          LargeResult   `json:"large"`
	Phases         []PhaseResult `json:"phases"`
	Targets        []Target      `json:"targets"`
}

// simRequest is one request, as the engine takes it and as the wire
// carries it.
type simRequest struct {
	req  api.SimulateRequest
	body []byte
}

// requestMix makes the requests of one mix.
type requestMix struct {
	name   string
	run    string
	base   api.SimulateRequest
	repeat simRequest
	n      atomic.Int64
}

func newMix(name, run string, base api.SimulateRequest) (*requestMix, error) {
	body, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	return &requestMix{name: name, run: run, base: base, repeat: simRequest{req: base, body: body}}, nil
}

// next returns the mix's next request: the same one for MixRepeat; for
// MixVaried the base request with " (v<run>-<n>)" appended to every
// template, n counting the mix's requests, so no two are alike in the whole
// run.
func (m *requestMix) next() (simRequest, error) {
	if m.name == MixRepeat {
		return m.repeat, nil
	}
	n := m.n.Add(1)
	r := m.base
	iv := *r.Intervention
	iv.ContentVariants = slices.Clone(iv.ContentVariants)
	for i := range iv.ContentVariants {
		iv.ContentVariants[i].Template += fmt.Sprintf(" (v%s-%d)", m.run, n)
	}
	r.Intervention = &iv
	body, err := json.Marshal(r)
	if err != nil {
		return simRequest{}, err
	}
	return simRequest{req: r, body: body}, nil
}

// caller sends one request and returns the size of the answer's body.
type caller func(ctx context.Context, r simRequest) (int, error)

// sample is one request's times.
type sample struct {
	// due is when it should have been sent: its slot in an open loop's
	// schedule, or its send time in a closed loop.
	due, sent, done time.Time
	bytes           int
	err             error
}

// dueAt returns when request i of an open loop at rate requests/s that
// starts at start is due: start + i/rate.
func dueAt(start time.Time, rate float64, i int) time.Time {
	return start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
}

// openLoop sends n requests, request i due at dueAt(start, rate, i), each
// on a goroutine of its own as soon as it is due, with at most maxInFlight
// outstanding: a due request that finds them all busy waits for one. The
// arrivals do not slow down when the answers do, and each sample's due
// time is its slot in the schedule, so a latency measured from it includes
// any wait to be sent; a slow answer cannot hide the queue behind it
// (coordinated omission, G. Tene, "How NOT to measure latency"). onDone,
// if not nil, is called after each answer. When ctx ends it stops sending,
// waits for the requests in flight and returns the samples of the
// requests sent, with ctx's error.
func openLoop(ctx context.Context, rate float64, n, maxInFlight int, do func(ctx context.Context, i int) (int, error), onDone func()) ([]sample, error) {
	samples := make([]sample, n)
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	for i := range n {
		due := dueAt(start, rate, i)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				wg.Wait()
				return samples[:i], ctx.Err()
			case <-timer.C:
			}
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			return samples[:i], ctx.Err()
		case sem <- struct{}{}:
		}
		samples[i].due = due
		wg.Go(func() {
			s := &samples[i]
			s.sent = time.Now()
			s.bytes, s.err = do(ctx, i)
			s.done = time.Now()
			<-sem
			if onDone != nil {
				onDone()
			}
		})
	}
	wg.Wait()
	return samples, nil
}

// closedLoop runs c callers, each sending its next request as soon as its
// previous one is answered, until d has passed since the start; the
// requests in flight then are finished and kept. i numbers the requests in
// the order they are sent. When ctx ends the callers stop and the samples
// so far are returned.
func closedLoop(ctx context.Context, c int, d time.Duration, do func(ctx context.Context, i int) (int, error), onDone func()) []sample {
	var (
		mu      sync.Mutex
		samples []sample
		next    atomic.Int64
		wg      sync.WaitGroup
	)
	end := time.Now().Add(d)
	for range c {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				i := int(next.Add(1) - 1)
				s := sample{sent: time.Now()}
				s.due = s.sent
				s.bytes, s.err = do(ctx, i)
				s.done = time.Now()
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
				if onDone != nil {
					onDone()
				}
			}
		})
	}
	wg.Wait()
	return samples
}

// summarizeSamples returns the latencies from due and from sent, the
// throughput from start, and the first error.
func summarizeSamples(samples []sample, start time.Time) (fromDue, fromSent LatencySummary, throughput float64, firstErr error) {
	var due, sent []time.Duration
	errs := 0
	var last time.Time
	for _, s := range samples {
		if s.done.After(last) {
			last = s.done
		}
		if s.err != nil {
			errs++
			if firstErr == nil {
				firstErr = s.err
			}
			continue
		}
		due = append(due, s.done.Sub(s.due))
		sent = append(sent, s.done.Sub(s.sent))
	}
	ok := len(due)
	if el := last.Sub(start).Seconds(); el > 0 {
		throughput = float64(ok) / el
	}
	return Summarize(due, errs), Summarize(sent, errs), throughput, firstErr
}

// simBench is one run of the simulator benchmark: the world, the simulator
// and its clients.
type simBench struct {
	cfg   SimulateConfig
	log   *slog.Logger
	sim   *simworld.Simulator
	cache *simulation.Cache
	scope string
	http  *http.Client
	kafka *reqrep.Client
	topic string
	mixes map[string]*requestMix
	res   *SimulateResult
	keys  atomic.Int64 // Kafka record keys
}

// Simulate runs the simulator benchmark: it streams the standard synthetic
// world through Kafka into ClickHouse, calibrates a snapshot on it,
// publishes it, starts a simulator in this process (HTTP on loopback and
// Kafka request/reply), and measures the standard request
// (simworld.StandardRequest) on the engine alone, over HTTP and over
// Kafka: one at a time (baseline), at a fixed arrival rate (steady) and
// with closed-loop callers (saturation), each for both request mixes; and
// the 1000-persona request (simworld.LargeRequest) over HTTP, cold and
// warm. It fails only when the setup fails or every request of a run
// does; latency targets are reported in SimulateResult.Targets, never
// enforced.
func Simulate(ctx context.Context, cfg SimulateConfig, log *slog.Logger) (*SimulateResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	b := &simBench{cfg: cfg, log: log, scope: simworld.DefaultScope, cache: simulation.NewCache(0),
		res: &SimulateResult{GOMAXPROCS: runtime.GOMAXPROCS(0), Entities: cfg.Entities}}
	closeAll, err := b.setup(ctx)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	b.res.SetupHeapBytes = liveHeap()
	if err := b.run(ctx); err != nil {
		return nil, err
	}
	b.res.CacheEntries = b.cache.Len()
	b.res.EndHeapBytes = liveHeap()
	b.res.Targets = targets(b.res, cfg)
	return b.res, nil
}

// liveHeap returns the bytes of the Go heap live after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// setup brings up the stack, the world, the snapshot, the simulator and
// the clients, and returns the function that stops them.
func (b *simBench) setup(ctx context.Context) (func(), error) {
	cfg := b.cfg
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	fail := func(err error) (func(), error) {
		closeAll()
		return nil, err
	}
	b.log.Info("starting the stack", "topic_prefix", cfg.TopicPrefix)
	st, err := stack.Start(ctx, stack.Config{Brokers: cfg.Brokers, DSN: cfg.DSN, Password: cfg.Password, DataDir: cfg.DataDir,
		Topics: streams.Topics{Prefix: cfg.TopicPrefix}, Partitions: cfg.Partitions}, b.log)
	if err != nil {
		return nil, fmt.Errorf("cannot start the stack: %w", err)
	}
	closers = append(closers, func() {
		if err := st.Close(); err != nil {
			b.log.Warn("stack stopped with an error", "err", err)
		}
	})
	b.res.Backend = st.Warehouse.Backend()

	fmt.Fprintf(cfg.Progress, "world: %d entities, seed %d\n", cfg.Entities, cfg.Seed)
	start := time.Now()
	truth, produced, err := simworld.Stream(ctx, st, simworld.World(cfg.Seed, cfg.Entities), cfg.Progress)
	if err != nil {
		return fail(fmt.Errorf("cannot stream the world: %w", err))
	}
	b.res.Events, b.res.StreamTime = produced, time.Since(start)
	start = time.Now()
	snap, err := simworld.Calibrate(ctx, st, truth, b.scope, "", b.log)
	if err != nil {
		return fail(fmt.Errorf("cannot calibrate the world: %w", err))
	}
	b.res.CalibrateTime = time.Since(start)
	b.res.Personas = len(snap.Personas)
	for _, p := range snap.Personas {
		if p.Weight > 0 {
			b.res.Weighted++
		}
	}
	segs := map[string]bool{}
	for _, c := range snap.Cells {
		segs[c.SegmentID] = true
	}
	b.res.Segments = len(segs)
	b.log.Info("world calibrated", "events", produced, "stream_seconds", b.res.StreamTime.Seconds(),
		"calibrate_seconds", b.res.CalibrateTime.Seconds(), "scope", snap.Scope, "personas", b.res.Personas)
	fmt.Fprintf(cfg.Progress, "calibrated in %s: %d personas (%d of positive weight) over %d segments\n", b.res.CalibrateTime.Round(time.Millisecond), b.res.Personas, b.res.Weighted, b.res.Segments)

	if err := simworld.EnsureTopics(ctx, st.Kafka, cfg.TopicPrefix, cfg.Partitions); err != nil {
		return fail(err)
	}
	if err := simworld.Publish(ctx, st.Kafka, cfg.TopicPrefix, snap); err != nil {
		return fail(err)
	}
	b.sim, err = simworld.StartSimulator(ctx, service.Config{Kafka: st.Kafka, TopicPrefix: cfg.TopicPrefix,
		Group: "benchsim-" + strings.TrimSuffix(cfg.TopicPrefix, "."), Workers: cfg.Workers, RequestTimeout: cfg.Timeout,
		Engine: simulation.Options{Cache: b.cache}, Logger: b.log})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, func() {
		if err := b.sim.Close(); err != nil {
			b.log.Warn("simulator stopped with an error", "err", err)
		}
	})

	tr := &http.Transport{MaxIdleConns: 4096, MaxIdleConnsPerHost: 4096, IdleConnTimeout: time.Minute, DisableCompression: true}
	b.http = &http.Client{Transport: tr, Timeout: cfg.Timeout + 5*time.Second}
	closers = append(closers, tr.CloseIdleConnections)
	b.topic = service.Config{TopicPrefix: cfg.TopicPrefix}.RequestTopic()
	b.kafka, err = reqrep.NewClient(reqrep.ClientConfig{Kafka: st.Kafka, ReplyTopic: cfg.TopicPrefix + "simulate.replies",
		Timeout: cfg.Timeout, Logger: b.log})
	if err != nil {
		return fail(err)
	}
	closers = append(closers, b.kafka.Close)

	run := strconv.FormatInt(time.Now().UnixNano()%1_000_000_007, 36)
	b.mixes = map[string]*requestMix{}
	for _, m := range []string{MixRepeat, MixVaried} {
		if b.mixes[m], err = newMix(m, run, simworld.StandardRequest()); err != nil {
			return fail(err)
		}
	}
	b.res.RequestBytes = len(b.mixes[MixRepeat].repeat.body)
	return closeAll, nil
}

// caller returns the function that sends a request over transport.
func (b *simBench) caller(transport string) caller {
	switch transport {
	case TransportEngine:
		return func(ctx context.Context, r simRequest) (int, error) {
			eng, _ := b.sim.Service.Store.Engine(b.scope)
			if eng == nil {
				return 0, fmt.Errorf("no engine for scope %q", b.scope)
			}
			_, err := eng.Simulate(ctx, r.req, 1) // the service's default seed
			return 0, err
		}
	case TransportHTTP:
		url := b.sim.URL + service.SimulatePath
		return func(ctx context.Context, r simRequest) (int, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.body))
			if err != nil {
				return 0, err
			}
			req.Header.Set("Authorization", "Bearer "+b.sim.APIKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := b.http.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return len(body), fmt.Errorf("cannot read the response: %w", err)
			}
			if resp.StatusCode != http.StatusOK {
				return len(body), fmt.Errorf("HTTP %d: %.300s", resp.StatusCode, body)
			}
			return len(body), nil
		}
	case TransportKafka:
		return func(ctx context.Context, r simRequest) (int, error) {
			key := strconv.FormatInt(b.keys.Add(1), 10) // spreads the requests over the partitions
			rep, err := b.kafka.Do(ctx, b.topic, []byte(key), r.body, b.cfg.Timeout)
			return len(rep.Value), err
		}
	}
	panic("bench: unknown transport " + transport)
}

// measure runs one closed or open loop of mix over transport and records
// it. Open loop when rate > 0, else a closed loop of c callers for d (or,
// with n > 0 and c == 1, n sequential requests).
func (b *simBench) measure(ctx context.Context, phase, transport, mix string, rate float64, c, n int, d time.Duration) error {
	m, call := b.mixes[mix], b.caller(transport)
	do := func(ctx context.Context, _ int) (int, error) {
		r, err := m.next()
		if err != nil {
			return 0, err
		}
		return call(ctx, r)
	}
	desc := fmt.Sprintf("%-10s %-6s %-6s", phase, transport, mix)
	total := -1
	switch {
	case rate > 0:
		total = int(math.Round(rate * d.Seconds()))
		desc += fmt.Sprintf(" %g/s", rate)
	case n > 0:
		total = n
	default:
		desc += fmt.Sprintf(" C=%d", c)
	}
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(b.cfg.Progress), progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionSetDescription(desc), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("req"), progressbar.OptionThrottle(100*time.Millisecond))
	onDone := func() { _ = bar.Add(1) }
	_, missesBefore := b.cache.Stats()
	start := time.Now()
	var samples []sample
	switch {
	case rate > 0:
		var err error
		samples, err = openLoop(ctx, rate, total, b.cfg.MaxInFlight, do, onDone)
		if err != nil {
			return err
		}
	case n > 0:
		for i := range n {
			if err := ctx.Err(); err != nil {
				return err
			}
			s := sample{sent: time.Now()}
			s.due = s.sent
			s.bytes, s.err = do(ctx, i)
			s.done = time.Now()
			samples = append(samples, s)
			onDone()
		}
	default:
		samples = closedLoop(ctx, c, d, do, onDone)
	}
	elapsed := time.Since(start)
	_ = bar.Finish()
	fmt.Fprintln(b.cfg.Progress)
	if err := ctx.Err(); err != nil {
		return err
	}
	_, missesAfter := b.cache.Stats()
	lat, svc, thr, firstErr := summarizeSamples(samples, start)
	pr := PhaseResult{Phase: phase, Transport: transport, Mix: mix, Throughput: thr, Latency: lat, Elapsed: elapsed}
	if len(samples) > 0 {
		pr.Misses = float64(missesAfter-missesBefore) / float64(len(samples))
	}
	if rate > 0 {
		pr.Rate, pr.Service = rate, &svc
	} else {
		pr.Concurrency = c
	}
	if firstErr != nil {
		pr.FirstError = firstErr.Error()
		b.log.Warn("requests failed", "phase", phase, "transport", transport, "mix", mix, "errors", lat.Errors, "err", firstErr)
	}
	b.log.Info("measured", "phase", phase, "transport", transport, "mix", mix, "rate", rate, "concurrency", c,
		"requests", lat.Requests, "errors", lat.Errors, "throughput", thr, "p50", lat.P50, "p95", lat.P95, "p99", lat.P99, "max", lat.Max)
	b.res.Phases = append(b.res.Phases, pr)
	if lat.Requests > 0 && lat.Errors == lat.Requests {
		return fmt.Errorf("%s %s %s: every request failed: %w", phase, transport, mix, firstErr)
	}
	return nil
}

// run measures, in order: the 1000-persona request (cold first, while the
// judgement cache is empty), the baseline, a warm-up of each transport,
// the steady runs and the saturation runs.
func (b *simBench) run(ctx context.Context) error {
	cfg := b.cfg
	if err := b.large(ctx); err != nil {
		return err
	}
	for _, mix := range cfg.Mixes {
		if err := b.measure(ctx, PhaseBaseline, TransportEngine, mix, 0, 1, cfg.Baseline, 0); err != nil {
			return err
		}
	}
	// Warm-up, not recorded: first connections, metadata, the reply
	// reader's first fetch.
	for _, t := range []string{TransportHTTP, TransportKafka} {
		call := b.caller(t)
		for range 3 {
			if n, err := call(ctx, b.mixes[MixRepeat].repeat); err != nil {
				return fmt.Errorf("warm-up over %s: %w", t, err)
			} else if t == TransportHTTP {
				b.res.ResponseBytes = n
			}
		}
	}
	for _, mix := range cfg.Mixes {
		for _, t := range cfg.Transports {
			if err := b.measure(ctx, PhaseSteady, t, mix, cfg.Rate, 0, 0, cfg.Duration); err != nil {
				return err
			}
		}
	}
	for _, mix := range cfg.Mixes {
		for _, c := range cfg.Concurrency {
			for _, t := range cfg.Transports {
				if err := b.measure(ctx, PhaseSaturation, t, mix, 0, c, 0, cfg.SaturationDuration); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// large measures the 1000-persona request over HTTP: the first call, with
// the judgement cache empty, then LargeWarm warm calls; and the warm calls
// on the engine alone.
func (b *simBench) large(ctx context.Context) error {
	req := simworld.LargeRequest()
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r := simRequest{req: req, body: body}
	httpCall, engCall := b.caller(TransportHTTP), b.caller(TransportEngine)
	fmt.Fprintf(b.cfg.Progress, "1000-persona request: one cold call and %d warm calls over HTTP, %d on the engine\n", b.cfg.LargeWarm, b.cfg.LargeWarm)
	_, m0 := b.cache.Stats()
	start := time.Now()
	n, err := httpCall(ctx, r)
	if err != nil {
		return fmt.Errorf("1000-persona request over HTTP: %w", err)
	}
	lr := &b.res.Large
	lr.Cold, lr.Bytes = time.Since(start), n
	_, m1 := b.cache.Stats()
	lr.Misses = float64(m1 - m0)
	timed := func(call caller) ([]time.Duration, error) {
		var ds []time.Duration
		for range b.cfg.LargeWarm {
			start := time.Now()
			if _, err := call(ctx, r); err != nil {
				return nil, err
			}
			ds = append(ds, time.Since(start))
		}
		return ds, nil
	}
	if lr.Calls, err = timed(httpCall); err != nil {
		return fmt.Errorf("1000-persona request over HTTP: %w", err)
	}
	eng, err := timed(engCall)
	if err != nil {
		return fmt.Errorf("1000-persona request on the engine: %w", err)
	}
	lr.WarmHTTP = Quantile(slices.Sorted(slices.Values(lr.Calls)), 0.5)
	lr.WarmEngine = Quantile(slices.Sorted(slices.Values(eng)), 0.5)
	b.log.Info("1000-persona request", "cold", lr.Cold, "warm_http_median", lr.WarmHTTP, "warm_engine_median", lr.WarmEngine,
		"cold_judgement_misses", lr.Misses, "response_bytes", lr.Bytes)
	return nil
}

// Latency targets: the issue's for the 2-core machine, and the PRD's.
const (
	IssueStandardP95 = 50 * time.Millisecond
	PRDStandardP95   = 500 * time.Millisecond
	IssueLarge       = time.Second
	PRDLarge         = 30 * time.Second
)

// targets checks the steady runs over HTTP and Kafka against the standard
// request's p95 targets, and the 1000-persona request's cold and warm
// calls against its targets.
func targets(r *SimulateResult, cfg SimulateConfig) []Target {
	var out []Target
	for _, p := range r.Phases {
		if p.Phase != PhaseSteady || p.Transport == TransportEngine {
			continue
		}
		where := fmt.Sprintf("%s, steady %g/s, %s", p.Transport, p.Rate, p.Mix)
		for _, t := range []struct {
			src   string
			limit time.Duration
		}{{"issue", IssueStandardP95}, {"PRD", PRDStandardP95}} {
			out = append(out, Target{Source: t.src, What: "standard request p95", Where: where, Limit: t.limit,
				Measured: p.Latency.P95, Pass: p.Latency.Errors == 0 && p.Latency.P95 < t.limit})
		}
	}
	for _, c := range []struct {
		where string
		d     time.Duration
	}{{"http, first call (cold)", r.Large.Cold}, {fmt.Sprintf("http, median of %d warm calls", cfg.LargeWarm), r.Large.WarmHTTP}} {
		for _, t := range []struct {
			src   string
			limit time.Duration
		}{{"issue", IssueLarge}, {"PRD", PRDLarge}} {
			out = append(out, Target{Source: t.src, What: "1000-persona request", Where: c.where, Limit: t.limit, Measured: c.d, Pass: c.d < t.limit})
		}
	}
	return out
}

// WriteTables writes the result as Markdown tables: the setup, every run,
// the 1000-persona request and the targets with PASS or MISS.
func (r *SimulateResult) WriteTables(w io.Writer) {
	fmt.Fprintf(w, "\nbackend %s, GOMAXPROCS %d; world of %d entities, %d events streamed in %s, calibrated in %s; snapshot: %d personas (%d of positive weight) over %d segments; standard request %d bytes, response %d bytes; live Go heap %.0f MiB after the setup, %.0f MiB at the end with %d judgements cached\n",
		r.Backend, r.GOMAXPROCS, r.Entities, r.Events, r.StreamTime.Round(100*time.Millisecond), r.CalibrateTime.Round(100*time.Millisecond),
		r.Personas, r.Weighted, r.Segments, r.RequestBytes, r.ResponseBytes, float64(r.SetupHeapBytes)/(1<<20), float64(r.EndHeapBytes)/(1<<20), r.CacheEntries)
	fmt.Fprintf(w, "\n| phase | transport | mix | load | requests | errors | throughput (req/s) | p50 | p95 | p99 | max | p95 from send | judged/request |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		load := fmt.Sprintf("C=%d", p.Concurrency)
		svc := "—"
		if p.Service != nil {
			svc = fmtDur(p.Service.P95)
		}
		if p.Rate > 0 {
			load = fmt.Sprintf("%g/s open", p.Rate)
		} else if p.Phase == PhaseBaseline {
			load = "sequential"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %d | %.1f | %s | %s | %s | %s | %s | %.0f |\n", p.Phase, p.Transport, p.Mix, load,
			p.Latency.Requests, p.Latency.Errors, p.Throughput, fmtDur(p.Latency.P50), fmtDur(p.Latency.P95), fmtDur(p.Latency.P99),
			fmtDur(p.Latency.Max), svc, p.Misses)
	}
	l := r.Large
	fmt.Fprintf(w, "\n| 1000-persona request | http first call (cold) | http warm median | engine warm median | judged on the cold call | response bytes |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(w, "| 1000 × 100 runs × 30 days | %s | %s | %s | %.0f | %d |\n", fmtDur(l.Cold), fmtDur(l.WarmHTTP), fmtDur(l.WarmEngine), l.Misses, l.Bytes)
	fmt.Fprintf(w, "\n| target | source | measured where | limit | measured | |\n|---|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		verdict := "MISS"
		if t.Pass {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "| %s | %s | %s | < %s | %s | %s |\n", t.What, t.Source, t.Where, t.Limit, fmtDur(t.Measured), verdict)
	}
}

// fmtDur prints a latency with three significant digits in a unit that
// suits it.
func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0f µs", float64(d)/1e3)
	}
}
