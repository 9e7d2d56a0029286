package storetest

// Review of commits db4438a and 36a0d8c (a payment posts what close of
// business has not yet posted for the days before it: term interest falling
// due, revolving interest and statements, penalty interest; penalty_through
// keeps close of business from posting those days again).
//
// Most cases use loan1p: 99,000.00 at 12% over ONE month from 2026-01-01
// (30/360): one installment due 2026-02-01 of 990.00 interest (99,000.00 ×
// 1%) and 99,000.00 principal. While it is unpaid, 9,900,000 minor is
// overdue every day from 02-02, so one day's penalty at the default 12% is
// 9,900,000 × 120,000 / 365,000,000 = 3,254.7945205… minor, and n days
// posted day by day with the residue carried total round_half_even(n ×
// 3,254.7945205…): 2 → 6,509.59 → 6,510; 8 → 26,038.36 → 26,038;
// 13 → 42,312.33 → 42,312; 19 → 61,841.10 → 61,841;
// 180 → 585,863.01 → 585,863; 209 → 680,252.05 → 680,252.
// A payment of at most the penalty receivable goes wholly to penalty in the
// default (mifos) order, so it never changes the overdue principal.

import (
	"strings"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

func init() {
	// Bugs: these fail today.
	register("ReviewDb4438aChargeOffDayInsideUnclosedDays", testReviewDb4438aChargeOffInsideUnclosed)
	register("ReviewDb4438aPayoffAcrossUnclosedChargeOffDay", testReviewDb4438aPayoffAcrossChargeOff)
	register("ReviewDb4438aTermPaymentDatedInsideCaughtUpDays", testReviewDb4438aEarlierDatedTerm)
	// Behaviour found sound: these pass.
	register("ReviewDb4438aPenaltyOnceAcrossPaymentsAndCloses", testReviewDb4438aPenaltyOnce)
	register("ReviewDb4438aQuoteWritesNothing", testReviewDb4438aQuoteWritesNothing)
	register("ReviewDb4438aLongRunSameBothWays", testReviewDb4438aLongRun)
	register("ReviewDb4438aRevolvingQuotePaidClosesEveryStrategy", testReviewDb4438aRevolvingEveryStrategy)
	register("ReviewDb4438aDrawAfterLastClosedDay", testReviewDb4438aDrawAfterClosed)
}

// loan1p is the one-installment loan of the file comment, for merchant m1.
func loan1p(t testing.TB, s loans.Store) loans.Loan {
	t.Helper()
	line(t, s, "m1", 20_000_000, "0.12")
	return termLoan(t, s, "m1", 9_900_000, "0.12", 1, "2026-01-01")
}

// journalByKind is the total debit of the loan's entries of each kind and
// the net debit of each account.
func journalByKind(t testing.TB, s loans.Store, id int64) (kinds map[string]int64, accts map[string]int64) {
	t.Helper()
	js, err := s.Journal(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	kinds, accts = map[string]int64{}, map[string]int64{}
	for _, e := range js {
		for _, p := range e.Postings {
			kinds[e.Kind] += p.DebitMinor
			accts[p.AccountName] += p.DebitMinor - p.CreditMinor
		}
	}
	return kinds, accts
}

// Was a bug (introduced by db4438a). testReviewDb4438aChargeOffInsideUnclosed:
// loan1p is never paid; the default policy charges off at 180 days past
// due, i.e. at close of business of 2026-07-31 (02-01 + 180 days: Feb 27 +
// Mar 31 + Apr 30 + May 31 + Jun 30 + Jul 31 = 180).
//
// On time (store A, closed every day): penalty 02-02 .. 07-31 = 180 days =
// 585,863; charged off 9,900,000 + 99,000 + 585,863 = 10,584,863. On 08-30
// the quote is 10,584,863 to recover; 1,000.00 paid that day is a recovery,
// leaving 10,484,863.
//
// Late (store B, close of business not yet run): the same 1,000.00 on 08-30.
// The payment's catch-up posts penalty for 02-02 .. 08-29 = 209 days =
// 680,252 (as if the loan were never charged off) and writes penalty_through
// 08-29; close of business then charges the loan off on 07-31 anyway (DPD is
// worked out from the due date), with the 29 days after the charge-off
// already in its penalty: charged off 9,900,000 + 99,000 + 680,252 −
// 100,000 = 10,579,252 — 94,389 (29 days' penalty) more than on time, and
// penalty income 680,252 instead of 585,863. Before db4438a close of
// business posted the penalty only through the charge-off day: 10,484,804
// (0.59 short for the older reason db4438a fixed: the payment's 10.00 of
// principal counted back to 02-02); checked by running this file on the
// tree of db4438a^.
//
// Right: the figures of store A: quote 10,584,863 on 08-30, and after close
// of business 10,484,863 still to recover, penalty income 585,863. Fixed:
// the catch-up stops on the day close of business charges the loan off; the
// quote is then what will be to recover, and the payment is refused (409,
// nothing written) until close of business has charged the loan off, after
// which it is a recovery.
func testReviewDb4438aChargeOffInsideUnclosed(t *testing.T, open Opener) {
	a, clkA := openClock(t, open, "2026-01-01")
	b, clkB := openClock(t, open, "2026-01-01")
	la, lb := loan1p(t, a), loan1p(t, b)
	closeThrough(t, a, clkA, "2026-08-29", "2026-08-30")
	clkB.advance("2026-08-30")

	got := rrLoan(t, a, la.ID)
	if got.Status != loans.LoanChargedOff || got.ChargedOffMinor != 10_584_863 {
		t.Fatalf("on time through 08-29: %s charged off %d, want charged_off 10,584,863 (hand-worked)", got.Status, got.ChargedOffMinor)
	}
	var bad []string
	check := func(what string, got, want int64) {
		if got != want {
			bad = append(bad, what+": "+loans.FormatMinor(got)+", want "+loans.FormatMinor(want))
		}
	}
	for i, s := range []loans.Store{a, b} {
		id := []int64{la.ID, lb.ID}[i]
		q, err := s.PayoffQuote(ctx, id, day("2026-08-30"))
		if err != nil {
			t.Fatal(err)
		}
		who := []string{"on time", "late"}[i]
		check(who+" quote on 08-30", q.TotalMinor, 10_584_863)
		if i == 1 {
			before := snapshot(t, s)
			_, err := rrPay(s, "m1", id, 100_000, "2026-08-30", "early")
			wantCode(t, err, lend.ECONFLICT)
			if after := snapshot(t, s); after != before {
				t.Fatalf("a refused payment changed the store:\n%s\n%s", before, after)
			}
			closeThrough(t, s, clkB, "2026-08-29", "2026-08-30")
		}
		if _, err := rrPay(s, "m1", id, 100_000, "2026-08-30", "pay"); err != nil {
			t.Fatal(err)
		}
		closeThrough(t, s, []*testClock{clkA, clkB}[i], "2026-08-30", "2026-08-31")
		l := rrLoan(t, s, id)
		if l.Status != loans.LoanChargedOff {
			bad = append(bad, who+": status "+string(l.Status)+", want charged_off")
		}
		check(who+" still to recover (charged_off − recovered)", l.ChargedOffMinor-l.RecoveredMinor, 10_484_863)
		_, accts := journalByKind(t, s, id)
		check(who+" penalty income", -accts[loans.AcctPenaltyIncome.String()], 585_863)
		mustReconcile(t, s)
	}
	if len(bad) > 0 {
		t.Fatalf("charge-off day (07-31) inside the days close of business had not closed when 1,000.00 was paid on 08-30:\n  %s", strings.Join(bad, "\n  "))
	}
}

// Was a bug (introduced by db4438a; same cause). testReviewDb4438aPayoffAcrossChargeOff:
// loan1p as above, close of business not run; on 08-30 the merchant asks
// for the payoff and pays it. The quote counts 209 days of penalty: 9,900,000
// + 99,000 + 680,252 = 10,679,252, and paying it closes the loan paid off.
// On time the loan was charged off on 07-31 and settles for 10,584,863: the
// merchant pays 94,389 (29 days' penalty after the charge-off day) more
// because the batch was late.
func testReviewDb4438aPayoffAcrossChargeOff(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan1p(t, s)
	clk.advance("2026-08-30")
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-08-30"))
	if err != nil {
		t.Fatal(err)
	}
	if q.TotalMinor != 10_584_863 {
		t.Fatalf("payoff quote on 08-30, close of business never run: %+v\n"+
			"want 10,584,863 (9,900,000 + 99,000 + 180 days' penalty 585,863: charged off on 07-31 on time); "+
			"10,679,252 counts 209 days of penalty, 29 after the charge-off day", q)
	}
}

// testReviewDb4438aPenaltyOnce: a payment, then close of business part of
// the way, then another payment, then close of business past both: every
// day's penalty is posted exactly once, and installment 1's interest falls
// due once.
//
// loan1p (store B of the file comment). Close of business through 02-03:
// 2 days = 6,510. 100.00 on 02-10: catch-up 02-04 .. 02-09, total 8 days =
// 26,038 (posted 19,528); the payment takes 10,000 of penalty. Close of
// business through 02-05 posts no penalty (those days are the payment's).
// 100.00 on 02-15: catch-up from 02-10 (not 02-06) to 02-14: 13 days =
// 42,312. Close of business through 02-20: 02-15 .. 02-20, 19 days = 61,841.
// Penalty receivable 61,841 − 20,000 = 41,841; penalty income 61,841;
// interest_due 99,000 (once), interest receivable 99,000. A payment dated
// 02-20 (closed) is refused.
func testReviewDb4438aPenaltyOnce(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan1p(t, s)
	closeThrough(t, s, clk, "2026-02-03", "2026-02-10")
	if a := repayOn(t, s, l.ID, 10_000, "2026-02-10"); a.PenaltyMinor != 10_000 {
		t.Fatalf("allocation %+v, want all to penalty", a)
	}
	if got := rrLoan(t, s, l.ID); got.PenaltyReceivableMinor != 26_038-10_000 {
		t.Fatalf("after 02-10: penalty %d, want 26,038 − 10,000", got.PenaltyReceivableMinor)
	}
	closeThrough(t, s, clk, "2026-02-05", "2026-02-15")
	if got := rrLoan(t, s, l.ID); got.PenaltyReceivableMinor != 16_038 {
		t.Fatalf("close of business through 02-05 after the payment: penalty %d, want 16,038 (nothing posted again)", got.PenaltyReceivableMinor)
	}
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-02-15"))
	if err != nil {
		t.Fatal(err)
	}
	if q.PenaltyMinor != 42_312-10_000 {
		t.Fatalf("quote on 02-15 %+v, want penalty 42,312 − 10,000", q)
	}
	repayOn(t, s, l.ID, 10_000, "2026-02-15")
	closeThrough(t, s, clk, "2026-02-20", "2026-02-21")
	got := rrLoan(t, s, l.ID)
	if got.PenaltyReceivableMinor != 41_841 || got.InterestReceivableMinor != 99_000 || got.DPD != 19 {
		t.Fatalf("through 02-20: %+v, want penalty 41,841, interest 99,000, DPD 19", got.Balances())
	}
	kinds, accts := journalByKind(t, s, l.ID)
	if kinds[loans.KindInterestDue] != 99_000 || -accts[loans.AcctPenaltyIncome.String()] != 61_841 {
		t.Fatalf("journal: interest_due %d, penalty income %d; want 99,000 and 61,841", kinds[loans.KindInterestDue], -accts[loans.AcctPenaltyIncome.String()])
	}
	_, err = rrPay(s, "m1", l.ID, 100, "2026-02-20", "closed-day")
	wantCode(t, err, lend.EINVALID)
	mustReconcile(t, s)
}

// testReviewDb4438aQuoteWritesNothing: a payoff quote with close of business
// behind counts the unclosed days on a copy and writes nothing, so
// close of business still posts those days. loan1p, closed through 02-03
// (6,510); the quote on 02-10 counts 8 days (26,038). Close of business
// through 02-09 then posts 02-04 .. 02-09: 26,038 receivable (had the quote
// written penalty_through 02-09 it would stay 6,510).
func testReviewDb4438aQuoteWritesNothing(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan1p(t, s)
	closeThrough(t, s, clk, "2026-02-03", "2026-02-10")
	before := snapshot(t, s)
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-02-10"))
	if err != nil {
		t.Fatal(err)
	}
	if q.PenaltyMinor != 26_038 || q.InterestMinor != 99_000 || q.TotalMinor != 9_900_000+99_000+26_038 {
		t.Fatalf("quote %+v, want penalty 26,038, interest 99,000", q)
	}
	if after := snapshot(t, s); after != before {
		t.Fatalf("a quote changed the store:\n%s\n%s", before, after)
	}
	closeThrough(t, s, clk, "2026-02-09", "2026-02-10")
	if got := rrLoan(t, s, l.ID); got.PenaltyReceivableMinor != 26_038 {
		t.Fatalf("close of business after the quote: penalty %d, want 26,038", got.PenaltyReceivableMinor)
	}
	mustReconcile(t, s)
}

// testReviewDb4438aLongRun: the residue carried by the catch-up (Go) and by
// close of business (SQL) agree over a long run with the overdue principal
// changing. loan99k-like (99,000.00 at 12% over 6 months from 2026-01-01)
// with charge-off at 3,650 days so nothing is charged off; never paid.
// Store A closes every day through 2027-04-30; store B closes nothing and
// takes 0.01 on 2027-05-01, its catch-up posting every day since 02-02.
// Penalty through 04-30 = round_half_even(Σ_j principal_j × days_j ×
// 120,000 / 365,000,000), days_j the days after installment j's due date
// through 2027-04-30 (posting day by day with the residue carried rounds
// the running total). Both stores' penalty (B's before its 0.01) must be
// that, and after both close through 2027-05-10 their balances and journal
// per account agree.
func testReviewDb4438aLongRun(t *testing.T, open Opener) {
	p := loans.Policy{ChargeOffDPD: loans.MaxChargeOffDPD}
	clkA, clkB := &testClock{now: day("2026-01-01")}, &testClock{now: day("2026-01-01")}
	a, b := open(t, p, clkA.read), open(t, p, clkB.read)
	la, lb := loan99k(t, a), loan99k(t, b)
	sched, err := a.Schedule(ctx, la.ID)
	if err != nil {
		t.Fatal(err)
	}
	end := day("2027-05-01")
	var n int64 // exact penalty × 365,000,000
	for _, in := range sched {
		n += in.PrincipalMinor * (loans.DaysBetween(in.DueDate, end) - 1) * 120_000
	}
	const den = 365_000_000
	want, r := n/den, n%den
	if 2*r > den || (2*r == den && want%2 == 1) {
		want++
	}
	closeThrough(t, a, clkA, "2027-04-30", "2027-05-01")
	clkB.advance("2027-05-01")
	if got := rrLoan(t, a, la.ID).PenaltyReceivableMinor; got != want {
		t.Fatalf("on time: penalty %d, want %d", got, want)
	}
	if q, err := b.PayoffQuote(ctx, lb.ID, end); err != nil || q.PenaltyMinor != want {
		t.Fatalf("late quote: %+v %v, want penalty %d", q, err, want)
	}
	for i, s := range []loans.Store{a, b} {
		id := []int64{la.ID, lb.ID}[i]
		if _, err := rrPay(s, "m1", id, 1, "2027-05-01", "cent"); err != nil {
			t.Fatal(err)
		}
		closeThrough(t, s, []*testClock{clkA, clkB}[i], "2027-05-10", "2027-05-11")
		mustReconcile(t, s)
	}
	if va, vb := loanView(t, a, la.ID), loanView(t, b, lb.ID); va != vb {
		t.Fatalf("on time:\n%s\nlate:\n%s", va, vb)
	}
}

// testReviewDb4438aRevolvingEveryStrategy: a revolving draw with two
// statements past due, close of business 10 days behind; in each
// allocation strategy the payoff quote, paid, closes the draw, and close of
// business reaching the days posts nothing more. 36,500.00 at 10% on
// 2025-01-01 (one day's interest 1,000), closed through 2025-03-15; pay on
// 2025-03-25. Quote = 3,650,000 + 83 days' interest (01-01 .. 03-24) 83,000
// + penalty 1,224 (rrTwoUnpaid's figures: the quote is the same as with
// close of business on time) = 3,734,224.
func testReviewDb4438aRevolvingEveryStrategy(t *testing.T, open Opener) {
	for _, closed := range []string{"2025-03-15", ""} {
		for _, st := range []loans.Strategy{loans.StrategyMifosStandard, loans.StrategyPrincipalInterestPenaltiesFees, loans.StrategyInterestPrincipalPenaltiesFees} {
			s, clk := rrOpen(t, open, loans.Policy{Strategy: st}, "2025-01-01")
			line(t, s, "m1", 10_000_000, "0.10")
			l := rrDraw(t, s, "m1", 3_650_000, "2025-01-01", "draw")
			clk.advance("2025-03-25")
			if closed != "" {
				closeThrough(t, s, clk, closed, "2025-03-25")
			}
			q, err := s.PayoffQuote(ctx, l.ID, day("2025-03-25"))
			if err != nil {
				t.Fatal(err)
			}
			if q.TotalMinor != 3_734_224 || q.PenaltyMinor != 1_224 {
				t.Fatalf("closed through %q, %s: quote %+v, want 3,734,224 with penalty 1,224", closed, st, q)
			}
			rp := rrMustPay(t, s, "m1", l.ID, q.TotalMinor, "2025-03-25", "payoff")
			if rp.After.Status != loans.LoanPaidOff {
				t.Fatalf("%s: paying the quote: %+v %+v", st, rp.After, rp.Allocation)
			}
			closeThrough(t, s, clk, "2025-03-30", "2025-03-31")
			if got := rrLoan(t, s, l.ID).Balances(); got != (loans.LoanBalances{Status: loans.LoanPaidOff}) {
				t.Fatalf("%s: after close of business: %+v", st, got)
			}
			if cl := rrLine(t, s, "m1"); cl.DrawnMinor != 0 || cl.Status != loans.LineActive {
				t.Fatalf("%s: line %s drawn %d", st, cl.Status, cl.DrawnMinor)
			}
			mustReconcile(t, s)
		}
	}
}

// testReviewDb4438aDrawAfterClosed: a term loan disbursed after the last
// closed day (closed through 2026-01-10, loan1p taken on 2026-01-20,
// installment due 02-20) and paid on 03-02 while close of business is still
// at 01-10: the catch-up counts no penalty before the disbursement nor
// before the due date: 02-21 .. 03-01 = 9 days = 9 × 3,254.79 = 29,293.15 →
// 29,293. Close of business through 03-02 then adds 03-02 only: 10 days =
// 32,547.95 → 32,548.
func testReviewDb4438aDrawAfterClosed(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	line(t, s, "m1", 20_000_000, "0.12")
	closeThrough(t, s, clk, "2026-01-10", "2026-01-20")
	l := termLoan(t, s, "m1", 9_900_000, "0.12", 1, "2026-01-20")
	clk.advance("2026-03-02")
	if a := repayOn(t, s, l.ID, 10_000, "2026-03-02"); a.PenaltyMinor != 10_000 {
		t.Fatalf("allocation %+v", a)
	}
	if got := rrLoan(t, s, l.ID); got.PenaltyReceivableMinor != 29_293-10_000 {
		t.Fatalf("penalty %d, want 29,293 − 10,000", got.PenaltyReceivableMinor)
	}
	closeThrough(t, s, clk, "2026-03-02", "2026-03-03")
	if got := rrLoan(t, s, l.ID); got.PenaltyReceivableMinor != 32_548-10_000 || got.InterestReceivableMinor != 99_000 {
		t.Fatalf("after close of business: %+v, want penalty 22,548 and interest 99,000", got.Balances())
	}
	mustReconcile(t, s)
}

// Was a bug (introduced by db4438a). testReviewDb4438aEarlierDatedTerm: close of
// business has closed through 2026-01-25 and the clock is at 02-05, so any
// date 01-26 .. 02-05 is open. loan1p (installment 1 due 02-01: 990.00 +
// 99,000.00). The merchant pays 1.00 dated 02-05: its catch-up makes
// installment 1's interest receivable (99,000) and posts the penalty of
// 02-02 .. 02-04 on 9,900,000: 3 × 3,254.79 = 9,764.38 → 9,764
// (penalty_through 02-04). Then 50,000.00 dated 01-28 is accepted (a
// revolving draw refuses a payment dated inside days a later-dated payment
// already caught up — "payments are not re-sequenced"; a term loan does
// not): dated before installment 1 fell due, it pays 96.64 of penalty for
// days after its own date and 990.00 interest of which 27 of 31 days were
// earned by 01-28, and its principal never lowers the penalty already
// posted for 02-02 .. 02-04. Owed after it: 9,900,000 − 4,891,336 =
// 5,008,664 principal, nothing else.
//
// The same two payments in date order: 50,000.00 on 01-28 pays interest
// earned 99,000 × 27/31 = 86,225.81 → 86,226 and principal 4,913,774; on
// 02-05 installment 1's interest 99,000 − 86,226 = 12,774 falls due and
// penalty 02-02 .. 02-04 is 3 × 4,986,226 × 0.12/365 = 4,917.92 → 4,918, of
// which 1.00 is paid: owed 4,986,226 + 12,774 + 4,818 = 5,003,818 — 48.46
// less. (Before db4438a the 02-05 payment posted no penalty and close of
// business counted 02-02 .. 02-04 on the balance after both payments.)
//
// Right: refuse the payment dated 01-28 (EINVALID, value_date), as for a
// revolving draw; or apply it so that the loan owes what the date order
// gives, 5,003,818. Fixed: refused (a payment dated on or before the last
// day a later-dated payment caught up, penalty_through, whatever the
// product).
func testReviewDb4438aEarlierDatedTerm(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan1p(t, s)
	closeThrough(t, s, clk, "2026-01-25", "2026-02-05")
	if a := repayOn(t, s, l.ID, 100, "2026-02-05"); a.PenaltyMinor != 100 {
		t.Fatalf("1.00 on 02-05: %+v, want it all to penalty", a)
	}
	if got := rrLoan(t, s, l.ID); got.PenaltyReceivableMinor != 9_664 || got.InterestReceivableMinor != 99_000 {
		t.Fatalf("after 1.00 on 02-05: %+v, want penalty 9,764 − 100, interest 99,000", got.Balances())
	}
	rp, err := rrPay(s, "m1", l.ID, 5_000_000, "2026-01-28", "earlier")
	if err != nil {
		if lend.ErrorCode(err) != lend.EINVALID || lend.ErrorField(err) != "value_date" {
			t.Fatalf("payment dated 01-28: %v, want EINVALID naming value_date", err)
		}
		mustReconcile(t, s)
		return
	}
	got := rrLoan(t, s, l.ID)
	if got.OutstandingMinor() != 5_003_818 {
		t.Fatalf("50,000.00 dated 01-28 accepted after 1.00 dated 02-05 had caught up 02-02 .. 02-04: allocation %+v\n"+
			"owed %s (%+v); want it refused (as a revolving draw does) or 5,003,818 owed, the figure in date order",
			rp.Allocation, loans.FormatMinor(got.OutstandingMinor()), got.Balances())
	}
	mustReconcile(t, s)
}
