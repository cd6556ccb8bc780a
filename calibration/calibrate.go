package calibration

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/preflight-hq/preflight/causal/hazard"
	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/optimize"
	"github.com/preflight-hq/preflight/warehouse"
)

// Defaults of Config.
const (
	// DefaultWindow is the recent window the models are fitted on.
	DefaultWindow = 28 * 24 * time.Hour
	// DefaultHoldOut is the number of most recent campaigns held out.
	DefaultHoldOut = 2
	// DefaultLevel is the level of the intervals.
	DefaultLevel = 0.9
	// DefaultPersonas is the number of personas per segment.
	DefaultPersonas = 8
	// DefaultMinInterventions is the default of Config.MinInterventions.
	DefaultMinInterventions = 6
	// DefaultProgramBudget is the default of Config.ProgramBudget.
	DefaultProgramBudget = 2000
	// MinInterventionEntities is the fewest entities each arm of an
	// intervention needs in a segment × channel for the snapshot to carry
	// a cell of that intervention on top of the pooled cell.
	MinInterventionEntities = 30
)

// Config says what Calibrate fits.
type Config struct {
	// Scope is the industry or tenant the snapshot is for.
	Scope string
	// Window is the recent stretch of data to fit on. Default
	// DefaultWindow.
	Window time.Duration
	// HoldOut is the number of most recent campaigns in the window held
	// out for the backtests. Default DefaultHoldOut; negative means none.
	HoldOut int
	// Level is the level of the intervals, in (0, 1). Default
	// DefaultLevel.
	Level float64
	// Personas is the number of personas sampled per segment. Default
	// DefaultPersonas.
	Personas int
	// Seed seeds the persona samples.
	Seed uint64
	// Log receives what the fit could not do (nil: slog.Default()).
	Log *slog.Logger
	// Now returns the creation time of snapshots (nil: time.Now).
	Now func() time.Time

	// Reasoner judges the window's interventions for the scope's personas
	// when the intent-to-effect map and the persona weights are refitted
	// (nil: persona.NewBuiltin()). Its judgements are cached for the call.
	Reasoner persona.Reasoner
	// MinInterventions is the fewest distinct interventions with a
	// measured intervention cell (and a stored intervention event) the
	// window needs for the intent-to-effect map to be refitted, and the
	// fewest a segment needs for its persona weights to be refitted; with
	// fewer, the previous map and weights are kept and a note says so.
	// Default DefaultMinInterventions.
	MinInterventions int
	// ReweightPValue, when positive, keeps a segment's previous persona
	// weights unless the re-weighting improves the distance between the
	// simulated and the observed uplifts significantly: unless the
	// p-value of the improvement (SegmentFit.PValue) is at most
	// ReweightPValue. Zero applies every fit (the p-value is still
	// reported, with a note when it exceeds 0.05).
	ReweightPValue float64
	// MarketingMix optionally gives a marketing-mix model's incremental
	// conversions over the window per channel; the intervention cells'
	// incremental conversions of those channels are scaled to them (see
	// Raking). Nil: no macro channel totals.
	MarketingMix map[string]float64
	// ProgramReasoner, when set (an LLM is configured), builds the
	// reasoners of the persona prompt program search; nil skips the
	// search and keeps prev's program.
	ProgramReasoner optimize.ProgramReasoner
	// ProgramBudget is the most reasoner calls one program search may
	// make. Default DefaultProgramBudget.
	ProgramBudget int
	// ProgramSearch holds the other options of the program search; its
	// Budget is replaced by ProgramBudget, a zero Seed by Seed and a nil
	// Logger by Log.
	ProgramSearch optimize.Config
	// MMM configures the marketing-mix model refitted on the window (see
	// MMMConfig; the zero value fits with the documented defaults). When
	// MarketingMix is nil, the fitted model's per-channel incremental
	// conversions are the raking step's channel totals (see mmmMix).
	MMM MMMConfig
}

func (c Config) withDefaults() Config {
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.HoldOut == 0 {
		c.HoldOut = DefaultHoldOut
	}
	if c.HoldOut < 0 {
		c.HoldOut = 0
	}
	if !(c.Level > 0 && c.Level < 1) {
		c.Level = DefaultLevel
	}
	if c.Personas <= 0 {
		c.Personas = DefaultPersonas
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Reasoner == nil {
		c.Reasoner = persona.NewBuiltin()
	}
	if c.MinInterventions <= 0 {
		c.MinInterventions = DefaultMinInterventions
	}
	if c.ProgramBudget <= 0 {
		c.ProgramBudget = DefaultProgramBudget
	}
	return c
}

// WindowDays returns the inclusive range of UTC exposure days that a window
// of length w ending at end covers: the days whose start lies in
// [end − w, end). A window ending at midnight therefore excludes the day
// that starts then.
func WindowDays(end time.Time, w time.Duration) (from, to time.Time) {
	end = end.UTC()
	start := end.Add(-w)
	from = start.Truncate(24 * time.Hour)
	if from.Before(start) {
		from = from.Add(24 * time.Hour)
	}
	to = end.Add(-time.Nanosecond).Truncate(24 * time.Hour)
	return from, to
}

// Calibrate fits a snapshot for cfg.Scope on the stored moments of the
// exposure days in the window (see WindowDays) ending at end; the
// snapshot's WindowStart and WindowEnd are the first day's start and the
// last day's end. It does not refresh the moments: the caller does that
// first (the service behind its watermark). It keeps no state and is safe
// for concurrent use.
//
// Cells are built by BuildCells: one per segment × channel pooling the
// window's interventions, plus one per intervention whose arms each have at
// least MinInterventionEntities entities in the segment × channel. The
// hazard models are fitted on the warehouse's FrequencyMoments when it
// implements warehouse.Calibrations; otherwise, or when that fails, Hazard
// is nil and a note says why. Personas are prev's for the segments prev has
// (keeping their calibrated weights) and persona.Sample of DefaultPriors,
// seeded from cfg.Seed and the segment, with uniform weights for new
// segments. Program and EffectMap start as prev's (Program defaults to
// persona.DefaultProgram) and are then retuned on the window: the
// intent-to-effect map and the persona weights are refitted on the
// window's intervention cells and their stored intervention events (with
// at least cfg.MinInterventions interventions; Reweighting reports the
// fits), the intervention cells' predicted conversions are raked to the
// window's segment and channel margins and, given cfg.MarketingMix, to its
// channel totals (Raking), and the program is searched when
// cfg.ProgramReasoner is set (ProgramRetune). The marketing-mix model is
// refitted on the window's daily spend and revenue (cfg.MMM, see
// buildMMMSeries and MMMSummary) before the raking, whose channel totals
// it gives when cfg.MarketingMix is nil; when it cannot be fitted, a note
// says why and prev's summary is kept. Quality holds the backtests of the cfg.HoldOut
// most recent campaigns of the window, predicted from cells fitted on the
// rest of it, and DriftDetected says whether the warehouse holds a drift
// event of the scope detected within the window. The version is prev's plus
// one (1 without prev).
func Calibrate(ctx context.Context, wh warehouse.Warehouse, cfg Config, end time.Time, reason string, prev *Snapshot) (*Snapshot, error) {
	cfg = cfg.withDefaults()
	if wh == nil {
		return nil, errors.New("cannot calibrate: no warehouse")
	}
	from, to := WindowDays(end, cfg.Window)
	if to.Before(from) {
		return nil, fmt.Errorf("cannot calibrate scope %q: the window of %s ending at %s holds no whole day", cfg.Scope, cfg.Window, end.UTC().Format(time.RFC3339))
	}
	em, om, err := readMoments(ctx, wh, warehouse.MomentFilter{From: from, To: to})
	if err != nil {
		return nil, fmt.Errorf("cannot calibrate scope %q: %w", cfg.Scope, err)
	}
	now := cfg.Now().UTC()
	s := &Snapshot{
		Schema: SnapshotSchema, Scope: cfg.Scope, Version: 1, CreatedAt: now,
		WindowStart: from, WindowEnd: to.Add(24 * time.Hour), Reason: reason,
	}
	if prev != nil {
		s.Version = prev.Version + 1
	}
	note := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		s.Notes = append(s.Notes, msg)
		cfg.Log.Warn("calibration: "+msg, "scope", cfg.Scope)
	}
	if len(em) == 0 {
		note("no exposures in the window")
	}

	s.Cells = fitCells(em, om, cfg.Level)

	// Backtests on the most recent campaigns.
	s.Quality = Quality{LastCalibration: now}
	held := recentCampaigns(em, cfg.HoldOut)
	switch {
	case cfg.HoldOut == 0:
	case len(held) == 0 || len(held) >= len(campaignStarts(em)):
		note("too few campaigns in the window for a backtest (%d)", len(campaignStarts(em)))
	default:
		fitE, fitO, testE, testO := splitCampaigns(em, om, held)
		pred := fitCells(fitE, fitO, cfg.Level)
		actual := BuildCells(testE, testO, Grouping{Intervention: true}, cfg.Level)
		s.Quality.Backtests = BacktestCells(pred, actual, cfg.Level)
		if b, ok := s.Quality.Backtests[MetricConversionRate]; ok && b.N > 0 {
			s.Quality.HistoricalAccuracy = min(max(1-b.MAPE, 0), 1)
		} else {
			note("no held-out cell could be predicted for the backtest")
		}
	}

	// Hazard models and drift events need the Calibrations extension.
	if cal, ok := wh.(warehouse.Calibrations); !ok {
		note("hazard not fitted: the warehouse (%s) does not implement warehouse.Calibrations", wh.Backend())
	} else {
		fm, err := cal.FrequencyMoments(ctx, warehouse.MomentFilter{From: from, To: to})
		if err != nil {
			note("hazard not fitted: %v", err)
		} else if s.Hazard, err = FitHazard(fm, cfg.Level); err != nil {
			note("hazard not fitted: %v", err)
		}
		evs, err := cal.DriftEvents(ctx, cfg.Scope, from)
		if err != nil {
			note("drift events not read: %v", err)
		}
		for _, ev := range evs {
			if ev.DetectedAt.Before(to.Add(24 * time.Hour)) {
				s.Quality.DriftDetected = true
			}
		}
	}

	// Personas, program and effect map.
	s.Personas = personasFor(s.Cells, cfg, prev)
	s.Program = persona.DefaultProgram()
	if prev != nil {
		if prev.Program.Instruction != "" {
			s.Program = prev.Program
		}
		s.EffectMap = prev.EffectMap
	}

	// The marketing-mix model, whose channel totals the raking may use.
	fresh, err := refitMMM(ctx, cfg, s, em, om, to, prev, note)
	if err != nil {
		return nil, err
	}
	mixSource := "config"
	if cfg.MarketingMix == nil {
		if mix := mmmMix(s, fresh, note); mix != nil {
			cfg.MarketingMix, mixSource = mix, "mmm"
		}
	}

	// Retuning: effect map and persona weights, raking, program.
	if err := retune(ctx, wh, cfg, s, note); err != nil {
		return nil, err
	}
	if s.Raking != nil && len(s.Raking.MixFactors) > 0 {
		s.Raking.MixSource = mixSource
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s, nil
}

// fitCells builds a snapshot's cells: the pooled segment × channel cells and
// the intervention cells with enough entities in both arms.
func fitCells(em []warehouse.ExposureMoment, om []warehouse.OutcomeMoment, level float64) []Cell {
	cells := BuildCells(em, om, Grouping{}, level)
	for _, c := range BuildCells(em, om, Grouping{Intervention: true}, level) {
		if c.TreatedExposures >= MinInterventionEntities && c.ControlExposures >= MinInterventionEntities {
			cells = append(cells, c)
		}
	}
	slices.SortStableFunc(cells, func(a, b Cell) int {
		return cmp.Or(cmp.Compare(a.SegmentID, b.SegmentID), cmp.Compare(a.Channel, b.Channel), cmp.Compare(a.InterventionID, b.InterventionID))
	})
	return cells
}

// campaignStarts returns each campaign's first exposure day.
func campaignStarts(em []warehouse.ExposureMoment) map[string]time.Time {
	starts := map[string]time.Time{}
	for _, m := range em {
		if t, ok := starts[m.CampaignID]; !ok || m.Day.Before(t) {
			starts[m.CampaignID] = m.Day
		}
	}
	return starts
}

// recentCampaigns returns the n campaigns with the latest first exposure
// day (ties broken by the larger id).
func recentCampaigns(em []warehouse.ExposureMoment, n int) map[string]bool {
	starts := campaignStarts(em)
	ids := make([]string, 0, len(starts))
	for id := range starts {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(starts[b].Compare(starts[a]), cmp.Compare(b, a))
	})
	out := map[string]bool{}
	for _, id := range ids[:min(n, len(ids))] {
		out[id] = true
	}
	return out
}

// splitCampaigns separates the moments of the held campaigns from the rest.
func splitCampaigns(em []warehouse.ExposureMoment, om []warehouse.OutcomeMoment, held map[string]bool) (fitE []warehouse.ExposureMoment, fitO []warehouse.OutcomeMoment, testE []warehouse.ExposureMoment, testO []warehouse.OutcomeMoment) {
	for _, m := range em {
		if held[m.CampaignID] {
			testE = append(testE, m)
		} else {
			fitE = append(fitE, m)
		}
	}
	for _, m := range om {
		if held[m.CampaignID] {
			testO = append(testO, m)
		} else {
			fitO = append(fitO, m)
		}
	}
	return fitE, fitO, testE, testO
}

// FitHazard fits the unsubscribe and complaint hazard models on frequency
// moments: each moment becomes two weighted person-period rows (the
// exposures followed by the outcome and the rest) of one recency bin, since
// the moments carry no recency. level is the intervals' level.
func FitHazard(fm []warehouse.FrequencyMoment, level float64) (*hazard.Models, error) {
	var unsub, complaint []hazard.Exposure
	rows := func(dst []hazard.Exposure, m warehouse.FrequencyMoment, events uint64) []hazard.Exposure {
		base := hazard.Exposure{Channel: m.Channel, Segment: m.SegmentID, Frequency: max(int(m.Frequency), 1)}
		events = min(events, m.Exposures)
		if events > 0 {
			r := base
			r.Event, r.Weight = true, float64(events)
			dst = append(dst, r)
		}
		if rest := m.Exposures - events; rest > 0 {
			r := base
			r.Weight = float64(rest)
			dst = append(dst, r)
		}
		return dst
	}
	for _, m := range fm {
		if m.Exposures == 0 {
			continue
		}
		unsub = rows(unsub, m, m.Unsubscribes)
		complaint = rows(complaint, m, m.Complaints)
	}
	if len(unsub) == 0 {
		return nil, errors.New("no frequency moments in the window")
	}
	return hazard.FitModels(unsub, complaint, hazard.Options{Level: level, Monotone: true, RecencyEdges: []float64{}})
}

// personasFor returns the personas of the cells' segments: prev's where
// prev has the segment, else a seeded sample from persona.DefaultPriors
// with uniform weights. Each segment's weights are renormalized to sum to 1.
func personasFor(cells []Cell, cfg Config, prev *Snapshot) []persona.Spec {
	var segs []string
	for _, c := range cells {
		if !slices.Contains(segs, c.SegmentID) {
			segs = append(segs, c.SegmentID)
		}
	}
	slices.Sort(segs)
	prevBySeg := map[string][]persona.Spec{}
	if prev != nil {
		for _, p := range prev.Personas {
			prevBySeg[p.SegmentID] = append(prevBySeg[p.SegmentID], p)
		}
	}
	var out []persona.Spec
	for _, seg := range segs {
		ps := clonePersonas(prevBySeg[seg])
		if len(ps) == 0 {
			h := fnv.New64a()
			h.Write([]byte(seg))
			rng := rand.New(rand.NewPCG(cfg.Seed, h.Sum64()))
			ps = persona.Sample(persona.DefaultPriors(seg), seg, cfg.Personas, rng)
		}
		var total float64
		for _, p := range ps {
			total += math.Max(p.Weight, 0)
		}
		for i := range ps {
			if total > 0 {
				ps[i].Weight = math.Max(ps[i].Weight, 0) / total
			} else {
				ps[i].Weight = 1 / float64(len(ps))
			}
		}
		out = append(out, ps...)
	}
	return out
}

// clonePersonas deep-copies specs through JSON so that the new snapshot
// shares no maps with prev.
func clonePersonas(ps []persona.Spec) []persona.Spec {
	if len(ps) == 0 {
		return nil
	}
	b, err := json.Marshal(ps)
	if err != nil {
		return slices.Clone(ps)
	}
	var out []persona.Spec
	if err := json.Unmarshal(b, &out); err != nil {
		return slices.Clone(ps)
	}
	return out
}

// Decode parses a snapshot document and checks its schema version, scope
// and window.
func Decode(b []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("cannot decode calibration snapshot: %w", err)
	}
	if s.Schema != SnapshotSchema {
		return nil, fmt.Errorf("calibration snapshot schema %d: this build reads schema %d", s.Schema, SnapshotSchema)
	}
	if s.Scope == "" {
		return nil, errors.New("calibration snapshot has no scope")
	}
	if s.WindowEnd.Before(s.WindowStart) {
		return nil, fmt.Errorf("calibration snapshot of %q: window ends (%s) before it starts (%s)", s.Scope, s.WindowEnd, s.WindowStart)
	}
	return &s, nil
}

// Encode marshals s as the JSON document published and stored.
func (s *Snapshot) Encode() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("cannot encode calibration snapshot of %q: %w", s.Scope, err)
	}
	return b, nil
}
