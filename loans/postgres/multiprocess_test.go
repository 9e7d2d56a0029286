package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/loans/postgres/pgtest"
)

// openPair opens two stores on one fresh schema, each with its own pool, as
// two service processes would, with the clock pinned to now.
func openPair(t *testing.T, now string) (*Store, *Store) {
	t.Helper()
	url, _ := pgtest.SchemaURL(t)
	pinned, _ := time.Parse(loans.DateLayout, now)
	var out [2]*Store
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range out {
		wg.Add(1)
		go func(i int) { // both migrate at once: the advisory lock makes it safe
			defer wg.Done()
			out[i], errs[i] = Open(context.Background(), url, loans.Policy{})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		out[i].SetClock(func() time.Time { return pinned })
		t.Cleanup(func() { out[i].Close() })
	}
	return out[0], out[1]
}

// TestSameKeyFromTwoProcesses: 16 concurrent repayments with one idempotency
// key, half through each store, all return the same repayment and exactly
// one is applied; the same key with another amount is EUNPROCESSABLE.
func TestSameKeyFromTwoProcesses(t *testing.T) {
	a, b := openPair(t, "2024-01-10")
	ctx := context.Background()
	if _, err := a.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "EUR", LimitMinor: 100_000, APR: 120000}}); err != nil {
		t.Fatal(err)
	}
	l, err := b.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "d"}, loans.DrawRequest{AmountMinor: 50_000})
	if err != nil {
		t.Fatal(err)
	}
	const n = 16
	got := make([]loans.Repayment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			got[i], errs[i] = s.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "same"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 1_000})
		}(i)
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if got[i].ID != got[0].ID || got[i].EntryID != got[0].EntryID {
			t.Fatalf("call %d returned repayment %d (entry %d), call 0 returned %d (entry %d)", i, got[i].ID, got[i].EntryID, got[0].ID, got[0].EntryID)
		}
	}
	rps, err := a.Repayments(ctx, l.ID)
	if err != nil || len(rps) != 1 {
		t.Fatalf("repayments %+v %v, want exactly one", rps, err)
	}
	if cl, _ := b.CreditLine(ctx, "m1"); cl.DrawnMinor != 49_000 {
		t.Fatalf("drawn %d, want 50,000 - 1,000 = 49,000", cl.DrawnMinor)
	}
	_, err = b.Repay(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "same"}, loans.RepayRequest{LoanID: l.ID, AmountMinor: 2_000})
	if lend.ErrorCode(err) != lend.EUNPROCESSABLE {
		t.Fatalf("same key, other amount: %v, want %s", err, lend.EUNPROCESSABLE)
	}
	rep, err := b.Reconcile(ctx)
	if err != nil || !rep.Clean() {
		t.Fatalf("reconcile %v %v", err, rep.Differences)
	}
}

// TestEODWhileRepayingFromAnotherProcess: one store closes 40 days (two
// processes both running EOD for the same dates) while another repays loans
// with value dates left open; every day is closed exactly once, every
// acknowledged repayment is in its loan's journal, and reconcile is clean.
func TestEODWhileRepayingFromAnotherProcess(t *testing.T) {
	a, b := openPair(t, "2024-01-01")
	ctx := context.Background()
	var ups []loans.CreditLineUpdate
	for i := 0; i < 20; i++ {
		ups = append(ups, loans.CreditLineUpdate{MerchantID: fmt.Sprint("m", i), Currency: "EUR", LimitMinor: 1_000_000, APR: 240000})
	}
	if _, err := a.UpsertCreditLines(ctx, ups); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, 20)
	for i := range ids {
		l, err := a.Draw(ctx, loans.Cmd{MerchantID: fmt.Sprint("m", i), IdempotencyKey: "d"}, loans.DrawRequest{AmountMinor: 500_000, On: "2024-01-01"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = l.ID
	}
	through, _ := time.Parse(loans.DateLayout, "2024-02-09")
	var wg sync.WaitGroup
	reports := make([]loans.EODReport, 2)
	eodErrs := make([]error, 2)
	for k, s := range []*Store{a, b} {
		wg.Add(1)
		go func(k int, s *Store) {
			defer wg.Done()
			reports[k], eodErrs[k] = s.CloseOfBusiness(ctx, through, nil)
		}(k, s)
	}
	type ack struct{ loan, entry int64 }
	var acks []ack
	for r := 0; r < 60; r++ {
		i := r % 20
		// No value date: the open business day, whatever EOD has closed so far.
		rp, err := b.Repay(ctx, loans.Cmd{MerchantID: fmt.Sprint("m", i), IdempotencyKey: fmt.Sprint("r", r)}, loans.RepayRequest{LoanID: ids[i], AmountMinor: 1_000})
		if err != nil {
			t.Fatalf("repayment %d: %v", r, err)
		}
		acks = append(acks, ack{rp.LoanID, rp.EntryID})
	}
	wg.Wait()
	for k := range eodErrs {
		if eodErrs[k] != nil {
			t.Fatal(eodErrs[k])
		}
	}
	// The 40 days 2024-01-01..2024-02-09 were closed once between the two runs.
	if days := reports[0].Days + reports[1].Days; days < 40 || days > 80 {
		t.Fatalf("days reported %d + %d", reports[0].Days, reports[1].Days)
	}
	var closed int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM loans_eod_runs`).Scan(&closed); err != nil || closed != 40 {
		t.Fatalf("loans_eod_runs has %d days (%v), want 40", closed, err)
	}
	var accruals int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM journal_entries WHERE kind = 'accrual'`).Scan(&accruals); err != nil || accruals != 40*20 {
		t.Fatalf("%d accrual entries (%v), want one per loan per day: 800", accruals, err)
	}
	for _, k := range acks {
		j, err := a.Journal(ctx, k.loan)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range j {
			found = found || e.ID == k.entry
		}
		if !found {
			t.Fatalf("acknowledged repayment entry %d of loan %d is not in the journal", k.entry, k.loan)
		}
	}
	rep, err := a.Reconcile(ctx)
	if err != nil || !rep.Clean() {
		t.Fatalf("reconcile %v %v", err, rep.Differences)
	}
}
