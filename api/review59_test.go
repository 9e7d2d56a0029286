package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/loans"
)

// TestReview59StaleFrozenDelinquentApplication: m_B takes a 6-month term
// loan of 1,000.00 on 2025-01-02 (first installment due 2025-02-02); its
// line is then frozen for stale data, and close of business through
// 2025-03-15 leaves that loan past due without touching the stale_data
// freeze (it freezes active lines only). An application must not be
// declined with no_recent_sales_data, which tells m_B that sending sales
// data will lift the freeze: the nightly refresh keeps it frozen, for
// delinquency (loans.MerchantDelinquent). It is declined line_frozen,
// as on a delinquency freeze.
func TestReview59StaleFrozenDelinquentApplication(t *testing.T) {
	e := newLoansEnv(t)
	ctx := context.Background()
	line, err := e.loans.CreditLine(ctx, "m_B")
	if err != nil {
		t.Fatal(err)
	}
	app, err := e.loans.CreateApplication(ctx, loans.Cmd{MerchantID: "m_B", IdempotencyKey: "app59"},
		loans.Application{Currency: "USD", AmountMinor: 100_000, TermPeriods: 6, Decision: loans.DecisionApproved,
			Offer: &loans.Offer{AmountMinor: 100_000, APR: line.APR, TermPeriods: 6}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.loans.AcceptApplication(ctx, loans.Cmd{MerchantID: "m_B", IdempotencyKey: "acc59"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2025-01-02"}); err != nil {
		t.Fatal(err)
	}
	if frozen, err := e.loans.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m_B", AsOf: "2025-03-30"}}); err != nil || len(frozen) != 1 {
		t.Fatalf("freeze m_B: %v, %v", frozen, err)
	}
	through, _ := time.Parse(loans.DateLayout, "2025-03-15")
	if _, err := e.loans.CloseOfBusiness(ctx, through, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := e.loans.CreditLine(ctx, "m_B"); l.FrozenReason != loans.FrozenByStaleData {
		t.Fatalf("after close of business %+v; want stale_data still", l)
	}
	var got appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchB, map[string]any{"amount_minor": 10_000, "term_months": 3}, "app-59", &got)
	if got.Decision != loans.DecisionDeclined || len(got.Reasons) == 0 || got.Reasons[0] != api.ReasonLineFrozen ||
		slices.Contains(got.Reasons, api.ReasonNoRecentSales) {
		t.Fatalf("application of a delinquent merchant on a stale-frozen line: %s %v; want declined line_frozen without %s",
			got.Decision, got.Reasons, api.ReasonNoRecentSales)
	}
	// The draw's 409 comes from the store, which keeps the stale_data reason
	// (close of business does not re-freeze it): it must not promise that
	// sales data alone lifts the freeze.
	st, body := e.call("POST", "/v1/merchants/m_B/draws", e.merchB, map[string]any{"amount_minor": 1_000}, "draw-59")
	if st != http.StatusConflict || !strings.Contains(string(body), "unless a loan is past due") {
		t.Fatalf("draw: %d %s; want 409 saying the freeze stays while a loan is past due", st, body)
	}
}
