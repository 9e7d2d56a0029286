package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	"github.com/lendhq/lend/realtime/storetest"
)

// TestStore runs the realtime.Store suite (realtime/storetest) on a fresh
// SQLite file per test, opened as `lend serve` opens it (loans/sqlite.OpenDB).
func TestStore(t *testing.T) {
	storetest.Run(t, func(t testing.TB) realtime.Store {
		t.Helper()
		db, err := loanssqlite.OpenDB(filepath.Join(t.TempDir(), "lend.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		s, err := New(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := New(context.Background(), db); err != nil { // migrations run once
			t.Fatal(err)
		}
		return s
	})
}

// BenchmarkAppend: LatestBatchID + Append of a 10-row batch (the store's
// share of one ingest) on SQLite.
func BenchmarkAppend(b *testing.B) {
	db, err := loanssqlite.OpenDB(filepath.Join(b.TempDir(), "lend.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := New(context.Background(), db)
	if err != nil {
		b.Fatal(err)
	}
	storetest.BenchAppend(b, s, 10)
}

// BenchmarkHistory: History of a merchant with a year of 20 transactions
// a day (7,300 rows), the uncached ingest's read.
func BenchmarkHistory(b *testing.B) {
	db, err := loanssqlite.OpenDB(filepath.Join(b.TempDir(), "lend.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s, err := New(context.Background(), db)
	if err != nil {
		b.Fatal(err)
	}
	from := storetest.SeedYear(b, s, "m1", 20)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h, err := s.History(context.Background(), "m1", from)
		if err != nil || len(h) != 7300 {
			b.Fatal(len(h), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*7300), "ns/row")
}
