package pipeline

import (
	"context"
	"testing"

	"github.com/lendhq/lend/loans"
)

// TestReview56CuredWhileStale: m3 is stale-frozen on 2024-01-05 (4 days
// without features), then misses its term loan's first installment (close
// of business through 2026-03-15 leaves the stale_data reason: it freezes
// only active lines) and repays everything it owes on 2026-03-16. The cure
// lifts only delinquency freezes, so the line stays frozen for stale data;
// the merchant is not delinquent any more (no loan past due, none charged
// off), so when it is back in the file the refresh makes the line active,
// reason cleared, as-of the run's, like a never-frozen line (m1's limit for
// the same row), and counts it unfrozen.
func TestReview56CuredWhileStale(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	all := review46File(t, "all.csv", review46Head, review46Row("m1", "400"), review46Row("m3", "400"))
	one := review46File(t, "one.csv", review46Head, review46Row("m1", "400"))
	back := review46File(t, "back.csv", review46Head, review54Sales("m1"), review54Sales("m3"))
	review54Run(t, st, all, "2024-01-01", nil)
	review54Delinquent(t, st, "m3")
	if s := review54Run(t, st, one, "2024-01-05", nil); s.StaleFrozen != 1 {
		t.Fatalf("%+v; want m3 stale-frozen", s)
	}
	review54Close(t, st)
	page, _, err := st.ListLoans(ctx, loans.LoanFilter{MerchantID: "m3"})
	if err != nil || len(page) != 1 || page[0].DPD == 0 {
		t.Fatalf("m3 loans %+v %v; want one past due", page, err)
	}
	l := page[0]
	owed := l.PrincipalOutstandingMinor + l.InterestReceivableMinor + l.PenaltyReceivableMinor + l.FeeReceivableMinor
	if _, err := st.Repay(ctx, loans.Cmd{MerchantID: "m3", IdempotencyKey: "cure"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: owed, ValueDate: "2026-03-16"}); err != nil {
		t.Fatal(err)
	}
	if m3 := review54Line(t, st, "m3"); m3.Status != loans.LineFrozen || m3.FrozenReason != loans.FrozenByStaleData {
		t.Fatalf("m3 after the cure %+v; want still frozen for stale_data", m3)
	}
	s := review54Run(t, st, back, "2026-03-16", nil)
	if s.Unfrozen != 1 || s.Frozen != 0 {
		t.Errorf("back: %+v; want 1 unfrozen, none frozen", s)
	}
	m1, m3 := review54Line(t, st, "m1"), review54Line(t, st, "m3")
	if m3.Status != loans.LineActive || m3.FrozenReason != "" || m3.AsOf != "2026-03-16" || m3.LimitMinor != m1.LimitMinor {
		t.Errorf("m3 back: %+v; want active, as-of 2026-03-16, limit %d (m1's)", m3, m1.LimitMinor)
	}
}
