package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strings"
	"time"

	"github.com/preflight-hq/preflight/internal/demo"
	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/internal/logging"
	"github.com/preflight-hq/preflight/internal/simworld"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/simulation/client"
	"github.com/preflight-hq/preflight/streams"
)

// stdin is what --request - reads (tests replace it).
var stdin io.Reader = os.Stdin

// simulateConfig is everything `preflight simulate` is configured with.
type simulateConfig struct {
	common *commonFlags
	// kafka is the cluster of a running simulator (brokers from
	// --kafka-brokers, TLS and SASL from their flags).
	kafka streams.KafkaConfig
	// requestPath is the request's JSON file, "-" for stdin, "" for
	// simworld.StandardRequest().
	requestPath string
	url         string
	apiKeyFile  string
	apiKey      string
	scope       string
	timeout     time.Duration
	retries     int
	json        bool
	// seed and entities size the embedded world.
	seed     uint64
	entities int
}

// embedded reports whether the command runs every part itself.
func (c simulateConfig) embedded() bool { return c.url == "" && c.common.brokers == "" }

// Validate reports every problem, each naming its flag.
func (c simulateConfig) Validate() error {
	var errs []error
	if c.url != "" && c.common.brokers != "" {
		errs = append(errs, errors.New("give at most one of --url (HTTP) and --kafka-brokers (Kafka request/reply); neither runs everything embedded"))
	}
	if c.url != "" && c.apiKey == "" {
		errs = append(errs, errors.New("--url needs an API key: set PREFLIGHT_SIMULATOR_API_KEY (or PREFLIGHT_SIMULATOR_API_KEY_FILE) or give --api-key-file"))
	}
	if c.common.brokers != "" {
		if err := c.kafka.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.timeout < 0 {
		errs = append(errs, fmt.Errorf("--timeout %s is negative", c.timeout))
	}
	if c.retries < 0 {
		errs = append(errs, fmt.Errorf("--retries %d is negative", c.retries))
	}
	if c.entities <= 0 {
		errs = append(errs, fmt.Errorf("--entities %d: want at least 1", c.entities))
	}
	return errors.Join(errs...)
}

func parseSimulate(args []string, stderr io.Writer) (simulateConfig, error) {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: preflight simulate [flags]

Asks the simulator what an intervention would do and prints the answer for
people (--json: the raw response). With --url it asks a simulator over HTTP,
with --kafka-brokers over Kafka request/reply; with neither it runs
everything in this process: an embedded broker and ClickHouse, a synthetic
world streamed into them, a calibration fitted on it and a simulator.

flags:
`)
		fs.PrintDefaults()
	}
	c := simulateConfig{common: addCommonFlags(fs)}
	fs.StringVar(&c.requestPath, "request", "", "JSON request file per the /api/v1/simulate contract, - for stdin (default: the standard request, 3 variants on email, sms and push to 50,000 people)")
	fs.StringVar(&c.url, "url", "", "simulator URL (http://host:8080) to ask over HTTP; the key comes from PREFLIGHT_SIMULATOR_API_KEY or --api-key-file")
	fs.StringVar(&c.apiKeyFile, "api-key-file", "", "file holding the simulator's API key, for --url")
	fs.StringVar(&c.scope, "scope", "", "calibration scope, sent as X-Preflight-Scope (default: the request's industry_context)")
	fs.DurationVar(&c.timeout, "timeout", client.DefaultTimeout, "wait for one attempt's answer")
	fs.IntVar(&c.retries, "retries", 2, "times a request is sent again after no answer, 429, 503 or a retriable error")
	fs.BoolVar(&c.json, "json", false, "print the raw response instead of the report")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed of the embedded synthetic world")
	fs.IntVar(&c.entities, "entities", 20000, "customers in the embedded synthetic world")
	addKafkaSecurityFlags(fs, &c.kafka)
	if err := envflag.Parse(fs, args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("simulate: unexpected arguments %q", fs.Args())
	}
	if err := c.common.resolve(); err != nil {
		return c, err
	}
	c.kafka.Brokers = c.common.brokerList()
	var err error
	if c.kafka.SASLPassword, err = envflag.Secret("PREFLIGHT_KAFKA_SASL_PASSWORD"); err != nil {
		return c, err
	}
	if c.apiKeyFile != "" {
		b, err := os.ReadFile(c.apiKeyFile)
		if err != nil {
			return c, fmt.Errorf("cannot read --api-key-file: %w", err)
		}
		c.apiKey = strings.TrimSpace(string(b))
	} else if c.apiKey, err = envflag.Secret("PREFLIGHT_SIMULATOR_API_KEY"); err != nil {
		return c, err
	}
	c.apiKey = strings.TrimSpace(c.apiKey)
	return c, c.Validate()
}

// addKafkaSecurityFlags adds the TLS and SASL flags of a Kafka cluster to
// fs, as cmd/simulator names them; the SASL password comes from
// PREFLIGHT_KAFKA_SASL_PASSWORD.
func addKafkaSecurityFlags(fs *flag.FlagSet, k *streams.KafkaConfig) {
	fs.BoolVar(&k.TLS, "kafka-tls", false, "use TLS to Kafka")
	fs.StringVar(&k.TLSCAFile, "kafka-tls-ca-file", "", "PEM CA bundle for Kafka TLS (default: system roots)")
	fs.StringVar(&k.TLSCertFile, "kafka-tls-cert-file", "", "client certificate for Kafka mutual TLS")
	fs.StringVar(&k.TLSKeyFile, "kafka-tls-key-file", "", "client key for Kafka mutual TLS")
	fs.StringVar(&k.SASLMechanism, "kafka-sasl-mechanism", "", "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (password from PREFLIGHT_KAFKA_SASL_PASSWORD)")
	fs.StringVar(&k.SASLUser, "kafka-sasl-user", "", "SASL user")
}

// readRequest reads and decodes the request at path ("-": stdin, "": the
// standard request). Problems with the request are an *api.Error listing
// every one. The simulator's own limits are not applied here: it applies
// them.
func readRequest(path string) (api.SimulateRequest, error) {
	if path == "" {
		return simworld.StandardRequest(), nil
	}
	var (
		b   []byte
		err error
	)
	if path == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return api.SimulateRequest{}, fmt.Errorf("cannot read the request: %w", err)
	}
	return api.Decode(b, api.Limits{MaxBodyBytes: math.MaxInt, MaxWork: math.MaxInt64})
}

func cmdSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseSimulate(args, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, "text", cfg.common.logLevel)
	if err != nil {
		return err
	}
	req, err := readRequest(cfg.requestPath)
	var ae *api.Error
	if errors.As(err, &ae) {
		// Answer a broken request here, as the simulator would.
		return answer(stdout, cfg, req, api.SimulateResponse{Status: api.StatusFailed, Error: ae}, ae)
	}
	if err != nil {
		return err
	}
	var resp api.SimulateResponse
	switch {
	case cfg.url != "":
		resp, err = simulateHTTP(ctx, cfg, req, log)
	case !cfg.embedded():
		resp, err = simulateKafka(ctx, cfg, req, log)
	default:
		resp, err = simulateEmbedded(ctx, cfg, req, log, stderr)
	}
	if err != nil && !errors.As(err, &ae) {
		return err
	}
	return answer(stdout, cfg, req, resp, err)
}

// answer prints resp (the report, or the JSON with --json) and returns
// the failure, if any, so that the exit status says it.
func answer(stdout io.Writer, cfg simulateConfig, req api.SimulateRequest, resp api.SimulateResponse, failure error) error {
	var err error
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(resp)
	} else {
		err = client.WriteReport(stdout, req, resp)
	}
	if err != nil {
		return fmt.Errorf("cannot print the answer: %w", err)
	}
	if failure != nil {
		id := resp.SimulationID
		if id == "" {
			return fmt.Errorf("request not sent: %w", failure)
		}
		return fmt.Errorf("simulation %s failed: %w", id, failure)
	}
	return nil
}

func simulateHTTP(ctx context.Context, cfg simulateConfig, req api.SimulateRequest, log *slog.Logger) (api.SimulateResponse, error) {
	h, err := client.NewHTTP(client.HTTPConfig{URL: cfg.url, APIKey: cfg.apiKey, Timeout: cfg.timeout, Retries: cfg.retries,
		Scope: cfg.scope, Logger: log})
	if err != nil {
		return api.SimulateResponse{}, err
	}
	defer h.Close()
	return h.Simulate(ctx, req)
}

func simulateKafka(ctx context.Context, cfg simulateConfig, req api.SimulateRequest, log *slog.Logger) (api.SimulateResponse, error) {
	// A shared reply topic: several people may run this at once, and each
	// reads only its own replies.
	k, err := client.NewKafka(client.KafkaConfig{Kafka: cfg.kafka, TopicPrefix: cfg.common.prefix, SharedReplyTopic: true,
		Timeout: cfg.timeout, Retries: cfg.retries, Scope: cfg.scope, Logger: log})
	if err != nil {
		return api.SimulateResponse{}, err
	}
	defer k.Close()
	return k.Simulate(ctx, req)
}

// simulateEmbedded is the one command on a fresh machine: the embedded
// broker and warehouse, the standard synthetic world streamed through
// them, a calibration on everything stored, a simulator in the process,
// and the question over Kafka request/reply.
func simulateEmbedded(ctx context.Context, cfg simulateConfig, req api.SimulateRequest, log *slog.Logger, progress io.Writer) (api.SimulateResponse, error) {
	scfg := stack.Config{DSN: cfg.common.dsn, Password: cfg.common.chPassword, DataDir: cfg.common.dataDir,
		Topics: streams.Topics{Prefix: cfg.common.prefix}}
	scfg.Ingest.BatchInterval = 200 * time.Millisecond
	st, err := stack.Start(ctx, scfg, log)
	if err != nil {
		return api.SimulateResponse{}, err
	}
	defer st.Close()
	world := simworld.World(cfg.seed, cfg.entities)
	fmt.Fprintf(progress, "streaming a synthetic world of %d customers and %d campaigns into %s\n", world.Entities, len(world.Campaigns), st.Warehouse.Backend())
	truth, _, err := simworld.Stream(ctx, st, world, progress)
	if err != nil {
		return api.SimulateResponse{}, err
	}
	return demo.Ask(ctx, st, truth, req, demo.AskOptions{Scope: cfg.scope, Timeout: cfg.timeout, Progress: progress}, log)
}
