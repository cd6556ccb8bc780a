package warehouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/preflight-hq/preflight/schemas"
)

// Engine is the SQL transport a backend provides. Everything else — the
// migrations, the duplicate checks, the moments and their queries — is
// written once in this package, on top of an Engine, so that both backends
// run exactly the same SQL. Implementations must be safe for concurrent
// use.
type Engine interface {
	// Exec runs one statement that returns no rows.
	Exec(ctx context.Context, query string) error
	// Query runs one SELECT and returns its rows, which the caller closes.
	Query(ctx context.Context, query string) (Rows, error)
	// InsertRows writes the rows of b with one insert. insert is the
	// statement head with an explicit column list ("INSERT INTO `db`.`t`
	// (a, b)") naming b's columns in order.
	InsertRows(ctx context.Context, insert string, b *Block) error
	// Close releases the engine.
	Close() error
}

// Block is rows in columnar form, the shape both engines write fastest:
// Columns names the columns and Data holds one typed slice per column, all
// of one length, each a []string, []int32, []int64, []uint32, []uint64,
// []float64 or []time.Time (a DateTime: UTC, whole seconds). Building
// columns directly spares boxing every value of every row in an interface.
type Block struct {
	Columns []string
	Data    []any
}

// Len returns the number of rows of b.
func (b *Block) Len() int {
	if len(b.Data) == 0 {
		return 0
	}
	switch c := b.Data[0].(type) {
	case []string:
		return len(c)
	case []int32:
		return len(c)
	case []int64:
		return len(c)
	case []uint32:
		return len(c)
	case []uint64:
		return len(c)
	case []float64:
		return len(c)
	case []time.Time:
		return len(c)
	}
	return 0
}

// Check reports whether b is well formed: one known column type per name,
// all of one length.
func (b *Block) Check() error {
	if len(b.Columns) != len(b.Data) {
		return fmt.Errorf("the block names %d columns and holds %d", len(b.Columns), len(b.Data))
	}
	n := b.Len()
	for i, d := range b.Data {
		var m int
		switch c := d.(type) {
		case []string:
			m = len(c)
		case []int32:
			m = len(c)
		case []int64:
			m = len(c)
		case []uint32:
			m = len(c)
		case []uint64:
			m = len(c)
		case []float64:
			m = len(c)
		case []time.Time:
			m = len(c)
		default:
			return fmt.Errorf("column %s: cannot write a %T", b.Columns[i], d)
		}
		if m != n {
			return fmt.Errorf("column %s has %d rows, column %s has %d", b.Columns[i], m, b.Columns[0], n)
		}
	}
	return nil
}

// IDQuerier is implemented by engines that can send a list of strings with a
// query as an external table (ClickHouse's "external data"): the query reads
// them as the one-column table table (column "id", String). The duplicate
// lookup uses it when the engine has it.
type IDQuerier interface {
	QueryWithIDs(ctx context.Context, query, table string, ids []string) (Rows, error)
}

// Rows is the result of Engine.Query. Scan accepts *string, *uint32,
// *uint64, *float64 and *time.Time (for Date and DateTime columns, in UTC).
type Rows interface {
	// Next advances to the next row and reports whether there is one.
	Next() bool
	// Scan copies the current row's columns into dest, in order.
	Scan(dest ...any) error
	// Err returns the error that ended the iteration, if any.
	Err() error
	// Close releases the rows.
	Close() error
}

// FromEngine returns the Warehouse that stores its tables in database
// through e. It creates the database when it is missing and reads the
// engine's version; engineName ("clickhouse", "chdb") prefixes it in
// Backend. Closing the Warehouse closes e.
func FromEngine(ctx context.Context, e Engine, database, engineName string) (Warehouse, error) {
	if !ValidDatabaseName(database) {
		return nil, fmt.Errorf("cannot use database name %q: want letters, digits and underscores", database)
	}
	w := &sqlWarehouse{e: e, q: newQueries(database), database: database}
	if err := w.ensureDatabase(ctx); err != nil {
		return nil, err
	}
	var version string
	if err := w.queryOne(ctx, selectVersion, &version); err != nil {
		return nil, fmt.Errorf("cannot read the %s version: %w", engineName, err)
	}
	w.backend = engineName + " " + version
	return w, nil
}

// sqlWarehouse implements Warehouse over an Engine.
type sqlWarehouse struct {
	e        Engine
	q        queries
	database string
	backend  string

	migrateMu sync.Mutex
	closeOnce sync.Once
	closeErr  error
}

func (w *sqlWarehouse) ensureDatabase(ctx context.Context) error {
	// Look first: a user allowed to use the database but not to create
	// databases must still be able to open it.
	var n uint64
	if err := w.queryOne(ctx, databaseExists(w.database), &n); err != nil {
		return fmt.Errorf("cannot check whether database %s exists: %w", w.database, err)
	}
	if n > 0 {
		return nil
	}
	if err := w.e.Exec(ctx, createDatabase(w.database)); err != nil {
		return fmt.Errorf("cannot create database %s: %w", w.database, err)
	}
	return nil
}

// queryOne runs a query that returns one row and scans it into dest.
func (w *sqlWarehouse) queryOne(ctx context.Context, query string, dest ...any) error {
	rows, err := w.e.Query(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errors.New("the query returned no row")
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Err()
}

// Backend implements Warehouse.
func (w *sqlWarehouse) Backend() string { return w.backend }

// Ping implements Warehouse.
func (w *sqlWarehouse) Ping(ctx context.Context) error {
	var v string
	if err := w.queryOne(ctx, selectVersion, &v); err != nil {
		return fmt.Errorf("cannot reach the warehouse (%s): %w", w.backend, err)
	}
	return nil
}

// Close implements Warehouse.
func (w *sqlWarehouse) Close() error {
	w.closeOnce.Do(func() {
		if err := w.e.Close(); err != nil {
			w.closeErr = fmt.Errorf("cannot close the warehouse (%s): %w", w.backend, err)
		}
	})
	return w.closeErr
}

// Count implements Warehouse.
func (w *sqlWarehouse) Count(ctx context.Context, t schemas.Type) (uint64, error) {
	rt, ok := rawTables[t]
	if !ok {
		return 0, fmt.Errorf("cannot count events of unknown type %q", t)
	}
	var n uint64
	if err := w.queryOne(ctx, w.q.countDistinct(rt), &n); err != nil {
		return 0, fmt.Errorf("cannot count %s events: %w", t, err)
	}
	return n, nil
}

// Insert implements Warehouse.
//
// It removes the rows repeated within the call, asks the table which of the
// remaining event ids it already holds (one query per maxIDsPerLookup ids,
// scoped to the time range of the rows), and writes the new rows with one
// insert.
//
// Why check-then-insert is enough: every Kafka record is keyed by its
// entity id (producers must, and the ingestor dead-letters records whose
// key is not the event's key), so all copies of an event (a producer re-send, a replay
// after a crash) land in the same partition, and a partition is owned by
// one consumer at a time, which inserts its batches one after another. No
// other writer can store the same event between our lookup and our insert.
// Should that assumption ever break (two ingestors sharing a partition
// during a rebalance, or a manual backfill racing the stream),
// ReplacingMergeTree, keyed by (event time, event_id),
// collapses the extra copy at merge time, and every read here deduplicates
// by event_id in the meantime: the second line of defence.
func (w *sqlWarehouse) Insert(ctx context.Context, t schemas.Type, rows []Row) (InsertResult, error) {
	fresh, dups, err := w.NewRows(ctx, t, rows)
	if err != nil {
		return InsertResult{}, err
	}
	if err := w.write(ctx, rawTables[t], fresh); err != nil {
		return InsertResult{}, err
	}
	return InsertResult{Inserted: len(fresh), Duplicates: dups}, nil
}

// NewRows implements Splitter: the first half of Insert.
func (w *sqlWarehouse) NewRows(ctx context.Context, t schemas.Type, rows []Row) ([]Row, int, error) {
	var res InsertResult
	rt, ok := rawTables[t]
	if !ok {
		return nil, 0, fmt.Errorf("cannot insert events of unknown type %q", t)
	}
	if len(rows) == 0 {
		return nil, 0, nil
	}
	// Check every row before touching the table, and drop in-call repeats.
	seen := make(map[string]struct{}, len(rows))
	fresh := make([]Row, 0, len(rows))
	var minT, maxT time.Time
	for i, r := range rows {
		if r.Event == nil {
			return nil, 0, fmt.Errorf("cannot insert %s row %d: no event", t, i)
		}
		if r.Event.Type() != t {
			return nil, 0, fmt.Errorf("cannot insert %s row %d into the %s table: rows of one call must share one type", r.Event.Type(), i, t)
		}
		if err := r.Event.Validate(); err != nil {
			return nil, 0, fmt.Errorf("cannot insert %s row %d (event %s): %w", t, i, r.Event.ID(), err)
		}
		id := r.Event.ID()
		if _, dup := seen[id]; dup {
			res.Duplicates++
			continue
		}
		seen[id] = struct{}{}
		fresh = append(fresh, r)
		et := eventTime(r.Event.Time())
		if minT.IsZero() || et.Before(minT) {
			minT = et
		}
		if et.After(maxT) {
			maxT = et
		}
	}
	// Which of them are stored already?
	ids := make([]string, 0, len(fresh))
	for _, r := range fresh {
		ids = append(ids, r.Event.ID())
	}
	stored := make(map[string]struct{})
	if iq, ok := w.e.(IDQuerier); ok {
		const idTable = "preflight_lookup_ids"
		rows, err := iq.QueryWithIDs(ctx, w.q.existingIDsIn(rt, minT, maxT, idTable), idTable, ids)
		if err == nil {
			err = collectIDs(rows, stored)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("cannot look up stored %s event ids: %w", t, err)
		}
	} else {
		for chunk := range slices.Chunk(ids, maxIDsPerLookup) {
			rows, err := w.e.Query(ctx, w.q.existingIDs(rt, minT, maxT, chunk))
			if err == nil {
				err = collectIDs(rows, stored)
			}
			if err != nil {
				return nil, 0, fmt.Errorf("cannot look up stored %s event ids: %w", t, err)
			}
		}
	}
	newRows := fresh[:0]
	for _, r := range fresh {
		if _, dup := stored[r.Event.ID()]; dup {
			res.Duplicates++
			continue
		}
		newRows = append(newRows, r)
	}
	return newRows, res.Duplicates, nil
}

// write stores rows in rt's table with one insert, as they are.
func (w *sqlWarehouse) write(ctx context.Context, rt *rawTable, rows []Row) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := rt.block(rows, time.Now())
	if err != nil {
		return err
	}
	if err := w.e.InsertRows(ctx, w.q.insert(rt.name, b.Columns), b); err != nil {
		return fmt.Errorf("cannot insert %d %s events: %w", len(rows), rows[0].Event.Type(), err)
	}
	return nil
}

// collectIDs adds the event ids of rows to into and closes rows.
func collectIDs(rows Rows, into map[string]struct{}) error {
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		into[id] = struct{}{}
	}
	return rows.Err()
}

// dateOf returns the UTC midnight of the calendar day t shows in its own
// location: drivers hand Date columns back as midnight in the server's (or
// the client's) time zone.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// lastVersion is the last moments version handed out in this process.
var lastVersion atomic.Uint64

// nextVersion returns a moments version: the wall clock in nanoseconds,
// strictly increasing within the process.
func nextVersion() uint64 {
	for {
		last := lastVersion.Load()
		v := uint64(time.Now().UnixNano())
		if v <= last {
			v = last + 1
		}
		if lastVersion.CompareAndSwap(last, v) {
			return v
		}
	}
}

// RefreshMoments implements Warehouse. It writes every cell of the days
// under a new version, exposure moments first, then outcome moments, and
// only then records the version for each day; reads use the newest
// recorded version per day, so they see either the old or the new moments
// of a day, never a mix. A failed refresh is repaired by the next one.
func (w *sqlWarehouse) RefreshMoments(ctx context.Context, from, to time.Time) error {
	if from.IsZero() || to.IsZero() {
		return errors.New("cannot refresh moments: both ends of the day range are required")
	}
	if utcDay(to).Before(utcDay(from)) {
		return fmt.Errorf("cannot refresh moments: the range ends (%s) before it starts (%s)", to.UTC().Format(dateLayout), from.UTC().Format(dateLayout))
	}
	if utcDay(to).Before(minDay) || utcDay(from).After(maxDay) {
		return nil // no exposure can fall there
	}
	v := nextVersion()
	steps := []struct{ what, sql string }{
		{"exposure moments", w.q.refreshExposureMoments(from, to, v)},
		{"outcome moments", w.q.refreshOutcomeMoments(from, to, v)},
		{"the refresh record", w.q.recordRefresh(from, to, v)},
	}
	for _, s := range steps {
		if err := w.e.Exec(ctx, s.sql); err != nil {
			return fmt.Errorf("cannot refresh moments of %s to %s (writing %s): %w",
				from.UTC().Format(dateLayout), to.UTC().Format(dateLayout), s.what, err)
		}
	}
	return nil
}

// ExposureMoments implements Warehouse.
func (w *sqlWarehouse) ExposureMoments(ctx context.Context, f MomentFilter) ([]ExposureMoment, error) {
	rows, err := w.e.Query(ctx, w.q.exposureMoments(f))
	if err != nil {
		return nil, fmt.Errorf("cannot read exposure moments: %w", err)
	}
	defer rows.Close()
	var out []ExposureMoment
	for rows.Next() {
		var m ExposureMoment
		if err := rows.Scan(&m.Day, &m.SegmentID, &m.Channel, &m.CampaignID, &m.InterventionID, &m.Arm,
			&m.Exposures, &m.Entities, &m.Cost, &m.FreqSum); err != nil {
			return nil, fmt.Errorf("cannot read exposure moments: %w", err)
		}
		m.Day = dateOf(m.Day)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read exposure moments: %w", err)
	}
	return out, nil
}

// OutcomeMoments implements Warehouse.
func (w *sqlWarehouse) OutcomeMoments(ctx context.Context, f MomentFilter) ([]OutcomeMoment, error) {
	rows, err := w.e.Query(ctx, w.q.outcomeMoments(f))
	if err != nil {
		return nil, fmt.Errorf("cannot read outcome moments: %w", err)
	}
	defer rows.Close()
	var out []OutcomeMoment
	for rows.Next() {
		var m OutcomeMoment
		if err := rows.Scan(&m.Day, &m.SegmentID, &m.Channel, &m.CampaignID, &m.InterventionID, &m.Arm,
			&m.OutcomeType, &m.Outcomes, &m.Entities, &m.ValueSum, &m.ValueSumSq); err != nil {
			return nil, fmt.Errorf("cannot read outcome moments: %w", err)
		}
		m.Day = dateOf(m.Day)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cannot read outcome moments: %w", err)
	}
	return out, nil
}

// Splitter is implemented by the warehouses of this package. It splits
// Insert in two halves, so that a caller can look up one batch while the
// previous one is being written: NewRows checks rows and drops those whose
// event_id is repeated in the call or already stored; InsertUnchecked of
// what it returns completes the Insert. Between the halves the caller must
// itself drop the rows that another unfinished write holds.
type Splitter interface {
	NewRows(ctx context.Context, t schemas.Type, rows []Row) (fresh []Row, duplicates int, err error)
	UncheckedInserter
}

// UncheckedInserter is implemented by the warehouses of this package. It
// stores rows without the duplicate check, as a second writer racing the
// first would. It exists for tests of the second line of defence (every
// read deduplicates by event_id) and for repair tools; the ingestor uses
// Insert.
type UncheckedInserter interface {
	// InsertUnchecked stores rows of type t as they are, repeats included,
	// and returns how many it stored.
	InsertUnchecked(ctx context.Context, t schemas.Type, rows []Row) (int, error)
}

// InsertUnchecked implements UncheckedInserter.
func (w *sqlWarehouse) InsertUnchecked(ctx context.Context, t schemas.Type, rows []Row) (int, error) {
	rt, ok := rawTables[t]
	if !ok {
		return 0, fmt.Errorf("cannot insert events of unknown type %q", t)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	for i, r := range rows {
		if r.Event == nil || r.Event.Type() != t {
			return 0, fmt.Errorf("cannot insert row %d into the %s table: it holds no %s event", i, t, t)
		}
	}
	if err := w.write(ctx, rt, rows); err != nil {
		return 0, err
	}
	return len(rows), nil
}
