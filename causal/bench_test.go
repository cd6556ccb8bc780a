package causal_test

import (
	"fmt"
	"testing"

	"github.com/preflight-hq/preflight/causal"
	"github.com/preflight-hq/preflight/causal/gbdt"
)

// BenchmarkXLearnerFit fits the X-learner on the full Hillstrom data
// (64,000 rows, 12 features, visit, two arms against No E-Mail, so four
// outcome and four effect models on about 42,600 rows per arm) with the
// gbdt base learner at LightGBM's defaults (100 rounds, 31 leaves, 255
// bins, one goroutine per model) and the known propensity 0.5 of the
// experiment. Sub-benchmarks vary Config.Workers, which fits the arms in
// parallel.
func BenchmarkXLearnerFit(b *testing.B) {
	h := loadHillstrom(b)
	d, err := h.Dataset("visit")
	if err != nil {
		b.Fatal(err)
	}
	cfg := gbdt.DefaultConfig(gbdt.L2)
	cfg.Workers = 1
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			c := causal.Config{
				Kind:            causal.XLearner,
				Outcome:         gbdt.NewRegressor(cfg),
				KnownPropensity: []float64{0.5, 0.5},
				Workers:         workers,
				Seed:            1,
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := causal.Fit(d, c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(d.X.Rows), "rows")
		})
	}
}
