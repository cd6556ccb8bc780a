package synth

import (
	"math"
	"math/rand/v2"

	"github.com/google/uuid"
)

// The independent random streams of one world. Each is a PCG generator
// seeded with (Config.Seed, stream), so that, for example, changing the
// outcome model (a drift) leaves the assignment of entities to arms
// untouched.
const (
	streamCampaigns uint64 = 0x5eed0001 + iota
	streamEntities
	streamAssignment
	streamOutcomes
	streamIDs
)

// newRand returns the generator of one stream of the world seeded by seed.
func newRand(seed, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream))
}

// sigmoid is the logistic function 1/(1+e^−x).
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// logit is the inverse of sigmoid.
func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// gammaDraw draws from Gamma(shape, 1) by Marsaglia and Tsang's method
// ("A simple method for generating gamma variables", ACM TOMS 26(3), 2000);
// shapes below 1 use the boost Gamma(a) = Gamma(a+1)·U^(1/a).
func gammaDraw(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := r.Float64()
		return gammaDraw(r, shape+1) * math.Pow(u, 1/shape)
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

// betaDraw draws from Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
func betaDraw(r *rand.Rand, a, b float64) float64 {
	x := gammaDraw(r, a)
	y := gammaDraw(r, b)
	return x / (x + y)
}

// newUUID draws a version-4 UUID from r.
func newUUID(r *rand.Rand) string {
	var u uuid.UUID
	hi, lo := r.Uint64(), r.Uint64()
	for i := range 8 {
		u[i] = byte(hi >> (56 - 8*i))
		u[8+i] = byte(lo >> (56 - 8*i))
	}
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}

// uniformSeconds draws a whole number of seconds uniformly from [lo, hi).
func uniformSeconds(r *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + r.Int64N(hi-lo)
}
