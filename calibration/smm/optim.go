package smm

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// minResult is where a minimizer stopped.
type minResult struct {
	x         []float64
	f         float64
	converged bool
	status    string
}

// nelderMead minimizes f from x0 with gonum's Nelder–Mead simplex method
// (Nelder & Mead 1965; reflection 1, expansion 2, contraction 0.5, shrink
// 0.5), starting from the simplex x0, x0 + size·e_i. It stops when the
// values at the simplex's vertices agree to 1e-12 (converged), or after
// maxEvals evaluations (not converged).
func nelderMead(f func([]float64) float64, x0 []float64, size float64, maxEvals int) minResult {
	p := optimize.Problem{Func: f}
	settings := &optimize.Settings{
		FuncEvaluations: maxEvals,
		Converger:       &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-12, Iterations: 5 * len(x0)},
	}
	return run(p, x0, settings, &optimize.NelderMead{SimplexSize: size})
}

// lbfgs minimizes f from x0 with gonum's limited-memory BFGS (Nocedal &
// Wright 2006, algorithm 7.5; memory 10, More–Thuente line search), using
// grad for the gradient (central differences in Fit). It stops with
// converged true when the gradient's infinity norm falls to gtol or f stops
// improving, and with converged false after maxEvals evaluations or when
// the line search can make no progress.
func lbfgs(f func([]float64) float64, grad func(dst, x []float64), x0 []float64, gtol float64, maxEvals int) minResult {
	p := optimize.Problem{Func: f, Grad: grad}
	settings := &optimize.Settings{
		GradientThreshold: gtol,
		FuncEvaluations:   maxEvals,
		Converger:         &optimize.FunctionConverge{Absolute: 0, Relative: 1e-14, Iterations: 3},
	}
	return run(p, x0, settings, &optimize.LBFGS{Store: 10})
}

// run minimizes p from x0 with method and reports the best point found.
func run(p optimize.Problem, x0 []float64, settings *optimize.Settings, method optimize.Method) minResult {
	res, err := optimize.Minimize(p, x0, settings, method)
	if res == nil {
		return minResult{x: append([]float64(nil), x0...), f: math.Inf(1), status: err.Error()}
	}
	st := res.Status
	converged := err == nil && (st == optimize.GradientThreshold || st == optimize.FunctionConvergence ||
		st == optimize.MethodConverge || st == optimize.FunctionThreshold)
	status := st.String()
	if err != nil && !errors.Is(err, optimize.ErrLinesearcherFailure) {
		status += ": " + err.Error()
	} else if err != nil {
		status = "line search made no progress"
	}
	return minResult{x: res.X, f: res.F, converged: converged, status: status}
}
