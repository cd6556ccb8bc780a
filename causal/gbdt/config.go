package gbdt

import (
	"fmt"
	"math"
)

// Objective is the loss a model minimises.
type Objective int

const (
	// L2 is squared error, ½(y − F)², for a continuous target. Gradient
	// g = F − y, hessian h = 1 (both times the sample weight).
	L2 Objective = iota
	// Logistic is the binary log-loss −y·log σ(F) − (1−y)·log(1 − σ(F)) for a
	// target in [0, 1] (usually {0, 1}); F is the log-odds. Gradient
	// g = σ(F) − y, hessian h = σ(F)(1 − σ(F)) (both times the sample weight).
	Logistic
)

// String returns the objective's name: "l2" or "logistic".
func (o Objective) String() string {
	switch o {
	case L2:
		return "l2"
	case Logistic:
		return "logistic"
	}
	return fmt.Sprintf("Objective(%d)", int(o))
}

// maxBinLimit is the largest MaxBin: bins are stored as uint8 and one bin
// index is reserved for missing values.
const maxBinLimit = 255

// Config holds the training parameters. Names and defaults follow LightGBM
// (Ke et al. 2017); DefaultConfig returns the defaults. The zero Config is not
// valid: start from DefaultConfig.
type Config struct {
	// Objective is the loss: L2 or Logistic. Default L2 for DefaultConfig(L2).
	Objective Objective
	// NumIterations is the number of boosting rounds (trees), ≥ 1. Default 100.
	NumIterations int
	// LearningRate is the shrinkage applied to every tree's leaf values, > 0.
	// Default 0.1.
	LearningRate float64
	// NumLeaves is the largest number of leaves per tree, ≥ 2. Default 31.
	NumLeaves int
	// MaxDepth limits the depth of every tree (the root has depth 0); ≤ 0
	// means no limit. Default −1.
	MaxDepth int
	// MinDataInLeaf is the smallest number of training rows (unweighted) in
	// a leaf, ≥ 1. Default 20.
	MinDataInLeaf int
	// MinSumHessianInLeaf is the smallest sum of hessians (weighted) in a
	// leaf, ≥ 0. Default 1e-3.
	MinSumHessianInLeaf float64
	// LambdaL1 is the L1 penalty on leaf values, ≥ 0. Default 0.
	LambdaL1 float64
	// LambdaL2 is the L2 penalty on leaf values, ≥ 0. Default 0.
	LambdaL2 float64
	// MinGainToSplit is the smallest gain a split must exceed, ≥ 0. Default 0.
	MinGainToSplit float64
	// MaxBin is the largest number of bins per feature, in [2, 255]; a
	// missing-value bin comes on top. Default 255.
	MaxBin int
	// FeatureFraction is the fraction of features drawn (without
	// replacement) for each tree, in (0, 1]. Default 1.
	FeatureFraction float64
	// BaggingFraction is the probability that a row is in a tree's bag, in
	// (0, 1]; used only when BaggingFreq > 0. Default 1.
	BaggingFraction float64
	// BaggingFreq redraws the bag every BaggingFreq rounds; 0 turns bagging
	// off. Default 0.
	BaggingFreq int
	// EarlyStoppingRounds stops training when the validation loss (RMSE for
	// L2, log-loss for Logistic) has not improved for this many rounds, and
	// keeps the trees up to the best round. 0 turns early stopping off; it
	// needs a validation set. Default 0.
	EarlyStoppingRounds int
	// Categorical lists the indices of categorical features. Their values
	// are non-negative integers below 2^24 stored as float64; each feature
	// keeps its MaxBin most frequent categories, and NaN, negative,
	// non-integer, rarer and unseen values count as missing (they always
	// go right at a categorical split). Default none.
	Categorical []int
	// Seed seeds every random draw (binning sample, bagging, feature
	// fraction). Default 0.
	Seed uint64
	// Workers is the number of goroutines used to build histograms and
	// update scores; 0 means runtime.GOMAXPROCS(0). Default 0.
	Workers int
}

// DefaultConfig returns LightGBM's defaults for objective obj:
// 100 rounds, learning rate 0.1, 31 leaves, no depth limit, 20 rows and
// 1e-3 hessian per leaf, no regularisation, 255 bins, no subsampling, no
// early stopping.
func DefaultConfig(obj Objective) Config {
	return Config{
		Objective:           obj,
		NumIterations:       100,
		LearningRate:        0.1,
		NumLeaves:           31,
		MaxDepth:            -1,
		MinDataInLeaf:       20,
		MinSumHessianInLeaf: 1e-3,
		MaxBin:              255,
		FeatureFraction:     1,
		BaggingFraction:     1,
	}
}

// Validate reports the first invalid field of c, naming the field and the
// reason. It does not check Categorical against the number of features;
// Train does.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("invalid gbdt config: %s %s", field, fmt.Sprintf(format, args...))
	}
	finiteNonNeg := func(v float64) bool { return v >= 0 && !math.IsInf(v, 1) }
	switch {
	case c.Objective != L2 && c.Objective != Logistic:
		return bad("Objective", "is %d, want L2 or Logistic", int(c.Objective))
	case c.NumIterations < 1:
		return bad("NumIterations", "is %d, want ≥ 1", c.NumIterations)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return bad("LearningRate", "is %v, want a finite value > 0", c.LearningRate)
	case c.NumLeaves < 2:
		return bad("NumLeaves", "is %d, want ≥ 2", c.NumLeaves)
	case c.NumLeaves > 1<<17:
		return bad("NumLeaves", "is %d, want ≤ %d", c.NumLeaves, 1<<17)
	case c.MinDataInLeaf < 1:
		return bad("MinDataInLeaf", "is %d, want ≥ 1", c.MinDataInLeaf)
	case !finiteNonNeg(c.MinSumHessianInLeaf):
		return bad("MinSumHessianInLeaf", "is %v, want a finite value ≥ 0", c.MinSumHessianInLeaf)
	case !finiteNonNeg(c.LambdaL1):
		return bad("LambdaL1", "is %v, want a finite value ≥ 0", c.LambdaL1)
	case !finiteNonNeg(c.LambdaL2):
		return bad("LambdaL2", "is %v, want a finite value ≥ 0", c.LambdaL2)
	case !finiteNonNeg(c.MinGainToSplit):
		return bad("MinGainToSplit", "is %v, want a finite value ≥ 0", c.MinGainToSplit)
	case c.MaxBin < 2 || c.MaxBin > maxBinLimit:
		return bad("MaxBin", "is %d, want 2..%d (bins are stored as uint8)", c.MaxBin, maxBinLimit)
	case !(c.FeatureFraction > 0 && c.FeatureFraction <= 1):
		return bad("FeatureFraction", "is %v, want (0, 1]", c.FeatureFraction)
	case !(c.BaggingFraction > 0 && c.BaggingFraction <= 1):
		return bad("BaggingFraction", "is %v, want (0, 1]", c.BaggingFraction)
	case c.BaggingFreq < 0:
		return bad("BaggingFreq", "is %d, want ≥ 0", c.BaggingFreq)
	case c.EarlyStoppingRounds < 0:
		return bad("EarlyStoppingRounds", "is %d, want ≥ 0", c.EarlyStoppingRounds)
	case c.Workers < 0:
		return bad("Workers", "is %d, want ≥ 0 (0 = GOMAXPROCS)", c.Workers)
	}
	seen := make(map[int]bool, len(c.Categorical))
	for _, j := range c.Categorical {
		if j < 0 {
			return bad("Categorical", "holds %d, want feature indices ≥ 0", j)
		}
		if seen[j] {
			return bad("Categorical", "holds %d twice", j)
		}
		seen[j] = true
	}
	return nil
}
