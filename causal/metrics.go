package causal

import (
	"math"
	"slices"
)

// ROCAUC returns the area under the ROC curve of score for the binary
// labels y (1 = positive, 0 = negative): the Mann–Whitney probability that
// a random positive scores above a random negative, ties counting ½
// (Hanley & McNeil 1982). It sorts once, O(n log n):
//
//	AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋)
//
// with R₊ the sum of the positives' 1-based ranks, tied scores sharing the
// mean of their ranks. It returns NaN when either class is empty.
func ROCAUC(y, score []float64) float64 {
	idx := make([]int, len(y))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case score[a] < score[b]:
			return -1
		case score[a] > score[b]:
			return 1
		}
		return 0
	})
	var rankSumPos, nPos float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && score[idx[j]] == score[idx[i]] {
			j++
		}
		mid := float64(i+j+1) / 2 // the mean 1-based rank of the tie block
		for k := i; k < j; k++ {
			if y[idx[k]] > 0.5 {
				rankSumPos += mid
				nPos++
			}
		}
		i = j
	}
	nNeg := float64(len(y)) - nPos
	if nPos == 0 || nNeg == 0 {
		return math.NaN()
	}
	return (rankSumPos - nPos*(nPos+1)/2) / (nPos * nNeg)
}
