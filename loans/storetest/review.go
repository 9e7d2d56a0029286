package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	register("PayoffQuoteIsOneSnapshot", testPayoffQuoteIsOneSnapshot)
	register("PayoffQuoteDefaultsToRepaymentDay", testPayoffQuoteDefaultsToRepaymentDay)
	register("EarlySettlementKeepsTheRestOfThePeriodsInterest", testEarlySettlementKeepsInterest)
	register("PrepaymentOnTheSettledDueDateKeepsTheCarry", testPrepaymentOnSettledDueDateKeepsCarry)
	register("PayoffOnTheSettledDueDateTakesTheCarry", testPayoffOnSettledDueDateTakesCarry)
	register("PrincipalRepaidOnTheSettledDueDateLeavesTheCarryOwed", testPrincipalOnSettledDueDateLeavesCarry)
	register("LevelInstallmentPaidEarlyNeverFallsBehind", testLevelInstallmentPaidEarly)
	register("PayoffQuoteRefusesAClosedDay", testPayoffQuoteRefusesAClosedDay)
	register("FutureDatesAreRefused", testFutureDatesAreRefused)
	register("PaymentDatedInAnEarlierPeriodIsRefused", testPaymentDatedInAnEarlierPeriodIsRefused)
}

// testPayoffQuoteIsOneSnapshot quotes a loan while its installments are
// being paid: every quote must be the payoff of one state of the loan, never
// the loan row after a repayment combined with the schedule before it (or
// the reverse). A torn quote is a figure no payment settles: paying it
// either leaves the loan open or is refused as more than the payoff.
//
// The loans are 12,000.00 at 12% a year, equal-principal over 12 months
// (30/360: 1% a month), from 2024-01-15. Installment j (1..12) is 1,000.00
// principal plus 1% of the balance before it: (12 − (j−1)) × 1,000.00 × 1%
// = (13 − j) × 10.00. After k installments are paid, with m = 12 − k left,
// the quote on 2025-06-01 (after the last due date, so every installment's
// interest is owed in full) is
//
//	principal = m × 100,000 minor
//	interest  = Σ_{i=1..m} i × 1,000 = 500 × m × (m+1) minor
//
// so a quote is one state exactly when principal is a multiple of 100,000
// and interest is 500·m·(m+1) for that m (m = 0: the paid-off loan, 0 and 0),
// and the penalty is that of those m installments past due (below).
func testPayoffQuoteIsOneSnapshot(t *testing.T, open Opener) {
	// Close of business never runs and the quote day is 472 days after the
	// first due date: the longest charge-off threshold keeps the unpaid
	// loans active in the quotes (a quote past the threshold is what will be
	// to recover; ReviewDb4438aPayoffAcrossUnclosedChargeOffDay).
	clk := &testClock{now: day("2024-01-15")}
	s := open(t, loans.Policy{ChargeOffDPD: loans.MaxChargeOffDPD}, clk.read)
	const loansN = 4
	var ids []int64
	for i := range loansN {
		m := fmt.Sprint("m", i)
		line(t, s, m, 2_000_000, "0.12")
		r, _ := loans.ParseRate("apr", "0.12")
		app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: m, IdempotencyKey: "app"}, loans.Application{Currency: "EUR",
			AmountMinor: 1_200_000, Method: loans.EqualPrincipal, Decision: loans.DecisionApproved,
			Offer: &loans.Offer{AmountMinor: 1_200_000, APR: r, TermPeriods: 12}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: m, IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2024-01-15"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, l.ID)
	}
	quoteDay := day("2025-06-01")
	// Close of business never runs here, so a quote counts the penalty
	// interest of the days past due as it would have posted it: each unpaid
	// installment j (due 2024-01-15 + j months) has 1,000.00 overdue every
	// day after its due date through 2025-05-31, at 12% a year; posted day by
	// day with the residue carried, the total is the exact sum rounded half
	// to even: round(Σ_j days_j × 100,000 × 0.12 / 365).
	penalty := func(m int64) int64 {
		var n int64 // exact penalty × 365,000,000
		for j := 13 - m; j <= 12; j++ {
			due := loans.AddMonthsClamped(day("2024-01-15"), int(j))
			n += (loans.DaysBetween(due, quoteDay) - 1) * 100_000 * 120_000
		}
		const den = 365_000_000
		q, r := n/den, n%den
		if 2*r > den || (2*r == den && q%2 == 1) {
			q++
		}
		return q
	}
	oneState := func(q loans.PayoffQuote) bool {
		m := q.PrincipalMinor / 100_000
		return q.PrincipalMinor%100_000 == 0 && m >= 0 && m <= 12 && q.InterestMinor == 500*m*(m+1) &&
			q.PenaltyMinor == penalty(m) && q.TotalMinor == q.PrincipalMinor+q.InterestMinor+q.PenaltyMinor
	}
	var current atomic.Int64 // the loan being paid
	current.Store(ids[0])
	var stop atomic.Bool
	var quotes atomic.Int64
	var mu sync.Mutex
	var torn []loans.PayoffQuote
	var wg sync.WaitGroup
	var startOnce sync.Once
	started := make(chan struct{}) // closed once the first quote returned
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			q, err := s.PayoffQuote(ctx, current.Load(), quoteDay)
			startOnce.Do(func() { close(started) })
			if err != nil {
				mu.Lock()
				torn = append(torn, loans.PayoffQuote{Date: err.Error()})
				mu.Unlock()
				return
			}
			quotes.Add(1)
			if !oneState(q) {
				mu.Lock()
				torn = append(torn, q)
				mu.Unlock()
			}
		}
	}()
	<-started // the quoting goroutine runs before the first payment
	for li, id := range ids {
		current.Store(id)
		sched, err := s.Schedule(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range sched {
			clk.advance(in.DueDateText)
			if _, err := s.Repay(ctx, loans.Cmd{MerchantID: fmt.Sprint("m", li), IdempotencyKey: "r" + in.DueDateText},
				loans.RepayRequest{LoanID: id, AmountMinor: in.TotalMinor(), ValueDate: in.DueDateText}); err != nil {
				t.Fatal(err)
			}
		}
		l, _ := s.Loan(ctx, id)
		if l.Status != loans.LoanPaidOff {
			t.Fatalf("loan %d is %s after its 12 installments", id, l.Status)
		}
	}
	stop.Store(true)
	wg.Wait()
	if len(torn) > 0 {
		t.Fatalf("%d of %d quotes are no state of the loan (torn read), e.g. %+v", len(torn), quotes.Load(), torn[0])
	}
	mustReconcile(t, s)
}

// testPayoffQuoteDefaultsToRepaymentDay: a quote asked without a date is for
// the day a repayment without a value date takes, the open business day. Once
// close of business has closed today, that is tomorrow, not today: a quote
// for today (a closed day, on which no payment can be made) under-quotes a
// term loan by a day of interest, and paying it leaves the loan open with a
// residue that later turns delinquent.
//
// Loan: 99,000.00 at 12%, 6 monthly installments from 2026-01-01 (30/360:
// installment 1 interest 9,900,000 × 1% = 99,000 minor, due 2026-02-01, a
// 31-day period). The clock says 2026-01-10 and days through 2026-01-10 are
// closed, so the open day is 2026-01-11, 10 days into the period:
// earned interest 99,000 × 10/31 = 31,935.48 → 31,935; payoff
// 9,900,000 + 31,935 = 9,931,935. (A quote for 2026-01-10 would be
// 99,000 × 9/31 = 28,741.94 → 28,742 interest, 9,928,742 in all: 3,193 short.)
func testPayoffQuoteDefaultsToRepaymentDay(t *testing.T, open Opener) {
	s := openAt(t, open, "2026-01-10")
	l := loan99k(t, s)
	if _, err := s.CloseOfBusiness(ctx, day("2026-01-10"), nil); err != nil {
		t.Fatal(err)
	}
	q, err := s.PayoffQuote(ctx, l.ID, loans.Date{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Date != "2026-01-11" || q.PrincipalMinor != 9_900_000 || q.InterestMinor != 31_935 || q.TotalMinor != 9_931_935 {
		t.Fatalf("quote without a date %+v, want 2026-01-11: 9,900,000 + 31,935 = 9,931,935", q)
	}
	rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "payoff"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: q.TotalMinor})
	if err != nil {
		t.Fatal(err)
	}
	if rp.ValueDate != q.Date || rp.After.Status != loans.LoanPaidOff || rp.After.PrincipalOutstandingMinor != 0 || rp.After.InterestReceivableMinor != 0 {
		t.Fatalf("paying the quote %+v: repayment on %s left %+v", q, rp.ValueDate, rp.After)
	}
	mustReconcile(t, s)
}

// testEarlySettlementKeepsInterest: installment 1 of the 99,000.00 loan at
// 12% over 6 months from 2026-01-01 (30/360: 990.00 interest, 16,092.29
// principal, due 2026-02-01, a 31-day period) settled one day in, on
// 2026-01-02: earned interest 990.00 × 1/31 = 31.935… → 31.94, so the
// payment is 16,092.29 + 31.94 = 16,124.23. The 82,907.71 left outstanding
// still earns interest for the other 30 days of the period: 82,907.71 × 1%
// × 30/31 = 802.3326… → 802.33, carried to installment 2 (scheduled interest
// 82,907.71 × 1% = 829.08 → 829.08 + 802.33 = 1,631.41). Before, the
// installment was closed at 31.94 and those 30 days earned nothing: paying
// each installment's principal a day into its period skipped almost all
// interest. The carry is earned by installment 1's due date: the payoff
// quote of 2026-02-01 is 82,907.71 + 802.33 = 83,710.04; a payoff the same
// day as the early settlement drops it (the loan ends that day: 82,907.71).
func testEarlySettlementKeepsInterest(t *testing.T, open Opener) {
	s, l, rp := settledEarly(t, open)
	if want := (loans.Allocation{CurrentInterestMinor: 3194, CurrentPrincipalMinor: 1_609_229}); rp.Allocation != want {
		t.Fatalf("allocation %+v, want %+v", rp.Allocation, want)
	}
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if in := sched[0]; in.InterestMinor != 3194 || !in.Paid() {
		t.Fatalf("installment 1 %+v: want closed at 31.94 interest", in)
	}
	if in := sched[1]; in.InterestMinor != 82_908+80_233 {
		t.Fatalf("installment 2 interest %d, want 829.08 + 802.33 carried = 163,141", in.InterestMinor)
	}
	for _, c := range []struct {
		on                  string
		principal, interest int64
	}{{"2026-01-02", 8_290_771, 0}, {"2026-02-01", 8_290_771, 80_233}} {
		q, err := s.PayoffQuote(ctx, l.ID, day(c.on))
		if err != nil {
			t.Fatal(err)
		}
		if q.PrincipalMinor != c.principal || q.InterestMinor != c.interest {
			t.Errorf("payoff on %s: principal %d interest %d, want %d and %d", c.on, q.PrincipalMinor, q.InterestMinor, c.principal, c.interest)
		}
	}
	// A prepayment of 10,000.00 on 2026-01-17, 15 days before the due date,
	// in the same period: installment 1 is settled (no interest or principal
	// taken), all of it prepays principal. The carry drops by the rest of the
	// period's interest on it, 10,000.00 × 1% × 15/31 = 48.387… → 48.39:
	// 802.33 − 48.39 = 753.94. Installment 2, re-amortized on 72,907.71, has
	// 729.08 interest of its own: 729.08 + 753.94 = 1,483.02.
	rp, err = s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "prepay"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 1_000_000, ValueDate: "2026-01-17"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (loans.Allocation{PrepaidPrincipalMinor: 1_000_000}); rp.Allocation != want {
		t.Fatalf("prepayment allocation %+v, want %+v", rp.Allocation, want)
	}
	if sched, err = s.Schedule(ctx, l.ID); err != nil {
		t.Fatal(err)
	}
	if in := sched[1]; in.InterestMinor != 72_908+75_394 {
		t.Fatalf("installment 2 interest after the prepayment %d, want 729.08 + 753.94 = 148,302", in.InterestMinor)
	}
	mustReconcile(t, s)
}

// testPrepaymentOnSettledDueDateKeepsCarry: installment 1 of the 99,000.00
// loan settled on 2026-01-02 as in testEarlySettlementKeepsInterest carries
// 802.33 to installment 2 (payoff on 2026-02-01: 82,907.71 + 802.33). A
// prepayment of 10,000.00 on 2026-02-01, installment 1's due date, still
// finds installment 1 current (settled, nothing to take) and prepays
// principal; re-amortizing installment 2 onwards must keep the carry, which
// is earned by then: installment 2 = 729.08 own interest on 72,907.71 +
// 802.33 = 1,531.41, and the payoff the same day is 72,907.71 + 802.33, so
// paying 10,000.00 then the payoff costs exactly the direct payoff
// (83,710.04). Before, the rebuild dropped the carry: 802.33 never charged.
func testPrepaymentOnSettledDueDateKeepsCarry(t *testing.T, open Opener) {
	s, l, _ := settledEarly(t, open)
	rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "prepay"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 1_000_000, ValueDate: "2026-02-01"})
	if err != nil {
		t.Fatal(err)
	}
	if want := (loans.Allocation{PrepaidPrincipalMinor: 1_000_000}); rp.Allocation != want {
		t.Fatalf("prepayment allocation %+v, want %+v", rp.Allocation, want)
	}
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if in := sched[1]; in.InterestMinor != 72_908+80_233 {
		t.Fatalf("installment 2 interest after the prepayment %d, want 729.08 + 802.33 carried = 153,141", in.InterestMinor)
	}
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-02-01"))
	if err != nil {
		t.Fatal(err)
	}
	if q.PrincipalMinor != 7_290_771 || q.InterestMinor != 80_233 {
		t.Fatalf("payoff on 2026-02-01: principal %d interest %d, want 7,290,771 and 80,233", q.PrincipalMinor, q.InterestMinor)
	}
	mustReconcile(t, s)
}

// testPayoffOnSettledDueDateTakesCarry: after installment 1 is settled on
// 2026-01-02 (testEarlySettlementKeepsInterest), the payoff quoted for
// 2026-02-01, installment 1's due date, is 82,907.71 + the 802.33 carried to
// installment 2 = 83,710.04. Paying exactly that closes the loan with all
// of it allocated (82,907.71 principal, 802.33 interest) and nothing owed; a
// payoff the same day as the settlement (2026-01-02) still drops the carry.
func testPayoffOnSettledDueDateTakesCarry(t *testing.T, open Opener) {
	for _, c := range []struct {
		on       string
		interest int64
	}{{"2026-02-01", 80_233}, {"2026-01-02", 0}} {
		s, l, _ := settledEarly(t, open)
		rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "payoff"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 8_290_771 + c.interest, ValueDate: c.on})
		if err != nil {
			t.Fatalf("payoff on %s: %v", c.on, err)
		}
		if got := rp.Allocation.PrincipalMinor(); got != 8_290_771 || rp.Allocation.InterestMinor() != c.interest {
			t.Fatalf("payoff on %s: allocation %+v, want principal 8,290,771 and interest %d", c.on, rp.Allocation, c.interest)
		}
		got, err := s.Loan(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != loans.LoanPaidOff || got.OutstandingMinor() != 0 {
			t.Fatalf("after the payoff on %s: status %s outstanding %d", c.on, got.Status, got.OutstandingMinor())
		}
		mustReconcile(t, s)
	}
}

// testPrincipalOnSettledDueDateLeavesCarry: after installment 1 is settled on
// 2026-01-02, paying only the 82,907.71 principal on 2026-02-01 (the quote is
// 82,907.71 + 802.33 carried) is not a payoff: the loan stays active with
// the 802.33 still owed on installment 2 (quote 802.33), and paying that
// closes it. Before, the re-amortization on a zero balance dropped
// installment 2 and the loan closed with the carry never charged.
func testPrincipalOnSettledDueDateLeavesCarry(t *testing.T, open Opener) {
	s, l, _ := settledEarly(t, open)
	if _, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "principal"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 8_290_771, ValueDate: "2026-02-01"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-02-01"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != loans.LoanActive || q.PrincipalMinor != 0 || q.InterestMinor != 80_233 {
		t.Fatalf("after repaying the principal: status %s, payoff principal %d interest %d, want active, 0 and 80,233", got.Status, q.PrincipalMinor, q.InterestMinor)
	}
	if _, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "carry"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 80_233, ValueDate: "2026-02-01"}); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.Loan(ctx, l.ID); got.Status != loans.LoanPaidOff {
		t.Fatalf("after paying the carry: status %s, want paid off", got.Status)
	}
	mustReconcile(t, s)
}

// settledEarly is the loan of testEarlySettlementKeepsInterest with
// installment 1 settled one day in: 99,000.00 at 12% over 6 months from
// 2026-01-01, 16,124.23 paid on 2026-01-02. The clock reads 2026-02-01 and
// no day is closed yet, so that day's and earlier payments can be entered
// with their value dates.
func settledEarly(t *testing.T, open Opener) (loans.Store, loans.Loan, loans.Repayment) {
	t.Helper()
	s := openAt(t, open, "2026-02-01")
	l := loan99k(t, s)
	rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "early"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 1_612_423, ValueDate: "2026-01-02"})
	if err != nil {
		t.Fatal(err)
	}
	return s, l, rp
}

// testLevelInstallmentPaidEarly: a merchant who pays the installment amount
// the schedule showed, 17,082.29 on the 99,000.00 loan at 12% over 6 months
// from 2026-01-01 (30/360: 1% a month), ten days into each period, is never
// short and never delinquent. Worked by hand, the first two payments:
//
//	2026-01-11: installment 1 earned interest 990.00 × 10/31 = 319.35,
//	  principal 16,092.29, the other 670.65 prepays principal: balance
//	  82,237.06. Re-amortized (keep the installment): installment 2 own
//	  interest 1% = 822.37, principal 17,082.29 − 822.37 = 16,259.92; carry
//	  822.3706 × 21/31 = 557.09, taken out of its principal: interest
//	  1,379.46, principal 15,702.83, total still 17,082.29.
//	2026-02-11: installment 2 earned interest 557.09 + 822.37 × 10/28 (a
//	  28-day period) = 557.09 + 293.70 = 850.79, principal 15,702.83; the
//	  other 528.67 prepays.
//
// With the carry on top of installment 2 the second payment needed
// 850.79 + 16,259.92 = 17,110.71: 28.42 short, past due from 2026-03-02 until
// the next payment (9 days past due on 2026-03-10). Later payments are the
// lesser of 17,082.29 and the payoff; close of business runs every day.
func testLevelInstallmentPaidEarly(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan99k(t, s)
	const level = 1_708_229
	if l.InstallmentMinor != level {
		t.Fatalf("installment %d, want 1,708,229", l.InstallmentMinor)
	}
	want := []loans.Allocation{
		{CurrentInterestMinor: 31_935, CurrentPrincipalMinor: 1_609_229, PrepaidPrincipalMinor: 67_065},
		{CurrentInterestMinor: 85_079, CurrentPrincipalMinor: 1_570_283, PrepaidPrincipalMinor: 52_867},
	}
	for k := 0; k < 12; k++ {
		on := day("2026-01-11").AddDate(0, k, 0)
		if k > 0 {
			for d := on.AddDate(0, -1, 0); d.Before(on); d = d.AddDate(0, 0, 1) {
				if _, err := s.CloseOfBusiness(ctx, d, nil); err != nil {
					t.Fatal(err)
				}
				if got, _ := s.Loan(ctx, l.ID); got.DPD != 0 || got.PenaltyReceivableMinor != 0 {
					t.Fatalf("on %s, paying %s ten days into each period: dpd %d penalty %d", fmtDate(d), loans.FormatMinor(level), got.DPD, got.PenaltyReceivableMinor)
				}
			}
		}
		clk.advance(fmtDate(on))
		q, err := s.PayoffQuote(ctx, l.ID, on)
		if err != nil {
			t.Fatal(err)
		}
		rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "pay-" + fmtDate(on)},
			loans.RepayRequest{LoanID: l.ID, AmountMinor: min(level, q.TotalMinor), ValueDate: fmtDate(on)})
		if err != nil {
			t.Fatalf("payment on %s: %v", fmtDate(on), err)
		}
		if k < len(want) && rp.Allocation != want[k] {
			t.Fatalf("payment on %s: allocation %+v, want %+v", fmtDate(on), rp.Allocation, want[k])
		}
		if k == 0 {
			sched, err := s.Schedule(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			if in := sched[1]; in.InterestMinor != 137_946 || in.CarriedInterestMinor != 55_709 || in.PrincipalMinor != 1_570_283 {
				t.Fatalf("installment 2 %+v, want interest 1,379.46 (557.09 carried), principal 15,702.83", in)
			}
		}
		if rp.After.Status == loans.LoanPaidOff {
			if k < 4 {
				t.Fatalf("paid off after %d payments", k+1)
			}
			mustReconcile(t, s)
			return
		}
	}
	t.Fatal("not paid off after 12 monthly payments")
}

// testPayoffQuoteRefusesAClosedDay: once close of business has closed
// 2026-01-10, no repayment can take that date, and a quote for it would mix
// today's balances with that day's interest: a figure nothing settles. It is
// refused naming the date; the open day 2026-01-11 is quoted (9,931,935 as
// in testPayoffQuoteDefaultsToRepaymentDay).
func testPayoffQuoteRefusesAClosedDay(t *testing.T, open Opener) {
	s := openAt(t, open, "2026-01-10")
	l := loan99k(t, s)
	if _, err := s.CloseOfBusiness(ctx, day("2026-01-10"), nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"2026-01-05", "2026-01-10"} {
		_, err := s.PayoffQuote(ctx, l.ID, day(d))
		wantCode(t, err, lend.EINVALID)
		if lend.ErrorField(err) != "date" {
			t.Fatalf("quote for closed day %s: %v, want the field date named", d, err)
		}
	}
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-01-11"))
	if err != nil || q.TotalMinor != 9_931_935 {
		t.Fatalf("quote for the open day: %+v %v, want 9,931,935", q, err)
	}
}

// testFutureDatesAreRefused: a repayment or a disbursement can be dated on
// any open day (back to the day after the last close of business) but not
// after the open business day, as Fineract refuses future-dated
// transactions: a payment dated next month would pay next month's interest
// today and be processed before payments dated earlier. The clock reads
// 2026-01-10 and nothing is closed, so 2026-01-10 is the open day; the
// refusals name the field and write nothing.
func testFutureDatesAreRefused(t *testing.T, open Opener) {
	s := openAt(t, open, "2026-01-10")
	l := loan99k(t, s)
	before := snapshot(t, s)
	_, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "future"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 100_000, ValueDate: "2026-01-11"})
	wantCode(t, err, lend.EINVALID)
	if lend.ErrorField(err) != "value_date" {
		t.Fatalf("future repayment: %v, want the field value_date named", err)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("a refused repayment changed the store:\n%s\n%s", before, after)
	}
	r, _ := loans.ParseRate("apr", "0.12")
	app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app2"}, loans.Application{Currency: "EUR",
		AmountMinor: 100_000, TermPeriods: 3, Decision: loans.DecisionApproved, Offer: &loans.Offer{AmountMinor: 100_000, APR: r, TermPeriods: 3}})
	if err != nil {
		t.Fatal(err)
	}
	before = snapshot(t, s)
	_, err = s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc2"}, loans.AcceptRequest{ApplicationID: app.ID, On: "2026-02-01"})
	wantCode(t, err, lend.EINVALID)
	if lend.ErrorField(err) != "on" {
		t.Fatalf("future disbursement: %v, want the field on named", err)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("a refused command changed the store:\n%s\n%s", before, after)
	}
	// The open day itself and an earlier open day are accepted.
	for _, d := range []string{"2026-01-05", "2026-01-10"} {
		if _, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "pay-" + d}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 10_000, ValueDate: d}); err != nil {
			t.Fatalf("repayment dated %s: %v", d, err)
		}
	}
	mustReconcile(t, s)
}

// testPaymentDatedInAnEarlierPeriodIsRefused: with close of business behind
// (nothing closed, the clock at 2026-02-05), 22,098.16 dated 2026-02-05 pays
// the penalty interest of the 3 days installment 1 was past due (02-02 ..
// 02-04, posted by the payment as close of business would have: 3 ×
// 16,092.29 × 12% / 365 = 15.8718 → 15.87), the 99,000.00 loan's
// installment 1 (17,082.29, overdue) and 5,000.00 of
// installment 2 (118.44 interest earned over 4 of 28 days, 4,881.56
// principal). A 1,000.00 payment then dated 2026-01-20, in installment 1's
// period, would re-amortize from there and drop what installment 2 holds
// (its 118.44 interest charged again, less rounding: 110.04 on the rebuilt
// 770.26): it is refused naming value_date and writes nothing; dated
// 2026-02-05 it is taken.
func testPaymentDatedInAnEarlierPeriodIsRefused(t *testing.T, open Opener) {
	s := openAt(t, open, "2026-02-05")
	l := loan99k(t, s)
	rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "feb5"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 2_209_816, ValueDate: "2026-02-05"})
	if err != nil {
		t.Fatal(err)
	}
	if a := rp.Allocation; a.PenaltyMinor != 1_587 || a.CurrentInterestMinor != 11_844 || a.CurrentPrincipalMinor != 488_156 {
		t.Fatalf("allocation %+v, want 118.44 interest and 4,881.56 principal on installment 2", a)
	}
	before := snapshot(t, s)
	_, err = s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "jan20"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 100_000, ValueDate: "2026-01-20"})
	wantCode(t, err, lend.EINVALID)
	if lend.ErrorField(err) != "value_date" {
		t.Fatalf("back-dated payment: %v, want the field value_date named", err)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("a refused payment changed the store:\n%s\n%s", before, after)
	}
	// Nor is that day quoted: no payment could settle the figure.
	_, err = s.PayoffQuote(ctx, l.ID, day("2026-01-20"))
	wantCode(t, err, lend.EINVALID)
	if _, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "feb5b"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 100_000, ValueDate: "2026-02-05"}); err != nil {
		t.Fatal(err)
	}
	mustReconcile(t, s)
}
