// Package simulation is Preflight's simulation engine: it answers a
// SimulateRequest (package api) from one calibration snapshot.
//
// # Model
//
// The target population (target_population.segments, or every segment of
// the snapshot when none is given) is split into segments in proportion to
// the exposures behind the snapshot's cells of each segment, by largest
// remainder so that the parts sum to target_population.size. The selection
// method and the filters do not change the split yet.
//
// Every segment × channel has calibrated parameters taken from the
// snapshot's pooled cell (intervention_id empty), or, when only
// intervention cells exist, their exposure-weighted mean: the control
// conversion rate over the horizon b, the uplift u per first send with its
// standard error (UpliftSE, else the cell interval's half width / 1.96),
// the revenue per conversion, the cost per exposure and the unsubscribe
// rate per exposure.
//
// Personas are sampled (num_personas, seeded) over the target segments: a
// segment with probability equal to its population share, then a persona
// of it by its calibrated weight. Each sampled persona judges each content
// variant × channel × timing candidate with the Reasoner; judgements are
// cached (see Cache). When the snapshot has an EffectMap, the segment's
// variant-specific uplift is u_em = mean over its sampled personas of
// EffectMap.Map(channel, segment, intent). It is blended with the measured
// cell uplift u_cell by how specific the map's curve is: u = u_em at
// LevelCell, (u_em + u_cell)/2 at LevelChannel and (u_em + 3·u_cell)/4 at
// LevelPooled; without an EffectMap, or without personas in the segment,
// u = u_cell. The uncertainty of u is the cell's.
//
// The send schedule is fixed per configuration: a campaign or policy
// change sends once on day 0 on every chosen channel; a sequence sends every
// day (daily) or every 7 days (weekly and event_based, which has no event
// stream to follow yet). The frequency cap allows at most frequency_cap
// sends per persona in any 7 days over all channels; sends past it are
// dropped, channels taken in request order. The f-th send on a channel
// adds u·ρ^(f−1) conversions per delivered message (ρ = RepeatDecay, the
// diminishing return of repeated sends, a fixed assumption because the
// snapshot has no per-send response curve) and unsubscribes the hazard
// h_f of the hazard model's Unsubscribe.Risk(channel, segment, f, days
// since the previous send), or, without a model, the cell's unsubscribe
// rate moved on the logit scale by UnsubscribeFrequencySlope·(f − mean
// frequency). Unsubscribed people receive no later sends. Each delivered
// send costs the cell's cost per exposure. Control conversions are b of
// the segment, spread evenly over the days.
//
// The marketing-mix summary is not used for the predictions: it measures
// channel totals, not the per-exposure effect of one campaign, and the
// experiment-based uplift already is that effect. It is used only to flag a
// "saturation" risk when a channel's planned daily spend exceeds the
// largest daily spend the model saw (SpendScale), where its saturation
// curve is extrapolated.
//
// # Monte Carlo
//
// Each run draws the parameters (b and u per segment × channel from normal
// distributions with their standard errors, b clipped to [0, 1], and the
// hazard's logit shifted by a normal draw of its interval's standard
// error), then draws binomial conversions and unsubscribes per segment per
// day from the counts (exact for small counts, Poisson or normal
// approximations for large ones). Means are over runs; intervals are the
// runs' 2.5% and 97.5% quantiles. Every draw comes from a math/rand/v2 PCG
// seeded by Simulate's seed, so identical requests, snapshots and seeds
// give identical answers.
//
// # Outcomes, constraints and search
//
// Revenue is the treated arm's conversions × revenue per conversion;
// revenue uplift is (treated − control conversions) × revenue per
// conversion; cost is the sum of delivered sends × cost per exposure; ROI
// is (revenue uplift − cost) / cost, the return of the money spent (the
// baseline revenue would come without it).
//
// The search evaluates every configuration (non-empty channel subset ×
// content variant × timing candidate) with the model's expected values (a
// run with every draw replaced by its mean), keeps those meeting the
// constraints (max_budget on cost, max_unsubscribe_rate and min_roi on the
// expected values) and picks the largest objective: revenue uplift − cost
// when success_metrics asks for revenue_uplift, customer_lifetime_value or
// a custom KPI, or when it asks for none of conversion_rate and
// revenue_uplift; the expected incremental conversions otherwise. Ties go
// to the first configuration in request order. Timing candidates are the
// fixed slots of ScheduledSlots for a scheduled request and one candidate
// named after the schedule otherwise. The Monte Carlo then runs for the
// chosen configuration (or, when none meets the constraints, for the one
// with the best objective, and optimal_configuration is absent).
//
// customer_lifetime_value and custom KPIs are not predicted yet: they are
// absent from expected_outcomes even when requested.
package simulation
