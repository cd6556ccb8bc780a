package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/internal/simworld"
	"github.com/preflight-hq/preflight/internal/testenv"
	_ "github.com/preflight-hq/preflight/warehouse/embedded"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func msec(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// msRange returns 1 ms, 2 ms, …, n ms.
func msRange(n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = msec(i + 1)
	}
	return out
}

// TestQuantile checks the nearest-rank quantile on cases worked by hand:
// Q(q) = xs[⌈q·n⌉ − 1].
func TestQuantile(t *testing.T) {
	cases := []struct {
		name string
		xs   []time.Duration
		q    float64
		want time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one sample, median", []time.Duration{msec(7)}, 0.5, msec(7)},
		{"one sample, p99", []time.Duration{msec(7)}, 0.99, msec(7)},
		{"ten, q=0 is the minimum", msRange(10), 0, msec(1)},
		{"ten, median: ⌈5⌉ = 5th", msRange(10), 0.5, msec(5)},
		{"ten, p90: ⌈9⌉ = 9th", msRange(10), 0.9, msec(9)},
		{"ten, p95: ⌈9.5⌉ = 10th", msRange(10), 0.95, msec(10)},
		{"ten, q=1 is the maximum", msRange(10), 1, msec(10)},
		{"ten, q>1 is the maximum", msRange(10), 1.5, msec(10)},
		{"hundred, p95 is the 95th, not the 96th", msRange(100), 0.95, msec(95)},
		{"hundred, p99 is the 99th", msRange(100), 0.99, msec(99)},
		{"hundred, p50 is the 50th", msRange(100), 0.5, msec(50)},
		{"three, median is the middle", []time.Duration{msec(1), msec(2), msec(30)}, 0.5, msec(2)},
		{"four, median is the 2nd (no interpolation)", []time.Duration{msec(1), msec(2), msec(3), msec(40)}, 0.5, msec(2)},
		{"ties", []time.Duration{msec(1), msec(5), msec(5), msec(5), msec(9)}, 0.5, msec(5)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Quantile(c.xs, c.q); got != c.want {
				t.Errorf("Quantile(%v, %g) = %s, want %s", c.xs, c.q, got, c.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	got := Summarize([]time.Duration{msec(4), msec(1), msec(3), msec(2)}, 2)
	want := LatencySummary{Requests: 6, Errors: 2, Mean: 2500 * time.Microsecond, P50: msec(2), P95: msec(4), P99: msec(4), Max: msec(4)}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	if got := Summarize(nil, 3); got != (LatencySummary{Requests: 3, Errors: 3}) {
		t.Errorf("Summarize of failures only = %+v", got)
	}
}

// TestSummarizeSamples checks that latencies run from the due time, that
// failures are counted apart, and that the throughput counts the answered
// requests from the start to the last answer.
func TestSummarizeSamples(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(n int) time.Time { return t0.Add(msec(n)) }
	samples := []sample{
		{due: at(0), sent: at(0), done: at(10)},
		{due: at(100), sent: at(150), done: at(160)}, // waited 50 ms to be sent
		{due: at(200), sent: at(200), done: at(205), err: errors.New("boom")},
		{due: at(300), sent: at(300), done: at(500)},
	}
	due, sent, thr, first := summarizeSamples(samples, t0)
	if due.Requests != 4 || due.Errors != 1 || due.Max != msec(200) || due.P50 != msec(60) {
		t.Errorf("from due: %+v, want 4 requests, 1 error, p50 60ms, max 200ms", due)
	}
	if sent.P50 != msec(10) || sent.Max != msec(200) {
		t.Errorf("from sent: %+v, want p50 10ms, max 200ms", sent)
	}
	if want := 3 / 0.5; thr != want {
		t.Errorf("throughput %g, want %g", thr, want)
	}
	if first == nil || first.Error() != "boom" {
		t.Errorf("first error %v", first)
	}
}

func TestDueAt(t *testing.T) {
	t0 := time.Unix(1000, 0)
	for _, c := range []struct {
		rate float64
		i    int
		want time.Duration
	}{
		{20, 0, 0}, {20, 1, msec(50)}, {20, 20, time.Second}, {20, 400, 20 * time.Second},
		{3, 1, 333333333}, {3, 3, time.Second}, {0.5, 1, 2 * time.Second},
	} {
		if got := dueAt(t0, c.rate, c.i).Sub(t0); got != c.want {
			t.Errorf("dueAt(rate %g, %d) = +%s, want +%s", c.rate, c.i, got, c.want)
		}
	}
}

// TestOpenLoopKeepsSchedule checks that the open loop sends every request
// when it is due without waiting for earlier answers: every request blocks
// until all of them have been sent, which only an open loop survives.
func TestOpenLoopKeepsSchedule(t *testing.T) {
	const n = 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var started sync.WaitGroup
	started.Add(n)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	var done atomic.Int64
	samples, err := openLoop(ctx, 1000, n, n, func(ctx context.Context, i int) (int, error) {
		started.Done()
		select {
		case <-all:
			return i, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, func() { done.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != n || done.Load() != n {
		t.Fatalf("%d samples, %d answers, want %d", len(samples), done.Load(), n)
	}
	for i, s := range samples {
		if s.err != nil || s.bytes != i {
			t.Errorf("request %d: err %v, bytes %d", i, s.err, s.bytes)
		}
		if got := s.due.Sub(samples[0].due); got != msec(i) {
			t.Errorf("request %d due at +%s, want +%s", i, got, msec(i))
		}
		if s.sent.Before(s.due) {
			t.Errorf("request %d sent %s before it was due", i, s.due.Sub(s.sent))
		}
	}
}

// TestOpenLoopCountsTheWait checks that a request held back by the
// in-flight bound is measured from when it was due: with one request in
// flight at a time and the first taking 100 ms, the next ones, due 1 ms
// apart, wait for it, and their latencies include the wait.
func TestOpenLoopCountsTheWait(t *testing.T) {
	const n = 10
	samples, err := openLoop(context.Background(), 1000, n, 1, func(ctx context.Context, i int) (int, error) {
		if i == 0 {
			time.Sleep(100 * time.Millisecond)
		}
		return 0, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := samples[0].done
	for i, s := range samples[1:] {
		i++
		if s.sent.Before(first) {
			t.Errorf("request %d sent before request 0 was answered, with one allowed in flight", i)
		}
		// Due at +i ms, answered after +100 ms: at least 100−i ms from due,
		// however fast the answer itself was.
		if lat := s.done.Sub(s.due); lat < msec(100-i) {
			t.Errorf("request %d: latency from due %s, want ≥ %s", i, lat, msec(100-i))
		}
	}
}

func TestOpenLoopStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	samples, err := openLoop(ctx, 100, 1000, 10, func(ctx context.Context, i int) (int, error) {
		if calls.Add(1) == 3 {
			cancel()
		}
		return 0, nil
	}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if len(samples) < 3 || len(samples) > 4 {
		t.Errorf("%d samples after cancelling at the third request", len(samples))
	}
	for i, s := range samples {
		if s.done.IsZero() {
			t.Errorf("request %d returned unfinished", i)
		}
	}
}

// TestClosedLoop checks that c callers keep exactly c requests in flight
// and stop after the duration.
func TestClosedLoop(t *testing.T) {
	const c = 3
	var inFlight, peak atomic.Int64
	samples := closedLoop(context.Background(), c, 50*time.Millisecond, func(ctx context.Context, i int) (int, error) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		return 1, nil
	}, nil)
	if len(samples) < c {
		t.Errorf("%d samples, want at least %d", len(samples), c)
	}
	if p := peak.Load(); p > c {
		t.Errorf("%d requests in flight at once, want at most %d", p, c)
	}
	for _, s := range samples {
		if !s.due.Equal(s.sent) || s.done.Before(s.sent) {
			t.Errorf("closed-loop sample %+v: due must be the send time", s)
		}
	}
}

// TestVariedMix checks that the varied mix makes every request's content
// new, and leaves the base request and the repeat mix alone.
func TestVariedMix(t *testing.T) {
	base := simworld.StandardRequest()
	before := base.Intervention.ContentVariants[0].Template
	rep, err := newMix(MixRepeat, "r", base)
	if err != nil {
		t.Fatal(err)
	}
	vary, err := newMix(MixVaried, "r", base)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := rep.next()
	b, _ := rep.next()
	if !bytes.Equal(a.body, b.body) {
		t.Error("repeat mix: two requests differ")
	}
	seen := map[string]bool{}
	for range 3 {
		r, err := vary.next()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range r.req.Intervention.ContentVariants {
			if seen[v.Template] {
				t.Errorf("varied mix: template %q repeated", v.Template)
			}
			seen[v.Template] = true
			if !strings.Contains(string(r.body), v.Template[len(v.Template)-8:]) {
				t.Errorf("varied mix: body does not carry template %q", v.Template)
			}
		}
		if err := r.req.Validate(); err != nil {
			t.Errorf("varied request is invalid: %v", err)
		}
	}
	if base.Intervention.ContentVariants[0].Template != before || rep.base.Intervention.ContentVariants[0].Template != before {
		t.Error("varied mix changed the base request")
	}
}

func TestTargets(t *testing.T) {
	r := &SimulateResult{
		Phases: []PhaseResult{
			{Phase: PhaseSteady, Transport: TransportEngine, Rate: 20, Latency: LatencySummary{Requests: 1, P95: msec(1)}},
			{Phase: PhaseSteady, Transport: TransportHTTP, Mix: MixRepeat, Rate: 20, Latency: LatencySummary{Requests: 10, P95: msec(49)}},
			{Phase: PhaseSteady, Transport: TransportKafka, Mix: MixRepeat, Rate: 20, Latency: LatencySummary{Requests: 10, P95: msec(50)}},
			{Phase: PhaseSteady, Transport: TransportKafka, Mix: MixVaried, Rate: 20, Latency: LatencySummary{Requests: 10, Errors: 1, P95: msec(5)}},
			{Phase: PhaseSaturation, Transport: TransportHTTP, Concurrency: 4, Latency: LatencySummary{Requests: 10, P95: time.Minute}},
		},
		Large: LargeResult{Cold: 1500 * time.Millisecond, WarmHTTP: msec(999)},
	}
	got := targets(r, SimulateConfig{LargeWarm: 5})
	type key struct{ src, where string }
	pass := map[key]bool{}
	for _, tg := range got {
		pass[key{tg.Source, tg.Where}] = tg.Pass
	}
	want := map[key]bool{
		{"issue", "http, steady 20/s, repeat"}:    true,
		{"PRD", "http, steady 20/s, repeat"}:      true,
		{"issue", "kafka, steady 20/s, repeat"}:   false, // 50 ms is not < 50 ms
		{"PRD", "kafka, steady 20/s, repeat"}:     true,
		{"issue", "kafka, steady 20/s, varied"}:   false, // a request failed
		{"PRD", "kafka, steady 20/s, varied"}:     false,
		{"issue", "http, first call (cold)"}:      false,
		{"PRD", "http, first call (cold)"}:        true,
		{"issue", "http, median of 5 warm calls"}: true,
		{"PRD", "http, median of 5 warm calls"}:   true,
	}
	if len(got) != len(want) {
		t.Errorf("%d targets, want %d: %+v", len(got), len(want), got)
	}
	for k, w := range want {
		if p, ok := pass[k]; !ok || p != w {
			t.Errorf("%s target at %q: pass %v (present %v), want %v", k.src, k.where, p, ok, w)
		}
	}
	var buf bytes.Buffer
	r.Targets = got
	r.WriteTables(&buf)
	if n := strings.Count(buf.String(), "| MISS |"); n != 4 {
		t.Errorf("%d MISS rows, want 4:\n%s", n, buf.String())
	}
}

func TestSimulateConfigValidate(t *testing.T) {
	if err := (SimulateConfig{}).Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for _, c := range []struct {
		cfg  SimulateConfig
		want string
	}{
		{SimulateConfig{Entities: 10}, "entities"},
		{SimulateConfig{Rate: -1}, "rate"},
		{SimulateConfig{Duration: msec(10)}, "duration"},
		{SimulateConfig{SaturationDuration: msec(10)}, "saturation duration"},
		{SimulateConfig{Concurrency: []int{4, 0}}, "concurrency"},
		{SimulateConfig{Concurrency: []int{4, 4}}, "listed twice"},
		{SimulateConfig{Baseline: -1}, "baseline"},
		{SimulateConfig{LargeWarm: -1}, "large warm"},
		{SimulateConfig{Workers: -1}, "workers"},
		{SimulateConfig{Partitions: -1}, "partitions"},
		{SimulateConfig{MaxInFlight: -1}, "max in flight"},
		{SimulateConfig{Timeout: msec(1)}, "timeout"},
		{SimulateConfig{Transports: []string{"grpc"}}, "transports"},
		{SimulateConfig{Mixes: []string{"repeat", "random"}}, "mixes"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one naming %q", c.cfg, err, c.want)
		}
	}
}

// TestSimulateSmoke runs the whole benchmark on tiny settings (a small
// world, 1 s runs) on the embedded defaults: every run is recorded without
// errors and the tables render. Nothing is timed.
func TestSimulateSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kfake and chDB")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before := runtime.NumGoroutine()
	var progress bytes.Buffer
	cfg := SimulateConfig{Entities: 1500, Rate: 10, Duration: time.Second, SaturationDuration: time.Second,
		Concurrency: []int{2}, Baseline: 3, LargeWarm: 1, Partitions: 2, DSN: testenv.ChDBDSN(t), Progress: &progress}
	res, err := Simulate(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{PhaseBaseline: 2, PhaseSteady: 6, PhaseSaturation: 6}
	got := map[string]int{}
	for _, p := range res.Phases {
		got[p.Phase]++
		if p.Latency.Requests == 0 || p.Latency.Errors > 0 || p.Throughput <= 0 || p.Latency.P50 <= 0 || p.Latency.P99 < p.Latency.P50 {
			t.Errorf("%s %s %s: %+v", p.Phase, p.Transport, p.Mix, p)
		}
		if p.Mix == MixVaried && p.Misses == 0 {
			t.Errorf("%s %s varied: no judgement-cache misses; the requests are not new", p.Phase, p.Transport)
		}
		if p.Mix == MixRepeat && p.Phase != PhaseBaseline && p.Misses != 0 {
			t.Errorf("%s %s repeat: %g misses per request; the repeated request should be cached", p.Phase, p.Transport, p.Misses)
		}
	}
	for ph, n := range want {
		if got[ph] != n {
			t.Errorf("%d %s runs, want %d", got[ph], ph, n)
		}
	}
	if res.Large.Cold <= 0 || res.Large.WarmHTTP <= 0 || res.Large.WarmEngine <= 0 || res.Large.Misses == 0 {
		t.Errorf("1000-persona request: %+v", res.Large)
	}
	if len(res.Targets) != 12 || res.ResponseBytes == 0 || res.Personas == 0 || res.Events == 0 {
		t.Errorf("%d targets, response %d bytes, %d personas, %d events", len(res.Targets), res.ResponseBytes, res.Personas, res.Events)
	}
	var tables bytes.Buffer
	res.WriteTables(&tables)
	for _, s := range []string{"| steady | kafka | varied |", "| saturation | http | repeat | C=2 |", "1000-persona request", "standard request p95"} {
		if !strings.Contains(tables.String(), s) {
			t.Errorf("tables lack %q:\n%s", s, tables.String())
		}
	}
	// Everything the benchmark started has stopped.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
