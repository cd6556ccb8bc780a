// Command ingestor consumes CRM events from Kafka and stores them in
// ClickHouse, effectively once. Every flag is also read from the environment
// (flag kafka-brokers from PREFLIGHT_KAFKA_BROKERS, and so on); secrets come
// only from the environment or files: PREFLIGHT_KAFKA_SASL_PASSWORD and
// PREFLIGHT_CLICKHOUSE_PASSWORD, or the same names with _FILE.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/preflight-hq/preflight/ingest"
	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/internal/logging"
	"github.com/preflight-hq/preflight/internal/ops"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/warehouse"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ingestor:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ingestor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg       ingest.Config
		brokers   = fs.String("kafka-brokers", "localhost:9092", "comma-separated Kafka seed brokers, host:port")
		dsn       = fs.String("clickhouse-dsn", "clickhouse://default@localhost:9000/preflight", "warehouse DSN: clickhouse://user@host:port/db[?secure=true]")
		httpAddr  = fs.String("http-addr", ":9464", "listen address for /metrics, /healthz and /readyz")
		logFormat = fs.String("log-format", "json", "log format: json or text")
		logLevel  = fs.String("log-level", "info", "log level: debug, info, warn or error")
	)
	fs.StringVar(&cfg.Topics.Prefix, "topic-prefix", schemas.DefaultTopicPrefix, "prefix of every topic name")
	fs.StringVar(&cfg.Group, "group", "preflight-ingestor", "Kafka consumer group id")
	fs.IntVar(&cfg.BatchRows, "batch-rows", 10000, "close a batch at this many records")
	fs.DurationVar(&cfg.BatchInterval, "batch-interval", time.Second, "close a batch this long after its first record")
	fs.IntVar(&cfg.MaxRecordBytes, "max-record-bytes", 1<<20, "record values larger than this go to the DLQ (bytes)")
	fs.BoolVar(&cfg.CreateTopics, "create-topics", true, "create missing event and DLQ topics at start")
	var parts int
	fs.IntVar(&parts, "topic-partitions", 4, "partitions of topics created at start")
	fs.BoolVar(&cfg.Kafka.TLS, "kafka-tls", false, "use TLS to Kafka")
	fs.StringVar(&cfg.Kafka.TLSCAFile, "kafka-tls-ca-file", "", "PEM CA bundle for Kafka TLS (default: system roots)")
	fs.StringVar(&cfg.Kafka.TLSCertFile, "kafka-tls-cert-file", "", "client certificate for Kafka mutual TLS")
	fs.StringVar(&cfg.Kafka.TLSKeyFile, "kafka-tls-key-file", "", "client key for Kafka mutual TLS")
	fs.StringVar(&cfg.Kafka.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (password from PREFLIGHT_KAFKA_SASL_PASSWORD)")
	fs.StringVar(&cfg.Kafka.SASLUser, "kafka-sasl-user", "", "SASL user")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	cfg.TopicPartitions = int32(parts)
	cfg.Kafka.Brokers = streams.ParseBrokers(*brokers)
	var err error
	if cfg.Kafka.SASLPassword, err = envflag.Secret("PREFLIGHT_KAFKA_SASL_PASSWORD"); err != nil {
		return err
	}
	chPassword, err := envflag.Secret("PREFLIGHT_CLICKHOUSE_PASSWORD")
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wh, err := warehouse.Open(ctx, *dsn, warehouse.Options{Password: chPassword})
	if err != nil {
		return err
	}
	defer wh.Close()
	if err := wh.Migrate(ctx); err != nil {
		return err
	}
	in, err := ingest.New(cfg, wh, log, ingest.NewMetrics(reg))
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	hctx, stopHTTP := context.WithCancel(context.WithoutCancel(gctx))
	g.Go(func() error {
		defer stopHTTP()
		return in.Run(gctx)
	})
	g.Go(func() error {
		h := ops.Handler(reg, func(context.Context) error { return in.Healthy() }, in.Ready)
		return ops.Serve(hctx, *httpAddr, h, log)
	})
	return g.Wait()
}
