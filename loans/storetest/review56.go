package storetest

import (
	"testing"

	"github.com/lendhq/lend/loans"
)

func init() {
	register("Review56UnfreezeInHistory", testReview56UnfreezeInHistory)
}

// testReview56UnfreezeInHistory: m1's line (the line helper: 1,000.00 at
// 24%, grade B, model m1, as-of 2011-09-01) is frozen for stale data (history:
// new, frozen). Fresh data that happens to say exactly what the line already
// says (same limit, APR, assessment and as-of: e.g. a real-time re-decision
// wrote that as-of and assessment onto the frozen line, and the nightly run
// for that as-of agrees) still lifts the freeze: the line is active again and
// can be drawn on, so that change must be in the trail. Want a third entry,
// source refresh, change unchanged (1,000.00 -> 1,000.00), no guard rail.
func testReview56UnfreezeInHistory(t *testing.T, open Opener) {
	s := openAt(t, open, "2011-09-20")
	line(t, s, "m1", 100_000, "0.24")
	l := mustLine(t, s, "m1")
	if got, err := s.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m1", AsOf: l.AsOf}}); err != nil || len(got) != 1 {
		t.Fatalf("freeze: %v %v", got, err)
	}
	same := loans.CreditLineUpdate{MerchantID: "m1", Currency: l.Currency, LimitMinor: l.LimitMinor, APR: l.APR, Grade: l.Grade,
		Score: l.Score, PD: l.PD, Reasons: l.Reasons, ModelID: l.ModelID, AsOf: l.AsOf}
	sum, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{same})
	if err != nil || sum.Unfrozen != 1 || sum.Unchanged != 1 {
		t.Fatalf("fresh data: %+v %v; want 1 unfrozen, 1 unchanged", sum, err)
	}
	if got := mustLine(t, s, "m1"); got.Status != loans.LineActive || got.FrozenReason != "" {
		t.Fatalf("line %+v; want active", got)
	}
	page, _, err := s.CreditLineHistory(ctx, "m1", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 3 {
		t.Fatalf("history %+v: %d entries, want 3 (new, frozen, the lift)", page, len(page))
	}
	if h := page[0]; h.Source != loans.SourceRefresh || h.Change != "unchanged" || h.GuardRail != "" ||
		h.PrevLimitMinor != 100_000 || h.LimitMinor != 100_000 {
		t.Fatalf("lift entry %+v; want refresh, unchanged, 100000 -> 100000, no guard rail", h)
	}
}
