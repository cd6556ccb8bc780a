// Package uplift evaluates uplift models: uplift and Qini curves, their
// perfect (optimum) curves, the Qini coefficient, the normalized area
// under the uplift curve (AUUC), uplift@k, per-percentile response rates
// and the weighted average uplift. Every definition, tie rule and special
// case follows scikit-uplift (sklift) 0.5.1 exactly, so that numbers match
// sklift to rounding; CausalML's metrics of the same names differ and must
// not be mixed with these.
//
// Conventions shared by every function:
//
//   - Inputs are y (outcome), t (treatment) and score (predicted uplift),
//     of equal length n ≥ 1. y and t must each contain both values 0 and 1
//     and nothing else (sklift's check_is_binary); score must be finite.
//   - Rows are ordered by score descending. sklift reverses a stable
//     ascending sort, so tied rows appear in descending original index;
//     this matters only for UpliftAtK and the per-percentile tables, since
//     curves are evaluated only at the end of each run of tied scores.
//   - Curve x-values are counts of rows (0..n), not fractions.
//
// References: N. J. Radcliffe (2007), "Using control groups to target on
// predicted lift: building and assessing uplift models", Direct Marketing
// Analytics Journal 1:14–21 (Qini curve and coefficient); F. Devriendt,
// T. Guns & W. Verbeke (2020), "Learning to rank for uplift modeling",
// arXiv:2002.05897 (uplift curve and its perfect curve).
package uplift

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Strategy selects how uplift@k and the per-percentile tables pick the top
// rows, as sklift's strategy argument.
type Strategy string

const (
	// Overall takes the top rows of the whole ordering, both groups
	// together, and compares the treated and control rows among them.
	Overall Strategy = "overall"
	// ByGroup orders the treated and the control rows separately (each in
	// the global score order) and takes the top rows of each group.
	ByGroup Strategy = "by_group"
)

// Group names the treatment or the control group.
type Group string

const (
	// Treatment is the group with t = 1.
	Treatment Group = "treatment"
	// Control is the group with t = 0.
	Control Group = "control"
)

// ErrNotBinary is wrapped by the error returned when y or t is not binary
// with both values present.
var ErrNotBinary = errors.New("not binary with both 0 and 1 present")

// checkBinary reports whether v holds only 0 and 1 with both present.
func checkBinary(name string, v []float64) error {
	var zero, one bool
	for i, x := range v {
		switch x {
		case 0:
			zero = true
		case 1:
			one = true
		default:
			return fmt.Errorf("%s[%d] = %v: %w", name, i, x, ErrNotBinary)
		}
	}
	if !zero {
		return fmt.Errorf("%s has no 0: %w", name, ErrNotBinary)
	}
	if !one {
		return fmt.Errorf("%s has no 1: %w", name, ErrNotBinary)
	}
	return nil
}

// check validates y, t and (when non-nil) score.
func check(what string, y, t, score []float64) error {
	if len(y) != len(t) || (score != nil && len(score) != len(y)) {
		return fmt.Errorf("cannot compute %s: lengths differ (y %d, t %d, score %d)", what, len(y), len(t), len(score))
	}
	if len(y) == 0 {
		return fmt.Errorf("cannot compute %s: no rows", what)
	}
	if err := checkBinary("t", t); err != nil {
		return fmt.Errorf("cannot compute %s: %w", what, err)
	}
	if err := checkBinary("y", y); err != nil {
		return fmt.Errorf("cannot compute %s: %w", what, err)
	}
	for i, s := range score {
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return fmt.Errorf("cannot compute %s: score[%d] = %v, want finite", what, i, s)
		}
	}
	return nil
}

// order returns the row indices sorted by score descending, ties in
// descending index: the reverse of a stable ascending sort, as sklift's
// np.argsort(score, kind="mergesort")[::-1].
func order(score []float64) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		case a > b:
			return -1
		case a < b:
			return 1
		}
		return 0
	})
	return idx
}

// cumulative holds the counts at each threshold position k (the last
// position of a run of equal scores): n(k) = k+1, N_t(k), Y_t(k), Y_c(k).
type cumulative struct {
	n, nt, yt, yc []float64
}

func thresholds(y, t, score []float64) cumulative {
	idx := order(score)
	var c cumulative
	var nt, yt, yc float64
	for pos, i := range idx {
		if t[i] == 1 {
			nt++
			yt += y[i]
		} else {
			yc += y[i]
		}
		if pos == len(idx)-1 || score[idx[pos+1]] != score[i] {
			c.n = append(c.n, float64(pos+1))
			c.nt = append(c.nt, nt)
			c.yt = append(c.yt, yt)
			c.yc = append(c.yc, yc)
		}
	}
	return c
}

// ratio returns a/b, or 0 when b is 0, as numpy's divide with where=b != 0
// and a zero-filled output.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// QiniCurve returns the Qini curve of score (sklift qini_curve; Radcliffe
// 2007). At every threshold position k, with counts over the top k+1 rows,
//
//	x = n(k) = k+1,  Q(k) = Y_t(k) − Y_c(k)·N_t(k)/N_c(k),
//
// where N_t, N_c are the treated and control counts, Y_t, Y_c their
// responders, and the ratio N_t/N_c is taken as 0 when N_c(k) = 0. The
// point (0, 0) is prepended. Q(n) is the total number of incremental
// responders.
func QiniCurve(y, t, score []float64) (x, q []float64, err error) {
	if err := check("Qini curve", y, t, score); err != nil {
		return nil, nil, err
	}
	x, q = qiniCurve(y, t, score)
	return x, q, nil
}

func qiniCurve(y, t, score []float64) (x, q []float64) {
	c := thresholds(y, t, score)
	x = append(make([]float64, 0, len(c.n)+1), 0)
	q = append(make([]float64, 0, len(c.n)+1), 0)
	for k := range c.n {
		nc := c.n[k] - c.nt[k]
		x = append(x, c.n[k])
		q = append(q, c.yt[k]-c.yc[k]*ratio(c.nt[k], nc))
	}
	return x, q
}

// UpliftCurve returns the uplift curve of score (sklift uplift_curve;
// Devriendt et al. 2020). At every threshold position k,
//
//	x = n(k),  U(k) = [Y_t(k)/N_t(k) − Y_c(k)/N_c(k)]·n(k),
//
// each response rate taken as 0 when its group is empty. The point (0, 0)
// is prepended.
func UpliftCurve(y, t, score []float64) (x, u []float64, err error) {
	if err := check("uplift curve", y, t, score); err != nil {
		return nil, nil, err
	}
	x, u = upliftCurve(y, t, score)
	return x, u, nil
}

func upliftCurve(y, t, score []float64) (x, u []float64) {
	c := thresholds(y, t, score)
	x = append(make([]float64, 0, len(c.n)+1), 0)
	u = append(make([]float64, 0, len(c.n)+1), 0)
	for k := range c.n {
		nc := c.n[k] - c.nt[k]
		x = append(x, c.n[k])
		u = append(u, (ratio(c.yt[k], c.nt[k])-ratio(c.yc[k], nc))*c.n[k])
	}
	return x, u
}

// PerfectQiniCurve returns the optimum Qini curve (sklift
// perfect_qini_curve).
//
// With negativeEffect true (sklift's default) it is the Qini curve of the
// oracle score s_i = y_i·t_i − y_i·(1 − t_i): treated responders first,
// control responders (negative effect) last, everyone else between.
//
// With negativeEffect false it is the three points (0, 0), (R, R), (n, R)
// with R = Y_t − N_t·Y_c/N_c the total incremental responders: a curve that
// gains one responder per row until R and then stays flat. When R < 0 the
// x-values are not increasing; the curve is returned as sklift returns it,
// and QiniAUCScore reports an error for it as sklearn's auc raises.
func PerfectQiniCurve(y, t []float64, negativeEffect bool) (x, q []float64, err error) {
	if err := check("perfect Qini curve", y, t, nil); err != nil {
		return nil, nil, err
	}
	x, q = perfectQini(y, t, negativeEffect)
	return x, q, nil
}

func perfectQini(y, t []float64, negativeEffect bool) (x, q []float64) {
	if negativeEffect {
		s := make([]float64, len(y))
		for i := range y {
			s[i] = y[i]*t[i] - y[i]*(1-t[i])
		}
		return qiniCurve(y, t, s)
	}
	var nt, yt, nc, yc float64
	for i := range y {
		if t[i] == 1 {
			nt++
			yt += y[i]
		} else {
			nc++
			yc += y[i]
		}
	}
	r := yt - nt*yc/nc
	return []float64{0, r, float64(len(y))}, []float64{0, r, r}
}

// PerfectUpliftCurve returns the optimum uplift curve (sklift
// perfect_uplift_curve): the uplift curve of the oracle score
//
//	s_i = 2·1[y_i = t_i] + (y_i if CR > TN else t_i),
//
// where CR counts control responders and TN treated non-responders. It
// ranks treated responders and control non-responders first and, of the
// rest, control responders or treated non-responders last, whichever
// group is larger.
func PerfectUpliftCurve(y, t []float64) (x, u []float64, err error) {
	if err := check("perfect uplift curve", y, t, nil); err != nil {
		return nil, nil, err
	}
	x, u = perfectUplift(y, t)
	return x, u, nil
}

func perfectUplift(y, t []float64) (x, u []float64) {
	var cr, tn int
	for i := range y {
		if y[i] == 1 && t[i] == 0 {
			cr++
		}
		if y[i] == 0 && t[i] == 1 {
			tn++
		}
	}
	s := make([]float64, len(y))
	for i := range y {
		if y[i] == t[i] {
			s[i] = 2
		}
		if cr > tn {
			s[i] += y[i]
		} else {
			s[i] += t[i]
		}
	}
	return upliftCurve(y, t, s)
}

// AUC returns the area under the curve through the points (x_i, y_i) by the
// trapezoid rule, Σ (x_{i+1} − x_i)(y_i + y_{i+1})/2, as sklearn.metrics.auc:
// x must be monotone (non-decreasing or non-increasing; a non-increasing x
// gives the area with its sign restored to positive orientation) and have
// at least two points, else an error.
func AUC(x, y []float64) (float64, error) {
	if len(x) != len(y) {
		return math.NaN(), fmt.Errorf("cannot compute AUC: %d x-values and %d y-values", len(x), len(y))
	}
	if len(x) < 2 {
		return math.NaN(), fmt.Errorf("cannot compute AUC: %d points, want at least 2", len(x))
	}
	dir := 1.0
	var inc, dec bool
	for i := 1; i < len(x); i++ {
		if x[i] > x[i-1] {
			inc = true
		} else if x[i] < x[i-1] {
			dec = true
		}
	}
	switch {
	case inc && dec:
		return math.NaN(), fmt.Errorf("cannot compute AUC: x is neither increasing nor decreasing")
	case dec:
		dir = -1
	}
	a := 0.0
	for i := 1; i < len(x); i++ {
		a += (x[i] - x[i-1]) * (y[i] + y[i-1]) / 2
	}
	return dir * a, nil
}

// normalizedArea returns [A(actual) − A(base)]/[A(perfect) − A(base)], where
// base is the straight line from (0, 0) to the perfect curve's last point.
func normalizedArea(xa, ya, xp, yp []float64) (float64, error) {
	base, err := AUC([]float64{0, xp[len(xp)-1]}, []float64{0, yp[len(yp)-1]})
	if err != nil {
		return math.NaN(), err
	}
	perfect, err := AUC(xp, yp)
	if err != nil {
		return math.NaN(), fmt.Errorf("perfect curve: %w", err)
	}
	actual, err := AUC(xa, ya)
	if err != nil {
		return math.NaN(), err
	}
	return (actual - base) / (perfect - base), nil
}

// QiniAUCScore returns the Qini coefficient (sklift qini_auc_score;
// Radcliffe 2007): the area between the Qini curve and the random line,
// divided by the same area for the perfect Qini curve,
//
//	[A(Qini) − A(base)] / [A(perfect Qini) − A(base)],
//
// with A the trapezoid area (AUC) and base the line from (0, 0) to
// (n, Q(n)). negativeEffect selects the perfect curve (see
// PerfectQiniCurve). Special cases, as sklift: with negativeEffect false
// the score can exceed 1 (when the model's curve rises above R before
// falling), and it is an error when R < 0; when the perfect area equals
// the baseline area the result is ±Inf or NaN.
func QiniAUCScore(y, t, score []float64, negativeEffect bool) (float64, error) {
	if err := check("Qini AUC score", y, t, score); err != nil {
		return math.NaN(), err
	}
	xa, qa := qiniCurve(y, t, score)
	xp, qp := perfectQini(y, t, negativeEffect)
	v, err := normalizedArea(xa, qa, xp, qp)
	if err != nil {
		return math.NaN(), fmt.Errorf("cannot compute Qini AUC score: %w", err)
	}
	return v, nil
}

// UpliftAUCScore returns the normalized area under the uplift curve (AUUC,
// sklift uplift_auc_score; Devriendt et al. 2020):
//
//	[A(uplift) − A(base)] / [A(perfect uplift) − A(base)],
//
// with base the line from (0, 0) to (n, U(n)). When the perfect area equals
// the baseline area the result is ±Inf or NaN.
func UpliftAUCScore(y, t, score []float64) (float64, error) {
	if err := check("uplift AUC score", y, t, score); err != nil {
		return math.NaN(), err
	}
	xa, ua := upliftCurve(y, t, score)
	xp, up := perfectUplift(y, t)
	v, err := normalizedArea(xa, ua, xp, up)
	if err != nil {
		return math.NaN(), fmt.Errorf("cannot compute uplift AUC score: %w", err)
	}
	return v, nil
}

// UpliftAtK returns the uplift among the top-ranked rows (sklift
// uplift_at_k): mean(y | treated) − mean(y | control) over
//
//   - Overall: the first m rows of the ordering, m = ⌊k·n⌋ for a fraction k
//     in (0, 1), or m = k for a whole number k in [1, n);
//   - ByGroup: the first m_t treated rows and the first m_c control rows,
//     each in the global ordering, with m_g = ⌊k·n_g⌋ for a fraction k, or
//     m_t = m_c = k for a whole number k (an error when k exceeds a group's
//     size).
//
// Python distinguishes an integer k from a float k by type; here a k in
// (0, 1) is a fraction and a whole number k ≥ 1 a count. A group with no
// rows among the chosen ones has mean NaN, and the result is then NaN
// without an error, as in sklift.
func UpliftAtK(y, t, score []float64, k float64, strategy Strategy) (float64, error) {
	if err := check("uplift@k", y, t, score); err != nil {
		return math.NaN(), err
	}
	n := len(y)
	isFrac := k > 0 && k < 1
	isCount := k >= 1 && k == math.Trunc(k) && k < float64(n)
	if !isFrac && !isCount {
		return math.NaN(), fmt.Errorf("cannot compute uplift@k: k = %v, want a fraction in (0, 1) or a whole number in [1, %d)", k, n)
	}
	idx := order(score)
	var sumT, cntT, sumC, cntC float64
	switch strategy {
	case Overall:
		m := int(k)
		if isFrac {
			m = int(math.Floor(k * float64(n)))
		}
		for _, i := range idx[:m] {
			if t[i] == 1 {
				sumT += y[i]
				cntT++
			} else {
				sumC += y[i]
				cntC++
			}
		}
	case ByGroup:
		var nt, nc int
		for _, v := range t {
			if v == 1 {
				nt++
			} else {
				nc++
			}
		}
		mt, mc := int(k), int(k)
		if isFrac {
			mt = int(math.Floor(k * float64(nt)))
			mc = int(math.Floor(k * float64(nc)))
		}
		if mt > nt || mc > nc {
			return math.NaN(), fmt.Errorf("cannot compute uplift@k: k = %v exceeds a group's size (treated %d, control %d)", k, nt, nc)
		}
		for _, i := range idx {
			if t[i] == 1 && int(cntT) < mt {
				sumT += y[i]
				cntT++
			} else if t[i] == 0 && int(cntC) < mc {
				sumC += y[i]
				cntC++
			}
		}
	default:
		return math.NaN(), fmt.Errorf("cannot compute uplift@k: unknown strategy %q", strategy)
	}
	return sumT/cntT - sumC/cntC, nil
}

// splitSizes returns the chunk sizes of numpy's array_split of n items
// into bins chunks: the first n mod bins chunks get ⌊n/bins⌋+1 items, the
// rest ⌊n/bins⌋.
func splitSizes(n, bins int) []int {
	s := make([]int, bins)
	for b := range s {
		s[b] = n / bins
		if b < n%bins {
			s[b]++
		}
	}
	return s
}

// ResponseRateByPercentile returns, for group g, the response rate, its
// variance and the group's size in each of bins consecutive chunks of the
// ordering (sklift response_rate_by_percentile). Chunks are cut as numpy's
// array_split: the first N mod bins chunks get one extra row. With Overall
// the ordered rows of both groups are chunked and then the group's rows
// picked from each chunk (N = n); with ByGroup the group's own ordered rows
// are chunked (N = the group's size). Per chunk, with m rows of group g of
// which r respond:
//
//	rate = r/m,  variance = rate·(1 − rate)/m,  size = m,
//
// and rate and variance are NaN when m = 0. bins must be in [1, n).
func ResponseRateByPercentile(y, t, score []float64, g Group, strategy Strategy, bins int) (rate, variance []float64, size []int, err error) {
	if err := check("response rate by percentile", y, t, score); err != nil {
		return nil, nil, nil, err
	}
	if bins <= 0 || bins >= len(y) {
		return nil, nil, nil, fmt.Errorf("cannot compute response rate by percentile: bins = %d, want in [1, %d)", bins, len(y))
	}
	var flag float64
	switch g {
	case Treatment:
		flag = 1
	case Control:
		flag = 0
	default:
		return nil, nil, nil, fmt.Errorf("cannot compute response rate by percentile: unknown group %q", g)
	}
	idx := order(score)
	var chunks [][]int // row indices of group g per chunk
	switch strategy {
	case Overall:
		pos := 0
		for _, sz := range splitSizes(len(idx), bins) {
			var c []int
			for _, i := range idx[pos : pos+sz] {
				if t[i] == flag {
					c = append(c, i)
				}
			}
			chunks = append(chunks, c)
			pos += sz
		}
	case ByGroup:
		var rows []int
		for _, i := range idx {
			if t[i] == flag {
				rows = append(rows, i)
			}
		}
		pos := 0
		for _, sz := range splitSizes(len(rows), bins) {
			chunks = append(chunks, rows[pos:pos+sz])
			pos += sz
		}
	default:
		return nil, nil, nil, fmt.Errorf("cannot compute response rate by percentile: unknown strategy %q", strategy)
	}
	rate = make([]float64, bins)
	variance = make([]float64, bins)
	size = make([]int, bins)
	for b, c := range chunks {
		r := 0.0
		for _, i := range c {
			r += y[i]
		}
		m := float64(len(c))
		size[b] = len(c)
		rate[b] = r / m // NaN when m = 0, as numpy's mean of an empty array
		variance[b] = rate[b] * ((1 - rate[b]) / m)
	}
	return rate, variance, size, nil
}

// Percentile is one row of UpliftByPercentile's table.
type Percentile struct {
	// Label is sklift's index label: "0-10", "10-20", … (bounds are
	// round(100·b/bins) with Python's round-half-to-even), or "total".
	Label string `json:"percentile"`
	// NTreatment and NControl are the group sizes in the chunk.
	NTreatment int `json:"n_treatment"`
	NControl   int `json:"n_control"`
	// RateTreatment and RateControl are the groups' response rates.
	RateTreatment float64 `json:"response_rate_treatment"`
	RateControl   float64 `json:"response_rate_control"`
	// Uplift is RateTreatment − RateControl.
	Uplift float64 `json:"uplift"`
	// StdTreatment and StdControl are √(rate(1 − rate)/size) per group.
	StdTreatment float64 `json:"std_treatment"`
	StdControl   float64 `json:"std_control"`
	// StdUplift is √(StdTreatment² + StdControl²).
	StdUplift float64 `json:"std_uplift"`
}

// UpliftByPercentile returns sklift's uplift_by_percentile table with
// std=True: one row per chunk of ResponseRateByPercentile for both groups,
// with uplift = r_t − r_c and std_uplift = √(var_t + var_c). It also
// returns sklift's total row (total=True): the rates and uplift over all
// rows, the group sizes, and, as sklift computes them, the sums of the
// chunks' standard deviations in the three std fields (a quirk: these are
// not the standard deviations of the totals).
func UpliftByPercentile(y, t, score []float64, strategy Strategy, bins int) (rows []Percentile, total Percentile, err error) {
	rt, vt, nt, err := ResponseRateByPercentile(y, t, score, Treatment, strategy, bins)
	if err != nil {
		return nil, total, err
	}
	rc, vc, nc, err := ResponseRateByPercentile(y, t, score, Control, strategy, bins)
	if err != nil {
		return nil, total, err
	}
	rows = make([]Percentile, bins)
	prev := 0
	total.Label = "total"
	var yt, yc float64
	for i := range y {
		if t[i] == 1 {
			total.NTreatment++
			yt += y[i]
		} else {
			total.NControl++
			yc += y[i]
		}
	}
	total.RateTreatment = yt / float64(total.NTreatment)
	total.RateControl = yc / float64(total.NControl)
	total.Uplift = total.RateTreatment - total.RateControl
	for b := range rows {
		hi := int(math.RoundToEven(float64(b+1) * 100 / float64(bins)))
		rows[b] = Percentile{
			Label:      fmt.Sprintf("%d-%d", prev, hi),
			NTreatment: nt[b], NControl: nc[b],
			RateTreatment: rt[b], RateControl: rc[b], Uplift: rt[b] - rc[b],
			StdTreatment: math.Sqrt(vt[b]), StdControl: math.Sqrt(vc[b]), StdUplift: math.Sqrt(vt[b] + vc[b]),
		}
		prev = hi
		total.StdTreatment += rows[b].StdTreatment
		total.StdControl += rows[b].StdControl
		total.StdUplift += rows[b].StdUplift
	}
	return rows, total, nil
}

// WeightedAverageUplift returns the per-chunk uplift averaged with the
// treated group's chunk sizes as weights (sklift weighted_average_uplift):
//
//	Σ_b n_{t,b}·(r_{t,b} − r_{c,b}) / Σ_b n_{t,b},
//
// with chunks as ResponseRateByPercentile. It is NaN, without an error, when
// some chunk lacks a group (its rate is NaN), as in sklift.
func WeightedAverageUplift(y, t, score []float64, strategy Strategy, bins int) (float64, error) {
	rt, _, nt, err := ResponseRateByPercentile(y, t, score, Treatment, strategy, bins)
	if err != nil {
		return math.NaN(), err
	}
	rc, _, _, err := ResponseRateByPercentile(y, t, score, Control, strategy, bins)
	if err != nil {
		return math.NaN(), err
	}
	var num, den float64
	for b := range rt {
		num += float64(nt[b]) * (rt[b] - rc[b])
		den += float64(nt[b])
	}
	return num / den, nil
}
