package storetest

import (
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// Migration0006SQL is what puts a store's schema back to before migration
// 0006 (loans/*/migrations/0006_installment_penalty.sql); the statements
// are the same in SQLite and PostgreSQL. version 6 is recorded under the
// store's migration namespace, which the caller deletes.
var Migration0006SQL = []string{
	`DROP INDEX installments_unpaid`,
	`ALTER TABLE installments DROP COLUMN penalty_paid_minor`,
	`ALTER TABLE installments DROP COLUMN penalty_minor`,
	`CREATE INDEX installments_unpaid ON installments(due_date, loan_id)
		WHERE principal_paid_minor < principal_minor OR interest_paid_minor < interest_minor`,
}

// Migration0006 checks that migration 0006 charges the penalty a database
// written before it holds on the loan only to the oldest installment not
// paid, so the schedule shows it, a payment of that installment's unpaid
// total pays the loan off, and reconcile is clean. open opens the same
// database each time with the clock given; rewind (run with every store
// closed) executes Migration0006SQL and forgets version 6.
//
// 1,000.00 at 12% over one month from 2024-01-15: one installment due
// 02-15, 10.00 interest (30/360) + 1,000.00. Unpaid, close of business
// through 02-19 charges penalty on 100,000 at 12% a year for 02-16 ..
// 02-19: 4 × 100,000 × 0.12 / 365 = 131.51 → 132 (minor).
func Migration0006(t *testing.T, open func(now func() time.Time) loans.Store, rewind func(t *testing.T)) {
	c := &testClock{now: day("2024-01-15")}
	s := open(c.read)
	line(t, s, "m1", 1_000_000, "0.12")
	r, _ := loans.ParseRate("apr", "0.12")
	app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app"}, loans.Application{Currency: "EUR",
		AmountMinor: 100_000, Decision: loans.DecisionApproved, Offer: &loans.Offer{AmountMinor: 100_000, APR: r, TermPeriods: 1}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2024-01-15"})
	if err != nil {
		t.Fatal(err)
	}
	closeThrough(t, s, c, "2024-02-19", "2024-02-20")
	if got, err := s.Loan(ctx, l.ID); err != nil || got.PenaltyReceivableMinor != 132 {
		t.Fatalf("penalty receivable before the rewind %+v (%v), want 132", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rewind(t)

	s = open(c.read)
	defer s.Close()
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sched) != 1 || sched[0].PenaltyMinor != 132 || sched[0].UnpaidMinor() != 101_132 {
		t.Fatalf("schedule after the migration %+v, want one installment with penalty 132, unpaid 101,132", sched)
	}
	mustReconcile(t, s)
	rep, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "pay"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 101_132, ValueDate: "2024-02-20"})
	if err != nil {
		t.Fatal(err)
	}
	if a := rep.Allocation; a.PenaltyMinor != 132 || a.OverdueInterestMinor != 1_000 || a.OverduePrincipalMinor != 100_000 || rep.After.Status != loans.LoanPaidOff {
		t.Fatalf("repayment %+v, want penalty 132, interest 1,000, principal 100,000, paid off", rep)
	}
	mustReconcile(t, s)
}
