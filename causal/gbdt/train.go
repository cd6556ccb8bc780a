package gbdt

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"

	"github.com/preflight-hq/preflight/causal"
)

// Validation is a held-out set for early stopping: features X with the
// training set's columns, targets Y, and optional non-negative weights W
// (nil means all 1).
type Validation struct {
	// X holds the validation features, with the training columns.
	X causal.Matrix
	// Y holds one target per row of X.
	Y []float64
	// W holds optional non-negative weights, one per row; nil means 1.
	W []float64
}

// seedStream is the second PCG word; Config.Seed is the first.
const seedStream = 0x9e3779b97f4a7c15

// Train fits a gradient-boosted tree ensemble (Friedman 2001; Chen &
// Guestrin 2016; Ke et al. 2017) to features x, targets y and optional
// non-negative sample weights w (nil means all 1) under cfg.
//
// Features are binned once (see Config.MaxBin); every round computes the
// loss gradients and hessians at the current scores, grows one tree
// leaf-wise on gradient histograms, and adds its shrunk leaf values to the
// scores. The initial score is the weighted mean of y for L2 and its
// log-odds for Logistic (LightGBM's boost_from_average). Training stops
// after cfg.NumIterations rounds; when the root of a new tree cannot be
// split (with bagging or feature subsampling that round adds no tree and
// training goes on, without them it stops); or, with a validation set and
// cfg.EarlyStoppingRounds > 0, when the validation loss has not improved
// for that many trees, and the model then keeps the trees up to the best
// one. Without EarlyStoppingRounds the validation set is checked but not
// used.
//
// Train fails when cfg is invalid (see Config.Validate), when the shapes of
// x, y, w or the validation set disagree, when y or w hold non-finite
// values, when w is negative or sums to zero, or when a Logistic target is
// outside [0, 1]. The result depends only on cfg and the data, not on
// cfg.Workers or scheduling.
func Train(cfg Config, x causal.Matrix, y, w []float64, valid *Validation) (*Model, error) {
	m, _, err := train(cfg, x, y, w, valid)
	return m, err
}

// train is Train that also returns the final training scores, which it
// keeps in bin space (tests check them against PredictRaw).
func train(cfg Config, x causal.Matrix, y, w []float64, valid *Validation) (*Model, []float64, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if err := checkData("training", x, y, w, cfg.Objective); err != nil {
		return nil, nil, err
	}
	for _, j := range cfg.Categorical {
		if j >= x.Cols {
			return nil, nil, fmt.Errorf("invalid gbdt config: Categorical holds %d, want feature indices < %d (the number of columns)", j, x.Cols)
		}
	}
	if valid != nil {
		if valid.X.Cols != x.Cols {
			return nil, nil, fmt.Errorf("cannot train gbdt: validation set has %d columns, training set %d", valid.X.Cols, x.Cols)
		}
		if err := checkData("validation", valid.X, valid.Y, valid.W, cfg.Objective); err != nil {
			return nil, nil, err
		}
	}
	cfg.Categorical = slices.Clone(cfg.Categorical)
	workers := cfg.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, seedStream))

	isCat := make([]bool, x.Cols)
	for _, j := range cfg.Categorical {
		isCat[j] = true
	}
	d := newDataset(x, isCat, cfg.MaxBin, workers, rng)
	n := x.Rows
	init := initScore(cfg.Objective, y, w)
	m := &Model{objective: cfg.Objective, numFeatures: x.Cols, initScore: init}

	score := make([]float64, n)
	for i := range score {
		score[i] = init
	}
	gr := newGrower(&cfg, d, workers)
	gr.constHess = cfg.Objective == L2 && w == nil

	var usable []int
	for j := range x.Cols {
		if d.usable[j] {
			usable = append(usable, j)
		}
	}
	nFeat := len(usable)
	if cfg.FeatureFraction < 1 {
		nFeat = max(1, int(math.Round(cfg.FeatureFraction*float64(len(usable)))))
	}
	pool := slices.Clone(usable)

	bagging := cfg.BaggingFreq > 0 && cfg.BaggingFraction < 1
	randomised := bagging || nFeat < len(pool)
	bag := make([]int32, 0, n)
	var oob []int32
	if !bagging {
		for i := range n {
			bag = append(bag, int32(i))
		}
	}

	early := valid != nil && cfg.EarlyStoppingRounds > 0
	var vScore []float64
	bestLoss, bestIter := math.Inf(1), 0
	if early {
		vScore = make([]float64, valid.X.Rows)
		for i := range vScore {
			vScore[i] = init
		}
	}

	leafVals := make([]float64, 0, cfg.NumLeaves)
	if len(usable) == 0 {
		cfg.NumIterations = 0 // nothing can split: the model is the constant
	}
	for it := 0; it < cfg.NumIterations; it++ {
		if bagging && it%cfg.BaggingFreq == 0 {
			bag, oob = bag[:0], oob[:0]
			for i := range n {
				if rng.Float64() < cfg.BaggingFraction {
					bag = append(bag, int32(i))
				} else {
					oob = append(oob, int32(i))
				}
			}
		}
		gr.feats = gr.feats[:0]
		if nFeat < len(pool) {
			for k := range nFeat {
				r := k + rng.IntN(len(pool)-k)
				pool[k], pool[r] = pool[r], pool[k]
			}
			gr.feats = append(gr.feats, pool[:nFeat]...)
			slices.Sort(gr.feats)
		} else {
			gr.feats = append(gr.feats, usable...)
		}
		if len(bag) == 0 {
			continue // only with bagging: the next bag may hold rows
		}

		computeGradients(cfg.Objective, score, y, w, gr.gh, workers)
		copy(gr.idx, bag)
		if gr.grow(len(bag), !bagging) < 2 {
			if randomised {
				continue // another bag or feature draw may split
			}
			break // no admissible split: further rounds would add nothing
		}

		leafVals = leafVals[:0]
		for i := range gr.leaves {
			t := gr.leaves[i].tot
			leafVals = append(leafVals, cfg.LearningRate*leafOutput(t.g, t.h, cfg.LambdaL1, cfg.LambdaL2))
		}
		parallelFor(len(gr.leaves), workers, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				lf := &gr.leaves[i]
				v := leafVals[i]
				for _, r := range gr.idx[lf.begin:lf.end] {
					score[r] += v
				}
			}
		})
		if len(oob) > 0 {
			parallelFor(len(oob), workers, func(_, lo, hi int) {
				for _, r := range oob[lo:hi] {
					score[r] += leafVals[gr.leafOfBins(int(r))]
				}
			})
		}

		t := treeFromGrower(gr, leafVals)
		m.trees = append(m.trees, t)
		m.appendFlat(&m.trees[len(m.trees)-1])

		if early {
			last := len(m.roots) - 1
			parallelFor(valid.X.Rows, workers, func(_, lo, hi int) {
				for i := lo; i < hi; i++ {
					vScore[i] += m.treeValue(last, valid.X.Row(i))
				}
			})
			loss := validationLoss(cfg.Objective, vScore, valid.Y, valid.W)
			if loss < bestLoss {
				bestLoss, bestIter = loss, len(m.trees)
			} else if len(m.trees)-bestIter >= cfg.EarlyStoppingRounds {
				break
			}
		}
	}
	if early && bestIter < len(m.trees) {
		m.trees = m.trees[:bestIter]
	}
	m.bestIter = len(m.trees)
	m.flatten()
	return m, score, nil
}

// treeFromGrower converts the tree gr just grew from bins to raw values.
func treeFromGrower(gr *grower, leafVals []float64) tree {
	nn := len(gr.nodes)
	t := tree{
		Feature:        make([]int, nn),
		Threshold:      make([]jsonFloat, nn),
		DefaultLeft:    make([]bool, nn),
		Categorical:    make([]bool, nn),
		LeftCategories: make([][]int, nn),
		Gain:           make([]float64, nn),
		Left:           make([]int, nn),
		Right:          make([]int, nn),
		LeafValue:      slices.Clone(leafVals),
	}
	for i := range gr.nodes {
		nd := &gr.nodes[i]
		mp := &gr.d.mappers[nd.feature]
		t.Feature[i] = nd.feature
		t.Gain[i] = nd.gain
		t.Left[i], t.Right[i] = nd.left, nd.right
		if nd.catBins != nil {
			t.Categorical[i] = true
			cats := make([]int, len(nd.catBins))
			for k, b := range nd.catBins {
				cats[k] = mp.cats[b]
			}
			slices.Sort(cats)
			t.LeftCategories[i] = cats
		} else {
			t.Threshold[i] = jsonFloat(mp.bounds[nd.thrBin])
			t.DefaultLeft[i] = nd.defaultLeft
		}
	}
	return t
}

// checkData reports whether x, y and w are consistent training or
// validation data for objective obj.
func checkData(what string, x causal.Matrix, y, w []float64, obj Objective) error {
	switch {
	case x.Rows < 1 || x.Cols < 1:
		return fmt.Errorf("cannot train gbdt: %s matrix is %d×%d, want at least 1×1", what, x.Rows, x.Cols)
	case len(x.Data) != x.Rows*x.Cols:
		return fmt.Errorf("cannot train gbdt: %s matrix has %d values, want %d×%d", what, len(x.Data), x.Rows, x.Cols)
	case len(y) != x.Rows:
		return fmt.Errorf("cannot train gbdt: %s set has %d targets for %d rows", what, len(y), x.Rows)
	case w != nil && len(w) != x.Rows:
		return fmt.Errorf("cannot train gbdt: %s set has %d weights for %d rows", what, len(w), x.Rows)
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("cannot train gbdt: %s target %d is %v, want finite", what, i, v)
		}
		if obj == Logistic && (v < 0 || v > 1) {
			return fmt.Errorf("cannot train gbdt: %s target %d is %v, want [0, 1] for Logistic", what, i, v)
		}
	}
	if w != nil {
		var sum float64
		for i, v := range w {
			if !(v >= 0) || math.IsInf(v, 1) {
				return fmt.Errorf("cannot train gbdt: %s weight %d is %v, want finite and ≥ 0", what, i, v)
			}
			sum += v
		}
		if !(sum > 0) {
			return fmt.Errorf("cannot train gbdt: %s weights sum to %v, want > 0", what, sum)
		}
	}
	return nil
}

// logitEps keeps the initial log-odds finite when every label is 0 or 1.
const logitEps = 1e-15

// initScore is the constant that minimises the weighted loss: the mean
// ȳ = Σwᵢyᵢ/Σwᵢ for L2 and the log-odds log(ȳ/(1−ȳ)) for Logistic, with ȳ
// clipped to [1e-15, 1 − 1e-15].
func initScore(obj Objective, y, w []float64) float64 {
	var sy, sw float64
	for i, v := range y {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		sy += wi * v
		sw += wi
	}
	mean := sy / sw
	if obj == Logistic {
		mean = min(max(mean, logitEps), 1-logitEps)
		return math.Log(mean / (1 - mean))
	}
	return mean
}

// computeGradients fills gh at scores F: for L2 g = w(F − y), h = w; for
// Logistic p = σ(F), g = w(p − y), h = w·p(1 − p).
func computeGradients(obj Objective, score, y, w []float64, gh []gradPair, workers int) {
	parallelFor(len(score), workers, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			wi := 1.0
			if w != nil {
				wi = w[i]
			}
			switch obj {
			case L2:
				gh[i] = gradPair{g: wi * (score[i] - y[i]), h: wi}
			case Logistic:
				p := sigmoid(score[i])
				gh[i] = gradPair{g: wi * (p - y[i]), h: wi * p * (1 - p)}
			}
		}
	})
}

// validationLoss is the weighted validation loss early stopping
// minimises: RMSE √(Σw(F − y)²/Σw) for L2 and the log-loss
// −Σw[y log p + (1−y) log(1−p)]/Σw with p = σ(F) clipped to
// [1e-15, 1 − 1e-15] for Logistic.
func validationLoss(obj Objective, score, y, w []float64) float64 {
	var s, sw float64
	for i, f := range score {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		switch obj {
		case L2:
			r := f - y[i]
			s += wi * r * r
		case Logistic:
			p := min(max(sigmoid(f), logitEps), 1-logitEps)
			s -= wi * (y[i]*math.Log(p) + (1-y[i])*math.Log(1-p))
		}
		sw += wi
	}
	if obj == L2 {
		return math.Sqrt(s / sw)
	}
	return s / sw
}
