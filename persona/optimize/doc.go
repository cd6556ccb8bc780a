// Package optimize calibrates persona reasoning against measured history.
//
// It has three parts:
//
//   - the calibration metric (Evaluate): Kendall's tau-b between the
//     judged and the observed per-intervention effects, a normalized
//     moment MSE in [0, 1], and Score = 0.5·tau + 0.5·(1 − MSE), with the
//     failure rate alongside;
//   - the optimizer (Optimize): a BootstrapFewShotWithRandomSearch
//     equivalent after DSPy (Khattab et al. 2023) that searches the
//     few-shot demos of a persona.Program on a train/validation/test split
//     by intervention (SplitByIntervention), under a call budget, with a
//     worker pool, deterministically under a seed, and returns a
//     JSON-serializable compiled artifact (Result);
//   - the intent-to-effect map (FitEffectMap): weighted isotonic
//     regression (PAVA) from aggregate intent change to measured uplift per
//     channel × segment, falling back to per-channel and pooled curves when
//     a cell has too few interventions.
//
// Concurrency: Optimize owns its worker goroutines; they have all returned
// when it returns, and they stop when its context ends. The Reasoners it
// builds through a ProgramReasoner must be safe for concurrent use.
package optimize
