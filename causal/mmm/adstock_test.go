package mmm

import (
	"math"
	"testing"
)

func assertClose(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s[%d] = %.7f, want %.7f", name, i, got[i], want[i])
		}
	}
}

// TestAdstockGolden checks the golden vectors of the reference §5.6.
func TestAdstockGolden(t *testing.T) {
	x := []float64{100, 0, 0, 0, 0, 50, 0}
	out := make([]float64, len(x))

	t.Run("geometric raw", func(t *testing.T) {
		w := GeometricWeights(0.5, 4, false)
		assertClose(t, "w", w, []float64{1, 0.5, 0.25, 0.125}, 1e-12)
		Convolve(x, w, out)
		assertClose(t, "a", out, []float64{100, 50, 25, 12.5, 0, 50, 25}, 1e-12)
	})
	t.Run("geometric normalized", func(t *testing.T) {
		w := GeometricWeights(0.5, 4, true)
		assertClose(t, "w", w, []float64{0.533333, 0.266667, 0.133333, 0.066667}, 1e-6)
		Convolve(x, w, out)
		assertClose(t, "a", out, []float64{53.333333, 26.666667, 13.333333, 6.666667, 0, 26.666667, 13.333333}, 1e-6)
	})
	t.Run("weibull cdf raw", func(t *testing.T) {
		w := WeibullCDFWeights(1.5, 2, 6, false)
		assertClose(t, "w", w, []float64{1, 0.702189, 0.258321, 0.041144, 0.002432, 0.000047, 0.000000}, 1e-6)
	})
	t.Run("weibull cdf normalized", func(t *testing.T) {
		raw := WeibullCDFWeights(1.5, 2, 6, false)
		w := WeibullCDFWeights(1.5, 2, 6, true)
		s := 0.0
		for _, v := range raw {
			s += v
		}
		for i := range w {
			if math.Abs(w[i]-raw[i]/s) > 1e-12 {
				t.Errorf("w[%d] = %v, want %v", i, w[i], raw[i]/s)
			}
		}
	})
	t.Run("geometric alpha zero", func(t *testing.T) {
		assertClose(t, "w", GeometricWeights(0, 3, true), []float64{1, 0, 0}, 0)
	})
	t.Run("internal kernel matches public weights", func(t *testing.T) {
		for _, tc := range []struct {
			kind  AdstockKind
			theta []float64
			lag   int
			want  []float64
		}{
			{Geometric, []float64{0.5}, 4, GeometricWeights(0.5, 4, true)},
			{WeibullCDF, []float64{1.5, 2}, 6, WeibullCDFWeights(1.5, 2, 6, true)},
		} {
			n := tc.kind.numWeights(tc.lag)
			w := make([]float64, n)
			g := [][]float64{make([]float64, n), make([]float64, n)}
			adstockKernel(tc.kind, tc.theta, w, g)
			assertClose(t, tc.kind.String(), w, tc.want, 1e-12)
		}
	})
}

// TestSaturationGolden checks the golden vectors of the reference §5.7.
func TestSaturationGolden(t *testing.T) {
	x := []float64{0, 0.5, 1, 2, 4}
	hill := make([]float64, len(x))
	logi := make([]float64, len(x))
	for i, v := range x {
		hill[i] = HillSaturation(v, 1, 2)
		logi[i] = LogisticSaturation(v, 1)
	}
	assertClose(t, "hill", hill, []float64{0, 0.2, 0.5, 0.8, 0.941176}, 1e-6)
	assertClose(t, "logistic", logi, []float64{0, 0.244919, 0.462117, 0.761594, 0.964028}, 1e-6)
	if got := HillSaturation(3.7, 3.7, 0.6); math.Abs(got-0.5) > 1e-15 {
		t.Errorf("Hill(K) = %v, want 0.5", got)
	}
	if got := HillSaturation(1e300, 1e-3, 5); got != 1 {
		t.Errorf("Hill far right = %v, want 1 without overflow", got)
	}
}
