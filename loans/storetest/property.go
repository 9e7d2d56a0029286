package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
	"pgregory.net/rapid"
)

func init() { register("LedgerProperties", testLedgerProperties) }

// testLedgerProperties runs random sequences of draws, term loans,
// repayments, prepayments, payoffs, bad commands and close-of-business days,
// and checks the ledger invariants after every step: reconcile is clean, a
// rejected command changed nothing, no balance is negative and no more
// principal is repaid than was lent.
func testLedgerProperties(t *testing.T, open Opener) {
	rapid.Check(t, func(rt *rapid.T) {
		today := day("2024-01-15")
		// Each case gets a fresh store; the opener's cleanup runs at the end
		// of the test, so close it here too (Close is idempotent).
		s := open(t, loans.Policy{ChargeOffDPD: rapid.SampledFrom([]int{30, 180}).Draw(rt, "chargeoff")}, func() time.Time { return today })
		defer s.Close()
		apr := loans.Rate(rapid.Int64Range(0, 600000).Draw(rt, "apr"))
		limit := rapid.Int64Range(1000, 5_000_000).Draw(rt, "limit")
		if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m", Currency: "EUR", LimitMinor: limit, APR: apr}}); err != nil {
			rt.Fatal(err)
		}
		var ids []int64
		key := 0
		cmd := func() loans.Cmd { key++; return loans.Cmd{MerchantID: "m", IdempotencyKey: fmt.Sprint("k", key)} }
		var lent int64
		steps := rapid.IntRange(1, 30).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			before := snapshot(rt, s)
			var err error
			bad := false
			switch rapid.IntRange(0, 6).Draw(rt, "op") {
			case 0: // draw
				amt := rapid.Int64Range(-10, limit+10).Draw(rt, "draw")
				var l loans.Loan
				l, err = s.Draw(ctx, cmd(), loans.DrawRequest{AmountMinor: amt, Currency: "EUR"})
				if err == nil {
					ids = append(ids, l.ID)
					lent += amt
				}
			case 1: // term loan
				amt := rapid.Int64Range(1, limit).Draw(rt, "term")
				m := rapid.SampledFrom([]loans.Method{loans.Annuity, loans.EqualPrincipal, loans.InterestOnly}).Draw(rt, "method")
				var app loans.Application
				app, err = s.CreateApplication(ctx, cmd(), loans.Application{Currency: "EUR", AmountMinor: amt, Method: m, Decision: loans.DecisionApproved,
					Offer: &loans.Offer{AmountMinor: amt, APR: apr, TermPeriods: rapid.IntRange(1, 12).Draw(rt, "periods")}})
				if err == nil {
					before = snapshot(rt, s) // the application is stored; the accept is the next command
					var l loans.Loan
					l, err = s.AcceptApplication(ctx, cmd(), loans.AcceptRequest{ApplicationID: app.ID})
					if err == nil {
						ids = append(ids, l.ID)
						lent += amt
					}
				}
			case 2, 3: // repayment: partial, exact payoff, prepayment or over payoff
				if len(ids) == 0 {
					continue
				}
				id := rapid.SampledFrom(ids).Draw(rt, "loan")
				q, qerr := s.PayoffQuote(ctx, id, today)
				if qerr != nil {
					rt.Fatal(qerr)
				}
				amt := rapid.OneOf(rapid.Int64Range(-5, q.TotalMinor+5), rapid.Just(q.TotalMinor), rapid.Just(q.TotalMinor+1)).Draw(rt, "amount")
				_, err = s.Repay(ctx, cmd(), loans.RepayRequest{LoanID: id, AmountMinor: amt})
				if amt > q.TotalMinor && q.TotalMinor > 0 {
					wantErr(rt, err, lend.EUNPROCESSABLE)
				}
			case 4: // bad commands
				bad = true
				switch rapid.IntRange(0, 3).Draw(rt, "bad") {
				case 0:
					_, err = s.Repay(ctx, cmd(), loans.RepayRequest{LoanID: 999999, AmountMinor: 1})
					wantErr(rt, err, lend.ENOTFOUND)
				case 1:
					_, err = s.Draw(ctx, cmd(), loans.DrawRequest{AmountMinor: 1, Currency: "USD"})
					wantErr(rt, err, lend.EINVALID)
				case 2:
					if len(ids) == 0 {
						continue
					}
					_, err = s.Repay(ctx, cmd(), loans.RepayRequest{LoanID: ids[0], AmountMinor: 1, ValueDate: "2000-01-01"})
					wantErr(rt, err, lend.EINVALID, lend.ECONFLICT) // ECONFLICT when that loan is already closed
				case 3:
					_, err = s.Draw(ctx, cmd(), loans.DrawRequest{AmountMinor: limit + 1, Currency: "EUR"})
					wantErr(rt, err, lend.EINSUFFICIENT, lend.ECONFLICT) // ECONFLICT when the line is frozen
				}
			default: // close of business for 1..45 days
				k := rapid.IntRange(1, 45).Draw(rt, "days")
				through := today.AddDate(0, 0, k-1)
				if _, err := s.CloseOfBusiness(ctx, through, nil); err != nil {
					rt.Fatal(err)
				}
				today = through.AddDate(0, 0, 1)
			}
			if err != nil || bad {
				if lend.ErrorCode(err) == lend.EINTERNAL {
					rt.Fatalf("internal error: %v", err)
				}
				if after := snapshot(rt, s); after != before {
					rt.Fatalf("rejected command (%v) changed state:\n%s\n%s", err, before, after)
				}
			}
			rep, rerr := s.Reconcile(ctx)
			if rerr != nil || !rep.Clean() {
				rt.Fatalf("reconcile after step %d: %v %v", i, rerr, rep.Differences)
			}
			all, _, lerr := s.ListLoans(ctx, loans.LoanFilter{Limit: loans.MaxPageSize})
			if lerr != nil {
				rt.Fatal(lerr)
			}
			var repaid int64
			for _, l := range all {
				repaid += l.PrincipalRepaidMinor
				if l.PrincipalOutstandingMinor < 0 || l.InterestReceivableMinor < 0 || l.PenaltyReceivableMinor < 0 {
					rt.Fatalf("loan %d has a negative balance: %+v", l.ID, l.Balances())
				}
			}
			if repaid > lent {
				rt.Fatalf("principal repaid %d of %d lent", repaid, lent)
			}
		}
	})
}

func wantErr(t *rapid.T, err error, codes ...string) {
	for _, c := range codes {
		if lend.ErrorCode(err) == c {
			return
		}
	}
	t.Fatalf("error %v, want code %v", err, codes)
}
