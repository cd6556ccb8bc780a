// Package randx draws from the distributions the synthetic world and the
// persona factory share, from an explicit *rand.Rand so that draws are
// reproducible under a seed.
package randx

import (
	"math"
	"math/rand/v2"
)

// Gamma draws from Gamma(shape, 1) by Marsaglia and Tsang's method ("A
// simple method for generating gamma variables", ACM TOMS 26(3), 2000);
// shapes below 1 use the boost Gamma(a) = Gamma(a+1)·U^(1/a). shape must be
// positive.
func Gamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		return Gamma(r, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// Beta draws from Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
// When both draws underflow to 0 it returns the mean a/(a+b).
func Beta(r *rand.Rand, a, b float64) float64 {
	x := Gamma(r, a)
	y := Gamma(r, b)
	if x+y == 0 {
		return a / (a + b)
	}
	return x / (x + y)
}
