package drift

import (
	"math"
	"slices"
	"testing"
)

func TestCUSUMHandComputed(t *testing.T) {
	known := CUSUMConfig{K: 0.5, H: 2, Mean: 0, Sigma: 1}
	for _, tc := range []struct {
		name      string
		xs        []float64
		alarms    []int
		change    int
		magnitude float64
	}{
		// C⁺ = 0.5, 1, 1.5, 2 → alarm at 3, N⁺ = 4, μ̂ = 0.5 + 2/4 = 1.
		{"up", []float64{1, 1, 1, 1}, []int{3}, 0, 1},
		// C⁻ = 1.5, 3 → alarm at 1, N⁻ = 2, μ̂ = −(0.5 + 3/2).
		{"down", []float64{-2, -2}, []int{1}, 0, -2},
		// C⁺ = 0.5, 0, 0.5, 1, 1.5, 2: the run restarts at 2.
		{"run restarts", []float64{1, -1, 1, 1, 1, 1}, []int{5}, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := must(NewCUSUM(known)).(*CUSUM)
			if got := feed(t, d, tc.xs...); !slices.Equal(got, tc.alarms) {
				t.Fatalf("alarms = %v, want %v", got, tc.alarms)
			}
			if d.ChangeIndex() != tc.change || !near(d.Magnitude(), tc.magnitude, tol) {
				t.Fatalf("change %d magnitude %v, want %d, %v", d.ChangeIndex(), d.Magnitude(), tc.change, tc.magnitude)
			}
		})
	}

	// Scale-free: the same stream times 100 around 1000 with a warm-up gives the same alarms.
	cfg := CUSUMConfig{K: 0.5, H: 2, Warmup: 4}
	d := must(NewCUSUM(cfg)).(*CUSUM)
	// Warm-up 1, 2, 3, 4: mean 2.5, sample σ sqrt(5/3).
	feed(t, d, 1, 2, 3, 4)
	mu, sd, ok := d.Reference()
	if !ok || !near(mu, 2.5, tol) || !near(sd, math.Sqrt(5.0/3), tol) {
		t.Fatalf("reference = %v, %v, %v; want 2.5, %v, true", mu, sd, ok, math.Sqrt(5.0/3))
	}
	// z = (x − 2.5)/σ; feeding 2.5 + 1.01σ four times gives C⁺ = 0.51, …, 2.04, and the
	// estimated shift σ(0.5 + 2.04/4) = 1.01σ.
	x := 2.5 + 1.01*sd
	got := feed(t, d, x, x, x, x)
	if !slices.Equal(got, []int{3}) || d.ChangeIndex() != 4 || !near(d.Magnitude(), 1.01*sd, 1e-12) {
		t.Fatalf("alarms %v change %d magnitude %v, want [3], 4, %v", got, d.ChangeIndex(), d.Magnitude(), 1.01*sd)
	}

	// A constant warm-up is extended until σ̂ > 0.
	d = must(NewCUSUM(CUSUMConfig{K: 0.5, H: 2, Warmup: 2})).(*CUSUM)
	feed(t, d, 5, 5, 5)
	if _, _, ok := d.Reference(); ok {
		t.Fatal("reference frozen on a constant warm-up")
	}
	feed(t, d, 6)
	if mu, sd, ok := d.Reference(); !ok || !near(mu, 5.25, tol) || !near(sd, 0.5, tol) {
		t.Fatalf("reference = %v, %v, %v; want 5.25, 0.5, true", mu, sd, ok)
	}
}

func TestCUSUMValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*CUSUMConfig)
	}{
		{"K", func(c *CUSUMConfig) { c.K = -0.1 }},
		{"H", func(c *CUSUMConfig) { c.H = math.NaN() }},
		{"Sigma", func(c *CUSUMConfig) { c.Sigma = -1 }},
		{"Mean", func(c *CUSUMConfig) { c.Mean = math.Inf(1) }},
		{"Warmup", func(c *CUSUMConfig) { c.Warmup = 1 }},
		{"Mode", func(c *CUSUMConfig) { c.Mode = -1 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultCUSUMConfig()
			tc.edit(&c)
			wantFieldError(t, c.Validate(), "CUSUMConfig."+tc.field)
		})
	}
}
