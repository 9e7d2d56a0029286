package realtime_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
	"github.com/lendhq/lend/scoring"
)

// fixedEngine is the model registry reduced to one active model.
type fixedEngine struct{ e *scoring.Engine }

func (f fixedEngine) Engine() (*scoring.Engine, error) { return f.e, nil }

// benchClock is a clock the benchmark advances by hand.
type benchClock struct{ t time.Time }

func (c *benchClock) now() time.Time { return c.t }

// fixture is a service over real SQLite (synchronous=FULL) with one merchant
// holding a credit line and a year of stored history, perDay sales a day.
type fixture struct {
	svc   *realtime.Service
	st    *rtsqlite.Store
	ls    *loanssqlite.Store
	eng   *scoring.Engine
	clock *benchClock
	rows  int
}

func newFixture(tb testing.TB, merchant string, perDay int) *fixture {
	tb.Helper()
	ctx := context.Background()
	ls, err := loanssqlite.Open(filepath.Join(tb.TempDir(), "lend.db"), loans.Policy{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ls.Close() })
	st, err := rtsqlite.New(ctx, ls.DB())
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := scoring.LoadEngine(filepath.Join("..", "scoring", "testdata", "golden_model.json"), "")
	if err != nil {
		tb.Fatal(err)
	}
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := ls.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: merchant, Currency: "USD", LimitMinor: 500_000, APR: apr, Grade: "B", ModelID: "seed", AsOf: "2025-03-30"}}); err != nil {
		tb.Fatal(err)
	}
	clock := &benchClock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)}
	today := clock.t.Truncate(24 * time.Hour)
	var rows []realtime.StoredTx
	for d := 365; d >= 1; d-- {
		day := today.AddDate(0, 0, -d)
		for i := 0; i < perDay; i++ {
			ts := day.Add(time.Duration(8*3600+i*(12*3600/perDay)) * time.Second)
			amt := int64(20+(d*7+i*13)%40) * 1_000_000
			typ := "sale"
			if (d+i)%29 == 0 {
				typ = "refund"
			}
			rows = append(rows, realtime.StoredTx{TS: ts.Format(time.RFC3339), Amount: strconv.FormatInt(amt/1_000_000, 10), Type: typ,
				BuyerID: fmt.Sprintf("b%d", (d+i)%50), TSUs: ts.UnixMicro(), AmountMicro: amt})
		}
	}
	for i := 0; i < len(rows); i += realtime.MaxBatchRows {
		part := rows[i:min(i+realtime.MaxBatchRows, len(rows))]
		if _, _, err := st.Append(ctx, realtime.Batch{MerchantID: merchant, IdempotencyKey: fmt.Sprintf("seed-%d", i), RequestHash: "x", Rows: len(part), CreatedAt: clock.t}, part); err != nil {
			tb.Fatal(err)
		}
	}
	svc, err := realtime.New(ctx, realtime.Config{Store: st, Loans: ls, Engines: fixedEngine{eng}, Now: clock.now, Workers: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close() })
	return &fixture{svc: svc, st: st, ls: ls, eng: eng, clock: clock, rows: len(rows)}
}

// cpuNow is the process's user + system CPU time (every thread: Go, DuckDB,
// SQLite), far less sensitive than wall time to other load on the machine.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// latencies reports p50, p99 and max in milliseconds.
func latencies(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(p float64) float64 { return float64(d[int(p*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIngestLatency: one new sale for a merchant with a year of history
// (3 or 20 transactions a day), from the call to the updated credit line:
// history read, validation and features (DuckDB), the durable store of the
// row, assessment, the guard-railed line change and the recorded response.
func BenchmarkIngestLatency(b *testing.B) {
	for _, perDay := range []int{3, 20} {
		b.Run(fmt.Sprintf("perDay=%d", perDay), func(b *testing.B) {
			f := newFixture(b, "m1", perDay)
			ctx := context.Background()
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			cpu0 := cpuNow()
			for i := 0; i < b.N; i++ {
				f.clock.t = f.clock.t.Add(time.Second)
				tx := []realtime.Transaction{{TS: f.clock.t.Format(time.RFC3339), Amount: "25.00", Type: "sale", BuyerID: "b1"}}
				start := time.Now()
				if _, err := f.svc.Ingest(ctx, "m1", "k"+strconv.Itoa(i), "h", tx); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(float64(f.rows), "history-rows")
			b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			latencies(b, d)
		})
	}
}

// BenchmarkIngestUncached is BenchmarkIngestLatency when the service's
// cache of the merchant cannot be used: before every timed ingest a second
// service on the same database (another process) stores a batch, so the
// timed one reads the year of history again and aggregates it. This is also
// a merchant's first ingest of a day, or one whose cache entry was evicted.
func BenchmarkIngestUncached(b *testing.B) {
	for _, perDay := range []int{3, 20} {
		b.Run(fmt.Sprintf("perDay=%d", perDay), func(b *testing.B) {
			f := newFixture(b, "m1", perDay)
			ctx := context.Background()
			other, err := realtime.New(ctx, realtime.Config{Store: f.st, Loans: f.ls, Engines: fixedEngine{f.eng}, Now: f.clock.now, Workers: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer other.Close()
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				f.clock.t = f.clock.t.Add(time.Second)
				tx := []realtime.Transaction{{TS: f.clock.t.Format(time.RFC3339), Amount: "25.00", Type: "sale", BuyerID: "b1"}}
				if _, err := other.Ingest(ctx, "m1", "o"+strconv.Itoa(i), "h", tx); err != nil {
					b.Fatal(err)
				}
				cpu0, start := cpuNow(), time.Now()
				if _, err := f.svc.Ingest(ctx, "m1", "k"+strconv.Itoa(i), "h", tx); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
				cpu += cpuNow() - cpu0
			}
			b.StopTimer()
			b.ReportMetric(float64(f.rows), "history-rows")
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
			latencies(b, d)
		})
	}
}

// BenchmarkIngestCeiling is the floor under an ingest's latency: its three
// durable commits alone, as raw prepared SQL on the same SQLite file with no
// Go logic between them — the batch with its row (Append's statements), the
// line's change with its audit row (what ApplyLineDecision writes) and the
// response record. Since the features run in-process (sqleval), these
// commits are most of what a cached ingest waits for.
func BenchmarkIngestCeiling(b *testing.B) {
	for _, perDay := range []int{3, 20} {
		b.Run(fmt.Sprintf("perDay=%d", perDay), func(b *testing.B) {
			f := newFixture(b, "m1", perDay)
			ctx := context.Background()
			db := f.ls.DB()
			prep := func(q string) *sql.Stmt {
				st, err := db.PrepareContext(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				return st
			}
			insBatch := prep(`INSERT INTO rt_batches (merchant_id, idempotency_key, request_hash, rows, created_at) VALUES (?, ?, ?, ?, ?)`)
			insTx := prep(`INSERT INTO rt_transactions (batch_id, merchant_id, ts, amount, type, buyer_id, ts_us, amount_micro) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
			updLine := prep(`UPDATE credit_lines SET limit_minor = ?, score = ?, pd = ?, as_of = ?, updated_at = ? WHERE merchant_id = ?`)
			insHist := prep(`INSERT INTO credit_line_history (merchant_id, at, day, source, change, prev_limit_minor, limit_minor, proposed_limit_minor, drawn_minor, prev_apr_micro, apr_micro, grade, score, pd, model_id, as_of, reasons)
				VALUES (?, ?, ?, 'realtime', 'unchanged', 500000, 500000, 500000, 0, 180000, 180000, 'B', 600, 0.02, 'seed', ?, '[]')`)
			setResp := prep(`UPDATE rt_batches SET response = ? WHERE id = ?`)
			commit := func(do func(tx *sql.Tx) error) {
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := do(tx); err != nil {
					tx.Rollback()
					b.Fatal(err)
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			response := make([]byte, 1200) // about the size of an ingest's recorded answer
			d := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			cpu0 := cpuNow()
			for i := 0; i < b.N; i++ {
				f.clock.t = f.clock.t.Add(time.Second)
				now := f.clock.t.Format(time.RFC3339Nano)
				start := time.Now()
				var id int64
				commit(func(tx *sql.Tx) error {
					res, err := tx.StmtContext(ctx, insBatch).ExecContext(ctx, "m1", "c"+strconv.Itoa(i), "h", 1, now)
					if err != nil {
						return err
					}
					if id, err = res.LastInsertId(); err != nil {
						return err
					}
					_, err = tx.StmtContext(ctx, insTx).ExecContext(ctx, id, "m1", now, "25", "sale", "b1", f.clock.t.UnixMicro(), 25_000_000)
					return err
				})
				commit(func(tx *sql.Tx) error {
					if _, err := tx.StmtContext(ctx, updLine).ExecContext(ctx, 500_000, 600.0, 0.02, "2025-04-01", now, "m1"); err != nil {
						return err
					}
					_, err := tx.StmtContext(ctx, insHist).ExecContext(ctx, "m1", now, now[:10], "2025-04-01")
					return err
				})
				commit(func(tx *sql.Tx) error {
					_, err := tx.StmtContext(ctx, setResp).ExecContext(ctx, response, id)
					return err
				})
				d = append(d, time.Since(start))
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			latencies(b, d)
		})
	}
}

// BenchmarkIngestThroughput: batches of 500 transactions for the 3-a-day
// merchant, one after another; reports transactions per second.
func BenchmarkIngestThroughput(b *testing.B) {
	f := newFixture(b, "m1", 3)
	ctx := context.Background()
	const batch = 500
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		txs := make([]realtime.Transaction, batch)
		for j := range txs {
			f.clock.t = f.clock.t.Add(time.Second)
			txs[j] = realtime.Transaction{TS: f.clock.t.Format(time.RFC3339), Amount: "12.34", Type: "sale", BuyerID: "b" + strconv.Itoa(j%40)}
		}
		if _, err := f.svc.Ingest(ctx, "m1", "t"+strconv.Itoa(i), "h", txs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "tx/s")
}

// BenchmarkIngestRealistic: a merchant with a year of history (3 or 20
// sales a day) whose processor posts each sale as it happens, one ingest per
// sale, spread over 08:00–20:00 of each day; the clock runs through the days
// (b.N ingests: 30 days at -benchtime 90x / 600x). Between two sales the
// service is idle, as it is for minutes in production: the benchmark waits
// (untimed) for the background build of tomorrow's pre-aggregate. Every
// ingest is timed, the first of each day included; cpu-ms/op is all the
// process's CPU (the background builds too) over the ingests.
func BenchmarkIngestRealistic(b *testing.B) {
	for _, perDay := range []int{3, 20} {
		b.Run(fmt.Sprintf("perDay=%d", perDay), func(b *testing.B) {
			f := newFixture(b, "m1", perDay)
			ctx := context.Background()
			d := make([]time.Duration, 0, b.N)
			var first []time.Duration // each day's first ingest (the rollover)
			day0 := f.clock.t.Truncate(24 * time.Hour)
			st0 := f.svc.Stats()
			b.ResetTimer()
			cpu0 := cpuNow()
			for i := 0; i < b.N; i++ {
				f.clock.t = day0.AddDate(0, 0, i/perDay).Add(8*time.Hour + time.Duration(i%perDay)*(12*time.Hour/time.Duration(perDay)))
				tx := []realtime.Transaction{{TS: f.clock.t.Format(time.RFC3339), Amount: strconv.Itoa(20 + i%37), Type: "sale", BuyerID: "b" + strconv.Itoa(i%50)}}
				start := time.Now()
				if _, err := f.svc.Ingest(ctx, "m1", "k"+strconv.Itoa(i), "h", tx); err != nil {
					b.Fatal(err)
				}
				d = append(d, time.Since(start))
				if i%perDay == 0 {
					first = append(first, d[len(d)-1])
				}
				// The gap before the next sale (untimed): at least 1 ms,
				// and until the background build is done.
				time.Sleep(time.Millisecond)
				for st := f.svc.Stats(); st.NextQueued != st.NextBuilt+st.NextDropped; st = f.svc.Stats() {
					time.Sleep(time.Millisecond)
				}
			}
			b.StopTimer()
			st := f.svc.Stats()
			b.ReportMetric(float64(f.rows), "history-rows")
			b.ReportMetric(float64(b.N)/float64(perDay), "days")
			b.ReportMetric(float64(st.Reloads-st0.Reloads), "reloads")
			b.ReportMetric(float64(st.Promoted-st0.Promoted), "promoted")
			b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			if len(first) > 0 {
				slices.Sort(first)
				b.ReportMetric(float64(first[len(first)/2].Microseconds())/1000, "first-of-day-p50-ms")
			}
			latencies(b, d)
		})
	}
}
