// Command calibrator keeps each scope's calibration current: it refreshes
// moments behind a watermark, watches them for drift, and publishes drift
// events and calibration snapshots (see package calibration/service). Run
// two or more replicas; a Kafka consumer group gives each scope to exactly
// one of them.
//
// Every flag is also read from the environment (flag kafka-brokers from
// PREFLIGHT_KAFKA_BROKERS, scopes from PREFLIGHT_SCOPES, and so on);
// secrets come only from the environment or files:
// PREFLIGHT_KAFKA_SASL_PASSWORD and PREFLIGHT_CLICKHOUSE_PASSWORD, or the
// same names with _FILE.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/calibration/service"
	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/internal/logging"
	"github.com/preflight-hq/preflight/internal/ops"
	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/llm"
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
		fmt.Fprintln(os.Stderr, "calibrator:", err)
		os.Exit(1)
	}
}

// config is everything the command is configured with.
type config struct {
	Service service.Config
	// DSN names the warehouse; the password travels apart.
	DSN        string
	CHPassword string
	HTTPAddr   string
	LogFormat  string
	LogLevel   string
	// Calibration settings passed to calibration.Calibrate.
	HoldOut  int
	Personas int
	Seed     uint64
	// LLM configures the endpoint whose persona reasoner the prompt
	// program is retuned with; an empty base URL means no LLM, and the
	// program is carried over as it is.
	LLM           llm.Config
	ProgramBudget int
}

// llmConfigured reports whether an LLM endpoint was given.
func (c config) llmConfigured() bool { return c.LLM.BaseURL != "" }

// Validate reports every problem, each naming its flag.
func (c config) Validate() error {
	errs := []error{c.Service.Validate()}
	if c.Service.Partitions < 1 {
		// Service.Validate reads 0 as "the default"; here it was given.
		errs = append(errs, fmt.Errorf("scope partitions: %d is not in 1…1000", c.Service.Partitions))
	}
	if !strings.HasPrefix(c.DSN, "clickhouse://") {
		// The command does not link chDB: a calibrator shares its
		// warehouse with the ingestor, so it needs a server.
		errs = append(errs, fmt.Errorf("clickhouse dsn %q: want clickhouse://user@host:port/db", redactDSN(c.DSN)))
	}
	if c.HTTPAddr == "" {
		errs = append(errs, errors.New("http addr: a listen address is required"))
	}
	if c.Personas < 0 {
		errs = append(errs, fmt.Errorf("personas: %d is negative", c.Personas))
	}
	if c.llmConfigured() {
		errs = append(errs, c.LLM.WithDefaults().Validate())
	}
	if c.ProgramBudget < 0 {
		errs = append(errs, fmt.Errorf("program budget: %d is negative", c.ProgramBudget))
	}
	return errors.Join(errs...)
}

// redactDSN drops the password part of a DSN for error messages.
func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.Index(dsn[i+3:], "@"); at >= 0 {
			if colon := strings.Index(dsn[i+3:i+3+at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":[redacted]" + dsn[i+3+at:]
			}
		}
	}
	return dsn
}

func parse(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("calibrator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		c       config
		s       = &c.Service
		brokers = fs.String("kafka-brokers", "localhost:9092", "comma-separated Kafka seed brokers, host:port")
		scopes  = fs.String("scopes", "", "comma-separated scopes (industries or tenants) to calibrate; the same on every replica")
		parts   = fs.Int("scope-partitions", 12, "partitions of the scopes topic; fixed for the life of a deployment")
	)
	fs.StringVar(&c.DSN, "clickhouse-dsn", "clickhouse://default@localhost:9000/preflight", "warehouse DSN: clickhouse://user@host:port/db[?secure=true]")
	fs.StringVar(&c.HTTPAddr, "http-addr", ":9102", "listen address for /metrics, /healthz and /readyz")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&s.TopicPrefix, "topic-prefix", schemas.DefaultTopicPrefix, "prefix of every topic name")
	fs.StringVar(&s.Group, "group", "preflight-calibrator", "Kafka consumer group id that assigns scopes to replicas")
	fs.DurationVar(&s.RefreshInterval, "refresh-interval", time.Minute, "time between two refreshes of a scope")
	fs.DurationVar(&s.RetuneInterval, "retune-interval", 24*time.Hour, "snapshot age at which a scope is recalibrated without drift")
	fs.DurationVar(&s.Window, "window", calibration.DefaultWindow, "stretch of data a calibration is fitted on")
	fs.DurationVar(&s.DayGrace, "day-grace", time.Hour, "wait after a UTC day ends before its moments go to the drift detectors")
	fs.IntVar(&s.MaxMoments, "max-moments", 256, "most moment streams watched per scope (bounds the moment metric label)")
	fs.BoolVar(&s.WatchFrequency, "watch-frequency", false, "watch each channel's frequency distribution with PSI (only for windowed frequencies; see docs/operations.md)")
	fs.Float64Var(&s.PSIThreshold, "psi-threshold", 0.25, "PSI of the frequency distribution at which drift is declared")
	fs.Float64Var(&s.Level, "level", calibration.DefaultLevel, "level of the calibration's intervals, in (0, 1)")
	fs.IntVar(&c.HoldOut, "holdout", calibration.DefaultHoldOut, "most recent campaigns held out for the backtests (negative: none)")
	fs.IntVar(&c.Personas, "personas", calibration.DefaultPersonas, "personas sampled per segment")
	fs.Uint64Var(&c.Seed, "seed", 1, "seed of the persona samples")
	fs.IntVar(&c.ProgramBudget, "program-budget", calibration.DefaultProgramBudget, "most LLM calls one prompt-program search may make (with --llm-base-url)")
	c.LLM.RegisterFlags(fs)
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
	s.Scopes = streams.ParseBrokers(*scopes) // the same comma list rules
	s.Partitions = int32(*parts)
	var err error
	if s.Kafka.SASLPassword, err = envflag.Secret("PREFLIGHT_KAFKA_SASL_PASSWORD"); err != nil {
		return c, err
	}
	if c.CHPassword, err = envflag.Secret("PREFLIGHT_CLICKHOUSE_PASSWORD"); err != nil {
		return c, err
	}
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

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	wh, err := warehouse.Open(ctx, cfg.DSN, warehouse.Options{Password: cfg.CHPassword})
	if err != nil {
		return err
	}
	defer wh.Close()
	if err := wh.Migrate(ctx); err != nil {
		return err
	}
	cw, ok := wh.(service.Warehouse)
	if !ok {
		return fmt.Errorf("warehouse backend %s does not implement the calibration tables", wh.Backend())
	}
	ccfg := calibration.Config{Window: cfg.Service.Window, HoldOut: cfg.HoldOut, Level: cfg.Service.Level,
		Personas: cfg.Personas, Seed: cfg.Seed, Log: log,
		// A scheduled retune re-fits persona weights only when the fit is
		// significantly better than the previous weights: otherwise weights
		// would wander on noise from one run to the next.
		ReweightPValue: 0.05, ProgramBudget: cfg.ProgramBudget}
	if cfg.llmConfigured() {
		// With an LLM, a retune also searches for a better persona prompt
		// program (persona/optimize) and promotes it only when it beats
		// the current one on held-out interventions.
		client, err := llm.New(cfg.LLM.WithDefaults(), llm.Options{Metrics: llm.NewMetrics(reg), Logger: log})
		if err != nil {
			return err
		}
		base := llm.NewReasoner(client)
		ccfg.ProgramReasoner = func(p persona.Program) persona.Reasoner { return base.WithProgram(p) }
		log.Info("prompt programs are retuned with an LLM", "llm", cfg.LLM)
	}
	svc, err := service.New(cfg.Service, service.Deps{
		Warehouse: cw,
		Calibrate: func(ctx context.Context, scope string, end time.Time, reason string, prev *calibration.Snapshot) (*calibration.Snapshot, error) {
			c := ccfg
			c.Scope = scope
			return calibration.Calibrate(ctx, wh, c, end, reason, prev)
		},
		Log:     log,
		Metrics: service.NewMetrics(reg),
	})
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
		return ops.Serve(hctx, cfg.HTTPAddr, ops.Handler(reg, svc.Healthy, svc.Ready), log)
	})
	return g.Wait()
}
