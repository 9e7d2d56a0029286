package loans

import (
	"math/big"
	"testing"

	"pgregory.net/rapid"
)

// TestHandWorkedSchedules: the arithmetic of each case is written next to it
// (and in testdata/handworked.md).
func TestHandWorkedSchedules(t *testing.T) {
	cases := []struct {
		name  string
		terms Terms
		want  [][3]any // due date, principal, interest (minor)
	}{
		{"equal-principal 1000.00 12% 3m", Terms{PrincipalMinor: 100000, Rate: 120000, Periods: 3, Method: EqualPrincipal, Start: d("2024-01-10")},
			// share = 100000/3 = 33333.33 -> 33333; interest = balance × 0.01:
			// 100000 -> 1000; 66667 -> 666.67 -> 667; 33334 -> 333.34 -> 333; last absorbs 33334.
			[][3]any{{"2024-02-10", 33333, 1000}, {"2024-03-10", 33333, 667}, {"2024-04-10", 33334, 333}}},
		{"interest-only 1000.00 12% 3m", Terms{PrincipalMinor: 100000, Rate: 120000, Periods: 3, Method: InterestOnly, Start: d("2024-01-10")},
			// 100000 × 0.01 = 1000 each month; the whole principal in the last.
			[][3]any{{"2024-02-10", 0, 1000}, {"2024-03-10", 0, 1000}, {"2024-04-10", 100000, 1000}}},
		{"act/365 36.5% from 31 Jan (clamped dates)", Terms{PrincipalMinor: 100000, Rate: 365000, Periods: 2, Method: InterestOnly, DayCount: DayCountAct365, Start: d("2024-01-31")},
			// 36.5%/365 = 0.1% a day. 31 Jan -> 29 Feb (clamped) = 29 days: 100000 × 0.029 = 2900;
			// 29 Feb -> 31 Mar = 31 days: 100000 × 0.031 = 3100.
			[][3]any{{"2024-02-29", 0, 2900}, {"2024-03-31", 100000, 3100}}},
		{"weekly annuity 0% 3w", Terms{PrincipalMinor: 100000, Rate: 0, Periods: 3, Method: Annuity, Frequency: Weekly, Start: d("2024-01-01")},
			// 0%: installment = 100000/3 = 33333.33 -> 33333; last takes 33334.
			[][3]any{{"2024-01-08", 33333, 0}, {"2024-01-15", 33333, 0}, {"2024-01-22", 33334, 0}}},
		{"every 10 days act/365 interest-only 36.5%", Terms{PrincipalMinor: 100000, Rate: 365000, Periods: 2, Method: InterestOnly, Frequency: EveryDays, EveryDays: 10, DayCount: DayCountAct365, Start: d("2024-01-01")},
			// 10 days × 0.1% = 1% of 100000 = 1000 per period.
			[][3]any{{"2024-01-11", 0, 1000}, {"2024-01-21", 100000, 1000}}},
		{"half-even tie 2.50 -> 2", Terms{PrincipalMinor: 250, Rate: 120000, Periods: 1, Method: InterestOnly, Start: d("2024-01-01")},
			// 250 × 0.01 = 2.5 minor -> 2 (ties to even).
			[][3]any{{"2024-02-01", 250, 2}}},
		{"half-even tie 1.50 -> 2", Terms{PrincipalMinor: 150, Rate: 120000, Periods: 1, Method: InterestOnly, Start: d("2024-01-01")},
			// 150 × 0.01 = 1.5 minor -> 2 (ties to even).
			[][3]any{{"2024-02-01", 150, 2}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := BuildSchedule(c.terms)
			if err != nil {
				t.Fatal(err)
			}
			if len(s) != len(c.want) {
				t.Fatalf("%d installments, want %d: %+v", len(s), len(c.want), s)
			}
			for i, w := range c.want {
				if s[i].DueDateText != w[0].(string) || s[i].PrincipalMinor != int64(w[1].(int)) || s[i].InterestMinor != int64(w[2].(int)) {
					t.Errorf("installment %d = %s %d %d, want %v", i+1, s[i].DueDateText, s[i].PrincipalMinor, s[i].InterestMinor, w)
				}
			}
		})
	}
}

func TestScheduleBadInput(t *testing.T) {
	cases := []struct {
		field string
		terms Terms
	}{
		{"principal", Terms{PrincipalMinor: 0, Periods: 1, Start: d("2024-01-01")}},
		{"principal", Terms{PrincipalMinor: -5, Periods: 1, Start: d("2024-01-01")}},
		{"term", Terms{PrincipalMinor: 1, Periods: 0, Start: d("2024-01-01")}},
		{"term", Terms{PrincipalMinor: 1, Periods: MaxTermPeriods + 1, Start: d("2024-01-01")}},
		{"method", Terms{PrincipalMinor: 1, Periods: 1, Method: "balloon", Start: d("2024-01-01")}},
		{"day_count", Terms{PrincipalMinor: 1, Periods: 1, DayCount: "act/360", Start: d("2024-01-01")}},
		{"every_days", Terms{PrincipalMinor: 1, Periods: 1, Frequency: EveryDays, Start: d("2024-01-01")}},
		{"start", Terms{PrincipalMinor: 1, Periods: 1}},
	}
	for _, c := range cases {
		_, err := BuildSchedule(c.terms)
		if got := fieldOf(err); got != c.field {
			t.Errorf("%+v: error %v names %q, want %q", c.terms, err, got, c.field)
		}
	}
}

func TestRoundHalfEven(t *testing.T) {
	for _, c := range []struct{ num, den, want int64 }{
		{5, 2, 2}, {7, 2, 4}, {-5, 2, -2}, {-7, 2, -4}, {1, 3, 0}, {2, 3, 1}, {-1, 3, 0}, {-2, 3, -1}, {10, 5, 2},
	} {
		if got := RoundHalfEven(big.NewRat(c.num, c.den)); got != c.want {
			t.Errorf("RoundHalfEven(%d/%d) = %d, want %d", c.num, c.den, got, c.want)
		}
		if got := DivRoundHalfEven(c.num, c.den); got != c.want {
			t.Errorf("DivRoundHalfEven(%d/%d) = %d, want %d", c.num, c.den, got, c.want)
		}
	}
}

// TestAccrualSumsToOneStep: over any sequence of daily balances, the posted
// daily accruals sum to the one-step interest (exact Σ balance×rate/365,
// rounded half-even once), and the residue stays within half a minor unit.
func TestAccrualSumsToOneStep(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rate := Rate(rapid.Int64Range(0, MaxRateMicro).Draw(t, "rate"))
		days := rapid.IntRange(1, 800).Draw(t, "days")
		var a Accrual
		exact := new(big.Rat)
		var sum int64
		bal := rapid.Int64Range(0, MaxAmountMinor).Draw(t, "balance")
		for i := 0; i < days; i++ {
			if rapid.IntRange(0, 9).Draw(t, "change") == 0 {
				bal = rapid.Int64Range(0, MaxAmountMinor).Draw(t, "balance")
			}
			posted := a.AddDay(bal, rate)
			if posted < 0 {
				t.Fatalf("negative daily accrual %d", posted)
			}
			sum += posted
			exact.Add(exact, new(big.Rat).Mul(big.NewRat(bal, 1), big.NewRat(int64(rate), AccrualDenominator)))
			if 2*a.ResidueSub > AccrualDenominator || 2*a.ResidueSub < -AccrualDenominator {
				t.Fatalf("residue %d out of range", a.ResidueSub)
			}
		}
		if want := RoundHalfEven(exact); sum != want || a.PostedMinor != want {
			t.Fatalf("daily accruals sum to %d, one-step interest is %d", sum, want)
		}
	})
}

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Rate
		ok   bool
	}{{"0.18", 180000, true}, {"0.1800", 180000, true}, {".5", 500000, true}, {"1", 1000000, true}, {"0.1234567", 0, false},
		{"-0.1", 0, false}, {"1e-3", 0, false}, {"", 0, false}, {"10.000001", 0, false}, {"abc", 0, false}, {"0.", 0, false}} {
		got, err := ParseRate("rate", c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseRate(%q) = %d, %v", c.in, got, err)
		}
	}
	if s := Rate(180000).String(); s != "0.1800" {
		t.Errorf("String = %q", s)
	}
	if s := Rate(123456).String(); s != "0.123456" {
		t.Errorf("String = %q", s)
	}
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"0.18", "1", ".5", "0.1234567", "-1", "9999.9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate("rate", s)
		if err != nil {
			return
		}
		if r < 0 || int64(r) > MaxRateMicro {
			t.Fatalf("%q parsed out of range: %d", s, r)
		}
		back, err := ParseRate("rate", r.String())
		if err != nil || back != r {
			t.Fatalf("round trip %q -> %s -> %d, %v", s, r, back, err)
		}
	})
}

func FuzzParseMinor(f *testing.F) {
	for _, s := range []string{"12000", "0.01", "1.5", "-3", "1.234"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseMinor("amount", s)
		if err != nil {
			return
		}
		back, err := ParseMinor("amount", FormatMinor(v))
		if err != nil || back != v {
			t.Fatalf("round trip %q -> %d -> %s", s, v, FormatMinor(v))
		}
	})
}
