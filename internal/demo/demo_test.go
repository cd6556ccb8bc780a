package demo

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/preflight-hq/preflight/internal/stack"
	"github.com/preflight-hq/preflight/internal/testenv"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/simulation/api"
	"github.com/preflight-hq/preflight/streams"
	"github.com/preflight-hq/preflight/synth"
	_ "github.com/preflight-hq/preflight/warehouse/embedded"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TestSynthWorld streams a generated world through the embedded broker into
// each warehouse backend: every event is stored, none is dead-lettered, and
// the per-segment, per-arm purchase rates read back from ClickHouse lie
// within 4 binomial standard errors of the planted truth. Then a simulator
// calibrated on what was stored answers the standard request over Kafka,
// and the summary ends with its report.
func TestSynthWorld(t *testing.T) {
	for _, be := range []struct{ name, dsn string }{
		{"chdb", testenv.ChDBDSN(t)},
		{"clickhouse-server", testenv.NewDatabase(t)},
	} {
		t.Run(be.name, func(t *testing.T) {
			res, err := Run(context.Background(), Options{
				Synth:    synth.Config{Seed: 7, Entities: 6000, NumCampaigns: 8},
				Stack:    stack.Config{DSN: be.dsn, Topics: streams.Topics{Prefix: "demo."}},
				Simulate: true,
			}, quiet)
			if err != nil {
				t.Fatal(err)
			}
			var stored uint64
			for _, ty := range schemas.Types {
				if got, want := res.Stored[ty], uint64(res.Truth.Events[string(ty)]); got != want {
					t.Errorf("%s: stored %d, generated %d", ty, got, want)
				}
				stored += res.Stored[ty]
			}
			if int64(stored) != res.Produced || res.DLQ != 0 {
				t.Errorf("produced %d, stored %d, DLQ %d", res.Produced, stored, res.DLQ)
			}
			if len(res.Groups) < 8 {
				t.Fatalf("only %d segment×arm groups", len(res.Groups))
			}
			for _, g := range res.Groups {
				if g.TruthRate <= 0 || g.Entities == 0 {
					t.Errorf("%s/%s: no truth or no entities: %+v", g.Name, g.Arm, g)
					continue
				}
				se := math.Sqrt(g.TruthRate * (1 - g.TruthRate) / float64(g.Entities))
				if z := (g.Rate() - g.TruthRate) / se; math.Abs(z) > 4 {
					t.Errorf("%s/%s: observed rate %.4f vs planted %.4f (z=%.1f)", g.Name, g.Arm, g.Rate(), g.TruthRate, z)
				}
			}
			if res.Response == nil || res.Response.Status != api.StatusCompleted {
				t.Fatalf("simulator answer %+v", res.Response)
			}
			if q := res.Response.CalibrationQuality; q == nil || q.LastCalibration.IsZero() {
				t.Errorf("calibration quality %+v", q)
			}
			var out strings.Builder
			res.Print(&out)
			for _, s := range []string{"planted", "Preflight simulation sim_", "What was asked", "50,000 people in high_value, at_risk, new_users",
				"Expected outcomes over 30 days", "Best configuration", "By segment", "Insights", "Calibration"} {
				if !strings.Contains(out.String(), s) {
					t.Errorf("summary lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
}

// TestHillstrom replays the real experiment through Kafka into ClickHouse;
// the rates read back equal those computed from the CSV itself.
func TestHillstrom(t *testing.T) {
	res, err := Run(context.Background(), Options{
		Source: SourceHillstrom, HillstromPath: "../../data/hillstrom.csv",
		Stack:    stack.Config{DSN: testenv.ChDBDSN(t), Topics: streams.Topics{Prefix: "hill."}},
		Simulate: true, // skipped: the replay has no planted world to calibrate against
	}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if res.Response != nil {
		t.Errorf("the Hillstrom replay asked the simulator: %+v", res.Response)
	}
	if res.Stored[schemas.TypeEntity] != 64000 || res.Stored[schemas.TypeExposure] != 64000 {
		t.Fatalf("stored %v, want 64000 entities and exposures", res.Stored)
	}
	// The README's anchors, read back through the whole pipeline.
	want := map[string][2]float64{
		"womens_email": {0.151400, 0.008837},
		"mens_email":   {0.182757, 0.012531},
		"no_email":     {0.106167, 0.005726},
	}
	if len(res.Groups) != 3 {
		t.Fatalf("groups %+v, want the three arms", res.Groups)
	}
	for _, g := range res.Groups {
		w, ok := want[g.Name]
		if !ok {
			t.Fatalf("unexpected group %q", g.Name)
		}
		if math.Abs(g.VisitRate()-w[0]) > 5e-7 || math.Abs(g.Rate()-w[1]) > 5e-7 {
			t.Errorf("%s: visit %.6f conversion %.6f, want %.6f %.6f", g.Name, g.VisitRate(), g.Rate(), w[0], w[1])
		}
	}
}
