package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// TestMigration0006ChargesExistingPenaltyToTheOldestUnpaidInstallment: a
// database written before migration 0006 holds penalty on the loan only.
// The migration charges it to the oldest installment not paid, so the
// schedule shows it, a payment of that installment's unpaid total pays the
// loan off, and reconcile is clean.
//
// 1,000.00 at 12% over one month from 2024-01-15 (monthLoans's terms): one
// installment due 02-15, 10.00 interest (30/360) + 1,000.00. Unpaid, close
// of business through 02-19 charges penalty on 100,000 at 12% a year for
// 02-16 .. 02-19: 4 × 100,000 × 0.12 / 365 = 131.51 → 132 (minor).
func TestMigration0006ChargesExistingPenaltyToTheOldestUnpaidInstallment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loans.db")
	s, err := Open(path, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	now := day("2024-01-15")
	clock := func() time.Time { return now }
	s.SetClock(clock)
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
	now = day("2024-02-20")
	if _, err := s.CloseOfBusiness(ctx, day("2024-02-19"), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Back to the schema and data before migration 0006.
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX installments_unpaid`,
		`ALTER TABLE installments DROP COLUMN penalty_paid_minor`,
		`ALTER TABLE installments DROP COLUMN penalty_minor`,
		`CREATE INDEX installments_unpaid ON installments(due_date, loan_id)
			WHERE principal_paid_minor < principal_minor OR interest_paid_minor < interest_minor`,
		`DELETE FROM schema_migrations WHERE namespace = 'loans' AND version = 6`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var pen int64
	if err := db.QueryRow(`SELECT penalty_receivable_minor FROM loans WHERE id = ?`, l.ID).Scan(&pen); err != nil || pen != 132 {
		t.Fatalf("penalty receivable before the migration %d (%v), want 132", pen, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetClock(clock)
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
