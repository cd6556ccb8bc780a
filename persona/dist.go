package persona

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/preflight-hq/preflight/internal/randx"
)

// Beta is the Beta(A, B) distribution on [0, 1], with mean A/(A+B). It
// encodes to JSON as [a, b], the form of synth's segment trait_priors
// (price_sensitivity_beta, engagement_beta), and decodes from [a, b],
// {"a": a, "b": b} or {"mean": m, "sd": s} (moment matching:
// κ = m(1−m)/s² − 1, a = mκ, b = (1−m)κ; needs 0 < s² < m(1−m)).
type Beta struct {
	// A is the first shape parameter, > 0.
	A float64
	// B is the second shape parameter, > 0.
	B float64
}

// Mean returns A/(A+B).
func (b Beta) Mean() float64 { return b.A / (b.A + b.B) }

// IsZero reports whether b is unset (both parameters 0).
func (b Beta) IsZero() bool { return b.A == 0 && b.B == 0 }

func (b Beta) valid() bool {
	return b.A > 0 && b.B > 0 && !math.IsInf(b.A, 0) && !math.IsInf(b.B, 0)
}

// MarshalJSON encodes b as [a, b].
func (b Beta) MarshalJSON() ([]byte, error) { return json.Marshal([2]float64{b.A, b.B}) }

// UnmarshalJSON decodes [a, b], {"a": a, "b": b} or {"mean": m, "sd": s}.
func (b *Beta) UnmarshalJSON(data []byte) error {
	var pair []float64
	if err := json.Unmarshal(data, &pair); err == nil {
		if len(pair) != 2 {
			return fmt.Errorf("a Beta prior needs two parameters [a, b], got %d", len(pair))
		}
		b.A, b.B = pair[0], pair[1]
		return nil
	}
	var obj struct {
		A, B     *float64
		Mean, SD *float64
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return fmt.Errorf("a Beta prior must be [a, b], {\"a\", \"b\"} or {\"mean\", \"sd\"}: %w", err)
	}
	switch {
	case obj.A != nil && obj.B != nil:
		b.A, b.B = *obj.A, *obj.B
	case obj.Mean != nil && obj.SD != nil:
		m, v := *obj.Mean, *obj.SD**obj.SD
		if !(m > 0 && m < 1 && v > 0 && v < m*(1-m)) {
			return fmt.Errorf("a Beta prior with mean %g needs 0 < sd² < mean·(1−mean), got sd %g", m, *obj.SD)
		}
		k := m*(1-m)/v - 1
		b.A, b.B = m*k, (1-m)*k
	default:
		return fmt.Errorf("a Beta prior object needs a and b, or mean and sd")
	}
	return nil
}

// sample draws from b; an invalid b (see TraitPriors.Validate) gives 0.5.
func (b Beta) sample(r *rand.Rand) float64 {
	if !b.valid() {
		return 0.5
	}
	x := randx.Gamma(r, b.A)
	y := randx.Gamma(r, b.B)
	if x+y == 0 {
		return b.Mean()
	}
	return x / (x + y)
}

// Gamma is the Gamma distribution with shape k and scale θ, mean kθ.
type Gamma struct {
	// Shape is k, > 0.
	Shape float64 `json:"shape"`
	// Scale is θ, > 0.
	Scale float64 `json:"scale"`
}

// Mean returns Shape·Scale.
func (g Gamma) Mean() float64 { return g.Shape * g.Scale }

// IsZero reports whether g is unset.
func (g Gamma) IsZero() bool { return g.Shape == 0 && g.Scale == 0 }

func (g Gamma) sample(r *rand.Rand) float64 {
	if !(g.Shape > 0 && g.Scale > 0) {
		return 0
	}
	return randx.Gamma(r, g.Shape) * g.Scale
}

// Categorical is a distribution over names: each name's weight, > 0;
// weights need not sum to 1 (they are normalised). Draws walk the names in
// sorted order so that a seed gives the same draw on every platform.
type Categorical map[string]float64

// Probabilities returns the normalised weights.
func (c Categorical) Probabilities() map[string]float64 {
	total := 0.0
	for _, w := range c {
		total += max(w, 0)
	}
	out := make(map[string]float64, len(c))
	for k, w := range c {
		if total > 0 {
			out[k] = max(w, 0) / total
		}
	}
	return out
}

// sampler is a Categorical prepared for repeated draws.
type sampler struct {
	names []string
	cum   []float64 // cumulative weights, last = total
}

func newSampler(c Categorical) sampler {
	s := sampler{names: sortedKeys(c)}
	s.names = slices.DeleteFunc(s.names, func(k string) bool { return !(c[k] > 0) })
	total := 0.0
	for _, k := range s.names {
		total += c[k]
		s.cum = append(s.cum, total)
	}
	return s
}

// draw returns a name, or "" when there is none.
func (s sampler) draw(r *rand.Rand) string {
	if len(s.names) == 0 {
		return ""
	}
	u := r.Float64() * s.cum[len(s.cum)-1]
	i, _ := slices.BinarySearch(s.cum, u)
	if i >= len(s.names) {
		i = len(s.names) - 1
	}
	// BinarySearch finds the first cum >= u; a draw equal to a boundary
	// belongs to the next name.
	if s.cum[i] == u && i+1 < len(s.names) {
		i++
	}
	return s.names[i]
}

// poissonDraw draws from Poisson(λ): by multiplying uniforms (Knuth) for
// λ < 30, else from the normal approximation N(λ, λ) rounded and clipped
// at 0.
func poissonDraw(r *rand.Rand, lambda float64) int {
	if !(lambda > 0) {
		return 0
	}
	if lambda >= 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	limit := math.Exp(-lambda)
	k, p := 0, r.Float64()
	for p > limit {
		k++
		p *= r.Float64()
	}
	return k
}
