package storetest

import (
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

func init() {
	register("IdempotencyKeysExpire", testIdempotencyKeysExpire)
}

// testIdempotencyKeysExpire: close of business deletes idempotency keys
// older than the policy's retention (default 30 days) and reports how many;
// a key inside the retention still replays, an expired one runs as a new
// command; closing an already closed day deletes nothing.
func testIdempotencyKeysExpire(t *testing.T, open Opener) {
	now := day("2024-03-01").Add(9 * time.Hour)
	s := open(t, loans.Policy{}, func() time.Time { return now })
	line(t, s, "m1", 100_000, "0.12")
	draw := func(key string, amount int64) loans.Loan {
		t.Helper()
		l, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: key}, loans.DrawRequest{AmountMinor: amount, Currency: "EUR"})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	old := draw("old", 10_000)
	now = day("2024-03-20").Add(9 * time.Hour)
	recent := draw("recent", 5_000)
	// 31 days after "old", 12 after "recent".
	now = day("2024-04-01").Add(9 * time.Hour)
	rep, err := s.CloseOfBusiness(ctx, day("2024-03-31"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Days == 0 || rep.KeysExpired != 1 {
		t.Fatalf("close of business: %+v, want days closed and 1 key expired", rep)
	}
	if again := draw("recent", 5_000); again.ID != recent.ID {
		t.Fatalf("retry of a 12-day-old key: loan %d, want the replay of %d", again.ID, recent.ID)
	}
	if again := draw("old", 10_000); again.ID == old.ID {
		t.Fatalf("retry of an expired key replayed loan %d; it must run as a new command", old.ID)
	}
	if cl, _ := s.CreditLine(ctx, "m1"); cl.DrawnMinor != 25_000 {
		t.Fatalf("drawn %d, want 25000 (old, recent, and the expired key's new draw)", cl.DrawnMinor)
	}
	if rep, err := s.CloseOfBusiness(ctx, day("2024-03-31"), nil); err != nil || rep.Days != 0 || rep.KeysExpired != 0 {
		t.Fatalf("closing a closed day again: %+v %v", rep, err)
	}
	mustReconcile(t, s)
}
