package storetest

// Review of da554b5 (an early settlement's carry comes out of the next
// installment's principal), through both stores. Cases marked BUG fail on
// da554b5 and pass with the fixes proposed in the review report.

import (
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// reviewClock is a store clock the test moves: a payment is made on the day
// it is dated (a store may refuse value dates after the open business day).
type reviewClock struct{ now loans.Date }

func (c *reviewClock) open(t *testing.T, open Opener, on string) loans.Store {
	c.now = day(on)
	return open(t, loans.Policy{}, func() time.Time { return c.now })
}

func init() {
	register("ReviewCarryOwedOnTheSettledDueDateCanBePaidInPart", testReviewCarryPaidInPart)
	register("ReviewCarryDeferredPrincipalEarnsInterest", testReviewCarryDeferredPrincipalEarnsInterest)
	register("ReviewCarryOntoTheLastInstallmentThroughCloseOfBusiness", testReviewCarryOntoLast)
}

// reviewSettledEarly: 99,000.00 at 12% over 6 months from 2026-01-01 (30/360,
// 1% a month, installment 17,082.29), installment 1 settled on 2026-01-02 by
// 16,124.23 = 990.00 × 1/31 = 31.935 → 31.94 earned interest + 16,092.29
// principal; balance 82,907.71, carry 82,907.71 × 1% × 30/31 = 802.3327 →
// 802.33 onto installment 2 (own interest 829.08, principal 17,082.29 −
// 829.08 − 802.33 = 15,450.88).
func reviewSettledEarly(t *testing.T, open Opener) (loans.Store, loans.Loan, *reviewClock) {
	t.Helper()
	c := &reviewClock{}
	s := c.open(t, open, "2026-01-01")
	l := loan99k(t, s)
	c.now = day("2026-01-02")
	if _, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "early"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 1_612_423, ValueDate: "2026-01-02"}); err != nil {
		t.Fatal(err)
	}
	return s, l, c
}

// BUG. testReviewCarryPaidInPart: on 2026-02-01 (installment 1's due date)
// the quote is 82,907.71 + 802.33 carried = 83,710.04. Paying 82,907.72 (a
// valid amount, under the quote) is refused with an internal error on
// da554b5 (and before): the prepayment takes the principal and no step takes
// the carry. Expected: 82,907.71 principal + 0.01 interest, 802.32 left;
// 400.00 then 402.32 close the loan; reconcile clean.
func testReviewCarryPaidInPart(t *testing.T, open Opener) {
	s, l, c := reviewSettledEarly(t, open)
	c.now = day("2026-02-01")
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-02-01"))
	if err != nil {
		t.Fatal(err)
	}
	if q.TotalMinor != 8_371_004 {
		t.Fatalf("quote on 2026-02-01 %+v, want 82,907.71 + 802.33 = 8,371,004", q)
	}
	rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "part"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 8_290_772, ValueDate: "2026-02-01"})
	if err != nil {
		t.Fatalf("paying 82,907.72 of the 83,710.04 quote: %v", err)
	}
	if rp.Allocation.PrincipalMinor() != 8_290_771 || rp.Allocation.InterestMinor() != 1 {
		t.Fatalf("allocation %+v, want 8,290,771 principal and 1 interest", rp.Allocation)
	}
	for _, c := range []struct {
		key    string
		amount int64
	}{{"p1", 40_000}, {"p2", 40_232}} { // 802.32 − 400.00 = 402.32
		if rp, err = s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: c.key}, loans.RepayRequest{LoanID: l.ID, AmountMinor: c.amount, ValueDate: "2026-02-01"}); err != nil {
			t.Fatalf("paying %d of the carry: %v", c.amount, err)
		}
	}
	if rp.After.Status != loans.LoanPaidOff {
		t.Fatalf("after paying the carry: %+v, want paid off", rp.After)
	}
	mustReconcile(t, s)
}

// BUG. testReviewCarryDeferredPrincipalEarnsInterest: the 802.33 moved from
// installment 2's principal to installment 6 stays outstanding, so
// installment 3 (period 2026-03-01 .. 04-01) earns 1% of 82,907.71 −
// 15,450.88 = 67,456.83 = 674.5683 → 674.57 (total still 17,082.29:
// principal 16,407.72). da554b5 leaves 666.54, 1% of the balance before the
// move (66,654.50 → 666.545 → 666.54 half-even).
func testReviewCarryDeferredPrincipalEarnsInterest(t *testing.T, open Opener) {
	s, l, _ := reviewSettledEarly(t, open)
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if in := sched[2]; in.InterestMinor != 67_457 || in.PrincipalMinor != 1_640_772 {
		t.Fatalf("installment 3 %+v, want interest 67,457 and principal 1,640,772", in)
	}
	mustReconcile(t, s)
}

// testReviewCarryOntoTheLastInstallment (holds on da554b5): 3,000.00 at 12%
// over 3 months from 2026-01-01 (30/360, 1% a month). Installment
// 3,000.00 × 0.01 × 1.030301 / 0.030301 = 1,020.0663 → 1,020.07:
//
//	1: interest 30.00, principal 990.07, balance 2,009.93
//	2: interest 20.0993 → 20.10, principal 999.97, balance 1,009.96
//	3: interest 10.0996 → 10.10, principal 1,009.96
//
// Installment 1 is paid on its due date (1,020.07). Installment 2 is settled
// ten days into its 28-day period, 2026-02-11: earned 20.10 × 10/28 = 7.178
// → 7.18, + 999.97 principal = 1,007.15. The carry, 1,009.96 × 1% × 18/28 =
// 6.4926 → 6.49, goes onto the last installment, which has no later one to
// move principal to: interest 10.10 + 6.49 = 16.59, principal 1,009.96,
// total 1,026.55. Replaying the early payment's key returns the same
// repayment and changes nothing. Close of business runs every day through
// 2026-03-31 and the loan is never past due; paying 1,026.55 on 2026-04-01
// closes it, with 30.00 + 7.18 + 16.59 = 53.77 interest in all.
func testReviewCarryOntoLast(t *testing.T, open Opener) {
	c := &reviewClock{}
	s := c.open(t, open, "2026-01-01")
	line(t, s, "m1", 1_000_000, "0.12")
	l := termLoan(t, s, "m1", 300_000, "0.12", 3, "2026-01-01")
	if l.InstallmentMinor != 102_007 {
		t.Fatalf("installment %d, want 102,007", l.InstallmentMinor)
	}
	eod := func(from, through string) {
		for d := day(from); !d.After(day(through)); d = d.AddDate(0, 0, 1) {
			c.now = d
			if _, err := s.CloseOfBusiness(ctx, d, nil); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Loan(ctx, l.ID); got.DPD != 0 || got.PenaltyReceivableMinor != 0 {
				t.Fatalf("on %s: dpd %d penalty %d", fmtDate(d), got.DPD, got.PenaltyReceivableMinor)
			}
		}
	}
	pay := func(key string, amount int64, on string) loans.Repayment {
		c.now = day(on)
		rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: key}, loans.RepayRequest{LoanID: l.ID, AmountMinor: amount, ValueDate: on})
		if err != nil {
			t.Fatalf("paying %d on %s: %v", amount, on, err)
		}
		return rp
	}
	eod("2026-01-01", "2026-01-31")
	pay("i1", 102_007, "2026-02-01")
	eod("2026-02-01", "2026-02-10")
	rp := pay("i2", 100_715, "2026-02-11")
	if want := (loans.Allocation{CurrentInterestMinor: 718, CurrentPrincipalMinor: 99_997}); rp.Allocation != want {
		t.Fatalf("early payment allocation %+v, want %+v", rp.Allocation, want)
	}
	before := snapshot(t, s)
	if again := pay("i2", 100_715, "2026-02-11"); again.ID != rp.ID || again.Allocation != rp.Allocation {
		t.Fatalf("replay %+v, want %+v", again, rp)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("replay changed state:\n%s\n%s", before, after)
	}
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if in := sched[2]; in.InterestMinor != 1_659 || in.PrincipalMinor != 100_996 {
		t.Fatalf("last installment %+v, want interest 10.10 + 6.49 = 1,659 and principal 100,996", in)
	}
	mustReconcile(t, s)
	eod("2026-02-11", "2026-03-31")
	if q, err := s.PayoffQuote(ctx, l.ID, day("2026-04-01")); err != nil || q.TotalMinor != 102_655 {
		t.Fatalf("quote on 2026-04-01 %+v (%v), want 1,009.96 + 16.59 = 102,655", q, err)
	}
	rp = pay("i3", 102_655, "2026-04-01")
	if rp.After.Status != loans.LoanPaidOff {
		t.Fatalf("after the last installment: %+v", rp.After)
	}
	got, err := s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.InterestPaidMinor != 5_377 {
		t.Fatalf("interest paid %d, want 5,377", got.InterestPaidMinor)
	}
	mustReconcile(t, s)
}
