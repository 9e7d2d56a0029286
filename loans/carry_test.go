package loans

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// genTermState draws an active term loan and its schedule over every
// method, frequency, day count and reschedule mode the product accepts.
func genTermState(t *rapid.T) *State {
	freq := rapid.SampledFrom([]Frequency{Monthly, Weekly, EveryDays}).Draw(t, "freq")
	terms := Terms{
		PrincipalMinor: rapid.Int64Range(100_00, 500_000_00).Draw(t, "principal"),
		Rate:           Rate(rapid.Int64Range(0, 600_000).Draw(t, "rate")), // 0–60% a year
		Periods:        rapid.IntRange(1, 24).Draw(t, "periods"),
		Method:         rapid.SampledFrom([]Method{Annuity, EqualPrincipal, InterestOnly}).Draw(t, "method"),
		Frequency:      freq,
		DayCount:       rapid.SampledFrom([]DayCount{DayCount30360, DayCountAct365}).Draw(t, "daycount"),
		Start:          time.Date(2026, time.Month(rapid.IntRange(1, 12).Draw(t, "month")), rapid.IntRange(1, 31).Draw(t, "day"), 0, 0, 0, 0, time.UTC),
	}
	if freq == EveryDays {
		terms.EveryDays = rapid.IntRange(1, 60).Draw(t, "every")
	}
	policy := DefaultPolicy()
	policy.Reschedule = rapid.SampledFrom([]RescheduleMode{KeepInstallment, KeepTerm}).Draw(t, "reschedule")
	app := Application{Method: terms.Method, Frequency: freq, EveryDays: terms.EveryDays, DayCount: terms.DayCount,
		Offer: &Offer{AmountMinor: terms.PrincipalMinor, APR: terms.Rate, TermPeriods: terms.Periods}}
	l, sched, err := TermLoanFromOffer(app, CreditLine{Currency: "EUR", Grade: "B"}, "m1", policy, terms.Start, terms.Start)
	if err != nil {
		t.Fatalf("terms %+v refused: %v", terms, err)
	}
	l.ID = 1
	return &State{Loan: l, Installments: sched, Policy: policy}
}

// checkScheduleCoversBalance: the unpaid principal of the installments is
// the loan's outstanding principal, nothing is negative or overpaid, and a
// carry is part of its installment's interest.
func checkScheduleCoversBalance(t *rapid.T, s *State, after string) {
	var unpaid int64
	for _, in := range s.Installments {
		if in.PrincipalMinor < 0 || in.InterestMinor < 0 || in.PrincipalPaidMinor > in.PrincipalMinor ||
			in.InterestPaidMinor > in.InterestMinor || in.CarriedInterestMinor < 0 || in.CarriedInterestMinor > in.InterestMinor {
			t.Fatalf("%s: installment %+v", after, in)
		}
		unpaid += in.PrincipalMinor - in.PrincipalPaidMinor
	}
	if unpaid != s.Loan.PrincipalOutstandingMinor {
		t.Fatalf("%s: installments owe %d principal, the loan %d", after, unpaid, s.Loan.PrincipalOutstandingMinor)
	}
}

// TestEarlyPaymentsKeepTheSchedule: random payments on random days (early,
// on the due date, late, partial, prepaying, paying off) on every kind of
// term loan keep the schedule covering the balance, later installments
// earning interest on their balance, every entry balanced and the loan
// closing only when nothing is owed.
func TestEarlyPaymentsKeepTheSchedule(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genTermState(t)
		on := s.Loan.DisbursedOn
		for step := 0; step < 12 && s.Loan.Status == LoanActive; step++ {
			on = on.AddDate(0, 0, rapid.IntRange(0, 45).Draw(t, "days"))
			s.ClosedThrough = on.AddDate(0, 0, -1) // close of business ran through the day before
			q := s.Payoff(on)
			amount := rapid.OneOf(rapid.Int64Range(1, q.TotalMinor), rapid.Just(s.Loan.InstallmentMinor)).Draw(t, "amount")
			amount = max(min(amount, q.TotalMinor), 1)
			eff, err := s.Repay(amount, on)
			if err != nil {
				t.Fatalf("payment %d of %d on %s (payoff %d): %v", step, amount, on.Format(DateLayout), q.TotalMinor, err)
			}
			for _, e := range eff.Entries {
				if !e.Balanced() {
					t.Fatalf("unbalanced entry %+v", e)
				}
			}
			after := "after paying " + FormatMinor(amount) + " on " + on.Format(DateLayout)
			checkScheduleCoversBalance(t, s, after)
			checkLaterInstallmentsEarnOnTheirBalance(t, s, on, after)
			if s.Loan.Status == LoanPaidOff && amount != q.TotalMinor {
				t.Fatalf("closed by %d, less than the payoff %d", amount, q.TotalMinor)
			}
		}
	})
}

// TestLevelPaymentMadeEarlySettlesTheInstallment: on an annuity that keeps
// its installment, a merchant who pays the installment amount (or the
// payoff, if less) some days before each due date settles that installment
// every time (the last may differ from the level amount, as a rounding
// remainder or the principal deferred by carries), and a later installment,
// the last excepted, stays within that amount unless the carry took all its
// principal: the interest carried from an early settlement comes out of the
// next installment's principal, not on top of it.
func TestLevelPaymentMadeEarlySettlesTheInstallment(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genTermState(t)
		if s.Loan.Method != Annuity || s.Loan.Reschedule != KeepInstallment {
			t.Skip("annuity keeping the installment only")
		}
		level := s.Loan.InstallmentMinor
		if 2*s.Installments[0].InterestMinor > level*9/10 {
			// Interest over 45% of the installment (36% APR over 24 months
			// is 51%): a carry of nearly a period's interest may take more
			// than the next installment's principal, and a level payment late
			// in that period then falls short (a known limit, docs/LOANS.md).
			t.Skip("interest over 45% of the installment")
		}
		for step := 0; s.Loan.Status == LoanActive; step++ {
			cur := s.Installments[s.currentIndex(s.Loan.DisbursedOn)]
			for _, in := range s.Installments {
				if !in.Paid() {
					cur = in
					break
				}
			}
			start := s.Loan.DisbursedOn
			for _, in := range s.Installments {
				if in.Seq == cur.Seq-1 {
					start = in.DueDate
				}
			}
			period := DaysBetween(start, cur.DueDate)
			if period < 2 {
				t.Skip("a one-day period leaves no day to pay early")
			}
			on := start.AddDate(0, 0, rapid.IntRange(1, int(period)-1).Draw(t, "day into the period"))
			s.ClosedThrough = on.AddDate(0, 0, -1) // close of business ran through the day before
			q := s.Payoff(on)
			if _, err := s.Repay(min(level, q.TotalMinor), on); err != nil {
				t.Fatal(err)
			}
			checkScheduleCoversBalance(t, s, "after a level payment on "+on.Format(DateLayout))
			for i, in := range s.Installments {
				if in.Seq == cur.Seq && !in.Paid() && i < len(s.Installments)-1 {
					t.Fatalf("paying %d on %s left installment %d unpaid: %+v", level, on.Format(DateLayout), in.Seq, in)
				}
				// Above the level amount only when the carry took all its
				// principal (interest over half the installment), and then
				// an early payer still owes only the earned part of it.
				if i < len(s.Installments)-1 && in.DueDate.After(on) && in.TotalMinor() > level && in.PrincipalMinor > in.PrincipalPaidMinor {
					t.Fatalf("after paying %d on %s, installment %d owes %d", level, on.Format(DateLayout), in.Seq, in.TotalMinor())
				}
			}
			if step > 2*s.Loan.TermPeriods {
				t.Fatalf("not paid off after %d level payments", step)
			}
		}
	})
}
