package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/internal/simworld"
	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/simulation/service"
	"github.com/preflight-hq/preflight/streams"
)

const (
	prefix = "ct."
	apiKey = "pk_test_secret_key"
)

// testSnapshot is a small hand-made calibration of scope retail: segments
// a and b on email and sms.
func testSnapshot() *calibration.Snapshot {
	cell := func(seg, ch string, base, up, rpc, cpe, unsub float64, exp uint64) calibration.Cell {
		return calibration.Cell{
			SegmentID: seg, Channel: ch, Exposures: exp, BaseRate: base,
			Uplift: up, UpliftLo: up * 0.8, UpliftHi: up * 1.2,
			RevenuePerConversion: rpc, CostPerExposure: cpe, UnsubscribeRate: unsub,
		}
	}
	return &calibration.Snapshot{
		Schema: calibration.SnapshotSchema, Scope: "retail", Version: 1,
		Cells: []calibration.Cell{
			cell("a", "email", 0.02, 0.01, 50, 0.01, 0.001, 1500),
			cell("a", "sms", 0.02, 0.02, 50, 0.05, 0.003, 1500),
			cell("b", "email", 0.04, 0.005, 100, 0.01, 0.002, 500),
			cell("b", "sms", 0.04, 0.01, 100, 0.05, 0.004, 500),
		},
		Quality: calibration.Quality{HistoricalAccuracy: 0.8, LastCalibration: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
	}
}

// validRequest asks about segments a and b of testSnapshot.
func validRequest() api.SimulateRequest {
	return api.SimulateRequest{
		IndustryContext: api.IndustryRetail,
		Intervention: &api.Intervention{
			Type: api.InterventionCampaign, Channels: []api.Channel{api.ChannelEmail, api.ChannelSMS},
			ContentVariants: []api.ContentVariant{{ID: "v1", Template: "New arrivals for {{first_name}}"}},
		},
		TargetPopulation: &api.TargetPopulation{SelectionMethod: api.SelectSegment, Segments: []string{"a", "b"}, Size: 10_000},
		SimulationParams: &api.SimulationParams{NumPersonas: new(20), TimeHorizonDays: new(14), MonteCarloRuns: new(50)},
	}
}

// invalidRequest breaks the contract in three places.
func invalidRequest() api.SimulateRequest {
	r := validRequest()
	r.IndustryContext = "nope"
	r.TargetPopulation = &api.TargetPopulation{SelectionMethod: api.SelectSegment, Segments: []string{"a"}, Size: 0}
	r.Intervention.ContentVariants = append(r.Intervention.ContentVariants, api.ContentVariant{ID: "v1", Template: "again"})
	return r
}

// fixture is a kfake broker with the simulator's topics, testSnapshot
// published, and a simulator answering HTTP and Kafka.
type fixture struct {
	kc  streams.KafkaConfig
	sim *simworld.Simulator
}

func start(t *testing.T) *fixture {
	t.Helper()
	emb, err := streams.StartEmbedded(streams.EmbeddedConfig{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	kc := streams.KafkaConfig{Brokers: emb.Addrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := simworld.EnsureTopics(ctx, kc, prefix, 2); err != nil {
		t.Fatal(err)
	}
	// A prefix nobody serves, for the timeouts.
	if err := simworld.EnsureTopics(ctx, kc, "idle.", 1); err != nil {
		t.Fatal(err)
	}
	if err := simworld.Publish(ctx, kc, prefix, testSnapshot()); err != nil {
		t.Fatal(err)
	}
	return &fixture{kc: kc, sim: startSimulator(t, ctx, service.Config{Kafka: kc, TopicPrefix: prefix})}
}

// startSimulator starts a simulator on cfg with apiKey; Cleanup stops it.
func startSimulator(t *testing.T, ctx context.Context, cfg service.Config) *simworld.Simulator {
	t.Helper()
	cfg.APIKeys = []string{apiKey}
	cfg.ClientOpts = []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)}
	sim, err := simworld.StartSimulator(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sim.Close(); err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	return sim
}

func (f *fixture) kafka(t *testing.T, cfg KafkaConfig) *Kafka {
	t.Helper()
	cfg.Kafka = f.kc
	if cfg.TopicPrefix == "" {
		cfg.TopicPrefix = prefix
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	cfg.ClientOpts = []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)}
	k, err := NewKafka(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

func (f *fixture) http(t *testing.T, cfg HTTPConfig) *HTTP {
	t.Helper()
	if cfg.URL == "" {
		cfg.URL = f.sim.URL
	}
	if cfg.APIKey == "" {
		cfg.APIKey = apiKey
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Second
	}
	h, err := NewHTTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// transports returns one client of each kind on f's simulator, with the
// scope given.
func (f *fixture) transports(t *testing.T, scope string) map[string]Simulator {
	t.Helper()
	return map[string]Simulator{
		"kafka": f.kafka(t, KafkaConfig{Scope: scope}),
		"http":  f.http(t, HTTPConfig{Scope: scope}),
	}
}

func TestScopeHeader(t *testing.T) {
	if ScopeHeader != service.ScopeHeader {
		t.Fatalf("ScopeHeader %q, the service reads %q", ScopeHeader, service.ScopeHeader)
	}
}

// TestSimulate asks the in-process simulator over both transports: a
// valid request is answered completed with the snapshot's calibration
// quality; an invalid one is returned failed together with its *api.Error
// listing every field path; a scope without a snapshot (sent as a header)
// is a retriable internal error.
func TestSimulate(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	for name, cl := range f.transports(t, "") {
		t.Run(name+"/completed", func(t *testing.T) {
			resp, err := cl.Simulate(ctx, validRequest())
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != api.StatusCompleted || resp.Predictions == nil || resp.Predictions.ExpectedOutcomes.ConversionRate == nil {
				t.Fatalf("response %+v", resp)
			}
			if q := resp.CalibrationQuality; q == nil || q.HistoricalAccuracy != 0.8 {
				t.Errorf("calibration quality %+v", q)
			}
			if n := len(resp.Predictions.SegmentBreakdown); n != 2 {
				t.Errorf("%d segment rows, want 2", n)
			}
		})
		t.Run(name+"/validation", func(t *testing.T) {
			resp, err := cl.Simulate(ctx, invalidRequest())
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Kind != api.KindValidation || ae.Retriable() {
				t.Fatalf("error %v, want a validation *api.Error", err)
			}
			if resp.Status != api.StatusFailed || resp.Error != ae || !strings.HasPrefix(resp.SimulationID, "sim_") {
				t.Errorf("response %+v, want the failed response carrying the error", resp)
			}
			paths := map[string]bool{}
			for _, fe := range ae.Fields {
				paths[fe.Path] = true
			}
			for _, want := range []string{"industry_context", "intervention.content_variants[1].id", "target_population.size"} {
				if !paths[want] {
					t.Errorf("no problem at %s in %+v", want, ae.Fields)
				}
			}
		})
	}
	for name, cl := range f.transports(t, "tenant-without-snapshot") {
		t.Run(name+"/scope", func(t *testing.T) {
			_, err := cl.Simulate(ctx, validRequest())
			var ae *api.Error
			if !errors.As(err, &ae) || ae.Kind != api.KindInternal || !strings.Contains(ae.Message, "tenant-without-snapshot") {
				t.Fatalf("error %v, want an internal error naming the scope", err)
			}
		})
	}
}

// TestUnauthorized: a wrong key is answered 401 with an error of kind
// unauthorized, which is not retried, and the key is never logged.
func TestUnauthorized(t *testing.T) {
	f := start(t)
	var logs testenv.SyncBuffer
	const wrong = "pk_wrong_key_do_not_log"
	h := f.http(t, HTTPConfig{APIKey: wrong, Retries: 3, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	start := time.Now()
	resp, err := h.Simulate(context.Background(), validRequest())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Kind != api.KindUnauthorized || resp.Status != api.StatusFailed {
		t.Fatalf("error %v, response %+v: want unauthorized", err, resp)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s: a 401 must not be retried", d)
	}
	if s := h.cfg.String() + logs.String() + err.Error(); strings.Contains(s, wrong) {
		t.Errorf("the key leaked: %s", s)
	}
	if s := (HTTPConfig{URL: "http://u:pw@h:1", APIKey: wrong}).String(); strings.Contains(s, wrong) || strings.Contains(s, "pw") {
		t.Errorf("String() = %s", s)
	}
}

// TestRateLimited: a simulator allowing 1 request/s answers the second
// request in a row 429 with Retry-After; the client waits that long and
// gets the answer; without retries the 429 comes back as a limit error.
func TestRateLimited(t *testing.T) {
	f := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	limited := startSimulator(t, ctx, service.Config{Kafka: f.kc, TopicPrefix: prefix, DisableKafkaRequests: true, RateLimit: 1})
	var hits atomic.Int32
	var retryAfter atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		rw := &recorder{ResponseWriter: w}
		forward(limited.URL, rw, r)
		if rw.status == http.StatusTooManyRequests {
			retryAfter.Store(rw.Header().Get("Retry-After"))
		}
	}))
	defer proxy.Close()

	once := f.http(t, HTTPConfig{URL: proxy.URL})
	if _, err := once.Simulate(ctx, validRequest()); err != nil {
		t.Fatal(err)
	}
	_, err := once.Simulate(ctx, validRequest())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Kind != api.KindLimit || ae.HTTPStatus() != http.StatusTooManyRequests {
		t.Fatalf("error %v, want the rate limit", err)
	}

	retrying := f.http(t, HTTPConfig{URL: proxy.URL, Retries: 2, Backoff: time.Millisecond})
	hits.Store(0)
	begin := time.Now()
	resp, err := retrying.Simulate(ctx, validRequest())
	if err != nil || resp.Status != api.StatusCompleted {
		t.Fatalf("after retrying: %v %+v", err, resp)
	}
	ra, _ := retryAfter.Load().(string)
	if hits.Load() < 2 || ra == "" {
		t.Fatalf("%d requests, Retry-After %q: the retry was not exercised", hits.Load(), ra)
	}
	if d := time.Since(begin); d < 900*time.Millisecond {
		t.Errorf("answered after %s, before the Retry-After of %ss", d, ra)
	}
}

// recorder remembers the status written through it.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(s int) {
	r.status = s
	r.ResponseWriter.WriteHeader(s)
}

// forward sends r to base and copies the answer to w.
func forward(base string, w http.ResponseWriter, r *http.Request) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.Path, r.Body)
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	_, _ = w.Write(b.Bytes())
}

// TestTimeout: nobody consumes the request topic, so every attempt waits
// its timeout; the error matches ErrTimeout after Retries+1 attempts. The
// same over HTTP against a server that never answers.
func TestTimeout(t *testing.T) {
	f := start(t)
	ctx := context.Background()
	k := f.kafka(t, KafkaConfig{TopicPrefix: "idle.", Timeout: 300 * time.Millisecond, Retries: 1})
	begin := time.Now()
	_, err := k.Simulate(ctx, validRequest())
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if d := time.Since(begin); d < 600*time.Millisecond || d > 10*time.Second {
		t.Errorf("gave up after %s, want about 2 × 300ms", d)
	}

	hang := hangingServer(t)
	h := f.http(t, HTTPConfig{URL: hang.URL, Timeout: 200 * time.Millisecond, Retries: 1, Backoff: time.Millisecond})
	begin = time.Now()
	_, err = h.Simulate(ctx, validRequest())
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("http error %v, want ErrTimeout", err)
	}
	if d := time.Since(begin); d < 400*time.Millisecond {
		t.Errorf("http gave up after %s, want 2 attempts of 200ms", d)
	}
}

// hangingServer answers nothing until its client goes away.
func hangingServer(t *testing.T) *httptest.Server {
	t.Helper()
	stop := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body, so that the server notices the client leaving.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(stop) }) // first: Cleanup runs last in, first out
	return s
}

// TestCancel: cancelling the context ends the wait at once, over both
// transports, with the context's error.
func TestCancel(t *testing.T) {
	f := start(t)
	hang := hangingServer(t)
	for name, cl := range map[string]Simulator{
		"kafka": f.kafka(t, KafkaConfig{TopicPrefix: "idle.", Timeout: time.Minute}),
		"http":  f.http(t, HTTPConfig{URL: hang.URL, Timeout: time.Minute, Retries: 5}),
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			begin := time.Now()
			_, err := cl.Simulate(ctx, validRequest())
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
				t.Fatalf("error %v, want the context's deadline (not the client's timeout)", err)
			}
			if d := time.Since(begin); d > 5*time.Second {
				t.Errorf("returned after %s", d)
			}
		})
	}
}

// TestKafkaCloseLeavesNoGoroutine: Close stops the client's reply reader
// and its connections. A first client warms the simulator up (its workers
// start on the first request), so that only the second client's goroutines
// are counted.
func TestKafkaCloseLeavesNoGoroutine(t *testing.T) {
	f := start(t)
	ask := func() {
		t.Helper()
		k, err := NewKafka(KafkaConfig{Kafka: f.kc, TopicPrefix: prefix, Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Simulate(context.Background(), validRequest()); err != nil {
			t.Fatal(err)
		}
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ask()
	before := settled(0)
	ask()
	if after := settled(before); after > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after Close, %d before:\n%s", after, before, buf[:runtime.Stack(buf, true)])
	}
}

// settled waits up to 10s for the number of goroutines to drop to want (0:
// to stop changing for 200ms) and returns it.
func settled(want int) int {
	deadline := time.Now().Add(10 * time.Second)
	n, stable := runtime.NumGoroutine(), 0
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		switch {
		case want > 0 && m <= want:
			return m
		case m == n:
			stable++
		default:
			n, stable = m, 0
		}
		if want == 0 && stable >= 10 {
			return n
		}
	}
	return runtime.NumGoroutine()
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want []string
	}{
		{"http empty", HTTPConfig{}.Validate(), []string{"url", "api key"}},
		{"http negative", HTTPConfig{URL: "http://h:1", APIKey: "k", Timeout: -1, Retries: -1}.Validate(), []string{"timeout", "retries"}},
		{"http scheme", HTTPConfig{URL: "ftp://h", APIKey: "k"}.Validate(), []string{"url"}},
		{"kafka", KafkaConfig{ReplyPartition: -1, Retries: -2}.Validate(), []string{"brokers", "reply partition", "retries"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(tc.err.Error(), w) {
					t.Errorf("error %q does not mention %s", tc.err, w)
				}
			}
		})
	}
	if err := (HTTPConfig{URL: "https://sim.example:8443/x", APIKey: "k"}).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"2", 2 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %t; want %s, %t", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
