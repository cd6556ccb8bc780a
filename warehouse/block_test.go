package warehouse

import (
	"strings"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/schemas"
)

func TestBlockCheck(t *testing.T) {
	ok := &Block{Columns: []string{"a", "b"}, Data: []any{[]string{"x", "y"}, []time.Time{{}, {}}}}
	if err := ok.Check(); err != nil || ok.Len() != 2 {
		t.Fatalf("Check = %v, Len = %d; want nil, 2", err, ok.Len())
	}
	for _, c := range []struct {
		b    *Block
		want string
	}{
		{&Block{Columns: []string{"a"}, Data: []any{[]string{"x"}, []int64{1}}}, "names 1 columns and holds 2"},
		{&Block{Columns: []string{"a", "b"}, Data: []any{[]string{"x"}, []int64{1, 2}}}, "column b has 2 rows, column a has 1"},
		{&Block{Columns: []string{"a"}, Data: []any{[]bool{true}}}, "column a: cannot write a []bool"},
	} {
		if err := c.b.Check(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check = %v, want an error containing %q", err, c.want)
		}
	}
}

// TestRawTableBlocks builds a block of every raw table from a valid event and
// checks its shape: one typed column per declared column, metadata last.
func TestRawTableBlocks(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	events := map[schemas.Type]schemas.Event{
		schemas.TypeEntity:       &schemas.Entity{EventID: "3f2b8c1e-9d4a-4e6f-8b1c-2a5d7e9f0c13", EntityID: "e1", CreatedAt: now},
		schemas.TypeExposure:     &schemas.Exposure{EventID: "8c0d4c1a-5b7e-4f21-9a3d-6e2f1b0c9d84", ExposureID: "d2a7f0e3-1c4b-4a8e-b6f9-0e3d5c7a9b12", EntityID: "e1", Timestamp: now, Channel: "email", CampaignID: "c", InterventionID: "i", Arm: "treatment", Content: map[string]any{"k": "v"}},
		schemas.TypeOutcome:      &schemas.Outcome{EventID: "7b1e2d3c-4a5f-4b6e-9c8d-0f1a2b3c4d5e", OutcomeID: "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f", EntityID: "e1", Timestamp: now, OutcomeType: "purchase"},
		schemas.TypeIntervention: &schemas.Intervention{EventID: "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", InterventionID: "i", Kind: "email", CreatedAt: now},
		schemas.TypeSegment:      &schemas.Segment{EventID: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", SegmentID: "s", UpdatedAt: now},
	}
	for typ, rt := range rawTables {
		ev := events[typ]
		b, err := rt.block([]Row{{Event: ev, Topic: "t", Partition: 2, Offset: 7}, {Event: ev, Topic: "t", Partition: 2, Offset: 8}}, now)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if err := b.Check(); err != nil || b.Len() != 2 {
			t.Fatalf("%s: Check = %v, Len = %d", typ, err, b.Len())
		}
		if len(b.Columns) != len(rt.columns)+len(metaColumns) || b.Columns[len(b.Columns)-1] != "ingested_at" {
			t.Errorf("%s: columns %v", typ, b.Columns)
		}
		if got := b.Data[len(b.Data)-2].([]int64); got[1] != 8 {
			t.Errorf("%s: _offset column %v", typ, got)
		}
	}
}
