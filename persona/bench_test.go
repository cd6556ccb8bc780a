package persona

import (
	"context"
	"testing"
)

// BenchmarkSample measures persona generation: 1000 personas of one
// segment per iteration.
func BenchmarkSample(b *testing.B) {
	const n = 1000
	tp := DefaultPriors("loyal")
	r := newRand(1)
	count := 0
	for b.Loop() {
		ps := Sample(tp, "loyal", n, r)
		count += len(ps)
	}
	b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "personas/s")
}

// BenchmarkBuiltinJudge measures the built-in reasoner on a mix of
// personas and interventions.
func BenchmarkBuiltinJudge(b *testing.B) {
	var ps []Spec
	for _, seg := range SegmentIDs {
		ps = append(ps, Sample(DefaultPriors(seg), seg, 50, newRand(2))...)
	}
	ivs := []Intervention{testIntervention("a", "fashion"), testIntervention("b", "home"),
		{ID: "c", Channel: "sms", Template: "LAST CHANCE!!! 30% off everything", Offer: Offer{Kind: OfferPercentOff, Value: 30, ExpiresHours: 6},
			SendHour: 23, DayOfWeek: -1, RecentExposures: 4}}
	br := NewBuiltin()
	ctx := context.Background()
	count := 0
	for b.Loop() {
		p, iv := ps[count%len(ps)], ivs[count%len(ivs)]
		if _, err := br.Judge(ctx, p, iv); err != nil {
			b.Fatal(err)
		}
		count++
	}
	b.ReportMetric(float64(count)/b.Elapsed().Seconds(), "evaluations/s")
}

// BenchmarkMessages measures rendering a two-demo program.
func BenchmarkMessages(b *testing.B) {
	p := twoDemoProgram()
	s, iv := testSpec("p-1", "home"), testIntervention("v-1", "home")
	for b.Loop() {
		_ = p.Messages(s, iv)
	}
}
