package loans

// Review (helper-43) of the change that charges penalty interest to the
// oldest overdue installment: engine level, every method, frequency,
// reschedule mode and strategy, with penalty actually charged (close of
// business modelled by catchUp: ClosedThrough is left zero, so each payment
// posts the penalty of the days before it).

import (
	"testing"
	"time"

	"github.com/lendhq/lend"
	"pgregory.net/rapid"
)

// TestReviewPenalty2RandomLatePaymentsPrepaymentsAndPayoff: random late,
// partial, "what the schedule shows" and prepaying payments on every kind of
// term loan. After each payment: no EINTERNAL, the penalty receivable is the
// installments' unpaid penalty, the schedule carries the principal; a
// payment of everything the schedule shows unpaid on the installments due
// before the value date leaves none of them unpaid; paying the quote closes
// the loan.
func TestReviewPenalty2RandomLatePaymentsPrepaymentsAndPayoff(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genTermState(t)
		s.Loan.Strategy = rapid.SampledFrom([]Strategy{StrategyMifosStandard, StrategyPrincipalInterestPenaltiesFees,
			StrategyInterestPrincipalPenaltiesFees}).Draw(t, "strategy")
		s.Policy.Strategy = s.Loan.Strategy
		s.Policy.ChargeOffDPD = MaxChargeOffDPD
		on := s.Loan.DisbursedOn
		for step := 0; step < 10 && s.Loan.Status == LoanActive; step++ {
			on = on.AddDate(0, 0, rapid.IntRange(1, 60).Draw(t, "days"))
			reviewPenalty2Pay(t, s, on, 5)
		}
	})
}

// TestReviewPenalty2RevolvingRandom: the same properties on a revolving
// draw (statements), every strategy.
func TestReviewPenalty2RevolvingRandom(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		st := rapid.SampledFrom([]Strategy{StrategyMifosStandard, StrategyPrincipalInterestPenaltiesFees,
			StrategyInterestPrincipalPenaltiesFees}).Draw(t, "strategy")
		p := DefaultPolicy()
		p.Strategy = st
		p.ChargeOffDPD = MaxChargeOffDPD
		on := Day(time.Date(2026, time.Month(rapid.IntRange(1, 12).Draw(t, "month")), rapid.IntRange(1, 28).Draw(t, "day"), 0, 0, 0, 0, time.UTC))
		amt := rapid.Int64Range(100_00, 500_000_00).Draw(t, "principal")
		next := AddMonthsClamped(on, 1)
		l := Loan{ID: 1, MerchantID: "m1", Product: ProductRevolving, Currency: "EUR", Status: LoanActive, APR: Rate(rapid.Int64Range(0, 600_000).Draw(t, "rate")),
			PenaltyRate: p.PenaltyRate, Strategy: st, Reschedule: p.Reschedule, PrincipalMinor: amt, DisbursedOn: on, PrincipalOutstandingMinor: amt,
			Bucket: BucketCurrent, LastAccrualDate: on.AddDate(0, 0, -1), NextStatementDate: next}
		s := &State{Loan: l, Policy: p}
		for step := 0; step < 10 && s.Loan.Status == LoanActive; step++ {
			on = on.AddDate(0, 0, rapid.IntRange(1, 60).Draw(t, "days"))
			reviewPenalty2Pay(t, s, on, 4)
		}
	})
}

// reviewPenalty2Pay makes one payment on s dated on, of a kind drawn from the
// first kinds of: a random amount, everything the schedule shows unpaid on
// the installments due before on, that plus a prepayment, the payoff quote,
// one installment amount; and checks the properties of both tests.
func reviewPenalty2Pay(t *rapid.T, s *State, on Date, kinds int) {
	c, _, _, err := s.caughtUp(on)
	if err != nil {
		t.Fatal(err)
	}
	var shown int64 // unpaid on the installments due before on
	for _, in := range c.Installments {
		if in.DueDate.Before(on) {
			shown += in.UnpaidMinor()
		}
	}
	q := s.Payoff(on)
	kind := rapid.IntRange(0, kinds-1).Draw(t, "kind")
	var amount int64
	switch kind {
	case 0:
		amount = rapid.Int64Range(1, q.TotalMinor).Draw(t, "amount")
	case 1:
		amount = shown
	case 2:
		amount = shown + rapid.Int64Range(1, max(q.TotalMinor-shown, 1)).Draw(t, "extra")
	case 3:
		amount = q.TotalMinor
	case 4:
		amount = s.Loan.InstallmentMinor
	}
	amount = max(min(amount, q.TotalMinor), 1)
	before := s.clone()
	if _, err := s.Repay(amount, on); err != nil {
		if lend.ErrorCode(err) == lend.EINTERNAL {
			t.Fatalf("paying %d (kind %d, shown %d, payoff %d) on %s: %v\nbefore: %+v\n%+v", amount, kind, shown, q.TotalMinor,
				on.Format(DateLayout), err, before.Loan, before.Installments)
		}
		return
	}
	after := "after paying " + FormatMinor(amount) + " on " + on.Format(DateLayout)
	if err := s.checkPenalties(); err != nil {
		t.Fatalf("%s: %v", after, err)
	}
	if s.Loan.Status == LoanActive && s.Loan.Product == ProductTerm {
		checkScheduleCoversBalance(t, s, after)
	}
	if amount >= shown && shown > 0 && s.Loan.Status == LoanActive {
		for _, in := range s.Installments {
			if in.DueDate.Before(on) && !in.Paid() {
				t.Fatalf("%s (all %d the schedule showed due before it, kind %d): installment %+v still unpaid\nbefore %+v", after, shown, kind, in, before.Installments)
			}
		}
	}
	if amount == q.TotalMinor && s.Loan.Status != LoanPaidOff {
		t.Fatalf("%s (the payoff quote): loan %s, %+v", after, s.Loan.Status, s.Installments)
	}
}
