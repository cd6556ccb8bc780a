package linear

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/preflight-hq/preflight/causal"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g ± %g", name, got, want, tol)
	}
}

// planted returns n rows of p features with very different scales and
// y = intercept + Σ coef_j x_j (+ noise for the linear case, or a Bernoulli
// draw for the logistic case).
func planted(r *rand.Rand, n int, intercept float64, coef []float64, logistic bool, noise float64) (causal.Matrix, []float64) {
	p := len(coef)
	x := causal.Matrix{Rows: n, Cols: p, Data: make([]float64, n*p)}
	y := make([]float64, n)
	scales := []float64{1, 100, 0.01, 10}
	for i := range n {
		eta := intercept
		for j := range p {
			v := scales[j%len(scales)] * (r.NormFloat64() + 0.5)
			x.Data[i*p+j] = v
			eta += coef[j] * v
		}
		if logistic {
			if r.Float64() < sigmoid(eta) {
				y[i] = 1
			}
		} else {
			y[i] = eta + noise*r.NormFloat64()
		}
	}
	return x, y
}

func TestRidgeHandComputed(t *testing.T) {
	// x = (0, 1, 2), y = (1, 3, 5). Weighted mean of x is 1 and its
	// population variance 2/3, so z = (x − 1)/√(2/3) and Σz² = 3. The
	// standardized slope is Σz·y/(Σz² + λ) = (4/√(2/3))/(3 + λ), which on the
	// original scale is 4/((2/3)(3 + λ)) = 6/(3 + λ); the intercept is
	// ȳ − slope·x̄ = 3 − 6/(3 + λ).
	x := causal.Matrix{Rows: 3, Cols: 1, Data: []float64{0, 1, 2}}
	y := []float64{1, 3, 5}
	for _, lambda := range []float64{0, 1, 3} {
		r := NewRidge(lambda)
		if err := r.Fit(x, y, nil); err != nil {
			t.Fatal(err)
		}
		near(t, "slope", r.Coef()[0], 6/(3+lambda), 1e-12)
		near(t, "intercept", r.Intercept(), 3-6/(3+lambda), 1e-12)
	}
}

func TestRidgeRecoversPlanted(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	coef := []float64{1.5, -0.02, 40, 0.3}
	x, y := planted(rng, 2000, 2, coef, false, 0.1)
	r := NewRidge(1e-3)
	if err := r.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	got := r.Coef()
	for j, c := range coef {
		// Standard error of each slope is about 0.1/(√2000·scale_j).
		near(t, "coef", got[j], c, 0.02*math.Abs(c))
	}
	near(t, "intercept", r.Intercept(), 2, 0.05)
	pred := r.Predict(x)
	near(t, "prediction residual", pred[0]-y[0], 0, 0.5)
}

func TestLogisticHandComputed(t *testing.T) {
	// One binary feature, no penalty: the maximum-likelihood fit reproduces
	// the two group rates, 1/4 at x = 0 and 3/4 at x = 1, so the intercept
	// is logit(1/4) = −ln 3 and the slope logit(3/4) − logit(1/4) = 2 ln 3.
	// The inverse Hessian is block-wise 1/(n_g p_g (1 − p_g)) = 4/3 per group:
	// Var(b) = 4/3, Var(b + a) = 4/3, so Var(a) = 8/3 and Cov(b, a) = −4/3.
	x := causal.Matrix{Rows: 8, Cols: 1, Data: []float64{0, 0, 0, 0, 1, 1, 1, 1}}
	y := []float64{1, 0, 0, 0, 1, 1, 1, 0}
	l := NewLogistic(0)
	if err := l.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	near(t, "intercept", l.Intercept(), -math.Log(3), 1e-9)
	near(t, "slope", l.Coef()[0], 2*math.Log(3), 1e-9)
	cov := l.Covariance()
	near(t, "Var(intercept)", cov.At(0, 0), 4.0/3, 1e-8)
	near(t, "Var(slope)", cov.At(1, 1), 8.0/3, 1e-8)
	near(t, "Cov", cov.At(0, 1), -4.0/3, 1e-8)
	p := l.PredictProba(causal.Matrix{Rows: 2, Cols: 1, Data: []float64{0, 1}})
	near(t, "p(0)", p[0], 0.25, 1e-9)
	near(t, "p(1)", p[1], 0.75, 1e-9)
}

func TestLogisticRecoversPlanted(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	coef := []float64{0.8, -0.01, 50}
	x, y := planted(rng, 20000, -0.5, coef, true, 0)
	l := NewLogistic(1e-3)
	if err := l.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	got, cov := l.Coef(), l.Covariance()
	for j, c := range coef {
		se := math.Sqrt(cov.At(j+1, j+1))
		if d := math.Abs(got[j] - c); d > 4*se || d > 0.1*math.Abs(c) {
			t.Errorf("coef[%d] = %v, want %v (se %v)", j, got[j], c, se)
		}
	}
	se0 := math.Sqrt(cov.At(0, 0))
	if d := math.Abs(l.Intercept() + 0.5); d > 4*se0 {
		t.Errorf("intercept = %v, want -0.5 (se %v)", l.Intercept(), se0)
	}
}

// duplicate returns x, y repeated by integer weights w, and those weights
// as floats.
func duplicate(x causal.Matrix, y []float64, counts []int) (causal.Matrix, []float64, []float64) {
	var dx causal.Matrix
	dx.Cols = x.Cols
	var dy, w []float64
	for i, c := range counts {
		w = append(w, float64(c))
		for range c {
			dx.Data = append(dx.Data, x.Row(i)...)
			dx.Rows++
			dy = append(dy, y[i])
		}
	}
	return dx, dy, w
}

func TestWeightsEqualDuplication(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	counts := make([]int, 300)
	for i := range counts {
		counts[i] = rng.IntN(4) // 0..3, zeros included
	}
	t.Run("ridge", func(t *testing.T) {
		x, y := planted(rng, len(counts), 1, []float64{1, 0.02, -30}, false, 1)
		dx, dy, w := duplicate(x, y, counts)
		a, b := NewRidge(2), NewRidge(2)
		if err := a.Fit(x, y, w); err != nil {
			t.Fatal(err)
		}
		if err := b.Fit(dx, dy, nil); err != nil {
			t.Fatal(err)
		}
		near(t, "intercept", a.Intercept(), b.Intercept(), 1e-9)
		for j := range a.Coef() {
			near(t, "coef", a.Coef()[j], b.Coef()[j], 1e-9*math.Max(1, math.Abs(b.Coef()[j])))
		}
	})
	t.Run("logistic", func(t *testing.T) {
		x, y := planted(rng, len(counts), 0, []float64{1, 0.02, -30}, true, 0)
		dx, dy, w := duplicate(x, y, counts)
		a, b := NewLogistic(2), NewLogistic(2)
		if err := a.Fit(x, y, w); err != nil {
			t.Fatal(err)
		}
		if err := b.Fit(dx, dy, nil); err != nil {
			t.Fatal(err)
		}
		near(t, "intercept", a.Intercept(), b.Intercept(), 1e-7)
		for j := range a.Coef() {
			near(t, "coef", a.Coef()[j], b.Coef()[j], 1e-7*math.Max(1, math.Abs(b.Coef()[j])))
		}
		ca, cb := a.Covariance(), b.Covariance()
		for i := range 4 {
			for j := range 4 {
				near(t, "cov", ca.At(i, j), cb.At(i, j), 1e-6*math.Max(1e-3, math.Abs(cb.At(i, j))))
			}
		}
	})
}

func TestLogisticSeparable(t *testing.T) {
	x := causal.Matrix{Rows: 6, Cols: 2, Data: []float64{-3, 1, -2, 0, -1, 1, 1, 0, 2, 1, 3, 0}}
	y := []float64{0, 0, 0, 1, 1, 1}
	l := NewLogistic(1)
	if err := l.Fit(x, y, nil); err != nil {
		t.Fatalf("Lambda = 1 on separable data: %v", err)
	}
	for _, c := range append(l.Coef(), l.Intercept()) {
		if math.IsNaN(c) || math.IsInf(c, 0) || math.Abs(c) > 100 {
			t.Errorf("coefficient %v is not finite and moderate", c)
		}
	}
	if l.Coef()[0] <= 0 {
		t.Errorf("slope on the separating feature = %v, want > 0", l.Coef()[0])
	}
	for _, p := range l.PredictProba(x) {
		if p < ProbClip || p > 1-ProbClip {
			t.Errorf("probability %v outside the clip range", p)
		}
	}
	if err := NewLogistic(0).Fit(x, y, nil); err == nil {
		t.Error("Lambda = 0 on separable data: want an error")
	}
}

func TestErrors(t *testing.T) {
	x := causal.Matrix{Rows: 3, Cols: 2, Data: []float64{1, 2, 3, math.NaN(), 5, 6}}
	y := []float64{0, 1, 0}
	for name, fit := range map[string]func() error{
		"ridge":    func() error { return NewRidge(1).Fit(x, y, nil) },
		"logistic": func() error { return NewLogistic(1).Fit(x, y, nil) },
	} {
		err := fit()
		if err == nil || !strings.Contains(err.Error(), "row 1, column 1") {
			t.Errorf("%s: NaN feature error = %v, want it to name row 1, column 1", name, err)
		}
	}
	good := causal.Matrix{Rows: 3, Cols: 1, Data: []float64{1, 2, 3}}
	cases := []struct {
		name string
		err  error
	}{
		{"one class", NewLogistic(1).Fit(good, []float64{1, 1, 1}, nil)},
		{"label out of range", NewLogistic(1).Fit(good, []float64{0, 2, 1}, nil)},
		{"negative weight", NewRidge(1).Fit(good, y, []float64{1, -1, 1})},
		{"zero weights", NewRidge(1).Fit(good, y, []float64{0, 0, 0})},
		{"short y", NewRidge(1).Fit(good, y[:2], nil)},
		{"negative lambda", NewRidge(-1).Fit(good, y, nil)},
		{"collinear OLS", NewRidge(0).Fit(causal.Matrix{Rows: 3, Cols: 2, Data: []float64{1, 2, 2, 4, 3, 6}}, y, nil)},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: want an error", c.name)
		}
	}
}

func TestConstantColumn(t *testing.T) {
	x := causal.Matrix{Rows: 4, Cols: 2, Data: []float64{7, 0, 7, 1, 7, 2, 7, 3}}
	y := []float64{0, 0, 1, 1}
	l := NewLogistic(0.5)
	if err := l.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	if l.Coef()[0] != 0 || l.Covariance().At(1, 1) != 0 {
		t.Errorf("constant column: coef %v, variance %v, want 0 and 0", l.Coef()[0], l.Covariance().At(1, 1))
	}
	r := NewRidge(0)
	if err := r.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	near(t, "ridge slope", r.Coef()[1], 0.4, 1e-12) // OLS slope: Σ(x−1.5)(y−.5)/Σ(x−1.5)² = 2/5
}

func TestJSONRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	x, y := planted(rng, 500, 0.2, []float64{1, -0.01}, true, 0)
	l := NewLogistic(0.5)
	if err := l.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	r := NewRidge(0.5)
	if err := r.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	snap := struct {
		L *Logistic `json:"l"`
		R *Ridge    `json:"r"`
	}{l, r}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		L *Logistic `json:"l"`
		R *Ridge    `json:"r"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	p1, p2 := l.PredictProba(x), back.L.PredictProba(x)
	q1, q2 := r.Predict(x), back.R.Predict(x)
	for i := range p1 {
		if p1[i] != p2[i] || q1[i] != q2[i] {
			t.Fatalf("row %d: predictions differ after the round trip", i)
		}
	}
	if back.L.Covariance().At(1, 2) != l.Covariance().At(1, 2) || back.L.Lambda != 0.5 {
		t.Error("covariance or Lambda lost in the round trip")
	}
}

func TestFactories(t *testing.T) {
	var _ causal.Regressor = RidgeFactory(1)(0)
	var _ causal.Classifier = LogisticFactory(1)(0)
	if RidgeFactory(1)(0) == RidgeFactory(1)(0) {
		t.Error("factory returned the same model twice")
	}
}
