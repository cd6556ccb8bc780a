// Package synth generates a synthetic CRM world with known ground truth:
// segments of entities with attributes drawn from segment priors, a series
// of randomized campaigns (treatment or holdout control per targeted
// entity), and the exposures and outcomes that follow from a planted model
// (see Model, Hill and Fatigue for the formulas). Generate writes the events
// to an eventsink.Sink and returns the Truth: per campaign and segment, the
// exact expected outcomes under each arm, so tests and backtests can check
// that Preflight's estimators recover what was planted.
//
// Everything is deterministic under Config.Seed: every random draw comes
// from a math/rand/v2 PCG generator seeded from it and passed explicitly.
package synth

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/schemas"

	"github.com/preflight-hq/preflight/internal/randx"
)

// Generate builds the world that cfg describes, writes its events to sink
// and returns its truth. It does not close sink.
//
// The events come in this order: one segment event per segment, one
// intervention event per campaign, then entity, exposure and outcome events
// in timestamp order (ties in creation order), so that each entity's events
// (the Kafka key is the entity id) are in time order. Every event passes
// schemas validation. The treated exposures of one campaign share one
// Content map, so sinks that keep events (eventsink.Memory) must treat them
// as read-only. Generate stops at the first error of sink.Write or when ctx
// is done.
func Generate(ctx context.Context, cfg Config, sink eventsink.Sink) (*Truth, error) {
	c, err := cfg.resolve(newRand(cfg.Seed, streamCampaigns))
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(c.Campaigns, func(a, b CampaignSpec) int { return cmp.Compare(a.Day, b.Day) })
	g := newGenerator(c)
	g.drawEntities(newRand(c.Seed, streamEntities), newRand(c.Seed, streamIDs))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g.runCampaigns(newRand(c.Seed, streamAssignment), newRand(c.Seed, streamOutcomes))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(g.recs, func(a, b rec) int {
		if a.t != b.t {
			return cmp.Compare(a.t, b.t)
		}
		return cmp.Compare(a.seq, b.seq)
	})
	if err := g.emit(ctx, sink, newRand(c.Seed, streamIDs+1)); err != nil {
		return nil, err
	}
	return g.truth, nil
}

// Kinds of generated records.
const (
	kEntity uint8 = iota
	kExposure
	kOpen
	kClick
	kVisit
	kPurchase
	kUnsubscribe
	kComplaint
)

var outcomeNames = [...]string{kOpen: "open", kClick: "click", kVisit: "visit", kPurchase: "purchase", kUnsubscribe: "unsubscribe", kComplaint: "complaint"}

// rec is one event to emit, compact so that a large world sorts quickly.
type rec struct {
	t       int64 // unix seconds
	seq     int32 // creation order, breaks ties in t
	ent     int32
	camp    int16
	kind    uint8
	treated bool
	freq    int32
	value   float64
}

// entity is one generated customer with its model terms.
type entity struct {
	id         string
	seg        int
	created    int64
	age        int
	tenure     int
	recency    int
	history    float64
	priceSens  float64
	engagement float64
	category   int
	risk       float64
	eta0       float64 // baseline purchase logit before drift
	basket     float64 // expected basket value before any discount
}

type generator struct {
	cfg      Config
	segIndex map[string]int
	channels []string // distinct channels in campaign order
	chIndex  map[string]int
	ents     []entity
	recs     []rec
	truth    *Truth
}

func newGenerator(c Config) *generator {
	g := &generator{cfg: c, segIndex: map[string]int{}, chIndex: map[string]int{}}
	for i, s := range c.Segments {
		g.segIndex[s.ID] = i
	}
	for _, cs := range c.Campaigns {
		if _, ok := g.chIndex[cs.Channel]; !ok {
			g.chIndex[cs.Channel] = len(g.channels)
			g.channels = append(g.channels, cs.Channel)
		}
	}
	g.truth = &Truth{
		Config:     c,
		Saturation: c.Saturation,
		Drift:      c.Drift,
		Fatigue:    FatigueTruth{Params: *c.Fatigue, ByChannel: map[string][]FrequencyTruth{}},
		Events:     map[string]int64{},
	}
	return g
}

func (g *generator) add(r rec) {
	r.seq = int32(len(g.recs))
	g.recs = append(g.recs, r)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// drawEntities draws every entity's segment and attributes from re and its
// id from rid, and computes its baseline terms.
func (g *generator) drawEntities(re, rid *rand.Rand) {
	c := g.cfg
	m := c.Model
	cum := make([]float64, len(c.Segments))
	total := 0.0
	for i, s := range c.Segments {
		total += s.Share
		cum[i] = total
	}
	// Per-segment cumulative category weights, in Categories order.
	catCum := make([][]float64, len(c.Segments))
	for i, s := range c.Segments {
		cc := make([]float64, len(c.Categories))
		t := 0.0
		for j, cat := range c.Categories {
			w := 1.0
			if s.CategoryWeights != nil {
				w = s.CategoryWeights[cat]
			}
			t += w
			cc[j] = t
		}
		catCum[i] = cc
	}
	start := c.Start.Unix()
	g.ents = make([]entity, c.Entities)
	sizes := make([]int, len(c.Segments))
	base := make([]float64, len(c.Segments))
	for i := range g.ents {
		u := re.Float64() * total
		seg, _ := slices.BinarySearch(cum, u)
		seg = min(seg, len(cum)-1)
		s := c.Segments[seg]
		e := entity{id: newUUID(rid), seg: seg}
		e.age = int(math.Round(min(90, max(18, s.AgeMean+s.AgeSD*re.NormFloat64()))))
		tenure := 1 + int(randx.Gamma(re, 2)*s.TenureMeanDays/2)
		if s.TenureMaxDays > 0 {
			tenure = min(tenure, s.TenureMaxDays)
		}
		e.tenure = tenure
		e.recency = min(tenure, int(re.ExpFloat64()*s.RecencyMeanDays))
		e.history = round(s.HistoryMedian*math.Exp(s.HistorySigma*re.NormFloat64()), 2)
		e.priceSens = round(randx.Beta(re, s.PriceSensitivity[0], s.PriceSensitivity[1]), 3)
		e.engagement = round(randx.Beta(re, s.Engagement[0], s.Engagement[1]), 3)
		cu := re.Float64() * catCum[seg][len(c.Categories)-1]
		cat, _ := slices.BinarySearch(catCum[seg], cu)
		// Skip zero-weight categories that share the cumulative value.
		for cat < len(c.Categories)-1 && catCum[seg][cat] <= cu {
			cat++
		}
		e.category = cat
		e.created = start - int64(tenure)*86400 + re.Int64N(86400)
		e.risk = min(float64(e.recency)/120, 1)
		e.eta0 = m.BaseIntercept + s.BaseOffset +
			m.HistoryCoef*(math.Log1p(e.history)-5.5) +
			m.RecencyCoef*float64(e.recency)/30 +
			m.EngagementCoef*(e.engagement-0.5)
		e.basket = m.BasketBase + m.BasketPerHistory*e.history
		g.ents[i] = e
		sizes[seg]++
		base[seg] += sigmoid(e.eta0)
		g.add(rec{t: e.created, ent: int32(i), kind: kEntity})
	}
	for i, s := range c.Segments {
		st := SegmentTruth{ID: s.ID, Size: sizes[i]}
		if sizes[i] > 0 {
			st.BaselinePurchaseRate = base[i] / float64(sizes[i])
		}
		g.truth.Segments = append(g.truth.Segments, st)
	}
}

// assignment is one entity's place in one campaign.
type assignment struct {
	ent     int32
	treated bool
	freq    int32
	t       int64
	unsubP  float64
	unsubAt int64 // 0: did not unsubscribe
}

// runCampaigns assigns arms (from ra: arm, send time, unsubscribe) and
// draws outcomes (from ro), campaign by campaign in send order.
func (g *generator) runCampaigns(ra, ro *rand.Rand) {
	c := g.cfg
	m := c.Model
	fat := c.Fatigue
	nch := len(g.channels)
	freq := make([]int32, len(g.ents)*nch)
	unsub := make([]bool, len(g.ents)*nch)
	start := c.Start.Unix()
	window := int64(c.AttributionDays * 86400)
	sends := make([]int64, len(c.Campaigns))
	for i, cs := range c.Campaigns {
		sends[i] = start + int64(math.Round(cs.Day*86400))
	}
	type freqAcc struct {
		n       int
		un, cpl float64
	}
	fatigue := make([][]freqAcc, nch)
	var as []assignment
	for ci, cs := range c.Campaigns {
		ch := g.chIndex[cs.Channel]
		send := sends[ci]
		// An unsubscribe happens before the next send on the channel: the
		// next send starts >= 6 h later and its exposures begin at its
		// start, ours end within 2 h of ours.
		unsubMax := int64(86400)
		for cj := ci + 1; cj < len(c.Campaigns); cj++ {
			if c.Campaigns[cj].Channel == cs.Channel {
				unsubMax = min(unsubMax, sends[cj]-send-7200-60)
				break
			}
		}
		targeted := make([]bool, len(c.Segments))
		for i := range targeted {
			targeted[i] = len(cs.Segments) == 0
		}
		for _, s := range cs.Segments {
			targeted[g.segIndex[s]] = true
		}

		// Assignment.
		as = as[:0]
		treatedN := 0
		for i := range g.ents {
			e := &g.ents[i]
			k := i*nch + ch
			if !targeted[e.seg] || unsub[k] {
				continue
			}
			a := assignment{ent: int32(i), t: send + ra.Int64N(7200)}
			a.treated = ra.Float64() >= c.HoldoutShare
			if a.treated {
				treatedN++
				freq[k]++
				a.freq = freq[k]
				a.unsubP = sigmoid(fat.UnsubIntercept[cs.Channel] + fat.FrequencySlope*float64(a.freq-1) + fat.EngagementCoef*(e.engagement-0.5))
				if ra.Float64() < a.unsubP {
					unsub[k] = true
					a.unsubAt = a.t + uniformSeconds(ra, 600, unsubMax)
				}
			}
			as = append(as, a)
		}

		// Outcomes and truth.
		sat := c.Saturation[cs.Channel].Multiplier(float64(treatedN))
		drifted := c.Drift != nil && !time.Unix(send, 0).Before(c.Drift.At)
		cr := cs.Creative
		catIdx := slices.Index(c.Categories, cr.Category)
		chEffect := m.ChannelEffect[cs.Channel]
		openLogit := logit(m.OpenRate[cs.Channel])
		clickLogit := logit(m.ClickRate)
		discountKeep := 1 - cr.DiscountPct/100
		complaintBase := fat.ComplaintIntercept
		all := &expAcc{}
		bySeg := make([]*expAcc, len(c.Segments))
		for i := range bySeg {
			if targeted[i] {
				bySeg[i] = &expAcc{}
			}
		}
		ct := CampaignTruth{
			ID: cs.ID, InterventionID: cs.InterventionID, Channel: cs.Channel,
			SentAt: time.Unix(send, 0).UTC(), Creative: cr, Segments: cs.Segments,
			CostPerSend: c.Costs[cs.Channel], SaturationMultiplier: sat, Drifted: drifted,
		}
		if ct.Segments == nil {
			for _, s := range c.Segments {
				ct.Segments = append(ct.Segments, s.ID)
			}
		}
		for _, a := range as {
			e := &g.ents[a.ent]
			seg := c.Segments[e.seg]
			eta := e.eta0
			scale := sat * seg.Sensitivity
			if drifted && (c.Drift.Segment == "" || c.Drift.Segment == seg.ID) {
				eta += math.Log(c.Drift.BaseOddsFactor)
				scale *= c.Drift.EffectFactor
			}
			match := 0.0
			if e.category == catIdx {
				match = 1
			}
			gx := chEffect +
				m.UrgencyCoef*cr.Urgency*(e.risk-0.35) +
				m.DiscountCoef*(cr.DiscountPct/30)*(e.priceSens-0.35) +
				m.RelevanceCoef*match +
				m.PersonalizationCoef*cr.Personalization*(e.engagement-0.2)
			tau := scale * gx
			p0, p1 := sigmoid(eta), sigmoid(eta+tau)
			vn0 := sigmoid(eta + m.VisitLift)
			vn1 := sigmoid(eta + m.VisitLift + m.VisitEffectShare*tau)
			q0, q1 := p0+(1-p0)*vn0, p1+(1-p1)*vn1
			b0, b1 := e.basket, e.basket*discountKeep
			r0, r1 := p0*b0, p1*b1

			for _, acc := range [2]*expAcc{all, bySeg[e.seg]} {
				acc.p1All += p1
				acc.p0All += p0
				acc.tau += tau
				acc.v1A += q1
				acc.v0A += q0
				acc.r1A += r1
				acc.r0A += r0
				if a.treated {
					acc.nT++
					acc.p1T += p1
					acc.v1T += q1
					acc.r1T += r1
				} else {
					acc.nC++
					acc.p0C += p0
					acc.v0C += q0
					acc.r0C += r0
				}
			}
			if c.EntityTruth {
				arm := schemas.ArmControl
				if a.treated {
					arm = schemas.ArmTreatment
				}
				g.truth.EntityEffects = append(g.truth.EntityEffects, EntityEffect{
					EntityID: e.id, CampaignID: cs.ID, Segment: seg.ID, Arm: arm, P0: p0, P1: p1, Tau: tau})
			}

			g.add(rec{t: a.t, ent: a.ent, camp: int16(ci), kind: kExposure, treated: a.treated, freq: a.freq})
			p, vn, basket := p0, vn0, b0
			if a.treated {
				p, vn, basket = p1, vn1, b1
			}
			if ro.Float64() < p {
				pt := a.t + uniformSeconds(ro, 3600, window)
				value := round(basket*math.Exp(m.BasketSigma*ro.NormFloat64()-m.BasketSigma*m.BasketSigma/2), 2)
				vt := max(a.t+60, pt-uniformSeconds(ro, 120, 3600))
				g.add(rec{t: vt, ent: a.ent, camp: int16(ci), kind: kVisit})
				g.add(rec{t: pt, ent: a.ent, camp: int16(ci), kind: kPurchase, value: value})
			} else if ro.Float64() < vn {
				g.add(rec{t: a.t + uniformSeconds(ro, 1800, window), ent: a.ent, camp: int16(ci), kind: kVisit})
			}
			if !a.treated {
				continue
			}
			openP := sigmoid(openLogit + 2*(e.engagement-0.5))
			clickP := sigmoid(clickLogit + 0.8*match + 0.5*cr.Personalization)
			complaintP := sigmoid(complaintBase + fat.ComplaintSlope*float64(a.freq-1))
			if ro.Float64() < openP {
				ot := a.t + 60 + min(window, int64(ro.ExpFloat64()*3*3600))
				g.add(rec{t: ot, ent: a.ent, camp: int16(ci), kind: kOpen})
				if ro.Float64() < clickP {
					g.add(rec{t: ot + 30 + int64(ro.ExpFloat64()*600), ent: a.ent, camp: int16(ci), kind: kClick})
				}
			}
			if ro.Float64() < complaintP {
				g.add(rec{t: a.t + uniformSeconds(ro, 600, 48*3600), ent: a.ent, camp: int16(ci), kind: kComplaint})
			}
			if a.unsubAt != 0 {
				g.add(rec{t: a.unsubAt, ent: a.ent, camp: int16(ci), kind: kUnsubscribe})
			}
			for _, acc := range [2]*expAcc{all, bySeg[e.seg]} {
				acc.open += openP
				acc.click += openP * clickP
				acc.un += a.unsubP
				acc.cp += complaintP
			}
			fa := fatigue[ch]
			for len(fa) < int(a.freq) {
				fa = append(fa, freqAcc{})
			}
			fa[a.freq-1].n++
			fa[a.freq-1].un += a.unsubP
			fa[a.freq-1].cpl += complaintP
			fatigue[ch] = fa
		}
		ct.Spend = float64(treatedN) * ct.CostPerSend
		ct.All = all.result()
		ct.BySegment = map[string]Expected{}
		for i, acc := range bySeg {
			if acc != nil {
				ct.BySegment[c.Segments[i].ID] = acc.result()
			}
		}
		g.truth.Campaigns = append(g.truth.Campaigns, ct)
	}
	for ch, fa := range fatigue {
		out := make([]FrequencyTruth, len(fa))
		for i, f := range fa {
			out[i] = FrequencyTruth{Frequency: i + 1, Sends: f.n}
			if f.n > 0 {
				out[i].UnsubscribeRate = f.un / float64(f.n)
				out[i].ComplaintRate = f.cpl / float64(f.n)
			}
		}
		g.truth.Fatigue.ByChannel[g.channels[ch]] = out
	}
}

// emit writes the definitions and then the sorted records to sink, drawing
// event ids from rid.
func (g *generator) emit(ctx context.Context, sink eventsink.Sink, rid *rand.Rand) error {
	c := g.cfg
	write := func(ev schemas.Event) error {
		if err := sink.Write(ctx, ev); err != nil {
			return fmt.Errorf("cannot write %s event %s: %w", ev.Type(), ev.ID(), err)
		}
		g.truth.Events[string(ev.Type())]++
		return nil
	}
	for _, ev := range g.segmentEvents(rid) {
		if err := write(ev); err != nil {
			return err
		}
	}
	content := make([]map[string]any, len(c.Campaigns))
	for i, cs := range c.Campaigns {
		content[i] = creativeMap(cs)
		content[i]["subject"] = cs.Template
		targeting := map[string]any{"holdout_share": c.HoldoutShare}
		if len(cs.Segments) > 0 {
			targeting["segments"] = slices.Clone(cs.Segments)
		} else {
			targeting["segments"] = "all"
		}
		ev := &schemas.Intervention{
			EventID:           newUUID(rid),
			InterventionID:    cs.InterventionID,
			Kind:              cs.Channel,
			CreatedAt:         c.Start.Add(time.Duration(math.Round(cs.Day*86400))*time.Second - 24*time.Hour),
			ContentTemplate:   cs.Template,
			CreativeElements:  creativeMap(cs),
			TargetingCriteria: targeting,
			Metadata:          map[string]any{"campaign_id": cs.ID, "source": "synth"},
		}
		if err := write(ev); err != nil {
			return err
		}
	}
	for i, r := range g.recs {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		e := &g.ents[r.ent]
		segID := c.Segments[e.seg].ID
		ts := time.Unix(r.t, 0).UTC()
		var ev schemas.Event
		switch r.kind {
		case kEntity:
			ev = &schemas.Entity{
				EventID:        newUUID(rid),
				EntityID:       e.id,
				SegmentID:      segID,
				CreatedAt:      ts,
				LifecycleStage: lifecycle(e),
				ValueTier:      valueTier(e.history),
				Attributes: map[string]any{
					"age":               e.age,
					"tenure_days":       e.tenure,
					"recency_days":      e.recency,
					"history_value":     e.history,
					"price_sensitivity": e.priceSens,
					"engagement":        e.engagement,
					"category_affinity": c.Categories[e.category],
				},
			}
		case kExposure:
			cs := &c.Campaigns[r.camp]
			x := &schemas.Exposure{
				EventID:        newUUID(rid),
				ExposureID:     newUUID(rid),
				EntityID:       e.id,
				SegmentID:      segID,
				Timestamp:      ts,
				Channel:        cs.Channel,
				CampaignID:     cs.ID,
				InterventionID: cs.InterventionID,
				Arm:            schemas.ArmControl,
			}
			if r.treated {
				x.Arm = schemas.ArmTreatment
				x.Content = content[r.camp]
				x.Cost = c.Costs[cs.Channel]
				x.FrequencyCumulative = int(r.freq)
			}
			ev = x
		default:
			ev = &schemas.Outcome{
				EventID:     newUUID(rid),
				OutcomeID:   newUUID(rid),
				EntityID:    e.id,
				Timestamp:   ts,
				OutcomeType: outcomeNames[r.kind],
				Value:       r.value,
				CampaignID:  c.Campaigns[r.camp].ID,
			}
		}
		if err := write(ev); err != nil {
			return err
		}
	}
	return nil
}

// segmentEvents describes each segment with its priors and the summary of
// its generated entities.
func (g *generator) segmentEvents(rid *rand.Rand) []schemas.Event {
	c := g.cfg
	type sums struct{ n, hist, rec, tenure float64 }
	s := make([]sums, len(c.Segments))
	for i := range g.ents {
		e := &g.ents[i]
		s[e.seg].n++
		s[e.seg].hist += e.history
		s[e.seg].rec += float64(e.recency)
		s[e.seg].tenure += float64(e.tenure)
	}
	out := make([]schemas.Event, len(c.Segments))
	for i, sp := range c.Segments {
		priors := map[string]any{
			"age_mean": sp.AgeMean, "age_sd": sp.AgeSD,
			"tenure_mean_days": sp.TenureMeanDays, "recency_mean_days": sp.RecencyMeanDays,
			"history_median": sp.HistoryMedian, "history_sigma": sp.HistorySigma,
			"price_sensitivity_beta": []float64{sp.PriceSensitivity[0], sp.PriceSensitivity[1]},
			"engagement_beta":        []float64{sp.Engagement[0], sp.Engagement[1]},
		}
		if sp.CategoryWeights != nil {
			w := map[string]any{}
			for k, v := range sp.CategoryWeights {
				w[k] = v
			}
			priors["category_weights"] = w
		}
		hist := map[string]any{}
		if n := s[i].n; n > 0 {
			hist["mean_history_value"] = round(s[i].hist/n, 2)
			hist["mean_recency_days"] = round(s[i].rec/n, 2)
			hist["mean_tenure_days"] = round(s[i].tenure/n, 2)
		}
		out[i] = &schemas.Segment{
			EventID:           newUUID(rid),
			SegmentID:         sp.ID,
			UpdatedAt:         c.Start,
			Definition:        map[string]any{"description": sp.Description, "source": "synth"},
			Size:              int64(s[i].n),
			TraitPriors:       priors,
			HistoricalMetrics: hist,
		}
	}
	return out
}

func creativeMap(cs CampaignSpec) map[string]any {
	return map[string]any{
		"urgency":            cs.Creative.Urgency,
		"discount_pct":       cs.Creative.DiscountPct,
		"relevance_category": cs.Creative.Category,
		"personalization":    cs.Creative.Personalization,
		"channel":            cs.Channel,
	}
}

// lifecycle names an entity's lifecycle stage at Start.
func lifecycle(e *entity) string {
	switch {
	case e.tenure <= 90:
		return "new"
	case e.recency > 90:
		return "lapsing"
	}
	return "active"
}

// valueTier names an entity's value tier from its past-year spend.
func valueTier(history float64) string {
	switch {
	case history >= 800:
		return "gold"
	case history >= 250:
		return "silver"
	}
	return "bronze"
}
