package gbdt

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"

	"github.com/preflight-hq/preflight/causal"
)

// Model is a trained boosted-tree ensemble. Its raw score for a row is
// F(x) = init + Σ_t tree_t(x), where the leaf values already include the
// learning rate. A Model is immutable after Train or UnmarshalJSON and safe
// for concurrent use.
type Model struct {
	objective   Objective
	numFeatures int
	initScore   float64
	bestIter    int
	trees       []tree
	importance  []float64

	// Flattened trees for prediction: all nodes of all trees in one
	// array. Child references ≥ 0 are nodes, < 0 are leaves ^ref.
	nodes    []flatNode
	leafVals []float64
	roots    []int32
	catBits  []uint64
}

// tree is one tree in value space; it is also the tree's JSON form. Node i
// sends row x left when x[Feature[i]] ≤ Threshold[i] (numeric) or when
// x[Feature[i]] is one of LeftCategories[i] (categorical, Categorical[i]).
// At a numeric node a missing value (NaN) goes left exactly when
// DefaultLeft[i]; at a categorical node every value that is not a listed
// category, NaN included, goes right. Left and Right are child references:
// ≥ 0 a node, < 0 the leaf ^ref; a child's index exceeds its parent's.
type tree struct {
	Feature        []int       `json:"feature"`
	Threshold      []jsonFloat `json:"threshold"`
	DefaultLeft    []bool      `json:"default_left"`
	Categorical    []bool      `json:"categorical"`
	LeftCategories [][]int     `json:"left_categories"`
	Gain           []float64   `json:"gain"`
	Left           []int       `json:"left"`
	Right          []int       `json:"right"`
	LeafValue      []float64   `json:"leaf_value"`
}

// flatNode is a node of the prediction arrays.
type flatNode struct {
	threshold      float64
	feature        int32
	left, right    int32
	catOff, catLen int32
	flags          uint8
}

const (
	flagDefaultLeft = 1 << iota
	flagCategorical
)

// appendFlat adds tree t to the prediction arrays.
func (m *Model) appendFlat(t *tree) {
	nodeBase := int32(len(m.nodes))
	leafBase := int32(len(m.leafVals))
	ref := func(c int) int32 {
		if c >= 0 {
			return nodeBase + int32(c)
		}
		return ^(leafBase + int32(^c))
	}
	for i := range t.Feature {
		nd := flatNode{
			threshold: float64(t.Threshold[i]),
			feature:   int32(t.Feature[i]),
			left:      ref(t.Left[i]),
			right:     ref(t.Right[i]),
		}
		if t.DefaultLeft[i] {
			nd.flags |= flagDefaultLeft
		}
		if t.Categorical[i] {
			nd.flags |= flagCategorical
			words := 0
			for _, c := range t.LeftCategories[i] {
				words = max(words, c/64+1)
			}
			nd.catOff = int32(len(m.catBits))
			nd.catLen = int32(words)
			bits := make([]uint64, words)
			for _, c := range t.LeftCategories[i] {
				bits[c/64] |= 1 << (c % 64)
			}
			m.catBits = append(m.catBits, bits...)
		}
		m.nodes = append(m.nodes, nd)
	}
	m.leafVals = append(m.leafVals, t.LeafValue...)
	if len(t.Feature) == 0 {
		m.roots = append(m.roots, ^leafBase)
	} else {
		m.roots = append(m.roots, nodeBase)
	}
}

// flatten rebuilds the prediction arrays and the feature importance from
// m.trees.
func (m *Model) flatten() {
	m.nodes, m.leafVals, m.roots, m.catBits = nil, nil, nil, nil
	m.importance = make([]float64, m.numFeatures)
	for t := range m.trees {
		m.appendFlat(&m.trees[t])
		for i, f := range m.trees[t].Feature {
			m.importance[f] += m.trees[t].Gain[i]
		}
	}
}

// treeValue returns the value tree t (index into m.roots) gives row.
func (m *Model) treeValue(t int, row []float64) float64 {
	n := m.roots[t]
	for n >= 0 {
		nd := &m.nodes[n]
		v := row[nd.feature]
		if nd.goesLeft(v, m.catBits) {
			n = nd.left
		} else {
			n = nd.right
		}
	}
	return m.leafVals[^n]
}

// goesLeft reports whether value v follows the node's left branch.
func (nd *flatNode) goesLeft(v float64, catBits []uint64) bool {
	if nd.flags&flagCategorical == 0 {
		if v <= nd.threshold {
			return true
		}
		return v != v && nd.flags&flagDefaultLeft != 0
	}
	c, ok := categoryOf(v)
	if !ok || c/64 >= int(nd.catLen) {
		return false
	}
	return catBits[int(nd.catOff)+c/64]&(1<<(c%64)) != 0
}

// rawRow returns the raw score of one row.
func (m *Model) rawRow(row []float64) float64 {
	s := m.initScore
	for t := range m.roots {
		s += m.treeValue(t, row)
	}
	return s
}

// predictParallelWork is the number of row × tree visits above which
// prediction spreads rows over goroutines.
const predictParallelWork = 1 << 16

// PredictRaw returns the raw score of every row of x: the value for L2,
// the log-odds for Logistic. Missing values (NaN) follow each split's
// learned default direction. It panics if x does not have the number of
// columns the model was trained on.
func (m *Model) PredictRaw(x causal.Matrix) []float64 {
	if x.Cols != m.numFeatures {
		panic(fmt.Sprintf("gbdt: PredictRaw got %d columns, model has %d features", x.Cols, m.numFeatures))
	}
	out := make([]float64, x.Rows)
	workers := 1
	if x.Rows*max(len(m.roots), 1) >= predictParallelWork {
		workers = runtime.GOMAXPROCS(0)
	}
	parallelFor(x.Rows, workers, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = m.rawRow(x.Row(i))
		}
	})
	return out
}

// Predict returns one prediction per row of x: the value for L2, and for
// Logistic the probability σ(F) = 1/(1 + e^−F) clipped to [1e-7, 1 − 1e-7].
// It panics if x does not have the number of columns the model was trained
// on.
func (m *Model) Predict(x causal.Matrix) []float64 {
	out := m.PredictRaw(x)
	if m.objective == Logistic {
		for i, f := range out {
			out[i] = clipProb(sigmoid(f))
		}
	}
	return out
}

// probEps bounds predicted probabilities away from 0 and 1.
const probEps = 1e-7

func clipProb(p float64) float64 { return min(max(p, probEps), 1-probEps) }

func sigmoid(f float64) float64 { return 1 / (1 + math.Exp(-f)) }

// BestIteration returns the number of trees the model keeps: with early
// stopping the 1-based index of the tree after which the validation loss
// was lowest, otherwise every tree trained (fewer than NumIterations when
// a round could not split; see Train).
func (m *Model) BestIteration() int { return m.bestIter }

// NumFeatures returns the number of features the model was trained on.
func (m *Model) NumFeatures() int { return m.numFeatures }

// FeatureImportance returns, for every feature, the total gain of the
// splits on it over the kept trees (gain as in the split criterion:
// score(G_L, H_L) + score(G_R, H_R) − score(G, H)). The slice is a copy.
func (m *Model) FeatureImportance() []float64 {
	return append([]float64(nil), m.importance...)
}

// jsonFloat is a float64 whose JSON form is a number, or the string
// "+Inf", "-Inf" or "NaN" for values JSON numbers cannot hold.
type jsonFloat float64

// MarshalJSON writes f as the shortest number that parses back to f.
func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"+Inf"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	case `"NaN"`:
		*f = jsonFloat(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("cannot parse threshold %s: %w", b, err)
	}
	*f = jsonFloat(v)
	return nil
}

// modelJSON is the serialised form of a Model.
type modelJSON struct {
	Format        string  `json:"format"`
	Objective     string  `json:"objective"`
	NumFeatures   int     `json:"num_features"`
	InitScore     float64 `json:"init_score"`
	BestIteration int     `json:"best_iteration"`
	Trees         []tree  `json:"trees"`
}

const modelFormat = "preflight-gbdt/1"

// MarshalJSON encodes the model. Every number is written so that it
// parses back to the same float64, so a round trip through UnmarshalJSON
// gives bit-identical predictions.
func (m *Model) MarshalJSON() ([]byte, error) {
	return json.Marshal(modelJSON{
		Format:        modelFormat,
		Objective:     m.objective.String(),
		NumFeatures:   m.numFeatures,
		InitScore:     m.initScore,
		BestIteration: m.bestIter,
		Trees:         m.trees,
	})
}

// UnmarshalJSON decodes a model written by MarshalJSON, checking that its
// trees are well formed, and replaces m's contents.
func (m *Model) UnmarshalJSON(b []byte) error {
	var mj modelJSON
	if err := json.Unmarshal(b, &mj); err != nil {
		return fmt.Errorf("cannot decode gbdt model: %w", err)
	}
	if mj.Format != modelFormat {
		return fmt.Errorf("cannot decode gbdt model: format %q, want %q", mj.Format, modelFormat)
	}
	var obj Objective
	switch mj.Objective {
	case L2.String():
		obj = L2
	case Logistic.String():
		obj = Logistic
	default:
		return fmt.Errorf("cannot decode gbdt model: unknown objective %q", mj.Objective)
	}
	if mj.NumFeatures < 0 {
		return fmt.Errorf("cannot decode gbdt model: num_features %d", mj.NumFeatures)
	}
	for t := range mj.Trees {
		if err := mj.Trees[t].check(mj.NumFeatures); err != nil {
			return fmt.Errorf("cannot decode gbdt model: tree %d: %w", t, err)
		}
	}
	*m = Model{
		objective:   obj,
		numFeatures: mj.NumFeatures,
		initScore:   mj.InitScore,
		bestIter:    mj.BestIteration,
		trees:       mj.Trees,
	}
	m.flatten()
	return nil
}

// check reports whether t is a well-formed tree over p features: parallel
// arrays of equal length, features in range, child references in range
// and every node and leaf reached exactly once from the root.
func (t *tree) check(p int) error {
	n := len(t.Feature)
	if len(t.Threshold) != n || len(t.DefaultLeft) != n || len(t.Categorical) != n ||
		len(t.LeftCategories) != n || len(t.Gain) != n || len(t.Left) != n || len(t.Right) != n {
		return fmt.Errorf("node arrays differ in length")
	}
	if len(t.LeafValue) != n+1 {
		return fmt.Errorf("%d leaves for %d nodes, want %d", len(t.LeafValue), n, n+1)
	}
	seenNode := make([]bool, n)
	seenLeaf := make([]bool, n+1)
	visit := func(c int) error {
		if c >= 0 {
			if c >= n || seenNode[c] {
				return fmt.Errorf("bad node reference %d", c)
			}
			seenNode[c] = true
			return nil
		}
		if ^c >= n+1 || seenLeaf[^c] {
			return fmt.Errorf("bad leaf reference %d", c)
		}
		seenLeaf[^c] = true
		return nil
	}
	if n == 0 {
		return nil
	}
	seenNode[0] = true
	for i := range n {
		if t.Feature[i] < 0 || t.Feature[i] >= p {
			return fmt.Errorf("node %d: feature %d out of range", i, t.Feature[i])
		}
		for _, c := range t.LeftCategories[i] {
			if c < 0 || c >= maxCategory {
				return fmt.Errorf("node %d: category %d out of range", i, c)
			}
		}
		if t.Left[i] >= 0 && t.Left[i] <= i || t.Right[i] >= 0 && t.Right[i] <= i {
			return fmt.Errorf("node %d: child reference points backwards", i)
		}
		if err := visit(t.Left[i]); err != nil {
			return err
		}
		if err := visit(t.Right[i]); err != nil {
			return err
		}
	}
	if slices.Contains(seenNode, false) || slices.Contains(seenLeaf, false) {
		return fmt.Errorf("a node or leaf is unreachable")
	}
	return nil
}
