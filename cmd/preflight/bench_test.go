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

	"github.com/preflight-hq/preflight/internal/bench"
)

// TestBenchRefreshFlags checks that `preflight bench refresh` refuses bad
// flags before it starts anything, naming the flag at fault, and reads good
// ones into its configuration. Nothing here is timed.
func TestBenchRefreshFlags(t *testing.T) {
	bad := []struct {
		args []string
		want string
	}{
		{[]string{"--events", "0"}, "events"},
		{[]string{"--events", "999"}, "events"},
		{[]string{"--appends", "0"}, "appends"},
		{[]string{"--appends", "1,150"}, "appends"},
		{[]string{"--appends", "ten"}, "appends"},
		{[]string{"--phases", "refresh,nothing"}, "phases"},
		{[]string{"--phases", "latency,latency"}, "phases"},
		{[]string{"--phases", ","}, "phases"},
		{[]string{"--batch-rows", "0"}, "batch rows"},
		{[]string{"--batch-rows", "2000000"}, "batch rows"},
		{[]string{"--batch-interval", "0s"}, "batch interval"},
		{[]string{"--rate", "0"}, "rate"},
		{[]string{"--rate", "-5"}, "rate"},
		{[]string{"--duration", "500ms"}, "duration"},
		{[]string{"--refresh-interval", "1ms"}, "interval"},
		{[]string{"--refresh-interval", "30s", "--duration", "10s"}, "interval"},
		{[]string{"stray"}, "unexpected arguments"},
	}
	for _, c := range bad {
		_, _, _, err := parseBenchRefresh(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("bench refresh %v: error %v, want one naming %q", c.args, err, c.want)
		}
		// Through the command, too: it must fail the same way, at once.
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), append([]string{"bench", "refresh"}, c.args...), &stdout, &stderr); err == nil {
			t.Errorf("preflight bench refresh %v succeeded, want an error", c.args)
		}
		if stdout.Len() > 0 {
			t.Errorf("preflight bench refresh %v wrote %q before failing", c.args, stdout.String())
		}
	}

	// Every error is reported, not only the first.
	_, _, _, err := parseBenchRefresh([]string{"--events", "0", "--rate", "0", "--appends", "-1"}, io.Discard)
	for _, want := range []string{"events", "rate", "appends"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}

	var stderr bytes.Buffer
	if _, _, _, err := parseBenchRefresh([]string{"-h"}, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-refresh-interval") {
		t.Errorf("-h: error %v, usage %q", err, stderr.String())
	}

	cfg, _, prof, err := parseBenchRefresh([]string{"--events", "5000", "--appends", "2%, 20", "--phases", "latency",
		"--rate", "100", "--duration", "3s", "--refresh-interval", "250ms", "--clickhouse-dsn", "clickhouse://u@h:9000/db", "--cpuprofile", "p.out"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := bench.RefreshConfig{Events: 5000, Appends: []float64{2, 20}, Phases: []string{bench.PhaseLatency}, BatchRows: 10_000,
		BatchInterval: time.Second, Rate: 100, Duration: 3 * time.Second, Interval: 250 * time.Millisecond, DSN: "clickhouse://u@h:9000/db", Seed: 1}
	if cfg.Events != want.Events || !slices.Equal(cfg.Appends, want.Appends) || !slices.Equal(cfg.Phases, want.Phases) ||
		cfg.BatchRows != want.BatchRows || cfg.BatchInterval != want.BatchInterval || cfg.Rate != want.Rate ||
		cfg.Duration != want.Duration || cfg.Interval != want.Interval || cfg.DSN != want.DSN || cfg.Seed != want.Seed || prof != "p.out" {
		t.Errorf("parsed %+v (profile %q), want %+v", cfg, prof, want)
	}

	// No appends is allowed: the refresh phase then times the full refresh only.
	cfg, _, _, err = parseBenchRefresh([]string{"--appends", ""}, io.Discard)
	if err != nil || cfg.Appends == nil || len(cfg.Appends) != 0 {
		t.Errorf("--appends '': %v, appends %v", err, cfg.Appends)
	}

	// The defaults are the documented run.
	cfg, _, _, err = parseBenchRefresh(nil, io.Discard)
	if err != nil || cfg.Events != 1_000_000 || !slices.Equal(cfg.Appends, []float64{1, 10}) || cfg.Rate != 5_000 ||
		cfg.Duration != 20*time.Second || cfg.Interval != time.Second || len(cfg.Phases) != 2 || cfg.DSN != "" {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
}

// TestBenchUsage checks the bench command's subcommand dispatch.
func TestBenchUsage(t *testing.T) {
	for _, args := range [][]string{{"bench"}, {"bench", "nothing"}} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "bench ingest|refresh") {
			t.Errorf("preflight %v: %v, want the bench usage", args, err)
		}
	}
}
