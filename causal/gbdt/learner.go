package gbdt

import (
	"errors"
	"slices"

	"github.com/preflight-hq/preflight/causal"
)

// NewRegressor returns a factory of causal.Regressor base learners that
// train with cfg under the L2 objective (whatever cfg.Objective says). The
// factory's seed argument replaces cfg.Seed, so every model and
// cross-fitting fold gets its own stream.
func NewRegressor(cfg Config) causal.NewRegressor {
	cfg.Objective = L2
	cfg.Categorical = slices.Clone(cfg.Categorical)
	return func(seed uint64) causal.Regressor {
		c := cfg
		c.Seed = seed
		return &regressor{cfg: c}
	}
}

// NewClassifier returns a factory of causal.Classifier base learners that
// train with cfg under the Logistic objective (whatever cfg.Objective
// says). The factory's seed argument replaces cfg.Seed.
func NewClassifier(cfg Config) causal.NewClassifier {
	cfg.Objective = Logistic
	cfg.Categorical = slices.Clone(cfg.Categorical)
	return func(seed uint64) causal.Classifier {
		c := cfg
		c.Seed = seed
		return &classifier{cfg: c}
	}
}

// errNotFitted is the panic value of Predict and PredictProba on a learner
// without a successful Fit: calling them first is a programmer bug.
var errNotFitted = errors.New("gbdt: Predict called before a successful Fit")

// regressor adapts Train to causal.Regressor.
type regressor struct {
	cfg   Config
	model *Model
}

// Fit trains the model on x, y and optional weights w.
func (r *regressor) Fit(x causal.Matrix, y, w []float64) error {
	m, err := Train(r.cfg, x, y, w, nil)
	if err != nil {
		return err
	}
	r.model = m
	return nil
}

// Predict returns the fitted model's prediction for every row of x.
func (r *regressor) Predict(x causal.Matrix) []float64 {
	if r.model == nil {
		panic(errNotFitted)
	}
	return r.model.Predict(x)
}

// classifier adapts Train to causal.Classifier.
type classifier struct {
	cfg   Config
	model *Model
}

// Fit trains the model on x, y ∈ [0, 1] and optional weights w.
func (c *classifier) Fit(x causal.Matrix, y, w []float64) error {
	m, err := Train(c.cfg, x, y, w, nil)
	if err != nil {
		return err
	}
	c.model = m
	return nil
}

// PredictProba returns P(y = 1 | x) for every row of x, clipped to
// [1e-7, 1 − 1e-7].
func (c *classifier) PredictProba(x causal.Matrix) []float64 {
	if c.model == nil {
		panic(errNotFitted)
	}
	return c.model.Predict(x)
}
