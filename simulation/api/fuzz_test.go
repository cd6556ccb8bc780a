package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzDecode checks that Decode never panics, that every error is an *Error
// whose every problem names a field (or the body) and a reason, that an
// accepted request passes Validate and decodes again to itself after
// encoding, and that the JSON Schema accepts whatever Decode accepts.
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile("testdata/prd-request.json"); err == nil {
		f.Add(b)
	}
	var cases []corpusCase
	if b, err := os.ReadFile("testdata/corpus.json"); err == nil && json.Unmarshal(b, &cases) == nil {
		for _, c := range cases {
			f.Add(c.body())
		}
	}
	f.Add([]byte(`null`))
	f.Add([]byte(`{"intervention":{"content_variants":[{"id":"a"},{"id":"a"}]}}`))
	limits := Limits{MaxBodyBytes: 64 << 10, MaxWork: 3_000_000}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Decode(body, limits)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if len(e.Fields) == 0 || e.Message == "" {
				t.Fatalf("error %v names no field", err)
			}
			for _, fe := range e.Fields {
				if fe.Path == "" || fe.Reason == "" || strings.HasPrefix(fe.Path, ".") {
					t.Fatalf("field error %q lacks a path or a reason", fe)
				}
			}
			return
		}
		if err := req.Validate(); err != nil {
			t.Fatalf("Decode accepted a request that Validate rejects: %v", err)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		req2, err := Decode(again, Limits{MaxBodyBytes: len(again), MaxWork: limits.MaxWork})
		if err != nil {
			t.Fatalf("re-encoded request %s does not decode: %v", again, err)
		}
		// Compare encodings: an empty personalization_fields decodes as an
		// empty slice and is omitted when encoded, then decodes as nil.
		if again2, _ := json.Marshal(req2); !bytes.Equal(again, again2) {
			t.Fatalf("re-encoded request decodes differently:\n%s\n%s", again, again2)
		}
		reqSch, _ := schemas(t)
		if err := schemaVerdict(t, reqSch, body); err != nil {
			t.Fatalf("Decode accepts what the JSON Schema rejects: %v\n%s", err, body)
		}
	})
}
