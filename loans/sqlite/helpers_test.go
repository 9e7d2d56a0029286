package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// Helpers of the SQLite-only tests (crash, bench); the behaviour tests are
// the conformance suite in loans/storetest.

var ctx = context.Background()

func day(s string) loans.Date {
	d, err := time.Parse(loans.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return d
}

func mustReconcile(t testing.TB, s *Store) {
	t.Helper()
	rep, err := s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Fatalf("reconcile: %v", rep.Differences)
	}
}

func line(t testing.TB, s *Store, merchant string, limitMinor int64, apr string) {
	t.Helper()
	r, _ := loans.ParseRate("apr", apr)
	if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: merchant, Currency: "EUR", LimitMinor: limitMinor, APR: r, Grade: "B", ModelID: "m1", AsOf: "2011-09-01"}}); err != nil {
		t.Fatal(err)
	}
}

// monthLoans opens a store on a fresh file, its clock pinned to 2024-01-15,
// with one loan per merchant: 1,000.00 at 12%/year over 1 month disbursed
// that day. It returns the store and the loan ids.
func monthLoans(t *testing.T, merchants ...string) (*Store, []int64) {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "loans.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	pinned := day("2024-01-15")
	s.SetClock(func() time.Time { return pinned })
	var ids []int64
	for _, m := range merchants {
		line(t, s, m, 1_000_000, "0.12")
		r, _ := loans.ParseRate("apr", "0.12")
		app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: m, IdempotencyKey: "app"}, loans.Application{Currency: "EUR",
			AmountMinor: 100_000, Decision: loans.DecisionApproved, Offer: &loans.Offer{AmountMinor: 100_000, APR: r, TermPeriods: 1}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: m, IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2024-01-15"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	return s, ids
}
