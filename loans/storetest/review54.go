package storetest

import (
	"reflect"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	register("Review54StaleFreeze", testReview54StaleFreeze)
	register("Review54StaleToDelinquency", testReview54StaleToDelinquency)
}

// review54Update is a fresh refresh of m1 as of 2011-09-20: limit 3,000.00
// at 30%, grade A.
func review54Update() loans.CreditLineUpdate {
	r, _ := loans.ParseRate("apr", "0.30")
	return loans.CreditLineUpdate{MerchantID: "m1", Currency: "EUR", LimitMinor: 300_000, APR: r, Grade: "A", ModelID: "m2", AsOf: "2011-09-20"}
}

// testReview54StaleFreeze: m1's line (1,000.00 at 24%, as-of 2011-09-01, the
// line helper) with 200.00 drawn. A freeze naming another as-of (a line a
// concurrent refresh rewrote) freezes nothing; the right as-of freezes it
// for stale_data with limit 1,000.00 and drawn 200.00 kept and a refresh
// history entry (change frozen, reason stale_data); asking again freezes
// nothing (idempotent). A frozen line refuses a draw (ECONFLICT) and the
// acceptance of an approved 100.00 term loan (ECONFLICT, the line is
// frozen). Fresh data
// (review54Update) lifts the freeze: active, limit 3,000.00, available
// 3,000.00 - 200.00 = 2,800.00, the store counting 1 unfrozen, 1 raised.
func testReview54StaleFreeze(t *testing.T, open Opener) {
	s := openAt(t, open, "2011-09-20")
	line(t, s, "m1", 100_000, "0.24")
	line(t, s, "m2", 100_000, "0.24")
	if _, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d1"}, loans.DrawRequest{AmountMinor: 20_000, Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	before := mustLine(t, s, "m1")
	got, err := s.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m1", AsOf: "2011-09-02"}, {MerchantID: "nobody", AsOf: "2011-09-01"}})
	if err != nil || len(got) != 0 || mustLine(t, s, "m1").Status != loans.LineActive {
		t.Fatalf("freeze on another as-of: %v %v; want nothing frozen", got, err)
	}
	got, err = s.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m1", AsOf: "2011-09-01"}})
	if err != nil || !reflect.DeepEqual(got, []string{"m1"}) {
		t.Fatalf("freeze: %v %v; want [m1]", got, err)
	}
	l := mustLine(t, s, "m1")
	if l.Status != loans.LineFrozen || l.FrozenReason != loans.FrozenByStaleData || l.LimitMinor != 100_000 || l.DrawnMinor != 20_000 ||
		l.AvailableMinor != 0 || l.APR != before.APR || l.AsOf != "2011-09-01" {
		t.Fatalf("frozen line %+v", l)
	}
	if m2 := mustLine(t, s, "m2"); m2.Status != loans.LineActive {
		t.Fatalf("m2 not listed, yet %+v", m2)
	}
	page, _, err := s.CreditLineHistory(ctx, "m1", 0, "")
	if err != nil || len(page) == 0 {
		t.Fatal(page, err)
	}
	h := page[0]
	if h.Source != loans.SourceRefresh || h.Change != "frozen" || h.GuardRail != loans.GuardFrozen || h.LimitMinor != 100_000 ||
		h.PrevLimitMinor != 100_000 || h.DrawnMinor != 20_000 || !reflect.DeepEqual(h.Reasons, []string{loans.FrozenByStaleData}) {
		t.Fatalf("freeze history entry %+v", h)
	}
	if got, err := s.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m1", AsOf: "2011-09-01"}}); err != nil || len(got) != 0 {
		t.Fatalf("second freeze: %v %v; want nothing", got, err)
	}
	if n, _, _ := s.CreditLineHistory(ctx, "m1", 0, ""); len(n) != len(page) {
		t.Fatalf("second freeze recorded %d entries, want %d", len(n), len(page))
	}
	_, err = s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d2"}, loans.DrawRequest{AmountMinor: 100, Currency: "EUR"})
	wantCode(t, err, lend.ECONFLICT)
	app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app54"}, approvedApp(10_000))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc54"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2011-09-20"})
	wantCode(t, err, lend.ECONFLICT)

	sum, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{review54Update()})
	if err != nil || sum.Unfrozen != 1 || sum.StaleToDelinquency != 0 || sum.Raised != 1 || sum.Frozen != 0 {
		t.Fatalf("fresh data: %+v %v; want 1 unfrozen, 1 raised", sum, err)
	}
	l = mustLine(t, s, "m1")
	if l.Status != loans.LineActive || l.FrozenReason != "" || l.LimitMinor != 300_000 || l.AvailableMinor != 280_000 || l.AsOf != "2011-09-20" {
		t.Fatalf("unfrozen line %+v", l)
	}
	if page, _, _ := s.CreditLineHistory(ctx, "m1", 1, ""); page[0].Change != "raised" || page[0].GuardRail != "" {
		t.Fatalf("refresh entry after the lift %+v", page[0])
	}
	if _, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d3"}, loans.DrawRequest{AmountMinor: 100, Currency: "EUR"}); err != nil {
		t.Fatalf("draw on the unfrozen line: %v", err)
	}
	mustReconcile(t, s)
}

// testReview54StaleToDelinquency: m1 (line 20,000.00 at 24%) takes a
// 12,000.00 term loan on 2011-09-20; its line is then frozen for stale data.
// It misses the 20 Oct installment: close of business through 25 Oct
// freezes only active lines, so the reason stays stale_data. Fresh data
// (review54Update: 3,000.00 at 30%) then finds the merchant delinquent: the
// line stays frozen, for delinquency now, with its limit 20,000.00 and APR
// 24% (a delinquent merchant's line keeps both); the store counts 1
// stale_to_delinquency and 1 frozen, none unfrozen.
func testReview54StaleToDelinquency(t *testing.T, open Opener) {
	s := openAt(t, open, "2011-09-20")
	line(t, s, "m1", 2_000_000, "0.24")
	termLoan(t, s, "m1", 1_200_000, "0.24", 4, "2011-09-20")
	before := mustLine(t, s, "m1")
	if got, err := s.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m1", AsOf: "2011-09-01"}}); err != nil || len(got) != 1 {
		t.Fatalf("freeze: %v %v", got, err)
	}
	if _, err := s.CloseOfBusiness(ctx, day("2011-10-25"), nil); err != nil {
		t.Fatal(err)
	}
	if l := mustLine(t, s, "m1"); l.FrozenReason != loans.FrozenByStaleData {
		t.Fatalf("after close of business %+v; want still stale_data", l)
	}
	sum, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{review54Update()})
	if err != nil || sum.Unfrozen != 0 || sum.StaleToDelinquency != 1 || sum.Frozen != 1 {
		t.Fatalf("fresh data: %+v %v; want 1 stale_to_delinquency, 1 frozen", sum, err)
	}
	l := mustLine(t, s, "m1")
	if l.Status != loans.LineFrozen || l.FrozenReason != loans.FrozenByDelinquency || l.LimitMinor != 2_000_000 || l.APR != before.APR ||
		l.DrawnMinor != before.DrawnMinor || l.AsOf != "2011-09-20" || l.Grade != "A" {
		t.Fatalf("line %+v; want frozen for delinquency, limit 2,000,000, APR kept, assessment as of 2011-09-20", l)
	}
	mustReconcile(t, s)
}
