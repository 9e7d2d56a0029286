package loans

// Review of commit 9fbb2e5 (overdue installments settled one at a time,
// oldest first), engine level. Behaviour found sound: these pass.

import (
	"testing"

	"pgregory.net/rapid"
)

// review9fbb2e5CloseDue is close of business's step 1 for every day before
// on: installments due before on make their unpaid interest receivable.
func review9fbb2e5CloseDue(s *State, on Date) {
	for i := range s.Installments {
		in := &s.Installments[i]
		if !in.Accrued && in.DueDate.Before(on) {
			in.Accrued = true
			s.Loan.InterestReceivableMinor += in.InterestMinor - in.InterestPaidMinor
		}
	}
}

// TestReview9fbb2e5OverdueOldestFirstEveryStrategy: on every kind of term
// loan, in each of the three strategies, with close of business on time or
// behind (installments overdue but not yet accrued) and a penalty
// receivable, a payment of any amount up to the payoff, made after one or
// more installments fell due unpaid:
//   - is taken whole (no "left unallocated" EINTERNAL), every entry balances;
//   - touches an overdue installment only once every older one is paid;
//   - a payment of the oldest overdue installment's amount (plus the penalty
//     in the default strategy, which takes it first) pays it exactly:
//     nothing goes to the next overdue installment;
//   - the schedule still carries exactly the outstanding principal, and the
//     days past due count from the oldest installment still unpaid.
func TestReview9fbb2e5OverdueOldestFirstEveryStrategy(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genTermState(t)
		// With close of business behind, runs reach the charge-off threshold
		// on unclosed days, where a payment waits for close of business
		// (ReviewDb4438aChargeOffDayInsideUnclosedDays); not this test's subject.
		s.Policy.ChargeOffDPD = MaxChargeOffDPD
		s.Loan.Strategy = rapid.SampledFrom([]Strategy{StrategyMifosStandard, StrategyInterestPrincipalPenaltiesFees,
			StrategyPrincipalInterestPenaltiesFees}).Draw(t, "strategy")
		n := len(s.Installments)
		// Some installments fall due unpaid: the payment is k due dates in.
		k := rapid.IntRange(1, n).Draw(t, "missed")
		on := s.Installments[k-1].DueDate.AddDate(0, 0, rapid.IntRange(1, 20).Draw(t, "days late"))
		if rapid.Bool().Draw(t, "close of business on time") {
			review9fbb2e5CloseDue(s, on)
			s.ClosedThrough = on.AddDate(0, 0, -1)
		}
		chargePenalty(s, rapid.Int64Range(0, 5_000).Draw(t, "penalty"), on)
		before := append([]Installment(nil), s.Installments...)
		overdue := 0
		for _, in := range before {
			if in.DueDate.Before(on) {
				overdue++
			}
		}
		q := s.Payoff(on)
		oldest := before[0].TotalMinor()
		// The oldest installment's amount with the quote's penalty: the
		// receivable plus, with close of business behind, the penalty of
		// the days not closed, which the payment posts first; all of it is
		// charged to the oldest installment, overdue since before on, and
		// every strategy settles it with that installment.
		exact := oldest + q.PenaltyMinor
		amount := rapid.OneOf(rapid.Int64Range(1, q.TotalMinor), rapid.Just(exact)).Draw(t, "amount")
		amount = max(min(amount, q.TotalMinor), 1)
		eff, err := s.Repay(amount, on)
		if err != nil {
			t.Fatalf("%s: paying %d on %s (payoff %d): %v", s.Loan.Strategy, amount, on.Format(DateLayout), q.TotalMinor, err)
		}
		if eff.Allocation.TotalMinor() != amount {
			t.Fatalf("allocation %+v totals %d, paid %d", eff.Allocation, eff.Allocation.TotalMinor(), amount)
		}
		for _, e := range eff.Entries {
			if !e.Balanced() {
				t.Fatalf("unbalanced entry %+v", e)
			}
		}
		if s.Loan.Status != LoanActive {
			return
		}
		checkScheduleCoversBalance(t, s, "after an overdue payment")
		// Oldest first: installment j got something only if 0..j-1 are paid.
		for j := 1; j < overdue; j++ {
			got := s.Installments[j].PrincipalPaidMinor + s.Installments[j].InterestPaidMinor -
				before[j].PrincipalPaidMinor - before[j].InterestPaidMinor
			if got > 0 {
				for i := 0; i < j; i++ {
					if !s.Installments[i].Paid() {
						t.Fatalf("%s: %d paid to overdue installment %d while %d is unpaid: %+v", s.Loan.Strategy, got, j+1, i+1, s.Installments[:overdue])
					}
				}
			}
		}
		// (An installment of nothing, e.g. a 0% interest-only one, is paid
		// already: the oldest unpaid, which holds the penalty, is a later one.)
		if amount == exact && exact <= q.TotalMinor && !before[0].Paid() {
			if !s.Installments[0].Paid() {
				t.Fatalf("%s: paying %d (oldest installment %d) left it unpaid: %+v", s.Loan.Strategy, amount, oldest, s.Installments[0])
			}
			if overdue > 1 && (s.Installments[1].PrincipalPaidMinor != 0 || s.Installments[1].InterestPaidMinor != 0) {
				t.Fatalf("%s: the oldest installment's amount reached installment 2: %+v", s.Loan.Strategy, s.Installments[1])
			}
		}
	})
}

// TestReview9fbb2e5PaymentSequencesEveryStrategy: a sequence of payments on
// random days (early, on the due date, late by up to two periods, partial,
// prepaying, paying off), close of business's step 1 run or not before
// each, a penalty receivable added now and then, in each strategy: every
// payment up to the payoff is taken whole (no EINTERNAL "left
// unallocated", no negative balance), entries balance, the schedule
// carries the outstanding principal, and the loan closes only on the
// payoff amount.
func TestReview9fbb2e5PaymentSequencesEveryStrategy(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genTermState(t)
		// With close of business behind, runs reach the charge-off threshold
		// on unclosed days, where a payment waits for close of business
		// (ReviewDb4438aChargeOffDayInsideUnclosedDays); not this test's subject.
		s.Policy.ChargeOffDPD = MaxChargeOffDPD
		s.Loan.Strategy = rapid.SampledFrom([]Strategy{StrategyMifosStandard, StrategyInterestPrincipalPenaltiesFees,
			StrategyPrincipalInterestPenaltiesFees}).Draw(t, "strategy")
		on := s.Loan.DisbursedOn
		for step := 0; step < 10 && s.Loan.Status == LoanActive; step++ {
			on = on.AddDate(0, 0, rapid.IntRange(0, 70).Draw(t, "days"))
			if rapid.Bool().Draw(t, "close of business on time") {
				review9fbb2e5CloseDue(s, on)
				s.ClosedThrough = on.AddDate(0, 0, -1)
			}
			chargePenalty(s, rapid.Int64Range(0, 300).Draw(t, "penalty"), on)
			q := s.Payoff(on)
			amount := rapid.OneOf(rapid.Int64Range(1, q.TotalMinor), rapid.Just(s.Loan.InstallmentMinor), rapid.Just(q.TotalMinor)).Draw(t, "amount")
			amount = max(min(amount, q.TotalMinor), 1)
			eff, err := s.Repay(amount, on)
			if err != nil {
				t.Fatalf("%s: payment %d of %d on %s (payoff %d): %v", s.Loan.Strategy, step, amount, on.Format(DateLayout), q.TotalMinor, err)
			}
			if eff.Allocation.TotalMinor() != amount {
				t.Fatalf("allocation %+v, paid %d", eff.Allocation, amount)
			}
			for _, e := range eff.Entries {
				if !e.Balanced() {
					t.Fatalf("unbalanced entry %+v", e)
				}
			}
			if s.Loan.Status == LoanPaidOff && amount != q.TotalMinor {
				t.Fatalf("closed by %d, less than the payoff %d", amount, q.TotalMinor)
			}
			if s.Loan.Status == LoanActive {
				checkScheduleCoversBalance(t, s, "after paying "+FormatMinor(amount)+" on "+on.Format(DateLayout))
			}
		}
	})
}
