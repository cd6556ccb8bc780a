// Package smm estimates simulator parameters by the simulated method of
// moments (McFadden 1989; Pakes & Pollard 1989): it chooses θ so that the
// moments the simulator produces match the observed ones,
//
//	θ̂ = argmin_θ Q(θ),   Q(θ) = g(θ)ᵀ W g(θ),   g(θ) = m̂ − m̃(θ),
//
// with m̂ the observed moments, m̃(θ) the simulated ones and W a weighting
// matrix. Fit is the generic estimator: the simulator is any deterministic
// function of θ (draw its randomness from fixed streams, the common random
// numbers, so that m̃ is a smooth function of θ), minimized by Nelder–Mead
// from several starts and polished by L-BFGS on a central-difference
// gradient (gonum/diff/fd), both from gonum/optimize. At θ̂ it reports the
// Jacobian of the moments,
// its rank and condition number (flat, unidentified directions), the
// sandwich covariance of θ̂, the sensitivity of θ̂ to the moments and, when
// over-identified with the optimal weighting, Hansen's J statistic.
//
// PersonaWeights applies Fit to the weights of synthetic personas: the
// moments are population-weighted means of the personas' judgements of past
// interventions, and the weights of each segment are kept on the simplex by
// a softmax.
//
// References: D. McFadden (1989), A method of simulated moments for
// estimation of discrete response models without numerical integration,
// Econometrica 57(5):995–1026; A. Pakes and D. Pollard (1989), Simulation
// and the asymptotics of optimization estimators, Econometrica
// 57(5):1027–1057; L. P. Hansen (1982), Large sample properties of
// generalized method of moments estimators, Econometrica 50(4):1029–1054;
// B. Honoré, T. Jørgensen and Á. de Paula (2020), The informativeness of
// estimation moments, Journal of Applied Econometrics 35(7):797–813.
package smm
