// Package envflag lets every command-line flag also be set from the
// environment: flag "clickhouse-dsn" reads PREFLIGHT_CLICKHOUSE_DSN when it
// is not given on the command line. Flags win over the environment.
package envflag

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvName returns the environment variable that sets the flag name.
func EnvName(name string) string {
	return "PREFLIGHT_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(name))
}

// Parse parses args into fs, then fills every flag not given on the command
// line from its environment variable. Errors name the variable.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := os.LookupEnv(EnvName(f.Name)); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment variable %s: %w", EnvName(f.Name), e)
			}
		}
	})
	return err
}

// Secret returns a secret from the environment variable env, or from the
// file named by env+"_FILE" (trailing newline trimmed), or "" if neither is
// set. Secrets are never flags, so they never show in process listings.
func Secret(env string) (string, error) {
	if v, ok := os.LookupEnv(env); ok {
		return v, nil
	}
	if path, ok := os.LookupEnv(env + "_FILE"); ok {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("cannot read %s_FILE: %w", env, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}
