// Package llm is a persona.Reasoner on any OpenAI-compatible chat
// completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, LiteLLM and
// other gateways), through the go-openai client.
//
// A Client owns the transport concerns:
//
//   - structured output: json_schema (strict, with the program's schema),
//     json_object or prompt-only, downgrading once from json_schema to
//     json_object when the endpoint rejects response_format with a 400 or
//     422;
//   - retries of 408, 409, 429, 5xx, per-attempt timeouts and network
//     errors (never of other 4xx), waiting the larger of exponential
//     full-jitter backoff and the server's hint (retry-after-ms,
//     Retry-After in seconds or as an HTTP date, x-ratelimit-reset-* on a
//     429), within the caller's context deadline;
//   - a concurrency limit on HTTP attempts (a semaphore held only while a
//     request is in flight, not while waiting to retry);
//   - a response cache keyed by SHA-256 over the canonical JSON of model,
//     messages, temperature, seed, max tokens, response format and schema,
//     sample index and cache schema version (not the base URL or the key),
//     in memory and in CacheDir, one atomically written file per key, so
//     that a rerun replays its answers; errors are never cached;
//   - token and cost accounting as Prometheus metrics and a Usage total,
//     with models missing from the price table reported as unpriced.
//
// A Reasoner renders a persona.Program to messages, asks its Client, parses
// the answer with persona.ParseJudgement, and retries once with the parse
// error appended when the answer is malformed.
//
// Concurrency: Clients and Reasoners are safe for concurrent use; they own
// no goroutines. The Client's mutexes guard its usage totals and the
// in-memory cache; neither is held across an HTTP call.
package llm
