package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// fuzzSeeds adds every corpus case, and the schema headers a fuzzer would
// not easily reach, as seeds of a (header, value) fuzz target.
func fuzzSeeds(f *testing.F) {
	f.Helper()
	for _, c := range loadCorpus(f) {
		f.Add(c.header, c.value())
	}
	for _, h := range []string{"exposure.v2", "exposure", "", "click.v1", "exposure.v1.1", ".v1", "Exposure.v1"} {
		f.Add(h, []byte(exposureJSON))
	}
}

// FuzzDecode checks Decode on any schema header and record value: it never
// panics; when it succeeds the event validates, and Encode then Decode gives
// an equal event (times compared in UTC, empty maps as absent) whose encoding
// is the same again; when it fails the error is a *DecodeError with a kind.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, header string, value []byte) {
		ev, err := Decode(header, value)
		if err != nil {
			de, ok := err.(*DecodeError)
			if !ok {
				t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
			}
			switch de.Kind {
			case "unknown_schema", "invalid_json", "invalid_event":
			default:
				t.Fatalf("DecodeError kind %q (%v)", de.Kind, err)
			}
			if de.Err == nil || de.Error() == "" {
				t.Fatalf("DecodeError without a cause: %#v", de)
			}
			if de.Kind == "invalid_event" {
				var ve *ValidationError
				if !errors.As(err, &ve) || len(ve.Fields) == 0 {
					t.Fatalf("invalid_event without field errors: %v", err)
				}
			}
			if ev != nil {
				t.Fatalf("Decode returned an event and error %v", err)
			}
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("decoded event does not validate: %v", err)
		}
		b, err := Encode(ev)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		back, err := Decode(ev.Type().SchemaName(), b)
		if err != nil {
			t.Fatalf("Decode(Encode(ev)): %v\n%s", err, b)
		}
		if !reflect.DeepEqual(normalize(back), normalize(ev)) {
			t.Fatalf("round trip changed the event:\nbefore %#v\nafter  %#v", ev, back)
		}
		if b2, err := Encode(back); err != nil || string(b2) != string(b) {
			t.Fatalf("Encode is not stable (%v):\n%s\n%s", err, b, b2)
		}
	})
}

// FuzzAgreement checks that the Go decoder and the JSON Schema agree on every
// value, apart from the known gaps that JSON Schema cannot express (see
// TestKnownGaps). The type is chosen by the first byte.
func FuzzAgreement(f *testing.F) {
	for _, c := range loadCorpus(f) {
		typ, _ := ParseSchemaHeader(c.header)
		i := byte(0)
		for Types[i] != typ {
			i++
		}
		f.Add(i, c.value())
	}
	compiledSchemas(f)
	f.Fuzz(func(t *testing.T, which byte, value []byte) {
		typ := Types[int(which)%len(Types)]
		_, goErr := DecodeAs(typ, value)
		schErr := schemaVerdict(t, typ, value)
		switch {
		case (goErr == nil) == (schErr == nil):
		case goErr != nil && isKnownGap(goErr):
		default:
			t.Fatalf("%s: Go decoder says %v\nJSON Schema says %v\nvalue %q", typ, goErr, schErr, value)
		}
	})
}

// FuzzTopLevelMembers checks the decoder's own object splitter against
// encoding/json: for every input that is exactly one JSON object, both give
// the same members, byte for byte; for every other input the splitter
// declines.
func FuzzTopLevelMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"a" : "x\"y", "b":[1,{"c":"]"}], "a":null} `, `{"k\u00e9":{}}`, `[1]`, `{"a":1}}`, "{\"\xff\":1}", `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := topLevelMembers(b)
		var want map[string]json.RawMessage
		err := json.Unmarshal(b, &want)
		isObject := err == nil && want != nil
		if ok != isObject {
			t.Fatalf("topLevelMembers ok=%v, encoding/json object=%v (err %v) for %q", ok, isObject, err, b)
		}
		if !ok {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d members, encoding/json has %d, for %q", len(got), len(want), b)
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("member %q = %q, encoding/json has %q, for %q", k, got[k], v, b)
			}
		}
	})
}

// TestTopLevelMembersDepth checks the nesting limit against encoding/json's
// (10000) on both sides of it.
func TestTopLevelMembersDepth(t *testing.T) {
	for _, d := range []int{9999, 10000, 10001} {
		s := []byte(`{"a":` + strings.Repeat("[", d-1) + strings.Repeat("]", d-1) + `}`)
		if _, ok := topLevelMembers(s); ok != json.Valid(s) {
			t.Errorf("depth %d: topLevelMembers ok=%v, json.Valid=%v", d, ok, json.Valid(s))
		}
	}
}

// FuzzFlatObject checks the flat-object fast path against encoding/json:
// whenever flatObject accepts an input, json.Unmarshal into a map[string]any
// accepts it too and gives the same map.
func FuzzFlatObject(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"b":"x","c":true,"d":null,"e":false}`, `{"a":1e400}`, `{"a":"\u00e9"}`, `{"a":{"b":1}}`, `{"a":1,"a":"y"}`, `{"a":-0.5e-3}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := flatObject(b)
		if !ok {
			return
		}
		var want map[string]any
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("flatObject accepted %q, encoding/json refuses it: %v", b, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("flatObject(%q) = %#v, encoding/json gives %#v", b, got, want)
		}
	})
}
