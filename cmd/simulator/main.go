// Command simulator answers simulation requests (package simulation/service):
// POST /api/v1/simulate over HTTP and the same request over Kafka
// request/reply on <prefix>simulate.requests, from the calibration snapshots
// on the compacted topic <prefix>calibration. Run any number of replicas.
//
// Every flag is also read from the environment (flag kafka-brokers from
// PREFLIGHT_KAFKA_BROKERS, and so on); secrets come only from the
// environment or files: PREFLIGHT_KAFKA_SASL_PASSWORD and
// PREFLIGHT_SIMULATOR_API_KEYS (comma- or newline-separated keys), or the
// same names with _FILE.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/internal/logging"
	"github.com/preflight-hq/preflight/internal/ops"
	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/llm"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/simulation/service"
	"github.com/preflight-hq/preflight/streams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
}

// config is everything the command is configured with.
type config struct {
	Service   service.Config
	APIAddr   string
	OpsAddr   string
	LogFormat string
	LogLevel  string
	// LLM configures the endpoint whose persona reasoner judges; an empty
	// base URL means the built-in deterministic reasoner.
	LLM llm.Config
}

// llmConfigured reports whether an LLM endpoint was given.
func (c config) llmConfigured() bool { return c.LLM.BaseURL != "" }

// Validate reports every problem, each naming its flag.
func (c config) Validate() error {
	errs := []error{c.Service.Validate()}
	if c.APIAddr == "" {
		errs = append(errs, errors.New("api addr: a listen address is required"))
	}
	if c.OpsAddr == "" {
		errs = append(errs, errors.New("ops addr: a listen address is required"))
	}
	if c.llmConfigured() {
		errs = append(errs, c.LLM.WithDefaults().Validate())
	}
	return errors.Join(errs...)
}

// splitKeys splits a key list on commas and newlines, dropping blanks.
func splitKeys(s string) []string {
	var out []string
	for _, k := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}

func parse(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c       config
		s       = &c.Service
		brokers = fs.String("kafka-brokers", "localhost:9092", "comma-separated Kafka seed brokers, host:port")
		replies = fs.String("reply-topics", "", "comma-separated reply topics allowed (a trailing * is a prefix); default <prefix>simulate.replies*")
	)
	fs.StringVar(&c.APIAddr, "api-addr", ":8080", "listen address for the simulate API and the OpenAPI document")
	fs.StringVar(&c.OpsAddr, "http-addr", ":9103", "listen address for /metrics, /healthz and /readyz")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&s.TopicPrefix, "topic-prefix", schemas.DefaultTopicPrefix, "prefix of every topic name")
	fs.StringVar(&s.Group, "group", "preflight-simulator", "Kafka consumer group of the request/reply server")
	fs.DurationVar(&s.RequestTimeout, "request-timeout", 30*time.Second, "longest a simulation may run")
	fs.Uint64Var(&s.Seed, "seed", 1, "seed of every simulation")
	fs.IntVar(&s.Workers, "workers", 8, "Kafka requests handled at once")
	fs.IntVar(&s.Limits.MaxBodyBytes, "max-body-bytes", 1<<20, "largest request body")
	fs.Int64Var(&s.Limits.MaxWork, "max-work", 3_000_000, "largest num_personas × monte_carlo_runs × time_horizon_days")
	fs.Float64Var(&s.RateLimit, "rate-limit", 0, "HTTP requests per second allowed per API key (0: unlimited); over it the answer is 429")
	fs.IntVar(&s.RateBurst, "rate-burst", 0, "HTTP requests allowed at once per API key (default: the rate limit rounded up)")
	c.LLM.RegisterFlags(fs)
	fs.BoolVar(&s.CreateTopics, "create-topics", true, "create the calibration, request and reply topics if missing")
	topicPartitions := fs.Int("topic-partitions", 3, "partitions of topics the simulator creates")
	topicReplication := fs.Int("topic-replication", -1, "replication factor of topics the simulator creates (-1: broker default)")
	fs.BoolVar(&s.DisableKafkaRequests, "disable-kafka-requests", false, "serve HTTP only")
	fs.BoolVar(&s.Kafka.TLS, "kafka-tls", false, "use TLS to Kafka")
	fs.StringVar(&s.Kafka.TLSCAFile, "kafka-tls-ca-file", "", "PEM CA bundle for Kafka TLS (default: system roots)")
	fs.StringVar(&s.Kafka.TLSCertFile, "kafka-tls-cert-file", "", "client certificate for Kafka mutual TLS")
	fs.StringVar(&s.Kafka.TLSKeyFile, "kafka-tls-key-file", "", "client key for Kafka mutual TLS")
	fs.StringVar(&s.Kafka.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (password from PREFLIGHT_KAFKA_SASL_PASSWORD)")
	fs.StringVar(&s.Kafka.SASLUser, "kafka-sasl-user", "", "SASL user")
	if err := envflag.Parse(fs, args); err != nil {
		return c, err
	}
	s.Kafka.Brokers = streams.ParseBrokers(*brokers)
	s.TopicPartitions, s.TopicReplication = int32(*topicPartitions), int16(*topicReplication)
	s.AllowedReplyTopics = streams.ParseBrokers(*replies)
	var err error
	if s.Kafka.SASLPassword, err = envflag.Secret("PREFLIGHT_KAFKA_SASL_PASSWORD"); err != nil {
		return c, err
	}
	keys, err := envflag.Secret("PREFLIGHT_SIMULATOR_API_KEYS")
	if err != nil {
		return c, err
	}
	s.APIKeys = splitKeys(keys)
	if c.llmConfigured() {
		if err := c.LLM.LoadAPIKey(); err != nil {
			return c, err
		}
	}
	return c, nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parse(args, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	cfg.Service.Logger = log
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Service.Registerer = reg
	if cfg.llmConfigured() {
		// Personas are judged by the LLM running each snapshot's prompt
		// program; numbers still come from the causal models through the
		// calibrated intent-to-effect map.
		client, err := llm.New(cfg.LLM.WithDefaults(), llm.Options{Metrics: llm.NewMetrics(reg), Logger: log})
		if err != nil {
			return err
		}
		base := llm.NewReasoner(client)
		cfg.Service.Engine.ReasonerFor = func(p persona.Program) persona.Reasoner { return base.WithProgram(p) }
		log.Info("personas are judged by an LLM", "llm", cfg.LLM)
	}
	svc, err := service.New(cfg.Service)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	hctx, stopHTTP := context.WithCancel(context.WithoutCancel(gctx))
	g.Go(func() error {
		defer stopHTTP()
		return svc.Run(gctx)
	})
	g.Go(func() error {
		return ops.Serve(hctx, cfg.OpsAddr, ops.Handler(reg, svc.Healthy, svc.Ready), log)
	})
	g.Go(func() error {
		srv := &http.Server{Addr: cfg.APIAddr, Handler: svc.Handler(), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: 30 * time.Second, WriteTimeout: cfg.Service.RequestTimeout + 10*time.Second, IdleTimeout: 2 * time.Minute}
		errc := make(chan error, 1)
		go func() { errc <- srv.ListenAndServe() }()
		select {
		case err := <-errc:
			stopHTTP()
			return fmt.Errorf("api server: %w", err)
		case <-hctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	return g.Wait()
}
