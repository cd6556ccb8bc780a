package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// corpusCase is one record value of testdata/agreement/<type>.json with the
// verdict that both the Go decoder and the JSON Schema must reach.
type corpusCase struct {
	Name  string `json:"name"`
	Valid bool   `json:"valid"`
	// Kind is the DecodeError kind expected of an invalid case.
	Kind string `json:"kind"`
	// Paths are the field paths an invalid_event case must name, in order;
	// empty means the case does not pin them.
	Paths []string `json:"paths"`
	// Event is the record value as written in the file, escapes included.
	Event json.RawMessage `json:"event"`
	// Raw is the record value for inputs that are not a JSON value (broken
	// JSON, trailing data); it replaces Event.
	Raw *string `json:"raw"`

	header string
}

func (c corpusCase) value() []byte {
	if c.Raw != nil {
		return []byte(*c.Raw)
	}
	return c.Event
}

func (c corpusCase) id() string { return c.header + "/" + c.Name }

// loadCorpus reads every case of testdata/agreement, in a fixed order.
func loadCorpus(tb testing.TB) []corpusCase {
	tb.Helper()
	var all []corpusCase
	for _, t := range Types {
		path := filepath.Join("testdata", "agreement", string(t)+".json")
		b, err := os.ReadFile(path)
		if err != nil {
			tb.Fatal(err)
		}
		var cases []corpusCase
		if err := json.Unmarshal(b, &cases); err != nil {
			tb.Fatalf("%s: %v", path, err)
		}
		seen := map[string]bool{}
		for i := range cases {
			c := &cases[i]
			c.header = t.SchemaName()
			if seen[c.Name] {
				tb.Fatalf("%s: duplicate case name %q", path, c.Name)
			}
			seen[c.Name] = true
			if (c.Raw == nil) == (c.Event == nil) {
				tb.Fatalf("%s: case %q needs exactly one of event and raw", path, c.Name)
			}
			if c.Valid != (c.Kind == "") {
				tb.Fatalf("%s: case %q: an invalid case needs a kind, a valid one none", path, c.Name)
			}
		}
		all = append(all, cases...)
	}
	return all
}

var (
	compileOnce sync.Once
	compiled    map[Type]*jsonschema.Schema
	compileErr  error
)

// compiledSchemas compiles the embedded JSON Schemas with format assertions
// on, as a strict producer-side validator would.
func compiledSchemas(tb testing.TB) map[Type]*jsonschema.Schema {
	tb.Helper()
	compileOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		out := map[Type]*jsonschema.Schema{}
		for _, t := range Types {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema(t)))
			if err != nil {
				compileErr = err
				return
			}
			if err := c.AddResource(schemaURL(t), doc); err != nil {
				compileErr = err
				return
			}
		}
		for _, t := range Types {
			sch, err := c.Compile(schemaURL(t))
			if err != nil {
				compileErr = err
				return
			}
			out[t] = sch
		}
		compiled = out
	})
	if compileErr != nil {
		tb.Fatalf("compile JSON Schemas: %v", compileErr)
	}
	return compiled
}

func schemaURL(t Type) string { return JSONSchemaBaseURL + t.SchemaName() + ".schema.json" }

// schemaVerdict validates value against t's JSON Schema. A value that is not
// exactly one JSON value is invalid, as it is for Decode.
func schemaVerdict(tb testing.TB, t Type, value []byte) error {
	tb.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(value))
	if err != nil {
		return err
	}
	return compiledSchemas(tb)[t].Validate(inst)
}

// fieldPaths returns the paths named by a decode error, in order.
func fieldPaths(err error) []string {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	out := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		out[i] = f.Path
	}
	return out
}

// normalize returns a copy of ev that reflect.DeepEqual can compare after a
// round trip: times in UTC (a decoded offset gets a fresh *time.Location) and
// empty top-level maps as nil (Encode omits them, as the JSON tags say).
func normalize(ev Event) Event {
	cp := reflect.New(reflect.TypeOf(ev).Elem())
	cp.Elem().Set(reflect.ValueOf(ev).Elem())
	v := cp.Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch x := f.Interface().(type) {
		case time.Time:
			f.Set(reflect.ValueOf(x.UTC()))
		case map[string]any:
			if len(x) == 0 {
				f.Set(reflect.Zero(f.Type()))
			}
		}
	}
	return cp.Interface().(Event)
}

// jsonFieldNames lists the JSON names of t's struct fields, sorted.
func jsonFieldNames(t Type) []string {
	var out []string
	for name := range jsonFields(New(t)) {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// isKnownGap reports whether a decode error that the JSON Schema does not
// share comes only from rules JSON Schema cannot express: limits counted in
// UTF-8 bytes, and integers written with a fraction or exponent.
func isKnownGap(err error) bool {
	var ve *ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, f := range ve.Fields {
		if !strings.Contains(f.Reason, " bytes, got ") && !strings.HasPrefix(f.Reason, "must be an integer") {
			return false
		}
	}
	return true
}
