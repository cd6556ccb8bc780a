package mmm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// SimChannel is the true data-generating process of one simulated channel.
type SimChannel struct {
	// Name labels the channel.
	Name string
	// Adstock, MaxLag and AdstockParams give the true carryover kernel:
	// AdstockParams is [α] for Geometric, [k, λ] for WeibullCDF.
	Adstock       AdstockKind
	MaxLag        int
	AdstockParams []float64
	// Saturation and SaturationParams give the true curve on the
	// max-scaled adstocked spend: [K, S] for Hill, [λ] for Logistic.
	Saturation       SaturationKind
	SaturationParams []float64
	// ROAS is the true return on ad spend, Σ_t contribution_t / Σ_t spend_t
	// over the simulated periods (carryover past the last period is not
	// counted when setting β). Must be positive.
	ROAS float64
	// MeanSpend is the mean spend of a period in which the channel is on.
	MeanSpend float64
	// Flighted channels alternate bursts of BurstPeriods periods on (spend
	// MeanSpend·e^{BurstSpendSD·N(0,1)}) with DarkPeriods periods off (zero
	// spend); other channels are always on with spend
	// MeanSpend·(1 + 0.1·N(0,1)), which leaves their effect weakly
	// identified against the intercept.
	Flighted bool
	// BurstPeriods and DarkPeriods are the inclusive ranges [min, max] of
	// the lengths of a flighted channel's bursts and dark stretches, each
	// length drawn uniformly. Defaults (zero values) 3–8 and 2–6 periods.
	// Dark stretches longer than the kernel let the data see the carryover
	// decay to zero, which is what identifies a channel against the
	// baseline.
	BurstPeriods, DarkPeriods [2]int
	// BurstSpendSD is the standard deviation of the log of the spend in a
	// burst period around MeanSpend. Default (zero) 0.35. Larger values
	// spread the spend over more of the saturation curve.
	BurstSpendSD float64
}

// SimConfig configures Simulate.
type SimConfig struct {
	// Periods is the number of periods T (e.g. 104 weeks).
	Periods int
	// Channels are the media channels.
	Channels []SimChannel
	// Intercept is the baseline level at mid-series in outcome units.
	Intercept float64
	// Trend is the baseline change over the whole series (b₁ with the
	// centred τ_t = t/(T−1) − ½ of Spec.Trend), in outcome units.
	Trend float64
	// Harmonics and Period give the seasonality; each Fourier coefficient
	// is drawn from Normal(0, SeasonAmp) in outcome units.
	Harmonics int
	Period    float64
	SeasonAmp float64
	// Controls is the number of control series, each N(0, 1) per period
	// with a coefficient drawn from Normal(0, ControlAmp).
	Controls   int
	ControlAmp float64
	// Noise is the standard deviation of ε in outcome units.
	Noise float64
}

// Simulation is simulated data with its known truth.
type Simulation struct {
	// Data is the simulated series.
	Data Data
	// Spec is the matching model structure (true kernels and curves).
	Spec Spec
	// Truth holds the true parameters in the model's scaled units (see
	// Scaling, computed from Data exactly as NewModel does), so that it is
	// directly comparable with posterior draws.
	Truth Params
	// Contribution is the true contribution of each channel per period,
	// in outcome units.
	Contribution [][]float64
	// ROAS is the true ROAS of each channel as Posterior.ROAS defines it
	// (carryover after the last period included).
	ROAS []float64
	// ShareOfOutcome is the true Σ_t contribution / Σ_t y per channel.
	ShareOfOutcome []float64
	// ShareOfMedia is the true Σ_t contribution_m / Σ_{m'} Σ_t
	// contribution_{m'} per channel.
	ShareOfMedia []float64
}

// Simulate draws MMM data from a known truth using rng, so that the same
// seed gives the same data. Each channel's β is set so that its in-sample
// ROAS equals SimChannel.ROAS.
func Simulate(cfg SimConfig, rng *rand.Rand) (*Simulation, error) {
	T := cfg.Periods
	if T < 3 {
		return nil, fmt.Errorf("cannot simulate: need at least 3 periods, got %d", T)
	}
	if len(cfg.Channels) == 0 {
		return nil, errors.New("cannot simulate: no channels")
	}
	if cfg.Harmonics > 0 && !(cfg.Period > 0) {
		return nil, errors.New("cannot simulate: Period must be positive with harmonics")
	}
	sim := &Simulation{}
	spec := Spec{Trend: true, Harmonics: cfg.Harmonics, Period: cfg.Period}
	d := Data{Y: make([]float64, T)}

	// Baseline.
	season := make([]float64, 2*cfg.Harmonics)
	for i := range season {
		season[i] = cfg.SeasonAmp * rng.NormFloat64()
	}
	for t := range d.Y {
		tau := float64(t)/float64(T-1) - 0.5
		v := cfg.Intercept + cfg.Trend*tau
		for k := 1; k <= cfg.Harmonics; k++ {
			arg := 2 * math.Pi * float64(k) * float64(t) / cfg.Period
			v += season[2*k-2]*math.Sin(arg) + season[2*k-1]*math.Cos(arg)
		}
		d.Y[t] = v
	}
	gammas := make([]float64, cfg.Controls)
	for c := range gammas {
		gammas[c] = cfg.ControlAmp * rng.NormFloat64()
		z := make([]float64, T)
		for t := range z {
			z[t] = rng.NormFloat64()
			d.Y[t] += gammas[c] * z[t]
		}
		d.Controls = append(d.Controls, z)
	}

	// Media.
	betaOrig := make([]float64, len(cfg.Channels))
	for ch, c := range cfg.Channels {
		if len(c.AdstockParams) != c.Adstock.numParams() || len(c.SaturationParams) != c.Saturation.numParams() {
			return nil, fmt.Errorf("cannot simulate channel %q: wrong number of kernel or curve parameters", c.Name)
		}
		if !(c.ROAS > 0) || !(c.MeanSpend > 0) || c.MaxLag < 1 {
			return nil, fmt.Errorf("cannot simulate channel %q: need ROAS > 0, MeanSpend > 0, MaxLag ≥ 1", c.Name)
		}
		for _, r := range [][2]int{c.BurstPeriods, c.DarkPeriods} {
			if r != [2]int{} && !(r[0] >= 1 && r[1] >= r[0]) {
				return nil, fmt.Errorf("cannot simulate channel %q: flighting range %v, need 1 ≤ min ≤ max", c.Name, r)
			}
		}
		if c.BurstSpendSD < 0 {
			return nil, fmt.Errorf("cannot simulate channel %q: BurstSpendSD = %v, need ≥ 0", c.Name, c.BurstSpendSD)
		}
		spec.Channels = append(spec.Channels, ChannelSpec{Name: c.Name, Adstock: c.Adstock, MaxLag: c.MaxLag, Saturation: c.Saturation})
		x := simulateSpend(T, c, rng)
		d.Spend = append(d.Spend, x)
		xmax := maxAbs(x)
		xs := make([]float64, T)
		for t := range x {
			xs[t] = x[t] / xmax
		}
		w := kernelWeights(c.Adstock, c.AdstockParams, c.MaxLag)
		a := make([]float64, T)
		Convolve(xs, w, a)
		contrib := make([]float64, T)
		sumSat, sumSpend := 0.0, 0.0
		for t := range a {
			contrib[t] = satValue(c.Saturation, a[t], c.SaturationParams)
			sumSat += contrib[t]
			sumSpend += x[t]
		}
		betaOrig[ch] = c.ROAS * sumSpend / sumSat
		for t := range contrib {
			contrib[t] *= betaOrig[ch]
			d.Y[t] += contrib[t]
		}
		sim.Contribution = append(sim.Contribution, contrib)
	}
	for t := range d.Y {
		d.Y[t] += cfg.Noise * rng.NormFloat64()
	}

	sc, err := NewScaling(d)
	if err != nil {
		return nil, fmt.Errorf("cannot simulate: %w", err)
	}
	tr := Params{
		Intercept: cfg.Intercept / sc.Y,
		Trend:     cfg.Trend / sc.Y,
		Sigma:     cfg.Noise / sc.Y,
	}
	for _, v := range season {
		tr.Season = append(tr.Season, v/sc.Y)
	}
	for c, g := range gammas {
		tr.Controls = append(tr.Controls, g*sc.Controls[c]/sc.Y)
	}
	for ch, c := range cfg.Channels {
		tr.Beta = append(tr.Beta, betaOrig[ch]/sc.Y)
		tr.Adstock = append(tr.Adstock, append([]float64(nil), c.AdstockParams...))
		tr.Saturation = append(tr.Saturation, append([]float64(nil), c.SaturationParams...))
	}
	sim.Data, sim.Spec, sim.Truth = d, spec, tr

	sumY := 0.0
	for _, v := range d.Y {
		sumY += v
	}
	totalMedia := 0.0
	for ch := range cfg.Channels {
		tot := 0.0
		for _, v := range sim.Contribution[ch] {
			tot += v
		}
		totalMedia += tot
		sim.ShareOfOutcome = append(sim.ShareOfOutcome, tot/sumY)
		sim.ShareOfMedia = append(sim.ShareOfMedia, tot)
		xs := make([]float64, T)
		for t, v := range d.Spend[ch] {
			xs[t] = v / sc.Spend[ch]
		}
		inc := incremental(spec.Channels[ch], tr, ch, xs, 1) * sc.Y
		sim.ROAS = append(sim.ROAS, inc/sum(d.Spend[ch]))
	}
	for ch := range sim.ShareOfMedia {
		sim.ShareOfMedia[ch] /= totalMedia
	}
	return sim, nil
}

// simulateSpend draws one channel's spend series.
func simulateSpend(T int, c SimChannel, rng *rand.Rand) []float64 {
	x := make([]float64, T)
	if !c.Flighted {
		for t := range x {
			x[t] = c.MeanSpend * max(0.05, 1+0.1*rng.NormFloat64())
		}
		return x
	}
	burst, dark, sd := c.BurstPeriods, c.DarkPeriods, c.BurstSpendSD
	if burst == [2]int{} {
		burst = [2]int{3, 8}
	}
	if dark == [2]int{} {
		dark = [2]int{2, 6}
	}
	if sd == 0 {
		sd = 0.35
	}
	on := rng.IntN(2) == 0
	for t := 0; t < T; {
		r := dark
		if on {
			r = burst
		}
		n := r[0] + rng.IntN(r[1]-r[0]+1)
		for i := 0; i < n && t < T; i++ {
			if on {
				x[t] = c.MeanSpend * math.Exp(sd*rng.NormFloat64())
			}
			t++
		}
		on = !on
	}
	if maxAbs(x) == 0 { // all off by chance: switch the first period on
		x[0] = c.MeanSpend
	}
	return x
}

// kernelWeights returns the normalized weights of a kernel with
// constrained parameters theta.
func kernelWeights(kind AdstockKind, theta []float64, maxLag int) []float64 {
	if kind == WeibullCDF {
		return WeibullCDFWeights(theta[0], theta[1], maxLag, true)
	}
	return GeometricWeights(theta[0], maxLag, true)
}

func sum(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

// Lift returns the true steady-state lift of channel ch, in outcome units
// per period, when its per-period spend moves from spend to spend + delta:
// β_m·[Sat_m((x + Δx)/s_m) − Sat_m(x/s_m)] (see LiftTest). It is what a
// noiseless lift test of that channel would measure.
func (s *Simulation) Lift(ch int, spend, delta float64) float64 {
	sc, err := NewScaling(s.Data)
	if err != nil {
		panic(err) // Simulate already built this scaling.
	}
	c := s.Spec.Channels[ch]
	th := s.Truth.Saturation[ch]
	x0, x1 := spend/sc.Spend[ch], (spend+delta)/sc.Spend[ch]
	return s.Truth.Beta[ch] * (satValue(c.Saturation, x1, th) - satValue(c.Saturation, x0, th)) * sc.Y
}
