package causal

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Kind names a meta-learner: the recipe that turns base learners into an
// estimate of the conditional average treatment effect τ(x) = μ₁(x) − μ₀(x).
type Kind int

// The meta-learners. The formulas are in the doc comment of Fit.
const (
	// SLearner fits one outcome model on [X, T] and reads τ̂(x) off it as
	// m̂(x, 1) − m̂(x, 0).
	SLearner Kind = iota + 1
	// TLearner fits one outcome model per group and takes τ̂ = μ̂₁ − μ̂₀.
	TLearner
	// XLearner is the X-learner of Künzel et al. (2019) with propensity
	// weighting of the two imputed-effect models.
	XLearner
	// DRLearner is the doubly robust learner of Kennedy (2023): cross-fitted
	// AIPW pseudo-outcomes regressed on X.
	DRLearner
)

// String returns the learner's short name ("S", "T", "X", "DR").
func (k Kind) String() string {
	switch k {
	case SLearner:
		return "S"
	case TLearner:
		return "T"
	case XLearner:
		return "X"
	case DRLearner:
		return "DR"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// IntervalMethod chooses how Fit computes the confidence interval of the
// average treatment effect.
type IntervalMethod int

const (
	// IntervalAuto uses IntervalAIPW for the DR-learner and IntervalBootstrap
	// for the other learners when Config.Bootstrap > 0; otherwise the
	// interval is NaN.
	IntervalAuto IntervalMethod = iota
	// IntervalAIPW uses the influence function of the AIPW estimator: the
	// ATE is the mean of the cross-fitted pseudo-outcomes φ and its standard
	// error is sd(φ)/√n. DR-learner only.
	IntervalAIPW
	// IntervalBootstrap refits the whole learner on Config.Bootstrap
	// resamples and uses the standard deviation of the resampled ATEs.
	IntervalBootstrap
)

// String returns "auto", "aipw" or "bootstrap".
func (m IntervalMethod) String() string {
	switch m {
	case IntervalAuto:
		return "auto"
	case IntervalAIPW:
		return "aipw"
	case IntervalBootstrap:
		return "bootstrap"
	}
	return fmt.Sprintf("IntervalMethod(%d)", int(m))
}

// Defaults of Config. A zero field in Config means its default.
const (
	// DefaultFolds is the number of cross-fitting folds of the DR-learner.
	DefaultFolds = 5
	// DefaultPropensityClip is the ε in the clipping of ê(x) to [ε, 1−ε].
	DefaultPropensityClip = 0.01
	// DefaultLevel is the confidence level of every interval.
	DefaultLevel = 0.95
)

// Config configures Fit. The zero value of every optional field means its
// documented default; Validate reports the first field that is wrong.
type Config struct {
	// Kind selects the meta-learner. Required.
	Kind Kind

	// Outcome makes the outcome models: m̂(x, t) of the S-learner and μ̂₀,
	// μ̂₁ of the T-, X- and DR-learners. Required.
	Outcome NewRegressor

	// OutcomeClassifier, if set, replaces Outcome for the outcome models
	// when every Y is 0 or 1; the models then predict P(Y = 1 | x) with
	// PredictProba. Default nil: Outcome is used for every outcome.
	OutcomeClassifier NewClassifier

	// Effect makes the second-stage models that regress an imputed effect
	// on X: τ̂₀ and τ̂₁ of the X-learner and the final model of the
	// DR-learner. Default: Outcome.
	Effect NewRegressor

	// Propensity makes the classifier ê(x) = P(arm k | x, T ∈ {0, k}) of
	// the X- and DR-learners. Default nil: the data come from a randomized
	// experiment, and ê(x) is the constant KnownPropensity[k−1], or, if
	// KnownPropensity is nil, the share of arm-k rows among the control and
	// arm-k rows.
	Propensity NewClassifier

	// KnownPropensity holds, per arm k = 1..K (index k−1), the design's
	// probability that a unit in {control, arm k} is in arm k; for example
	// 0.5 for each arm of an experiment that splits units equally between a
	// control and K arms. Used only when Propensity is nil. Default nil.
	KnownPropensity []float64

	// Folds is the number K of cross-fitting folds of the DR-learner,
	// stratified by treatment. Default DefaultFolds (5); at least 2.
	Folds int

	// PropensityClip is ε: every ê(x) is clipped to [ε, 1−ε] before it
	// divides (DR) or weights (X). Default DefaultPropensityClip (0.01);
	// must be in (0, 0.5).
	PropensityClip float64

	// Bootstrap is the number B of bootstrap refits of the whole learner,
	// each on a resample of the rows drawn with replacement within the
	// control group and within the arm. They give the CATE intervals and,
	// for IntervalBootstrap, the ATE interval. Default 0 (no bootstrap:
	// CATE intervals are NaN); otherwise at least 2, 50–200 in practice.
	Bootstrap int

	// Level is the confidence level of every interval. Default
	// DefaultLevel (0.95); must be in (0, 1).
	Level float64

	// ATEInterval chooses the method of the ATE interval. Default
	// IntervalAuto.
	ATEInterval IntervalMethod

	// Workers is the number of goroutines that fit arms, bootstrap
	// replicates and cross-fitting folds; each of those three levels runs
	// at most Workers at once, so up to Workers³ fits may run together.
	// Default 1 (sequential).
	Workers int

	// Seed seeds every random draw: folds, bootstrap resamples and the
	// seeds passed to the base-learner factories. Equal seeds and data give
	// equal results, whatever Workers is.
	Seed uint64
}

// Validate reports whether c can be used by Fit. The error names the first
// field that is wrong and why. Zero optional fields are valid (they mean
// their defaults).
func (c Config) Validate() error {
	switch c.Kind {
	case SLearner, TLearner, XLearner, DRLearner:
	case 0:
		return errors.New("causal: invalid Config.Kind: not set (want SLearner, TLearner, XLearner or DRLearner)")
	default:
		return fmt.Errorf("causal: invalid Config.Kind %d: unknown learner", int(c.Kind))
	}
	if c.Outcome == nil {
		return errors.New("causal: invalid Config.Outcome: nil (every learner needs an outcome regressor factory)")
	}
	for k, p := range c.KnownPropensity {
		if !(p > 0 && p < 1) {
			return fmt.Errorf("causal: invalid Config.KnownPropensity[%d] = %v: must be in (0, 1)", k, p)
		}
	}
	if c.Folds < 0 || c.Folds == 1 {
		return fmt.Errorf("causal: invalid Config.Folds %d: need at least 2 folds for cross-fitting (0 means %d)", c.Folds, DefaultFolds)
	}
	if c.PropensityClip != 0 && !(c.PropensityClip > 0 && c.PropensityClip < 0.5) {
		return fmt.Errorf("causal: invalid Config.PropensityClip %v: must be in (0, 0.5) (0 means %v)", c.PropensityClip, DefaultPropensityClip)
	}
	if c.Bootstrap < 0 || c.Bootstrap == 1 {
		return fmt.Errorf("causal: invalid Config.Bootstrap %d: must be 0 (none) or at least 2 resamples", c.Bootstrap)
	}
	if c.Level != 0 && !(c.Level > 0 && c.Level < 1) {
		return fmt.Errorf("causal: invalid Config.Level %v: must be in (0, 1) (0 means %v)", c.Level, DefaultLevel)
	}
	switch c.ATEInterval {
	case IntervalAuto:
	case IntervalAIPW:
		if c.Kind != DRLearner {
			return fmt.Errorf("causal: invalid Config.ATEInterval %v: the AIPW interval needs Kind DRLearner, not %v", c.ATEInterval, c.Kind)
		}
	case IntervalBootstrap:
		if c.Bootstrap < 2 {
			return fmt.Errorf("causal: invalid Config.ATEInterval %v: needs Config.Bootstrap ≥ 2, have %d", c.ATEInterval, c.Bootstrap)
		}
	default:
		return fmt.Errorf("causal: invalid Config.ATEInterval %d: unknown method", int(c.ATEInterval))
	}
	if c.Workers < 0 {
		return fmt.Errorf("causal: invalid Config.Workers %d: must be ≥ 0 (0 means 1)", c.Workers)
	}
	return nil
}

// withDefaults returns c with every zero optional field set to its default.
func (c Config) withDefaults() Config {
	if c.Effect == nil {
		c.Effect = c.Outcome
	}
	if c.Folds == 0 {
		c.Folds = DefaultFolds
	}
	if c.PropensityClip == 0 {
		c.PropensityClip = DefaultPropensityClip
	}
	if c.Level == 0 {
		c.Level = DefaultLevel
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
	if c.ATEInterval == IntervalAuto {
		switch {
		case c.Kind == DRLearner:
			c.ATEInterval = IntervalAIPW
		case c.Bootstrap >= 2:
			c.ATEInterval = IntervalBootstrap
		}
	}
	return c
}

// Dataset is an experiment or observational study with one control group
// and one or more treatment arms.
type Dataset struct {
	// X holds the features, one row per unit.
	X Matrix
	// Y holds the outcome per unit (binary 0/1 or continuous).
	Y []float64
	// T holds the group per unit: 0 for control, k in 1..len(Arms) for arm k.
	T []int
	// Arms names the arms 1..K (Arms[k−1] is arm k). At least one.
	Arms []string
}

// Validate reports whether d is consistent: lengths agree, every T is in
// 0..len(Arms), Y is finite, and the control group and every arm have at
// least two rows.
func (d Dataset) Validate() error {
	if len(d.Arms) == 0 {
		return errors.New("causal: invalid Dataset.Arms: empty (need at least one treatment arm)")
	}
	if d.X.Rows*d.X.Cols != len(d.X.Data) {
		return fmt.Errorf("causal: invalid Dataset.X: %d×%d but %d values", d.X.Rows, d.X.Cols, len(d.X.Data))
	}
	if len(d.Y) != d.X.Rows || len(d.T) != d.X.Rows {
		return fmt.Errorf("causal: invalid Dataset: X has %d rows, Y %d, T %d", d.X.Rows, len(d.Y), len(d.T))
	}
	counts := make([]int, len(d.Arms)+1)
	for i, t := range d.T {
		if t < 0 || t > len(d.Arms) {
			return fmt.Errorf("causal: invalid Dataset.T[%d] = %d: must be in 0..%d", i, t, len(d.Arms))
		}
		if math.IsNaN(d.Y[i]) || math.IsInf(d.Y[i], 0) {
			return fmt.Errorf("causal: invalid Dataset.Y[%d] = %v: must be finite", i, d.Y[i])
		}
		counts[t]++
	}
	for g, n := range counts {
		if n < 2 {
			name := "control"
			if g > 0 {
				name = fmt.Sprintf("arm %q", d.Arms[g-1])
			}
			return fmt.Errorf("causal: invalid Dataset: %s has %d rows, need at least 2", name, n)
		}
	}
	return nil
}

// Effect is the estimated average treatment effect of one arm against
// control, on the rows of the control group and that arm.
type Effect struct {
	// Arm is the arm's name.
	Arm string
	// ATE is the estimate: the mean of φ for the DR-learner (AIPW), the
	// mean of τ̂(Xᵢ) over the rows for the S-, T- and X-learners.
	ATE float64
	// SE is its standard error; NaN if there is no interval.
	SE float64
	// Lo and Hi bound the interval ATE ∓ z·SE at Config.Level, z the
	// standard normal quantile; NaN if there is no interval.
	Lo, Hi float64
	// N is the number of rows (control plus arm).
	N int
	// Method is how SE was computed (IntervalAIPW or IntervalBootstrap),
	// or IntervalAuto if it was not.
	Method IntervalMethod
}

// cateModel is one fitted τ̂(x) for one arm.
type cateModel interface {
	predict(x Matrix) []float64
}

// armResult is what Fit keeps per arm.
type armResult struct {
	est    cateModel
	boot   []cateModel
	effect Effect
}

// Model is a fitted meta-learner: per arm, an estimate τ̂(x) and the
// average effect with its interval. It is safe for concurrent use.
type Model struct {
	kind  Kind
	cols  int
	level float64
	arms  []string
	res   []armResult
}

// Kind returns the meta-learner that made m.
func (m *Model) Kind() Kind { return m.kind }

// Arms returns the arm names in the order of Dataset.Arms.
func (m *Model) Arms() []string { return slices.Clone(m.arms) }

// Effects returns the average treatment effect of every arm against
// control, in the order of Arms.
func (m *Model) Effects() []Effect {
	out := make([]Effect, len(m.res))
	for i, r := range m.res {
		out[i] = r.effect
	}
	return out
}

// Effect returns the average treatment effect of the named arm.
func (m *Model) Effect(arm string) (Effect, error) {
	k, err := m.armIndex(arm)
	if err != nil {
		return Effect{}, err
	}
	return m.res[k].effect, nil
}

func (m *Model) armIndex(arm string) (int, error) {
	k := slices.Index(m.arms, arm)
	if k < 0 {
		return 0, fmt.Errorf("causal: unknown arm %q (have %q)", arm, m.arms)
	}
	return k, nil
}

// CATE returns, for every row of x, the estimated effect τ̂(x) of the named
// arm against control and an interval [lo, hi] around it.
//
// The interval is τ̂(x) ∓ z·s(x), where s(x) is the standard deviation of
// τ̂_b(x) over the B = Config.Bootstrap refits of the whole learner on
// resampled data and z the standard normal quantile at Config.Level. It
// measures how much the estimate at x moves when the sample is redrawn —
// the learner's variance at x. It does not measure its bias: a
// regularized or tree base learner that smooths τ(x) toward its neighbours
// or toward zero (the S-learner especially) gives intervals that can miss
// the true τ(x) far more often than 1 − Level, and with small B the
// interval's own width is noisy. Read it as a band of instability, not as a
// guaranteed coverage. Without a bootstrap (Bootstrap = 0) lo and hi are
// NaN.
func (m *Model) CATE(arm string, x Matrix) (tau, lo, hi []float64, err error) {
	k, err := m.armIndex(arm)
	if err != nil {
		return nil, nil, nil, err
	}
	if x.Cols != m.cols || x.Rows*x.Cols != len(x.Data) {
		return nil, nil, nil, fmt.Errorf("causal: cannot predict CATE: x is %d×%d with %d values, model has %d columns", x.Rows, x.Cols, len(x.Data), m.cols)
	}
	r := m.res[k]
	tau = r.est.predict(x)
	lo = make([]float64, x.Rows)
	hi = make([]float64, x.Rows)
	if len(r.boot) < 2 {
		for i := range lo {
			lo[i], hi[i] = math.NaN(), math.NaN()
		}
		return tau, lo, hi, nil
	}
	// Welford's running mean and variance over replicates, per row.
	mean := make([]float64, x.Rows)
	m2 := make([]float64, x.Rows)
	for b, bm := range r.boot {
		p := bm.predict(x)
		for i, v := range p {
			d := v - mean[i]
			mean[i] += d / float64(b+1)
			m2[i] += d * (v - mean[i])
		}
	}
	z := normalQuantile(0.5 + m.level/2)
	for i := range tau {
		s := math.Sqrt(m2[i] / float64(len(r.boot)-1))
		lo[i], hi[i] = tau[i]-z*s, tau[i]+z*s
	}
	return tau, lo, hi, nil
}

// normalQuantile returns Φ⁻¹(p), the standard normal quantile.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
