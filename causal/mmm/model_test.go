package mmm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// checkGradient compares the analytic gradient of m at q with central
// finite differences (five-point stencil), relative error |g − fd| / max(|g|, |fd|, 1) < tol.
func checkGradient(t *testing.T, m *Model, q []float64, tol float64) {
	t.Helper()
	names := m.ParamNames()
	g := make([]float64, m.Dim())
	lp := m.LogDensityGrad(q, g)
	if math.IsInf(lp, 0) || math.IsNaN(lp) {
		t.Fatalf("log density %v at the test point", lp)
	}
	scratch := make([]float64, m.Dim())
	qq := append([]float64(nil), q...)
	for i := range q {
		// Five-point central difference, truncation error O(h⁴).
		h := 1e-4 * max(1, math.Abs(q[i]))
		f := func(d float64) float64 {
			qq[i] = q[i] + d
			return m.LogDensityGrad(qq, scratch)
		}
		fd := (8*(f(h)-f(-h)) - (f(2*h) - f(-2*h))) / (12 * h)
		qq[i] = q[i]
		rel := math.Abs(g[i]-fd) / max(math.Abs(g[i]), math.Abs(fd), 1)
		if rel > tol {
			t.Errorf("∂/∂%s: analytic %.10g, finite difference %.10g, relative error %.2e", names[i], g[i], fd, rel)
		}
	}
}

// TestGradient checks the analytic gradient against central finite
// differences for every adstock × saturation combination, with trend,
// seasonality, a control and lift tests, at the truth and at random points.
func TestGradient(t *testing.T) {
	for _, ad := range []AdstockKind{Geometric, WeibullCDF} {
		for _, sat := range []SaturationKind{Hill, Logistic} {
			t.Run(fmt.Sprintf("%v_%v", ad, sat), func(t *testing.T) {
				chs := mixedChannels()
				for i := range chs[:2] {
					chs[i].Adstock, chs[i].Saturation = ad, sat
					if ad == Geometric {
						chs[i].AdstockParams = []float64{0.4}
					} else {
						chs[i].AdstockParams = []float64{1.3, 2.5}
					}
					if sat == Hill {
						chs[i].SaturationParams = []float64{0.4, 2}
					} else {
						chs[i].SaturationParams = []float64{2.5}
					}
				}
				sim := mustSimulate(t, simConfig(chs), 7)
				lifts := []LiftTest{
					{Channel: 0, Spend: 8, DeltaSpend: 4, DeltaY: 5, SE: 1},
					{Channel: 1, Spend: 6, DeltaSpend: -3, DeltaY: -2, SE: 0.7},
				}
				m, err := NewModel(sim.Data, sim.Spec, lifts)
				if err != nil {
					t.Fatal(err)
				}
				q0 := m.Unconstrain(sim.Truth)
				checkGradient(t, m, q0, 1e-6)
				rng := rand.New(rand.NewPCG(1, 2))
				for range 3 {
					q := make([]float64, len(q0))
					for i := range q {
						q[i] = q0[i] + 0.5*rng.NormFloat64()
					}
					checkGradient(t, m, q, 1e-6)
				}
			})
		}
	}
}

// TestConstrainRoundTrip checks that Unconstrain inverts Constrain.
func TestConstrainRoundTrip(t *testing.T) {
	sim := mustSimulate(t, simConfig(mixedChannels()), 3)
	m, err := NewModel(sim.Data, sim.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := m.Unconstrain(sim.Truth)
	back := m.Constrain(q).Flat()
	assertClose(t, "flat", back, sim.Truth.Flat(), 1e-12)
	if got, want := len(m.ParamNames()), m.Dim(); got != want {
		t.Fatalf("%d names for %d parameters", got, want)
	}
}

// TestCloneIndependent checks that a clone gives the same density and does
// not share scratch buffers.
func TestCloneIndependent(t *testing.T) {
	sim := mustSimulate(t, simConfig(mixedChannels()), 3)
	m, err := NewModel(sim.Data, sim.Spec, []LiftTest{{Channel: 0, Spend: 5, DeltaSpend: 5, DeltaY: 3, SE: 1}})
	if err != nil {
		t.Fatal(err)
	}
	c := m.cloneModel()
	q := m.Unconstrain(sim.Truth)
	g1, g2 := make([]float64, m.Dim()), make([]float64, m.Dim())
	l1 := m.LogDensityGrad(q, g1)
	if &c.scr.mu[0] == &m.scr.mu[0] || &c.lifts[0] == &m.lifts[0] {
		t.Fatal("clone shares scratch")
	}
	l2 := c.LogDensityGrad(q, g2)
	if l1 != l2 {
		t.Fatalf("clone density %v, original %v", l2, l1)
	}
	assertClose(t, "grad", g2, g1, 0)
}

// TestLogDensityOutsideSupport checks that overflow gives −Inf.
func TestLogDensityOutsideSupport(t *testing.T) {
	sim := mustSimulate(t, simConfig(mixedChannels()), 3)
	m, err := NewModel(sim.Data, sim.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	q := m.Unconstrain(sim.Truth)
	q[m.iSigma] = 800 // σ = e^800 overflows
	if lp := m.LogDensityGrad(q, make([]float64, m.Dim())); !math.IsInf(lp, -1) {
		t.Fatalf("log density %v, want −Inf", lp)
	}
}

// TestModelMatchesSimulator checks that the model's mean function at the
// true parameters reproduces the simulator's noiseless outcome: the
// residuals are the simulated noise, with standard deviation σ.
func TestModelMatchesSimulator(t *testing.T) {
	cfg := simConfig(mixedChannels())
	cfg.Noise = 0
	sim := mustSimulate(t, cfg, 9)
	sim.Truth.Sigma = 1e-3
	m, err := NewModel(sim.Data, sim.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.LogDensityGrad(m.Unconstrain(sim.Truth), make([]float64, m.Dim()))
	for tt, mu := range m.scr.mu {
		if math.Abs(mu-m.y[tt]) > 1e-12 {
			t.Fatalf("μ[%d] = %v, y = %v: the model does not reproduce the simulator", tt, mu, m.y[tt])
		}
	}
}
