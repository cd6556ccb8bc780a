package warehouse

import (
	"context"
	"time"
)

// Calibrations is the part of a Warehouse the calibrator uses: its
// watermarks, the drift events it raises and the calibration snapshots it
// publishes (tables created by migration 0004). Both backends implement it;
// a Warehouse from Open can be asserted to it.
//
// Writes need a non-empty scope ("" means every scope to DriftEvents).
// Times are stored in whole seconds (UTC) between 1970 and 2105; Details
// and Body must be JSON.
type Calibrations interface {
	// Watermark returns the ingestion time up to which scope's moments are
	// refreshed (zero when the scope has none yet).
	Watermark(ctx context.Context, scope string) (time.Time, error)
	// SetWatermark records scope's watermark. The newest write wins.
	SetWatermark(ctx context.Context, scope string, t time.Time) error
	// RefreshSince refreshes the moments of every exposure day touched by a
	// raw row ingested after since, and returns the newest ingestion time
	// it saw (since itself when nothing is new) and how many new raw rows
	// there were. Calling it with the returned time reads only what is new.
	//
	// Ingestion times are stamped to the second, so rows stamped in
	// since's own second are read again (an insert may have become
	// visible after the previous call looked); refreshing their days
	// again is idempotent. rows counts only rows stamped in a later
	// second, so a call with the returned time reports 0 when nothing new
	// has come. Days touched include those the new rows' outcomes are
	// attributed to (their entity's first exposure in the campaign) and
	// those they were attributed to before a new, earlier exposure.
	RefreshSince(ctx context.Context, since time.Time) (newest time.Time, rows uint64, err error)
	// FrequencyMoments returns, per segment × channel × cumulative
	// frequency, the treated exposures at that frequency and how many of
	// them were followed by an unsubscribe (or complaint) outcome of the
	// same entity and campaign: the data of the unsubscribe hazard by
	// frequency.
	FrequencyMoments(ctx context.Context, f MomentFilter) ([]FrequencyMoment, error)
	// InsertDriftEvents stores drift events; an event_id stored already is
	// not stored again.
	InsertDriftEvents(ctx context.Context, evs []DriftEvent) error
	// DriftEvents returns scope's drift events detected at or after since,
	// oldest first ("" = every scope).
	DriftEvents(ctx context.Context, scope string, since time.Time) ([]DriftEvent, error)
	// InsertSnapshot stores a calibration snapshot.
	InsertSnapshot(ctx context.Context, s Snapshot) error
	// LatestSnapshot returns scope's snapshot with the highest version, and
	// false when there is none.
	LatestSnapshot(ctx context.Context, scope string) (Snapshot, bool, error)
	// InterventionEvents returns the stored intervention events created in
	// [from, to) (a zero bound is open), one per event_id, ordered by
	// creation time and then event id: the content the calibrator judges
	// with personas.
	InterventionEvents(ctx context.Context, from, to time.Time) ([]InterventionEvent, error)
}

// InterventionEvent is one stored intervention event (the raw
// interventions table of migration 0002): what was sent, with its content
// features.
type InterventionEvent struct {
	EventID        string
	InterventionID string
	// Type is the event's type field, the channel for synth's events.
	Type      string
	CreatedAt time.Time
	// ContentTemplate is the message text with its placeholders.
	ContentTemplate string
	// CreativeElements is the JSON object of content features, e.g.
	// {"discount_pct":15,"urgency":0.4,"relevance_category":"shoes"}.
	CreativeElements string
}

// FrequencyMoment is one cell of the unsubscribe hazard by frequency.
type FrequencyMoment struct {
	SegmentID    string
	Channel      string
	Frequency    uint32 // the exposure's frequency_cumulative
	Exposures    uint64 // treated exposures at this frequency
	Unsubscribes uint64 // of them, followed by an unsubscribe
	Complaints   uint64 // of them, followed by a complaint
}

// DriftEvent is one drift alarm, as the calibrator publishes it.
type DriftEvent struct {
	EventID     string    // UUID
	Scope       string    // industry or tenant
	Moment      string    // e.g. "purchase_rate/segment=s1/channel=email", or "residual/conversion"
	Detector    string    // "psi", "page_hinkley", "adwin", "cusum"
	Statistic   float64   // the detector's statistic when it fired
	Threshold   float64   // the threshold it crossed
	Magnitude   float64   // the estimated size of the change (difference of means, or PSI)
	WindowStart time.Time // the window the change was detected in
	WindowEnd   time.Time
	DetectedAt  time.Time
	Details     string // JSON object with detector-specific fields
}

// Snapshot is one version of a scope's calibration: Body is the JSON
// document (see package calibration) that a simulator starts from.
type Snapshot struct {
	Scope     string
	Version   uint64
	CreatedAt time.Time
	Body      []byte
}
