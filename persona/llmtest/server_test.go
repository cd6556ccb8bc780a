package llmtest_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/preflight-hq/preflight/persona/llmtest"
)

const key = "sk-llmtest"

func client(srv *llmtest.Server, apiKey string) *openai.Client {
	cfg := openai.DefaultConfig(apiKey)
	cfg.BaseURL = srv.BaseURL()
	return openai.NewClientWithConfig(cfg)
}

func ask(c *openai.Client, model, user string, format openai.ChatCompletionResponseFormatType) (openai.ChatCompletionResponse, error) {
	req := openai.ChatCompletionRequest{
		Model:    model,
		Messages: []openai.ChatCompletionMessage{{Role: "system", Content: "Answer in JSON."}, {Role: "user", Content: user}},
	}
	if format != "" {
		req.ResponseFormat = &openai.ChatCompletionResponseFormat{Type: format}
	}
	return c.CreateChatCompletion(context.Background(), req)
}

func status(err error) int {
	var ae *openai.APIError
	if errors.As(err, &ae) {
		return ae.HTTPStatusCode
	}
	return 0
}

func TestRulesMatchInOrderWithTimes(t *testing.T) {
	srv := llmtest.New(llmtest.Config{APIKey: key, Rules: []*llmtest.Rule{
		llmtest.RateLimited(2, "1"),
		{Name: "big", Model: "big-model", Content: "from big"},
		{Name: "object", Format: "json_object", Content: "from json_object"},
		{Name: "tagged", Match: llmtest.Tagged("p7", "iv3"), Content: "tagged", Usage: llmtest.Usage{PromptTokens: 11, CompletionTokens: 5}},
		{Name: "rest", Content: "default"},
	}})
	defer srv.Close()
	c := client(srv, key)
	for i := range 2 {
		_, err := ask(c, "m", "hi", "")
		if status(err) != http.StatusTooManyRequests {
			t.Fatalf("call %d: err %v, want 429", i, err)
		}
	}
	for _, tc := range []struct {
		model, user string
		format      openai.ChatCompletionResponseFormatType
		want        string
	}{
		{"big-model", "hi", "json_object", "from big"},
		{"m", "hi", "json_object", "from json_object"},
		{"m", "[persona:p7] [intervention:iv3]\nhello", "", "tagged"},
		{"m", "[persona:p8] [intervention:iv3]\nhello", "", "default"},
	} {
		resp, err := ask(c, tc.model, tc.user, tc.format)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; got != tc.want {
			t.Errorf("%s/%s/%.20q: content %q, want %q", tc.model, tc.format, tc.user, got, tc.want)
		}
		if tc.want == "tagged" && (resp.Usage.PromptTokens != 11 || resp.Usage.CompletionTokens != 5 || resp.Usage.TotalTokens != 16) {
			t.Errorf("usage = %+v", resp.Usage)
		}
		if resp.SystemFingerprint != "fp_llmtest" {
			t.Errorf("fingerprint %q", resp.SystemFingerprint)
		}
	}
	recs := srv.Requests()
	if len(recs) != 6 || recs[0].Rule != "rate_limited" || recs[0].Status != 429 || recs[5].Rule != "rest" {
		t.Errorf("records = %+v", recs)
	}
	if recs[0].Header.Get("Retry-After") != "" {
		t.Error("recorded the response header as a request header")
	}
	if recs[2].Request.Model != "big-model" || len(recs[2].Body) == 0 || recs[2].Time.IsZero() {
		t.Errorf("record = %+v", recs[2])
	}
	srv.Reset()
	if srv.Count() != 0 {
		t.Error("Reset kept records")
	}
	if _, err := ask(c, "m", "hi", ""); status(err) != http.StatusTooManyRequests {
		t.Errorf("after Reset, err %v, want the 429 rule again", err)
	}
}

func TestAuthModelsAndAzureRoute(t *testing.T) {
	srv := llmtest.New(llmtest.Config{APIKey: key, Rules: []*llmtest.Rule{{Model: "gpt-x", Content: "ok"}}})
	defer srv.Close()
	if _, err := ask(client(srv, "wrong"), "gpt-x", "hi", ""); status(err) != http.StatusUnauthorized {
		t.Errorf("wrong key: err %v, want 401", err)
	}
	models, err := client(srv, key).ListModels(context.Background())
	if err != nil || len(models.Models) != 1 || models.Models[0].ID != "gpt-x" {
		t.Errorf("models = %+v, err %v", models, err)
	}
	az := openai.DefaultAzureConfig(key, srv.URL())
	az.AzureModelMapperFunc = func(string) string { return "gpt-x" }
	resp, err := ask(openai.NewClientWithConfig(az), "gpt-x", "hi", "")
	if err != nil || resp.Choices[0].Message.Content != "ok" {
		t.Fatalf("azure: resp %+v, err %v", resp, err)
	}
	last := srv.Requests()[srv.Count()-1]
	if last.Header.Get("api-key") != key {
		t.Errorf("azure request headers %v", last.Header)
	}
}

func TestBrainAndNoMatch(t *testing.T) {
	srv := llmtest.New(llmtest.Config{})
	defer srv.Close()
	c := client(srv, "")
	if _, err := ask(c, "m", "hi", ""); status(err) != http.StatusBadRequest {
		t.Errorf("no rule and no brain: err %v, want 400", err)
	}
	re := regexp.MustCompile(`\d+`)
	srv.SetBrain(func(req openai.ChatCompletionRequest) string {
		return "number " + re.FindString(llmtest.LastUserMessage(req))
	})
	resp, err := ask(c, "m", "pick 42", "")
	if err != nil || resp.Choices[0].Message.Content != "number 42" {
		t.Fatalf("brain: %+v, %v", resp, err)
	}
	if srv.Requests()[1].Rule != "brain" {
		t.Errorf("rule = %q", srv.Requests()[1].Rule)
	}
}

func TestFaultBodies(t *testing.T) {
	srv := llmtest.New(llmtest.Config{Rules: []*llmtest.Rule{
		llmtest.BrokenEnvelope(1),
		llmtest.RejectJSONSchema(),
		llmtest.ServerError(1, 503),
		llmtest.ProseWrapped(`{"a":1}`),
	}})
	defer srv.Close()
	c := client(srv, "")
	if _, err := ask(c, "m", "hi", ""); err == nil {
		t.Error("broken envelope decoded")
	}
	_, err := ask(c, "m", "hi", openai.ChatCompletionResponseFormatTypeJSONSchema)
	var ae *openai.APIError
	if !errors.As(err, &ae) || ae.HTTPStatusCode != 400 || !regexp.MustCompile(`response_format`).MatchString(ae.Message) {
		t.Errorf("json_schema: err %v, want 400 about response_format", err)
	}
	if _, err := ask(c, "m", "hi", ""); status(err) != 503 {
		t.Errorf("err %v, want 503", err)
	}
	resp, err := ask(c, "m", "hi", "")
	if err != nil || !regexp.MustCompile("(?s)```json\n\\{\"a\":1\\}\n```").MatchString(resp.Choices[0].Message.Content) {
		t.Errorf("prose: %+v, %v", resp.Choices, err)
	}
}
