package service

import (
	"math"

	"github.com/preflight-hq/preflight/calibration/drift"
)

// Detector is what the loop needs of a sequential drift detector; every
// detector of calibration/drift has it.
type Detector interface {
	// Update adds one observation and reports whether the detector alarms.
	Update(x float64) bool
	// Statistic is the detector's current statistic.
	Statistic() float64
	// Threshold is the value of Statistic at which it alarms.
	Threshold() float64
	// Magnitude is the estimated size of the change, meaningful after an
	// alarm.
	Magnitude() float64
}

// DetectorFactory makes a fresh detector for one moment stream; Name is
// its detector label ("page_hinkley", "adwin", "cusum").
type DetectorFactory struct {
	Name string
	New  func() Detector
}

// DefaultDetectors returns the detectors run on every residual stream when
// Deps.Detectors is nil: a two-sided tabular CUSUM with the known in-control
// reference of a standardized residual (mean 0, σ 1; k = 0.5, h = 11, no
// warm-up, so it watches from the first day after a snapshot) and a
// Page-Hinkley test with drift's defaults (δ = 0.25, λ = 20, 30 days before
// it may alarm), which also catches slow drifts of the running mean.
func DefaultDetectors() []DetectorFactory {
	return []DetectorFactory{
		{Name: "cusum", New: func() Detector {
			cfg := drift.DefaultCUSUMConfig()
			cfg.Mean, cfg.Sigma = 0, 1
			return must(drift.NewCUSUM(cfg))
		}},
		{Name: "page_hinkley", New: func() Detector {
			return must(drift.NewPageHinkley(drift.DefaultPageHinkleyConfig()))
		}},
	}
}

// must panics on a constructor error, which only a wrong constant config
// above can cause.
func must[D Detector](d D, err error) Detector {
	if err != nil {
		panic("calibration/service: bad built-in detector config: " + err.Error())
	}
	return d
}

// frequencyBins are the fixed bins of the frequency distribution PSI is
// computed on: frequency 1, 2, 3, 4, 5–7, 8 and more. They are fixed, and
// recorded in each drift event's details, because PSI grows with the
// number of bins.
var frequencyBins = []uint32{1, 2, 3, 4, 5, 8}

// frequencyBinLabel describes frequencyBins for drift event details.
const frequencyBinLabel = "1,2,3,4,5-7,8+"

// frequencyBin returns the bin of frequency f (0, which only the control
// arm has, counts with 1).
func frequencyBin(f uint32) int {
	for i := len(frequencyBins) - 1; i >= 0; i-- {
		if f >= frequencyBins[i] {
			return i
		}
	}
	return 0
}

// psiDetector alarms when one day's PSI (drift.PSI) reaches the threshold.
// It has the Detector shape so that the loop treats it like the sequential
// detectors.
type psiDetector struct {
	threshold, last float64
}

func (d *psiDetector) Update(x float64) bool { d.last = x; return !math.IsNaN(x) && x >= d.threshold }
func (d *psiDetector) Statistic() float64    { return d.last }
func (d *psiDetector) Threshold() float64    { return d.threshold }
func (d *psiDetector) Magnitude() float64    { return d.last }
