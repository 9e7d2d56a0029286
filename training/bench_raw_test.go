package training

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"
)

// rawFitVars is how many columns the raw IRLS fit uses: about the number of
// variables lend train keeps on this data (15).
const rawFitVars = 15

// BenchmarkRawEngine1M is the ceiling for BenchmarkTrain1M: the same bulk
// work done directly with the engines, without lend's checks, selection,
// scaling, calibration or metrics. (1) DuckDB reads the same 1M × 30 Parquet
// file and computes, per numeric column, 20 quantile fine bins with their row
// and bad counts plus the missing count (ntile over the sorted values, GROUP
// BY), and per categorical column the row and bad counts per level; (2)
// DuckDB hands rawFitVars columns of all rows to Go (database/sql), the
// transfer lend train also pays; (3) gonum fits one logistic regression on
// that 1M × 16 design by IRLS (XᵀWX with SymOuterK, Cholesky solve) to the
// same tolerance.
//
//	go test ./training -run '^$' -bench RawEngine1M -benchtime 1x
func BenchmarkRawEngine1M(b *testing.B) {
	path := genBig(b)
	ctx := context.Background()
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		t0 := time.Now()
		db, err := sql.Open("duckdb", duckDSN)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE TEMP TABLE t AS SELECT * FROM read_parquet('%s')", path)); err != nil {
			b.Fatal(err)
		}
		cells := 0
		for j := 0; j < bigNum; j++ {
			cells += countRows(b, conn, fmt.Sprintf(`SELECT bin, count(*), sum(bad) FROM (
				SELECT CASE WHEN x%[1]d IS NULL THEN 0 ELSE ntile(%[2]d) OVER (PARTITION BY x%[1]d IS NULL ORDER BY x%[1]d) END AS bin, bad FROM t)
				GROUP BY bin`, j, FineBins))
		}
		for j := 0; j < bigCat; j++ {
			cells += countRows(b, conn, fmt.Sprintf("SELECT c%d, count(*), sum(bad) FROM t GROUP BY 1", j))
		}
		binS := time.Since(t0).Seconds()

		t1 := time.Now()
		x, y := readMatrix(b, conn, rawFitVars)
		readS := time.Since(t1).Seconds()
		conn.Close()
		db.Close()

		t2 := time.Now()
		beta, iters := rawIRLS(x, y)
		fitS := time.Since(t2).Seconds()
		if cells < bigNum*FineBins || math.IsNaN(beta[0]) {
			b.Fatalf("cells %d, beta %v", cells, beta)
		}
		b.ReportMetric(binS, "sql_bin_s")
		b.ReportMetric(readS, "read_s")
		b.ReportMetric(fitS, "irls_s")
		b.ReportMetric(float64(iters), "irls_iters")
	}
}

func countRows(b *testing.B, conn *sql.Conn, q string) int {
	rows, err := conn.QueryContext(context.Background(), q)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var k sql.NullString
		var c, s int64
		if err := rows.Scan(&k, &c, &s); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return n
}

// readMatrix fetches k numeric columns (missing as 0.5, the column's centre)
// and the target into an n × (k+1) design with a leading intercept column.
func readMatrix(b *testing.B, conn *sql.Conn, k int) (*mat.Dense, []float64) {
	q := "SELECT "
	for j := 0; j < k; j++ {
		q += fmt.Sprintf("coalesce(x%d, 0.5), ", j)
	}
	q += "bad FROM t"
	rows, err := conn.QueryContext(context.Background(), q)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	data := make([]float64, 0, bigRows*(k+1))
	y := make([]float64, 0, bigRows)
	vals := make([]float64, k)
	var bad float64
	dst := make([]any, k+1)
	for j := range vals {
		dst[j] = &vals[j]
	}
	dst[k] = &bad
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			b.Fatal(err)
		}
		data = append(data, 1)
		data = append(data, vals...)
		y = append(y, bad)
	}
	return mat.NewDense(len(y), k+1, data), y
}

// rawIRLS is plain Newton–Raphson for the logistic log-likelihood with gonum.
func rawIRLS(x *mat.Dense, y []float64) ([]float64, int) {
	n, q := x.Dims()
	beta := mat.NewVecDense(q, nil)
	eta := mat.NewVecDense(n, nil)
	resid := mat.NewVecDense(n, nil)
	xw := mat.NewDense(n, q, nil)
	var h mat.SymDense
	var g, step mat.VecDense
	var ch mat.Cholesky
	it := 0
	for ; it < maxIRLSIter; it++ {
		eta.MulVec(x, beta)
		for i := 0; i < n; i++ {
			mu := 1 / (1 + math.Exp(-eta.AtVec(i)))
			resid.SetVec(i, y[i]-mu)
			sw := math.Sqrt(mu * (1 - mu))
			row := x.RawRowView(i)
			out := xw.RawRowView(i)
			for j := range row {
				out[j] = row[j] * sw
			}
		}
		h.SymOuterK(1, xw.T())
		g.MulVec(x.T(), resid)
		if !ch.Factorize(&h) {
			break
		}
		if err := ch.SolveVecTo(&step, &g); err != nil {
			break
		}
		beta.AddVec(beta, &step)
		if mat.Norm(&step, math.Inf(1)) < irlsTol {
			it++
			break
		}
	}
	return mat.Col(nil, 0, beta), it
}
