package mcmc

import (
	"math"
	"math/rand/v2"
	"testing"
)

func normalChains(rng *rand.Rand, m, n int, center func(c int) float64) [][]float64 {
	out := make([][]float64, m)
	for c := range out {
		out[c] = make([]float64, n)
		for i := range out[c] {
			out[c][i] = center(c) + rng.NormFloat64()
		}
	}
	return out
}

func ar1Chains(rng *rand.Rand, m, n int, rho float64) [][]float64 {
	out := make([][]float64, m)
	sd := math.Sqrt(1 - rho*rho)
	for c := range out {
		x := rng.NormFloat64() // stationary start
		out[c] = make([]float64, n)
		for i := range out[c] {
			x = rho*x + sd*rng.NormFloat64()
			out[c][i] = x
		}
	}
	return out
}

func TestRHat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	iid := normalChains(rng, 4, 1000, func(int) float64 { return 0 })
	if r := RHat(iid); math.Abs(r-1) > 0.01 {
		t.Errorf("R̂ of iid draws = %.4f, want ≈ 1", r)
	}
	stuck := normalChains(rng, 4, 1000, func(c int) float64 { return float64(c) })
	if r := RHat(stuck); r < 1.1 {
		t.Errorf("R̂ of chains stuck at different places = %.4f, want > 1.1", r)
	}
	// Same location, different scale: only the folded (tail) R̂ sees it.
	scaled := normalChains(rng, 4, 1000, func(int) float64 { return 0 })
	for i := range scaled[0] {
		scaled[0][i] *= 4
	}
	bulk := rhatBasic(zScale(splitChains(scaled)))
	if r := RHat(scaled); r < 1.1 || bulk > 1.05 {
		t.Errorf("scale-only difference: R̂ = %.4f (bulk %.4f), want the folded R̂ > 1.1 and bulk ≈ 1", r, bulk)
	}
	// A single chain that drifts: split-R̂ flags it.
	trend := [][]float64{make([]float64, 1000)}
	for i := range trend[0] {
		trend[0][i] = float64(i)/200 + rng.NormFloat64()
	}
	if r := RHat(trend); r < 1.1 {
		t.Errorf("R̂ of a trending single chain = %.4f, want > 1.1", r)
	}
}

func TestDiagnosticsSpecialCases(t *testing.T) {
	tests := []struct {
		name   string
		chains [][]float64
	}{
		{"empty", nil},
		{"too short", [][]float64{{1, 2, 3}, {3, 2, 1}}},
		{"unequal lengths", [][]float64{{1, 2, 3, 4}, {1, 2, 3, 4, 5}}},
		{"constant", [][]float64{{2, 2, 2, 2}, {2, 2, 2, 2}}},
		{"NaN", [][]float64{{1, 2, math.NaN(), 4}, {1, 2, 3, 4}}},
		{"Inf", [][]float64{{1, 2, math.Inf(1), 4}, {1, 2, 3, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v := RHat(tt.chains); !math.IsNaN(v) {
				t.Errorf("RHat = %v, want NaN", v)
			}
			if v := ESSBulk(tt.chains); !math.IsNaN(v) {
				t.Errorf("ESSBulk = %v, want NaN", v)
			}
			if v := ESSTail(tt.chains); !math.IsNaN(v) {
				t.Errorf("ESSTail = %v, want NaN", v)
			}
		})
	}
}

func TestESS(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const m, n = 4, 5000
	iid := normalChains(rng, m, n, func(int) float64 { return 0 })
	for name, f := range map[string]func([][]float64) float64{"bulk": ESSBulk, "tail": ESSTail, "mean": essMean} {
		if e := f(iid); e < 0.85*m*n || e > 1.15*m*n {
			t.Errorf("%s ESS of %d iid draws = %.0f, want ≈ %d", name, m*n, e, m*n)
		}
	}
	const rho = 0.9
	ar := ar1Chains(rng, m, n, rho)
	want := m * n * (1 - rho) / (1 + rho)
	for name, f := range map[string]func([][]float64) float64{"bulk": ESSBulk, "mean": essMean} {
		if e := f(ar); math.Abs(e/want-1) > 0.2 {
			t.Errorf("%s ESS of AR(1) ρ=%.1f = %.0f, want %.0f ± 20%%", name, rho, e, want)
		}
	}
	// Antithetic draws: ESS exceeds the number of draws, capped at
	// MN·log₁₀(MN).
	anti := [][]float64{make([]float64, 1000), make([]float64, 1000)}
	for c := range anti {
		for i := range anti[c] {
			anti[c][i] = float64(1-2*(i%2)) + 0.1*rng.NormFloat64()
		}
	}
	if e := essMean(anti); e <= 2000 || e > 2000*math.Log10(2000)+1e-9 {
		t.Errorf("ESS of antithetic draws = %.0f, want in (2000, %.0f]", e, 2000*math.Log10(2000))
	}
}

func TestAutocovFFTMatchesDirect(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{3, 7, 64, 101} {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64() + float64(i%5)
		}
		got := newAutocov(n).autocov(x)
		mean, _ := meanSD(x)
		for lag := range n {
			var want float64
			for i := 0; i+lag < n; i++ {
				want += (x[i] - mean) * (x[i+lag] - mean)
			}
			want /= float64(n)
			if math.Abs(got[lag]-want) > 1e-10*(1+math.Abs(want)) {
				t.Fatalf("n=%d lag %d: autocov %v, want %v", n, lag, got[lag], want)
			}
		}
	}
}

func TestSmallCasesByHand(t *testing.T) {
	// Fractional ranks with ties: 10 < 20 = 20 < 30 = 30 = 30.
	got := fractionalRanks([]float64{30, 20, 10, 30, 20, 30})
	want := []float64{5, 2.5, 1, 5, 2.5, 5}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fractional ranks = %v, want %v", got, want)
		}
	}
	// Type-7 quantiles of 1..5: h = 4p.
	sorted := []float64{1, 2, 3, 4, 5}
	for _, c := range []struct{ p, want float64 }{{0, 1}, {0.05, 1.2}, {0.5, 3}, {0.95, 4.8}, {1, 5}} {
		if q := quantileSorted(sorted, c.p); math.Abs(q-c.want) > 1e-12 {
			t.Errorf("quantile(%v) = %v, want %v", c.p, q, c.want)
		}
	}
	// Split: an odd chain drops its middle draw.
	sp := splitChains([][]float64{{1, 2, 3, 4, 5}})
	if len(sp) != 2 || sp[0][0] != 1 || sp[0][1] != 2 || sp[1][0] != 4 || sp[1][1] != 5 || len(sp[0]) != 2 {
		t.Errorf("split of 1..5 = %v, want [[1 2] [4 5]]", sp)
	}
	// R̂ by hand: chains {1,2,3} and {4,5,6}: means 2 and 5, variances 1,
	// N = 3, B = 3·var(2, 5) = 13.5, W = 1, R̂ = √((2/3·1 + 13.5/3)/1) = √(31/6).
	if r := rhatBasic([][]float64{{1, 2, 3}, {4, 5, 6}}); math.Abs(r-math.Sqrt(31.0/6)) > 1e-12 {
		t.Errorf("rhatBasic = %v, want %v", r, math.Sqrt(31.0/6))
	}
	// E-BFMI of 1, 3, 2: Σ diff² = 4 + 1 = 5, Σ dev² = 1 + 1 + 0 = 2.
	if e := EBFMI([]float64{1, 3, 2}); math.Abs(e-2.5) > 1e-12 {
		t.Errorf("EBFMI = %v, want 2.5", e)
	}
	// Stan's regularized variance of the window {1, 2, 3} (s² = 1, n = 3):
	// 3/8·1 + 1e-3·5/8.
	w := newWelford(1)
	for _, x := range []float64{1, 2, 3} {
		w.add([]float64{x})
	}
	v := make([]float64, 1)
	w.regularizedVariance(v)
	if math.Abs(v[0]-(3.0/8+1e-3*5.0/8)) > 1e-15 {
		t.Errorf("regularized variance = %v, want %v", v[0], 3.0/8+1e-3*5.0/8)
	}
}

func TestWarmupWindows(t *testing.T) {
	tests := []struct {
		warmup int
		ends   []int // iterations that close a slow window
		first  int   // first iteration that feeds the variance
	}{
		{1000, []int{99, 149, 249, 449, 949}, 75},
		{150, []int{99}, 75},
		{250, []int{99, 199}, 75},
		{100, []int{89}, 15}, // buffers shrink to 15 / 75 / 10
		{10, nil, -1},        // no metric adaptation
	}
	for _, tt := range tests {
		w := newWindows(tt.warmup)
		var ends []int
		first := -1
		for it := range tt.warmup {
			if w.inSlow() && first < 0 {
				first = it
			}
			if w.atEnd() {
				ends = append(ends, it)
				w.advance()
			}
			w.count++
		}
		if first != tt.first || len(ends) != len(tt.ends) {
			t.Errorf("warmup %d: first slow %d, ends %v; want %d, %v", tt.warmup, first, ends, tt.first, tt.ends)
			continue
		}
		for i := range ends {
			if ends[i] != tt.ends[i] {
				t.Errorf("warmup %d: window ends %v, want %v", tt.warmup, ends, tt.ends)
				break
			}
		}
	}
}
