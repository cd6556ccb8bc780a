package drift

import (
	"math"
	"slices"
	"testing"
)

func TestPSIGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ref, cur []float64
		psi, js  float64
	}{
		// (0.25−0.5)·ln(0.25/0.5) + (0.75−0.5)·ln(0.75/0.5) = 0.25·(ln 2 + ln 1.5).
		{"two bins", []float64{50, 50}, []float64{25, 75}, 0.2746530721670274, 0.1839077909404743},
		// Counts are normalized: scale does not matter.
		{"scaled", []float64{1, 1}, []float64{100, 300}, 0.2746530721670274, 0.1839077909404743},
		// Empty bin floored to 10⁻⁴: (0.5−1)·ln 0.5 + (0.5−10⁻⁴)·ln(0.5/10⁻⁴).
		{"empty bin", []float64{100, 0}, []float64{50, 50}, 4.60431846666895, math.NaN()},
		{"identical", []float64{3, 1, 6}, []float64{30, 10, 60}, 0, 0},
		// Disjoint supports: the JS divergence is ln 2, the distance sqrt(ln 2).
		{"disjoint", []float64{1, 0}, []float64{0, 1}, 2 * (1 - 1e-4) * math.Log(1e4), math.Sqrt(math.Ln2)},
		{"empty total", []float64{0, 0}, []float64{1, 1}, math.NaN(), math.NaN()},
		{"negative count", []float64{-1, 2}, []float64{1, 1}, math.NaN(), math.NaN()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, got, want float64) {
				t.Helper()
				if math.IsNaN(want) {
					if tc.name != "empty bin" && !math.IsNaN(got) {
						t.Fatalf("%s = %v, want NaN", what, got)
					}
					return
				}
				if !near(got, want, 1e-12) {
					t.Fatalf("%s = %v, want %v", what, got, want)
				}
			}
			check("PSI", PSI(tc.ref, tc.cur), tc.psi)
			check("JSDistance", JSDistance(tc.ref, tc.cur), tc.js)
		})
	}
	defer func() {
		if recover() == nil {
			t.Fatal("PSI did not panic on a length mismatch")
		}
	}()
	PSI([]float64{1}, []float64{1, 2})
}

func TestQuantileEdgesAndBins(t *testing.T) {
	sample := []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	if got := QuantileEdges(sample, 5); !slices.Equal(got, []float64{2, 4, 6, 8}) {
		t.Fatalf("quintile edges = %v, want [2 4 6 8]", got)
	}
	if sample[0] != 10 {
		t.Fatal("QuantileEdges modified its input")
	}
	// Ties collapse edges.
	if got := QuantileEdges([]float64{1, 1, 1, 1, 2}, 5); !slices.Equal(got, []float64{1}) {
		t.Fatalf("tied edges = %v, want [1]", got)
	}
	if QuantileEdges(nil, 10) != nil {
		t.Fatal("edges of an empty sample are not nil")
	}
	edges := []float64{2, 4, 6, 8}
	for x, want := range map[float64]int{-5: 0, 2: 0, 2.1: 1, 4: 1, 8: 3, 9: 4} {
		if got := BinIndex(edges, x); got != want {
			t.Errorf("BinIndex(%v) = %d, want %d", x, got, want)
		}
	}
}

func TestPSIDetectorHandComputed(t *testing.T) {
	d := must(NewPSIDetector(PSIConfig{RefSize: 4, WindowSize: 2, Edges: []float64{0}, Threshold: 0.1})).(*PSIDetector)
	// Reference −1, −1, 1, 1 → [2, 2]; window −1, 1 → [1, 1], PSI 0; window 1, 1 → [0, 2]:
	// (10⁻⁴ − 0.5)·ln(10⁻⁴/0.5) + 0.5·ln 2 = 4.6043…
	got := feed(t, d, -1, -1, 1, 1, -1, 1, 1, 1)
	if !slices.Equal(got, []int{7}) {
		t.Fatalf("alarms = %v, want [7]", got)
	}
	if !near(d.Statistic(), 4.60431846666895, 1e-12) || d.ChangeIndex() != 6 || d.Magnitude() != 1 {
		t.Fatalf("PSI %v change %d magnitude %v, want 4.6043…, 6, 1", d.Statistic(), d.ChangeIndex(), d.Magnitude())
	}
	if !near(d.JS(), JSDistance([]float64{2, 2}, []float64{0, 2}), 1e-12) {
		t.Fatalf("JS = %v, want %v", d.JS(), JSDistance([]float64{2, 2}, []float64{0, 2}))
	}
	if !slices.Equal(d.Reference(), []float64{2, 2}) || !slices.Equal(d.Edges(), []float64{0}) {
		t.Fatalf("reference %v edges %v", d.Reference(), d.Edges())
	}
	// After the alarm a new reference is collected: four samples, then windows again.
	if got := feed(t, d, 5, 5, 6, 6, 5, 6); got != nil {
		t.Fatalf("alarm while relearning: %v", got)
	}
}

func TestPSIDetectorDeciles(t *testing.T) {
	d := must(NewPSIDetector(DefaultPSIConfig())).(*PSIDetector)
	feed(t, d, shiftStream(1, 1000, -1, 0)...)
	if e := d.Edges(); len(e) != 9 || !slices.IsSorted(e) {
		t.Fatalf("decile edges = %v", e)
	}
	for _, c := range d.Reference() {
		if c != 100 {
			t.Fatalf("decile reference counts = %v, want 100 each", d.Reference())
		}
	}
}

func TestPSIValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		edit  func(*PSIConfig)
	}{
		{"RefSize", func(c *PSIConfig) { c.RefSize = 0 }},
		{"WindowSize", func(c *PSIConfig) { c.WindowSize = 0 }},
		{"Bins", func(c *PSIConfig) { c.Bins = 1 }},
		{"Edges", func(c *PSIConfig) { c.Edges = []float64{2, 1} }},
		{"Threshold", func(c *PSIConfig) { c.Threshold = 0 }},
	} {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultPSIConfig()
			tc.edit(&c)
			wantFieldError(t, c.Validate(), "PSIConfig."+tc.field)
		})
	}
}
