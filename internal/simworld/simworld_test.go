package simworld

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/simulation"
	"github.com/preflight-hq/preflight/streams"
	_ "github.com/preflight-hq/preflight/warehouse/embedded"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Shutdown()
	os.Exit(code)
}

// TestSameWorldSameAnswer streams the same small world twice, through two
// brokers into two databases, and calibrates each: the snapshots are
// byte-identical (ClickHouse's float sums differ in the last bits between
// the two; calibration must not let that through), and so is the answer to
// the standard request.
func TestSameWorldSameAnswer(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var bodies [2][]byte
	var answers [2]string
	for k := range 2 {
		st, err := stack.Start(ctx, stack.Config{DSN: testenv.ChDBDSN(t), Topics: streams.Topics{Prefix: fmt.Sprintf("same%d.", k)}, Partitions: 2}, quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		truth, _, err := Stream(ctx, st, World(3, 4000), nil)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := Calibrate(ctx, st, truth, "", "", quiet)
		if err != nil {
			t.Fatal(err)
		}
		if bodies[k], err = snap.Encode(); err != nil {
			t.Fatal(err)
		}
		e, err := simulation.NewEngine(snap, simulation.Options{})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.Simulate(ctx, StandardRequest(), 1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		answers[k] = string(b)
	}
	if !bytes.Equal(bodies[0], bodies[1]) {
		_ = os.WriteFile(os.TempDir()+"/same0.json", bodies[0], 0o644)
		_ = os.WriteFile(os.TempDir()+"/same1.json", bodies[1], 0o644)
		t.Errorf("the same world gave two different snapshots (%d and %d bytes; written to %s/same[01].json)", len(bodies[0]), len(bodies[1]), os.TempDir())
	}
	if answers[0] != answers[1] {
		t.Errorf("the same world gave two different answers:\n%s\n%s", answers[0], answers[1])
	}
}
