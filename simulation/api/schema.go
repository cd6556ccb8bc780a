package api

import (
	"embed"
	"net/http"
)

//go:embed schema/*.schema.json openapi.yaml
var docs embed.FS

// The embedded documents and where they are served.
const (
	// OpenAPIPath is the fixed path at which the simulator serves
	// OpenAPI().
	OpenAPIPath = "/api/v1/openapi.yaml"
	// SimulatePath is the path of the endpoint itself.
	SimulatePath = "/api/v1/simulate"
	// RequestSchemaID is the "$id" of RequestSchema().
	RequestSchemaID = "https://preflight.dev/schemas/simulate-request.v1.schema.json"
	// ResponseSchemaID is the "$id" of ResponseSchema().
	ResponseSchemaID = "https://preflight.dev/schemas/simulate-response.v1.schema.json"
)

func mustRead(name string) []byte {
	b, err := docs.ReadFile(name)
	if err != nil {
		panic("api: " + name + " is not embedded: " + err.Error())
	}
	return b
}

// RequestSchema returns the JSON Schema (draft 2020-12) of SimulateRequest.
// It accepts exactly the bodies Decode accepts, except for what JSON Schema
// cannot say and its description states: the body size and work limits,
// distinct content variant ids, and numbers that JSON Schema calls integers
// but that lie beyond a 64-bit float's precision. Each call returns a fresh
// copy.
func RequestSchema() []byte { return mustRead("schema/simulate-request.schema.json") }

// ResponseSchema returns the JSON Schema (draft 2020-12) of
// SimulateResponse. Each call returns a fresh copy.
func ResponseSchema() []byte { return mustRead("schema/simulate-response.schema.json") }

// OpenAPI returns the OpenAPI 3.1 document (YAML) of POST /api/v1/simulate.
// Its components.schemas SimulateRequest and SimulateResponse are the two
// JSON Schemas, verbatim. Each call returns a fresh copy.
func OpenAPI() []byte { return mustRead("openapi.yaml") }

// OpenAPIHandler serves OpenAPI() to GET and HEAD, for mounting at
// OpenAPIPath. It needs no authentication: the document holds no secrets.
func OpenAPIHandler() http.Handler {
	doc := OpenAPI()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/yaml")
		if r.Method == http.MethodGet {
			_, _ = w.Write(doc)
		}
	})
}
