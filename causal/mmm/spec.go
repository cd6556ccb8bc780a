package mmm

import (
	"errors"
	"fmt"
	"math"
)

// ChannelSpec describes one paid media channel.
type ChannelSpec struct {
	// Name labels the channel in parameter names and reports.
	Name string
	// Adstock is the carryover kernel. Default Geometric.
	Adstock AdstockKind
	// MaxLag is PyMC-Marketing's l_max, in periods: the Geometric kernel
	// has MaxLag weights (lags 0..MaxLag−1), the WeibullCDF kernel
	// MaxLag+1 (lags 0..MaxLag). Must be ≥ 1.
	MaxLag int
	// Saturation is the shape curve. Default Hill.
	Saturation SaturationKind
}

// Spec is the model's structure.
type Spec struct {
	// Channels describes the media channels, in the order of Data.Spend.
	Channels []ChannelSpec
	// Trend adds a linear trend b₁·τ_t with τ_t = t/(T−1) − ½ ∈ [−½, ½],
	// centred so that the intercept is the baseline at mid-series.
	Trend bool
	// Harmonics is the number K of Fourier harmonics of the seasonality;
	// 0 disables seasonality.
	Harmonics int
	// Period is the seasonal period P in periods (52.1775 for weekly data
	// with yearly seasonality, 365.25 for daily data). Required when
	// Harmonics > 0.
	Period float64
	// Priors overrides DefaultPriors when non-nil.
	Priors *Priors
}

// Priors are the prior distributions, all on the scaled data (see
// Scaling): the target is divided by max|y|, each channel's spend by its
// maximum and each control by its maximum absolute value. The Beta, Gamma
// and most Normal and half-normal priors follow PyMC-Marketing's
// documented defaults (BetaSD is tighter, see there); the log-normal
// priors are ours and are stated on the log of the parameter.
type Priors struct {
	// InterceptMean and InterceptSD: intercept b₀ ~ Normal(mean, sd).
	// Default Normal(0, 2), as PyMC-Marketing.
	InterceptMean, InterceptSD float64
	// TrendSD: trend slope b₁ ~ Normal(0, sd) per unit of τ (the whole
	// series). Default 1.
	TrendSD float64
	// SeasonSD: every Fourier coefficient ~ Normal(0, sd). Default 1.
	SeasonSD float64
	// ControlSD: every control coefficient γ_c ~ Normal(0, sd). Default 2,
	// as PyMC-Marketing.
	ControlSD float64
	// BetaSD: channel coefficient β_m ~ HalfNormal(sd), the channel's
	// contribution at full saturation on the max-scaled target. Default 0.5
	// (PyMC-Marketing uses 2): a single channel adding more than the
	// largest observed outcome at saturation is implausible, and the wider
	// prior lets an always-on channel, which the data cannot separate from
	// the intercept, claim up to twice the outcome.
	BetaSD float64
	// SigmaSD: noise σ ~ HalfNormal(sd). Default 2, as PyMC-Marketing.
	SigmaSD float64
	// AlphaA and AlphaB: geometric decay α ~ Beta(a, b). Default Beta(1, 3),
	// as PyMC-Marketing.
	AlphaA, AlphaB float64
	// WeibullShapeLogMean and WeibullShapeLogSD: Weibull shape
	// ln k ~ Normal(mean, sd). Default Normal(ln 1.5, 0.5).
	WeibullShapeLogMean, WeibullShapeLogSD float64
	// WeibullScaleLogMean and WeibullScaleLogSD: Weibull scale (periods)
	// ln λ ~ Normal(mean, sd). Default Normal(ln 2, 0.75).
	WeibullScaleLogMean, WeibullScaleLogSD float64
	// HillKLogMean and HillKLogSD: Hill half-saturation point (on the
	// max-scaled adstocked spend) ln K ~ Normal(mean, sd). Default
	// Normal(ln 0.5, 0.75): half saturation at half the peak spend, within
	// a factor ≈ 3.4 with 90% probability.
	HillKLogMean, HillKLogSD float64
	// HillSLogMean and HillSLogSD: Hill slope ln S ~ Normal(mean, sd).
	// Default Normal(ln 1.5, 0.5).
	HillSLogMean, HillSLogSD float64
	// LogisticShape and LogisticRate: logistic λ ~ Gamma(shape, rate).
	// Default Gamma(3, 1), as PyMC-Marketing.
	LogisticShape, LogisticRate float64
}

// DefaultPriors returns the weakly informative default priors documented
// on Priors.
func DefaultPriors() Priors {
	return Priors{
		InterceptMean: 0, InterceptSD: 2,
		TrendSD:   1,
		SeasonSD:  1,
		ControlSD: 2,
		BetaSD:    0.5,
		SigmaSD:   2,
		AlphaA:    1, AlphaB: 3,
		WeibullShapeLogMean: math.Log(1.5), WeibullShapeLogSD: 0.5,
		WeibullScaleLogMean: math.Log(2), WeibullScaleLogSD: 0.75,
		HillKLogMean: math.Log(0.5), HillKLogSD: 0.75,
		HillSLogMean: math.Log(1.5), HillSLogSD: 0.5,
		LogisticShape: 3, LogisticRate: 1,
	}
}

// Validate reports the first prior hyperparameter that is not usable.
func (p Priors) Validate() error {
	pos := []struct {
		name string
		v    float64
	}{
		{"InterceptSD", p.InterceptSD}, {"TrendSD", p.TrendSD}, {"SeasonSD", p.SeasonSD},
		{"ControlSD", p.ControlSD}, {"BetaSD", p.BetaSD}, {"SigmaSD", p.SigmaSD},
		{"AlphaA", p.AlphaA}, {"AlphaB", p.AlphaB},
		{"WeibullShapeLogSD", p.WeibullShapeLogSD}, {"WeibullScaleLogSD", p.WeibullScaleLogSD},
		{"HillKLogSD", p.HillKLogSD}, {"HillSLogSD", p.HillSLogSD},
		{"LogisticShape", p.LogisticShape}, {"LogisticRate", p.LogisticRate},
	}
	for _, c := range pos {
		if !(c.v > 0) || math.IsInf(c.v, 0) {
			return fmt.Errorf("prior %s = %v must be positive and finite", c.name, c.v)
		}
	}
	return nil
}

// Data is one geography's time series, T periods.
type Data struct {
	// Y is the outcome (KPI) per period, length T.
	Y []float64
	// Spend is Spend[m][t], the non-negative spend of channel m in period
	// t; one row per Spec.Channels entry.
	Spend [][]float64
	// Controls is Controls[c][t], the value of control c in period t.
	Controls [][]float64
}

// Scaling holds the max-abs scale factors the model divides the data by,
// as PyMC-Marketing's MaxAbsScaler: max|y| for the target, the maximum
// spend of each channel, the maximum absolute value of each control (1 if
// the control is identically 0). Max-abs scaling keeps zero at zero, which
// adstock and saturation need, and maps the observed spend range to [0, 1]
// so that priors on the half-saturation point mean something.
type Scaling struct {
	// Y is max_t |y_t|.
	Y float64
	// Spend is max_t x_{t,m} per channel.
	Spend []float64
	// Controls is max_t |z_{t,c}| per control.
	Controls []float64
}

// NewScaling computes the max-abs scale factors of d. It fails when the
// target is identically zero or a channel never spends.
func NewScaling(d Data) (Scaling, error) {
	s := Scaling{Y: maxAbs(d.Y)}
	if !(s.Y > 0) || math.IsInf(s.Y, 0) {
		return Scaling{}, errors.New("cannot scale target: max|y| is zero or not finite")
	}
	for m, x := range d.Spend {
		v := maxAbs(x)
		if !(v > 0) || math.IsInf(v, 0) {
			return Scaling{}, fmt.Errorf("cannot scale channel %d: it never spends or spend is not finite", m)
		}
		s.Spend = append(s.Spend, v)
	}
	for _, z := range d.Controls {
		v := maxAbs(z)
		if v == 0 {
			v = 1
		}
		s.Controls = append(s.Controls, v)
	}
	return s, nil
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	return m
}

// LiftTest is the result of a lift (incrementality) experiment on one
// channel, in the data's original units, as PyMC-Marketing's
// add_lift_test_measurements takes it: the channel's per-period spend
// moved from Spend to Spend + DeltaSpend during the test, and the
// per-period outcome moved by DeltaY, measured with standard error SE.
//
// The model-implied lift is the steady-state one of PyMC-Marketing:
//
//	Δy(θ) = s_y · β_m · [Sat_m((x + Δx)/s_m) − Sat_m(x/s_m)],
//
// where s_y, s_m are the scale factors. With normalized adstock weights,
// spend held at x for longer than the kernel makes the adstocked spend
// equal x, so this is exact for tests longer than MaxLag. The test adds
// the likelihood term DeltaY ~ Normal(Δy(θ), SE). (PyMC-Marketing's
// default is a Gamma on |DeltaY| with mean |Δy(θ)|; the Normal also
// accepts a measured lift of zero or of the "wrong" sign, which real tests
// produce.)
type LiftTest struct {
	// Channel is the index of the channel in Spec.Channels.
	Channel int
	// Spend is the per-period spend x before the test.
	Spend float64
	// DeltaSpend is the per-period spend change Δx during the test.
	DeltaSpend float64
	// DeltaY is the measured per-period outcome change.
	DeltaY float64
	// SE is the standard error of DeltaY; must be positive.
	SE float64
}

// validate checks the spec against the data.
func (s Spec) validate(d Data) error {
	T := len(d.Y)
	if T < 3 {
		return fmt.Errorf("need at least 3 periods, got %d", T)
	}
	if len(s.Channels) == 0 {
		return errors.New("need at least one channel")
	}
	if len(d.Spend) != len(s.Channels) {
		return fmt.Errorf("data has %d spend series for %d channels", len(d.Spend), len(s.Channels))
	}
	for m, c := range s.Channels {
		if c.Adstock != Geometric && c.Adstock != WeibullCDF {
			return fmt.Errorf("channel %q: unknown adstock kind %d", c.Name, int(c.Adstock))
		}
		if c.Saturation != Hill && c.Saturation != Logistic {
			return fmt.Errorf("channel %q: unknown saturation kind %d", c.Name, int(c.Saturation))
		}
		if c.MaxLag < 1 {
			return fmt.Errorf("channel %q: MaxLag = %d, need ≥ 1", c.Name, c.MaxLag)
		}
		if len(d.Spend[m]) != T {
			return fmt.Errorf("channel %q: %d spend values for %d periods", c.Name, len(d.Spend[m]), T)
		}
		for t, v := range d.Spend[m] {
			if !(v >= 0) || math.IsInf(v, 0) {
				return fmt.Errorf("channel %q: spend[%d] = %v, need finite and ≥ 0", c.Name, t, v)
			}
		}
	}
	for c, z := range d.Controls {
		if len(z) != T {
			return fmt.Errorf("control %d: %d values for %d periods", c, len(z), T)
		}
		for t, v := range z {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("control %d: value[%d] = %v is not finite", c, t, v)
			}
		}
	}
	for t, v := range d.Y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("y[%d] = %v is not finite", t, v)
		}
	}
	if s.Harmonics < 0 {
		return fmt.Errorf("Harmonics = %d, need ≥ 0", s.Harmonics)
	}
	if s.Harmonics > 0 && !(s.Period > 0) {
		return fmt.Errorf("Period = %v, need > 0 with %d harmonics", s.Period, s.Harmonics)
	}
	if s.Priors != nil {
		if err := s.Priors.Validate(); err != nil {
			return err
		}
	}
	return nil
}
