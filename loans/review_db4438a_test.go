package loans

// Review of commits db4438a and 36a0d8c (State.catchUp: a payment posts what
// close of business has not yet posted for the days before it), engine
// level. Behaviour found sound: these pass. The bugs found (fixed since) are
// shown by the store tests in loans/storetest/review_db4438a.go.

import (
	"testing"

	"github.com/lendhq/lend"
	"pgregory.net/rapid"
)

// TestReviewDb4438aCatchUpBounded: Repay's catch-up walks every unclosed
// day and, per day, the installments due before it; the charge-off threshold
// bounds the walk (at most ChargeOffDPD days past the first missed due date,
// MaxChargeOffDPD = 3,650 at most), because catching up stops on the day
// close of business charges the loan off. A 600-installment monthly loan
// (MaxTermPeriods) left unpaid with close of business never run:
//   - with the default 180 days, a payment 10 years later is refused
//     (ECONFLICT: close of business must charge the loan off first) and the
//     quote is what will then be to recover: principal, installment 1's
//     interest (the only one due by the charge-off day, 2026-07-31) and 180
//     days of penalty, as one figure;
//   - with the longest threshold, 0.01 paid on 2036-01-01 (3,621 days past
//     due) posts the penalty of every day past due since 2026-02-01, exactly
//     what the quote counted.
func TestReviewDb4438aCatchUpBounded(t *testing.T) {
	s := reviewTermState(t, 100_000_000, 120000, MaxTermPeriods, Annuity, KeepInstallment, "2026-01-01")
	on := d("2036-01-01")
	before := reviewClone(s)
	if _, err := s.Repay(1, on); lend.ErrorCode(err) != lend.ECONFLICT {
		t.Fatalf("payment 10 years late, charge-off at 180 days: %v, want ECONFLICT", err)
	}
	if !reviewStateEqual(s, before) {
		t.Fatal("a refused payment changed the state")
	}
	q := s.Payoff(on)
	if q.InterestMinor != 0 || q.PenaltyMinor != 0 || q.TotalMinor != q.PrincipalMinor ||
		q.TotalMinor <= 100_000_000+s.Installments[0].InterestMinor || q.TotalMinor >= 100_000_000+2*s.Installments[0].InterestMinor+100_000_000/20 {
		t.Fatalf("quote past the charge-off day %+v: want one figure, principal + installment 1's interest %d + 180 days' penalty",
			q, s.Installments[0].InterestMinor)
	}

	s.Policy.ChargeOffDPD = MaxChargeOffDPD
	q = s.Payoff(on)
	eff, err := s.Repay(1, on)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range eff.Entries {
		if !e.Balanced() {
			t.Fatalf("unbalanced %+v", e)
		}
	}
	if s.Loan.PenaltyReceivableMinor != q.PenaltyMinor-1 || !s.Loan.PenaltyThrough.Equal(on.AddDate(0, 0, -1)) {
		t.Fatalf("on %s: penalty %d (quote %d), through %s", on.Format(DateLayout), s.Loan.PenaltyReceivableMinor, q.PenaltyMinor, s.Loan.PenaltyThrough)
	}
}

// TestReviewDb4438aChargedOffNoCatchUp: a charged-off loan takes no
// catch-up: a payment years after the last closed day is a recovery and
// nothing else (no penalty, no interest falling due, penalty_through not
// moved), and its quote is what remains to recover.
func TestReviewDb4438aChargedOffNoCatchUp(t *testing.T) {
	s := reviewTermState(t, 9_900_000, 120000, 6, Annuity, KeepInstallment, "2026-01-01")
	s.Loan.Status = LoanChargedOff
	s.Loan.ChargedOffMinor = 10_000_000
	s.Loan.PrincipalOutstandingMinor = 0
	s.ClosedThrough = d("2026-08-01")
	q := s.Payoff(d("2029-01-01"))
	if q.TotalMinor != 10_000_000 || q.PenaltyMinor != 0 {
		t.Fatalf("quote %+v, want 10,000,000 to recover", q)
	}
	eff, err := s.Repay(500_000, d("2029-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	if len(eff.Entries) != 1 || eff.Entries[0].Kind != KindRecovery || eff.Allocation.RecoveryMinor != 500_000 ||
		!s.Loan.PenaltyThrough.IsZero() || s.Loan.PenaltyReceivableMinor != 0 {
		t.Fatalf("payment on a charged-off loan: %+v %+v, through %s", eff.Entries, eff.Allocation, s.Loan.PenaltyThrough)
	}
	for _, in := range s.Installments {
		if in.Accrued {
			t.Fatalf("installment %d marked accrued on a charged-off loan", in.Seq)
		}
	}
}

// TestReviewDb4438aQuotePaidClosesAndPenaltyOnce: on every kind of term
// loan, in each strategy, with close of business behind by a random number
// of days (or never run), payments of random amounts on random days and then
// the payoff quote:
//   - the quote writes nothing (the state after Payoff is the state before);
//   - paying the quote closes the loan with nothing owed, every entry
//     balanced;
//   - penalty is posted for each day once: the penalty the payments posted
//     equals that of a reference that walks every day from the disbursement
//     once, day by day with the residue carried, on the overdue principal of
//     that day's state (payments change it only from their value date on).
func TestReviewDb4438aQuotePaidClosesAndPenaltyOnce(t *testing.T) {
	withPenalty := 0
	defer func() {
		if withPenalty == 0 {
			t.Fatalf("no case posted penalty")
		}
	}()
	rapid.Check(t, func(t *rapid.T) {
		s := genTermState(t)
		// Runs reach years past due; charge-off on unclosed days has its own
		// tests (ReviewDb4438aChargeOffDayInsideUnclosedDays).
		s.Policy.ChargeOffDPD = MaxChargeOffDPD
		s.Loan.Strategy = rapid.SampledFrom([]Strategy{StrategyMifosStandard, StrategyInterestPrincipalPenaltiesFees,
			StrategyPrincipalInterestPenaltiesFees}).Draw(t, "strategy")
		on := s.Loan.DisbursedOn
		var ref Accrual
		var refTotal int64
		walked := Day(s.Loan.DisbursedOn) // next day the reference posts
		refTo := func(to Date) {          // reference penalty of the days before to
			for ; walked.Before(to); walked = walked.AddDate(0, 0, 1) {
				if od := reviewDb4438aOverdue(s, walked); od > 0 && s.Loan.PenaltyRate > 0 {
					refTotal += ref.AddDay(od, s.Loan.PenaltyRate)
				}
			}
		}
		var posted int64
		for step := 0; step < 6 && s.Loan.Status == LoanActive; step++ {
			on = on.AddDate(0, 0, rapid.IntRange(1, 60).Draw(t, "days"))
			if rapid.Bool().Draw(t, "closed behind") {
				// Close of business through some day before on, never
				// before a day already posted by a payment (it runs in
				// order): here the engine is told only the date.
				back := rapid.IntRange(1, 30).Draw(t, "lag")
				c := on.AddDate(0, 0, -back)
				if c.After(s.ClosedThrough) && !c.Before(s.Loan.PenaltyThrough) {
					// Days up to c closed by "close of business": the
					// reference walks them (close of business would
					// post them on this same state).
					refTo(c.AddDate(0, 0, 1))
					// Their penalty goes in as close of business would.
					for dd := s.ClosedThrough.AddDate(0, 0, 1); !dd.After(c); dd = dd.AddDate(0, 0, 1) {
						if dd.Before(Day(s.Loan.DisbursedOn)) || !dd.After(s.Loan.PenaltyThrough) {
							continue
						}
						if od := reviewDb4438aOverdue(s, dd); od > 0 && s.Loan.PenaltyRate > 0 {
							x := s.Loan.PenaltyAccrual.AddDay(od, s.Loan.PenaltyRate)
							chargePenalty(s, x, dd)
							posted += x
						}
					}
					review9fbb2e5CloseDue(s, c.AddDate(0, 0, 1))
					s.ClosedThrough = c
				}
			}
			refTo(on)
			before := reviewClone(s)
			q := s.Payoff(on)
			if !reviewStateEqual(s, before) {
				t.Fatalf("Payoff on %s changed the state", on.Format(DateLayout))
			}
			amount := rapid.Int64Range(1, q.TotalMinor).Draw(t, "amount")
			if step == 5 || rapid.IntRange(0, 3).Draw(t, "payoff") == 0 {
				amount = q.TotalMinor
			}
			eff, err := s.Repay(amount, on)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range eff.Entries {
				if !e.Balanced() {
					t.Fatalf("unbalanced %+v", e)
				}
				if e.Kind == KindPenalty {
					for _, p := range e.Postings {
						posted += p.DebitMinor
					}
				}
			}
			if amount == q.TotalMinor && (s.Loan.Status != LoanPaidOff || s.Loan.OutstandingMinor() != 0) {
				t.Fatalf("paying the quote %+v on %s: %s, outstanding %d", q, on.Format(DateLayout), s.Loan.Status, s.Loan.OutstandingMinor())
			}
		}
		if posted > 0 {
			withPenalty++
		}
		if posted != refTotal {
			t.Fatalf("penalty posted %d, reference (each day once) %d", posted, refTotal)
		}
	})
}

// reviewStateEqual compares two states field by field where it matters.
func reviewStateEqual(a, b *State) bool {
	if a.Loan != b.Loan || len(a.Installments) != len(b.Installments) || a.ClosedThrough != b.ClosedThrough {
		return false
	}
	for i := range a.Installments {
		if a.Installments[i] != b.Installments[i] {
			return false
		}
	}
	return true
}

// reviewDb4438aOverdue is close of business's overdue principal on day d,
// written apart from the engine: the unpaid principal of every installment
// due before d that is not fully paid.
func reviewDb4438aOverdue(s *State, d Date) int64 {
	var od int64
	for _, in := range s.Installments {
		if in.DueDate.Before(d) && (in.PrincipalPaidMinor < in.PrincipalMinor || in.InterestPaidMinor < in.InterestMinor) {
			od += in.PrincipalMinor - in.PrincipalPaidMinor
		}
	}
	return od
}
