package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/warehouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestCalibratorCommand runs the command as deployed: flags from the
// environment (the ClickHouse password from a _FILE is checked at parse
// time), an embedded broker, a ClickHouse server and the real
// calibration.Calibrate. It becomes ready, serves its metrics, publishes an
// initial snapshot per scope, and a cancel (what SIGTERM does) stops it
// cleanly.
func TestCalibratorCommand(t *testing.T) {
	const password = "ch-s3cret-do-not-log"
	broker, err := streams.StartEmbedded(streams.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	dsn := testenv.NewDatabase(t)
	t.Setenv("PREFLIGHT_KAFKA_BROKERS", broker.Addrs()[0])
	t.Setenv("PREFLIGHT_CLICKHOUSE_DSN", dsn)
	// The password is read from the _FILE (checked on the parsed config
	// below); the run itself goes without it, because the test server's
	// default user has none and would refuse it.
	t.Setenv("PREFLIGHT_CLICKHOUSE_PASSWORD_FILE", pwFile)
	t.Setenv("PREFLIGHT_SCOPES", "retail,travel")
	t.Setenv("PREFLIGHT_REFRESH_INTERVAL", "200ms")
	t.Setenv("PREFLIGHT_TOPIC_PREFIX", "cmdtest.")
	t.Setenv("PREFLIGHT_LOG_LEVEL", "debug")

	cfg, err := parse([]string{"-http-addr", addr}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CHPassword != password || strings.Join(cfg.Service.Scopes, ",") != "retail,travel" || cfg.Service.RefreshInterval != 200*time.Millisecond {
		t.Fatalf("parsed config: scopes %v, refresh %s, password read: %t", cfg.Service.Scopes, cfg.Service.RefreshInterval, cfg.CHPassword == password)
	}
	os.Unsetenv("PREFLIGHT_CLICKHOUSE_PASSWORD_FILE")

	var logs testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-http-addr", addr}, &logs) }()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s; logs:\n%s", what, logs.String())
	}
	waitFor("/readyz", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	waitFor("metrics of both scopes", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, `calib_owned_scopes 2`) &&
			strings.Contains(m, `calib_snapshot_version{scope="retail"} 1`) &&
			strings.Contains(m, `calib_snapshot_version{scope="travel"} 1`) &&
			strings.Contains(m, `calib_retunes_total{reason="initial",result="ok",scope="retail"} 1`)
	})
	_, m := get("/metrics")
	for _, name := range []string{"calib_refresh_duration_seconds_bucket", "calib_last_calibration_timestamp_seconds", "go_goroutines"} {
		if !strings.Contains(m, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\nlogs:\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the calibrator did not stop after cancel")
	}
	if !strings.Contains(logs.String(), `"msg":"calibrator stopped"`) {
		t.Errorf("the calibrator did not log a clean stop:\n%s", logs.String())
	}
	wh, err := warehouse.Open(context.Background(), dsn, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	cw := wh.(warehouse.Calibrations)
	for _, scope := range []string{"retail", "travel"} {
		s, ok, err := cw.LatestSnapshot(context.Background(), scope)
		if err != nil || !ok || s.Version != 1 {
			t.Errorf("LatestSnapshot(%s) = v%d, %t, %v; want version 1", scope, s.Version, ok, err)
		}
	}
}

// TestConfigErrors checks that bad configuration is refused before
// connecting, with a message naming the field.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "scopes: at least one scope is required"},
		{[]string{"-scopes", "retail,Bad Scope"}, `scopes: "Bad Scope" is not a scope name`},
		{[]string{"-scopes", "retail", "-scope-partitions", "0"}, "scope partitions: 0"},
		{[]string{"-scopes", "retail", "-refresh-interval", "1ms"}, "refresh interval: 1ms"},
		{[]string{"-scopes", "retail", "-retune-interval", "1s"}, "retune interval: 1s is below the refresh interval"},
		{[]string{"-scopes", "retail", "-level", "2"}, "level: 2"},
		{[]string{"-scopes", "retail", "-clickhouse-dsn", "chdb:///tmp/x"}, "clickhouse dsn"},
		{[]string{"-scopes", "retail", "-clickhouse-dsn", "postgres://u:hunter2@h/db"}, `clickhouse dsn "postgres://u:[redacted]@h/db"`},
		{[]string{"-scopes", "retail", "-kafka-brokers", " , "}, "kafka brokers: at least one host:port"},
		{[]string{"-scopes", "retail", "-kafka-sasl-mechanism", "PLAIN"}, "needs a user and a password"},
		{[]string{"-scopes", "retail", "-log-format", "xml"}, "log format"},
		{[]string{"-refresh-interval", "soon"}, "invalid value"},
		{[]string{"-scopes", "retail", "-llm-base-url", "http://127.0.0.1:1/v1"}, "Model"},
		{[]string{"-scopes", "retail", "-program-budget", "-1"}, "program budget: -1"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("PREFLIGHT_SCOPES", "")
			os.Unsetenv("PREFLIGHT_SCOPES")
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Fatalf("run(%v) = %v (stderr %q), want an error containing %q", tc.args, err, stderr.String(), tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error shows the DSN password: %v", err)
			}
		})
	}
}
