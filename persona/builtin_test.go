package persona

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

// plain returns a neutral persona: medium traits, equal interest in every
// default category, no history, and an email message with nothing in it
// but a category.
func plain() (Spec, Intervention) {
	s := testSpec("p", "fashion")
	for _, c := range DefaultCategories {
		s.Preferences[c] = 0.5
	}
	s.PurchaseHistory.Categories = map[string]int{}
	iv := Intervention{ID: "v", Channel: "email", Subject: "Something new",
		Template: "Hello, have a look at what is new in our shop.", Offer: Offer{Kind: OfferNone},
		SendHour: 19, DayOfWeek: 2, RecentExposures: 0}
	return s, iv
}

func intent(t *testing.T, b *Builtin, s Spec, iv Intervention) float64 {
	t.Helper()
	j, err := b.Judge(context.Background(), s, iv)
	if err != nil {
		t.Fatal(err)
	}
	return j.IntentChange
}

// TestBuiltinRanksByPurchaseHistory is the acceptance case: a persona who
// buys A prefers a message about A to an otherwise identical one about B,
// and a persona who buys B the other way round.
func TestBuiltinRanksByPurchaseHistory(t *testing.T) {
	b := NewBuiltin()
	for _, a := range DefaultCategories {
		for _, bcat := range DefaultCategories {
			if a == bcat {
				continue
			}
			s, iv := plain()
			ivA, ivB := iv, iv
			ivA.Category, ivA.Template = a, "New arrivals in "+a+" for you."
			ivB.Category, ivB.Template = bcat, "New arrivals in "+bcat+" for you."

			s.PurchaseHistory.Categories = map[string]int{a: 5}
			if ia, ib := intent(t, b, s, ivA), intent(t, b, s, ivB); !(ia > ib) {
				t.Errorf("history in %s: intent %.4f for %s, %.4f for %s", a, ia, a, ib, bcat)
			}
			s.PurchaseHistory.Categories = map[string]int{bcat: 5}
			if ia, ib := intent(t, b, s, ivA), intent(t, b, s, ivB); !(ib > ia) {
				t.Errorf("history in %s: intent %.4f for %s, %.4f for %s", bcat, ib, bcat, ia, a)
			}
		}
	}
	// The same holds for sampled personas whose history and favourite
	// agree, against every other category, whatever else the message has.
	checked := 0
	for _, seg := range SegmentIDs {
		for _, p := range Sample(DefaultPriors(seg), seg, 60, newRand(21)) {
			top := p.TopPurchaseCategory()
			if top == "" || top != p.FavoriteCategory() {
				continue
			}
			for _, other := range DefaultCategories {
				if other == top {
					continue
				}
				ivA, ivB := testIntervention("a", top), testIntervention("b", other)
				ivB.Subject, ivB.Template = ivA.Subject, ivA.Template
				if ia, ib := intent(t, b, p, ivA), intent(t, b, p, ivB); !(ia > ib) {
					t.Errorf("%s buys %s: intent %.4f for it, %.4f for %s", p.ID, top, ia, ib, other)
				}
				checked++
			}
		}
	}
	if checked < 200 {
		t.Errorf("only %d sampled comparisons", checked)
	}
}

func TestBuiltinFatigueMonotone(t *testing.T) {
	b := NewBuiltin()
	for _, tol := range []float64{0, 0.3, 0.7, 1} {
		for _, ch := range []string{"email", "sms", "push", "fax"} {
			s, iv := plain()
			s.FatigueTolerance = tol
			iv.Channel = ch
			prev := math.Inf(1)
			for x := 0; x <= 20; x++ {
				iv.RecentExposures = x
				got := intent(t, b, s, iv)
				if !(got < prev) {
					t.Errorf("tolerance %g, %s: intent %.6f at %d exposures, %.6f at %d", tol, ch, got, x, prev, x-1)
				}
				prev = got
			}
			// Past the threshold the reaction is clearly negative.
			if prev > -0.5 {
				t.Errorf("tolerance %g, %s: intent %.3f at 20 exposures", tol, ch, prev)
			}
		}
	}
}

func TestBuiltinDiscountHelpsPriceSensitive(t *testing.T) {
	b := NewBuiltin()
	for _, stage := range LifecycleStages {
		gain := func(ps float64) float64 {
			s, iv := plain()
			s.PriceSensitivity, s.LifecycleStage = ps, stage
			iv.Template = "{{first_name}}, 10% off today."
			iv.Offer = Offer{Kind: OfferPercentOff, Value: 10}
			small := intent(t, b, s, iv)
			iv.Template = "{{first_name}}, 40% off today."
			iv.Offer.Value = 40
			return intent(t, b, s, iv) - small
		}
		sensitive, insensitive := gain(0.9), gain(0.1)
		if !(sensitive > insensitive) || !(sensitive > 0) {
			t.Errorf("%s: going from 10%% to 40%% off changes intent by %.4f when price-sensitive, %.4f when not",
				stage, sensitive, insensitive)
		}
	}
	// An amount off counts relative to the persona's order value.
	s, iv := plain()
	s.PriceSensitivity = 0.9
	iv.Template = "10 off your next order"
	iv.Offer = Offer{Kind: OfferAmountOff, Value: 10}
	s.PurchaseHistory.AvgOrderValue = 20
	big := intent(t, b, s, iv)
	s.PurchaseHistory.AvgOrderValue = 400
	if small := intent(t, b, s, iv); !(big > small) {
		t.Errorf("10 off a 20 order (%.4f) does not beat 10 off a 400 order (%.4f)", big, small)
	}
}

func TestBuiltinOtherDrivers(t *testing.T) {
	b := NewBuiltin()
	s, iv := plain()
	base := intent(t, b, s, iv)
	cases := []struct {
		name   string
		change func(s *Spec, iv *Intervention)
		better bool
	}{
		{"shouting", func(_ *Spec, iv *Intervention) { iv.Template = "LOOK AT WHAT IS NEW IN OUR SHOP!!!!" }, false},
		{"spam", func(_ *Spec, iv *Intervention) { iv.Template += " Act now, guaranteed winner!" }, false},
		{"too long", func(_ *Spec, iv *Intervention) { iv.Template = strings.Repeat("Lovely things. ", 100) }, false},
		{"outside reading hours", func(_ *Spec, iv *Intervention) { iv.SendHour = 9 }, false},
		{"sms at night", func(_ *Spec, iv *Intervention) { iv.Channel, iv.SendHour = "sms", 23 }, false},
		{"unloved channel", func(_ *Spec, iv *Intervention) { iv.Channel = "sms" }, false},
		{"personalised", func(_ *Spec, iv *Intervention) {
			iv.Template = "{{first_name}}, we picked {{favorite_category}} for you."
		}, true},
		{"unstated offer", func(_ *Spec, iv *Intervention) { iv.Offer = Offer{Kind: OfferPercentOff, Value: 20} }, true}, // a discount still helps on balance
	}
	for _, c := range cases {
		s2, iv2 := plain()
		c.change(&s2, &iv2)
		got := intent(t, b, s2, iv2)
		if (got > base) != c.better {
			t.Errorf("%s: intent %.4f vs %.4f for the plain message", c.name, got, base)
		}
	}

	// Urgency: anxious, lapsing personas respond to a deadline, calm
	// planners who just bought do not; returns diminish.
	urgency := func(n, c float64, days int, hours float64) float64 {
		s, iv := plain()
		s.Traits[TraitNeuroticism], s.Traits[TraitConscientiousness] = n, c
		s.PurchaseHistory.DaysSinceLastOrder = days
		iv.Offer = Offer{Kind: OfferGift, ExpiresHours: hours}
		j := b.Evaluate(s, iv)
		for _, d := range j.Drivers {
			if d.Factor == DriverUrgency {
				return d.Effect
			}
		}
		return 0
	}
	if u := urgency(0.9, 0.2, 150, 12); !(u > 0) {
		t.Errorf("anxious lapsing persona: urgency %.4f", u)
	}
	if u := urgency(0.1, 0.9, 3, 12); !(u < 0) {
		t.Errorf("calm planner: urgency %.4f", u)
	}
	steps := []float64{urgency(0.9, 0.2, 150, 96), urgency(0.9, 0.2, 150, 24), urgency(0.9, 0.2, 150, 6), urgency(0.9, 0.2, 150, 1)}
	for i := 2; i < len(steps); i++ {
		if !(steps[i]-steps[i-1] < steps[i-1]-steps[i-2]) || !(steps[i] > steps[i-1]) {
			t.Errorf("urgency does not rise with diminishing returns: %v", steps)
		}
	}

	// Lifecycle: lapsed personas respond more to discounts than active
	// ones; new ones more to relevance than lapsed ones.
	stageIntent := func(stage string, iv Intervention) float64 {
		s, _ := plain()
		s.LifecycleStage = stage
		s.Preferences["home"] = 0.9
		return intent(t, b, s, iv)
	}
	_, disc := plain()
	disc.Template, disc.Offer = "20% off", Offer{Kind: OfferPercentOff, Value: 20}
	if stageIntent(StageLapsed, disc) <= stageIntent(StageActive, disc) {
		t.Error("a lapsed persona does not respond more to a discount than an active one")
	}
	_, rel := plain()
	rel.Category = "home"
	if stageIntent(StageNew, rel) <= stageIntent(StageLapsed, rel) {
		t.Error("a new persona does not respond more to relevance than a lapsed one")
	}
}

func TestBuiltinJudgementShape(t *testing.T) {
	b := NewBuiltin()
	for _, p := range Sample(DefaultPriors("at_risk"), "at_risk", 40, newRand(2)) {
		for _, iv := range []Intervention{testIntervention("a", "home"), testIntervention("b", "sports")} {
			j := b.Evaluate(p, iv)
			if !(j.IntentChange >= -1 && j.IntentChange <= 1) || !(j.Confidence >= 0 && j.Confidence <= 1) {
				t.Fatalf("out of range: %+v", j)
			}
			if !slices.IsSortedFunc(j.Drivers, func(x, y Driver) int {
				switch ax, ay := math.Abs(x.Effect), math.Abs(y.Effect); {
				case ax > ay:
					return -1
				case ax < ay:
					return 1
				}
				return 0
			}) {
				t.Errorf("drivers not strongest first: %+v", j.Drivers)
			}
			sum := 0.0
			for _, d := range j.Drivers {
				if !slices.Contains(Drivers, d.Factor) {
					t.Errorf("unknown factor %q", d.Factor)
				}
				sum += d.Effect
			}
			if got := math.Tanh(sum); math.Abs(got-j.IntentChange) > 1e-9 {
				t.Errorf("intent %.6f is not tanh of the drivers' sum (%.6f)", j.IntentChange, got)
			}
			if !strings.HasPrefix(j.Rationale, "This ") || !strings.Contains(j.Rationale, ".") {
				t.Errorf("rationale %q", j.Rationale)
			}
			// A judgement survives the answer format.
			back, err := ParseJudgement(DefaultProgram().renderAnswer(j))
			if err != nil || math.Abs(back.IntentChange-j.IntentChange) > 5e-4 {
				t.Errorf("round trip through the answer JSON: %+v, %v", back, err)
			}
		}
	}
	// Agreeing drivers give more confidence than conflicting ones.
	s, iv := plain()
	s.PriceSensitivity = 0.9
	s.PurchaseHistory.Categories = map[string]int{"home": 4}
	iv.Category, iv.Template, iv.Offer = "home", "30% off home", Offer{Kind: OfferPercentOff, Value: 30}
	agree := b.Evaluate(s, iv).Confidence
	iv.RecentExposures = 4
	iv.Channel = "sms"
	if conflict := b.Evaluate(s, iv).Confidence; !(agree > conflict) {
		t.Errorf("confidence %.3f with agreeing drivers, %.3f with conflicting ones", agree, conflict)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Judge(ctx, s, iv); err == nil {
		t.Error("Judge with an ended context succeeded")
	}
}

func TestBuiltinDeterministic(t *testing.T) {
	b := NewBuiltin()
	var ps []Spec
	for _, seg := range SegmentIDs {
		ps = append(ps, Sample(DefaultPriors(seg), seg, 30, newRand(4))...)
	}
	ivs := []Intervention{testIntervention("a", "fashion"), testIntervention("b", "electronics"),
		{ID: "c", Channel: "sms", Template: "LAST CHANCE!!! 30% off everything", Offer: Offer{Kind: OfferPercentOff, Value: 30, ExpiresHours: 6},
			SendHour: 23, DayOfWeek: -1, RecentExposures: 4}}
	first := make([]byte, 0, 1<<16)
	for _, p := range ps {
		for _, iv := range ivs {
			d, _ := json.Marshal(b.Evaluate(p, iv))
			first = append(first, d...)
		}
	}
	// Again, concurrently, through fresh copies of the personas (new map
	// iteration orders).
	var wg sync.WaitGroup
	out := make([][]byte, 4)
	for k := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for _, p := range ps {
				var q Spec
				d, _ := json.Marshal(p)
				_ = json.Unmarshal(d, &q)
				for _, iv := range ivs {
					j, _ := b.Judge(context.Background(), q, iv)
					d, _ := json.Marshal(j)
					buf = append(buf, d...)
				}
			}
			out[k] = buf
		}()
	}
	wg.Wait()
	for k, o := range out {
		if !reflect.DeepEqual(o, first) {
			t.Fatalf("run %d differs from the first", k)
		}
	}
}
