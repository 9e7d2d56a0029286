package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/loans/postgres/pgtest"
	"github.com/lendhq/lend/loans/storetest"
)

// benchOpener opens a store in a fresh schema with the server's durable
// defaults (synchronous_commit = on).
func benchOpener(t testing.TB, policy loans.Policy, now func() time.Time) loans.Store {
	url, _ := pgtest.SchemaURL(t)
	s, err := Open(context.Background(), url, policy)
	if err != nil {
		t.Fatal(err)
	}
	s.SetClock(now)
	t.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkStoreRepay10kLoans: durable repayments over 10,000 loans, the
// same code as SQLite's BenchmarkStoreRepay10kLoans.
func BenchmarkStoreRepay10kLoans(b *testing.B) { storetest.BenchRepay(b, benchOpener, 10_000) }

// BenchmarkStoreEOD10kLoans: close of business over 10,000 loans, one day
// per iteration, the same code as SQLite's.
func BenchmarkStoreEOD10kLoans(b *testing.B) { storetest.BenchEOD(b, benchOpener, 10_000) }

// BenchmarkStoreRefresh100kLines: the nightly refresh writing 100,000 credit
// lines in batches of 10,000, the same code on both stores.
func BenchmarkStoreRefresh100kLines(b *testing.B) { storetest.BenchRefresh(b, benchOpener, 100_000) }

// BenchmarkStoreApplications: applications for one merchant, 64 in flight,
// with and without the line check (Cmd.Line: FOR SHARE on the line's row).
func BenchmarkStoreApplications(b *testing.B) {
	b.Run("line-check", func(b *testing.B) { storetest.BenchApplications(b, benchOpener, true) })
	b.Run("no-check", func(b *testing.B) { storetest.BenchApplications(b, benchOpener, false) })
}
