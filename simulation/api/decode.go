package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Limits bounds what Decode accepts beyond the contract's own bounds. A zero
// field takes its default.
type Limits struct {
	// MaxBodyBytes is the largest request body, in bytes; default
	// DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int
	// MaxWork bounds num_personas × monte_carlo_runs × time_horizon_days,
	// after defaults; default DefaultMaxWork (3,000,000: 1000 personas ×
	// 100 runs × 30 days).
	MaxWork int64
}

// Default limits.
const (
	DefaultMaxBodyBytes       = 1 << 20
	DefaultMaxWork      int64 = 3_000_000
)

func (l Limits) withDefaults() Limits {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if l.MaxWork <= 0 {
		l.MaxWork = DefaultMaxWork
	}
	return l
}

// Decode parses body as a SimulateRequest, validates it, applies
// WithDefaults and checks it against limits. Every failure is an *Error:
//
//   - a body larger than limits.MaxBodyBytes is a KindLimit error at
//     BodyPath;
//   - a body that is not exactly one JSON object is a KindValidation error
//     at BodyPath;
//   - otherwise every problem is reported at once, as a KindValidation
//     error whose Fields are in a stable order (see Error.Fields): unknown
//     fields (the contract is closed), values of the wrong JSON type, and
//     every rule of Validate;
//   - a valid request whose work exceeds limits.MaxWork is a KindLimit
//     error at "simulation_params".
//
// Integers may be written with a fraction or exponent that is zero (3.0,
// 3e0), as JSON Schema allows. A field set to null is of the wrong type,
// and an optional enum set to "" is rejected rather than defaulted.
func Decode(body []byte, limits Limits) (SimulateRequest, error) {
	limits = limits.withDefaults()
	if len(body) > limits.MaxBodyBytes {
		return SimulateRequest{}, &Error{Kind: KindLimit, Message: "request body too large", Fields: []FieldError{{
			Path: BodyPath, Reason: fmt.Sprintf("must be at most %d bytes, got %d", limits.MaxBodyBytes, len(body)),
		}}}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	err := dec.Decode(&raw)
	if err == nil {
		// dec.More would miss a stray '}' or ']': only the end of input will do.
		if _, terr := dec.Token(); terr != io.EOF {
			err = fmt.Errorf("trailing data after the JSON object")
		}
	}
	if err != nil {
		return SimulateRequest{}, &Error{Kind: KindValidation, Message: "request body is not valid JSON", Fields: []FieldError{{
			Path: BodyPath, Reason: "must be one JSON object: " + err.Error(),
		}}}
	}
	if _, ok := raw.(map[string]any); !ok {
		return SimulateRequest{}, &Error{Kind: KindValidation, Message: "request body is not a JSON object", Fields: []FieldError{{
			Path: BodyPath, Reason: "must be a JSON object, got " + jsonKind(raw),
		}}}
	}
	var req SimulateRequest
	d := &decoder{}
	d.value("", raw, reflect.ValueOf(&req).Elem(), "")
	errs := d.errs
	for _, f := range req.problems() {
		if !slices.ContainsFunc(d.errs, func(g FieldError) bool { return under(f.Path, g.Path) }) {
			errs = append(errs, f)
		}
	}
	if len(errs) > 0 {
		sortFieldErrors(errs)
		return SimulateRequest{}, &Error{Kind: KindValidation, Message: fmt.Sprintf("request breaks the contract in %d place(s)", len(errs)), Fields: errs}
	}
	req = req.WithDefaults()
	if w := req.Work(); w > limits.MaxWork {
		p := req.SimulationParams
		return SimulateRequest{}, &Error{Kind: KindLimit, Message: "request asks for too much work", Fields: []FieldError{{
			Path: "simulation_params",
			Reason: fmt.Sprintf("num_personas × monte_carlo_runs × time_horizon_days = %d × %d × %d = %d exceeds the limit of %d; lower one of them",
				*p.NumPersonas, *p.MonteCarloRuns, *p.TimeHorizonDays, w, limits.MaxWork),
		}}}
	}
	return req, nil
}

// under reports whether path is p or lies inside it.
func under(path, p string) bool {
	return path == p || strings.HasPrefix(path, p+".") || strings.HasPrefix(path, p+"[")
}

// decoder stores a value decoded by encoding/json (with UseNumber) into a
// typed Go value, collecting one FieldError per mismatch instead of
// stopping at the first.
type decoder struct {
	errs []FieldError
}

func (d *decoder) add(path, reason string) {
	d.errs = append(d.errs, FieldError{Path: path, Reason: reason})
}

// value stores raw into dst, the field at path whose JSON tag options are
// opts.
func (d *decoder) value(path string, raw any, dst reflect.Value, opts string) {
	switch dst.Kind() {
	case reflect.Pointer:
		if raw == nil {
			d.add(path, "must be "+article(dst.Type().Elem())+", got null")
			return
		}
		p := reflect.New(dst.Type().Elem())
		dst.Set(p)
		d.value(path, raw, p.Elem(), opts)
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			d.add(path, "must be an object, got "+jsonKind(raw))
			return
		}
		t := dst.Type()
		known := make(map[string]bool, t.NumField())
		for i := range t.NumField() {
			name, fopts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			known[name] = true
			if v, ok := m[name]; ok {
				d.value(join(path, name), v, dst.Field(i), fopts)
			}
		}
		var unknown []string
		for name := range m {
			if !known[name] {
				unknown = append(unknown, name)
			}
		}
		slices.Sort(unknown)
		for _, name := range unknown {
			d.add(join(path, fieldName(name)), "is not a field of the contract (unknown fields are rejected)")
		}
	case reflect.Slice:
		a, ok := raw.([]any)
		if !ok {
			d.add(path, "must be an array, got "+jsonKind(raw))
			return
		}
		s := reflect.MakeSlice(dst.Type(), len(a), len(a))
		for i, v := range a {
			d.value(fmt.Sprintf("%s[%d]", path, i), v, s.Index(i), "")
		}
		dst.Set(s)
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			d.add(path, "must be a string, got "+jsonKind(raw))
			return
		}
		if s == "" && strings.Contains(opts, "omitempty") {
			d.add(path, "must not be empty (omit the field for its default)")
			return
		}
		dst.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			d.add(path, "must be a boolean, got "+jsonKind(raw))
			return
		}
		dst.SetBool(b)
	case reflect.Int:
		n, ok := raw.(json.Number)
		if !ok {
			d.add(path, "must be an integer, got "+jsonKind(raw))
			return
		}
		v, ok := parseInteger(string(n))
		if !ok {
			d.add(path, "must be an integer, got "+clip(string(n)))
			return
		}
		dst.SetInt(v)
	case reflect.Float64:
		n, ok := raw.(json.Number)
		if !ok {
			d.add(path, "must be a number, got "+jsonKind(raw))
			return
		}
		// Beyond float64 ParseFloat gives ±Inf, which every range check
		// rejects; the syntax is already JSON's.
		v, _ := strconv.ParseFloat(string(n), 64)
		dst.SetFloat(v)
	default:
		panic("api: decoder cannot store into " + dst.Type().String())
	}
}

// parseInteger parses a JSON number whose value is an integer, as JSON
// Schema defines one (3, 3.0, 3e0, 300e-2), clamping it to the int64 range:
// every integer field is bounded far inside that range, so a clamped value
// is still rejected, by its range check. Whether the value is an integer is
// decided on the decimal digits, not on a float64 that may have rounded
// 3.0000000000000000001 to 3.
func parseInteger(s string) (int64, bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	if !integral(s) {
		return 0, false
	}
	f, _ := strconv.ParseFloat(s, 64) // ±Inf beyond float64: clamped below
	switch {
	case f >= math.MaxInt64:
		return math.MaxInt64, true
	case f <= math.MinInt64:
		return math.MinInt64, true
	}
	return int64(f), true
}

// integral reports whether the JSON number s has an integer value.
func integral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return true // zero
	}
	// The value is digits × 10^(e - len(frac)) with digits' leading zeros
	// dropped; it is an integer when the digits that the shift moves past
	// the point are all zeros.
	e := 0
	if exp != "" {
		var err error
		if e, err = strconv.Atoi(exp); err != nil || e > 1_000_000 || e < -1_000_000 {
			// A huge exponent: a (far out of range) integer when positive;
			// a non-zero fraction when negative.
			return exp[0] != '-'
		}
	}
	cut := len(frac) - e // digits after the point
	if cut <= 0 {
		return true
	}
	full := intPart + frac
	if cut > len(full) {
		return false
	}
	return strings.Trim(full[len(full)-cut:], "0") == ""
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

var plainName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// fieldName writes an unknown member name for a path: as is when plain,
// otherwise clipped and quoted, so that it cannot be mistaken for a path
// of several fields.
func fieldName(name string) string {
	if plainName.MatchString(name) {
		return name
	}
	return strconv.Quote(clip(name))
}

func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func article(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "an object"
	case reflect.Slice:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return "a value"
}

// sortFieldErrors orders errors by their paths in the order the contract
// declares its fields, array elements by index, unknown fields after the
// known ones of their object, by name; errors at one path keep their order.
func sortFieldErrors(errs []FieldError) {
	slices.SortStableFunc(errs, func(a, b FieldError) int {
		return compareRanks(pathRank(a.Path), pathRank(b.Path))
	})
}

// rank is one segment of a path's sort key.
type rank struct {
	n    int
	name string
}

func compareRanks(a, b []rank) int {
	for i := range min(len(a), len(b)) {
		if c := a[i].n - b[i].n; c != 0 {
			return c
		}
		if c := strings.Compare(a[i].name, b[i].name); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

var requestType = reflect.TypeFor[SimulateRequest]()

// pathRank turns a path into its sort key by walking the request type.
// Unknown names are always a path's last segment, so the rest of the path
// after an unknown name is that name.
func pathRank(path string) []rank {
	if path == BodyPath {
		return []rank{{n: -1}}
	}
	var out []rank
	t := requestType
	for path != "" {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return append(out, rank{n: math.MaxInt, name: path})
			}
			i, _ := strconv.Atoi(path[1:end])
			out = append(out, rank{n: i})
			path = path[end+1:]
			if t.Kind() == reflect.Slice {
				t = t.Elem()
			}
		case path[0] == '.':
			path = path[1:]
		default:
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			idx := -1
			if t.Kind() == reflect.Struct {
				for i := range t.NumField() {
					if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == path[:end] {
						idx = i
						break
					}
				}
			}
			if idx < 0 {
				n := math.MaxInt
				if t.Kind() == reflect.Struct {
					n = t.NumField()
				}
				return append(out, rank{n: n, name: path})
			}
			out = append(out, rank{n: idx})
			t = t.Field(idx).Type
			path = path[end:]
		}
	}
	return out
}
