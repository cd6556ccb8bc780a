package optimize

import (
	"context"
	"testing"
)

// BenchmarkOptimize times one optimizer run (9 candidates, 16 train, 8
// validation and 8 test interventions, 9 personas, about 740 judgements)
// with the in-process brain, so it measures the optimizer's own overhead:
// bootstrapping, the worker pool and the metric.
func BenchmarkOptimize(b *testing.B) {
	_, s := testSplit(b)
	cfg := testConfig()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Optimize(context.Background(), inProcess(nil), baseProgram, s, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluate times the metric on 72 judgements of 8 interventions.
func BenchmarkEvaluate(b *testing.B) {
	_, s := testSplit(b)
	intents := make([]float64, len(s.Val))
	for i, ex := range s.Val {
		intents[i] = answer(ex.Persona, ex.Intervention, nil).IntentChange
	}
	b.ReportAllocs()
	for b.Loop() {
		Evaluate(s.Val, intents, nil, 0.02)
	}
}
