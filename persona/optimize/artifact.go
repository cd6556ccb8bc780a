package optimize

import (
	"encoding/json"
	"fmt"
	"os"
)

// WriteResult writes res to path as indented JSON, the compiled artifact
// of an optimizer run.
func WriteResult(path string, res *Result) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode optimizer result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write optimizer result %s: %w", path, err)
	}
	return nil
}

// ReadResult reads an artifact written by WriteResult. It refuses format
// versions other than 1.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read optimizer result: %w", err)
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("cannot decode optimizer result %s: %w", path, err)
	}
	if res.FormatVersion != 1 {
		return nil, fmt.Errorf("cannot load optimizer result %s: format version %d, want 1", path, res.FormatVersion)
	}
	return &res, nil
}
