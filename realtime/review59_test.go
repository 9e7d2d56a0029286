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

// TestReview59StaleFrozenButDelinquent: m1's line is frozen for stale data
// while m1 has a term loan; the loan then misses its first installment.
// Close of business leaves a stale_data freeze alone (it freezes active
// lines only), so the line's reason still says stale_data although m1 IS
// delinquent. A real-time re-decision must assess m1 as delinquent (the
// reason "delinquent" recorded), as the nightly refresh does from the loans
// (loans.MerchantDelinquent); before the fix it took the freeze reason
// alone and dropped the reason. Dates: loan 2025-01-02, 6 monthly
// installments, the first due 2025-02-02; close of business through
// 2025-03-15 leaves it past due.
func TestReview59StaleFrozenButDelinquent(t *testing.T) {
	clock := &benchClock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)}
	var got seen
	svc, ls, st := openService(t, filepath.Join(t.TempDir(), "lend.db"), clock, &got)
	ctx := context.Background()
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := ls.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "USD", LimitMinor: 500_000, APR: apr, Grade: "B", ModelID: "seed", AsOf: "2024-12-20"}}); err != nil {
		t.Fatal(err)
	}
	app, err := ls.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app"},
		loans.Application{Currency: "USD", AmountMinor: 300_000, TermPeriods: 6, Decision: loans.DecisionApproved,
			Offer: &loans.Offer{AmountMinor: 300_000, APR: apr, TermPeriods: 6}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ls.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2025-01-02"}); err != nil {
		t.Fatal(err)
	}
	if frozen, err := ls.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m1", AsOf: "2024-12-20"}}); err != nil || len(frozen) != 1 {
		t.Fatalf("freeze: %v %v", frozen, err)
	}
	through, _ := time.Parse(loans.DateLayout, "2025-03-15")
	if _, err := ls.CloseOfBusiness(ctx, through, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := ls.CreditLine(ctx, "m1"); l.FrozenReason != loans.FrozenByStaleData {
		t.Fatalf("after close of business: %+v; want still stale_data", l)
	}
	seedDailySales(t, st, clock, 120)
	if _, err := svc.Ingest(ctx, "m1", "k1", "h1", []realtime.Transaction{{TS: "2025-03-31T11:00:00Z", Amount: "30.00", Type: "sale", BuyerID: "b1"}}); err != nil {
		t.Fatal(err)
	}
	l, err := ls.CreditLine(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if l.Status != loans.LineFrozen || l.AsOf != "2025-04-01" {
		t.Fatalf("line after a real-time re-decision: %+v; want frozen, as-of 2025-04-01", l)
	}
	if !slices.Contains(l.Reasons, "delinquent") {
		t.Fatalf("a merchant with a past-due loan was re-decided without the reason delinquent: %v", l.Reasons)
	}
}
