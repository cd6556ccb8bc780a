// Package rake calibrates unit weights and unit-level predictions to known
// marginal totals.
//
// IPF rakes weights by iterative proportional fitting (Deming & Stephan
// 1940): each sweep post-stratifies the weights to every margin in turn. In
// the calibration view of Deville & Särndal (1992) the raked weights solve
//
//	min Σ_i d_i·G(w_i/d_i)  subject to  Σ_{i: x_im = c} w_i = T_mc for all (m, c),
//
// with the raking-ratio distance G(r) = r·log r − r + 1, so w_i = d_i·exp(x_iᵀλ)
// where x_i is the indicator vector of unit i's categories.
//
// LogitShift reconciles predicted probabilities with totals by shifting the
// logits of each category of each margin, alternating over the margins as IPF
// does, which keeps every probability in (0, 1) and the ranking of the units
// that share all their categories.
//
// ScaleToTotals rescales per-unit contributions so that they add up to group
// totals, such as a marketing-mix model's channel contributions. Kish gives
// the effective sample size of a weight vector.
//
// References: W. E. Deming and F. F. Stephan (1940), On a least squares
// adjustment of a sampled frequency table when the expected marginal totals
// are known, Annals of Mathematical Statistics 11(4):427–444; J.-C. Deville
// and C.-E. Särndal (1992), Calibration estimators in survey sampling,
// Journal of the American Statistical Association 87(418):376–382; L. Kish
// (1965), Survey Sampling, Wiley.
package rake
