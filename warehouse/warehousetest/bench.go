package warehousetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/warehouse"
)

// ExposureBatch returns n new, valid exposure rows spread over one day from
// start, as one Kafka partition's consecutive offsets.
func ExposureBatch(n int, start time.Time) []warehouse.Row {
	rows := make([]warehouse.Row, n)
	for i := range rows {
		arm, cost, freq := schemas.ArmTreatment, 0.01, 1+i%5
		if i%10 == 0 {
			arm, cost, freq = schemas.ArmControl, 0, 0
		}
		ev := NewExposure(fmt.Sprintf("entity-%07d", i), fmt.Sprintf("s%d", i%8), "email", "bench", "i1", arm,
			start.Add(time.Duration(i)*(24*time.Hour)/time.Duration(n)), cost, freq)
		rows[i] = warehouse.Row{Event: ev, Topic: "preflight.exposures", Partition: 0, Offset: int64(i)}
	}
	return rows
}

// BenchmarkInsert measures Insert of batches of n new exposure rows into w,
// which must be migrated, and reports rows/s. Building the rows is not
// timed.
func BenchmarkInsert(b *testing.B, w warehouse.Warehouse, n int) {
	ctx := context.Background()
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		rows := ExposureBatch(n, day.AddDate(0, 0, i))
		b.StartTimer()
		res, err := w.Insert(ctx, schemas.TypeExposure, rows)
		if err != nil {
			b.Fatalf("Insert: %v", err)
		}
		if res.Inserted != n {
			b.Fatalf("Insert: %+v, want %d inserted", res, n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
