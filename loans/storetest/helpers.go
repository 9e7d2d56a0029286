package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

var ctx = context.Background()

// day parses a YYYY-MM-DD date (test literals only).
func day(s string) loans.Date {
	d, err := time.Parse(loans.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return d
}

func fmtDate(d loans.Date) string { return d.Format(loans.DateLayout) }

// openAt opens a fresh store with the default policy and the wall clock
// pinned to the given date.
func openAt(t testing.TB, open Opener, now string) loans.Store {
	t.Helper()
	pinned := day(now)
	return open(t, loans.Policy{}, func() time.Time { return pinned })
}

// testClock is a store's wall clock in a test: it reads a pinned date that
// the test moves forward as the scenario's days pass (a payment can only be
// dated up to the open business day, as in production).
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) read() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// advance moves the clock to date d (YYYY-MM-DD) if that is later.
func (c *testClock) advance(d string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t := day(d); t.After(c.now) {
		c.now = t
	}
}

// openClock is openAt with the clock returned, for tests whose days pass.
func openClock(t testing.TB, open Opener, now string) (loans.Store, *testClock) {
	t.Helper()
	c := &testClock{now: day(now)}
	return open(t, loans.Policy{}, c.read), c
}

func mustReconcile(t testing.TB, s loans.Store) {
	t.Helper()
	rep, err := s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Clean() {
		t.Fatalf("reconcile: %v", rep.Differences)
	}
}

func line(t testing.TB, s loans.Store, merchant string, limitMinor int64, apr string) {
	t.Helper()
	r, _ := loans.ParseRate("apr", apr)
	if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: merchant, Currency: "EUR", LimitMinor: limitMinor, APR: r, Grade: "B", ModelID: "m1", AsOf: "2011-09-01"}}); err != nil {
		t.Fatal(err)
	}
}

func termLoan(t testing.TB, s loans.Store, merchant string, amount int64, apr string, periods int, on string) loans.Loan {
	t.Helper()
	r, _ := loans.ParseRate("apr", apr)
	app, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: merchant, IdempotencyKey: "app-" + on + merchant},
		loans.Application{Currency: "EUR", AmountMinor: amount, TermPeriods: periods, Decision: loans.DecisionApproved,
			Offer: &loans.Offer{AmountMinor: amount, APR: r, TermPeriods: periods}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: merchant, IdempotencyKey: "acc-" + on + merchant}, loans.AcceptRequest{ApplicationID: app.ID, On: on})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// loan99k is the loan of the hand-worked money cases: 99,000.00 at 12% over
// 6 months from 2026-01-01, annuity, 30/360 (installment 17,082.29;
// installment 1: 990.00 interest, 16,092.29 principal), for merchant m1 on a
// 200,000.00 line.
func loan99k(t testing.TB, s loans.Store) loans.Loan {
	t.Helper()
	line(t, s, "m1", 20_000_000, "0.12")
	return termLoan(t, s, "m1", 9_900_000, "0.12", 6, "2026-01-01")
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if lend.ErrorCode(err) != code {
		t.Fatalf("error %v (code %q), want code %q", err, lend.ErrorCode(err), code)
	}
}

// snapshot captures, through the Store interface only, every balance a
// command could touch: each credit line, each loan's balances and schedule,
// and the count and sum of its journal postings and repayments. A rejected
// command must leave it unchanged.
func snapshot(t interface{ Fatal(...any) }, s loans.Store) string {
	var b strings.Builder
	cursor := ""
	for {
		ls, next, err := s.ListCreditLines(ctx, loans.CreditLineFilter{Cursor: cursor, Limit: loans.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			fmt.Fprintf(&b, "line %s:%d:%d:%s|", l.MerchantID, l.LimitMinor, l.DrawnMinor, l.Status)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	cursor = ""
	for {
		ls, next, err := s.ListLoans(ctx, loans.LoanFilter{Cursor: cursor, Limit: loans.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			fmt.Fprintf(&b, "loan %d:%s:%d:%d:%d:%d:%d|", l.ID, l.Status, l.PrincipalOutstandingMinor, l.InterestReceivableMinor,
				l.PenaltyReceivableMinor, l.PrincipalRepaidMinor, l.RecoveredMinor)
			sched, err := s.Schedule(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range sched {
				fmt.Fprintf(&b, "%d:%d:%d:%d:%d,", in.Seq, in.PrincipalMinor, in.InterestMinor, in.PrincipalPaidMinor, in.InterestPaidMinor)
			}
			j, err := s.Journal(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			var legs, debits int64
			for _, e := range j {
				for _, p := range e.Postings {
					legs++
					debits += p.DebitMinor
				}
			}
			rps, err := s.Repayments(ctx, l.ID)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "|journal %d/%d repayments %d|", legs, debits, len(rps))
		}
		if next == "" {
			break
		}
		cursor = next
	}
	return b.String()
}
