package gbdt

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/preflight-hq/preflight/causal"
)

// binSampleRows is how many rows binning looks at (LightGBM's
// bin_construct_sample_cnt).
const binSampleRows = 200_000

// binMapper turns one feature's raw values into bin indices. Value bins are
// 0..numBins-1; bin numBins holds missing values (NaN for numeric features;
// NaN, negative, non-integer, rare and unseen values for categorical ones).
type binMapper struct {
	categorical bool
	// bounds[k] is the inclusive upper bound of numeric bin k: x goes to
	// the first k with x ≤ bounds[k]. The last bound is +Inf.
	bounds []float64
	// cats[k] is the category value of categorical bin k.
	cats []int
	// catBin maps a category value to its bin (categorical only).
	catBin map[int]int
}

// numBins returns the number of value bins (the missing bin excluded).
func (m *binMapper) numBins() int {
	if m.categorical {
		return len(m.cats)
	}
	return len(m.bounds)
}

// bin returns the bin of value v.
func (m *binMapper) bin(v float64) int {
	if m.categorical {
		c, ok := categoryOf(v)
		if !ok {
			return len(m.cats)
		}
		if b, ok := m.catBin[c]; ok {
			return b
		}
		return len(m.cats)
	}
	if v != v {
		return len(m.bounds)
	}
	return lowerBound(m.bounds, v)
}

// lowerBound returns the first k with v ≤ bounds[k], or len(bounds) if
// there is none (bounds sorted ascending, v not NaN). The loop has no
// data-dependent branch, so it does not stall on mispredictions when
// binning millions of values.
func lowerBound(bounds []float64, v float64) int {
	n := len(bounds)
	if n == 0 {
		return 0
	}
	base := 0
	for n > 1 {
		half := n / 2
		if bounds[base+half-1] < v {
			base += half
		}
		n -= half
	}
	if bounds[base] < v {
		base++
	}
	return base
}

// maxCategory bounds the category values we accept, so that per-node
// category bitsets stay small.
const maxCategory = 1 << 24

// categoryOf returns v as a category: a non-negative integer below
// maxCategory. Anything else is missing.
func categoryOf(v float64) (int, bool) {
	if !(v >= 0 && v < maxCategory) || v != math.Trunc(v) {
		return 0, false
	}
	return int(v), true
}

// numericBounds chooses at most maxBin bin upper bounds from sorted
// non-missing sample values. With at most maxBin distinct values every value
// gets its own bin and bounds sit at midpoints between neighbours. Otherwise
// bins are filled greedily to about equal counts, and a value whose count
// alone reaches the target size starts a bin of its own (LightGBM's
// GreedyFindBin idea). The last bound is +Inf, so every non-missing value
// has a bin; an empty sample gives a single bin.
func numericBounds(sorted []float64, maxBin int) []float64 {
	if len(sorted) == 0 {
		return []float64{math.Inf(1)}
	}
	// Distinct values and their counts.
	vals := make([]float64, 0, 64)
	cnts := make([]int, 0, 64)
	for i, v := range sorted {
		if i > 0 && v == sorted[i-1] {
			cnts[len(cnts)-1]++
			continue
		}
		vals = append(vals, v)
		cnts = append(cnts, 1)
	}
	bounds := make([]float64, 0, min(len(vals), maxBin))
	if len(vals) <= maxBin {
		for i := 0; i+1 < len(vals); i++ {
			bounds = append(bounds, midpoint(vals[i], vals[i+1]))
		}
		return append(bounds, math.Inf(1))
	}
	remaining := len(sorted)
	binsLeft := maxBin
	target := float64(remaining) / float64(binsLeft)
	cur := 0
	for i := 0; i+1 < len(vals) && binsLeft > 1; i++ {
		cur += cnts[i]
		remaining -= cnts[i]
		if float64(cur) >= target || float64(cnts[i+1]) >= target {
			bounds = append(bounds, midpoint(vals[i], vals[i+1]))
			binsLeft--
			cur = 0
			target = float64(remaining) / float64(binsLeft)
		}
	}
	return append(bounds, math.Inf(1))
}

// midpoint returns a bound t with a ≤ t < b for a < b, halfway when the
// floating-point grid allows.
func midpoint(a, b float64) float64 {
	t := a/2 + b/2
	if !(t >= a && t < b) {
		return a
	}
	return t
}

// categoricalBins keeps the maxBin most frequent categories of the sample
// (ties broken by smaller value) as bins, most frequent first. Rarer
// categories fall into the missing bin.
func categoricalBins(sample []float64, maxBin int) ([]int, map[int]int) {
	counts := make(map[int]int)
	for _, v := range sample {
		if c, ok := categoryOf(v); ok {
			counts[c]++
		}
	}
	cats := make([]int, 0, len(counts))
	for c := range counts {
		cats = append(cats, c)
	}
	slices.SortFunc(cats, func(a, b int) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return a - b
	})
	if len(cats) > maxBin {
		cats = cats[:maxBin]
	}
	idx := make(map[int]int, len(cats))
	for b, c := range cats {
		idx[c] = b
	}
	return cats, idx
}

// dataset is the binned training matrix, column-major (feature j's bins
// are bins[j*rows : (j+1)*rows]; partitioning reads one feature) and, for
// histogram building, row-major over feature bundles.
type dataset struct {
	rows, cols int
	bins       []uint8
	mappers    []binMapper
	// histOff[j] is where feature j's histogram starts in a per-feature
	// histogram; it spans numBins+1 entries (the last is the missing
	// bin).
	histOff   []int
	totalBins int

	// bundles group the usable features; rowCodes holds each row's joint
	// bundle codes, row i's at rowCodes[i*len(bundles) : (i+1)*len(bundles)].
	// Joint histograms have bundle b's codes at jointOff[b]...
	bundles    []bundle
	rowCodes   []uint8
	jointOff   []int32
	totalJoint int
	// usable[j] reports whether feature j can be split at all (it has at
	// least two non-empty bins in the training data).
	usable []bool
	// hasMissing[j] reports whether the training data has missing values
	// in feature j.
	hasMissing []bool
}

// col returns feature j's bins.
func (d *dataset) col(j int) []uint8 { return d.bins[j*d.rows : (j+1)*d.rows] }

// newDataset bins x: it chooses each feature's bins from a sample of at
// most binSampleRows rows drawn with rng, then bins every row. Work is
// spread over workers goroutines by feature.
func newDataset(x causal.Matrix, categorical []bool, maxBin, workers int, rng *rand.Rand) *dataset {
	n, p := x.Rows, x.Cols
	sample := sampleRows(n, rng)
	d := &dataset{
		rows:       n,
		cols:       p,
		bins:       make([]uint8, n*p),
		mappers:    make([]binMapper, p),
		histOff:    make([]int, p+1),
		usable:     make([]bool, p),
		hasMissing: make([]bool, p),
	}
	parallelFor(p, workers, func(_, lo, hi int) {
		vals := make([]float64, 0, len(sample))
		for j := lo; j < hi; j++ {
			vals = vals[:0]
			for _, r := range sample {
				v := x.Data[r*p+j]
				if categorical[j] || v == v {
					vals = append(vals, v)
				}
			}
			m := &d.mappers[j]
			if categorical[j] {
				m.categorical = true
				m.cats, m.catBin = categoricalBins(vals, maxBin)
			} else {
				slices.Sort(vals)
				m.bounds = numericBounds(vals, maxBin)
			}
			d.binColumn(x, j)
		}
	})
	for j := range p {
		d.histOff[j+1] = d.histOff[j] + d.mappers[j].numBins() + 1
	}
	d.totalBins = d.histOff[p]
	d.bundleFeatures()
	// The row-major joint codes, in blocks of rows.
	nb := len(d.bundles)
	d.rowCodes = make([]uint8, n*nb)
	parallelFor(n, workers, func(_, lo, hi int) {
		const block = 4096
		for b := lo; b < hi; b += block {
			e := min(b+block, hi)
			for bi := range d.bundles {
				bd := &d.bundles[bi]
				out := d.rowCodes[b*nb+bi:]
				for k, j := range bd.features {
					col := d.col(j)[b:e]
					stride := uint8(bd.strides[k])
					if k == 0 {
						for i, v := range col {
							out[i*nb] = v
						}
						continue
					}
					for i, v := range col {
						out[i*nb] += v * stride
					}
				}
			}
		}
	})
	return d
}

// maxBundleCodes is the largest number of joint codes of a bundle, so
// that codes fit a uint8.
const maxBundleCodes = maxBinLimit + 1

// bundle is a group of features whose bins are coded jointly: a row's code
// is Σₖ bin(features[k])·strides[k], with strides[0] = 1 and strides[k+1] =
// strides[k]·(numBins+1 of features[k]). Histogram building then does one
// update per bundle instead of one per feature, and each feature's
// histogram is a marginal of the bundle's (see marginals). Features with
// few bins, such as flags and small categoricals, bundle well; a feature
// with more than 128 bins is alone.
type bundle struct {
	features []int
	strides  []int
	size     int // number of joint codes
	// codeBin[k][c] is the bin of features[k] in joint code c.
	codeBin [][]uint8
}

// bundleFeatures groups the usable features into bundles of at most
// maxBundleCodes joint codes: first fit, smallest features first (ties by
// index), which is deterministic. Unusable features need no histogram and
// join no bundle.
func (d *dataset) bundleFeatures() {
	var feats []int
	for j := range d.cols {
		if d.usable[j] {
			feats = append(feats, j)
		}
	}
	size := func(j int) int { return d.mappers[j].numBins() + 1 }
	slices.SortStableFunc(feats, func(a, b int) int { return size(a) - size(b) })
	for _, j := range feats {
		placed := false
		for bi := range d.bundles {
			bd := &d.bundles[bi]
			if bd.size*size(j) <= maxBundleCodes {
				bd.features = append(bd.features, j)
				bd.strides = append(bd.strides, bd.size)
				bd.size *= size(j)
				placed = true
				break
			}
		}
		if !placed {
			d.bundles = append(d.bundles, bundle{features: []int{j}, strides: []int{1}, size: size(j)})
		}
	}
	d.jointOff = make([]int32, len(d.bundles))
	for bi := range d.bundles {
		bd := &d.bundles[bi]
		d.jointOff[bi] = int32(d.totalJoint)
		d.totalJoint += bd.size
		bd.codeBin = make([][]uint8, len(bd.features))
		for k, j := range bd.features {
			cb := make([]uint8, bd.size)
			for c := range cb {
				cb[c] = uint8(c / bd.strides[k] % size(j))
			}
			bd.codeBin[k] = cb
		}
	}
}

// marginals fills the per-feature histograms marg (laid out by histOff)
// of every bundled feature from the joint histograms joint: feature j's
// bin b sums the joint codes whose j-bin is b. Joint codes with no rows
// are skipped (after a subtraction they hold only rounding residue).
func (d *dataset) marginals(joint, marg []histBin) {
	for bi := range d.bundles {
		bd := &d.bundles[bi]
		jh := joint[d.jointOff[bi] : int(d.jointOff[bi])+bd.size]
		if len(bd.features) == 1 {
			j := bd.features[0]
			copy(marg[d.histOff[j]:d.histOff[j+1]], jh)
			continue
		}
		for k, j := range bd.features {
			mh := marg[d.histOff[j]:d.histOff[j+1]]
			clear(mh)
			cb := bd.codeBin[k][:len(jh)]
			for c, e := range jh {
				if e.n == 0 {
					continue
				}
				m := &mh[cb[c]]
				m.g += e.g
				m.h += e.h
				m.n += e.n
			}
		}
	}
}

// binColumn fills feature j's bins and its usable and hasMissing flags.
func (d *dataset) binColumn(x causal.Matrix, j int) {
	m := &d.mappers[j]
	col := d.col(j)
	p := x.Cols
	nb := m.numBins()
	var seen [maxBinLimit + 1]bool
	switch {
	case m.categorical && len(m.cats) > 0 && slices.Max(m.cats) < 1<<16:
		lut := make([]uint8, slices.Max(m.cats)+1)
		for i := range lut {
			lut[i] = uint8(nb)
		}
		for b, c := range m.cats {
			lut[c] = uint8(b)
		}
		for i := range d.rows {
			b := uint8(nb)
			if c, ok := categoryOf(x.Data[i*p+j]); ok && c < len(lut) {
				b = lut[c]
			}
			col[i] = b
			seen[b] = true
		}
	default:
		for i := range d.rows {
			b := uint8(m.bin(x.Data[i*p+j]))
			col[i] = b
			seen[b] = true
		}
	}
	nonEmpty := 0
	for b := 0; b <= nb; b++ {
		if seen[b] {
			nonEmpty++
		}
	}
	d.usable[j] = nonEmpty >= 2
	d.hasMissing[j] = seen[nb]
}

// sampleRows returns the rows binning looks at: all rows when there are at
// most binSampleRows, otherwise binSampleRows distinct rows drawn with rng,
// in increasing order.
func sampleRows(n int, rng *rand.Rand) []int {
	if n <= binSampleRows {
		s := make([]int, n)
		for i := range s {
			s[i] = i
		}
		return s
	}
	// Selection sampling (Knuth's Algorithm S): one pass, sorted output.
	s := make([]int, 0, binSampleRows)
	need := binSampleRows
	for i := 0; i < n && need > 0; i++ {
		if rng.IntN(n-i) < need {
			s = append(s, i)
			need--
		}
	}
	return s
}
