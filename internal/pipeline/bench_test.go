package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/lendhq/lend/features"
)

// benchMerchants is the portfolio size of BenchmarkRefreshLimits:
// $LEND_BENCH_MERCHANTS, default 100,000 (docs/perf/refresh.md uses 1,000,000).
func benchMerchants(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("LEND_BENCH_MERCHANTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > MaxRefreshMerchants {
			b.Fatalf("LEND_BENCH_MERCHANTS=%q: want 1..%d", s, MaxRefreshMerchants)
		}
		n = v
	}
	return n
}

// bigFeatures writes n merchants' features by cycling through the demo
// portfolio's rows under new ids (b0000001...), so the score and approval mix
// is the demo's.
func bigFeatures(b *testing.B, src string, n int) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "features.parquet")
	db, err := features.OpenDB(0, "", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	q := fmt.Sprintf(`COPY (
		WITH f AS (SELECT *, row_number() OVER (ORDER BY merchant_id) - 1 AS rn, count(*) OVER () AS cnt FROM read_parquet(%s))
		SELECT printf('b%%07d', r.i + 1) AS merchant_id, f.* EXCLUDE (merchant_id, rn, cnt)
		FROM range(%d) r(i) JOIN f ON f.rn = r.i %% f.cnt) TO %s (FORMAT parquet)`, quoteString(src), n, quoteString(out))
	if _, err := db.ExecContext(context.Background(), q); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkRefreshLimits measures one full refresh into an empty SQLite file
// (every eligible merchant a new line) and a second, idempotent one.
func BenchmarkRefreshLimits(b *testing.B) {
	feat, eng := demoFixture(b)
	n := benchMerchants(b)
	big := bigFeatures(b, feat, n)
	for b.Loop() {
		b.StopTimer()
		st := openStore(b)
		b.StartTimer()
		sum, err := RefreshLimits(context.Background(), RefreshOptions{Features: big, Engine: eng, Store: st})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(sum.Written), "lines_written")
		st.Close()
	}
	b.ReportMetric(float64(n), "merchants")
}
