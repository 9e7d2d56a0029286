package storetest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lendhq/lend/loans"
)

func init() {
	register("RevolvingStatementCycle", testRevolvingStatementCycle)
	register("RevolvingStatementOfADayClosedLate", testRevolvingStatementClosedLate)
	register("LateCloseOfBusinessSameAsOnTime", testRevolvingLateCloseSameAsOnTime)
}

// The revolving cases draw 36,500.00 at 10% a year: one day's interest is
// 3,650,000 × 0.10 / 365 = 1,000 minor (10.00) exactly, so every figure below
// is worked by hand without residues unless stated. A draw on the 1st has its
// statements on the 1st of each month; the default policy bills a minimum of
// max(25.00, ⌈3% of the outstanding principal⌉) principal plus all unbilled
// interest, due 20 days after the statement.
func revolving36k(t *testing.T, s loans.Store) loans.Loan {
	t.Helper()
	line(t, s, "m1", 10_000_000, "0.10")
	l, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "draw"}, loans.DrawRequest{AmountMinor: 3_650_000, Currency: "EUR", On: "2024-03-01"})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// statement is the part of an installment a revolving statement sets.
type statement struct {
	due                               string
	principal, interest, pPaid, iPaid int64
}

func wantStatements(t *testing.T, s loans.Store, loanID int64, want ...statement) {
	t.Helper()
	got, err := s.Schedule(ctx, loanID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d statements %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		st := statement{fmtDate(g.DueDate), g.PrincipalMinor, g.InterestMinor, g.PrincipalPaidMinor, g.InterestPaidMinor}
		if g.Seq != i+1 || st != w {
			t.Fatalf("statement %d = seq %d %+v, want %+v", i+1, g.Seq, st, w)
		}
	}
}

func wantBalances(t *testing.T, s loans.Store, loanID int64, want loans.LoanBalances, lineStatus loans.LineStatus) {
	t.Helper()
	l, err := s.Loan(ctx, loanID)
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Balances(); got != want {
		t.Fatalf("balances %+v, want %+v", got, want)
	}
	cl, err := s.CreditLine(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if cl.Status != lineStatus || cl.DrawnMinor != want.PrincipalOutstandingMinor {
		t.Fatalf("line %s drawn %d, want %s drawn %d", cl.Status, cl.DrawnMinor, lineStatus, want.PrincipalOutstandingMinor)
	}
}

func repayOn(t *testing.T, s loans.Store, loanID, amountMinor int64, on string) loans.Allocation {
	t.Helper()
	r, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "r-" + on}, loans.RepayRequest{LoanID: loanID, AmountMinor: amountMinor, ValueDate: on})
	if err != nil {
		t.Fatal(err)
	}
	return r.Allocation
}

func closeThrough(t *testing.T, s loans.Store, clk *testClock, through, today string) {
	t.Helper()
	clk.advance(today)
	if _, err := s.CloseOfBusiness(ctx, day(through), nil); err != nil {
		t.Fatal(err)
	}
}

// testRevolvingStatementCycle: two statements, the first paid in full before
// its due date (no delinquency), the second missed (DPD 1, penalty, line
// frozen) and then cured.
func testRevolvingStatementCycle(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	active := loans.LoanActive

	// Statement 1 on 2024-04-01: interest of 32 days (03-01 .. 04-01, the
	// statement day's accrual runs first) = 320.00; principal
	// ⌈3% × 3,650,000⌉ = 109,500; due 04-21.
	closeThrough(t, s, clk, "2024-04-01", "2024-04-02")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 0, 0})

	// Paid on 04-10 after close of business through 04-09 (8 more days
	// accrued, 8,000, unbilled): the 1,415.00 minimum settles the statement.
	closeThrough(t, s, clk, "2024-04-09", "2024-04-10")
	a := repayOn(t, s, l.ID, 141_500, "2024-04-10")
	if a.CurrentInterestMinor != 32_000 || a.CurrentPrincipalMinor != 109_500 || a.TotalMinor() != 141_500 {
		t.Fatalf("allocation %+v", a)
	}
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_540_500, InterestReceivableMinor: 8_000}, loans.LineActive)

	// Past the due date: nothing overdue.
	closeThrough(t, s, clk, "2024-04-22", "2024-04-23")
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_540_500, InterestReceivableMinor: 20_610}, loans.LineActive)
	// (8,000 + 13 days 04-10 .. 04-22 at 3,540,500 × 0.10 / 365 = 970.00 a day = 12,610.)

	// Statement 2 on 05-01: interest 8,000 + 22 days (04-10 .. 05-01) × 970
	// = 29,340; principal ⌈3% × 3,540,500⌉ = 106,215; due 05-21.
	closeThrough(t, s, clk, "2024-05-01", "2024-05-02")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000}, statement{"2024-05-21", 106_215, 29_340, 0, 0})

	// Missed: at close of business on 05-22 it is 1 day past due, the line
	// is frozen, and a day of penalty interest accrues on the overdue
	// principal: 106,215 × 0.12 / 365 = 34.92 → 35 (residue carried).
	// Interest receivable: 29,340 + 21 days (05-02 .. 05-22) × 970 = 49,710.
	closeThrough(t, s, clk, "2024-05-22", "2024-05-23")
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_540_500, InterestReceivableMinor: 49_710,
		PenaltyReceivableMinor: 35, DPD: 1}, loans.LineFrozen)

	// Cured on 05-23: penalty first, then the overdue statement
	// (35 + 29,340 + 106,215 = 135,590).
	a = repayOn(t, s, l.ID, 135_590, "2024-05-23")
	if a.PenaltyMinor != 35 || a.OverdueInterestMinor != 29_340 || a.OverduePrincipalMinor != 106_215 || a.TotalMinor() != 135_590 {
		t.Fatalf("allocation %+v", a)
	}
	closeThrough(t, s, clk, "2024-05-23", "2024-05-24")
	// 3,540,500 − 106,215 = 3,434,285 outstanding; interest 49,710 − 29,340
	// + 05-23's day at 3,434,285 × 0.10 / 365 = 940.900… → 941 = 21,311.
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_434_285, InterestReceivableMinor: 21_311}, loans.LineActive)
	mustReconcile(t, s)
}

// testRevolvingStatementClosedLate: close of business is behind (the last
// closed day is 03-31) when the merchant pays 2,000.00 on 04-03. The
// statement of 04-01 has not been produced yet, but a merchant's payment
// after the statement day counts toward that statement's minimum, as a card
// issuer counts a payment made between the statement and its due date.
// Before, the late close of business billed the statement on the balance the
// payment had already reduced, as if nothing had been paid (minimum 1,044.90
// due 04-21), and the merchant, who had paid 2,000.00, turned 1 day past due
// on 04-22 with penalty interest (0.34) and a frozen line.
//
// Right: the statement is the one close of business on time would have
// produced (interest 03-01 .. 04-01 = 320.00; principal 3% × 36,500.00 =
// 1,095.00), and the 04-03 payment, posted after it, pays it: 320.00
// interest, 1,095.00 principal, and the rest, 10.00 of 04-02's interest and
// 575.00 of principal, goes to the unbilled balance.
func testRevolvingStatementClosedLate(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	active := loans.LoanActive
	closeThrough(t, s, clk, "2024-03-31", "2024-04-03")

	a := repayOn(t, s, l.ID, 200_000, "2024-04-03")
	if a.CurrentInterestMinor != 32_000 || a.CurrentPrincipalMinor != 109_500 || a.UnbilledInterestMinor != 1_000 || a.PrepaidPrincipalMinor != 57_500 {
		t.Fatalf("allocation %+v", a)
	}
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000})
	// 3,650,000 − 109,500 − 57,500 = 3,483,000 outstanding.
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_483_000}, loans.LineActive)

	// The late close of business does not bill 04-01 again, and the
	// statement is paid, so nobody is past due on 04-22.
	closeThrough(t, s, clk, "2024-04-22", "2024-04-23")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000})
	// Interest 04-03 .. 04-22 (20 days) at 3,483,000 × 0.10 / 365 =
	// 954.2465… a day: cumulative posted = round(cumulative exact) =
	// round(19,084.93) = 19,085.
	wantBalances(t, s, l.ID, loans.LoanBalances{Status: active, PrincipalOutstandingMinor: 3_483_000, InterestReceivableMinor: 19_085}, loans.LineActive)

	// The next statement, on 05-01, on time: interest 04-03 .. 05-01 (29
	// days) = round(27,673.15) = 27,673; principal ⌈3% × 3,483,000⌉ =
	// 104,490.
	closeThrough(t, s, clk, "2024-05-01", "2024-05-02")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000}, statement{"2024-05-21", 104_490, 27_673, 0, 0})
	mustReconcile(t, s)
}

// testRevolvingLateCloseSameAsOnTime: a merchant's revolving draw (or term
// loan) ends in the same state whether close of business ran on time before each payment or
// lagged behind it: same payoff quotes, allocations, statements, balances,
// line and ledger totals. Store A closes every day before each payment;
// store B closes through a random earlier day, so the payment posts the
// unclosed days' interest, statements and penalty interest itself. Gaps
// between payments reach 45 days and half the payments are small, so
// statements fall past due (penalty, DPD, a frozen line) in some cases.
// Seeded cases rather than rapid's hundred: each case closes about 70 days
// on two stores.
func testRevolvingLateCloseSameAsOnTime(t *testing.T, open Opener) {
	const cases = 10
	compared := 0
	pastDue = 0
	for c := range cases {
		r := rand.New(rand.NewPCG(uint64(c), 20261125))
		between := func(lo, hi int64) int64 { return lo + r.Int64N(hi-lo+1) }
		start := day("2024-01-01").AddDate(0, 0, int(between(0, 60)))
		apr := loans.Rate(between(0, 600_000))
		amount := between(1, 5_000_000)
		// Even cases a revolving draw, odd ones a term loan (its penalty
		// interest of unclosed days is the same catch-up).
		var term *loans.Offer
		if c%2 == 1 {
			term = &loans.Offer{AmountMinor: amount, APR: apr, TermPeriods: int(between(1, 6))}
		}
		if compareLateClose(t, open, c, r, between, start, apr, amount, term) {
			compared++
		}
	}
	if compared < cases/2 || pastDue == 0 {
		t.Fatalf("only %d of %d cases compared, %d payments on a loan past due", compared, cases, pastDue)
	}
}

// pastDue counts the payments testRevolvingLateCloseSameAsOnTime made on a
// loan past due (a test run is sequential).
var pastDue int

func compareLateClose(t *testing.T, open Opener, c int, r *rand.Rand, between func(lo, hi int64) int64, start loans.Date, apr loans.Rate, amount int64, term *loans.Offer) bool {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("case %d (%d at %d µ on %s): "+format, append([]any{c, amount, apr, fmtDate(start)}, args...)...)
	}
	clkA, clkB := &testClock{now: start}, &testClock{now: start}
	a, b := open(t, loans.Policy{}, clkA.read), open(t, loans.Policy{}, clkB.read)
	defer a.Close()
	defer b.Close()
	var ids [2]int64
	for i, s := range []loans.Store{a, b} {
		if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "EUR", LimitMinor: amount, APR: apr}}); err != nil {
			fail("%v", err)
		}
		var l loans.Loan
		var err error
		if term == nil {
			l, err = s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "draw"}, loans.DrawRequest{AmountMinor: amount, Currency: "EUR", On: fmtDate(start)})
		} else {
			var app loans.Application
			app, err = s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app"}, loans.Application{Currency: "EUR",
				AmountMinor: amount, TermPeriods: term.TermPeriods, Decision: loans.DecisionApproved, Offer: term})
			if err == nil {
				l, err = s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: fmtDate(start)})
			}
		}
		if err != nil {
			fail("%v", err)
		}
		ids[i] = l.ID
	}
	closeB := start.AddDate(0, 0, -1) // B's last closed day
	today := start
	for p := range int(between(1, 4)) {
		pay := today.AddDate(0, 0, int(between(1, 45)))
		clkA.advance(fmtDate(pay))
		clkB.advance(fmtDate(pay))
		if _, err := a.CloseOfBusiness(ctx, pay.AddDate(0, 0, -1), nil); err != nil {
			fail("%v", err)
		}
		la, err := a.Loan(ctx, ids[0])
		if err != nil || la.Status != loans.LoanActive {
			return false // charged off before the payment: not compared
		}
		if la.DPD > 0 {
			pastDue++
		}
		lag := between(0, loans.DaysBetween(closeB, pay.AddDate(0, 0, -1)))
		if through := pay.AddDate(0, 0, -1-int(lag)); through.After(closeB) {
			if _, err := b.CloseOfBusiness(ctx, through, nil); err != nil {
				fail("%v", err)
			}
			closeB = through
		}
		qa, errA := a.PayoffQuote(ctx, ids[0], pay)
		qb, errB := b.PayoffQuote(ctx, ids[1], pay)
		if errA != nil || errB != nil || qa.TotalMinor != qb.TotalMinor {
			fail("payoff on %s: on time %+v %v, late %+v %v", fmtDate(pay), qa, errA, qb, errB)
		}
		amt := between(1, qa.TotalMinor)
		if r.IntN(2) == 0 {
			amt = between(1, min(qa.TotalMinor, 20_000))
		}
		key := fmt.Sprint("r", p)
		ra, errA := a.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: key}, loans.RepayRequest{LoanID: ids[0], AmountMinor: amt, ValueDate: fmtDate(pay)})
		rb, errB := b.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: key}, loans.RepayRequest{LoanID: ids[1], AmountMinor: amt, ValueDate: fmtDate(pay)})
		if errA != nil || errB != nil || ra.Allocation != rb.Allocation || ra.After != rb.After {
			fail("payment of %d on %s (B closed through %s): on time %+v %+v %v, late %+v %+v %v",
				amt, fmtDate(pay), fmtDate(closeB), ra.Allocation, ra.After, errA, rb.Allocation, rb.After, errB)
		}
		today = pay
		if ra.After.Status != loans.LoanActive {
			break
		}
	}
	end := today.AddDate(0, 0, 30)
	for i, s := range []loans.Store{a, b} {
		[]*testClock{clkA, clkB}[i].advance(fmtDate(end.AddDate(0, 0, 1)))
		if _, err := s.CloseOfBusiness(ctx, end, nil); err != nil {
			fail("%v", err)
		}
	}
	if sa, sb := loanView(t, a, ids[0]), loanView(t, b, ids[1]); sa != sb {
		fail("on time:\n%s\nlate:\n%s", sa, sb)
	}
	return true
}

// loanView is what a merchant and the ledger see of one loan: balances,
// statements, the line, and the journal's total per business day and
// account (a payment's catch-up dates each day's entries on that day, as
// close of business does).
func loanView(t *testing.T, s loans.Store, id int64) string {
	t.Helper()
	l, err := s.Loan(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := s.Schedule(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := s.CreditLine(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	js, err := s.Journal(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	totals := map[string]int64{}
	for _, e := range js {
		for _, p := range e.Postings {
			totals[e.BusinessDate+" "+p.AccountName] += p.DebitMinor - p.CreditMinor
		}
	}
	for acct, v := range totals {
		if v == 0 {
			delete(totals, acct) // touched and netted out: as never touched
		}
	}
	return fmt.Sprintf("balances %+v\nstatements %+v\nline %s drawn %d\njournal %v", l.Balances(), sched, cl.Status, cl.DrawnMinor, totals)
}
