package llmtest

import (
	"net/http"
	"regexp"
	"strconv"
	"time"
)

// Answer returns a rule that answers content with 200.
func Answer(content string) *Rule {
	return &Rule{Name: "answer", Content: content}
}

// RateLimited returns a rule that answers 429 with the header
// "Retry-After: retryAfter" (seconds or an HTTP date) for its first times
// matches.
func RateLimited(times int, retryAfter string) *Rule {
	return &Rule{
		Name:    "rate_limited",
		Times:   times,
		Status:  http.StatusTooManyRequests,
		Content: "Rate limit reached for requests. Please try again later.",
		Headers: map[string]string{"Retry-After": retryAfter},
	}
}

// RateLimitedMs returns a rule that answers 429 with Azure's
// "retry-after-ms" header for its first times matches.
func RateLimitedMs(times int, ms int) *Rule {
	return &Rule{
		Name:    "rate_limited_ms",
		Times:   times,
		Status:  http.StatusTooManyRequests,
		Content: "Requests to the ChatCompletions operation have exceeded the rate limit.",
		Headers: map[string]string{"retry-after-ms": strconv.Itoa(ms)},
	}
}

// ServerError returns a rule that answers status (a 5xx) for its first
// times matches.
func ServerError(times, status int) *Rule {
	return &Rule{Name: "server_error", Times: times, Status: status, Content: "The server had an error while processing your request."}
}

// BadRequest returns a rule that answers 400 with message for its first
// times matches (0: always).
func BadRequest(times int, message string) *Rule {
	return &Rule{Name: "bad_request", Times: times, Status: http.StatusBadRequest, Content: message}
}

// RejectJSONSchema returns a rule that answers every json_schema request
// with the 400 an endpoint without structured outputs gives.
func RejectJSONSchema() *Rule {
	return &Rule{
		Name:    "reject_json_schema",
		Format:  "json_schema",
		Status:  http.StatusBadRequest,
		Content: "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
	}
}

// Slow returns a rule that answers content after latency, for its first
// times matches (0: always); with a latency beyond the client's timeout it
// makes the client time out.
func Slow(times int, latency time.Duration, content string) *Rule {
	return &Rule{Name: "slow", Times: times, Latency: latency, Content: content}
}

// Malformed returns a rule that answers truncated, unparseable JSON for
// its first times matches.
func Malformed(times int) *Rule {
	return &Rule{Name: "malformed", Times: times, Content: `{"intent_change": 0.4, "rationale": "I like the disc`}
}

// ProseWrapped returns a rule that answers the JSON object json wrapped in
// prose and a Markdown code fence, as chatty models do.
func ProseWrapped(json string) *Rule {
	return &Rule{Name: "prose_wrapped", Content: "Sure! Here is how I would react:\n\n```json\n" + json + "\n```\n\nLet me know if you need anything else."}
}

// BrokenEnvelope returns a rule whose 200 body is not a chat completion at
// all (a proxy's error page), for its first times matches.
func BrokenEnvelope(times int) *Rule {
	return &Rule{Name: "broken_envelope", Times: times, RawBody: "<html>502 Bad Gateway</html>"}
}

// Tagged returns a regexp matching a rendered prompt that carries the
// tags "[persona:<personaID>]" and "[intervention:<interventionID>]"; an
// empty id matches any.
func Tagged(personaID, interventionID string) *regexp.Regexp {
	p, iv := `[^\]]*`, `[^\]]*`
	if personaID != "" {
		p = regexp.QuoteMeta(personaID)
	}
	if interventionID != "" {
		iv = regexp.QuoteMeta(interventionID)
	}
	return regexp.MustCompile(`(?s)\[persona:` + p + `\].*\[intervention:` + iv + `\]`)
}

// With returns r after applying each option to it, for matchers on
// fault rules: llmtest.With(llmtest.Malformed(1), llmtest.MatchUser(re)).
func With(r *Rule, opts ...func(*Rule)) *Rule {
	for _, o := range opts {
		o(r)
	}
	return r
}

// MatchUser sets a rule's last-user-message regexp.
func MatchUser(re *regexp.Regexp) func(*Rule) { return func(r *Rule) { r.Match = re } }

// MatchModel sets a rule's model.
func MatchModel(model string) func(*Rule) { return func(r *Rule) { r.Model = model } }

// MatchFormat sets a rule's response_format type.
func MatchFormat(format string) func(*Rule) { return func(r *Rule) { r.Format = format } }
