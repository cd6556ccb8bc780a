package mcmc

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/dsp/fourier"
	"gonum.org/v1/gonum/stat/distuv"
)

// ParamSummary summarizes the posterior draws of one parameter over all
// chains.
type ParamSummary struct {
	// Mean and SD are the sample mean and standard deviation (denominator
	// n−1) of the pooled draws.
	Mean, SD float64
	// Q05, Q50 and Q95 are the 5%, 50% and 95% quantiles of the pooled
	// draws (linear interpolation, type 7 of Hyndman & Fan 1996, as R).
	Q05, Q50, Q95 float64
	// RHat is the rank-normalized split-R̂ (see RHat).
	RHat float64
	// ESSBulk and ESSTail are the bulk and tail effective sample sizes (see
	// ESSBulk and ESSTail).
	ESSBulk, ESSTail float64
	// MCSE is the Monte Carlo standard error of Mean: SD/√ESS, where ESS is
	// the effective sample size of the split chains without rank
	// normalization (Vehtari et al. 2021, section 4.4).
	MCSE float64
}

// Param returns the draws of parameter j as [chain][draw].
func (r *Result) Param(j int) [][]float64 {
	out := make([][]float64, len(r.Draws))
	for c, chain := range r.Draws {
		col := make([]float64, len(chain))
		for i, q := range chain {
			col[i] = q[j]
		}
		out[c] = col
	}
	return out
}

// dim returns the number of parameters, or 0 without draws.
func (r *Result) dim() int {
	if len(r.Draws) == 0 || len(r.Draws[0]) == 0 {
		return 0
	}
	return len(r.Draws[0][0])
}

// Summary returns the summary of every parameter, in parameter order.
func (r *Result) Summary() []ParamSummary {
	out := make([]ParamSummary, r.dim())
	for j := range out {
		out[j] = Summarize(r.Param(j))
	}
	return out
}

// MaxRHat returns the largest RHat over the parameters. It is NaN if any
// parameter's R̂ is NaN (for example a constant parameter) or there are no
// draws, so that a comparison "MaxRHat() < 1.01" fails safe.
func (r *Result) MaxRHat() float64 {
	if r.dim() == 0 {
		return math.NaN()
	}
	m := math.Inf(-1)
	for j := range r.dim() {
		v := RHat(r.Param(j))
		if math.IsNaN(v) {
			return math.NaN()
		}
		m = max(m, v)
	}
	return m
}

// MinESSBulk returns the smallest ESSBulk over the parameters. It is NaN if
// any parameter's ESS is NaN or there are no draws.
func (r *Result) MinESSBulk() float64 {
	if r.dim() == 0 {
		return math.NaN()
	}
	m := math.Inf(1)
	for j := range r.dim() {
		v := ESSBulk(r.Param(j))
		if math.IsNaN(v) {
			return math.NaN()
		}
		m = min(m, v)
	}
	return m
}

// Summarize computes the ParamSummary of one parameter's draws, given as
// [chain][draw].
func Summarize(chains [][]float64) ParamSummary {
	pooled := pool(chains)
	mean, sd := meanSD(pooled)
	sorted := slices.Clone(pooled)
	slices.Sort(sorted)
	s := ParamSummary{
		Mean:    mean,
		SD:      sd,
		Q05:     quantileSorted(sorted, 0.05),
		Q50:     quantileSorted(sorted, 0.5),
		Q95:     quantileSorted(sorted, 0.95),
		RHat:    RHat(chains),
		ESSBulk: ESSBulk(chains),
		ESSTail: ESSTail(chains),
	}
	s.MCSE = sd / math.Sqrt(essMean(chains))
	return s
}

// RHat returns the rank-normalized split-R̂ of Vehtari et al. (2021),
// equation (4) applied to ranks: the maximum of the bulk R̂ (computed on the
// normal scores of the pooled fractional ranks) and the tail R̂ (the same on
// the folded draws |x − median(x)|). Each chain is split into halves first,
// dropping the middle draw of an odd-length chain. For M split chains of N
// draws with means θ̄_m and variances s²_m,
//
//	B = N·var(θ̄_m),  W = mean(s²_m),  R̂ = √(((N−1)/N·W + B/N) / W).
//
// Values above 1.01 indicate that the chains have not mixed. RHat is NaN
// when the chains have unequal lengths or fewer than 4 draws, when any draw
// is not finite, or when all draws are equal.
func RHat(chains [][]float64) float64 {
	if !diagnosable(chains, 4) {
		return math.NaN()
	}
	bulk := rhatBasic(zScale(splitChains(chains)))
	tail := rhatBasic(zScale(splitChains(fold(chains))))
	return max(bulk, tail) // NaN-propagating
}

// ESSBulk returns the bulk effective sample size of Vehtari et al. (2021):
// the ESS (see essBasic) of the split chains after rank normalization (ranks
// are taken over the split chains, so the middle draw of an odd-length chain
// is left out, as in the posterior R package). It is
// NaN under the same conditions as RHat.
func ESSBulk(chains [][]float64) float64 {
	if !diagnosable(chains, 4) {
		return math.NaN()
	}
	return essBasic(zScale(splitChains(chains)))
}

// ESSTail returns the tail effective sample size of Vehtari et al. (2021):
// the smaller of the ESS of the split-chain indicators I(x ≤ q₀.₀₅) and
// I(x ≤ q₀.₉₅), where q_p are the pooled type-7 quantiles. It tells how well
// the 5% and 95% quantiles are estimated. It is NaN under the same
// conditions as RHat.
func ESSTail(chains [][]float64) float64 {
	if !diagnosable(chains, 4) {
		return math.NaN()
	}
	sorted := pool(chains)
	slices.Sort(sorted)
	lo := essBasic(splitChains(indicator(chains, quantileSorted(sorted, 0.05))))
	hi := essBasic(splitChains(indicator(chains, quantileSorted(sorted, 0.95))))
	return min(lo, hi)
}

// essMean is the ESS of the split chains without rank normalization, used
// for the MCSE of the mean.
func essMean(chains [][]float64) float64 {
	if !diagnosable(chains, 4) {
		return math.NaN()
	}
	return essBasic(splitChains(chains))
}

// EBFMI returns the energy Bayesian fraction of missing information of one
// chain's Hamiltonian values E_1..E_N at the selected states (Betancourt
// 2016, equation (16)):
//
//	E-BFMI = Σ_{n=2}^{N} (E_n − E_{n−1})² / Σ_{n=1}^{N} (E_n − Ē)².
//
// Values below 0.3 suggest that momentum resampling cannot explore the
// marginal energy distribution. It is NaN for fewer than 2 values or
// constant energies.
func EBFMI(energy []float64) float64 {
	if len(energy) < 2 {
		return math.NaN()
	}
	mean := 0.0
	for _, e := range energy {
		mean += e
	}
	mean /= float64(len(energy))
	var num, den float64
	for i, e := range energy {
		den += (e - mean) * (e - mean)
		if i > 0 {
			d := e - energy[i-1]
			num += d * d
		}
	}
	if den == 0 {
		return math.NaN()
	}
	return num / den
}

// diagnosable reports whether chains all have the same length ≥ minDraws,
// hold finite values only and are not all equal.
func diagnosable(chains [][]float64, minDraws int) bool {
	if len(chains) == 0 {
		return false
	}
	n := len(chains[0])
	if n < minDraws {
		return false
	}
	first := chains[0][0]
	constant := true
	for _, c := range chains {
		if len(c) != n {
			return false
		}
		for _, x := range c {
			if !finite(x) {
				return false
			}
			if x != first {
				constant = false
			}
		}
	}
	return !constant
}

// splitChains splits each chain into its first and second half, dropping
// the middle draw when the length is odd. The halves alias the input.
func splitChains(chains [][]float64) [][]float64 {
	out := make([][]float64, 0, 2*len(chains))
	for _, c := range chains {
		half := len(c) / 2
		out = append(out, c[:half], c[len(c)-half:])
	}
	return out
}

// fold returns |x − median(x)|, with the median of the pooled draws.
func fold(chains [][]float64) [][]float64 {
	sorted := pool(chains)
	slices.Sort(sorted)
	med := quantileSorted(sorted, 0.5)
	out := make([][]float64, len(chains))
	for c, ch := range chains {
		f := make([]float64, len(ch))
		for i, x := range ch {
			f[i] = math.Abs(x - med)
		}
		out[c] = f
	}
	return out
}

// indicator returns I(x ≤ q) as 0/1 values.
func indicator(chains [][]float64, q float64) [][]float64 {
	out := make([][]float64, len(chains))
	for c, ch := range chains {
		f := make([]float64, len(ch))
		for i, x := range ch {
			if x <= q {
				f[i] = 1
			}
		}
		out[c] = f
	}
	return out
}

// zScale replaces each draw by the normal score of its fractional rank over
// all S pooled draws (Vehtari et al. 2021, equation (14), Blom's offset):
//
//	z = Φ⁻¹((r − 3/8) / (S + 1/4)),
//
// where tied draws get the average of their ranks.
func zScale(chains [][]float64) [][]float64 {
	pooled := pool(chains)
	ranks := fractionalRanks(pooled)
	s := float64(len(pooled))
	out := make([][]float64, len(chains))
	k := 0
	for c, ch := range chains {
		z := make([]float64, len(ch))
		for i := range ch {
			z[i] = distuv.UnitNormal.Quantile((ranks[k] - 0.375) / (s + 0.25))
			k++
		}
		out[c] = z
	}
	return out
}

// fractionalRanks returns the 1-based ranks of x, ties receiving the mean of
// the ranks they span.
func fractionalRanks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	ranks := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && x[idx[j]] == x[idx[i]] {
			j++
		}
		r := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			ranks[idx[k]] = r
		}
		i = j
	}
	return ranks
}

// rhatBasic is the potential scale reduction factor of Gelman & Rubin
// (1992) in the form of Vehtari et al. (2021), equations (1)–(4), on chains
// that are already split.
func rhatBasic(chains [][]float64) float64 {
	m := len(chains)
	n := float64(len(chains[0]))
	if m < 2 || n < 2 {
		return math.NaN()
	}
	means := make([]float64, m)
	var w float64
	for c, ch := range chains {
		mu, sd := meanSD(ch)
		means[c] = mu
		w += sd * sd
	}
	w /= float64(m)
	_, sdMeans := meanSD(means)
	b := n * sdMeans * sdMeans
	if w == 0 {
		return math.NaN()
	}
	return math.Sqrt(((n-1)/n*w + b/n) / w)
}

// essBasic is the effective sample size of Vehtari et al. (2021), section
// 3.2, as computed by Stan and the posterior R package, on M chains of N
// draws (already split when wanted). With per-chain autocovariances ĉ_{m,t}
// (denominator N), W = mean_m ĉ_{m,0}·N/(N−1) and
// var⁺ = (N−1)/N·W + var(chain means),
//
//	ρ̂_t = 1 − (W − mean_m ĉ_{m,t}) / var⁺.
//
// The sums P_k = ρ̂_{2k} + ρ̂_{2k+1} are truncated at the first negative one
// and made monotone (Geyer 1992, initial monotone sequence); then
// τ̂ = −1 + 2·Σ_{t≤T} ρ̂_t + ρ̂_{T+1} (the last term only if positive),
// bounded below by 1/log₁₀(MN), and ESS = MN/τ̂.
func essBasic(chains [][]float64) float64 {
	m := len(chains)
	n := len(chains[0])
	if n < 3 {
		return math.NaN()
	}
	acov := make([][]float64, m)
	means := make([]float64, m)
	ws := newAutocov(n)
	var meanVar float64
	for c, ch := range chains {
		acov[c] = ws.autocov(ch)
		means[c], _ = meanSD(ch)
		meanVar += acov[c][0]
	}
	nf := float64(n)
	meanVar = meanVar / float64(m) * nf / (nf - 1)
	varPlus := meanVar * (nf - 1) / nf
	if m > 1 {
		_, sd := meanSD(means)
		varPlus += sd * sd
	}
	rhoAt := func(t int) float64 {
		var s float64
		for c := range acov {
			s += acov[c][t]
		}
		return 1 - (meanVar-s/float64(m))/varPlus
	}

	rho := make([]float64, n)
	rho[0] = 1
	rhoEven, rhoOdd := 1.0, rhoAt(1)
	rho[1] = rhoOdd
	// Geyer's initial positive sequence.
	t := 0
	for t < n-5 && !math.IsNaN(rhoEven+rhoOdd) && rhoEven+rhoOdd > 0 {
		t += 2
		rhoEven, rhoOdd = rhoAt(t), rhoAt(t+1)
		if rhoEven+rhoOdd >= 0 {
			rho[t], rho[t+1] = rhoEven, rhoOdd
		}
	}
	maxT := t
	if rhoEven > 0 {
		rho[maxT] = rhoEven
	}
	// Geyer's initial monotone sequence.
	for t = 0; t <= maxT-4; {
		t += 2
		if rho[t]+rho[t+1] > rho[t-2]+rho[t-1] {
			rho[t] = (rho[t-2] + rho[t-1]) / 2
			rho[t+1] = rho[t]
		}
	}
	total := float64(m * n)
	tau := -1.0 + rho[maxT]
	for _, r := range rho[:maxT] {
		tau += 2 * r
	}
	tau = max(tau, 1/math.Log10(total))
	return total / tau
}

// autocovWorkspace computes autocovariances by FFT with buffers reused
// across chains of the same length.
type autocovWorkspace struct {
	n     int
	fft   *fourier.FFT
	buf   []float64
	coeff []complex128
}

func newAutocov(n int) *autocovWorkspace {
	size := 1
	for size < 2*n {
		size *= 2
	}
	return &autocovWorkspace{n: n, fft: fourier.NewFFT(size), buf: make([]float64, size), coeff: make([]complex128, size/2+1)}
}

// autocov returns ĉ_t = (1/N)·Σ_{i<N−t} (x_i − x̄)(x_{i+t} − x̄) for
// t = 0..N−1, via the Wiener–Khinchin theorem on the zero-padded series.
func (w *autocovWorkspace) autocov(x []float64) []float64 {
	mean, _ := meanSD(x)
	clear(w.buf)
	for i, v := range x {
		w.buf[i] = v - mean
	}
	w.fft.Coefficients(w.coeff, w.buf)
	for i, c := range w.coeff {
		w.coeff[i] = complex(real(c)*real(c)+imag(c)*imag(c), 0)
	}
	w.fft.Sequence(w.buf, w.coeff)
	out := make([]float64, w.n)
	scale := 1 / (float64(len(w.buf)) * float64(w.n))
	for t := range out {
		out[t] = w.buf[t] * scale
	}
	return out
}

// pool concatenates the chains into a new slice.
func pool(chains [][]float64) []float64 {
	var n int
	for _, c := range chains {
		n += len(c)
	}
	out := make([]float64, 0, n)
	for _, c := range chains {
		out = append(out, c...)
	}
	return out
}

// meanSD returns the mean and the standard deviation with denominator
// n−1 (NaN for n < 2), using two passes for accuracy.
func meanSD(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return math.NaN(), math.NaN()
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}

// quantileSorted returns the p-quantile of sorted data by linear
// interpolation between order statistics (type 7 of Hyndman & Fan 1996, R's
// default): h = (n−1)·p, Q = x_⌊h⌋ + (h − ⌊h⌋)·(x_⌊h⌋+1 − x_⌊h⌋). It is NaN
// for empty input.
func quantileSorted(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := float64(n-1) * p
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
