package api

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

var (
	schemaOnce    sync.Once
	publishedResp *jsonschema.Schema
	schemaErr     error
)

// ValidateResponse checks a response body against the published response
// JSON Schema (ResponseSchema), as a client in another language would; it
// returns the first violation found, with its location.
func ValidateResponse(body []byte) error {
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for id, doc := range map[string][]byte{RequestSchemaID: RequestSchema(), ResponseSchemaID: ResponseSchema()} {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
			if err != nil {
				schemaErr = err
				return
			}
			if err := c.AddResource(id, v); err != nil {
				schemaErr = err
				return
			}
		}
		publishedResp, schemaErr = c.Compile(ResponseSchemaID)
	})
	if schemaErr != nil {
		return fmt.Errorf("response schema: %w", schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("response is not JSON: %w", err)
	}
	return publishedResp.Validate(inst)
}
