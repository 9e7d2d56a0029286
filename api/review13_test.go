package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/loans"
)

// TestStaleFrozenLineSaysWhy: a merchant whose line the nightly refresh froze
// for stale data (missing from the sales features) is told so. An
// application is declined with line_frozen followed by no_recent_sales_data
// (not a past-due loan it does not have), and a draw is refused with 409
// whose message names stale_data and what lifts it. m_B's line (seeded
// active, as-of 2025-03-30) is frozen through the store's own
// FreezeStaleLines with that as-of.
func TestStaleFrozenLineSaysWhy(t *testing.T) {
	e := newLoansEnv(t)
	frozen, err := e.loans.FreezeStaleLines(context.Background(), []loans.StaleLine{{MerchantID: "m_B", AsOf: "2025-03-30"}})
	if err != nil || !slices.Equal(frozen, []string{"m_B"}) {
		t.Fatalf("freeze m_B: %v, %v", frozen, err)
	}
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchB, map[string]any{"amount_minor": 10_000, "term_months": 3}, "app-stale", &app)
	if app.Decision != loans.DecisionDeclined || len(app.Reasons) < 2 ||
		app.Reasons[0] != api.ReasonLineFrozen || app.Reasons[1] != api.ReasonNoRecentSales || app.Offer != nil {
		t.Fatalf("application on a stale-frozen line: decision %s reasons %v", app.Decision, app.Reasons)
	}
	st, body := e.call("POST", "/v1/merchants/m_B/draws", e.merchB, map[string]any{"amount_minor": 1_000}, "draw-stale")
	if st != http.StatusConflict || !strings.Contains(string(body), "stale_data") || !strings.Contains(string(body), "sales data") {
		t.Fatalf("draw on a stale-frozen line: %d %s", st, body)
	}
}
