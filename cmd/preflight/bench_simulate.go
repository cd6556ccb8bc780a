package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/preflight-hq/preflight/internal/bench"
	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/internal/logging"
	"github.com/preflight-hq/preflight/internal/simworld"
)

// benchSimulateFlags are the flags of `preflight bench simulate` beyond
// the configuration.
type benchSimulateFlags struct {
	common     *commonFlags
	cpuprofile string
	json       bool
}

// parseBenchSimulate reads the flags of `preflight bench simulate` into a
// validated configuration; it starts nothing.
func parseBenchSimulate(args []string, stderr io.Writer) (bench.SimulateConfig, benchSimulateFlags, error) {
	fs := flag.NewFlagSet("bench simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg bench.SimulateConfig
		f   benchSimulateFlags
	)
	f.common = addCommonFlags(fs)
	fs.IntVar(&cfg.Entities, "entities", simworld.DefaultEntities, "customers of the synthetic world the snapshot is calibrated on")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed of the world")
	fs.Float64Var(&cfg.Rate, "rate", 20, "arrival rate of the steady runs, requests/s (open loop: sent on schedule whatever the answers do)")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of each steady run (per transport and mix)")
	fs.DurationVar(&cfg.SaturationDuration, "saturation-duration", 10*time.Second, "length of each saturation run (per transport, mix and concurrency)")
	concurrency := fs.String("concurrency", benchJoinInts(bench.DefaultConcurrency()), "comma-separated closed-loop callers of the saturation runs (default 2×GOMAXPROCS and 16)")
	fs.IntVar(&cfg.Baseline, "baseline", 100, "sequential requests on the engine alone, per mix")
	fs.IntVar(&cfg.LargeWarm, "large-warm", 5, "warm calls of the 1000-persona request after its cold first call")
	fs.IntVar(&cfg.Workers, "workers", 8, "the simulator's Kafka request workers")
	partitions := fs.Int("partitions", 4, "partitions of every topic")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight", 1024, "outstanding requests allowed in a steady run; a due request beyond them waits, and its wait counts")
	transports := fs.String("transports", "engine,http,kafka", "comma-separated transports of the steady and saturation runs: engine (in-process baseline), http, kafka")
	mixes := fs.String("mixes", "repeat,varied", "comma-separated request mixes: repeat (identical requests, judgements cached), varied (new content each request)")
	fs.DurationVar(&cfg.Timeout, "timeout", time.Minute, "bound of one request")
	fs.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.BoolVar(&f.json, "json", false, "write the result as JSON on stdout instead of the tables")
	if err := envflag.Parse(fs, args); err != nil {
		return cfg, f, err
	}
	if fs.NArg() > 0 {
		return cfg, f, fmt.Errorf("bench simulate: unexpected arguments %q", fs.Args())
	}
	var errs []error
	var err error
	if cfg.Concurrency, err = benchInts(*concurrency); err != nil {
		errs = append(errs, fmt.Errorf("concurrency: %w", err))
	} else if len(cfg.Concurrency) == 0 {
		errs = append(errs, errors.New("concurrency: at least one number of callers is required"))
	}
	cfg.Transports = benchList(*transports)
	if len(cfg.Transports) == 0 {
		errs = append(errs, errors.New("transports: at least one of engine, http, kafka is required"))
	}
	cfg.Mixes = benchList(*mixes)
	if len(cfg.Mixes) == 0 {
		errs = append(errs, errors.New("mixes: at least one of repeat, varied is required"))
	}
	// Zero means "the default" to bench.SimulateConfig; on the command
	// line it was given, and is out of bounds.
	zero := []struct {
		is  bool
		err string
	}{
		{cfg.Entities == 0, "entities: 0 is not in 100…10,000,000"},
		{cfg.Rate == 0, "rate: 0 requests/s is not in (0, 100,000]"},
		{cfg.Duration == 0, "duration: 0s is shorter than 1s"},
		{cfg.SaturationDuration == 0, "saturation duration: 0s is shorter than 1s"},
		{cfg.Baseline == 0, "baseline: 0 requests is not in 1…1,000,000"},
		{cfg.LargeWarm == 0, "large warm: 0 calls is not in 1…1,000"},
		{cfg.Workers == 0, "workers: 0 is not in 1…1,024"},
		{*partitions == 0, "partitions: 0 is not in 1…1,024"},
		{cfg.MaxInFlight == 0, "max in flight: 0 is not in 1…100,000"},
		{cfg.Timeout == 0, "timeout: 0s is shorter than 1s"},
		{cfg.Seed == 0, "seed: 0 is not allowed (it means the default, 1)"},
	}
	for _, z := range zero {
		if z.is {
			errs = append(errs, errors.New(z.err))
		}
	}
	if *partitions < 0 || *partitions > 1024 {
		errs = append(errs, fmt.Errorf("partitions: %d is not in 1…1,024", *partitions))
	} else {
		cfg.Partitions = int32(*partitions)
	}
	errs = append(errs, cfg.Validate())
	if err := errors.Join(errs...); err != nil {
		return cfg, f, fmt.Errorf("bench simulate: %w", err)
	}
	if err := f.common.resolve(); err != nil {
		return cfg, f, err
	}
	cfg.DSN, cfg.Password, cfg.Brokers, cfg.DataDir = f.common.dsn, f.common.chPassword, f.common.brokerList(), f.common.dataDir
	cfg.TopicPrefix = fmt.Sprintf("%sbenchsim-%d.", f.common.prefix, time.Now().Unix())
	return cfg, f, nil
}

func cmdBenchSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, f, err := parseBenchSimulate(args, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, "text", f.common.logLevel)
	if err != nil {
		return err
	}
	cfg.Progress = stderr
	stop, err := startCPUProfile(f.cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	res, err := bench.Simulate(ctx, cfg, log)
	if err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.WriteTables(stdout)
	return nil
}

// benchList splits a comma-separated list, dropping empty items.
func benchList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// benchInts parses a comma-separated list of integers.
func benchInts(s string) ([]int, error) {
	var out []int
	for _, v := range benchList(s) {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchJoinInts writes ns as a comma-separated list.
func benchJoinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
