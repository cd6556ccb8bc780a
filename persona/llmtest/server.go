// Package llmtest is a scripted OpenAI-compatible HTTP server for tests:
// it answers POST /v1/chat/completions (and Azure's
// /openai/deployments/{name}/chat/completions) and GET /v1/models from an
// ordered list of rules, or from a pluggable Brain, records every request,
// and injects faults (rate limits, server errors, slow answers, malformed
// or prose-wrapped JSON, json_schema rejection).
//
// A Server is safe for concurrent use. Point a client at Server.BaseURL()
// with the Server's API key.
package llmtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	openai "github.com/sashabaranov/go-openai"
)

// Format values a Rule can match on, besides "json_object" and
// "json_schema".
const (
	// FormatNone matches requests without a response_format (or with type
	// "text").
	FormatNone = "none"
)

// Usage is the token usage a rule reports.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

// Rule is one scripted answer. A request matches a rule when every set
// matcher agrees and the rule has uses left; the first matching rule in
// order answers. A Rule counts its uses, so it belongs to one Server.
type Rule struct {
	// Name labels the rule in the recorder.
	Name string

	// Model, if set, must equal the request's model.
	Model string
	// Format, if set, must equal the request's response_format type:
	// "json_schema", "json_object" or FormatNone.
	Format string
	// Match, if set, must match the last user message.
	Match *regexp.Regexp
	// Times limits the rule to its first Times matches; 0 is unlimited.
	Times int

	// Status is the HTTP status; 0 means 200.
	Status int
	// Content is the assistant's answer on 200; the error message
	// otherwise (a default one when empty).
	Content string
	// Respond, if set, computes the content from the request instead.
	Respond func(req openai.ChatCompletionRequest) string
	// RawBody, if set, is written as the whole response body instead of a
	// chat completion envelope (to break the envelope itself).
	RawBody string
	// Usage is the reported usage; zero fields are estimated as about one
	// token per four characters.
	Usage Usage
	// Headers are set on the response (Retry-After, retry-after-ms,
	// x-ratelimit-*).
	Headers map[string]string
	// Latency delays the answer (or until the client gives up).
	Latency time.Duration

	used int // guarded by Server.mu
}

// Record is one request the server received.
type Record struct {
	// Time is when the request arrived.
	Time time.Time
	// Method and Path are the HTTP method and URL path.
	Method, Path string
	// Header is a copy of the request headers.
	Header http.Header
	// Body is the raw request body.
	Body []byte
	// Request is the body decoded as a chat completion request (zero for
	// other routes or undecodable bodies).
	Request openai.ChatCompletionRequest
	// Rule is the name of the rule that answered ("brain" for the Brain,
	// "" for none).
	Rule string
	// Status is the HTTP status answered.
	Status int
}

// Config configures a Server.
type Config struct {
	// APIKey, if set, must be presented as "Authorization: Bearer <key>"
	// or as an "api-key" header; other requests get 401.
	APIKey string
	// Rules are tried in order.
	Rules []*Rule
	// Brain answers requests no rule matched; without one they get a 400
	// saying no rule matched.
	Brain func(req openai.ChatCompletionRequest) string
	// Models are listed by GET /v1/models; default the rules' models.
	Models []string
	// Fingerprint is the system_fingerprint of answers; default
	// "fp_llmtest".
	Fingerprint string
}

// Server is a scripted OpenAI-compatible endpoint on an httptest.Server.
type Server struct {
	srv *httptest.Server
	cfg Config

	mu      sync.Mutex
	rules   []*Rule
	brain   func(req openai.ChatCompletionRequest) string
	records []Record

	inFlight  atomic.Int64
	highWater atomic.Int64
	nextID    atomic.Int64
}

// New starts a Server; Close it when done.
func New(cfg Config) *Server {
	if cfg.Fingerprint == "" {
		cfg.Fingerprint = "fp_llmtest"
	}
	s := &Server{cfg: cfg, rules: slices.Clone(cfg.Rules), brain: cfg.Brain}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		s.chat(w, r, "")
	})
	mux.HandleFunc("POST /openai/deployments/{deployment}/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		s.chat(w, r, r.PathValue("deployment"))
	})
	mux.HandleFunc("GET /v1/models", s.models)
	s.srv = httptest.NewServer(mux)
	return s
}

// Close shuts the server down, waiting for answers in progress.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// URL is the server's root URL.
func (s *Server) URL() string { return s.srv.URL }

// BaseURL is the OpenAI-style API root, URL()+"/v1".
func (s *Server) BaseURL() string { return s.srv.URL + "/v1" }

// AddRule appends a rule.
func (s *Server) AddRule(r *Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = append(s.rules, r)
}

// SetRules replaces the rules.
func (s *Server) SetRules(rules ...*Rule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = slices.Clone(rules)
}

// SetBrain replaces the Brain.
func (s *Server) SetBrain(brain func(req openai.ChatCompletionRequest) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.brain = brain
}

// Requests returns a copy of every recorded request, in arrival order.
func (s *Server) Requests() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

// Count returns the number of recorded requests.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// HighWater returns the largest number of chat requests the server was
// ever answering at once.
func (s *Server) HighWater() int { return int(s.highWater.Load()) }

// Reset forgets the recorded requests and the high-water mark and gives
// every rule its uses back.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = nil
	for _, r := range s.rules {
		r.used = 0
	}
	s.highWater.Store(0)
}

// LastUserMessage returns the content of the request's last user message.
func LastUserMessage(req openai.ChatCompletionRequest) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if req.Messages[i].Role == openai.ChatMessageRoleUser {
			return req.Messages[i].Content
		}
	}
	return ""
}

// FormatOf returns the request's response_format type, or FormatNone.
func FormatOf(req openai.ChatCompletionRequest) string {
	if req.ResponseFormat == nil || req.ResponseFormat.Type == "" || req.ResponseFormat.Type == openai.ChatCompletionResponseFormatTypeText {
		return FormatNone
	}
	return string(req.ResponseFormat.Type)
}

func (s *Server) authorized(r *http.Request) bool {
	if s.cfg.APIKey == "" {
		return true
	}
	return r.Header.Get("Authorization") == "Bearer "+s.cfg.APIKey || r.Header.Get("api-key") == s.cfg.APIKey
}

func (s *Server) record(rec Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, rec)
}

// pick returns the rule that answers req (consuming one of its uses), or
// nil and the brain.
func (s *Server) pick(req openai.ChatCompletionRequest) (Rule, bool, func(openai.ChatCompletionRequest) string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := LastUserMessage(req)
	format := FormatOf(req)
	for _, r := range s.rules {
		if r.Times > 0 && r.used >= r.Times {
			continue
		}
		if r.Model != "" && r.Model != req.Model {
			continue
		}
		if r.Format != "" && r.Format != format {
			continue
		}
		if r.Match != nil && !r.Match.MatchString(last) {
			continue
		}
		r.used++
		return *r, true, nil
	}
	return Rule{}, false, s.brain
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request, deployment string) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		hw := s.highWater.Load()
		if n <= hw || s.highWater.CompareAndSwap(hw, n) {
			break
		}
	}
	rec := Record{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	body, err := io.ReadAll(r.Body)
	rec.Body = body
	if err != nil {
		rec.Status = http.StatusBadRequest
		s.record(rec)
		writeError(w, rec.Status, "invalid_request_error", "cannot read body: "+err.Error())
		return
	}
	if !s.authorized(r) {
		rec.Status = http.StatusUnauthorized
		s.record(rec)
		writeError(w, rec.Status, "invalid_request_error", "Incorrect API key provided.")
		return
	}
	var req openai.ChatCompletionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		rec.Status = http.StatusBadRequest
		s.record(rec)
		writeError(w, rec.Status, "invalid_request_error", "cannot decode the request: "+err.Error())
		return
	}
	if deployment != "" {
		req.Model = deployment
	}
	rec.Request = req

	rule, ok, brain := s.pick(req)
	switch {
	case ok:
		rec.Rule = rule.Name
		if rec.Rule == "" {
			rec.Rule = "rule"
		}
	case brain != nil:
		rec.Rule = "brain"
		rule = Rule{Respond: brain}
	default:
		rec.Status = http.StatusBadRequest
		s.record(rec)
		writeError(w, rec.Status, "invalid_request_error", "llmtest: no rule matched and no brain is set")
		return
	}
	rec.Status = rule.Status
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	s.record(rec)

	if rule.Latency > 0 {
		t := time.NewTimer(rule.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	for k, v := range rule.Headers {
		w.Header().Set(k, v)
	}
	if rule.RawBody != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Status)
		_, _ = io.WriteString(w, rule.RawBody)
		return
	}
	if rec.Status != http.StatusOK {
		msg := rule.Content
		if msg == "" {
			msg = http.StatusText(rec.Status)
		}
		kind := "server_error"
		switch {
		case rec.Status == http.StatusTooManyRequests:
			kind = "rate_limit_error"
		case rec.Status < 500:
			kind = "invalid_request_error"
		}
		writeError(w, rec.Status, kind, msg)
		return
	}
	content := rule.Content
	if rule.Respond != nil {
		content = rule.Respond(req)
	}
	usage := rule.Usage
	if usage.PromptTokens == 0 {
		chars := 0
		for _, m := range req.Messages {
			chars += len(m.Content)
		}
		usage.PromptTokens = chars/4 + 1
	}
	if usage.CompletionTokens == 0 {
		usage.CompletionTokens = len(content)/4 + 1
	}
	s.writeCompletion(w, req.Model, content, usage)
}

// Wire types of answers: go-openai's response types carry unexported
// header state, so the server writes its own.
type (
	wireMessage struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	wireChoice struct {
		Index        int         `json:"index"`
		Message      wireMessage `json:"message"`
		FinishReason string      `json:"finish_reason"`
	}
	wireUsage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	}
	wireCompletion struct {
		ID                string       `json:"id"`
		Object            string       `json:"object"`
		Created           int64        `json:"created"`
		Model             string       `json:"model"`
		Choices           []wireChoice `json:"choices"`
		Usage             wireUsage    `json:"usage"`
		SystemFingerprint string       `json:"system_fingerprint"`
	}
)

func (s *Server) writeCompletion(w http.ResponseWriter, model, content string, u Usage) {
	resp := wireCompletion{
		ID:      fmt.Sprintf("chatcmpl-llmtest-%d", s.nextID.Add(1)),
		Object:  "chat.completion",
		Created: time.Now().Unix(),
		Model:   model,
		Choices: []wireChoice{{
			Message:      wireMessage{Role: openai.ChatMessageRoleAssistant, Content: content},
			FinishReason: "stop",
		}},
		Usage:             wireUsage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.PromptTokens + u.CompletionTokens},
		SystemFingerprint: s.cfg.Fingerprint,
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func writeError(w http.ResponseWriter, status int, kind, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{"message": message, "type": kind, "param": nil, "code": nil},
	})
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	rec := Record{Time: time.Now(), Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	if !s.authorized(r) {
		rec.Status = http.StatusUnauthorized
		s.record(rec)
		writeError(w, rec.Status, "invalid_request_error", "Incorrect API key provided.")
		return
	}
	rec.Status = http.StatusOK
	s.record(rec)
	names := slices.Clone(s.cfg.Models)
	if len(names) == 0 {
		s.mu.Lock()
		for _, r := range s.rules {
			if r.Model != "" && !slices.Contains(names, r.Model) {
				names = append(names, r.Model)
			}
		}
		s.mu.Unlock()
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	for _, n := range names {
		list.Data = append(list.Data, model{ID: n, Object: "model", OwnedBy: "llmtest"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
