package schemas

import (
	"embed"
	"slices"
)

// jsonSchemaFS holds one JSON Schema document per event type, named
// "<type>.v1.schema.json".
//
//go:embed jsonschema/*.schema.json
var jsonSchemaFS embed.FS

// JSONSchemaBaseURL is the prefix of every schema's "$id"; the full id of a
// type's schema is JSONSchemaBaseURL + t.SchemaName() + ".schema.json", e.g.
// https://preflight.dev/schemas/exposure.v1.schema.json.
const JSONSchemaBaseURL = "https://preflight.dev/schemas/"

// JSONSchema returns the JSON Schema (draft 2020-12) of event type t at the
// current version, for producers written in other languages, or nil if t is
// not one of Types. Each call returns a fresh copy that the caller may modify.
//
// The schema accepts exactly the events that Decode accepts, except for what
// JSON Schema cannot express: Decode counts the 128-byte limit of
// identifiers (and the 64 KiB limit of intervention content templates) in
// UTF-8 bytes where the schema counts characters, and it rejects integers
// written with a fraction or an exponent (3.0, 3e0) that JSON Schema calls
// integers. Both are stated in the schemas' descriptions. The formats
// ("uuid", "date-time") are also spelled out as patterns, so a validator that
// only annotates formats still checks everything but the calendar (it would
// let 2026-02-30 through).
func JSONSchema(t Type) []byte {
	if !slices.Contains(Types, t) {
		return nil
	}
	b, err := jsonSchemaFS.ReadFile("jsonschema/" + t.SchemaName() + ".schema.json")
	if err != nil {
		panic("schemas: JSON Schema of " + string(t) + " is not embedded: " + err.Error())
	}
	return b
}
