package eventsink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/schemas"
)

const testPartitions = 3

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, Topics("")...)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// consumeAll reads want records from every event topic with franz-go, the
// services' client, polling until they are all there or the deadline passes.
func consumeAll(t *testing.T, addrs []string, want int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.ConsumeTopics(Topics("")...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records before the deadline, want %d", len(recs), want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		recs = append(recs, fs.Records()...)
	}
	if len(recs) != want {
		t.Fatalf("consumed %d records, want %d", len(recs), want)
	}
	return recs
}

func writeAll(t *testing.T, s *Kafka, evs []schemas.Event) {
	t.Helper()
	ctx := context.Background()
	for _, ev := range evs {
		if err := s.Write(ctx, ev); err != nil {
			t.Fatalf("Write %s: %v", ev.ID(), err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestKafkaRoundTrip(t *testing.T) {
	c := newCluster(t)
	var calls, lastDelivered atomic.Int64
	s, err := NewKafka(KafkaConfig{
		Brokers:   c.ListenAddrs(),
		BatchSize: 100, // several batches per partition
		Progress: func(delivered, failed int64) {
			calls.Add(1)
			if failed != 0 {
				t.Errorf("progress reports %d failed records", failed)
			}
			for {
				old := lastDelivered.Load()
				if delivered <= old || lastDelivered.CompareAndSwap(old, delivered) {
					break
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	evs := makeEvents(700)
	writeAll(t, s, evs)
	if s.Delivered() != int64(len(evs)) || s.Failed() != 0 {
		t.Fatalf("Delivered() = %d, Failed() = %d, want %d and 0", s.Delivered(), s.Failed(), len(evs))
	}
	if calls.Load() == 0 || lastDelivered.Load() != int64(len(evs)) {
		t.Errorf("progress called %d times, last delivered %d, want > 0 and %d", calls.Load(), lastDelivered.Load(), len(evs))
	}

	recs := consumeAll(t, c.ListenAddrs(), len(evs))
	byID := map[string]schemas.Event{}
	pos := map[string]int{}
	for i, ev := range evs {
		byID[ev.ID()] = ev
		pos[ev.ID()] = i
	}
	// franz-go's default partitioner is the Java one; kafka-go's
	// Murmur2Balancer must agree with it for every key.
	part := kgo.StickyKeyPartitioner(nil)
	lastPos := map[string]int{} // key -> position in evs of the last record seen
	seen := map[string]bool{}
	for _, r := range recs {
		var schema string
		for _, h := range r.Headers {
			if h.Key == schemas.HeaderSchema {
				schema = string(h.Value)
			}
		}
		ev, err := schemas.Decode(schema, r.Value)
		if err != nil {
			t.Fatalf("record %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		orig, ok := byID[ev.ID()]
		if !ok || seen[ev.ID()] {
			t.Fatalf("record %s/%d@%d: unexpected or duplicate event %s", r.Topic, r.Partition, r.Offset, ev.ID())
		}
		seen[ev.ID()] = true
		if want := orig.Type().Topic("preflight."); r.Topic != want {
			t.Errorf("event %s in topic %s, want %s", ev.ID(), r.Topic, want)
		}
		if string(r.Key) != orig.Key() {
			t.Errorf("event %s key %q, want %q", ev.ID(), r.Key, orig.Key())
		}
		if want := orig.Type().SchemaName(); schema != want {
			t.Errorf("event %s schema header %q, want %q", ev.ID(), schema, want)
		}
		if !bytes.Equal(r.Value, mustEncode(t, orig)) {
			t.Errorf("event %s value differs from schemas.Encode", ev.ID())
		}
		if want := int32(part.ForTopic(r.Topic).Partition(&kgo.Record{Key: r.Key}, testPartitions)); r.Partition != want {
			t.Errorf("key %q in partition %d, franz-go's partitioner says %d", r.Key, r.Partition, want)
		}
		// Per topic and key, records arrive in write order.
		k := r.Topic + "/" + string(r.Key)
		if p, ok := lastPos[k]; ok && p > pos[ev.ID()] {
			t.Errorf("key %s: event %s consumed after a later write", k, ev.ID())
		}
		lastPos[k] = pos[ev.ID()]
	}
}

func TestKafkaUnknownTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1)) // no topics, no auto-creation
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := NewKafka(KafkaConfig{Brokers: c.ListenAddrs(), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	werr := s.Write(context.Background(), makeEvents(1)[0])
	if werr == nil || !strings.Contains(werr.Error(), "preflight.segment") {
		t.Errorf("Write to a missing topic = %v, want an error naming the topic", werr)
	}
	if err := s.Write(context.Background(), makeEvents(1)[1]); err == nil {
		t.Error("a Write after a failed one succeeded, want the first error")
	}
	if err := s.Close(); err == nil {
		t.Error("Close = nil, want the first error")
	}
	if s.Delivered() != 0 {
		t.Errorf("Delivered() = %d, want 0", s.Delivered())
	}
}

func TestKafkaSASL(t *testing.T) {
	tests := []struct {
		mech   string
		client sasl.Mechanism
	}{
		{SASLPlain, plain.Auth{User: "alice", Pass: "s3cret"}.AsMechanism()},
		{SASLScramSHA256, scram.Auth{User: "alice", Pass: "s3cret"}.AsSha256Mechanism()},
		{SASLScramSHA512, scram.Auth{User: "alice", Pass: "s3cret"}.AsSha512Mechanism()},
	}
	for _, tt := range tests {
		t.Run(tt.mech, func(t *testing.T) {
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(tt.mech, "alice", "s3cret"))
			bad, err := NewKafka(KafkaConfig{Brokers: c.ListenAddrs(), SASLMechanism: tt.mech, SASLUser: "alice", SASLPassword: "wrong", MaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			if err := bad.Write(context.Background(), makeEvents(1)[0]); err == nil {
				t.Error("Write with a wrong password succeeded")
			}
			bad.Close()

			s, err := NewKafka(KafkaConfig{Brokers: c.ListenAddrs(), SASLMechanism: tt.mech, SASLUser: "alice", SASLPassword: "s3cret"})
			if err != nil {
				t.Fatal(err)
			}
			evs := makeEvents(20)
			writeAll(t, s, evs)
			if s.Delivered() != int64(len(evs)) {
				t.Fatalf("Delivered() = %d, want %d", s.Delivered(), len(evs))
			}
			consumeAll(t, c.ListenAddrs(), len(evs), kgo.SASL(tt.client))
		})
	}
}

func TestKafkaTLS(t *testing.T) {
	serverCfg, pool := selfSignedTLS(t)
	c := newCluster(t, kfake.TLS(serverCfg))
	s, err := NewKafka(KafkaConfig{Brokers: c.ListenAddrs(), TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	evs := makeEvents(20)
	writeAll(t, s, evs)
	if s.Delivered() != int64(len(evs)) {
		t.Fatalf("Delivered() = %d, want %d", s.Delivered(), len(evs))
	}
	consumeAll(t, c.ListenAddrs(), len(evs), kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
}

func TestKafkaConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  KafkaConfig
		want string // substring of the error; "" means valid
	}{
		{"ok", KafkaConfig{Brokers: []string{"localhost:9092"}}, ""},
		{"no brokers", KafkaConfig{}, "at least one host:port"},
		{"no port", KafkaConfig{Brokers: []string{"localhost"}}, "not host:port"},
		{"bad codec", KafkaConfig{Brokers: []string{"h:1"}, Compression: "brotli"}, "unknown codec"},
		{"bad sasl", KafkaConfig{Brokers: []string{"h:1"}, SASLMechanism: "GSSAPI", SASLUser: "u"}, "unknown mechanism"},
		{"sasl no user", KafkaConfig{Brokers: []string{"h:1"}, SASLMechanism: SASLPlain}, "needs a user"},
		{"negative", KafkaConfig{Brokers: []string{"h:1"}, BatchSize: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// selfSignedTLS returns a server TLS config for 127.0.0.1 and a pool that
// trusts it.
func selfSignedTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	cfg, pool, _ := testenv.SelfSignedTLS(t)
	return cfg, pool
}

// BenchmarkKafkaWrite measures the sink's throughput against an in-process
// broker.
func BenchmarkKafkaWrite(b *testing.B) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(testPartitions, Topics("")...))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	evs := makeEvents(1000)
	b.ResetTimer()
	s, err := NewKafka(KafkaConfig{Brokers: c.ListenAddrs()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if err := s.Write(ctx, evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.Delivered())/b.Elapsed().Seconds(), "events/s")
}
