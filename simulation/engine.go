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
	"slices"
	"sync"
	"sync/atomic"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/causal/hazard"
	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/optimize"
)

// RepeatDecay is ρ, the factor by which each further send on a channel
// scales the uplift of the previous one (the f-th send adds u·ρ^(f−1)).
const RepeatDecay = 0.5

// z95 is the two-sided 95% normal quantile.
const z95 = 1.959963984540054

// DefaultCacheEntries is the default capacity of a Cache: about 200 MB
// of judgements (some 1.5 KB each with their rationales and drivers).
const DefaultCacheEntries = 1 << 17

// DefaultJudgeConcurrency is the default of Options.JudgeConcurrency.
const DefaultJudgeConcurrency = 16

// Options configure an Engine. The zero value is usable.
type Options struct {
	// Reasoner judges personas; default persona.NewBuiltin().
	Reasoner persona.Reasoner
	// ReasonerFor, when set, replaces Reasoner: it returns the reasoner
	// that runs the snapshot's prompt program (an LLM reasoner), so that
	// a retuned program takes effect with the snapshot that carries it.
	// Its judgements are cached under a hash of the program.
	ReasonerFor func(persona.Program) persona.Reasoner
	// Cache holds judgements across calls and engines; default a new
	// Cache of DefaultCacheEntries entries. Share one Cache between the
	// engines of successive snapshots to keep the judgements of unchanged
	// personas.
	Cache *Cache
	// JudgeConcurrency bounds the judgements one request asks of a
	// reasoner at once (default DefaultJudgeConcurrency): an LLM answers
	// in tens of milliseconds, and a request needs dozens of judgements.
	// The built-in reasoner is always asked in turn.
	JudgeConcurrency int
}

// JudgementKey identifies one cached judgement: a persona (its id and a
// hash of its spec), a content variant (its id and a hash of its text), a
// channel and a timing candidate.
type JudgementKey struct {
	// Program is a hash of the prompt program, empty for a reasoner that
	// does not run one.
	Program string
	Persona string
	Variant string
	Channel string
	Timing  string
}

// Cache is a bounded, concurrency-safe cache of persona judgements. When
// it is full it is emptied before the next insertion, a crude but bounded
// policy. The zero value is not usable; use NewCache.
type Cache struct {
	mu     sync.Mutex
	max    int
	m      map[JudgementKey]persona.Judgement
	hits   atomic.Uint64
	misses atomic.Uint64
}

// NewCache returns an empty cache of at most maxEntries judgements
// (DefaultCacheEntries when maxEntries <= 0).
func NewCache(maxEntries int) *Cache {
	if maxEntries <= 0 {
		maxEntries = DefaultCacheEntries
	}
	return &Cache{max: maxEntries, m: map[JudgementKey]persona.Judgement{}}
}

// Len returns the number of judgements cached.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// Stats returns how many lookups found a judgement (hits) and how many
// had to ask the reasoner (misses) since the cache was made.
func (c *Cache) Stats() (hits, misses uint64) { return c.hits.Load(), c.misses.Load() }

func (c *Cache) get(k JudgementKey) (persona.Judgement, bool) {
	c.mu.Lock()
	j, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return j, ok
}

// has reports whether k is cached, without counting a lookup.
func (c *Cache) has(k JudgementKey) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.m[k]
	return ok
}

func (c *Cache) put(k JudgementKey, j persona.Judgement) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[k] = j
}

// Engine answers simulation requests from one calibration snapshot. It is
// safe for concurrent use; the snapshot must not be modified after
// NewEngine.
type Engine struct {
	snap     *calibration.Snapshot
	reasoner persona.Reasoner
	// parallel is how many judgements a request asks at once (1 for the
	// built-in reasoner).
	parallel int
	program  string
	cache    *Cache
	// segments are the snapshot's segments, sorted; seg indexes them.
	segments []string
	seg      map[string]int
	// exposures[s] is the exposures behind segment s's cells.
	exposures []float64
	// cells[s][channel] are the calibrated parameters of a segment ×
	// channel.
	cells []map[string]cellParams
	// categories are the product categories the personas know, longest
	// name first (contentOf).
	categories []string
	// personas[s] are segment s's personas and their hashes, aligned.
	personas    [][]persona.Spec
	personaHash [][]string
	unsubscribe *hazard.Model
	effects     *optimize.EffectMap
	// contentWeight scales the effect map's adjustment of a measured
	// uplift (Snapshot.ContentEffect.Weight; 1 without the check).
	contentWeight float64
	mmmSpendCaps  map[string]float64
	// spendResp holds, per channel the marketing-mix model pins down,
	// what the spend response needs (see spendResponse).
	spendResp map[string]spendCurve
}

// spendCurve is a channel's marketing-mix response curve and the return
// per unit of spend of the campaigns the cells' uplifts were measured on.
type spendCurve struct {
	ch       calibration.MMMChannel
	refSpend float64 // a typical campaign's spend on the channel, in one day
	refEff   float64 // Response([refSpend]) / refSpend
}

// MaxRHatForSpendResponse is the largest R̂ of a marketing-mix fit whose
// response curves the engine uses.
const MaxRHatForSpendResponse = 1.05

// cellParams are the calibrated parameters of one segment × channel.
type cellParams struct {
	exposures float64
	base      float64
	baseSE    float64
	uplift    float64
	upliftSE  float64
	// het is the between-campaign standard deviation of the treated rate:
	// a new campaign's uplift varies around the cell's by about that much.
	het        float64
	rpc        float64
	cpe        float64
	unsub      float64
	unsubSlope float64
	meanFreq   float64
	// campaigns is the number of campaigns pooled in the cell.
	campaigns int
	// ref is the exposure-weighted mean of EffectMap.Map over the
	// intents of the segment × channel's judged interventions, when
	// hasRef: the mapped uplift of the content the cell's uplift was
	// measured on.
	ref    float64
	hasRef bool
	// contentWeight scales the effect map's adjustment of the segment's
	// uplift (see ContentEffect).
	contentWeight float64
}

// NewEngine returns an engine answering from snap. It fails when snap is
// nil or has no cell.
func NewEngine(snap *calibration.Snapshot, opts Options) (*Engine, error) {
	if snap == nil {
		return nil, errors.New("cannot build a simulation engine: no snapshot")
	}
	if opts.Reasoner == nil {
		opts.Reasoner = persona.NewBuiltin()
	}
	if opts.Cache == nil {
		opts.Cache = NewCache(0)
	}
	e := &Engine{snap: snap, reasoner: opts.Reasoner, cache: opts.Cache, seg: map[string]int{}, effects: snap.EffectMap}
	if opts.ReasonerFor != nil {
		prog := snap.Program
		if prog.Instruction == "" {
			prog = persona.DefaultProgram()
		}
		e.reasoner = opts.ReasonerFor(prog)
		h := fnv.New64a()
		b, _ := json.Marshal(prog)
		h.Write(b)
		e.program = fmt.Sprintf("%016x", h.Sum64())
	}
	if snap.Hazard != nil {
		e.unsubscribe = snap.Hazard.Unsubscribe
	}
	e.parallel = opts.JudgeConcurrency
	if e.parallel <= 0 {
		e.parallel = DefaultJudgeConcurrency
	}
	if _, ok := e.reasoner.(*persona.Builtin); ok {
		e.parallel = 1
	}
	e.contentWeight = 1
	if snap.ContentEffect != nil {
		e.contentWeight = min(max(snap.ContentEffect.Weight, 0), 1)
	}
	contentWeight := func(seg string) float64 {
		if ce := snap.ContentEffect; ce != nil {
			if w, ok := ce.Segments[seg]; ok {
				return min(max(w, 0), 1)
			}
		}
		return e.contentWeight
	}
	for _, c := range snap.Cells {
		if !slices.Contains(e.segments, c.SegmentID) {
			e.segments = append(e.segments, c.SegmentID)
		}
	}
	if len(e.segments) == 0 {
		return nil, fmt.Errorf("cannot build a simulation engine from snapshot %s v%d: it has no cells", snap.Scope, snap.Version)
	}
	slices.Sort(e.segments)
	for i, s := range e.segments {
		e.seg[s] = i
	}
	n := len(e.segments)
	e.exposures = make([]float64, n)
	e.cells = make([]map[string]cellParams, n)
	e.personas = make([][]persona.Spec, n)
	e.personaHash = make([][]string, n)
	pooled := make([]map[string]calibration.Cell, n)
	ivs := make([]map[string][]calibration.Cell, n)
	for i := range n {
		e.cells[i] = map[string]cellParams{}
		pooled[i] = map[string]calibration.Cell{}
		ivs[i] = map[string][]calibration.Cell{}
	}
	for _, c := range snap.Cells {
		s := e.seg[c.SegmentID]
		if c.InterventionID == "" {
			pooled[s][c.Channel] = c
		} else {
			ivs[s][c.Channel] = append(ivs[s][c.Channel], c)
		}
	}
	for s := range n {
		for ch, cs := range ivs[s] {
			if _, ok := pooled[s][ch]; !ok {
				pooled[s][ch] = meanCell(cs)
			}
		}
		for ch, c := range pooled[s] {
			p := paramsOf(c)
			if e.effects != nil {
				var sw, sum float64
				for _, iv := range ivs[s][ch] {
					if iv.Intent != nil {
						w := max(float64(iv.Exposures), 1)
						sw += w
						sum += w * e.effects.Map(ch, e.segments[s], *iv.Intent)
					}
				}
				if sw > 0 {
					p.ref, p.hasRef = sum/sw, true
					p.contentWeight = contentWeight(e.segments[s])
				}
			}
			e.cells[s][ch] = p
			e.exposures[s] += p.exposures
		}
	}
	cats := map[string]bool{}
	for _, p := range snap.Personas {
		for c := range p.Preferences {
			cats[c] = true
		}
		for c := range p.PurchaseHistory.Categories {
			cats[c] = true
		}
	}
	e.categories = slices.SortedFunc(maps.Keys(cats), func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), cmp.Compare(a, b))
	})
	for _, p := range snap.Personas {
		if s, ok := e.seg[p.SegmentID]; ok && p.Weight > 0 {
			e.personas[s] = append(e.personas[s], p)
			e.personaHash[s] = append(e.personaHash[s], specHash(p))
		}
	}
	if snap.MMM != nil {
		e.mmmSpendCaps = map[string]float64{}
		for _, c := range snap.MMM.Channels {
			if c.SpendScale > 0 {
				e.mmmSpendCaps[c.Channel] = c.SpendScale
			}
		}
		e.spendResp = spendCurves(snap)
	}
	return e, nil
}

// spendCurves returns the response curves of the channels whose
// contribution the marketing-mix model pins down (its 90% interval no wider
// than twice its mean, the rule the raking uses) in a fit that converged
// (max R̂ ≤ MaxRHatForSpendResponse). The reference spend of a channel is
// its spend over the window divided by the number of its interventions in
// the snapshot's cells: the spend of the typical campaign its measured
// uplifts come from.
func spendCurves(snap *calibration.Snapshot) map[string]spendCurve {
	m := snap.MMM
	if m == nil || !(m.Diagnostics.MaxRHat > 0 && m.Diagnostics.MaxRHat <= MaxRHatForSpendResponse) {
		return nil
	}
	campaigns := map[string]map[string]bool{}
	for _, c := range snap.Cells {
		if c.InterventionID == "" {
			continue
		}
		if campaigns[c.Channel] == nil {
			campaigns[c.Channel] = map[string]bool{}
		}
		campaigns[c.Channel][c.InterventionID] = true
	}
	out := map[string]spendCurve{}
	for _, c := range m.Channels {
		iv := c.Contribution
		n := len(campaigns[c.Channel])
		if !(iv.Mean > 0) || iv.Hi-iv.Lo > 2*iv.Mean || n == 0 || !(c.Spend > 0) {
			continue
		}
		ref := c.Spend / float64(n)
		r, err := c.Response(m, []float64{ref})
		if err != nil || !(r > 0) {
			continue
		}
		out[c.Channel] = spendCurve{ch: c, refSpend: ref, refEff: r / ref}
	}
	return out
}

// spendResponse is the factor by which the marketing-mix model scales a
// channel's per-send uplift when its daily spend is plan instead of the
// typical campaign's: the return per unit of spend of plan (carryover
// included) over that of the reference campaign. It is 1 when the model
// does not pin the channel down or nothing is spent.
func (e *Engine) spendResponse(channel string, plan []float64) float64 {
	sc, ok := e.spendResp[channel]
	if !ok {
		return 1
	}
	var total float64
	for _, x := range plan {
		total += x
	}
	if !(total > 0) {
		return 1
	}
	r, err := sc.ch.Response(e.snap.MMM, plan)
	if err != nil || !(r > 0) {
		return 1
	}
	return (r / total) / sc.refEff
}

// Snapshot returns the snapshot the engine answers from.
func (e *Engine) Snapshot() *calibration.Snapshot { return e.snap }

// Segments returns the snapshot's segment ids, sorted.
func (e *Engine) Segments() []string { return slices.Clone(e.segments) }

// meanCell is the exposure-weighted mean of intervention cells of one
// segment × channel (equal weights when none has exposures).
func meanCell(cs []calibration.Cell) calibration.Cell {
	var out calibration.Cell
	var sw float64
	for _, c := range cs {
		sw += float64(c.Exposures)
	}
	var se2 float64
	for _, c := range cs {
		w := 1 / float64(len(cs))
		if sw > 0 {
			w = float64(c.Exposures) / sw
		}
		out.Exposures += c.Exposures
		out.Campaigns += max(c.Campaigns, 1)
		out.BaseRate += w * c.BaseRate
		out.Uplift += w * c.Uplift
		out.UpliftLo += w * c.UpliftLo
		out.UpliftHi += w * c.UpliftHi
		out.RevenuePerConversion += w * c.RevenuePerConversion
		out.UnsubscribeRate += w * c.UnsubscribeRate
		out.CostPerExposure += w * c.CostPerExposure
		out.BaseRateSE += w * c.BaseRateSE
		se2 += w * w * c.UpliftSE * c.UpliftSE
		out.MeanFrequency += w * c.MeanFrequency
		out.Heterogeneity += w * c.Heterogeneity
		out.UnsubscribeFrequencySlope += w * c.UnsubscribeFrequencySlope
	}
	out.UpliftSE = math.Sqrt(se2)
	return out
}

// paramsOf extracts a cell's parameters, with the uplift's standard error
// from UpliftSE or else from the interval's half width.
func paramsOf(c calibration.Cell) cellParams {
	se := c.UpliftSE
	if !(se > 0) && c.UpliftHi > c.UpliftLo {
		se = (c.UpliftHi - c.UpliftLo) / (2 * z95)
	}
	return cellParams{
		exposures:  float64(c.Exposures),
		base:       clamp01(c.BaseRate),
		baseSE:     max(c.BaseRateSE, 0),
		uplift:     c.Uplift,
		upliftSE:   max(se, 0),
		het:        max(c.Heterogeneity, 0),
		campaigns:  c.Campaigns,
		rpc:        max(c.RevenuePerConversion, 0),
		cpe:        max(c.CostPerExposure, 0),
		unsub:      clamp01(c.UnsubscribeRate),
		unsubSlope: c.UnsubscribeFrequencySlope,
		meanFreq:   c.MeanFrequency,
	}
}

func clamp01(x float64) float64 {
	if !(x > 0) {
		return 0
	}
	return min(x, 1)
}

// judge returns the cached judgement of persona p (hash ph) on iv under
// timing label timing, asking the reasoner on a miss.
func (e *Engine) judge(ctx context.Context, p persona.Spec, ph string, iv persona.Intervention, variantKey, timing string) (persona.Judgement, error) {
	k := JudgementKey{Program: e.program, Persona: ph, Variant: variantKey, Channel: iv.Channel, Timing: timing}
	if j, ok := e.cache.get(k); ok {
		return j, nil
	}
	j, err := e.reasoner.Judge(ctx, p, iv)
	if err != nil {
		return j, fmt.Errorf("cannot judge variant %q on %s for persona %q: %w", iv.ID, iv.Channel, p.ID, err)
	}
	e.cache.put(k, j)
	return j, nil
}
