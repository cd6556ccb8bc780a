package optimize

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync/atomic"

	"github.com/preflight-hq/preflight/persona"
)

// The synthetic history and the fake persona brain of the optimizer tests.
//
// Known truth. Every persona p has a planted response to an intervention
// iv, in the spirit of the synth package's outcome model (channel effect,
// discount × (price sensitivity − 0.35)) plus a fatigue penalty that grows
// with the persona's recent exposures:
//
//	truth(p, iv) = 0.1 + 0.4·(affinity_p[channel] − 0.5)
//	             + 0.9·(discount/30)·(price_sensitivity_p − 0.35)
//	             − 0.1·exposures·(1 − fatigue_tolerance_p)
//
// A segment's observed lift for iv is liftScale times the weighted mean of
// truth over the segment's personas, plus small Gaussian measurement
// noise.
//
// The brain. Zero-shot, the brain is systematically wrong in two known
// ways: it ignores fatigue (no exposure penalty) and it over-weights
// discounts (a flat 0.5·discount/30 for everyone instead of the
// price-sensitivity interaction). That is the demo-sensitivity term of
// reference §5.6: each bias is corrected by the demos in the prompt whose
// answers show the true pattern. A demo shows fatigue when its
// intervention had at least 3 recent exposures and its answer lies at
// least 0.05 below the brain's own zero-shot answer for it; it shows the
// discount pattern when its offer is at least 20% off and its answer
// differs from the zero-shot answer by at least 0.05. With k_f fatigue
// demos and k_d discount demos the answer is
//
//	answer = truth + (1 − λ_f)·fatigueBias + (1 − λ_d)·discountBias + noise,
//	λ_f = min(1, k_f/2),  λ_d = min(1, k_d/2),
//
// with noise uniform in ±0.04 from a hash of (persona, intervention). So a
// program whose demos show both patterns judges by the truth, the
// zero-shot program ranks interventions by the wrong drivers, and which
// demos a candidate carries matters: the optimizer has something real and
// known to find.

const liftScale = 0.02

// world is the synthetic history: personas, interventions, and lookup
// tables for a brain that only sees IDs.
type world struct {
	personas      []persona.Spec
	interventions []persona.Intervention
	pByID         map[string]persona.Spec
	ivByID        map[string]persona.Intervention
	examples      []Example
}

var segmentPriors = []struct {
	id             string
	ps, ft, emailA float64
}{
	{"bargain_hunters", 0.8, 0.4, 0.6},
	{"loyal", 0.2, 0.8, 0.7},
	{"at_risk", 0.5, 0.2, 0.3},
}

// newWorld builds a history of nIV interventions sent to every segment,
// with perSeg personas per segment, all drawn from seed.
func newWorld(seed uint64, nIV, perSeg int) *world {
	r := rand.New(rand.NewPCG(seed, 7))
	w := &world{pByID: map[string]persona.Spec{}, ivByID: map[string]persona.Intervention{}}
	clamp01 := func(x float64) float64 { return math.Max(0, math.Min(1, x)) }
	for _, sp := range segmentPriors {
		for k := range perSeg {
			p := persona.Spec{
				ID:               fmt.Sprintf("psn-%s-%02d", sp.id, k),
				SegmentID:        sp.id,
				Weight:           1 / float64(perSeg),
				Name:             fmt.Sprintf("Persona %s %d", sp.id, k),
				PriceSensitivity: clamp01(sp.ps + 0.1*r.NormFloat64()),
				FatigueTolerance: clamp01(sp.ft + 0.1*r.NormFloat64()),
				ChannelAffinity: map[string]float64{
					"email": clamp01(sp.emailA + 0.1*r.NormFloat64()),
					"sms":   clamp01(0.5 + 0.15*r.NormFloat64()),
					"push":  clamp01(0.4 + 0.15*r.NormFloat64()),
				},
				LifecycleStage: "active",
			}
			w.personas = append(w.personas, p)
			w.pByID[p.ID] = p
		}
	}
	channels := []string{"email", "sms", "push"}
	for i := range nIV {
		iv := persona.Intervention{
			ID:              fmt.Sprintf("ivn-%02d", i),
			Channel:         channels[i%3],
			Template:        "Hello {{first_name}}, new arrivals are in.",
			Offer:           persona.Offer{Kind: "none"},
			SendHour:        10,
			DayOfWeek:       2,
			RecentExposures: r.IntN(6),
		}
		if d := 10 * r.IntN(5); d > 0 {
			iv.Offer = persona.Offer{Kind: "percent_off", Value: float64(d)}
		}
		w.interventions = append(w.interventions, iv)
		w.ivByID[iv.ID] = iv
	}
	for _, iv := range w.interventions {
		for _, sp := range segmentPriors {
			mean, sw := 0.0, 0.0
			var ps []persona.Spec
			for _, p := range w.personas {
				if p.SegmentID == sp.id {
					mean += p.Weight * truth(p, iv)
					sw += p.Weight
					ps = append(ps, p)
				}
			}
			lift := liftScale*mean/sw + 0.0005*r.NormFloat64()
			for _, p := range ps {
				w.examples = append(w.examples, Example{Persona: p, Intervention: iv, ObservedLift: lift, Segment: sp.id})
			}
		}
	}
	return w
}

func discountOf(iv persona.Intervention) float64 {
	if iv.Offer.Kind == "percent_off" {
		return iv.Offer.Value
	}
	return 0
}

func fatigueTerm(p persona.Spec, iv persona.Intervention) float64 {
	return -0.1 * float64(iv.RecentExposures) * (1 - p.FatigueTolerance)
}

func discountTerm(p persona.Spec, iv persona.Intervention) float64 {
	return 0.9 * discountOf(iv) / 30 * (p.PriceSensitivity - 0.35)
}

func truth(p persona.Spec, iv persona.Intervention) float64 {
	return clamp(0.1 + 0.4*(p.ChannelAffinity[iv.Channel]-0.5) + discountTerm(p, iv) + fatigueTerm(p, iv))
}

// zeroShot is the biased answer: no fatigue penalty, a flat discount
// effect.
func zeroShot(p persona.Spec, iv persona.Intervention) float64 {
	return clamp(truth(p, iv) - fatigueTerm(p, iv) - discountTerm(p, iv) + 0.5*discountOf(iv)/30)
}

func clamp(x float64) float64 { return math.Max(-1, math.Min(1, x)) }

// demoObs is a demo as the brain sees it.
type demoObs struct {
	p      persona.Spec
	iv     persona.Intervention
	intent float64
}

// answer is the brain: see the comment at the top of the file.
func answer(p persona.Spec, iv persona.Intervention, demos []demoObs) persona.Judgement {
	kf, kd := 0, 0
	for _, d := range demos {
		z := zeroShot(d.p, d.iv)
		if d.iv.RecentExposures >= 3 && d.intent <= z-0.05 {
			kf++
		}
		if discountOf(d.iv) >= 20 && math.Abs(d.intent-z) >= 0.05 {
			kd++
		}
	}
	lf := math.Min(1, float64(kf)/2)
	ld := math.Min(1, float64(kd)/2)
	fatigueBias := -fatigueTerm(p, iv)
	discountBias := 0.5*discountOf(iv)/30 - discountTerm(p, iv)
	h := fnv.New64a()
	h.Write([]byte(p.ID + "|" + iv.ID))
	noise := (float64(h.Sum64()%1000)/999 - 0.5) * 0.08
	x := clamp(truth(p, iv) + (1-lf)*fatigueBias + (1-ld)*discountBias + noise)
	var drivers []persona.Driver
	if d := discountOf(iv); d > 0 {
		drivers = append(drivers, persona.Driver{Factor: persona.DriverDiscount, Effect: clamp(x)})
	}
	return persona.Judgement{
		IntentChange: x,
		Rationale:    fmt.Sprintf("As %s I weigh the %s message (%d recent messages, %g%% off).", p.Name, iv.Channel, iv.RecentExposures, discountOf(iv)),
		Drivers:      drivers,
		Confidence:   0.7,
	}
}

// brainReasoner is the in-process reasoner over the brain: it reads the
// demos straight from the program instead of from a rendered prompt.
type brainReasoner struct {
	prog  persona.Program
	calls *atomic.Int64
	fail  func(p persona.Spec, iv persona.Intervention) bool
}

func (b brainReasoner) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	if err := ctx.Err(); err != nil {
		return persona.Judgement{}, err
	}
	if b.calls != nil {
		b.calls.Add(1)
	}
	if b.fail != nil && b.fail(p, iv) {
		return persona.Judgement{}, fmt.Errorf("scripted failure for %s/%s", p.ID, iv.ID)
	}
	demos := make([]demoObs, len(b.prog.Demos))
	for i, d := range b.prog.Demos {
		demos[i] = demoObs{d.Persona, d.Intervention, d.Answer.IntentChange}
	}
	return answer(p, iv, demos), nil
}

// inProcess returns a ProgramReasoner over the brain that counts calls.
func inProcess(calls *atomic.Int64) ProgramReasoner {
	return func(prog persona.Program) persona.Reasoner { return brainReasoner{prog: prog, calls: calls} }
}
