package llm

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/preflight-hq/preflight/persona"
)

// Options are a Client's dependencies. Every field may be left zero.
type Options struct {
	// Metrics receives the Client's counters; nil creates unregistered
	// ones. Share one Metrics between Clients on the same registry.
	Metrics *Metrics
	// Logger logs retries and downgrades (never the API key); nil
	// discards.
	Logger *slog.Logger
	// HTTPClient sends the requests go-openai builds; nil uses an
	// http.Client whose transport keeps MaxConcurrency idle connections
	// per host. It is the hook for tracing, proxies and test transports.
	HTTPClient openai.HTTPDoer
	// Sleep waits d or until ctx ends, returning ctx.Err() in that case;
	// nil uses a timer. Tests inject one that records d and returns at
	// once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock used for HTTP-date Retry-After hints, deadlines and
	// latency; nil uses time.Now.
	Now func() time.Time
	// Jitter returns a uniform number in [0, 1) for full-jitter backoff;
	// nil uses math/rand/v2's global source.
	Jitter func() float64
}

// Request is one chat completion to make.
type Request struct {
	// Messages are the chat messages, system first.
	Messages []persona.Message
	// Schema is the JSON Schema of the answer, attached in json_schema
	// mode (strict). Without it json_schema mode sends json_object.
	Schema json.RawMessage
	// SchemaName names the schema for the endpoint; default "answer".
	SchemaName string
	// Sample is the index of an independent sample of the same request:
	// samples are cached separately and, unless Seed is set, get their own
	// derived seed.
	Sample int
	// Seed overrides the seed derived from Config.Seed and Sample.
	Seed *int64
}

// Response is a completed chat answer.
type Response struct {
	// Content is the assistant message's text.
	Content string
	// Model is the model that answered, as the endpoint named it.
	Model string
	// PromptTokens and CompletionTokens are the endpoint's usage for the
	// answer (what it cost when it was made, also on a cache hit).
	PromptTokens, CompletionTokens int
	// CostUSD is what this call cost: 0 on a cache hit, else the tokens at
	// the model's price; meaningful only when Priced.
	CostUSD float64
	// Priced says whether the model has a price in Config.Prices.
	Priced bool
	// SystemFingerprint identifies the backend configuration, if sent.
	SystemFingerprint string
	// Cached says the answer came from the response cache without an HTTP
	// call.
	Cached bool
	// Attempts is the number of HTTP attempts made (0 on a cache hit).
	Attempts int
	// Format is the structured-output mode the answer was requested with.
	Format StructuredOutput
	// Key is the answer's cache key (hex SHA-256).
	Key string
}

// Usage totals what a Client has spent since it was created.
type Usage struct {
	// Completions is the number of successful Complete calls, cache hits
	// included.
	Completions int64
	// CacheHits is the number of completions answered from the cache.
	CacheHits int64
	// Attempts is the number of HTTP attempts, failed ones included.
	Attempts int64
	// Retries is the number of attempts that were retries.
	Retries int64
	// PromptTokens and CompletionTokens are billed tokens (cache hits add
	// none).
	PromptTokens, CompletionTokens int64
	// CostUSD is the cost of priced completions, in US dollars.
	CostUSD float64
	// UnpricedCompletions is the number of billed completions whose model
	// has no price: when it is not 0, CostUSD understates the spend.
	UnpricedCompletions int64
}

// Error is a chat completion that failed after its retries, or that could
// not be retried.
type Error struct {
	// Model is the configured model.
	Model string
	// StatusCode is the last HTTP status, or 0 when the last attempt got
	// no response (timeout, network error, cancellation).
	StatusCode int
	// Attempts is the number of HTTP attempts made.
	Attempts int
	// Retriable says a later call may succeed (rate limits, server errors,
	// timeouts, network errors); false for requests the endpoint rejects
	// (400, 401, 403, 404, 422) and for an ended context.
	Retriable bool
	// Err is the cause.
	Err error
}

// Error describes the failure.
func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("cannot complete chat with model %q after %d attempt(s), last status %d: %v", e.Model, e.Attempts, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("cannot complete chat with model %q after %d attempt(s): %v", e.Model, e.Attempts, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Client makes chat completions against one OpenAI-compatible endpoint and
// model through go-openai, with retries, a concurrency limit, a response
// cache and token/cost accounting. It is safe for concurrent use.
type Client struct {
	cfg    Config
	oc     *openai.Client
	log    *slog.Logger
	m      *Metrics
	sleep  func(context.Context, time.Duration) error
	now    func() time.Time
	jitter func() float64
	cache  *responseCache // nil with NoCache

	sem       chan struct{}
	inFlight  atomic.Int64
	highWater atomic.Int64

	downgraded atomic.Bool // json_schema was rejected; use json_object

	mu    sync.Mutex
	usage Usage
}

// New validates cfg (after WithDefaults) and returns a Client.
func New(cfg Config, opts Options) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	oc := openai.DefaultConfig(cfg.APIKey)
	oc.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	oc.HTTPClient = opts.HTTPClient
	if oc.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = cfg.MaxConcurrency
		oc.HTTPClient = &http.Client{Transport: tr}
	}
	c := &Client{
		cfg:    cfg,
		oc:     openai.NewClientWithConfig(oc),
		log:    opts.Logger,
		m:      opts.Metrics,
		sleep:  opts.Sleep,
		now:    opts.Now,
		jitter: opts.Jitter,
		sem:    make(chan struct{}, cfg.MaxConcurrency),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.m == nil {
		c.m = NewMetrics(nil)
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.jitter == nil {
		c.jitter = rand.Float64
	}
	if !cfg.NoCache {
		cache, err := newResponseCache(cfg.CacheDir)
		if err != nil {
			return nil, err
		}
		c.cache = cache
	}
	return c, nil
}

// Config returns the Client's configuration, defaults applied.
func (c *Client) Config() Config { return c.cfg }

// Model returns the configured model name.
func (c *Client) Model() string { return c.cfg.Model }

// Metrics returns the Client's instruments.
func (c *Client) Metrics() *Metrics { return c.m }

// InFlightHighWater returns the largest number of HTTP attempts that were
// ever in flight at once; it never exceeds Config.MaxConcurrency.
func (c *Client) InFlightHighWater() int { return int(c.highWater.Load()) }

// StructuredOutput returns the mode requests are sent with now: the
// configured one, or json_object after a downgrade.
func (c *Client) StructuredOutput() StructuredOutput {
	if c.cfg.StructuredOutput == JSONSchema && c.downgraded.Load() {
		return JSONObject
	}
	return c.cfg.StructuredOutput
}

// Usage returns the Client's spending so far.
func (c *Client) Usage() Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.usage
}

// DeriveSeed returns a request seed in [0, 2³¹) from a run seed, a sample
// index and tags (such as persona and intervention ids): the first 31 bits
// of SHA-256 over them, so that samples and tags get unrelated seeds and a
// rerun gets the same ones.
func DeriveSeed(run int64, sample int, tags ...string) int64 {
	h := sha256.New()
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[:8], uint64(run))
	binary.LittleEndian.PutUint64(buf[8:], uint64(sample))
	h.Write(buf[:])
	for _, t := range tags {
		binary.LittleEndian.PutUint64(buf[:8], uint64(len(t)))
		h.Write(buf[:8])
		h.Write([]byte(t))
	}
	sum := h.Sum(nil)
	return int64(binary.LittleEndian.Uint32(sum[:4]) & 0x7fffffff)
}

// Complete makes the chat completion req: from the cache when it holds
// the answer, else over HTTP with retries. It returns an *Error when the
// endpoint failed, wrapping ctx.Err() when the context ended.
func (c *Client) Complete(ctx context.Context, req Request) (Response, error) {
	if len(req.Messages) == 0 {
		return Response{}, &Error{Model: c.cfg.Model, Err: errors.New("request has no messages")}
	}
	seed := DeriveSeed(c.cfg.Seed, req.Sample)
	if req.Seed != nil {
		seed = *req.Seed
	}
	model := c.cfg.Model
	mode := c.effectiveMode(req)
	key, err := c.key(req, mode, seed)
	if err != nil {
		return Response{}, &Error{Model: model, Err: err}
	}
	if r, ok := c.lookup(key, mode, true); ok {
		return r, nil
	}

	var (
		attempts, retries int
		lastStatus        int
	)
	for {
		attempts++
		c.addUsage(Usage{Attempts: 1})
		out, err := c.attempt(ctx, c.chatRequest(req, mode, seed))
		if err == nil {
			if len(out.Choices) == 0 {
				c.m.requests.WithLabelValues(model, ResultServerError).Inc()
				return Response{}, &Error{Model: model, StatusCode: http.StatusOK, Attempts: attempts, Err: errors.New("the endpoint answered with no choices")}
			}
			c.m.requests.WithLabelValues(model, ResultOK).Inc()
			return c.succeed(key, mode, attempts, out), nil
		}

		f := classify(ctx, err)
		lastStatus = f.status
		c.m.requests.WithLabelValues(model, f.result).Inc()
		if f.result == ResultCanceled {
			return Response{}, &Error{Model: model, StatusCode: lastStatus, Attempts: attempts,
				Err: fmt.Errorf("%w (last attempt: %v)", context.Cause(ctx), err)}
		}
		if f.rejectsFormat && mode == JSONSchema {
			if c.downgraded.CompareAndSwap(false, true) {
				c.m.downgrades.WithLabelValues(model).Inc()
				c.log.Warn("endpoint rejected json_schema; downgrading to json_object", "model", model, "status", f.status, "err", err)
			}
			mode = JSONObject
			if key, err = c.key(req, mode, seed); err != nil {
				return Response{}, &Error{Model: model, Attempts: attempts, Err: err}
			}
			if r, ok := c.lookup(key, mode, false); ok {
				return r, nil
			}
			continue
		}
		if !f.retriable || retries >= c.cfg.MaxRetries {
			if f.retriable {
				err = fmt.Errorf("giving up after %d retries: %w", retries, err)
			}
			return Response{}, &Error{Model: model, StatusCode: lastStatus, Attempts: attempts, Retriable: f.retriable, Err: err}
		}
		delay := c.backoff(retries, f)
		if dl, ok := ctx.Deadline(); ok && c.now().Add(delay).After(dl) {
			return Response{}, &Error{Model: model, StatusCode: lastStatus, Attempts: attempts, Retriable: true,
				Err: fmt.Errorf("the next retry would wait %v, past the context deadline: %w", delay, err)}
		}
		retries++
		c.m.retries.WithLabelValues(model).Inc()
		c.addUsage(Usage{Retries: 1})
		c.log.Debug("retrying chat completion", "model", model, "attempt", attempts, "status", f.status, "result", f.result, "delay", delay, "err", err)
		if serr := c.sleep(ctx, delay); serr != nil {
			return Response{}, &Error{Model: model, StatusCode: lastStatus, Attempts: attempts,
				Err: fmt.Errorf("%w (waiting to retry after: %v)", serr, err)}
		}
	}
}

// effectiveMode is the mode a request goes out with now: json_schema needs
// a schema and no downgrade.
func (c *Client) effectiveMode(req Request) StructuredOutput {
	mode := c.StructuredOutput()
	if mode == JSONSchema && len(req.Schema) == 0 {
		return JSONObject
	}
	return mode
}

func (c *Client) key(req Request, mode StructuredOutput, seed int64) (string, error) {
	in := keyInput{
		Version:             cacheSchemaVersion,
		Model:               c.cfg.Model,
		Messages:            req.Messages,
		Temperature:         c.cfg.Temperature,
		Seed:                &seed,
		MaxCompletionTokens: c.cfg.MaxCompletionTokens,
		Format:              mode,
		Sample:              req.Sample,
	}
	if mode == JSONSchema {
		in.Schema = req.Schema
	}
	return cacheKey(in)
}

// lookup answers from the cache; countMiss records a miss (only the first
// lookup of a call does).
func (c *Client) lookup(key string, mode StructuredOutput, countMiss bool) (Response, bool) {
	if c.cache == nil {
		return Response{}, false
	}
	e, ok := c.cache.get(key)
	if !ok {
		if countMiss {
			c.m.cacheMisses.WithLabelValues(c.cfg.Model).Inc()
		}
		return Response{}, false
	}
	c.m.cacheHits.WithLabelValues(c.cfg.Model).Inc()
	_, priced := c.price(e.Model)
	c.addUsage(Usage{Completions: 1, CacheHits: 1})
	return Response{
		Content:           e.Content,
		Model:             e.Model,
		PromptTokens:      e.PromptTokens,
		CompletionTokens:  e.CompletionTokens,
		Priced:            priced,
		SystemFingerprint: e.SystemFingerprint,
		Cached:            true,
		Format:            mode,
		Key:               key,
	}, true
}

// succeed accounts for and caches a successful answer.
func (c *Client) succeed(key string, mode StructuredOutput, attempts int, out openai.ChatCompletionResponse) Response {
	model := c.cfg.Model
	r := Response{
		Content:           out.Choices[0].Message.Content,
		Model:             out.Model,
		PromptTokens:      out.Usage.PromptTokens,
		CompletionTokens:  out.Usage.CompletionTokens,
		SystemFingerprint: out.SystemFingerprint,
		Attempts:          attempts,
		Format:            mode,
		Key:               key,
	}
	if r.Model == "" {
		r.Model = model
	}
	c.m.promptTokens.WithLabelValues(model).Add(float64(r.PromptTokens))
	c.m.completionTokens.WithLabelValues(model).Add(float64(r.CompletionTokens))
	u := Usage{Completions: 1, PromptTokens: int64(r.PromptTokens), CompletionTokens: int64(r.CompletionTokens)}
	if p, ok := c.price(r.Model); ok {
		r.Priced = true
		r.CostUSD = p.Cost(r.PromptTokens, r.CompletionTokens)
		c.m.cost.WithLabelValues(model).Add(r.CostUSD)
		u.CostUSD = r.CostUSD
	} else {
		c.m.unpriced.WithLabelValues(model).Inc()
		u.UnpricedCompletions = 1
	}
	c.addUsage(u)
	if c.cache != nil {
		err := c.cache.put(cacheEntry{
			Version:           cacheSchemaVersion,
			Key:               key,
			Model:             r.Model,
			Content:           r.Content,
			PromptTokens:      r.PromptTokens,
			CompletionTokens:  r.CompletionTokens,
			SystemFingerprint: r.SystemFingerprint,
			CreatedAt:         c.now().UTC(),
		})
		if err != nil {
			c.log.Warn("cannot store the answer in the response cache", "model", model, "err", err)
		}
	}
	return r
}

// price looks the configured model up in the price table, then the model
// the endpoint says answered (a dated snapshot of an alias).
func (c *Client) price(answered string) (Price, bool) {
	if p, ok := c.cfg.Prices[c.cfg.Model]; ok {
		return p, true
	}
	p, ok := c.cfg.Prices[answered]
	return p, ok
}

func (c *Client) addUsage(u Usage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.usage.Completions += u.Completions
	c.usage.CacheHits += u.CacheHits
	c.usage.Attempts += u.Attempts
	c.usage.Retries += u.Retries
	c.usage.PromptTokens += u.PromptTokens
	c.usage.CompletionTokens += u.CompletionTokens
	c.usage.CostUSD += u.CostUSD
	c.usage.UnpricedCompletions += u.UnpricedCompletions
}

// chatRequest builds the go-openai request.
func (c *Client) chatRequest(req Request, mode StructuredOutput, seed int64) openai.ChatCompletionRequest {
	msgs := make([]openai.ChatCompletionMessage, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = openai.ChatCompletionMessage{Role: m.Role, Content: m.Content}
	}
	temp := float32(c.cfg.Temperature)
	if temp == 0 {
		temp = ZeroTemperature
	}
	s := int(seed)
	out := openai.ChatCompletionRequest{
		Model:               c.cfg.Model,
		Messages:            msgs,
		Temperature:         temp,
		Seed:                &s,
		MaxCompletionTokens: c.cfg.MaxCompletionTokens,
	}
	switch mode {
	case JSONSchema:
		name := req.SchemaName
		if name == "" {
			name = "answer"
		}
		out.ResponseFormat = &openai.ChatCompletionResponseFormat{
			Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
				Name:   name,
				Schema: json.RawMessage(req.Schema),
				Strict: true,
			},
		}
	case JSONObject:
		out.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject}
	}
	return out
}

// attempt makes one HTTP attempt under the concurrency limit and the
// per-attempt timeout, and records its latency.
func (c *Client) attempt(ctx context.Context, req openai.ChatCompletionRequest) (openai.ChatCompletionResponse, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return openai.ChatCompletionResponse{}, context.Cause(ctx)
	}
	n := c.inFlight.Add(1)
	for {
		hw := c.highWater.Load()
		if n <= hw || c.highWater.CompareAndSwap(hw, n) {
			break
		}
	}
	defer func() {
		c.inFlight.Add(-1)
		<-c.sem
	}()
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	start := c.now()
	out, err := c.oc.CreateChatCompletion(actx, req)
	c.m.duration.WithLabelValues(c.cfg.Model).Observe(c.now().Sub(start).Seconds())
	if err != nil {
		return out, &attemptError{err: err, header: out.Header()}
	}
	return out, nil
}

// attemptError carries a failed attempt's response headers (go-openai
// sets them before checking the status).
type attemptError struct {
	err    error
	header http.Header
}

func (e *attemptError) Error() string { return e.err.Error() }
func (e *attemptError) Unwrap() error { return e.err }

// failure is a classified attempt error.
type failure struct {
	status        int
	result        string
	retriable     bool
	rejectsFormat bool // a 400/422 that mentions response_format
	header        http.Header
}

// classify decides whether an attempt's error is worth a retry: 408, 409,
// 429, 5xx, per-attempt timeouts and network errors are; other statuses
// and an ended caller context are not.
func classify(ctx context.Context, err error) failure {
	var f failure
	var ae *attemptError
	if errors.As(err, &ae) {
		f.header = ae.header
	}
	if ctx.Err() != nil {
		f.result = ResultCanceled
		return f
	}
	var (
		apiErr  *openai.APIError
		reqErr  *openai.RequestError
		message string
	)
	switch {
	case errors.As(err, &apiErr):
		f.status = apiErr.HTTPStatusCode
		message = apiErr.Message + " " + apiErr.Type
		if apiErr.Param != nil {
			message += " " + *apiErr.Param
		}
	case errors.As(err, &reqErr):
		f.status = reqErr.HTTPStatusCode
		message = string(reqErr.Body)
		if reqErr.Err != nil {
			message += " " + reqErr.Err.Error()
		}
	}
	if f.status != 0 {
		switch {
		case f.status == http.StatusTooManyRequests:
			f.result, f.retriable = ResultRateLimited, true
		case f.status == http.StatusRequestTimeout || f.status == http.StatusConflict || f.status >= 500:
			f.result, f.retriable = ResultServerError, true
		default:
			f.result = ResultClientError
			lower := strings.ToLower(message)
			f.rejectsFormat = (f.status == http.StatusBadRequest || f.status == http.StatusUnprocessableEntity) &&
				(strings.Contains(lower, "response_format") || strings.Contains(lower, "json_schema"))
		}
		return f
	}
	var (
		netErr  net.Error
		synErr  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		f.result, f.retriable = ResultTimeout, true
	case errors.As(err, &synErr), errors.As(err, &typeErr):
		// A 2xx whose body is not a chat completion: a proxy's error page
		// or a truncated body.
		f.result, f.retriable = ResultServerError, true
	case errors.As(err, &netErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		f.result, f.retriable = ResultNetworkError, true
	default:
		f.result = ResultClientError
	}
	return f
}

// backoff returns the wait before retry number retry (0-based): the larger
// of the server's hint and full jitter, uniform in [0, min(cap, base·2^retry)).
func (c *Client) backoff(retry int, f failure) time.Duration {
	ceiling := c.cfg.BackoffBase
	for i := 0; i < retry && ceiling < c.cfg.BackoffCap; i++ {
		ceiling *= 2
	}
	if ceiling > c.cfg.BackoffCap {
		ceiling = c.cfg.BackoffCap
	}
	d := time.Duration(c.jitter() * float64(ceiling))
	if hint, ok := retryHint(f.header, f.status, c.now()); ok && hint > d {
		d = hint
	}
	return d
}

// retryHint reads the server's wait hint, in order of precedence:
// retry-after-ms (Azure; milliseconds), Retry-After (seconds or an HTTP
// date), and on a 429 the x-ratelimit-reset-requests/-tokens durations
// ("1s", "6m0s") of the exhausted limits.
func retryHint(h http.Header, status int, now time.Time) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	if status != http.StatusTooManyRequests {
		return 0, false
	}
	var (
		best  time.Duration
		found bool
	)
	for _, kind := range []string{"requests", "tokens"} {
		d, err := time.ParseDuration(strings.TrimSpace(h.Get("x-ratelimit-reset-" + kind)))
		if err != nil || d < 0 {
			continue
		}
		remaining := strings.TrimSpace(h.Get("x-ratelimit-remaining-" + kind))
		if remaining != "" && remaining != "0" {
			continue // this limit is not the exhausted one
		}
		if !found || d > best {
			best, found = d, true
		}
	}
	return best, found
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
