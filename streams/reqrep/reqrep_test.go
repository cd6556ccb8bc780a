package reqrep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/streams"
)

// fixture is one embedded broker with a request topic and a reply topic.
type fixture struct {
	t        *testing.T
	broker   *streams.Embedded
	kafka    streams.KafkaConfig
	admin    *kgo.Client
	requests string
	replies  string
}

const testPartitions = 4

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := streams.StartEmbedded(streams.EmbeddedConfig{Partitions: testPartitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	f := &fixture{t: t, broker: b, kafka: streams.KafkaConfig{Brokers: b.Addrs()}, requests: "test.requests", replies: "test.replies"}
	f.admin, err = kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.RecordPartitioner(replyPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.admin.Close)
	f.createTopics(f.requests, f.replies)
	return f
}

func (f *fixture) createTopics(topics ...string) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.EnsureTopics(ctx, f.admin, testPartitions, -1, topics...); err != nil {
		f.t.Fatal(err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// serverConfig returns a server configuration for the fixture's topics.
func (f *fixture) serverConfig() ServerConfig {
	return ServerConfig{
		Kafka: f.kafka, Topic: f.requests, Group: "test-servers",
		AllowedReplyTopics: []string{f.replies, "test.extra.*"},
		Workers:            4, ShutdownTimeout: 10 * time.Second,
		Logger:     testLogger(f.t),
		ClientOpts: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond), kgo.FetchMaxWait(100 * time.Millisecond)},
	}
}

// running is a Server running in a goroutine.
type running struct {
	srv  *Server
	stop context.CancelFunc
	done chan error
}

// start runs a server until the test ends or stop is called.
func (f *fixture) start(cfg ServerConfig, h Handler) *running {
	f.t.Helper()
	srv, err := NewServer(cfg, h)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{srv: srv, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Run(ctx) }()
	f.t.Cleanup(func() { r.shutdown(f.t) })
	return r
}

// shutdown stops the server and waits for Run to return.
func (r *running) shutdown(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not stop within 20s")
	}
}

func (f *fixture) client(partition int32) *Client {
	f.t.Helper()
	c, err := NewClient(ClientConfig{Kafka: f.kafka, ReplyTopic: f.replies, ReplyPartition: partition, Logger: testLogger(f.t)})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(c.Close)
	return c
}

// echo replies "echo:<value>" and counts its calls per value.
type echo struct {
	mu    sync.Mutex
	calls map[string]int
	delay time.Duration
}

func newEcho(delay time.Duration) *echo { return &echo{calls: map[string]int{}, delay: delay} }

func (e *echo) handle(ctx context.Context, req Request) (Reply, error) {
	e.mu.Lock()
	e.calls[string(req.Value)]++
	e.mu.Unlock()
	if e.delay > 0 {
		select {
		case <-time.After(e.delay):
		case <-ctx.Done():
			return Reply{}, ctx.Err()
		}
	}
	if bytes.HasPrefix(req.Value, []byte("reject")) {
		return Reply{}, Validation("cannot accept %q", req.Value)
	}
	return Reply{Value: append([]byte("echo:"), req.Value...)}, nil
}

func (e *echo) count(v string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[v]
}

func (e *echo) total() (calls int, maxPerValue int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, n := range e.calls {
		calls += n
		maxPerValue = max(maxPerValue, n)
	}
	return calls, maxPerValue
}

// waitFor polls cond every 20ms until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readAll reads every record of topic (all partitions) present when called.
func (f *fixture) readAll(topic string) []*kgo.Record {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(f.admin).ListEndOffsets(ctx, topic)
	if err != nil {
		f.t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.kafka.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		f.t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			f.t.Fatalf("reading %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

// endOffsets sums the end offsets of topic.
func (f *fixture) records(topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(f.admin).ListEndOffsets(ctx, topic)
	if err != nil {
		f.t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// produce writes a raw request record.
func (f *fixture) produce(r *kgo.Record) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r.Partition == 0 {
		r.Partition = -1
	}
	if err := f.admin.ProduceSync(ctx, r).FirstErr(); err != nil {
		f.t.Fatal(err)
	}
}

func rawRequest(topic, replyTopic string, corr []byte, value string, extra ...kgo.RecordHeader) *kgo.Record {
	h := []kgo.RecordHeader{{Key: HeaderCorrelationID, Value: corr}, {Key: HeaderReplyTopic, Value: []byte(replyTopic)}}
	return &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(value), Headers: append(h, extra...)}
}

// counter reads a counter of reg; labels are name=value pairs.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// (a) Several instances in one group, several clients: every request is
// answered exactly once, with its own reply.
func TestManyServersManyClients(t *testing.T) {
	f := newFixture(t)
	h := newEcho(0)
	for range 3 {
		f.start(f.serverConfig(), h.handle)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := f.broker.Cluster().WaitGroupStable(ctx, "test-servers", 3); err != nil {
		t.Fatalf("group did not settle with 3 members: %v", err)
	}
	const clients, perClient = 3, 40
	var wg sync.WaitGroup
	var bad atomic.Int64
	cls := make([]*Client, clients)
	for c := range clients {
		cls[c] = f.client(int32(c))
	}
	for c := range clients {
		for i := range perClient {
			wg.Go(func() {
				v := fmt.Sprintf("c%d-r%d", c, i)
				rep, err := cls[c].Do(ctx, f.requests, []byte(v), []byte(v), 10*time.Second)
				if err != nil || string(rep.Value) != "echo:"+v || rep.Partition != int32(c) {
					bad.Add(1)
					t.Errorf("request %s: reply %q on partition %d, err %v", v, rep.Value, rep.Partition, err)
				}
			})
		}
	}
	wg.Wait()
	if bad.Load() > 0 {
		t.FailNow()
	}
	if calls, most := h.total(); calls != clients*perClient || most != 1 {
		t.Errorf("handler calls = %d (at most %d per request), want %d (1 each)", calls, most, clients*perClient)
	}
	replies := f.readAll(f.replies)
	seen := map[string]bool{}
	for _, r := range replies {
		c, _ := header(r.Headers, HeaderCorrelationID)
		if seen[string(c)] {
			t.Errorf("correlation id %x answered twice", c)
		}
		seen[string(c)] = true
	}
	if len(replies) != clients*perClient {
		t.Errorf("%d reply records, want %d", len(replies), clients*perClient)
	}
	for c, cl := range cls {
		if n := cl.Ignored(); n != 0 {
			t.Errorf("client %d ignored %d replies", c, n)
		}
	}
}

// (b) Stopping one instance mid-stream loses no request: gracefully (it
// finishes and commits what it holds) and hard (its shutdown timeout cuts
// the handlers short; their requests are not committed, so another member
// gets them again).
func TestStopOneServerMidStream(t *testing.T) {
	for _, tc := range []struct {
		name     string
		shutdown time.Duration
	}{{"graceful", 10 * time.Second}, {"hard", time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			h := newEcho(5 * time.Millisecond)
			var handled [3]atomic.Int64
			servers := make([]*running, 3)
			for i := range servers {
				cfg := f.serverConfig()
				if i == 1 {
					cfg.ShutdownTimeout = tc.shutdown
				}
				servers[i] = f.start(cfg, func(ctx context.Context, req Request) (Reply, error) {
					handled[i].Add(1)
					return h.handle(ctx, req)
				})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			if _, err := f.broker.Cluster().WaitGroupStable(ctx, "test-servers", 3); err != nil {
				t.Fatalf("group did not settle: %v", err)
			}
			cl := f.client(0)
			const n = 200
			var answered atomic.Int64
			var wg sync.WaitGroup
			sem := make(chan struct{}, 16) // a steady stream, not one burst
			for i := range n {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					v := fmt.Sprintf("r%d", i)
					rep, err := cl.Do(ctx, f.requests, []byte(v), []byte(v), 20*time.Second)
					if err != nil || string(rep.Value) != "echo:"+v {
						t.Errorf("request %s: reply %q, err %v", v, rep.Value, err)
						return
					}
					answered.Add(1)
				})
				if i == n/3 {
					servers[1].shutdown(t)
				}
			}
			wg.Wait()
			if answered.Load() != n {
				t.Fatalf("%d of %d requests answered", answered.Load(), n)
			}
			if handled[1].Load() == 0 {
				t.Error("the stopped server handled nothing before it stopped; the test proves little")
			}
			calls, most := h.total()
			t.Logf("handler calls %d for %d requests (most per request %d); per server %d/%d/%d",
				calls, n, most, handled[0].Load(), handled[1].Load(), handled[2].Load())
			if calls < n {
				t.Errorf("handler called %d times for %d requests", calls, n)
			}
		})
	}
}

// Run and Close leave no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	f := newFixture(t)
	base := runtime.NumGoroutine()
	r := f.start(f.serverConfig(), newEcho(0).handle)
	c, err := NewClient(ClientConfig{Kafka: f.kafka, ReplyTopic: f.replies, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), f.requests, nil, []byte("x"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Close()
	r.shutdown(t)
	waitFor(t, 10*time.Second, fmt.Sprintf("goroutines back to %d", base), func() bool { return runtime.NumGoroutine() <= base })
}

// (c) A request past its deadline gets a timeout error reply and the
// handler is not called.
func TestExpiredRequest(t *testing.T) {
	f := newFixture(t)
	h := newEcho(0)
	reg := prometheus.NewRegistry()
	cfg := f.serverConfig()
	cfg.Registerer = reg
	f.start(cfg, h.handle)
	past := time.Now().Add(-time.Second)
	f.produce(rawRequest(f.requests, f.replies, []byte("late-1"), "late",
		kgo.RecordHeader{Key: HeaderDeadline, Value: EncodeDeadline(past)}))
	waitFor(t, 15*time.Second, "the timeout reply", func() bool { return f.records(f.replies) == 1 })
	r := f.readAll(f.replies)[0]
	if c, _ := header(r.Headers, HeaderCorrelationID); string(c) != "late-1" {
		t.Errorf("correlation id %q", c)
	}
	if k, _ := header(r.Headers, HeaderError); string(k) != string(KindTimeout) {
		t.Errorf("x-error = %q, want timeout", k)
	}
	if calls, _ := h.total(); calls != 0 {
		t.Errorf("handler called %d times for an expired request", calls)
	}
	if v := counter(t, reg, "reqrep_expired_requests_total"); v != 1 {
		t.Errorf("reqrep_expired_requests_total = %v", v)
	}
	if v := counter(t, reg, "reqrep_requests_total", "result", "expired"); v != 1 {
		t.Errorf(`reqrep_requests_total{result="expired"} = %v`, v)
	}
}

// (d) The same request record twice (same correlation id): the handler runs
// once and each copy gets one reply, so the requester sees two identical
// replies (Client drops the second).
func TestRedeliveredRequestComputedOnce(t *testing.T) {
	f := newFixture(t)
	h := newEcho(0)
	reg := prometheus.NewRegistry()
	cfg := f.serverConfig()
	cfg.Registerer = reg
	f.start(cfg, h.handle)
	corr := []byte{0xde, 0xad, 0x00, 0xbe, 0xef} // binary, with a zero byte
	f.produce(rawRequest(f.requests, f.replies, corr, "twice"))
	waitFor(t, 15*time.Second, "the first reply", func() bool { return f.records(f.replies) == 1 })
	f.produce(rawRequest(f.requests, f.replies, corr, "twice"))
	waitFor(t, 15*time.Second, "the second reply", func() bool { return f.records(f.replies) == 2 })
	rs := f.readAll(f.replies)
	for _, r := range rs {
		c, _ := header(r.Headers, HeaderCorrelationID)
		if !bytes.Equal(c, corr) || string(r.Value) != "echo:twice" {
			t.Errorf("reply %q with correlation %x", r.Value, c)
		}
	}
	if calls, _ := h.total(); calls != 1 {
		t.Errorf("handler called %d times, want 1", calls)
	}
	if v := counter(t, reg, "reqrep_duplicate_requests_total"); v != 1 {
		t.Errorf("reqrep_duplicate_requests_total = %v", v)
	}

	// Two copies back to back (usually in one poll, where the second waits
	// for the first one's computation) are computed once too.
	corr2 := []byte("same-batch")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r1, r2 := rawRequest(f.requests, f.replies, corr2, "batch"), rawRequest(f.requests, f.replies, corr2, "batch")
	r1.Partition, r2.Partition = 1, 1
	if err := f.admin.ProduceSync(ctx, r1, r2).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "two more replies", func() bool { return f.records(f.replies) == 4 })
	if n := h.count("batch"); n != 1 {
		t.Errorf("handler called %d times for two copies in one batch", n)
	}
}

// (e) A reply topic outside the allow-list gets nothing written.
func TestReplyTopicNotAllowed(t *testing.T) {
	f := newFixture(t)
	f.createTopics("test.secret")
	h := newEcho(0)
	reg := prometheus.NewRegistry()
	cfg := f.serverConfig()
	cfg.Registerer = reg
	f.start(cfg, h.handle)
	f.produce(rawRequest(f.requests, "test.secret", []byte("nope"), "x"))
	waitFor(t, 15*time.Second, "the refusal", func() bool {
		return counter(t, reg, "reqrep_requests_total", "result", "refused") == 1
	})
	if n := f.records("test.secret"); n != 0 {
		t.Errorf("%d records written to a refused reply topic", n)
	}
	if calls, _ := h.total(); calls != 0 {
		t.Errorf("handler called for a refused request")
	}
	// A prefix entry of the allow-list does allow.
	f.createTopics("test.extra.one")
	f.produce(rawRequest(f.requests, "test.extra.one", []byte("yes"), "x"))
	waitFor(t, 15*time.Second, "a reply on the prefix-allowed topic", func() bool { return f.records("test.extra.one") == 1 })
}

// (f) kcat, an independent librdkafka client, as the requester.
func TestKcatRequester(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is required (scripts/test.sh installs it): ", err)
	}
	f := newFixture(t)
	h := newEcho(0)
	f.start(f.serverConfig(), h.handle)
	addr := f.kafka.Brokers[0]
	cmd := exec.Command(kcat, "-P", "-b", addr, "-t", f.requests, "-k", "kkey",
		"-H", HeaderCorrelationID+"=kcat-corr-42", "-H", HeaderReplyTopic+"="+f.replies)
	cmd.Stdin = strings.NewReader("hello from kcat\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}
	var got string
	waitFor(t, 20*time.Second, "kcat to read the reply", func() bool {
		out, err := exec.Command(kcat, "-C", "-b", addr, "-t", f.replies, "-o", "beginning", "-e", "-q", "-f", "%h %k %s\n").Output()
		got = string(out)
		return err == nil && strings.Contains(got, "hello")
	})
	want := HeaderCorrelationID + "=kcat-corr-42 kkey echo:hello from kcat"
	if strings.TrimSpace(got) != want {
		t.Errorf("kcat read %q, want %q", got, want)
	}
}

// (g) No server: Do times out with a TimeoutError after its retries.
func TestClientTimeoutWithoutServer(t *testing.T) {
	f := newFixture(t)
	c, err := NewClient(ClientConfig{Kafka: f.kafka, ReplyTopic: f.replies, Retries: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Do(context.Background(), f.requests, nil, []byte("anyone?"), 300*time.Millisecond)
	var te *TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, ErrTimeout) || te.Attempts != 2 {
		t.Fatalf("Do = %v, want a TimeoutError after 2 attempts", err)
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 5*time.Second {
		t.Errorf("Do took %s for 2 attempts of 300ms", d)
	}
	// Both attempts carried the same correlation id.
	rs := f.readAll(f.requests)
	if len(rs) != 2 {
		t.Fatalf("%d request records, want 2", len(rs))
	}
	a, _ := header(rs[0].Headers, HeaderCorrelationID)
	b, _ := header(rs[1].Headers, HeaderCorrelationID)
	if len(a) != 16 || !bytes.Equal(a, b) {
		t.Errorf("correlation ids %x and %x, want the same 16 bytes", a, b)
	}
}

// Retries after a server starts late: the first copy has expired (a timeout
// reply, not cached, which makes the client send again), a later copy is
// computed once, the rest are answered from the cache, and Do succeeds.
func TestClientRetryReachesLateServer(t *testing.T) {
	f := newFixture(t)
	c, err := NewClient(ClientConfig{Kafka: f.kafka, ReplyTopic: f.replies, Retries: 20, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	type result struct {
		rep Reply
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := c.Do(context.Background(), f.requests, nil, []byte("patient"), 500*time.Millisecond)
		done <- result{rep, err}
	}()
	waitFor(t, 10*time.Second, "two attempts", func() bool { return f.records(f.requests) >= 2 })
	h := newEcho(0)
	f.start(f.serverConfig(), h.handle)
	select {
	case r := <-done:
		if r.err != nil || string(r.rep.Value) != "echo:patient" {
			t.Fatalf("Do = %q, %v", r.rep.Value, r.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Do did not return")
	}
	if calls, _ := h.total(); calls != 1 {
		t.Errorf("handler called %d times, want 1", calls)
	}
}

// (h) kafka_replyPartition is honoured, from Client and from raw records.
func TestReplyPartition(t *testing.T) {
	f := newFixture(t)
	h := newEcho(0)
	f.start(f.serverConfig(), h.handle)
	c := f.client(2)
	rep, err := c.Do(context.Background(), f.requests, nil, []byte("p2"), 10*time.Second)
	if err != nil || rep.Partition != 2 || rep.Topic != f.replies {
		t.Fatalf("Do: reply on %s/%d, err %v; want partition 2", rep.Topic, rep.Partition, err)
	}
	if _, err := NewClient(ClientConfig{Kafka: f.kafka, ReplyTopic: f.replies, ReplyPartition: testPartitions}); err == nil ||
		!strings.Contains(err.Error(), "has no partition") {
		t.Errorf("NewClient on a missing partition: %v", err)
	}
	f.produce(rawRequest(f.requests, f.replies, []byte("to-3"), "p3",
		kgo.RecordHeader{Key: HeaderReplyPartition, Value: []byte{0, 0, 0, 3}}))
	waitFor(t, 15*time.Second, "the raw reply", func() bool { return f.records(f.replies) == 2 })
	for _, r := range f.readAll(f.replies) {
		if string(r.Value) == "echo:p3" && r.Partition != 3 {
			t.Errorf("raw reply on partition %d, want 3", r.Partition)
		}
	}
}

// Error replies: a handler's validation error, and malformed headers.
func TestErrorReplies(t *testing.T) {
	f := newFixture(t)
	f.createTopics("test.dlq")
	h := newEcho(0)
	reg := prometheus.NewRegistry()
	cfg := f.serverConfig()
	cfg.Registerer = reg
	cfg.DLQTopic = "test.dlq"
	f.start(cfg, h.handle)
	c := f.client(0)
	_, err := c.Do(context.Background(), f.requests, nil, []byte("reject me"), 10*time.Second)
	var re *ReplyError
	if !errors.As(err, &re) || re.Kind != KindValidation || !strings.Contains(re.Message, "reject me") {
		t.Fatalf("Do = %v, want a validation ReplyError", err)
	}
	// A 3-byte reply partition: a validation reply (to the topic, any
	// partition) and a dead letter.
	f.produce(rawRequest(f.requests, f.replies, []byte("badpart"), "x",
		kgo.RecordHeader{Key: HeaderReplyPartition, Value: []byte{0, 0, 1}}))
	// No reply topic: only a dead letter.
	f.produce(&kgo.Record{Topic: f.requests, Value: []byte("orphan"), Headers: []kgo.RecordHeader{{Key: HeaderCorrelationID, Value: []byte("o")}}})
	waitFor(t, 15*time.Second, "two dead letters", func() bool { return f.records("test.dlq") == 2 })
	waitFor(t, 15*time.Second, "the validation reply", func() bool { return f.records(f.replies) == 2 })
	for _, r := range f.readAll(f.replies) {
		if c, _ := header(r.Headers, HeaderCorrelationID); string(c) == "badpart" {
			if k, _ := header(r.Headers, HeaderError); string(k) != string(KindValidation) {
				t.Errorf("x-error = %q", k)
			}
		}
	}
	if v := counter(t, reg, "reqrep_requests_total", "result", "invalid"); v != 2 {
		t.Errorf(`reqrep_requests_total{result="invalid"} = %v, want 2`, v)
	}
	if v := counter(t, reg, "reqrep_requests_total", "result", "error"); v != 1 {
		t.Errorf(`reqrep_requests_total{result="error"} = %v, want 1`, v)
	}
}

func TestHeaderCodecs(t *testing.T) {
	if p, err := DecodePartition(EncodePartition(7)); err != nil || p != 7 {
		t.Errorf("partition round trip = %d, %v", p, err)
	}
	if !bytes.Equal(EncodePartition(258), []byte{0, 0, 1, 2}) {
		t.Errorf("EncodePartition(258) = %v", EncodePartition(258))
	}
	if _, err := DecodePartition([]byte{0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Error("negative partition accepted")
	}
	d := time.UnixMilli(1764121234567)
	if string(EncodeDeadline(d)) != "1764121234567" {
		t.Errorf("EncodeDeadline = %s", EncodeDeadline(d))
	}
	for _, bad := range []string{"", "soon", "-5", "1.5"} {
		if _, err := DecodeDeadline([]byte(bad)); err == nil {
			t.Errorf("deadline %q accepted", bad)
		}
	}
}

func TestReplyCacheBoundsAndTTL(t *testing.T) {
	c := newReplyCache(2, time.Minute)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	for _, k := range []string{"a", "b", "c"} {
		e, compute := c.acquire(k)
		if !compute {
			t.Fatalf("%s: not computed", k)
		}
		c.finish(e, cachedReply{value: []byte(k)}, true)
	}
	if c.len() != 2 {
		t.Fatalf("len = %d, want 2", c.len())
	}
	if _, compute := c.acquire("a"); !compute {
		t.Error("evicted entry a was still cached")
	}
	if e, compute := c.acquire("c"); compute || string(e.reply.value) != "c" {
		t.Error("entry c was lost")
	}
	now = now.Add(2 * time.Minute)
	if _, compute := c.acquire("c"); !compute {
		t.Error("expired entry c was still cached")
	}
	e, _ := c.acquire("t")
	c.finish(e, cachedReply{kind: KindTimeout}, false)
	if _, compute := c.acquire("t"); !compute {
		t.Error("a reply finished with keep=false was cached")
	}
}

func TestConfigValidate(t *testing.T) {
	k := streams.KafkaConfig{Brokers: []string{"k:9092"}}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"server ok", ServerConfig{Kafka: k, Topic: "r", AllowedReplyTopics: []string{"x"}}.Validate(), ""},
		{"no topic", ServerConfig{Kafka: k, AllowedReplyTopics: []string{"x"}}.Validate(), "request topic is required"},
		{"empty allow-list", ServerConfig{Kafka: k, Topic: "r"}.Validate(), "allow-list is empty"},
		{"star", ServerConfig{Kafka: k, Topic: "r", AllowedReplyTopics: []string{"*"}}.Validate(), "would allow any topic"},
		{"client ok", ClientConfig{Kafka: k, ReplyTopic: "x"}.Validate(), ""},
		{"client no topic", ClientConfig{Kafka: k}.Validate(), "reply topic is required"},
		{"client negative partition", ClientConfig{Kafka: k, ReplyTopic: "x", ReplyPartition: -1}.Validate(), "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" && tc.err != nil || tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want %q", tc.err, tc.want)
			}
		})
	}
}

// Two clients on a shared reply topic (no reply partition): each gets its
// own replies and drops the other's.
func TestSharedReplyTopic(t *testing.T) {
	f := newFixture(t)
	f.start(f.serverConfig(), newEcho(0).handle)
	var cls [2]*Client
	for i := range cls {
		c, err := NewClient(ClientConfig{Kafka: f.kafka, ReplyTopic: f.replies, SharedReplyTopic: true, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		cls[i] = c
	}
	const n = 20
	var wg sync.WaitGroup
	for i := range cls {
		for j := range n {
			wg.Go(func() {
				v := fmt.Sprintf("s%d-%d", i, j)
				rep, err := cls[i].Do(context.Background(), f.requests, []byte(v), []byte(v), 10*time.Second)
				if err != nil || string(rep.Value) != "echo:"+v {
					t.Errorf("%s: %q, %v", v, rep.Value, err)
				}
			})
		}
	}
	wg.Wait()
	for _, r := range f.readAll(f.requests) {
		if _, ok := header(r.Headers, HeaderReplyPartition); ok {
			t.Fatal("a shared-topic client sent kafka_replyPartition")
		}
	}
	waitFor(t, 10*time.Second, "each client to see the other's replies", func() bool {
		return cls[0].Ignored() == n && cls[1].Ignored() == n
	})
}
