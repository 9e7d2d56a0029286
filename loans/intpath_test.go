package loans

import (
	"math/big"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// annuityReference is the textbook formula P·r / (1 − (1+r)^−n) in big.Rat,
// the way the schedule computed it before the integer path.
func annuityReference(p int64, r *big.Rat, n int) int64 {
	pr := new(big.Rat).SetInt64(p)
	if r.Sign() == 0 {
		return RoundHalfEven(pr.Quo(pr, big.NewRat(int64(n), 1)))
	}
	onePlus := new(big.Rat).Add(big.NewRat(1, 1), r)
	pow := new(big.Rat).SetInt64(1)
	for i := 0; i < n; i++ {
		pow.Mul(pow, onePlus)
	}
	num := new(big.Rat).Mul(pr, r)
	num.Mul(num, pow)
	return RoundHalfEven(num.Quo(num, new(big.Rat).Sub(pow, big.NewRat(1, 1))))
}

// TestIntegerPathsEqualRational: the 128-bit period interest and the integer
// annuity give exactly the half-even rounding of the exact rational value,
// over the whole accepted range of amounts, rates, terms and conventions.
func TestIntegerPathsEqualRational(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		freq := rapid.SampledFrom([]Frequency{Monthly, Weekly, EveryDays}).Draw(t, "freq")
		terms := Terms{
			PrincipalMinor: rapid.Int64Range(1, MaxAmountMinor).Draw(t, "principal"),
			Rate:           Rate(rapid.Int64Range(0, MaxRateMicro).Draw(t, "rate")),
			Periods:        rapid.IntRange(1, 120).Draw(t, "periods"),
			Method:         Annuity,
			Frequency:      freq,
			DayCount:       rapid.SampledFrom([]DayCount{DayCount30360, DayCountAct365}).Draw(t, "daycount"),
			Start:          time.Date(2024, 1, rapid.IntRange(1, 31).Draw(t, "day"), 0, 0, 0, 0, time.UTC),
		}
		if freq == EveryDays {
			terms.EveryDays = rapid.IntRange(1, MaxEveryDays).Draw(t, "every")
		}
		bal := rapid.Int64Range(0, MaxAmountMinor).Draw(t, "balance")
		k := rapid.IntRange(1, terms.Periods).Draw(t, "k")
		if got, want := terms.periodInterestMinor(bal, k), RoundHalfEven(terms.periodInterest(bal, k)); got != want {
			t.Fatalf("period interest of %d at k=%d: integer %d, rational %d (%+v)", bal, k, got, want, terms)
		}
		r := terms.nominalPeriodRate()
		if got, want := AnnuityInstallment(terms.PrincipalMinor, r, terms.Periods), annuityReference(terms.PrincipalMinor, r, terms.Periods); got != want {
			t.Fatalf("annuity of %d over %d at %s: integer %d, rational %d", terms.PrincipalMinor, terms.Periods, r, got, want)
		}
	})
}

// TestMulDivRoundHalfEvenTies: ties go to the even neighbour, and products
// beyond 128 bits or quotients beyond int64 report !ok (the caller falls back).
func TestMulDivRoundHalfEvenTies(t *testing.T) {
	for _, c := range []struct {
		a, b, c, den, want int64
		ok                 bool
	}{
		{5, 1, 1, 2, 2, true},        // 2.5 → 2
		{7, 1, 1, 2, 4, true},        // 3.5 → 4
		{11, 1, 1, 4, 3, true},       // 2.75 → 3
		{9, 1, 1, 4, 2, true},        // 2.25 → 2
		{0, 5, 5, 7, 0, true},        // zero balance
		{1 << 62, 4, 1, 1, 0, false}, // quotient 2^64 does not fit
		{-1, 1, 1, 1, 0, false},
	} {
		got, ok := mulDivRoundHalfEven(c.a, c.b, c.c, c.den)
		if got != c.want || ok != c.ok {
			t.Errorf("mulDivRoundHalfEven(%d,%d,%d,%d) = %d,%v; want %d,%v", c.a, c.b, c.c, c.den, got, ok, c.want, c.ok)
		}
	}
}
