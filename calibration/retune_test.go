package calibration

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/optimize"
	"github.com/preflight-hq/preflight/warehouse"
)

// TestRetuneEffectMapWeightsAndRaking calibrates the stable world and
// checks the retuning steps: the snapshot carries a non-empty, monotone
// intent-to-effect map fitted on the window's 40 intervention cells;
// every segment's persona weights were refitted, moved away from uniform
// and sum to 1, and the fit brought the simulated uplifts closer to the
// observed ones; the intervention cells' raked conversions add up to the
// segment and channel margins (which are the pooled cells' observed
// totals, every intervention being measured in every segment) within
// 1e-6; and with a marketing-mix summary the channels' incremental
// conversions add up to its totals.
func TestRetuneEffectMapWeightsAndRaking(t *testing.T) {
	w := getWorld(t, false)
	ctx := context.Background()
	cfg := testConfig()
	cfg.MarketingMix = map[string]float64{"email": 150, "sms": 90}
	start := time.Now()
	s, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("calibrated in %s; notes: %q", time.Since(start).Round(time.Millisecond), s.Notes)

	// The effect map.
	em := s.EffectMap
	if em == nil {
		t.Fatal("no effect map")
	}
	if em.Pooled.Points != 40 || len(em.Pooled.X) < 2 {
		t.Errorf("pooled curve of %d points with %d knots, want 40 points (8 interventions × 5 segments) and at least 2 knots", em.Pooled.Points, len(em.Pooled.X))
	}
	curves := map[string]optimize.Curve{"pooled": em.Pooled}
	for ch, c := range em.Channels {
		curves["channel "+ch] = c
	}
	for k, c := range em.Cells {
		curves["cell "+k] = c
	}
	for name, c := range curves {
		for i := 1; i < len(c.X); i++ {
			if !(c.X[i] > c.X[i-1]) || c.Y[i] < c.Y[i-1] {
				t.Errorf("%s curve is not monotone at knot %d: %v → %v", name, i, c.X, c.Y)
				break
			}
		}
	}
	t.Logf("effect map: pooled %d knots, uplift %.4f … %.4f; %d channel and %d cell curves", len(em.Pooled.X), em.Pooled.Y[0], em.Pooled.Y[len(em.Pooled.Y)-1], len(em.Channels), len(em.Cells))

	// Persona weights.
	if len(s.Reweighting) != 5 {
		t.Errorf("%d segments re-weighted, want 5: %+v", len(s.Reweighting), s.Reweighting)
	}
	sums := map[string]float64{}
	moved := map[string]float64{}
	counts := map[string]int{}
	for _, p := range s.Personas {
		counts[p.SegmentID]++
	}
	for _, p := range s.Personas {
		sums[p.SegmentID] += p.Weight
		moved[p.SegmentID] = math.Max(moved[p.SegmentID], math.Abs(p.Weight-1/float64(counts[p.SegmentID])))
	}
	for seg, sum := range sums {
		if math.Abs(sum-1) > 1e-9 {
			t.Errorf("weights of segment %s sum to %.12f", seg, sum)
		}
		if moved[seg] < 0.01 {
			t.Errorf("weights of segment %s stayed uniform (largest move %.4f)", seg, moved[seg])
		}
	}
	for _, f := range s.Reweighting {
		t.Logf("segment %s: %d interventions, Q %.3f → %.3f, identified %v (rank %d), converged %v, weights moved up to %.3f",
			f.SegmentID, f.Interventions, f.StartObjective, f.Objective, f.Identified, f.Rank, f.Converged, moved[f.SegmentID])
		if f.Objective > f.StartObjective+1e-9 {
			t.Errorf("segment %s: the fit made the distance worse (%.4f → %.4f)", f.SegmentID, f.StartObjective, f.Objective)
		}
	}

	// Raking.
	r := s.Raking
	if r == nil {
		t.Fatal("no raking")
	}
	t.Logf("raking: %d cells from %s, converged %v in %d sweeps (max rel err %.2g), Kish n_eff %.2f; mix factors %v",
		r.Cells, r.Source, r.Converged, r.Sweeps, r.MaxRelErr, r.KishNEff, r.MixFactors)
	if r.Source != "effect_map" || r.Cells != 40 || !r.Converged || !(r.KishNEff > 1 && r.KishNEff <= 40+1e-9) {
		t.Errorf("raking %+v", r)
	}
	rakedSeg, rakedCh := map[string]float64{}, map[string]float64{}
	pooledSeg, pooledCh := map[string]float64{}, map[string]float64{}
	incr := map[string]float64{}
	for _, c := range s.Cells {
		if c.InterventionID == "" {
			pooledSeg[c.SegmentID] += float64(c.Conversions)
			pooledCh[c.Channel] += float64(c.Conversions)
			continue
		}
		if !(c.PredictedConversions > 0 && c.RakedConversions > 0) || math.Abs(c.RakedConversionRate*float64(c.TreatedExposures)-c.RakedConversions) > 1e-9 {
			t.Errorf("cell %s/%s/%s: predicted %.3f raked %.3f rate %.5f", c.SegmentID, c.Channel, c.InterventionID, c.PredictedConversions, c.RakedConversions, c.RakedConversionRate)
		}
		rakedSeg[c.SegmentID] += c.RakedConversions
		rakedCh[c.Channel] += c.RakedConversions
		incr[c.Channel] += c.IncrementalConversions
	}
	check := func(what string, got, margin, pooled map[string]float64) {
		t.Helper()
		if len(got) != len(margin) {
			t.Errorf("%s: %d categories raked, %d margins", what, len(got), len(margin))
		}
		for k, m := range margin {
			if math.Abs(got[k]-m) > 1e-6 || math.Abs(pooled[k]-m) > 1e-6 {
				t.Errorf("%s %s: raked total %.9f, margin %.9f, pooled cells' observed total %.0f", what, k, got[k], m, pooled[k])
			}
		}
	}
	check("segment", rakedSeg, r.SegmentTotals, pooledSeg)
	check("channel", rakedCh, r.ChannelTotals, pooledCh)
	for ch, want := range cfg.MarketingMix {
		if math.Abs(incr[ch]-want) > 1e-6 {
			t.Errorf("channel %s: incremental conversions %.6f, marketing-mix total %.0f", ch, incr[ch], want)
		}
	}
	if s.ProgramRetune != nil {
		t.Error("program retuned without a ProgramReasoner")
	}

	// With a significance requirement the insignificant fits are not
	// applied: the weights stay uniform.
	cfg.ReweightPValue = 0.05
	strict, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strict.Reweighting {
		if f.Kept != (f.PValue > 0.05) {
			t.Errorf("segment %s: p = %.3f, kept %v", f.SegmentID, f.PValue, f.Kept)
		}
	}
	for _, p := range strict.Personas {
		f := strict.Reweighting[slices.IndexFunc(strict.Reweighting, func(f SegmentFit) bool { return f.SegmentID == p.SegmentID })]
		if uniform := math.Abs(p.Weight-1/float64(counts[p.SegmentID])) < 1e-12; uniform != f.Kept {
			t.Errorf("persona %s: weight %.4f, fit kept %v", p.ID, p.Weight, f.Kept)
		}
	}

	// The snapshot still round-trips.
	b, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.EffectMap == nil || got.Raking == nil || len(got.Reweighting) != len(s.Reweighting) {
		t.Error("retuning results lost in the JSON round trip")
	}
}

// TestRetuneKeepsWeightsWithFewInterventions calibrates a 7-day window
// holding two interventions (below DefaultMinInterventions) with the
// stable world's snapshot as prev: the personas keep prev's weights and
// prev's effect map, a note says why, and the cells are still raked (on
// prev's effect map).
func TestRetuneKeepsWeightsWithFewInterventions(t *testing.T) {
	w := getWorld(t, false)
	ctx := context.Background()
	cfg := testConfig()
	prev, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(prev.Reweighting) == 0 {
		t.Fatalf("prev was not re-weighted; notes %q", prev.Notes)
	}
	cfg.Window = 7 * 24 * time.Hour
	s, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(7), "schedule", prev)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("notes: %q", s.Notes)
	ivs := map[string]bool{}
	for _, c := range s.Cells {
		if c.InterventionID != "" {
			ivs[c.InterventionID] = true
		}
	}
	if len(ivs) != 2 {
		t.Fatalf("%d interventions in the 7-day window, want 2", len(ivs))
	}
	if !strings.Contains(strings.Join(s.Notes, "; "), fmt.Sprintf("2 interventions with a measured cell in the window, fewer than the %d a refit needs", DefaultMinInterventions)) {
		t.Errorf("no note on the kept weights: %q", s.Notes)
	}
	if len(s.Reweighting) != 0 {
		t.Errorf("re-weighted with two interventions: %+v", s.Reweighting)
	}
	if len(s.Personas) != len(prev.Personas) {
		t.Fatalf("%d personas, prev had %d", len(s.Personas), len(prev.Personas))
	}
	for i, p := range s.Personas {
		if p.ID != prev.Personas[i].ID || math.Abs(p.Weight-prev.Personas[i].Weight) > 1e-12 {
			t.Errorf("persona %s: weight %.6f, prev's %s %.6f", p.ID, p.Weight, prev.Personas[i].ID, prev.Personas[i].Weight)
		}
	}
	if s.EffectMap != prev.EffectMap {
		t.Error("the effect map was not kept")
	}
	if s.Raking == nil || s.Raking.Source != "effect_map" || !s.Raking.Converged {
		t.Errorf("raking with prev's effect map: %+v", s.Raking)
	}
}

// testBrain is a deterministic stand-in for an LLM: it knows the
// measured uplift of every segment × intervention of the window (lift)
// and answers on the [−1, 1] intent scale lift/scale. Zero-shot it is
// misled, answering the opposite (−lift/scale) plus a small noise from a
// hash of the persona and the intervention; every demo in its program
// teaches it half of the way back, so with two demos or more it answers
// by the measured uplift. A program with demos therefore ranks the
// interventions as the data do and the zero-shot one ranks them backwards.
type testBrain struct {
	prog  persona.Program
	lift  map[[2]string]float64
	scale float64
	calls *atomic.Int64
}

// Judge implements persona.Reasoner.
func (b testBrain) Judge(ctx context.Context, p persona.Spec, iv persona.Intervention) (persona.Judgement, error) {
	if err := ctx.Err(); err != nil {
		return persona.Judgement{}, err
	}
	b.calls.Add(1)
	truth := b.lift[[2]string{p.SegmentID, iv.ID}] / b.scale
	h := fnv.New64a()
	h.Write([]byte(p.ID + "|" + iv.ID))
	noise := (float64(h.Sum64()%1000)/999 - 0.5) * 0.04
	lambda := math.Min(1, float64(len(b.prog.Demos))/2)
	x := math.Max(-1, math.Min(1, (1-lambda)*(-truth)+lambda*truth+noise))
	return persona.Judgement{IntentChange: x, Rationale: "As this person I weigh the message.", Confidence: 0.7}, nil
}

// TestRetuneProgram calibrates the stable world with an in-process
// ProgramReasoner (testBrain): the search promotes a program with demos
// that beats the zero-shot one on validation, within the call budget, and
// the snapshot carries it; with a budget too small for the search, prev's
// program is kept and a note says why.
func TestRetuneProgram(t *testing.T) {
	w := getWorld(t, false)
	ctx := context.Background()
	cfg := testConfig()
	from, to := WindowDays(day(worldDriftDay), cfg.Window)
	cells, err := Observe(ctx, w.stack.Warehouse, from, to, Grouping{Intervention: true}, cfg.Level)
	if err != nil {
		t.Fatal(err)
	}
	brain := testBrain{lift: map[[2]string]float64{}, calls: &atomic.Int64{}}
	for _, c := range cells {
		brain.lift[[2]string{c.SegmentID, c.InterventionID}] = c.Uplift
		brain.scale = math.Max(brain.scale, math.Abs(c.Uplift))
	}
	cfg.ProgramReasoner = func(prog persona.Program) persona.Reasoner { b := brain; b.prog = prog; return b }
	cfg.ProgramBudget = 600
	cfg.ProgramSearch = optimize.Config{NumCandidates: 4, MaxBootstrapped: 2, MaxLabeled: 4, Workers: 2}
	prevProgram := persona.DefaultProgram()
	s, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(worldDriftDay), "initial", nil)
	if err != nil {
		t.Fatal(err)
	}
	pr := s.ProgramRetune
	if pr == nil {
		t.Fatalf("no program retune; notes %q", s.Notes)
	}
	t.Logf("program search: %+v (brain calls %d)", *pr, brain.calls.Load())
	if !pr.Promoted || pr.Val < pr.ZeroShot+0.2 || pr.Calls > cfg.ProgramBudget || int64(pr.Calls) != brain.calls.Load() {
		t.Errorf("program search %+v, want a promoted program beating zero-shot by 0.2 within %d calls", *pr, cfg.ProgramBudget)
	}
	if s.Program.Version != prevProgram.Version+1 || len(s.Program.Demos) == 0 || s.Program.Instruction != prevProgram.Instruction {
		t.Errorf("snapshot program: version %d (base %d), %d demos", s.Program.Version, prevProgram.Version, len(s.Program.Demos))
	}

	// Too small a budget: nothing is promoted, the previous program stays.
	cfg.ProgramBudget = 10
	s2, err := Calibrate(ctx, w.stack.Warehouse, cfg, day(worldDriftDay), "schedule", s)
	if err != nil {
		t.Fatal(err)
	}
	if s2.ProgramRetune != nil || s2.Program.Version != s.Program.Version || len(s2.Program.Demos) != len(s.Program.Demos) {
		t.Errorf("with a budget of 10 calls: retune %+v, program version %d", s2.ProgramRetune, s2.Program.Version)
	}
	if !strings.Contains(strings.Join(s2.Notes, "; "), "program not retuned") {
		t.Errorf("no note on the program: %q", s2.Notes)
	}
}

// TestInterventionFromEvent checks the mapping of stored intervention
// events to what personas judge.
func TestInterventionFromEvent(t *testing.T) {
	half := persona.DefaultCoefficients().UrgencyHalfLifeHours
	for _, tc := range []struct {
		name string
		ev   warehouse.InterventionEvent
		want persona.Intervention
	}{
		{
			name: "synth",
			ev: warehouse.InterventionEvent{InterventionID: "cmp-01-email", Type: "email", ContentTemplate: "{{first_name}}, 10% off shoes - this week only.",
				CreativeElements: `{"channel":"email","discount_pct":10,"personalization":0.5,"relevance_category":"shoes","urgency":0.4}`},
			want: persona.Intervention{ID: "cmp-01-email", Channel: "email", Template: "{{first_name}}, 10% off shoes - this week only.", Category: "shoes",
				Offer: persona.Offer{Kind: persona.OfferPercentOff, Value: 10, ExpiresHours: half * 0.6 / 0.4}, SendHour: -1, DayOfWeek: -1},
		},
		{
			name: "fraction discount, explicit deadline and timing",
			ev:   warehouse.InterventionEvent{InterventionID: "iv", Type: "promo", CreativeElements: `{"channel":"sms","discount":0.25,"expires_hours":6,"urgency":0.9,"send_hour":20,"day_of_week":5,"recent_exposures":3,"subject":"Hi"}`},
			want: persona.Intervention{ID: "iv", Channel: "sms", Subject: "Hi", Offer: persona.Offer{Kind: persona.OfferPercentOff, Value: 25, ExpiresHours: 6},
				SendHour: 20, DayOfWeek: 5, RecentExposures: 3},
		},
		{
			name: "free shipping, no channel but the cell's",
			ev:   warehouse.InterventionEvent{InterventionID: "iv", Type: "policy_change", CreativeElements: `{"free_shipping":true,"category":"books"}`},
			want: persona.Intervention{ID: "iv", Channel: "push", Category: "books", Offer: persona.Offer{Kind: persona.OfferFreeShipping}, SendHour: -1, DayOfWeek: -1},
		},
		{
			name: "no creative elements",
			ev:   warehouse.InterventionEvent{InterventionID: "iv", Type: "sms", CreativeElements: "{}"},
			want: persona.Intervention{ID: "iv", Channel: "sms", Offer: persona.Offer{Kind: persona.OfferNone}, SendHour: -1, DayOfWeek: -1},
		},
	} {
		got, err := interventionFromEvent(tc.ev, "push")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
			t.Errorf("%s:\n\tgot  %+v\n\twant %+v", tc.name, got, tc.want)
		}
	}
	if _, err := interventionFromEvent(warehouse.InterventionEvent{InterventionID: "iv", Type: "email", CreativeElements: "[1]"}, "email"); err == nil {
		t.Error("creative elements that are no object: no error")
	}
}
