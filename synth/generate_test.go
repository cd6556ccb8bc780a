package synth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/schemas"
)

func TestEventsValid(t *testing.T) {
	w := bigWorld(t)
	if len(w.events) < 100000 {
		t.Fatalf("only %d events in the default world", len(w.events))
	}
	var total int64
	for _, n := range w.truth.Events {
		total += n
	}
	if total != int64(len(w.events)) {
		t.Errorf("Truth.Events counts %d events, sink got %d", total, len(w.events))
	}
	lastByKey := map[string]time.Time{}
	var lastStream time.Time
	definitions := true
	unsubscribed := map[string]time.Time{} // entity|channel -> when
	exposed := map[string]bool{}
	// Every event of a smaller world round-trips through the wire format;
	// decoding all of the large one would only repeat that, slowly.
	for i, ev := range generate(t, "small", Config{Seed: 42, Entities: 3000}).events {
		roundTrip(t, i, ev)
	}
	for i, ev := range w.events {
		if err := ev.Validate(); err != nil {
			t.Fatalf("event %d (%s) invalid: %v", i, ev.Type(), err)
		}
		if i%16 == 0 {
			roundTrip(t, i, ev)
		}

		switch ev.Type() {
		case schemas.TypeSegment, schemas.TypeIntervention:
			if !definitions {
				t.Fatalf("event %d: %s after the entity stream began", i, ev.Type())
			}
			continue
		}
		definitions = false
		if ev.Time().Before(lastStream) {
			t.Fatalf("event %d at %s comes after an event at %s", i, ev.Time(), lastStream)
		}
		lastStream = ev.Time()
		if prev, ok := lastByKey[ev.Key()]; ok && ev.Time().Before(prev) {
			t.Fatalf("entity %s: event %d out of time order", ev.Key(), i)
		}
		lastByKey[ev.Key()] = ev.Time()

		switch e := ev.(type) {
		case *schemas.Exposure:
			k := e.EntityID + "|" + e.CampaignID
			if exposed[k] {
				t.Fatalf("entity %s has two exposures in campaign %s", e.EntityID, e.CampaignID)
			}
			exposed[k] = true
			if _, ok := unsubscribed[e.EntityID+"|"+e.Channel]; ok {
				t.Fatalf("entity %s exposed on %s after unsubscribing", e.EntityID, e.Channel)
			}
			if e.Arm == schemas.ArmControl && (e.Cost != 0 || e.Content != nil || e.FrequencyCumulative != 0) {
				t.Fatalf("control exposure with cost, content or frequency: %+v", e)
			}
			if e.Arm == schemas.ArmTreatment && (e.Cost <= 0 || e.Content == nil) {
				t.Fatalf("treatment exposure without cost or content: %+v", e)
			}
		case *schemas.Outcome:
			x := w.obs.exposures[e.EntityID+"|"+e.CampaignID]
			if x == nil {
				t.Fatalf("outcome %s attributed to campaign %s the entity was not exposed to", e.EventID, e.CampaignID)
			}
			if e.Timestamp.Before(x.Timestamp) {
				t.Fatalf("outcome %s before its exposure", e.EventID)
			}
			switch e.OutcomeType {
			case "open", "click", "unsubscribe", "complaint":
				if x.Arm != schemas.ArmTreatment {
					t.Fatalf("%s outcome for a control exposure", e.OutcomeType)
				}
			}
			if e.OutcomeType == "unsubscribe" {
				unsubscribed[e.EntityID+"|"+x.Channel] = e.Timestamp
			}
		}
	}
}

// roundTrip checks that ev encodes, decodes as its schema and encodes again
// to the same bytes.
func roundTrip(t *testing.T, i int, ev schemas.Event) {
	t.Helper()
	b, err := schemas.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	back, err := schemas.Decode(ev.Type().SchemaName(), b)
	if err != nil {
		t.Fatalf("event %d (%s) does not decode: %v\n%s", i, ev.Type(), err, b)
	}
	b2, err := schemas.Encode(back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatalf("event %d does not round-trip:\n%s\n%s", i, b, b2)
	}
}

// TestRatesMatchTruth checks that each arm's sample purchase and visit
// rates, per campaign and segment, lie within four standard errors of the
// planted expectations, and that the errors are not systematically large.
func TestRatesMatchTruth(t *testing.T) {
	w := bigWorld(t)
	var sumZ2 float64
	var cells int
	for _, ct := range w.truth.Campaigns {
		for seg, ex := range ct.BySegment {
			obs := w.obs.cells[ct.ID][seg]
			for _, arm := range []struct {
				name          string
				n             int
				purchase, vis float64
			}{
				{schemas.ArmTreatment, ex.Treated, ex.PurchaseRateTreated, ex.VisitRateTreated},
				{schemas.ArmControl, ex.Control, ex.PurchaseRateControl, ex.VisitRateControl},
			} {
				c := obs[arm.name]
				if c == nil || c.n != arm.n {
					t.Fatalf("%s/%s/%s: observed %v exposures, truth says %d", ct.ID, seg, arm.name, c, arm.n)
				}
				for _, m := range []struct {
					what string
					k    int
					p    float64
				}{{"purchase", c.purchases, arm.purchase}, {"visit", c.visits, arm.vis}} {
					zz := z(m.k, c.n, m.p)
					if math.Abs(zz) > 4 {
						t.Errorf("%s/%s/%s %s rate %.4f, planted %.4f (z = %.1f)", ct.ID, seg, arm.name, m.what, c.rate(m.k), m.p, zz)
					}
					sumZ2 += zz * zz
					cells++
				}
			}
		}
	}
	// Under the planted model the sum of squared z is at most about
	// chi-squared with one degree of freedom per cell (mean k, sd √(2k));
	// a biased generator would push it far above k + 4√(2k).
	if limit := float64(cells) + 4*math.Sqrt(2*float64(cells)); sumZ2 > limit {
		t.Errorf("sum of squared z over %d cells = %.1f, want <= %.1f", cells, sumZ2, limit)
	}
	t.Logf("%d cells, mean squared z %.2f", cells, sumZ2/float64(cells))
}

// TestATERecovered checks that the difference in means of each campaign
// recovers the planted average treatment effect, for purchases and revenue.
func TestATERecovered(t *testing.T) {
	w := bigWorld(t)
	var pooledDiff, pooledTruth, pooledVar float64
	for _, ct := range w.truth.Campaigns {
		tr, co := w.obs.cells[ct.ID][""][schemas.ArmTreatment], w.obs.cells[ct.ID][""][schemas.ArmControl]
		p1, p0 := tr.rate(tr.purchases), co.rate(co.purchases)
		diff := p1 - p0
		se := math.Sqrt(p1*(1-p1)/float64(tr.n-1) + p0*(1-p0)/float64(co.n-1))
		if zz := (diff - ct.All.PurchaseATE) / se; math.Abs(zz) > 4 {
			t.Errorf("%s: difference in means %.4f ± %.4f, planted ATE %.4f (z = %.1f)", ct.ID, diff, se, ct.All.PurchaseATE, zz)
		}
		if ct.All.PurchaseATE <= 0 {
			t.Errorf("%s: planted ATE %.4f, want > 0 with the default model", ct.ID, ct.All.PurchaseATE)
		}
		pooledDiff += diff
		pooledTruth += ct.All.PurchaseATE
		pooledVar += se * se

		// Revenue per entity, with the sample variance.
		m1, m0 := tr.revenue/float64(tr.n), co.revenue/float64(co.n)
		v1 := (tr.revenueSq/float64(tr.n) - m1*m1) * float64(tr.n) / float64(tr.n-1)
		v0 := (co.revenueSq/float64(co.n) - m0*m0) * float64(co.n) / float64(co.n-1)
		rse := math.Sqrt(v1/float64(tr.n) + v0/float64(co.n))
		if zz := (m1 - m0 - ct.All.RevenueATE) / rse; math.Abs(zz) > 4 {
			t.Errorf("%s: revenue difference %.3f ± %.3f, planted %.3f (z = %.1f)", ct.ID, m1-m0, rse, ct.All.RevenueATE, zz)
		}
		for _, arm := range []struct {
			mean, v float64
			n       int
			want    float64
		}{{m1, v1, tr.n, ct.All.RevenuePerEntityTreated}, {m0, v0, co.n, ct.All.RevenuePerEntityControl}} {
			if zz := (arm.mean - arm.want) / math.Sqrt(arm.v/float64(arm.n)); math.Abs(zz) > 4 {
				t.Errorf("%s: revenue per entity %.3f, planted %.3f (z = %.1f)", ct.ID, arm.mean, arm.want, zz)
			}
		}
	}
	n := float64(len(w.truth.Campaigns))
	if zz := (pooledDiff - pooledTruth) / math.Sqrt(pooledVar); math.Abs(zz) > 3.5 {
		t.Errorf("mean difference in means %.5f, planted %.5f (z = %.1f)", pooledDiff/n, pooledTruth/n, zz)
	}
}

// TestFatigue checks the unsubscribe hazard: planted rates rise with
// frequency, observed rates match them, and the highest frequency's rate is
// clearly above the first send's.
func TestFatigue(t *testing.T) {
	w := bigWorld(t)
	for ch, rows := range w.truth.Fatigue.ByChannel {
		if len(rows) < 2 {
			continue
		}
		for i, r := range rows {
			if i > 0 && r.UnsubscribeRate <= rows[i-1].UnsubscribeRate {
				t.Errorf("%s: planted unsubscribe rate at frequency %d (%.4f) not above frequency %d (%.4f)", ch, r.Frequency, r.UnsubscribeRate, r.Frequency-1, rows[i-1].UnsubscribeRate)
			}
			got := w.obs.fatigue[ch][r.Frequency]
			if got[0] != r.Sends {
				t.Fatalf("%s f=%d: %d treated sends observed, truth says %d", ch, r.Frequency, got[0], r.Sends)
			}
			if zz := z(got[1], got[0], r.UnsubscribeRate); math.Abs(zz) > 4 {
				t.Errorf("%s f=%d: unsubscribe rate %.4f, planted %.4f (z = %.1f)", ch, r.Frequency, float64(got[1])/float64(got[0]), r.UnsubscribeRate, zz)
			}
		}
	}
	email := w.obs.fatigue[schemas.ChannelEmail]
	first := email[1]
	high := [2]int{}
	for f := 3; f <= 10; f++ {
		high[0] += email[f][0]
		high[1] += email[f][1]
	}
	r1, rh := float64(first[1])/float64(first[0]), float64(high[1])/float64(high[0])
	se := math.Sqrt(r1*(1-r1)/float64(first[0]) + rh*(1-rh)/float64(high[0]))
	if (rh-r1)/se < 3 {
		t.Errorf("email unsubscribe rate at frequency >= 3 (%.4f) not clearly above frequency 1 (%.4f)", rh, r1)
	}
}

// TestDrift plants a doubling of the baseline odds halfway through and
// checks the truth and the sample against a world without it.
func TestDrift(t *testing.T) {
	base := bigWorld(t)
	at := DefaultStart.Add(DefaultDays / 2 * 24 * time.Hour)
	w := generate(t, "drift-base", Config{Seed: 42, Drift: &Drift{At: at, BaseOddsFactor: 2, EffectFactor: 1}})
	var pre, post int
	var obsDrift, obsBase [2]int // post-drift control purchases and n, pooled
	for i, ct := range w.truth.Campaigns {
		bt := base.truth.Campaigns[i]
		if ct.All.Treated != bt.All.Treated || ct.All.Control != bt.All.Control {
			t.Fatalf("%s: drift changed the assignment", ct.ID)
		}
		if ct.SentAt.Before(at) {
			pre++
			if ct.Drifted || ct.All != bt.All {
				t.Errorf("%s sent before the drift differs from the world without drift", ct.ID)
			}
			continue
		}
		post++
		if !ct.Drifted {
			t.Errorf("%s sent after the drift is not marked drifted", ct.ID)
		}
		ratio := ct.All.PurchaseRateControl / bt.All.PurchaseRateControl
		if ratio < 1.8 || ratio > 2 {
			t.Errorf("%s: planted control rate %.4f vs %.4f without drift (ratio %.2f), want a ratio in [1.8, 2]", ct.ID, ct.All.PurchaseRateControl, bt.All.PurchaseRateControl, ratio)
		}
		c := w.obs.cells[ct.ID][""][schemas.ArmControl]
		if zz := z(c.purchases, c.n, ct.All.PurchaseRateControl); math.Abs(zz) > 4 {
			t.Errorf("%s: control rate %.4f after drift, planted %.4f (z = %.1f)", ct.ID, c.rate(c.purchases), ct.All.PurchaseRateControl, zz)
		}
		obsDrift[0] += c.purchases
		obsDrift[1] += c.n
		b := base.obs.cells[ct.ID][""][schemas.ArmControl]
		obsBase[0] += b.purchases
		obsBase[1] += b.n
	}
	if pre == 0 || post == 0 {
		t.Fatalf("%d campaigns before and %d after the drift, want some of each", pre, post)
	}
	rd, rb := float64(obsDrift[0])/float64(obsDrift[1]), float64(obsBase[0])/float64(obsBase[1])
	if rd/rb < 1.6 {
		t.Errorf("observed post-drift control rate %.4f vs %.4f without drift: ratio %.2f, want about 2", rd, rb, rd/rb)
	}

	// A segment's treatment effect vanishes.
	w2 := generate(t, "drift-effect", Config{Seed: 42, Drift: &Drift{At: at, Segment: "at_risk", BaseOddsFactor: 1, EffectFactor: 0}})
	var diffSum, varSum float64
	var cells int
	for i, ct := range w2.truth.Campaigns {
		bt := base.truth.Campaigns[i]
		for seg, ex := range ct.BySegment {
			switch {
			case !ct.Drifted || seg != "at_risk":
				if ex != bt.BySegment[seg] {
					t.Errorf("%s/%s changed though the drift does not apply to it", ct.ID, seg)
				}
			default:
				if ex.PurchaseATE != 0 || ex.MeanTau != 0 {
					t.Errorf("%s/%s: planted ATE %g and tau %g after the effect drift, want 0", ct.ID, seg, ex.PurchaseATE, ex.MeanTau)
				}
				tr, co := w2.obs.cells[ct.ID][seg][schemas.ArmTreatment], w2.obs.cells[ct.ID][seg][schemas.ArmControl]
				p1, p0 := tr.rate(tr.purchases), co.rate(co.purchases)
				diffSum += p1 - p0
				varSum += ex.PurchaseRateTreated*(1-ex.PurchaseRateTreated)/float64(tr.n) + ex.PurchaseRateControl*(1-ex.PurchaseRateControl)/float64(co.n)
				cells++
			}
		}
	}
	if cells == 0 {
		t.Fatal("no at_risk cell after the drift")
	}
	if zz := diffSum / math.Sqrt(varSum); math.Abs(zz) > 4 {
		t.Errorf("at_risk difference in means after the effect vanished: sum %.4f (z = %.1f), want about 0", diffSum, zz)
	}
}

// TestPlantedEffects checks the shape of the planted CATE on hand-made
// campaigns: urgency helps at-risk entities, discounts help price-sensitive
// ones, relevance helps those whose affinity matches, and a larger audience
// saturates.
func TestPlantedEffects(t *testing.T) {
	cfg := Config{
		Seed: 7, Entities: 5000, EntityTruth: true, Days: 40,
		Campaigns: []CampaignSpec{
			{ID: "urgent", Channel: "email", Day: 1, Creative: Creative{Urgency: 1}},
			{ID: "calm", Channel: "email", Day: 5},
			{ID: "discount", Channel: "email", Day: 9, Creative: Creative{DiscountPct: 30}},
			{ID: "relevant", Channel: "email", Day: 13, Creative: Creative{Category: "electronics"}},
			{ID: "small", Channel: "push", Day: 17, Segments: []string{"loyal"}},
			{ID: "large", Channel: "push", Day: 21},
		},
	}
	mem := eventsink.NewMemory()
	tr, err := Generate(context.Background(), cfg, mem)
	if err != nil {
		t.Fatal(err)
	}
	c := map[string]CampaignTruth{}
	for _, ct := range tr.Campaigns {
		c[ct.ID] = ct
		if want := tr.Saturation[ct.Channel].Multiplier(float64(ct.All.Treated)); ct.SaturationMultiplier != want {
			t.Errorf("%s: saturation multiplier %g, want %g", ct.ID, ct.SaturationMultiplier, want)
		}
	}
	// Compare tau per unit of saturation, so audience size drops out.
	tau := func(id, seg string) float64 { return c[id].BySegment[seg].MeanTau / c[id].SaturationMultiplier }
	if d := tau("urgent", "at_risk") - tau("calm", "at_risk"); d <= 0 {
		t.Errorf("urgency changes at_risk tau by %.3f, want > 0", d)
	}
	if d := tau("urgent", "loyal") - tau("calm", "loyal"); d >= 0 {
		t.Errorf("urgency changes loyal tau by %.3f, want < 0", d)
	}
	if d := tau("discount", "bargain_hunters") - tau("calm", "bargain_hunters"); d <= 0 {
		t.Errorf("a discount changes bargain_hunters tau by %.3f, want > 0", d)
	}
	if d := tau("discount", "high_value") - tau("calm", "high_value"); d >= 0 {
		t.Errorf("a discount changes high_value tau by %.3f, want < 0", d)
	}
	if c["small"].SaturationMultiplier <= c["large"].SaturationMultiplier {
		t.Errorf("saturation multiplier of the small audience %.3f not above the large one's %.3f", c["small"].SaturationMultiplier, c["large"].SaturationMultiplier)
	}
	if c["small"].BySegment["loyal"].MeanTau <= c["large"].BySegment["loyal"].MeanTau {
		t.Error("loyal tau is not larger in the smaller campaign")
	}
	// Relevance: within a segment, entities whose affinity matches get a
	// larger effect.
	affinity := map[string]string{}
	for _, ev := range mem.Events() {
		if e, ok := ev.(*schemas.Entity); ok {
			affinity[e.EntityID] = e.Attributes["category_affinity"].(string)
		}
	}
	var sum [2]float64
	var n [2]int
	for _, ee := range tr.EntityEffects {
		if ee.CampaignID != "relevant" || ee.Segment != "high_value" {
			continue
		}
		k := 0
		if affinity[ee.EntityID] == "electronics" {
			k = 1
		}
		sum[k] += ee.Tau
		n[k]++
		if math.Abs(ee.P1-sigmoid(logit(ee.P0)+ee.Tau)) > 1e-12 {
			t.Fatalf("entity effect %+v: p1 is not σ(logit(p0) + tau)", ee)
		}
	}
	if n[0] == 0 || n[1] == 0 || sum[1]/float64(n[1]) <= sum[0]/float64(n[0]) {
		t.Errorf("relevant content: mean tau %.3f (n=%d) for matching affinity vs %.3f (n=%d) otherwise, want larger", sum[1]/float64(n[1]), n[1], sum[0]/float64(n[0]), n[0])
	}
	if got, want := len(tr.EntityEffects), int(tr.Events["exposure"]); got != want {
		t.Errorf("%d entity effects, want one per exposure (%d)", got, want)
	}
}

func TestDeterminism(t *testing.T) {
	run := func(seed uint64) (map[string][]byte, []byte) {
		dir := t.TempDir()
		s, err := eventsink.NewFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		tr, err := Generate(context.Background(), Config{Seed: seed, Entities: 2000}, s)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{}
		for _, typ := range schemas.Types {
			b, err := os.ReadFile(filepath.Join(dir, eventsink.FileName(typ)))
			if err != nil {
				t.Fatal(err)
			}
			files[string(typ)] = b
		}
		tj, err := json.Marshal(tr)
		if err != nil {
			t.Fatal(err)
		}
		return files, tj
	}
	a, ta := run(3)
	b, tb := run(3)
	for typ := range a {
		if !bytes.Equal(a[typ], b[typ]) {
			t.Errorf("%s events differ between two runs with the same seed", typ)
		}
	}
	if !bytes.Equal(ta, tb) {
		t.Error("truth differs between two runs with the same seed")
	}
	c, _ := run(4)
	if bytes.Equal(a["outcome"], c["outcome"]) {
		t.Error("seeds 3 and 4 give the same outcomes")
	}
}

func TestTruthJSON(t *testing.T) {
	tr, err := Generate(context.Background(), Config{Seed: 9, Entities: 500, Drift: &Drift{At: DefaultStart.Add(30 * 24 * time.Hour), BaseOddsFactor: 0.5, EffectFactor: 1}}, eventsink.Func(func(context.Context, schemas.Event) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "truth.json")
	if err := tr.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTruth(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(tr)
	b, _ := json.Marshal(back)
	if !bytes.Equal(a, b) {
		t.Error("truth changed through WriteJSON and ReadTruth")
	}
	if _, ok := back.Campaign(tr.Campaigns[0].ID); !ok {
		t.Error("Campaign does not find the first campaign")
	}
	// The resolved config regenerates the same world.
	tr2, err := Generate(context.Background(), back.Config, eventsink.Func(func(context.Context, schemas.Event) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := json.Marshal(tr2)
	if !bytes.Equal(a, c) {
		t.Error("the truth's resolved config does not regenerate the same world")
	}
	if _, err := ReadTruth(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("ReadTruth of a missing file succeeded")
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative entities", Config{Entities: -1}, "entities"},
		{"holdout", Config{HoldoutShare: 1.5}, "holdout_share"},
		{"unknown segment", Config{Campaigns: []CampaignSpec{{Channel: "email", Day: 1, Segments: []string{"nobody"}}}}, `unknown segment "nobody"`},
		{"channel without cost", Config{Campaigns: []CampaignSpec{{Channel: "mail", Day: 1}}}, "no cost for channel mail"},
		{"bad channel", Config{Campaigns: []CampaignSpec{{Channel: "E-Mail", Day: 1}}}, "not a lower-case identifier"},
		{"too close", Config{Campaigns: []CampaignSpec{{Channel: "sms", Day: 1}, {Channel: "sms", Day: 1.1}}}, "less than 6 hours apart"},
		{"day out of range", Config{Days: 10, Campaigns: []CampaignSpec{{Channel: "sms", Day: 11}}}, "day must be in"},
		{"urgency", Config{Campaigns: []CampaignSpec{{Channel: "sms", Day: 1, Creative: Creative{Urgency: 2}}}}, "urgency"},
		{"drift factor", Config{Drift: &Drift{At: DefaultStart, EffectFactor: 1}}, "base_odds_factor"},
		{"drift segment", Config{Drift: &Drift{At: DefaultStart, Segment: "x", BaseOddsFactor: 1, EffectFactor: 1}}, "drift.segment"},
		{"segment share", Config{Segments: []SegmentSpec{{ID: "a"}}}, "share must be > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Generate(context.Background(), tt.cfg, eventsink.NewMemory())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Generate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSinkErrorAndCancel(t *testing.T) {
	boom := errors.New("boom")
	n := 0
	failing := eventsink.Func(func(context.Context, schemas.Event) error {
		n++
		if n == 100 {
			return boom
		}
		return nil
	})
	if _, err := Generate(context.Background(), Config{Seed: 1, Entities: 300}, failing); !errors.Is(err, boom) {
		t.Errorf("Generate with a failing sink = %v, want it to wrap the sink's error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Config{Seed: 1, Entities: 300}, eventsink.NewMemory()); !errors.Is(err, context.Canceled) {
		t.Errorf("Generate with a cancelled context = %v, want context.Canceled", err)
	}
}

// BenchmarkGenerate measures generating the default world without encoding.
func BenchmarkGenerate(b *testing.B) {
	var n int
	sink := eventsink.Func(func(context.Context, schemas.Event) error { n++; return nil })
	for b.Loop() {
		if _, err := Generate(context.Background(), Config{Seed: 1}, sink); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkGenerateEncoded measures generating the default world and
// encoding every event.
func BenchmarkGenerateEncoded(b *testing.B) {
	var n int
	sink := eventsink.Func(func(_ context.Context, ev schemas.Event) error {
		n++
		_, err := schemas.Encode(ev)
		return err
	})
	for b.Loop() {
		if _, err := Generate(context.Background(), Config{Seed: 1}, sink); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
