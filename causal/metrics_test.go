package causal

import (
	"math"
	"testing"
)

func TestROCAUC(t *testing.T) {
	cases := []struct {
		name     string
		y, score []float64
		want     float64
	}{
		{"perfect", []float64{0, 0, 1, 1}, []float64{0.1, 0.2, 0.8, 0.9}, 1},
		{"reversed", []float64{1, 1, 0, 0}, []float64{0.1, 0.2, 0.8, 0.9}, 0},
		// Pairs (pos, neg): (0.8, 0.1) 1, (0.8, 0.8) ½, (0.3, 0.1) 1, (0.3, 0.8) 0 → 2.5/4.
		{"ties by hand", []float64{1, 0, 1, 0}, []float64{0.8, 0.1, 0.3, 0.8}, 0.625},
		{"all tied", []float64{1, 0, 1}, []float64{0.5, 0.5, 0.5}, 0.5},
	}
	for _, c := range cases {
		if got := ROCAUC(c.y, c.score); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: ROCAUC = %v, want %v", c.name, got, c.want)
		}
	}
	if got := ROCAUC([]float64{1, 1}, []float64{0.1, 0.2}); !math.IsNaN(got) {
		t.Errorf("one class: ROCAUC = %v, want NaN", got)
	}
}
