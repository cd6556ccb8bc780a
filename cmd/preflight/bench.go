package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"time"

	"github.com/preflight-hq/preflight/internal/bench"
	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/internal/logging"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "ingest" {
		return errors.New("usage: preflight bench ingest [flags]")
	}
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
	if err := envflag.Parse(fs, args[1:]); err != nil {
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
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Ingest(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n| backend | events | raw batch rows/s | direct (dedup) rows/s | pipeline events/s | vs raw | vs dedup | latency rate (ev/s) | p50 | p99 | max |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(stdout, "| %s | %d | %.0f | %.0f | %.0f | %.0f%% | %.0f%% | %.0f | %s | %s | %s |\n", res.Backend, res.Events, res.RawRowsPerSec, res.DirectRowsPerSec,
		res.PipelineEventsPerSec, 100*res.RawRatio, 100*res.Ratio, res.LatencyRate, res.P50.Round(time.Millisecond), res.P99.Round(time.Millisecond), res.Max.Round(time.Millisecond))
	return nil
}
