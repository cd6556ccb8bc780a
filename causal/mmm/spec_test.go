package mmm

import (
	"math"
	"testing"
)

// TestSummarize checks the interval summary on small cases by hand.
func TestSummarize(t *testing.T) {
	x := []float64{11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	iv := Summarize(x)
	// Type-7 quantiles: h = 0.05·10 = 0.5 → 1.5; h = 9.5 → 10.5.
	if iv.Mean != 6 || math.Abs(iv.Lo-1.5) > 1e-12 || math.Abs(iv.Hi-10.5) > 1e-12 {
		t.Errorf("Summarize = %+v, want {6 1.5 10.5}", iv)
	}
	if x[0] != 11 {
		t.Error("Summarize modified its input")
	}
	if one := Summarize([]float64{3}); one != (Interval{3, 3, 3}) {
		t.Errorf("Summarize(one value) = %+v", one)
	}
	if e := Summarize(nil); !math.IsNaN(e.Mean) || !math.IsNaN(e.Lo) || !math.IsNaN(e.Hi) {
		t.Errorf("Summarize(nil) = %+v, want NaNs", e)
	}
}

// TestNewModelRejects checks that invalid inputs are reported.
func TestNewModelRejects(t *testing.T) {
	sim := mustSimulate(t, simConfig(mixedChannels()), 1)
	ok := func() (Data, Spec) {
		d := sim.Data
		d.Spend = append([][]float64(nil), d.Spend...)
		return d, sim.Spec
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Data, *Spec)
		lifts []LiftTest
	}{
		{"negative spend", func(d *Data, _ *Spec) {
			x := append([]float64(nil), d.Spend[0]...)
			x[3] = -1
			d.Spend[0] = x
		}, nil},
		{"short spend", func(d *Data, _ *Spec) { d.Spend[1] = d.Spend[1][:10] }, nil},
		{"never spends", func(d *Data, _ *Spec) { d.Spend[1] = make([]float64, len(d.Y)) }, nil},
		{"missing channel", func(d *Data, _ *Spec) { d.Spend = d.Spend[:2] }, nil},
		{"zero max lag", func(_ *Data, s *Spec) {
			s.Channels = append([]ChannelSpec(nil), s.Channels...)
			s.Channels[0].MaxLag = 0
		}, nil},
		{"no period", func(_ *Data, s *Spec) { s.Period = 0 }, nil},
		{"bad prior", func(_ *Data, s *Spec) { p := DefaultPriors(); p.HillKLogSD = 0; s.Priors = &p }, nil},
		{"lift channel", func(*Data, *Spec) {}, []LiftTest{{Channel: 5, SE: 1}}},
		{"lift SE", func(*Data, *Spec) {}, []LiftTest{{Channel: 0, Spend: 1, DeltaSpend: 1, DeltaY: 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, s := ok()
			tc.edit(&d, &s)
			if _, err := NewModel(d, s, tc.lifts); err == nil {
				t.Error("NewModel accepted invalid input")
			} else {
				t.Log(err)
			}
		})
	}
	d, s := ok()
	if _, err := NewModel(d, s, nil); err != nil {
		t.Fatalf("valid input rejected: %v", err)
	}
}
