package rake

import (
	"fmt"
	"math"
)

// ScaleToTotals rescales contributions so that each group adds up to its
// total: for unit i in group g = group[i],
//
//	out_i = contrib_i · totals[g] / Σ_{j: group[j] = g} contrib_j.
//
// It reconciles micro predictions with a macro model by proportional
// (one-margin) scaling: for the marketing-mix model, contrib holds the
// predicted contribution of each (user, channel) or (campaign, channel)
// row, group its channel and totals the MMM's posterior-mean channel
// contributions, and the output's channel sums equal the MMM's while the
// shares within a channel are kept. With several margins use IPF on the
// contributions as weights instead.
//
// Special cases: a group whose contributions sum to zero must have total
// zero (its contributions are returned unchanged); otherwise there is
// nothing to scale and ScaleToTotals fails. A group whose sum and total
// have opposite signs fails, since scaling would flip every sign in it.
// Contributions and totals must be finite, and group indices must lie in
// 0..len(totals)−1. A group with no units must have total zero.
func ScaleToTotals(contrib []float64, group []int, totals []float64) ([]float64, error) {
	if len(group) != len(contrib) {
		return nil, fmt.Errorf("cannot scale to totals: %d group indices for %d contributions", len(group), len(contrib))
	}
	sums := make([]float64, len(totals))
	for i, g := range group {
		if g < 0 || g >= len(totals) {
			return nil, fmt.Errorf("cannot scale to totals: unit %d is in group %d, want 0..%d", i, g, len(totals)-1)
		}
		if math.IsNaN(contrib[i]) || math.IsInf(contrib[i], 0) {
			return nil, fmt.Errorf("cannot scale to totals: contribution %d is %v", i, contrib[i])
		}
		sums[g] += contrib[i]
	}
	factors := make([]float64, len(totals))
	for g, t := range totals {
		switch {
		case math.IsNaN(t) || math.IsInf(t, 0):
			return nil, fmt.Errorf("cannot scale to totals: total of group %d is %v", g, t)
		case sums[g] == 0 && t == 0:
			factors[g] = 1
		case sums[g] == 0:
			return nil, fmt.Errorf("cannot scale to totals: group %d sums to zero but its total is %v", g, t)
		default:
			factors[g] = t / sums[g]
			if factors[g] < 0 {
				return nil, fmt.Errorf("cannot scale to totals: group %d sums to %v but its total is %v, of the opposite sign", g, sums[g], t)
			}
		}
	}
	out := make([]float64, len(contrib))
	for i, g := range group {
		out[i] = contrib[i] * factors[g]
	}
	return out, nil
}

// ScaleToTotal rescales contributions to add up to total; it is
// ScaleToTotals with a single group and the same special cases.
func ScaleToTotal(contrib []float64, total float64) ([]float64, error) {
	return ScaleToTotals(contrib, make([]int, len(contrib)), []float64{total})
}
