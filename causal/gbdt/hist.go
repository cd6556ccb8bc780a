package gbdt

import "sync"

// histBin accumulates, over the rows of a leaf that fall in one bin, the
// sum of gradients g, the sum of hessians h and the row count n.
type histBin struct {
	g, h float64
	n    int64
}

// subtractHist sets parent[b] −= child[b] for every bin: the histogram of a
// leaf's other child, without scanning its rows (the subtraction trick of
// Ke et al. 2017, §2). Counts stay exact; sums agree with a direct build up
// to floating-point rounding.
func subtractHist(parent, child []histBin) {
	child = child[:len(parent)]
	for b := range parent {
		parent[b].g -= child[b].g
		parent[b].h -= child[b].h
		parent[b].n -= child[b].n
	}
}

// parallelFor splits 0..n-1 into at most workers contiguous chunks and runs
// fn(worker, lo, hi) on each in its own goroutine, returning when all are
// done. With one worker or n ≤ 1 it runs inline.
func parallelFor(n, workers int, fn func(w, lo, hi int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		if n > 0 {
			fn(0, 0, n)
		}
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, lo, hi)
		}()
	}
	wg.Wait()
}

// gradPair is one row's loss gradient and hessian, stored together so
// that a random row access costs one cache line.
type gradPair struct {
	g, h float64
}

// buildRowRange adds rows lo..hi-1 to the full histogram hist (column j's
// bins at off[j]..), reading the row-major bin matrix rowBins of p columns
// (the joint codes of the feature bundles) and the gradients gh. With constHess the hessians
// are not summed (the caller fills h from the counts).
//
// Row-major reads fetch all of a row's bins from one cache line, and the p
// updates per row go to different histograms, so they do not wait on one
// another (the layout XGBoost's hist method uses for its quantised matrix).
func buildRowRange(hist []histBin, rowBins []uint8, p int, off []int32, lo, hi int, gh []gradPair, constHess bool) {
	off = off[:p]
	if constHess {
		for r := lo; r < hi; r++ {
			rb := rowBins[r*p : r*p+p : r*p+p]
			gr := gh[r].g
			for j, b := range rb {
				e := &hist[off[j]+int32(b)]
				e.g += gr
				e.n++
			}
		}
		return
	}
	for r := lo; r < hi; r++ {
		rb := rowBins[r*p : r*p+p : r*p+p]
		gr, hr := gh[r].g, gh[r].h
		for j, b := range rb {
			e := &hist[off[j]+int32(b)]
			e.g += gr
			e.h += hr
			e.n++
		}
	}
}

// rowBlock is how many rows buildRowIdx touches ahead of use.
const rowBlock = 32

// buildRowIdx adds the rows listed in idx to hist like buildRowRange.
//
// The rows of a small leaf are scattered over the bin matrix and the
// gradients, so every row costs cache misses. Rows are processed in
// blocks: a first pass reads one byte of each row's bins and its gradient
// (independent loads that the CPU overlaps), and the second pass then finds
// them in cache. It returns a value derived from the touch loads so that
// the compiler keeps them; callers may ignore it.
func buildRowIdx(hist []histBin, rowBins []uint8, p int, off []int32, idx []int32, gh []gradPair, constHess bool) float64 {
	off = off[:p]
	var touch float64
	for start := 0; start < len(idx); start += rowBlock {
		block := idx[start:min(start+rowBlock, len(idx))]
		for _, r := range block {
			touch += float64(rowBins[int(r)*p+p-1]) + gh[r].g
		}
		if constHess {
			for _, r32 := range block {
				r := int(r32)
				rb := rowBins[r*p : r*p+p : r*p+p]
				gr := gh[r].g
				for j, b := range rb {
					e := &hist[off[j]+int32(b)]
					e.g += gr
					e.n++
				}
			}
			continue
		}
		for _, r32 := range block {
			r := int(r32)
			rb := rowBins[r*p : r*p+p : r*p+p]
			gr, hr := gh[r].g, gh[r].h
			for j, b := range rb {
				e := &hist[off[j]+int32(b)]
				e.g += gr
				e.h += hr
				e.n++
			}
		}
	}
	return touch
}

// addHist sets dst[b] += src[b] for every bin.
func addHist(dst, src []histBin) {
	src = src[:len(dst)]
	for b := range dst {
		dst[b].g += src[b].g
		dst[b].h += src[b].h
		dst[b].n += src[b].n
	}
}
