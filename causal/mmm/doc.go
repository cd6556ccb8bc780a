// Package mmm is a Bayesian marketing-mix model (MMM): the outcome of each
// period is a baseline (intercept, linear trend, Fourier seasonality), plus
// the saturated, carried-over effect of each paid channel, plus linear
// control effects, plus Normal noise:
//
//	y_t = b₀ + b₁·τ_t + Σ_k [a_k sin(2πkt/P) + c_k cos(2πkt/P)]
//	      + Σ_m β_m · Sat_m(Adstock_m(x_m)_t) + Σ_c γ_c z_{t,c} + ε_t,
//	ε_t ~ Normal(0, σ).
//
// The structure (adstock, then saturation, then a non-negative coefficient)
// is the one of Jin, Wang, Sun, Chan and Koehler (2017), "Bayesian Methods
// for Media Mix Modeling with Carryover and Shape Effects", Google Inc.,
// and of PyMC-Marketing's MMM (https://www.pymc-marketing.io/, "MMM
// Example Notebook" and the API docs of pymc_marketing.mmm). Priors,
// scaling, and lift-test calibration follow PyMC-Marketing's documented
// defaults where that makes sense; see Priors and Scaling.
//
// Choices, each documented where it is made:
//
//   - Scaling: max-abs, as PyMC-Marketing (target ÷ max|y|, each channel ÷
//     its maximum spend, each control ÷ its maximum |value|), so that
//     zero spend stays zero and the prior on the Hill half-saturation
//     point is on the [0, 1] range of observed spend (Scaling, Priors).
//   - Adstock: normalized geometric or PyMC-Marketing's Weibull CDF
//     kernel (AdstockKind); saturation: Hill or logistic (SaturationKind).
//   - Lift tests: PyMC-Marketing's add_lift_test_measurements, with a
//     Normal instead of a Gamma likelihood (LiftTest).
//   - Sampling coordinates: the channel coefficient enters as the log of
//     its effect at typical spend and the intercept as the mean level,
//     shears with unit Jacobian that remove the ridges NUTS struggles
//     with (Model).
//
// The posterior is sampled with causal/mcmc (NUTS) on an unconstrained
// parameterization with an analytic gradient (Model). Every derived
// quantity — contributions and their shares, ROAS and marginal ROAS,
// response curves, elasticities, the optimal budget and its outcome — is
// computed per posterior draw and then summarized, never on the posterior
// mean. Simulate generates data from a known truth for tests and
// benchmarks.
//
// All randomness comes from an explicitly passed *rand.Rand (math/rand/v2)
// or from a seed in a config.
package mmm
