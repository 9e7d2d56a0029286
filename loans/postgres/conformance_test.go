package postgres

import (
	"context"
	"flag"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/loans/postgres/pgtest"
	"github.com/lendhq/lend/loans/storetest"
)

// TestConformance runs the loans.Store conformance suite on PostgreSQL
// ($LEND_TEST_POSTGRES), each test in a fresh schema dropped afterwards.
// The property test draws pgPropertyChecks cases here (a fresh schema each)
// unless -rapid.checks is given; SQLite runs rapid's default 100.
func TestConformance(t *testing.T) {
	pgtest.BaseURL(t)
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == f.DefValue {
		_ = f.Value.Set(pgPropertyChecks)
		defer f.Value.Set(f.DefValue)
	}
	storetest.Run(t, func(t testing.TB, policy loans.Policy, now func() time.Time) loans.Store {
		t.Helper()
		url, _ := pgtest.SchemaURL(t)
		s, err := Open(context.Background(), url, policy)
		if err != nil {
			t.Fatal(err)
		}
		s.SetClock(now)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// pgPropertyChecks bounds the PostgreSQL property search so `make test`
// stays within minutes on a shared 2-core machine.
const pgPropertyChecks = "30"
