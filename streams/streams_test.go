package streams

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/internal/testenv"
)

func TestParseBrokers(t *testing.T) {
	got := ParseBrokers(" a:1, b:2,,c:3 ")
	if strings.Join(got, "|") != "a:1|b:2|c:3" {
		t.Fatalf("ParseBrokers = %q", got)
	}
	if got := ParseBrokers(" , "); len(got) != 0 {
		t.Fatalf("ParseBrokers of blanks = %q", got)
	}
}

func TestKafkaConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  KafkaConfig
		want string // "" = valid
	}{
		{"plain", KafkaConfig{Brokers: []string{"k:9092"}}, ""},
		{"no brokers", KafkaConfig{}, "at least one host:port"},
		{"no port", KafkaConfig{Brokers: []string{"kafka"}}, `"kafka" is not host:port`},
		{"scram", KafkaConfig{Brokers: []string{"k:9092"}, SASLMechanism: "SCRAM-SHA-512", SASLUser: "u", SASLPassword: "p"}, ""},
		{"sasl without password", KafkaConfig{Brokers: []string{"k:9092"}, SASLMechanism: "PLAIN", SASLUser: "u"}, "needs a user and a password"},
		{"unknown mechanism", KafkaConfig{Brokers: []string{"k:9092"}, SASLMechanism: "OAUTHBEARER"}, "want PLAIN"},
		{"tls files without tls", KafkaConfig{Brokers: []string{"k:9092"}, TLSCAFile: "ca.pem"}, "TLS is off"},
		{"cert without key", KafkaConfig{Brokers: []string{"k:9092"}, TLS: true, TLSCertFile: "c.pem"}, "both a cert file and a key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestStringRedactsPassword(t *testing.T) {
	s := KafkaConfig{Brokers: []string{"k:9092"}, SASLMechanism: "PLAIN", SASLUser: "u", SASLPassword: "hunter2"}.String()
	if strings.Contains(s, "hunter2") || !strings.Contains(s, "[redacted]") {
		t.Fatalf("String() = %q", s)
	}
}

func TestDeadLetterAndTruncate(t *testing.T) {
	src := &kgo.Record{Topic: "p.exposures", Partition: 2, Offset: 41, Key: []byte("e1"), Value: []byte("0123456789"),
		Headers: []kgo.RecordHeader{{Key: "schema", Value: []byte("exposure.v1")}}}
	d := DeadLetter("p.dlq", src, "invalid_json", "exposure: unexpected end")
	if d.Topic != "p.dlq" || string(d.Key) != "e1" || string(d.Value) != "0123456789" {
		t.Fatalf("dead letter %+v", d)
	}
	for k, v := range map[string]string{"schema": "exposure.v1", DLQHeaderKind: "invalid_json", DLQHeaderError: "exposure: unexpected end",
		DLQHeaderTopic: "p.exposures", DLQHeaderPartition: "2", DLQHeaderOffset: "41"} {
		if got := string(Header(d, k)); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	Truncate(d, 20)
	if Header(d, DLQHeaderTruncated) != nil {
		t.Fatal("a value within the limit was marked truncated")
	}
	Truncate(d, 4)
	if string(d.Value) != "0123" || string(Header(d, DLQHeaderTruncated)) != "10" {
		t.Fatalf("truncated to %q, header %q", d.Value, Header(d, DLQHeaderTruncated))
	}
}

// TestClientOptsTLSAndSASL connects through ClientOpts to a broker that
// speaks TLS (trusting a CA file) and SCRAM-SHA-256, produces and reads back
// a record; a wrong password is refused.
func TestClientOptsTLSAndSASL(t *testing.T) {
	srvTLS, _, caPEM := testenv.SelfSignedTLS(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(srvTLS), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-256", "ingestor", "pw-1"), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := KafkaConfig{Brokers: c.ListenAddrs(), TLS: true, TLSCAFile: caFile, SASLMechanism: "SCRAM-SHA-256", SASLUser: "ingestor", SASLPassword: "pw-1"}
	opts, err := cfg.ClientOpts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics("t"))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce over TLS+SCRAM: %v", err)
	}
	fs := cl.PollFetches(ctx)
	if errs := fs.Errors(); len(errs) > 0 || len(fs.Records()) != 1 || string(fs.Records()[0].Value) != "hello" {
		t.Fatalf("fetch: %v, %d records", errs, len(fs.Records()))
	}

	cfg.SASLPassword = "wrong"
	opts, _ = cfg.ClientOpts()
	bad, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer pcancel()
	if err := bad.Ping(pctx); err == nil {
		t.Fatal("a wrong SCRAM password was accepted")
	}
}
