// Package gbdt trains histogram gradient-boosted decision trees in the
// style of LightGBM, in pure Go, for squared-error regression and binary
// logistic classification. It is the default base learner of package
// causal (NewRegressor, NewClassifier).
//
// The algorithm follows Ke et al. (2017), "LightGBM: A Highly Efficient
// Gradient Boosting Decision Tree", NeurIPS, and Chen & Guestrin (2016),
// "XGBoost: A Scalable Tree Boosting System", KDD:
//
//   - Binning: each feature is cut into at most Config.MaxBin bins from a
//     sample of up to 200 000 rows (one bin per distinct value when there
//     are few, roughly equal-count bins otherwise), plus one bin for
//     missing values (NaN). Bins are stored as uint8, column-major
//     (partitioning a leaf reads one feature), and row-major for building
//     histograms, where features with few bins are coded jointly in
//     bundles of at most 256 codes (a flag × a 3-level category × a
//     10-level count is one code), so a row costs one histogram update per
//     bundle; each feature's histogram is the bundle histogram's marginal.
//     This is a dense cousin of LightGBM's exclusive feature bundling
//     (Ke et al. 2017, §4), which instead bundles sparse features that are
//     rarely non-zero together.
//   - Boosting: starting from the loss-minimising constant, each round
//     computes per-row gradients g and hessians h (times the sample
//     weight), grows a tree on them and adds LearningRate × its leaf values.
//   - Trees grow leaf-wise: the leaf whose best split has the largest gain
//     score(G_L, H_L) + score(G_R, H_R) − score(G, H), with
//     score(G, H) = T(G)²/(H + λ2) and T the L1 soft threshold, is split
//     next, until NumLeaves leaves. Split search reads per-leaf
//     gradient/hessian histograms; only the smaller child's are built from
//     its rows, the larger child's are the parent's minus the smaller's.
//     Missing values are tried on both sides and the better side is kept as
//     the split's default direction. Categorical features are split by
//     sorting categories by G/(H + smoothing) and scanning for the best
//     prefix (LightGBM's method).
//
// Training is deterministic under Config.Seed whatever Config.Workers is:
// histograms are built on Workers goroutines over row blocks whose bounds
// depend on the data only, and summed in block order; partitioning, score
// updates and split search are split the same way. All goroutines end
// before Train returns. Predict spreads large inputs over GOMAXPROCS
// goroutines.
package gbdt
