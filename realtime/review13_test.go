package realtime_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/realtime"
)

// TestStaleFrozenLineNotCalledDelinquent: a merchant whose line the nightly
// refresh froze for stale data (missing from the sales features) and who then
// sends transactions is re-decided in real time; the line stays frozen
// (only the nightly refresh lifts that freeze, docs/POLICY.md) but the
// recorded assessment must not carry the reason "delinquent" ("You have a
// loan that is past due."), which m1, with no loan at all, is not. A line
// frozen for delinquency keeps the reason, as before.
func TestStaleFrozenLineNotCalledDelinquent(t *testing.T) {
	clock := &benchClock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)}
	var got seen
	svc, ls, st := openService(t, filepath.Join(t.TempDir(), "lend.db"), clock, &got)
	ctx := context.Background()
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := ls.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "USD", LimitMinor: 500_000, APR: apr, Grade: "B", ModelID: "seed", AsOf: "2025-03-20"}}); err != nil {
		t.Fatal(err)
	}
	if frozen, err := ls.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m1", AsOf: "2025-03-20"}}); err != nil || len(frozen) != 1 {
		t.Fatalf("freeze: %v %v", frozen, err)
	}
	seedDailySales(t, st, clock, 120)
	if _, err := svc.Ingest(ctx, "m1", "k1", "h1", []realtime.Transaction{{TS: "2025-03-31T11:00:00Z", Amount: "30.00", Type: "sale", BuyerID: "b1"}}); err != nil {
		t.Fatal(err)
	}
	l, err := ls.CreditLine(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if l.Status != loans.LineFrozen || l.FrozenReason != loans.FrozenByStaleData || l.LimitMinor != 500_000 {
		t.Fatalf("line after a real-time re-decision: %s/%s limit %d, want frozen/stale_data 500000", l.Status, l.FrozenReason, l.LimitMinor)
	}
	if l.AsOf != "2025-04-01" {
		t.Fatalf("line as-of %s: the re-decision was not recorded (want 2025-04-01)", l.AsOf)
	}
	if slices.Contains(l.Reasons, "delinquent") {
		t.Fatalf("a merchant with no loan, frozen for stale data, was given the reason delinquent: %v", l.Reasons)
	}
}
