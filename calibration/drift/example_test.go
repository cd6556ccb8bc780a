package drift_test

import (
	"fmt"
	"os"

	"github.com/preflight-hq/preflight/calibration/drift"
)

// A segment converts 5 % of 2,000 daily exposures, then 4 % from day 30. The standardized
// residuals feed a CUSUM whose reference is known, so no warm-up is needed.
func ExampleBernoulli() {
	cfg := drift.DefaultCUSUMConfig()
	cfg.Mean, cfg.Sigma = 0, 1
	cusum, err := drift.NewCUSUM(cfg)
	if err != nil {
		panic(err)
	}
	rates, err := drift.NewBernoulli(drift.BernoulliConfig{P0: 0.05}, cusum)
	if err != nil {
		panic(err)
	}
	for day := range 60 {
		k := 100
		if day >= 30 {
			k = 80
		}
		if rates.Observe(k, 2000) {
			fmt.Printf("alarm on day %d, change from day %d, shift %.2f standard errors\n",
				day, cusum.ChangeIndex(), cusum.Magnitude())
			break
		}
	}
	// Output: alarm on day 37, change from day 30, shift -2.05 standard errors
}

// Evaluate compares detectors on identical synthetic streams; this prints the table of
// docs/benchmarks.md (BenchmarkEvaluate runs it with a longer stationary stream).
func ExampleEvaluate() {
	results := drift.Evaluate(drift.DefaultCandidates(), drift.DefaultScenarios(200_000), 30, 1)
	if err := drift.WriteTable(os.Stdout, results); err != nil {
		panic(err)
	}
}
