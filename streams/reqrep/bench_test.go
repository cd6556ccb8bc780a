package reqrep

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/streams"
)

// BenchmarkRoundTrip measures Client.Do against one Server with a trivial
// handler on the embedded broker (kfake, loopback), sequentially and with
// 16 concurrent callers, and reports the p50 and p99 round-trip latency.
func BenchmarkRoundTrip(b *testing.B) {
	for _, callers := range []int{1, 16} {
		b.Run(map[int]string{1: "sequential", 16: "concurrent16"}[callers], func(b *testing.B) {
			broker, err := streams.StartEmbedded(streams.EmbeddedConfig{Partitions: 4, Topics: []string{"bench.requests", "bench.replies"}})
			if err != nil {
				b.Fatal(err)
			}
			defer broker.Close()
			kafka := streams.KafkaConfig{Brokers: broker.Addrs()}
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			srv, err := NewServer(ServerConfig{Kafka: kafka, Topic: "bench.requests", AllowedReplyTopics: []string{"bench.replies"},
				Workers: 16, Logger: quiet, ClientOpts: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}},
				func(_ context.Context, req Request) (Reply, error) { return Reply{Value: req.Value}, nil })
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- srv.Run(ctx) }()
			defer func() { cancel(); <-done }()
			c, err := NewClient(ClientConfig{Kafka: kafka, ReplyTopic: "bench.replies", Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			// Warm up: the group join and the first fetches.
			if _, err := c.Do(ctx, "bench.requests", nil, []byte("warm"), 30*time.Second); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, b.N)
			value := []byte(`{"trivial":true}`)
			var wg sync.WaitGroup
			next := make(chan int)
			b.ResetTimer()
			for range callers {
				wg.Go(func() {
					for i := range next {
						t0 := time.Now()
						if _, err := c.Do(ctx, "bench.requests", nil, value, 10*time.Second); err != nil {
							b.Error(err)
						}
						lat[i] = time.Since(t0)
					}
				})
			}
			for i := range b.N {
				next <- i
			}
			close(next)
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
		})
	}
}
