package drift

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// stub alarms at fixed indices.
type stub struct {
	n  int
	at map[int]bool
}

func (s *stub) Update(float64) bool { s.n++; return s.at[s.n-1] }
func (s *stub) Reset()              { s.n = 0 }
func (s *stub) Statistic() float64  { return 0 }
func (s *stub) Threshold() float64  { return 1 }
func (s *stub) Magnitude() float64  { return 0 }
func (s *stub) ChangeIndex() int    { return -1 }

func TestEvaluateCounts(t *testing.T) {
	sc := []Scenario{
		{Name: "stationary", Length: 100, ChangeAt: -1},
		{Name: "shift", Length: 100, ChangeAt: 50, Shift: 1, MaxDelay: 20},
	}
	cands := []Candidate{
		// False alarms at 10 and 30, a hit 5 after the change (a third false alarm when there
		// is no change).
		{"hit", func() Detector { return &stub{at: map[int]bool{10: true, 30: true, 55: true}} }},
		// An alarm past MaxDelay is no hit.
		{"late", func() Detector { return &stub{at: map[int]bool{71: true}} }},
	}
	rs := Evaluate(cands, sc, 3, 1)
	if len(rs) != 4 {
		t.Fatalf("%d results, want 4", len(rs))
	}
	stat, hit, late := rs[0], rs[2], rs[3]
	if stat.FalseAlarms != 9 || stat.NullSamples != 300 || !near(stat.FalseAlarmsPer10k, 300, tol) || !near(stat.MTFA, 100.0/3, tol) {
		t.Fatalf("stationary: %+v", stat)
	}
	if !math.IsNaN(stat.MissedDetectionRate) || !math.IsNaN(stat.MeanDelay) {
		t.Fatalf("stationary has a delay or MDR: %+v", stat)
	}
	if hit.Detected != 3 || hit.MeanDelay != 5 || hit.MaxDelay != 5 || hit.MissedDetectionRate != 0 ||
		hit.FalseAlarms != 6 || hit.NullSamples != 150 || !near(hit.MTR, 25.0/5, tol) {
		t.Fatalf("hit: %+v", hit)
	}
	if late.Detected != 0 || late.MissedDetectionRate != 1 || !math.IsInf(late.MTFA, 1) {
		t.Fatalf("late: %+v", late)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rs); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(buf.String(), "\n"); lines != 6 {
		t.Fatalf("table has %d lines, want 6:\n%s", lines, buf.String())
	}
}

func TestEvaluateDeterministic(t *testing.T) {
	sc := DefaultScenarios(5000)
	a := Evaluate(DefaultCandidates()[:1], sc, 3, 9)
	b := Evaluate(DefaultCandidates()[:1], sc, 3, 9)
	for i := range a {
		if a[i].FalseAlarms != b[i].FalseAlarms || a[i].Detected != b[i].Detected ||
			(a[i].MeanDelay != b[i].MeanDelay && !math.IsNaN(a[i].MeanDelay)) {
			t.Fatalf("run %d differs: %+v vs %+v", i, a[i], b[i])
		}
	}
}
