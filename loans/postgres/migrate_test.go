package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/loans/postgres/pgtest"
)

// TestMigration0006ChargesExistingPenaltyToTheOldestUnpaidInstallment: the
// PostgreSQL side of the SQLite test of the same name (loans/sqlite): a
// schema written before migration 0006 holds penalty on the loan only; the
// migration charges it to the oldest installment not paid.
//
// 1,000.00 at 12% over one month from 2024-01-15: one installment due
// 02-15, 10.00 interest (30/360) + 1,000.00. Unpaid, close of business
// through 02-19 charges 4 × 100,000 × 0.12 / 365 = 131.51 → 132 (minor).
func TestMigration0006ChargesExistingPenaltyToTheOldestUnpaidInstallment(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.SchemaURL(t)
	s, err := Open(ctx, url, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(loans.DateLayout, "2024-01-15")
	clock := func() time.Time { return now }
	s.SetClock(clock)
	r, _ := loans.ParseRate("apr", "0.12")
	if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "EUR", LimitMinor: 1_000_000, APR: r, Grade: "B", ModelID: "m1", AsOf: "2011-09-01"}}); err != nil {
		t.Fatal(err)
	}
	app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app"}, loans.Application{Currency: "EUR",
		AmountMinor: 100_000, Decision: loans.DecisionApproved, Offer: &loans.Offer{AmountMinor: 100_000, APR: r, TermPeriods: 1}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2024-01-15"})
	if err != nil {
		t.Fatal(err)
	}
	now, _ = time.Parse(loans.DateLayout, "2024-02-20")
	through, _ := time.Parse(loans.DateLayout, "2024-02-19")
	if _, err := s.CloseOfBusiness(ctx, through, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Back to the schema and data before migration 0006.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX installments_unpaid`,
		`ALTER TABLE installments DROP COLUMN penalty_paid_minor`,
		`ALTER TABLE installments DROP COLUMN penalty_minor`,
		`CREATE INDEX installments_unpaid ON installments(due_date, loan_id)
			WHERE principal_paid_minor < principal_minor OR interest_paid_minor < interest_minor`,
		`DELETE FROM schema_migrations WHERE namespace = '` + MigrationNamespace + `' AND version = 6`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var pen int64
	if err := conn.QueryRow(ctx, `SELECT penalty_receivable_minor FROM loans WHERE id = $1`, l.ID).Scan(&pen); err != nil || pen != 132 {
		t.Fatalf("penalty receivable before the migration %d (%v), want 132", pen, err)
	}
	conn.Close(ctx)

	s, err = Open(ctx, url, loans.Policy{})
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
	rep, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "pay"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 101_132, ValueDate: "2024-02-20"})
	if err != nil {
		t.Fatal(err)
	}
	if a := rep.Allocation; a.PenaltyMinor != 132 || a.OverdueInterestMinor != 1_000 || a.OverduePrincipalMinor != 100_000 || rep.After.Status != loans.LoanPaidOff {
		t.Fatalf("repayment %+v, want penalty 132, interest 1,000, principal 100,000, paid off", rep)
	}
	if rc, err := s.Reconcile(ctx); err != nil || !rc.Clean() {
		t.Fatalf("reconcile %+v %v", rc, err)
	}
}
