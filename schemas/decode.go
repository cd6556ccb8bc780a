package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// FieldError is one problem with one field of an event.
type FieldError struct {
	// Path is the field's JSON path, e.g. "exposure.arm".
	Path string
	// Reason says what is wrong, e.g. `must be "treatment" or "control"`.
	Reason string
}

func (e FieldError) Error() string { return e.Path + ": " + e.Reason }

// ValidationError lists every problem found in one event.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Error()
	}
	return strings.Join(parts, "; ")
}

// DecodeError is returned by Decode. Kind classifies the failure for metrics
// and for the dead-letter topic's headers; the wrapped error says exactly
// what was wrong.
type DecodeError struct {
	Kind string // "unknown_schema", "invalid_json", "invalid_event"
	Err  error
}

func (e *DecodeError) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// ParseSchemaHeader splits a header value such as "exposure.v1" into its type
// and checks both parts.
func ParseSchemaHeader(h string) (Type, error) {
	name, ver, ok := strings.Cut(h, ".")
	if !ok || h == "" {
		return "", fmt.Errorf("schema header %q: want <type>.<version>, e.g. exposure.v1", h)
	}
	t := Type(name)
	if !slices.Contains(Types, t) {
		return "", fmt.Errorf("schema header %q: unknown event type %q (want one of entity, exposure, outcome, intervention, segment)", h, name)
	}
	if ver != Version {
		return "", fmt.Errorf("schema header %q: unsupported version %q (this release reads %s)", h, ver, Version)
	}
	return t, nil
}

// New returns a zero event of type t.
func New(t Type) Event {
	switch t {
	case TypeEntity:
		return &Entity{}
	case TypeExposure:
		return &Exposure{}
	case TypeOutcome:
		return &Outcome{}
	case TypeIntervention:
		return &Intervention{}
	case TypeSegment:
		return &Segment{}
	}
	return nil
}

// Decode parses one record's value as the event named by its schema header,
// keeps unknown top-level fields in the event's attributes or metadata, and
// validates it. Every failure is a *DecodeError; for an invalid_event it
// wraps a *ValidationError that lists every problem, fields of the wrong type
// included, in the order the type declares its fields. A known field set to
// null counts as absent. Timestamps must be RFC 3339 in the form
// 2006-01-02T15:04:05[.fraction](Z|±hh:mm), as the JSON Schemas say.
func Decode(schemaHeader string, value []byte) (Event, error) {
	t, err := ParseSchemaHeader(schemaHeader)
	if err != nil {
		return nil, &DecodeError{Kind: "unknown_schema", Err: err}
	}
	ev, err := DecodeAs(t, value)
	if err != nil {
		return nil, err
	}
	return ev, nil
}

// DecodeAs is Decode for a type already known.
func DecodeAs(t Type, value []byte) (Event, error) {
	var buf [24]member
	raw, ok := appendMembers(buf[:0], value)
	if ok {
		raw = lastOfEachName(raw)
	} else {
		// Not a single valid JSON object: let encoding/json say why.
		var m map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(value))
		if err := dec.Decode(&m); err != nil {
			return nil, &DecodeError{Kind: "invalid_json", Err: fmt.Errorf("%s: %w", t, err)}
		}
		if m == nil {
			return nil, &DecodeError{Kind: "invalid_json", Err: fmt.Errorf("%s: want a JSON object, got null", t)}
		}
		// dec.More would miss a stray '}' or ']': only the end of input will do.
		if _, err := dec.Token(); err != io.EOF {
			return nil, &DecodeError{Kind: "invalid_json", Err: fmt.Errorf("%s: trailing data after the JSON object", t)}
		}
		raw = raw[:0]
		for name, v := range m {
			raw = append(raw, member{name: []byte(name), value: v})
		}
	}
	ev := New(t)
	var fe []FieldError
	known := jsonFields(ev)
	var extra map[string]any
	rv := reflect.ValueOf(ev).Elem()
	for _, mb := range raw {
		msg := mb.value
		idx, ok := known[string(mb.name)]
		if !ok {
			name := string(mb.name)
			var v any
			if err := json.Unmarshal(msg, &v); err != nil {
				// Valid JSON fails only with a number beyond float64.
				fe = append(fe, FieldError{Path: string(t) + "." + name, Reason: "must hold only numbers that fit a 64-bit float"})
				continue
			}
			if extra == nil {
				extra = make(map[string]any)
			}
			extra[name] = v
			continue
		}
		f := rv.Field(idx)
		if string(msg) == "null" {
			continue
		}
		if err := decodeField(f, msg); err != nil {
			fe = append(fe, FieldError{Path: string(t) + "." + string(mb.name), Reason: typeReason(f.Type(), msg)})
		}
	}
	if len(extra) > 0 {
		mergeExtra(ev, extra)
	}
	verr := ev.Validate()
	if len(fe) == 0 {
		if verr != nil {
			return nil, &DecodeError{Kind: "invalid_event", Err: verr}
		}
		return ev, nil
	}
	// Report every problem. A field that did not decode holds its zero
	// value, which Validate may flag too ("is required"): keep only the
	// decoding reason for it.
	var ve *ValidationError
	if errors.As(verr, &ve) {
		for _, f := range ve.Fields {
			if !slices.ContainsFunc(fe, func(g FieldError) bool { return g.Path == f.Path }) {
				fe = append(fe, f)
			}
		}
	}
	sortFieldErrors(t, known, fe)
	return nil, &DecodeError{Kind: "invalid_event", Err: &ValidationError{Fields: fe}}
}

// sortFieldErrors orders errors as the struct declares its fields, then
// unknown fields by name, so that one input always gives one message.
func sortFieldErrors(t Type, known map[string]int, fe []FieldError) {
	rank := func(f FieldError) (int, string) {
		name := strings.TrimPrefix(f.Path, string(t)+".")
		if i, ok := known[name]; ok {
			return i, ""
		}
		return len(known), name
	}
	slices.SortStableFunc(fe, func(a, b FieldError) int {
		ia, na := rank(a)
		ib, nb := rank(b)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(na, nb)
	})
}

var (
	timeType = reflect.TypeFor[time.Time]()
	mapType  = reflect.TypeFor[map[string]any]()
)

// decodeField decodes msg, which is not null, into the struct field f.
// Timestamps are read as JSON strings (escapes and all, which
// time.Time.UnmarshalJSON does not undo) and then as strict RFC 3339.
func decodeField(f reflect.Value, msg json.RawMessage) error {
	if f.Type() != timeType {
		if fastDecode(f, msg) {
			return nil
		}
		return json.Unmarshal(msg, f.Addr().Interface())
	}
	var s string
	if n := len(msg); n >= 2 && msg[0] == '"' && bytes.IndexByte(msg, '\\') < 0 {
		s = string(msg[1 : n-1]) // no escapes to undo
	} else if err := json.Unmarshal(msg, &s); err != nil {
		return err
	}
	ts, err := parseTimestamp(s)
	if err != nil {
		return err
	}
	f.Set(reflect.ValueOf(ts))
	return nil
}

// topLevelMembers splits a JSON object into its members, the last of
// repeated names winning, as decoding into a map[string]json.RawMessage
// does. It reports false when value is not exactly one valid JSON object
// (see appendMembers). Values are sub-slices of value.
func topLevelMembers(value []byte) (map[string]json.RawMessage, bool) {
	ms, ok := appendMembers(nil, value)
	if !ok {
		return nil, false
	}
	out := make(map[string]json.RawMessage, len(ms))
	for _, m := range ms {
		out[string(m.name)] = m.value
	}
	return out, true
}

// member is one member of a JSON object: its name, unescaped, and its raw
// value.
type member struct {
	name  []byte
	value json.RawMessage
}

// appendMembers appends the members of the JSON object value to dst, in
// order, repeats included, in one pass and without copying names or values
// (a name is copied only when it has escapes to undo). It reports false
// when value is not exactly one valid JSON object — the grammar of RFC 8259
// as encoding/json accepts it: bytes that are not UTF-8 pass, nesting is
// limited to maxDepth — and the caller then asks encoding/json why.
func appendMembers(dst []member, value []byte) ([]member, bool) {
	i := skipSpace(value, 0)
	if i >= len(value) || value[i] != '{' {
		return dst, false
	}
	i = skipSpace(value, i+1)
	if i < len(value) && value[i] == '}' {
		return dst, skipSpace(value, i+1) == len(value)
	}
	for {
		end, ok := scanString(value, i)
		if !ok {
			return dst, false
		}
		name := value[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 || !utf8.Valid(name) {
			var s string
			if err := json.Unmarshal(value[i:end], &s); err != nil {
				return dst, false
			}
			name = []byte(s)
		}
		i = skipSpace(value, end)
		if i >= len(value) || value[i] != ':' {
			return dst, false
		}
		i = skipSpace(value, i+1)
		if end, ok = scanValue(value, i, 1); !ok {
			return dst, false
		}
		dst = append(dst, member{name: name, value: value[i:end:end]})
		i = skipSpace(value, end)
		if i >= len(value) {
			return dst, false
		}
		switch value[i] {
		case '}':
			return dst, skipSpace(value, i+1) == len(value)
		case ',':
			i = skipSpace(value, i+1)
		default:
			return dst, false
		}
	}
}

// lastOfEachName drops every member whose name comes again later, keeping
// the order of the rest: the last of repeated names wins, as in
// encoding/json. Objects are small, so a quadratic check costs less than a
// map; ms is returned as is when its names are distinct, as they nearly
// always are.
func lastOfEachName(ms []member) []member {
	dup := false
	for i := 1; i < len(ms) && !dup; i++ {
		for j := range i {
			if bytes.Equal(ms[i].name, ms[j].name) {
				dup = true
				break
			}
		}
	}
	if !dup {
		return ms
	}
	out := make([]member, 0, len(ms))
	for i, m := range ms {
		if !slices.ContainsFunc(ms[i+1:], func(n member) bool { return bytes.Equal(n.name, m.name) }) {
			out = append(out, m)
		}
	}
	return out
}

// flatObject decodes a JSON object whose members are all plain strings
// (no escapes, valid UTF-8), numbers, booleans or null into the
// map[string]any that json.Unmarshal would give (numbers as float64, parsed
// with strconv as encoding/json does; the last of repeated names wins). It
// reports false for anything else — nesting, escapes, a number beyond
// float64 — and the caller falls back to encoding/json. Free-form content
// and metadata are usually flat, and this halves their decoding cost.
func flatObject(msg []byte) (map[string]any, bool) {
	var buf [16]member
	ms, ok := appendMembers(buf[:0], msg)
	if !ok {
		return nil, false
	}
	out := make(map[string]any, len(ms))
	for _, m := range ms {
		v, n := m.value, len(m.value)
		switch c := v[0]; {
		case c == '"':
			if bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
				return nil, false
			}
			out[string(m.name)] = string(v[1 : n-1])
		case c == '-' || isDigit(c):
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil {
				return nil, false
			}
			out[string(m.name)] = f
		case string(v) == "true":
			out[string(m.name)] = true
		case string(v) == "false":
			out[string(m.name)] = false
		case string(v) == "null":
			out[string(m.name)] = nil
		default:
			return nil, false
		}
	}
	return out, true
}

// maxDepth is encoding/json's limit on nesting.
const maxDepth = 10000

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString checks the JSON string starting at b[i] and returns the index
// after it.
func scanString(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return 0, false
		case c == '\\':
			i++
			if i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return 0, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return 0, false
					}
				}
				i += 4
			default:
				return 0, false
			}
		}
	}
	return 0, false
}

func isHex(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') }

// scanValue checks the JSON value starting at b[i], at nesting depth
// depth, and returns the index after it.
func scanValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return scanString(b, i)
	case c == '{' || c == '[':
		if depth++; depth > maxDepth {
			return 0, false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == closer {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i, ok = scanString(b, i); !ok {
					return 0, false
				}
				if i = skipSpace(b, i); i >= len(b) || b[i] != ':' {
					return 0, false
				}
				i = skipSpace(b, i+1)
			}
			if i, ok = scanValue(b, i, depth); !ok {
				return 0, false
			}
			if i = skipSpace(b, i); i >= len(b) {
				return 0, false
			}
			switch b[i] {
			case closer:
				return i + 1, true
			case ',':
				i = skipSpace(b, i+1)
			default:
				return 0, false
			}
		}
	case c == '-' || isDigit(c):
		return scanNumber(b, i)
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return 0, false
}

// scanNumber checks the JSON number -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
// starting at b[i].
func scanNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	digits := func() bool {
		start := i
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		return i > start
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case !digits():
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if !digits() {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return 0, false
		}
	}
	return i, true
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// fastDecode stores msg in f without encoding/json when that is certain to
// give what json.Unmarshal gives: a string without escapes and of valid
// UTF-8 (json would replace invalid bytes), or a number into a float64 or
// an int (json parses numbers with strconv too, and fails where strconv
// fails: fractions or exponents for an int, overflow). It reports whether
// it stored the value; otherwise the caller falls back to json.Unmarshal.
// msg is known to be valid JSON. Half of decoding went to per-field
// json.Unmarshal calls before this.
func fastDecode(f reflect.Value, msg json.RawMessage) bool {
	n := len(msg)
	switch f.Kind() {
	case reflect.String:
		if n < 2 || msg[0] != '"' || bytes.IndexByte(msg, '\\') >= 0 || !utf8.Valid(msg) {
			return false
		}
		f.SetString(string(msg[1 : n-1]))
		return true
	case reflect.Float64:
		if n == 0 || (msg[0] != '-' && !isDigit(msg[0])) {
			return false
		}
		v, err := strconv.ParseFloat(string(msg), 64)
		if err != nil {
			return false
		}
		f.SetFloat(v)
		return true
	case reflect.Map:
		if f.Type() != mapType || n == 0 || msg[0] != '{' {
			return false
		}
		m, ok := flatObject(msg)
		if !ok {
			return false
		}
		f.Set(reflect.ValueOf(m))
		return true
	case reflect.Int, reflect.Int64:
		if n == 0 || (msg[0] != '-' && !isDigit(msg[0])) {
			return false
		}
		v, err := strconv.ParseInt(string(msg), 10, 64)
		if err != nil || f.OverflowInt(v) {
			return false
		}
		f.SetInt(v)
		return true
	}
	return false
}

// parseTimestamp parses an RFC 3339 date-time in the one form the JSON
// Schemas allow: 2006-01-02T15:04:05, an optional fraction of a second after
// a '.', then Z or ±hh:mm (hh at most 23, mm at most 59). time.Parse alone
// also takes one-digit hours, ',' before the fraction and offsets such as
// +24:00, which Encode cannot write back.
func parseTimestamp(s string) (time.Time, error) {
	const head = len("2006-01-02T15:04:05")
	ok := len(s) > head
	for i := 0; ok && i < head; i++ {
		switch i {
		case 4, 7:
			ok = s[i] == '-'
		case 10:
			ok = s[i] == 'T'
		case 13, 16:
			ok = s[i] == ':'
		default:
			ok = isDigit(s[i])
		}
	}
	if ok {
		rest := s[head:]
		if rest[0] == '.' {
			n := 1
			for n < len(rest) && isDigit(rest[n]) {
				n++
			}
			ok = n > 1
			rest = rest[n:]
		}
		ok = ok && (rest == "Z" || len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') &&
			isDigit(rest[1]) && isDigit(rest[2]) && rest[3] == ':' && isDigit(rest[4]) && isDigit(rest[5]) &&
			(rest[1] < '2' || rest[1] == '2' && rest[2] <= '3') && rest[4] <= '5')
	}
	if !ok {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	return time.Parse(time.RFC3339, s)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// jsonFields maps each JSON field name of ev's struct to its field index.
func jsonFields(ev Event) map[string]int {
	rt := reflect.TypeOf(ev).Elem()
	if m, ok := fieldCache[rt]; ok {
		return m
	}
	panic("schemas: no field cache for " + rt.String())
}

var fieldCache = func() map[reflect.Type]map[string]int {
	out := map[reflect.Type]map[string]int{}
	for _, t := range Types {
		rt := reflect.TypeOf(New(t)).Elem()
		m := map[string]int{}
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" {
				m[name] = i
			}
		}
		out[rt] = m
	}
	return out
}()

// typeReason explains why msg does not decode into a field of type ft.
func typeReason(ft reflect.Type, msg json.RawMessage) string {
	got := "value"
	switch msg[0] {
	case '"':
		got = "string"
	case '{':
		got = "object"
	case '[':
		got = "array"
	case 't', 'f':
		got = "boolean"
	default:
		got = "number"
	}
	switch {
	case ft == timeType:
		if got == "string" {
			return "must be an RFC 3339 timestamp such as 2026-11-25T10:00:00Z or 2026-11-25T11:00:00.5+01:00 (upper-case T and Z, two-digit fields, a real date and time)"
		}
		return "must be an RFC 3339 timestamp string, got " + got
	case ft.Kind() == reflect.String:
		return "must be a string, got " + got
	case ft.Kind() == reflect.Int || ft.Kind() == reflect.Int64:
		if got == "number" {
			return "must be an integer written without fraction or exponent, within 64 bits"
		}
		return "must be an integer, got " + got
	case ft.Kind() == reflect.Float64:
		if got == "number" {
			return "must be a number that fits a 64-bit float"
		}
		return "must be a number, got " + got
	case ft.Kind() == reflect.Map:
		if got == "object" {
			return "must hold only numbers that fit a 64-bit float"
		}
		return "must be an object, got " + got
	}
	return "has the wrong type: " + got
}

// mergeExtra keeps unknown top-level fields in the event's free-form map.
// Fields already present in the map win over top-level ones of the same name.
func mergeExtra(ev Event, extra map[string]any) {
	var dst *map[string]any
	switch e := ev.(type) {
	case *Entity:
		dst = &e.Attributes
	case *Exposure:
		dst = &e.Metadata
	case *Outcome:
		dst = &e.Metadata
	case *Intervention:
		dst = &e.Metadata
	case *Segment:
		dst = &e.Metadata
	}
	if *dst == nil {
		*dst = make(map[string]any, len(extra))
	}
	for k, v := range extra {
		if _, ok := (*dst)[k]; !ok {
			(*dst)[k] = v
		}
	}
}

// Limits on identifiers and free text.
const (
	maxIDLen   = 128
	maxTextLen = 64 << 10
)

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

type checker struct {
	prefix string
	errs   []FieldError
}

func (c *checker) add(field, reason string) {
	c.errs = append(c.errs, FieldError{Path: c.prefix + "." + field, Reason: reason})
}

func (c *checker) uuid(field, v string) {
	if v == "" {
		c.add(field, "is required (a UUID)")
		return
	}
	if _, err := uuid.Parse(v); err != nil || len(v) != 36 {
		c.add(field, fmt.Sprintf("must be a UUID in the 8-4-4-4-12 form, got %q", clip(v)))
	}
}

func (c *checker) id(field, v string, required bool) {
	switch {
	case v == "" && required:
		c.add(field, "is required")
	case len(v) > maxIDLen:
		c.add(field, fmt.Sprintf("must be at most %d bytes, got %d", maxIDLen, len(v)))
	case strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		c.add(field, "must not contain control characters")
	}
}

func (c *checker) time(field string, v time.Time) {
	switch {
	case v.IsZero():
		c.add(field, "is required (an RFC 3339 timestamp)")
	case v.Year() < 1970 || v.Year() > 2105:
		c.add(field, fmt.Sprintf("must be between 1970 and 2105, got %s", v.Format(time.RFC3339)))
	}
}

func (c *checker) finite(field string, v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		c.add(field, "must be a finite number")
		return false
	}
	return true
}

func (c *checker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return &ValidationError{Fields: c.errs}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Validate implements Event.
func (e *Entity) Validate() error {
	c := &checker{prefix: "entity"}
	c.uuid("event_id", e.EventID)
	c.id("entity_id", e.EntityID, true)
	c.id("segment_id", e.SegmentID, true)
	c.time("created_at", e.CreatedAt)
	c.id("lifecycle_stage", e.LifecycleStage, false)
	c.id("value_tier", e.ValueTier, false)
	return c.err()
}

// Validate implements Event.
func (e *Exposure) Validate() error {
	c := &checker{prefix: "exposure"}
	c.uuid("event_id", e.EventID)
	c.uuid("exposure_id", e.ExposureID)
	c.id("entity_id", e.EntityID, true)
	c.id("segment_id", e.SegmentID, false)
	c.time("timestamp", e.Timestamp)
	if !identRE.MatchString(e.Channel) {
		c.add("channel", fmt.Sprintf("must be a lower-case channel name such as email, sms or push, got %q", clip(e.Channel)))
	}
	c.id("campaign_id", e.CampaignID, true)
	c.id("intervention_id", e.InterventionID, true)
	switch e.Arm {
	case ArmTreatment:
		if c.finite("cost", e.Cost) && e.Cost < 0 {
			c.add("cost", fmt.Sprintf("must be >= 0, got %g", e.Cost))
		}
		if e.FrequencyCumulative < 1 {
			c.add("frequency_cumulative", fmt.Sprintf("must be >= 1 for a treatment exposure (it counts this send), got %d", e.FrequencyCumulative))
		}
	case ArmControl:
		if c.finite("cost", e.Cost) && e.Cost != 0 {
			c.add("cost", fmt.Sprintf("must be 0 for the control arm (nothing was sent), got %g", e.Cost))
		}
		if e.FrequencyCumulative < 0 {
			c.add("frequency_cumulative", fmt.Sprintf("must be >= 0, got %d", e.FrequencyCumulative))
		}
	case "":
		c.add("arm", `is required ("treatment" or "control")`)
	default:
		c.add("arm", fmt.Sprintf(`must be "treatment" or "control", got %q`, clip(e.Arm)))
	}
	return c.err()
}

// Validate implements Event.
func (e *Outcome) Validate() error {
	c := &checker{prefix: "outcome"}
	c.uuid("event_id", e.EventID)
	c.uuid("outcome_id", e.OutcomeID)
	c.id("entity_id", e.EntityID, true)
	c.time("timestamp", e.Timestamp)
	switch {
	case e.OutcomeType == "":
		c.add("outcome_type", "is required (one of "+strings.Join(OutcomeTypes, ", ")+")")
	case !slices.Contains(OutcomeTypes, e.OutcomeType):
		c.add("outcome_type", fmt.Sprintf("must be one of %s, got %q", strings.Join(OutcomeTypes, ", "), clip(e.OutcomeType)))
	}
	if c.finite("value", e.Value) && e.Value < 0 {
		c.add("value", fmt.Sprintf("must be >= 0, got %g", e.Value))
	}
	c.id("campaign_id", e.CampaignID, false)
	return c.err()
}

// Validate implements Event.
func (e *Intervention) Validate() error {
	c := &checker{prefix: "intervention"}
	c.uuid("event_id", e.EventID)
	c.id("intervention_id", e.InterventionID, true)
	if !identRE.MatchString(e.Kind) {
		c.add("type", fmt.Sprintf("must be a lower-case channel or intervention type such as email, sms, push, policy_change, got %q", clip(e.Kind)))
	}
	c.time("created_at", e.CreatedAt)
	if len(e.ContentTemplate) > maxTextLen {
		c.add("content_template", fmt.Sprintf("must be at most %d bytes, got %d", maxTextLen, len(e.ContentTemplate)))
	}
	return c.err()
}

// Validate implements Event.
func (e *Segment) Validate() error {
	c := &checker{prefix: "segment"}
	c.uuid("event_id", e.EventID)
	c.id("segment_id", e.SegmentID, true)
	c.time("updated_at", e.UpdatedAt)
	if e.Size < 0 {
		c.add("size", fmt.Sprintf("must be >= 0, got %d", e.Size))
	}
	return c.err()
}

// IsValidation reports whether err is a *ValidationError or wraps one.
func IsValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}
