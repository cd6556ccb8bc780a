package smm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/mat"

	"github.com/preflight-hq/preflight/persona"
)

// PersonaOptions control PersonaWeights. The zero value is usable.
type PersonaOptions struct {
	// Weighting selects W; Diagonal and Optimal need Fit.Cov.
	Weighting Weighting
	// Fit holds the options of the underlying Fit. Fit.Start is ignored:
	// the fit starts from the personas' own weights (see PersonaWeights).
	Fit Options
	// Rate maps a judgement to the persona's contribution to the moment
	// of its intervention, in the units of the observed lift. Default: the
	// judgement's IntentChange. Use an affine map such as
	// func(j) float64 { return base·(1 + k·j.IntentChange) } to match
	// conversion-rate lifts.
	Rate func(persona.Judgement) float64
	// SegmentShares gives each segment's share of the population the
	// observed moments describe; shares are normalized to sum to 1.
	// Default: equal shares for the segments present. A segment present
	// among the personas must have a positive share.
	SegmentShares map[string]float64
	// Concurrency is how many Judge calls run at once. Default 1.
	Concurrency int
	// MinWeight is the smallest starting weight, so that a persona of
	// weight 0 gets a finite logit. Default 1e-6.
	MinWeight float64
}

// PersonaFit is the result of PersonaWeights.
type PersonaFit struct {
	// Personas are copies of the input personas with the fitted Weight.
	Personas []persona.Spec
	// Weights holds the fitted weights, aligned with the input; the
	// weights of each segment sum to 1.
	Weights []float64
	// Segments lists the segments in order of first appearance.
	Segments []string
	// Rates holds the cached judgement rates, Rates[k][j] for persona k
	// and intervention j.
	Rates [][]float64
	// Fit is the fit in the unconstrained parameters θ: for each segment
	// in Segments order, the logits of its personas but the last, whose
	// logit is fixed at 0 (w = softmax(θ_s, 0)). Its Identified, Rank,
	// Condition and FlatDirections tell whether the moments pin the
	// weights down.
	Fit Result
	// WeightCov is the delta-method covariance of Weights, J·Cov·Jᵀ with J
	// the softmax Jacobian ∂w/∂θ; nil when Fit.Cov is nil. WeightStdErr
	// holds the square roots of its diagonal.
	WeightCov    *mat.SymDense
	WeightStdErr []float64
}

// PersonaWeights calibrates the weights of personas to observed
// intervention lifts by the simulated method of moments (Fit). The
// reasoner judges every persona on every intervention once (the
// judgements are cached, so an LLM reasoner costs len(personas)·
// len(interventions) calls in total); with r_kj = Rate(judgement of
// persona k on intervention j), the moment of intervention j is the
// population mean
//
//	m_j(w) = Σ_s π_s Σ_{k∈s} w_k r_kj,
//
// with π_s the segment shares (PersonaOptions.SegmentShares) and the
// weights w of each segment on the simplex through the softmax
// w_k = e^{θ_k} / Σ_{l∈s} e^{θ_l}, with the last persona's θ fixed at 0 so
// that the parameterization has no flat direction of its own. m is linear
// in w, so the "simulator" is deterministic and cheap and needs no common
// random numbers. observedLift[j] is the observed lift of intervention j in
// the units of Rate.
//
// The fit starts from the personas' Weight fields normalized within each
// segment (uniform when a segment's weights do not sum to a positive
// number; weights below MinWeight are raised to it). With P = Σ_s (n_s − 1)
// free weights and M = len(interventions) moments, the weights are
// identified only if M ≥ P and the rate vectors of the personas of each
// segment differ enough; otherwise Fit.Identified is false and
// Fit.FlatDirections lists the logit combinations the lifts cannot
// determine. A persona's weight can approach 0 on the boundary of the
// simplex, where its logit tends to −∞ and the Jacobian loses rank.
//
// PersonaWeights fails when there are no personas or interventions, when
// len(observedLift) differs from len(interventions), when every segment
// has a single persona (nothing to fit), when a segment has no positive
// share, or when a judgement fails (the error names the persona and the
// intervention).
func PersonaWeights(ctx context.Context, personas []persona.Spec, interventions []persona.Intervention,
	reasoner persona.Reasoner, observedLift []float64, opts PersonaOptions) (PersonaFit, error) {
	if len(personas) == 0 || len(interventions) == 0 {
		return PersonaFit{}, errors.New("cannot fit persona weights: no personas or no interventions")
	}
	if len(observedLift) != len(interventions) {
		return PersonaFit{}, fmt.Errorf("cannot fit persona weights: %d observed lifts for %d interventions", len(observedLift), len(interventions))
	}
	if opts.Rate == nil {
		opts.Rate = func(j persona.Judgement) float64 { return j.IntentChange }
	}
	if opts.MinWeight <= 0 {
		opts.MinWeight = 1e-6
	}

	// Segments and their shares.
	var segs []string
	members := map[string][]int{}
	for k, p := range personas {
		if _, ok := members[p.SegmentID]; !ok {
			segs = append(segs, p.SegmentID)
		}
		members[p.SegmentID] = append(members[p.SegmentID], k)
	}
	shares := make([]float64, len(segs))
	total := 0.0
	for s, id := range segs {
		shares[s] = 1
		if opts.SegmentShares != nil {
			shares[s] = opts.SegmentShares[id]
		}
		if !(shares[s] > 0) || math.IsInf(shares[s], 0) {
			return PersonaFit{}, fmt.Errorf("cannot fit persona weights: segment %q has share %v, want positive", id, shares[s])
		}
		total += shares[s]
	}
	for s := range shares {
		shares[s] /= total
	}

	rates, err := judge(ctx, personas, interventions, reasoner, opts)
	if err != nil {
		return PersonaFit{}, err
	}

	// Parameters: per segment, the logits of all personas but the last.
	var start []float64
	for _, id := range segs {
		idx := members[id]
		sum := 0.0
		for _, k := range idx {
			sum += max(personas[k].Weight, 0)
		}
		w := make([]float64, len(idx))
		for i, k := range idx {
			w[i] = 1 / float64(len(idx))
			if sum > 0 && !math.IsInf(sum, 0) {
				w[i] = max(personas[k].Weight, 0) / sum
			}
			w[i] = max(w[i], opts.MinWeight)
		}
		last := math.Log(w[len(w)-1])
		for i := range len(idx) - 1 {
			start = append(start, math.Log(w[i])-last)
		}
	}
	if len(start) == 0 {
		return PersonaFit{}, errors.New("cannot fit persona weights: every segment has a single persona")
	}

	weights := make([]float64, len(personas))
	moments := make([]float64, len(interventions))
	sim := func(theta []float64) []float64 {
		softmaxWeights(theta, segs, members, weights)
		clear(moments)
		for s, id := range segs {
			for _, k := range members[id] {
				c := shares[s] * weights[k]
				for j, r := range rates[k] {
					moments[j] += c * r
				}
			}
		}
		return moments
	}
	fo := opts.Fit
	fo.Start = start
	theta, res, err := Fit(sim, observedLift, opts.Weighting, fo)
	if err != nil {
		return PersonaFit{}, fmt.Errorf("cannot fit persona weights: %w", err)
	}
	out := PersonaFit{Segments: segs, Rates: rates, Fit: res, Weights: make([]float64, len(personas))}
	softmaxWeights(theta, segs, members, out.Weights)
	out.Personas = slices.Clone(personas)
	for k := range out.Personas {
		out.Personas[k].Weight = out.Weights[k]
	}
	if res.Cov != nil {
		out.WeightCov, out.WeightStdErr = weightCov(res.Cov, out.Weights, segs, members)
	}
	return out, nil
}

// judge returns Rate of every persona × intervention judgement, each
// computed once.
func judge(ctx context.Context, personas []persona.Spec, ivs []persona.Intervention, reasoner persona.Reasoner, opts PersonaOptions) ([][]float64, error) {
	rates := make([][]float64, len(personas))
	for k := range rates {
		rates[k] = make([]float64, len(ivs))
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(opts.Concurrency, 1))
	for k := range personas {
		for j := range ivs {
			g.Go(func() error {
				jd, err := reasoner.Judge(gctx, personas[k], ivs[j])
				if err != nil {
					return fmt.Errorf("cannot judge intervention %q for persona %q: %w", ivs[j].ID, personas[k].ID, err)
				}
				r := opts.Rate(jd)
				if math.IsNaN(r) || math.IsInf(r, 0) {
					return fmt.Errorf("rate of intervention %q for persona %q is %v", ivs[j].ID, personas[k].ID, r)
				}
				rates[k][j] = r
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("cannot fit persona weights: %w", err)
	}
	return rates, nil
}

// softmaxWeights writes into w the weights of θ: per segment, the softmax
// of its logits with the last fixed at 0 (max-shifted for stability).
func softmaxWeights(theta []float64, segs []string, members map[string][]int, w []float64) {
	off := 0
	for _, id := range segs {
		idx := members[id]
		n := len(idx) - 1
		hi := 0.0
		for _, v := range theta[off : off+n] {
			hi = max(hi, v)
		}
		sum := math.Exp(-hi)
		for i := range n {
			sum += math.Exp(theta[off+i] - hi)
		}
		for i, k := range idx {
			if i < n {
				w[k] = math.Exp(theta[off+i]-hi) / sum
			} else {
				w[k] = math.Exp(-hi) / sum
			}
		}
		off += n
	}
}

// weightCov maps the covariance of θ to that of the weights by the delta
// method: ∂w_k/∂θ_l = w_k(δ_kl − w_l) within a segment, 0 across segments
// and for the fixed last logit.
func weightCov(cov *mat.SymDense, w []float64, segs []string, members map[string][]int) (*mat.SymDense, []float64) {
	p, _ := cov.Dims()
	jac := mat.NewDense(len(w), p, nil)
	off := 0
	for _, id := range segs {
		idx := members[id]
		for _, k := range idx {
			for l := range len(idx) - 1 {
				d := -w[k] * w[idx[l]]
				if k == idx[l] {
					d += w[k]
				}
				jac.Set(k, off+l, d)
			}
		}
		off += len(idx) - 1
	}
	var tmp, v mat.Dense
	tmp.Mul(jac, cov)
	v.Mul(&tmp, jac.T())
	n := len(w)
	out := mat.NewSymDense(n, nil)
	se := make([]float64, n)
	for i := range n {
		for j := i; j < n; j++ {
			out.SetSym(i, j, (v.At(i, j)+v.At(j, i))/2)
		}
		se[i] = math.Sqrt(max(out.At(i, i), 0))
	}
	return out, se
}
