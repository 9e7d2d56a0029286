package synth

import (
	"math"
	"testing"
)

// TestAUCByHand checks the Mann–Whitney AUC (ties counted half) on examples
// small enough to count every (bad, good) pair by hand.
func TestAUCByHand(t *testing.T) {
	tests := []struct {
		name  string
		score []float64
		bad   []bool
		want  float64
	}{
		{
			// bads score 0.4 and 0.8; goods 0.1, 0.4, 0.3. Pairs (bad, good):
			// (0.4,0.1)=1 (0.4,0.4)=½ (0.4,0.3)=1 (0.8,0.1)=1 (0.8,0.4)=1 (0.8,0.3)=1
			// → 5.5 of 2·3 = 6 pairs = 0.916666…
			name:  "one tie",
			score: []float64{0.1, 0.4, 0.4, 0.8, 0.3},
			bad:   []bool{false, true, false, true, false},
			want:  5.5 / 6,
		},
		{
			// every bad below every good: 0 of 2·2 pairs.
			name:  "perfectly wrong",
			score: []float64{0.9, 0.8, 0.2, 0.1},
			bad:   []bool{false, false, true, true},
			want:  0,
		},
		{
			// all four pairs tied: 4·½ / 4.
			name:  "all tied",
			score: []float64{0.5, 0.5, 0.5, 0.5},
			bad:   []bool{true, false, true, false},
			want:  0.5,
		},
		{
			// bads 0.7, 0.2; goods 0.5, 0.1, 0.6. (0.7: beats 3 goods) + (0.2: beats 0.1 only) = 4 of 6.
			name:  "mixed",
			score: []float64{0.7, 0.5, 0.2, 0.1, 0.6},
			bad:   []bool{true, false, true, false, false},
			want:  4.0 / 6,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := AUC(tc.score, tc.bad); math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("AUC = %v, want %v", got, tc.want)
			}
		})
	}
	if got := AUC([]float64{0.1, 0.2}, []bool{false, false}); !math.IsNaN(got) {
		t.Fatalf("AUC with no bads = %v, want NaN", got)
	}
}
