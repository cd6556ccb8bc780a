package randx

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMoments checks sample means and variances against Gamma(k, 1) (mean
// k, variance k) and Beta(a, b) (mean a/(a+b), variance ab/((a+b)²(a+b+1))).
func TestMoments(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200000
	for _, k := range []float64{0.3, 1, 2.5, 9} {
		var s, s2 float64
		for range n {
			x := Gamma(r, k)
			s += x
			s2 += x * x
		}
		mean, v := s/n, s2/n-(s/n)*(s/n)
		if math.Abs(mean-k) > 5*math.Sqrt(k/n) || math.Abs(v-k)/k > 0.05 {
			t.Errorf("Gamma(%g): mean %.4f var %.4f, want %g and %g", k, mean, v, k, k)
		}
	}
	for _, ab := range [][2]float64{{2, 5}, {0.5, 0.5}, {30, 10}} {
		a, b := ab[0], ab[1]
		want := a / (a + b)
		wantVar := a * b / ((a + b) * (a + b) * (a + b + 1))
		var s, s2 float64
		for range n {
			x := Beta(r, a, b)
			s += x
			s2 += x * x
		}
		mean, v := s/n, s2/n-(s/n)*(s/n)
		if math.Abs(mean-want) > 5*math.Sqrt(wantVar/n) || math.Abs(v-wantVar)/wantVar > 0.05 {
			t.Errorf("Beta(%g, %g): mean %.4f var %.5f, want %.4f and %.5f", a, b, mean, v, want, wantVar)
		}
	}
}
