// Package causal estimates what an intervention does, from data: uplift and
// conditional average treatment effects (CATE) with meta-learners (S, T, X,
// DR) over pluggable base learners, and the average effect with its
// confidence interval. Its subpackages hold the pieces:
//
//   - causal/gbdt: histogram gradient-boosted trees (LightGBM-style), the
//     default base learner;
//   - causal/linear: L2-regularized linear and logistic regression on gonum;
//   - causal/uplift: uplift and Qini curves, Qini coefficient, AUUC and
//     uplift@k, defined exactly as scikit-uplift 0.5.1 defines them;
//   - causal/hazard: a discrete-time hazard model of unsubscribes and
//     complaints from contact frequency;
//   - causal/mcmc: a NUTS sampler with Stan's warm-up and its diagnostics;
//   - causal/mmm: a Bayesian marketing-mix model sampled with causal/mcmc.
//
// Features are passed as a Matrix: n rows by p columns, row-major. Every
// random draw comes from a *rand.Rand (math/rand/v2) derived from a seed in
// a config, so that fits are reproducible.
package causal
