package causal

import (
	"fmt"
	"math"
	"math/rand/v2"

	"golang.org/x/sync/errgroup"
)

// Fit estimates, for every arm k of d against control, the conditional
// average treatment effect τ_k(x) and the average effect with its
// interval. Arm k is fitted on the rows with T ∈ {0, k} only, with T
// recoded to 0/1, so each arm's result is what a two-group analysis of
// that arm against control would give (the multi-arm scheme of EconML and
// CausalML). Below, μ̂_t(x) estimates E[Y | X = x, T = t] and ê(x)
// estimates P(T = 1 | x); "Regress(A → b)" fits a Config.Outcome or
// Config.Effect model of b on A.
//
// S-learner: m̂ = Regress([X, T] → Y); τ̂(x) = m̂(x, 1) − m̂(x, 0).
//
// T-learner: μ̂₀ = Regress(X_{T=0} → Y), μ̂₁ = Regress(X_{T=1} → Y);
// τ̂ = μ̂₁ − μ̂₀.
//
// X-learner (Künzel, Sekhon, Bickel and Yu 2019, "Metalearners for
// estimating heterogeneous treatment effects using machine learning",
// PNAS 116(10)): μ̂₀, μ̂₁ as the T-learner; imputed effects D¹ᵢ = Yᵢ −
// μ̂₀(Xᵢ) for the treated and D⁰ⱼ = μ̂₁(Xⱼ) − Yⱼ for the controls;
// τ̂₁ = Regress(X_{T=1} → D¹), τ̂₀ = Regress(X_{T=0} → D⁰); and
// τ̂(x) = ê(x)·τ̂₀(x) + (1 − ê(x))·τ̂₁(x) with ê clipped to [ε, 1−ε].
// ê is Config.Propensity fitted on all rows of the arm, or the known or
// empirical assignment probability of a randomized experiment.
//
// DR-learner (Kennedy 2023, "Towards optimal doubly robust estimation of
// heterogeneous causal effects", Electronic Journal of Statistics 17(2)),
// with the cross-fitting of Chernozhukov et al. (2018, "Double/debiased
// machine learning for treatment and structural parameters", Econometrics
// Journal 21(1)): the rows are split into Config.Folds folds, stratified
// by T; for each fold, μ̂₀, μ̂₁ and ê are fitted on the other folds and
// the pseudo-outcome
//
//	φᵢ = μ̂₁(Xᵢ) − μ̂₀(Xᵢ) + Tᵢ(Yᵢ − μ̂₁(Xᵢ))/ê(Xᵢ) − (1 − Tᵢ)(Yᵢ − μ̂₀(Xᵢ))/(1 − ê(Xᵢ))
//
// is computed on the held-out fold, ê clipped to [ε, 1−ε]; then
// τ̂ = Regress(X → φ) on all rows. E[φ | X] = τ(X) if either the outcome
// models or the propensity are right.
//
// The ATE is mean(φ) for the DR-learner (the AIPW estimator) and the mean
// of τ̂(Xᵢ) over the arm's rows otherwise. Its interval (see
// IntervalMethod) is ATE ∓ z·SE with SE = sd(φ)/√n for AIPW (the sample
// standard deviation, n − 1 in the denominator; valid under cross-fitting
// when the nuisance models converge fast enough, Chernozhukov et al. 2018)
// or SE = the standard deviation of the B bootstrap ATEs. Bootstrap
// replicates resample rows with replacement within control and within the
// arm (so the group sizes stay fixed) and refit everything, folds
// included; copies of one row always fall in the same cross-fitting fold.
//
// Special cases: Fit returns an error if d or cfg is invalid, if
// KnownPropensity has a length other than len(d.Arms), or if a base learner
// fails. Rows with missing features are passed to the base learners as they
// are. Fit is deterministic given cfg.Seed; the goroutines it starts
// (Config.Workers) have all returned when it returns.
func Fit(d Dataset, cfg Config) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if cfg.KnownPropensity != nil && len(cfg.KnownPropensity) != len(d.Arms) {
		return nil, fmt.Errorf("causal: invalid Config.KnownPropensity: %d values for %d arms", len(cfg.KnownPropensity), len(d.Arms))
	}
	c := cfg.withDefaults()
	m := &Model{kind: c.Kind, cols: d.X.Cols, level: c.Level, arms: append([]string(nil), d.Arms...)}
	m.res = make([]armResult, len(d.Arms))
	var g errgroup.Group
	g.SetLimit(c.Workers)
	for k := range d.Arms {
		g.Go(func() error {
			r, err := fitArm(c, d, k+1)
			if err != nil {
				return fmt.Errorf("cannot fit %v-learner for arm %q: %w", c.Kind, d.Arms[k], err)
			}
			m.res[k] = r
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return m, nil
}

// armData is the two-group data of one arm: t is 0 (control) or 1 (arm),
// id identifies the underlying unit (copies of a row in a bootstrap
// resample share an id and so a fold).
type armData struct {
	x    Matrix
	y, t []float64
	id   []int
	nIDs int
}

// fitArm fits arm k (1-based) on the rows of control and arm k, with its
// average effect and, if asked, the bootstrap replicates.
func fitArm(c Config, d Dataset, k int) (armResult, error) {
	var rows []int
	for i, t := range d.T {
		if t == 0 || t == k {
			rows = append(rows, i)
		}
	}
	id := make([]int, len(rows))
	for i := range id {
		id[i] = i
	}
	a := gather(d, rows, id, k, len(rows))
	est, ate, phi, err := fitOnce(c, a, k, mix(c.Seed, uint64(k), 0))
	if err != nil {
		return armResult{}, err
	}
	res := armResult{est: est}
	e := Effect{Arm: d.Arms[k-1], ATE: ate, SE: math.NaN(), Lo: math.NaN(), Hi: math.NaN(), N: len(rows)}

	if c.Bootstrap >= 2 {
		res.boot = make([]cateModel, c.Bootstrap)
		ates := make([]float64, c.Bootstrap)
		var ctl, trt []int
		for i, r := range rows {
			if d.T[r] == 0 {
				ctl = append(ctl, i)
			} else {
				trt = append(trt, i)
			}
		}
		var g errgroup.Group
		g.SetLimit(c.Workers)
		for b := range c.Bootstrap {
			g.Go(func() error {
				rng := rand.New(rand.NewPCG(mix(c.Seed, uint64(k), uint64(b+1), roleResample), 0))
				pick := make([]int, 0, len(rows))
				for range ctl {
					pick = append(pick, ctl[rng.IntN(len(ctl))])
				}
				for range trt {
					pick = append(pick, trt[rng.IntN(len(trt))])
				}
				sub := make([]int, len(pick))
				for i, p := range pick {
					sub[i] = rows[p]
				}
				ab := gather(d, sub, pick, k, len(rows))
				bm, bate, _, err := fitOnce(c, ab, k, mix(c.Seed, uint64(k), uint64(b+1)))
				if err != nil {
					return fmt.Errorf("bootstrap replicate %d: %w", b, err)
				}
				res.boot[b], ates[b] = bm, bate
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return armResult{}, err
		}
		if c.ATEInterval == IntervalBootstrap {
			e.SE = stdDev(ates)
			e.Method = IntervalBootstrap
		}
	}
	if c.ATEInterval == IntervalAIPW {
		e.SE = stdDev(phi) / math.Sqrt(float64(len(phi)))
		e.Method = IntervalAIPW
	}
	if e.Method != IntervalAuto {
		z := normalQuantile(0.5 + c.Level/2)
		e.Lo, e.Hi = e.ATE-z*e.SE, e.ATE+z*e.SE
	}
	res.effect = e
	return res, nil
}

// gather copies the rows of d into an armData with t recoded to 0/1.
func gather(d Dataset, rows, id []int, k, nIDs int) armData {
	p := d.X.Cols
	a := armData{
		x:    Matrix{Rows: len(rows), Cols: p, Data: make([]float64, len(rows)*p)},
		y:    make([]float64, len(rows)),
		t:    make([]float64, len(rows)),
		id:   id,
		nIDs: nIDs,
	}
	for i, r := range rows {
		copy(a.x.Data[i*p:(i+1)*p], d.X.Row(r))
		a.y[i] = d.Y[r]
		if d.T[r] == k {
			a.t[i] = 1
		}
	}
	return a
}

// Seed roles: each model of a fit gets its own seed mix(seed, arm, rep, role[, fold]).
const (
	roleS uint64 = iota + 101
	roleMu0
	roleMu1
	roleTau0
	roleTau1
	rolePropensity
	roleFinal
	roleFolds
	roleResample
)

// fitOnce fits the configured learner on one arm's data and returns τ̂, the
// ATE (mean φ for DR, mean τ̂(Xᵢ) otherwise) and, for DR, φ.
func fitOnce(c Config, a armData, k int, seed uint64) (cateModel, float64, []float64, error) {
	binary := c.OutcomeClassifier != nil && isBinary(a.y)
	var (
		est cateModel
		phi []float64
		err error
	)
	switch c.Kind {
	case SLearner:
		est, err = fitS(c, a, binary, seed)
	case TLearner:
		est, err = fitT(c, a, binary, seed)
	case XLearner:
		est, err = fitX(c, a, k, binary, seed)
	case DRLearner:
		est, phi, err = fitDR(c, a, k, binary, seed)
	default:
		panic(fmt.Sprintf("causal: fitOnce with unvalidated Kind %d", int(c.Kind)))
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if phi != nil {
		return est, mean(phi), phi, nil
	}
	return est, mean(est.predict(a.x)), nil, nil
}

// predictor is a fitted model's prediction function.
type predictor func(Matrix) []float64

// fitOutcome fits an outcome model of y on x: the classifier if binary,
// else the regressor.
func fitOutcome(c Config, x Matrix, y []float64, binary bool, seed uint64) (predictor, error) {
	if binary {
		m := c.OutcomeClassifier(seed)
		if err := m.Fit(x, y, nil); err != nil {
			return nil, err
		}
		return m.PredictProba, nil
	}
	m := c.Outcome(seed)
	if err := m.Fit(x, y, nil); err != nil {
		return nil, err
	}
	return m.Predict, nil
}

// fitEffect fits a second-stage (effect) regressor of y on x.
func fitEffect(c Config, x Matrix, y []float64, seed uint64) (predictor, error) {
	m := c.Effect(seed)
	if err := m.Fit(x, y, nil); err != nil {
		return nil, err
	}
	return m.Predict, nil
}

// sModel is a fitted S-learner.
type sModel struct{ m predictor }

func (s sModel) predict(x Matrix) []float64 {
	p1 := s.m(withColumn(x, 1))
	p0 := s.m(withColumn(x, 0))
	for i := range p1 {
		p1[i] -= p0[i]
	}
	return p1
}

func fitS(c Config, a armData, binary bool, seed uint64) (cateModel, error) {
	xt := withColumn(a.x, 0)
	for i := range a.t {
		xt.Data[(i+1)*xt.Cols-1] = a.t[i]
	}
	m, err := fitOutcome(c, xt, a.y, binary, mix(seed, roleS))
	if err != nil {
		return nil, fmt.Errorf("cannot fit outcome model m̂(x, t): %w", err)
	}
	return sModel{m}, nil
}

// tModel is a fitted T-learner.
type tModel struct{ mu0, mu1 predictor }

func (m tModel) predict(x Matrix) []float64 {
	p1 := m.mu1(x)
	p0 := m.mu0(x)
	for i := range p1 {
		p1[i] -= p0[i]
	}
	return p1
}

// fitMu fits μ̂₀ and μ̂₁ on the rows of a listed in rows (nil: all rows).
func fitMu(c Config, a armData, rows []int, binary bool, seed uint64) (mu0, mu1 predictor, err error) {
	var r0, r1 []int
	for _, i := range rowsOrAll(rows, len(a.y)) {
		if a.t[i] == 1 {
			r1 = append(r1, i)
		} else {
			r0 = append(r0, i)
		}
	}
	x0, y0 := subset(a.x, a.y, r0)
	x1, y1 := subset(a.x, a.y, r1)
	if mu0, err = fitOutcome(c, x0, y0, binary, mix(seed, roleMu0)); err != nil {
		return nil, nil, fmt.Errorf("cannot fit control outcome model μ̂₀: %w", err)
	}
	if mu1, err = fitOutcome(c, x1, y1, binary, mix(seed, roleMu1)); err != nil {
		return nil, nil, fmt.Errorf("cannot fit treated outcome model μ̂₁: %w", err)
	}
	return mu0, mu1, nil
}

func fitT(c Config, a armData, binary bool, seed uint64) (cateModel, error) {
	mu0, mu1, err := fitMu(c, a, nil, binary, seed)
	if err != nil {
		return nil, err
	}
	return tModel{mu0, mu1}, nil
}

// propensity returns ê fitted on the listed rows of a (nil: all rows) or,
// with no Config.Propensity, the constant known or empirical probability.
func propensity(c Config, a armData, rows []int, k int, seed uint64) (predictor, error) {
	rows = rowsOrAll(rows, len(a.t))
	if c.Propensity == nil {
		p := 0.0
		if c.KnownPropensity != nil {
			p = c.KnownPropensity[k-1]
		} else {
			for _, i := range rows {
				p += a.t[i]
			}
			p /= float64(len(rows))
		}
		return func(x Matrix) []float64 {
			out := make([]float64, x.Rows)
			for i := range out {
				out[i] = p
			}
			return out
		}, nil
	}
	x, t := subset(a.x, a.t, rows)
	m := c.Propensity(mix(seed, rolePropensity))
	if err := m.Fit(x, t, nil); err != nil {
		return nil, fmt.Errorf("cannot fit propensity model ê: %w", err)
	}
	return m.PredictProba, nil
}

// xModel is a fitted X-learner.
type xModel struct {
	tau0, tau1, e predictor
	clip          float64
}

func (m xModel) predict(x Matrix) []float64 {
	t0, t1, e := m.tau0(x), m.tau1(x), m.e(x)
	for i := range t0 {
		p := clip(e[i], m.clip)
		t0[i] = p*t0[i] + (1-p)*t1[i]
	}
	return t0
}

func fitX(c Config, a armData, k int, binary bool, seed uint64) (cateModel, error) {
	mu0, mu1, err := fitMu(c, a, nil, binary, seed)
	if err != nil {
		return nil, err
	}
	var r0, r1 []int
	for i, t := range a.t {
		if t == 1 {
			r1 = append(r1, i)
		} else {
			r0 = append(r0, i)
		}
	}
	x0, y0 := subset(a.x, a.y, r0)
	x1, y1 := subset(a.x, a.y, r1)
	d0 := mu1(x0) // D⁰ⱼ = μ̂₁(Xⱼ) − Yⱼ
	for i := range d0 {
		d0[i] -= y0[i]
	}
	d1 := mu0(x1) // D¹ᵢ = Yᵢ − μ̂₀(Xᵢ)
	for i := range d1 {
		d1[i] = y1[i] - d1[i]
	}
	tau0, err := fitEffect(c, x0, d0, mix(seed, roleTau0))
	if err != nil {
		return nil, fmt.Errorf("cannot fit effect model τ̂₀: %w", err)
	}
	tau1, err := fitEffect(c, x1, d1, mix(seed, roleTau1))
	if err != nil {
		return nil, fmt.Errorf("cannot fit effect model τ̂₁: %w", err)
	}
	e, err := propensity(c, a, nil, k, seed)
	if err != nil {
		return nil, err
	}
	return xModel{tau0: tau0, tau1: tau1, e: e, clip: c.PropensityClip}, nil
}

// drModel is a fitted DR-learner's final stage.
type drModel struct{ tau predictor }

func (m drModel) predict(x Matrix) []float64 { return m.tau(x) }

func fitDR(c Config, a armData, k int, binary bool, seed uint64) (cateModel, []float64, error) {
	fold := stratifiedFolds(a, c.Folds, rand.New(rand.NewPCG(mix(seed, roleFolds), 0)))
	phi := make([]float64, len(a.y))
	var g errgroup.Group
	g.SetLimit(c.Workers)
	for f := range c.Folds {
		g.Go(func() error {
			var train, test []int
			for i, fi := range fold {
				if fi == f {
					test = append(test, i)
				} else {
					train = append(train, i)
				}
			}
			if len(test) == 0 {
				return nil
			}
			fs := mix(seed, uint64(f+1))
			mu0, mu1, err := fitMu(c, a, train, binary, fs)
			if err != nil {
				return fmt.Errorf("fold %d: %w", f, err)
			}
			e, err := propensity(c, a, train, k, fs)
			if err != nil {
				return fmt.Errorf("fold %d: %w", f, err)
			}
			xt, _ := subset(a.x, a.y, test)
			m0, m1, ps := mu0(xt), mu1(xt), e(xt)
			for j, i := range test {
				p := clip(ps[j], c.PropensityClip)
				t, y := a.t[i], a.y[i]
				phi[i] = m1[j] - m0[j] + t*(y-m1[j])/p - (1-t)*(y-m0[j])/(1-p)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	tau, err := fitEffect(c, a.x, phi, mix(seed, roleFinal))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot fit final model of φ on X: %w", err)
	}
	return drModel{tau}, phi, nil
}

// stratifiedFolds assigns every row of a to one of k folds: the units
// (ids) of each treatment group are shuffled with rng and dealt round-robin,
// so every fold gets ⌊n_g/k⌋ or ⌈n_g/k⌉ units of group g, and copies of a
// unit share its fold.
func stratifiedFolds(a armData, k int, rng *rand.Rand) []int {
	unitFold := make([]int, a.nIDs)
	seen := make([]bool, a.nIDs)
	var groups [2][]int
	for i, id := range a.id {
		if !seen[id] {
			seen[id] = true
			g := int(a.t[i])
			groups[g] = append(groups[g], id)
		}
	}
	offset := 0
	for _, ids := range groups {
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		for j, id := range ids {
			unitFold[id] = (j + offset) % k
		}
		// Continue the deal where the last group stopped, so small groups
		// do not all land in fold 0.
		offset = (offset + len(ids)) % k
	}
	out := make([]int, len(a.id))
	for i, id := range a.id {
		out[i] = unitFold[id]
	}
	return out
}

// rowsOrAll returns rows, or 0..n−1 if rows is nil.
func rowsOrAll(rows []int, n int) []int {
	if rows != nil {
		return rows
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

// subset copies the listed rows of x and v.
func subset(x Matrix, v []float64, rows []int) (Matrix, []float64) {
	out := Matrix{Rows: len(rows), Cols: x.Cols, Data: make([]float64, len(rows)*x.Cols)}
	vs := make([]float64, len(rows))
	for j, i := range rows {
		copy(out.Data[j*x.Cols:(j+1)*x.Cols], x.Row(i))
		vs[j] = v[i]
	}
	return out, vs
}

// withColumn copies x with one more column, set to v.
func withColumn(x Matrix, v float64) Matrix {
	p := x.Cols + 1
	out := Matrix{Rows: x.Rows, Cols: p, Data: make([]float64, x.Rows*p)}
	for i := range x.Rows {
		copy(out.Data[i*p:], x.Row(i))
		out.Data[i*p+p-1] = v
	}
	return out
}

// clip returns p clipped to [eps, 1−eps]; NaN becomes 0.5.
func clip(p, eps float64) float64 {
	switch {
	case math.IsNaN(p):
		return 0.5
	case p < eps:
		return eps
	case p > 1-eps:
		return 1 - eps
	}
	return p
}

// isBinary reports whether every value is 0 or 1.
func isBinary(y []float64) bool {
	for _, v := range y {
		if v != 0 && v != 1 {
			return false
		}
	}
	return true
}

// mean returns the arithmetic mean of v (NaN if v is empty).
func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// stdDev returns the sample standard deviation of v, with n − 1 in the
// denominator (NaN if len(v) < 2).
func stdDev(v []float64) float64 {
	if len(v) < 2 {
		return math.NaN()
	}
	m := mean(v)
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)-1))
}

// mix derives a seed from seed and tags with SplitMix64 steps, so that
// every model, fold and resample gets an independent stream.
func mix(seed uint64, tags ...uint64) uint64 {
	h := splitmix(seed)
	for _, t := range tags {
		h = splitmix(h ^ splitmix(t+0x9e3779b97f4a7c15))
	}
	return h
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
