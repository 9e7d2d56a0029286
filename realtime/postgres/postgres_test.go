package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/lendhq/lend/loans/postgres/pgtest"
	"github.com/lendhq/lend/realtime"
	"github.com/lendhq/lend/realtime/storetest"
)

// open opens a store with its own pool on url, closed when t ends.
func open(t testing.TB, url string) *Store {
	t.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStore runs the realtime.Store suite (realtime/storetest) on
// PostgreSQL ($LEND_TEST_POSTGRES), each test in a fresh schema dropped
// afterwards; a second Open of the schema finds its migrations applied.
func TestStore(t *testing.T) {
	pgtest.BaseURL(t)
	storetest.Run(t, func(t testing.TB) realtime.Store {
		t.Helper()
		url, _ := pgtest.SchemaURL(t)
		s := open(t, url)
		open(t, url) // migrations run once
		return s
	})
}

// TestTwoProcessesConcurrentAppend: two stores with their own pools on one
// database (two `lend serve` processes' worth) append the same (merchant,
// key) at once → one batch; distinct keys of one merchant chain their Prev.
// The two stores also migrate the fresh schema at the same time.
func TestTwoProcessesConcurrentAppend(t *testing.T) {
	url, _ := pgtest.SchemaURL(t)
	var a, b *Store
	var wg sync.WaitGroup
	wg.Add(2)
	var errA, errB error
	go func() { defer wg.Done(); a, errA = Open(context.Background(), url) }()
	go func() { defer wg.Done(); b, errB = Open(context.Background(), url) }()
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("open: %v, %v", errA, errB)
	}
	defer a.Close()
	defer b.Close()
	storetest.ConcurrentAppend(t, a, b)
}

// BenchmarkAppend: LatestBatchID + Append of a 10-row batch (the store's
// share of one ingest) on PostgreSQL.
func BenchmarkAppend(b *testing.B) {
	url, _ := pgtest.SchemaURL(b)
	storetest.BenchAppend(b, open(b, url), 10)
}
