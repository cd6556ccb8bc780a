package drift

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
)

// Candidate names a detector configuration for Evaluate. New must return a fresh detector.
type Candidate struct {
	Name string
	New  func() Detector
}

// Scenario is one synthetic stream family for Evaluate: Length samples of N(0, 1) whose mean
// becomes Shift (in σ) from index ChangeAt on. ChangeAt < 0 means a stationary stream. An alarm at
// index t is a hit if ChangeAt ≤ t ≤ ChangeAt + MaxDelay (River's delta_max; there is no
// pre-change tolerance); an alarm before ChangeAt is a false alarm; a drift with no hit is
// missed. Samples after ChangeAt + MaxDelay are not generated.
type Scenario struct {
	Name     string
	Length   int
	ChangeAt int
	Shift    float64
	MaxDelay int
}

// DefaultScenarios returns the benchmark scenarios: a stationary stream of stationaryLength
// samples and abrupt shifts of 0.5σ, 1σ and 2σ at index 2250, with hits counted up to 1000
// samples after the change. The change index falls in the middle of a PSI window at the default
// PSI sizes, as a real change would.
func DefaultScenarios(stationaryLength int) []Scenario {
	ss := []Scenario{{Name: "stationary", Length: stationaryLength, ChangeAt: -1}}
	for _, s := range []float64{0.5, 1, 2} {
		ss = append(ss, Scenario{
			Name: fmt.Sprintf("shift %gσ", s), Length: 3251, ChangeAt: 2250, Shift: s, MaxDelay: 1000,
		})
	}
	return ss
}

// DefaultCandidates returns the package's detectors at their default configurations, plus
// River's Page-Hinkley and CUSUM defaults for comparison and a CUSUM with a known reference.
func DefaultCandidates() []Candidate {
	river := DefaultPageHinkleyConfig()
	river.Delta, river.Lambda, river.Alpha = 0.005, 50, 1-1e-4
	riverCUSUM := DefaultCUSUMConfig()
	riverCUSUM.H, riverCUSUM.Warmup = 5, 30
	known := DefaultCUSUMConfig()
	known.Mean, known.Sigma = 0, 1
	return []Candidate{
		{"PageHinkley δ=0.25 λ=20", func() Detector { return must(NewPageHinkley(DefaultPageHinkleyConfig())) }},
		{"PageHinkley δ=0.005 λ=50 α=1−10⁻⁴ (River)", func() Detector { return must(NewPageHinkley(river)) }},
		{"ADWIN δ=0.002", func() Detector { return must(NewADWIN(DefaultADWINConfig())) }},
		{"CUSUM k=0.5 h=11 warm-up 250", func() Detector { return must(NewCUSUM(DefaultCUSUMConfig())) }},
		{"CUSUM k=0.5 h=5 warm-up 30 (River)", func() Detector { return must(NewCUSUM(riverCUSUM)) }},
		{"CUSUM k=0.5 h=11 known μ,σ", func() Detector { return must(NewCUSUM(known)) }},
		{"PSI deciles ref 1000 win 500 ≥0.1", func() Detector { return must(NewPSIDetector(DefaultPSIConfig())) }},
	}
}

func must[D Detector](d D, err error) Detector {
	if err != nil {
		panic(err) // the default configurations are valid; an error is a bug in this package
	}
	return d
}

// Result is Evaluate's summary of one candidate on one scenario, over all seeds, in the
// vocabulary of River's drift.evaluate.
type Result struct {
	Detector, Scenario string
	// Runs is the number of seeds; Drifts the number of runs with a change (0 or Runs).
	Runs, Drifts int
	// Detected is the number of drifts with a hit.
	Detected int
	// MeanDelay is the mean of (first hit index − ChangeAt) over detected drifts (NaN if none);
	// MaxDelay is the largest.
	MeanDelay float64
	MaxDelay  int
	// MissedDetectionRate is 1 − Detected/Drifts (NaN without drifts).
	MissedDetectionRate float64
	// FalseAlarms counts alarms before the change (all alarms on stationary streams), over
	// NullSamples in-control samples.
	FalseAlarms, NullSamples int
	// FalseAlarmsPer10k is 10⁴·FalseAlarms/NullSamples.
	FalseAlarmsPer10k float64
	// MTFA is the mean time between false alarms, NullSamples/FalseAlarms (+Inf if none); on a
	// stationary stream with restart after each alarm it estimates ARL₀.
	MTFA float64
	// MTR is MTFA/MeanDelay·(1 − MissedDetectionRate), the MOA-era single score (NaN without
	// drifts or detections, +Inf with no false alarm).
	MTR float64
}

// Evaluate runs every candidate on every scenario for seeds seeds and summarizes detection delay,
// missed detections and false alarms. Run r of every scenario uses the stream drawn from
// rand.New(rand.NewPCG(seed, r)), the same for every candidate, so candidates are compared on
// identical data. It is deterministic for a given seed.
func Evaluate(cands []Candidate, scenarios []Scenario, seeds int, seed uint64) []Result {
	var out []Result
	for _, sc := range scenarios {
		streams := make([][]float64, seeds)
		for r := range seeds {
			streams[r] = genStream(sc, rand.New(rand.NewPCG(seed, uint64(r))))
		}
		for _, c := range cands {
			out = append(out, evaluateOne(c, sc, streams))
		}
	}
	return out
}

func genStream(sc Scenario, rng *rand.Rand) []float64 {
	n := sc.Length
	if sc.ChangeAt >= 0 {
		n = min(n, sc.ChangeAt+sc.MaxDelay+1)
	}
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64()
		if sc.ChangeAt >= 0 && i >= sc.ChangeAt {
			s[i] += sc.Shift
		}
	}
	return s
}

func evaluateOne(c Candidate, sc Scenario, streams [][]float64) Result {
	res := Result{Detector: c.Name, Scenario: sc.Name, Runs: len(streams)}
	var delays []int
	for _, s := range streams {
		d := c.New()
		hasDrift := sc.ChangeAt >= 0
		if hasDrift {
			res.Drifts++
			res.NullSamples += min(sc.ChangeAt, len(s))
		} else {
			res.NullSamples += len(s)
		}
		for t, x := range s {
			if !d.Update(x) {
				continue
			}
			if !hasDrift || t < sc.ChangeAt {
				res.FalseAlarms++
				continue
			}
			delays = append(delays, t-sc.ChangeAt)
			break
		}
	}
	res.Detected = len(delays)
	res.MeanDelay, res.MissedDetectionRate, res.MTR = math.NaN(), math.NaN(), math.NaN()
	if len(delays) > 0 {
		sum := 0
		for _, v := range delays {
			sum += v
		}
		res.MeanDelay = float64(sum) / float64(len(delays))
		res.MaxDelay = slices.Max(delays)
	}
	if res.Drifts > 0 {
		res.MissedDetectionRate = 1 - float64(res.Detected)/float64(res.Drifts)
	}
	res.MTFA = math.Inf(1)
	if res.FalseAlarms > 0 {
		res.MTFA = float64(res.NullSamples) / float64(res.FalseAlarms)
	}
	if res.NullSamples > 0 {
		res.FalseAlarmsPer10k = 1e4 * float64(res.FalseAlarms) / float64(res.NullSamples)
	}
	if res.Detected > 0 {
		res.MTR = res.MTFA / math.Max(res.MeanDelay, 1) * (1 - res.MissedDetectionRate)
	}
	return res
}

// WriteTable writes results as a Markdown table, one row per candidate and scenario.
func WriteTable(w io.Writer, rs []Result) error {
	if _, err := fmt.Fprintln(w, "| scenario | detector | runs | mean delay | max delay | MDR | false alarms / 10⁴ | MTFA (≈ARL₀) | MTR |\n|---|---|---|---|---|---|---|---|---|"); err != nil {
		return fmt.Errorf("cannot write drift benchmark table: %w", err)
	}
	for _, r := range rs {
		delay, maxDelay, mdr := "–", "–", "–"
		if !math.IsNaN(r.MeanDelay) {
			delay, maxDelay = fmt.Sprintf("%.1f", r.MeanDelay), fmt.Sprint(r.MaxDelay)
		}
		if !math.IsNaN(r.MissedDetectionRate) {
			mdr = fmt.Sprintf("%.0f%%", 100*r.MissedDetectionRate)
		}
		mtfa := fmt.Sprintf("%.0f", r.MTFA)
		if math.IsInf(r.MTFA, 1) {
			mtfa = fmt.Sprintf("> %d", r.NullSamples)
		}
		mtr := "–"
		switch {
		case math.IsInf(r.MTR, 1):
			mtr = "∞"
		case !math.IsNaN(r.MTR):
			mtr = fmt.Sprintf("%.0f", r.MTR)
		}
		if _, err := fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %.2f | %s | %s |\n",
			r.Scenario, r.Detector, r.Runs, delay, maxDelay, mdr, r.FalseAlarmsPer10k, mtfa, mtr); err != nil {
			return fmt.Errorf("cannot write drift benchmark table: %w", err)
		}
	}
	return nil
}
