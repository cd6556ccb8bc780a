package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/preflight-hq/preflight/simulation/api"
)

// SimulatePath is the simulate endpoint, appended to an HTTPConfig.URL
// that has no path.
const SimulatePath = "/api/v1/simulate"

// Defaults of HTTPConfig.
const (
	DefaultBackoff      = 250 * time.Millisecond
	DefaultMaxBackoff   = 10 * time.Second
	DefaultMaxRetryWait = time.Minute
)

// maxResponseBytes bounds a response body read into memory.
const maxResponseBytes = 32 << 20

// HTTPConfig configures NewHTTP. Zero values take the documented defaults.
type HTTPConfig struct {
	// URL is the simulator's root, e.g. http://simulator:8080, to which
	// SimulatePath is appended, or the endpoint's full URL (required).
	URL string
	// APIKey is sent as "Authorization: Bearer <key>" (required). It is
	// never logged, and String redacts it.
	APIKey string
	// Timeout bounds one attempt, from sending the request to reading the
	// whole answer (default DefaultTimeout).
	Timeout time.Duration
	// Retries is how many more times a request is sent after a 429, a 503,
	// a retriable 5xx answer (api.Error.Retriable) or a transport failure
	// (default 0: once). 4xx answers other than 429 are never retried.
	Retries int
	// Backoff is the wait before the first retry when the simulator names
	// none, doubled at each retry up to MaxBackoff, with up to 50% random
	// jitter added (defaults DefaultBackoff and DefaultMaxBackoff).
	Backoff, MaxBackoff time.Duration
	// MaxRetryWait is the longest Retry-After (seconds or HTTP date)
	// honoured; an answer asking for a longer wait is returned as it is
	// (default DefaultMaxRetryWait).
	MaxRetryWait time.Duration
	// Scope names the calibration scope in the ScopeHeader header; empty
	// sends none and the simulator uses the request's industry_context.
	Scope string
	// Client sends the requests (default: a new http.Client, whose idle
	// connections Close closes).
	Client *http.Client
	// Logger receives the client's logs (default: discarded).
	Logger *slog.Logger
}

// String describes the configuration without the API key.
func (c HTTPConfig) String() string {
	key := "none"
	if c.APIKey != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("url=%s api_key=%s timeout=%s retries=%d scope=%q", redactURL(c.URL), key, c.Timeout, c.Retries, c.Scope)
}

// redactURL hides a password in the URL's user info.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// Validate reports every problem with the configuration.
func (c HTTPConfig) Validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q: want http(s)://host[:port][/path]", redactURL(c.URL)))
	}
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("api key: required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"timeout", c.Timeout}, {"backoff", c.Backoff}, {"max backoff", c.MaxBackoff}, {"max retry wait", c.MaxRetryWait}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", d.name, d.v))
		}
	}
	if c.Retries < 0 {
		errs = append(errs, fmt.Errorf("retries %d is negative", c.Retries))
	}
	return errors.Join(errs...)
}

func (c HTTPConfig) withDefaults() HTTPConfig {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Backoff <= 0 {
		c.Backoff = DefaultBackoff
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.MaxRetryWait <= 0 {
		c.MaxRetryWait = DefaultMaxRetryWait
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// HTTP asks the simulator over POST /api/v1/simulate. It is safe for
// concurrent use.
type HTTP struct {
	cfg      HTTPConfig
	endpoint string
	// name is endpoint without a password, for messages.
	name  string
	hc    *http.Client
	ownHC bool
}

// NewHTTP checks cfg and returns the client. It does not connect.
func NewHTTP(cfg HTTPConfig) (*HTTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid http simulator client configuration: %w", err)
	}
	cfg = cfg.withDefaults()
	u, _ := url.Parse(cfg.URL)
	if u.Path == "" || u.Path == "/" {
		u.Path = SimulatePath
	}
	h := &HTTP{cfg: cfg, endpoint: u.String(), name: u.Redacted(), hc: cfg.Client}
	if h.hc == nil {
		h.hc = &http.Client{}
		h.ownHC = true
	}
	return h, nil
}

// Simulate posts req and returns the answer, retrying as HTTPConfig says.
// A failed answer is returned with its *api.Error (after the retries, the
// last one). An answer that is not a simulate response, a transport
// failure or the context's end returns a zero response and an error
// naming what failed; an attempt that ran out of time matches ErrTimeout.
func (h *HTTP) Simulate(ctx context.Context, req api.SimulateRequest) (api.SimulateResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return api.SimulateResponse{}, fmt.Errorf("cannot encode the simulate request: %w", err)
	}
	backoff := h.cfg.Backoff
	for attempt := 1; ; attempt++ {
		resp, a, err := h.attempt(ctx, body)
		if err == nil && a.status == http.StatusOK {
			return failure(resp)
		}
		last := attempt > h.cfg.Retries
		wait, retry := h.retryAfter(a, err, backoff)
		if ctx.Err() != nil || last || !retry {
			if err != nil {
				return api.SimulateResponse{}, err
			}
			if resp.Status != api.StatusFailed {
				// A 4xx/5xx answer claiming success breaks the contract.
				return api.SimulateResponse{}, fmt.Errorf("simulator at %s answered HTTP %d with status %q", h.name, a.status, resp.Status)
			}
			return failure(resp)
		}
		cause := "err"
		var detail any = err
		if err == nil {
			cause, detail = "status", a.status
		}
		h.cfg.Logger.Info("simulate request not answered; retrying", "url", h.name, cause, detail,
			"attempt", attempt+1, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return api.SimulateResponse{}, fmt.Errorf("simulate request to %s: gave up waiting to retry: %w", h.name, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, h.cfg.MaxBackoff)
	}
}

// answer is what one attempt got back.
type answer struct {
	status     int
	retryAfter string
	// apiErr is the body's error object, when it has one.
	apiErr *api.Error
}

// attempt sends one request. It returns the decoded answer, or an error
// when there is none (transport failure, timeout, a body that is not a
// simulate response).
func (h *HTTP) attempt(ctx context.Context, body []byte) (api.SimulateResponse, answer, error) {
	actx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	r, err := http.NewRequestWithContext(actx, http.MethodPost, h.endpoint, bytes.NewReader(body))
	if err != nil {
		return api.SimulateResponse{}, answer{}, fmt.Errorf("cannot build the simulate request: %w", err)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	r.Header.Set("Authorization", "Bearer "+h.cfg.APIKey)
	if h.cfg.Scope != "" {
		r.Header.Set(ScopeHeader, h.cfg.Scope)
	}
	res, err := h.hc.Do(r)
	if err != nil {
		return api.SimulateResponse{}, answer{}, h.transportError(ctx, actx, err)
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return api.SimulateResponse{}, a, h.transportError(ctx, actx, err)
	}
	if len(b) > maxResponseBytes {
		return api.SimulateResponse{}, a, fmt.Errorf("simulator at %s answered HTTP %d with a body over %d bytes", h.name, a.status, maxResponseBytes)
	}
	var resp api.SimulateResponse
	if err := json.Unmarshal(b, &resp); err != nil || resp.Status == "" {
		if err == nil {
			err = errors.New("no status")
		}
		return api.SimulateResponse{}, a, fmt.Errorf("simulator at %s answered HTTP %d with a body that is not a simulate response (%w): %q",
			h.name, a.status, err, clip(b, 200))
	}
	a.apiErr = resp.Error
	return resp, a, nil
}

// transportError names a failed exchange; one that ran out of the
// attempt's time (not the caller's) matches ErrTimeout.
func (h *HTTP) transportError(ctx, actx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: simulator at %s did not answer within %s: %w", ErrTimeout, h.name, h.cfg.Timeout, err)
	}
	return fmt.Errorf("cannot ask the simulator at %s: %w", h.name, err)
}

// retryAfter says whether the attempt's outcome may be retried and after
// how long: the Retry-After of a 429 or 503 when given (none beyond
// MaxRetryWait), else backoff with jitter.
func (h *HTTP) retryAfter(a answer, err error, backoff time.Duration) (time.Duration, bool) {
	jitter := backoff + rand.N(backoff/2+1)
	switch {
	case err != nil && a.status == 0:
		return jitter, true // transport failure or timeout
	case err != nil:
		// Not a simulate response: a proxy's or load balancer's answer.
		return jitter, a.status == http.StatusBadGateway || a.status == http.StatusServiceUnavailable || a.status == http.StatusGatewayTimeout || a.status == http.StatusTooManyRequests
	case a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable:
		if a.retryAfter == "" {
			return jitter, true
		}
		d, ok := parseRetryAfter(a.retryAfter, time.Now())
		if !ok {
			return jitter, true
		}
		return d, d <= h.cfg.MaxRetryWait
	case a.status >= 500:
		return jitter, a.apiErr != nil && a.apiErr.Retriable()
	}
	return 0, false
}

// parseRetryAfter reads a Retry-After value, delay-seconds or an HTTP date
// (RFC 9110 §10.2.3), as a wait from now (never negative).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Close closes the idle connections of the client's own http.Client (one
// given in HTTPConfig.Client is left alone). It always returns nil.
func (h *HTTP) Close() error {
	if h.ownHC {
		h.hc.CloseIdleConnections()
	}
	return nil
}
