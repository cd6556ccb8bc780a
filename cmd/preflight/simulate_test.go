package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// reportSections are the headings every completed report has.
var reportSections = []string{"What was asked", "Expected outcomes over", "Best configuration", "By segment", "Insights", "Calibration"}

// smallSnapshot is a hand-made calibration of scope retail with segments
// a and b.
func smallSnapshot() *calibration.Snapshot {
	cell := func(seg, ch string, base, up float64) calibration.Cell {
		return calibration.Cell{SegmentID: seg, Channel: ch, Exposures: 1000, BaseRate: base, Uplift: up, UpliftLo: up * 0.8, UpliftHi: up * 1.2,
			RevenuePerConversion: 60, CostPerExposure: 0.02, UnsubscribeRate: 0.002}
	}
	return &calibration.Snapshot{Schema: calibration.SnapshotSchema, Scope: "retail", Version: 1,
		Cells:   []calibration.Cell{cell("a", "email", 0.02, 0.01), cell("a", "sms", 0.02, 0.015), cell("b", "email", 0.04, 0.005), cell("b", "sms", 0.04, 0.01)},
		Quality: calibration.Quality{HistoricalAccuracy: 0.9, LastCalibration: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}}
}

const smallRequest = `{
  "industry_context": "retail",
  "intervention": {"type": "campaign", "channels": ["email", "sms"], "content_variants": [{"id": "v1", "template": "Hello {{first_name}}"}]},
  "target_population": {"selection_method": "segment", "segments": ["a", "b"], "size": 5000},
  "simulation_params": {"num_personas": 20, "time_horizon_days": 14, "monte_carlo_runs": 40}
}`

// startSimulator runs a simulator on a kfake broker with smallSnapshot
// under topic prefix "cli.".
func startSimulator(t *testing.T) (*simworld.Simulator, []string) {
	t.Helper()
	emb, err := streams.StartEmbedded(streams.EmbeddedConfig{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Close)
	kc := streams.KafkaConfig{Brokers: emb.Addrs()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := simworld.EnsureTopics(ctx, kc, "cli.", 2); err != nil {
		t.Fatal(err)
	}
	if err := simworld.Publish(ctx, kc, "cli.", smallSnapshot()); err != nil {
		t.Fatal(err)
	}
	sim, err := simworld.StartSimulator(ctx, service.Config{Kafka: kc, TopicPrefix: "cli.", APIKeys: []string{"pk_cli_test"},
		ClientOpts: []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim, emb.Addrs()
}

// simulate runs `preflight simulate args` and returns stdout, stderr and
// the error.
func simulate(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), append([]string{"simulate"}, args...), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// TestSimulateRemote asks a running simulator over HTTP (key from the
// environment, then from a file, request from a file and from stdin) and
// over Kafka: each prints the report; --json prints a response that
// decodes; a wrong key prints the unauthorized answer and fails.
func TestSimulateRemote(t *testing.T) {
	sim, brokers := startSimulator(t)
	dir := t.TempDir()
	reqPath := filepath.Join(dir, "request.json")
	keyPath := filepath.Join(dir, "key")
	for path, body := range map[string]string{reqPath: smallRequest, keyPath: "pk_cli_test\n"} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PREFLIGHT_SIMULATOR_API_KEY", "pk_cli_test")
	stdin = strings.NewReader(smallRequest)
	t.Cleanup(func() { stdin = os.Stdin })
	for name, args := range map[string][]string{
		"http":          {"--url", sim.URL, "--request", reqPath},
		"http key file": {"--url", sim.URL, "--request", reqPath, "--api-key-file", keyPath},
		"http stdin":    {"--url", sim.URL, "--request", "-"},
		"kafka":         {"--kafka-brokers", brokers[0], "--topic-prefix", "cli.", "--request", reqPath},
	} {
		t.Run(name, func(t *testing.T) {
			out, stderr, err := simulate(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			for _, s := range append(reportSections, "5,000 people in a, b", "historical accuracy  90%") {
				if !strings.Contains(out, s) {
					t.Errorf("report lacks %q:\n%s", s, out)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		out, stderr, err := simulate(t, "--url", sim.URL, "--request", reqPath, "--json")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		var resp api.SimulateResponse
		if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Status != api.StatusCompleted {
			t.Fatalf("not a completed response (%v):\n%s", err, out)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		t.Setenv("PREFLIGHT_SIMULATOR_API_KEY", "pk_wrong")
		out, _, err := simulate(t, "--url", sim.URL, "--request", reqPath)
		var ae *api.Error
		if !errors.As(err, &ae) || ae.Kind != api.KindUnauthorized {
			t.Fatalf("error %v, want unauthorized", err)
		}
		if !strings.Contains(out, "unauthorized: the API key is missing or not valid") || strings.Contains(out, "pk_wrong") {
			t.Errorf("report:\n%s", out)
		}
	})
}

// TestSimulateInvalidRequest: a request that breaks the contract is
// answered on the spot with every problem, and the command fails, before
// anything is started.
func TestSimulateInvalidRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte(`{"industry_context":"mars","target_population":{"size":"many"},"extra":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := simulate(t, "--request", path)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Kind != api.KindValidation {
		t.Fatalf("error %v, want a validation error", err)
	}
	for _, s := range []string{"failed", "industry_context", "intervention", "target_population.size", "extra"} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}
}

func TestSimulateUsageErrors(t *testing.T) {
	t.Setenv("PREFLIGHT_SIMULATOR_API_KEY", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", "http://127.0.0.1:1", "--kafka-brokers", "127.0.0.1:2"}, "at most one of --url"},
		{[]string{"--url", "http://127.0.0.1:1"}, "needs an API key"},
		{[]string{"--kafka-brokers", "127.0.0.1:2", "--kafka-sasl-mechanism", "GSSAPI"}, "sasl mechanism"},
		{[]string{"--request", "/nonexistent/request.json"}, "cannot read the request"},
		{[]string{"--entities", "0"}, "--entities"},
		{[]string{"stray"}, "unexpected arguments"},
	} {
		_, _, err := simulate(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("simulate %v: error %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}

// TestSimulateEmbedded is the one command on a fresh machine, on a small
// world: everything starts in the process and the report comes out.
func TestSimulateEmbedded(t *testing.T) {
	// chDB allows one data directory per process: the tests share one.
	out, stderr, err := simulate(t, "--entities", "3000", "--seed", "5", "--clickhouse-dsn", testenv.ChDBDSN(t))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, s := range append(reportSections, ": completed", "50,000 people in high_value, at_risk, new_users") {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}
	if !strings.Contains(stderr, "ingesting into clickhouse") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
}
