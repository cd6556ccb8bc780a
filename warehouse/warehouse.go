// Package warehouse is Preflight's access to ClickHouse: the raw event
// tables, the daily moment aggregates the calibrator reads, their versioned
// migrations and the queries over them. Two backends sit behind one
// interface and are chosen by DSN:
//
//	clickhouse://user@host:9000/db?secure=true   ClickHouse server, clickhouse-go v2 native protocol
//	chdb:///var/lib/preflight/chdb?database=db   embedded chDB (package warehouse/embedded)
//
// Every statement runs on ClickHouse 18.16 (Debian's server) and on chDB
// 26.x; the conformance suite in warehousetest proves it on both.
package warehouse

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/preflight-hq/preflight/schemas"
)

// Row is one decoded event with the Kafka coordinates it was read from.
// Topic is empty and Offset -1 for events that did not come through Kafka.
type Row struct {
	Event     schemas.Event
	Topic     string
	Partition int32
	Offset    int64
}

// InsertResult says what an Insert did.
type InsertResult struct {
	// Inserted counts rows written.
	Inserted int
	// Duplicates counts rows skipped because their event_id was already
	// stored or appeared earlier in the same call.
	Duplicates int
}

// MomentKey identifies one cell of the daily moments: exposures of one
// campaign arm on one day, in one segment and channel.
type MomentKey struct {
	Day            time.Time // UTC midnight of the exposure day
	SegmentID      string
	Channel        string
	CampaignID     string
	InterventionID string
	Arm            string
}

// ExposureMoment aggregates the exposures of one MomentKey.
type ExposureMoment struct {
	MomentKey
	Exposures uint64  // exposure events
	Entities  uint64  // distinct entities exposed (or held out)
	Cost      float64 // sum of cost
	FreqSum   uint64  // sum of frequency_cumulative, for the mean frequency
}

// OutcomeMoment aggregates the outcomes attributed (by campaign_id) to the
// exposures of one MomentKey, for one outcome type. The day is the exposure
// day, so Entities/ExposureMoment.Entities is the arm's rate for the cohort.
type OutcomeMoment struct {
	MomentKey
	OutcomeType string
	Outcomes    uint64  // outcome events
	Entities    uint64  // distinct entities with at least one such outcome
	ValueSum    float64 // Σ value
	ValueSumSq  float64 // Σ value², for the variance
}

// MomentFilter narrows a moments query. Zero fields match everything.
type MomentFilter struct {
	From, To   time.Time // exposure day range, inclusive; zero = unbounded
	CampaignID string
}

// Warehouse stores events and serves the queries Preflight needs. It is safe
// for concurrent use.
type Warehouse interface {
	// Migrate applies every migration not yet applied, in order. It is
	// idempotent and safe to call at every start.
	Migrate(ctx context.Context) error
	// Insert stores rows of one event type. Rows whose event_id is already
	// stored, or repeated within rows, are skipped and counted as
	// duplicates, so a redelivered batch changes nothing. All rows must be
	// of type t. The call either stores every new row or returns an error;
	// retrying after an error is safe.
	Insert(ctx context.Context, t schemas.Type, rows []Row) (InsertResult, error)
	// Count returns the number of distinct events of type t stored.
	Count(ctx context.Context, t schemas.Type) (uint64, error)
	// RefreshMoments recomputes the daily moments of the exposure days in
	// [from, to] (UTC days, inclusive) from the raw tables. It is
	// idempotent: refreshing a day twice leaves the same moments.
	RefreshMoments(ctx context.Context, from, to time.Time) error
	// ExposureMoments returns the stored daily exposure moments.
	ExposureMoments(ctx context.Context, f MomentFilter) ([]ExposureMoment, error)
	// OutcomeMoments returns the stored daily outcome moments.
	OutcomeMoments(ctx context.Context, f MomentFilter) ([]OutcomeMoment, error)
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error
	// Backend names the engine and its version, e.g. "clickhouse 18.16.1".
	Backend() string
	// Close releases the backend.
	Close() error
}

// Opener opens a Warehouse from a parsed DSN.
type Opener func(ctx context.Context, dsn *url.URL, opts Options) (Warehouse, error)

// Options are backend-independent settings that do not belong in a DSN.
type Options struct {
	// Password for the server backend; read from the environment or a file
	// by the caller, never logged. Overrides a password in the DSN.
	Password string
}

var (
	openersMu sync.Mutex
	openers   = map[string]Opener{}
)

// Register makes a backend available under a DSN scheme. Backends register
// themselves from an init function; importing warehouse/embedded adds chdb.
func Register(scheme string, open Opener) {
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, dup := openers[scheme]; dup {
		panic("warehouse: Register called twice for scheme " + scheme)
	}
	openers[scheme] = open
}

// Open connects to the warehouse named by dsn and returns it. It does not
// migrate.
func Open(ctx context.Context, dsn string, opts Options) (Warehouse, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot parse warehouse DSN: %w", err)
	}
	openersMu.Lock()
	open, ok := openers[u.Scheme]
	openersMu.Unlock()
	if !ok {
		if u.Scheme == "chdb" {
			return nil, fmt.Errorf("warehouse DSN scheme chdb: the embedded backend is not linked into this binary (import github.com/preflight-hq/preflight/warehouse/embedded)")
		}
		return nil, fmt.Errorf("warehouse DSN scheme %q: want clickhouse:// or chdb://", u.Scheme)
	}
	return open(ctx, u, opts)
}
