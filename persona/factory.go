package persona

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/preflight-hq/preflight/internal/randx"
)

// Name parts of generated personas, by gender; "" holds the names used
// for other genders.
var (
	firstNames = map[string][]string{
		"woman": {"Anna", "Mia", "Sofia", "Laura", "Emma", "Julia", "Sarah", "Lena", "Chloe", "Aisha",
			"Maria", "Hannah", "Olivia", "Zoe", "Nora", "Priya", "Elena", "Grace", "Yuki", "Fatima"},
		"man": {"Lukas", "David", "Jonas", "Ben", "Omar", "Daniel", "Leon", "Noah", "Samuel", "Ravi",
			"Marco", "Tom", "Felix", "Adam", "Kenji", "Paul", "Elias", "Mateo", "Jakob", "Ali"},
		"": {"Alex", "Sam", "Robin", "Kim", "Charlie", "Jordan", "Taylor", "Noa", "Quinn", "Avery"},
	}
	lastNames = []string{"Schneider", "Garcia", "Novak", "Müller", "Rossi", "Smith", "Kowalski", "Nguyen",
		"Fischer", "Jansen", "Silva", "Weber", "Dubois", "Khan", "Berg", "Larsen", "Moreau", "Tanaka",
		"Costa", "Hoffmann", "Kaya", "Brown", "Petrov", "Lindqvist"}
)

// Days in a year and the lifecycle thresholds of synth.
const (
	daysPerYear       = 365
	newTenureDays     = 90 // tenure at or below which a customer is "new"
	lapsedRecencyDays = 90 // recency above which a customer is "lapsed"
	minAge, maxAge    = 18.0, 90.0
	defaultTenureDays = 700.0
)

// prepared holds a TraitPriors ready for repeated draws, so that Sample
// allocates nothing per persona beyond the Spec itself.
type prepared struct {
	tp                                          TraitPriors
	ageBand, gender, region, occupation, income sampler
	lifecycle, hours, favorite                  sampler
	hourBands                                   map[string]HourBand
	categories                                  []string
	channels                                    []string
	engagementMean                              float64
}

func prepare(tp TraitPriors) *prepared {
	tp = tp.withDefaults()
	p := &prepared{
		tp: tp, ageBand: newSampler(tp.AgeBand), gender: newSampler(tp.Gender), region: newSampler(tp.Region),
		occupation: newSampler(tp.Occupation), income: newSampler(tp.IncomeBand), lifecycle: newSampler(tp.LifecycleStage),
		hours: newSampler(tp.PreferredHours), favorite: newSampler(tp.CategoryWeights),
		hourBands: map[string]HourBand{}, engagementMean: tp.Engagement.Mean(),
	}
	for k := range tp.PreferredHours {
		if b, err := parseHourBand(k); err == nil {
			p.hourBands[k] = b
		}
	}
	p.categories = slices.Clone(tp.Categories)
	for _, c := range sortedKeys(tp.CategoryWeights) {
		if !slices.Contains(p.categories, c) {
			p.categories = append(p.categories, c)
		}
	}
	p.channels = orderedKeys(betaMeans(tp.ChannelAffinity), Channels)
	if !tp.Engagement.valid() {
		p.engagementMean = 0.5
	}
	return p
}

func betaMeans(m map[string]Beta) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, b := range m {
		out[k] = b.Mean()
	}
	return out
}

// Sample draws n personas of segment segmentID from priors, every draw
// from rng, in a fixed order, so the same priors, n and rng state give the
// same personas. IDs are "<segmentID>-0001", "<segmentID>-0002", … (stable
// under a seed and across n: the first k personas of Sample(…, n) equal
// those of Sample(…, k) with the same seed, but for their weights).
// Weights are 1/n. The
// distributions and how they combine are described on TraitPriors; unset
// fields come from GenericPriors. Priors that fail Validate still sample:
// an invalid Beta draws 0.5, an empty Categorical the generic default.
// n <= 0 gives nil.
func Sample(priors TraitPriors, segmentID string, n int, rng *rand.Rand) []Spec {
	if n <= 0 {
		return nil
	}
	p := prepare(priors)
	out := make([]Spec, n)
	for i := range out {
		out[i] = p.draw(rng, segmentID, i, n)
	}
	return out
}

// draw returns persona i of n.
func (p *prepared) draw(r *rand.Rand, segmentID string, i, n int) Spec {
	tp := &p.tp
	s := Spec{
		ID:        fmt.Sprintf("%s-%04d", segmentID, i+1),
		SegmentID: segmentID,
		Weight:    1 / float64(n),
	}
	// Demographics.
	if tp.AgeMean > 0 {
		age := min(max(tp.AgeMean+tp.AgeSD*r.NormFloat64(), minAge), maxAge)
		s.AgeBand = ageBand(age)
	} else {
		s.AgeBand = p.ageBand.draw(r)
	}
	s.Gender = p.gender.draw(r)
	names, ok := firstNames[s.Gender]
	if !ok {
		names = firstNames[""]
	}
	s.Name = names[r.IntN(len(names))] + " " + lastNames[r.IntN(len(lastNames))]
	s.Region = p.region.draw(r)
	s.Occupation = p.occupation.draw(r)
	s.IncomeBand = p.income.draw(r)

	// Psychographics.
	s.Traits = make(map[string]float64, len(BigFive))
	for _, k := range BigFive {
		s.Traits[k] = round3(tp.Traits[k].sample(r))
	}
	engagement := tp.Engagement.sample(r)
	shift := EngagementShift * (engagement - p.engagementMean)
	s.ChannelAffinity = make(map[string]float64, len(p.channels))
	for _, ch := range p.channels {
		s.ChannelAffinity[ch] = round3(clamp01(tp.ChannelAffinity[ch].sample(r) + shift))
	}
	s.FatigueTolerance = round3(clamp01(tp.FatigueTolerance.sample(r) + shift))
	s.PriceSensitivity = round3(tp.PriceSensitivity.sample(r))
	if h := p.hours.draw(r); h != "" {
		s.PreferredHours = p.hourBands[h]
	}

	// Category preferences: one favourite, the others lower.
	fav := p.favorite.draw(r)
	s.Preferences = make(map[string]float64, len(p.categories))
	for _, c := range p.categories {
		if c == fav {
			s.Preferences[c] = round3(tp.FavoriteAffinity.sample(r))
		} else {
			s.Preferences[c] = round3(tp.OtherAffinity.sample(r))
		}
	}

	// Tenure, recency and lifecycle.
	tenure := defaultTenureDays
	if tp.TenureMeanDays > 0 {
		tenure = max(1, math.Round(randx.Gamma(r, 2)*tp.TenureMeanDays/2))
		if tp.TenureMaxDays > 0 {
			tenure = min(tenure, float64(tp.TenureMaxDays))
		}
	}
	recency := min(math.Round(r.ExpFloat64()*tp.RecencyMeanDays), tenure)
	if tp.TenureMeanDays > 0 {
		switch {
		case tenure <= newTenureDays:
			s.LifecycleStage = StageNew
		case recency > lapsedRecencyDays:
			s.LifecycleStage = StageLapsed
		default:
			s.LifecycleStage = StageActive
		}
	} else {
		s.LifecycleStage = p.lifecycle.draw(r)
		if s.LifecycleStage == StageLapsed {
			recency = max(recency, lapsedRecencyDays+1)
		}
	}

	// Purchase history, following the preferences.
	h := &s.PurchaseHistory
	h.OrdersPerYear = math.Round(tp.OrdersPerYear.sample(r)*10) / 10
	h.DaysSinceLastOrder = int(recency)
	orders := 0
	if s.LifecycleStage != StageProspect && recency < daysPerYear {
		orders = max(1, poissonDraw(r, h.OrdersPerYear*min(tenure, daysPerYear)/daysPerYear))
	}
	h.Categories = map[string]int{}
	if orders > 0 {
		w := make(Categorical, len(s.Preferences))
		for c, v := range s.Preferences {
			w[c] = math.Pow(v, tp.PurchaseSharpness) + 1e-9
		}
		cs := newSampler(w)
		for range orders {
			h.Categories[cs.draw(r)]++
		}
	}
	spend := tp.HistoryMedian * math.Exp(tp.HistorySigma*r.NormFloat64())
	h.AvgOrderValue = math.Round(spend/float64(max(orders, 1))*100) / 100
	if s.LifecycleStage == StageProspect {
		*h = PurchaseHistory{Categories: map[string]int{}}
	}
	return s
}

func clamp01(x float64) float64 { return min(max(x, 0), 1) }
