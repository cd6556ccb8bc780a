package drift

import (
	"math/rand/v2"
	"os"
	"testing"
)

// BenchmarkEvaluate prints the detector comparison table for docs/benchmarks.md: 30 seeds, a
// stationary stream of 200,000 samples per seed, and 0.5σ, 1σ and 2σ shifts. Run it with
//
//	go test -run '^$' -bench Evaluate -benchtime 1x ./calibration/drift/
func BenchmarkEvaluate(b *testing.B) {
	for range b.N {
		rs := Evaluate(DefaultCandidates(), DefaultScenarios(200_000), 30, 1)
		if err := WriteTable(os.Stdout, rs); err != nil {
			b.Fatal(err)
		}
	}
}

// benchmarkUpdate measures one Update on a stationary N(0,1) stream, pre-generated so that the
// random draws are not timed.
func benchmarkUpdate(b *testing.B, d Detector) {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 1<<16)
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	for i := range 1 << 14 { // past warm-ups and reference collection
		d.Update(xs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		d.Update(xs[i&(len(xs)-1)])
	}
}

func BenchmarkUpdatePageHinkley(b *testing.B) {
	benchmarkUpdate(b, must(NewPageHinkley(DefaultPageHinkleyConfig())))
}

func BenchmarkUpdateADWIN(b *testing.B) { benchmarkUpdate(b, must(NewADWIN(DefaultADWINConfig()))) }

func BenchmarkUpdateCUSUM(b *testing.B) { benchmarkUpdate(b, must(NewCUSUM(DefaultCUSUMConfig()))) }

func BenchmarkUpdatePSI(b *testing.B) { benchmarkUpdate(b, must(NewPSIDetector(DefaultPSIConfig()))) }
