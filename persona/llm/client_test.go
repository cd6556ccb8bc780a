package llm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/preflight-hq/preflight/persona"
	"github.com/preflight-hq/preflight/persona/llm"
	"github.com/preflight-hq/preflight/persona/llmtest"

	"github.com/preflight-hq/preflight/internal/testenv"
)

func TestJSONSchemaRequestCarriesSchema(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.Answer(validAnswer)}, nil)
	j := mustJudge(t, e.r, "p1", "iv1")
	if j.IntentChange != 0.4 || j.Confidence != 0.8 || len(j.Drivers) != 2 {
		t.Fatalf("judgement = %+v", j)
	}
	assertCount(t, e.srv, 1)
	rec := e.srv.Requests()[0]
	if got := rec.Header.Get("Authorization"); got != "Bearer "+testKey {
		t.Errorf("Authorization = %q", got)
	}
	rf := rec.Request.ResponseFormat
	if rf == nil || rf.Type != openai.ChatCompletionResponseFormatTypeJSONSchema || rf.JSONSchema == nil {
		t.Fatalf("response_format = %+v, want json_schema", rf)
	}
	if rf.JSONSchema.Name != persona.OutputSchemaName || !rf.JSONSchema.Strict {
		t.Errorf("json_schema name %q strict %t", rf.JSONSchema.Name, rf.JSONSchema.Strict)
	}
	got, err := json.Marshal(rf.JSONSchema.Schema)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got, persona.DefaultProgram().OutputSchema()) {
		t.Errorf("schema sent = %s\nwant %s", got, persona.DefaultProgram().OutputSchema())
	}
	// Temperature 0 goes out as a tiny positive value, and a seed is sent.
	var raw map[string]any
	if err := json.Unmarshal(rec.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if temp, ok := raw["temperature"].(float64); !ok || temp <= 0 || temp > 1e-5 {
		t.Errorf("temperature sent = %v, want a tiny positive value", raw["temperature"])
	}
	if rec.Request.Seed == nil {
		t.Error("no seed sent")
	}
	last := llmtest.LastUserMessage(rec.Request)
	if !strings.HasPrefix(last, persona.Tag("p1", "iv1")) {
		t.Errorf("last user message does not start with the tag: %.80q", last)
	}
	if rec.Request.Messages[0].Role != openai.ChatMessageRoleSystem {
		t.Errorf("first message role %q", rec.Request.Messages[0].Role)
	}
}

func TestStructuredOutputModes(t *testing.T) {
	for _, tc := range []struct {
		mode llm.StructuredOutput
		want string
	}{
		{llm.JSONObject, "json_object"},
		{llm.PromptOnly, llmtest.FormatNone},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			e := newEnv(t, []*llmtest.Rule{llmtest.Answer(validAnswer)}, func(c *llm.Config) {
				c.StructuredOutput = tc.mode
				c.Temperature = 0.7
			})
			mustJudge(t, e.r, "p1", "iv1")
			rec := e.srv.Requests()[0]
			if got := llmtest.FormatOf(rec.Request); got != tc.want {
				t.Errorf("format = %q, want %q", got, tc.want)
			}
			if rf := rec.Request.ResponseFormat; rf != nil && rf.JSONSchema != nil {
				t.Errorf("schema attached in %s mode", tc.mode)
			}
			if rec.Request.Temperature != 0.7 {
				t.Errorf("temperature = %v, want 0.7", rec.Request.Temperature)
			}
		})
	}
}

func TestRetryHonoursServerHints(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		rule *llmtest.Rule
		want time.Duration
	}{
		{"Retry-After seconds", llmtest.RateLimited(2, "3"), 3 * time.Second},
		{"Retry-After HTTP date", llmtest.RateLimited(2, now.Add(7*time.Second).Format(http.TimeFormat)), 7 * time.Second},
		{"retry-after-ms", llmtest.RateLimitedMs(2, 2500), 2500 * time.Millisecond},
		{"x-ratelimit-reset", &llmtest.Rule{Times: 2, Status: 429, Headers: map[string]string{
			"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "4s",
			"x-ratelimit-remaining-tokens": "9000", "x-ratelimit-reset-tokens": "6m0s",
		}}, 4 * time.Second},
		// A hint below the backoff (0.5 × 1 s, then 0.5 × 2 s) loses to it.
		{"short hint", llmtest.RateLimitedMs(1, 10), 500 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, []*llmtest.Rule{tc.rule, llmtest.Answer(validAnswer)}, nil,
				func(o *llm.Options) { o.Now = func() time.Time { return now } })
			mustJudge(t, e.r, "p1", "iv1")
			want := []time.Duration{tc.want, tc.want}
			if tc.rule.Times == 1 {
				want = want[:1]
			}
			if got := e.sleep.Waits(); !slices.Equal(got, want) {
				t.Errorf("waits = %v, want %v", got, want)
			}
			assertCount(t, e.srv, tc.rule.Times+1)
			if got := metric(t, e.reg, "persona_llm_requests_total", map[string]string{"result": "rate_limited"}); got != float64(tc.rule.Times) {
				t.Errorf("rate_limited attempts = %v", got)
			}
			if got := metric(t, e.reg, "persona_llm_retries_total", nil); got != float64(tc.rule.Times) {
				t.Errorf("retries = %v", got)
			}
		})
	}
}

func TestServerErrorsRetriedWithBackoff(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.ServerError(3, 503), llmtest.BrokenEnvelope(1), llmtest.Answer(validAnswer)}, nil)
	mustJudge(t, e.r, "p1", "iv1")
	assertCount(t, e.srv, 5)
	// Full jitter at 0.5 of min(cap, 1 s · 2^retry).
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
	if got := e.sleep.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestBackoffCapped(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.ServerError(0, 500)}, func(c *llm.Config) {
		c.MaxRetries = 4
		c.BackoffCap = 3 * time.Second
	})
	_, err := e.r.Judge(context.Background(), testPersona("p1"), testIntervention("iv1"))
	var le *llm.Error
	if !errors.As(err, &le) || !le.Retriable || le.StatusCode != 500 || le.Attempts != 5 {
		t.Fatalf("err = %v (%+v), want a retriable *llm.Error after 5 attempts", err, le)
	}
	assertCount(t, e.srv, 5)
	want := []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 1500 * time.Millisecond}
	if got := e.sleep.Waits(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestClientErrorsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rule   *llmtest.Rule
		key    string
		status int
	}{
		{"400", llmtest.BadRequest(0, "messages must not be empty"), testKey, 400},
		{"401 wrong key", llmtest.Answer(validAnswer), "sk-wrong", 401},
		{"403", &llmtest.Rule{Status: 403}, testKey, 403},
		{"404", &llmtest.Rule{Status: 404, Content: "model not found"}, testKey, 404},
		{"422", &llmtest.Rule{Status: 422, Content: "unprocessable"}, testKey, 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, []*llmtest.Rule{tc.rule}, func(c *llm.Config) { c.APIKey = tc.key })
			_, err := e.r.Judge(context.Background(), testPersona("p1"), testIntervention("iv1"))
			var le *llm.Error
			if !errors.As(err, &le) || le.Retriable || le.StatusCode != tc.status || le.Attempts != 1 {
				t.Fatalf("err = %v, want a non-retriable *llm.Error with status %d after 1 attempt", err, tc.status)
			}
			assertCount(t, e.srv, 1)
			if w := e.sleep.Waits(); len(w) != 0 {
				t.Errorf("waited %v", w)
			}
		})
	}
}

func TestDowngradeJSONSchemaToJSONObject(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.RejectJSONSchema(), llmtest.Answer(validAnswer)}, nil)
	mustJudge(t, e.r, "p1", "iv1")
	assertCount(t, e.srv, 2)
	reqs := e.srv.Requests()
	if llmtest.FormatOf(reqs[0].Request) != "json_schema" || reqs[0].Status != 400 {
		t.Errorf("first request %s → %d, want json_schema → 400", llmtest.FormatOf(reqs[0].Request), reqs[0].Status)
	}
	if llmtest.FormatOf(reqs[1].Request) != "json_object" {
		t.Errorf("second request format %s, want json_object", llmtest.FormatOf(reqs[1].Request))
	}
	if e.cli.StructuredOutput() != llm.JSONObject {
		t.Errorf("mode after downgrade = %s", e.cli.StructuredOutput())
	}
	// The downgrade sticks: the next call goes straight to json_object.
	mustJudge(t, e.r, "p2", "iv1")
	assertCount(t, e.srv, 3)
	if f := llmtest.FormatOf(e.srv.Requests()[2].Request); f != "json_object" {
		t.Errorf("third request format %s", f)
	}
	if got := metric(t, e.reg, "persona_llm_structured_output_downgrades_total", nil); got != 1 {
		t.Errorf("downgrades = %v", got)
	}
	if len(e.sleep.Waits()) != 0 {
		t.Errorf("a downgrade should not wait: %v", e.sleep.Waits())
	}
}

func TestNoSecondDowngrade(t *testing.T) {
	// An endpoint that rejects json_object too fails without a loop.
	e := newEnv(t, []*llmtest.Rule{
		llmtest.BadRequest(0, "response_format is not supported"),
	}, nil)
	_, err := e.r.Judge(context.Background(), testPersona("p1"), testIntervention("iv1"))
	if err == nil {
		t.Fatal("want an error")
	}
	assertCount(t, e.srv, 2)
}

func TestSlowAnswerTimesOutThenRetries(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.Slow(1, 10*time.Second, validAnswer), llmtest.Answer(validAnswer)},
		func(c *llm.Config) { c.Timeout = 150 * time.Millisecond })
	start := time.Now()
	mustJudge(t, e.r, "p1", "iv1")
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v: the attempt timeout did not cut the slow answer", el)
	}
	assertCount(t, e.srv, 2)
	if got := metric(t, e.reg, "persona_llm_requests_total", map[string]string{"result": "timeout"}); got != 1 {
		t.Errorf("timeouts = %v", got)
	}
}

func TestContextDeadlineRespected(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.Slow(0, 10*time.Second, validAnswer)},
		func(c *llm.Config) { c.Timeout = 100 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.r.Judge(ctx, testPersona("p1"), testIntervention("iv1"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want one wrapping context.DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v past a 250 ms deadline", el)
	}
}

func TestCanceledContextNotRetried(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.Answer(validAnswer)}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.r.Judge(ctx, testPersona("p1"), testIntervention("iv1"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if e.srv.Count() > 1 {
		t.Errorf("server saw %d requests", e.srv.Count())
	}
}

func TestMalformedAnswerRepaired(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.Malformed(1), llmtest.Answer(validAnswer)}, nil)
	j := mustJudge(t, e.r, "p1", "iv1")
	if j.IntentChange != 0.4 {
		t.Errorf("intent_change = %v", j.IntentChange)
	}
	if !slices.ContainsFunc(j.Repairs, func(s string) bool { return strings.Contains(s, "re-requested") }) {
		t.Errorf("repairs %q do not record the repair retry", j.Repairs)
	}
	assertCount(t, e.srv, 2)
	second := e.srv.Requests()[1].Request
	n := len(second.Messages)
	if second.Messages[n-2].Role != "assistant" || !strings.Contains(second.Messages[n-2].Content, "I like the disc") {
		t.Errorf("repair request does not replay the bad answer: %+v", second.Messages[n-2])
	}
	if last := second.Messages[n-1].Content; !strings.Contains(last, "could not be used") || !strings.HasPrefix(last, persona.Tag("p1", "iv1")) {
		t.Errorf("repair prompt = %q", last)
	}
	if got := metric(t, e.reg, "persona_llm_judgements_total", map[string]string{"result": "repaired"}); got != 1 {
		t.Errorf("repaired judgements = %v", got)
	}
}

func TestMalformedTwiceFails(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.Malformed(0)}, nil)
	_, err := e.r.Judge(context.Background(), testPersona("p1"), testIntervention("iv1"))
	var pe *persona.ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *persona.ParseError", err)
	}
	assertCount(t, e.srv, 2)
	if got := metric(t, e.reg, "persona_llm_judgements_total", map[string]string{"result": "failed"}); got != 1 {
		t.Errorf("failed judgements = %v", got)
	}
}

func TestProseAndFencedJSONParsed(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule *llmtest.Rule
	}{
		{"prose and fence", llmtest.ProseWrapped(validAnswer)},
		{"wrapper object", llmtest.Answer(`{"answer": ` + validAnswer + `}`)},
		{"out of range", llmtest.Answer(`{"rationale":"Wow.","drivers":[],"intent_change":3,"confidence":-1}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, []*llmtest.Rule{tc.rule}, nil)
			j := mustJudge(t, e.r, "p1", "iv1")
			if j.IntentChange < -1 || j.IntentChange > 1 || j.Confidence < 0 || j.Confidence > 1 || j.IntentChange == 0 {
				t.Errorf("judgement = %+v", j)
			}
			assertCount(t, e.srv, 1)
		})
	}
}

func TestCacheHitAndRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, []*llmtest.Rule{llmtest.Answer(validAnswer)}, func(c *llm.Config) { c.CacheDir = dir })
	first := mustJudge(t, e.r, "p1", "iv1")
	again := mustJudge(t, e.r, "p1", "iv1")
	assertCount(t, e.srv, 1)
	if !jsonEqualValues(t, first, again) {
		t.Errorf("cached judgement differs: %+v vs %+v", first, again)
	}
	if got := metric(t, e.reg, "persona_llm_cache_hits_total", nil); got != 1 {
		t.Errorf("cache hits = %v", got)
	}
	if got := metric(t, e.reg, "persona_llm_cache_misses_total", nil); got != 1 {
		t.Errorf("cache misses = %v", got)
	}

	// One file per key, no temporary files left behind.
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, filepath.Base(path))
		}
		return err
	})
	if err != nil || len(files) != 1 || !strings.HasSuffix(files[0], ".json") {
		t.Fatalf("cache dir files = %v (%v), want one .json", files, err)
	}

	// A new Client on the same directory, pointed at another server with
	// another key, answers from disk: neither URL nor key is in the key.
	other := newEnv(t, []*llmtest.Rule{llmtest.Answer(`{"intent_change": -0.9}`)}, func(c *llm.Config) { c.CacheDir = dir })
	restarted := mustJudge(t, other.r, "p1", "iv1")
	assertCount(t, other.srv, 0)
	assertCount(t, e.srv, 1)
	if !jsonEqualValues(t, first, restarted) {
		t.Errorf("judgement after restart differs: %+v vs %+v", first, restarted)
	}

	// Another sample is another key.
	if _, err := other.r.JudgeSample(context.Background(), testPersona("p1"), testIntervention("iv1"), 1); err != nil {
		t.Fatal(err)
	}
	assertCount(t, other.srv, 1)
}

func TestErrorsNotCached(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.BadRequest(1, "try again"), llmtest.Answer(validAnswer)},
		func(c *llm.Config) { c.CacheDir = t.TempDir() })
	if _, err := e.r.Judge(context.Background(), testPersona("p1"), testIntervention("iv1")); err == nil {
		t.Fatal("want the 400")
	}
	mustJudge(t, e.r, "p1", "iv1")
	assertCount(t, e.srv, 2)
}

func TestSamplesAreDistinctRequests(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.Answer(validAnswer)}, nil)
	seeds := map[int]bool{}
	for s := range 3 {
		if _, err := e.r.JudgeSample(context.Background(), testPersona("p1"), testIntervention("iv1"), s); err != nil {
			t.Fatal(err)
		}
	}
	// Repeating a sample hits the cache.
	if _, err := e.r.JudgeSample(context.Background(), testPersona("p1"), testIntervention("iv1"), 1); err != nil {
		t.Fatal(err)
	}
	assertCount(t, e.srv, 3)
	for _, rec := range e.srv.Requests() {
		seeds[*rec.Request.Seed] = true
	}
	if len(seeds) != 3 {
		t.Errorf("seeds %v: want 3 distinct", seeds)
	}
	if llm.DeriveSeed(42, 1, "p1", "iv1") != llm.DeriveSeed(42, 1, "p1", "iv1") || llm.DeriveSeed(42, 1, "p1", "iv1") == llm.DeriveSeed(43, 1, "p1", "iv1") {
		t.Error("DeriveSeed is not a deterministic function of its inputs")
	}
}

func TestConcurrencyLimitHolds(t *testing.T) {
	const limit = 3
	e := newEnv(t, []*llmtest.Rule{llmtest.Slow(0, 20*time.Millisecond, validAnswer)},
		func(c *llm.Config) { c.MaxConcurrency = limit })
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			_, err := e.r.Judge(context.Background(), testPersona("p"+string(rune('A'+i%26))+string(rune('a'+i/26))), testIntervention("iv1"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	assertCount(t, e.srv, 50)
	if hw := e.srv.HighWater(); hw > limit || hw < 2 {
		t.Errorf("server high-water mark = %d, want 2..%d", hw, limit)
	}
	if hw := e.cli.InFlightHighWater(); hw > limit {
		t.Errorf("client high-water mark = %d > %d", hw, limit)
	}
}

func TestMetricsTokensAndCost(t *testing.T) {
	rule := llmtest.Answer(validAnswer)
	rule.Usage = llmtest.Usage{PromptTokens: 1000, CompletionTokens: 200}
	e := newEnv(t, []*llmtest.Rule{rule}, nil)
	mustJudge(t, e.r, "p1", "iv1")
	mustJudge(t, e.r, "p1", "iv1") // cache hit: no tokens, no cost
	lbl := map[string]string{"model": testModel}
	for name, want := range map[string]float64{
		"persona_llm_prompt_tokens_total":      1000,
		"persona_llm_completion_tokens_total":  200,
		"persona_llm_cost_usd_total":           (1000*2.5 + 200*10) / 1e6,
		"persona_llm_unpriced_requests_total":  0,
		"persona_llm_cache_hits_total":         1,
		"persona_llm_request_duration_seconds": 1,
	} {
		if got := metric(t, e.reg, name, lbl); !near(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := metric(t, e.reg, "persona_llm_requests_total", map[string]string{"model": testModel, "result": "ok"}); got != 1 {
		t.Errorf("ok requests = %v", got)
	}
	u := e.cli.Usage()
	if u.Completions != 2 || u.CacheHits != 1 || u.PromptTokens != 1000 || u.CompletionTokens != 200 || !near(u.CostUSD, 0.0045) || u.UnpricedCompletions != 0 {
		t.Errorf("usage = %+v", u)
	}
}

func TestUnpricedModelFlagged(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.Answer(validAnswer)}, func(c *llm.Config) { c.Model = "mystery-model" })
	resp, err := e.cli.Complete(context.Background(), llm.Request{Messages: []persona.Message{{Role: "user", Content: "JSON please"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Priced || resp.CostUSD != 0 {
		t.Errorf("response priced=%t cost=%v, want unpriced", resp.Priced, resp.CostUSD)
	}
	lbl := map[string]string{"model": "mystery-model"}
	if got := metric(t, e.reg, "persona_llm_unpriced_requests_total", lbl); got != 1 {
		t.Errorf("unpriced requests = %v", got)
	}
	if got := metric(t, e.reg, "persona_llm_prompt_tokens_total", lbl); got == 0 {
		t.Error("tokens of an unpriced model not counted")
	}
	if u := e.cli.Usage(); u.UnpricedCompletions != 1 || u.CostUSD != 0 {
		t.Errorf("usage = %+v", u)
	}
}

func TestAPIKeyNeverLeaks(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{llmtest.RejectJSONSchema(), llmtest.ServerError(1, 502), llmtest.Answer(validAnswer)}, nil)
	mustJudge(t, e.r, "p1", "iv1")
	cfg := e.cli.Config()
	var texts []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		texts = append(texts, sprintf(f, cfg), sprintf(f, &cfg))
	}
	texts = append(texts, cfg.String(), e.logs.String())
	// An error from a failing call.
	bad := newEnv(t, []*llmtest.Rule{llmtest.BadRequest(0, "nope")}, nil)
	_, err := bad.r.Judge(context.Background(), testPersona("p1"), testIntervention("iv1"))
	texts = append(texts, err.Error(), bad.logs.String())
	// slog of the config itself.
	var buf testenv.SyncBuffer
	slogJSON(&buf).Info("config", "llm", cfg)
	texts = append(texts, buf.String())
	for i, s := range texts {
		if strings.Contains(s, testKey) {
			t.Errorf("text %d leaks the API key: %s", i, s)
		}
	}
	if !strings.Contains(cfg.String(), "[REDACTED]") || !strings.Contains(buf.String(), "[REDACTED]") {
		t.Errorf("the key is not shown as redacted: %s / %s", cfg.String(), buf.String())
	}
	if !strings.Contains(e.logs.String(), "downgrading") {
		t.Errorf("expected downgrade and retry logs, got %s", e.logs.String())
	}
}

func TestLoadAPIKey(t *testing.T) {
	t.Run("env", func(t *testing.T) {
		t.Setenv(llm.APIKeyEnv, "sk-env")
		var c llm.Config
		if err := c.LoadAPIKey(); err != nil || c.APIKey != "sk-env" {
			t.Fatalf("key %q, err %v", c.APIKey, err)
		}
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "key")
		if err := os.WriteFile(path, []byte("sk-file\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(llm.APIKeyEnv+"_FILE", path)
		var c llm.Config
		if err := c.LoadAPIKey(); err != nil || c.APIKey != "sk-file" {
			t.Fatalf("key %q, err %v", c.APIKey, err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	good := llm.Config{BaseURL: "http://localhost:11434/v1", Model: "m"}.WithDefaults()
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if good.MaxConcurrency != 4 || good.MaxRetries != 6 || good.StructuredOutput != llm.JSONSchema {
		t.Errorf("defaults = %+v", good)
	}
	for _, tc := range []struct {
		field string
		edit  func(*llm.Config)
	}{
		{"BaseURL", func(c *llm.Config) { c.BaseURL = "" }},
		{"BaseURL", func(c *llm.Config) { c.BaseURL = "ftp://x/v1" }},
		{"Model", func(c *llm.Config) { c.Model = " " }},
		{"Timeout", func(c *llm.Config) { c.Timeout = -time.Second }},
		{"MaxConcurrency", func(c *llm.Config) { c.MaxConcurrency = -1 }},
		{"MaxRetries", func(c *llm.Config) { c.MaxRetries = -2 }},
		{"StructuredOutput", func(c *llm.Config) { c.StructuredOutput = "xml" }},
		{"Temperature", func(c *llm.Config) { c.Temperature = 3 }},
		{"BackoffCap", func(c *llm.Config) { c.BackoffCap = time.Millisecond }},
		{"Prices", func(c *llm.Config) { c.Prices = map[string]llm.Price{"m": {InputPerMTok: -1}} }},
	} {
		c := good
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: err = %v, want one naming the field", tc.field, err)
		}
	}
	if _, err := llm.New(llm.Config{Model: "m"}, llm.Options{}); err == nil {
		t.Error("New accepted a config without BaseURL")
	}
}

func TestParsePrices(t *testing.T) {
	p, err := llm.ParsePrices("gpt-4o=2.5/10, local=0/0")
	if err != nil || p["gpt-4o"] != (llm.Price{InputPerMTok: 2.5, OutputPerMTok: 10}) || p["local"] != (llm.Price{}) || len(p) != 2 {
		t.Fatalf("prices %v, err %v", p, err)
	}
	if _, err := llm.ParsePrices("gpt-4o=2.5"); err == nil {
		t.Error("accepted a price without an output price")
	}
}

func TestBrainAnswers(t *testing.T) {
	e := newEnv(t, nil, nil)
	re := regexp.MustCompile(`\[persona:([^\]]+)\]`)
	e.srv.SetBrain(func(req openai.ChatCompletionRequest) string {
		id := re.FindStringSubmatch(llmtest.LastUserMessage(req))[1]
		if id == "fan" {
			return `{"rationale":"Love it.","drivers":[],"intent_change":0.9,"confidence":0.9}`
		}
		return `{"rationale":"Meh.","drivers":[],"intent_change":-0.2,"confidence":0.6}`
	})
	if j := mustJudge(t, e.r, "fan", "iv1"); j.IntentChange != 0.9 {
		t.Errorf("fan intent = %v", j.IntentChange)
	}
	if j := mustJudge(t, e.r, "skeptic", "iv1"); j.IntentChange != -0.2 {
		t.Errorf("skeptic intent = %v", j.IntentChange)
	}
}

func TestTaggedRulesRouteByPersona(t *testing.T) {
	e := newEnv(t, []*llmtest.Rule{
		llmtest.With(llmtest.Answer(`{"intent_change":-0.5}`), llmtest.MatchUser(llmtest.Tagged("p2", ""))),
		llmtest.Answer(validAnswer),
	}, nil)
	if j := mustJudge(t, e.r, "p2", "iv9"); j.IntentChange != -0.5 {
		t.Errorf("p2 intent = %v", j.IntentChange)
	}
	if j := mustJudge(t, e.r, "p1", "iv9"); j.IntentChange != 0.4 {
		t.Errorf("p1 intent = %v", j.IntentChange)
	}
}
