package storetest

// Review of commit 9fbb2e5 (revolving statements billed by a payment that
// finds close of business behind; overdue installments oldest first;
// earlier-dated revolving payments and quotes refused; grace ≤ 27 days;
// revolving balance_after). Tests marked "Finding" failed on 9fbb2e5 (fixed since) and say
// the right figure; the others pin behaviour found sound.
//
// Figures are worked by hand on revolving36k: 36,500.00 drawn at 10% on
// 2024-03-01, one day's interest 3,650,000 × 0.10 / 365 = 1,000 minor
// exactly; statements on the 1st, minimum principal max(2,500,
// ⌈3% × outstanding⌉), due 20 days later. Interest posted is the running
// exact total rounded half-even (residue carried).

import (
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	// Findings (fail on 9fbb2e5).
	register("Review9fbb2e5ChargedOffDrawBalanceAfterNotNegative", testReview9fbb2e5ChargedOffBalanceAfter)
	register("Review9fbb2e5QuoteRefusalNamesTheDateParameter", testReview9fbb2e5QuoteRefusalField)
	// Sound.
	register("Review9fbb2e5TwoPaymentsSameDayBillTheStatementOnce", testReview9fbb2e5TwoPaymentsSameDay)
	register("Review9fbb2e5PaymentOnTheStatementDayWithCloseBehind", testReview9fbb2e5PaymentOnStatementDay)
	register("Review9fbb2e5TwoStatementsPendingThenNextStatementOnTime", testReview9fbb2e5TwoStatementsPending)
	register("Review9fbb2e5PayoffWhileAStatementIsPending", testReview9fbb2e5PayoffWhilePending)
	register("Review9fbb2e5PaymentTheDayAfterTheDraw", testReview9fbb2e5DayAfterDraw)
}

// Finding. testReview9fbb2e5ChargedOffBalanceAfter: a revolving draw charged
// off with two unpaid statements (the setting of
// ReviewRevolvingChargeOffReleasesTheLine: charge-off at 30 DPD, statements
// of 02-01 and 03-01, each 109,500 principal, charged off at close of
// business on 2025-03-23). Charge-off sets principal_outstanding_minor to 0
// but leaves the statements unpaid, and SetRevolvingBalancesAfter subtracts
// their unpaid principal from that 0: GET /v1/loans/{id}/schedule (and
// `lend schedule`) shows balance_after_minor 0 − 109,500 = −109,500 and
// 0 − 109,500 − 109,500 = −219,000. A principal balance is never negative.
// Right: the draw has no principal outstanding once charged off (it is all
// in charged_off_minor), so nothing is left once a statement is paid:
// 0 for both (clamped at 0; equally defensible would be the figures before
// charge-off, 3,540,500 and 3,431,000, but never a negative one).
func testReview9fbb2e5ChargedOffBalanceAfter(t *testing.T, open Opener) {
	s, clk := rrOpen(t, open, loans.Policy{ChargeOffDPD: 30}, "2025-01-01")
	line(t, s, "m1", 10_000_000, "0.10")
	l := rrDraw(t, s, "m1", 3_650_000, "2025-01-01", "draw")
	closeThrough(t, s, clk, "2025-03-23", "2025-03-24")
	if got := rrLoan(t, s, l.ID); got.Status != loans.LoanChargedOff || got.PrincipalOutstandingMinor != 0 {
		t.Fatalf("on 03-23: %s principal %d, want charged_off, 0", got.Status, got.PrincipalOutstandingMinor)
	}
	wantStatements(t, s, l.ID, statement{"2025-02-21", 109_500, 32_000, 0, 0}, statement{"2025-03-21", 109_500, 28_000, 0, 0})
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range sched {
		if in.BalanceAfterMinor != 0 {
			t.Errorf("charged-off draw: statement %d balance_after_minor %d, want 0 (no principal outstanding; never negative)", i+1, in.BalanceAfterMinor)
		}
	}
}

// Finding (minor). testReview9fbb2e5QuoteRefusalField: GET
// /v1/loans/{id}/payoff?date= takes the day as `date`, and a closed day is
// refused naming `date`; a day before a later-dated payment (new in
// 9fbb2e5 for revolving draws: ValidateValueDate now refuses it for quotes)
// is refused naming `value_date`, a field the request does not have.
// Scenario: close of business through 2024-03-31, a payment of 100.00 dated
// 04-03 posts 04-01 and 04-02; a quote for 04-02 is then refused (400,
// right: no payment can take 04-02) but should name `date`.
func testReview9fbb2e5QuoteRefusalField(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	closeThrough(t, s, clk, "2024-03-31", "2024-04-03")
	rrMustPay(t, s, "m1", l.ID, 10_000, "2024-04-03", "p")
	_, err := s.PayoffQuote(ctx, l.ID, day("2024-04-02"))
	if err == nil {
		t.Fatal("quote for 04-02 after a payment dated 04-03 was given; want refused")
	}
	if f := lend.ErrorField(err); f != "date" {
		t.Errorf("quote refused naming %q, want \"date\" (the quote's parameter): %v", f, err)
	}
}

// testReview9fbb2e5TwoPaymentsSameDay: close of business through 03-31, two
// payments dated 04-03. The first posts 04-01 and 04-02 (2,000) and bills
// 04-01's statement: interest 03-01 .. 04-01 = 32 × 1,000 = 32,000,
// principal 109,500, due 04-21. It pays 100,000: 32,000 interest, 68,000
// principal (current). The second, 50,000, finds nothing to catch up and
// no statement to bill: 109,500 − 68,000 = 41,500 principal, then 1,000
// unbilled interest (04-02), then 7,500 principal →
// 3,650,000 − 68,000 − 41,500 − 7,500 = 3,533,000 outstanding, interest 0.
// Close of business through 04-22 bills nothing more, nobody is past due,
// and posts 04-03 .. 04-22 (20 days) at 3,533,000 × 0.10 / 365:
// 7,066,000 / 365 = 19,358.90 → 19,359. On 05-01 statement 2: interest
// 04-03 .. 05-01 = 29 days, 10,245,700 / 365 = 28,070.41 → 28,070;
// principal ⌈3% × 3,533,000⌉ = 105,990; due 05-21.
func testReview9fbb2e5TwoPaymentsSameDay(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	active := loans.LoanActive
	closeThrough(t, s, clk, "2024-03-31", "2024-04-03")
	a := rrMustPay(t, s, "m1", l.ID, 100_000, "2024-04-03", "p1").Allocation
	if a.CurrentInterestMinor != 32_000 || a.CurrentPrincipalMinor != 68_000 || a.TotalMinor() != 100_000 {
		t.Fatalf("first payment %+v, want 32,000 + 68,000 current", a)
	}
	a = rrMustPay(t, s, "m1", l.ID, 50_000, "2024-04-03", "p2").Allocation
	if a.CurrentPrincipalMinor != 41_500 || a.UnbilledInterestMinor != 1_000 || a.PrepaidPrincipalMinor != 7_500 || a.TotalMinor() != 50_000 {
		t.Fatalf("second payment %+v, want 41,500 current principal, 1,000 unbilled interest, 7,500 principal", a)
	}
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000})
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_533_000}, loans.LineActive)
	closeThrough(t, s, clk, "2024-04-22", "2024-04-23")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000})
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_533_000, InterestReceivableMinor: 19_359}, loans.LineActive)
	closeThrough(t, s, clk, "2024-05-01", "2024-05-02")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000}, statement{"2024-05-21", 105_990, 28_070, 0, 0})
	mustReconcile(t, s)
}

// testReview9fbb2e5PaymentOnStatementDay: close of business through 03-30,
// a payment of 2,000.00 dated 04-01, the statement day itself. It posts
// 03-31 only (interest 03-01 .. 03-31 = 31,000, all unbilled) and bills
// nothing (04-01 is not closed; the statement is cut at its close, after
// the day's payments): 31,000 interest, 169,000 principal → 3,481,000.
// Close of business on 04-01 then accrues 04-01 on 3,481,000:
// 348,100 / 365 = 953.70 → 954, and bills statement 1 once: interest 954,
// principal ⌈3% × 3,481,000⌉ = 104,430, due 04-21 — what it bills when it
// ran on time through 03-31 before the payment.
func testReview9fbb2e5PaymentOnStatementDay(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	active := loans.LoanActive
	closeThrough(t, s, clk, "2024-03-30", "2024-04-01")
	a := rrMustPay(t, s, "m1", l.ID, 200_000, "2024-04-01", "p").Allocation
	if a.UnbilledInterestMinor != 31_000 || a.PrepaidPrincipalMinor != 169_000 || a.TotalMinor() != 200_000 {
		t.Fatalf("payment on the statement day %+v, want 31,000 unbilled interest + 169,000 principal", a)
	}
	wantStatements(t, s, l.ID)
	closeThrough(t, s, clk, "2024-04-01", "2024-04-02")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 104_430, 954, 0, 0})
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_481_000, InterestReceivableMinor: 954}, loans.LineActive)
	mustReconcile(t, s)
}

// testReview9fbb2e5TwoStatementsPending: close of business through 03-31
// and today 05-03: two statement days (04-01, 05-01) not closed. A payment
// of 141,896 dated 05-03 posts 04-01 .. 05-02 (32 days, 32,000; interest
// receivable 63,000) and bills both, as close of business would:
//
//	statement 1, 04-01: interest 03-01 .. 04-01 = 32,000; principal
//	  ⌈3% × 3,650,000⌉ = 109,500; due 04-21.
//	statement 2, 05-01: interest 04-02 .. 05-01 = 30,000; principal
//	  109,500 (outstanding still 3,650,000); due 05-21.
//
// and posts the penalty interest close of business would have charged on
// statement 1's principal, past due 04-22 .. 05-02: 11 × 36 = 396 (109,500
// × 0.12 / 365 = 36 a day exactly). Statement 1 is overdue on 05-03 and the
// payment settles it after that penalty: 396 penalty, 32,000 overdue
// interest, 109,500 overdue principal. Outstanding 3,540,500 (970 a day
// exactly), interest 31,000 (statement 2's 30,000 + 05-02's 1,000), DPD 0.
// The next statement date moved to 06-01, not drifted:
// close of business through 06-01 bills nothing on 04-01 or 05-01 again and
// bills statement 3 on 06-01: interest 1,000 + 05-03 .. 06-01 (30 days ×
// 970 = 29,100) = 30,100; principal ⌈3% × 3,540,500⌉ = 106,215; due 06-21.
// Statement 2, unpaid, makes the draw 06-01 − 05-21 = 11 days past due with
// 11 × 36 = 396 penalty (109,500 × 0.12 / 365 = 36 a day exactly).
func testReview9fbb2e5TwoStatementsPending(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	closeThrough(t, s, clk, "2024-03-31", "2024-05-03")
	rp := rrMustPay(t, s, "m1", l.ID, 141_896, "2024-05-03", "p")
	a := rp.Allocation
	if a.PenaltyMinor != 396 || a.OverdueInterestMinor != 32_000 || a.OverduePrincipalMinor != 109_500 || a.TotalMinor() != 141_896 {
		t.Fatalf("allocation %+v, want penalty 396 and statement 1 (32,000 + 109,500) as overdue", a)
	}
	if rp.After.DPD != 0 || rp.After.PrincipalOutstandingMinor != 3_540_500 || rp.After.InterestReceivableMinor != 31_000 {
		t.Fatalf("after the payment %+v, want DPD 0, 3,540,500, interest 31,000", rp.After)
	}
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000}, statement{"2024-05-21", 109_500, 30_000, 0, 0})
	closeThrough(t, s, clk, "2024-05-02", "2024-05-03")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000}, statement{"2024-05-21", 109_500, 30_000, 0, 0})
	if got := rrLoan(t, s, l.ID); got.InterestReceivableMinor != 31_000 || got.DPD != 0 || got.PrincipalOutstandingMinor != 3_540_500 {
		t.Fatalf("after close of business through 05-02: %+v", got.Balances())
	}
	closeThrough(t, s, clk, "2024-06-01", "2024-06-02")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000}, statement{"2024-05-21", 109_500, 30_000, 0, 0},
		statement{"2024-06-21", 106_215, 30_100, 0, 0})
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: loans.LoanActive, PrincipalOutstandingMinor: 3_540_500, InterestReceivableMinor: 60_100,
		PenaltyReceivableMinor: 396, DPD: 11}, loans.LineFrozen)
	mustReconcile(t, s)
}

// testReview9fbb2e5PayoffWhilePending: close of business through 03-31,
// quote for 04-03: 3,650,000 + 31,000 + 04-01 and 04-02 (2,000) =
// 3,683,000. Paying it bills 04-01's statement (32,000 + 109,500) and pays
// it, then the unbilled 1,000 and 3,540,500: the draw is paid off, the line
// undrawn; close of business through 04-05 bills nothing on a closed draw.
func testReview9fbb2e5PayoffWhilePending(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	closeThrough(t, s, clk, "2024-03-31", "2024-04-03")
	q, err := s.PayoffQuote(ctx, l.ID, day("2024-04-03"))
	if err != nil {
		t.Fatal(err)
	}
	if q.PrincipalMinor != 3_650_000 || q.InterestMinor != 33_000 || q.TotalMinor != 3_683_000 {
		t.Fatalf("quote %+v, want 3,650,000 + 33,000 = 3,683,000", q)
	}
	rp := rrMustPay(t, s, "m1", l.ID, q.TotalMinor, "2024-04-03", "payoff")
	a := rp.Allocation
	if rp.After.Status != loans.LoanPaidOff || a.CurrentInterestMinor != 32_000 || a.CurrentPrincipalMinor != 109_500 ||
		a.UnbilledInterestMinor != 1_000 || a.PrepaidPrincipalMinor != 3_540_500 {
		t.Fatalf("payoff %+v after %+v", a, rp.After)
	}
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000})
	closeThrough(t, s, clk, "2024-04-05", "2024-04-06")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000})
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: loans.LoanPaidOff}, loans.LineActive)
	mustReconcile(t, s)
}

// testReview9fbb2e5DayAfterDraw: no close of business yet, a payment of
// 1,010.00 dated 03-02, the day after the draw: it posts 03-01 (1,000) and
// pays it, then 100,000 principal → 3,550,000. Close of business through
// 04-01 posts 03-02 .. 04-01 (31 days) at 3,550,000 × 0.10 / 365:
// 11,005,000 / 365 = 30,150.68 → 30,151, and bills statement 1 on 04-01
// once: interest 30,151, principal ⌈3% × 3,550,000⌉ = 106,500, due 04-21.
func testReview9fbb2e5DayAfterDraw(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	clk.advance("2024-03-02")
	a := rrMustPay(t, s, "m1", l.ID, 101_000, "2024-03-02", "p").Allocation
	if a.UnbilledInterestMinor != 1_000 || a.PrepaidPrincipalMinor != 100_000 {
		t.Fatalf("allocation %+v, want 1,000 interest (03-01) + 100,000 principal", a)
	}
	closeThrough(t, s, clk, "2024-04-01", "2024-04-02")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 106_500, 30_151, 0, 0})
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: loans.LoanActive, PrincipalOutstandingMinor: 3_550_000, InterestReceivableMinor: 30_151}, loans.LineActive)
	mustReconcile(t, s)
}
