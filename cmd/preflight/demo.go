package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/preflight-hq/preflight/internal/demo"
	"github.com/preflight-hq/preflight/internal/envflag"
	"github.com/preflight-hq/preflight/internal/logging"
	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/streams"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	common := addCommonFlags(fs)
	var opts demo.Options
	fs.StringVar(&opts.Source, "source", demo.SourceSynth, "what to stream: synth (a generated world with planted truth) or hillstrom (the real 2008 experiment)")
	fs.StringVar(&opts.HillstromPath, "hillstrom", "data/hillstrom.csv", "Hillstrom-format CSV for --source hillstrom")
	fs.BoolVar(&opts.Simulate, "simulate", true, "end by calibrating a simulator on what was stored and asking it the standard request over Kafka request/reply (synth source only)")
	w := addWorldFlags(fs)
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
	if opts.Synth, err = w.config(); err != nil {
		return err
	}
	opts.Stack = stack.Config{
		Brokers: common.brokerList(), DSN: common.dsn, Password: common.chPassword, DataDir: common.dataDir,
		Topics: streams.Topics{Prefix: common.prefix},
	}
	opts.Stack.Ingest.BatchInterval = 200 * time.Millisecond
	opts.Progress = stderr
	res, err := demo.Run(ctx, opts, log)
	if err != nil {
		return err
	}
	res.Print(stdout)
	if r := res.Response; r != nil && r.Error != nil {
		return fmt.Errorf("simulation %s failed: %w", r.SimulationID, r.Error)
	}
	return nil
}
