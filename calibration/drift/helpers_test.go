package drift

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

const tol = 1e-9

func near(a, b, eps float64) bool { return math.Abs(a-b) <= eps*math.Max(1, math.Abs(b)) }

// feed feeds xs to d and returns the indices of the alarms.
func feed(t *testing.T, d Detector, xs ...float64) []int {
	t.Helper()
	var alarms []int
	for i, x := range xs {
		if d.Update(x) {
			alarms = append(alarms, i)
		}
	}
	return alarms
}

// shiftStream returns n N(0,1) samples whose mean becomes shift from index at on.
func shiftStream(seed uint64, n, at int, shift float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = rng.NormFloat64()
		if at >= 0 && i >= at {
			xs[i] += shift
		}
	}
	return xs
}

// wantFieldError checks that err names field.
func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Validate() = nil, want an error naming %s", field)
	}
	if !strings.Contains(err.Error(), field) {
		t.Fatalf("Validate() = %q, want it to name %s", err, field)
	}
}
