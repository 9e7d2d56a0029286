package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// TestRefreshKeepsDelinquentLineFrozen runs the real lifecycle on a real
// SQLite file: refresh, a merchant draws its whole line as a term loan, misses
// its first installment (close of business freezes the line), and the next
// refresh leaves the line frozen at the same limit while every other line is
// unchanged.
func TestRefreshKeepsDelinquentLineFrozen(t *testing.T) {
	feat, eng := demoFixture(t)
	st := openStore(t)
	ctx := context.Background()
	first, err := RefreshLimits(ctx, RefreshOptions{Features: feat, Engine: eng, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	id, err := firstApproved(ctx, st)
	if err != nil || id == "" {
		t.Fatalf("no approved merchant: %q %v", id, err)
	}
	before, err := st.CreditLine(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	app, err := st.CreateApplication(ctx, loans.Cmd{MerchantID: id, IdempotencyKey: "app-1"},
		loans.Application{Currency: before.Currency, AmountMinor: before.LimitMinor, TermPeriods: 6, Decision: loans.DecisionApproved,
			Offer: &loans.Offer{AmountMinor: before.LimitMinor, APR: before.APR, TermPeriods: 6}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AcceptApplication(ctx, loans.Cmd{MerchantID: id, IdempotencyKey: "acc-1"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2026-01-02"}); err != nil {
		t.Fatal(err)
	}
	// The first installment falls due about a month after disbursement and is
	// not paid; closing through mid-March leaves the loan past due.
	through, _ := time.Parse(loans.DateLayout, "2026-03-15")
	if _, err := st.CloseOfBusiness(ctx, through, nil); err != nil {
		t.Fatal(err)
	}
	frozen, err := st.CreditLine(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if frozen.Status != loans.LineFrozen {
		t.Fatalf("line after a missed installment = %+v; want frozen", frozen)
	}
	second, err := RefreshLimits(ctx, RefreshOptions{Features: feat, Engine: eng, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	// One line frozen; the other first.New - 1 lines unchanged; declined as before.
	if second.Frozen != 1 || second.Unchanged != first.New-1 || second.Declined != first.Declined || second.New+second.Raised+second.Lowered != 0 {
		t.Errorf("second refresh = %+v; want 1 frozen, %d unchanged, %d declined", second, first.New-1, first.Declined)
	}
	after, err := st.CreditLine(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != loans.LineFrozen || after.LimitMinor != before.LimitMinor || after.DrawnMinor != frozen.DrawnMinor {
		t.Errorf("after refresh = %+v; want frozen, limit %d, drawn %d", after, before.LimitMinor, frozen.DrawnMinor)
	}
}
