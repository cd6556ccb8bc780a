// Package drift holds online change detectors for the streaming calibrator: Page-Hinkley,
// ADWIN and tabular CUSUM for real-valued residual streams, a windowed PSI / Jensen–Shannon
// detector for distributions against a frozen reference, a Bernoulli helper that turns daily
// (successes, trials) moments into standardized rate residuals, and Evaluate, the benchmark that
// measures detection delay, missed detections and false alarms in the vocabulary of River's
// drift.evaluate module.
//
// # Conventions
//
// Every detector is fed one value at a time through Update, which reports whether an alarm was
// raised by that value. Samples are numbered from 0 in the order they were given to Update since
// the detector was built or last Reset; ChangeIndex and the other index accessors use that
// numbering. After an alarm the accessors describe the alarm until the next Update, which first
// restarts detection (the sample counter keeps running). What a restart forgets is documented on
// each detector.
//
// The default thresholds are chosen for standardized input (mean 0, variance 1 in control), so
// that a stationary N(0,1) stream raises roughly one false alarm per 10⁴ samples or fewer and a
// 1σ mean shift is caught within about a hundred samples. The measured trade-off of each default
// is quoted on its config and comes from Evaluate (see BenchmarkEvaluate). CUSUM and the PSI
// detector are scale-free; Page-Hinkley's δ and λ and ADWIN's additive bound term are in data
// units, so feed those two standardized residuals (see Bernoulli for rates).
//
// None of the detectors is safe for concurrent use.
package drift

// Detector is the behaviour shared by every detector in this package.
type Detector interface {
	// Update feeds the next sample and reports whether it raised an alarm.
	Update(x float64) (alarm bool)
	// Reset forgets all state, including the sample counter.
	Reset()
	// Statistic returns the current test statistic, compared with Threshold.
	Statistic() float64
	// Threshold returns the value of Statistic at or above which an alarm is raised.
	Threshold() float64
	// Magnitude returns the estimated size of the change, in data units and signed
	// (positive for an increase); it is 0 before any estimate exists.
	Magnitude() float64
	// ChangeIndex returns the index of the first sample estimated to belong to the new regime,
	// or -1 when there is no estimate.
	ChangeIndex() int
}

// Mode selects which direction of change a two-sided detector watches.
type Mode int

const (
	// Both watches increases and decreases; it is the zero value.
	Both Mode = iota
	// Up watches increases of the mean only.
	Up
	// Down watches decreases of the mean only.
	Down
)

// String returns the lower-case name of the mode.
func (m Mode) String() string {
	switch m {
	case Both:
		return "both"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "invalid"
}

func (m Mode) valid() bool { return m == Both || m == Up || m == Down }
