package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/preflight-hq/preflight/internal/bench"
	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/internal/logging"
)

const benchUsage = "usage: preflight bench ingest|refresh|simulate [flags]"

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(benchUsage)
	}
	switch args[0] {
	case "ingest":
		return cmdBenchIngest(ctx, args[1:], stdout, stderr)
	case "refresh":
		return cmdBenchRefresh(ctx, args[1:], stdout, stderr)
	case "simulate":
		return cmdBenchSimulate(ctx, args[1:], stdout, stderr)
	}
	return errors.New(benchUsage)
}

func cmdBenchIngest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench ingest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.IngestConfig
	common := addCommonFlags(fs)
	fs.IntVar(&cfg.Events, "events", 200_000, "events for the throughput phases")
	fs.IntVar(&cfg.Rate, "rate", 20_000, "events/s of the latency phase")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of the latency phase")
	fs.IntVar(&cfg.BatchRows, "batch-rows", 10_000, "ingestor batch rows")
	fs.DurationVar(&cfg.BatchInterval, "batch-interval", time.Second, "ingestor batch interval")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := envflag.Parse(fs, args); err != nil {
		return err
	}
	if err := common.resolve(); err != nil {
		return err
	}
	log, err := logging.New(stderr, "text", common.logLevel)
	if err != nil {
		return err
	}
	cfg.DSN, cfg.Password, cfg.Brokers = common.dsn, common.chPassword, common.brokerList()
	stop, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	res, err := bench.Ingest(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n| backend | events | raw batch rows/s | direct (dedup) rows/s | pipeline events/s | vs raw | vs dedup | latency rate (ev/s) | p50 | p99 | max |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(stdout, "| %s | %d | %.0f | %.0f | %.0f | %.0f%% | %.0f%% | %.0f | %s | %s | %s |\n", res.Backend, res.Events, res.RawRowsPerSec, res.DirectRowsPerSec,
		res.PipelineEventsPerSec, 100*res.RawRatio, 100*res.Ratio, res.LatencyRate, res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond), res.Max.Round(time.Millisecond))
	return nil
}

// startCPUProfile starts a CPU profile written to path, unless path is
// empty, and returns the function that stops it.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// parseBenchRefresh reads the flags of `preflight bench refresh` into a
// validated configuration; it starts nothing.
func parseBenchRefresh(args []string, stderr io.Writer) (bench.RefreshConfig, *commonFlags, string, error) {
	fs := flag.NewFlagSet("bench refresh", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg bench.RefreshConfig
	common := addCommonFlags(fs)
	fs.IntVar(&cfg.Events, "events", 1_000_000, "exposures and outcomes stored before the full refresh")
	appends := fs.String("appends", "1,10", "comma-separated sizes, in percent of --events, appended one after another, each followed by a timed incremental refresh")
	phases := fs.String("phases", "refresh,latency", "comma-separated phases to run: refresh (time per million events), latency (event→moment)")
	fs.IntVar(&cfg.BatchRows, "batch-rows", 10_000, "rows per direct insert, and ingestor batch rows")
	fs.DurationVar(&cfg.BatchInterval, "batch-interval", time.Second, "ingestor batch interval")
	fs.IntVar(&cfg.Rate, "rate", 5_000, "events/s of the latency phase")
	fs.DurationVar(&cfg.Duration, "duration", 20*time.Second, "length of the latency phase")
	fs.DurationVar(&cfg.Interval, "refresh-interval", time.Second, "time between two refreshes in the latency phase (the calibrator's --refresh-interval)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := envflag.Parse(fs, args); err != nil {
		return cfg, nil, "", err
	}
	if fs.NArg() > 0 {
		return cfg, nil, "", fmt.Errorf("bench refresh: unexpected arguments %q", fs.Args())
	}
	cfg.Appends = []float64{} // empty means none; nil would mean the default
	for _, a := range strings.Split(*appends, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		p, err := strconv.ParseFloat(strings.TrimSuffix(a, "%"), 64)
		if err != nil {
			return cfg, nil, "", fmt.Errorf("appends: %q is not a number", a)
		}
		cfg.Appends = append(cfg.Appends, p)
	}
	cfg.Phases = nil
	for _, p := range strings.Split(*phases, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.Phases = append(cfg.Phases, p)
		}
	}
	if len(cfg.Phases) == 0 {
		return cfg, nil, "", errors.New("phases: at least one of refresh, latency is required")
	}
	// Zero means "the default" to bench.RefreshConfig; on the command
	// line it was given, and is out of bounds.
	var errs []error
	if cfg.Events == 0 {
		errs = append(errs, errors.New("events: 0 is not in 1,000…100,000,000"))
	}
	if cfg.BatchRows == 0 {
		errs = append(errs, errors.New("batch rows: 0 is not in 1…1,000,000"))
	}
	if cfg.Rate == 0 {
		errs = append(errs, errors.New("rate: 0 events/s is not in 1…1,000,000"))
	}
	if cfg.Duration == 0 {
		errs = append(errs, errors.New("duration: 0s is shorter than 1s"))
	}
	if cfg.Interval == 0 {
		errs = append(errs, errors.New("interval: 0s is below 10ms"))
	}
	if cfg.BatchInterval == 0 {
		errs = append(errs, errors.New("batch interval: 0s is not positive"))
	}
	errs = append(errs, cfg.Validate())
	if err := errors.Join(errs...); err != nil {
		return cfg, nil, "", fmt.Errorf("bench refresh: %w", err)
	}
	if err := common.resolve(); err != nil {
		return cfg, nil, "", err
	}
	cfg.DSN, cfg.Password, cfg.Brokers = common.dsn, common.chPassword, common.brokerList()
	return cfg, common, *cpuprofile, nil
}

func cmdBenchRefresh(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, common, cpuprofile, err := parseBenchRefresh(args, stderr)
	if err != nil {
		return err
	}
	log, err := logging.New(stderr, "text", common.logLevel)
	if err != nil {
		return err
	}
	stop, err := startCPUProfile(cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	res, err := bench.Refresh(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	if res.Full.Rows > 0 {
		fmt.Fprintf(stdout, "\n| backend | events | load rows/s | refresh | stored rows | new rows | seconds | s per million new rows |\n|---|---|---|---|---|---|---|---|\n")
		for _, r := range append([]bench.RefreshRun{res.Full}, res.Incremental...) {
			fmt.Fprintf(stdout, "| %s | %d | %.0f | %s | %d | %d | %.2f | %.2f |\n", res.Backend, res.Events, res.LoadRowsPerSec, r.Label, r.Stored, r.Rows, r.Elapsed.Seconds(), r.PerMillion())
		}
	}
	if res.LatencyEvents > 0 {
		fmt.Fprintf(stdout, "\n| backend | rate achieved | interval | refreshes | refresh p50 | refresh p99 | produced→moment p50 | p99 | max | stored→moment p50 | p99 | newest ingested_at→moment p50 | p99 |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		fmt.Fprintf(stdout, "| %s | %.0f | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", res.Backend, res.LatencyRate, cfg.Interval, res.Refreshes,
			ms(res.RefreshP50), ms(res.RefreshP99), ms(res.ProducedP50), ms(res.ProducedP99), ms(res.ProducedMax),
			ms(res.StoredP50), ms(res.StoredP99), ms(res.IngestedP50), ms(res.IngestedP99))
	}
	return nil
}

// ms rounds d to the millisecond for the tables.
func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
