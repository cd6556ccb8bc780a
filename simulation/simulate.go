package simulation

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/optimize"
	"github.com/preflight-hq/preflight/simulation/api"
)

// TimingSlot is one send slot a scheduled request is evaluated at.
type TimingSlot struct {
	// Label names the slot in optimal_configuration.timing.
	Label string
	// DayOfWeek is 0 (Sunday) to 6, or -1 when unknown.
	DayOfWeek int
	// Hour is the local send hour, 0–23, or -1 when unknown.
	Hour int
}

// ScheduledSlots are the timing candidates of a request whose schedule is
// "scheduled".
var ScheduledSlots = []TimingSlot{
	{Label: "tuesday_morning", DayOfWeek: 2, Hour: 9},
	{Label: "thursday_evening", DayOfWeek: 4, Hour: 19},
	{Label: "saturday_midday", DayOfWeek: 6, Hour: 12},
}

// Stream ids of the PCG generators derived from Simulate's seed.
const (
	streamPersonas = 0x70657273 // "pers"
	streamRuns     = 0x72756e73 // "runs"
)

// segEffect is the judged effect of one variant × timing × channel on one
// target segment.
type segEffect struct {
	uplift     float64
	judged     int                // sampled personas judged
	intent     float64            // mean intent change over them
	drivers    map[string]float64 // mean driver effect over them
	confidence float64            // mean judgement confidence
	rationales []string           // distinct rationales, sample order
}

// config is one candidate configuration.
type config struct {
	chans   []int // request channel indices, request order
	variant int
	timing  int
	sched   [][]send
	segs    []segInputs
	// expected-value outcomes
	cost, unsubRate, roi, revUplift, incrConv, objective float64
	feasible                                             bool
	saturated                                            []bool // by request channel
	// spendFactor[c] is the marketing-mix spend response applied to
	// request channel c's uplift (nil or 0: none).
	spendFactor []float64
}

// request is a validated request with the engine's view of it.
type request struct {
	api.SimulateRequest
	days, runs, personas, freqCap int
	channels                      []string
	targets                       []int     // engine segment indices
	sizes                         []float64 // population per target
	timings                       []TimingSlot
	profit                        bool // objective is revenue uplift − cost
}

// Simulate answers req from the engine's snapshot with every random draw
// seeded by seed. req is defaulted (api.SimulateRequest.WithDefaults) and
// validated first. A request that breaks the contract or names a segment
// or channel the calibration does not know gets a failed response and an
// *api.Error of kind validation listing every problem; a context that ends
// gets one of kind timeout; a reasoner failure one of kind internal.
func (e *Engine) Simulate(ctx context.Context, req api.SimulateRequest, seed uint64) (api.SimulateResponse, error) {
	req = req.WithDefaults()
	id := simulationID(req, seed)
	fail := func(err error) (api.SimulateResponse, error) {
		var ae *api.Error
		if !errors.As(err, &ae) {
			kind := api.KindInternal
			if ctx.Err() != nil {
				kind = api.KindTimeout
			}
			ae = &api.Error{Kind: kind, Message: err.Error()}
		}
		return api.SimulateResponse{SimulationID: id, Status: api.StatusFailed, Error: ae}, ae
	}
	if err := req.Validate(); err != nil {
		return fail(err)
	}
	rq, err := e.prepare(req)
	if err != nil {
		return fail(err)
	}
	effects, err := e.judgeAll(ctx, rq, rand.New(rand.NewPCG(seed, streamPersonas)))
	if err != nil {
		return fail(err)
	}
	cfgs, best := e.search(rq, effects)
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("simulation stopped before the Monte Carlo: %w", err))
	}
	mc, err := monteCarlo(ctx, rq, &cfgs[best], rand.New(rand.NewPCG(seed, streamRuns)))
	if err != nil {
		return fail(err)
	}
	resp := api.SimulateResponse{SimulationID: id, Status: api.StatusCompleted}
	resp.Predictions, resp.Insights = e.report(rq, effects, &cfgs[best], mc)
	q := e.snap.Quality
	resp.CalibrationQuality = &api.CalibrationQuality{
		HistoricalAccuracy: clamp01(q.HistoricalAccuracy),
		DriftDetected:      q.DriftDetected,
		LastCalibration:    q.LastCalibration,
	}
	return resp, nil
}

// simulationID derives a stable id from the request and the seed.
func simulationID(req api.SimulateRequest, seed uint64) string {
	h := fnv.New64a()
	b, _ := json.Marshal(req)
	h.Write(b)
	fmt.Fprintf(h, "/%d", seed)
	return fmt.Sprintf("sim_%016x", h.Sum64())
}

// prepare resolves the request's segments, channels, population split and
// timing candidates against the snapshot.
func (e *Engine) prepare(req api.SimulateRequest) (*request, error) {
	p := req.SimulationParams
	rq := &request{
		SimulateRequest: req,
		days:            *p.TimeHorizonDays,
		runs:            *p.MonteCarloRuns,
		personas:        *p.NumPersonas,
		freqCap:         *req.Intervention.Timing.FrequencyCap,
	}
	var bad []api.FieldError
	if len(req.TargetPopulation.Segments) == 0 {
		for i := range e.segments {
			rq.targets = append(rq.targets, i)
		}
	}
	for i, s := range req.TargetPopulation.Segments {
		k, ok := e.seg[s]
		if !ok {
			bad = append(bad, api.FieldError{
				Path:   fmt.Sprintf("target_population.segments[%d]", i),
				Reason: fmt.Sprintf("segment %q is not in the calibration (known: %s)", s, strings.Join(e.segments, ", ")),
			})
			continue
		}
		rq.targets = append(rq.targets, k)
	}
	for i, c := range req.Intervention.Channels {
		rq.channels = append(rq.channels, string(c))
		known := false
		for _, t := range rq.targets {
			_, ok := e.cells[t][string(c)]
			known = known || ok
		}
		if !known && len(rq.targets) > 0 {
			bad = append(bad, api.FieldError{
				Path:   fmt.Sprintf("intervention.channels[%d]", i),
				Reason: fmt.Sprintf("channel %q has no calibration for the target segments", c),
			})
		}
	}
	for i, m := range req.SuccessMetrics {
		if name, ok := strings.CutPrefix(string(m), api.CustomPrefix); ok && !slices.Contains(CustomKPIs, name) {
			bad = append(bad, api.FieldError{
				Path:   fmt.Sprintf("success_metrics[%d]", i),
				Reason: fmt.Sprintf("custom KPI %q is not one the simulator computes (known: %s)", name, strings.Join(CustomKPIs, ", ")),
			})
		}
	}
	if len(bad) > 0 {
		return nil, &api.Error{Kind: api.KindValidation, Message: fmt.Sprintf("request does not match the calibration in %d place(s)", len(bad)), Fields: bad}
	}
	rq.sizes = split(req.TargetPopulation.Size, rq.targets, e.exposures)
	if req.TargetPopulation.SelectionMethod == api.SelectModelScore {
		rq.sizes = e.byScore(req.TargetPopulation.Size, rq.targets, rq.channels)
	}
	switch s := req.Intervention.Timing.Schedule; s {
	case api.ScheduleScheduled:
		rq.timings = ScheduledSlots
	default:
		rq.timings = []TimingSlot{{Label: string(s), DayOfWeek: -1, Hour: -1}}
	}
	rq.profit = true
	if slices.Contains(req.SuccessMetrics, api.MetricConversionRate) && !slices.ContainsFunc(req.SuccessMetrics, func(m api.Metric) bool {
		return m == api.MetricRevenueUplift || m == api.MetricCustomerLifetimeValue || m.IsCustom()
	}) {
		rq.profit = false
	}
	return rq, nil
}

// split divides size among targets in proportion to their exposures (equal
// parts when none has any) by largest remainder, so the parts are integers
// summing to size.
func split(size int, targets []int, exposures []float64) []float64 {
	var tot float64
	for _, t := range targets {
		tot += exposures[t]
	}
	out := make([]float64, len(targets))
	rem := make([]float64, len(targets))
	left := size
	for i, t := range targets {
		share := 1 / float64(len(targets))
		if tot > 0 {
			share = exposures[t] / tot
		}
		x := float64(size) * share
		out[i] = math.Floor(x)
		rem[i] = x - out[i]
		left -= int(out[i])
	}
	order := make([]int, len(targets))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for k := 0; left > 0; k = (k + 1) % len(order) {
		out[order[k]]++
		left--
	}
	return out
}

var (
	percentOff = regexp.MustCompile(`(?i)(\d{1,3})\s*%\s*off`)
	amountOff  = regexp.MustCompile(`(?i)[$€£]\s*(\d+(?:\.\d+)?)\s*off`)
	freeShip   = regexp.MustCompile(`(?i)free\s+shipping`)
)

// offerOf reads the incentive a template states: "20% off", "$10 off" or
// "free shipping"; none otherwise.
func offerOf(template string) persona.Offer {
	if m := percentOff.FindStringSubmatch(template); m != nil {
		if v, _ := strconv.ParseFloat(m[1], 64); v > 0 && v <= 100 {
			return persona.Offer{Kind: persona.OfferPercentOff, Value: v}
		}
	}
	if m := amountOff.FindStringSubmatch(template); m != nil {
		if v, _ := strconv.ParseFloat(m[1], 64); v > 0 {
			return persona.Offer{Kind: persona.OfferAmountOff, Value: v}
		}
	}
	if freeShip.MatchString(template) {
		return persona.Offer{Kind: persona.OfferFreeShipping}
	}
	return persona.Offer{Kind: persona.OfferNone}
}

// Urgency read from a template, on the 0–1 scale of a CRM's creative
// "urgency" element: a same-day deadline is high, a deadline within days
// medium. The calibration turns an intervention's urgency u into an offer
// that expires in UrgencyHalfLifeHours·(1−u)/u hours; contentOf does the
// same with the urgency it reads, so that new content is judged as the
// measured interventions were.
var (
	urgencyHigh   = regexp.MustCompile(`(?i)\b(tonight|today|last chance|final hours|midnight|24 hours|ends now)\b`)
	urgencyMedium = regexp.MustCompile(`(?i)\b(this week|this weekend|limited time|ends soon|few days|while stocks last|48 hours|72 hours)\b`)
)

const (
	urgencyHighValue   = 0.8
	urgencyMediumValue = 0.5
)

// contentOf reads what a template states for the reasoner: its offer
// (offerOf), with a deadline when it urges (see urgencyHigh), and the
// product category it is about, the first of the personas' categories it
// names (longest names first).
func (e *Engine) contentOf(template string) (persona.Offer, string) {
	offer := offerOf(template)
	u := 0.0
	switch {
	case urgencyHigh.MatchString(template):
		u = urgencyHighValue
	case urgencyMedium.MatchString(template):
		u = urgencyMediumValue
	}
	if u > 0 {
		offer.ExpiresHours = persona.DefaultCoefficients().UrgencyHalfLifeHours * (1 - u) / u
	}
	lower := strings.ToLower(template)
	for _, c := range e.categories {
		if strings.Contains(lower, strings.ToLower(c)) {
			return offer, c
		}
	}
	return offer, ""
}

// specHash identifies a persona's full spec, so that a cached judgement is
// not reused for a changed persona.
func specHash(p persona.Spec) string {
	h := fnv.New64a()
	b, _ := json.Marshal(p)
	h.Write(b)
	return fmt.Sprintf("%s#%016x", p.ID, h.Sum64())
}

// variantKey identifies a content variant by id and content.
func variantKey(v api.ContentVariant) string {
	h := fnv.New64a()
	h.Write([]byte(v.Template))
	for _, f := range v.PersonalizationFields {
		h.Write([]byte{0})
		h.Write([]byte(f))
	}
	return fmt.Sprintf("%s#%016x", v.ID, h.Sum64())
}

// judgeAll samples the personas and returns effects[v][t][c][i], the
// effect of variant v at timing t on request channel c for target i.
func (e *Engine) judgeAll(ctx context.Context, rq *request, r *rand.Rand) ([][][][]segEffect, error) {
	// Sample personas: a target by population share, then a persona of it
	// by weight. counts[i][k] counts draws of persona k of target i.
	counts := make([][]int, len(rq.targets))
	var tot float64
	for i, t := range rq.targets {
		counts[i] = make([]int, len(e.personas[t]))
		if len(e.personas[t]) > 0 {
			tot += rq.sizes[i]
		}
	}
	for n := 0; n < rq.personas && tot > 0; n++ {
		x := r.Float64() * tot
		i := 0
		for ; i < len(rq.targets)-1; i++ {
			if len(e.personas[rq.targets[i]]) > 0 {
				if x < rq.sizes[i] {
					break
				}
				x -= rq.sizes[i]
			}
		}
		ps := e.personas[rq.targets[i]]
		if len(ps) == 0 {
			continue // only when the last target has no personas and x fell past the others
		}
		var sw float64
		for _, p := range ps {
			sw += p.Weight
		}
		y := r.Float64() * sw
		k := 0
		for ; k < len(ps)-1; k++ {
			if y < ps[k].Weight {
				break
			}
			y -= ps[k].Weight
		}
		counts[i][k]++
	}
	recent := 0
	if rq.Intervention.Type == api.InterventionSequence {
		perWeek := 1
		if rq.Intervention.Timing.Cadence == api.CadenceDaily {
			perWeek = 7
		}
		recent = max(min(rq.freqCap, perWeek*len(rq.channels))-1, 0)
	}
	if err := e.prejudge(ctx, rq, counts, recent); err != nil {
		return nil, err
	}
	out := make([][][][]segEffect, len(rq.Intervention.ContentVariants))
	for v, cv := range rq.Intervention.ContentVariants {
		vk := variantKey(cv)
		offer, category := e.contentOf(cv.Template)
		out[v] = make([][][]segEffect, len(rq.timings))
		for ti, ts := range rq.timings {
			tk := timingKey(ts, recent)
			out[v][ti] = make([][]segEffect, len(rq.channels))
			for c, ch := range rq.channels {
				iv := persona.Intervention{
					ID: cv.ID, Channel: ch, Template: cv.Template, Offer: offer, Category: category,
					SendHour: ts.Hour, DayOfWeek: ts.DayOfWeek, RecentExposures: recent,
				}
				effs := make([]segEffect, len(rq.targets))
				for i, t := range rq.targets {
					cell, ok := e.cells[t][ch]
					if !ok {
						continue
					}
					ef := segEffect{uplift: cell.uplift, drivers: map[string]float64{}}
					var intent float64
					for k, n := range counts[i] {
						if n == 0 {
							continue
						}
						j, err := e.judge(ctx, e.personas[t][k], e.personaHash[t][k], iv, vk, tk)
						if err != nil {
							return nil, err
						}
						ef.judged += n
						ef.confidence += float64(n) * j.Confidence
						for _, d := range j.Drivers {
							ef.drivers[d.Factor] += float64(n) * d.Effect
						}
						if j.Rationale != "" && !slices.Contains(ef.rationales, j.Rationale) && len(ef.rationales) < 3 {
							ef.rationales = append(ef.rationales, j.Rationale)
						}
						intent += float64(n) * j.IntentChange
					}
					if ef.judged > 0 {
						w := float64(ef.judged)
						ef.confidence /= w
						for f := range ef.drivers {
							ef.drivers[f] /= w
						}
						ef.intent = intent / w
						if e.effects != nil {
							em := e.effects.Map(ch, e.segments[t], ef.intent)
							if cell.hasRef {
								ef.uplift = cell.uplift + cell.contentWeight*(em-cell.ref)
							} else {
								ef.uplift = blend(em, cell.uplift, e.effects.Level(ch, e.segments[t]))
							}
						}
					}
					effs[i] = ef
				}
				out[v][ti][c] = effs
			}
		}
	}
	return out, nil
}

// prejudge asks the reasoner, e.parallel at a time, for every judgement
// judgeAll will need that the cache does not hold, so that judgeAll then
// finds them all cached. With e.parallel 1 it does nothing.
func (e *Engine) prejudge(ctx context.Context, rq *request, counts [][]int, recent int) error {
	if e.parallel <= 1 {
		return nil
	}
	type task struct {
		p     persona.Spec
		ph    string
		iv    persona.Intervention
		vk, t string
	}
	var tasks []task
	seen := map[JudgementKey]bool{}
	for _, cv := range rq.Intervention.ContentVariants {
		vk := variantKey(cv)
		offer, category := e.contentOf(cv.Template)
		for _, ts := range rq.timings {
			tk := timingKey(ts, recent)
			for _, ch := range rq.channels {
				iv := persona.Intervention{ID: cv.ID, Channel: ch, Template: cv.Template, Offer: offer, Category: category,
					SendHour: ts.Hour, DayOfWeek: ts.DayOfWeek, RecentExposures: recent}
				for i, t := range rq.targets {
					if _, ok := e.cells[t][ch]; !ok {
						continue
					}
					for k, n := range counts[i] {
						key := JudgementKey{Program: e.program, Persona: e.personaHash[t][k], Variant: vk, Channel: ch, Timing: tk}
						if n == 0 || seen[key] || e.cache.has(key) {
							continue
						}
						seen[key] = true
						tasks = append(tasks, task{p: e.personas[t][k], ph: e.personaHash[t][k], iv: iv, vk: vk, t: tk})
					}
				}
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.parallel)
	for _, tk := range tasks {
		g.Go(func() error {
			_, err := e.judge(gctx, tk.p, tk.ph, tk.iv, tk.vk, tk.t)
			return err
		})
	}
	return g.Wait()
}

// timingKey identifies a timing candidate and the recent exposures it is
// judged with.
func timingKey(ts TimingSlot, recent int) string {
	return fmt.Sprintf("%s/%d/%d/%d", ts.Label, ts.DayOfWeek, ts.Hour, recent)
}

// blend combines the effect map's uplift em with the cell's measured
// uplift cell by the specificity of the map's curve (see the package
// documentation).
func blend(em, cell float64, level string) float64 {
	switch level {
	case optimize.LevelCell:
		return em
	case optimize.LevelChannel:
		return (em + cell) / 2
	}
	return (em + 3*cell) / 4
}

// inputs builds the segment inputs of a configuration.
func (e *Engine) inputs(rq *request, effects [][][][]segEffect, cfg *config) {
	cfg.segs = make([]segInputs, len(rq.targets))
	for i, t := range rq.targets {
		si := segInputs{n: rq.sizes[i], ch: make([]chInputs, len(rq.channels))}
		var sw float64
		for _, ch := range slices.Sorted(maps.Keys(e.cells[t])) {
			p := e.cells[t][ch]
			w := max(p.exposures, 1)
			sw += w
			si.base += w * p.base
			si.baseSE += w * p.baseSE
			si.rpc += w * p.rpc
		}
		si.base, si.baseSE, si.rpc = si.base/sw, si.baseSE/sw, si.rpc/sw
		for _, c := range cfg.chans {
			p, ok := e.cells[t][rq.channels[c]]
			if !ok {
				continue
			}
			ci := &si.ch[c]
			// A new campaign's uplift is uncertain by the estimate's error
			// and by how much campaigns differ from one another.
			se := math.Hypot(p.upliftSE, p.het)
			*ci = chInputs{ok: true, uplift: effects[cfg.variant][cfg.timing][c][i].uplift, upliftSE: se, cpe: p.cpe, rpc: p.rpc}
			e.hazardInputs(ci, e.segments[t], rq.channels[c], c, p, cfg.sched)
		}
		cfg.segs[i] = si
	}
}

// search evaluates every configuration with expected values and returns
// them with the index of the chosen one: the feasible configuration of the
// largest objective, or, when none is feasible, the one of the largest
// objective.
func (e *Engine) search(rq *request, effects [][][][]segEffect) ([]config, int) {
	nc := len(rq.channels)
	var cfgs []config
	out := make([]segResult, len(rq.targets))
	sc := &scratch{u: make([]float64, nc), shift: make([]float64, nc)}
	scheds := map[int][][]send{}
	for mask := 1; mask < 1<<nc; mask++ {
		var chans []int
		for c := range nc {
			if mask&(1<<c) != 0 {
				chans = append(chans, c)
			}
		}
		scheds[mask] = schedule(rq.Intervention.Type, rq.Intervention.Timing.Cadence, rq.freqCap, rq.days, chans)
		for v := range rq.Intervention.ContentVariants {
			for t := range rq.timings {
				cfg := config{chans: chans, variant: v, timing: t, sched: scheds[mask]}
				e.inputs(rq, effects, &cfg)
				daily := make([][]float64, rq.days)
				for d := range daily {
					daily[d] = make([]float64, nc)
				}
				run(cfg.segs, cfg.sched, rq.days, nil, sc, out, daily)
				if e.spendResp != nil {
					// The spend does not depend on the uplift: scale each
					// channel's uplift by the marketing-mix response to the
					// planned spend and run again.
					cfg.spendFactor = make([]float64, nc)
					scaled := false
					plan := make([]float64, rq.days)
					for _, c := range cfg.chans {
						for d := range daily {
							plan[d] = daily[d][c]
						}
						f := e.spendResponse(rq.channels[c], plan)
						cfg.spendFactor[c] = f
						if f != 1 {
							scaled = true
							for i := range cfg.segs {
								cfg.segs[i].ch[c].uplift *= f
								cfg.segs[i].ch[c].upliftSE *= f
							}
						}
					}
					if scaled {
						for d := range daily {
							clear(daily[d])
						}
						run(cfg.segs, cfg.sched, rq.days, nil, sc, out, daily)
					}
				}
				var tot segResult
				for _, o := range out {
					tot = tot.add(o)
				}
				cfg.cost, cfg.revUplift, cfg.incrConv = tot.cost, tot.revUplift, tot.conv-tot.ctrl
				cfg.unsubRate = tot.unsub / tot.n
				cfg.roi = roi(tot.revUplift, tot.cost)
				cfg.objective = cfg.incrConv
				if rq.profit {
					cfg.objective = tot.revUplift - tot.cost
				}
				cfg.feasible = true
				if k := rq.Constraints; k != nil {
					if k.MaxBudget != nil && cfg.cost > *k.MaxBudget {
						cfg.feasible = false
					}
					if k.MaxUnsubscribeRate != nil && cfg.unsubRate > *k.MaxUnsubscribeRate {
						cfg.feasible = false
					}
					if k.MinROI != nil && tot.cost > 0 && cfg.roi < *k.MinROI {
						cfg.feasible = false
					}
				}
				cfg.saturated = make([]bool, nc)
				if s := e.snap.MMM; s != nil {
					for c := range nc {
						limit, ok := e.mmmSpendCaps[rq.channels[c]]
						for d := range daily {
							if ok && daily[d][c] > limit {
								cfg.saturated[c] = true
							}
						}
						if cfg.spendFactor != nil && cfg.spendFactor[c] > 0 && cfg.spendFactor[c] < 0.8 {
							cfg.saturated[c] = true
						}
					}
				}
				cfgs = append(cfgs, cfg)
			}
		}
	}
	best, bestFeasible := 0, -1
	for i := range cfgs {
		if cfgs[i].objective > cfgs[best].objective {
			best = i
		}
		if cfgs[i].feasible && (bestFeasible < 0 || cfgs[i].objective > cfgs[bestFeasible].objective) {
			bestFeasible = i
		}
	}
	if bestFeasible >= 0 {
		return cfgs, bestFeasible
	}
	return cfgs, best
}

func (a segResult) add(b segResult) segResult {
	return segResult{
		n: a.n + b.n, conv: a.conv + b.conv, ctrl: a.ctrl + b.ctrl, revenue: a.revenue + b.revenue,
		revUplift: a.revUplift + b.revUplift, cost: a.cost + b.cost, unsub: a.unsub + b.unsub, sends: a.sends + b.sends,
	}
}

// roi is (revenue uplift − cost) / cost, 0 when nothing was spent.
func roi(revUplift, cost float64) float64 {
	if !(cost > 0) {
		return 0
	}
	return (revUplift - cost) / cost
}

// byScore splits size among targets as model_score selection does at the
// calibration's resolution, the segment: whole segments are taken in order
// of their measured uplift per person (the best of the requested channels'
// cells), each up to its audience (its largest pooled cell's exposures per
// campaign), and whatever the audiences cannot hold is split like the
// segment method.
func (e *Engine) byScore(size int, targets []int, channels []string) []float64 {
	type cand struct {
		i        int
		score    float64
		audience float64
	}
	cs := make([]cand, len(targets))
	for i, t := range targets {
		c := cand{i: i, score: math.Inf(-1)}
		for _, ch := range channels {
			if p, ok := e.cells[t][ch]; ok {
				c.score = max(c.score, p.uplift)
			}
		}
		for _, p := range e.cells[t] {
			if p.campaigns > 0 {
				c.audience = max(c.audience, math.Floor(p.exposures/float64(p.campaigns)))
			}
		}
		cs[i] = c
	}
	slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.score, a.score) })
	out := make([]float64, len(targets))
	left := float64(size)
	for _, c := range cs {
		take := min(c.audience, left)
		out[c.i] = take
		left -= take
	}
	if left > 0 {
		rest := split(int(left), targets, e.exposures)
		for i := range out {
			out[i] += rest[i]
		}
	}
	return out
}
