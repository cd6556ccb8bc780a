// Package persona gives Preflight its sensitivity to content: synthetic
// personas sampled from a segment's trait priors judge an intervention
// (channel, content, offer, timing, recent exposures) and say how it changes
// their intent to act, why, and how sure they are. Judgements never become
// numbers on their own: an intent-to-effect map learned from historical
// interventions turns them into uplift.
//
// The pieces:
//
//   - this package: persona specs and their factory, interventions,
//     judgements, the Reasoner interface, the built-in deterministic
//     reasoner (the default, no network), prompt programs (instruction,
//     few-shot demos, output contract) with their rendering and a tolerant
//     parser of answers;
//   - persona/llm: a Reasoner on any OpenAI-compatible endpoint through
//     go-openai, with structured output, retries, a concurrency limit, a
//     response cache that survives restarts, and token/cost metrics;
//   - persona/llmtest: a scripted OpenAI-compatible HTTP server for tests;
//   - persona/optimize: the calibration metric and a
//     BootstrapFewShotWithRandomSearch-style optimizer of prompt programs,
//     and the intent-to-effect map.
package persona
