package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/streams/reqrep"
)

const (
	prefix = "t."
	apiKey = "secret-key-1"
)

func testSnapshot(version uint64, acc float64, at time.Time) *calibration.Snapshot {
	cell := func(seg, ch string, base, up, rpc, cpe, unsub float64, exp uint64) calibration.Cell {
		return calibration.Cell{
			SegmentID: seg, Channel: ch, Exposures: exp, BaseRate: base,
			Uplift: up, UpliftLo: up * 0.8, UpliftHi: up * 1.2,
			RevenuePerConversion: rpc, CostPerExposure: cpe, UnsubscribeRate: unsub,
		}
	}
	return &calibration.Snapshot{
		Schema: calibration.SnapshotSchema, Scope: "retail", Version: version,
		Cells: []calibration.Cell{
			cell("a", "email", 0.02, 0.01, 50, 0.01, 0.001, 1500),
			cell("a", "sms", 0.02, 0.02, 50, 0.05, 0.003, 1500),
			cell("b", "email", 0.04, 0.005, 100, 0.01, 0.002, 500),
			cell("b", "sms", 0.04, 0.01, 100, 0.05, 0.004, 500),
		},
		Quality: calibration.Quality{HistoricalAccuracy: acc, LastCalibration: at},
	}
}

func validRequest(t *testing.T) []byte {
	t.Helper()
	n, h, r := 20, 14, 50
	req := api.SimulateRequest{
		IndustryContext: api.IndustryRetail,
		Intervention: &api.Intervention{
			Type: api.InterventionCampaign, Channels: []api.Channel{api.ChannelEmail},
			ContentVariants: []api.ContentVariant{{ID: "v1", Template: "New arrivals for {{first_name}}"}},
		},
		TargetPopulation: &api.TargetPopulation{SelectionMethod: api.SelectSegment, Segments: []string{"a", "b"}, Size: 10_000},
		SimulationParams: &api.SimulationParams{NumPersonas: &n, TimeHorizonDays: &h, MonteCarloRuns: &r},
	}
	b, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type fixture struct {
	svc     *Service
	http    *httptest.Server
	produce func(*calibration.Snapshot)
	addrs   []string
}

func start(t *testing.T) *fixture {
	t.Helper()
	topics := []string{prefix + "calibration", prefix + "simulate.requests", prefix + "simulate.replies"}
	emb, err := streams.StartEmbedded(streams.EmbeddedConfig{Partitions: 2, Topics: topics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	kc := streams.KafkaConfig{Brokers: emb.Addrs()}
	prod, err := kgo.NewClient(kgo.SeedBrokers(emb.Addrs()...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(prod.Close)
	produce := func(s *calibration.Snapshot) {
		t.Helper()
		b, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := prod.ProduceSync(context.Background(), &kgo.Record{Topic: prefix + "calibration", Key: []byte(s.Scope), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Version 1 is on the topic before the service starts: readiness
	// means it is loaded.
	produce(testSnapshot(1, 0.8, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)))

	svc, err := New(Config{Kafka: kc, TopicPrefix: prefix, APIKeys: []string{"other", apiKey}, Workers: 2,
		ClientOpts: []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := svc.Store.WaitReady(wctx); err != nil {
		t.Fatalf("store not ready: %v", err)
	}
	if _, v := svc.Store.Engine("retail"); v != 1 {
		t.Fatalf("ready with version %d, want 1", v)
	}
	hs := httptest.NewServer(svc.Handler())
	t.Cleanup(hs.Close)
	return &fixture{svc: svc, http: hs, produce: produce, addrs: emb.Addrs()}
}

func (f *fixture) post(t *testing.T, key string, body []byte) (int, []byte, api.SimulateResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.http.URL+SimulatePath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := f.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out api.SimulateResponse
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("status %d, body not a response: %v: %s", res.StatusCode, err, b)
	}
	return res.StatusCode, b, out
}

func responseSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for id, doc := range map[string][]byte{api.RequestSchemaID: api.RequestSchema(), api.ResponseSchemaID: api.ResponseSchema()} {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(id, v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Compile(api.ResponseSchemaID)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, sch *jsonschema.Schema, body []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("response breaks the schema: %v\n%s", err, body)
	}
}

func TestService(t *testing.T) {
	f := start(t)
	sch := responseSchema(t)

	t.Run("ok", func(t *testing.T) {
		status, body, resp := f.post(t, apiKey, validRequest(t))
		if status != http.StatusOK || resp.Status != api.StatusCompleted {
			t.Fatalf("status %d: %s", status, body)
		}
		validate(t, sch, body)
		if resp.CalibrationQuality == nil || resp.CalibrationQuality.HistoricalAccuracy != 0.8 {
			t.Errorf("calibration quality %+v", resp.CalibrationQuality)
		}
	})

	t.Run("unauthorized", func(t *testing.T) {
		for _, key := range []string{"", "wrong"} {
			status, body, resp := f.post(t, key, validRequest(t))
			if status != http.StatusUnauthorized || resp.Error == nil || resp.Error.Kind != api.KindUnauthorized {
				t.Errorf("key %q: status %d: %s", key, status, body)
			}
			validate(t, sch, body)
		}
	})

	t.Run("field errors", func(t *testing.T) {
		body := `{"industry_context":"nope","intervention":{"type":"campaign","channels":["email"],"content_variants":[{"id":"v1","template":"x"}]},"bogus":1}`
		status, b, resp := f.post(t, apiKey, []byte(body))
		if status != http.StatusUnprocessableEntity || resp.Error == nil || resp.Error.Kind != api.KindValidation {
			t.Fatalf("status %d: %s", status, b)
		}
		paths := map[string]bool{}
		for _, fe := range resp.Error.Fields {
			paths[fe.Path] = true
		}
		for _, want := range []string{"industry_context", "target_population", "bogus"} {
			if !paths[want] {
				t.Errorf("no field error at %s: %+v", want, resp.Error.Fields)
			}
		}
		validate(t, sch, b)
	})

	t.Run("not json", func(t *testing.T) {
		status, b, resp := f.post(t, apiKey, []byte(`{"a":`))
		if status != http.StatusBadRequest || resp.Error == nil || resp.Error.Fields[0].Path != api.BodyPath {
			t.Fatalf("status %d: %s", status, b)
		}
		validate(t, sch, b)
	})

	t.Run("too large", func(t *testing.T) {
		status, b, _ := f.post(t, apiKey, bytes.Repeat([]byte(" "), api.DefaultMaxBodyBytes+10))
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d: %s", status, b)
		}
		validate(t, sch, b)
	})

	t.Run("no snapshot", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, f.http.URL+SimulatePath, bytes.NewReader(validRequest(t)))
		req.Header.Set("X-API-Key", apiKey)
		req.Header.Set(ScopeHeader, "tenant-without-snapshot")
		res, err := f.http.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d: %s", res.StatusCode, b)
		}
		validate(t, sch, b)
	})

	t.Run("openapi", func(t *testing.T) {
		res, err := f.http.Client().Get(f.http.URL + api.OpenAPIPath)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "openapi") {
			t.Fatalf("status %d", res.StatusCode)
		}
	})

	t.Run("kafka", func(t *testing.T) {
		cl, err := reqrep.NewClient(reqrep.ClientConfig{Kafka: streams.KafkaConfig{Brokers: f.addrs}, ReplyTopic: prefix + "simulate.replies", Timeout: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx := context.Background()
		rep, err := cl.Do(ctx, prefix+"simulate.requests", []byte("k"), validRequest(t), 0)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, sch, rep.Value)
		var resp api.SimulateResponse
		if err := json.Unmarshal(rep.Value, &resp); err != nil || resp.Status != api.StatusCompleted {
			t.Fatalf("reply %v: %s", err, rep.Value)
		}
		rep, err = cl.Do(ctx, prefix+"simulate.requests", []byte("k"), []byte(`{"industry_context":"retail"}`), 0)
		var re *reqrep.ReplyError
		if !errors.As(err, &re) || re.Kind != reqrep.KindValidation {
			t.Fatalf("error %v, want a validation reply error", err)
		}
		validate(t, sch, rep.Value)
		if err := json.Unmarshal(rep.Value, &resp); err != nil || resp.Error == nil || len(resp.Error.Fields) < 2 {
			t.Fatalf("error reply %v: %s", err, rep.Value)
		}
	})

	// Last: it changes the snapshot.
	t.Run("hot swap", func(t *testing.T) {
		at := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
		f.produce(testSnapshot(2, 0.95, at))
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, v := f.svc.Store.Engine("retail"); v == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("version 2 never loaded")
			}
			time.Sleep(20 * time.Millisecond)
		}
		status, body, resp := f.post(t, apiKey, validRequest(t))
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, body)
		}
		if q := resp.CalibrationQuality; q == nil || q.HistoricalAccuracy != 0.95 || !q.LastCalibration.Equal(at) {
			t.Errorf("calibration quality %+v after the swap", q)
		}
		// An older version arriving later does not win.
		f.produce(testSnapshot(1, 0.5, at))
		f.produce(testSnapshot(3, 0.9, at))
		for deadline = time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, v := f.svc.Store.Engine("retail"); v == 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("version 3 never loaded")
			}
		}
	})
}

func TestApplyKeepsNewest(t *testing.T) {
	s, err := NewSnapshotStore(StoreConfig{Kafka: streams.KafkaConfig{Brokers: []string{"localhost:1"}}, Topic: "x"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range []uint64{2, 1, 3, 3} {
		b, _ := testSnapshot(v, 0.5, at).Encode()
		if err := s.Apply(b); err != nil {
			t.Fatal(err)
		}
	}
	if e, v := s.Engine("retail"); e == nil || v != 3 {
		t.Errorf("version %d, want 3", v)
	}
	if err := s.Apply([]byte(`{"schema":1}`)); err == nil {
		t.Error("an invalid snapshot was accepted")
	}
}

// TestCreateTopics: with CreateTopics, Run creates the missing topics, the
// calibration topic compacted, before it reads them.
func TestCreateTopics(t *testing.T) {
	emb, err := streams.StartEmbedded(streams.EmbeddedConfig{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Close()
	kc := streams.KafkaConfig{Brokers: emb.Addrs()}
	svc, err := New(Config{Kafka: kc, TopicPrefix: "ct.", APIKeys: []string{"k"}, CreateTopics: true, TopicPartitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	if err := svc.Store.WaitReady(wctx); err != nil {
		t.Fatalf("not ready: %v", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(wctx, "ct.calibration", "ct.simulate.requests", "ct.simulate.replies")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ct.calibration", "ct.simulate.requests", "ct.simulate.replies"} {
		if d, ok := td[name]; !ok || d.Err != nil || len(d.Partitions) != 2 {
			t.Errorf("topic %s: %+v", name, d)
		}
	}
	rc, err := adm.DescribeTopicConfigs(wctx, "ct.calibration")
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, c := range rc {
		for _, kv := range c.Configs {
			if kv.Key == "cleanup.policy" && kv.Value != nil {
				policy = *kv.Value
			}
		}
	}
	if policy != "compact" {
		t.Errorf("ct.calibration cleanup.policy %q, want compact", policy)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
}
