package warehouse

// The SQL both backends run. Every statement is built here, once, and must
// run on ClickHouse 18.16 and on chDB 26.x:
//
//   - no toStartOfInterval, JSONExtract*, DateTime64 or LowCardinality;
//   - inserts name their columns (clickhouse-go batches need it on 18.16);
//   - every table name is qualified with the database, because chDB has one
//     session per process, shared by every database opened in it;
//   - values are inlined as literals (quoteString) rather than bound: 18.16
//     has no server-side query parameters and chDB takes plain text;
//   - aliases never reuse a column name of the same query level (old
//     ClickHouse substitutes aliases everywhere, so `any(x) AS x` is cyclic);
//   - a subquery on the right of a JOIN has an alias (chDB requires it).

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/preflight-hq/preflight/schemas"
)

// maxIDsPerLookup bounds the event ids of one duplicate lookup so that the
// query stays under ClickHouse's default max_query_size (262144 bytes): the
// ids travel as one comma-joined string literal of 37 bytes an id.
const maxIDsPerLookup = 6500

// dateLayout is ClickHouse's text form of a Date.
const dateLayout = "2006-01-02"

// Day bounds of the Date and DateTime('UTC') columns on both engines.
var (
	minDay = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDay = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
)

var databaseNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// ValidDatabaseName reports whether name can be used as a warehouse
// database: letters, digits and underscores, not starting with a digit, at
// most 64 bytes. The names are inlined in SQL, so nothing else is allowed.
func ValidDatabaseName(name string) bool { return databaseNameRE.MatchString(name) }

// quoteIdent quotes a name that ValidDatabaseName or the table catalogue
// has already vetted.
func quoteIdent(name string) string { return "`" + name + "`" }

// quoteString renders s as a ClickHouse string literal. Backslash and quote
// are escaped, and so are control bytes, so the literal survives any parser.
func quoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case 0:
			b.WriteString(`\0`)
		default:
			if c < 0x20 || c == 0x7f {
				fmt.Fprintf(&b, `\x%02x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// dateTimeLiteral renders t (to the second) as a DateTime expression.
func dateTimeLiteral(t time.Time) string {
	return "toDateTime(" + strconv.FormatInt(t.Unix(), 10) + ")"
}

// dateLiteral renders the UTC day of t as a Date expression.
func dateLiteral(t time.Time) string {
	return "toDate(" + quoteString(t.UTC().Format(dateLayout)) + ")"
}

// utcDay returns the UTC midnight of t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// metaColumns end every raw table: the Kafka coordinates of the row and the
// time it was stored, which is also the ReplacingMergeTree version.
var metaColumns = []string{"_topic", "_partition", "_offset", "ingested_at"}

// rawTable describes the raw table of one event type.
type rawTable struct {
	name    string
	timeCol string   // the event time column; the sort key starts with it
	columns []string // event columns, in the order appendRow puts them
	// appendRow puts the values of one event's columns, in order, with put.
	appendRow func(r *rowPutter, ev schemas.Event) error
}

// block turns rows into a Block of the table's columns followed by
// metaColumns, stored at ingestedAt.
func (rt *rawTable) block(rows []Row, ingestedAt time.Time) (*Block, error) {
	ncol := len(rt.columns) + len(metaColumns)
	p := &rowPutter{cols: make([]any, ncol), n: len(rows)}
	at := ingestedAt.UTC().Truncate(time.Second)
	for _, r := range rows {
		p.i = 0
		if err := rt.appendRow(p, r.Event); err != nil {
			return nil, fmt.Errorf("cannot insert %s event %s: %w", r.Event.Type(), r.Event.ID(), err)
		}
		put(p, r.Topic)
		put(p, r.Partition)
		put(p, r.Offset)
		put(p, at)
		if p.i != ncol {
			return nil, fmt.Errorf("the %s table has %d columns, a row put %d", rt.name, ncol, p.i)
		}
	}
	b := &Block{Columns: append(append([]string(nil), rt.columns...), metaColumns...), Data: make([]any, ncol)}
	for i, c := range p.cols {
		switch c := c.(type) {
		case *[]string:
			b.Data[i] = *c
		case *[]int32:
			b.Data[i] = *c
		case *[]int64:
			b.Data[i] = *c
		case *[]float64:
			b.Data[i] = *c
		case *[]time.Time:
			b.Data[i] = *c
		default:
			return nil, fmt.Errorf("column %s of %s: no rows or a %T", b.Columns[i], rt.name, c)
		}
	}
	return b, nil
}

// rowPutter builds the typed columns of a Block one row at a time.
type rowPutter struct {
	cols []any // *[]T per column, made by the first put
	n    int   // rows expected: the capacity of each column
	i    int   // the next column of the current row
}

// put appends v to the next column of the current row. A value whose type
// differs from the column's earlier values is a bug in a rawTable, which the
// conformance suite would hit at once: it panics.
func put[T any](p *rowPutter, v T) {
	if p.cols[p.i] == nil {
		s := make([]T, 0, p.n)
		p.cols[p.i] = &s
	}
	col := p.cols[p.i].(*[]T)
	*col = append(*col, v)
	p.i++
}

// eventTime is the stored (second precision, UTC) form of an event time.
func eventTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// jsonText renders a free-form map as JSON text, "{}" when empty.
func jsonText(field string, m map[string]any) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	if b, ok := appendFlatJSON(nil, m); ok {
		return string(b), nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("cannot encode %s as JSON: %w", field, err)
	}
	return string(b), nil
}

// appendFlatJSON appends m as JSON, byte for byte what json.Marshal writes,
// when every value is a string, a finite float64, a bool or nil (content
// features and most metadata are). It reports false for anything else, and
// the caller uses json.Marshal. It exists because json.Marshal's reflection
// and key sorting were 8% of the ingestor's CPU.
func appendFlatJSON(b []byte, m map[string]any) ([]byte, bool) {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		switch v := v.(type) {
		case string, bool, nil:
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, false
			}
		default:
			return nil, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		switch v := m[k].(type) {
		case string:
			b = AppendJSONString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case nil:
			b = append(b, "null"...)
		case float64:
			b = appendJSONFloat(b, v)
		}
	}
	return append(b, '}'), true
}

// AppendJSONString appends s quoted as encoding/json quotes it by default: control
// characters, '"' and '\\' escaped; '<', '>' and '&' as \u003c, \u003e,
// \u0026 (HTML-safe); U+2028 and U+2029 escaped; invalid UTF-8 as U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat formats f as encoding/json does: the shortest
// representation, in 'f' form unless |f| < 1e-6 or |f| >= 1e21, where it
// uses 'e' form with a two-digit minimum exponent cleaned to e-7, not e-07.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// rawTables maps each event type to its table. Column types (see the
// migrations) and Go value types must agree: String=string, Int32=int32,
// Int64=int64, Float64=float64, DateTime=time.Time.
var rawTables = map[schemas.Type]*rawTable{
	schemas.TypeEntity: {
		name:    "entities",
		timeCol: "created_at",
		columns: []string{"event_id", "entity_id", "segment_id", "created_at", "lifecycle_stage", "value_tier", "attributes"},
		appendRow: func(p *rowPutter, ev schemas.Event) error {
			e := ev.(*schemas.Entity)
			attrs, err := jsonText("attributes", e.Attributes)
			if err != nil {
				return err
			}
			put(p, e.EventID)
			put(p, e.EntityID)
			put(p, e.SegmentID)
			put(p, eventTime(e.CreatedAt))
			put(p, e.LifecycleStage)
			put(p, e.ValueTier)
			put(p, attrs)
			return nil
		},
	},
	schemas.TypeExposure: {
		name:    "exposures",
		timeCol: "timestamp",
		columns: []string{"event_id", "exposure_id", "entity_id", "segment_id", "timestamp", "channel", "campaign_id", "intervention_id", "arm", "content", "cost", "frequency_cumulative", "metadata"},
		appendRow: func(p *rowPutter, ev schemas.Event) error {
			e := ev.(*schemas.Exposure)
			content, err := jsonText("content", e.Content)
			if err != nil {
				return err
			}
			metadata, err := jsonText("metadata", e.Metadata)
			if err != nil {
				return err
			}
			put(p, e.EventID)
			put(p, e.ExposureID)
			put(p, e.EntityID)
			put(p, e.SegmentID)
			put(p, eventTime(e.Timestamp))
			put(p, e.Channel)
			put(p, e.CampaignID)
			put(p, e.InterventionID)
			put(p, e.Arm)
			put(p, content)
			put(p, e.Cost)
			put(p, int64(e.FrequencyCumulative))
			put(p, metadata)
			return nil
		},
	},
	schemas.TypeOutcome: {
		name:    "outcomes",
		timeCol: "timestamp",
		columns: []string{"event_id", "outcome_id", "entity_id", "timestamp", "outcome_type", "value", "campaign_id", "metadata"},
		appendRow: func(p *rowPutter, ev schemas.Event) error {
			e := ev.(*schemas.Outcome)
			metadata, err := jsonText("metadata", e.Metadata)
			if err != nil {
				return err
			}
			put(p, e.EventID)
			put(p, e.OutcomeID)
			put(p, e.EntityID)
			put(p, eventTime(e.Timestamp))
			put(p, e.OutcomeType)
			put(p, e.Value)
			put(p, e.CampaignID)
			put(p, metadata)
			return nil
		},
	},
	schemas.TypeIntervention: {
		name:    "interventions",
		timeCol: "created_at",
		columns: []string{"event_id", "intervention_id", "type", "created_at", "content_template", "creative_elements", "targeting_criteria", "metadata"},
		appendRow: func(p *rowPutter, ev schemas.Event) error {
			e := ev.(*schemas.Intervention)
			js, err := jsonTexts(
				field{"creative_elements", e.CreativeElements},
				field{"targeting_criteria", e.TargetingCriteria},
				field{"metadata", e.Metadata})
			if err != nil {
				return err
			}
			put(p, e.EventID)
			put(p, e.InterventionID)
			put(p, e.Kind)
			put(p, eventTime(e.CreatedAt))
			put(p, e.ContentTemplate)
			put(p, js[0])
			put(p, js[1])
			put(p, js[2])
			return nil
		},
	},
	schemas.TypeSegment: {
		name:    "segments",
		timeCol: "updated_at",
		columns: []string{"event_id", "segment_id", "updated_at", "definition", "size", "trait_priors", "historical_metrics", "metadata"},
		appendRow: func(p *rowPutter, ev schemas.Event) error {
			e := ev.(*schemas.Segment)
			js, err := jsonTexts(
				field{"definition", e.Definition},
				field{"trait_priors", e.TraitPriors},
				field{"historical_metrics", e.HistoricalMetrics},
				field{"metadata", e.Metadata})
			if err != nil {
				return err
			}
			put(p, e.EventID)
			put(p, e.SegmentID)
			put(p, eventTime(e.UpdatedAt))
			put(p, js[0])
			put(p, e.Size)
			put(p, js[1])
			put(p, js[2])
			put(p, js[3])
			return nil
		},
	},
}

// field is a free-form map column and its name, for jsonTexts.
type field struct {
	name string
	m    map[string]any
}

// jsonTexts renders several maps with jsonText, in order.
func jsonTexts(fs ...field) ([]string, error) {
	out := make([]string, len(fs))
	for i, f := range fs {
		s, err := jsonText(f.name, f.m)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// queries builds the statements of one database.
type queries struct {
	db string // quoted database name
}

func newQueries(database string) queries { return queries{db: quoteIdent(database)} }

// table returns the qualified name of a table.
func (q queries) table(name string) string { return q.db + "." + quoteIdent(name) }

// insert returns the head of an insert into table with an explicit column
// list, e.g. "INSERT INTO `db`.`t` (a, b)". Backends append the data
// (clickhouse-go batches) or a FORMAT clause and the rows (chDB).
func (q queries) insert(table string, columns []string) string {
	return "INSERT INTO " + q.table(table) + " (" + strings.Join(columns, ", ") + ")"
}

// databaseExists counts the databases named name (0 or 1).
func databaseExists(name string) string {
	return "SELECT count() FROM system.databases WHERE name = " + quoteString(name)
}

// createDatabase creates the database when it is missing.
func createDatabase(name string) string {
	return "CREATE DATABASE IF NOT EXISTS " + quoteIdent(name)
}

// selectVersion returns the engine's version, e.g. "18.16.1".
const selectVersion = "SELECT version()"

// appliedMigrations lists the applied migration versions.
func (q queries) appliedMigrations() string {
	return "SELECT DISTINCT version FROM " + q.table("schema_migrations") + " ORDER BY version"
}

// existingIDs returns which of ids are stored in rt's table, looking only
// at rows whose event time is in [from, to] (seconds, inclusive), which the
// sort key (event time, event_id) turns into a scan of that range alone.
func (q queries) existingIDs(rt *rawTable, from, to time.Time, ids []string) string {
	// The ids go in as one string literal split at run time: parsing a
	// list of thousands of literals costs more than the lookup itself
	// (measured on 18.16: 63 ms of 90 ms for 10,000 ids; 40 ms in all this
	// way). Event ids are validated UUIDs, so they hold no comma.
	var b strings.Builder
	b.Grow(300 + 37*len(ids))
	b.WriteString("SELECT event_id FROM ")
	b.WriteString(q.table(rt.name))
	b.WriteString(" WHERE " + rt.timeCol + " >= " + dateTimeLiteral(from))
	b.WriteString(" AND " + rt.timeCol + " <= " + dateTimeLiteral(to))
	b.WriteString(" AND event_id IN (SELECT arrayJoin(splitByChar(',', ")
	b.WriteString(quoteString(strings.Join(ids, ",")))
	b.WriteString("))) GROUP BY event_id")
	return b.String()
}

// existingIDsIn is existingIDs for an engine that ships the ids beside the
// query as the external table idTable (one String column, "id"): the server
// reads them as a native column instead of parsing them out of the query
// text, which makes the lookup about three times cheaper on 18.16 and lifts
// the query-size cap on the number of ids.
func (q queries) existingIDsIn(rt *rawTable, from, to time.Time, idTable string) string {
	return "SELECT event_id FROM " + q.table(rt.name) +
		" WHERE " + rt.timeCol + " >= " + dateTimeLiteral(from) +
		" AND " + rt.timeCol + " <= " + dateTimeLiteral(to) +
		" AND event_id IN " + quoteIdent(idTable) + " GROUP BY event_id"
}

// countDistinct counts the distinct event ids of rt's table: rows of an
// event stored twice, not merged yet, count once.
func (q queries) countDistinct(rt *rawTable) string {
	return "SELECT uniqExact(event_id) FROM " + q.table(rt.name)
}

// exposureColumns of the deduplicated exposures subquery: one row per
// event_id (duplicates are the same event, so any() of each column is it).
const dedupExposureColumns = "event_id, any(entity_id) AS e_entity, any(campaign_id) AS e_campaign, any(timestamp) AS e_ts, " +
	"any(segment_id) AS e_segment, any(channel) AS e_channel, any(intervention_id) AS e_intervention, any(arm) AS e_arm, " +
	"any(cost) AS e_cost, any(frequency_cumulative) AS e_freq"

// refreshExposureMoments recomputes the exposure moments of the exposure
// days [from, to] under version.
func (q queries) refreshExposureMoments(from, to time.Time, version uint64) string {
	start, end := dayBounds(from, to)
	return q.insert("exposure_moments_daily", []string{"day", "segment_id", "channel", "campaign_id", "intervention_id", "arm", "exposures", "entities", "cost", "freq_sum", "version"}) + `
SELECT toDate(e_ts) AS m_day, e_segment, e_channel, e_campaign, e_intervention, e_arm,
  count() AS m_exposures, uniqExact(e_entity) AS m_entities, sum(e_cost) AS m_cost,
  toUInt64(sum(e_freq)) AS m_freq, toUInt64(` + strconv.FormatUint(version, 10) + `) AS m_version
FROM (
  SELECT ` + dedupExposureColumns + `
  FROM ` + q.table("exposures") + `
  WHERE timestamp >= ` + dateTimeLiteral(start) + ` AND timestamp < ` + dateTimeLiteral(end) + `
  GROUP BY event_id
)
GROUP BY m_day, e_segment, e_channel, e_campaign, e_intervention, e_arm`
}

// refreshOutcomeMoments recomputes the outcome moments of the exposure days
// [from, to] under version. An outcome with a campaign_id is attributed to
// its entity's first exposure in that campaign (earliest timestamp, then
// smallest event_id, so the choice is stable); the moment's day, segment,
// channel, intervention and arm are that exposure's. Outcomes without a
// campaign, or of an entity never exposed in the campaign, are left out.
// Outcomes count whenever they happened: the day is the exposure's, so the
// cell is the cohort of that day.
func (q queries) refreshOutcomeMoments(from, to time.Time, version uint64) string {
	start, end := dayBounds(from, to)
	exposures := q.table("exposures")
	// The (entity, campaign) pairs exposed in the range. Raw rows: a
	// duplicate only repeats a pair, which IN ignores.
	pairs := "SELECT entity_id, campaign_id FROM " + exposures +
		" WHERE timestamp >= " + dateTimeLiteral(start) + " AND timestamp < " + dateTimeLiteral(end)
	first := "argMin(%s, tuple(e_ts, event_id)) AS %s"
	return q.insert("outcome_moments_daily", []string{"day", "segment_id", "channel", "campaign_id", "intervention_id", "arm", "outcome_type", "outcomes", "entities", "value_sum", "value_sum_sq", "version"}) + `
SELECT x_day, x_segment, x_channel, campaign_id, x_intervention, x_arm, o_type,
  count() AS m_outcomes, uniqExact(entity_id) AS m_entities,
  sum(o_value) AS m_value_sum, sum(o_value * o_value) AS m_value_sum_sq,
  toUInt64(` + strconv.FormatUint(version, 10) + `) AS m_version
FROM (
  SELECT o_entity AS entity_id, o_campaign AS campaign_id, o_type, o_value
  FROM (
    SELECT event_id, any(entity_id) AS o_entity, any(campaign_id) AS o_campaign,
      any(outcome_type) AS o_type, any(value) AS o_value
    FROM ` + q.table("outcomes") + `
    WHERE campaign_id != '' AND (entity_id, campaign_id) IN (` + pairs + `)
    GROUP BY event_id
  )
) AS o
ALL INNER JOIN (
  SELECT e_entity AS entity_id, e_campaign AS campaign_id,
    ` + fmt.Sprintf(first, "toDate(e_ts)", "x_day") + `,
    ` + fmt.Sprintf(first, "e_segment", "x_segment") + `,
    ` + fmt.Sprintf(first, "e_channel", "x_channel") + `,
    ` + fmt.Sprintf(first, "e_intervention", "x_intervention") + `,
    ` + fmt.Sprintf(first, "e_arm", "x_arm") + `
  FROM (
    SELECT ` + dedupExposureColumns + `
    FROM ` + exposures + `
    WHERE timestamp < ` + dateTimeLiteral(end) + ` AND (entity_id, campaign_id) IN (` + pairs + `)
    GROUP BY event_id
  )
  GROUP BY e_entity, e_campaign
  HAVING x_day >= ` + dateLiteral(start) + `
) AS x USING (entity_id, campaign_id)
GROUP BY x_day, x_segment, x_channel, campaign_id, x_intervention, x_arm, o_type`
}

// recordRefresh marks every day of [from, to] as refreshed under version.
// It runs after both moment inserts, so readers switch to the new cells of
// a day only once they are all written.
func (q queries) recordRefresh(from, to time.Time, version uint64) string {
	start, end := dayBounds(from, to)
	days := int64(end.Sub(start) / (24 * time.Hour))
	return q.insert("moments_refreshes", []string{"day", "version", "refreshed_at"}) + `
SELECT ` + dateLiteral(start) + ` + number, toUInt64(` + strconv.FormatUint(version, 10) + `), now()
FROM numbers(` + strconv.FormatInt(days, 10) + `)`
}

// dayBounds turns the inclusive UTC day range [from, to] into the half-open
// time range [start, end) of its days, clamped to what Date can hold.
func dayBounds(from, to time.Time) (start, end time.Time) {
	start, last := utcDay(from), utcDay(to)
	if start.Before(minDay) {
		start = minDay
	}
	if last.After(maxDay) {
		last = maxDay
	}
	return start, last.AddDate(0, 0, 1)
}

// momentWhere renders the filter of a moments read: the day range, the
// campaign, and only the cells of each day's newest refresh.
func (q queries) momentWhere(f MomentFilter) string {
	var conds []string
	var dayConds []string
	if !f.From.IsZero() {
		dayConds = append(dayConds, "day >= "+dateLiteral(clampDay(f.From)))
	}
	if !f.To.IsZero() {
		dayConds = append(dayConds, "day <= "+dateLiteral(clampDay(f.To)))
	}
	conds = append(conds, dayConds...)
	if f.CampaignID != "" {
		conds = append(conds, "campaign_id = "+quoteString(f.CampaignID))
	}
	latest := "SELECT day, max(version) FROM " + q.table("moments_refreshes")
	if len(dayConds) > 0 {
		latest += " WHERE " + strings.Join(dayConds, " AND ")
	}
	latest += " GROUP BY day"
	conds = append(conds, "(day, version) IN ("+latest+")")
	return " WHERE " + strings.Join(conds, " AND ")
}

func clampDay(t time.Time) time.Time {
	d := utcDay(t)
	switch {
	case d.Before(minDay):
		return minDay
	case d.After(maxDay):
		return maxDay
	}
	return d
}

// exposureMoments reads exposure moments; columns match ExposureMoment.
func (q queries) exposureMoments(f MomentFilter) string {
	return "SELECT day, segment_id, channel, campaign_id, intervention_id, arm, exposures, entities, cost, freq_sum FROM " +
		q.table("exposure_moments_daily") + q.momentWhere(f) +
		" ORDER BY day, campaign_id, segment_id, channel, intervention_id, arm"
}

// outcomeMoments reads outcome moments; columns match OutcomeMoment.
func (q queries) outcomeMoments(f MomentFilter) string {
	return "SELECT day, segment_id, channel, campaign_id, intervention_id, arm, outcome_type, outcomes, entities, value_sum, value_sum_sq FROM " +
		q.table("outcome_moments_daily") + q.momentWhere(f) +
		" ORDER BY day, campaign_id, segment_id, channel, intervention_id, arm, outcome_type"
}

// Statements of the Calibrations (migration 0004).

// maxDateTime is the last second both engines can hold in a DateTime.
var maxDateTime = maxDay.AddDate(0, 0, 1).Add(-time.Second)

// clampTime limits t to what a DateTime('UTC') column can hold.
func clampTime(t time.Time) time.Time {
	switch {
	case t.Before(minDay):
		return minDay
	case t.After(maxDateTime):
		return maxDateTime
	}
	return t
}

// watermark reads scope's newest watermark and how many were ever written
// (0 when the scope has none, and the watermark is then meaningless).
func (q queries) watermark(scope string) string {
	return "SELECT argMax(watermark, version), count() FROM " + q.table("calibration_watermarks") +
		" WHERE scope = " + quoteString(scope)
}

// newRawRows counts the raw exposures and outcomes stamped in since's
// second or later (first column: an insert still running when since was
// read may add rows stamped in its second) and those stamped in a later
// second (second column). The third column is the newest ingestion time
// among them (1970 when there is none).
func (q queries) newRawRows(since time.Time) string {
	at := dateTimeLiteral(clampTime(since))
	one := func(table string) string {
		return "SELECT count() AS n_from, countIf(ingested_at > " + at + ") AS n_after, max(ingested_at) AS n_newest FROM " +
			q.table(table) + " WHERE ingested_at >= " + at
	}
	return "SELECT toUInt64(sum(n_from)), toUInt64(sum(n_after)), max(n_newest) FROM (" +
		one("exposures") + " UNION ALL " + one("outcomes") + ")"
}

// touchedDays lists, in order, the exposure days whose moments the raw rows
// stored since since's ingestion second can change:
//
//   - the day of each new exposure, and the day of each new outcome;
//   - for every (entity, campaign) of a new exposure or outcome, the day
//     of its first exposure, which the outcomes of that pair are
//     attributed to (refreshOutcomeMoments), and the day of its first
//     exposure among the rows stored before since's second, which held
//     them until a new, earlier exposure took them over.
func (q queries) touchedDays(since time.Time) string {
	at := dateTimeLiteral(clampTime(since))
	exposures, outcomes := q.table("exposures"), q.table("outcomes")
	pairs := "SELECT entity_id, campaign_id FROM " + exposures + " WHERE ingested_at >= " + at +
		" UNION ALL SELECT entity_id, campaign_id FROM " + outcomes + " WHERE ingested_at >= " + at + " AND campaign_id != ''"
	return `SELECT t_day FROM (
  SELECT toDate(timestamp) AS t_day FROM ` + exposures + ` WHERE ingested_at >= ` + at + `
  UNION ALL
  SELECT toDate(timestamp) AS t_day FROM ` + outcomes + ` WHERE ingested_at >= ` + at + `
  UNION ALL
  SELECT arrayJoin(arrayFilter(d -> d != toDate(0), [p_first, p_old_first])) AS t_day FROM (
    SELECT min(toDate(timestamp)) AS p_first,
      minIf(toDate(timestamp), ingested_at < ` + at + `) AS p_old_first
    FROM ` + exposures + `
    WHERE (entity_id, campaign_id) IN (SELECT entity_id, campaign_id FROM (` + pairs + `))
    GROUP BY entity_id, campaign_id
  )
)
GROUP BY t_day
ORDER BY t_day`
}

// frequencyMoments reads the unsubscribe hazard by frequency; columns match
// FrequencyMoment. Every exposure of an (entity, campaign) pair, of either
// arm, opens a window that lasts until the pair's next exposure (by time,
// then event_id), or for ever after its last; an outcome of the pair falls
// in the window of the last exposure at or before it. A treated exposure
// counts as followed by an unsubscribe (a complaint) when its window holds
// at least one. Exposures and outcomes are deduplicated by event_id. The
// filter picks the exposures counted by day and campaign; exposures after
// To still close the windows of those before, and outcomes count whenever
// they happened after their exposure.
func (q queries) frequencyMoments(f MomentFilter) string {
	var econds, oconds []string
	if !f.From.IsZero() {
		start := dateTimeLiteral(clampDay(f.From))
		econds = append(econds, "timestamp >= "+start)
		oconds = append(oconds, "timestamp >= "+start)
	}
	if f.CampaignID != "" {
		c := "campaign_id = " + quoteString(f.CampaignID)
		econds = append(econds, c)
		oconds = append(oconds, c)
	}
	oconds = append(oconds, "campaign_id != ''", "outcome_type IN ('unsubscribe', 'complaint')")
	ewhere := ""
	if len(econds) > 0 {
		ewhere = "\n      WHERE " + strings.Join(econds, " AND ")
	}
	var dayConds []string
	if !f.From.IsZero() {
		dayConds = append(dayConds, "toDate(tupleElement(x, 1)) >= "+dateLiteral(clampDay(f.From)))
	}
	if !f.To.IsZero() {
		dayConds = append(dayConds, "toDate(tupleElement(x, 1)) <= "+dateLiteral(clampDay(f.To)))
	}
	keep := "tupleElement(x, 5) = " + quoteString(schemas.ArmTreatment)
	for _, c := range dayConds {
		keep += " AND " + c
	}
	// The outcomes join with ALL LEFT JOIN: a pair without any keeps its
	// exposures, with empty arrays (both engines fill defaults, as
	// join_use_nulls is off). xs: the pair's exposures sorted by (time, event_id), as tuples
	// (time, event_id, segment, channel, arm, frequency). 18.16 loses a
	// column of a subquery that a lambda of the outer query captures, so
	// the lambdas sit at the level that makes what they capture.
	return `SELECT f_segment, f_channel, f_freq, count() AS f_exposures, sum(f_unsub) AS f_unsubs, sum(f_complaint) AS f_complaints
FROM (
  SELECT tupleElement(x, 3) AS f_segment, tupleElement(x, 4) AS f_channel, toUInt32(tupleElement(x, 6)) AS f_freq,
    x_unsub AS f_unsub, x_complaint AS f_complaint
  FROM (
    SELECT arrayJoin(arrayEnumerate(xs)) AS i, xs[i] AS x, i = length(xs) AS x_last, tupleElement(xs[i + 1], 1) AS x_next,
      arrayExists(t -> t >= tupleElement(x, 1) AND (x_last OR t < x_next), unsubs) AS x_unsub,
      arrayExists(t -> t >= tupleElement(x, 1) AND (x_last OR t < x_next), complaints) AS x_complaint
    FROM (
      SELECT e_entity AS entity_id, e_campaign AS campaign_id,
        arraySort(groupArray(tuple(e_ts, event_id, e_segment, e_channel, e_arm, e_freq))) AS xs
      FROM (
        SELECT ` + dedupExposureColumns + `
        FROM ` + q.table("exposures") + ewhere + `
        GROUP BY event_id
      )
      GROUP BY e_entity, e_campaign
    ) AS e
    ALL LEFT JOIN (
      SELECT o_entity AS entity_id, o_campaign AS campaign_id,
        groupArrayIf(o_ts, o_type = 'unsubscribe') AS unsubs,
        groupArrayIf(o_ts, o_type = 'complaint') AS complaints
      FROM (
        SELECT event_id, any(entity_id) AS o_entity, any(campaign_id) AS o_campaign,
          any(timestamp) AS o_ts, any(outcome_type) AS o_type
        FROM ` + q.table("outcomes") + `
        WHERE ` + strings.Join(oconds, " AND ") + `
        GROUP BY event_id
      )
      GROUP BY o_entity, o_campaign
    ) AS o USING (entity_id, campaign_id)
  )
  WHERE ` + keep + `
)
GROUP BY f_segment, f_channel, f_freq
ORDER BY f_segment, f_channel, f_freq`
}

// driftColumns are the columns of drift_events that InsertDriftEvents
// writes, in order.
var driftColumns = []string{"event_id", "scope", "moment", "detector", "statistic", "threshold", "magnitude",
	"window_start", "window_end", "detected_at", "details", "inserted_at"}

// existingDriftIDs returns which of ids drift_events holds. The ids are
// validated UUIDs, so they hold no comma.
func (q queries) existingDriftIDs(ids []string) string {
	return "SELECT event_id FROM " + q.table("drift_events") +
		" WHERE event_id IN (SELECT arrayJoin(splitByChar(',', " + quoteString(strings.Join(ids, ",")) + ")))" +
		" GROUP BY event_id"
}

// driftEvents reads scope's drift events detected at or after since, one
// row per event_id, oldest first; columns match DriftEvent.
func (q queries) driftEvents(scope string, since time.Time) string {
	conds := []string{"detected_at >= " + dateTimeLiteral(clampTime(since))}
	if scope != "" {
		conds = append(conds, "scope = "+quoteString(scope))
	}
	return `SELECT event_id, any(scope) AS d_scope, any(moment) AS d_moment, any(detector) AS d_detector,
  any(statistic) AS d_statistic, any(threshold) AS d_threshold, any(magnitude) AS d_magnitude,
  any(window_start) AS d_window_start, any(window_end) AS d_window_end, any(detected_at) AS d_detected_at,
  any(details) AS d_details
FROM ` + q.table("drift_events") + `
WHERE ` + strings.Join(conds, " AND ") + `
GROUP BY event_id
ORDER BY d_detected_at, event_id`
}

// latestSnapshot reads scope's snapshot with the highest version (of two
// copies of one version, the one created last); columns match Snapshot
// without its scope.
func (q queries) latestSnapshot(scope string) string {
	return "SELECT version, created_at, body FROM " + q.table("calibration_snapshots") +
		" WHERE scope = " + quoteString(scope) + " ORDER BY version DESC, created_at DESC LIMIT 1"
}

// interventionEvents reads the intervention events created in [from, to)
// (zero bounds are open), one row per event_id, oldest first; columns match
// InterventionEvent. Copies of one event share their created_at (it is in
// the sort key), so the range keeps or drops them together.
func (q queries) interventionEvents(from, to time.Time) string {
	var conds []string
	if !from.IsZero() {
		conds = append(conds, "created_at >= "+dateTimeLiteral(clampTime(from)))
	}
	if !to.IsZero() {
		conds = append(conds, "created_at < "+dateTimeLiteral(clampTime(to)))
	}
	where := ""
	if len(conds) > 0 {
		where = "\nWHERE " + strings.Join(conds, " AND ")
	}
	return `SELECT event_id, any(intervention_id) AS i_intervention, any(type) AS i_type, any(created_at) AS i_created_at,
  any(content_template) AS i_template, any(creative_elements) AS i_creative
FROM ` + q.table("interventions") + where + `
GROUP BY event_id
ORDER BY i_created_at, event_id`
}
