// Package storetest is the suite every realtime.Store implementation
// passes: each behaviour is written once, here, and run against SQLite
// (realtime/sqlite) and PostgreSQL (realtime/postgres) by their own test
// files calling Run.
package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/realtime"
)

// Opener opens a fresh, empty store, closed by the opener's t.Cleanup.
type Opener func(t testing.TB) realtime.Store

// Run runs every test of the suite against the stores open makes, each as
// a subtest. ConcurrentAppend runs with one store appending from many
// goroutines; stores shared by several processes also run it with two
// stores on one database (see realtime/postgres).
func Run(t *testing.T, open Opener) {
	t.Run("HistoryWindow", func(t *testing.T) { testHistoryWindow(t, open(t)) })
	t.Run("AppendIdempotentAndAtomic", func(t *testing.T) { testAppendIdempotentAndAtomic(t, open(t)) })
	t.Run("LatestBatchAndPrev", func(t *testing.T) { testLatestBatchAndPrev(t, open(t)) })
	t.Run("ConcurrentAppend", func(t *testing.T) {
		s := open(t)
		ConcurrentAppend(t, s, s)
	})
}

// Tx is a one-unit transaction of type typ at ts (RFC 3339).
func Tx(ts, typ string) realtime.StoredTx {
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		panic(err)
	}
	return realtime.StoredTx{TS: ts, Amount: "1", Type: typ, TSUs: t.UnixMicro(), AmountMicro: 1_000_000}
}

// testHistoryWindow: rows from `from` on, plus the first and the last sale
// before it (refunds before it are not needed), in time order; other
// merchants' rows never.
func testHistoryWindow(t *testing.T, s realtime.Store) {
	ctx := context.Background()
	rows := []realtime.StoredTx{
		Tx("2023-01-05T00:00:00Z", "refund"), // old refund: not needed
		Tx("2023-02-01T00:00:00Z", "sale"),   // first sale
		Tx("2023-06-01T00:00:00Z", "sale"),   // neither first nor last
		Tx("2023-12-31T00:00:00Z", "sale"),   // last sale before from
		Tx("2024-01-01T00:00:00Z", "refund"), // at from: in
		{TS: "2024-02-01T00:00:00Z", Amount: "12.345678", Type: "chargeback", BuyerID: "b-7",
			TSUs: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), AmountMicro: 12_345_678},
		Tx("2024-03-01T00:00:00Z", "sale"),
	}
	if _, _, err := s.Append(ctx, realtime.Batch{MerchantID: "m1", IdempotencyKey: "k", RequestHash: "h", Rows: len(rows), CreatedAt: time.Now()}, rows); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Append(ctx, realtime.Batch{MerchantID: "m2", IdempotencyKey: "k", RequestHash: "h", Rows: 1, CreatedAt: time.Now()}, rows[6:]); err != nil {
		t.Fatal(err)
	}
	got, err := s.History(ctx, "m1", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	// Only the parsed fields come back (realtime.Store.History): instant,
	// amount, type and buyer; the text as received is left empty.
	want := []realtime.StoredTx{
		{Type: "sale", TSUs: time.Date(2023, 2, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), AmountMicro: 1_000_000},
		{Type: "sale", TSUs: time.Date(2023, 12, 31, 0, 0, 0, 0, time.UTC).UnixMicro(), AmountMicro: 1_000_000},
		{Type: "refund", TSUs: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), AmountMicro: 1_000_000},
		{Type: "chargeback", BuyerID: "b-7", TSUs: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), AmountMicro: 12_345_678},
		{Type: "sale", TSUs: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), AmountMicro: 1_000_000},
	}
	if len(got) != len(want) {
		t.Fatalf("history %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("history[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// testAppendIdempotentAndAtomic: the same key stores nothing twice; a batch
// with a row the schema refuses stores nothing at all.
func testAppendIdempotentAndAtomic(t *testing.T, s realtime.Store) {
	ctx := context.Background()
	b := realtime.Batch{MerchantID: "m1", IdempotencyKey: "k", RequestHash: "h1", Rows: 1, CreatedAt: time.Now()}
	first, existed, err := s.Append(ctx, b, []realtime.StoredTx{Tx("2024-01-01T00:00:00Z", "sale")})
	if err != nil || existed || first.ID <= 0 {
		t.Fatalf("first %+v %v %v", first, existed, err)
	}
	b.RequestHash = "h2"
	again, existed, err := s.Append(ctx, b, []realtime.StoredTx{Tx("2024-01-02T00:00:00Z", "sale")})
	if err != nil || !existed || again.ID != first.ID || again.RequestHash != "h1" || again.Rows != 1 || again.Response != nil {
		t.Fatalf("again %+v %v %v", again, existed, err)
	}
	bad := realtime.Batch{MerchantID: "m1", IdempotencyKey: "k2", RequestHash: "h", Rows: 2, CreatedAt: time.Now()}
	_, _, err = s.Append(ctx, bad, []realtime.StoredTx{Tx("2024-01-03T00:00:00Z", "sale"), Tx("2024-01-04T00:00:00Z", "gift")})
	if lend.ErrorCode(err) != lend.EINTERNAL {
		t.Fatalf("bad batch: %v", err)
	}
	if _, found, _ := s.Batch(ctx, "m1", "k2"); found {
		t.Fatal("a failed batch left its key")
	}
	// A batch whose declared row count is not its rows' is refused.
	short := realtime.Batch{MerchantID: "m1", IdempotencyKey: "k3", RequestHash: "h", Rows: 2, CreatedAt: time.Now()}
	if _, _, err := s.Append(ctx, short, []realtime.StoredTx{Tx("2024-01-03T00:00:00Z", "sale")}); lend.ErrorCode(err) != lend.EINTERNAL {
		t.Fatalf("short batch: %v", err)
	}
	h, _ := s.History(ctx, "m1", time.Time{})
	if len(h) != 1 || h[0].TSUs != time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() {
		t.Fatalf("history %+v", h)
	}
	if err := s.SetResponse(ctx, first.ID, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Batch(ctx, "m1", "k"); string(got.Response) != `{"a":1}` {
		t.Fatalf("response %q", got.Response)
	}
	if _, found, err := s.Batch(ctx, "m2", "k"); err != nil || found {
		t.Fatalf("another merchant's key: found %v, %v", found, err)
	}
}

// testLatestBatchAndPrev: a merchant's latest batch id (0 before any), and
// each stored batch's Prev, the merchant's latest before it (other
// merchants' batches in between do not count; a replayed key stores nothing).
func testLatestBatchAndPrev(t *testing.T, s realtime.Store) {
	ctx := context.Background()
	if id, err := s.LatestBatchID(ctx, "m1"); err != nil || id != 0 {
		t.Fatalf("no batch yet: %d %v", id, err)
	}
	row := []realtime.StoredTx{Tx("2024-03-01T00:00:00Z", "sale")}
	add := func(m, key string) realtime.Batch {
		t.Helper()
		b, _, err := s.Append(ctx, realtime.Batch{MerchantID: m, IdempotencyKey: key, RequestHash: "h", Rows: 1, CreatedAt: time.Now()}, row)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a1 := add("m1", "a")
	b1 := add("m2", "a")
	a2 := add("m1", "b")
	if a1.Prev != 0 || b1.Prev != 0 || a2.Prev != a1.ID || a2.ID <= b1.ID || b1.ID <= a1.ID {
		t.Fatalf("batches %+v %+v %+v", a1, b1, a2)
	}
	if again := add("m1", "a"); again.ID != a1.ID {
		t.Fatalf("replayed key stored batch %d", again.ID)
	}
	for m, want := range map[string]int64{"m1": a2.ID, "m2": b1.ID, "m3": 0} {
		if id, err := s.LatestBatchID(ctx, m); err != nil || id != want {
			t.Errorf("%s: latest %d %v, want %d", m, id, err, want)
		}
	}
}

// ConcurrentAppend appends from many goroutines at once, half through a and
// half through b (two stores on one database stand for two processes; a
// and b may be the same store):
//   - the same (merchant, key) from all of them stores one batch: exactly
//     one Append reports it new, every other returns it with existed true,
//     and the merchant's history holds its row once;
//   - distinct keys of one merchant store one batch each, and their Prev
//     values chain: ordered by id, each batch's Prev is the batch before it
//     (what the service's cache relies on to notice another writer).
func ConcurrentAppend(t *testing.T, a, b realtime.Store) {
	ctx := context.Background()
	const perStore, rounds = 4, 8
	stores := []realtime.Store{a, b}
	type result struct {
		b       realtime.Batch
		existed bool
		err     error
	}
	// run calls fn from perStore goroutines per store, released together.
	run := func(fn func(s realtime.Store, g int) (realtime.Batch, bool, error)) []result {
		out := make([]result, 2*perStore)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range out {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r, existed, err := fn(stores[i%2], i)
				out[i] = result{r, existed, err}
			}()
		}
		close(start)
		wg.Wait()
		return out
	}
	for round := 0; round < rounds; round++ {
		m := fmt.Sprintf("same-%d", round)
		res := run(func(s realtime.Store, g int) (realtime.Batch, bool, error) {
			// Each caller sends its own hash: the stored one must be the winner's.
			return s.Append(ctx, realtime.Batch{MerchantID: m, IdempotencyKey: "k", RequestHash: fmt.Sprintf("h%d", g), Rows: 1, CreatedAt: time.Now()},
				[]realtime.StoredTx{Tx(fmt.Sprintf("2024-03-01T00:00:%02dZ", g), "sale")})
		})
		var winner *result
		for i := range res {
			r := &res[i]
			if r.err != nil {
				t.Fatalf("round %d, caller %d: %v", round, i, r.err)
			}
			if !r.existed {
				if winner != nil {
					t.Fatalf("round %d: key stored twice, batches %d and %d", round, winner.b.ID, r.b.ID)
				}
				winner = r
			}
		}
		if winner == nil {
			t.Fatalf("round %d: every Append said the key existed", round)
		}
		for i, r := range res {
			if r.b.ID != winner.b.ID || r.b.RequestHash != winner.b.RequestHash {
				t.Fatalf("round %d, caller %d got batch %d (%s), stored %d (%s)", round, i, r.b.ID, r.b.RequestHash, winner.b.ID, winner.b.RequestHash)
			}
		}
		h, err := a.History(ctx, m, time.Time{})
		if err != nil || len(h) != 1 {
			t.Fatalf("round %d: history %+v %v, want the winner's one row", round, h, err)
		}
		if id, err := b.LatestBatchID(ctx, m); err != nil || id != winner.b.ID {
			t.Fatalf("round %d: latest %d %v, want %d", round, id, err, winner.b.ID)
		}
	}
	for round := 0; round < rounds; round++ {
		m := fmt.Sprintf("chain-%d", round)
		res := run(func(s realtime.Store, g int) (realtime.Batch, bool, error) {
			return s.Append(ctx, realtime.Batch{MerchantID: m, IdempotencyKey: fmt.Sprintf("k%d", g), RequestHash: "h", Rows: 1, CreatedAt: time.Now()},
				[]realtime.StoredTx{Tx("2024-03-01T00:00:00Z", "sale")})
		})
		for i, r := range res {
			if r.err != nil || r.existed {
				t.Fatalf("round %d, caller %d: existed %v, %v", round, i, r.existed, r.err)
			}
		}
		sort.Slice(res, func(i, j int) bool { return res[i].b.ID < res[j].b.ID })
		var chain [][2]int64 // id, Prev
		for _, r := range res {
			chain = append(chain, [2]int64{r.b.ID, r.b.Prev})
		}
		prev := int64(0)
		for i, r := range res {
			if r.b.Prev != prev || (i > 0 && r.b.ID == prev) {
				t.Fatalf("round %d: batch %d has Prev %d, want %d (id, Prev in id order: %v)", round, r.b.ID, r.b.Prev, prev, chain)
			}
			prev = r.b.ID
		}
		if id, err := a.LatestBatchID(ctx, m); err != nil || id != prev {
			t.Fatalf("round %d: latest %d %v, want %d", round, id, err, prev)
		}
	}
}
