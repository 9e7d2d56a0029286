package storetest

// Review of the change that charges penalty interest to the oldest overdue
// installment (Installment.PenaltyMinor), at store level.

import (
	"fmt"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
	"pgregory.net/rapid"
)

func init() {
	register("ReviewPenaltyOtherStrategiesLatePaymentOfTheInstallmentShownCuresIt", testReviewPenaltyOtherStrategiesLatePaymentShown)
	register("ReviewPenaltyOtherStrategiesPaymentOfTheOldestInstallmentShownCuresIt", testReviewPenaltyOtherStrategiesOldestShown)
	register("ReviewPenaltyRevolvingShownStatementThenNextStatement", testReviewPenaltyRevolvingNextStatement)
}

// allStrategies are the three allocation strategies, the default first.
var allStrategies = []loans.Strategy{loans.StrategyMifosStandard, loans.StrategyPrincipalInterestPenaltiesFees,
	loans.StrategyInterestPrincipalPenaltiesFees}

// reviewPenaltyOtherStrategies are the two strategies that take penalties
// after principal and interest.
var reviewPenaltyOtherStrategies = []loans.Strategy{loans.StrategyPrincipalInterestPenaltiesFees, loans.StrategyInterestPrincipalPenaltiesFees}

// reviewPenaltyOpen is openClock with the policy's allocation strategy set.
func reviewPenaltyOpen(t *testing.T, open Opener, st loans.Strategy, now string) (loans.Store, *testClock) {
	t.Helper()
	c := &testClock{now: day(now)}
	return open(t, loans.Policy{Strategy: st}, c.read), c
}

// testReviewPenaltyOtherStrategiesLatePaymentShown: LatePaymentOfTheInstallmentShownCuresIt
// with the two other strategies. docs/LOANS.md (this change): "a payment of
// everything the schedule shows due cures it whatever the strategy".
//
// loan99k: installment 1 due 02-01 = 990.00 interest + 16,092.29 principal.
// Unpaid, close of business through 02-05 charges 4 days' penalty on
// 1,609,229 at 12%: 4 × 1,609,229 × 0.12 / 365 = 2,116.25 → 2,116, on
// installment 1. On 02-06 the schedule shows installment 1 unpaid
// 1,609,229 + 99,000 + 2,116 = 1,710,345 and nothing else due (installment 2
// is due 03-01). The merchant pays exactly that. Installment 1 is then paid
// in full, nothing is overdue, and the loan is current (DPD 0) at close of
// business on 02-06, its line active.
//
// Got: the strategy takes installment 1's principal and interest
// (1,708,229), then the current installment (installment 2, not due) with
// the 2,116 left — its principal (principal-interest) or its earned interest
// (interest-principal) — and only then penalties, with nothing left.
// Installment 1 keeps 21.16 penalty unpaid, so the loan stays 5 days past
// due and the line frozen after the merchant paid everything shown due.
func testReviewPenaltyOtherStrategiesLatePaymentShown(t *testing.T, open Opener) {
	for _, st := range reviewPenaltyOtherStrategies {
		t.Run(string(st), func(t *testing.T) {
			s, clk := reviewPenaltyOpen(t, open, st, "2026-01-01")
			l := loan99k(t, s)
			closeThrough(t, s, clk, "2026-02-05", "2026-02-06")
			in, unpaid := shownUnpaid(t, s, l.ID, 1)
			if in.PenaltyMinor != 2_116 || unpaid != 1_710_345 {
				t.Fatalf("installment 1 on 02-06: %+v, unpaid %d; want penalty 2,116, unpaid 1,710,345", in, unpaid)
			}
			a := repayOn(t, s, l.ID, unpaid, "2026-02-06")
			closeThrough(t, s, clk, "2026-02-06", "2026-02-07")
			in, left := shownUnpaid(t, s, l.ID, 1)
			got, err := s.Loan(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			cl, err := s.CreditLine(ctx, "m1")
			if err != nil {
				t.Fatal(err)
			}
			if left != 0 || got.DPD != 0 || cl.Status != loans.LineActive {
				t.Fatalf("paid 1,710,345 (all the schedule showed due) on 02-06; at close of business 02-06: installment 1 unpaid %d (%+v), "+
					"DPD %d, line %s; want 0, 0, active (allocation %+v)", left, in, got.DPD, cl.Status, a)
			}
			mustReconcile(t, s)
		})
	}
}

// testReviewPenaltyOtherStrategiesOldestShown: PaymentOfTheOldestInstallmentCuresIt
// with the two other strategies and the penalty now on installment 1: a
// merchant two installments behind pays what the schedule shows unpaid on
// the oldest one. Before this change the penalty was on the loan only and
// not in the DPD, so under these strategies paying installment 1's principal
// and interest cured it and the delinquency age moved to installment 2.
//
// loan99k, nothing paid, close of business through 03-05: penalty
// (28 × 1,609,229 + 4 × 3,234,550) × 0.12 / 365 = 19,067.38 → 19,067, all
// charged to installment 1 (the oldest overdue each day). Shown unpaid on
// installment 1 on 03-06: 1,609,229 + 99,000 + 19,067 = 1,727,296. Paid on
// 03-06, installment 1 is settled and the DPD counts from installment 2
// (due 03-01): 5.
//
// Got: installment 1's principal and interest are taken, then installment
// 2's (also overdue) with the 19,067 left; installment 1 keeps its 190.67
// penalty and the DPD stays 33 (from 02-01): the oldest-first cure of
// helper-39's review is undone for these strategies.
func testReviewPenaltyOtherStrategiesOldestShown(t *testing.T, open Opener) {
	for _, st := range reviewPenaltyOtherStrategies {
		t.Run(string(st), func(t *testing.T) {
			s, clk := reviewPenaltyOpen(t, open, st, "2026-01-01")
			l := loan99k(t, s)
			closeThrough(t, s, clk, "2026-03-05", "2026-03-06")
			in, unpaid := shownUnpaid(t, s, l.ID, 1)
			if in.PenaltyMinor != 19_067 || unpaid != 1_727_296 {
				t.Fatalf("installment 1 on 03-06: %+v, unpaid %d; want penalty 19,067, unpaid 1,727,296", in, unpaid)
			}
			a := repayOn(t, s, l.ID, unpaid, "2026-03-06")
			in, left := shownUnpaid(t, s, l.ID, 1)
			got, err := s.Loan(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			if left != 0 || got.DPD != 5 {
				t.Fatalf("paid installment 1's shown 1,727,296 on 03-06: installment 1 unpaid %d (%+v), DPD %d; want 0 and 5 (allocation %+v)",
					left, in, got.DPD, a)
			}
			mustReconcile(t, s)
		})
	}
}

// testReviewPenaltyRevolvingNextStatement: LatePaymentOfTheStatementShownCuresIt
// continued: statement 1 paid 4 days late for what it shows (141,608 with the
// 108 penalty); statement 2 is billed on 05-01 on the balance left and paid
// on its due date for what it shows. The penalty must not enter the unbilled
// arithmetic of statement 2.
//
// revolving36k: 3,650,000 at 10% from 03-01, daily interest 3,650,000 ×
// 0.10 / 365 = 1,000 exactly. Statement 1 (04-01): 109,500 principal +
// 32,000 interest (32 days), due 04-21. Close of business through 04-24:
// accrual 04-02 .. 04-24 = 23 days = 23,000 unbilled; penalty 108 on
// statement 1. Paid 141,608 on 04-25: 108 + 32,000 + 109,500. Principal
// left 3,650,000 − 109,500 = 3,540,500; its daily interest 3,540,500 × 0.10
// / 365 = 970.0 exactly. Statement 2 on 05-01: interest unbilled = 04-02 ..
// 04-24 at 1,000 (23,000) + 04-25 .. 05-01 at 970 (7 × 970 = 6,790) =
// 29,790; principal max(25.00, ⌈3% × 3,540,500⌉ = 106,215) = 106,215; due
// 05-21, no penalty. Paid 136,005 on 05-21: the loan is current at close of
// business, line active.
func testReviewPenaltyRevolvingNextStatement(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2024-03-01")
	l := revolving36k(t, s)
	closeThrough(t, s, clk, "2024-04-24", "2024-04-25")
	repayOn(t, s, l.ID, 141_608, "2024-04-25")
	closeThrough(t, s, clk, "2024-05-20", "2024-05-21")
	wantStatements(t, s, l.ID, statement{"2024-04-21", 109_500, 32_000, 109_500, 32_000}, statement{"2024-05-21", 106_215, 29_790, 0, 0})
	in, unpaid := shownUnpaid(t, s, l.ID, 2)
	if in.PenaltyMinor != 0 || unpaid != 136_005 {
		t.Fatalf("statement 2 on 05-21: %+v unpaid %d, want no penalty, 136,005", in, unpaid)
	}
	repayOn(t, s, l.ID, unpaid, "2024-05-21")
	closeThrough(t, s, clk, "2024-05-21", "2024-05-22")
	wantCurrent(t, s, l.ID, "after close of business on 05-21")
	mustReconcile(t, s)
}

func init() {
	register("ReviewPenaltyCatchUpEqualsCloseOfBusiness", testReviewPenaltyCatchUpEqualsCloseOfBusiness)
}

// testReviewPenaltyCatchUpEqualsCloseOfBusiness: two stores hold the same
// loan (a random term loan or a revolving draw, in a random strategy) and
// receive the same payments on the same value dates. Store A runs close of
// business every day before each payment (step 5 charges the penalty to an
// installment in SQL); store B lets it lag, so each payment's catch-up
// (State.catchUp) charges the unclosed days' penalty, then closes. catchUp
// must do exactly what close of business does: the same quote before each
// payment, the same allocation, and once both have closed the same day the
// same balances, DPD and schedule — penalty_minor / penalty_paid_minor on the
// same installments — with reconcile clean in both.
func testReviewPenaltyCatchUpEqualsCloseOfBusiness(t *testing.T, open Opener) {
	rapid.Check(t, func(rt *rapid.T) {
		st := rapid.SampledFrom(allStrategies).Draw(rt, "strategy")
		chargeOff := rapid.SampledFrom([]int{30, 60, loans.MaxChargeOffDPD}).Draw(rt, "chargeoff")
		revolving := rapid.Bool().Draw(rt, "revolving")
		amount := rapid.Int64Range(10_000, 5_000_000).Draw(rt, "amount")
		periods := rapid.IntRange(1, 6).Draw(rt, "periods")
		apr := rapid.SampledFrom([]string{"0", "0.12", "0.36"}).Draw(rt, "apr")
		start := "2026-01-01"
		type side struct {
			s   loans.Store
			clk *testClock
			id  int64
		}
		var sides [2]*side
		for k := range sides {
			c := &testClock{now: day(start)}
			s := open(t, loans.Policy{Strategy: st, ChargeOffDPD: chargeOff}, c.read)
			defer s.Close()
			r, _ := loans.ParseRate("apr", apr)
			if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "EUR", LimitMinor: 10 * amount, APR: r, Grade: "B", ModelID: "m1", AsOf: "2011-09-01"}}); err != nil {
				rt.Fatal(err)
			}
			var l loans.Loan
			var err error
			if revolving {
				l, err = s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "draw"}, loans.DrawRequest{AmountMinor: amount, Currency: "EUR", On: start})
			} else {
				var app loans.Application
				app, err = s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app"}, loans.Application{Currency: "EUR", AmountMinor: amount,
					TermPeriods: periods, Decision: loans.DecisionApproved, Offer: &loans.Offer{AmountMinor: amount, APR: r, TermPeriods: periods}})
				if err == nil {
					l, err = s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: start})
				}
			}
			if err != nil {
				rt.Fatal(err)
			}
			sides[k] = &side{s, c, l.ID}
		}
		a, b := sides[0], sides[1]
		closeAt := func(sd *side, through loans.Date) {
			if _, err := sd.s.CloseOfBusiness(ctx, through, nil); err != nil {
				rt.Fatal(err)
			}
		}
		state := func(sd *side) string {
			l, err := sd.s.Loan(ctx, sd.id)
			if err != nil {
				rt.Fatal(err)
			}
			sched, err := sd.s.Schedule(ctx, sd.id)
			if err != nil {
				rt.Fatal(err)
			}
			cl, err := sd.s.CreditLine(ctx, "m1")
			if err != nil {
				rt.Fatal(err)
			}
			out := fmt.Sprintf("%s dpd %d %+v line %s %d|", l.Status, l.DPD, l.Balances(), cl.Status, cl.DrawnMinor)
			for _, in := range sched {
				out += fmt.Sprintf("%d %s p%d/%d i%d/%d pen%d/%d|", in.Seq, fmtDate(in.DueDate), in.PrincipalPaidMinor, in.PrincipalMinor,
					in.InterestPaidMinor, in.InterestMinor, in.PenaltyPaidMinor, in.PenaltyMinor)
			}
			return out
		}
		on := day(start)
		for ev := 0; ev < 8; ev++ {
			on = on.AddDate(0, 0, rapid.IntRange(1, 40).Draw(rt, "days"))
			for _, sd := range sides {
				sd.clk.advance(fmtDate(on))
			}
			closeAt(a, on.AddDate(0, 0, -1))
			qa, err := a.s.PayoffQuote(ctx, a.id, on)
			if err != nil {
				rt.Fatal(err)
			}
			qb, err := b.s.PayoffQuote(ctx, b.id, on)
			if err != nil {
				rt.Fatal(err)
			}
			if qa != qb {
				rt.Fatalf("quote on %s: closed daily %+v, close of business behind %+v", fmtDate(on), qa, qb)
			}
			if qa.TotalMinor == 0 {
				break
			}
			sched, err := a.s.Schedule(ctx, a.id)
			if err != nil {
				rt.Fatal(err)
			}
			var oldest int64
			for _, in := range sched {
				if u := in.UnpaidMinor(); u > 0 && in.DueDate.Before(on) {
					oldest = u
					break
				}
			}
			amt := rapid.OneOf(rapid.Int64Range(1, qa.TotalMinor), rapid.Just(qa.TotalMinor), rapid.Just(max(oldest, 1)),
				rapid.Just(max(amount/int64(periods), 1))).Draw(rt, "amount")
			amt = max(min(amt, qa.TotalMinor), 1)
			key := fmt.Sprint("r", ev)
			ra, erra := a.s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: key}, loans.RepayRequest{LoanID: a.id, AmountMinor: amt, ValueDate: fmtDate(on)})
			rb, errb := b.s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: key}, loans.RepayRequest{LoanID: b.id, AmountMinor: amt, ValueDate: fmtDate(on)})
			if lend.ErrorCode(erra) == lend.EINTERNAL || lend.ErrorCode(errb) == lend.EINTERNAL {
				rt.Fatalf("paying %d on %s: closed daily: %v; behind: %v", amt, fmtDate(on), erra, errb)
			}
			if erra != nil {
				rt.Fatalf("paying %d on %s with close of business closed: %v", amt, fmtDate(on), erra)
			}
			if errb != nil {
				// The charge-off day is inside the unclosed days: close
				// of business first, then the payment is a recovery.
				if lend.ErrorCode(errb) != lend.ECONFLICT {
					rt.Fatalf("paying %d on %s, close of business behind: %v", amt, fmtDate(on), errb)
				}
				closeAt(b, on.AddDate(0, 0, -1))
				if rb, errb = b.s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: key + "x"}, loans.RepayRequest{LoanID: b.id, AmountMinor: amt, ValueDate: fmtDate(on)}); errb != nil {
					rt.Fatalf("paying %d on %s after closing: %v", amt, fmtDate(on), errb)
				}
			}
			if ra.Allocation != rb.Allocation {
				rt.Fatalf("paying %d on %s: allocation closed daily %+v, behind %+v", amt, fmtDate(on), ra.Allocation, rb.Allocation)
			}
			if rapid.Bool().Draw(rt, "b closes now") {
				closeAt(a, on)
				closeAt(b, on)
				if sa, sb := state(a), state(b); sa != sb {
					rt.Fatalf("after paying %d on %s and closing it:\nclosed daily: %s\nbehind:       %s", amt, fmtDate(on), sa, sb)
				}
			}
			for _, sd := range sides {
				rep, err := sd.s.Reconcile(ctx)
				if err != nil || !rep.Clean() {
					rt.Fatalf("reconcile after paying %d on %s: %v %v", amt, fmtDate(on), err, rep.Differences)
				}
			}
		}
	})
}
