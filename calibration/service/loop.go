package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/preflight-hq/preflight/calibration"
	"github.com/preflight-hq/preflight/calibration/drift"
	"github.com/preflight-hq/preflight/schemas"
	"github.com/preflight-hq/preflight/warehouse"
)

const day = 24 * time.Hour

// scopeLoop is the loop of one owned scope. Its goroutine (run) is started
// by Service.startScope and stopped by cancel; done closes when it has
// ended. Everything below started/lastOK is touched by that goroutine only.
type scopeLoop struct {
	s      *Service
	scope  string
	cancel context.CancelFunc
	done   chan struct{}
	log    *slog.Logger
	// startedAt is when the loop was started; set before its goroutine
	// starts and never changed.
	startedAt time.Time

	started atomic.Bool  // the snapshot is loaded or made
	lastOK  atomic.Int64 // unix ns of the last successful refresh

	snap       *calibration.Snapshot
	fedThrough time.Time          // the last UTC day given to the detectors
	streams    map[string]*stream // by moment
	freqRef    map[string][]float64
	pending    string // a retune reason not yet done ("drift"), retried every refresh
}

// stream is one moment's detectors and the first day they saw.
type stream struct {
	moment string
	since  time.Time
	dets   []namedDetector
}

type namedDetector struct {
	name string
	d    Detector
}

// alarm is one detector firing on one moment's day.
type alarm struct {
	moment, detector                string
	statistic, threshold, magnitude float64
	from, day                       time.Time
	details                         map[string]any
}

func (l *scopeLoop) run(ctx context.Context) {
	defer func() {
		l.s.m.forget(l.scope)
		if l.s.onOwn != nil {
			l.s.onOwn(l.scope, false)
		}
		close(l.done)
	}()
	l.log.Info("scope loop starting")
	// Bring the moments up to date first, so that an initial snapshot is
	// fitted on what the warehouse holds rather than on moments never
	// refreshed. A failure here is not fatal: the loop's refreshes retry.
	if err := l.advance(ctx); err != nil && ctx.Err() == nil {
		l.log.Warn("first refresh failed; calibrating on the moments as they are", "err", err)
	}
	if err := l.load(ctx); err != nil {
		if ctx.Err() == nil {
			l.log.Error("scope loop cannot start", "err", err)
		}
		return
	}
	l.started.Store(true)
	t := time.NewTicker(l.s.cfg.RefreshInterval)
	defer t.Stop()
	for {
		err := l.refresh(ctx)
		if err == nil {
			l.lastOK.Store(time.Now().UnixNano())
		} else if ctx.Err() == nil {
			l.log.Warn("refresh failed; retrying at the next interval", "err", err)
		}
		if l.s.onRefresh != nil {
			l.s.onRefresh(l.scope, l.fedThrough, err)
		}
		select {
		case <-ctx.Done():
			l.log.Info("scope loop stopped")
			return
		case <-t.C:
		}
	}
}

// load reads the scope's newest snapshot, or makes and publishes an
// initial one. It retries until it succeeds or ctx ends.
func (l *scopeLoop) load(ctx context.Context) error {
	var ws warehouse.Snapshot
	var found bool
	err := l.s.retry(ctx, l.log, "read the latest snapshot", func(ctx context.Context) error {
		var err error
		ws, found, err = l.s.d.Warehouse.LatestSnapshot(ctx, l.scope)
		return err
	})
	if err != nil {
		return err
	}
	if found {
		snap, err := calibration.Decode(ws.Body)
		if err == nil {
			l.setSnapshot(snap)
			l.log.Info("snapshot loaded", "version", snap.Version, "created_at", snap.CreatedAt)
			return nil
		}
		l.log.Error("stored snapshot cannot be decoded; making a new one", "version", ws.Version, "err", err)
	}
	return l.s.retry(ctx, l.log, "make the initial snapshot", func(ctx context.Context) error {
		return l.retune(ctx, "initial")
	})
}

// setSnapshot makes snap current: the detectors start afresh on the days
// after its window.
func (l *scopeLoop) setSnapshot(snap *calibration.Snapshot) {
	l.snap = snap
	l.streams = map[string]*stream{}
	l.freqRef = nil
	end := snap.WindowEnd
	if end.IsZero() {
		end = snap.CreatedAt
	}
	l.fedThrough = end.UTC().Truncate(day).Add(-day)
	l.s.m.snapshot(snap)
}

// refresh is one turn of the loop: advance the moments, watch the days
// completed since, publish alarms, and retune when due.
func (l *scopeLoop) refresh(ctx context.Context) error {
	start := time.Now()
	defer func() { l.s.m.refreshDuration.WithLabelValues(l.scope).Observe(time.Since(start).Seconds()) }()
	if err := l.advance(ctx); err != nil {
		return err
	}
	alarms, err := l.watch(ctx, l.s.clock())
	if err != nil {
		return err
	}
	if len(alarms) > 0 {
		if err := l.publishAlarms(ctx, alarms); err != nil {
			return err
		}
		l.pending = "drift"
	}
	switch {
	case l.pending != "":
		return l.retune(ctx, l.pending)
	case time.Since(l.snap.CreatedAt) >= l.s.cfg.RetuneInterval:
		return l.retune(ctx, "schedule")
	}
	return nil
}

// advance refreshes the moments of everything ingested since the scope's
// watermark and moves the watermark (a restart resumes from it).
func (l *scopeLoop) advance(ctx context.Context) error {
	wh := l.s.d.Warehouse
	wm, err := wh.Watermark(ctx, l.scope)
	if err != nil {
		return fmt.Errorf("cannot read the watermark: %w", err)
	}
	newest, rows, err := wh.RefreshSince(ctx, wm)
	if err != nil {
		return fmt.Errorf("cannot refresh moments since %s: %w", wm.Format(time.RFC3339), err)
	}
	if rows > 0 {
		l.s.m.refreshRows.WithLabelValues(l.scope).Add(float64(rows))
		l.s.m.eventToMoment.Observe(time.Since(newest).Seconds())
	}
	if newest.After(wm) {
		if err := wh.SetWatermark(ctx, l.scope, newest); err != nil {
			return fmt.Errorf("cannot store the watermark: %w", err)
		}
	}
	if !newest.IsZero() {
		l.s.m.watermark.WithLabelValues(l.scope).Set(float64(newest.UnixNano()) / 1e9)
	}
	l.log.Debug("moments refreshed", "rows", rows, "watermark", newest)
	return nil
}

// retune (re)calibrates the scope for reason and publishes the snapshot.
// A failed calibration leaves the reason pending for the next refresh.
func (l *scopeLoop) retune(ctx context.Context, reason string) error {
	l.pending = reason
	snap, err := l.s.d.Calibrate(ctx, l.scope, l.s.clock().UTC(), reason, l.snap)
	// A retune cut short by the loop's stop (a revoke) is not a failure:
	// the scope's next owner makes it.
	if err != nil {
		if ctx.Err() == nil {
			l.s.m.retunes.WithLabelValues(l.scope, reason, "error").Inc()
		}
		return fmt.Errorf("cannot calibrate (%s): %w", reason, err)
	}
	if err := l.publishSnapshot(ctx, snap, reason); err != nil {
		if ctx.Err() == nil {
			l.s.m.retunes.WithLabelValues(l.scope, reason, "error").Inc()
		}
		return err
	}
	l.s.m.retunes.WithLabelValues(l.scope, reason, "ok").Inc()
	l.pending = ""
	l.setSnapshot(snap)
	l.log.Info("snapshot published", "version", snap.Version, "reason", reason, "window_end", snap.WindowEnd)
	return nil
}

// publishSnapshot stores snap under the next version and writes it to the
// compacted topic. The version is read at publish time as the scope's
// highest stored version plus one, so versions stay monotone even if two
// members ever published at once.
func (l *scopeLoop) publishSnapshot(ctx context.Context, snap *calibration.Snapshot, reason string) error {
	wh := l.s.d.Warehouse
	snap.Schema = calibration.SnapshotSchema
	snap.Scope = l.scope
	snap.Reason = reason
	var body []byte
	err := l.s.retry(ctx, l.log, "store the snapshot", func(ctx context.Context) error {
		prev, found, err := wh.LatestSnapshot(ctx, l.scope)
		if err != nil {
			return err
		}
		snap.Version = 1
		if found {
			snap.Version = prev.Version + 1
		}
		snap.CreatedAt = time.Now().UTC().Truncate(time.Second)
		snap.Quality.LastCalibration = snap.CreatedAt
		if body, err = snap.Encode(); err != nil {
			return err
		}
		return wh.InsertSnapshot(ctx, warehouse.Snapshot{Scope: l.scope, Version: snap.Version, CreatedAt: snap.CreatedAt, Body: body})
	})
	if err != nil {
		return fmt.Errorf("cannot store snapshot: %w", err)
	}
	rec := &kgo.Record{Topic: l.s.cfg.SnapshotTopic(), Key: []byte(l.scope), Value: body,
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte("calibration_snapshot.v1")}}}
	if err := l.s.retry(ctx, l.log, "produce the snapshot", func(ctx context.Context) error {
		return l.s.cl.Load().ProduceSync(ctx, rec).FirstErr()
	}); err != nil {
		return fmt.Errorf("cannot produce snapshot version %d to %s: %w", snap.Version, rec.Topic, err)
	}
	return nil
}

// watch gives the detectors every complete day after fedThrough, in order,
// and returns the alarms of the first day that had any (the detectors are
// then stale: a retune follows). A day is complete DayGrace after its end.
//
// Per day and segment × channel it watches two standardized residuals
// against the current snapshot: the live calibration's treated conversion
// residual (calibration.Residuals, moment
// "conversion_residual/segment=S/channel=C") and the control arm's purchase
// rate against the snapshot's base rate,
//
//	z = (p̂₀ − p₀) / √(SE(p₀)² + p₀(1 − p₀)/n₀)
//
// (moment "base_rate/segment=S/channel=C", days with at least
// calibration.MinBacktestExposures control exposures); and per channel the
// PSI of the treated exposures' frequency distribution against the
// snapshot window's (moment "frequency_psi/channel=C").
func (l *scopeLoop) watch(ctx context.Context, now time.Time) ([]alarm, error) {
	last := now.UTC().Add(-l.s.cfg.DayGrace).Truncate(day).Add(-day)
	if !last.After(l.fedThrough) {
		return nil, nil
	}
	wh := l.s.d.Warehouse
	f := warehouse.MomentFilter{From: l.fedThrough.Add(day), To: last}
	exps, err := wh.ExposureMoments(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("cannot read exposure moments: %w", err)
	}
	outs, err := wh.OutcomeMoments(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("cannot read outcome moments: %w", err)
	}
	observed := calibration.BuildCells(exps, outs, calibration.Grouping{Day: true}, l.s.cfg.Level)
	residuals := map[time.Time][]calibration.Residual{}
	for _, r := range calibration.Residuals(l.snap, observed) {
		d := r.Day.UTC().Truncate(day)
		residuals[d] = append(residuals[d], r)
	}
	controls := map[time.Time][]calibration.Cell{}
	for _, c := range observed {
		d := c.Day.UTC().Truncate(day)
		controls[d] = append(controls[d], c)
	}
	pred := map[[2]string]calibration.Cell{}
	for _, c := range l.snap.Cells {
		if c.InterventionID == "" {
			pred[[2]string{c.SegmentID, c.Channel}] = c
		}
	}
	for d := f.From; !d.After(last); d = d.Add(day) {
		var alarms []alarm
		for _, r := range residuals[d] { // sorted by segment and channel
			moment := fmt.Sprintf("conversion_residual/segment=%s/channel=%s", r.SegmentID, r.Channel)
			alarms = append(alarms, l.feed(moment, d, r.Value, map[string]any{
				"day": d.Format(time.DateOnly), "observed": r.Observed, "predicted": r.Predicted, "n": r.N, "z": r.Value})...)
		}
		cs := controls[d]
		slices.SortFunc(cs, func(a, b calibration.Cell) int {
			return cmp.Or(cmp.Compare(a.SegmentID, b.SegmentID), cmp.Compare(a.Channel, b.Channel))
		})
		for _, c := range cs {
			p, ok := pred[[2]string{c.SegmentID, c.Channel}]
			if !ok || c.ControlExposures < calibration.MinBacktestExposures || p.ControlExposures == 0 {
				continue
			}
			p0 := min(max(p.BaseRate, 1e-4), 1-1e-4)
			z := (c.BaseRate - p.BaseRate) / math.Sqrt(p.BaseRateSE*p.BaseRateSE+p0*(1-p0)/float64(c.ControlExposures))
			moment := fmt.Sprintf("base_rate/segment=%s/channel=%s", c.SegmentID, c.Channel)
			alarms = append(alarms, l.feed(moment, d, z, map[string]any{
				"day": d.Format(time.DateOnly), "observed": c.BaseRate, "predicted": p.BaseRate, "n": c.ControlExposures, "z": z})...)
		}
		if l.s.cfg.WatchFrequency {
			psi, err := l.watchFrequency(ctx, d)
			if err != nil {
				return nil, err
			}
			alarms = append(alarms, psi...)
		}
		l.fedThrough = d
		if len(alarms) > 0 {
			return alarms, nil
		}
	}
	return nil, nil
}

// feed gives x to the detectors of moment and returns their alarms. It
// makes the stream on first use, up to MaxMoments streams.
func (l *scopeLoop) feed(moment string, d time.Time, x float64, details map[string]any) []alarm {
	st := l.streams[moment]
	if st == nil {
		if len(l.streams) >= l.s.cfg.MaxMoments {
			l.log.Warn("moment not watched: the scope has max-moments streams already", "moment", moment, "max_moments", l.s.cfg.MaxMoments)
			return nil
		}
		st = &stream{moment: moment, since: d}
		for _, f := range l.s.d.Detectors {
			st.dets = append(st.dets, namedDetector{f.Name, f.New()})
		}
		l.streams[moment] = st
	}
	return l.update(st, d, x, details)
}

func (l *scopeLoop) update(st *stream, d time.Time, x float64, details map[string]any) []alarm {
	var out []alarm
	for _, nd := range st.dets {
		fired := nd.d.Update(x)
		l.s.m.driftStatistic.WithLabelValues(l.scope, st.moment, nd.name).Set(nd.d.Statistic())
		l.s.m.driftThreshold.WithLabelValues(l.scope, nd.name).Set(nd.d.Threshold())
		if fired {
			out = append(out, alarm{moment: st.moment, detector: nd.name, statistic: nd.d.Statistic(), threshold: nd.d.Threshold(),
				magnitude: nd.d.Magnitude(), from: st.since, day: d, details: details})
		}
	}
	return out
}

// watchFrequency computes, per channel, the PSI of day d's treated
// exposures over frequency bins against the snapshot window's, and returns
// an alarm for each channel at or above PSIThreshold.
func (l *scopeLoop) watchFrequency(ctx context.Context, d time.Time) ([]alarm, error) {
	wh := l.s.d.Warehouse
	if l.freqRef == nil {
		ref, err := wh.FrequencyMoments(ctx, warehouse.MomentFilter{From: l.snap.WindowStart.UTC().Truncate(day), To: l.snap.WindowEnd.UTC().Truncate(day)})
		if err != nil {
			return nil, fmt.Errorf("cannot read the reference frequency moments: %w", err)
		}
		l.freqRef = binFrequencies(ref)
	}
	fm, err := wh.FrequencyMoments(ctx, warehouse.MomentFilter{From: d, To: d})
	if err != nil {
		return nil, fmt.Errorf("cannot read frequency moments: %w", err)
	}
	cur := binFrequencies(fm)
	channels := make([]string, 0, len(cur))
	for ch := range cur {
		channels = append(channels, ch)
	}
	slices.Sort(channels)
	var out []alarm
	for _, ch := range channels {
		ref, c := l.freqRef[ch], cur[ch]
		var n float64
		for _, v := range c {
			n += v
		}
		var nref float64
		for _, v := range ref {
			nref += v
		}
		if nref == 0 || n < float64(l.s.cfg.PSIMinExposures) {
			continue
		}
		moment := "frequency_psi/channel=" + ch
		st := l.streams[moment]
		if st == nil {
			if len(l.streams) >= l.s.cfg.MaxMoments {
				continue
			}
			st = &stream{moment: moment, since: d, dets: []namedDetector{{"psi", &psiDetector{threshold: l.s.cfg.PSIThreshold}}}}
			l.streams[moment] = st
		}
		psi := drift.PSI(ref, c)
		out = append(out, l.update(st, d, psi, map[string]any{"day": d.Format(time.DateOnly), "bins": frequencyBinLabel, "reference": ref, "current": c})...)
	}
	return out, nil
}

// binFrequencies sums treated exposures per channel over frequencyBins.
func binFrequencies(fm []warehouse.FrequencyMoment) map[string][]float64 {
	out := map[string][]float64{}
	for _, m := range fm {
		b := out[m.Channel]
		if b == nil {
			b = make([]float64, len(frequencyBins))
			out[m.Channel] = b
		}
		b[frequencyBin(m.Frequency)] += float64(m.Exposures)
	}
	return out
}

// DriftEventJSON is the body of a record on the drift topic (key = scope).
type DriftEventJSON struct {
	EventID         string          `json:"event_id"`
	Scope           string          `json:"scope"`
	Moment          string          `json:"moment"`
	Detector        string          `json:"detector"`
	Statistic       float64         `json:"statistic"`
	Threshold       float64         `json:"threshold"`
	Magnitude       float64         `json:"magnitude"`
	WindowStart     time.Time       `json:"window_start"`
	WindowEnd       time.Time       `json:"window_end"`
	DetectedAt      time.Time       `json:"detected_at"`
	SnapshotVersion uint64          `json:"snapshot_version"`
	Details         json.RawMessage `json:"details,omitempty"`
}

// driftNamespace scopes the name-based UUIDs of drift events.
var driftNamespace = uuid.MustParse("6f1c2a8e-6d0b-4f57-9a43-2f7f3c1d9b10")

// publishAlarms stores and produces one drift event per alarm. An event's
// id is derived from its scope, moment, detector, window and snapshot
// version, so a re-published alarm is stored once.
func (l *scopeLoop) publishAlarms(ctx context.Context, alarms []alarm) error {
	now := time.Now().UTC().Truncate(time.Second)
	evs := make([]warehouse.DriftEvent, 0, len(alarms))
	recs := make([]*kgo.Record, 0, len(alarms))
	for _, a := range alarms {
		details, err := json.Marshal(a.details)
		if err != nil {
			return fmt.Errorf("cannot encode drift details: %w", err)
		}
		end := a.day.Add(day - time.Second)
		id := uuid.NewSHA1(driftNamespace, fmt.Appendf(nil, "%s|%s|%s|%d|%d|%d", l.scope, a.moment, a.detector, a.from.Unix(), end.Unix(), l.snap.Version)).String()
		ev := warehouse.DriftEvent{EventID: id, Scope: l.scope, Moment: a.moment, Detector: a.detector, Statistic: a.statistic,
			Threshold: a.threshold, Magnitude: a.magnitude, WindowStart: a.from, WindowEnd: end, DetectedAt: now, Details: string(details)}
		body, err := json.Marshal(DriftEventJSON{EventID: id, Scope: l.scope, Moment: a.moment, Detector: a.detector, Statistic: a.statistic,
			Threshold: a.threshold, Magnitude: a.magnitude, WindowStart: a.from, WindowEnd: end, DetectedAt: now, SnapshotVersion: l.snap.Version, Details: details})
		if err != nil {
			return fmt.Errorf("cannot encode drift event: %w", err)
		}
		evs = append(evs, ev)
		recs = append(recs, &kgo.Record{Topic: l.s.cfg.DriftTopic(), Key: []byte(l.scope), Value: body,
			Headers: []kgo.RecordHeader{{Key: schemas.HeaderSchema, Value: []byte("drift_event.v1")}}})
		l.s.m.driftAlarms.WithLabelValues(l.scope, a.detector).Inc()
		l.log.Warn("drift detected", "moment", a.moment, "detector", a.detector, "statistic", a.statistic, "threshold", a.threshold,
			"magnitude", a.magnitude, "window_start", a.from, "window_end", end)
	}
	if err := l.s.retry(ctx, l.log, "store drift events", func(ctx context.Context) error {
		return l.s.d.Warehouse.InsertDriftEvents(ctx, evs)
	}); err != nil {
		return fmt.Errorf("cannot store drift events: %w", err)
	}
	if err := l.s.retry(ctx, l.log, "produce drift events", func(ctx context.Context) error {
		return l.s.cl.Load().ProduceSync(ctx, recs...).FirstErr()
	}); err != nil {
		return fmt.Errorf("cannot produce drift events to %s: %w", l.s.cfg.DriftTopic(), err)
	}
	return nil
}

// retry calls fn until it succeeds or ctx ends, with exponential backoff
// between RetryMin and RetryMax.
func (s *Service) retry(ctx context.Context, log *slog.Logger, what string, fn func(context.Context) error) error {
	wait := s.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		log.Warn("cannot "+what+"; retrying", "attempt", attempt, "backoff", wait, "err", err)
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, s.cfg.RetryMax)
	}
}
