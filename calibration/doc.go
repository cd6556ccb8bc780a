// Package calibration keeps Preflight's predictions honest while the world
// changes. For each scope (an industry or a tenant) it refreshes moments
// from the warehouse behind a watermark, watches them and the live
// calibration's residuals for drift, refits the causal models on the recent
// window, re-weights personas and rakes predictions to macro totals, backtests
// on held-out interventions, and publishes versioned snapshots that a
// simulator starts from.
//
// The top level holds the fit itself. Calibrate reads a window of daily
// moments and builds a Snapshot: cells per segment × channel (×
// intervention) with the control base rate, the randomized uplift and its
// Neyman interval, revenue, unsubscribe and cost rates (BuildCells; rates
// are per assignment, as synth's Truth defines them), the hazard models,
// personas and program, and the backtest of the most recent campaigns
// (BacktestCells). It refits the marketing-mix model (mmm.go) on the
// window's daily spend per channel and incremental revenue (the day's
// revenue less its holdouts' baseline) and summarizes it (MMMSummary:
// contributions, shares, ROAS and marginal ROAS with intervals, the curves'
// posterior means, diagnostics). It then retunes on the window (retune.go): it maps the
// window's stored intervention events to persona interventions, judges
// them for the scope's personas, fits the intent-to-effect map on the
// intervention cells' uplifts and re-weights each segment's personas by the
// simulated method of moments; it rakes the intervention cells' predicted
// conversions to the window's segment and channel margins (and to a
// marketing-mix model's channel totals: Config.MarketingMix, else the
// refitted model's); and, when an LLM is
// configured, it searches the persona prompt program and promotes the
// winner only when it beats the zero-shot program. Observe and Residuals give the drift detectors the
// observed cells and the live snapshot's standardized residuals; Decode
// reads a published snapshot back.
//
// Subpackages: calibration/drift (detectors), calibration/rake (iterative
// proportional fitting, logit-shift reconciliation), calibration/smm
// (simulated method of moments for persona weights), calibration/service
// (the long-running calibrator: scope ownership, refresh loop, publishing).
package calibration
