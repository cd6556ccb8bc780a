package eventsink

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/schemas"
)

// TestMain fails the package if goroutines of the Kafka client outlive the
// tests: every sink must release what it started when it is closed.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitNoLeaks(5 * time.Second); leaked != "" {
			fmt.Fprintln(os.Stderr, "leaked goroutines:\n"+leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// waitNoLeaks polls until no goroutine runs code of kafka-go or of this
// package, or until the deadline; it returns the offending stacks.
func waitNoLeaks(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var bad []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "segmentio/kafka-go") || strings.Contains(g, "preflight/eventsink.") {
				if !strings.Contains(g, "waitNoLeaks") {
					bad = append(bad, g)
				}
			}
		}
		if len(bad) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(bad, "\n\n")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var testT0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// testUUID returns a valid, deterministic UUID for n.
func testUUID(kind byte, n int) string {
	return fmt.Sprintf("%08x-0000-4000-8%03x-%012x", n, kind, n)
}

// makeEvents returns a deterministic mix of every event type: one segment,
// one intervention, then for each of entities entities an entity, an
// exposure and an outcome.
func makeEvents(entities int) []schemas.Event {
	evs := []schemas.Event{
		&schemas.Segment{EventID: testUUID('s', 0), SegmentID: "loyal", UpdatedAt: testT0, Size: int64(entities)},
		&schemas.Intervention{EventID: testUUID('i', 0), InterventionID: "spring_email", Kind: "email", CreatedAt: testT0,
			CreativeElements: map[string]any{"urgency": 0.5, "discount_pct": 10.0}},
	}
	for i := range entities {
		id := testUUID('e', i)
		t := testT0.Add(time.Duration(i) * time.Second)
		evs = append(evs,
			&schemas.Entity{EventID: testUUID('n', i), EntityID: id, SegmentID: "loyal", CreatedAt: t.Add(-time.Hour),
				Attributes: map[string]any{"age": float64(20 + i%50)}},
			&schemas.Exposure{EventID: testUUID('x', i), ExposureID: testUUID('X', i), EntityID: id, Timestamp: t,
				Channel: "email", CampaignID: "c1", InterventionID: "spring_email", Arm: schemas.ArmTreatment,
				Cost: 0.01, FrequencyCumulative: 1},
			&schemas.Outcome{EventID: testUUID('o', i), OutcomeID: testUUID('O', i), EntityID: id,
				Timestamp: t.Add(time.Hour), OutcomeType: "purchase", Value: float64(i % 90), CampaignID: "c1"},
		)
	}
	return evs
}

func mustEncode(t testing.TB, ev schemas.Event) []byte {
	t.Helper()
	b, err := schemas.Encode(ev)
	if err != nil {
		t.Fatalf("encode %s: %v", ev.ID(), err)
	}
	return b
}
