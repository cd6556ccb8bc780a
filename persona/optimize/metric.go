package optimize

import (
	"math"
	"slices"
)

// KendallTauB returns Kendall's tau-b rank correlation between x and y, the
// tie-corrected version of Kendall's tau (Kendall 1945, "The treatment of
// ties in ranking problems", Biometrika 33; see also Agresti, "Analysis of
// Ordinal Categorical Data", 2nd ed., §7.1):
//
//	tau_b = (n_c − n_d) / sqrt((n_0 − n_1)·(n_0 − n_2))
//
// where, over the n_0 = n(n−1)/2 unordered pairs (i, j), n_c counts the
// concordant pairs ((x_i−x_j)(y_i−y_j) > 0), n_d the discordant pairs
// ((x_i−x_j)(y_i−y_j) < 0), n_1 = Σ t(t−1)/2 over the groups of t tied x
// values and n_2 the same for y. Pairs tied in x or y count in neither n_c
// nor n_d. The result lies in [−1, 1].
//
// Special cases: it panics if len(x) != len(y) (a programmer error); it
// returns NaN when tau-b is undefined, that is when there are fewer than two
// pairs of values or when all x or all y are tied (a zero denominator). The
// computation is the direct O(n²) pair count, fine for the tens to hundreds
// of interventions a calibration works with.
func KendallTauB(x, y []float64) float64 {
	if len(x) != len(y) {
		panic("optimize: KendallTauB: slices of different lengths")
	}
	n := len(x)
	if n < 2 {
		return math.NaN()
	}
	var nc, nd, tx, ty float64
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			dx := x[i] - x[j]
			dy := y[i] - y[j]
			switch {
			case dx == 0 && dy == 0:
				tx++
				ty++
			case dx == 0:
				tx++
			case dy == 0:
				ty++
			case (dx > 0) == (dy > 0):
				nc++
			default:
				nd++
			}
		}
	}
	// Counting tied pairs directly equals Σ t(t−1)/2 over tie groups.
	n0 := float64(n) * float64(n-1) / 2
	den := math.Sqrt((n0 - tx) * (n0 - ty))
	if den == 0 {
		return math.NaN()
	}
	return (nc - nd) / den
}

// Report is the calibration metric of a reasoner on a set of examples.
// Per intervention, the predicted effect is the persona-weighted mean (and
// weighted standard deviation) of the judged intent changes and the
// observed effect is the persona-weighted mean (and standard deviation) of
// the observed lifts mapped to targets (see Target). Then:
//
//	Tau   = Kendall tau-b between predicted and observed means over the
//	        interventions (0 when undefined: fewer than two interventions
//	        or all tied);
//	MSE   = min(1, (1/m)·Σ_i [(μ̂_i − μ_i)² + (σ̂_i − σ_i)²] / 2), the
//	        moment mismatch on the common [−1, 1] target scale, m
//	        interventions; 1 means errors of the size of the whole scale;
//	Score = 0.5·Tau + 0.5·(1 − MSE), in [−0.5, 1].
//
// A failed judgement (the reasoner returned an error) is scored as a
// neutral intent change of 0, like DSPy's failure_score, and counted in
// Failures.
type Report struct {
	// Score is 0.5·Tau + 0.5·(1 − MSE).
	Score float64 `json:"score"`
	// Tau is Kendall's tau-b over interventions, 0 when undefined.
	Tau float64 `json:"tau"`
	// TauDefined is false when tau-b was undefined and Tau was set to 0.
	TauDefined bool `json:"tau_defined"`
	// MSE is the normalized moment mismatch in [0, 1].
	MSE float64 `json:"mse"`
	// FailureRate is Failures / Examples, 0 for no examples.
	FailureRate float64 `json:"failure_rate"`
	// Examples is the number of (persona, intervention) judgements.
	Examples int `json:"examples"`
	// Failures is the number of judgements that failed.
	Failures int `json:"failures"`
	// Interventions is the number of distinct interventions scored.
	Interventions int `json:"interventions"`
}

// Target maps an observed lift to the [−1, 1] intent scale: lift/scale,
// clipped to [−1, 1]. The scale is the lift that counts as the largest
// possible change of intent; TargetScale derives it from a training set.
// A scale that is not positive is treated as 1.
func Target(lift, scale float64) float64 {
	if !(scale > 0) {
		scale = 1
	}
	return math.Max(-1, math.Min(1, lift/scale))
}

// TargetScale returns the largest absolute observed lift of the examples,
// the scale with which Target maps every training lift into [−1, 1]
// without clipping. It returns 1 when there are no examples or every lift
// is 0.
func TargetScale(examples []Example) float64 {
	s := 0.0
	for _, ex := range examples {
		s = math.Max(s, math.Abs(ex.ObservedLift))
	}
	if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
		return 1
	}
	return s
}

// Evaluate computes the Report of judged intent changes against the
// examples' observed lifts. intents[i] is the judgement of examples[i];
// failed[i] marks a failed judgement (its intent is replaced by 0); failed
// may be nil. scale maps lifts to targets (see Target). Persona weights
// that are not positive count as 1. It panics if the slices' lengths
// differ.
func Evaluate(examples []Example, intents []float64, failed []bool, scale float64) Report {
	if len(intents) != len(examples) || (failed != nil && len(failed) != len(examples)) {
		panic("optimize: Evaluate: slices of different lengths")
	}
	type acc struct{ w, sp, sp2, so, so2, slift float64 }
	byIV := map[string]*acc{}
	var order []string
	rep := Report{Examples: len(examples)}
	for i, ex := range examples {
		p := intents[i]
		if (failed != nil && failed[i]) || math.IsNaN(p) {
			rep.Failures++
			p = 0
		}
		p = math.Max(-1, math.Min(1, p))
		o := Target(ex.ObservedLift, scale)
		w := ex.Persona.Weight
		if !(w > 0) {
			w = 1
		}
		a := byIV[ex.Intervention.ID]
		if a == nil {
			a = &acc{}
			byIV[ex.Intervention.ID] = a
			order = append(order, ex.Intervention.ID)
		}
		a.w += w
		a.sp += w * p
		a.sp2 += w * p * p
		a.so += w * o
		a.so2 += w * o * o
		a.slift += w * ex.ObservedLift
	}
	if rep.Examples > 0 {
		rep.FailureRate = float64(rep.Failures) / float64(rep.Examples)
	}
	slices.Sort(order)
	rep.Interventions = len(order)
	pred := make([]float64, len(order))
	obs := make([]float64, len(order))
	var sq float64
	for k, id := range order {
		a := byIV[id]
		mp, mo := a.sp/a.w, a.so/a.w
		sdp := math.Sqrt(math.Max(0, a.sp2/a.w-mp*mp))
		sdo := math.Sqrt(math.Max(0, a.so2/a.w-mo*mo))
		pred[k] = mp
		obs[k] = a.slift / a.w
		sq += ((mp-mo)*(mp-mo) + (sdp-sdo)*(sdp-sdo)) / 2
	}
	if len(order) > 0 {
		rep.MSE = math.Min(1, sq/float64(len(order)))
	}
	if tau := KendallTauB(pred, obs); !math.IsNaN(tau) {
		rep.Tau = tau
		rep.TauDefined = true
	}
	rep.Score = 0.5*rep.Tau + 0.5*(1-rep.MSE)
	return rep
}
