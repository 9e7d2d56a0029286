package storetest

import (
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	register("LifecycleFineract", testLifecycleFineract)
}

// testLifecycleFineract walks the Fineract 12,000 / 24% / 4-month loan
// through a paid installment, a missed one (DPD, penalty, freeze), and an
// early payoff. The arithmetic of every expected figure is in
// loans/testdata/lifecycle.md.
func testLifecycleFineract(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2011-09-20")
	line(t, s, "m1", 2_000_000, "0.24")
	l := termLoan(t, s, "m1", 1_200_000, "0.24", 4, "2011-09-20")
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sched) != 4 || sched[0].PrincipalMinor != 291149 || sched[3].InterestMinor != 6179 {
		t.Fatalf("schedule %+v", sched)
	}
	cl, _ := s.CreditLine(ctx, "m1")
	if cl.DrawnMinor != 1_200_000 || cl.AvailableMinor != 800_000 {
		t.Fatalf("line after disbursement %+v", cl)
	}
	// Installment 1 paid on its due date: 240.00 interest (not yet accrued:
	// straight to income), 2911.49 principal.
	clk.advance("2011-10-20")
	rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "r1"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 315149, ValueDate: "2011-10-20"})
	if err != nil {
		t.Fatal(err)
	}
	if a := rp.Allocation; a.CurrentInterestMinor != 24000 || a.CurrentPrincipalMinor != 291149 || a.TotalMinor() != 315149 {
		t.Fatalf("allocation %+v", a)
	}
	// Replay returns the identical result; same key, other amount is refused.
	again, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "r1"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 315149, ValueDate: "2011-10-20"})
	if err != nil || again.ID != rp.ID || again.EntryID != rp.EntryID {
		t.Fatalf("replay %+v %v", again, err)
	}
	_, err = s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "r1"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 100, ValueDate: "2011-10-20"})
	wantCode(t, err, lend.EUNPROCESSABLE)

	// Installment 2 (due 20 Nov) is missed. Close through 25 Nov: DPD 5.
	rep, err := s.CloseOfBusiness(ctx, day("2011-11-25"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.From != "2011-09-20" || rep.Days != 67 {
		t.Fatalf("eod report %+v", rep)
	}
	got, _ := s.Loan(ctx, l.ID)
	// penalty: 296972 overdue × 12%/365 × 5 days (21..25 Nov) = 488.17 -> 488.
	if got.DPD != 5 || got.Bucket != loans.Bucket1to30 || got.PenaltyReceivableMinor != 488 || got.InterestReceivableMinor != 18177 {
		t.Fatalf("after missed installment: dpd %d bucket %s penalty %d interest %d", got.DPD, got.Bucket, got.PenaltyReceivableMinor, got.InterestReceivableMinor)
	}
	if cl, _ := s.CreditLine(ctx, "m1"); cl.Status != loans.LineFrozen || cl.AvailableMinor != 0 {
		t.Fatalf("line not frozen: %+v", cl)
	}
	// EOD again for the same date changes nothing.
	if rep, err := s.CloseOfBusiness(ctx, day("2011-11-25"), nil); err != nil || rep.Days != 0 {
		t.Fatalf("second eod %+v %v", rep, err)
	}
	mustReconcile(t, s)

	// Payoff on 26 Nov: 908851 principal + 18177 due interest + 12238×6/30 =
	// 2447.6 -> 2448 pro-rata interest of installment 3 + 488 penalty = 929964.
	q, err := s.PayoffQuote(ctx, l.ID, day("2011-11-26"))
	if err != nil {
		t.Fatal(err)
	}
	if q.PrincipalMinor != 908851 || q.InterestMinor != 18177+2448 || q.PenaltyMinor != 488 || q.TotalMinor != 929964 {
		t.Fatalf("payoff %+v", q)
	}
	_, err = s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "over"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 929965, ValueDate: "2011-11-26"})
	wantCode(t, err, lend.EUNPROCESSABLE)
	rp, err = s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "payoff"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 929964, ValueDate: "2011-11-26"})
	if err != nil {
		t.Fatal(err)
	}
	want := loans.Allocation{PenaltyMinor: 488, OverdueInterestMinor: 18177, OverduePrincipalMinor: 296972, CurrentInterestMinor: 2448,
		CurrentPrincipalMinor: 302911, PrepaidPrincipalMinor: 308968}
	if rp.Allocation != want || rp.After.Status != loans.LoanPaidOff {
		t.Fatalf("payoff allocation %+v status %s, want %+v", rp.Allocation, rp.After.Status, want)
	}
	if cl, _ := s.CreditLine(ctx, "m1"); cl.Status != loans.LineActive || cl.DrawnMinor != 0 {
		t.Fatalf("line after payoff: %+v", cl)
	}
	_, err = s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "late"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 1})
	wantCode(t, err, lend.ECONFLICT)
	mustReconcile(t, s)
}
