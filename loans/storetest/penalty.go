package storetest

import (
	"fmt"
	"testing"

	"github.com/lendhq/lend/loans"
)

func init() {
	register("LatePaymentOfTheInstallmentShownCuresIt", testLatePaymentOfTheInstallmentShownCuresIt)
	register("LatePaymentOfTheStatementShownCuresIt", testLatePaymentOfTheStatementShownCuresIt)
	register("CatchUpEntriesAreDatedOnTheirDays", testCatchUpEntriesAreDatedOnTheirDays)
}

// shownUnpaid is what the schedule shows left to pay on installment seq:
// its principal, interest and penalty not yet paid.
func shownUnpaid(t *testing.T, s loans.Store, loanID int64, seq int) (loans.Installment, int64) {
	t.Helper()
	sched, err := s.Schedule(ctx, loanID)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range sched {
		if in.Seq == seq {
			return in, in.UnpaidMinor()
		}
	}
	t.Fatalf("no installment %d in %+v", seq, sched)
	return loans.Installment{}, 0
}

func wantCurrent(t *testing.T, s loans.Store, loanID int64, when string) {
	t.Helper()
	l, err := s.Loan(ctx, loanID)
	if err != nil {
		t.Fatal(err)
	}
	if l.DPD != 0 || l.Bucket != loans.BucketCurrent || l.PenaltyReceivableMinor != 0 {
		t.Fatalf("%s: DPD %d bucket %s penalty %d, want 0, current, 0", when, l.DPD, l.Bucket, l.PenaltyReceivableMinor)
	}
	cl, err := s.CreditLine(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Status != loans.LineActive {
		t.Fatalf("%s: line %s, want active", when, cl.Status)
	}
}

// testLatePaymentOfTheInstallmentShownCuresIt: a merchant pays installment 1
// five days late, the amount the schedule shows unpaid on it that day, then
// every later installment on its due date for the amount shown. The penalty
// is on the installment, so each payment settles what it was for: the loan
// is current after each close of business and is paid off by the last one.
// Before, the penalty was on the loan only and the default strategy took
// it first: the installment was left short by it (21.16), the loan stayed
// past due and the line frozen, and the shortfall rolled from installment to
// installment until the last one could not close the loan.
//
// loan99k (99,000.00 at 12%, 6 months from 2026-01-01, 30/360): installment
// 17,082.29; installment 1 due 02-01 is 990.00 interest + 16,092.29
// principal. Unpaid, close of business through 02-05 charges penalty at 12%
// a year on 16,092.29 for 02-02 .. 02-05: 4 × 1,609,229 × 0.12 / 365 =
// 2,116.25 → 2,116 (minor), all on installment 1, the oldest overdue. DPD
// 02-05 − 02-01 = 4. Shown on 02-06: 1,609,229 + 99,000 + 2,116 = 1,710,345.
// Installments 2..5 are 1,708,229; the last is 102,493.73 − 5 × 17,082.29 =
// 17,082.28 (total interest 3,493.73, docs/LOANS.md).
func testLatePaymentOfTheInstallmentShownCuresIt(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan99k(t, s)
	closeThrough(t, s, clk, "2026-02-05", "2026-02-06")
	in, unpaid := shownUnpaid(t, s, l.ID, 1)
	if in.PenaltyMinor != 2_116 || unpaid != 1_710_345 {
		t.Fatalf("installment 1 on 02-06: %+v, unpaid %d; want penalty 2,116, unpaid 1,710,345", in, unpaid)
	}
	if got, _ := s.Loan(ctx, l.ID); got.DPD != 4 || got.PenaltyReceivableMinor != 2_116 {
		t.Fatalf("loan on 02-06: DPD %d penalty %d, want 4 and 2,116", got.DPD, got.PenaltyReceivableMinor)
	}
	a := repayOn(t, s, l.ID, unpaid, "2026-02-06")
	if a.PenaltyMinor != 2_116 || a.OverdueInterestMinor != 99_000 || a.OverduePrincipalMinor != 1_609_229 || a.TotalMinor() != 1_710_345 {
		t.Fatalf("allocation %+v, want penalty 2,116, interest 990.00, principal 16,092.29", a)
	}
	closeThrough(t, s, clk, "2026-02-06", "2026-02-07")
	wantCurrent(t, s, l.ID, "after close of business on 02-06")

	want := []int64{1_708_229, 1_708_229, 1_708_229, 1_708_229, 1_708_228}
	for k, due := range []string{"2026-03-01", "2026-04-01", "2026-05-01", "2026-06-01", "2026-07-01"} {
		closeThrough(t, s, clk, day(due).AddDate(0, 0, -1).Format(loans.DateLayout), due)
		_, unpaid := shownUnpaid(t, s, l.ID, k+2)
		if unpaid != want[k] {
			t.Fatalf("installment %d shown %d on its due date, want %d", k+2, unpaid, want[k])
		}
		repayOn(t, s, l.ID, unpaid, due)
		if k < 4 {
			closeThrough(t, s, clk, due, day(due).AddDate(0, 0, 1).Format(loans.DateLayout))
			wantCurrent(t, s, l.ID, "after close of business on "+due)
		}
	}
	got, err := s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	// 99,000.00 principal + 3,493.73 interest + 21.16 penalty.
	if got.Status != loans.LoanPaidOff || got.PrincipalRepaidMinor != 9_900_000 || got.InterestPaidMinor != 349_373 || got.PenaltyPaidMinor != 2_116 {
		t.Fatalf("after the last installment: %s, principal %d interest %d penalty %d; want paid_off, 9,900,000, 349,373, 2,116",
			got.Status, got.PrincipalRepaidMinor, got.InterestPaidMinor, got.PenaltyPaidMinor)
	}
	mustReconcile(t, s)
}

// testLatePaymentOfTheStatementShownCuresIt: a draw's first statement is
// paid four days after its due date, for the amount the statement shows that
// day. The penalty is on the statement, so the payment settles it, the loan
// is current and the line unfrozen at the next close of business. Before, the
// statement showed 1,415.00, the penalty (1.08) was taken first, the
// statement stayed 1.08 short, past due, and the line frozen.
//
// revolving36k (36,500.00 at 10% from 2024-03-01): statement 1 of 04-01
// bills 109,500 principal + 32,000 interest, due 04-21. Unpaid, close of
// business on 04-22, 04-23 and 04-24 charges penalty at 12% a year on the
// overdue 109,500: 109,500 × 0.12 / 365 = 36 minor a day exactly, 108 in
// all, on statement 1; DPD 3 and the line frozen. Shown on 04-25: 109,500 +
// 32,000 + 108 = 141,608.
func testLatePaymentOfTheStatementShownCuresIt(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	closeThrough(t, s, clk, "2024-04-24", "2024-04-25")
	in, unpaid := shownUnpaid(t, s, l.ID, 1)
	if in.PenaltyMinor != 108 || unpaid != 141_608 {
		t.Fatalf("statement 1 on 04-25: %+v, unpaid %d; want penalty 108, unpaid 141,608", in, unpaid)
	}
	if got, _ := s.Loan(ctx, l.ID); got.DPD != 3 {
		t.Fatalf("DPD %d on 04-25, want 3", got.DPD)
	}
	if cl, _ := s.CreditLine(ctx, "m1"); cl.Status != loans.LineFrozen {
		t.Fatalf("line %s while 3 days past due, want frozen", cl.Status)
	}
	a := repayOn(t, s, l.ID, unpaid, "2024-04-25")
	if a.PenaltyMinor != 108 || a.OverdueInterestMinor != 32_000 || a.OverduePrincipalMinor != 109_500 || a.TotalMinor() != 141_608 {
		t.Fatalf("allocation %+v, want penalty 108, interest 32,000, principal 109,500", a)
	}
	closeThrough(t, s, clk, "2024-04-25", "2024-04-26")
	wantCurrent(t, s, l.ID, "after close of business on 04-25")
	mustReconcile(t, s)
}

// testCatchUpEntriesAreDatedOnTheirDays: the penalty and interest a payment
// posts for days close of business has not closed are journalled on those
// days, as close of business would have, not on the payment's date: across
// a month end the income stays in the month it was earned.
//
// loan99k, installment 1 (990.00 + 16,092.29) due 2026-02-01 and unpaid.
// One day's penalty on 16,092.29 at 12% is 1,609,229 × 0.12 / 365 = 529.0616
// minor, rounded on the running total: 3 days 1,587.18 → 1,587, 4 days
// 2,116.25 → 2,116. Close of business through 02-03 posts 02-02 and 02-03
// (1,058). A payment on 02-06 posts 02-04 (1,587 − 1,058 = 529) and 02-05
// (2,116 − 1,587 = 529), each on its day; before, one entry of 1,058 dated
// 02-06. The repayment itself is dated 02-06.
//
// Installment 2 (due 03-01, interest 829.08) falling due across a month end:
// close of business through 02-28, a payment on 03-03 posts the interest
// falling due on 03-01 and the penalty of 03-01 and 03-02 on those days.
func testCatchUpEntriesAreDatedOnTheirDays(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan99k(t, s)
	closeThrough(t, s, clk, "2026-02-03", "2026-02-06")
	repayOn(t, s, l.ID, 10_000, "2026-02-06")
	type dated struct {
		kind, date string
		amount     int64
	}
	entriesAfter := func(from string) []dated {
		js, err := s.Journal(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []dated
		for _, e := range js {
			if e.BusinessDate < from || e.Kind == loans.KindDisbursement {
				continue
			}
			var dr int64
			for _, p := range e.Postings {
				dr += p.DebitMinor
			}
			out = append(out, dated{e.Kind, e.BusinessDate, dr})
		}
		return out
	}
	want := []dated{{loans.KindPenalty, "2026-02-04", 529}, {loans.KindPenalty, "2026-02-05", 529}, {loans.KindRepayment, "2026-02-06", 10_000}}
	if got := entriesAfter("2026-02-04"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("entries from 02-04: %+v, want %+v", got, want)
	}
	// Close of business through 02-28 charges installment 1's principal
	// day by day (running total through 02-28, 27 days: 14,284.66 → 14,285).
	// On 03-03: 03-01 makes installment 2's 829.08 interest receivable and
	// charges a 28th day on 1,609,229 (14,813.72 → 14,814: 529); 03-02
	// charges 1,609,229 + 1,625,321 (installment 2's principal, 17,082.29 −
	// 829.08) = 3,234,550 × 0.12 / 365 = 1,063.41 (15,877.13 → 15,877: 1,063).
	closeThrough(t, s, clk, "2026-02-28", "2026-03-03")
	repayOn(t, s, l.ID, 10_000, "2026-03-03")
	want = []dated{{loans.KindInterestDue, "2026-03-01", 82_908}, {loans.KindPenalty, "2026-03-01", 529},
		{loans.KindPenalty, "2026-03-02", 1_063}, {loans.KindRepayment, "2026-03-03", 10_000}}
	if got := entriesAfter("2026-03-01"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("entries from 03-01: %+v, want %+v", got, want)
	}
	mustReconcile(t, s)
}
