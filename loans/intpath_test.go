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

// referenceSchedule is buildFrom as it was computed before the integer
// paths: exact big.Rat rates and interest rounded half-even, the textbook
// annuity, and due dates from package time (AddMonthsClamped / AddDate,
// Format).
func referenceSchedule(t Terms, balance int64, first, last int, level int64) []Installment {
	rate := new(big.Rat).Mul(t.Rate.Rat(), big.NewRat(1, 12))
	days := int64(0)
	switch t.Frequency {
	case Weekly:
		days = 7
	case EveryDays:
		days = int64(t.EveryDays)
	}
	if days > 0 {
		year := int64(360)
		if t.DayCount == DayCountAct365 {
			year = DaysPerYear
		}
		rate = new(big.Rat).Mul(t.Rate.Rat(), big.NewRat(days, year))
	}
	due := func(k int) Date {
		if days > 0 {
			return Day(t.Start).AddDate(0, 0, int(days)*k)
		}
		return AddMonthsClamped(Day(t.Start), k)
	}
	interest := func(bal int64, k int) int64 {
		b := new(big.Rat).SetInt64(bal)
		if t.DayCount == DayCountAct365 {
			r := new(big.Rat).Mul(t.Rate.Rat(), big.NewRat(DaysBetween(due(k-1), due(k)), DaysPerYear))
			return RoundHalfEven(b.Mul(b, r))
		}
		return RoundHalfEven(b.Mul(b, rate))
	}
	n := last - first + 1
	inst, share := level, level
	if level <= 0 {
		inst = annuityReference(balance, rate, n)
		share = DivRoundHalfEven(balance, int64(n))
	}
	var out []Installment
	for k := first; k <= last && balance > 0; k++ {
		in := interest(balance, k)
		var p int64
		switch t.Method {
		case Annuity:
			p = max(inst-in, 0)
		case EqualPrincipal:
			p = share
		}
		if k == last || p >= balance {
			p = balance
		}
		balance -= p
		d := due(k)
		out = append(out, Installment{Seq: k, DueDate: d, DueDateText: d.Format(DateLayout), PrincipalMinor: p, InterestMinor: in, BalanceAfterMinor: balance})
	}
	return out
}

// TestScheduleEqualsReference: the schedule (integer interest and annuity,
// integer period rate, hand-built due dates and their text) is exactly the
// rational, package-time reference over random loans: every method,
// frequency and convention, starts across four centuries (month ends, leap
// days), and partial schedules with a level installment (reschedules).
func TestScheduleEqualsReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		freq := rapid.SampledFrom([]Frequency{Monthly, Monthly, Weekly, EveryDays}).Draw(t, "freq")
		terms := Terms{
			PrincipalMinor: rapid.Int64Range(1, MaxAmountMinor).Draw(t, "principal"),
			Rate:           Rate(rapid.Int64Range(0, MaxRateMicro).Draw(t, "rate")),
			Periods:        rapid.IntRange(1, 72).Draw(t, "periods"),
			Method:         rapid.SampledFrom([]Method{Annuity, EqualPrincipal, InterestOnly}).Draw(t, "method"),
			Frequency:      freq,
			DayCount:       rapid.SampledFrom([]DayCount{DayCount30360, DayCountAct365}).Draw(t, "daycount"),
			Start: time.Date(rapid.IntRange(1800, 2600).Draw(t, "year"), time.Month(rapid.IntRange(1, 12).Draw(t, "month")),
				rapid.IntRange(1, 31).Draw(t, "day"), rapid.IntRange(0, 23).Draw(t, "hour"), 0, 0, 0, time.UTC),
		}
		if rapid.Bool().Draw(t, "small") {
			terms.PrincipalMinor = rapid.Int64Range(1, 10_000_000).Draw(t, "principal_small")
			terms.Rate = Rate(rapid.Int64Range(0, 600_000).Draw(t, "rate_small"))
		}
		if freq == EveryDays {
			terms.EveryDays = rapid.IntRange(1, MaxEveryDays).Draw(t, "every")
		}
		if err := terms.Validate(); err != nil {
			t.Fatal(err)
		}
		first, last, level := 1, terms.Periods, int64(0)
		if rapid.Bool().Draw(t, "partial") {
			first = rapid.IntRange(1, terms.Periods).Draw(t, "first")
			level = rapid.Int64Range(0, terms.PrincipalMinor).Draw(t, "level")
		}
		got := buildFrom(terms, terms.PrincipalMinor, first, last, level)
		want := referenceSchedule(terms, terms.PrincipalMinor, first, last, level)
		if len(got) != len(want) {
			t.Fatalf("%d installments, reference %d (%+v)", len(got), len(want), terms)
		}
		for i := range got {
			if !got[i].DueDate.Equal(want[i].DueDate) || got[i].DueDate.Location() != want[i].DueDate.Location() {
				t.Fatalf("installment %d due %v, reference %v (%+v)", i+1, got[i].DueDate, want[i].DueDate, terms)
			}
			got[i].DueDate, want[i].DueDate = Date{}, Date{}
			if got[i] != want[i] {
				t.Fatalf("installment %d: %+v\nreference %+v\n(%+v)", i+1, got[i], want[i], terms)
			}
		}
	})
}

// TestCalendarFieldsEqualTime: addMonthsClamped and the due dates' text
// agree with package time for any day, any month offset (negative too), and
// years outside 0..9999 (where the text falls back to Format).
func TestCalendarFieldsEqualTime(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := time.Date(rapid.IntRange(-400, 10400).Draw(t, "year"), time.Month(rapid.IntRange(1, 12).Draw(t, "month")),
			rapid.IntRange(1, 31).Draw(t, "day"), 0, 0, 0, 0, time.UTC)
		n := rapid.IntRange(-1300, 1300).Draw(t, "n")
		y, m, day := addMonthsClamped(d.Year(), d.Month(), d.Day(), n)
		if want := AddMonthsClamped(d, n); !time.Date(y, m, day, 0, 0, 0, 0, time.UTC).Equal(want) {
			t.Fatalf("%v + %d months: %d-%d-%d, time says %v", d, n, y, m, day, want)
		}
		terms := Terms{Frequency: Monthly, Start: d}
		dates, texts := terms.dueDates(1, 3)
		for i := range dates {
			if want := AddMonthsClamped(d, i+1); !dates[i].Equal(want) || texts[i] != want.Format(DateLayout) {
				t.Fatalf("due %d from %v: %v %q, want %v %q", i+1, d, dates[i], texts[i], want, want.Format(DateLayout))
			}
		}
	})
}
