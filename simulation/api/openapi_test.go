package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"slices"
	"testing"

	"net/http"
	"net/http/httptest"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite openapi.yaml's component schemas from schema/*.schema.json")

// TestOpenAPIComponents checks that openapi.yaml parses as YAML, is an
// OpenAPI 3.1 document of POST /api/v1/simulate with every documented
// response and both ways to send the API key, and that its component
// schemas equal the embedded JSON Schemas. With -update it first rewrites
// the component schemas from the JSON Schemas.
func TestOpenAPIComponents(t *testing.T) {
	if *update {
		rewriteComponents(t)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.yaml is not YAML: %v", err)
	}
	// Compare as JSON values: YAML and JSON number types differ.
	doc = asJSON(t, doc).(map[string]any)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", doc["openapi"])
	}
	comps := dig(t, doc, "components", "schemas").(map[string]any)
	for name, want := range map[string][]byte{"SimulateRequest": RequestSchema(), "SimulateResponse": ResponseSchema()} {
		if got := comps[name]; !reflect.DeepEqual(got, jsonValue(t, want)) {
			t.Errorf("components.schemas.%s differs from its JSON Schema; run go test -run TestOpenAPIComponents -update", name)
		}
	}
	op := dig(t, doc, "paths", SimulatePath, "post").(map[string]any)
	var codes []string
	for code := range op["responses"].(map[string]any) {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	if want := []string{"200", "400", "401", "413", "422", "429", "500", "504"}; !slices.Equal(codes, want) {
		t.Errorf("responses %v, want %v", codes, want)
	}
	if got := dig(t, doc, "components", "securitySchemes", "apiKeyHeader", "name"); got != "X-API-Key" {
		t.Errorf("API key header %v, want X-API-Key", got)
	}
	if got := dig(t, doc, "components", "securitySchemes", "bearerKey", "scheme"); got != "bearer" {
		t.Errorf("bearer scheme %v", got)
	}
	if _, ok := dig(t, doc, "paths").(map[string]any)[OpenAPIPath]; !ok {
		t.Errorf("the document does not describe %s", OpenAPIPath)
	}
}

func TestOpenAPIHandler(t *testing.T) {
	srv := httptest.NewServer(OpenAPIHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + OpenAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/yaml" || !bytes.Equal(buf.Bytes(), OpenAPI()) {
		t.Errorf("GET: status %d, type %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), buf.Len())
	}
	post, err := http.Post(srv.URL+OpenAPIPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	if post.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d, want 405", post.StatusCode)
	}
}

func asJSON(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return jsonValue(t, b)
}

// dig returns the value at keys in a decoded document.
func dig(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no %q in the OpenAPI document", k)
		}
		v = m[k]
	}
	return v
}

// rewriteComponents replaces components.schemas.SimulateRequest and
// SimulateResponse in openapi.yaml by the JSON Schemas, in block style and
// in their key order, keeping the rest of the file.
func rewriteComponents(t *testing.T) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(OpenAPI(), &root); err != nil {
		t.Fatal(err)
	}
	schemas := mapping(t, mapping(t, root.Content[0], "components"), "schemas")
	for name, doc := range map[string][]byte{"SimulateRequest": RequestSchema(), "SimulateResponse": ResponseSchema()} {
		var n yaml.Node
		if err := yaml.Unmarshal(doc, &n); err != nil {
			t.Fatal(err)
		}
		block(n.Content[0])
		*mapping(t, schemas, name) = *n.Content[0]
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("openapi.yaml", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The embedded copy is stale until the next build.
	t.Skip("openapi.yaml rewritten; run the tests again")
}

func mapping(t *testing.T, n *yaml.Node, key string) *yaml.Node {
	t.Helper()
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	t.Fatalf("no %q in openapi.yaml", key)
	return nil
}

// block turns flow-style nodes, as parsed from JSON, into block style;
// strings keep whatever quoting the encoder needs.
func block(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		n.Style = 0
	} else {
		n.Style &^= yaml.FlowStyle
	}
	for _, c := range n.Content {
		block(c)
	}
}
