package pipeline

import "testing"

// TestReview59StaleGuardDecimalShare: the guard is share × open lines
// rounded down, with the share read as the decimal the operator typed.
// Worked by hand: 0.29 × 100 = 29, 0.57 × 100 = 57, 0.58 × 200 = 116,
// 0.10 × 12 = 1.2 -> 1 -> floor 10, 0.15 × 99 = 14.85 -> 14. In binary
// floating point 0.29 × 100 is 28.999999999999996, so a plain floor allowed
// 28: with 29 stale lines an operator who set --stale-max-share 0.29 for a
// book of 100 saw all the freezes withheld.
func TestReview59StaleGuardDecimalShare(t *testing.T) {
	for _, c := range []struct {
		open  int
		share float64
		want  int
	}{{100, 0.29, 29}, {100, 0.57, 57}, {200, 0.58, 116}, {12, 0.10, 10}, {99, 0.15, 14}, {0, 1, 10}, {1_000_000, 0.29, 290_000}} {
		if got := staleGuard(c.open, c.share); got != c.want {
			t.Errorf("staleGuard(%d, %v) = %d, want %d", c.open, c.share, got, c.want)
		}
	}
}
