package causal

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines started by the tests outlive them.
func TestMain(m *testing.M) {
	before := runtime.NumGoroutine()
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			runtime.Gosched()
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			os.Stderr.Write(buf)
			os.Stderr.WriteString("causal: goroutine leak\n")
			code = 1
		}
	}
	os.Exit(code)
}

// ols is a tiny least-squares base learner for logic tests: y on [1, x]
// by the normal equations with a 1e-9 ridge, solved by Gaussian
// elimination.
type ols struct{ beta []float64 }

func newOLS(uint64) Regressor { return &ols{} }

func (o *ols) Fit(x Matrix, y, w []float64) error {
	q := x.Cols + 1
	a := make([]float64, q*q)
	b := make([]float64, q)
	z := make([]float64, q)
	for i := range x.Rows {
		z[0] = 1
		copy(z[1:], x.Row(i))
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		for j := range q {
			b[j] += wi * z[j] * y[i]
			for k := range q {
				a[j*q+k] += wi * z[j] * z[k]
			}
		}
	}
	for j := range q {
		a[j*q+j] += 1e-9
	}
	// Gaussian elimination with partial pivoting.
	for c := range q {
		p := c
		for r := c + 1; r < q; r++ {
			if math.Abs(a[r*q+c]) > math.Abs(a[p*q+c]) {
				p = r
			}
		}
		for k := range q {
			a[c*q+k], a[p*q+k] = a[p*q+k], a[c*q+k]
		}
		b[c], b[p] = b[p], b[c]
		for r := c + 1; r < q; r++ {
			f := a[r*q+c] / a[c*q+c]
			for k := c; k < q; k++ {
				a[r*q+k] -= f * a[c*q+k]
			}
			b[r] -= f * b[c]
		}
	}
	o.beta = make([]float64, q)
	for c := q - 1; c >= 0; c-- {
		s := b[c]
		for k := c + 1; k < q; k++ {
			s -= a[c*q+k] * o.beta[k]
		}
		o.beta[c] = s / a[c*q+c]
	}
	return nil
}

func (o *ols) Predict(x Matrix) []float64 {
	out := make([]float64, x.Rows)
	for i := range out {
		s := o.beta[0]
		for j, v := range x.Row(i) {
			s += o.beta[j+1] * v
		}
		out[i] = s
	}
	return out
}

// zero predicts 0 whatever it was fitted on.
type zero struct{}

func (zero) Fit(Matrix, []float64, []float64) error { return nil }
func (zero) Predict(x Matrix) []float64             { return make([]float64, x.Rows) }

// linearData draws n rows with x ~ U(−1, 1)^2, T ~ Bernoulli(p) and
// Y = 1 + x₀ − x₁ + T·(2 + 3x₀) + noise·N(0, 1).
func linearData(n int, p, noise float64, seed uint64) Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := Dataset{X: Matrix{Rows: n, Cols: 2, Data: make([]float64, 2*n)}, Y: make([]float64, n), T: make([]int, n), Arms: []string{"a"}}
	for i := range n {
		x0, x1 := 2*rng.Float64()-1, 2*rng.Float64()-1
		d.X.Data[2*i], d.X.Data[2*i+1] = x0, x1
		if rng.Float64() < p {
			d.T[i] = 1
		}
		d.Y[i] = 1 + x0 - x1 + float64(d.T[i])*(2+3*x0) + noise*rng.NormFloat64()
	}
	return d
}

func TestConfigValidate(t *testing.T) {
	good := Config{Kind: DRLearner, Outcome: newOLS}
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(%+v) = %v, want nil", good, err)
	}
	tests := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"no kind", func(c *Config) { c.Kind = 0 }, "Config.Kind"},
		{"bad kind", func(c *Config) { c.Kind = 9 }, "Config.Kind"},
		{"no outcome", func(c *Config) { c.Outcome = nil }, "Config.Outcome"},
		{"one fold", func(c *Config) { c.Folds = 1 }, "Config.Folds"},
		{"negative folds", func(c *Config) { c.Folds = -2 }, "Config.Folds"},
		{"clip too big", func(c *Config) { c.PropensityClip = 0.5 }, "Config.PropensityClip"},
		{"clip negative", func(c *Config) { c.PropensityClip = -0.1 }, "Config.PropensityClip"},
		{"one resample", func(c *Config) { c.Bootstrap = 1 }, "Config.Bootstrap"},
		{"level one", func(c *Config) { c.Level = 1 }, "Config.Level"},
		{"level NaN", func(c *Config) { c.Level = math.NaN() }, "Config.Level"},
		{"known p 1", func(c *Config) { c.KnownPropensity = []float64{0.5, 1} }, "Config.KnownPropensity[1]"},
		{"aipw for X", func(c *Config) { c.Kind, c.ATEInterval = XLearner, IntervalAIPW }, "Config.ATEInterval"},
		{"bootstrap without B", func(c *Config) { c.ATEInterval = IntervalBootstrap }, "Config.ATEInterval"},
		{"negative workers", func(c *Config) { c.Workers = -1 }, "Config.Workers"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.field)
			}
		})
	}
}

func TestDatasetValidate(t *testing.T) {
	ok := Dataset{X: Matrix{Rows: 4, Cols: 1, Data: []float64{1, 2, 3, 4}}, Y: []float64{1, 2, 3, 4}, T: []int{0, 1, 0, 1}, Arms: []string{"a"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	tests := []struct {
		name string
		edit func(*Dataset)
		want string
	}{
		{"no arms", func(d *Dataset) { d.Arms = nil }, "Dataset.Arms"},
		{"short data", func(d *Dataset) { d.X.Data = d.X.Data[:3] }, "Dataset.X"},
		{"short Y", func(d *Dataset) { d.Y = d.Y[:3] }, "Y 3"},
		{"T out of range", func(d *Dataset) { d.T = []int{0, 2, 0, 1} }, "Dataset.T[1]"},
		{"NaN Y", func(d *Dataset) { d.Y = []float64{1, math.NaN(), 3, 4} }, "Dataset.Y[1]"},
		{"one treated", func(d *Dataset) { d.T = []int{0, 1, 0, 0} }, `arm "a" has 1 rows`},
		{"one control", func(d *Dataset) { d.T = []int{1, 1, 0, 1} }, "control has 1 rows"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := ok
			tc.edit(&d)
			err := d.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestExactRecovery checks every learner on noise-free linear data with an
// OLS base learner, where the meta-learners' algebra must give τ(x) to
// rounding: T, X and DR recover τ(x) = 2 + 3x₀; the S-learner, which has
// no T×X interaction in a linear model, recovers the constant effect of
// constant-effect data.
func TestExactRecovery(t *testing.T) {
	d := linearData(400, 0.3, 0, 1)
	probe := Matrix{Rows: 3, Cols: 2, Data: []float64{-1, 0, 0, 0.5, 0.5, -1}}
	for _, kind := range []Kind{TLearner, XLearner, DRLearner} {
		t.Run(kind.String(), func(t *testing.T) {
			m, err := Fit(d, Config{Kind: kind, Outcome: newOLS, Propensity: nil, Folds: 3, Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			tau, _, _, err := m.CATE("a", probe)
			if err != nil {
				t.Fatal(err)
			}
			for i, got := range tau {
				want := 2 + 3*probe.At(i, 0)
				if math.Abs(got-want) > 1e-6 {
					t.Errorf("τ̂(%v) = %v, want %v", probe.Row(i), got, want)
				}
			}
			e := m.Effects()[0]
			var want float64
			for i := range d.X.Rows {
				want += 2 + 3*d.X.At(i, 0)
			}
			want /= float64(d.X.Rows)
			if math.Abs(e.ATE-want) > 1e-6 || e.N != 400 || e.Arm != "a" {
				t.Errorf("effect = %+v, want ATE %v on N 400", e, want)
			}
		})
	}
	t.Run("S", func(t *testing.T) {
		c := linearData(300, 0.5, 0, 2)
		for i := range c.Y {
			c.Y[i] -= float64(c.T[i]) * 3 * c.X.At(i, 0) // τ(x) = 2
		}
		m, err := Fit(c, Config{Kind: SLearner, Outcome: newOLS})
		if err != nil {
			t.Fatal(err)
		}
		tau, lo, _, err := m.CATE("a", probe)
		if err != nil {
			t.Fatal(err)
		}
		for i, got := range tau {
			if math.Abs(got-2) > 1e-6 || !math.IsNaN(lo[i]) {
				t.Errorf("row %d: τ̂ = %v, lo = %v; want 2 and NaN (no bootstrap)", i, got, lo[i])
			}
		}
		if e := m.Effects()[0]; math.Abs(e.ATE-2) > 1e-6 || !math.IsNaN(e.SE) || e.Method != IntervalAuto {
			t.Errorf("effect = %+v, want ATE 2 with no interval", e)
		}
	})
}

// TestAIPWByHand checks φ, the AIPW ATE and its SE against a hand
// computation: with outcome models that predict 0 and known propensity p,
// φᵢ = TᵢYᵢ/p − (1 − Tᵢ)Yᵢ/(1 − p) (the Horvitz–Thompson terms),
// whatever the folds.
func TestAIPWByHand(t *testing.T) {
	d := Dataset{
		X:    Matrix{Rows: 4, Cols: 1, Data: []float64{0, 0, 0, 0}},
		Y:    []float64{1, 2, 3, 4},
		T:    []int{1, 0, 1, 0},
		Arms: []string{"a"},
	}
	zf := func(uint64) Regressor { return zero{} }
	m, err := Fit(d, Config{Kind: DRLearner, Outcome: zf, KnownPropensity: []float64{0.5}, Folds: 2})
	if err != nil {
		t.Fatal(err)
	}
	// φ = [2, −4, 6, −8]: mean −1, sample variance 116/3, SE = √(116/3)/2.
	e := m.Effects()[0]
	se := math.Sqrt(116.0/3) / 2
	z := 1.959963984540054
	if math.Abs(e.ATE+1) > 1e-12 || math.Abs(e.SE-se) > 1e-12 || e.Method != IntervalAIPW ||
		math.Abs(e.Lo-(-1-z*se)) > 1e-9 || math.Abs(e.Hi-(-1+z*se)) > 1e-9 {
		t.Errorf("effect = %+v, want ATE −1, SE %v, interval −1 ∓ %v", e, se, z*se)
	}
	// p = 0.25: φ = [4, −8/3, 12, −16/3]; sum 16 − 8 = 8, mean 2.
	m, err = Fit(d, Config{Kind: DRLearner, Outcome: zf, KnownPropensity: []float64{0.25}, Folds: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Effects()[0].ATE; math.Abs(got-2) > 1e-12 {
		t.Errorf("ATE with p = 0.25: %v, want 2", got)
	}
}

// TestMultiArm checks that each arm is fitted against control on its own
// rows.
func TestMultiArm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	n := 900
	d := Dataset{X: Matrix{Rows: n, Cols: 1, Data: make([]float64, n)}, Y: make([]float64, n), T: make([]int, n), Arms: []string{"small", "big"}}
	effect := []float64{0, 1, 5}
	for i := range n {
		x := rng.Float64()
		d.X.Data[i] = x
		d.T[i] = i % 3
		d.Y[i] = x + effect[d.T[i]]
	}
	for _, kind := range []Kind{SLearner, TLearner, XLearner, DRLearner} {
		m, err := Fit(d, Config{Kind: kind, Outcome: newOLS, Folds: 2, Workers: 2, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.Arms(), d.Arms) {
			t.Fatalf("%v: Arms() = %q, want %q", kind, m.Arms(), d.Arms)
		}
		for k, arm := range d.Arms {
			e, err := m.Effect(arm)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(e.ATE-effect[k+1]) > 1e-6 || e.N != 600 {
				t.Errorf("%v %s: %+v, want ATE %v on 600 rows", kind, arm, e, effect[k+1])
			}
		}
		if _, err := m.Effect("none"); err == nil {
			t.Errorf("%v: Effect(unknown arm) = nil error", kind)
		}
		if _, _, _, err := m.CATE("big", Matrix{Rows: 1, Cols: 2, Data: []float64{1, 2}}); err == nil {
			t.Errorf("%v: CATE with the wrong column count = nil error", kind)
		}
	}
}

// TestDeterministic checks that equal seeds give equal fits whatever the
// number of workers, and that another seed changes the bootstrap.
func TestDeterministic(t *testing.T) {
	d := linearData(300, 0.5, 1, 4)
	d.Arms = []string{"a"}
	probe := Matrix{Rows: 2, Cols: 2, Data: []float64{0, 0, 0.5, -0.5}}
	run := func(workers int, seed uint64) ([]Effect, [][]float64) {
		m, err := Fit(d, Config{Kind: DRLearner, Outcome: newOLS, Folds: 3, Bootstrap: 8, ATEInterval: IntervalBootstrap, Workers: workers, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		tau, lo, hi, err := m.CATE("a", probe)
		if err != nil {
			t.Fatal(err)
		}
		return m.Effects(), [][]float64{tau, lo, hi}
	}
	e1, c1 := run(1, 11)
	e3, c3 := run(3, 11)
	if !slices.Equal(e1, e3) {
		t.Errorf("effects differ with workers: %+v vs %+v", e1, e3)
	}
	for i := range c1 {
		if !slices.Equal(c1[i], c3[i]) {
			t.Errorf("CATE part %d differs with workers: %v vs %v", i, c1[i], c3[i])
		}
	}
	e2, _ := run(1, 12)
	if e2[0].SE == e1[0].SE {
		t.Errorf("bootstrap SE equal under seeds 11 and 12 (%v): seed unused?", e1[0].SE)
	}
}

// TestBootstrapIntervals checks the shape of the bootstrap output and that,
// on well-specified data with an unbiased learner, the ATE interval
// covers the truth and the CATE intervals bracket the estimate.
func TestBootstrapIntervals(t *testing.T) {
	d := linearData(600, 0.5, 1, 5)
	probe := Matrix{Rows: 3, Cols: 2, Data: []float64{-0.5, 0, 0, 0, 0.5, 0}}
	for _, kind := range []Kind{SLearner, TLearner, XLearner, DRLearner} {
		m, err := Fit(d, Config{Kind: kind, Outcome: newOLS, Folds: 2, Bootstrap: 30, ATEInterval: IntervalBootstrap, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		e := m.Effects()[0]
		if e.Method != IntervalBootstrap || !(e.SE > 0) || !(e.Lo < e.ATE && e.ATE < e.Hi) {
			t.Errorf("%v: effect %+v, want a bootstrap interval around the ATE", kind, e)
		}
		if kind != SLearner && !(e.Lo < 2 && 2 < e.Hi) { // E[2 + 3x₀] = 2
			t.Errorf("%v: interval [%v, %v] misses the ATE 2", kind, e.Lo, e.Hi)
		}
		tau, lo, hi, err := m.CATE("a", probe)
		if err != nil {
			t.Fatal(err)
		}
		for i := range tau {
			if !(lo[i] < tau[i] && tau[i] < hi[i]) {
				t.Errorf("%v row %d: interval [%v, %v] does not bracket τ̂ %v", kind, i, lo[i], hi[i], tau[i])
			}
		}
	}
}

// TestStratifiedFolds checks balance per treatment group and that copies
// of a unit share a fold.
func TestStratifiedFolds(t *testing.T) {
	// 10 treated and 23 control units; unit 0 appears three times.
	a := armData{nIDs: 33}
	for id := range 33 {
		a.id = append(a.id, id)
		a.t = append(a.t, float64(boolInt(id < 10)))
	}
	a.id = append(a.id, 0, 0)
	a.t = append(a.t, 1, 1)
	fold := stratifiedFolds(a, 4, rand.New(rand.NewPCG(1, 2)))
	var count [2][4]int
	for i := range 33 {
		count[int(a.t[i])][fold[i]]++
	}
	for g, want := range [2][2]int{{5, 6}, {2, 3}} {
		for f, c := range count[g] {
			if c < want[0] || c > want[1] {
				t.Errorf("group %d fold %d: %d units, want %d–%d", g, f, c, want[0], want[1])
			}
		}
	}
	if fold[33] != fold[0] || fold[34] != fold[0] {
		t.Errorf("copies of unit 0 in folds %d, %d, %d; want one fold", fold[0], fold[33], fold[34])
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestHillstromLoader parses a small CSV with a quoted history_segment and
// checks the encoding, then a few malformed inputs.
func TestHillstromLoader(t *testing.T) {
	const head = "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend\n"
	good := head +
		"10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Womens E-Mail,0,0,0\n" +
		"6,\"7) $1,000 +\",1329.08,1,1,Rural,1,Web,No E-Mail,1,1,29.99\n" +
		"7,1) $0 - $100,5.5,0,1,Urban,1,Multichannel,Mens E-Mail,1,0,0\n"
	h, err := LoadHillstrom(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	wantX := []float64{
		10, 2, 142.44, 1, 0, 0, 0, 1, 0, 1, 0, 0,
		6, 7, 1329.08, 1, 1, 1, 0, 0, 1, 0, 1, 0,
		7, 1, 5.5, 0, 1, 1, 1, 0, 0, 0, 0, 1,
	}
	if h.X.Rows != 3 || h.X.Cols != len(HillstromFeatures) || !slices.Equal(h.X.Data, wantX) {
		t.Errorf("X = %d×%d %v, want 3×12 %v", h.X.Rows, h.X.Cols, h.X.Data, wantX)
	}
	if !slices.Equal(h.T, []int{2, 0, 1}) || !slices.Equal(h.Visit, []float64{0, 1, 1}) ||
		!slices.Equal(h.Conversion, []float64{0, 1, 0}) || !slices.Equal(h.Spend, []float64{0, 29.99, 0}) {
		t.Errorf("T %v visit %v conversion %v spend %v", h.T, h.Visit, h.Conversion, h.Spend)
	}
	d, err := h.Dataset("conversion")
	if err != nil || !slices.Equal(d.Y, h.Conversion) || !slices.Equal(d.Arms, HillstromArms) {
		t.Errorf("Dataset(conversion) = %+v, %v", d, err)
	}
	if _, err := h.Dataset("revenue"); err == nil {
		t.Error("Dataset(revenue) = nil error")
	}
	for name, in := range map[string]string{
		"empty":          "",
		"no rows":        head,
		"missing column": "recency,history\n1,2\n",
		"bad segment":    head + "10,2) $100 - $200,142.44,1,0,Surburban,0,Phone,Kids E-Mail,0,0,0\n",
		"bad number":     head + "x,2) $100 - $200,142.44,1,0,Surburban,0,Phone,No E-Mail,0,0,0\n",
		"bad history":    head + "10,$100,142.44,1,0,Surburban,0,Phone,No E-Mail,0,0,0\n",
		"bad zip":        head + "10,2) $100 - $200,142.44,1,0,Mars,0,Phone,No E-Mail,0,0,0\n",
	} {
		if _, err := LoadHillstrom(strings.NewReader(in)); err == nil {
			t.Errorf("%s: LoadHillstrom = nil error", name)
		}
	}
}

// meanClassifier predicts the training share of ones for every row.
type meanClassifier struct{ p float64 }

func newMeanClassifier(uint64) Classifier { return &meanClassifier{} }

func (m *meanClassifier) Fit(_ Matrix, y, _ []float64) error {
	m.p = 0
	for _, v := range y {
		m.p += v
	}
	m.p /= float64(len(y))
	return nil
}

func (m *meanClassifier) PredictProba(x Matrix) []float64 {
	out := make([]float64, x.Rows)
	for i := range out {
		out[i] = m.p
	}
	return out
}

// meanRegressor predicts the training mean of y.
type meanRegressor struct{ meanClassifier }

func newMeanRegressor(uint64) Regressor { return &meanRegressor{} }

func (m *meanRegressor) Predict(x Matrix) []float64 { return m.PredictProba(x) }

// TestClassifierPaths checks that OutcomeClassifier replaces Outcome for a
// binary outcome (a T-learner of group means gives the difference in
// means exactly) and that a fitted Propensity model is used by the X- and
// DR-learners.
func TestClassifierPaths(t *testing.T) {
	d := Dataset{
		X:    Matrix{Rows: 8, Cols: 1, Data: []float64{1, 2, 3, 4, 5, 6, 7, 8}},
		Y:    []float64{1, 0, 1, 1, 0, 0, 1, 0},
		T:    []int{1, 1, 1, 0, 0, 0, 1, 0},
		Arms: []string{"a"},
	}
	// Treated: y = 1, 0, 1, 1 → 3/4; control: 1, 0, 0, 0 → 1/4.
	for _, kind := range []Kind{TLearner, XLearner} {
		m, err := Fit(d, Config{Kind: kind, Outcome: newOLS, OutcomeClassifier: newMeanClassifier, Effect: newMeanRegressor, Propensity: newMeanClassifier})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Effects()[0].ATE; math.Abs(got-0.5) > 1e-9 {
			t.Errorf("%v-learner ATE with mean classifiers = %v, want 3/4 − 1/4 = 0.5", kind, got)
		}
	}
	// A continuous outcome must not go to the classifier.
	c := d
	c.Y = []float64{1, 0, 1, 1, 0, 0, 1, 2}
	if _, err := Fit(c, Config{Kind: TLearner, Outcome: newOLS, OutcomeClassifier: func(uint64) Classifier { panic("classifier used for continuous y") }}); err != nil {
		t.Fatal(err)
	}
	// DR with fitted propensity on noise-free linear data stays exact.
	l := linearData(300, 0.4, 0, 9)
	m, err := Fit(l, Config{Kind: DRLearner, Outcome: newOLS, Propensity: newMeanClassifier, Folds: 4})
	if err != nil {
		t.Fatal(err)
	}
	tau, _, _, _ := m.CATE("a", Matrix{Rows: 1, Cols: 2, Data: []float64{0.2, 0}})
	if math.Abs(tau[0]-2.6) > 1e-6 {
		t.Errorf("DR τ̂(0.2, 0) = %v, want 2.6", tau[0])
	}
}

// failing fails every Fit.
type failing struct{}

func (failing) Fit(Matrix, []float64, []float64) error { return errors.New("boom") }
func (failing) Predict(x Matrix) []float64             { return make([]float64, x.Rows) }

// TestFitErrors checks that invalid input and failing base learners give
// errors that say what failed, and that no goroutine outlives Fit.
func TestFitErrors(t *testing.T) {
	d := linearData(60, 0.5, 1, 1)
	if _, err := Fit(d, Config{Kind: XLearner}); err == nil || !strings.Contains(err.Error(), "Config.Outcome") {
		t.Errorf("Fit without Outcome: %v", err)
	}
	if _, err := Fit(d, Config{Kind: XLearner, Outcome: newOLS, KnownPropensity: []float64{0.5, 0.5}}); err == nil || !strings.Contains(err.Error(), "KnownPropensity") {
		t.Errorf("Fit with 2 known propensities for 1 arm: %v", err)
	}
	bad := d
	bad.T = make([]int, len(d.T))
	if _, err := Fit(bad, Config{Kind: XLearner, Outcome: newOLS}); err == nil {
		t.Error("Fit with no treated rows: nil error")
	}
	ff := func(uint64) Regressor { return failing{} }
	for _, kind := range []Kind{SLearner, TLearner, XLearner, DRLearner} {
		_, err := Fit(d, Config{Kind: kind, Outcome: newOLS, Effect: ff, Bootstrap: 4, Workers: 3})
		if kind == SLearner || kind == TLearner {
			if err != nil {
				t.Errorf("%v-learner does not use Effect but failed: %v", kind, err)
			}
			_, err = Fit(d, Config{Kind: kind, Outcome: ff, Workers: 3})
		}
		if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(err.Error(), `arm "a"`) {
			t.Errorf("%v-learner with a failing base learner: %v", kind, err)
		}
	}
}
