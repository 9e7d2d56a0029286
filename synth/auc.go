package synth

import (
	"math"
	"slices"
)

// AUC is the area under the ROC curve of score against the binary outcome bad:
// the Mann–Whitney probability that a random bad scores higher than a random
// good, with ties counted half. It is NaN when either class is empty.
func AUC(score []float64, bad []bool) float64 {
	if len(score) != len(bad) {
		panic("synth.AUC: score and bad differ in length") // programming error, not user input
	}
	idx := make([]int32, len(score))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int {
		x, y := score[a], score[b]
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	})
	// Walk groups of tied scores in ascending order. Each bad in a group beats
	// every good below the group and ties (½) every good inside it.
	var nBad, nGood, goodsBelow, wins2 float64 // wins2 counts half-wins as 1 and wins as 2
	for i := 0; i < len(idx); {
		j := i
		var gBad, gGood float64
		for j < len(idx) && score[idx[j]] == score[idx[i]] {
			if bad[idx[j]] {
				gBad++
			} else {
				gGood++
			}
			j++
		}
		wins2 += gBad * (2*goodsBelow + gGood)
		goodsBelow += gGood
		nBad += gBad
		nGood += gGood
		i = j
	}
	if nBad == 0 || nGood == 0 {
		return math.NaN()
	}
	return wins2 / 2 / (nBad * nGood)
}
