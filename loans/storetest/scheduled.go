package storetest

import (
	"testing"

	"github.com/lendhq/lend/loans"
)

func init() {
	register("ScheduledPaymentsSettleLoan", testScheduledPaymentsSettleLoan)
	register("ScheduledPaymentsSettleVariants", testScheduledPaymentsSettleVariants)
	register("RepayThenPayoffNeverCostsMore", testRepayThenPayoffNeverCostsMore)
	register("RepayOnDisbursementDayPaysPrincipal", testRepayOnDisbursementDayPaysPrincipal)
	register("EarlyInstallmentPaymentSettlesIt", testEarlyInstallmentPaymentSettlesIt)
}

// testScheduledPaymentsSettleLoan: a merchant who pays each installment's
// scheduled total on its due date, with close of business run through every
// day, ends paid off with zero balances. The schedule (annuity, 1,000.00 at
// 11.88%, 3 months from 2026-01-01; 30/360 monthly rate 0.99%):
//
//	due 2026-02-01  339.96 = 330.06 principal + 9.90 interest (1000.00×0.0099)
//	due 2026-03-01  339.96 = 333.33 principal + 6.63 interest (669.94×0.0099 = 6.632)
//	due 2026-04-01  339.94 = 336.61 principal + 3.33 interest (336.61×0.0099 = 3.332)
//
// (the same table `lend schedule --principal 1000 --rate 0.1188 --term 3
// --method annuity` prints). Two timings are checked: paying before the due
// date's close of business, and paying on the due date after EOD already
// closed the day before it (the normal flow: EOD for day D-1, then payment on D).
func testScheduledPaymentsSettleLoan(t *testing.T, open Opener) {
	payments := []struct {
		due    string
		amount int64
	}{{"2026-02-01", 33996}, {"2026-03-01", 33996}, {"2026-04-01", 33994}}
	s := openAt(t, open, "2026-01-01")
	line(t, s, "m1", 500_000, "0.1188")
	l := termLoan(t, s, "m1", 100_000, "0.1188", 3, "2026-01-01")
	sched, err := s.Schedule(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range payments {
		if fmtDate(sched[i].DueDate) != p.due || sched[i].TotalMinor() != p.amount {
			t.Fatalf("installment %d: due %s total %d, want %s %d", i+1, fmtDate(sched[i].DueDate), sched[i].TotalMinor(), p.due, p.amount)
		}
	}
	for i, p := range payments {
		// Close every day before the due date, then pay on the due date.
		if _, err := s.CloseOfBusiness(ctx, day(p.due).AddDate(0, 0, -1), nil); err != nil {
			t.Fatal(err)
		}
		rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "pay-" + p.due},
			loans.RepayRequest{LoanID: l.ID, AmountMinor: p.amount, ValueDate: p.due})
		if err != nil {
			t.Fatalf("installment %d: %v", i+1, err)
		}
		if rp.Allocation.TotalMinor() != p.amount || rp.Allocation.PenaltyMinor != 0 {
			t.Fatalf("installment %d allocation %+v", i+1, rp.Allocation)
		}
		if _, err := s.CloseOfBusiness(ctx, day(p.due), nil); err != nil {
			t.Fatal(err)
		}
		got, _ := s.Loan(ctx, l.ID)
		if got.DPD != 0 || got.PenaltyReceivableMinor != 0 {
			t.Fatalf("after installment %d: dpd %d penalty %d", i+1, got.DPD, got.PenaltyReceivableMinor)
		}
	}
	// A month of further closes changes nothing.
	if _, err := s.CloseOfBusiness(ctx, day("2026-05-01"), nil); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Loan(ctx, l.ID)
	if got.Status != loans.LoanPaidOff || got.OutstandingMinor() != 0 || got.PrincipalOutstandingMinor != 0 ||
		got.InterestReceivableMinor != 0 || got.PenaltyReceivableMinor != 0 || got.DPD != 0 {
		t.Fatalf("after the last scheduled payment: %+v", got.Balances())
	}
	// Principal 1000.00 and interest 9.90 + 6.63 + 3.33 = 19.86 paid in full.
	if got.PrincipalRepaidMinor != 100_000 || got.InterestPaidMinor != 1986 {
		t.Fatalf("repaid principal %d interest %d, want 100000 1986", got.PrincipalRepaidMinor, got.InterestPaidMinor)
	}
	mustReconcile(t, s)
}

// testScheduledPaymentsSettleVariants pays each installment's stored total on
// its due date for other schedule shapes (act/365, equal principal, a start on
// the 31st whose due dates clamp to month ends, weekly) and checks the loan
// closes with nothing left: the property is that a schedule's totals add up to
// principal + scheduled interest, so paying them exactly must settle the loan.
func testScheduledPaymentsSettleVariants(t *testing.T, open Opener) {
	cases := []struct {
		name, start, apr string
		periods          int
		method           loans.Method
		freq             loans.Frequency
		dc               loans.DayCount
	}{
		{"annuity act/365", "2026-01-01", "0.1188", 3, loans.Annuity, loans.Monthly, loans.DayCountAct365},
		{"equal principal 30/360", "2026-01-01", "0.1188", 3, loans.EqualPrincipal, loans.Monthly, loans.DayCount30360},
		{"start on 31st act/365", "2026-01-31", "0.24", 4, loans.Annuity, loans.Monthly, loans.DayCountAct365},
		{"weekly", "2026-01-01", "0.30", 6, loans.Annuity, loans.Weekly, loans.DayCount30360},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openAt(t, open, c.start)
			line(t, s, "m1", 500_000, c.apr)
			r, _ := loans.ParseRate("apr", c.apr)
			app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "app"},
				loans.Application{Currency: "EUR", AmountMinor: 100_000, TermPeriods: c.periods, Decision: loans.DecisionApproved,
					Method: c.method, Frequency: c.freq, DayCount: c.dc, Offer: &loans.Offer{AmountMinor: 100_000, APR: r, TermPeriods: c.periods}})
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: app.ID, On: c.start})
			if err != nil {
				t.Fatal(err)
			}
			sched, err := s.Schedule(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			var interest int64
			for _, in := range sched {
				interest += in.InterestMinor
			}
			for i, in := range sched {
				due := in.DueDate
				if _, err := s.CloseOfBusiness(ctx, due.AddDate(0, 0, -1), nil); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "pay-" + fmtDate(due)},
					loans.RepayRequest{LoanID: l.ID, AmountMinor: in.TotalMinor(), ValueDate: fmtDate(due)}); err != nil {
					t.Fatalf("installment %d: %v", i+1, err)
				}
				if _, err := s.CloseOfBusiness(ctx, due, nil); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := s.CloseOfBusiness(ctx, sched[len(sched)-1].DueDate.AddDate(0, 1, 0), nil); err != nil {
				t.Fatal(err)
			}
			got, _ := s.Loan(ctx, l.ID)
			if got.Status != loans.LoanPaidOff || got.OutstandingMinor() != 0 || got.DPD != 0 ||
				got.PrincipalRepaidMinor != 100_000 || got.InterestPaidMinor != interest {
				t.Fatalf("after the last scheduled payment: %+v, principal repaid %d, interest paid %d (scheduled %d)",
					got.Balances(), got.PrincipalRepaidMinor, got.InterestPaidMinor, interest)
			}
			mustReconcile(t, s)
		})
	}
}

// testRepayThenPayoffNeverCostsMore: paying X on day d and then the payoff
// quote of day d must never cost the merchant more than paying the day-d
// payoff quote directly, because interest is charged only as earned (pro rata
// by days) both in the quote and in the allocation. Loan: 99,000.00 at 12%,
// 6 monthly installments from 2026-01-01; installment 1 interest is
// 99,000.00 × 1% = 990.00 (30/360), due 2026-02-01.
func testRepayThenPayoffNeverCostsMore(t *testing.T, open Opener) {
	cases := []struct {
		on     string
		amount int64
	}{
		{"2026-01-01", 2_000_000}, // day 0: nothing earned yet
		{"2026-01-01", 100},
		{"2026-01-11", 2_000_000}, // 10 of 31 days: 990.00×10/31 = 319.35 earned
		{"2026-01-31", 1_708_249},
		{"2026-02-01", 2_000_000}, // due date: the whole 990.00 is owed
		{"2026-02-15", 50_000},    // installment 1 overdue, 2 earning
	}
	for _, c := range cases {
		t.Run(c.on+"/"+loans.FormatMinor(c.amount), func(t *testing.T) {
			direct := openAt(t, open, "2026-01-01")
			ld := loan99k(t, direct)
			want, err := direct.PayoffQuote(ctx, ld.ID, day(c.on))
			if err != nil {
				t.Fatal(err)
			}

			s, clk := openClock(t, open, "2026-01-01")
			l := loan99k(t, s)
			clk.advance(c.on)
			rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "x"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: c.amount, ValueDate: c.on})
			if err != nil {
				t.Fatal(err)
			}
			q, err := s.PayoffQuote(ctx, l.ID, day(c.on))
			if err != nil {
				t.Fatal(err)
			}
			if c.amount+q.TotalMinor > want.TotalMinor {
				t.Fatalf("paid %d (allocation %+v) then payoff %d = %d, more than the direct payoff %d",
					c.amount, rp.Allocation, q.TotalMinor, c.amount+q.TotalMinor, want.TotalMinor)
			}
			if _, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "payoff"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: q.TotalMinor, ValueDate: c.on}); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Loan(ctx, l.ID); got.Status != loans.LoanPaidOff || got.OutstandingMinor() != 0 {
				t.Fatalf("after payoff: %+v", got.Balances())
			}
			mustReconcile(t, s)
		})
	}
}

// testRepayOnDisbursementDayPaysPrincipal: 20,000.00 repaid on the day of
// disbursement of the 99,000.00 loan above earns no interest (0 days
// elapsed), so all of it is principal: installment 1's scheduled principal,
// the rest a prepayment. The payoff quote the same day is then
// 99,000.00 − 20,000.00 = 79,000.00 with interest 0.
func testRepayOnDisbursementDayPaysPrincipal(t *testing.T, open Opener) {
	s := openAt(t, open, "2026-01-01")
	l := loan99k(t, s)
	rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d0"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 2_000_000, ValueDate: "2026-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if a := rp.Allocation; a.InterestMinor() != 0 || a.PrincipalMinor() != 2_000_000 {
		t.Fatalf("allocation %+v", a)
	}
	q, err := s.PayoffQuote(ctx, l.ID, day("2026-01-01"))
	if err != nil {
		t.Fatal(err)
	}
	if q.PrincipalMinor != 7_900_000 || q.InterestMinor != 0 || q.TotalMinor != 7_900_000 {
		t.Fatalf("payoff %+v", q)
	}
	mustReconcile(t, s)
}

// testEarlyInstallmentPaymentSettlesIt: the 99,000.00 loan's installment 1
// (17,082.29 = 16,092.29 principal + 990.00 interest, due 2026-02-01) paid a
// day early, on 2026-01-31: earned interest 990.00 × 30/31 = 958.06, principal
// 16,092.29, the remaining 31.94 prepays principal. The installment is closed
// at 958.06 interest, so the loan is current after the due date's close.
func testEarlyInstallmentPaymentSettlesIt(t *testing.T, open Opener) {
	s, clk := openClock(t, open, "2026-01-01")
	l := loan99k(t, s)
	clk.advance("2026-01-31")
	rp, err := s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "early"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 1_708_229, ValueDate: "2026-01-31"})
	if err != nil {
		t.Fatal(err)
	}
	want := loans.Allocation{CurrentInterestMinor: 95806, CurrentPrincipalMinor: 1_609_229, PrepaidPrincipalMinor: 3194}
	if rp.Allocation != want {
		t.Fatalf("allocation %+v, want %+v", rp.Allocation, want)
	}
	if _, err := s.CloseOfBusiness(ctx, day("2026-02-05"), nil); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Loan(ctx, l.ID)
	if got.DPD != 0 || got.InterestReceivableMinor != 0 || got.PenaltyReceivableMinor != 0 {
		t.Fatalf("after the due date: dpd %d interest receivable %d penalty %d", got.DPD, got.InterestReceivableMinor, got.PenaltyReceivableMinor)
	}
	mustReconcile(t, s)
}
