package smm

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/preflight-hq/preflight/persona"
)

// history is a set of past interventions that differ in channel, category,
// offer, urgency, timing, fatigue and tone, so that personas with
// different traits react differently.
func history() []persona.Intervention {
	return []persona.Intervention{
		{ID: "h01", Channel: "email", Category: "fashion", Template: "Hi {{first_name}}, new fashion arrivals picked for you.", Offer: persona.Offer{Kind: persona.OfferNone}, SendHour: 19, DayOfWeek: 2},
		{ID: "h02", Channel: "sms", Category: "electronics", Template: "20% off electronics, today only!", Offer: persona.Offer{Kind: persona.OfferPercentOff, Value: 20, ExpiresHours: 12}, SendHour: 12, DayOfWeek: 5},
		{ID: "h03", Channel: "push", Category: "home", Template: "Free shipping on home essentials this week.", Offer: persona.Offer{Kind: persona.OfferFreeShipping}, SendHour: 8, DayOfWeek: 1, RecentExposures: 3},
		{ID: "h04", Channel: "email", Category: "beauty", Template: "LAST CHANCE!!! 40% OFF BEAUTY — ACT NOW", Offer: persona.Offer{Kind: persona.OfferPercentOff, Value: 40, ExpiresHours: 6}, SendHour: 23, DayOfWeek: 6},
		{ID: "h05", Channel: "email", Category: "sports", Template: "Your {{favorite_category}} picks are back in stock.", Offer: persona.Offer{Kind: persona.OfferNone}, SendHour: 18, DayOfWeek: 3, RecentExposures: 8},
		{ID: "h06", Channel: "sms", Category: "fashion", Template: "$15 off your next fashion order.", Offer: persona.Offer{Kind: persona.OfferAmountOff, Value: 15}, SendHour: 2, DayOfWeek: 0},
		{ID: "h07", Channel: "push", Category: "electronics", Template: "We miss you — here is a gift with your next order.", Offer: persona.Offer{Kind: persona.OfferGift}, SendHour: 20, DayOfWeek: 4},
		{ID: "h08", Channel: "email", Category: "", Template: "Our monthly newsletter.", Offer: persona.Offer{Kind: persona.OfferNone}, SendHour: 10, DayOfWeek: 1, RecentExposures: 1},
		{ID: "h09", Channel: "sms", Category: "home", Template: "Hurry, 10% off home ends tonight.", Offer: persona.Offer{Kind: persona.OfferPercentOff, Value: 10, ExpiresHours: 4}, SendHour: 17, DayOfWeek: 5, RecentExposures: 5},
		{ID: "h10", Channel: "push", Category: "beauty", Template: "{{first_name}}, 30% off beauty for 48 hours.", Offer: persona.Offer{Kind: persona.OfferPercentOff, Value: 30, ExpiresHours: 48}, SendHour: 21, DayOfWeek: 6},
		{ID: "h11", Channel: "email", Category: "electronics", Template: "A guide to this season's best electronics.", Offer: persona.Offer{Kind: persona.OfferNone}, SendHour: 7, DayOfWeek: 2, RecentExposures: 12},
		{ID: "h12", Channel: "sms", Category: "sports", Template: "Sports sale: 25% off.", Offer: persona.Offer{Kind: persona.OfferPercentOff, Value: 25}, SendHour: 13, DayOfWeek: 3},
	}
}

// countingReasoner counts the Judge calls of the built-in reasoner.
type countingReasoner struct {
	b     *persona.Builtin
	calls atomic.Int64
}

func (c *countingReasoner) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	c.calls.Add(1)
	return c.b.Judge(ctx, p, iv)
}

// planted returns observed lifts from the planted weights: the weighted
// mean intent change per intervention plus N(0, noise²) noise.
func planted(t *testing.T, ps []persona.Spec, ivs []persona.Intervention, w []float64, noise float64, r *rand.Rand) []float64 {
	t.Helper()
	b := persona.NewBuiltin()
	obs := make([]float64, len(ivs))
	for j, iv := range ivs {
		for k, p := range ps {
			obs[j] += w[k] * b.Evaluate(p, iv).IntentChange
		}
		if noise > 0 {
			obs[j] += noise * r.NormFloat64()
		}
	}
	return obs
}

func diagCov(m int, sd func(j int) float64) *mat.SymDense {
	c := mat.NewSymDense(m, nil)
	for j := range m {
		c.SetSym(j, j, sd(j)*sd(j))
	}
	return c
}

var plantedWeights = []float64{0.30, 0.06, 0.20, 0.10, 0.24, 0.10}

// Tolerances of the recovery test. With 12 moments, 5 free weights and
// N(0, 0.001²) noise on the lifts, the standard errors of the weights are
// 0.001–0.003: recoveryTol is about 3–10 standard errors, and the fit must
// lie within zTol of its own reported standard errors.
const (
	recoveryTol  = 0.01
	zTol         = 4
	noiseFreeTol = 1e-5
)

func samplePersonas(segment string, n int, seed uint64) []persona.Spec {
	return persona.Sample(persona.DefaultPriors(segment), segment, n, rand.New(rand.NewPCG(seed, seed)))
}

// TestPersonaWeightsRecoversPlanted samples 6 personas of one segment,
// plants weights, builds the observed lifts from them (with and without
// noise) and fits from the uniform weights Sample sets.
func TestPersonaWeightsRecoversPlanted(t *testing.T) {
	ps := samplePersonas("high_value", 6, 7)
	ivs := history()
	tests := []struct {
		name      string
		noise     float64
		weighting Weighting
		tol       float64
	}{
		{"noise-free identity", 0, Identity, noiseFreeTol},
		{"noisy identity", 0.001, Identity, recoveryTol},
		{"noisy diagonal", 0.001, Diagonal, recoveryTol},
		{"noisy optimal", 0.001, Optimal, recoveryTol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := planted(t, ps, ivs, plantedWeights, tc.noise, rand.New(rand.NewPCG(8, 8)))
			cov := diagCov(len(ivs), func(int) float64 { return max(tc.noise, 1e-4) })
			rs := &countingReasoner{b: persona.NewBuiltin()}
			fit, err := PersonaWeights(context.Background(), ps, ivs, rs, obs, PersonaOptions{
				Weighting: tc.weighting,
				Fit:       Options{Cov: cov, Rand: rand.New(rand.NewPCG(9, 9))},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rs.calls.Load(), int64(len(ps)*len(ivs)); got != want {
				t.Errorf("reasoner called %d times, want %d (once per persona × intervention)", got, want)
			}
			if !fit.Fit.Converged || !fit.Fit.Identified {
				t.Errorf("converged %v identified %v (%s)", fit.Fit.Converged, fit.Fit.Identified, fit.Fit.Status)
			}
			maxErr, maxZ, sum := 0.0, 0.0, 0.0
			for k := range ps {
				e := math.Abs(fit.Weights[k] - plantedWeights[k])
				maxErr = max(maxErr, e)
				maxZ = max(maxZ, e/fit.WeightStdErr[k])
				sum += fit.Weights[k]
				if fit.Personas[k].Weight != fit.Weights[k] {
					t.Errorf("persona %d carries weight %v, want %v", k, fit.Personas[k].Weight, fit.Weights[k])
				}
			}
			t.Logf("weights %.4f (planted %.2f): max |error| %.2g, max z %.2f; SE %.4f; cond %.3g; Q %.3g; J %.3g (p %.3g); %s; %d evaluations",
				fit.Weights, plantedWeights, maxErr, maxZ, fit.WeightStdErr, fit.Fit.Condition, fit.Fit.Objective, fit.Fit.J, fit.Fit.JPValue, fit.Fit.Status, fit.Fit.Evaluations)
			if maxErr > tc.tol {
				t.Errorf("max |ŵ − w| = %v, want ≤ %v", maxErr, tc.tol)
			}
			if tc.noise > 0 && maxZ > zTol {
				t.Errorf("max |ŵ − w|/SE = %v, want ≤ %v", maxZ, zTol)
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Errorf("weights sum to %v", sum)
			}
		})
	}
}

// With moment noise that differs by intervention, identity and diagonal
// weighting give different estimates; both converge near the truth, and
// the diagonal (efficient here) one has the smaller standard errors.
func TestPersonaWeightsIdentityVsDiagonal(t *testing.T) {
	ps := samplePersonas("bargain_hunters", 6, 11)
	ivs := history()
	sd := func(j int) float64 { return 0.0005 * float64(1+3*(j%3)) }
	r := rand.New(rand.NewPCG(12, 12))
	obs := planted(t, ps, ivs, plantedWeights, 0, r)
	for j := range obs {
		obs[j] += sd(j) * r.NormFloat64()
	}
	cov := diagCov(len(ivs), sd)
	var se [2]float64
	for i, w := range []Weighting{Identity, Diagonal} {
		fit, err := PersonaWeights(context.Background(), ps, ivs, persona.NewBuiltin(), obs, PersonaOptions{
			Weighting: w, Fit: Options{Cov: cov, Rand: rand.New(rand.NewPCG(13, 13))},
		})
		if err != nil {
			t.Fatal(err)
		}
		maxErr := 0.0
		for k := range ps {
			maxErr = max(maxErr, math.Abs(fit.Weights[k]-plantedWeights[k]))
			se[i] += fit.WeightStdErr[k]
		}
		t.Logf("%s: weights %.4f, max |error| %.2g, mean SE %.4f, %s", w, fit.Weights, maxErr, se[i]/6, fit.Fit.Status)
		if !fit.Fit.Converged || maxErr > recoveryTol {
			t.Errorf("%s: converged %v, max |error| %v (want ≤ %v)", w, fit.Fit.Converged, maxErr, recoveryTol)
		}
	}
	if se[1] > se[0] {
		t.Errorf("diagonal weighting has larger standard errors (%v) than identity (%v)", se[1]/6, se[0]/6)
	}
}

// Three interventions cannot pin down six weights (five free logits): the
// fit matches the moments but reports the rank deficiency and two flat
// directions, and gives no covariance.
func TestPersonaWeightsUnderIdentified(t *testing.T) {
	ps := samplePersonas("high_value", 6, 7)
	ivs := history()[:3]
	obs := planted(t, ps, ivs, plantedWeights, 0, nil)
	fit, err := PersonaWeights(context.Background(), ps, ivs, persona.NewBuiltin(), obs, PersonaOptions{
		Fit: Options{Cov: diagCov(3, func(int) float64 { return 0.001 })},
	})
	if err != nil {
		t.Fatal(err)
	}
	res := fit.Fit
	t.Logf("rank %d of %d, singular values %.3g, condition %v, Q %.3g", res.Rank, len(res.Theta), res.SingularValues, res.Condition, res.Objective)
	if res.Identified || res.Rank != 3 || !math.IsInf(res.Condition, 1) {
		t.Errorf("identified %v rank %d condition %v: want false, 3, +Inf", res.Identified, res.Rank, res.Condition)
	}
	if r, c := res.FlatDirections.Dims(); r != 5 || c != 2 {
		t.Errorf("flat directions %d×%d, want 5×2", r, c)
	}
	if fit.WeightCov != nil || res.Cov != nil {
		t.Error("covariance reported for an under-identified fit")
	}
	for j, g := range res.Residuals {
		if math.Abs(g) > 1e-6 {
			t.Errorf("moment %d residual %v: the fit should still match the moments", j, g)
		}
	}
}

// Two segments with their own simplexes and unequal population shares.
func TestPersonaWeightsSegments(t *testing.T) {
	ps := append(samplePersonas("loyal", 3, 21), samplePersonas("at_risk", 3, 22)...)
	truth := []float64{0.5, 0.3, 0.2, 0.1, 0.6, 0.3}
	shares := map[string]float64{"loyal": 3, "at_risk": 1}
	w := make([]float64, 6)
	for k := range w {
		w[k] = truth[k] * shares[ps[k].SegmentID] / 4
	}
	obs := planted(t, ps, history(), w, 0, nil)
	fit, err := PersonaWeights(context.Background(), ps, history(), persona.NewBuiltin(), obs, PersonaOptions{SegmentShares: shares, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(fit.Segments) != 2 || len(fit.Fit.Theta) != 4 {
		t.Fatalf("segments %v, %d parameters: want 2 segments, 4 parameters", fit.Segments, len(fit.Fit.Theta))
	}
	for k := range truth {
		if math.Abs(fit.Weights[k]-truth[k]) > noiseFreeTol {
			t.Errorf("weight %d = %v, want %v", k, fit.Weights[k], truth[k])
		}
	}
}

func TestPersonaWeightsErrors(t *testing.T) {
	ps := samplePersonas("loyal", 3, 1)
	ctx := context.Background()
	b := persona.NewBuiltin()
	if _, err := PersonaWeights(ctx, ps, history(), b, []float64{1}, PersonaOptions{}); err == nil {
		t.Error("lift count mismatch: want error")
	}
	if _, err := PersonaWeights(ctx, ps[:1], history(), b, make([]float64, 12), PersonaOptions{}); err == nil {
		t.Error("single persona: want error")
	}
	if _, err := PersonaWeights(ctx, ps, history(), b, make([]float64, 12), PersonaOptions{SegmentShares: map[string]float64{"other": 1}}); err == nil {
		t.Error("segment without share: want error")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := PersonaWeights(cancelled, ps, history(), b, make([]float64, 12), PersonaOptions{}); err == nil {
		t.Error("cancelled context: want error")
	}
}
