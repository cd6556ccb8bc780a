package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestAgreement checks every case of testdata/agreement with both the Go
// decoder and the JSON Schema (format assertions on): both must reach the
// case's verdict, and an invalid case must fail with its kind and paths.
func TestAgreement(t *testing.T) {
	for _, c := range loadCorpus(t) {
		t.Run(c.id(), func(t *testing.T) {
			checkAgreement(t, c)
		})
	}
}

// TestAgreementLongStrings covers the length limits with values too long to
// keep readable in testdata: ASCII, where bytes and characters agree.
func TestAgreementLongStrings(t *testing.T) {
	intervention := func(tmpl string) json.RawMessage {
		return mustJSON(t, map[string]any{
			"event_id": "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "intervention_id": "int-1",
			"type": "email", "created_at": "2026-11-20T08:00:00Z", "content_template": tmpl,
		})
	}
	cases := []corpusCase{
		{Name: "content_template at the limit", Valid: true, Event: intervention(strings.Repeat("a", maxTextLen))},
		{Name: "content_template over the limit", Kind: "invalid_event", Paths: []string{"intervention.content_template"},
			Event: intervention(strings.Repeat("a", maxTextLen+1))},
	}
	for _, c := range cases {
		c.header = TypeIntervention.SchemaName()
		t.Run(c.Name, func(t *testing.T) { checkAgreement(t, c) })
	}
}

func checkAgreement(t *testing.T, c corpusCase) {
	t.Helper()
	typ, err := ParseSchemaHeader(c.header)
	if err != nil {
		t.Fatal(err)
	}
	ev, goErr := Decode(c.header, c.value())
	schErr := schemaVerdict(t, typ, c.value())
	if (goErr == nil) != c.Valid {
		t.Errorf("Go decoder: err = %v, want valid = %v", goErr, c.Valid)
	}
	if (schErr == nil) != c.Valid {
		t.Errorf("JSON Schema: err = %v, want valid = %v", schErr, c.Valid)
	}
	if c.Valid {
		if goErr == nil && ev.Type() != typ {
			t.Errorf("decoded a %s, want %s", ev.Type(), typ)
		}
		return
	}
	var de *DecodeError
	if !errors.As(goErr, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", goErr, goErr)
	}
	if de.Kind != c.Kind {
		t.Errorf("kind = %q, want %q (%v)", de.Kind, c.Kind, goErr)
	}
	if c.Paths != nil {
		if got := fieldPaths(goErr); !slices.Equal(got, c.Paths) {
			t.Errorf("paths = %q, want %q (%v)", got, c.Paths, goErr)
		}
	}
}

// TestKnownGaps pins the only differences between the Go decoder and the
// JSON Schemas, which JSON Schema cannot express and the schemas' descriptions
// state: limits counted in UTF-8 bytes, and integers with a fraction or
// exponent. If one of these starts to agree, move it to testdata/agreement.
func TestKnownGaps(t *testing.T) {
	exposure := func(field string, v any) json.RawMessage {
		ev := map[string]any{
			"event_id": "8c0d4c1a-5b7e-4f21-9a3d-6e2f1b0c9d84", "exposure_id": "d2a7f0e3-1c4b-4a8e-b6f9-0e3d5c7a9b12",
			"entity_id": "cust-1042", "timestamp": "2026-11-25T10:00:00Z", "channel": "email",
			"campaign_id": "bf", "intervention_id": "int-1", "arm": "treatment", "frequency_cumulative": 2,
		}
		ev[field] = v
		return mustJSON(t, ev)
	}
	raw := func(field, literal string) json.RawMessage {
		return bytes.Replace(exposure(field, "LITERAL"), []byte(`"LITERAL"`), []byte(literal), 1)
	}
	segment := `{"event_id":"9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a","segment_id":"s","updated_at":"2026-11-01T00:00:00Z","size":1e3}`
	tmpl := strings.Repeat("€", maxTextLen/3+1) // 21846 characters, 65538 bytes
	intervention := mustJSON(t, map[string]any{
		"event_id": "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "intervention_id": "int-1",
		"type": "email", "created_at": "2026-11-20T08:00:00Z", "content_template": tmpl,
	})
	cases := []struct {
		name   string
		header string
		value  []byte
		path   string
	}{
		{"frequency written 3.0", "exposure.v1", raw("frequency_cumulative", "3.0"), "exposure.frequency_cumulative"},
		{"frequency written 3e0", "exposure.v1", raw("frequency_cumulative", "3e0"), "exposure.frequency_cumulative"},
		{"size written 1e3", "segment.v1", []byte(segment), "segment.size"},
		{"entity_id of 100 characters, 200 bytes", "exposure.v1", exposure("entity_id", strings.Repeat("é", 100)), "exposure.entity_id"},
		{"content_template of 21846 characters, 65538 bytes", "intervention.v1", intervention, "intervention.content_template"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			typ, _ := ParseSchemaHeader(c.header)
			_, goErr := Decode(c.header, c.value)
			if schErr := schemaVerdict(t, typ, c.value); schErr != nil {
				t.Errorf("JSON Schema rejects it (%v): the gap has closed, move the case to testdata/agreement", schErr)
			}
			if goErr == nil {
				t.Fatalf("Go decoder accepts it: the gap has closed, move the case to testdata/agreement")
			}
			if got := fieldPaths(goErr); !slices.Equal(got, []string{c.path}) {
				t.Errorf("paths = %q, want [%q] (%v)", got, c.path, goErr)
			}
			if !isKnownGap(goErr) {
				t.Errorf("isKnownGap(%v) = false", goErr)
			}
		})
	}
}

// schemaDoc is the part of a schema file the golden tests read.
type schemaDoc struct {
	Schema               string                     `json:"$schema"`
	ID                   string                     `json:"$id"`
	Title                string                     `json:"title"`
	Description          string                     `json:"description"`
	Type                 string                     `json:"type"`
	Required             []string                   `json:"required"`
	Properties           map[string]json.RawMessage `json:"properties"`
	AdditionalProperties json.RawMessage            `json:"additionalProperties"`
	AllOf                []struct {
		Description string          `json:"description"`
		If          json.RawMessage `json:"if"`
		Then        struct {
			Required   []string        `json:"required"`
			Properties json.RawMessage `json:"properties"`
		} `json:"then"`
	} `json:"allOf"`
	Defs     map[string]json.RawMessage `json:"$defs"`
	Examples []json.RawMessage          `json:"examples"`
}

func readSchemaDoc(t *testing.T, typ Type) schemaDoc {
	t.Helper()
	var d schemaDoc
	dec := json.NewDecoder(bytes.NewReader(JSONSchema(typ)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s: %v", typ, err)
	}
	return d
}

// TestJSONSchemaFiles checks that the schema files are well-formed draft
// 2020-12 documents (they compile against the meta-schema), embedded as
// written, formatted as json.Indent with two spaces would, and describe
// exactly the fields of the Go types.
func TestJSONSchemaFiles(t *testing.T) {
	compiledSchemas(t)
	var defs map[string]json.RawMessage
	for _, typ := range Types {
		t.Run(string(typ), func(t *testing.T) {
			file, err := os.ReadFile(filepath.Join("jsonschema", typ.SchemaName()+".schema.json"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(file, JSONSchema(typ)) {
				t.Error("embedded schema differs from the file")
			}
			var compact, indented bytes.Buffer
			if err := json.Compact(&compact, file); err != nil {
				t.Fatal(err)
			}
			if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil {
				t.Fatal(err)
			}
			indented.WriteByte('\n')
			if !bytes.Equal(indented.Bytes(), file) {
				t.Error("file is not formatted as json.Indent with two spaces")
			}

			d := readSchemaDoc(t, typ)
			if d.Schema != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %q", d.Schema)
			}
			if d.ID != schemaURL(typ) {
				t.Errorf("$id = %q, want %q", d.ID, schemaURL(typ))
			}
			if d.Title == "" || !strings.Contains(d.Description, `"`+typ.SchemaName()+`"`) {
				t.Errorf("title %q or description %q lacks the schema header", d.Title, d.Description)
			}
			if d.Type != "object" {
				t.Errorf("type = %q, want object", d.Type)
			}
			if string(d.AdditionalProperties) == "false" || d.AdditionalProperties == nil {
				t.Errorf("additionalProperties = %s, want unknown fields allowed", d.AdditionalProperties)
			}
			if got, want := slices.Sorted(maps.Keys(d.Properties)), jsonFieldNames(typ); !slices.Equal(got, want) {
				t.Errorf("properties = %q, want the Go fields %q", got, want)
			}
			for name, raw := range d.Properties {
				var p struct {
					Description string `json:"description"`
				}
				if err := json.Unmarshal(raw, &p); err != nil || len(p.Description) < 20 {
					t.Errorf("property %s: description %q is missing or too short", name, p.Description)
				}
			}
			for name, raw := range d.Defs {
				var p struct {
					Description string `json:"description"`
				}
				if err := json.Unmarshal(raw, &p); err != nil || p.Description == "" {
					t.Errorf("$defs/%s has no description", name)
				}
			}
			if defs == nil {
				defs = d.Defs
			} else if !maps.EqualFunc(defs, d.Defs, func(a, b json.RawMessage) bool { return bytes.Equal(a, b) }) {
				t.Errorf("$defs differ from those of %s: keep them identical in every file", Types[0])
			}
			if len(d.Examples) == 0 {
				t.Error("no examples")
			}
			for i, ex := range d.Examples {
				if _, err := Decode(typ.SchemaName(), ex); err != nil {
					t.Errorf("examples[%d]: Decode: %v", i, err)
				}
				if err := schemaVerdict(t, typ, ex); err != nil {
					t.Errorf("examples[%d]: JSON Schema: %v", i, err)
				}
			}
		})
	}
}

// TestJSONSchemaRequired derives each type's required fields from the Go
// validator (a field is required if removing it from every valid example
// makes Decode fail) and compares them with the schema's required list, and,
// for exposures, with the fields the treatment arm's if/then requires.
func TestJSONSchemaRequired(t *testing.T) {
	examples := map[Type][]map[string]json.RawMessage{}
	for _, c := range loadCorpus(t) {
		if !c.Valid || c.Raw != nil {
			continue
		}
		typ, _ := ParseSchemaHeader(c.header)
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c.Event, &m); err != nil {
			t.Fatal(err)
		}
		examples[typ] = append(examples[typ], m)
	}
	// requiredBy returns the known fields that every example holds and that
	// Decode cannot do without.
	requiredBy := func(typ Type, exs []map[string]json.RawMessage) []string {
		t.Helper()
		var out []string
		for _, name := range jsonFieldNames(typ) {
			required := len(exs) > 0
			for _, ex := range exs {
				if _, ok := ex[name]; !ok {
					required = false
					break
				}
				without := maps.Clone(ex)
				delete(without, name)
				if _, err := Decode(typ.SchemaName(), mustJSON(t, without)); err == nil {
					required = false
					break
				}
			}
			if required {
				out = append(out, name)
			}
		}
		return out
	}
	for _, typ := range Types {
		t.Run(string(typ), func(t *testing.T) {
			d := readSchemaDoc(t, typ)
			want := requiredBy(typ, examples[typ])
			if got := slices.Sorted(slices.Values(d.Required)); !slices.Equal(got, want) {
				t.Errorf("schema required = %q, Go requires %q", got, want)
			}
			if typ != TypeExposure {
				if len(d.AllOf) != 0 {
					t.Errorf("unexpected allOf")
				}
				return
			}
			byArm := map[string][]map[string]json.RawMessage{}
			for _, ex := range examples[typ] {
				var arm string
				_ = json.Unmarshal(ex["arm"], &arm)
				byArm[arm] = append(byArm[arm], ex)
			}
			thenRequired := map[string][]string{}
			for _, rule := range d.AllOf {
				var cond struct {
					Properties struct {
						Arm struct {
							Const string `json:"const"`
						} `json:"arm"`
					} `json:"properties"`
					Required []string `json:"required"`
				}
				if err := json.Unmarshal(rule.If, &cond); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(cond.Required, []string{"arm"}) {
					t.Errorf("if of arm %q must require arm, or it holds when arm is absent", cond.Properties.Arm.Const)
				}
				thenRequired[cond.Properties.Arm.Const] = rule.Then.Required
			}
			for _, arm := range []string{ArmTreatment, ArmControl} {
				var extra []string
				for _, name := range requiredBy(typ, byArm[arm]) {
					if !slices.Contains(want, name) {
						extra = append(extra, name)
					}
				}
				if got := thenRequired[arm]; !slices.Equal(got, extra) {
					t.Errorf("arm %s: then requires %q, Go requires %q beyond the common fields", arm, got, extra)
				}
			}
		})
	}
}

// TestJSONSchemaConstants checks that enums, patterns and limits in the
// schemas are the Go validator's own.
func TestJSONSchemaConstants(t *testing.T) {
	prop := func(typ Type, name string) map[string]any {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal(readSchemaDoc(t, typ).Properties[name], &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	def := func(name string) map[string]any {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal(readSchemaDoc(t, TypeEntity).Defs[name], &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range v.([]any) {
			out = append(out, x.(string))
		}
		return out
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"exposure.arm enum", strs(prop(TypeExposure, "arm")["enum"]), []string{ArmTreatment, ArmControl}},
		{"outcome.outcome_type enum", strs(prop(TypeOutcome, "outcome_type")["enum"]), OutcomeTypes},
		{"exposure.channel pattern", prop(TypeExposure, "channel")["pattern"], identRE.String()},
		{"intervention.type pattern", prop(TypeIntervention, "type")["pattern"], identRE.String()},
		{"intervention.content_template maxLength", prop(TypeIntervention, "content_template")["maxLength"], float64(maxTextLen)},
		{"id maxLength", def("id")["maxLength"], float64(maxIDLen)},
		{"optionalId maxLength", def("optionalId")["maxLength"], float64(maxIDLen)},
		{"count maximum", fmt.Sprint(def("count")["maximum"]), fmt.Sprint(float64(math.MaxInt64))},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
				t.Errorf("schema has %v, Go has %v", c.got, c.want)
			}
		})
	}
	// The schema's exact bound, read without rounding.
	var exact struct {
		Count struct {
			Maximum json.Number `json:"maximum"`
		} `json:"count"`
	}
	dec := json.NewDecoder(bytes.NewReader(readSchemaDoc(t, TypeEntity).Defs["count"]))
	dec.UseNumber()
	_ = dec.Decode(&exact.Count)
	if exact.Count.Maximum.String() != fmt.Sprint(int64(math.MaxInt64)) {
		t.Errorf("count maximum = %s, want %d", exact.Count.Maximum, int64(math.MaxInt64))
	}
}

func TestJSONSchemaFunc(t *testing.T) {
	for _, typ := range Types {
		b := JSONSchema(typ)
		if !json.Valid(b) {
			t.Errorf("%s: not JSON", typ)
		}
		b[0] = 'x'
		if JSONSchema(typ)[0] != '{' {
			t.Errorf("%s: JSONSchema returned shared memory", typ)
		}
	}
	for _, typ := range []Type{"", "click", "exposure.v1", "../jsonschema/entity"} {
		if b := JSONSchema(typ); b != nil {
			t.Errorf("JSONSchema(%q) = %d bytes, want nil", typ, len(b))
		}
	}
}

// TestAgreementWithoutFormatAssertion checks the corpus against a validator
// that treats "format" as an annotation only, as many do by default: the
// patterns enforce everything but the calendar (days per month), so only
// cases about impossible dates may pass there.
func TestAgreementWithoutFormatAssertion(t *testing.T) {
	c := jsonschema.NewCompiler()
	schemas := map[Type]*jsonschema.Schema{}
	for _, typ := range Types {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema(typ)))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource(schemaURL(typ), doc); err != nil {
			t.Fatal(err)
		}
	}
	for _, typ := range Types {
		schemas[typ] = c.MustCompile(schemaURL(typ))
	}
	calendar := regexp.MustCompile(`Feb 29 of a common year|April 31`)
	for _, cc := range loadCorpus(t) {
		typ, _ := ParseSchemaHeader(cc.header)
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(cc.value()))
		if err == nil {
			err = schemas[typ].Validate(inst)
		}
		want := cc.Valid || calendar.MatchString(cc.Name)
		if (err == nil) != want {
			t.Errorf("%s: JSON Schema without format assertion: err = %v, want valid = %v", cc.id(), err, want)
		}
	}
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
