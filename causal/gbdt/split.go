package gbdt

import (
	"math"
	"slices"
)

// Categorical split constants, LightGBM's defaults (cat_smooth, cat_l2,
// max_cat_threshold, max_cat_to_onehot).
const (
	catSmooth       = 10.0
	catL2           = 10.0
	maxCatThreshold = 32
	maxCatToOneHot  = 4
)

// thresholdL1 is the soft threshold T(G) = sign(G)·max(|G| − λ1, 0).
func thresholdL1(g, l1 float64) float64 {
	if l1 == 0 {
		return g
	}
	switch {
	case g > l1:
		return g - l1
	case g < -l1:
		return g + l1
	}
	return 0
}

// leafScore is the loss reduction a leaf achieves with its optimal value,
// on LightGBM's scale (no ½): score(G, H) = T(G)² / (H + λ2), where G and H
// are the sums of gradients and hessians of its rows (Chen & Guestrin 2016,
// eq. 6; Ke et al. 2017). A leaf with H + λ2 ≤ 0 scores 0.
func leafScore(g, h, l1, l2 float64) float64 {
	d := h + l2
	if !(d > 0) {
		return 0
	}
	t := thresholdL1(g, l1)
	return t * t / d
}

// leafOutput is the Newton step that minimises the second-order expansion
// of the loss over a leaf: v = −T(G) / (H + λ2) (before shrinkage). A leaf
// with H + λ2 ≤ 0 outputs 0.
func leafOutput(g, h, l1, l2 float64) float64 {
	d := h + l2
	if !(d > 0) {
		return 0
	}
	return -thresholdL1(g, l1) / d
}

// splitGain is the gain of splitting a leaf (G, H) into (GL, HL) and
// (G − GL, H − HL): score(GL, HL) + score(GR, HR) − score(G, H).
func splitGain(gl, hl, g, h, l1, l2 float64) float64 {
	return leafScore(gl, hl, l1, l2) + leafScore(g-gl, h-hl, l1, l2) - leafScore(g, h, l1, l2)
}

// split is a candidate split of a leaf.
type split struct {
	gain    float64
	feature int
	// Numeric: bins ≤ thrBin go left; the missing bin goes left when
	// defaultLeft.
	thrBin      int
	defaultLeft bool
	// Categorical: the value bins that go left (everything else, missing
	// included, goes right). Nil for numeric splits.
	catBins []int
	// Sums over the left child.
	gl, hl float64
	nl     int64
}

// noSplit is the candidate that is never taken.
var noSplit = split{gain: math.Inf(-1), feature: -1}

// leafTotals are the sums over a leaf that split finding needs.
type leafTotals struct {
	g, h float64
	n    int64
}

// splitParams are the Config fields that split finding reads.
type splitParams struct {
	l1, l2, minHess, minGain float64
	minData                  int64
}

// bestNumeric finds the best threshold split of numeric feature j from its
// histogram hist (value bins 0..nb-1, missing bin nb). It scans bins left
// to right with missing values sent right, then, if the leaf has missing
// values, again with them sent left, and keeps the better. A split is
// admissible when both children have at least minData rows and minHess
// hessian and its gain exceeds minGain.
func bestNumeric(j int, hist []histBin, tot leafTotals, sp splitParams) split {
	nb := len(hist) - 1
	miss := hist[nb]
	best := noSplit
	parent := leafScore(tot.g, tot.h, sp.l1, sp.l2)
	scan := func(gl, hl float64, nl int64, last int, defaultLeft bool) {
		for k := 0; k <= last; k++ {
			gl += hist[k].g
			hl += hist[k].h
			nl += hist[k].n
			if nl < sp.minData || hl < sp.minHess {
				continue
			}
			if tot.n-nl < sp.minData || tot.h-hl < sp.minHess {
				break
			}
			gain := leafScore(gl, hl, sp.l1, sp.l2) + leafScore(tot.g-gl, tot.h-hl, sp.l1, sp.l2) - parent
			if gain > best.gain {
				best = split{gain: gain, feature: j, thrBin: k, defaultLeft: defaultLeft, gl: gl, hl: hl, nl: nl}
			}
		}
	}
	if miss.n == 0 {
		scan(0, 0, 0, nb-2, false)
	} else {
		// Missing right; the last threshold nb-1 splits missing from
		// non-missing.
		scan(0, 0, 0, nb-1, false)
		scan(miss.g, miss.h, miss.n, nb-2, true)
	}
	if !(best.gain > sp.minGain) {
		return noSplit
	}
	return best
}

// bestCategorical finds the best split of categorical feature j into a set
// of categories sent left and the rest (missing included) sent right,
// LightGBM-style (Ke et al. 2017; Fisher 1958 for the sorting argument).
// With at most maxCatToOneHot non-empty categories it tries each category
// against the rest. Otherwise it sorts the non-empty categories by
// G/(H + catSmooth) and scans prefixes from both ends, up to
// maxCatThreshold categories on the left, with the L2 penalty raised by
// catL2. order is scratch space of at least nb entries.
func bestCategorical(j int, hist []histBin, tot leafTotals, sp splitParams, order []int) split {
	nb := len(hist) - 1
	order = order[:0]
	for k := 0; k < nb; k++ {
		if hist[k].n > 0 {
			order = append(order, k)
		}
	}
	best := noSplit
	bestDir, bestCount := 0, 0
	admissible := func(gl, hl float64, nl int64) bool {
		return nl >= sp.minData && hl >= sp.minHess && tot.n-nl >= sp.minData && tot.h-hl >= sp.minHess
	}
	if len(order) <= maxCatToOneHot {
		parent := leafScore(tot.g, tot.h, sp.l1, sp.l2)
		for i, k := range order {
			b := hist[k]
			if !admissible(b.g, b.h, b.n) {
				continue
			}
			gain := leafScore(b.g, b.h, sp.l1, sp.l2) + leafScore(tot.g-b.g, tot.h-b.h, sp.l1, sp.l2) - parent
			if gain > best.gain {
				best = split{gain: gain, feature: j, gl: b.g, hl: b.h, nl: b.n}
				bestDir, bestCount = i, 1
			}
		}
		if !(best.gain > sp.minGain) {
			return noSplit
		}
		best.catBins = []int{order[bestDir]}
		return best
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra := hist[a].g / (hist[a].h + catSmooth)
		rb := hist[b].g / (hist[b].h + catSmooth)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return 0
	})
	l2 := sp.l2 + catL2
	parent := leafScore(tot.g, tot.h, sp.l1, l2)
	maxLeft := min(maxCatThreshold, len(order)-1)
	for dir := 0; dir < 2; dir++ {
		var gl, hl float64
		var nl int64
		for c := 1; c <= maxLeft; c++ {
			k := order[c-1]
			if dir == 1 {
				k = order[len(order)-c]
			}
			gl += hist[k].g
			hl += hist[k].h
			nl += hist[k].n
			if !admissible(gl, hl, nl) {
				continue
			}
			gain := leafScore(gl, hl, sp.l1, l2) + leafScore(tot.g-gl, tot.h-hl, sp.l1, l2) - parent
			if gain > best.gain {
				best = split{gain: gain, feature: j, gl: gl, hl: hl, nl: nl}
				bestDir, bestCount = dir, c
			}
		}
	}
	if !(best.gain > sp.minGain) {
		return noSplit
	}
	cat := make([]int, bestCount)
	for c := range bestCount {
		if bestDir == 0 {
			cat[c] = order[c]
		} else {
			cat[c] = order[len(order)-1-c]
		}
	}
	slices.Sort(cat)
	best.catBins = cat
	return best
}
