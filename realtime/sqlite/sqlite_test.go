package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lendhq/lend"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
)

func open(t *testing.T) *Store {
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
}

func tx(ts, typ string) realtime.StoredTx {
	t, _ := time.Parse(time.RFC3339, ts)
	return realtime.StoredTx{TS: ts, Amount: "1", Type: typ, TSUs: t.UnixMicro(), AmountMicro: 1_000_000}
}

// TestHistoryWindow: rows from `from` on, plus the first and the last sale
// before it (refunds before it are not needed), in time order; other
// merchants' rows never.
func TestHistoryWindow(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	rows := []realtime.StoredTx{
		tx("2023-01-05T00:00:00Z", "refund"), // old refund: not needed
		tx("2023-02-01T00:00:00Z", "sale"),   // first sale
		tx("2023-06-01T00:00:00Z", "sale"),   // neither first nor last
		tx("2023-12-31T00:00:00Z", "sale"),   // last sale before from
		tx("2024-01-01T00:00:00Z", "refund"), // at from: in
		tx("2024-03-01T00:00:00Z", "sale"),
	}
	if _, _, err := s.Append(ctx, realtime.Batch{MerchantID: "m1", IdempotencyKey: "k", RequestHash: "h", Rows: len(rows), CreatedAt: time.Now()}, rows); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Append(ctx, realtime.Batch{MerchantID: "m2", IdempotencyKey: "k", RequestHash: "h", Rows: 1, CreatedAt: time.Now()}, rows[5:]); err != nil {
		t.Fatal(err)
	}
	got, err := s.History(ctx, "m1", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2023-02-01T00:00:00Z", "2023-12-31T00:00:00Z", "2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"}
	if len(got) != len(want) {
		t.Fatalf("history %+v", got)
	}
	for i := range want {
		if got[i].TS != want[i] {
			t.Fatalf("history[%d] = %s, want %s", i, got[i].TS, want[i])
		}
	}
}

// TestAppendIdempotentAndAtomic: the same key stores nothing twice; a batch
// with a row the schema refuses stores nothing at all.
func TestAppendIdempotentAndAtomic(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	b := realtime.Batch{MerchantID: "m1", IdempotencyKey: "k", RequestHash: "h1", Rows: 1, CreatedAt: time.Now()}
	first, existed, err := s.Append(ctx, b, []realtime.StoredTx{tx("2024-01-01T00:00:00Z", "sale")})
	if err != nil || existed || first.ID <= 0 {
		t.Fatalf("first %+v %v %v", first, existed, err)
	}
	b.RequestHash = "h2"
	again, existed, err := s.Append(ctx, b, []realtime.StoredTx{tx("2024-01-02T00:00:00Z", "sale")})
	if err != nil || !existed || again.ID != first.ID || again.RequestHash != "h1" {
		t.Fatalf("again %+v %v %v", again, existed, err)
	}
	bad := realtime.Batch{MerchantID: "m1", IdempotencyKey: "k2", RequestHash: "h", Rows: 2, CreatedAt: time.Now()}
	_, _, err = s.Append(ctx, bad, []realtime.StoredTx{tx("2024-01-03T00:00:00Z", "sale"), tx("2024-01-04T00:00:00Z", "gift")})
	if lend.ErrorCode(err) != lend.EINTERNAL {
		t.Fatalf("bad batch: %v", err)
	}
	if _, found, _ := s.Batch(ctx, "m1", "k2"); found {
		t.Fatal("a failed batch left its key")
	}
	h, _ := s.History(ctx, "m1", time.Time{})
	if len(h) != 1 || h[0].TS != "2024-01-01T00:00:00Z" {
		t.Fatalf("history %+v", h)
	}
	if err := s.SetResponse(ctx, first.ID, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.Batch(ctx, "m1", "k"); string(got.Response) != `{"a":1}` {
		t.Fatalf("response %q", got.Response)
	}
}

// TestLatestBatchAndPrev: a merchant's latest batch id (0 before any), and
// each stored batch's Prev, the merchant's latest before it (other
// merchants' batches in between do not count; a replayed key stores nothing).
func TestLatestBatchAndPrev(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	if id, err := s.LatestBatchID(ctx, "m1"); err != nil || id != 0 {
		t.Fatalf("no batch yet: %d %v", id, err)
	}
	row := []realtime.StoredTx{tx("2024-03-01T00:00:00Z", "sale")}
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
