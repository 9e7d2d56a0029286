package storetest

import (
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	register("HistoryGuardRails", testHistoryGuardRails)
	register("HistoryFrozenLineKeepsLimit", testHistoryFrozenLineKeepsLimit)
	register("HistoryRefreshRecorded", testHistoryRefreshRecorded)
	register("HistoryCapRoundsToStep", testHistoryCapRoundsToStep)
}

// testHistoryCapRoundsToStep: a limit capped by the daily bound is rounded
// down to the policy's limit step (1000.00 + 234.56 → 1200.00 with a step of
// 100.00), and a step that does not fit the field is refused by name.
func testHistoryCapRoundsToStep(t *testing.T, open Opener) {
	s := openAt(t, open, "2024-03-01")
	line(t, s, "m1", 100_000, "0.18")
	d := decision(200_000, 23_456, day("2024-03-01").Add(10*time.Hour))
	d.LimitStepMinor = 10_000
	apply(t, s, d, 120_000, "raised", loans.GuardDailyIncreaseCap)
	d.LimitStepMinor = -1
	_, err := s.ApplyLineDecision(ctx, d)
	wantCode(t, err, lend.EINVALID)
	if lend.ErrorField(err) != "limit_step_minor" {
		t.Fatalf("negative step: field %q", lend.ErrorField(err))
	}
}

// decision is a real-time re-decision of m1 proposing limitMinor at now.
func decision(limitMinor, maxDailyMinor int64, now time.Time) loans.LineDecision {
	r, _ := loans.ParseRate("apr", "0.20")
	return loans.LineDecision{Line: loans.CreditLineUpdate{MerchantID: "m1", Currency: "EUR", LimitMinor: limitMinor, APR: r,
		Grade: "C", Score: 610, PD: 0.031, Reasons: []string{"refund_rate_high"}, ModelID: "m2", AsOf: "2024-03-02"},
		MaxDailyIncreaseMinor: maxDailyMinor, Now: now}
}

func apply(t testing.TB, s loans.Store, d loans.LineDecision, wantLimit int64, wantChange, wantGuard string) loans.CreditLineChange {
	t.Helper()
	c, err := s.ApplyLineDecision(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if c.LimitMinor != wantLimit || c.Change != wantChange || c.GuardRail != wantGuard || c.ProposedLimitMinor != d.Line.LimitMinor ||
		c.Source != loans.SourceRealtime || c.ID <= 0 || !c.At.Equal(d.Now) {
		t.Fatalf("proposed %d: got limit %d change %q guard %q (%+v); want %d %q %q", d.Line.LimitMinor, c.LimitMinor, c.Change, c.GuardRail, c, wantLimit, wantChange, wantGuard)
	}
	cl, err := s.CreditLine(ctx, "m1")
	if err != nil || cl.LimitMinor != wantLimit {
		t.Fatalf("stored line %+v %v, want limit %d", cl, err, wantLimit)
	}
	return c
}

// testHistoryGuardRails: an increase is capped at the day's opening limit
// plus the daily bound (however many re-decisions that day), a decrease is
// immediate but stops at what is drawn, the next day's bound starts from
// that day's opening limit, and every call is in the history, newest first,
// paged.
func testHistoryGuardRails(t *testing.T, open Opener) {
	s := openAt(t, open, "2024-03-01")
	line(t, s, "m1", 100_000, "0.18") // 1000.00 opened on 1 March (history: new)
	if _, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d1"}, loans.DrawRequest{AmountMinor: 30_000, Currency: "EUR", On: "2024-03-01"}); err != nil {
		t.Fatal(err)
	}
	at := func(d string, h int) time.Time { return day(d).Add(time.Duration(h) * time.Hour) }
	// Opening limit of 1 March is 1000.00 (the line opened that day): cap 1000 + 200 = 1200.
	c := apply(t, s, decision(200_000, 20_000, at("2024-03-01", 10)), 120_000, "raised", loans.GuardDailyIncreaseCap)
	if c.PrevLimitMinor != 100_000 || c.DrawnMinor != 30_000 || c.APR != 200_000 || c.PrevAPR != 180_000 || c.Grade != "C" || c.ModelID != "m2" || len(c.Reasons) != 1 {
		t.Fatalf("change %+v", c)
	}
	apply(t, s, decision(200_000, 20_000, at("2024-03-01", 11)), 120_000, "unchanged", loans.GuardDailyIncreaseCap)
	// Below drawn: floored at the 300.00 drawn, at once.
	apply(t, s, decision(10_000, 20_000, at("2024-03-01", 12)), 30_000, "lowered", loans.GuardDrawnFloor)
	// Recovering the same day: still bounded by the day's opening 1000.00 + 200.00.
	apply(t, s, decision(200_000, 20_000, at("2024-03-01", 13)), 120_000, "raised", loans.GuardDailyIncreaseCap)
	// A proposal within the bound is taken as is.
	apply(t, s, decision(110_000, 20_000, at("2024-03-01", 14)), 110_000, "lowered", "")
	// 2 March opens at 1100.00: cap 1300.00.
	apply(t, s, decision(200_000, 20_000, at("2024-03-02", 9)), 130_000, "raised", loans.GuardDailyIncreaseCap)
	// No automatic increase at all with a zero bound.
	apply(t, s, decision(200_000, 0, at("2024-03-02", 10)), 130_000, "unchanged", loans.GuardDailyIncreaseCap)
	cl, _ := s.CreditLine(ctx, "m1")
	if cl.AvailableMinor != 100_000 || cl.APR != 200_000 || cl.Status != loans.LineActive {
		t.Fatalf("line %+v", cl)
	}

	// The audit trail: 7 re-decisions and the refresh that opened the line, newest first.
	var all []loans.CreditLineChange
	cursor := ""
	for pages := 0; ; pages++ {
		page, next, err := s.CreditLineHistory(ctx, "m1", 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 || pages > 3 {
			t.Fatalf("page of %d, %d pages", len(page), pages)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	wantLimits := []int64{130_000, 130_000, 110_000, 120_000, 30_000, 120_000, 120_000, 100_000}
	if len(all) != len(wantLimits) {
		t.Fatalf("history has %d entries, want %d: %+v", len(all), len(wantLimits), all)
	}
	for i, c := range all {
		if c.LimitMinor != wantLimits[i] || (i > 0 && c.ID >= all[i-1].ID) {
			t.Fatalf("history[%d] = %+v, want limit %d, ids decreasing", i, c, wantLimits[i])
		}
	}
	if last := all[len(all)-1]; last.Source != loans.SourceRefresh || last.Change != "new" || last.PrevLimitMinor != 0 {
		t.Fatalf("oldest entry %+v", last)
	}
	if page, next, err := s.CreditLineHistory(ctx, "nobody", 0, ""); err != nil || len(page) != 0 || next != "" {
		t.Fatalf("unknown merchant history %v %q %v", page, next, err)
	}
	_, _, err := s.CreditLineHistory(ctx, "m1", 0, "%%%")
	wantCode(t, err, lend.EINVALID)
	_, _, err = s.CreditLineHistory(ctx, "m1", loans.MaxPageSize+1, "")
	wantCode(t, err, lend.EINVALID)

	// Refusals change nothing and record nothing.
	d := decision(1, 20_000, at("2024-03-02", 11))
	d.Line.MerchantID = "nobody"
	_, err = s.ApplyLineDecision(ctx, d)
	wantCode(t, err, lend.ENOTFOUND)
	_, err = s.ApplyLineDecision(ctx, decision(-1, 20_000, at("2024-03-02", 11)))
	wantCode(t, err, lend.EINVALID)
	_, err = s.ApplyLineDecision(ctx, decision(1, -1, at("2024-03-02", 11)))
	wantCode(t, err, lend.EINVALID)
	if page, _, _ := s.CreditLineHistory(ctx, "m1", 0, ""); len(page) != len(wantLimits) {
		t.Fatalf("a refused decision was recorded: %d entries", len(page))
	}
}

// testHistoryFrozenLineKeepsLimit: a line frozen by delinquency keeps its
// limit, price and status whatever the re-decision asks, and the call is
// recorded with the frozen guard rail.
func testHistoryFrozenLineKeepsLimit(t *testing.T, open Opener) {
	s := openAt(t, open, "2011-09-20")
	line(t, s, "m1", 2_000_000, "0.24")
	termLoan(t, s, "m1", 1_200_000, "0.24", 4, "2011-09-20")
	// The first installment (20 Oct) is missed: close of business freezes the line.
	if _, err := s.CloseOfBusiness(ctx, day("2011-10-25"), nil); err != nil {
		t.Fatal(err)
	}
	before, _ := s.CreditLine(ctx, "m1")
	if before.Status != loans.LineFrozen {
		t.Fatalf("line not frozen: %+v", before)
	}
	now := day("2011-10-26").Add(9 * time.Hour)
	for _, proposed := range []int64{5_000_000, 0} {
		c, err := s.ApplyLineDecision(ctx, decision(proposed, 1_000_000, now))
		if err != nil {
			t.Fatal(err)
		}
		if c.Change != "frozen" || c.GuardRail != loans.GuardFrozen || c.LimitMinor != 2_000_000 || c.PrevLimitMinor != 2_000_000 || c.APR != before.APR {
			t.Fatalf("proposed %d on a frozen line: %+v", proposed, c)
		}
		after, _ := s.CreditLine(ctx, "m1")
		if after.Status != loans.LineFrozen || after.LimitMinor != 2_000_000 || after.APR != before.APR || after.AvailableMinor != 0 {
			t.Fatalf("frozen line changed: %+v", after)
		}
	}
	page, _, err := s.CreditLineHistory(ctx, "m1", 0, "")
	if err != nil || len(page) != 3 || page[0].GuardRail != loans.GuardFrozen || page[2].Source != loans.SourceRefresh {
		t.Fatalf("history %+v %v", page, err)
	}
}

// testHistoryRefreshRecorded: the nightly refresh records each line it
// creates or changes (source refresh), and nothing for a line it leaves as is.
func testHistoryRefreshRecorded(t *testing.T, open Opener) {
	s := openAt(t, open, "2024-03-01")
	line(t, s, "m1", 100_000, "0.18")
	line(t, s, "m1", 100_000, "0.18") // identical: no change, no entry
	if _, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d1"}, loans.DrawRequest{AmountMinor: 40_000, Currency: "EUR", On: "2024-03-01"}); err != nil {
		t.Fatal(err)
	}
	line(t, s, "m1", 10_000, "0.18") // below drawn: floored at 400.00
	line(t, s, "m1", 150_000, "0.18")
	page, _, err := s.CreditLineHistory(ctx, "m1", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	type entry struct {
		change      string
		prev, limit int64
		guard       string
	}
	want := []entry{{"raised", 40_000, 150_000, ""}, {"lowered", 100_000, 40_000, loans.GuardDrawnFloor}, {"new", 0, 100_000, ""}}
	if len(page) != len(want) {
		t.Fatalf("history %+v", page)
	}
	for i, w := range want {
		c := page[i]
		got := entry{c.Change, c.PrevLimitMinor, c.LimitMinor, c.GuardRail}
		if got != w || c.Source != loans.SourceRefresh || c.ModelID != "m1" {
			t.Fatalf("history[%d] = %+v, want %+v", i, c, w)
		}
	}
	if page[1].ProposedLimitMinor != 10_000 || page[1].DrawnMinor != 40_000 {
		t.Fatalf("floored entry %+v", page[1])
	}
}
