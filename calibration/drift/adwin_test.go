package drift

import (
	"math/rand/v2"
	"testing"
)

func TestADWINEpsilonHandComputed(t *testing.T) {
	// n₀ = n₁ = 100, σ² = 1, |W| = 200, δ = 0.002: m = 50, ln(2/δ') = ln(2·ln 200/0.002) ≈ 8.5752,
	// ε = sqrt(2/50·8.5752) + 2/150·8.5752 ≈ 0.700002.
	if got := adwinEpsilon(100, 100, 1, 200, 0.002); !near(got, 0.7000022165168731, 1e-12) {
		t.Fatalf("adwinEpsilon = %v, want 0.7000022165168731", got)
	}
}

func TestADWINHistogramMatchesNaive(t *testing.T) {
	d := must(NewADWIN(DefaultADWINConfig())).(*ADWIN)
	rng := rand.New(rand.NewPCG(3, 4))
	var xs []float64
	for range 1000 {
		x := rng.NormFloat64()
		xs = append(xs, x)
		if d.Update(x) {
			t.Fatal("alarm on a stationary stream")
		}
	}
	var sum, ss float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	if d.Width() != 1000 || !near(d.Mean(), mean, 1e-9) || !near(d.Variance(), ss/1000, 1e-9) {
		t.Fatalf("width %d mean %v var %v, want 1000, %v, %v", d.Width(), d.Mean(), d.Variance(), mean, ss/1000)
	}
	// O(log W) memory: at most MaxBuckets+1 buckets per level, ⌈log2(1000/5)⌉+1 levels.
	if b := d.Buckets(); b > 6*9 {
		t.Fatalf("%d buckets for 1000 samples", b)
	}
}

func TestADWINStepCut(t *testing.T) {
	// 64 zeros then ones, a test after every sample. The best-separated split at the alarm is
	// the step itself whenever a bucket boundary falls on it, which it does here: buckets are
	// powers of two and 64 is one.
	d := must(NewADWIN(ADWINConfig{Delta: 0.002, Clock: 1, MaxBuckets: 5, MinWindowLength: 5, GracePeriod: 10})).(*ADWIN)
	alarm := -1
	for i := range 200 {
		x := 0.0
		if i >= 64 {
			x = 1
		}
		if d.Update(x) {
			alarm = i
			break
		}
	}
	if alarm < 64 || alarm > 64+40 {
		t.Fatalf("alarm at %d, want within 40 samples after 64", alarm)
	}
	m0, m1 := d.CutMeans()
	if m0 != 0 || m1 != 1 || d.ChangeIndex() != 64 {
		t.Fatalf("cut means %v, %v at %d; want 0, 1 at 64", m0, m1, d.ChangeIndex())
	}
	if d.Width() >= alarm+1 || d.Width() < alarm+1-64 {
		t.Fatalf("width after the cut = %d, want some of the %d old samples dropped", d.Width(), 64)
	}
	if d.Magnitude() != m1-m0 || d.Statistic() <= 1 || d.Threshold() != 1 {
		t.Fatalf("magnitude %v statistic %v threshold %v", d.Magnitude(), d.Statistic(), d.Threshold())
	}
}

func TestADWINValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*ADWINConfig)
	}{
		{"Delta", func(c *ADWINConfig) { c.Delta = 1 }},
		{"Clock", func(c *ADWINConfig) { c.Clock = 0 }},
		{"MaxBuckets", func(c *ADWINConfig) { c.MaxBuckets = 1 }},
		{"MinWindowLength", func(c *ADWINConfig) { c.MinWindowLength = 0 }},
		{"GracePeriod", func(c *ADWINConfig) { c.GracePeriod = -1 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultADWINConfig()
			tc.edit(&c)
			wantFieldError(t, c.Validate(), "ADWINConfig."+tc.field)
		})
	}
}
