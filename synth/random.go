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
