package mmm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAllocateGridEqualMarginal checks the optimizer on concave curves
// Inc_m(b) = c_m·ln(1 + b) whose optimum equalizes marginal returns:
// c_m/(1 + b_m) = λ, so b_m = c_m/λ − 1 with λ = Σc/(B + M).
func TestAllocateGridEqualMarginal(t *testing.T) {
	c := []float64{1, 2, 3}
	const B, steps = 10.0, 1000
	step := B / steps
	value := make([][]float64, len(c))
	for m := range c {
		value[m] = make([]float64, steps+1)
		for j := range value[m] {
			value[m][j] = c[m] * math.Log1p(float64(j)*step)
		}
	}
	lo := []int{0, 0, 0}
	hi := []int{steps, steps, steps}
	alloc, _, err := AllocateGrid(value, steps, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	lambda := 6.0 / (B + 3)
	for m := range c {
		want := c[m]/lambda - 1
		if got := float64(alloc[m]) * step; math.Abs(got-want) > step {
			t.Errorf("b[%d] = %v, want %v ± %v", m, got, want, step)
		}
	}

	// With channel 2 capped at 4 the cap binds and the others share the
	// rest with equal marginal returns: λ = 3/(6 + 2).
	hi[2] = int(4 / step)
	alloc, _, err = AllocateGrid(value, steps, lo, hi)
	if err != nil {
		t.Fatal(err)
	}
	lambda = 3.0 / 8
	for m, want := range []float64{1/lambda - 1, 2/lambda - 1, 4} {
		if got := float64(alloc[m]) * step; math.Abs(got-want) > step {
			t.Errorf("capped: b[%d] = %v, want %v ± %v", m, got, want, step)
		}
	}

	if _, _, err := AllocateGrid(value, steps, []int{400, 400, 400}, hi); err == nil {
		t.Error("infeasible lower bounds: want an error")
	}
}

// TestAllocateGridBruteForce compares the DP with exhaustive search on
// small random S-shaped (non-concave) problems.
func TestAllocateGridBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 20 {
		const units = 12
		M := 3
		value := make([][]float64, M)
		lo, hi := make([]int, M), make([]int, M)
		for m := range M {
			K, S := 2+8*rng.Float64(), 1+3*rng.Float64()
			value[m] = make([]float64, units+1)
			for j := range value[m] {
				value[m][j] = (1 + rng.Float64()) * HillSaturation(float64(j), K, S)
			}
			lo[m], hi[m] = rng.IntN(3), 6+rng.IntN(7)
		}
		best := math.Inf(-1)
		for a := lo[0]; a <= hi[0]; a++ {
			for b := lo[1]; b <= hi[1]; b++ {
				c := units - a - b
				if c < lo[2] || c > hi[2] {
					continue
				}
				best = max(best, value[0][a]+value[1][b]+value[2][c])
			}
		}
		alloc, got, err := AllocateGrid(value, units, lo, hi)
		if math.IsInf(best, -1) {
			if err == nil {
				t.Errorf("trial %d: infeasible, want error", trial)
			}
			continue
		}
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		if math.Abs(got-best) > 1e-12 {
			t.Errorf("trial %d: DP %v, brute force %v", trial, got, best)
		}
		s, v := 0, 0.0
		for m, a := range alloc {
			s += a
			v += value[m][a]
			if a < lo[m] || a > hi[m] {
				t.Errorf("trial %d: alloc[%d] = %d outside [%d, %d]", trial, m, a, lo[m], hi[m])
			}
		}
		if s != units || math.Abs(v-got) > 1e-12 {
			t.Errorf("trial %d: allocation sums to %d units and %v, want %d and %v", trial, s, v, units, got)
		}
	}
}
