package gbdt

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/preflight-hq/preflight/causal"
)

// ---- helpers ----

func closeTo(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func mustTrain(t testing.TB, cfg Config, x causal.Matrix, y, w []float64, v *Validation) *Model {
	t.Helper()
	m, err := Train(cfg, x, y, w, v)
	if err != nil {
		t.Fatalf("Train: %v", err)
	}
	return m
}

func column(vals ...float64) causal.Matrix {
	return causal.Matrix{Rows: len(vals), Cols: 1, Data: vals}
}

func mse(a, b []float64) float64 {
	var s float64
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s / float64(len(a))
}

// regressionData draws y = 2 sin(x0) + x1² − x2·x3 + noise(sd) with p ≥ 4
// standard normal features (the rest are noise features).
func regressionData(n, p int, sd float64, seed uint64) (causal.Matrix, []float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	x := causal.Matrix{Rows: n, Cols: p, Data: make([]float64, n*p)}
	y := make([]float64, n)
	f := make([]float64, n)
	for i := range n {
		r := x.Row(i)
		for j := range r {
			r[j] = rng.NormFloat64()
		}
		f[i] = 2*math.Sin(r[0]) + r[1]*r[1] - r[2]*r[3]
		y[i] = f[i] + sd*rng.NormFloat64()
	}
	return x, y, f
}

// logisticData draws y ~ Bernoulli(σ(f)) with f = 1.5 sin(2 x0) + x1·x2 −
// |x3| + 0.5 and returns the true log-odds f too. Feature 4 is missing in
// 10% of rows.
func logisticData(n, p int, seed uint64) (causal.Matrix, []float64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 5))
	x := causal.Matrix{Rows: n, Cols: p, Data: make([]float64, n*p)}
	y := make([]float64, n)
	f := make([]float64, n)
	for i := range n {
		r := x.Row(i)
		for j := range r {
			r[j] = rng.NormFloat64()
		}
		if p > 4 && rng.Float64() < 0.1 {
			r[4] = math.NaN()
		}
		f[i] = 1.5*math.Sin(2*r[0]) + r[1]*r[2] - math.Abs(r[3]) + 0.5
		if rng.Float64() < sigmoid(f[i]) {
			y[i] = 1
		}
	}
	return x, y, f
}

// ---- split math ----

func TestLeafMath(t *testing.T) {
	tests := []struct {
		name           string
		g, h, l1, l2   float64
		score, outcome float64
	}{
		{"plain", 4, 2, 0, 0, 8, -2},
		{"l2", 4, 2, 0, 2, 4, -1},
		{"l1 shrinks", 4, 2, 1, 0, 4.5, -1.5},
		{"l1 negative g", -4, 2, 1, 0, 4.5, 1.5},
		{"l1 kills", 0.5, 2, 1, 0, 0, 0},
		{"zero hessian", 3, 0, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if s := leafScore(tc.g, tc.h, tc.l1, tc.l2); !closeTo(s, tc.score, 1e-12) {
				t.Errorf("leafScore = %v, want %v", s, tc.score)
			}
			if v := leafOutput(tc.g, tc.h, tc.l1, tc.l2); !closeTo(v, tc.outcome, 1e-12) {
				t.Errorf("leafOutput = %v, want %v", v, tc.outcome)
			}
		})
	}
	// G_L=1, H_L=2, G_R=-1, H_R=2: ½ + ½ − 0/4 = 1.
	if g := splitGain(1, 2, 0, 4, 0, 0); !closeTo(g, 1, 1e-12) {
		t.Errorf("splitGain = %v, want 1", g)
	}
	// With λ2 = 1: 1/3 + 1/3 − 0 = 2/3.
	if g := splitGain(1, 2, 0, 4, 0, 1); !closeTo(g, 2.0/3, 1e-12) {
		t.Errorf("splitGain λ2=1 = %v, want 2/3", g)
	}
}

// tinyConfig grows one two-leaf tree with no shrinkage or leaf-size limits.
func tinyConfig(obj Objective) Config {
	cfg := DefaultConfig(obj)
	cfg.NumIterations = 1
	cfg.LearningRate = 1
	cfg.NumLeaves = 2
	cfg.MinDataInLeaf = 1
	cfg.MinSumHessianInLeaf = 0
	cfg.Workers = 1
	return cfg
}

func TestHandComputedL2Tree(t *testing.T) {
	// init = ȳ = 0.5; g = F − y = (½, ½, −½, −½), h = 1. The best cut is
	// between 2 and 3 (threshold 2.5): G_L = 1, H_L = 2, G_R = −1, H_R = 2,
	// gain = ½ + ½ − 0 = 1, leaf values −½ and +½.
	x := column(1, 2, 3, 4)
	y := []float64{0, 0, 1, 1}
	m := mustTrain(t, tinyConfig(L2), x, y, nil, nil)
	if got := m.Predict(x); !slices.Equal(got, []float64{0, 0, 1, 1}) {
		t.Errorf("Predict = %v, want [0 0 1 1]", got)
	}
	if imp := m.FeatureImportance(); !closeTo(imp[0], 1, 1e-12) {
		t.Errorf("importance = %v, want [1]", imp)
	}
	if th := float64(m.trees[0].Threshold[0]); th != 2.5 {
		t.Errorf("threshold = %v, want 2.5", th)
	}
}

func TestHandComputedLogisticTree(t *testing.T) {
	// init = logit(½) = 0; p = ½, g = p − y = (½, ½, −½, −½), h = ¼.
	// Left: G = 1, H = ½ → value −2; right +2; gain = 2 + 2 − 0 = 4.
	x := column(1, 2, 3, 4)
	y := []float64{0, 0, 1, 1}
	m := mustTrain(t, tinyConfig(Logistic), x, y, nil, nil)
	raw := m.PredictRaw(x)
	for i, want := range []float64{-2, -2, 2, 2} {
		if !closeTo(raw[i], want, 1e-12) {
			t.Errorf("raw[%d] = %v, want %v", i, raw[i], want)
		}
	}
	if imp := m.FeatureImportance(); !closeTo(imp[0], 4, 1e-12) {
		t.Errorf("importance = %v, want [4]", imp)
	}
	p := m.Predict(x)
	if !closeTo(p[0], sigmoid(-2), 1e-15) {
		t.Errorf("Predict[0] = %v, want σ(−2)", p[0])
	}
}

func TestLambdaAndMinDataLimitTree(t *testing.T) {
	// With λ2 = 2 the leaf values are −G/(H+2) = ∓1/4 instead of ∓1/2.
	x := column(1, 2, 3, 4)
	y := []float64{0, 0, 1, 1}
	cfg := tinyConfig(L2)
	cfg.LambdaL2 = 2
	m := mustTrain(t, cfg, x, y, nil, nil)
	if got := m.Predict(x); !slices.Equal(got, []float64{0.25, 0.25, 0.75, 0.75}) {
		t.Errorf("Predict = %v, want [.25 .25 .75 .75]", got)
	}
	// MinDataInLeaf 3 forbids every split of 4 rows: the model is the mean.
	cfg = tinyConfig(L2)
	cfg.MinDataInLeaf = 3
	m = mustTrain(t, cfg, x, y, nil, nil)
	if got := m.Predict(x); !slices.Equal(got, []float64{0.5, 0.5, 0.5, 0.5}) || m.BestIteration() != 0 {
		t.Errorf("Predict = %v, best %d; want the mean and no trees", got, m.BestIteration())
	}
}

// ---- histograms ----

func TestHistogramSubtraction(t *testing.T) {
	// Three features with 5, 17 and 2 value bins (+1 missing bin each).
	rng := rand.New(rand.NewPCG(9, 9))
	const n, p = 5000, 3
	nbs := []int{5, 17, 2}
	off := []int32{0, 6, 24}
	total := 27
	rowBins := make([]uint8, n*p)
	gh := make([]gradPair, n)
	for i := range n {
		for j, nb := range nbs {
			rowBins[i*p+j] = uint8(rng.IntN(nb + 1))
		}
		gh[i] = gradPair{g: rng.NormFloat64(), h: rng.Float64()}
	}
	for _, constHess := range []bool{false, true} {
		parent := make([]histBin, total)
		buildRowRange(parent, rowBins, p, off, 0, n, gh, constHess)

		// Split rows at random into a child and its sibling.
		var child, sibling []int32
		for i := range int32(n) {
			if rng.IntN(3) == 0 {
				child = append(child, i)
			} else {
				sibling = append(sibling, i)
			}
		}
		direct := func(rows []int32) []histBin {
			out := make([]histBin, total)
			buildRowIdx(out, rowBins, p, off, rows, gh, constHess)
			return out
		}
		hc, hs := direct(child), direct(sibling)
		var count int64
		for _, e := range parent {
			count += e.n
		}
		if count != n*p {
			t.Fatalf("parent counts sum to %d, want %d", count, n*p)
		}
		subtractHist(parent, hc)
		for b := range parent {
			if parent[b].n != hs[b].n || !closeTo(parent[b].g, hs[b].g, 1e-9) || !closeTo(parent[b].h, hs[b].h, 1e-9) {
				t.Fatalf("constHess %v, bin %d: parent − child = %+v, direct sibling = %+v", constHess, b, parent[b], hs[b])
			}
			if constHess && parent[b].h != 0 {
				t.Fatalf("constant-hessian build set h")
			}
		}
	}
}

// ---- binning ----

func TestNumericBounds(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name   string
		vals   []float64
		maxBin int
		want   []float64
	}{
		{"empty", nil, 255, []float64{inf}},
		{"constant", []float64{3, 3, 3}, 255, []float64{inf}},
		{"few distinct", []float64{1, 1, 2, 3, 3}, 255, []float64{1.5, 2.5, inf}},
		{"exactly maxBin", []float64{1, 2, 3}, 3, []float64{1.5, 2.5, inf}},
		{"equal counts", []float64{1, 2, 3, 4, 5, 6}, 3, []float64{2.5, 4.5, inf}},
		{"frequent value owns a bin", []float64{1, 2, 5, 5, 5, 5, 5, 5, 7, 8}, 3, []float64{3.5, 6, inf}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := numericBounds(tc.vals, tc.maxBin)
			if !slices.Equal(got, tc.want) {
				t.Errorf("numericBounds(%v, %d) = %v, want %v", tc.vals, tc.maxBin, got, tc.want)
			}
		})
	}
	// Many distinct values: at most maxBin bins of roughly equal counts.
	rng := rand.New(rand.NewPCG(1, 1))
	vals := make([]float64, 10000)
	for i := range vals {
		vals[i] = rng.NormFloat64()
	}
	slices.Sort(vals)
	b := numericBounds(vals, 16)
	if len(b) != 16 {
		t.Fatalf("%d bins, want 16", len(b))
	}
	m := binMapper{bounds: b}
	counts := make([]int, 16)
	for _, v := range vals {
		counts[m.bin(v)]++
	}
	for k, c := range counts {
		if c < 500 || c > 750 {
			t.Errorf("bin %d holds %d of 10000 values, want about 625", k, c)
		}
	}
	// Neighbouring floats: the bound must still separate them.
	a := 1.0
	next := math.Nextafter(a, 2)
	b = numericBounds([]float64{a, next}, 255)
	m = binMapper{bounds: b}
	if m.bin(a) == m.bin(next) {
		t.Errorf("adjacent floats share a bin: bounds %v", b)
	}
}

func TestLowerBoundMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for n := 0; n < 40; n++ {
		b := make([]float64, n)
		for i := range b {
			b[i] = float64(rng.IntN(20))
		}
		slices.Sort(b)
		for v := -1.0; v <= 21; v += 0.5 {
			if got, want := lowerBound(b, v), sort.SearchFloat64s(b, v); got != want {
				t.Fatalf("lowerBound(%v, %v) = %d, want %d", b, v, got, want)
			}
		}
	}
}

func TestDatasetEdgeCases(t *testing.T) {
	nan := math.NaN()
	// Columns: constant; constant with NaN; two values; all NaN; categorical.
	rows := [][]float64{
		{7, 1, 0, nan, 3},
		{7, nan, 1, nan, 5},
		{7, 1, 0, nan, 3},
		{7, 1, 1, nan, -1},
		{7, nan, 0, nan, 2.5},
		{7, 1, 1, nan, 3},
	}
	x := causal.Matrix{Rows: len(rows), Cols: 5}
	for _, r := range rows {
		x.Data = append(x.Data, r...)
	}
	d := newDataset(x, []bool{false, false, false, false, true}, 255, 2, rand.New(rand.NewPCG(1, 1)))
	wantUsable := []bool{false, true, true, false, true}
	wantMissing := []bool{false, true, false, true, true}
	wantBins := []int{1, 1, 2, 1, 2}
	for j := range 5 {
		if d.usable[j] != wantUsable[j] || d.hasMissing[j] != wantMissing[j] || d.mappers[j].numBins() != wantBins[j] {
			t.Errorf("feature %d: usable %v missing %v bins %d; want %v %v %d", j,
				d.usable[j], d.hasMissing[j], d.mappers[j].numBins(), wantUsable[j], wantMissing[j], wantBins[j])
		}
	}
	// Categorical: 3 is the most frequent category (bin 0), 5 next;
	// −1 and 2.5 are missing (bin 2).
	if got := d.col(4); !slices.Equal(got, []uint8{0, 1, 0, 2, 2, 0}) {
		t.Errorf("categorical bins = %v", got)
	}
	if got := d.col(1); !slices.Equal(got, []uint8{0, 1, 0, 0, 1, 0}) {
		t.Errorf("NaN bins = %v, want the missing bin 1 for NaN", got)
	}
	// A constant feature alone cannot be split: training gives the mean.
	y := []float64{1, 2, 3, 4, 5, 6}
	cfg := DefaultConfig(L2)
	cfg.MinDataInLeaf = 1
	m := mustTrain(t, cfg, causal.Matrix{Rows: 6, Cols: 1, Data: []float64{7, 7, 7, 7, 7, 7}}, y, nil, nil)
	if p := m.Predict(causal.Matrix{Rows: 1, Cols: 1, Data: []float64{7}}); p[0] != 3.5 {
		t.Errorf("constant feature predicts %v, want 3.5", p[0])
	}
}

func TestBundlesDecodeAndMarginals(t *testing.T) {
	// Features: binary, 3 levels, 10 levels with NaN, continuous,
	// constant (unusable), binary categorical, continuous with NaN.
	rng := rand.New(rand.NewPCG(31, 31))
	n, p := 3000, 7
	x := causal.Matrix{Rows: n, Cols: p, Data: make([]float64, n*p)}
	for i := range n {
		r := x.Row(i)
		r[0] = float64(rng.IntN(2))
		r[1] = float64(rng.IntN(3))
		r[2] = float64(rng.IntN(10))
		if rng.IntN(10) == 0 {
			r[2] = math.NaN()
		}
		r[3] = rng.NormFloat64()
		r[4] = 1
		r[5] = float64(rng.IntN(2))
		r[6] = rng.Float64()
		if rng.IntN(20) == 0 {
			r[6] = math.NaN()
		}
	}
	d := newDataset(x, []bool{false, false, false, false, false, true, false}, 255, 2, rand.New(rand.NewPCG(1, 1)))
	seen := make([]int, p)
	for _, bd := range d.bundles {
		if bd.size > maxBundleCodes {
			t.Fatalf("bundle %v has %d codes", bd.features, bd.size)
		}
		for _, j := range bd.features {
			seen[j]++
		}
	}
	for j := range p {
		want := 1
		if !d.usable[j] {
			want = 0
		}
		if seen[j] != want {
			t.Errorf("feature %d is in %d bundles, want %d", j, seen[j], want)
		}
	}
	if len(d.bundles) >= 6 {
		t.Errorf("%d bundles for 6 usable features: small features were not bundled", len(d.bundles))
	}
	nb := len(d.bundles)
	for i := range n {
		for bi, bd := range d.bundles {
			code := d.rowCodes[i*nb+bi]
			for k, j := range bd.features {
				if got, want := bd.codeBin[k][code], d.col(j)[i]; got != want {
					t.Fatalf("row %d feature %d: code %d decodes to bin %d, want %d", i, j, code, got, want)
				}
			}
		}
	}
	// Marginals of the joint histogram equal per-feature histograms.
	gh := make([]gradPair, n)
	for i := range gh {
		gh[i] = gradPair{g: rng.NormFloat64(), h: rng.Float64()}
	}
	joint := make([]histBin, d.totalJoint)
	buildRowRange(joint, d.rowCodes, nb, d.jointOff, 0, n, gh, false)
	marg := make([]histBin, d.totalBins)
	d.marginals(joint, marg)
	for j := range p {
		if !d.usable[j] {
			continue
		}
		direct := make([]histBin, d.mappers[j].numBins()+1)
		for i, b := range d.col(j) {
			direct[b].g += gh[i].g
			direct[b].h += gh[i].h
			direct[b].n++
		}
		got := marg[d.histOff[j]:d.histOff[j+1]]
		for b := range direct {
			if got[b].n != direct[b].n || !closeTo(got[b].g, direct[b].g, 1e-9) || !closeTo(got[b].h, direct[b].h, 1e-9) {
				t.Fatalf("feature %d bin %d: marginal %+v, direct %+v", j, b, got[b], direct[b])
			}
		}
	}
}

func TestMissingValuesLearnDefaultDirection(t *testing.T) {
	// y is high exactly where x is NaN or large; NaN rows must be sent
	// to the high side.
	rng := rand.New(rand.NewPCG(4, 4))
	n := 2000
	x := causal.Matrix{Rows: n, Cols: 1, Data: make([]float64, n)}
	y := make([]float64, n)
	for i := range n {
		v := rng.Float64()
		switch {
		case i%4 == 0:
			x.Data[i] = math.NaN()
			y[i] = 10
		case v > 0.5:
			x.Data[i] = v
			y[i] = 10
		default:
			x.Data[i] = v
		}
	}
	cfg := DefaultConfig(L2)
	cfg.NumIterations = 30
	cfg.LearningRate = 0.3
	m := mustTrain(t, cfg, x, y, nil, nil)
	p := m.Predict(column(math.NaN(), 0.2, 0.9))
	if !(p[0] > 9.5 && p[1] < 0.5 && p[2] > 9.5) {
		t.Errorf("predictions for NaN, 0.2, 0.9 = %v, want ≈ 10, 0, 10", p)
	}
	if !m.trees[0].DefaultLeft[0] && float64(m.trees[0].Threshold[0]) < 0.5 {
		t.Errorf("first split sends NaN to the low side: threshold %v default left %v",
			m.trees[0].Threshold[0], m.trees[0].DefaultLeft[0])
	}
	// A model trained without NaN sends NaN right at prediction time.
	x2 := column(1, 2, 3, 4)
	m2 := mustTrain(t, tinyConfig(L2), x2, []float64{0, 0, 1, 1}, nil, nil)
	if p := m2.Predict(column(math.NaN())); p[0] != 1 {
		t.Errorf("unseen NaN predicts %v, want the right leaf 1", p[0])
	}
}

// ---- planted truth ----

func TestPlantedRegression(t *testing.T) {
	x, y, _ := regressionData(8000, 6, 0.5, 1)
	xt, yt, ft := regressionData(4000, 6, 0.5, 2)
	m := mustTrain(t, DefaultConfig(L2), x, y, nil, nil)
	pred := m.Predict(xt)
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(len(y))
	constMSE := mse(yt, slices.Repeat([]float64{mean}, len(yt)))
	modelMSE := mse(yt, pred)
	t.Logf("test MSE %.3f, constant %.3f, noise variance 0.25", modelMSE, constMSE)
	// Noise variance is 0.25; the constant's MSE is about 4.
	if modelMSE > 0.2*constMSE || modelMSE > 0.6 {
		t.Errorf("test MSE %.3f vs constant %.3f (noise 0.25): want a wide margin", modelMSE, constMSE)
	}
	if e := mse(ft, pred); e > 0.35 {
		t.Errorf("MSE to the true function %.3f, want < 0.35", e)
	}
	imp := m.FeatureImportance()
	for j := 4; j < 6; j++ {
		if imp[j] > 0.05*imp[0] {
			t.Errorf("noise feature %d has importance %.1f vs %.1f for feature 0", j, imp[j], imp[0])
		}
	}
}

func TestPlantedLogistic(t *testing.T) {
	x, y, _ := logisticData(20000, 6, 1)
	xt, yt, ft := logisticData(10000, 6, 2)
	m := mustTrain(t, DefaultConfig(Logistic), x, y, nil, nil)
	p := m.Predict(xt)
	oracle := causal.ROCAUC(yt, ft)
	got := causal.ROCAUC(yt, p)
	t.Logf("test AUC %.4f, oracle (true log-odds) AUC %.4f", got, oracle)
	if got < oracle-0.02 || got > oracle+0.005 {
		t.Errorf("test AUC %.4f, oracle AUC %.4f: want within [−0.02, +0.005]", got, oracle)
	}
	for _, v := range p {
		if !(v >= 1e-7 && v <= 1-1e-7) {
			t.Fatalf("probability %v outside [1e-7, 1−1e-7]", v)
		}
	}
	// Calibration in the large: mean prediction ≈ positive rate.
	var mp, my float64
	for i := range p {
		mp += p[i]
		my += yt[i]
	}
	if d := math.Abs(mp-my) / float64(len(p)); d > 0.02 {
		t.Errorf("mean prediction off the positive rate by %.3f", d)
	}
}

func TestPlantedCategorical(t *testing.T) {
	// 20 categories with effects that are not monotone in the code, so a
	// numeric split on the code cannot find them quickly.
	rng := rand.New(rand.NewPCG(8, 8))
	const k = 20
	effect := make([]float64, k)
	for c := range effect {
		effect[c] = 3 * rng.NormFloat64()
	}
	draw := func(n int) (causal.Matrix, []float64) {
		x := causal.Matrix{Rows: n, Cols: 2, Data: make([]float64, 2*n)}
		y := make([]float64, n)
		for i := range n {
			c := rng.IntN(k)
			x.Data[2*i] = float64(c * 7) // sparse codes 0, 7, 14, …
			x.Data[2*i+1] = rng.NormFloat64()
			y[i] = effect[c] + 0.5*x.Data[2*i+1] + 0.3*rng.NormFloat64()
		}
		return x, y
	}
	x, y := draw(6000)
	xt, yt := draw(3000)
	cfg := DefaultConfig(L2)
	cfg.NumIterations = 50
	cfg.NumLeaves = 4
	cfg.Categorical = []int{0}
	m := mustTrain(t, cfg, x, y, nil, nil)
	catMSE := mse(yt, m.Predict(xt))
	cfg.Categorical = nil
	num := mustTrain(t, cfg, x, y, nil, nil)
	numMSE := mse(yt, num.Predict(xt))
	t.Logf("test MSE categorical %.3f, numeric codes %.3f, noise 0.09", catMSE, numMSE)
	if catMSE > 0.3 {
		t.Errorf("categorical model test MSE %.3f, want < 0.3 (noise 0.09)", catMSE)
	}
	if catMSE > 0.7*numMSE {
		t.Errorf("categorical MSE %.3f not clearly below numeric-code MSE %.3f", catMSE, numMSE)
	}
	// Per-category predictions recover the planted effects.
	for c := range k {
		p := m.Predict(causal.Matrix{Rows: 1, Cols: 2, Data: []float64{float64(c * 7), 0}})
		if math.Abs(p[0]-effect[c]) > 0.5 {
			t.Errorf("category %d: prediction %.2f, effect %.2f", c, p[0], effect[c])
		}
	}
	// Unseen categories, NaN and negative values all go right at every
	// node and give the same prediction.
	a := m.Predict(causal.Matrix{Rows: 3, Cols: 2, Data: []float64{999, 0, math.NaN(), 0, -3, 0}})
	if a[0] != a[1] || a[1] != a[2] {
		t.Errorf("unseen/NaN/negative categories predict %v, want equal", a)
	}
}

// ---- training control ----

func TestEarlyStoppingKeepsBestIteration(t *testing.T) {
	x, y, _ := regressionData(600, 6, 2, 3)
	xv, yv, _ := regressionData(600, 6, 2, 4)
	cfg := DefaultConfig(L2)
	cfg.NumIterations = 300
	cfg.LearningRate = 0.3
	cfg.MinDataInLeaf = 5
	cfg.EarlyStoppingRounds = 5
	v := &Validation{X: xv, Y: yv}
	m := mustTrain(t, cfg, x, y, nil, v)
	best := m.BestIteration()
	if best < 1 || best >= 100 {
		t.Fatalf("BestIteration = %d, want early stop well before 300", best)
	}
	if len(m.trees) != best {
		t.Fatalf("model keeps %d trees, BestIteration %d", len(m.trees), best)
	}
	// The kept model equals training exactly best rounds.
	cfg2 := cfg
	cfg2.NumIterations = best
	cfg2.EarlyStoppingRounds = 0
	ref := mustTrain(t, cfg2, x, y, nil, nil)
	if !slices.Equal(m.Predict(xv), ref.Predict(xv)) {
		t.Fatalf("early-stopped model differs from a %d-round model", best)
	}
	// best is the argmin of the validation loss over rounds 1..best+5.
	cfg3 := cfg2
	cfg3.NumIterations = best + cfg.EarlyStoppingRounds
	long := mustTrain(t, cfg3, x, y, nil, nil)
	lossAt := func(k int) float64 {
		mm := *long
		mm.trees = long.trees[:k]
		mm.flatten()
		return math.Sqrt(mse(yv, mm.Predict(xv)))
	}
	bestLoss := lossAt(best)
	for k := 1; k <= best+cfg.EarlyStoppingRounds; k++ {
		if l := lossAt(k); l < bestLoss {
			t.Errorf("round %d has validation RMSE %.5f < best round %d's %.5f", k, l, best, bestLoss)
		}
	}
}

// lowerParallelThresholds makes small data take the parallel code paths
// until the test ends.
func lowerParallelThresholds(t *testing.T) {
	t.Helper()
	bw, pp, pb := minBlockWork, minParallelPartition, minParallelBins
	minBlockWork, minParallelPartition, minParallelBins = 1<<10, 1<<8, 1
	t.Cleanup(func() { minBlockWork, minParallelPartition, minParallelBins = bw, pp, pb })
}

func TestDeterminism(t *testing.T) {
	lowerParallelThresholds(t)
	x, y, _ := logisticData(3000, 6, 5)
	cfg := DefaultConfig(Logistic)
	cfg.NumIterations = 20
	cfg.BaggingFraction = 0.7
	cfg.BaggingFreq = 1
	cfg.FeatureFraction = 0.7
	cfg.Seed = 42
	cfg.Workers = 2
	a := mustTrain(t, cfg, x, y, nil, nil).PredictRaw(x)
	b := mustTrain(t, cfg, x, y, nil, nil).PredictRaw(x)
	if !slices.Equal(a, b) {
		t.Fatal("same seed gave different predictions")
	}
	for _, workers := range []int{1, 3} {
		cfg.Workers = workers
		if c := mustTrain(t, cfg, x, y, nil, nil).PredictRaw(x); !slices.Equal(a, c) {
			t.Fatalf("Workers %d and 2 gave different predictions", workers)
		}
	}
	cfg.Seed = 43
	if d := mustTrain(t, cfg, x, y, nil, nil).PredictRaw(x); slices.Equal(a, d) {
		t.Fatal("different seeds with bagging gave identical predictions")
	}
}

func TestBaggingAndFeatureFractionStillLearn(t *testing.T) {
	x, y, _ := regressionData(4000, 6, 0.5, 6)
	xt, yt, _ := regressionData(2000, 6, 0.5, 7)
	cfg := DefaultConfig(L2)
	cfg.BaggingFraction = 0.5
	cfg.BaggingFreq = 2
	cfg.FeatureFraction = 0.5
	m := mustTrain(t, cfg, x, y, nil, nil)
	if e := mse(yt, m.Predict(xt)); e > 0.8 {
		t.Errorf("test MSE %.3f with bagging and feature fraction, want < 0.8", e)
	}
}

func TestUnsplittableRandomRoundIsSkipped(t *testing.T) {
	// Feature 0 carries a step of 5; feature 1 is noise whose best split
	// cannot beat MinGainToSplit. With FeatureFraction ½ every tree sees
	// one feature; rounds that draw the noise feature add no tree, and
	// training goes on.
	rng := rand.New(rand.NewPCG(21, 21))
	n := 1000
	x := causal.Matrix{Rows: n, Cols: 2, Data: make([]float64, 2*n)}
	y := make([]float64, n)
	for i := range n {
		x.Data[2*i] = rng.NormFloat64()
		x.Data[2*i+1] = rng.NormFloat64()
		if x.Data[2*i] > 0 {
			y[i] = 5
		}
	}
	cfg := DefaultConfig(L2)
	cfg.NumIterations = 40
	cfg.FeatureFraction = 0.5
	cfg.MinGainToSplit = 1000
	cfg.Seed = 3
	m := mustTrain(t, cfg, x, y, nil, nil)
	if k := m.BestIteration(); k < 5 || k >= 40 {
		t.Fatalf("kept %d trees, want some but fewer than 40", k)
	}
	for _, tr := range m.trees {
		if slices.Contains(tr.Feature, 1) {
			t.Fatal("a tree splits on the noise feature")
		}
	}
}

func TestTrainingScoresMatchPredictRaw(t *testing.T) {
	// Training updates scores in bin space (leaf segments, and bin-space
	// traversal for out-of-bag rows); PredictRaw walks the trees in value
	// space. Both must agree exactly on the training rows, with missing
	// values, categorical splits, bagging and feature subsampling.
	x, y, _ := logisticData(3000, 6, 17)
	for i := range x.Rows {
		x.Data[i*6+5] = float64((i * 7) % 11)
		if i%11 == 3 {
			y[i] = 1
		}
	}
	cfg := DefaultConfig(Logistic)
	cfg.NumIterations = 30
	cfg.Categorical = []int{5}
	cfg.BaggingFraction = 0.6
	cfg.BaggingFreq = 1
	cfg.FeatureFraction = 0.8
	cfg.MinDataInLeaf = 5
	m, score, err := train(cfg, x, y, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(score, m.PredictRaw(x)) {
		t.Fatal("training scores differ from PredictRaw on the training rows")
	}
}

func TestIntegerWeightsEqualDuplicatedRows(t *testing.T) {
	// Few distinct feature values, so that duplication does not move the
	// bin boundaries.
	rng := rand.New(rand.NewPCG(11, 11))
	n, p := 400, 3
	x := causal.Matrix{Rows: n, Cols: p, Data: make([]float64, n*p)}
	y := make([]float64, n)
	w := make([]float64, n)
	var dup causal.Matrix
	dup.Cols = p
	var dupY []float64
	for i := range n {
		r := x.Row(i)
		for j := range r {
			r[j] = float64(rng.IntN(30))
		}
		y[i] = 0
		if rng.Float64() < sigmoid((r[0]-15)/5+(r[1]-15)/10) {
			y[i] = 1
		}
		w[i] = float64(1 + rng.IntN(3)) // 1..3 copies
		for range int(w[i]) {
			dup.Data = append(dup.Data, r...)
			dupY = append(dupY, y[i])
		}
	}
	dup.Rows = len(dupY)
	for _, obj := range []Objective{L2, Logistic} {
		t.Run(obj.String(), func(t *testing.T) {
			cfg := DefaultConfig(obj)
			cfg.NumIterations = 20
			cfg.MinDataInLeaf = 1 // row counts differ; the data limit must not bind
			cfg.NumLeaves = 8
			a := mustTrain(t, cfg, x, y, w, nil).PredictRaw(x)
			b := mustTrain(t, cfg, dup, dupY, nil, nil).PredictRaw(x)
			for i := range a {
				if !closeTo(a[i], b[i], 1e-9) {
					t.Fatalf("row %d: weighted %v, duplicated %v", i, a[i], b[i])
				}
			}
		})
	}
}

// ---- serialisation and concurrency ----

func TestJSONRoundTrip(t *testing.T) {
	x, y, _ := logisticData(3000, 6, 9)
	// Feature 5 becomes categorical.
	for i := range x.Rows {
		x.Data[i*6+5] = float64(i % 9)
		if i%9 == 4 {
			y[i] = 1
		}
	}
	cfg := DefaultConfig(Logistic)
	cfg.NumIterations = 30
	cfg.Categorical = []int{5}
	m := mustTrain(t, cfg, x, y, nil, nil)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.PredictRaw(x), back.PredictRaw(x)) {
		t.Fatal("predictions changed after a JSON round trip")
	}
	if back.BestIteration() != m.BestIteration() || !slices.Equal(back.FeatureImportance(), m.FeatureImportance()) {
		t.Fatal("best iteration or importance changed after a JSON round trip")
	}
	b2, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Fatal("JSON changed after a round trip")
	}
	var sawCat bool
	for _, tr := range m.trees {
		sawCat = sawCat || slices.Contains(tr.Categorical, true)
	}
	if !sawCat {
		t.Error("no categorical split in the model: the test does not cover them")
	}
	// A missing-vs-present split has an infinite threshold.
	inf := mustTrain(t, tinyConfig(L2), column(math.NaN(), math.NaN(), 1, 1), []float64{5, 5, 1, 1}, nil, nil)
	b, err = json.Marshal(inf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"+Inf"`) {
		t.Errorf("expected a +Inf threshold in %s", b)
	}
	var back2 Model
	if err := json.Unmarshal(b, &back2); err != nil {
		t.Fatal(err)
	}
	if p := back2.Predict(column(math.NaN(), 1)); !slices.Equal(p, []float64{5, 1}) {
		t.Errorf("Predict = %v, want [5 1]", p)
	}
	// Corrupt input fails cleanly.
	for _, bad := range []string{`{}`, `{"format":"preflight-gbdt/1","objective":"l2","num_features":1,"trees":[{"feature":[3],"threshold":[1],"default_left":[false],"categorical":[false],"left_categories":[null],"gain":[1],"left":[-1],"right":[-2],"leaf_value":[0,1]}]}`} {
		var mm Model
		if err := json.Unmarshal([]byte(bad), &mm); err == nil {
			t.Errorf("Unmarshal(%s) succeeded, want an error", bad)
		}
	}
}

func TestConcurrentPredictAndNoLeakedGoroutines(t *testing.T) {
	lowerParallelThresholds(t)
	before := runtime.NumGoroutine()
	x, y, _ := regressionData(2000, 4, 0.5, 12)
	cfg := DefaultConfig(L2)
	cfg.NumIterations = 20
	cfg.Workers = 4
	m := mustTrain(t, cfg, x, y, nil, nil)
	want := m.Predict(x)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := m.Predict(x); !slices.Equal(got, want) {
				t.Error("concurrent Predict differs")
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after training and predicting, %d before", g, before)
	}
}

// ---- validation ----

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		field  string
		mutate func(*Config)
	}{
		{"Objective", func(c *Config) { c.Objective = 7 }},
		{"NumIterations", func(c *Config) { c.NumIterations = 0 }},
		{"LearningRate", func(c *Config) { c.LearningRate = 0 }},
		{"LearningRate", func(c *Config) { c.LearningRate = math.NaN() }},
		{"NumLeaves", func(c *Config) { c.NumLeaves = 1 }},
		{"MinDataInLeaf", func(c *Config) { c.MinDataInLeaf = 0 }},
		{"MinSumHessianInLeaf", func(c *Config) { c.MinSumHessianInLeaf = -1 }},
		{"LambdaL1", func(c *Config) { c.LambdaL1 = -1 }},
		{"LambdaL2", func(c *Config) { c.LambdaL2 = math.Inf(1) }},
		{"MinGainToSplit", func(c *Config) { c.MinGainToSplit = -0.1 }},
		{"MaxBin", func(c *Config) { c.MaxBin = 256 }},
		{"MaxBin", func(c *Config) { c.MaxBin = 1 }},
		{"FeatureFraction", func(c *Config) { c.FeatureFraction = 0 }},
		{"BaggingFraction", func(c *Config) { c.BaggingFraction = 1.5 }},
		{"BaggingFreq", func(c *Config) { c.BaggingFreq = -1 }},
		{"EarlyStoppingRounds", func(c *Config) { c.EarlyStoppingRounds = -1 }},
		{"Categorical", func(c *Config) { c.Categorical = []int{1, 1} }},
		{"Categorical", func(c *Config) { c.Categorical = []int{-1} }},
		{"Workers", func(c *Config) { c.Workers = -2 }},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			c := DefaultConfig(L2)
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Validate() = %v, want an error naming %s", err, tc.field)
			}
		})
	}
	for _, obj := range []Objective{L2, Logistic} {
		if err := DefaultConfig(obj).Validate(); err != nil {
			t.Errorf("DefaultConfig(%v).Validate() = %v", obj, err)
		}
	}
}

func TestTrainRejectsBadData(t *testing.T) {
	x := column(1, 2, 3)
	cfg := DefaultConfig(L2)
	tests := []struct {
		name string
		cfg  Config
		x    causal.Matrix
		y, w []float64
		v    *Validation
	}{
		{"short y", cfg, x, []float64{1, 2}, nil, nil},
		{"short w", cfg, x, []float64{1, 2, 3}, []float64{1}, nil},
		{"negative w", cfg, x, []float64{1, 2, 3}, []float64{1, -1, 1}, nil},
		{"zero w", cfg, x, []float64{1, 2, 3}, []float64{0, 0, 0}, nil},
		{"NaN y", cfg, x, []float64{1, math.NaN(), 3}, nil, nil},
		{"logistic y", DefaultConfig(Logistic), x, []float64{0, 2, 1}, nil, nil},
		{"bad matrix", cfg, causal.Matrix{Rows: 3, Cols: 2, Data: []float64{1}}, []float64{1, 2, 3}, nil, nil},
		{"categorical index", func() Config { c := cfg; c.Categorical = []int{1}; return c }(), x, []float64{1, 2, 3}, nil, nil},
		{"validation columns", cfg, x, []float64{1, 2, 3}, nil, &Validation{X: causal.Matrix{Rows: 1, Cols: 2, Data: []float64{1, 2}}, Y: []float64{1}}},
		{"validation y", cfg, x, []float64{1, 2, 3}, nil, &Validation{X: column(1), Y: nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Train(tc.cfg, tc.x, tc.y, tc.w, tc.v); err == nil {
				t.Error("Train succeeded, want an error")
			}
		})
	}
}

func TestAdapters(t *testing.T) {
	x, y, _ := logisticData(2000, 5, 13)
	cfg := DefaultConfig(L2) // the classifier adapter switches to Logistic
	cfg.NumIterations = 20
	cfg.BaggingFraction = 0.8
	cfg.BaggingFreq = 1
	var c causal.Classifier = NewClassifier(cfg)(1)
	if err := c.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	p := c.PredictProba(x)
	for _, v := range p {
		if !(v > 0 && v < 1) {
			t.Fatalf("probability %v", v)
		}
	}
	if causal.ROCAUC(y, p) < 0.7 {
		t.Errorf("in-sample AUC %.3f, want > 0.7", causal.ROCAUC(y, p))
	}
	c2 := NewClassifier(cfg)(2)
	if err := c2.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	if slices.Equal(p, c2.PredictProba(x)) {
		t.Error("factory seed does not reach the model")
	}
	var r causal.Regressor = NewRegressor(DefaultConfig(Logistic))(1)
	if err := r.Fit(x, y, nil); err != nil {
		t.Fatal(err)
	}
	if got := r.Predict(x); len(got) != x.Rows {
		t.Fatalf("Predict returned %d values", len(got))
	}
}

// ---- benchmarks ----

func benchTrain(b *testing.B, n int) {
	x, y, _ := logisticData(n, 20, 1)
	cfg := DefaultConfig(Logistic)
	cfg.Workers = 2
	b.ResetTimer()
	for b.Loop() {
		if _, err := Train(cfg, x, y, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTrain64k(b *testing.B) { benchTrain(b, 64_000) }
func BenchmarkTrain1M(b *testing.B)  { benchTrain(b, 1_000_000) }

func BenchmarkPredict(b *testing.B) {
	x, y, _ := logisticData(64_000, 20, 1)
	m, err := Train(DefaultConfig(Logistic), x, y, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		m.Predict(x)
	}
}
