package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseValidate(t *testing.T) {
	t.Setenv("PREFLIGHT_SIMULATOR_API_KEYS", "k1, k2\nk3\n")
	c, err := parse(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Service.APIKeys, "|"); got != "k1|k2|k3" {
		t.Errorf("keys %q", got)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	t.Setenv("PREFLIGHT_SIMULATOR_API_KEYS", "")
	c, err = parse(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "api keys") {
		t.Errorf("validate without keys: %v", err)
	}
}
