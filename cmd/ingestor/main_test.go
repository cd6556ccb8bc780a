package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/warehouse"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestIngestorCommand runs the ingestor command as deployed: flags from the
// environment, SASL/PLAIN to the broker with the password from the
// environment, a ClickHouse server, /metrics, /healthz and /readyz; then a
// cancel (what SIGTERM does) stops it cleanly. The password never reaches
// the logs.
func TestIngestorCommand(t *testing.T) {
	const user, password = "preflight", "s3cret-pw-do-not-log"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", user, password))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	dsn := testenv.NewDatabase(t)
	t.Setenv("PREFLIGHT_KAFKA_BROKERS", c.ListenAddrs()[0])
	t.Setenv("PREFLIGHT_CLICKHOUSE_DSN", dsn)
	t.Setenv("PREFLIGHT_KAFKA_SASL_PASSWORD", password)
	t.Setenv("PREFLIGHT_BATCH_INTERVAL", "100ms")
	t.Setenv("PREFLIGHT_LOG_LEVEL", "debug")
	var logs testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-http-addr", addr, "-kafka-sasl-mechanism", "PLAIN", "-kafka-sasl-user", user}, &logs)
	}()

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
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
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

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.SASL(plain.Auth{User: user, Pass: password}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ev := &schemas.Segment{EventID: uuid.NewString(), SegmentID: "vip", UpdatedAt: time.Now().UTC(), Size: 10}
	v, _ := schemas.Encode(ev)
	good := &kgo.Record{Topic: "preflight.segments", Key: []byte("vip"), Value: v, Headers: []kgo.RecordHeader{{Key: "schema", Value: []byte("segment.v1")}}}
	bad := &kgo.Record{Topic: "preflight.segments", Key: []byte("bad"), Value: []byte("{"), Headers: []kgo.RecordHeader{{Key: "schema", Value: []byte("segment.v1")}}}
	if err := cl.ProduceSync(ctx, good, bad).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor("metrics of the stored and dead-lettered records", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, `ingest_records_total{result="ok",topic="preflight.segments"} 1`) &&
			strings.Contains(m, `ingest_dlq_records_total{kind="invalid_json"} 1`)
	})
	_, m := get("/metrics")
	for _, name := range []string{"ingest_insert_duration_seconds_bucket", "ingest_batch_rows_bucket", "ingest_consumer_lag_records", "ingest_event_to_stored_seconds_bucket", "go_goroutines"} {
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
		t.Fatal("the ingestor did not stop after cancel")
	}
	wh, err := warehouse.Open(context.Background(), dsn, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	if n, err := wh.Count(context.Background(), schemas.TypeSegment); err != nil || n != 1 {
		t.Fatalf("stored segments: %d, %v", n, err)
	}
	if strings.Contains(logs.String(), password) {
		t.Fatalf("the SASL password appears in the logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "password=[redacted]") {
		t.Errorf("the logs do not show the redacted Kafka config:\n%s", logs.String())
	}
}

// TestConfigErrors checks that bad configuration is refused with a message
// naming what is wrong.
func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-kafka-sasl-mechanism", "GSSAPI"}, "want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{[]string{"-kafka-sasl-mechanism", "PLAIN", "-kafka-sasl-user", "u"}, "needs a user and a password"},
		{[]string{"-log-format", "xml"}, "log format"},
		{[]string{"-clickhouse-dsn", "postgres://x"}, "want clickhouse:// or chdb://"},
		{[]string{"-batch-rows", "many"}, "invalid value"},
		{[]string{"-kafka-tls-ca-file", "/etc/ssl/ca.pem"}, "TLS is off"},
		{[]string{"-kafka-brokers", " , "}, "at least one host:port"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Fatalf("run(%v) = %v (stderr %q), want an error containing %q", tc.args, err, stderr.String(), tc.want)
			}
		})
	}
}
