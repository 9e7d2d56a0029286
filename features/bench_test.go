package features

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// genBenchSQL writes n synthetic transactions of about 1M merchants over two
// years (random merchant, time, amount, type 95/4/1 % sale/refund/chargeback,
// 200 buyers per merchant) to a Parquet file. It stands in for `lend gen`,
// which was not wired into the CLI when this was measured.
const genBenchSQL = `COPY (
 SELECT 'm' || lpad((hash(i) % 1000000)::VARCHAR, 7, '0') AS merchant_id,
  TIMESTAMP '2023-01-01' + to_microseconds((hash(i * 3 + 1) % (730 * 86400000000))::BIGINT) AS ts,
  round(1 + (hash(i * 7 + 2) % 50000) / 100.0, 2) AS amount,
  CASE WHEN hash(i * 11 + 3) % 100 < 95 THEN 'sale' WHEN hash(i * 11 + 3) % 100 < 99 THEN 'refund' ELSE 'chargeback' END AS type,
  'b' || (hash(i * 13 + 4) % 200)::VARCHAR AS buyer_id
 FROM range(?) t(i)) TO '%s' (FORMAT parquet, ROW_GROUP_SIZE 1000000)`

// TestGenBenchData writes the benchmark input when LEND_BENCH_GEN=path and
// LEND_BENCH_ROWS=n are set (see docs/perf/features.md); otherwise it skips.
func TestGenBenchData(t *testing.T) {
	path := os.Getenv("LEND_BENCH_GEN")
	if path == "" {
		t.Skip("set LEND_BENCH_GEN to write benchmark data")
	}
	n := int64(100_000_000)
	if s := os.Getenv("LEND_BENCH_ROWS"); s != "" {
		var err error
		if n, err = parseInt(s); err != nil {
			t.Fatal(err)
		}
	}
	db, err := OpenDB(2, "8GB", filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	q := replaceOnce(genBenchSQL, "%s", path)
	if _, err := db.Exec(q, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d rows in %v", n, time.Since(start))
}

// BenchmarkFeatures runs the whole pipeline over $LEND_BENCH_TX.
func BenchmarkFeatures(b *testing.B) {
	path := os.Getenv("LEND_BENCH_TX")
	if path == "" {
		b.Skip("set LEND_BENCH_TX to a transactions file")
	}
	for i := 0; i < b.N; i++ {
		out := filepath.Join(b.TempDir(), "features.parquet")
		rep, err := Run(context.Background(), Options{Paths: []string{path}, AsOf: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Out: out, TempDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.RowsIn), "rows")
		b.ReportMetric(float64(rep.Merchants), "merchants")
	}
}

// BenchmarkFloor is the floor: a bare SELECT merchant_id, sum(amount) … GROUP BY
// merchant_id over the same file, same DuckDB settings.
func BenchmarkFloor(b *testing.B) {
	path := os.Getenv("LEND_BENCH_TX")
	if path == "" {
		b.Skip("set LEND_BENCH_TX to a transactions file")
	}
	db, err := OpenDB(DefaultThreads, DefaultMemoryLimit, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < b.N; i++ {
		var n int64
		if err := db.QueryRow("SELECT count(*) FROM (SELECT merchant_id, sum(amount) FROM read_parquet(" + sqlString(path) + ") GROUP BY merchant_id)").Scan(&n); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n), "merchants")
	}
	_ = runtime.NumCPU
}

// BenchmarkComputeRowsOneMerchant times the online path for one merchant with
// a year of history (about 1,100 rows).
func BenchmarkComputeRowsOneMerchant(b *testing.B) {
	db, err := OpenDB(1, "1GB", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var rows []Tx
	start := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 1100; i++ {
		typ := "sale"
		if i%25 == 0 {
			typ = "refund"
		}
		rows = append(rows, Tx{MerchantID: "m1", TS: start.Add(time.Duration(i) * 8 * time.Hour).Format("2006-01-02 15:04:05"),
			Amount: strconv.Itoa(10+i%90) + ".25", Type: typ, BuyerID: "b" + strconv.Itoa(i%97)})
	}
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ComputeRows(context.Background(), db, asOf, true, rows); err != nil {
			b.Fatal(err)
		}
	}
}
