package storetest

import (
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// Benchmarks over loans.Store only, so SQLite and PostgreSQL run the same
// code (loans/sqlite/bench_test.go, loans/postgres/bench_test.go). The book
// is seeded through the Store's own commands.

// benchStart is the pinned business day of the benchmark books.
const benchStart = "2024-01-01"

// seeded is one loan of a seeded book.
type seeded struct {
	merchant string
	loanID   int64
}

// seedBook opens one credit line per loan and disburses loansN loans on
// benchStart with seedWorkers concurrent commands: every 10th (and, when
// revolvingOnly, every one) a revolving draw of 100,000.00, the rest
// 3-month annuity term loans of 100,000.00 at 18%.
func seedBook(b *testing.B, s loans.Store, loansN int, revolvingOnly bool) []seeded {
	b.Helper()
	const seedWorkers = 32
	for start := 0; start < loansN; start += 10_000 {
		var ups []loans.CreditLineUpdate
		for i := start; i < min(start+10_000, loansN); i++ {
			ups = append(ups, loans.CreditLineUpdate{MerchantID: "m" + strconv.Itoa(i), Currency: "EUR", LimitMinor: 100_000_000,
				APR: 180000, Grade: "B", ModelID: "bench", AsOf: benchStart})
		}
		if _, err := s.UpsertCreditLines(ctx, ups); err != nil {
			b.Fatal(err)
		}
	}
	book := make([]seeded, loansN)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < seedWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= loansN || failed.Load() != nil {
					return
				}
				m := "m" + strconv.Itoa(i)
				var l loans.Loan
				var err error
				if revolvingOnly || i%10 == 0 {
					l, err = s.Draw(ctx, loans.Cmd{MerchantID: m, IdempotencyKey: "seed"}, loans.DrawRequest{AmountMinor: 10_000_000, On: benchStart})
				} else {
					var app loans.Application
					app, err = s.CreateApplication(ctx, loans.Cmd{MerchantID: m, IdempotencyKey: "seed-app"}, loans.Application{Currency: "EUR",
						AmountMinor: 10_000_000, TermPeriods: 3, Decision: loans.DecisionApproved,
						Offer: &loans.Offer{AmountMinor: 10_000_000, APR: 180000, TermPeriods: 3}})
					if err == nil {
						l, err = s.AcceptApplication(ctx, loans.Cmd{MerchantID: m, IdempotencyKey: "seed"}, loans.AcceptRequest{ApplicationID: app.ID, On: benchStart})
					}
				}
				if err != nil {
					failed.Store(fmt.Errorf("seed loan %d: %w", i, err))
					return
				}
				book[i] = seeded{m, l.ID}
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return book
}

// BenchRepay measures durable repayments through the store: 64 commands in
// flight (as behind an HTTP server), each repaying 0.01 of one of loansN
// revolving draws on the business day. Reports repayments/s and the mean
// latency.
func BenchRepay(b *testing.B, open Opener, loansN int) {
	pinned := day(benchStart)
	s := open(b, loans.Policy{}, func() time.Time { return pinned })
	book := seedBook(b, s, loansN, true)
	var seq atomic.Int64
	var lat atomic.Int64
	b.SetParallelism(64)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			l := book[int(i)%loansN]
			t0 := time.Now()
			_, err := s.Repay(ctx, loans.Cmd{MerchantID: l.merchant, IdempotencyKey: "k" + strconv.FormatInt(i, 10)},
				loans.RepayRequest{LoanID: l.loanID, AmountMinor: 1, ValueDate: benchStart})
			lat.Add(int64(time.Since(t0)))
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportParallel(b, start, &lat, "repayment")
	mustReconcile(b, s)
}

// BenchEOD measures close of business over a book of loansN active loans
// (every 10th revolving, accruing daily; the rest term loans whose first
// installment falls due on 2024-02-01): each iteration closes the next
// business day from benchStart, so -benchtime 32x closes January and the
// first due date. Reports loans/s (loans × days closed / time).
func BenchEOD(b *testing.B, open Opener, loansN int) {
	pinned := day(benchStart)
	s := open(b, loans.Policy{}, func() time.Time { return pinned })
	seedBook(b, s, loansN, false)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		d := pinned.AddDate(0, 0, i)
		rep, err := s.CloseOfBusiness(ctx, d, nil)
		if err != nil || rep.Days != 1 {
			b.Fatalf("close %s: %+v %v", fmtDate(d), rep, err)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(loansN)*float64(b.N)/el.Seconds(), "loans/s")
	b.ReportMetric(el.Seconds()*1000/float64(b.N), "ms/day")
	t0 := time.Now()
	mustReconcile(b, s)
	b.ReportMetric(float64(loansN)/time.Since(t0).Seconds(), "reconciled-loans/s")
}

// BenchRefresh measures the nightly limit refresh: each iteration writes
// linesN credit lines in batches of 10,000 (one UpsertCreditLines call
// each), every limit changed, so every line is updated and its change
// recorded in the history. Reports lines/s.
func BenchRefresh(b *testing.B, open Opener, linesN int) {
	pinned := day(benchStart)
	s := open(b, loans.Policy{}, func() time.Time { return pinned })
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for first := 0; first < linesN; first += 10_000 {
			var ups []loans.CreditLineUpdate
			for k := first; k < min(first+10_000, linesN); k++ {
				ups = append(ups, loans.CreditLineUpdate{MerchantID: "m" + strconv.Itoa(k), Currency: "EUR",
					LimitMinor: int64(1_000_000 + 1000*i + k%7), APR: 180000, Grade: "B", ModelID: "bench", AsOf: benchStart})
			}
			if _, err := s.UpsertCreditLines(ctx, ups); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(linesN)*float64(b.N)/time.Since(start).Seconds(), "lines/s")
}

// BenchApplications measures CreateApplication under 64 commands in flight,
// all for one merchant (the worst case for a per-merchant check), with
// Cmd.Line set to the merchant's stored line (the API's line check: SQLite
// compares it inside the writer's transaction, PostgreSQL under FOR SHARE)
// or not. Reports applications/s and the mean latency.
func BenchApplications(b *testing.B, open Opener, withLine bool) {
	pinned := day(benchStart)
	s := open(b, loans.Policy{}, func() time.Time { return pinned })
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m_1", Currency: "USD", LimitMinor: 5_000_000, APR: apr, Grade: "B", ModelID: "bench", AsOf: benchStart}}); err != nil {
		b.Fatal(err)
	}
	line, err := s.CreditLine(ctx, "m_1")
	if err != nil {
		b.Fatal(err)
	}
	var seq, lat atomic.Int64
	b.SetParallelism(32) // 64 in flight on 2 processors
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := "a" + strconv.FormatInt(seq.Add(1), 10)
			cmd := loans.Cmd{MerchantID: "m_1", IdempotencyKey: k}
			if withLine {
				cmd.Line = &line
			}
			app := loans.Application{MerchantID: "m_1", Currency: "USD", AmountMinor: 500_000, Product: loans.ProductTerm,
				TermPeriods: 12, Method: loans.Annuity, Frequency: loans.Monthly, Decision: loans.DecisionApproved, Reasons: []string{},
				ModelID: "bench", Grade: "B", Offer: &loans.Offer{AmountMinor: 500_000, APR: apr, TermPeriods: 12,
					InstallmentMinor: 45_840, TotalInterestMinor: 50_080, ExpiresAt: time.Date(2024, 1, 4, 0, 0, 0, 0, time.UTC)}}
			t0 := time.Now()
			_, err := s.CreateApplication(ctx, cmd, app)
			lat.Add(int64(time.Since(t0)))
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportParallel(b, start, &lat, "application")
}

// reportParallel stops the timer of a RunParallel benchmark that started at
// start and summed each command's latency in lat, and reports commands/s and
// the mean latency, named after what.
func reportParallel(b *testing.B, start time.Time, lat *atomic.Int64, what string) {
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), what+"s/s")
	b.ReportMetric(float64(lat.Load())/float64(b.N)/1e6, "ms/"+what+"-latency")
}
