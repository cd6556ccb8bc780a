package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestBenchSimulateFlags checks that `preflight bench simulate` refuses bad
// flags before it starts anything, naming the flag at fault, and reads good
// ones into its configuration. Nothing here is timed.
func TestBenchSimulateFlags(t *testing.T) {
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--entities", "0"}, "entities"},
		{[]string{"--entities", "50"}, "entities"},
		{[]string{"--rate", "0"}, "rate"},
		{[]string{"--rate", "-2"}, "rate"},
		{[]string{"--duration", "0s"}, "duration"},
		{[]string{"--duration", "100ms"}, "duration"},
		{[]string{"--saturation-duration", "0s"}, "saturation duration"},
		{[]string{"--concurrency", ""}, "concurrency"},
		{[]string{"--concurrency", "4,x"}, "concurrency"},
		{[]string{"--concurrency", "4,0"}, "concurrency"},
		{[]string{"--concurrency", "4,4"}, "concurrency"},
		{[]string{"--baseline", "0"}, "baseline"},
		{[]string{"--large-warm", "0"}, "large warm"},
		{[]string{"--workers", "0"}, "workers"},
		{[]string{"--partitions", "0"}, "partitions"},
		{[]string{"--partitions", "-1"}, "partitions"},
		{[]string{"--max-in-flight", "0"}, "max in flight"},
		{[]string{"--timeout", "0s"}, "timeout"},
		{[]string{"--seed", "0"}, "seed"},
		{[]string{"--transports", "http,grpc"}, "transports"},
		{[]string{"--transports", ","}, "transports"},
		{[]string{"--mixes", "repeat,repeat"}, "mixes"},
		{[]string{"stray"}, "unexpected arguments"},
	}
	for _, c := range bad {
		_, _, err := parseBenchSimulate(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench simulate %v: error %v, want one naming %q", c.args, err, c.want)
		}
		var stdout bytes.Buffer
		if err := run(context.Background(), append([]string{"bench", "simulate"}, c.args...), &stdout, io.Discard); err == nil {
			t.Errorf("preflight bench simulate %v succeeded, want an error", c.args)
		}
		if stdout.Len() > 0 {
			t.Errorf("preflight bench simulate %v wrote %q before failing", c.args, stdout.String())
		}
	}

	var stderr bytes.Buffer
	if _, _, err := parseBenchSimulate([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-saturation-duration") {
		t.Errorf("-h: error %v, usage %q", err, stderr.String())
	}

	cfg, f, err := parseBenchSimulate([]string{"--entities", "3000", "--rate", "7.5", "--duration", "3s", "--saturation-duration", "2s",
		"--concurrency", "1, 8", "--transports", "http", "--mixes", "varied", "--partitions", "2", "--json", "--topic-prefix", "x."}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Entities != 3000 || cfg.Rate != 7.5 || cfg.Duration != 3*time.Second || cfg.SaturationDuration != 2*time.Second ||
		!slices.Equal(cfg.Concurrency, []int{1, 8}) || !slices.Equal(cfg.Transports, []string{"http"}) ||
		!slices.Equal(cfg.Mixes, []string{"varied"}) || cfg.Partitions != 2 || !f.json || cfg.Seed != 1 || cfg.Baseline != 100 ||
		!strings.HasPrefix(cfg.TopicPrefix, "x.benchsim-") || !strings.HasSuffix(cfg.TopicPrefix, ".") {
		t.Errorf("parsed %+v, json %v", cfg, f.json)
	}
}
