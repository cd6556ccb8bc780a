package causal_test

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/preflight-hq/preflight/causal"
	"github.com/preflight-hq/preflight/causal/gbdt"
	"github.com/preflight-hq/preflight/causal/linear"
	"github.com/preflight-hq/preflight/causal/uplift"
)

// z95 is the standard normal 0.975 quantile.
const z95 = 1.959963984540054

// planted is a synthetic randomized experiment with a known CATE.
type planted struct {
	d   causal.Dataset
	tau []float64 // τ(xᵢ) per row
}

// plantedTau is the planted effect: heterogeneous in x₀ and x₁, with a
// kink in x₁ that a linear model only approximates. Its mean over
// x ~ U(−1, 1)⁵ is exactly 1.
func plantedTau(x []float64) float64 { return 1 + 1.5*x[0] + math.Abs(x[1]) - 0.5 }

// plantedTrueATE is E[plantedTau(X)] for X ~ U(−1, 1)⁵: 1 + 0 + 1/2 − 1/2.
const plantedTrueATE = 1.0

// newPlanted draws n units: X ~ U(−1, 1)⁵, T ~ Bernoulli(p) independent of
// X (a randomized experiment with known p), and a continuous outcome
// Y = μ₀(X) + T·τ(X) + ε with μ₀(x) = 1 + x₀ − 0.5x₁ + x₂² + 0.5x₃x₄ and
// ε ~ N(0, 1).
func newPlanted(n int, p float64, seed uint64) planted {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	const cols = 5
	s := planted{
		d: causal.Dataset{
			X:    causal.Matrix{Rows: n, Cols: cols, Data: make([]float64, n*cols)},
			Y:    make([]float64, n),
			T:    make([]int, n),
			Arms: []string{"treated"},
		},
		tau: make([]float64, n),
	}
	for i := range n {
		x := s.d.X.Row(i)
		for j := range x {
			x[j] = 2*rng.Float64() - 1
		}
		if rng.Float64() < p {
			s.d.T[i] = 1
		}
		mu0 := 1 + x[0] - 0.5*x[1] + x[2]*x[2] + 0.5*x[3]*x[4]
		s.tau[i] = plantedTau(x)
		s.d.Y[i] = mu0 + float64(s.d.T[i])*s.tau[i] + rng.NormFloat64()
	}
	return s
}

// poly2 expands x to the degree-2 polynomial features [x, xⱼ², xⱼxₖ (j<k)],
// so that a linear base learner can represent curvature and interactions.
func poly2(x causal.Matrix) causal.Matrix {
	p := x.Cols
	q := p + p*(p+1)/2
	out := causal.Matrix{Rows: x.Rows, Cols: q, Data: make([]float64, 0, x.Rows*q)}
	for i := range x.Rows {
		r := x.Row(i)
		out.Data = append(out.Data, r...)
		for j := range p {
			for k := j; k < p; k++ {
				out.Data = append(out.Data, r[j]*r[k])
			}
		}
	}
	return out
}

// pehe returns sqrt(mean (τ̂ − τ)²).
func pehe(est, truth []float64) float64 {
	s := 0.0
	for i := range est {
		s += (est[i] - truth[i]) * (est[i] - truth[i])
	}
	return math.Sqrt(s / float64(len(est)))
}

// baseLearner is the base learner of the validation tests.
type baseLearner struct {
	name       string
	features   func(causal.Matrix) causal.Matrix
	regressor  causal.NewRegressor
	effect     causal.NewRegressor // nil: regressor
	classifier causal.NewClassifier
	bootstrap  int
}

// gbdtConfig returns modest tree settings for the validation tests (the
// package test run must stay short on a busy 2-core machine): rounds,
// learning rate, leaves and minimum rows per leaf; one goroutine per model,
// since the meta-learner runs models in parallel.
func gbdtConfig(rounds int, rate float64, leaves, minLeaf int) gbdt.Config {
	c := gbdt.DefaultConfig(gbdt.L2)
	c.NumIterations = rounds
	c.LearningRate = rate
	c.NumLeaves = leaves
	c.MinDataInLeaf = minLeaf
	c.MaxBin = 63
	c.Workers = 1
	return c
}

// validationBase is the gbdt base learner: outcome models with 15 leaves,
// and smoother effect models (7 leaves, ≥ 100 rows per leaf) for the noisy
// imputed effects and pseudo-outcomes.
func validationBase() baseLearner {
	return baseLearner{
		name:       "gbdt (outcome: 100 rounds × 15 leaves, lr 0.1; effect: 100 rounds × 7 leaves, lr 0.05, ≥100 rows/leaf)",
		features:   func(x causal.Matrix) causal.Matrix { return x },
		regressor:  gbdt.NewRegressor(gbdtConfig(100, 0.1, 15, 20)),
		effect:     gbdt.NewRegressor(gbdtConfig(100, 0.05, 7, 100)),
		classifier: gbdt.NewClassifier(gbdtConfig(50, 0.1, 7, 100)),
		bootstrap:  10,
	}
}

// ridgeBase is ridge on degree-2 polynomial features, the linear
// alternative to validationBase.
func ridgeBase() baseLearner {
	return baseLearner{
		name:       "ridge(λ=1) on degree-2 polynomial features",
		features:   poly2,
		regressor:  linear.RidgeFactory(1),
		classifier: linear.LogisticFactory(1),
		bootstrap:  20,
	}
}

// TestPlantedCATE is acceptance test (a): on a randomized experiment with a
// planted heterogeneous τ(x), every learner's ATE interval covers the true
// ATE, PEHE on fresh units is logged per learner, and the X- and
// DR-learners beat the S-learner.
func TestPlantedCATE(t *testing.T) {
	for _, base := range []baseLearner{validationBase(), ridgeBase()} {
		t.Run(strings.Fields(base.name)[0], func(t *testing.T) { testPlanted(t, base) })
	}
}

func testPlanted(t *testing.T, base baseLearner) {
	train := newPlanted(8000, 0.5, 1)
	test := newPlanted(2000, 0.5, 2)
	train.d.X = base.features(train.d.X)
	xTest := base.features(test.d.X)
	t.Logf("base learner: %s; n = %d train, %d test; true ATE %v", base.name, train.d.X.Rows, xTest.Rows, plantedTrueATE)

	peheOf := map[causal.Kind]float64{}
	for _, kind := range []causal.Kind{causal.SLearner, causal.TLearner, causal.XLearner, causal.DRLearner} {
		cfg := causal.Config{
			Kind:            kind,
			Outcome:         base.regressor,
			Effect:          base.effect,
			KnownPropensity: []float64{0.5},
			Folds:           5,
			Bootstrap:       base.bootstrap,
			Workers:         2,
			Seed:            42,
		}
		m, err := causal.Fit(train.d, cfg)
		if err != nil {
			t.Fatalf("%v-learner: %v", kind, err)
		}
		e := m.Effects()[0]
		tau, lo, hi, err := m.CATE("treated", xTest)
		if err != nil {
			t.Fatal(err)
		}
		covered := 0
		for i := range tau {
			if lo[i] <= test.tau[i] && test.tau[i] <= hi[i] {
				covered++
			}
		}
		peheOf[kind] = pehe(tau, test.tau)
		t.Logf("%-2v-learner: ATE %.4f SE %.4f 95%% CI [%.4f, %.4f] (%v); PEHE %.4f; CATE interval covers τ(x) for %.1f%% of test units",
			kind, e.ATE, e.SE, e.Lo, e.Hi, e.Method, peheOf[kind], 100*float64(covered)/float64(len(tau)))
		if !(e.Lo <= plantedTrueATE && plantedTrueATE <= e.Hi) {
			t.Errorf("%v-learner: 95%% interval [%v, %v] misses the true ATE %v", kind, e.Lo, e.Hi, plantedTrueATE)
		}
	}
	for _, kind := range []causal.Kind{causal.XLearner, causal.DRLearner} {
		if !(peheOf[kind] < peheOf[causal.SLearner]) {
			t.Errorf("%v-learner PEHE %.4f, not below the S-learner's %.4f", kind, peheOf[kind], peheOf[causal.SLearner])
		}
	}
}

var (
	hillstromOnce sync.Once
	hillstromData *causal.Hillstrom
	hillstromErr  error
)

// loadHillstrom reads ../data/hillstrom.csv once per test binary.
func loadHillstrom(tb testing.TB) *causal.Hillstrom {
	tb.Helper()
	hillstromOnce.Do(func() {
		f, err := os.Open("../data/hillstrom.csv")
		if err != nil {
			hillstromErr = err
			return
		}
		defer f.Close()
		hillstromData, hillstromErr = causal.LoadHillstrom(f)
	})
	if hillstromErr != nil {
		tb.Fatalf("cannot load Hillstrom data: %v", hillstromErr)
	}
	return hillstromData
}

// diffInMeans returns the difference in means of y between arm k and
// control and its Neyman standard error √(s₁²/n₁ + s₀²/n₀).
func diffInMeans(y []float64, t []int, k int) (dim, se float64, n int) {
	var sum, sq [2]float64
	var cnt [2]int
	for i, ti := range t {
		g := -1
		switch ti {
		case 0:
			g = 0
		case k:
			g = 1
		}
		if g < 0 {
			continue
		}
		sum[g] += y[i]
		sq[g] += y[i] * y[i]
		cnt[g]++
	}
	var m, v [2]float64
	for g := range 2 {
		n := float64(cnt[g])
		m[g] = sum[g] / n
		v[g] = (sq[g] - n*m[g]*m[g]) / (n - 1)
	}
	return m[1] - m[0], math.Sqrt(v[1]/float64(cnt[1]) + v[0]/float64(cnt[0])), cnt[0] + cnt[1]
}

// TestHillstromATE is acceptance test (b), first part: in the randomized
// Hillstrom experiment the difference in means is an unbiased estimate of
// the ATE, so the DR-learner's AIPW estimate must agree with it within its
// own interval's half-width, and DiM's Neyman interval must cover it.
func TestHillstromATE(t *testing.T) {
	for _, base := range hillstromBases() {
		t.Run(strings.Fields(base.name)[0], func(t *testing.T) { testHillstromATE(t, base) })
	}
}

func testHillstromATE(t *testing.T, base baseLearner) {
	h := loadHillstrom(t)
	t.Logf("base learner: %s", base.name)
	for _, outcome := range []string{"visit", "conversion"} {
		d, err := h.Dataset(outcome)
		if err != nil {
			t.Fatal(err)
		}
		cfg := causal.Config{
			Kind:       causal.DRLearner,
			Outcome:    base.regressor,
			Effect:     base.effect,
			Propensity: base.classifier,
			Folds:      3,
			Workers:    2,
			Seed:       2008,
		}
		m, err := causal.Fit(d, cfg)
		if err != nil {
			t.Fatalf("%s: %v", outcome, err)
		}
		for k, e := range m.Effects() {
			dim, dimSE, n := diffInMeans(d.Y, d.T, k+1)
			t.Logf("%s, %s vs No E-Mail (N=%d): DR ATE %.5f [%.5f, %.5f] (SE %.5f); DiM %.5f [%.5f, %.5f] (SE %.5f)",
				outcome, e.Arm, e.N, e.ATE, e.Lo, e.Hi, e.SE, dim, dim-z95*dimSE, dim+z95*dimSE, dimSE)
			if e.N != n {
				t.Errorf("%s %s: N = %d, want %d", outcome, e.Arm, e.N, n)
			}
			if diff := math.Abs(e.ATE - dim); diff > (e.Hi-e.Lo)/2 || diff > z95*dimSE {
				t.Errorf("%s %s: |ATE − DiM| = %v exceeds the half-widths %v (DR) or %v (DiM)", outcome, e.Arm, diff, (e.Hi-e.Lo)/2, z95*dimSE)
			}
		}
	}
}

// hillstromBases are the base learners of the Hillstrom tests: gbdt with
// modest settings (binary outcomes with few positives, so ≥ 100 rows per
// leaf), and ridge with a logistic propensity.
func hillstromBases() []baseLearner {
	return []baseLearner{
		{
			name:       "gbdt (outcome: 100 rounds × 15 leaves, lr 0.1, ≥100 rows/leaf; effect: 100 rounds × 7 leaves, lr 0.05, ≥200 rows/leaf; logistic(λ=1) propensity)",
			regressor:  gbdt.NewRegressor(gbdtConfig(100, 0.1, 15, 100)),
			effect:     gbdt.NewRegressor(gbdtConfig(100, 0.05, 7, 200)),
			classifier: linear.LogisticFactory(1),
		},
		{
			name:       "ridge(λ=1), logistic(λ=1) propensity",
			regressor:  linear.RidgeFactory(1),
			classifier: linear.LogisticFactory(1),
		},
	}
}

// splitRows returns a seeded random split of rows 0..n−1 into a training
// part and a held-out part of the given fraction.
func splitRows(n int, heldOut float64, seed uint64) (train, test []int) {
	perm := rand.New(rand.NewPCG(seed, 0x5117)).Perm(n)
	cut := int(math.Round(heldOut * float64(n)))
	return perm[cut:], perm[:cut]
}

// rowsOf returns the listed rows of d.
func rowsOf(d causal.Dataset, rows []int) causal.Dataset {
	out := causal.Dataset{
		X:    causal.Matrix{Rows: len(rows), Cols: d.X.Cols, Data: make([]float64, 0, len(rows)*d.X.Cols)},
		Y:    make([]float64, len(rows)),
		T:    make([]int, len(rows)),
		Arms: d.Arms,
	}
	for j, i := range rows {
		out.X.Data = append(out.X.Data, d.X.Row(i)...)
		out.Y[j], out.T[j] = d.Y[i], d.T[i]
	}
	return out
}

// qiniCase is one learner of TestHillstromQini.
type qiniCase struct {
	name   string
	cfg    causal.Config
	assert bool // require Qini > 0 on visit
}

// TestHillstromQini is acceptance test (b), second part: a learner fitted
// on 70% of Hillstrom (seeded split) ranks the held-out 30% better than
// random on visit — Qini coefficient > 0, sklift's qini_auc_score with
// negative_effect=True — for each arm against No E-Mail.
//
// The asserted learner is the DR-learner over gbdt with a heavily
// regularized final stage (50 rounds × 4 leaves, ≥ 500 rows per leaf): the
// Mens E-Mail arm has little predictable heterogeneity in visit, so its
// Qini is small (about 0.01), and less regularized learners hover around
// 0 on some splits (see the report of the issue). The X-learners over gbdt
// and ridge and every conversion score are logged only.
func TestHillstromQini(t *testing.T) {
	h := loadHillstrom(t)
	outcome := gbdt.NewRegressor(gbdtConfig(100, 0.1, 15, 100))
	smooth := gbdt.NewRegressor(gbdtConfig(50, 0.05, 4, 500))
	cases := []qiniCase{
		{"DR, gbdt (final: 50 rounds × 4 leaves, ≥500 rows/leaf)", causal.Config{Kind: causal.DRLearner, Folds: 3, Outcome: outcome, Effect: smooth, Propensity: linear.LogisticFactory(1)}, true},
		{"X, gbdt (effect: 50 rounds × 4 leaves, ≥500 rows/leaf)", causal.Config{Kind: causal.XLearner, Outcome: outcome, Effect: smooth, Propensity: linear.LogisticFactory(1)}, false},
		{"X, ridge(λ=1)", causal.Config{Kind: causal.XLearner, Outcome: linear.RidgeFactory(1), Propensity: linear.LogisticFactory(1)}, false},
	}
	for _, outcomeName := range []string{"visit", "conversion"} {
		d, err := h.Dataset(outcomeName)
		if err != nil {
			t.Fatal(err)
		}
		trainRows, testRows := splitRows(d.X.Rows, 0.3, 7)
		train, test := rowsOf(d, trainRows), rowsOf(d, testRows)
		for _, c := range cases {
			cfg := c.cfg
			cfg.Workers, cfg.Seed = 2, 2008
			m, err := causal.Fit(train, cfg)
			if err != nil {
				t.Fatalf("%s, %s: %v", outcomeName, c.name, err)
			}
			for k, arm := range m.Arms() {
				var sub []int
				for i, ti := range test.T {
					if ti == 0 || ti == k+1 {
						sub = append(sub, i)
					}
				}
				ht := rowsOf(test, sub)
				tau, _, _, err := m.CATE(arm, ht.X)
				if err != nil {
					t.Fatal(err)
				}
				tt := make([]float64, len(ht.T))
				for i, ti := range ht.T {
					tt[i] = float64(min(ti, 1))
				}
				q, err := uplift.QiniAUCScore(ht.Y, tt, tau, true)
				if err != nil {
					t.Fatalf("%s %s: %v", outcomeName, arm, err)
				}
				u30, err := uplift.UpliftAtK(ht.Y, tt, tau, 0.3, uplift.Overall)
				if err != nil {
					t.Fatalf("%s %s: %v", outcomeName, arm, err)
				}
				t.Logf("%-10s %-13s %-55s held-out n=%d: Qini %.4f, uplift@30%% %.4f (train ATE %.4f)",
					outcomeName, arm, c.name, len(tau), q, u30, m.Effects()[k].ATE)
				if c.assert && outcomeName == "visit" && !(q > 0) {
					t.Errorf("%s %s, %s: Qini coefficient %v, want > 0", outcomeName, arm, c.name, q)
				}
			}
		}
	}
}
