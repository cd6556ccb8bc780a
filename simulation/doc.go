// Package simulation is Preflight's simulation engine: it answers a
// SimulateRequest (package api) from one calibration snapshot.
//
// # Model
//
// The target population (target_population.segments, or every segment of
// the snapshot when none is given) is split into segments in proportion to
// the exposures behind the snapshot's cells of each segment, by largest
// remainder so that the parts sum to target_population.size (see
// "Selection and filters" for what selection_method and filters change).
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
// mean intent change over its sampled personas, ī, is mapped to an uplift
// u_em = EffectMap.Map(channel, segment, ī), the same way the map was fitted
// (persona-weighted mean intent of an intervention against its measured
// uplift). When the snapshot's intervention cells of the segment × channel
// carry their judged intents (Cell.Intent), the map only moves the measured
// uplift by the difference the content makes:
//
//	u = u_cell + w·(u_em − ū_ref),  ū_ref = Σ_j n_j·Map(channel, segment, i_j) / Σ_j n_j
//
// over the measured interventions j (n_j their exposures): a regression
// adjustment that keeps the segment's level from its experiments and takes
// only the content's effect from the personas, scaled by w, the
// calibration's leave-one-intervention-out slope of that adjustment for
// the segment (Snapshot.ContentEffect, in [0, 1]; 1 when absent): personas
// move the numbers only as far as they have been shown to predict them. Without judged intents the
// older blend applies: u = u_em at LevelCell, (u_em + u_cell)/2 at
// LevelChannel and (u_em + 3·u_cell)/4 at LevelPooled. Without an
// EffectMap, or without personas in the segment, u = u_cell. A new
// campaign's uplift is uncertain by the cell's standard error and by how
// much campaigns differ from one another (the cell's between-campaign
// Heterogeneity): its standard deviation is √(se² + het²).
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
// Spend response. The experiment-based uplift is the effect of a campaign
// of the size the experiments had. When the snapshot's marketing-mix model
// converged (max R̂ ≤ MaxRHatForSpendResponse) and pins a channel down
// (its contribution's 90% interval no wider than twice its mean), the
// channel's uplift is scaled by the model's return per unit of spend of the
// planned daily spend series (carryover included) over that of the typical
// measured campaign, which spent the channel's window spend divided by its
// number of measured interventions in one day (see Engine.spendResponse).
// The planned campaign is taken to be the channel's only spend on its days.
// Channels the model does not pin down keep their uplift. A factor below
// 0.8, or a planned daily spend above the largest the model saw
// (SpendScale), where its curve is extrapolated, flags a "saturation" risk.
//
// # Selection and filters
//
// selection_method "segment" and "random" split the population as above
// (a random sample of the listed segments has their proportions);
// "model_score" targets the highest predicted uplift first, which at the
// calibration's resolution means whole segments in order of their measured
// uplift per person (the best requested channel's cell), each up to its
// audience (its largest pooled cell's exposures per campaign), the rest
// split as above. The filters are accepted and validated but not applied:
// the snapshot has no per-customer tenure or recent-frequency
// distribution; an insight says so.
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
// customer_lifetime_value is the revenue per targeted customer over the
// horizon, with the net incremental value per customer as its uplift; it
// does not extrapolate past the horizon (the calibration has no retention
// model). Custom KPIs are the catalogue CustomKPIs ("custom:<name>"; the
// bare "custom_kpi" asks for all of them); another name is a validation
// error. Judgements a request needs and the cache lacks are asked
// Options.JudgeConcurrency at a time, except of the built-in reasoner.
package simulation
