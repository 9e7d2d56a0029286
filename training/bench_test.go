package training

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkTrain1M trains end to end (read, bin, select, fit, scale,
// calibrate, metrics) on 1,000,000 rows × 30 variables (25 numeric with 5%
// missing, 5 categorical) generated with DuckDB into a Parquet file.
//
//	go test ./training -run '^$' -bench Train1M -benchtime 1x
func BenchmarkTrain1M(b *testing.B) {
	path := genBig(b)
	o := Defaults()
	o.Data, o.Target = path, "bad"
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Train(context.Background(), o)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.Model.Metrics.Test.AUC, "test_auc")
		b.ReportMetric(float64(len(r.Model.Variables)), "vars")
	}
}

// Size of the benchmark data set.
const bigRows, bigNum, bigCat = 1_000_000, 25, 5

// genBig writes the benchmark's Parquet file (outside any timer) and returns its path.
func genBig(b *testing.B) string {
	rows, nNum, nCat := bigRows, bigNum, bigCat
	path := filepath.Join(b.TempDir(), "big.parquet")
	db, err := sql.Open("duckdb", duckDSN)
	if err != nil {
		b.Fatal(err)
	}
	var cols, z []string
	for j := 0; j < nNum; j++ {
		// x_j is a hash-derived uniform in [0,1), NULL for 5% of rows
		u := fmt.Sprintf("(hash(i, %d) %% 1000003) / 1000003.0", j)
		cols = append(cols, fmt.Sprintf("CASE WHEN hash(i, %d) %% 20 = 0 THEN NULL ELSE %s END AS x%d", j+100, u, j))
		z = append(z, fmt.Sprintf("%.3f * (%s - 0.5)", 2.5/math.Sqrt(float64(j+1)), u))
	}
	for j := 0; j < nCat; j++ {
		cols = append(cols, fmt.Sprintf("'L' || (hash(i, %d) %% %d) AS c%d", j+200, 3+j*4, j))
	}
	q := fmt.Sprintf(`COPY (SELECT %s, CASE WHEN (hash(i, 999) %% 1000003) / 1000003.0 < 1/(1+exp(-(-2.5 + %s))) THEN 1 ELSE 0 END AS bad
		FROM range(%d) t(i)) TO '%s' (FORMAT parquet)`, strings.Join(cols, ", "), strings.Join(z, " + "), rows, path)
	if _, err := db.Exec(q); err != nil {
		b.Fatal(err)
	}
	db.Close()
	return path
}
