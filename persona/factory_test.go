package persona

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/preflight-hq/preflight/eventsink"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/synth"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

func TestSampleReproducible(t *testing.T) {
	for _, seg := range SegmentIDs {
		a := Sample(DefaultPriors(seg), seg, 50, newRand(7))
		b := Sample(DefaultPriors(seg), seg, 50, newRand(7))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: same seed, different personas", seg)
		}
		c := Sample(DefaultPriors(seg), seg, 50, newRand(8))
		if reflect.DeepEqual(a, c) {
			t.Errorf("%s: different seeds, same personas", seg)
		}
		// A prefix of a larger population is the smaller population.
		small := Sample(DefaultPriors(seg), seg, 20, newRand(7))
		for i := range small {
			small[i].Weight = a[i].Weight
		}
		if !reflect.DeepEqual(small, a[:20]) {
			t.Errorf("%s: the first 20 of 50 personas differ from 20 personas", seg)
		}
		// JSON and rendering are deterministic too.
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) || a[3].Render() != b[3].Render() {
			t.Errorf("%s: JSON or rendering differs", seg)
		}
	}
	if got := Sample(GenericPriors(), "x", 0, newRand(1)); got != nil {
		t.Errorf("n = 0 gave %d personas", len(got))
	}
}

func TestSampleValidAndWeighted(t *testing.T) {
	for _, seg := range SegmentIDs {
		ps := Sample(DefaultPriors(seg), seg, 300, newRand(3))
		sum := 0.0
		ids := map[string]bool{}
		for i, p := range ps {
			if err := p.Validate(); err != nil {
				t.Fatalf("persona %d: %v", i, err)
			}
			if want := fmt.Sprintf("%s-%04d", seg, i+1); p.ID != want || p.SegmentID != seg {
				t.Errorf("persona %d: id %q segment %q, want %q", i, p.ID, p.SegmentID, want)
			}
			ids[p.ID] = true
			sum += p.Weight
			// The history follows the calendar: nothing bought in the last
			// year when the last order is older than a year, something
			// otherwise.
			n := 0
			for _, k := range p.PurchaseHistory.Categories {
				n += k
			}
			if (p.PurchaseHistory.DaysSinceLastOrder >= 365) != (n == 0) {
				t.Errorf("%s: %d days since the last order but %d purchases in the last year", p.ID,
					p.PurchaseHistory.DaysSinceLastOrder, n)
			}
			for c := range p.PurchaseHistory.Categories {
				if _, ok := p.Preferences[c]; !ok {
					t.Errorf("%s: bought %s, which has no preference", p.ID, c)
				}
			}
		}
		if math.Abs(sum-1) > 1e-9 || len(ids) != len(ps) {
			t.Errorf("%s: weights sum to %g, %d unique ids of %d", seg, sum, len(ids), len(ps))
		}
	}
}

func TestSampleMatchesPriors(t *testing.T) {
	const n = 4000
	near := func(t *testing.T, what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s: sample mean %.4f, prior mean %.4f (tolerance %g)", what, got, want, tol)
		}
	}
	for _, seg := range SegmentIDs {
		t.Run(seg, func(t *testing.T) {
			tp := DefaultPriors(seg)
			ps := Sample(tp, seg, n, newRand(11))
			var price, fatigue, orders float64
			traits := map[string]float64{}
			channels := map[string]float64{}
			favorite := map[string]float64{}
			agree, bought := 0, 0
			for _, p := range ps {
				price += p.PriceSensitivity / n
				fatigue += p.FatigueTolerance / n
				orders += p.PurchaseHistory.OrdersPerYear / n
				for _, k := range BigFive {
					traits[k] += p.Traits[k] / n
				}
				for _, k := range Channels {
					channels[k] += p.ChannelAffinity[k] / n
				}
				favorite[p.FavoriteCategory()] += 1.0 / n
				if top := p.TopPurchaseCategory(); top != "" {
					bought++
					if top == p.FavoriteCategory() {
						agree++
					}
				}
			}
			// Beta(a, b) has sd ≤ 0.29, so 4000 draws put the mean within
			// 0.015 at 3 standard errors.
			near(t, "price_sensitivity", price, tp.PriceSensitivity.Mean(), 0.015)
			for _, k := range BigFive {
				near(t, "traits."+k, traits[k], tp.Traits[k].Mean(), 0.015)
			}
			// Engagement shifts and clamping move these a little.
			near(t, "fatigue_tolerance", fatigue, tp.FatigueTolerance.Mean(), 0.03)
			for _, k := range Channels {
				near(t, "channel_affinity."+k, channels[k], tp.ChannelAffinity[k].Mean(), 0.03)
			}
			near(t, "orders_per_year", orders, tp.OrdersPerYear.Mean(), 0.05*tp.OrdersPerYear.Mean())
			// The favourite category follows synth's category weights.
			probs := tp.withDefaults().CategoryWeights.Probabilities()
			for _, c := range DefaultCategories {
				// The favourite is the category drawn from the weights
				// unless another's Beta draw beats it (rare).
				near(t, "favourite "+c, favorite[c], probs[c], 0.06)
			}
			// Purchases concentrate on the favourite.
			if share := float64(agree) / float64(bought); share < 0.7 {
				t.Errorf("only %.2f of buyers bought their favourite category most", share)
			}
		})
	}
	// Lifecycle stages follow the segment.
	stages := func(seg string) map[string]int {
		out := map[string]int{}
		for _, p := range Sample(DefaultPriors(seg), seg, 1000, newRand(5)) {
			out[p.LifecycleStage]++
		}
		return out
	}
	if s := stages("new_users"); s[StageNew] != 1000 {
		t.Errorf("new_users stages %v, want all new", s)
	}
	if s := stages("at_risk"); s[StageLapsed] < 300 || s[StageLapsed] <= stages("loyal")[StageLapsed] {
		t.Errorf("at_risk stages %v: too few lapsed", s)
	}
}

func TestDefaultPriorsFitSynth(t *testing.T) {
	if !slices.Equal(DefaultCategories, synth.DefaultCategories) {
		t.Errorf("DefaultCategories %v, synth has %v", DefaultCategories, synth.DefaultCategories)
	}
	segs := synth.DefaultSegments()
	if len(segs) != len(SegmentIDs) {
		t.Fatalf("synth has %d segments, SegmentIDs %d", len(segs), len(SegmentIDs))
	}
	for i, s := range segs {
		tp := DefaultPriors(s.ID)
		if SegmentIDs[i] != s.ID || tp.Description != s.Description || tp.AgeMean != s.AgeMean || tp.AgeSD != s.AgeSD ||
			tp.TenureMeanDays != s.TenureMeanDays || tp.TenureMaxDays != s.TenureMaxDays ||
			tp.RecencyMeanDays != s.RecencyMeanDays || tp.HistoryMedian != s.HistoryMedian ||
			tp.HistorySigma != s.HistorySigma || tp.PriceSensitivity != (Beta{s.PriceSensitivity[0], s.PriceSensitivity[1]}) ||
			tp.Engagement != (Beta{s.Engagement[0], s.Engagement[1]}) ||
			!reflect.DeepEqual(map[string]float64(tp.CategoryWeights), s.CategoryWeights) {
			t.Errorf("DefaultPriors(%q) does not carry synth's parameters", s.ID)
		}
		if err := tp.Validate(); err != nil {
			t.Errorf("DefaultPriors(%q): %v", s.ID, err)
		}
	}
	if DefaultPriors("unknown").Description != GenericPriors().Description {
		t.Error("an unknown segment does not get the generic priors")
	}
}

var errStop = errors.New("stop")

// TestParsePriorsFromSynthEvents decodes the trait_priors of synth's
// segment events.
func TestParsePriorsFromSynthEvents(t *testing.T) {
	var segs []*schemas.Segment
	sink := eventsink.Func(func(_ context.Context, ev schemas.Event) error {
		s, ok := ev.(*schemas.Segment)
		if !ok {
			return errStop // segment events come first
		}
		segs = append(segs, s)
		return nil
	})
	if _, err := synth.Generate(context.Background(), synth.Config{Seed: 1, Entities: 200}, sink); !errors.Is(err, errStop) {
		t.Fatalf("synth.Generate: %v", err)
	}
	if len(segs) != len(SegmentIDs) {
		t.Fatalf("got %d segment events", len(segs))
	}
	for _, s := range segs {
		// Start from the generic priors to see the event's values win.
		tp, err := ParsePriors("not-a-default", s.TraitPriors)
		if err != nil {
			t.Fatalf("%s: %v", s.SegmentID, err)
		}
		want := DefaultPriors(s.SegmentID)
		if tp.AgeMean != want.AgeMean || tp.PriceSensitivity != want.PriceSensitivity ||
			tp.Engagement != want.Engagement || tp.RecencyMeanDays != want.RecencyMeanDays ||
			!reflect.DeepEqual(tp.ChannelAffinity, channelPriors(want.Engagement)) {
			t.Errorf("%s: parsed priors differ from DefaultPriors", s.SegmentID)
		}
		// Over the segment's own defaults, synth's values change nothing.
		own, err := ParsePriors(s.SegmentID, s.TraitPriors)
		if err != nil || !reflect.DeepEqual(own, want) {
			t.Errorf("%s: parsing synth's priors over the defaults changed them (%v)", s.SegmentID, err)
		}
		if ps := Sample(tp, s.SegmentID, 3, newRand(1)); len(ps) != 3 || ps[0].Validate() != nil {
			t.Errorf("%s: cannot sample the parsed priors", s.SegmentID)
		}
	}
}

func TestParsePriorsMeanSD(t *testing.T) {
	// The form of the schemas fixtures: {"price_sensitivity": {"mean", "sd"}}.
	tp, err := ParsePriors("loyal", map[string]any{"price_sensitivity": map[string]any{"mean": 0.4, "sd": 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	if m := tp.PriceSensitivity.Mean(); math.Abs(m-0.4) > 1e-12 {
		t.Errorf("mean %g, want 0.4", m)
	}
	a, b := tp.PriceSensitivity.A, tp.PriceSensitivity.B
	if v := a * b / ((a + b) * (a + b) * (a + b + 1)); math.Abs(v-0.01) > 1e-12 {
		t.Errorf("variance %g, want 0.01", v)
	}
	if _, err := ParsePriors("loyal", map[string]any{"price_sensitivity": map[string]any{"mean": 0.4, "sd": 0.9}}); err == nil {
		t.Error("an impossible sd was accepted")
	}
}

func TestTraitPriorsJSONRoundTrip(t *testing.T) {
	tp := DefaultPriors("bargain_hunters")
	data, err := json.Marshal(tp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"price_sensitivity_beta":[7,2]`) {
		t.Errorf("Beta does not encode as synth's [a, b]: %s", data)
	}
	var back TraitPriors
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, tp) {
		t.Errorf("round trip changed the priors:\n%+v\n%+v", back, tp)
	}
}

func TestTraitPriorsValidate(t *testing.T) {
	tp := GenericPriors()
	tp.PriceSensitivity = Beta{A: -1, B: 2}
	tp.Traits["charm"] = Beta{2, 2}
	tp.IncomeBand = Categorical{"rich": 1}
	tp.PreferredHours = Categorical{"25-3": 1}
	err := tp.Validate()
	if err == nil {
		t.Fatal("invalid priors accepted")
	}
	for _, want := range []string{"price_sensitivity_beta:", "traits.charm:", "income_band.rich:", "preferred_hours.25-3:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	// Invalid priors still sample (to valid personas).
	for _, p := range Sample(tp, "x", 5, newRand(1)) {
		if p.PriceSensitivity != 0.5 {
			t.Errorf("invalid Beta drew %g, want 0.5", p.PriceSensitivity)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	s := testSpec("p", "fashion")
	if err := s.Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	s.Traits[TraitOpenness] = 1.2
	delete(s.Traits, TraitNeuroticism)
	s.Weight = 0
	s.LifecycleStage = "lapsing"
	s.PurchaseHistory.Categories["home"] = -1
	err := s.Validate()
	if err == nil {
		t.Fatal("invalid spec accepted")
	}
	for _, want := range []string{"traits.openness: must be in [0, 1], got 1.2", "traits.neuroticism: is required",
		"weight: must be in (0, 1]", `lifecycle_stage: must be one of prospect, new, active, lapsed, got "lapsing"`,
		"purchase_history.categories.home: must be >= 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestBetaJSONForms(t *testing.T) {
	for _, in := range []string{`[2,5]`, `{"a":2,"b":5}`} {
		var b Beta
		if err := json.Unmarshal([]byte(in), &b); err != nil || b != (Beta{2, 5}) {
			t.Errorf("%s: got %+v, %v", in, b, err)
		}
	}
	for _, in := range []string{`[1]`, `{"x":1}`, `"a"`} {
		var b Beta
		if err := json.Unmarshal([]byte(in), &b); err == nil {
			t.Errorf("%s accepted", in)
		}
	}
}
