package smm

import (
	"math"
	"testing"
)

func rosenbrock(x []float64) float64 {
	a, b := 1-x[0], x[1]-x[0]*x[0]
	return a*a + 100*b*b
}

func rosenbrockGrad(dst, x []float64) {
	dst[0] = -2*(1-x[0]) - 400*x[0]*(x[1]-x[0]*x[0])
	dst[1] = 200 * (x[1] - x[0]*x[0])
}

func TestMinimizersRosenbrock(t *testing.T) {
	start := []float64{-1.2, 1}
	tests := []struct {
		name string
		run  func() minResult
	}{
		{"nelder-mead", func() minResult { return nelderMead(rosenbrock, start, 0.5, 10000) }},
		{"lbfgs", func() minResult { return lbfgs(rosenbrock, rosenbrockGrad, start, 1e-10, 10000) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.run()
			t.Logf("x %v f %.3g: %s", r.x, r.f, r.status)
			if !r.converged || math.Abs(r.x[0]-1) > 1e-5 || math.Abs(r.x[1]-1) > 1e-5 {
				t.Errorf("got x %v (%s), want (1, 1) converged", r.x, r.status)
			}
		})
	}
	// An evaluation limit is not convergence.
	if r := nelderMead(rosenbrock, start, 0.5, 20); r.converged {
		t.Errorf("20 evaluations reported as converged: %s", r.status)
	}
}
