package llm

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Prometheus instruments of Clients and Reasoners. One
// Metrics may be shared by several Clients (labels tell their models
// apart); create it once per registry.
type Metrics struct {
	requests         *prometheus.CounterVec
	retries          *prometheus.CounterVec
	downgrades       *prometheus.CounterVec
	cacheHits        *prometheus.CounterVec
	cacheMisses      *prometheus.CounterVec
	promptTokens     *prometheus.CounterVec
	completionTokens *prometheus.CounterVec
	cost             *prometheus.CounterVec
	unpriced         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	judgements       *prometheus.CounterVec
}

// Attempt results, the values of the "result" label of
// persona_llm_requests_total.
const (
	ResultOK           = "ok"
	ResultRateLimited  = "rate_limited"
	ResultServerError  = "server_error"
	ResultClientError  = "client_error"
	ResultTimeout      = "timeout"
	ResultNetworkError = "network_error"
	ResultCanceled     = "canceled"
)

// NewMetrics creates the instruments and registers them with reg; a nil
// reg leaves them unregistered (they still count, which tests and
// benchmarks use).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_requests_total",
			Help: "HTTP attempts at chat completions, by model and result: ok, rate_limited (429), server_error (408, 409, 5xx), client_error (other 4xx), timeout (per-attempt timeout), network_error, canceled (caller's context ended).",
		}, []string{"model", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_retries_total",
			Help: "Attempts retried after a retriable failure, by model.",
		}, []string{"model"}),
		downgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_structured_output_downgrades_total",
			Help: "Downgrades from json_schema to json_object after the endpoint rejected response_format, by model.",
		}, []string{"model"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_cache_hits_total",
			Help: "Completions answered from the response cache (memory or disk) without an HTTP call, by model.",
		}, []string{"model"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_cache_misses_total",
			Help: "Completions not found in the response cache, by model.",
		}, []string{"model"}),
		promptTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_prompt_tokens_total",
			Help: "Prompt (input) tokens billed by the endpoint, by model; cache hits add none.",
		}, []string{"model"}),
		completionTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_completion_tokens_total",
			Help: "Completion (output) tokens billed by the endpoint, reasoning tokens included, by model; cache hits add none.",
		}, []string{"model"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_cost_usd_total",
			Help: "Cost of completions in US dollars from the configured price table, by model; unpriced models add nothing here and count in persona_llm_unpriced_requests_total.",
		}, []string{"model"}),
		unpriced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_unpriced_requests_total",
			Help: "Billed completions of models missing from the price table (their cost is unknown, not zero), by model.",
		}, []string{"model"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "persona_llm_request_duration_seconds",
			Help:    "Duration of one HTTP attempt at a chat completion, whatever its result, by model.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, []string{"model"}),
		judgements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "persona_llm_judgements_total",
			Help: "Judgements made by the LLM reasoner, by model and result: ok (parsed first time), repaired (parsed after the repair retry), failed (no judgement).",
		}, []string{"model", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.retries, m.downgrades, m.cacheHits, m.cacheMisses,
			m.promptTokens, m.completionTokens, m.cost, m.unpriced, m.duration, m.judgements)
	}
	return m
}
