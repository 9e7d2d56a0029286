package loans

import (
	"testing"

	"pgregory.net/rapid"
)

func newTermState(t *testing.T, principal int64, rate Rate, periods int, m Method, f Frequency, every int, dc DayCount, reschedule RescheduleMode, start string) *State {
	t.Helper()
	policy := DefaultPolicy()
	policy.Reschedule = reschedule
	st := d(start)
	app := Application{Method: m, Frequency: f, EveryDays: every, DayCount: dc,
		Offer: &Offer{AmountMinor: principal, APR: rate, TermPeriods: periods}}
	l, sched, err := TermLoanFromOffer(app, CreditLine{Currency: "EUR", Grade: "B"}, "m1", policy, st, st)
	if err != nil {
		t.Fatal(err)
	}
	l.ID = 1
	return &State{Loan: l, Installments: sched, Policy: policy}
}

func TestProbe(t *testing.T) {
	s := newTermState(t, 9_900_000, 120000, 6, Annuity, Monthly, 0, DayCount30360, KeepInstallment, "2026-01-01")
	if _, err := s.Repay(1_612_423, d("2026-01-02")); err != nil {
		t.Fatal(err)
	}
	for _, in := range s.Installments {
		t.Logf("%+v", in)
	}
	q := s.Payoff(d("2026-02-01"))
	t.Logf("quote %+v", q)
	_, err := s.Repay(q.PrincipalMinor+1, d("2026-02-01"))
	t.Logf("err %v", err)
}

// eodThrough emulates close of business for the term loan through day d:
// installments due on or before d become receivable.
func eodThrough(s *State, d Date) {
	if s.Loan.Status != LoanActive {
		return
	}
	for i := range s.Installments {
		in := &s.Installments[i]
		if !in.Accrued && !in.DueDate.After(d) {
			in.Accrued = true
			s.Loan.InterestReceivableMinor += in.InterestMinor - in.InterestPaidMinor
		}
	}
}

func cloneState(s *State) *State {
	c := *s
	c.Installments = append([]Installment(nil), s.Installments...)
	return &c
}

func TestProbeProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genTermState(t)
		on := s.Loan.DisbursedOn
		closed := on.AddDate(0, 0, -1)
		for step := 0; step < 12 && s.Loan.Status == LoanActive; step++ {
			if rapid.Bool().Draw(t, "to a due date") {
				if k := s.currentIndex(on); k >= 0 {
					on = s.Installments[k].DueDate
				}
			} else {
				on = on.AddDate(0, 0, rapid.IntRange(0, 45).Draw(t, "days"))
			}
			if rapid.Bool().Draw(t, "eod") {
				for closed.Before(on.AddDate(0, 0, -1)) {
					closed = closed.AddDate(0, 0, 1)
					eodThrough(s, closed)
				}
			}
			q := s.Payoff(on)
			amount := rapid.OneOf(rapid.Int64Range(1, q.TotalMinor), rapid.Just(q.TotalMinor), rapid.Just(s.Loan.InstallmentMinor), rapid.Just(s.Loan.PrincipalOutstandingMinor+1)).Draw(t, "amount")
			amount = max(min(amount, q.TotalMinor), 1)
			// X then payoff never costs more than the payoff.
			c := cloneState(s)
			if _, err := c.Repay(amount, on); err != nil {
				t.Fatalf("payment %d of %d on %s (payoff %+v): %v", step, amount, on.Format(DateLayout), q, err)
			}
			if c.Loan.Status == LoanActive {
				q2 := c.Payoff(on)
				if amount+q2.TotalMinor > q.TotalMinor {
					t.Fatalf("paying %d then the payoff %d on %s costs %d more than the payoff %d", amount, q2.TotalMinor, on.Format(DateLayout), amount+q2.TotalMinor-q.TotalMinor, q.TotalMinor)
				}
				c2 := cloneState(c)
				if _, err := c2.Repay(q2.TotalMinor, on); err != nil || c2.Loan.Status != LoanPaidOff {
					t.Fatalf("payoff %d after %d on %s: %v status %s", q2.TotalMinor, amount, on.Format(DateLayout), err, c2.Loan.Status)
				}
			}
			if _, err := s.Repay(amount, on); err != nil {
				t.Fatal(err)
			}
			checkScheduleCoversBalance(t, s, "after paying "+FormatMinor(amount)+" on "+on.Format(DateLayout))
		}
	})
}
