// Package calibration keeps Preflight's predictions honest while the world
// changes. For each scope (an industry or a tenant) it refreshes moments
// from the warehouse behind a watermark, watches them and the live
// calibration's residuals for drift, refits the causal models on the recent
// window, re-weights personas and rakes predictions to macro totals, backtests
// on held-out interventions, and publishes versioned snapshots that a
// simulator starts from.
//
// Subpackages: calibration/drift (detectors), calibration/rake (iterative
// proportional fitting, logit-shift reconciliation), calibration/smm
// (simulated method of moments for persona weights), calibration/service
// (the long-running calibrator: scope ownership, refresh loop, publishing).
package calibration
