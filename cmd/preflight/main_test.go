package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/synth"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func preflight(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("preflight %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// TestGenerateFiles writes a world to files; every line decodes, and the
// truth file reads back with the counts of the files.
func TestGenerateFiles(t *testing.T) {
	dir := t.TempDir()
	preflight(t, "generate", "--out", dir, "--entities", "800", "--campaigns", "4", "--seed", "3")
	truth, err := synth.ReadTruth(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := map[schemas.Type]int64{}
	for rec, err := range eventsink.ReadFiles(dir) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := schemas.Decode(rec.Schema(), rec.Value); err != nil {
			t.Fatalf("%s:%d: %v", rec.Path, rec.Line, err)
		}
		n[rec.Type]++
	}
	for _, ty := range schemas.Types {
		if n[ty] != truth.Events[string(ty)] || n[ty] == 0 {
			t.Errorf("%s: %d lines, truth says %d", ty, n[ty], truth.Events[string(ty)])
		}
	}
}

// TestReplayKafka replays the Hillstrom CSV to a Kafka broker.
func TestReplayKafka(t *testing.T) {
	b, err := streams.StartEmbedded(streams.EmbeddedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out := preflight(t, "replay", "--csv", "../../data/hillstrom.csv", "--kafka-brokers", b.Addrs()[0])
	if !strings.Contains(out, "replayed 64000 rows as 137981 events") || !strings.Contains(out, "ATE mens_email vs no_email: visit +0.0766") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"generate"}, {"bench", "nothing"}, {"demo", "--source", "nowhere"}} {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, &stdout, &stderr); err == nil {
			t.Errorf("preflight %v succeeded, want an error", args)
		}
	}
}
