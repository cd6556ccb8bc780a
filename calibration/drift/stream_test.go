package drift

import (
	"fmt"
	"testing"
)

// streamCase is a detector at its default configuration, the index of the injected 1σ change,
// and the delay bound within which its first alarm must follow the change. Each detector gets
// the shortest stream that puts the change after its warm-up (CUSUM 250 samples, PSI a
// 1,000-sample reference) plus a stretch in control, because a stationary stream of length L
// alarms with probability about L/ARL₀: with the ARL₀ measured by BenchmarkEvaluate
// (Page-Hinkley ≈ 1.7·10⁵, CUSUM ≈ 1.3·10⁵, ADWIN and PSI > 10⁶) the chance that any of the 5
// seeds below raises a false alarm is about 5 % in total. The bounds are about twice the worst
// delay seen over 30 seeds in the benchmark (Page-Hinkley 42, ADWIN 85, CUSUM 41), and two
// windows for PSI.
type streamCase struct {
	name            string
	new             func() Detector
	changeAt, bound int
}

func streamCases() []streamCase {
	psi := DefaultPSIConfig()
	return []streamCase{
		{"PageHinkley", func() Detector { return must(NewPageHinkley(DefaultPageHinkleyConfig())) }, 300, 100},
		{"ADWIN", func() Detector { return must(NewADWIN(DefaultADWINConfig())) }, 500, 160},
		{"CUSUM", func() Detector { return must(NewCUSUM(DefaultCUSUMConfig())) }, 450, 100},
		{"PSI", func() Detector { return must(NewPSIDetector(psi)) }, psi.RefSize + psi.WindowSize + psi.WindowSize/2, 2 * psi.WindowSize},
	}
}

const seeds = 5

func TestShiftDetectedWithinBound(t *testing.T) {
	for _, tc := range streamCases() {
		for seed := uint64(1); seed <= seeds; seed++ {
			for _, shift := range []float64{1, -1} {
				t.Run(fmt.Sprintf("%s/seed%d/shift%+g", tc.name, seed, shift), func(t *testing.T) {
					d := tc.new()
					xs := shiftStream(seed, tc.changeAt+tc.bound+1, tc.changeAt, shift)
					alarm := -1
					for i, x := range xs {
						if d.Update(x) {
							alarm = i
							break
						}
					}
					if alarm < 0 {
						t.Fatalf("no alarm within %d samples of the change at %d", tc.bound, tc.changeAt)
					}
					if alarm < tc.changeAt {
						t.Fatalf("first alarm at %d, before the change at %d", alarm, tc.changeAt)
					}
					if m := d.Magnitude(); m*shift <= 0 {
						t.Fatalf("magnitude %v, want the sign of %v", m, shift)
					}
					if ci := d.ChangeIndex(); ci < tc.changeAt-tc.bound || ci > alarm {
						t.Fatalf("change index %d, want in [%d, %d]", ci, tc.changeAt-tc.bound, alarm)
					}
				})
			}
		}
	}
}

func TestNoDriftNoAlarm(t *testing.T) {
	for _, tc := range streamCases() {
		for seed := uint64(1); seed <= seeds; seed++ {
			t.Run(fmt.Sprintf("%s/seed%d", tc.name, seed), func(t *testing.T) {
				d := tc.new()
				if got := feed(t, d, shiftStream(seed, tc.changeAt+tc.bound+1, -1, 0)...); got != nil {
					t.Fatalf("alarms on a stationary stream at %v", got)
				}
			})
		}
	}
}
