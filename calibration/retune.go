package calibration

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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/preflight-hq/preflight/calibration/rake"
	"github.com/preflight-hq/preflight/calibration/smm"
	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/optimize"
	"github.com/preflight-hq/preflight/warehouse"
)

// SegmentFit reports the persona re-weighting of one segment.
type SegmentFit struct {
	SegmentID string `json:"segment_id"`
	// Interventions is the number of observed uplifts (moments) fitted.
	Interventions int `json:"interventions"`
	// Personas is the number of personas re-weighted.
	Personas int `json:"personas"`
	// Objective is the fit's Q(θ̂), the weighted squared distance between
	// the simulated and the observed uplifts, and StartObjective Q at the
	// starting (previous) weights.
	Objective      float64 `json:"objective"`
	StartObjective float64 `json:"start_objective"`
	// Identified says whether the uplifts pin the weights down (the
	// Jacobian has full rank); Rank is that rank, out of Personas − 1.
	Identified bool `json:"identified"`
	Rank       int  `json:"rank"`
	// Converged says whether the optimizer stopped on a convergence test.
	Converged bool `json:"converged"`
	// Improvement is StartObjective − Objective and PValue its upper tail
	// probability under χ² with Personas − 1 degrees of freedom: with the
	// diagonal weighting of independent cells' uplifts Q is a χ² distance,
	// so a large PValue means the data do not tell the new weights from
	// the previous ones.
	Improvement float64 `json:"improvement"`
	PValue      float64 `json:"p_value"`
	// Kept is true when the fitted weights were not applied because
	// PValue exceeded Config.ReweightPValue.
	Kept bool `json:"kept,omitempty"`
}

// Raking reports how the intervention cells were raked.
type Raking struct {
	// Source names the prediction raked: "effect_map" (the cell's base
	// rate plus the persona-weighted uplift of the intent-to-effect map)
	// or "pooled" (the treated rate of the cell's segment × channel, when
	// there is no effect map).
	Source string `json:"source"`
	// Cells is the number of intervention cells raked.
	Cells int `json:"cells"`
	// SegmentTotals and ChannelTotals are the margins: the observed
	// treated conversions of the raked cells per segment and per channel.
	SegmentTotals map[string]float64 `json:"segment_totals"`
	ChannelTotals map[string]float64 `json:"channel_totals"`
	// Converged, Sweeps and MaxRelErr are how IPF ended (rake.Result).
	Converged bool    `json:"converged"`
	Sweeps    int     `json:"sweeps"`
	MaxRelErr float64 `json:"max_rel_err"`
	// KishNEff is Kish's effective number of cells of the raking factors
	// (raked over predicted conversions): Cells when every cell was
	// scaled alike, less as the factors spread.
	KishNEff float64 `json:"kish_n_eff"`
	// MixFactors holds, per channel of Config.MarketingMix that could be
	// applied, the factor that scaled the cells' incremental conversions
	// to the marketing-mix total.
	MixFactors map[string]float64 `json:"mix_factors,omitempty"`
	// MixSource names where the channel totals of MixFactors came from:
	// "config" (Config.MarketingMix) or "mmm" (the marketing-mix model
	// refitted on the window, see Snapshot.MMM).
	MixSource string `json:"mix_source,omitempty"`
}

// ProgramRetune reports a persona prompt program search.
type ProgramRetune struct {
	// Promoted says whether the searched program replaced the previous
	// one (optimize.Result.Promote).
	Promoted bool `json:"promoted"`
	// Version is the version of the searched program.
	Version int `json:"version"`
	// ZeroShot, Val and Test are the scores of the base program and of
	// the winner on validation, and of the winner on test (NaN-free: 0
	// when there was no test score).
	ZeroShot float64 `json:"zero_shot"`
	Val      float64 `json:"val"`
	Test     float64 `json:"test"`
	// Calls, Budget and Stopped are how the search ended.
	Calls   int    `json:"calls"`
	Budget  int    `json:"budget"`
	Stopped string `json:"stopped"`
	// Examples is the number of persona × intervention examples.
	Examples int `json:"examples"`
}

// Prediction floor and ceiling of a cell's raked conversion rate.
const (
	minPredictedRate = 1e-6
	maxPredictedRate = 1 - 1e-6
)

// retune runs the retuning steps of Calibrate on s, whose cells, personas,
// program and effect map are set:
//
//  1. The intent-to-effect map and the persona weights. The window's
//     intervention cells name the interventions; their stored events
//     (warehouse.Calibrations.InterventionEvents) give the content, mapped
//     by interventionFromEvent. cfg.Reasoner judges every persona of a
//     segment on every intervention measured in the segment (cached). The
//     map is optimize.FitEffectMap over one point per intervention cell:
//     the persona-weighted mean intent (previous weights) against the
//     measured uplift, weighted by its inverse variance. Then each
//     segment's weights are refitted by smm.PersonaWeights so that the
//     simulated uplifts, Σ_k w_k·EffectMap(channel, segment, intent_kj),
//     match the measured ones, with the diagonal weighting of their
//     variances. With fewer than cfg.MinInterventions distinct
//     interventions in the window the previous map and weights are kept;
//     a segment with fewer keeps its weights.
//  2. Raking (see rakeCells).
//  3. The program search, when cfg.ProgramReasoner is set (see
//     retuneProgram).
//
// What cannot be done is noted; only the end of ctx is an error.
func retune(ctx context.Context, wh warehouse.Warehouse, cfg Config, s *Snapshot, note func(string, ...any)) error {
	ivCells := interventionCells(s.Cells)
	ivs, err := windowInterventions(ctx, wh, s, ivCells, note)
	if err != nil {
		return err
	}
	reasoner := &cachedReasoner{r: cfg.Reasoner, m: map[[2]string]persona.Judgement{}}
	judged, err := judgeCells(ctx, s, ivCells, ivs, reasoner)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		note("interventions not judged, effect map and persona weights kept: %v", err)
		judged = nil
	}
	distinct := map[string]bool{}
	for _, jc := range judged {
		distinct[jc.cell.InterventionID] = true
	}
	switch {
	case len(judged) == 0:
	case len(distinct) < cfg.MinInterventions:
		note("effect map and persona weights kept: %d interventions with a measured cell in the window, fewer than the %d a refit needs", len(distinct), cfg.MinInterventions)
	default:
		if err := fitEffectAndWeights(ctx, cfg, s, judged, reasoner, note); err != nil {
			return err
		}
	}
	for i := range judged {
		jc := &judged[i]
		v := jc.weightedIntent(s.Personas)
		s.Cells[jc.idx].Intent = &v
	}
	if s.EffectMap != nil && len(judged) > 0 {
		s.ContentEffect = checkContentEffect(s, judged)
		if ce := s.ContentEffect; ce != nil && ce.Weight < 0.5 {
			note("the personas' intents explain little of how content moves uplift (leave-one-out slope %.2f over %d cells): the simulator leans on measured uplifts", ce.Weight, ce.Cells)
		}
	}
	rakeCells(cfg, s, ivCells, judged, note)
	return retuneProgram(ctx, cfg, s, judged, note)
}

// interventionCells returns the indexes of s's intervention cells with
// treated and control exposures.
func interventionCells(cells []Cell) []int {
	var out []int
	for i, c := range cells {
		if c.InterventionID != "" && c.TreatedExposures > 0 && c.ControlExposures > 0 {
			out = append(out, i)
		}
	}
	return out
}

// windowInterventions reads the stored events of the interventions of the
// cells ivCells, created before the window's end, and maps each
// intervention's latest event to a persona.Intervention (by id). Events
// created before the window count, since an intervention is defined
// before it is sent.
func windowInterventions(ctx context.Context, wh warehouse.Warehouse, s *Snapshot, ivCells []int, note func(string, ...any)) (map[string]persona.Intervention, error) {
	if len(ivCells) == 0 {
		note("no intervention cells in the window: effect map, persona weights and program kept")
		return nil, nil
	}
	cal, ok := wh.(warehouse.Calibrations)
	if !ok {
		note("interventions not read: the warehouse (%s) does not implement warehouse.Calibrations; effect map, persona weights and program kept", wh.Backend())
		return nil, nil
	}
	evs, err := cal.InterventionEvents(ctx, time.Time{}, s.WindowEnd)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		note("interventions not read: %v; effect map, persona weights and program kept", err)
		return nil, nil
	}
	channels := map[string]string{}
	for _, i := range ivCells {
		c := s.Cells[i]
		if _, ok := channels[c.InterventionID]; !ok {
			channels[c.InterventionID] = c.Channel
		}
	}
	latest := map[string]warehouse.InterventionEvent{}
	for _, ev := range evs { // oldest first: the latest event wins
		if _, ok := channels[ev.InterventionID]; ok {
			latest[ev.InterventionID] = ev
		}
	}
	out := map[string]persona.Intervention{}
	var missing, invalid []string
	for id, ch := range channels {
		ev, ok := latest[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		iv, err := interventionFromEvent(ev, ch)
		if err != nil {
			invalid = append(invalid, fmt.Sprintf("%s (%v)", id, err))
			continue
		}
		out[id] = iv
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		note("%d interventions of the window have no stored intervention event and are not judged: %s", len(missing), strings.Join(missing, ", "))
	}
	if len(invalid) > 0 {
		slices.Sort(invalid)
		note("%d intervention events could not be mapped and are not judged: %s", len(invalid), strings.Join(invalid, "; "))
	}
	return out, nil
}

// interventionFromEvent maps a stored intervention event to what a
// persona judges. The mapping:
//
//   - ID is the intervention_id; Template the content_template; Subject
//     the creative element "subject" (or "headline") when it is text.
//   - Channel is the event's type when it names a persona channel
//     (persona.Channels), else the creative element "channel", else the
//     channel the intervention was measured on (cellChannel).
//   - Category is the creative element "relevance_category" (synth's
//     name) or "category".
//   - Offer: "discount_pct" (percent, or "discount" as a fraction ≤ 1 or a
//     percent above 1) > 0 is percent_off of that value; else
//     "amount_off" > 0 is amount_off; else a true "free_shipping" or
//     "gift" is that kind; else none.
//   - Offer.ExpiresHours is "expires_hours" when given; else an
//     "urgency" u in (0, 1] becomes the deadline h = H·(1 − u)/u, with H
//     the built-in reasoner's UrgencyHalfLifeHours, so that the built-in's
//     deadline urgency H/(H + h) equals u (u = 1 is a one-hour deadline).
//   - SendHour and DayOfWeek are the creative elements "send_hour" and
//     "day_of_week" when given, else −1 (unknown); RecentExposures is
//     "recent_exposures" when given, else 0.
//   - Personalization has no field of its own: it reaches the reasoner
//     through the template's {{placeholders}}, which synth writes when
//     personalization ≥ 0.5.
//
// Creative elements that are not a JSON object fail; unknown ones are
// ignored. The result is validated.
func interventionFromEvent(ev warehouse.InterventionEvent, cellChannel string) (persona.Intervention, error) {
	ce := map[string]any{}
	if t := strings.TrimSpace(ev.CreativeElements); t != "" && t != "null" {
		if err := json.Unmarshal([]byte(t), &ce); err != nil {
			return persona.Intervention{}, fmt.Errorf("creative elements are not a JSON object: %w", err)
		}
	}
	num := func(keys ...string) (float64, bool) {
		for _, k := range keys {
			switch v := ce[k].(type) {
			case float64:
				if !math.IsNaN(v) && !math.IsInf(v, 0) {
					return v, true
				}
			case string:
				if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
					return f, true
				}
			}
		}
		return 0, false
	}
	text := func(keys ...string) string {
		for _, k := range keys {
			if v, ok := ce[k].(string); ok && v != "" {
				return v
			}
		}
		return ""
	}
	truthy := func(k string) bool {
		switch v := ce[k].(type) {
		case bool:
			return v
		case float64:
			return v > 0
		case string:
			b, _ := strconv.ParseBool(v)
			return b
		}
		return false
	}
	iv := persona.Intervention{
		ID: ev.InterventionID, Template: ev.ContentTemplate, Subject: text("subject", "headline"),
		Category: text("relevance_category", "category"), Offer: persona.Offer{Kind: persona.OfferNone},
		SendHour: -1, DayOfWeek: -1,
	}
	switch {
	case slices.Contains(persona.Channels, ev.Type):
		iv.Channel = ev.Type
	case text("channel") != "":
		iv.Channel = text("channel")
	default:
		iv.Channel = cellChannel
	}
	pct, ok := num("discount_pct")
	if !ok {
		if d, ok2 := num("discount"); ok2 {
			pct = d
			if d <= 1 {
				pct = 100 * d
			}
		}
	}
	switch {
	case pct > 0:
		iv.Offer = persona.Offer{Kind: persona.OfferPercentOff, Value: min(pct, 100)}
	default:
		if a, ok := num("amount_off"); ok && a > 0 {
			iv.Offer = persona.Offer{Kind: persona.OfferAmountOff, Value: a}
		} else if truthy("free_shipping") {
			iv.Offer.Kind = persona.OfferFreeShipping
		} else if truthy("gift") {
			iv.Offer.Kind = persona.OfferGift
		}
	}
	if h, ok := num("expires_hours"); ok && h > 0 {
		iv.Offer.ExpiresHours = h
	} else if u, ok := num("urgency"); ok && u > 0 {
		half := persona.DefaultCoefficients().UrgencyHalfLifeHours
		iv.Offer.ExpiresHours = half * (1 - min(u, 1)) / min(u, 1)
		if iv.Offer.ExpiresHours == 0 {
			iv.Offer.ExpiresHours = 1
		}
	}
	if h, ok := num("send_hour"); ok && h >= 0 && h <= 23 {
		iv.SendHour = int(h)
	}
	if d, ok := num("day_of_week"); ok && d >= 0 && d <= 6 {
		iv.DayOfWeek = int(d)
	}
	if n, ok := num("recent_exposures"); ok && n >= 0 {
		iv.RecentExposures = int(n)
	}
	return iv, iv.Validate()
}

// cachedReasoner judges each persona × intervention once.
type cachedReasoner struct {
	r  persona.Reasoner
	mu sync.Mutex
	m  map[[2]string]persona.Judgement
}

// Judge implements persona.Reasoner, answering a pair judged before from
// the cache.
func (c *cachedReasoner) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	k := [2]string{p.ID, iv.ID}
	c.mu.Lock()
	j, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return j, nil
	}
	j, err := c.r.Judge(ctx, p, iv)
	if err != nil {
		return j, err
	}
	c.mu.Lock()
	c.m[k] = j
	c.mu.Unlock()
	return j, nil
}

// effectReasoner answers with the uplift the effect map gives the inner
// judgement's intent change (in IntentChange), so that smm.PersonaWeights'
// moments are simulated uplifts in the units of the observed ones.
type effectReasoner struct {
	r persona.Reasoner
	m *optimize.EffectMap
}

// Judge implements persona.Reasoner.
func (e effectReasoner) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	j, err := e.r.Judge(ctx, p, iv)
	if err != nil {
		return j, err
	}
	j.IntentChange = e.m.Map(iv.Channel, p.SegmentID, j.IntentChange)
	return j, nil
}

// judgedCell is one intervention cell of the snapshot with its
// intervention and the judgements of its segment's personas.
type judgedCell struct {
	idx  int // index into Snapshot.Cells
	cell Cell
	iv   persona.Intervention
	// personas indexes Snapshot.Personas (the cell's segment), and
	// intents holds their judged intent changes, aligned.
	personas []int
	intents  []float64
}

// judgeCells judges, for every intervention cell whose intervention is
// known, the personas of the cell's segment.
func judgeCells(ctx context.Context, s *Snapshot, ivCells []int, ivs map[string]persona.Intervention, r persona.Reasoner) ([]judgedCell, error) {
	bySeg := map[string][]int{}
	for k, p := range s.Personas {
		bySeg[p.SegmentID] = append(bySeg[p.SegmentID], k)
	}
	var out []judgedCell
	for _, i := range ivCells {
		c := s.Cells[i]
		iv, ok := ivs[c.InterventionID]
		if !ok || len(bySeg[c.SegmentID]) == 0 {
			continue
		}
		jc := judgedCell{idx: i, cell: c, iv: iv, personas: bySeg[c.SegmentID]}
		for _, k := range jc.personas {
			j, err := r.Judge(ctx, s.Personas[k], iv)
			if err != nil {
				return nil, fmt.Errorf("cannot judge intervention %q for persona %q: %w", iv.ID, s.Personas[k].ID, err)
			}
			jc.intents = append(jc.intents, j.IntentChange)
		}
		out = append(out, jc)
	}
	return out, nil
}

// weightedIntent is the persona-weighted mean intent of a judged cell.
func (jc *judgedCell) weightedIntent(ps []persona.Spec) float64 {
	var sw, sum float64
	for n, k := range jc.personas {
		w := max(ps[k].Weight, 0)
		sw += w
		sum += w * jc.intents[n]
	}
	if sw == 0 {
		return 0
	}
	return sum / sw
}

// simulatedUplift is the persona-weighted uplift of the effect map for a
// judged cell: Σ_k w_k·EffectMap(channel, segment, intent_k) / Σ_k w_k.
func (jc *judgedCell) simulatedUplift(ps []persona.Spec, m *optimize.EffectMap) float64 {
	var sw, sum float64
	for n, k := range jc.personas {
		w := max(ps[k].Weight, 0)
		sw += w
		sum += w * m.Map(jc.cell.Channel, jc.cell.SegmentID, jc.intents[n])
	}
	if sw == 0 {
		return 0
	}
	return sum / sw
}

// upliftVariance is the variance of a cell's measured uplift, floored at
// 1e-6 (smm's default DiagonalFloor, so that SegmentFit's objectives are
// on one scale) so that a degenerate cell does not get an infinite weight.
func upliftVariance(c Cell) float64 { return max(c.UpliftSE*c.UpliftSE, 1e-6) }

// fitEffectAndWeights fits s.EffectMap on the judged cells and then
// re-weights each segment's personas (see retune).
func fitEffectAndWeights(ctx context.Context, cfg Config, s *Snapshot, judged []judgedCell, r persona.Reasoner, note func(string, ...any)) error {
	points := make([]optimize.EffectPoint, 0, len(judged))
	for i := range judged {
		jc := &judged[i]
		points = append(points, optimize.EffectPoint{
			Channel: jc.cell.Channel, Segment: jc.cell.SegmentID,
			Intent: jc.weightedIntent(s.Personas), Uplift: jc.cell.Uplift,
			Weight: 1 / upliftVariance(jc.cell),
		})
	}
	em, err := optimize.FitEffectMap(points, optimize.EffectMapConfig{})
	if err != nil {
		note("effect map not refitted: %v", err)
		return nil
	}
	s.EffectMap = em

	bySeg := map[string][]*judgedCell{}
	var segs []string
	for i := range judged {
		seg := judged[i].cell.SegmentID
		if _, ok := bySeg[seg]; !ok {
			segs = append(segs, seg)
		}
		bySeg[seg] = append(bySeg[seg], &judged[i])
	}
	slices.Sort(segs)
	var kept, weak []string
	for _, seg := range segs {
		jcs := bySeg[seg]
		ks := jcs[0].personas
		if len(ks) < 2 {
			continue
		}
		if len(jcs) < cfg.MinInterventions {
			kept = append(kept, fmt.Sprintf("%s (%d)", seg, len(jcs)))
			continue
		}
		ps := make([]persona.Spec, len(ks))
		for n, k := range ks {
			ps[n] = s.Personas[k]
		}
		ivs := make([]persona.Intervention, len(jcs))
		obs := make([]float64, len(jcs))
		cov := mat.NewSymDense(len(jcs), nil)
		for j, jc := range jcs {
			ivs[j], obs[j] = jc.iv, jc.cell.Uplift
			cov.SetSym(j, j, upliftVariance(jc.cell))
		}
		h := fnv.New64a()
		h.Write([]byte("reweight/" + seg))
		fit, err := smm.PersonaWeights(ctx, ps, ivs, effectReasoner{r: r, m: em}, obs, smm.PersonaOptions{
			Weighting: smm.Diagonal,
			Fit:       smm.Options{Cov: cov, Rand: rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))},
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			note("persona weights of segment %s kept: %v", seg, err)
			continue
		}
		start := 0.0
		for j, jc := range jcs {
			d := obs[j] - jc.simulatedUplift(s.Personas, em)
			start += d * d / upliftVariance(jc.cell)
		}
		sf := SegmentFit{
			SegmentID: seg, Interventions: len(jcs), Personas: len(ks),
			Objective: fit.Fit.Objective, StartObjective: start,
			Identified: fit.Fit.Identified, Rank: fit.Fit.Rank, Converged: fit.Fit.Converged,
			Improvement: max(start-fit.Fit.Objective, 0),
		}
		sf.PValue = distuv.ChiSquared{K: float64(len(ks) - 1)}.Survival(sf.Improvement)
		sf.Kept = cfg.ReweightPValue > 0 && sf.PValue > cfg.ReweightPValue
		if !sf.Kept {
			for n, k := range ks {
				s.Personas[k].Weight = fit.Weights[n]
			}
		}
		s.Reweighting = append(s.Reweighting, sf)
		if sf.Kept || sf.PValue > 0.05 || !sf.Identified {
			weak = append(weak, fmt.Sprintf("%s (Q %.3g → %.3g, p = %.2g, rank %d of %d)", seg, start, fit.Fit.Objective, sf.PValue, sf.Rank, len(ks)-1))
		}
	}
	if len(kept) > 0 {
		note("persona weights kept for segments with fewer than %d measured interventions: %s", cfg.MinInterventions, strings.Join(kept, ", "))
	}
	if len(weak) > 0 {
		what := "refitted"
		if cfg.ReweightPValue > 0 {
			what = fmt.Sprintf("kept where p > %g, else refitted", cfg.ReweightPValue)
		}
		note("persona weights weakly determined by the uplifts (not significant at 0.05 or not identified), %s: %s", what, strings.Join(weak, "; "))
	}
	return nil
}

// rakeCells rakes the predicted treated conversions of the intervention
// cells ivCells to the window's margins by IPF (rake.IPF over two margins,
// segment and channel, whose targets are the observed treated conversions
// of the same cells, so that with every intervention of a segment ×
// channel measured they are the pooled cells' totals). The prediction of a
// cell with n treated exposures is n·p, with p its base rate plus the
// persona-weighted uplift of the effect map when s has one and the cell is
// judged, else the treated rate of its pooled segment × channel cell,
// clamped into [1e-6, 1 − 1e-6]. Each cell's incremental conversions are
// the raked conversions minus n times its base rate; for the channels of
// cfg.MarketingMix they are scaled to the channel's total with
// rake.ScaleToTotals. s.Raking records the margins, IPF's convergence and
// Kish's effective number of cells of the raking factors.
func rakeCells(cfg Config, s *Snapshot, ivCells []int, judged []judgedCell, note func(string, ...any)) {
	if len(ivCells) == 0 {
		return
	}
	pooled := map[[2]string]Cell{}
	for _, c := range s.Cells {
		if c.InterventionID == "" {
			pooled[[2]string{c.SegmentID, c.Channel}] = c
		}
	}
	byIdx := map[int]*judgedCell{}
	for i := range judged {
		byIdx[judged[i].idx] = &judged[i]
	}
	r := &Raking{Cells: len(ivCells), SegmentTotals: map[string]float64{}, ChannelTotals: map[string]float64{}}
	var segs, chans []string
	for _, i := range ivCells {
		c := s.Cells[i]
		r.SegmentTotals[c.SegmentID] += float64(c.Conversions)
		r.ChannelTotals[c.Channel] += float64(c.Conversions)
		if !slices.Contains(segs, c.SegmentID) {
			segs = append(segs, c.SegmentID)
		}
		if !slices.Contains(chans, c.Channel) {
			chans = append(chans, c.Channel)
		}
	}
	slices.Sort(segs)
	slices.Sort(chans)
	design := make([]float64, len(ivCells))
	segM := rake.Margin{Name: "segment", Category: make([]int, len(ivCells)), Targets: make([]float64, len(segs))}
	chM := rake.Margin{Name: "channel", Category: make([]int, len(ivCells)), Targets: make([]float64, len(chans))}
	for n, seg := range segs {
		segM.Targets[n] = r.SegmentTotals[seg]
	}
	for n, ch := range chans {
		chM.Targets[n] = r.ChannelTotals[ch]
	}
	mapped := 0
	for n, i := range ivCells {
		c := s.Cells[i]
		var p float64
		if jc := byIdx[i]; jc != nil && s.EffectMap != nil {
			p = c.BaseRate + jc.simulatedUplift(s.Personas, s.EffectMap)
			mapped++
		} else {
			p = pooled[[2]string{c.SegmentID, c.Channel}].ConversionRate
		}
		p = min(max(p, minPredictedRate), maxPredictedRate)
		design[n] = p * float64(c.TreatedExposures)
		segM.Category[n], _ = slices.BinarySearch(segs, c.SegmentID)
		chM.Category[n], _ = slices.BinarySearch(chans, c.Channel)
	}
	switch mapped {
	case len(ivCells):
		r.Source = "effect_map"
	case 0:
		r.Source = "pooled"
	default:
		r.Source = "mixed"
	}
	raked, res, err := rake.IPF(design, []rake.Margin{segM, chM}, rake.Options{Tol: 1e-12, MaxSweeps: 2000})
	if err != nil {
		note("intervention cells not raked: %v", err)
		return
	}
	r.Converged, r.Sweeps, r.MaxRelErr = res.Converged, res.Sweeps, res.MaxRelErr
	if !res.Converged {
		note("raking did not converge in %d sweeps (largest relative margin error %.3g)", res.Sweeps, res.MaxRelErr)
	}
	factors := make([]float64, len(ivCells))
	incr := make([]float64, len(ivCells))
	for n, i := range ivCells {
		factors[n] = raked[n] / design[n]
		c := &s.Cells[i]
		n1 := float64(c.TreatedExposures)
		c.PredictedConversions = design[n]
		c.RakedConversions = raked[n]
		c.RakedConversionRate = raked[n] / n1
		incr[n] = raked[n] - c.BaseRate*n1
		c.IncrementalConversions = incr[n]
	}
	r.KishNEff = rake.Kish(factors)
	s.Raking = r
	if len(cfg.MarketingMix) > 0 {
		scaleToMix(cfg.MarketingMix, s, ivCells, incr, r, note)
	}
}

// scaleToMix scales the incremental conversions of the raked cells of
// every channel of mix to the channel's total (rake.ScaleToTotals); the
// cells of other channels keep theirs. A channel without raked cells, or
// whose cells' increments cannot be scaled to its total (a zero sum, or
// the opposite sign), is left as it is with a note.
func scaleToMix(mix map[string]float64, s *Snapshot, ivCells []int, incr []float64, r *Raking, note func(string, ...any)) {
	sums := map[string]float64{}
	has := map[string]bool{}
	for n, i := range ivCells {
		ch := s.Cells[i].Channel
		sums[ch] += incr[n]
		has[ch] = true
	}
	chans := make([]string, 0, len(mix))
	for ch := range mix {
		chans = append(chans, ch)
	}
	slices.Sort(chans)
	var groups []string
	var totals []float64
	for _, ch := range chans {
		t := mix[ch]
		switch {
		case !has[ch]:
			note("marketing-mix total of channel %s not applied: no raked intervention cell of the channel", ch)
		case math.IsNaN(t) || math.IsInf(t, 0):
			note("marketing-mix total of channel %s not applied: %v", ch, t)
		case sums[ch] == 0 || (sums[ch] > 0) != (t > 0) && t != 0:
			note("marketing-mix total of channel %s not applied: the cells' incremental conversions sum to %.4g, the total is %.4g", ch, sums[ch], t)
		default:
			groups = append(groups, ch)
			totals = append(totals, t)
		}
	}
	if len(groups) == 0 {
		return
	}
	var contrib []float64
	var group, which []int
	for n, i := range ivCells {
		g := slices.Index(groups, s.Cells[i].Channel)
		if g < 0 {
			continue
		}
		contrib = append(contrib, incr[n])
		group = append(group, g)
		which = append(which, i)
	}
	scaled, err := rake.ScaleToTotals(contrib, group, totals)
	if err != nil {
		note("marketing-mix totals not applied: %v", err)
		return
	}
	for n, i := range which {
		s.Cells[i].IncrementalConversions = scaled[n]
	}
	r.MixFactors = map[string]float64{}
	for g, ch := range groups {
		r.MixFactors[ch] = totals[g] / sums[ch]
	}
}

// retuneProgram searches the persona prompt program with optimize.Optimize
// when cfg.ProgramReasoner is set: the examples are every persona of a
// judged cell's segment (with its calibrated weight) × the cell's
// intervention, labelled with the cell's measured uplift; they are split
// by intervention with a source seeded from cfg.Seed, the base is s's
// current program, and the search may make cfg.ProgramBudget calls. The
// winner replaces s.Program only when the result says to promote it.
func retuneProgram(ctx context.Context, cfg Config, s *Snapshot, judged []judgedCell, note func(string, ...any)) error {
	if cfg.ProgramReasoner == nil {
		return nil
	}
	var examples []optimize.Example
	for _, jc := range judged {
		for _, k := range jc.personas {
			examples = append(examples, optimize.Example{
				Persona: s.Personas[k], Intervention: jc.iv, ObservedLift: jc.cell.Uplift, Segment: jc.cell.SegmentID,
			})
		}
	}
	if len(examples) == 0 {
		note("program not retuned: no judged intervention cells")
		return nil
	}
	slices.SortStableFunc(examples, func(a, b optimize.Example) int {
		return cmp.Or(cmp.Compare(a.Intervention.ID, b.Intervention.ID), cmp.Compare(a.Segment, b.Segment), cmp.Compare(a.Persona.ID, b.Persona.ID))
	})
	split, err := optimize.SplitByIntervention(examples, optimize.Fractions{}, rand.New(rand.NewPCG(cfg.Seed, 0x70726f6772616d)))
	if err != nil {
		note("program not retuned: %v", err)
		return nil
	}
	oc := cfg.ProgramSearch
	oc.Budget = cfg.ProgramBudget
	if oc.Seed == 0 {
		oc.Seed = cfg.Seed
	}
	if oc.Logger == nil {
		oc.Logger = cfg.Log
	}
	res, err := optimize.Optimize(ctx, cfg.ProgramReasoner, s.Program, split, oc)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, optimize.ErrBudgetExhausted) {
			note("program not retuned: a budget of %d calls does not cover the search (%v)", cfg.ProgramBudget, err)
		} else {
			note("program not retuned: %v", err)
		}
		return nil
	}
	pr := &ProgramRetune{
		Promoted: res.Promote, Version: res.Program.Version, ZeroShot: res.ZeroShot.Score, Val: res.Val.Score,
		Calls: res.Calls, Budget: res.Budget, Stopped: res.Stopped, Examples: len(examples),
	}
	if res.Test != nil {
		pr.Test = res.Test.Score
	}
	s.ProgramRetune = pr
	if res.Promote {
		s.Program = res.Program
	} else {
		note("program kept: the searched program (validation score %.3f) does not beat the zero-shot program (%.3f) by the promotion margin", res.Val.Score, res.ZeroShot.Score)
	}
	return nil
}

// checkContentEffect runs the leave-one-intervention-out check described
// at ContentEffect over the judged cells (intents from s's weights). It
// returns nil when no cell has another intervention of its segment ×
// channel to compare with.
func checkContentEffect(s *Snapshot, judged []judgedCell) *ContentEffect {
	return checkContentEffectOn(s, judged, func(judgedCell) bool { return true })
}

// checkContentEffectOn is checkContentEffect with the slope fitted on the
// cells keep accepts only (the maps still see every other cell).
func checkContentEffectOn(s *Snapshot, judged []judgedCell, keep func(judgedCell) bool) *ContentEffect {
	intent := make([]float64, len(judged))
	for i := range judged {
		intent[i] = judged[i].weightedIntent(s.Personas)
	}
	type obs struct {
		seg     string
		r, d, w float64
	}
	var checks []obs
	for j := range judged {
		if !keep(judged[j]) {
			continue
		}
		cj := judged[j].cell
		var points []optimize.EffectPoint
		var others []int
		for k := range judged {
			ck := judged[k].cell
			if ck.InterventionID == cj.InterventionID {
				continue
			}
			points = append(points, optimize.EffectPoint{Channel: ck.Channel, Segment: ck.SegmentID,
				Intent: intent[k], Uplift: ck.Uplift, Weight: 1 / upliftVariance(ck)})
			if ck.SegmentID == cj.SegmentID && ck.Channel == cj.Channel {
				others = append(others, k)
			}
		}
		if len(others) == 0 {
			continue
		}
		m, err := optimize.FitEffectMap(points, optimize.EffectMapConfig{})
		if err != nil {
			continue
		}
		var sw, base, ref float64
		for _, k := range others {
			w := 1 / upliftVariance(judged[k].cell)
			sw += w
			base += w * judged[k].cell.Uplift
			ref += w * m.Map(cj.Channel, cj.SegmentID, intent[k])
		}
		base, ref = base/sw, ref/sw
		d := m.Map(cj.Channel, cj.SegmentID, intent[j]) - ref
		checks = append(checks, obs{seg: cj.SegmentID, r: cj.Uplift - base, d: d, w: 1 / upliftVariance(cj)})
	}
	if len(checks) == 0 {
		return nil
	}
	var num, den float64
	segNum, segDen := map[string]float64{}, map[string]float64{}
	for _, o := range checks {
		num += o.w * o.r * o.d
		den += o.w * o.d * o.d
		segNum[o.seg] += o.w * o.r * o.d
		segDen[o.seg] += o.w * o.d * o.d
	}
	ce := &ContentEffect{Cells: len(checks), Segments: map[string]float64{}}
	if den > 0 {
		ce.Weight = min(max(num/den, 0), 1)
	}
	// Each segment's slope, as a random effect around the overall one:
	// its own least-squares slope b_s with variance σ²/den_s (σ² the
	// weighted residual variance of the overall fit), the spread τ between
	// segments by DerSimonian–Laird, and the posterior mean
	// (b_s/v_s + b/τ²)/(1/v_s + 1/τ²), which is the overall slope when the
	// segments differ by no more than noise (τ = 0).
	b := 0.0
	if den > 0 {
		b = num / den
	}
	var sse float64
	for _, o := range checks {
		e := o.r - b*o.d
		sse += o.w * e * e
	}
	sigma2 := 1.0
	if len(checks) > 1 {
		sigma2 = max(sse/float64(len(checks)-1), 1e-12)
	}
	segs := slices.Sorted(maps.Keys(segDen))
	var bs, vs []float64
	for _, seg := range segs {
		if segDen[seg] > 0 {
			bs = append(bs, segNum[seg]/segDen[seg])
			vs = append(vs, sigma2/segDen[seg])
		}
	}
	tau := dersimonianLaird(bs, vs)
	for _, seg := range segs {
		w := b
		if d := segDen[seg]; d > 0 && tau > 0 {
			v := sigma2 / d
			w = (segNum[seg]/d/v + b/(tau*tau)) / (1/v + 1/(tau*tau))
		}
		ce.Segments[seg] = min(max(w, 0), 1)
	}
	for _, o := range checks {
		ce.SSEBaseline += o.w * o.r * o.r
		e := o.r - ce.Segments[o.seg]*o.d
		ce.SSEAdjusted += o.w * e * e
	}
	return ce
}
