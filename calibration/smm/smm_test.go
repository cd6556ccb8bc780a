package smm

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// normalModel simulates x = μ + e^{ls}·u on fixed standard normal draws u
// (common random numbers) and returns the moments E x, E x², E|x|, E x³.
type normalModel struct{ u []float64 }

func (m normalModel) moments(theta []float64) []float64 {
	mu, sd := theta[0], math.Exp(theta[1])
	out := make([]float64, 4)
	for _, u := range m.u {
		x := mu + sd*u
		out[0] += x
		out[1] += x * x
		out[2] += math.Abs(x)
		out[3] += x * x * x
	}
	for i := range out {
		out[i] /= float64(len(m.u))
	}
	return out
}

func normals(r *rand.Rand, n int) []float64 {
	u := make([]float64, n)
	for i := range u {
		u[i] = r.NormFloat64()
	}
	return u
}

// With observed moments computed from the simulator at θ₀ (no noise) the
// fit recovers θ₀ to optimizer precision, with either weighting.
func TestFitExact(t *testing.T) {
	model := normalModel{normals(rand.New(rand.NewPCG(1, 1)), 2000)}
	truth := []float64{0.7, math.Log(1.5)}
	obs := model.moments(truth)
	cov := mat.NewSymDense(4, []float64{
		1, 0, 0, 0,
		0, 4, 0, 0,
		0, 0, 1, 0,
		0, 0, 0, 30,
	})
	for _, w := range []Weighting{Identity, Diagonal, Optimal} {
		t.Run(w.String(), func(t *testing.T) {
			theta, res, err := Fit(model.moments, obs, w, Options{
				Start: []float64{0, 0}, Cov: cov, Rand: rand.New(rand.NewPCG(2, 2)),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: θ̂ %v, Q %.3g, %s, %d evaluations, cond %.3g", w, theta, res.Objective, res.Status, res.Evaluations, res.Condition)
			if !res.Converged {
				t.Errorf("not converged: %s", res.Status)
			}
			for i := range truth {
				if math.Abs(theta[i]-truth[i]) > 1e-6 {
					t.Errorf("θ[%d] = %v, want %v", i, theta[i], truth[i])
				}
			}
			if !res.Identified || res.Rank != 2 {
				t.Errorf("identified %v rank %d, want true 2", res.Identified, res.Rank)
			}
		})
	}
}

// Observed moments from a data set of n draws; the simulator averages S
// data sets of n draws on fixed streams. With the optimal weighting the
// estimate is within a few standard errors of the truth and J is χ²(2).
func TestFitNoisyOptimal(t *testing.T) {
	const n, S = 2000, 5
	truth := []float64{0.7, math.Log(1.5)}
	data := normalModel{normals(rand.New(rand.NewPCG(3, 3)), n)}
	obs := data.moments(truth)
	// Σ: covariance of the per-draw moment contributions over n.
	contrib := mat.NewDense(n, 4, nil)
	for i, u := range data.u {
		x := truth[0] + math.Exp(truth[1])*u
		contrib.SetRow(i, []float64{x, x * x, math.Abs(x), x * x * x})
	}
	cov := mat.NewSymDense(4, nil)
	covariance(cov, contrib)
	cov.ScaleSym(1/float64(n), cov)
	model := normalModel{normals(rand.New(rand.NewPCG(4, 4)), S*n)}
	theta, res, err := Fit(model.moments, obs, Optimal, Options{
		Start: []float64{0, 0}, Cov: cov, Sims: S, Rand: rand.New(rand.NewPCG(5, 5)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("θ̂ %.4f ± %.4f, truth %.4f; J %.3f (df %d, p %.3f); %s", theta, res.StdErr, truth, res.J, res.JDF, res.JPValue, res.Status)
	if !res.Converged || res.Cov == nil || res.JDF != 2 {
		t.Fatalf("converged %v cov %v JDF %d", res.Converged, res.Cov != nil, res.JDF)
	}
	for i := range truth {
		if z := math.Abs(theta[i]-truth[i]) / res.StdErr[i]; z > 4 {
			t.Errorf("θ[%d] = %v is %.1f standard errors from %v", i, theta[i], z, truth[i])
		}
	}
	if res.JPValue < 1e-3 {
		t.Errorf("J = %v rejects a correct model (p %v)", res.J, res.JPValue)
	}
	if r, c := res.Sensitivity.Dims(); r != 2 || c != 4 {
		t.Errorf("sensitivity is %d×%d, want 2×4", r, c)
	}
}

// covariance sets dst to the sample covariance of the rows of x.
func covariance(dst *mat.SymDense, x *mat.Dense) {
	n, p := x.Dims()
	mean := make([]float64, p)
	for i := range n {
		for j := range p {
			mean[j] += x.At(i, j) / float64(n)
		}
	}
	for a := range p {
		for b := a; b < p; b++ {
			s := 0.0
			for i := range n {
				s += (x.At(i, a) - mean[a]) * (x.At(i, b) - mean[b])
			}
			dst.SetSym(a, b, s/float64(n-1))
		}
	}
}

func TestFitErrors(t *testing.T) {
	sim := func(th []float64) []float64 { return []float64{th[0]} }
	if _, _, err := Fit(sim, []float64{1}, Identity, Options{}); err == nil {
		t.Error("no start: want error")
	}
	if _, _, err := Fit(sim, []float64{1}, Diagonal, Options{Start: []float64{0}}); err == nil {
		t.Error("diagonal without covariance: want error")
	}
	if _, _, err := Fit(sim, []float64{1}, Optimal, Options{Start: []float64{0}, Cov: mat.NewSymDense(1, []float64{0})}); err == nil {
		t.Error("optimal with singular covariance: want error")
	}
	if _, _, err := Fit(sim, []float64{1}, Identity, Options{Start: []float64{0}, Cov: mat.NewSymDense(2, nil)}); err == nil {
		t.Error("covariance of the wrong size: want error")
	}
}

// Two parameters, one moment: the fit matches the moment but flags the
// flat direction (1, −1)/√2 of m = θ₀ + θ₁.
func TestFitUnderIdentified(t *testing.T) {
	sim := func(th []float64) []float64 { return []float64{th[0] + th[1]} }
	theta, res, err := Fit(sim, []float64{1}, Identity, Options{Start: []float64{0, 0}, Cov: mat.NewSymDense(1, []float64{0.01})})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(theta[0]+theta[1]-1) > 1e-6 {
		t.Errorf("θ̂ = %v does not match the moment", theta)
	}
	if res.Identified || res.Rank != 1 || !math.IsInf(res.Condition, 1) || res.Cov != nil {
		t.Errorf("identified %v rank %d cond %v cov %v: want false 1 +Inf nil", res.Identified, res.Rank, res.Condition, res.Cov != nil)
	}
	if res.FlatDirections == nil {
		t.Fatal("no flat direction")
	}
	if a, b := res.FlatDirections.At(0, 0), res.FlatDirections.At(1, 0); math.Abs(a+b) > 1e-6 || math.Abs(math.Abs(a)-math.Sqrt(0.5)) > 1e-6 {
		t.Errorf("flat direction (%v, %v), want ±(1, −1)/√2", a, b)
	}
}
