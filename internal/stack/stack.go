// Package stack runs Preflight's roles in one process for the CLI: a Kafka
// broker (embedded kfake on loopback, or a real cluster), a warehouse
// (embedded chDB, or a ClickHouse server) and the ingestor between them.
package stack

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/ingest"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/warehouse"
)

// Config says which parts are embedded and which are real servers.
type Config struct {
	// Brokers of a real Kafka cluster; empty starts the embedded broker.
	Brokers []string
	// Kafka carries TLS/SASL settings for real brokers.
	Kafka streams.KafkaConfig
	// DSN of the warehouse; empty uses embedded chDB under DataDir.
	DSN string
	// Password for a ClickHouse server.
	Password string
	// DataDir holds the embedded engine's files (default a temp dir).
	DataDir string
	// Topics names the topics.
	Topics streams.Topics
	// Partitions of each topic (default 4).
	Partitions int32
	// Ingest tunes the ingestor; Kafka and Topics are filled in.
	Ingest ingest.Config
	// Registry receives the ingestor's metrics (default a new one).
	Registry *prometheus.Registry
	// DeferIngest leaves the ingestor stopped until StartIngestor.
	DeferIngest bool
}

// Stack is a running broker, warehouse and ingestor.
type Stack struct {
	Warehouse warehouse.Warehouse
	Ingestor  *ingest.Ingestor
	Kafka     streams.KafkaConfig
	Topics    streams.Topics
	Registry  *prometheus.Registry

	broker  *streams.Embedded
	cancel  context.CancelFunc
	done    chan error
	tempDir string
}

// Start brings the stack up and starts the ingestor.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Stack, err error) {
	s := &Stack{Topics: cfg.Topics, Registry: cfg.Registry}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if s.Registry == nil {
		s.Registry = prometheus.NewRegistry()
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 4
	}
	s.Kafka = cfg.Kafka
	if len(cfg.Brokers) == 0 {
		s.broker, err = streams.StartEmbedded(streams.EmbeddedConfig{Partitions: cfg.Partitions, Topics: append(cfg.Topics.Events(), cfg.Topics.DLQ())})
		if err != nil {
			return nil, err
		}
		s.Kafka = streams.KafkaConfig{Brokers: s.broker.Addrs()}
		log.Info("embedded kafka broker started", "addr", s.broker.Addrs()[0])
	} else {
		s.Kafka.Brokers = cfg.Brokers
	}
	dsn := cfg.DSN
	if dsn == "" {
		dir := cfg.DataDir
		if dir == "" {
			s.tempDir, err = os.MkdirTemp("", "preflight-chdb-")
			if err != nil {
				return nil, fmt.Errorf("cannot create a data directory: %w", err)
			}
			dir = s.tempDir
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		dsn = "chdb://" + abs + "?database=preflight"
	}
	s.Warehouse, err = warehouse.Open(ctx, dsn, warehouse.Options{Password: cfg.Password})
	if err != nil {
		return nil, err
	}
	if err := s.Warehouse.Migrate(ctx); err != nil {
		return nil, err
	}
	log.Info("warehouse ready", "backend", s.Warehouse.Backend())

	icfg := cfg.Ingest
	if icfg.Group == "" {
		// A group of its own, so a CLI run pointed at a shared cluster
		// never takes partitions from the deployed ingestors.
		icfg.Group = fmt.Sprintf("preflight-cli-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	icfg.Kafka = s.Kafka
	icfg.Topics = cfg.Topics
	icfg.CreateTopics = true
	icfg.TopicPartitions = cfg.Partitions
	s.Ingestor, err = ingest.New(icfg, s.Warehouse, log, ingest.NewMetrics(s.Registry))
	if err != nil {
		return nil, err
	}
	if !cfg.DeferIngest {
		s.StartIngestor(ctx)
	}
	return s, nil
}

// StartIngestor starts the ingestor's consume loop; Close stops it. Call it
// once, and only with Config.DeferIngest set.
func (s *Stack) StartIngestor(ctx context.Context) {
	ictx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.done = make(chan error, 1)
	go func() { s.done <- s.Ingestor.Run(ictx) }()
}

// Client returns a new franz-go client for the stack's brokers.
func (s *Stack) Client(opts ...kgo.Opt) (*kgo.Client, error) {
	base, err := s.Kafka.ClientOpts()
	if err != nil {
		return nil, err
	}
	return kgo.NewClient(append(base, opts...)...)
}

// WaitIngested waits until the ingestor has consumed every record produced
// so far to the event topics (its group lag is zero) and flushed them.
func (s *Stack) WaitIngested(ctx context.Context, group string) error {
	cl, err := s.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		lags, err := adm.Lag(ctx, group)
		if err == nil {
			if l, ok := lags[group]; ok && l.Error() == nil && l.Lag.Total() == 0 && len(l.Lag) > 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ingestor did not catch up: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// DLQCount returns the number of records on the dead-letter topic.
func (s *Stack) DLQCount(ctx context.Context) (int64, error) {
	cl, err := s.Client()
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, s.Topics.DLQ())
	if err != nil {
		return 0, fmt.Errorf("cannot read DLQ offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, s.Topics.DLQ())
	if err != nil {
		return 0, fmt.Errorf("cannot read DLQ offsets: %w", err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if st, ok := starts.Lookup(o.Topic, o.Partition); ok {
			n += o.Offset - st.Offset
		}
	})
	return n, nil
}

// Close stops the ingestor (flushing), the warehouse and the broker.
func (s *Stack) Close() error {
	var err error
	if s.cancel != nil {
		s.cancel()
		err = <-s.done
	}
	if s.Warehouse != nil {
		s.Warehouse.Close()
	}
	if s.broker != nil {
		s.broker.Close()
	}
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
	return err
}
