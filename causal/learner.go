package causal

// Matrix is a dense feature matrix of Rows rows by Cols columns, row-major:
// the value of feature j for row i is Data[i*Cols+j]. A missing value is NaN.
type Matrix struct {
	Rows, Cols int
	Data       []float64
}

// Row returns row i as a slice that shares m's storage.
func (m Matrix) Row(i int) []float64 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// At returns the value of feature j for row i.
func (m Matrix) At(i, j int) float64 { return m.Data[i*m.Cols+j] }

// Regressor is a base learner for a continuous target. Fit trains on x and
// y with optional non-negative sample weights w (nil means all 1); Predict
// returns one prediction per row of x. A fitted Regressor is safe for
// concurrent Predict calls.
type Regressor interface {
	Fit(x Matrix, y, w []float64) error
	Predict(x Matrix) []float64
}

// Classifier is a base learner for a binary target (y in {0, 1}).
// PredictProba returns P(y = 1 | x) per row, strictly inside (0, 1).
type Classifier interface {
	Fit(x Matrix, y, w []float64) error
	PredictProba(x Matrix) []float64
}

// NewRegressor makes a fresh, unfitted Regressor; meta-learners call it once
// per model and cross-fitting fold. seed seeds the model's own randomness.
type NewRegressor func(seed uint64) Regressor

// NewClassifier makes a fresh, unfitted Classifier.
type NewClassifier func(seed uint64) Classifier
