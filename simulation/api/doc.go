// Package api is the binding contract of POST /api/v1/simulate, the
// Preflight simulation endpoint that CRM workflows (ActivePieces) and Kafka
// request/reply clients call: the request and response bodies of the PRD's
// "API Design for ActivePieces Integration" as Go types, a strict decoder
// that reports every problem with its field path, and the same contract as
// JSON Schema (draft 2020-12) and OpenAPI 3.1 documents for callers written
// in other languages.
//
// The contract is closed: a field the PRD does not name is rejected, never
// kept. The only additions to the PRD's bodies are the ones the simulator
// needs to answer every request the PRD allows:
//
//   - success_metrics accepts "custom:<name>" besides the PRD's bare
//     "custom_kpi" (see Metric), and expected_outcomes answers them in
//     custom_kpis;
//   - expected_outcomes may carry customer_lifetime_value, and revenue may
//     carry uplift_vs_control (the answer to "revenue_uplift");
//   - an insight may carry persona_rationales;
//   - a failed response carries status "failed" and an error object
//     (see Error) instead of predictions; its kinds are validation,
//     timeout, limit, internal, and unauthorized for a 401.
//
// The JSON Schemas are in schema/ and the OpenAPI 3.1 document, served at
// OpenAPIPath, holds them verbatim as its component schemas. Both
// validators agree on every request except where JSON Schema cannot
// follow: duplicate content variant ids and the configured limits.
//
// Decode is the one way in: it checks the body size, decodes strictly,
// validates, applies the documented defaults (SimulateRequest.WithDefaults)
// and enforces the work limit num_personas × monte_carlo_runs ×
// time_horizon_days. Segment names are not checked here: only the loaded
// calibration knows which segments exist.
package api
