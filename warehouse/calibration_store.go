package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// The Calibrations of sqlWarehouse, on the tables of migration 0004. The
// statements are in sql.go.

var _ Calibrations = (*sqlWarehouse)(nil)

// unsetTime is how a zero time.Time is stored in a DateTime column (the
// epoch, the column's default), and read back as zero.
func unsetTime(t time.Time) time.Time {
	if t.IsZero() {
		return minDay
	}
	return t.UTC().Truncate(time.Second)
}

// readTime turns a DateTime read back into the time it stores: UTC, and
// zero for the epoch (see unsetTime).
func readTime(t time.Time) time.Time {
	if t.Unix() == 0 {
		return time.Time{}
	}
	return t.UTC()
}

// checkTime reports whether t fits a DateTime('UTC') column on both
// engines; a zero t is allowed when zeroOK, and is stored as the epoch.
func checkTime(what string, t time.Time, zeroOK bool) error {
	if t.IsZero() {
		if zeroOK {
			return nil
		}
		return fmt.Errorf("%s is required", what)
	}
	if t.Before(minDay) || t.After(maxDateTime) {
		return fmt.Errorf("%s %s is outside 1970-01-01 … 2105-12-31", what, t.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkJSON reports whether s is one JSON value in valid UTF-8 (which
// both engines store and give back byte for byte).
func checkJSON(what string, s []byte) error {
	if !utf8.Valid(s) || !json.Valid(s) {
		return fmt.Errorf("%s is not valid JSON in UTF-8", what)
	}
	return nil
}

// Watermark implements Calibrations. The newest SetWatermark of scope wins
// (argMax by the write's version, see migration 0004); a scope never set,
// or set to the zero time, has the zero watermark.
func (w *sqlWarehouse) Watermark(ctx context.Context, scope string) (time.Time, error) {
	var t time.Time
	var n uint64
	if err := w.queryOne(ctx, w.q.watermark(scope), &t, &n); err != nil {
		return time.Time{}, fmt.Errorf("cannot read the watermark of scope %q: %w", scope, err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return readTime(t), nil
}

// SetWatermark implements Calibrations. The watermark is stored to the
// second, rounded down (so RefreshSince from it never skips a row); a
// zero t stores "no watermark". The scope must not be empty.
func (w *sqlWarehouse) SetWatermark(ctx context.Context, scope string, t time.Time) error {
	if scope == "" {
		return errors.New("cannot set a watermark: the scope is empty")
	}
	if err := checkTime("the watermark", t, true); err != nil {
		return fmt.Errorf("cannot set the watermark of scope %q: %w", scope, err)
	}
	b := &Block{
		Columns: []string{"scope", "watermark", "updated_at", "version"},
		Data: []any{
			[]string{scope},
			[]time.Time{unsetTime(t)},
			[]time.Time{time.Now().UTC().Truncate(time.Second)},
			[]uint64{nextVersion()},
		},
	}
	if err := w.e.InsertRows(ctx, w.q.insert("calibration_watermarks", b.Columns), b); err != nil {
		return fmt.Errorf("cannot set the watermark of scope %q: %w", scope, err)
	}
	return nil
}

// RefreshSince implements Calibrations.
//
// Raw rows carry their ingestion time to the second (ingested_at, stamped
// just before the insert), so "ingested after since" is read as "stamped
// in since's second or later": a row stamped in the same second as since
// may have become visible only after the call that returned since had
// looked. Those rows are read again, and the days they touch refreshed
// again, which changes nothing when they were already seen (a refresh is
// idempotent) and catches them when they were not. rows counts only the
// raw rows stamped in a later second than since's (each copy of an event
// stored twice counts), so a call with the time the previous one returned
// reports 0 when nothing new has come, although it refreshes the days of
// that last second again.
//
// A row whose insert takes longer than its stamp's second to become
// visible can still be stamped before a since that a concurrent call has
// already returned; a caller that must not miss those passes a since
// earlier than its watermark by a margin (the refresh stays idempotent).
//
// The days refreshed are those of the new exposures and outcomes, and for
// every (entity, campaign) among them the day of its first exposure (where
// its outcomes are attributed) and of its first exposure before since
// (where they were attributed until a new, earlier exposure took them
// over). Each run of consecutive days is one RefreshMoments. The raw tables
// are not sorted by ingestion time, so finding the new rows reads the
// ingested_at column of both tables whole.
func (w *sqlWarehouse) RefreshSince(ctx context.Context, since time.Time) (time.Time, uint64, error) {
	if since.After(maxDateTime) {
		return since, 0, nil
	}
	var seen, after uint64
	var newest time.Time
	if err := w.queryOne(ctx, w.q.newRawRows(since), &seen, &after, &newest); err != nil {
		return since, 0, fmt.Errorf("cannot find the raw rows ingested since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	if seen == 0 {
		return since, 0, nil
	}
	days, err := w.touchedDays(ctx, since)
	if err != nil {
		return since, 0, err
	}
	for len(days) > 0 {
		n := 1
		for n < len(days) && days[n].Equal(days[n-1].AddDate(0, 0, 1)) {
			n++
		}
		if err := w.RefreshMoments(ctx, days[0], days[n-1]); err != nil {
			return since, 0, err
		}
		days = days[n:]
	}
	newest = newest.UTC()
	if newest.Before(since) {
		newest = since
	}
	return newest, after, nil
}

// touchedDays returns, in order, the days RefreshSince refreshes.
func (w *sqlWarehouse) touchedDays(ctx context.Context, since time.Time) ([]time.Time, error) {
	rows, err := w.e.Query(ctx, w.q.touchedDays(since))
	if err != nil {
		return nil, fmt.Errorf("cannot find the days touched since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	defer rows.Close()
	var days []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("cannot find the days touched since %s: %w", since.UTC().Format(time.RFC3339), err)
		}
		days = append(days, dateOf(d))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot find the days touched since %s: %w", since.UTC().Format(time.RFC3339), err)
	}
	return days, nil
}

// FrequencyMoments implements Calibrations. It reads the raw tables (not
// the daily moments), deduplicated by event_id. An exposure's window runs
// from its time until the next exposure of the same entity and campaign
// (of either arm; ties in time are ordered by event_id), or without end
// after the last one; an unsubscribe or complaint of that entity and
// campaign in the window follows the exposure. Only treated exposures are
// counted, each at most once per outcome type. f.From and f.To select the
// exposures by UTC day and f.CampaignID by campaign; the outcomes that
// follow them count whenever they happened.
func (w *sqlWarehouse) FrequencyMoments(ctx context.Context, f MomentFilter) ([]FrequencyMoment, error) {
	rows, err := w.e.Query(ctx, w.q.frequencyMoments(f))
	if err != nil {
		return nil, fmt.Errorf("cannot read frequency moments: %w", err)
	}
	defer rows.Close()
	var out []FrequencyMoment
	for rows.Next() {
		var m FrequencyMoment
		if err := rows.Scan(&m.SegmentID, &m.Channel, &m.Frequency, &m.Exposures, &m.Unsubscribes, &m.Complaints); err != nil {
			return nil, fmt.Errorf("cannot read frequency moments: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read frequency moments: %w", err)
	}
	return out, nil
}

// checkDriftEvent reports what is wrong with ev, if anything: it needs a
// UUID, a scope and a detection time; the window ends may be zero; numbers
// must be finite and Details, when set, a JSON value.
func checkDriftEvent(ev *DriftEvent) error {
	if _, err := uuid.Parse(ev.EventID); err != nil || len(ev.EventID) != 36 {
		return fmt.Errorf("event id %q is not a UUID", ev.EventID)
	}
	if ev.Scope == "" {
		return errors.New("the scope is empty")
	}
	for _, x := range []struct {
		what string
		v    float64
	}{{"statistic", ev.Statistic}, {"threshold", ev.Threshold}, {"magnitude", ev.Magnitude}} {
		if math.IsNaN(x.v) || math.IsInf(x.v, 0) {
			return fmt.Errorf("the %s %v is not a finite number", x.what, x.v)
		}
	}
	if err := checkTime("the detection time", ev.DetectedAt, false); err != nil {
		return err
	}
	if err := checkTime("the window start", ev.WindowStart, true); err != nil {
		return err
	}
	if err := checkTime("the window end", ev.WindowEnd, true); err != nil {
		return err
	}
	if ev.Details != "" {
		if err := checkJSON("the details", []byte(ev.Details)); err != nil {
			return err
		}
	}
	return nil
}

// InsertDriftEvents implements Calibrations, as Insert does for events: it
// checks every event, drops the event ids repeated within evs or stored
// already, and writes the rest with one insert. Two calls racing with the
// same event may both store it; DriftEvents reads one row per event_id and
// ReplacingMergeTree collapses the copies when parts merge. Times are
// stored to the second; empty Details are stored as "{}".
func (w *sqlWarehouse) InsertDriftEvents(ctx context.Context, evs []DriftEvent) error {
	if len(evs) == 0 {
		return nil
	}
	seen := make(map[string]struct{}, len(evs))
	fresh := make([]*DriftEvent, 0, len(evs))
	for i := range evs {
		ev := &evs[i]
		if err := checkDriftEvent(ev); err != nil {
			return fmt.Errorf("cannot insert drift event %d (%s): %w", i, ev.EventID, err)
		}
		if _, dup := seen[ev.EventID]; dup {
			continue
		}
		seen[ev.EventID] = struct{}{}
		fresh = append(fresh, ev)
	}
	ids := make([]string, len(fresh))
	for i, ev := range fresh {
		ids[i] = ev.EventID
	}
	stored := make(map[string]struct{})
	for chunk := range slices.Chunk(ids, maxIDsPerLookup) {
		rows, err := w.e.Query(ctx, w.q.existingDriftIDs(chunk))
		if err == nil {
			err = collectIDs(rows, stored)
		}
		if err != nil {
			return fmt.Errorf("cannot look up stored drift events: %w", err)
		}
	}
	n := len(fresh) - len(stored)
	var (
		eventID, scope, moment, detector, details = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		statistic, threshold, magnitude           = make([]float64, 0, n), make([]float64, 0, n), make([]float64, 0, n)
		windowStart, windowEnd, detectedAt        = make([]time.Time, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
		insertedAt                                = make([]time.Time, 0, n)
	)
	now := time.Now().UTC().Truncate(time.Second)
	for _, ev := range fresh {
		if _, dup := stored[ev.EventID]; dup {
			continue
		}
		d := ev.Details
		if d == "" {
			d = "{}"
		}
		eventID = append(eventID, ev.EventID)
		scope = append(scope, ev.Scope)
		moment = append(moment, ev.Moment)
		detector = append(detector, ev.Detector)
		statistic = append(statistic, ev.Statistic)
		threshold = append(threshold, ev.Threshold)
		magnitude = append(magnitude, ev.Magnitude)
		windowStart = append(windowStart, unsetTime(ev.WindowStart))
		windowEnd = append(windowEnd, unsetTime(ev.WindowEnd))
		detectedAt = append(detectedAt, unsetTime(ev.DetectedAt))
		details = append(details, d)
		insertedAt = append(insertedAt, now)
	}
	if len(eventID) == 0 {
		return nil
	}
	b := &Block{
		Columns: driftColumns,
		Data: []any{eventID, scope, moment, detector, statistic, threshold, magnitude,
			windowStart, windowEnd, detectedAt, details, insertedAt},
	}
	if err := w.e.InsertRows(ctx, w.q.insert("drift_events", b.Columns), b); err != nil {
		return fmt.Errorf("cannot insert %d drift events: %w", len(eventID), err)
	}
	return nil
}

// DriftEvents implements Calibrations: one row per event_id, ordered by
// detection time, then event id. A zero since reads them all; window ends
// stored as zero come back zero.
func (w *sqlWarehouse) DriftEvents(ctx context.Context, scope string, since time.Time) ([]DriftEvent, error) {
	rows, err := w.e.Query(ctx, w.q.driftEvents(scope, since))
	if err != nil {
		return nil, fmt.Errorf("cannot read drift events: %w", err)
	}
	defer rows.Close()
	var out []DriftEvent
	for rows.Next() {
		var ev DriftEvent
		if err := rows.Scan(&ev.EventID, &ev.Scope, &ev.Moment, &ev.Detector, &ev.Statistic, &ev.Threshold, &ev.Magnitude,
			&ev.WindowStart, &ev.WindowEnd, &ev.DetectedAt, &ev.Details); err != nil {
			return nil, fmt.Errorf("cannot read drift events: %w", err)
		}
		ev.WindowStart, ev.WindowEnd, ev.DetectedAt = readTime(ev.WindowStart), readTime(ev.WindowEnd), ev.DetectedAt.UTC()
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read drift events: %w", err)
	}
	return out, nil
}

// InsertSnapshot implements Calibrations. The scope must not be empty and
// the body must be JSON; a zero CreatedAt is stored as the current time,
// to the second. Storing a version again replaces it: LatestSnapshot
// reads, of the copies of one version, the one created last.
func (w *sqlWarehouse) InsertSnapshot(ctx context.Context, s Snapshot) error {
	if s.Scope == "" {
		return errors.New("cannot insert a calibration snapshot: the scope is empty")
	}
	if err := checkJSON("the body", s.Body); err != nil {
		return fmt.Errorf("cannot insert calibration snapshot %d of scope %q: %w", s.Version, s.Scope, err)
	}
	created := s.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	if err := checkTime("the creation time", created, false); err != nil {
		return fmt.Errorf("cannot insert calibration snapshot %d of scope %q: %w", s.Version, s.Scope, err)
	}
	b := &Block{
		Columns: []string{"scope", "version", "created_at", "body"},
		Data: []any{
			[]string{s.Scope},
			[]uint64{s.Version},
			[]time.Time{created.UTC().Truncate(time.Second)},
			[]string{string(s.Body)},
		},
	}
	if err := w.e.InsertRows(ctx, w.q.insert("calibration_snapshots", b.Columns), b); err != nil {
		return fmt.Errorf("cannot insert calibration snapshot %d of scope %q: %w", s.Version, s.Scope, err)
	}
	return nil
}

// LatestSnapshot implements Calibrations.
func (w *sqlWarehouse) LatestSnapshot(ctx context.Context, scope string) (Snapshot, bool, error) {
	rows, err := w.e.Query(ctx, w.q.latestSnapshot(scope))
	if err != nil {
		return Snapshot{}, false, fmt.Errorf("cannot read the latest calibration snapshot of scope %q: %w", scope, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Snapshot{}, false, fmt.Errorf("cannot read the latest calibration snapshot of scope %q: %w", scope, err)
		}
		return Snapshot{}, false, nil
	}
	s := Snapshot{Scope: scope}
	var body string
	if err := rows.Scan(&s.Version, &s.CreatedAt, &body); err != nil {
		return Snapshot{}, false, fmt.Errorf("cannot read the latest calibration snapshot of scope %q: %w", scope, err)
	}
	s.CreatedAt = s.CreatedAt.UTC()
	s.Body = []byte(body)
	return s, true, rows.Err()
}

// InterventionEvents implements Calibrations: one row per event_id of the
// raw interventions table, created in [from, to) to the second (a zero
// bound is open), ordered by creation time, then event id.
func (w *sqlWarehouse) InterventionEvents(ctx context.Context, from, to time.Time) ([]InterventionEvent, error) {
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil, nil
	}
	rows, err := w.e.Query(ctx, w.q.interventionEvents(from, to))
	if err != nil {
		return nil, fmt.Errorf("cannot read intervention events: %w", err)
	}
	defer rows.Close()
	var out []InterventionEvent
	for rows.Next() {
		var ev InterventionEvent
		if err := rows.Scan(&ev.EventID, &ev.InterventionID, &ev.Type, &ev.CreatedAt, &ev.ContentTemplate, &ev.CreativeElements); err != nil {
			return nil, fmt.Errorf("cannot read intervention events: %w", err)
		}
		ev.CreatedAt = ev.CreatedAt.UTC()
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read intervention events: %w", err)
	}
	return out, nil
}
