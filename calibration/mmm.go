package calibration

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/preflight-hq/preflight/causal/mcmc"
	"github.com/preflight-hq/preflight/causal/mmm"
	"github.com/preflight-hq/preflight/warehouse"
)

// Defaults of MMMConfig.
const (
	// DefaultMMMMinDays is the fewest days of data (from the window's first
	// exposure day to its last day) the marketing-mix model is fitted on.
	DefaultMMMMinDays = 21
	// DefaultMMMMaxLag is the default adstock kernel length in days.
	DefaultMMMMaxLag = 7
	// DefaultMMMChains, DefaultMMMWarmup and DefaultMMMDraws are the
	// default sampler budget: 4 chains × (300 warm-up + 300 kept draws).
	DefaultMMMChains = 4
	DefaultMMMWarmup = 300
	DefaultMMMDraws  = 300
	// DefaultMMMTargetAccept is the default NUTS target acceptance: higher
	// than mmm.Sample's 0.9 because a few weeks of daily data leave the
	// posterior close to the prior's funnels between β and the curve.
	DefaultMMMTargetAccept = 0.95
	// mmmMaxRHatForMix is the largest R̂ at which the MMM's channel totals
	// are fed to the raking step when Config.MarketingMix is unset.
	mmmMaxRHatForMix = 1.1
	// mmmMaxMixRelWidth is the widest 90% contribution interval, relative
	// to its mean, of a channel whose total is fed to the raking step.
	mmmMaxMixRelWidth = 2
	// mmmIncrementalInterceptSD is the intercept's prior sd on the
	// max-scaled incremental target (see fitMMMSeries).
	mmmIncrementalInterceptSD = 0.1
)

// MMMOutcome says which daily outcome the marketing-mix model explains.
type MMMOutcome string

const (
	// MMMIncrementalRevenue (the default) is the day's revenue minus the
	// holdout-estimated baseline revenue of the day's assigned entities:
	// per campaign stratum (day × segment × channel × campaign ×
	// intervention) R_T − R_C·n_T/n_C, with R the purchase value and n the
	// distinct entities of the treatment (T) and control (C) arm. The
	// moments key outcomes by the exposure day of the entity's first
	// exposure in the campaign, so the plain revenue of a day is the revenue
	// of the cohorts assigned that day: its baseline part appears only on
	// send days and grows with the audience, i.e. it is collinear with the
	// spend, and an MMM on it would credit the cohorts' baseline purchases
	// to the channel. Subtracting the holdout's estimate is the plain
	// revenue with a known control (the baseline) whose coefficient is 1.
	MMMIncrementalRevenue MMMOutcome = "incremental_revenue"
	// MMMRevenue is the plain daily revenue: the purchase value of both
	// arms, all segments, by exposure day. Its ROAS includes the cohorts'
	// baseline purchases (see MMMIncrementalRevenue); its totals are never
	// fed to the raking step.
	MMMRevenue MMMOutcome = "revenue"
)

// MMMConfig configures the marketing-mix refit of Calibrate. Zero values
// select the documented defaults: geometric adstock over DefaultMMMMaxLag
// days and Hill saturation for every channel, the incremental revenue
// target, no controls, and 4 chains × (300 + 300) NUTS iterations seeded
// from Config.Seed.
type MMMConfig struct {
	// Disabled skips the marketing-mix refit (prev's summary is carried).
	Disabled bool
	// Outcome is the daily target. Default MMMIncrementalRevenue.
	Outcome MMMOutcome
	// MinDays is the fewest days of data to fit on; with fewer the fit is
	// skipped with a note. Default DefaultMMMMinDays.
	MinDays int
	// Adstock and Saturation are every channel's kernel and curve; their
	// zero values are mmm.Geometric and mmm.Hill. The default is geometric
	// adstock because the moments attribute each purchase to the day of
	// its cohort's exposure, which leaves little carryover to shape (one
	// decay parameter is enough), and Hill saturation because synth's and
	// most channels' audience saturation is a Hill curve.
	Adstock    mmm.AdstockKind
	Saturation mmm.SaturationKind
	// MaxLag is the adstock kernel length in days (mmm.ChannelSpec.MaxLag).
	// Default DefaultMMMMaxLag.
	MaxLag int
	// DayOfWeek adds a day-of-week seasonality (3 Fourier harmonics of
	// period 7). Off by default: the incremental target has no baseline to
	// carry a weekly pattern, and weekly send schedules make the weekday
	// terms collinear with the spend.
	DayOfWeek bool
	// Sampler is the NUTS budget; zero Chains, Warmup, Draws and
	// TargetAccept default to DefaultMMMChains, DefaultMMMWarmup,
	// DefaultMMMDraws and DefaultMMMTargetAccept, and a zero Seed to one
	// derived from Config.Seed. Other zero fields take
	// mmm.Sample's defaults.
	Sampler mcmc.Config
	// Priors overrides mmm.DefaultPriors when non-nil.
	Priors *mmm.Priors
}

func (c MMMConfig) withDefaults(seed uint64) MMMConfig {
	if c.Outcome == "" {
		c.Outcome = MMMIncrementalRevenue
	}
	if c.MinDays <= 0 {
		c.MinDays = DefaultMMMMinDays
	}
	if c.MaxLag <= 0 {
		c.MaxLag = DefaultMMMMaxLag
	}
	if c.Sampler.Chains == 0 {
		c.Sampler.Chains = DefaultMMMChains
	}
	if c.Sampler.Warmup == 0 {
		c.Sampler.Warmup = DefaultMMMWarmup
	}
	if c.Sampler.Draws == 0 {
		c.Sampler.Draws = DefaultMMMDraws
	}
	if c.Sampler.TargetAccept == 0 {
		c.Sampler.TargetAccept = DefaultMMMTargetAccept
	}
	if c.Sampler.Seed == 0 {
		c.Sampler.Seed = seed ^ 0x6d6d6d // "mmm"
	}
	return c
}

// MMMInterval is a posterior mean with its equal-tailed 90% credible
// interval (mmm.CredibleMass).
type MMMInterval struct {
	Mean float64 `json:"mean"`
	Lo   float64 `json:"lo"`
	Hi   float64 `json:"hi"`
}

func mmmInterval(iv mmm.Interval) MMMInterval {
	return MMMInterval{Mean: iv.Mean, Lo: iv.Lo, Hi: iv.Hi}
}

// Contains reports whether Lo ≤ v ≤ Hi.
func (iv MMMInterval) Contains(v float64) bool { return iv.Lo <= v && v <= iv.Hi }

// MMMSummary is the compact summary of the marketing-mix model fitted on
// a window: what a simulator needs without the posterior draws. Money is
// in the cost and purchase-value currency; the outcome is Outcome.
type MMMSummary struct {
	// WindowStart and WindowEnd bound the days fitted: the first exposure
	// day of the window and the end of its last day. A summary carried
	// from a previous snapshot keeps its own window.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Days is the number of daily periods fitted.
	Days int `json:"days"`
	// Outcome is the daily target explained (MMMOutcome).
	Outcome MMMOutcome `json:"outcome"`
	// OutcomeTotal is Σ_t y_t over the days fitted.
	OutcomeTotal float64 `json:"outcome_total"`
	// Adstock, MaxLag and Saturation are every channel's kernel and curve
	// (mmm.AdstockKind and mmm.SaturationKind names).
	Adstock    string `json:"adstock"`
	MaxLag     int    `json:"max_lag"`
	Saturation string `json:"saturation"`
	// OutcomeScale is the model's max-abs scale of the target (see
	// mmm.Scaling): contributions are OutcomeScale·β·Sat(·).
	OutcomeScale float64 `json:"outcome_scale"`
	// Channels holds the per-channel results, sorted by channel.
	Channels []MMMChannel `json:"channels"`
	// Diagnostics are the sampler's convergence diagnostics.
	Diagnostics MMMDiagnostics `json:"diagnostics"`
}

// MMMChannel is one channel's marketing-mix results.
type MMMChannel struct {
	Channel string `json:"channel"`
	// Spend is the channel's total spend over the days fitted.
	Spend float64 `json:"spend"`
	// Contribution is the channel's total contribution to the outcome over
	// the days fitted; ShareOfMedia is its share of all channels'.
	Contribution MMMInterval `json:"contribution"`
	ShareOfMedia MMMInterval `json:"share_of_media"`
	// ROAS is the incremental outcome per unit of spend, carryover after
	// the window included, and MROAS the marginal ROAS of a 1% increase
	// of the whole spend series (mmm.ChannelSummary).
	ROAS  MMMInterval `json:"roas"`
	MROAS MMMInterval `json:"mroas"`
	// RevenuePerConversion is the channel's treated purchase value per
	// treated converter (distinct purchaser per campaign) in the window,
	// and IncrementalConversions is Contribution.Mean divided by it: the
	// channel total the raking step can scale the intervention cells'
	// incremental conversions to. Both are 0 when the outcome is not
	// incremental revenue or the channel had no treated converter.
	RevenuePerConversion   float64 `json:"revenue_per_conversion,omitempty"`
	IncrementalConversions float64 `json:"incremental_conversions,omitempty"`
	// SpendScale is the model's max-abs scale of the channel's daily spend
	// (its largest daily spend in the window).
	SpendScale float64 `json:"spend_scale"`
	// Beta, AdstockParams and SaturationParams are posterior means of the
	// channel's coefficient (on the scaled target: the contribution at full
	// saturation divided by OutcomeScale), of its kernel's parameters ([α]
	// for geometric, [k, λ] for weibull_cdf) and of its curve's parameters
	// on the scaled adstocked spend ([K, S] for hill, [λ] for logistic).
	// Response evaluates the curve with them.
	Beta             float64   `json:"beta"`
	AdstockParams    []float64 `json:"adstock_params"`
	SaturationParams []float64 `json:"saturation_params"`
}

// MMMDiagnostics are the sampler's diagnostics of a marketing-mix fit.
type MMMDiagnostics struct {
	// MaxRHat is the largest rank-normalized split R̂ and MinESSBulk the
	// smallest bulk effective sample size over the parameters.
	MaxRHat    float64 `json:"max_rhat"`
	MinESSBulk float64 `json:"min_ess_bulk"`
	// Divergences counts the divergent transitions after warm-up.
	Divergences int `json:"divergences"`
	// Chains, Warmup and Draws are the sampler budget.
	Chains int `json:"chains"`
	Warmup int `json:"warmup"`
	Draws  int `json:"draws"`
}

// Response returns the channel's contribution to the outcome of a daily
// spend series, summed over the series and the adstock's carryover after
// it, evaluated at the posterior means of the channel's parameters (a
// plug-in estimate: it is not the posterior mean of the contribution,
// which ROAS and Contribution give for the fitted spend). s is the summary
// the channel belongs to (its OutcomeScale, Adstock, MaxLag and
// Saturation). Spend must be non-negative and finite.
func (c MMMChannel) Response(s *MMMSummary, spend []float64) (float64, error) {
	if s == nil || len(spend) == 0 {
		return 0, nil
	}
	if !(c.SpendScale > 0) {
		return 0, fmt.Errorf("cannot evaluate the response of channel %s: spend scale %v", c.Channel, c.SpendScale)
	}
	var w []float64
	switch s.Adstock {
	case mmm.Geometric.String():
		if len(c.AdstockParams) != 1 {
			return 0, fmt.Errorf("cannot evaluate the response of channel %s: %d adstock parameters", c.Channel, len(c.AdstockParams))
		}
		w = mmm.GeometricWeights(c.AdstockParams[0], s.MaxLag, true)
	case mmm.WeibullCDF.String():
		if len(c.AdstockParams) != 2 {
			return 0, fmt.Errorf("cannot evaluate the response of channel %s: %d adstock parameters", c.Channel, len(c.AdstockParams))
		}
		w = mmm.WeibullCDFWeights(c.AdstockParams[0], c.AdstockParams[1], s.MaxLag, true)
	default:
		return 0, fmt.Errorf("cannot evaluate the response of channel %s: unknown adstock %q", c.Channel, s.Adstock)
	}
	var sat func(a float64) float64
	switch {
	case s.Saturation == mmm.Hill.String() && len(c.SaturationParams) == 2:
		sat = func(a float64) float64 { return mmm.HillSaturation(a, c.SaturationParams[0], c.SaturationParams[1]) }
	case s.Saturation == mmm.Logistic.String() && len(c.SaturationParams) == 1:
		sat = func(a float64) float64 { return mmm.LogisticSaturation(a, c.SaturationParams[0]) }
	default:
		return 0, fmt.Errorf("cannot evaluate the response of channel %s: saturation %q with %d parameters", c.Channel, s.Saturation, len(c.SaturationParams))
	}
	x := make([]float64, len(spend)+len(w)-1)
	for t, v := range spend {
		if !(v >= 0) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("cannot evaluate the response of channel %s: spend[%d] = %v", c.Channel, t, v)
		}
		x[t] = v / c.SpendScale
	}
	a := make([]float64, len(x))
	mmm.Convolve(x, w, a)
	tot := 0.0
	for _, v := range a {
		tot += sat(v)
	}
	return s.OutcomeScale * c.Beta * tot, nil
}

// mmmSeries is the daily data of the marketing-mix model built from a
// window's moments.
type mmmSeries struct {
	// from is the first day; days the number of days.
	from time.Time
	days int
	// channels are sorted; spend[m][t] is channel m's spend on day t.
	channels []string
	spend    [][]float64
	y        []float64
	// revPerConv is per channel the treated purchase value per treated
	// converter (0 without converters).
	revPerConv []float64
	// unadjusted counts the treated strata whose baseline had to be
	// estimated from the pooled segment × channel control arm (their own
	// campaign had no control entities), and unbaselined those for which
	// no control arm existed at all (nothing subtracted).
	unadjusted, unbaselined int
}

// buildMMMSeries turns a window's daily moments (exposure days up to and
// including last) into the MMM's daily series:
//
//   - x_{m,t} is the cost of channel m's treated exposures on day t;
//   - y_t is the purchase value of all segments attributed to day t's
//     exposures: both arms for MMMRevenue; for MMMIncrementalRevenue the
//     sum over the day's campaign strata of R_T − R_C·n_T/n_C (when a
//     stratum has no control entities, R_C/n_C is the segment × channel's
//     control revenue per control entity over the window).
//
// The days run from the first exposure day with a known arm to last; days
// without exposures have zero spend and outcome. Channels are those with
// treated exposures in the window.
func buildMMMSeries(em []warehouse.ExposureMoment, om []warehouse.OutcomeMoment, last time.Time, outcome MMMOutcome) (*mmmSeries, error) {
	type stratumKey struct {
		day                                  time.Time
		segment, channel, campaign, interven string
	}
	type agg struct {
		n      [2]float64 // distinct entities, control / treatment
		rev    [2]float64 // purchase value
		buyers float64    // treated distinct purchasers
		cost   float64
	}
	strata := map[stratumKey]*agg{}
	key := func(k warehouse.MomentKey) stratumKey {
		return stratumKey{k.Day.UTC(), k.SegmentID, k.Channel, k.CampaignID, k.InterventionID}
	}
	var from time.Time
	treatedChannels := map[string]bool{}
	for _, m := range em {
		a, ok := armIndex(m.Arm)
		if !ok {
			continue
		}
		k := key(m.MomentKey)
		s := strata[k]
		if s == nil {
			s = &agg{}
			strata[k] = s
		}
		s.n[a] += float64(m.Entities)
		if a == 1 {
			s.cost += m.Cost
			if m.Exposures > 0 {
				treatedChannels[m.Channel] = true
			}
		}
		if from.IsZero() || k.day.Before(from) {
			from = k.day
		}
	}
	if from.IsZero() {
		return nil, errors.New("no exposures in the window")
	}
	last = last.UTC().Truncate(24 * time.Hour)
	if last.Before(from) {
		return nil, fmt.Errorf("the window's last day %s is before its first exposure day %s", last.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	for _, m := range om {
		a, ok := armIndex(m.Arm)
		if !ok || m.OutcomeType != outcomePurchase {
			continue
		}
		s := strata[key(m.MomentKey)]
		if s == nil {
			continue // outcomes without exposures in range
		}
		s.rev[a] += m.ValueSum
		if a == 1 {
			s.buyers += float64(m.Entities)
		}
	}
	ser := &mmmSeries{from: from, days: int(last.Sub(from)/(24*time.Hour)) + 1}
	for ch := range treatedChannels {
		ser.channels = append(ser.channels, ch)
	}
	slices.Sort(ser.channels)
	ser.y = make([]float64, ser.days)
	ser.spend = make([][]float64, len(ser.channels))
	for m := range ser.spend {
		ser.spend[m] = make([]float64, ser.days)
	}
	// Sum in a fixed order: floating-point sums depend on it, and NUTS
	// trajectories amplify the last bit into different draws.
	keys := make([]stratumKey, 0, len(strata))
	for k := range strata {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b stratumKey) int {
		return cmp.Or(a.day.Compare(b.day), cmp.Compare(a.segment, b.segment), cmp.Compare(a.channel, b.channel),
			cmp.Compare(a.campaign, b.campaign), cmp.Compare(a.interven, b.interven))
	})
	// Pooled control revenue per control entity per segment × channel.
	type sc struct{ segment, channel string }
	pooledRev, pooledN := map[sc]float64{}, map[sc]float64{}
	for _, k := range keys {
		s := strata[k]
		pooledRev[sc{k.segment, k.channel}] += s.rev[0]
		pooledN[sc{k.segment, k.channel}] += s.n[0]
	}
	rev, buyers := make([]float64, len(ser.channels)), make([]float64, len(ser.channels))
	for _, k := range keys {
		s := strata[k]
		t := int(k.day.Sub(from) / (24 * time.Hour))
		if t < 0 || t >= ser.days {
			continue
		}
		m, ok := slices.BinarySearch(ser.channels, k.channel)
		if ok {
			ser.spend[m][t] += s.cost
			rev[m] += s.rev[1]
			buyers[m] += s.buyers
		}
		switch outcome {
		case MMMRevenue:
			ser.y[t] += s.rev[0] + s.rev[1]
		default:
			if s.n[1] == 0 {
				continue // no treated entities: no increment
			}
			base := 0.0
			switch p := (sc{k.segment, k.channel}); {
			case s.n[0] > 0:
				base = s.rev[0] / s.n[0]
			case pooledN[p] > 0:
				base = pooledRev[p] / pooledN[p]
				ser.unadjusted++
			default:
				ser.unbaselined++
			}
			ser.y[t] += s.rev[1] - base*s.n[1]
		}
	}
	// The warehouse's own float sums (Σ value, Σ cost) may differ in the
	// last bits between reads; rounding to a millionth of a currency unit
	// makes the fit reproducible.
	for t := range ser.y {
		ser.y[t] = roundMicro(ser.y[t])
		for m := range ser.spend {
			ser.spend[m][t] = roundMicro(ser.spend[m][t])
		}
	}
	ser.revPerConv = make([]float64, len(ser.channels))
	for m := range ser.channels {
		if buyers[m] > 0 {
			ser.revPerConv[m] = rev[m] / buyers[m]
		}
	}
	return ser, nil
}

// roundMicro rounds v to a multiple of 1e-6.
func roundMicro(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// fitMMMSeries fits the marketing-mix model to the daily series with mc
// (defaults applied) and summarizes it. It fails when the model cannot be
// built or sampled, or when a summary number is not finite.
func fitMMMSeries(ctx context.Context, ser *mmmSeries, mc MMMConfig) (*MMMSummary, error) {
	spec := mmm.Spec{Priors: mc.Priors}
	if spec.Priors == nil && mc.Outcome == MMMIncrementalRevenue {
		// The incremental target has had its baseline subtracted: without
		// spend its expectation is zero, so the intercept's prior is
		// narrowed from Normal(0, 2) to Normal(0, 0.1) on the max-scaled
		// target, which keeps a noisy target's intercept from trading off
		// against the channels' contributions.
		p := mmm.DefaultPriors()
		p.InterceptSD = mmmIncrementalInterceptSD
		spec.Priors = &p
	}
	if mc.DayOfWeek {
		spec.Harmonics, spec.Period = 3, 7
	}
	for _, ch := range ser.channels {
		spec.Channels = append(spec.Channels, mmm.ChannelSpec{Name: ch, Adstock: mc.Adstock, MaxLag: mc.MaxLag, Saturation: mc.Saturation})
	}
	model, err := mmm.NewModel(mmm.Data{Y: ser.y, Spend: ser.spend}, spec, nil)
	if err != nil {
		return nil, err
	}
	fit, err := mmm.Sample(ctx, model, mc.Sampler)
	if err != nil {
		return nil, err
	}
	sc := model.Scaling()
	s := &MMMSummary{
		WindowStart: ser.from, WindowEnd: ser.from.AddDate(0, 0, ser.days), Days: ser.days,
		Outcome: mc.Outcome, Adstock: mc.Adstock.String(), MaxLag: mc.MaxLag, Saturation: mc.Saturation.String(),
		OutcomeScale: sc.Y,
		Diagnostics: MMMDiagnostics{
			MaxRHat: fit.Result.MaxRHat(), MinESSBulk: fit.Result.MinESSBulk(),
			Chains: mc.Sampler.Chains, Warmup: mc.Sampler.Warmup, Draws: mc.Sampler.Draws,
		},
	}
	for _, v := range ser.y {
		s.OutcomeTotal += v
	}
	for _, d := range fit.Result.Divergences {
		s.Diagnostics.Divergences += d
	}
	draws := fit.Draws()
	for m, cs := range fit.Channels() {
		c := MMMChannel{
			Channel: ser.channels[m], Contribution: mmmInterval(cs.Total), ShareOfMedia: mmmInterval(cs.ShareOfMedia),
			ROAS: mmmInterval(cs.ROAS), MROAS: mmmInterval(cs.MROAS), SpendScale: sc.Spend[m],
			AdstockParams:    make([]float64, len(draws[0].Adstock[m])),
			SaturationParams: make([]float64, len(draws[0].Saturation[m])),
		}
		for _, v := range ser.spend[m] {
			c.Spend += v
		}
		for _, d := range draws {
			c.Beta += d.Beta[m]
			for i, v := range d.Adstock[m] {
				c.AdstockParams[i] += v
			}
			for i, v := range d.Saturation[m] {
				c.SaturationParams[i] += v
			}
		}
		n := float64(len(draws))
		c.Beta /= n
		for i := range c.AdstockParams {
			c.AdstockParams[i] /= n
		}
		for i := range c.SaturationParams {
			c.SaturationParams[i] /= n
		}
		if mc.Outcome == MMMIncrementalRevenue && ser.revPerConv[m] > 0 {
			c.RevenuePerConversion = ser.revPerConv[m]
			c.IncrementalConversions = c.Contribution.Mean / ser.revPerConv[m]
		}
		s.Channels = append(s.Channels, c)
	}
	if err := s.checkFinite(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkFinite reports the first number of s that is not finite (JSON
// cannot carry it).
func (s *MMMSummary) checkFinite() error {
	bad := func(name string, vs ...float64) error {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("the model's %s is %v", name, v)
			}
		}
		return nil
	}
	d := s.Diagnostics
	errs := []error{bad("outcome total or scale", s.OutcomeTotal, s.OutcomeScale), bad("diagnostics", d.MaxRHat, d.MinESSBulk)}
	for _, c := range s.Channels {
		ivs := []float64{c.Spend, c.SpendScale, c.Beta, c.RevenuePerConversion, c.IncrementalConversions}
		for _, iv := range []MMMInterval{c.Contribution, c.ShareOfMedia, c.ROAS, c.MROAS} {
			ivs = append(ivs, iv.Mean, iv.Lo, iv.Hi)
		}
		ivs = append(ivs, c.AdstockParams...)
		ivs = append(ivs, c.SaturationParams...)
		errs = append(errs, bad("summary of channel "+c.Channel, ivs...))
	}
	return errors.Join(errs...)
}

// refitMMM is Calibrate's marketing-mix step: it builds the daily series
// of the window's moments (see buildMMMSeries), fits the model and sets
// s.MMM. It skips the fit, with a note, when cfg.MMM.Disabled, when the
// data span fewer than cfg.MMM.MinDays days, when a channel of the window
// has no spend, or when the fit fails; a skipped fit keeps prev's summary
// (with its own window), noted. It reports whether s.MMM was fitted on
// this window. Only the end of ctx is an error.
func refitMMM(ctx context.Context, cfg Config, s *Snapshot, em []warehouse.ExposureMoment, om []warehouse.OutcomeMoment, last time.Time, prev *Snapshot, note func(string, ...any)) (bool, error) {
	mc := cfg.MMM.withDefaults(cfg.Seed)
	skip := func(format string, args ...any) {
		msg := "marketing-mix model not refitted: " + fmt.Sprintf(format, args...)
		if prev != nil && prev.MMM != nil {
			s.MMM = prev.MMM
			msg += fmt.Sprintf("; the previous summary (window %s to %s) is kept", prev.MMM.WindowStart.Format(time.DateOnly), prev.MMM.WindowEnd.Format(time.DateOnly))
		}
		note("%s", msg)
	}
	if cfg.MMM.Disabled {
		skip("disabled")
		return false, nil
	}
	switch mc.Outcome {
	case MMMIncrementalRevenue, MMMRevenue:
	default:
		skip("unknown outcome %q", mc.Outcome)
		return false, nil
	}
	ser, err := buildMMMSeries(em, om, last, mc.Outcome)
	if err != nil {
		skip("%v", err)
		return false, nil
	}
	if ser.days < mc.MinDays {
		skip("%d days of data (from the first exposure day %s), fewer than the %d it needs", ser.days, ser.from.Format(time.DateOnly), mc.MinDays)
		return false, nil
	}
	var dry []string
	for m, ch := range ser.channels {
		spent := false
		for _, v := range ser.spend[m] {
			spent = spent || v > 0
		}
		if !spent {
			dry = append(dry, ch)
		}
	}
	if len(dry) > 0 {
		skip("channels without spend in the window: %v", dry)
		return false, nil
	}
	if len(ser.channels) == 0 {
		skip("no channel with treated exposures")
		return false, nil
	}
	if ser.unadjusted > 0 {
		note("marketing-mix model: %d treated campaign strata without control entities took the baseline of their segment × channel's control arm", ser.unadjusted)
	}
	if ser.unbaselined > 0 {
		note("marketing-mix model: %d treated campaign strata have no control arm in their segment × channel; their revenue enters the outcome without a baseline subtracted", ser.unbaselined)
	}
	sum, err := fitMMMSeries(ctx, ser, mc)
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		skip("%v", err)
		return false, nil
	}
	s.MMM = sum
	d := sum.Diagnostics
	if !(d.MaxRHat < 1.05) || d.Divergences > 0 {
		note("marketing-mix model: max R̂ %.3f, min bulk ESS %.0f, %d divergences at %d chains × (%d + %d) iterations; read its intervals with care", d.MaxRHat, d.MinESSBulk, d.Divergences, d.Chains, d.Warmup, d.Draws)
	}
	return true, nil
}

// mmmMix returns the channel totals of incremental conversions that the
// raking step scales the intervention cells to when Config.MarketingMix is
// unset: those of s.MMM when it was fitted on this window (fresh, not
// carried from prev), on incremental revenue, with max R̂ below 1.1, for
// the channels whose 90% contribution interval is positive and at most
// twice as wide as its mean (a total the data hardly inform would only
// pull the cells towards the prior); nil
// (with a note saying why, when a fresh summary is not used) otherwise.
// Each total is the channel's mean contribution divided by its revenue
// per treated converter (MMMChannel.IncrementalConversions), which puts
// the model's revenue in the cells' unit, distinct converters.
func mmmMix(s *Snapshot, fresh bool, note func(string, ...any)) map[string]float64 {
	m := s.MMM
	if m == nil || !fresh {
		return nil
	}
	switch {
	case m.Outcome != MMMIncrementalRevenue:
		note("marketing-mix totals not used for raking: the model explains %s, whose channel totals include the cohorts' baseline purchases", m.Outcome)
		return nil
	case !(m.Diagnostics.MaxRHat < mmmMaxRHatForMix):
		note("marketing-mix totals not used for raking: max R̂ %.3f ≥ %g", m.Diagnostics.MaxRHat, mmmMaxRHatForMix)
		return nil
	}
	mix := map[string]float64{}
	var vague []string
	for _, c := range m.Channels {
		iv := c.Contribution
		switch {
		case !(c.RevenuePerConversion > 0):
		case !(iv.Mean > 0) || iv.Hi-iv.Lo > mmmMaxMixRelWidth*iv.Mean:
			vague = append(vague, fmt.Sprintf("%s (contribution %.4g [%.4g, %.4g])", c.Channel, iv.Mean, iv.Lo, iv.Hi))
		default:
			mix[c.Channel] = c.IncrementalConversions
		}
	}
	if len(vague) > 0 {
		note("marketing-mix totals not used for raking where the model does not pin them down (90%% interval wider than %g× the mean): %s", float64(mmmMaxMixRelWidth), strings.Join(vague, ", "))
	}
	if len(mix) == 0 {
		return nil
	}
	return mix
}
