// Package mcmc draws from a differentiable log-density with the No-U-Turn
// Sampler (NUTS) and reports the convergence diagnostics needed to trust the
// draws.
//
// The sampler is the multinomial variant of NUTS that Stan uses: trajectories
// are built by recursive doubling (Hoffman & Gelman 2014, "The No-U-Turn
// Sampler", JMLR 15:1593–1623), states inside a new subtree are sampled
// uniformly in proportion to their weight exp(−H), the new subtree is accepted
// at the top level by biased progressive sampling, and the generalized U-turn
// criterion is checked on the whole trajectory and on the sub-trajectory
// joins (Betancourt 2017, "A Conceptual Introduction to Hamiltonian Monte
// Carlo", arXiv:1701.02434, appendix A). Warm-up follows Stan: dual averaging
// of the step size (Nesterov 2009; Hoffman & Gelman 2014, section 3.2) and a
// diagonal inverse metric estimated over the doubling slow windows 75 / 25,
// 50, 100, … / 50 (Stan Reference Manual, "HMC algorithm parameters").
//
// The diagnostics are those of Vehtari, Gelman, Simpson, Carpenter & Bürkner
// (2021), "Rank-normalization, folding, and localization: an improved R̂ for
// assessing convergence of MCMC", Bayesian Analysis 16(2):667–718:
// rank-normalized split-R̂ (the maximum of the bulk and folded versions),
// bulk and tail effective sample sizes computed with Geyer's initial
// monotone sequence, and the Monte Carlo standard error of the mean. E-BFMI
// (Betancourt 2016, "Diagnosing suboptimal cotangent disintegrations in
// Hamiltonian Monte Carlo", arXiv:1604.00695) is reported per chain.
//
// EnsembleSample is a gradient-free affine-invariant ensemble sampler
// (Goodman & Weare 2010) meant as a cross-check on small models.
//
// Concurrency: Sample owns one goroutine per running chain, at most
// Config.Workers at a time, and all of them have returned before Sample
// returns. Each chain draws from its own *rand.Rand (math/rand/v2) seeded from
// Config.Seed and the chain index, so results do not depend on Workers.
package mcmc
