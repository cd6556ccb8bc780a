package drift

import (
	"fmt"
	"math"
)

// RateResidual returns the standardized residual of an observed rate k/n against an expected
// rate p0, the binomial z-score
//
//	z = (k/n − p0) / sqrt(p0·(1 − p0)/n),
//
// which is approximately N(0, 1) when the rate is p0 and n·p0·(1 − p0) is not small (say ≥ 10;
// for rarer events the distribution is skewed and a detector's false-alarm rate rises above the
// N(0,1) figures quoted in this package). Because the residual is in standard-error units,
// detector thresholds tuned on N(0,1) streams apply whatever the daily volume n; a drop of the
// rate by Δ shows as a mean shift of −Δ·sqrt(n/(p0(1−p0))) σ, so bigger days reveal a given drop
// sooner.
//
// Special cases: it returns NaN when n ≤ 0, k < 0 or k > n (no information, skip the day), and
// when p0 is not in (0, 1) (the residual is undefined: a degenerate reference rate).
func RateResidual(k, n, p0 float64) float64 {
	if !(n > 0) || !(k >= 0) || k > n || !(p0 > 0 && p0 < 1) {
		return math.NaN()
	}
	return (k/n - p0) / math.Sqrt(p0*(1-p0)/n)
}

// BernoulliConfig configures a Bernoulli rate monitor.
type BernoulliConfig struct {
	// P0 is the in-control rate in (0, 1). If 0, it is estimated as the pooled rate Σk/Σn of
	// the first WarmupDays observations (with at least one success and one failure).
	P0 float64
	// WarmupDays is the number of observations pooled to estimate P0 when P0 is 0. Default 28.
	// With equal daily volumes the estimate's error, in units of one day's standard error, has
	// standard deviation 1/sqrt(WarmupDays): 0.19 for 28 days, 0.27 for 14. That error is a
	// constant offset of every residual, which Page-Hinkley's δ = 0.25 or CUSUM's k = 0.5 must
	// absorb; a longer warm-up, or a P0 from the calibrator itself, keeps false alarms near the
	// N(0,1) figures.
	WarmupDays int
}

// DefaultBernoulliConfig returns a config that estimates P0 over 28 observations.
func DefaultBernoulliConfig() BernoulliConfig { return BernoulliConfig{WarmupDays: 28} }

// Validate reports the first invalid field, naming it and saying why.
func (c BernoulliConfig) Validate() error {
	switch {
	case !(c.P0 >= 0 && c.P0 < 1):
		return fmt.Errorf("invalid BernoulliConfig.P0 %v: must be in (0, 1), or 0 to estimate it", c.P0)
	case c.P0 == 0 && c.WarmupDays < 1:
		return fmt.Errorf("invalid BernoulliConfig.WarmupDays %d: must be >= 1 when P0 is 0", c.WarmupDays)
	}
	return nil
}

// Bernoulli feeds a real-valued Detector with the standardized rate residuals (RateResidual) of
// aggregated Bernoulli moments: one (successes k, trials n) pair per period, e.g. conversions and
// exposures of a segment per day. Pair it with a CUSUM whose reference is known (Mean 0, Sigma 1)
// so that no warm-up is spent re-estimating what the residual already standardizes, or with
// Page-Hinkley, whose δ and λ then read in standard errors.
//
// Periods with n = 0 are skipped and the P0 warm-up periods are not fed either: the Detector's
// sample indices count fed periods only, so with an estimated P0 and no empty period, period =
// ChangeIndex + WarmupDays.
type Bernoulli struct {
	cfg BernoulliConfig
	det Detector

	p0     float64
	sk, sn float64
	seen   int
}

// NewBernoulli returns a rate monitor feeding det, or an error if cfg is invalid.
func NewBernoulli(cfg BernoulliConfig, det Detector) (*Bernoulli, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot build Bernoulli rate monitor: %w", err)
	}
	if det == nil {
		return nil, fmt.Errorf("cannot build Bernoulli rate monitor: nil detector")
	}
	return &Bernoulli{cfg: cfg, det: det, p0: cfg.P0}, nil
}

// Observe feeds one period of k successes out of n trials and reports whether the detector
// alarmed. During P0 estimation it only accumulates and returns false.
func (b *Bernoulli) Observe(k, n int) bool {
	if n <= 0 {
		return false
	}
	if b.p0 == 0 {
		b.sk += float64(k)
		b.sn += float64(n)
		b.seen++
		if b.seen >= b.cfg.WarmupDays && b.sk > 0 && b.sk < b.sn {
			b.p0 = b.sk / b.sn
		}
		return false
	}
	z := RateResidual(float64(k), float64(n), b.p0)
	if math.IsNaN(z) {
		return false
	}
	return b.det.Update(z)
}

// P0 returns the in-control rate in use, or 0 while it is being estimated.
func (b *Bernoulli) P0() float64 { return b.p0 }

// Detector returns the wrapped detector, for its accessors.
func (b *Bernoulli) Detector() Detector { return b.det }
