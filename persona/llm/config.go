package llm

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/preflight-hq/preflight/internal/envflag"
)

// APIKeyEnv is the environment variable that holds the endpoint's API key.
// PREFLIGHT_LLM_API_KEY_FILE names a file holding it instead (see
// envflag.Secret). The key is never a flag, so it never shows in process
// listings.
const APIKeyEnv = "PREFLIGHT_LLM_API_KEY"

// StructuredOutput is how a Client asks the endpoint for JSON.
type StructuredOutput string

const (
	// JSONSchema sends response_format {"type":"json_schema"} with the
	// output schema attached, strict. OpenAI (gpt-4o-2024-08-06 and later),
	// Azure (api-version 2024-08-01-preview and later), vLLM and Ollama ≥
	// 0.5 support it. On a 400 or 422 that mentions response_format the
	// Client downgrades once to JSONObject for the rest of its life.
	JSONSchema StructuredOutput = "json_schema"
	// JSONObject sends response_format {"type":"json_object"} ("JSON
	// mode"): the answer is JSON but its shape comes only from the prompt.
	JSONObject StructuredOutput = "json_object"
	// PromptOnly sends no response_format; the prompt's output contract
	// alone asks for JSON, and the tolerant parser does the rest.
	PromptOnly StructuredOutput = "prompt"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	// InputPerMTok is the price of one million prompt tokens, in USD.
	InputPerMTok float64 `json:"input_per_mtok"`
	// OutputPerMTok is the price of one million completion tokens
	// (reasoning tokens included), in USD.
	OutputPerMTok float64 `json:"output_per_mtok"`
}

// Cost returns the price in USD of promptTokens in and completionTokens
// out: (prompt·InputPerMTok + completion·OutputPerMTok) / 1e6.
func (p Price) Cost(promptTokens, completionTokens int) float64 {
	return (float64(promptTokens)*p.InputPerMTok + float64(completionTokens)*p.OutputPerMTok) / 1e6
}

// Defaults of Config, applied by WithDefaults to zero fields.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultMaxConcurrency = 4
	DefaultMaxRetries     = 6
	DefaultBackoffBase    = time.Second
	DefaultBackoffCap     = 60 * time.Second
)

// ZeroTemperature is what a Client sends when Config.Temperature is 0:
// go-openai drops a float zero (omitempty), which would leave the
// endpoint's default (usually 1) in force, so a tiny positive value stands
// in for greedy decoding.
const ZeroTemperature float32 = 1e-6

// Config configures a Client. The zero value of every field except
// BaseURL and Model means "the default" (see WithDefaults).
type Config struct {
	// BaseURL is the OpenAI-compatible API root including its version
	// path, e.g. "https://api.openai.com/v1" or "http://localhost:11434/v1".
	// Required.
	BaseURL string
	// Model is the model (or deployment) name sent with every request.
	// Required.
	Model string
	// APIKey is the bearer token. Load it with LoadAPIKey (environment
	// variable PREFLIGHT_LLM_API_KEY or the file named by
	// PREFLIGHT_LLM_API_KEY_FILE); it may be empty for local endpoints. It
	// is never logged: String, GoString and LogValue redact it.
	APIKey string
	// Timeout bounds one HTTP attempt (not the whole call with its
	// retries; the caller's context bounds that). Default 60 s.
	Timeout time.Duration
	// MaxConcurrency is how many HTTP attempts may be in flight at once
	// across all callers of one Client. Default 4.
	MaxConcurrency int
	// MaxRetries is how many times a failed attempt is retried (so at most
	// MaxRetries+1 attempts). Default 6; set NoRetries for none.
	MaxRetries int
	// NoRetries disables retries (MaxRetries is then ignored).
	NoRetries bool
	// BackoffBase is the first backoff ceiling; it doubles per retry.
	// Default 1 s.
	BackoffBase time.Duration
	// BackoffCap caps the backoff ceiling (not a server's Retry-After
	// hint). Default 60 s.
	BackoffCap time.Duration
	// StructuredOutput is "json_schema" (default), "json_object" or
	// "prompt".
	StructuredOutput StructuredOutput
	// Temperature is the sampling temperature; 0 is sent as
	// ZeroTemperature.
	Temperature float64
	// Seed is the run seed; each request's seed is derived from it and the
	// request's sample (and, for the Reasoner, persona and intervention).
	Seed int64
	// MaxCompletionTokens caps the answer's length in tokens; 0 sends no
	// cap.
	MaxCompletionTokens int
	// CacheDir holds the on-disk response cache, one file per key. Empty
	// means an in-memory cache only.
	CacheDir string
	// NoCache disables the response cache entirely.
	NoCache bool
	// Prices maps a model name to its price. A model without an entry is
	// unpriced: its tokens are counted, its cost is reported as unknown
	// (never as $0).
	Prices map[string]Price
}

// WithDefaults returns c with every zero field that has a default set to
// it.
func (c Config) WithDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.MaxRetries == 0 && !c.NoRetries {
		c.MaxRetries = DefaultMaxRetries
	}
	if c.NoRetries {
		c.MaxRetries = 0
	}
	if c.BackoffBase == 0 {
		c.BackoffBase = DefaultBackoffBase
	}
	if c.BackoffCap == 0 {
		c.BackoffCap = DefaultBackoffCap
	}
	if c.StructuredOutput == "" {
		c.StructuredOutput = JSONSchema
	}
	return c
}

// Validate reports every invalid field of c, each error naming the field
// and the reason. It checks c as given; call it on c.WithDefaults() to
// accept zero fields that have defaults.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("llm config: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.BaseURL == "" {
		bad("BaseURL", "is required")
	} else if u, err := url.Parse(c.BaseURL); err != nil {
		bad("BaseURL", "cannot parse %q: %v", c.BaseURL, err)
	} else if u.Scheme != "http" && u.Scheme != "https" {
		bad("BaseURL", "scheme %q: want http or https", u.Scheme)
	} else if u.Host == "" {
		bad("BaseURL", "%q has no host", c.BaseURL)
	}
	if strings.TrimSpace(c.Model) == "" {
		bad("Model", "is required")
	}
	if c.Timeout <= 0 {
		bad("Timeout", "%v: must be positive", c.Timeout)
	}
	if c.MaxConcurrency <= 0 {
		bad("MaxConcurrency", "%d: must be positive", c.MaxConcurrency)
	}
	if c.MaxRetries < 0 {
		bad("MaxRetries", "%d: must not be negative", c.MaxRetries)
	}
	if c.BackoffBase <= 0 {
		bad("BackoffBase", "%v: must be positive", c.BackoffBase)
	}
	if c.BackoffCap < c.BackoffBase {
		bad("BackoffCap", "%v: must be at least BackoffBase (%v)", c.BackoffCap, c.BackoffBase)
	}
	switch c.StructuredOutput {
	case JSONSchema, JSONObject, PromptOnly:
	default:
		bad("StructuredOutput", "%q: want json_schema, json_object or prompt", c.StructuredOutput)
	}
	if math.IsNaN(c.Temperature) || c.Temperature < 0 || c.Temperature > 2 {
		bad("Temperature", "%v: want a value in [0, 2]", c.Temperature)
	}
	if c.MaxCompletionTokens < 0 {
		bad("MaxCompletionTokens", "%d: must not be negative", c.MaxCompletionTokens)
	}
	for _, m := range sortedKeys(c.Prices) {
		p := c.Prices[m]
		if !(p.InputPerMTok >= 0) || !(p.OutputPerMTok >= 0) || math.IsInf(p.InputPerMTok, 0) || math.IsInf(p.OutputPerMTok, 0) {
			bad("Prices", "model %q: prices must be finite and not negative", m)
		}
	}
	return errors.Join(errs...)
}

// LoadAPIKey sets c.APIKey from PREFLIGHT_LLM_API_KEY, or from the file
// named by PREFLIGHT_LLM_API_KEY_FILE, unless c.APIKey is already set.
func (c *Config) LoadAPIKey() error {
	if c.APIKey != "" {
		return nil
	}
	key, err := envflag.Secret(APIKeyEnv)
	if err != nil {
		return fmt.Errorf("cannot load the LLM API key: %w", err)
	}
	c.APIKey = key
	return nil
}

// RegisterFlags registers c's fields (all but the API key, which is a
// secret) as flags on fs with the prefix "llm-", e.g. -llm-base-url, so that
// envflag.Parse also reads them from PREFLIGHT_LLM_BASE_URL and so on. The
// current values of c are the flags' defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.BaseURL, "llm-base-url", c.BaseURL, "OpenAI-compatible API root including the version path, e.g. http://localhost:11434/v1")
	fs.StringVar(&c.Model, "llm-model", c.Model, "model or deployment name")
	fs.DurationVar(&c.Timeout, "llm-timeout", c.Timeout, "timeout of one HTTP attempt (default 60s)")
	fs.IntVar(&c.MaxConcurrency, "llm-max-concurrency", c.MaxConcurrency, "HTTP attempts in flight at once (default 4)")
	fs.IntVar(&c.MaxRetries, "llm-max-retries", c.MaxRetries, "retries of a failed attempt (default 6)")
	fs.BoolVar(&c.NoRetries, "llm-no-retries", c.NoRetries, "disable retries")
	fs.DurationVar(&c.BackoffBase, "llm-backoff-base", c.BackoffBase, "first backoff ceiling, doubled per retry (default 1s)")
	fs.DurationVar(&c.BackoffCap, "llm-backoff-cap", c.BackoffCap, "largest backoff ceiling (default 60s)")
	fs.Func("llm-structured-output", "json_schema (default), json_object or prompt", func(s string) error {
		c.StructuredOutput = StructuredOutput(s)
		return nil
	})
	fs.Float64Var(&c.Temperature, "llm-temperature", c.Temperature, "sampling temperature; 0 is sent as 1e-6")
	fs.Int64Var(&c.Seed, "llm-seed", c.Seed, "run seed from which per-request seeds are derived")
	fs.IntVar(&c.MaxCompletionTokens, "llm-max-completion-tokens", c.MaxCompletionTokens, "cap on answer tokens (0 = none)")
	fs.StringVar(&c.CacheDir, "llm-cache-dir", c.CacheDir, "directory of the on-disk response cache (empty = memory only)")
	fs.BoolVar(&c.NoCache, "llm-no-cache", c.NoCache, "disable the response cache")
	fs.Func("llm-prices", "model prices in USD per 1M tokens, as model=input/output,... (unlisted models are unpriced)", func(s string) error {
		prices, err := ParsePrices(s)
		if err != nil {
			return err
		}
		c.Prices = prices
		return nil
	})
}

// ParsePrices parses "model=input/output,model2=input/output" (USD per
// million tokens) into a price table.
func ParsePrices(s string) (map[string]Price, error) {
	prices := map[string]Price{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		model, pair, ok := strings.Cut(item, "=")
		in, out, ok2 := strings.Cut(pair, "/")
		if !ok || !ok2 || strings.TrimSpace(model) == "" {
			return nil, fmt.Errorf("price %q: want model=input/output", item)
		}
		pin, err := strconv.ParseFloat(strings.TrimSpace(in), 64)
		if err != nil {
			return nil, fmt.Errorf("price %q: input price: %w", item, err)
		}
		pout, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err != nil {
			return nil, fmt.Errorf("price %q: output price: %w", item, err)
		}
		prices[strings.TrimSpace(model)] = Price{InputPerMTok: pin, OutputPerMTok: pout}
	}
	return prices, nil
}

// redactedKey is what String and LogValue show for a set API key.
func (c Config) redactedKey() string {
	if c.APIKey == "" {
		return ""
	}
	return "[REDACTED]"
}

// String describes c with the API key redacted.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "llm.Config{BaseURL:%q Model:%q APIKey:%q Timeout:%v MaxConcurrency:%d MaxRetries:%d NoRetries:%t BackoffBase:%v BackoffCap:%v StructuredOutput:%q Temperature:%v Seed:%d MaxCompletionTokens:%d CacheDir:%q NoCache:%t Prices:{",
		c.BaseURL, c.Model, c.redactedKey(), c.Timeout, c.MaxConcurrency, c.MaxRetries, c.NoRetries, c.BackoffBase, c.BackoffCap,
		c.StructuredOutput, c.Temperature, c.Seed, c.MaxCompletionTokens, c.CacheDir, c.NoCache)
	for i, m := range sortedKeys(c.Prices) {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%v/%v", m, c.Prices[m].InputPerMTok, c.Prices[m].OutputPerMTok)
	}
	b.WriteString("}}")
	return b.String()
}

// GoString is String, so that %#v redacts the API key too.
func (c Config) GoString() string { return c.String() }

// LogValue makes slog log c as a group with the API key redacted.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.String("model", c.Model),
		slog.String("api_key", c.redactedKey()),
		slog.Duration("timeout", c.Timeout),
		slog.Int("max_concurrency", c.MaxConcurrency),
		slog.Int("max_retries", c.MaxRetries),
		slog.String("structured_output", string(c.StructuredOutput)),
		slog.Float64("temperature", c.Temperature),
		slog.Int64("seed", c.Seed),
		slog.String("cache_dir", c.CacheDir),
		slog.Bool("no_cache", c.NoCache),
		slog.Int("priced_models", len(c.Prices)),
	)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
