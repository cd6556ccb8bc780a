package llm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/llm"
	"github.com/preflight-hq/preflight/persona/llmtest"

	"github.com/preflight-hq/preflight/internal/testenv"
)

const (
	testKey   = "sk-test-7f3a9c0e1b2d4f6a8c"
	testModel = "test-model"
	// validAnswer is a well-formed judgement in the output contract.
	validAnswer = `{"rationale":"I like a discount on shoes.","drivers":[{"factor":"discount","effect":0.6},{"factor":"fatigue","effect":-0.1}],"intent_change":0.4,"confidence":0.8}`
)

// sleeper records the waits a Client asks for and returns at once.
type sleeper struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeper) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *sleeper) Waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// env is a scripted server with a Client and Reasoner pointed at it.
type env struct {
	srv   *llmtest.Server
	cli   *llm.Client
	r     *llm.Reasoner
	sleep *sleeper
	reg   *prometheus.Registry
	logs  *testenv.SyncBuffer
}

// newEnv starts a server with rules and a Client on it; edit adjusts the
// Config before the Client is made.
func newEnv(t testing.TB, rules []*llmtest.Rule, edit func(*llm.Config), opts ...func(*llm.Options)) *env {
	t.Helper()
	srv := llmtest.New(llmtest.Config{APIKey: testKey, Rules: rules})
	t.Cleanup(srv.Close)
	cfg := llm.Config{
		BaseURL:        srv.BaseURL(),
		Model:          testModel,
		APIKey:         testKey,
		Timeout:        2 * time.Second,
		MaxConcurrency: 4,
		Seed:           42,
		Prices:         map[string]llm.Price{testModel: {InputPerMTok: 2.5, OutputPerMTok: 10}},
	}
	if edit != nil {
		edit(&cfg)
	}
	e := &env{srv: srv, sleep: &sleeper{}, reg: prometheus.NewRegistry(), logs: &testenv.SyncBuffer{}}
	o := llm.Options{
		Metrics: llm.NewMetrics(e.reg),
		Logger:  slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:   e.sleep.Sleep,
		Jitter:  func() float64 { return 0.5 },
	}
	for _, f := range opts {
		f(&o)
	}
	cli, err := llm.New(cfg, o)
	if err != nil {
		t.Fatalf("llm.New: %v", err)
	}
	e.cli = cli
	e.r = llm.NewReasoner(cli)
	return e
}

func testPersona(id string) persona.Spec {
	return persona.Spec{
		ID: id, SegmentID: "seg-1", Weight: 1, Name: "Ada Lovelace", AgeBand: "25-34", Gender: "female",
		Region: "London", Occupation: "engineer", IncomeBand: "medium",
		Traits:           map[string]float64{"openness": 0.7, "conscientiousness": 0.6, "extraversion": 0.4, "agreeableness": 0.5, "neuroticism": 0.3},
		Preferences:      map[string]float64{"shoes": 0.8, "books": 0.4},
		ChannelAffinity:  map[string]float64{"email": 0.7, "sms": 0.2, "push": 0.4},
		PriceSensitivity: 0.6, FatigueTolerance: 0.5, LifecycleStage: "active",
		PurchaseHistory: persona.PurchaseHistory{Categories: map[string]int{"shoes": 3}, OrdersPerYear: 4, AvgOrderValue: 60, DaysSinceLastOrder: 20},
	}
}

func testIntervention(id string) persona.Intervention {
	return persona.Intervention{
		ID: id, Channel: "email", Template: "Hi {{first_name}}, 20% off {{favorite_category}} this weekend.",
		Subject: "Your weekend treat", Category: "shoes",
		Offer:    persona.Offer{Kind: "percent_off", Value: 20, ExpiresHours: 48},
		SendHour: 18, DayOfWeek: 5, RecentExposures: 2,
	}
}

// metric returns the value of the counter, gauge or histogram sample count
// named name whose labels include want; 0 when absent.
func metric(t testing.TB, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !labelsMatch(m, want) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, lp := range m.GetLabel() {
		got[lp.GetName()] = lp.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func mustJudge(t testing.TB, r *llm.Reasoner, pid, ivid string) persona.Judgement {
	t.Helper()
	j, err := r.Judge(context.Background(), testPersona(pid), testIntervention(ivid))
	if err != nil {
		t.Fatalf("Judge(%s, %s): %v", pid, ivid, err)
	}
	return j
}

func assertCount(t testing.TB, srv *llmtest.Server, want int) {
	t.Helper()
	if got := srv.Count(); got != want {
		var paths []string
		for _, r := range srv.Requests() {
			paths = append(paths, fmt.Sprintf("%s %s → %d (%s)", r.Method, r.Path, r.Status, r.Rule))
		}
		t.Fatalf("server saw %d requests, want %d: %v", got, want, paths)
	}
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("bad JSON %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("bad JSON %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// jsonEqualValues reports whether a and b encode to the same JSON value.
func jsonEqualValues(t testing.TB, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return jsonEqual(t, ja, jb)
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12+1e-9*math.Abs(b) }

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }

func slogJSON(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
