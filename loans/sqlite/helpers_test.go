package sqlite

import (
	"context"
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
