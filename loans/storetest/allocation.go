package storetest

import (
	"testing"

	"github.com/lendhq/lend/loans"
)

func init() {
	register("PaymentOfTheOldestInstallmentCuresIt", testPaymentOfTheOldestInstallmentCuresIt)
	register("PenaltyOfDaysNotClosedIsPostedOnce", testPenaltyOfDaysNotClosedIsPostedOnce)
}

// testPaymentOfTheOldestInstallmentCuresIt: a term loan two installments
// behind; the merchant pays the penalty and the oldest installment's amount.
// Overdue installments are settled one at a time, oldest first (Fineract's
// processors loop over installments), so installment 1 is paid, installment
// 2 untouched, and the delinquency age moves to installment 2. Before, all
// overdue interest was taken before any principal: installment 1 was left
// 829.08 short (installment 2's interest) and the loan stayed 33 days past
// due; a merchant paying one installment a month while one behind stayed
// delinquent from the first missed date until charge-off.
//
// loan99k (99,000.00 at 12%, 6 months from 2026-01-01, 30/360):
// installment 1 due 02-01: interest 990.00, principal 16,092.29;
// installment 2 due 03-01: interest 1% of 82,907.71 = 829.08, principal
// 17,082.29 − 829.08 = 16,253.21. Nothing paid, close of business through
// 03-05: penalty at 12% a year on overdue principal, 02-02 .. 03-01 (28 days)
// on 16,092.29 and 03-02 .. 03-05 (4 days) on 32,345.50: (28 × 1,609,229 +
// 4 × 3,234,550) × 0.12 / 365 = 19,067.38 → 190.67 (posted day by day, the
// residue carried, so the total is the exact sum rounded). DPD 03-05 −
// 02-01 = 32.
func testPaymentOfTheOldestInstallmentCuresIt(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan99k(t, s)
	closeThrough(t, s, clk, "2026-03-05", "2026-03-06")
	got, err := s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PenaltyReceivableMinor != 19_067 || got.DPD != 32 {
		t.Fatalf("before the payment: penalty %d DPD %d, want 19,067 and 32", got.PenaltyReceivableMinor, got.DPD)
	}
	a := repayOn(t, s, l.ID, 19_067+1_708_229, "2026-03-06")
	if a.PenaltyMinor != 19_067 || a.OverdueInterestMinor != 99_000 || a.OverduePrincipalMinor != 1_609_229 || a.TotalMinor() != 1_727_296 {
		t.Fatalf("allocation %+v, want penalty 19,067, installment 1's 990.00 + 16,092.29", a)
	}
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !sched[0].Paid() || sched[1].PrincipalPaidMinor != 0 || sched[1].InterestPaidMinor != 0 {
		t.Fatalf("installments 1 and 2 after the payment: %+v / %+v", sched[0], sched[1])
	}
	got, err = s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.DPD != 5 || got.Bucket != loans.Bucket1to30 {
		t.Fatalf("DPD %d bucket %s after paying installment 1, want 5 (from installment 2, due 03-01), 1-30", got.DPD, got.Bucket)
	}
	mustReconcile(t, s)
}

// testPenaltyOfDaysNotClosedIsPostedOnce: a payment arriving while close of
// business is behind posts the penalty interest of the days not yet closed,
// as close of business would have, and close of business, reaching those
// days, does not post them again.
//
// loan99k, installment 1 (990.00 + 16,092.29) due 2026-02-01 and unpaid.
// One day's penalty on 16,092.29 at 12%: 1,609,229 × 0.12 / 365 =
// 529.0616 minor. Close of business through 02-03 posts 02-02 and 02-03:
// round(1,058.12) = 1,058. On 02-06 (02-04 and 02-05 not closed) the merchant
// pays 100.00: the payment first posts 02-04 and 02-05, round(4 days =
// 2,116.25) − 1,058 = 1,058, so 2,116 is owed, and pays it; the other 78.84
// pays installment 1's interest. Close of business through 02-06 then posts
// only 02-06: round(5 days = 2,645.31) − 2,116 = 529 owed. (Posting 02-04 and
// 02-05 again would make it 1,587.)
func testPenaltyOfDaysNotClosedIsPostedOnce(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan99k(t, s)
	closeThrough(t, s, clk, "2026-02-03", "2026-02-06")
	if got, _ := s.Loan(ctx, l.ID); got.PenaltyReceivableMinor != 1_058 {
		t.Fatalf("penalty through 02-03: %d, want 1,058", got.PenaltyReceivableMinor)
	}
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-02-06"))
	if err != nil {
		t.Fatal(err)
	}
	if q.PenaltyMinor != 2_116 {
		t.Fatalf("quote on 02-06 %+v, want penalty 2,116 (02-02 .. 02-05)", q)
	}
	a := repayOn(t, s, l.ID, 10_000, "2026-02-06")
	if a.PenaltyMinor != 2_116 || a.OverdueInterestMinor != 7_884 {
		t.Fatalf("allocation %+v, want penalty 2,116 and 7,884 of installment 1's interest", a)
	}
	closeThrough(t, s, clk, "2026-02-06", "2026-02-07")
	got, err := s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PenaltyReceivableMinor != 529 || got.DPD != 5 {
		t.Fatalf("after close of business through 02-06: penalty %d DPD %d, want 529 (02-06 only) and 5", got.PenaltyReceivableMinor, got.DPD)
	}
	mustReconcile(t, s)
}
