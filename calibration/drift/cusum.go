package drift

import (
	"fmt"
	"math"
)

// CUSUMConfig configures a CUSUM detector. Start from DefaultCUSUMConfig.
type CUSUMConfig struct {
	// K is the reference value (slack) k, in units of the in-control σ. Default 0.5, which tunes
	// the chart to a 1σ shift.
	K float64
	// H is the decision interval h, in units of the in-control σ. Default 11, chosen so that the
	// in-control ARL matches Page-Hinkley's default (≈ 10⁵ samples). At k = 0.5 the textbook
	// one-sided in-control ARL is about 465 for h = 5 and the two-sided one half of that: far
	// too many false alarms for a calibrator. In BenchmarkEvaluate (N(0,1), 30 seeds) River's
	// setting (h = 5, 30 warm-up samples) raised 14 false alarms per 10⁴ samples (one per ≈ 700);
	// h = 11 with 250 warm-up samples raised 0.08 per 10⁴ (one per ≈ 1.3·10⁵), and 0.06 per 10⁴
	// (≈ 1.8·10⁵) with a known reference, in line with Siegmund's approximation of the two-sided
	// ARL₀ (≈ 1.9·10⁵). It caught 1σ shifts after 18 samples on average (at most 41) and 2σ
	// after 6; 0.5σ shifts, for which z − k has zero drift, took 244 on average (at most 912):
	// use K = 0.25 (and a larger H) to watch for shifts that small.
	H float64
	// Warmup is the number of samples used to estimate the reference mean μ₀ and σ₀ after each
	// (re)start; the estimates are then frozen. Default 250, which puts σ̂₀ within about ±9 %
	// and μ̂₀ within ±0.12σ (95 %). Most false alarms follow a warm-up whose σ̂₀ came out low:
	// with 100 warm-up samples (River uses 30) the same H gave one false alarm per ≈ 8·10⁴
	// samples instead of ≈ 1.3·10⁵. Ignored when Sigma > 0.
	Warmup int
	// Mean is the known in-control mean μ₀, used only when Sigma > 0.
	Mean float64
	// Sigma is the known in-control standard deviation σ₀. When > 0 there is no warm-up and
	// Mean and Sigma are the reference; for standardized residuals use Mean 0 and Sigma 1.
	// Default 0 (estimate during warm-up).
	Sigma float64
	// Mode selects the direction(s) watched. Default Both.
	Mode Mode
}

// DefaultCUSUMConfig returns the defaults documented on CUSUMConfig.
func DefaultCUSUMConfig() CUSUMConfig {
	return CUSUMConfig{K: 0.5, H: 11, Warmup: 250, Mode: Both}
}

// Validate reports the first invalid field, naming it and saying why.
func (c CUSUMConfig) Validate() error {
	switch {
	case !(c.K >= 0) || math.IsInf(c.K, 0):
		return fmt.Errorf("invalid CUSUMConfig.K %v: must be finite and >= 0", c.K)
	case !(c.H > 0) || math.IsInf(c.H, 0):
		return fmt.Errorf("invalid CUSUMConfig.H %v: must be finite and > 0", c.H)
	case !(c.Sigma >= 0) || math.IsInf(c.Sigma, 0):
		return fmt.Errorf("invalid CUSUMConfig.Sigma %v: must be finite and >= 0", c.Sigma)
	case math.IsNaN(c.Mean) || math.IsInf(c.Mean, 0):
		return fmt.Errorf("invalid CUSUMConfig.Mean %v: must be finite", c.Mean)
	case c.Sigma == 0 && c.Warmup < 2:
		return fmt.Errorf("invalid CUSUMConfig.Warmup %d: must be >= 2 when Sigma is 0", c.Warmup)
	case !c.Mode.valid():
		return fmt.Errorf("invalid CUSUMConfig.Mode %d: must be Both, Up or Down", c.Mode)
	}
	return nil
}

// CUSUM is the tabular (two one-sided) cumulative-sum chart of Page (1954, "Continuous
// inspection schemes", Biometrika 41) in the form of Montgomery, "Introduction to Statistical
// Quality Control", §9.1. With z_t = (x_t − μ₀)/σ₀,
//
//	C⁺_t = max(0, C⁺_{t−1} + z_t − k),  C⁻_t = max(0, C⁻_{t−1} − z_t − k),  C⁺_0 = C⁻_0 = 0,
//
// and an alarm is raised when C⁺_t ≥ h or C⁻_t ≥ h. Because z is standardized, k and h are in σ
// units and the chart is scale-free. N⁺ (N⁻) counts the consecutive samples with C⁺ > 0
// (C⁻ > 0); the change is estimated to start N⁺ samples before the alarm, and the new mean
// (Montgomery eq. 9.7) is μ₀ + σ₀(k + C⁺/N⁺), or μ₀ − σ₀(k + C⁻/N⁻) for a decrease.
//
// μ₀ and σ₀ are either given (CUSUMConfig.Sigma > 0) or estimated from the first Warmup samples
// after each (re)start and then frozen. If the warm-up samples are all equal (σ̂ = 0) the
// warm-up is extended until they are not. After an alarm the next Update restarts: both sums go
// to 0 and, unless the reference is known, a new warm-up begins.
type CUSUM struct {
	cfg CUSUMConfig

	n     int
	alarm bool

	// warm-up (Welford)
	wn      int
	wm, wm2 float64
	mu, sd  float64
	frozen  bool
	cp, cm  float64
	np, nm  int
	stat    float64
	mag     float64
	change  int
}

// NewCUSUM returns a CUSUM detector, or an error if cfg is invalid.
func NewCUSUM(cfg CUSUMConfig) (*CUSUM, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cannot build CUSUM detector: %w", err)
	}
	d := &CUSUM{cfg: cfg}
	d.Reset()
	return d, nil
}

// Reset forgets all state, including the sample counter and an estimated reference.
func (d *CUSUM) Reset() {
	d.n = 0
	d.restart()
	d.change, d.mag = -1, 0
}

func (d *CUSUM) restart() {
	d.alarm = false
	d.wn, d.wm, d.wm2 = 0, 0, 0
	d.cp, d.cm, d.np, d.nm, d.stat = 0, 0, 0, 0, 0
	d.frozen = d.cfg.Sigma > 0
	if d.frozen {
		d.mu, d.sd = d.cfg.Mean, d.cfg.Sigma
	}
}

// Update feeds x and reports whether it raised an alarm. NaN samples are ignored.
func (d *CUSUM) Update(x float64) bool {
	if math.IsNaN(x) {
		return false
	}
	if d.alarm {
		d.restart()
	}
	t := d.n
	d.n++
	if !d.frozen {
		d.wn++
		delta := x - d.wm
		d.wm += delta / float64(d.wn)
		d.wm2 += delta * (x - d.wm)
		if d.wn >= d.cfg.Warmup && d.wm2 > 0 {
			d.mu, d.sd = d.wm, math.Sqrt(d.wm2/float64(d.wn-1))
			d.frozen = true
		}
		return false
	}
	z := (x - d.mu) / d.sd
	k := d.cfg.K
	d.cp = max(0, d.cp+z-k)
	d.cm = max(0, d.cm-z-k)
	if d.cp > 0 {
		d.np++
	} else {
		d.np = 0
	}
	if d.cm > 0 {
		d.nm++
	} else {
		d.nm = 0
	}
	up, dn := d.cp, d.cm
	switch d.cfg.Mode {
	case Up:
		dn = 0
	case Down:
		up = 0
	}
	d.stat = max(up, dn)
	switch {
	case up >= d.cfg.H && up >= dn:
		d.alarm = true
		d.change = t - d.np + 1
		d.mag = d.sd * (k + d.cp/float64(d.np))
	case dn >= d.cfg.H:
		d.alarm = true
		d.change = t - d.nm + 1
		d.mag = -d.sd * (k + d.cm/float64(d.nm))
	}
	return d.alarm
}

// Statistic returns max(C⁺, C⁻) over the watched directions, in σ units.
func (d *CUSUM) Statistic() float64 { return d.stat }

// Threshold returns h, in σ units.
func (d *CUSUM) Threshold() float64 { return d.cfg.H }

// Magnitude returns the estimated mean shift of the last alarm, in data units.
func (d *CUSUM) Magnitude() float64 { return d.mag }

// ChangeIndex returns the estimated first sample of the new regime for the last alarm, or -1.
func (d *CUSUM) ChangeIndex() int { return d.change }

// Reference returns the frozen reference mean and standard deviation, and whether they are set
// (false during warm-up).
func (d *CUSUM) Reference() (mean, sigma float64, ok bool) { return d.mu, d.sd, d.frozen }
