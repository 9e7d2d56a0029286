package realtime_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
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
	e := newStaleEnv(t, "2024-12-20")
	ctx, ls, apr := context.Background(), e.ls, e.apr
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
	l := e.ingestAndRead(t)
	if l.Status != loans.LineFrozen || l.AsOf != "2025-04-01" {
		t.Fatalf("line after a real-time re-decision: %+v; want frozen, as-of 2025-04-01", l)
	}
	if !slices.Contains(l.Reasons, "delinquent") {
		t.Fatalf("a merchant with a past-due loan was re-decided without the reason delinquent: %v", l.Reasons)
	}
}
