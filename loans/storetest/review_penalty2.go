package storetest

// Review (helper-43) of the change that charges penalty interest to the
// oldest overdue installment, at store level: every method, frequency,
// reschedule mode and strategy, with close of business (SQL) charging the
// penalty and payments late, partial, of what the schedule shows,
// prepaying and paying off.

import (
	"fmt"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
	"pgregory.net/rapid"
)

func init() {
	register("ReviewPenalty2EveryKindOfTermLoan", testReviewPenalty2EveryKindOfTermLoan)
}

// testReviewPenalty2EveryKindOfTermLoan: a term loan of a random method
// (annuity, equal-principal, interest-only), frequency (monthly, weekly,
// every N days), reschedule mode and strategy. Close of business runs every
// day; on random days the merchant pays a random amount, everything the
// schedule shows unpaid on the installments already due, that plus a
// prepayment, or the payoff quote. Expected by the rules of docs/LOANS.md:
// no payment fails with EINTERNAL; reconcile is clean after every step
// (penalty receivable = the installments' unpaid penalty); after paying
// everything shown due, the loan is current (DPD 0) at the next close of
// business; paying the quote closes the loan.
func testReviewPenalty2EveryKindOfTermLoan(t *testing.T, open Opener) {
	rapid.Check(t, func(rt *rapid.T) {
		st := rapid.SampledFrom(allStrategies).Draw(rt, "strategy")
		resch := rapid.SampledFrom([]loans.RescheduleMode{loans.KeepInstallment, loans.KeepTerm}).Draw(rt, "reschedule")
		method := rapid.SampledFrom([]loans.Method{loans.Annuity, loans.EqualPrincipal, loans.InterestOnly}).Draw(rt, "method")
		freq := rapid.SampledFrom([]loans.Frequency{loans.Monthly, loans.Weekly, loans.EveryDays}).Draw(rt, "freq")
		every := 0
		if freq == loans.EveryDays {
			every = rapid.IntRange(5, 20).Draw(rt, "every")
		}
		amount := rapid.Int64Range(10_000, 5_000_000).Draw(rt, "amount")
		periods := rapid.IntRange(1, 6).Draw(rt, "periods")
		apr := rapid.SampledFrom([]string{"0", "0.12", "0.36"}).Draw(rt, "apr")
		start := "2026-01-01"
		clk := &testClock{now: day(start)}
		s := open(t, loans.Policy{Strategy: st, Reschedule: resch}, clk.read)
		defer s.Close()
		r, _ := loans.ParseRate("apr", apr)
		if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "EUR", LimitMinor: 10 * amount, APR: r, Grade: "B", ModelID: "m1", AsOf: "2011-09-01"}}); err != nil {
			rt.Fatal(err)
		}
		app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app"}, loans.Application{Currency: "EUR", AmountMinor: amount,
			TermPeriods: periods, Method: method, Frequency: freq, EveryDays: every, Decision: loans.DecisionApproved,
			Offer: &loans.Offer{AmountMinor: amount, APR: r, TermPeriods: periods}})
		if err != nil {
			rt.Fatal(err)
		}
		l, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: start})
		if err != nil {
			rt.Fatal(err)
		}
		on := day(start)
		for ev := 0; ev < 8; ev++ {
			on = on.AddDate(0, 0, rapid.IntRange(1, 30).Draw(rt, "days"))
			clk.advance(fmtDate(on))
			if _, err := s.CloseOfBusiness(ctx, on.AddDate(0, 0, -1), nil); err != nil {
				rt.Fatal(err)
			}
			cur, err := s.Loan(ctx, l.ID)
			if err != nil {
				rt.Fatal(err)
			}
			if cur.Status != loans.LoanActive {
				break
			}
			q, err := s.PayoffQuote(ctx, l.ID, on)
			if err != nil {
				rt.Fatal(err)
			}
			sched, err := s.Schedule(ctx, l.ID)
			if err != nil {
				rt.Fatal(err)
			}
			var shown int64
			for _, in := range sched {
				if in.DueDate.Before(on) {
					shown += in.UnpaidMinor()
				}
			}
			kind := rapid.IntRange(0, 3).Draw(rt, "kind")
			var amt int64
			switch kind {
			case 0:
				amt = rapid.Int64Range(1, q.TotalMinor).Draw(rt, "amt")
			case 1:
				amt = shown
			case 2:
				amt = shown + rapid.Int64Range(1, max(q.TotalMinor-shown, 1)).Draw(rt, "extra")
			case 3:
				amt = q.TotalMinor
			}
			amt = max(min(amt, q.TotalMinor), 1)
			rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: fmt.Sprint("r", ev)}, loans.RepayRequest{LoanID: l.ID, AmountMinor: amt, ValueDate: fmtDate(on)})
			if err != nil {
				if lend.ErrorCode(err) == lend.EINTERNAL {
					rt.Fatalf("paying %d (kind %d, shown %d, payoff %d) on %s: %v\nschedule %+v", amt, kind, shown, q.TotalMinor, fmtDate(on), err, sched)
				}
				continue
			}
			if amt == q.TotalMinor && rp.After.Status != loans.LoanPaidOff {
				rt.Fatalf("paid the quote %+v on %s: loan %s", q, fmtDate(on), rp.After.Status)
			}
			if _, err := s.CloseOfBusiness(ctx, on, nil); err != nil {
				rt.Fatal(err)
			}
			got, err := s.Loan(ctx, l.ID)
			if err != nil {
				rt.Fatal(err)
			}
			if shown > 0 && amt >= shown && got.Status == loans.LoanActive && got.DPD != 0 {
				after, _ := s.Schedule(ctx, l.ID)
				rt.Fatalf("paid %d on %s, all %d the schedule showed due: DPD %d after close of business\nbefore %+v\nafter  %+v", amt, fmtDate(on), shown, got.DPD, sched, after)
			}
			rep, err := s.Reconcile(ctx)
			if err != nil || !rep.Clean() {
				rt.Fatalf("reconcile after paying %d on %s: %v %v", amt, fmtDate(on), err, rep.Differences)
			}
		}
	})
}

func init() {
	register("ReviewPenalty2ChargedOffScheduleQuoteRecovery", testReviewPenalty2ChargedOff)
}

// testReviewPenalty2ChargedOff: loan99k unpaid with charge-off at 30 DPD.
// Installment 1 is due 02-01, so close of business on 03-03 (DPD 30) charges
// the loan off. Its installments keep the penalty charged to them (unpaid)
// while the loan's penalty receivable is written off to 0. Expected: the
// charged-off amount is principal 9,900,000 + interest fallen due (990.00 on
// 02-01, 829.08 on 03-01: (9,900,000 − 1,609,229) × 1% = 82,907.71 → 82,908)
// + the penalty, which is the sum of the installments' penalty_minor;
// reconcile is clean; the portfolio counts it charged off and nothing at
// risk; the quote is what is left to recover, and paying it leaves nothing
// to recover and unfreezes the line.
func testReviewPenalty2ChargedOff(t *testing.T, open Opener) {
	clk := &testClock{now: day("2026-01-01")}
	s := open(t, loans.Policy{ChargeOffDPD: 30}, clk.read)
	l := loan99k(t, s)
	closeThrough(t, s, clk, "2026-03-03", "2026-03-04")
	got, err := s.Loan(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	var pen int64
	for _, in := range sched {
		pen += in.PenaltyMinor - in.PenaltyPaidMinor
	}
	if got.Status != loans.LoanChargedOff || pen <= 0 || got.ChargedOffMinor != 9_900_000+99_000+82_908+pen || got.PenaltyReceivableMinor != 0 {
		t.Fatalf("charged off: %+v; installments' penalty %d", got.Balances(), pen)
	}
	mustReconcile(t, s)
	pf, err := s.Portfolio(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pf.ByStatus[string(loans.LoanChargedOff)].Count != 1 || pf.PAR30Bps != 0 || pf.OutstandingMinor != 0 {
		t.Fatalf("portfolio %+v", pf)
	}
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-03-04"))
	if err != nil {
		t.Fatal(err)
	}
	if q.TotalMinor != got.ChargedOffMinor {
		t.Fatalf("quote %+v, want %d to recover", q, got.ChargedOffMinor)
	}
	a := repayOn(t, s, l.ID, q.TotalMinor, "2026-03-04")
	if a.RecoveryMinor != q.TotalMinor {
		t.Fatalf("allocation %+v, want all recovery", a)
	}
	closeThrough(t, s, clk, "2026-03-04", "2026-03-05")
	if cl, _ := s.CreditLine(ctx, "m1"); cl.Status != loans.LineActive {
		t.Fatalf("line %s after everything was recovered, want active", cl.Status)
	}
	mustReconcile(t, s)
}
