package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
	"pgregory.net/rapid"
)

// snapshot captures every balance a command could touch, so a rejected
// command can be shown to have changed nothing.
func snapshot(t interface{ Fatal(...any) }, s *Store) string {
	var b strings.Builder
	for _, q := range []string{
		`SELECT group_concat(id || ':' || status || ':' || principal_outstanding_minor || ':' || interest_receivable_minor || ':' ||
			penalty_receivable_minor || ':' || principal_repaid_minor || ':' || recovered_minor || ':' || accrual_residue, ',') FROM loans`,
		`SELECT group_concat(loan_id || ':' || seq || ':' || principal_minor || ':' || interest_minor || ':' || principal_paid_minor || ':' || interest_paid_minor, ',') FROM installments`,
		`SELECT group_concat(merchant_id || ':' || limit_minor || ':' || drawn_minor || ':' || status, ',') FROM credit_lines`,
		`SELECT count(*) || '/' || coalesce(sum(debit_minor), 0) FROM postings`,
		`SELECT count(*) FROM repayments`,
		`SELECT count(*) FROM loans_idempotency`,
	} {
		var v any
		if err := s.db.QueryRow(q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%v|", v)
	}
	return b.String()
}

// TestLedgerProperties runs random sequences of draws, term loans,
// repayments, prepayments, payoffs, bad commands and close-of-business days,
// and checks the ledger invariants after every step.
func TestLedgerProperties(t *testing.T) {
	dir := t.TempDir()
	// Durability is the crash test's subject; here fsync only slows the search.
	syncMode = "OFF"
	defer func() { syncMode = "FULL" }()
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		s, err := Open(filepath.Join(dir, fmt.Sprintf("p%d.db", n)), loans.Policy{ChargeOffDPD: rapid.SampledFrom([]int{30, 180}).Draw(rt, "chargeoff")})
		if err != nil {
			rt.Fatal(err)
		}
		defer s.Close()
		today := day("2024-01-15")
		s.now = func() time.Time { return today }
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
			var repaid, negatives int64
			if err := s.db.QueryRow(`SELECT coalesce(sum(principal_repaid_minor), 0), count(*) FILTER (WHERE principal_outstanding_minor < 0
				OR interest_receivable_minor < 0 OR penalty_receivable_minor < 0) FROM loans`).Scan(&repaid, &negatives); err != nil {
				rt.Fatal(err)
			}
			if repaid > lent || negatives > 0 {
				rt.Fatalf("principal repaid %d of %d lent; %d negative balances", repaid, lent, negatives)
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
