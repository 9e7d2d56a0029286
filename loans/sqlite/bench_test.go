package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/loans/storetest"
)

// seedLoans inserts n active loans directly with set-based SQL (benchmark
// set-up only): every 10th is a revolving draw, the rest 3-installment term
// loans with due dates spread over the month; one credit line per merchant.
// Each loan gets its balanced disbursement entry so reconcile stays clean.
func seedLoans(t testing.TB, s *Store, n int) {
	t.Helper()
	stmts := []string{
		`CREATE TEMP TABLE seq(i INTEGER PRIMARY KEY)`,
		fmt.Sprintf(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d) INSERT INTO seq SELECT i FROM c`, n),
		`INSERT INTO credit_lines (merchant_id, currency, limit_minor, drawn_minor, apr_micro, grade, updated_at)
			SELECT 'm' || i, 'EUR', 100000000, 10000000, 180000, 'B', '2024-01-01' FROM seq`,
		`INSERT INTO loans (id, merchant_id, product, currency, status, grade, apr_micro, penalty_rate_micro, method, frequency, day_count,
			term_periods, strategy, reschedule, installment_minor, principal_minor, disbursed_on, principal_outstanding_minor,
			last_accrual_date, next_statement_date, created_at)
			SELECT i, 'm' || i, CASE WHEN i % 10 = 0 THEN 'revolving' ELSE 'term' END, 'EUR', 'active', 'B', 180000, 120000,
			'annuity', 'monthly', '30/360', 3, 'mifos-standard-strategy', 'keep-installment', 0, 10000000,
			date('2024-01-01', '+' || (i % 28) || ' days'), 10000000,
			date('2024-01-01', (i % 28 - 1) || ' days'), date('2024-02-01', '+' || (i % 28) || ' days'), '2024-01-01' FROM seq`,
		`INSERT INTO installments (loan_id, seq, due_date, principal_minor, interest_minor)
			SELECT l.id, k.k, date(l.disbursed_on, '+' || k.k || ' months'), CASE WHEN k.k = 3 THEN 10000000 - 2 * 3333333 ELSE 3333333 END, 150000
			FROM loans l JOIN (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) k WHERE l.product = 'term'`,
		`INSERT INTO journal_entries (id, loan_id, merchant_id, kind, business_date, created_at) SELECT id, id, merchant_id, 'disbursement', disbursed_on, '' FROM loans`,
		`INSERT INTO postings SELECT id, 1, 1, id, principal_minor, 0 FROM loans`,
		`INSERT INTO postings SELECT id, 2, 5, id, 0, principal_minor FROM loans`,
		`INSERT INTO loans_meta VALUES ('business_date', '2024-01-31')`,
		`DROP TABLE temp.seq`,
	}
	_, err := s.exec(ctx, true, func(tx *Tx) (any, error) {
		for _, q := range stmts {
			if _, err := tx.Tx.Exec(q); err != nil {
				return nil, fmt.Errorf("%v: %s", err, q)
			}
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func benchRepay(b *testing.B, loansN int) {
	s, err := Open(filepath.Join(b.TempDir(), "lend.db"), loans.Policy{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.now = func() time.Time { return day("2024-02-01") }
	seedLoans(b, s, loansN)
	var seq atomic.Int64
	b.SetParallelism(64) // many in-flight commands, as behind an HTTP server
	b.ResetTimer()
	start := time.Now()
	var lat atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			id := (i % int64(loansN)) + 1
			t0 := time.Now()
			_, err := s.Repay(ctx, loans.Cmd{MerchantID: "m" + strconv.FormatInt(id, 10), IdempotencyKey: "k" + strconv.FormatInt(i, 10)},
				loans.RepayRequest{LoanID: id, AmountMinor: 1, ValueDate: "2024-02-01"})
			lat.Add(int64(time.Since(t0)))
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "repayments/s")
	b.ReportMetric(float64(lat.Load())/float64(b.N)/1e6, "ms/repayment-latency")
}

// BenchmarkRepayOneLoan: durable repayments through the store on one loan.
func BenchmarkRepayOneLoan(b *testing.B) { benchRepay(b, 1) }

// BenchmarkRepay100kLoans: durable repayments spread over 100,000 loans.
func BenchmarkRepay100kLoans(b *testing.B) { benchRepay(b, 100_000) }

// BenchmarkRawBatchedInsert is the ceiling: plain INSERTs of a repayment-sized
// row, 512 per durable transaction, same connection settings.
func BenchmarkRawBatchedInsert(b *testing.B) {
	db, err := OpenDB(filepath.Join(b.TempDir(), "raw.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE r (id INTEGER PRIMARY KEY, loan_id INTEGER, amount_minor INTEGER, value_date TEXT, body TEXT)`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; {
		tx, _ := db.Begin()
		st, _ := tx.Prepare(`INSERT INTO r (loan_id, amount_minor, value_date, body) VALUES (?, ?, ?, ?)`)
		for j := 0; j < MaxGroupCommit && i < b.N; j++ {
			if _, err := st.Exec(i, 1, "2024-02-01", `{"allocation":{"current_principal_minor":1}}`); err != nil {
				b.Fatal(err)
			}
			i++
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

// TestEODMillionLoans measures close of business over LOANS_EOD_N (default
// 1,000,000) active loans. Opt-in: LOANS_BENCH_EOD=1 (it writes ~1 GB).
func TestEODMillionLoans(t *testing.T) {
	if os.Getenv("LOANS_BENCH_EOD") == "" {
		t.Skip("set LOANS_BENCH_EOD=1 to run")
	}
	n := 1_000_000
	if v := os.Getenv("LOANS_EOD_N"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	dir := os.Getenv("LOANS_EOD_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	s, err := Open(filepath.Join(dir, "eod.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Now()
	seedLoans(t, s, n)
	t.Logf("seeded %d loans in %v", n, time.Since(t0))
	dates := []string{"2024-02-01", "2024-02-02", "2024-03-05"}
	if v := os.Getenv("LOANS_EOD_DATES"); v != "" {
		dates = strings.Split(v, ",")
	}
	for _, d := range dates {
		t0 = time.Now()
		rep, err := s.CloseOfBusiness(ctx, day(d), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("eod through %s: %d days in %v: %+v", d, rep.Days, time.Since(t0), rep)
	}
	t0 = time.Now()
	rep, err := s.Reconcile(ctx)
	if err != nil || !rep.Clean() {
		t.Fatalf("reconcile: %v %v", err, rep.Differences[:min(5, len(rep.Differences))])
	}
	t.Logf("reconcile %d loans, %d entries in %v", rep.Loans, rep.Entries, time.Since(t0))
}

// durableOpener opens a store with Lend's production settings
// (synchronous=FULL), for the shared benchmarks of loans/storetest.
func durableOpener(t testing.TB, policy loans.Policy, now func() time.Time) loans.Store {
	s, err := Open(filepath.Join(t.TempDir(), "lend.db"), policy)
	if err != nil {
		t.Fatal(err)
	}
	s.SetClock(now)
	t.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkStoreRepay10kLoans: durable repayments over 10,000 loans, the
// same code as PostgreSQL's BenchmarkStoreRepay10kLoans.
func BenchmarkStoreRepay10kLoans(b *testing.B) { storetest.BenchRepay(b, durableOpener, 10_000) }

// BenchmarkStoreEOD10kLoans: close of business over 10,000 loans, one day
// per iteration, the same code as PostgreSQL's.
func BenchmarkStoreEOD10kLoans(b *testing.B) { storetest.BenchEOD(b, durableOpener, 10_000) }

// BenchmarkStoreRefresh100kLines: the nightly refresh writing 100,000 credit
// lines in batches of 10,000, the same code on both stores.
func BenchmarkStoreRefresh100kLines(b *testing.B) { storetest.BenchRefresh(b, durableOpener, 100_000) }

// BenchmarkStoreApplications: applications for one merchant, 64 in flight,
// with and without the line check (Cmd.Line, compared in the writer's
// transaction), the same code as PostgreSQL's.
func BenchmarkStoreApplications(b *testing.B) {
	b.Run("line-check", func(b *testing.B) { storetest.BenchApplications(b, durableOpener, true) })
	b.Run("no-check", func(b *testing.B) { storetest.BenchApplications(b, durableOpener, false) })
}
