package gbdt

import (
	"math"
)

// trainNode is an internal node of the tree being grown, in bin space.
type trainNode struct {
	split
	// left and right are child references: ≥ 0 a node, < 0 the leaf ^ref.
	left, right int
	// goLeft[b] is 1 when bin b goes left, else 0.
	goLeft [maxBinLimit + 1]uint8
}

// growLeaf is a leaf of the tree being grown. Its rows are
// grower.idx[begin:end].
type growLeaf struct {
	begin, end int
	tot        leafTotals
	depth      int
	// slot is the histogram slot holding this leaf's histograms, or −1.
	slot int
	best split
	// parent is the node whose child this leaf is (−1 for the root);
	// isLeft tells which child.
	parent int
	isLeft bool
}

// workerScratch is one worker's private memory.
type workerScratch struct {
	order []int   // categorical sort order
	sink  float64 // keeps buildRowIdx's touch loads alive
}

// Parallelism thresholds. They are variables only so that tests can lower
// them to exercise the parallel paths on small data; the model never
// depends on them (see histBlocks), only the speed does.
var (
	// minBlockWork is the fewest bin reads per histogram row block; a
	// block also reads at least 8 bins per histogram bin, so that summing
	// the blocks stays cheap.
	minBlockWork = 1 << 15
	// minParallelPartition is the leaf size from which partitioning runs
	// on all workers.
	minParallelPartition = 1 << 14
	// minParallelBins is the histogram size from which split finding
	// runs on all workers.
	minParallelBins = 1 << 13
)

// grower grows one tree at a time leaf-wise (best-first): it always splits
// the leaf whose best split has the largest gain (Ke et al. 2017, §2;
// Shi 2007), until NumLeaves leaves or no admissible split remain.
type grower struct {
	cfg     *Config
	d       *dataset
	sp      splitParams
	workers int

	// gh holds the per-row gradients and hessians of the current round;
	// constHess means every hessian is 1 (L2 without weights), so
	// histograms take h from the counts.
	gh        []gradPair
	constHess bool

	// idx holds the rows of the bag, partitioned so that each leaf owns a
	// contiguous segment; tmp is partition scratch.
	idx, tmp []int32
	partCnt  []int // per-worker left counts of a partition

	// slots is the pool of joint (bundle) histograms, one per open leaf;
	// free lists the unused slot indices.
	slots [][]histBin
	free  []int

	feats   []int // active features of this tree, ascending
	scratch []workerScratch
	parts   [][]histBin // histograms of row blocks 1.. (see buildLeafHist)
	// margA and margB are per-feature histograms (marginals of a leaf's
	// joint bundle histograms) of the two leaves being searched.
	margA, margB []histBin
	resA         []split // per active feature: best split of child A
	resB         []split // per active feature: best split of child B

	leaves []growLeaf
	nodes  []trainNode
}

func newGrower(cfg *Config, d *dataset, workers int) *grower {
	g := &grower{
		cfg: cfg,
		d:   d,
		sp: splitParams{
			l1:      cfg.LambdaL1,
			l2:      cfg.LambdaL2,
			minHess: cfg.MinSumHessianInLeaf,
			minGain: cfg.MinGainToSplit,
			minData: int64(cfg.MinDataInLeaf),
		},
		workers: workers,
		idx:     make([]int32, d.rows),
		tmp:     make([]int32, d.rows),
		gh:      make([]gradPair, d.rows),
		scratch: make([]workerScratch, workers),
		resA:    make([]split, d.cols),
		resB:    make([]split, d.cols),
		margA:   make([]histBin, d.totalBins),
		margB:   make([]histBin, d.totalBins),
	}
	maxNb := 0
	for j := range d.cols {
		maxNb = max(maxNb, d.mappers[j].numBins())
	}
	for w := range g.scratch {
		g.scratch[w].order = make([]int, 0, maxNb)
	}
	return g
}

// allocSlot returns a free histogram slot, allocating one if needed.
func (g *grower) allocSlot() int {
	if n := len(g.free); n > 0 {
		s := g.free[n-1]
		g.free = g.free[:n-1]
		return s
	}
	g.slots = append(g.slots, make([]histBin, g.d.totalJoint))
	return len(g.slots) - 1
}

func (g *grower) releaseSlot(s int) {
	if s >= 0 {
		g.free = append(g.free, s)
	}
}

// canSplit reports whether a leaf could have an admissible split at all.
func (g *grower) canSplit(l *growLeaf) bool {
	return l.tot.n >= 2*g.sp.minData && l.tot.h >= 2*g.sp.minHess &&
		(g.cfg.MaxDepth <= 0 || l.depth < g.cfg.MaxDepth)
}

// featureHist returns feature j's part of a per-feature histogram.
func (g *grower) featureHist(marg []histBin, j int) []histBin {
	return marg[g.d.histOff[j]:g.d.histOff[j+1]]
}

// findBest returns the best split of a leaf whose histograms are in hist.
func (g *grower) findBest(j int, hist []histBin, tot leafTotals, sc *workerScratch) split {
	if !g.d.usable[j] {
		return noSplit
	}
	if g.d.mappers[j].categorical {
		return bestCategorical(j, hist, tot, g.sp, sc.order)
	}
	return bestNumeric(j, hist, tot, g.sp)
}

// reduce returns the best of res over the active features; ties go to the
// lower feature index, so the result does not depend on scheduling.
func (g *grower) reduce(res []split) split {
	best := noSplit
	for _, j := range g.feats {
		if res[j].gain > best.gain {
			best = res[j]
		}
	}
	return best
}

// maxHistBlocks bounds the number of row blocks of a histogram build
// (and so the useful number of workers).
const maxHistBlocks = 8

// histBlocks returns the number of row blocks for a leaf of n rows. It
// depends on the data only, never on the number of workers, so that
// floating-point sums, and hence the model, are the same for any
// Config.Workers.
func (g *grower) histBlocks(n int) int {
	perBlock := max(minBlockWork, 8*g.d.totalJoint)
	return max(1, min(maxHistBlocks, n*len(g.d.bundles)/perBlock, n))
}

// buildLeafHist builds the joint histograms of all feature bundles over
// the leaf rows idx[begin:end] into dst (dense: the leaf holds rows
// begin..end-1 in order). The rows are cut into histBlocks blocks; the workers fill one
// histogram per block (block 0 straight into dst), and the blocks are then
// summed in block order, the bins split among the workers.
func (g *grower) buildLeafHist(dst []histBin, begin, end int, dense bool) {
	n := end - begin
	p := len(g.d.bundles)
	k := g.histBlocks(n)
	for len(g.parts) < k {
		g.parts = append(g.parts, make([]histBin, g.d.totalJoint))
	}
	workers := g.workers
	if k == 1 {
		workers = 1
	}
	parallelFor(k, workers, func(w, blo, bhi int) {
		for b := blo; b < bhi; b++ {
			h := dst
			if b > 0 {
				h = g.parts[b]
			}
			clear(h)
			lo, hi := begin+b*n/k, begin+(b+1)*n/k
			if dense {
				buildRowRange(h, g.d.rowCodes, p, g.d.jointOff, lo, hi, g.gh, g.constHess)
				continue
			}
			g.scratch[w].sink += buildRowIdx(h, g.d.rowCodes, p, g.d.jointOff, g.idx[lo:hi], g.gh, g.constHess)
		}
	})
	if k > 1 {
		if (k-1)*len(dst) < minBlockWork {
			workers = 1
		}
		parallelFor(len(dst), workers, func(_, lo, hi int) {
			d := dst[lo:hi]
			for b := 1; b < k; b++ {
				addHist(d, g.parts[b][lo:hi])
			}
		})
	}
	if g.constHess {
		for b := range dst {
			dst[b].h = float64(dst[b].n)
		}
	}
}

// forFeatures runs fn over the active features, in parallel when there
// are many bins to scan.
func (g *grower) forFeatures(fn func(j int, sc *workerScratch)) {
	workers := g.workers
	if g.d.totalBins < minParallelBins {
		workers = 1
	}
	parallelFor(len(g.feats), workers, func(w, lo, hi int) {
		sc := &g.scratch[w]
		for _, j := range g.feats[lo:hi] {
			fn(j, sc)
		}
	})
}

// grow grows one tree on the first nBag rows of g.idx, which the caller has
// filled with the bag (all rows, in order, when dense). It returns the
// number of leaves; g.nodes and g.leaves describe the tree.
func (g *grower) grow(nBag int, dense bool) int {
	g.nodes = g.nodes[:0]
	g.leaves = g.leaves[:0]
	g.free = g.free[:0]
	for s := len(g.slots) - 1; s >= 0; s-- {
		g.free = append(g.free, s)
	}

	root := growLeaf{begin: 0, end: nBag, slot: -1, parent: -1, best: noSplit}
	var sg, sh float64
	if dense {
		for _, v := range g.gh[:nBag] {
			sg += v.g
			sh += v.h
		}
	} else {
		for _, r := range g.idx[:nBag] {
			sg += g.gh[r].g
			sh += g.gh[r].h
		}
	}
	if g.constHess {
		sh = float64(nBag)
	}
	root.tot = leafTotals{g: sg, h: sh, n: int64(nBag)}
	g.leaves = append(g.leaves, root)

	if g.canSplit(&g.leaves[0]) {
		slot := g.allocSlot()
		g.leaves[0].slot = slot
		g.buildLeafHist(g.slots[slot], 0, nBag, dense)
		g.d.marginals(g.slots[slot], g.margA)
		tot := root.tot
		g.forFeatures(func(j int, sc *workerScratch) {
			g.resA[j] = g.findBest(j, g.featureHist(g.margA, j), tot, sc)
		})
		g.leaves[0].best = g.reduce(g.resA)
	}

	for len(g.leaves) < g.cfg.NumLeaves {
		bestLeaf := -1
		bestGain := math.Inf(-1)
		for i := range g.leaves {
			if gain := g.leaves[i].best.gain; gain > bestGain {
				bestLeaf, bestGain = i, gain
			}
		}
		if bestLeaf < 0 {
			break
		}
		g.splitLeaf(bestLeaf)
	}
	for i := range g.leaves {
		g.releaseSlot(g.leaves[i].slot)
		g.leaves[i].slot = -1
	}
	return len(g.leaves)
}

// splitLeaf applies leaf li's best split: it adds a node, partitions the
// leaf's rows, and finds the best splits of both children, building the
// smaller child's histograms from its rows and the larger one's by
// subtraction from the parent's.
func (g *grower) splitLeaf(li int) {
	parent := g.leaves[li]
	s := parent.best
	nodeIdx := len(g.nodes)
	g.nodes = append(g.nodes, trainNode{split: s})
	node := &g.nodes[nodeIdx]
	m := &g.d.mappers[s.feature]
	nb := m.numBins()
	if s.catBins != nil {
		for _, b := range s.catBins {
			node.goLeft[b] = 1
		}
	} else {
		for b := 0; b <= s.thrBin; b++ {
			node.goLeft[b] = 1
		}
		if s.defaultLeft {
			node.goLeft[nb] = 1
		}
	}
	if parent.parent >= 0 {
		if parent.isLeft {
			g.nodes[parent.parent].left = nodeIdx
		} else {
			g.nodes[parent.parent].right = nodeIdx
		}
	}

	mid := g.partition(parent.begin, parent.end, g.d.col(s.feature), &node.goLeft)
	if int64(mid-parent.begin) != s.nl {
		panic("gbdt: partition disagrees with the histogram counts")
	}
	ri := len(g.leaves)
	node.left, node.right = ^li, ^ri
	left := growLeaf{
		begin: parent.begin, end: mid,
		tot:   leafTotals{g: s.gl, h: s.hl, n: s.nl},
		depth: parent.depth + 1, slot: -1, best: noSplit,
		parent: nodeIdx, isLeft: true,
	}
	right := growLeaf{
		begin: mid, end: parent.end,
		tot:   leafTotals{g: parent.tot.g - s.gl, h: parent.tot.h - s.hl, n: parent.tot.n - s.nl},
		depth: parent.depth + 1, slot: -1, best: noSplit,
		parent: nodeIdx,
	}
	g.leaves[li] = left
	g.leaves = append(g.leaves, right)

	// Which children can still split?
	room := len(g.leaves) < g.cfg.NumLeaves
	si, bi := li, ri // smaller, bigger
	if g.leaves[ri].tot.n < g.leaves[li].tot.n {
		si, bi = ri, li
	}
	small, big := &g.leaves[si], &g.leaves[bi]
	smallOK := room && g.canSplit(small)
	bigOK := room && g.canSplit(big)
	if !smallOK && !bigOK {
		g.releaseSlot(parent.slot)
		return
	}
	// The smaller child's histograms go to a fresh slot when the parent's
	// slot is needed for the subtraction, else over the parent's.
	parentSlot := parent.slot
	smallSlot := parentSlot
	if bigOK {
		smallSlot = g.allocSlot()
	}
	g.buildLeafHist(g.slots[smallSlot], small.begin, small.end, false)
	if smallOK {
		g.d.marginals(g.slots[smallSlot], g.margA)
	}
	if bigOK {
		subtractHist(g.slots[parentSlot], g.slots[smallSlot])
		g.d.marginals(g.slots[parentSlot], g.margB)
	}
	stot, btot := small.tot, big.tot
	g.forFeatures(func(j int, sc *workerScratch) {
		if smallOK {
			g.resA[j] = g.findBest(j, g.featureHist(g.margA, j), stot, sc)
		}
		if bigOK {
			g.resB[j] = g.findBest(j, g.featureHist(g.margB, j), btot, sc)
		}
	})
	if smallOK {
		small.best = g.reduce(g.resA)
		small.slot = smallSlot
	} else {
		g.releaseSlot(smallSlot)
	}
	if bigOK {
		big.best = g.reduce(g.resB)
		big.slot = parentSlot
	}
	// A leaf that cannot split no longer needs its histograms.
	if small.best.feature < 0 && small.slot >= 0 {
		g.releaseSlot(small.slot)
		small.slot = -1
	}
	if big.best.feature < 0 && big.slot >= 0 {
		g.releaseSlot(big.slot)
		big.slot = -1
	}
}

// partition reorders idx[begin:end] stably so that the rows whose bin in
// col goes left come first, and returns the boundary. The segment is cut
// into one block per worker. Each block writes its left rows, in order, to
// the front of its part of the scratch array and its right rows, in
// reverse order, to the back; a second pass copies the blocks' left rows to
// the front of the segment and their right rows after them. A stable
// partition is unique, so the result does not depend on the workers.
func (g *grower) partition(begin, end int, col []uint8, goLeft *[maxBinLimit + 1]uint8) int {
	n := end - begin
	workers := 1
	if n >= minParallelPartition {
		workers = max(1, min(g.workers, n))
	}
	if cap(g.partCnt) < workers {
		g.partCnt = make([]int, workers)
	}
	cntL := g.partCnt[:workers]
	idx, tmp := g.idx, g.tmp
	parallelFor(n, workers, func(w, lo, hi int) {
		lo, hi = begin+lo, begin+hi
		// Branch-free: every row is written to both the next left slot
		// and the next right slot, and only one of the two cursors moves;
		// the stray copy lands in the unfilled middle and is overwritten
		// later (goLeft is random, so a branch would mispredict often).
		l, r := lo, hi
		for k := lo; k < hi; k++ {
			row := idx[k]
			left := int(goLeft[col[row]])
			tmp[l] = row
			tmp[r-1] = row
			l += left
			r -= 1 - left
		}
		cntL[w] = l - lo
	})
	totalL := 0
	for _, c := range cntL {
		totalL += c
	}
	parallelFor(n, workers, func(w, lo, hi int) {
		leftBefore := 0
		for _, c := range cntL[:w] {
			leftBefore += c
		}
		dstL := begin + leftBefore
		dstR := begin + totalL + lo - leftBefore
		lo, hi = begin+lo, begin+hi
		cl := cntL[w]
		copy(idx[dstL:dstL+cl], tmp[lo:lo+cl])
		d := dstR
		for k := hi - 1; k >= lo+cl; k-- {
			idx[d] = tmp[k]
			d++
		}
	})
	return begin + totalL
}

// leafOfBins returns the leaf that row reaches in the tree just grown,
// reading its bins.
func (g *grower) leafOfBins(row int) int {
	if len(g.nodes) == 0 {
		return 0
	}
	n := 0
	for {
		nd := &g.nodes[n]
		next := nd.right
		if nd.goLeft[g.d.bins[nd.feature*g.d.rows+row]] != 0 {
			next = nd.left
		}
		if next < 0 {
			return ^next
		}
		n = next
	}
}
