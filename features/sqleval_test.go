package features

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
	mrand "math/rand"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/testutil"
)

// semTable is the input of TestSQLEvalSemantics, the same values in DuckDB
// and in sqleval: id, a and b DECIMAL(18,6) (micro-units), i and j BIGINT,
// f and g DOUBLE, ts TIMESTAMP (µs), s VARCHAR, u UBIGINT. nil is NULL.
var semCols = []string{"id", "a", "b", "i", "j", "f", "g", "ts", "s", "u"}

var semRows = [][]any{
	{int64(1), int64(1_500_000), int64(1), int64(7), int64(2), 0.1, 3.0, usOf("2024-06-01T12:34:56.789012Z"), "x", uint64(5)},
	// a's micro-units exceed 2^53 (the DECIMAL → DOUBLE slow path); b = 2^53 + 1 µ.
	{int64(2), int64(999_999_999_999_999_999), int64(9_007_199_254_740_993), int64(-7), int64(2), -2.5, 2.5, usOf("1969-12-31T23:00:00Z"), "y", uint64(1) << 63},
	{int64(3), nil, int64(2_000_000), int64(0), int64(0), nil, 0.0, nil, nil, nil},
	{int64(4), int64(333_333), int64(3_000_000), int64(100), int64(12), 1.0 / 3, math.Copysign(0, -1), usOf("2025-01-01T00:00:00Z"), "z", uint64(0)},
	{int64(5), int64(12_345_678_901_234), int64(-4_999_999), int64(30), nil, 123456.789, 1e-7, usOf("2024-12-31T23:59:59.999999Z"), "x", uint64(12345)},
	{int64(6), int64(-2_500_000), int64(2_500_000), int64(-30), int64(3), 2.5, -1.75, usOf("2024-03-01T00:00:00.000001Z"), "y", uint64(3)},
}

func usOf(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

// semEvalRows are semRows as sqleval values.
func semEvalRows() [][]value {
	out := make([][]value, len(semRows))
	for r, row := range semRows {
		vals := make([]value, len(row))
		for c, x := range row {
			switch v := x.(type) {
			case nil:
			case int64:
				switch semCols[c] {
				case "a", "b":
					vals[c] = value{k: vDec, i: v, scale: 6}
				case "ts":
					vals[c] = value{k: vTS, i: v}
				default:
					vals[c] = intV(v)
				}
			case float64:
				vals[c] = floatV(v)
			case string:
				vals[c] = value{k: vStr, s: v}
			case uint64:
				vals[c] = value{k: vUint, i: int64(v)}
			}
		}
		out[r] = vals
	}
	return out
}

// semDuckDB creates table t with semRows in DuckDB.
func semDuckDB(t *testing.T) *sql.Conn {
	t.Helper()
	db, err := OpenDB(1, "1GB", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE t (id BIGINT, a DECIMAL(18,6), b DECIMAL(18,6), i BIGINT, j BIGINT, f DOUBLE, g DOUBLE, ts TIMESTAMP, s VARCHAR, u UBIGINT)"); err != nil {
		t.Fatal(err)
	}
	for _, row := range semRows {
		lits := make([]string, len(row))
		for c, x := range row {
			switch v := x.(type) {
			case nil:
				lits[c] = "NULL"
			case int64:
				switch semCols[c] {
				case "a", "b":
					lits[c] = "CAST('" + decString(v, 6) + "' AS DECIMAL(18,6))"
				case "ts":
					lits[c] = fmt.Sprintf("make_timestamp(%d::BIGINT)", v)
				default:
					lits[c] = strconv.FormatInt(v, 10)
				}
			case float64:
				lits[c] = "CAST('" + strconv.FormatFloat(v, 'g', -1, 64) + "' AS DOUBLE)"
			case string:
				lits[c] = sqlString(v)
			case uint64:
				lits[c] = strconv.FormatUint(v, 10) + "::UBIGINT"
			}
		}
		if _, err := conn.ExecContext(ctx, "INSERT INTO t VALUES ("+strings.Join(lits, ", ")+")"); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// duckRows runs q on conn and renders its rows with normDuck.
func duckRows(ctx context.Context, conn *sql.Conn, q string) ([][]string, error) {
	res, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	cols, err := res.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]string
	for res.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := res.Scan(ptrs...); err != nil {
			return nil, err
		}
		r := make([]string, len(vals))
		for i, v := range vals {
			r[i] = normDuck(v)
		}
		out = append(out, r)
	}
	return out, res.Err()
}

// TestSQLEvalSemantics runs each query in DuckDB (the reference) and in
// sqleval over the same table and requires the same rows: DOUBLEs equal bit
// for bit, exact numbers (BIGINT, DECIMAL, HUGEINT) equal in value, NULL
// where DuckDB has NULL.
func TestSQLEvalSemantics(t *testing.T) {
	ref := semDuckDB(t)
	ev := newSQLEval(map[string][]string{"t": semCols})
	in := map[string][][]value{"t": semEvalRows()}
	exprs := []string{
		// DECIMAL → DOUBLE, exact up to 2^53 µ and split beyond.
		"a::DOUBLE", "b::DOUBLE", "CAST(a AS DOUBLE)", "coalesce(a, 0)::DOUBLE",
		// / is DOUBLE division (x / 0 is ±Inf or NaN); // is integer
		// division (x // 0 is NULL).
		"a / b", "a / i", "i / j", "f / g", "a::DOUBLE / b::DOUBLE", "a::DOUBLE / i", "f / 0", "i / 0",
		"i // j", "i // 30", "(i - 1) // 7", "i // 0",
		// DECIMAL and BIGINT arithmetic stay exact.
		"CASE WHEN id <> 2 THEN a + b END", "a - b", "a - i", "CASE WHEN id <> 2 THEN a * 2 END", "CASE WHEN id <> 2 THEN a + 1 END", "i * j", "i - j", "-a", "-i", "-f",
		"(i + 1) / 2.0", "i * (i * i - 1) / 12.0", "((j + 1) / 2.0 - i) * f",
		// ^ 2 is x * x; sqrt.
		"f ^ 2", "(f - g) ^ 2", "(a::DOUBLE - 1.5) ^ 2", "sqrt(f * f)", "sqrt(abs_free)",
		// comparisons across types, NULL logic.
		"a > b", "a > 0", "coalesce(a, 0) > 0", "a = b", "f > 0", "f >= g", "a < f", "s = 'x'", "s <> 'x'",
		"s IN ('x', 'z')", "s IN ('x', NULL)", "s NOT IN ('x', 'y')", "i BETWEEN 0 AND 30", "a BETWEEN 0 AND 2",
		"a IS NULL", "s IS NOT NULL", "NOT (a > b)", "a > b AND f > 0", "a > b OR f > 0", "f > 0 AND NULL", "f > 0 OR NULL",
		"(a IS NOT NULL)::BIGINT + (f IS NOT NULL)::BIGINT",
		"CASE WHEN a > b THEN a ELSE b END", "CASE WHEN f > 0 THEN 1 END", "CASE WHEN i > 0 THEN 'pos' WHEN i < 0 THEN 'neg' ELSE 'zero' END",
		"least(12, i // 30 + 1)", "least(f, g)", "least(a, NULL)", "coalesce(f, g, 0)", "coalesce(NULL, a)",
		// casts.
		"CAST(a AS BIGINT)", "CAST(b AS BIGINT)", "CAST(f AS BIGINT)", "CAST(i AS DOUBLE)", "CASE WHEN i >= 0 THEN i::UBIGINT END", "TRUE::BIGINT",
		"ts::DATE", "TIMESTAMP '2025-01-01 00:00:00'::DATE", "CAST(TIMESTAMP '2024-02-29 13:00:00' AS DATE)",
		// bits and time.
		"bit_count(u)", "1::UBIGINT << 63", "1::UBIGINT << j", "u >> 1", "bit_count(1::UBIGINT << j)",
		"epoch_us(ts)", "(epoch_us(TIMESTAMP '2025-01-01 00:00:00') - epoch_us(ts)) // 86400000000",
		"epoch_us(TIMESTAMP '2025-01-01 00:00:00') - epoch_us(ts) > 0",
		// lists and lambdas.
		"list_value(f, g, 1.0::DOUBLE)", "list_value(f, g, f)[1:j]", "list_value(f, g, f)[1:12]", "list_value(f, g)[2:1]",
		"list_sum(list_value(f, g, f))", "list_sum(list_value(a, b))", "list_sum(list_value(i, j))",
		"list_sum(list_value(f, g, 3.0::DOUBLE)[1:j]) / j",
		"list_transform(list_value(f, g), y -> (y - 1.5) ^ 2)",
		"list_sum(list_transform(list_value(f, g, 1.0::DOUBLE), y -> (y - f) ^ 2)) / 3",
		"list_transform(list_value(f, g, f), (y, k) -> ((3 + 1) / 2.0 - k) * y)",
		"list_sum(list_transform(list_value(f, g, f)[1:j], (y, k) -> ((j + 1) / 2.0 - k) * y))",
		"0.000001 * 3", "2.0 + 1", "2.0 * 2.0", "12.0", "86400000000",
		// column op constant: the inline forms for a value of the
		// constant's kind, the general ones for any other kind.
		"i IN (1, 2, 30)", "i NOT IN (1, 2)", "i IN (1.5, 2)", "a IN (1, 2.5)", "s IN ('x', 'x')", "s NOT IN ('z')",
		"ts IN (TIMESTAMP '2025-01-01 00:00:00')", "i = 2.0", "a = 1", "a > 1", "i // -1", "i // 7 < 3", "i - 1 > 0",
		"i + 1 >= j", "i - 1", "i + 3", "ts > TIMESTAMP '2024-06-01 00:00:00'", "ts::DATE >= TIMESTAMP '2024-06-01 00:00:00'::DATE",
		"ts <= TIMESTAMP '2024-06-01 00:00:00'", "ts::DATE = TIMESTAMP '2025-01-01 00:00:00'::DATE", "i < 0", "i <> 1",
	}
	queries := make([]string, 0, len(exprs)+16)
	for _, e := range exprs {
		if e == "sqrt(abs_free)" {
			e = "sqrt(CASE WHEN f > 0 THEN f ELSE -f END)"
		}
		queries = append(queries, "SELECT id, "+e+" AS x FROM t ORDER BY id")
	}
	queries = append(queries,
		// Aggregates, FILTER, sum in row order, NULL over no rows.
		"SELECT count(*), count(a), sum(a), sum(b), sum(i), sum(f), min(a), max(a), min(ts), max(ts), min(s), max(s), bit_or(u) FROM t",
		"SELECT sum(a) FILTER (WHERE i > 0), count(*) FILTER (WHERE f > 0), sum(f) FILTER (WHERE s = 'x'), min(ts) FILTER (WHERE s = 'none') FROM t",
		"SELECT sum(CASE WHEN i > 0 THEN a END), coalesce(sum(CASE WHEN i > 1000 THEN j END), 0), count(CASE WHEN j >= 2 THEN 1 END) FROM t",
		"SELECT (coalesce(bit_count(bit_or(u)), 0) + coalesce(bit_count(bit_or(CASE WHEN i > 1000 THEN u END)), 0)) FROM t",
		"SELECT sum(a), count(*) FROM t WHERE FALSE",
		"SELECT count(*) FROM t WHERE i > 1000 HAVING count(*) > 0",
		"SELECT min(s) AS s, count(*) AS n FROM t HAVING count(*) > 0",
		"SELECT sum(a) FROM t HAVING min(ts) IS NOT NULL",
		// One FILTER condition shared by several aggregates (evaluated once
		// a row), next to others.
		"SELECT j, count(*) FILTER (WHERE s = 'x') AS n, sum(a) FILTER (WHERE s = 'x') AS sa, max(ts) FILTER (WHERE s = 'x') AS mt, count(*) FILTER (WHERE s <> 'x') AS o, sum(f) FILTER (WHERE i > 0) AS sf FROM t GROUP BY j ORDER BY j",
		// GROUP BY with NULL keys, ORDER BY (NULLS LAST), DESC.
		"SELECT s, count(*) AS n, sum(a) AS sa, max(f) AS mf FROM t GROUP BY s ORDER BY s",
		"SELECT s, j, count(*) AS n FROM t GROUP BY s, j ORDER BY s DESC, j",
		"SELECT s AS k, sum(i) AS si FROM t WHERE a IS NOT NULL GROUP BY s HAVING sum(i) <> 0 ORDER BY k",
		// CTEs, subqueries, aliases, SELECT *, UNION ALL, LEFT JOIN.
		"WITH x AS (SELECT id, s FROM t), y AS (SELECT s, count(*) AS c FROM t GROUP BY s) SELECT x.id, y.c FROM x LEFT JOIN y ON x.s = y.s ORDER BY x.id",
		"WITH y AS (SELECT count(*) AS c FROM t WHERE i > 1000 HAVING count(*) > 0) SELECT t.id, c FROM t LEFT JOIN y ON TRUE ORDER BY t.id",
		"WITH y AS (SELECT count(*) AS c FROM t HAVING count(*) > 0) SELECT m.id, c FROM t AS m LEFT JOIN y ON TRUE ORDER BY m.id",
		"SELECT * FROM (SELECT id, s FROM t UNION ALL SELECT id + 100, s FROM t WHERE s IS NOT NULL) ORDER BY id",
		"WITH p AS (SELECT * FROM t), q AS (SELECT *, i * 2 AS i2 FROM p) SELECT id, i2, f FROM q ORDER BY id",
	)
	// DECIMAL sums past int64 (DuckDB: DECIMAL(38,6), 128-bit): t repeated
	// 10 times sums a to ≈ 1.00001 × 10^19 µ (> 2^63), 20 times to ≈ 2 × 10^19
	// (> 2^64), 200 times to ≈ 2 × 10^20; each query over the sums the
	// registry applies to them (sum of sums, coalesce, comparisons, casts
	// to DOUBLE, + and −).
	for _, n := range []int{10, 20, 200} {
		rep := make([]string, n)
		for k := range rep {
			rep[k] = "SELECT id, a, b, i, s FROM t"
		}
		r := "(" + strings.Join(rep, " UNION ALL ") + ")"
		queries = append(queries,
			"SELECT sum(a), sum(a)::DOUBLE, sum(-a), sum(-a)::DOUBLE, sum(b), sum(b)::DOUBLE, coalesce(sum(a), 0)::DOUBLE, sum(a) > 0, coalesce(sum(a), 0) > 0 FROM "+r,
			"SELECT sum(a) - sum(b), (sum(a) + sum(b))::DOUBLE, sum(a)::DOUBLE / count(*), sum(a)::DOUBLE / sum(b)::DOUBLE, sum(a) > sum(b), sum(a) = sum(a), sum(a) > 9223372036854.775807, sum(a) < 10000000000000.0::DOUBLE FROM "+r,
			"SELECT sum(CASE WHEN i > 0 THEN a END)::DOUBLE, sum(CASE WHEN id = 2 THEN a END), CAST(sum(a) AS BIGINT), sum(a) - 1, least(sum(a), sum(b)) FROM "+r,
			"SELECT s, sum(a) AS sa, sum(a)::DOUBLE AS sd FROM "+r+" GROUP BY s ORDER BY s",
			"WITH g AS (SELECT s, id, sum(a) AS sa FROM "+r+" GROUP BY s, id) SELECT sum(sa), sum(sa)::DOUBLE, max(sa), min(sa)::DOUBLE, coalesce(sum(CASE WHEN id = 2 THEN sa END), 0) > 0 FROM g",
			"WITH g AS (SELECT id, sum(a) AS sa FROM "+r+" GROUP BY id) SELECT id, sa, sa::DOUBLE, coalesce(sa, 0)::DOUBLE, -sa FROM g ORDER BY id",
		)
	}
	ctx := context.Background()
	for _, q := range queries {
		want, err := duckRows(ctx, ref, q)
		if err != nil {
			t.Errorf("DuckDB: %s: %v", q, err)
			continue
		}
		p, err := ev.plan(q)
		if err != nil {
			t.Errorf("sqleval: %s: %v", q, err)
			continue
		}
		res, err := p.run(in)
		if err != nil {
			t.Errorf("sqleval: %s: %v", q, err)
			continue
		}
		var got [][]string
		for _, r := range res.rows {
			g := make([]string, len(r))
			for i, v := range r {
				g[i] = normEval(v)
			}
			got = append(got, g)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s\n sqleval %v\n  DuckDB %v", q, got, want)
		}
	}
}

// normEval renders a sqleval value for comparison with normDuck: exact
// numbers by value, DOUBLE by bits.
func normEval(v value) string {
	switch v.k {
	case vNull:
		return "NULL"
	case vBool:
		return strconv.FormatBool(v.i != 0)
	case vInt:
		return "N" + new(big.Rat).SetInt64(v.i).RatString()
	case vUint:
		return "N" + new(big.Rat).SetInt(new(big.Int).SetUint64(uint64(v.i))).RatString()
	case vDec:
		return "N" + new(big.Rat).SetFrac(big.NewInt(v.i), big.NewInt(pow10[v.scale])).RatString()
	case vDecW:
		// Independent of i128: hi·2^64 + lo with math/big.
		m := new(big.Int).Lsh(big.NewInt(v.hi), 64)
		m.Add(m, new(big.Int).SetUint64(uint64(v.i)))
		return "N" + new(big.Rat).SetFrac(m, big.NewInt(pow10[v.scale])).RatString()
	case vFloat:
		return fmt.Sprintf("F%x(%v)", math.Float64bits(v.fl()), v.fl())
	case vStr:
		return "S" + v.s
	case vTS:
		return "T" + strconv.FormatInt(v.i, 10)
	case vDate:
		return "T" + strconv.FormatInt(v.i*86400000000, 10)
	case vList:
		parts := make([]string, len(v.list()))
		for i, x := range v.list() {
			parts[i] = normEval(x)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return "?"
}

func normDuck(x any) string {
	switch v := x.(type) {
	case nil:
		return "NULL"
	case bool:
		return strconv.FormatBool(v)
	case int8, int16, int32, int64, uint8, uint16, uint32, uint64:
		r, _ := new(big.Rat).SetString(fmt.Sprint(v))
		return "N" + r.RatString()
	case *big.Int:
		return "N" + new(big.Rat).SetInt(v).RatString()
	case duckdb.Decimal:
		return "N" + new(big.Rat).SetFrac(v.Value, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(v.Scale)), nil)).RatString()
	case float64:
		return fmt.Sprintf("F%x(%v)", math.Float64bits(v), v)
	case string:
		return "S" + v
	case time.Time:
		return "T" + strconv.FormatInt(v.UnixMicro(), 10)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = normDuck(e)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("?%T", x)
}

// TestSQLEvalRefuses: constructs outside the supported subset fail at parse
// or bind time with an error naming them, never run as something else.
func TestSQLEvalRefuses(t *testing.T) {
	ev := newSQLEval(map[string][]string{"t": semCols})
	for q, want := range map[string]string{
		"SELECT DISTINCT a FROM t":                         "SELECT DISTINCT is not supported",
		"SELECT a FROM t INNER JOIN t AS u ON TRUE":        "INNER JOIN is not supported",
		"SELECT a FROM t JOIN t AS u ON TRUE":              "INNER JOIN is not supported",
		"SELECT a FROM t, t AS u":                          "comma joins are not supported",
		"SELECT avg(a) FROM t":                             "function avg() is not supported",
		"SELECT count(DISTINCT a) FROM t":                  "count(DISTINCT …) is not supported",
		"SELECT sum(a) OVER () FROM t":                     "window functions (OVER) are not supported",
		"SELECT a FROM t LIMIT 1":                          "LIMIT is not supported",
		"SELECT a::TIME FROM t":                            `cast to type "time" is not supported`,
		"SELECT CAST(a AS DECIMAL(38,6)) FROM t":           "only DECIMAL(18,6) is supported",
		"SELECT timezone('Europe/Paris', ts) FROM t":       "only 'UTC' is supported",
		"SELECT regexp_matches(s, s) FROM t":               "argument 2 must be a constant string",
		"SELECT a FROM t UNION SELECT a FROM t":            "UNION without ALL is not supported",
		"SELECT a FROM t EXCEPT SELECT a FROM t":           "EXCEPT is not supported",
		"SELECT a FROM t GROUP BY GROUPING SETS ((a))":     "GROUP BY GROUPING is not supported",
		"SELECT a FROM read_csv('x')":                      "table function read_csv() is not supported",
		"SELECT s LIKE 'x' FROM t":                         "LIKE is not supported",
		"SELECT CASE i WHEN 1 THEN 2 END FROM t":           "simple CASE",
		"SELECT list_value(f)[1] FROM t":                   "list indexing x[i] is not supported",
		"SELECT 1e3 FROM t":                                "numeric literal",
		"SELECT a FROM t WHERE a IN (SELECT a FROM t)":     "IN (subquery) is not supported",
		"SELECT (SELECT 1) FROM t":                         "scalar subqueries are not supported",
		`SELECT "a" FROM t`:                                "unexpected character",
		"SELECT a FROM t -- note":                          "comments are not supported",
		"SELECT a FROM t WHERE s IS DISTINCT FROM 'x'":     "IS DISTINCT is not supported",
		"SELECT a FROM t WHERE i NOT BETWEEN 1 AND 2":      "NOT BETWEEN is not supported",
		"SELECT list_transform(list_value(f), 1) FROM t":   "list_transform needs a lambda",
		"WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r":   "WITH RECURSIVE is not supported",
		"SELECT nosuch FROM t":                             "column nosuch not found",
		"SELECT a FROM nosuch":                             "table nosuch not found",
		"SELECT a, sum(b) FROM t":                          "column a must appear in the GROUP BY clause",
		"SELECT a FROM t WHERE sum(a) > 0":                 "aggregate sum() in WHERE",
		"SELECT sum(sum(a)) FROM t":                        "aggregate sum() in an aggregate's argument",
		"SELECT a FROM t LEFT JOIN t AS u ON TRUE":         "column reference a is ambiguous",
		"SELECT *, sum(a) FROM t":                          "SELECT * with aggregates is not supported",
		"SELECT a FROM t UNION ALL SELECT a, b FROM t":     "UNION ALL of 1 and 2 columns",
		"SELECT a FROM t ORDER BY a NULLS FIRST":           "NULLS FIRST/LAST is not supported",
		"SELECT sqrt(f, g) FROM t":                         "sqrt() takes 1 argument(s), got 2",
		"SELECT a FROM t WHERE ts > DATE '2024-01-01'":     "DATE is not supported",
		"SELECT a FROM t QUALIFY i > 0":                    "QUALIFY is not supported",
		"SELECT a FROM t AS x(c)":                          "column aliases on a FROM item are not supported",
		"SELECT t.* FROM t":                                "expected a column name",
		"SELECT a FROM main.t":                             "qualified table names (main.…) are not supported",
		"SELECT coalesce(a, 0) FILTER (WHERE TRUE) FROM t": "FILTER on the scalar function coalesce()",
		"SELECT a FROM t WHERE TIMESTAMP 'x' > ts":         `TIMESTAMP "x" is not YYYY-MM-DD`,
		"SELECT 99999999999999999999 FROM t":               "integer literal 99999999999999999999 out of range",
		"SELECT (i, j) -> i FROM t":                        "multi-parameter lambdas outside a list function",
		"SELECT a FROM t WHERE s = 'unterminated":          "unterminated string literal",
		"SELECT a FROM t ORDER BY a LIMIT 2":               "LIMIT is not supported",
		"SELECT a FROM (SELECT a FROM t ORDER BY a) UNION ALL SELECT a FROM t ORDER BY a": "ORDER BY over a UNION ALL is not supported",
	} {
		_, err := ev.plan(q)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to say %q", q, err, want)
		}
	}
}

// onlineQueries are the registry queries sqleval runs online (over its two
// input tables), as of a day.
func onlineQueries(t testing.TB, asOf time.Time) []string {
	t.Helper()
	qs := []string{preOnlyQuery(evalRowsTable, asOf)}
	for _, single := range []bool{true, false} {
		q1, err1 := featureQueryOverPre(evalPreTable, asOf, true, single)
		q2, err2 := featureQueryOverPreAnd(evalPreTable, evalRowsTable, asOf, true, single)
		q3, err3 := buildQueryShape(registry, evalRowsTable, asOf, false, single)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal(err1, err2, err3)
		}
		qs = append(qs, q1, q2, q3)
	}
	return qs
}

// TestSQLEvalPlansRegistry: every online query of the registry parses and
// binds, and the pre-aggregate combines (its columns are keys or bare
// aggregates). A registry change outside the subset fails here by name.
func TestSQLEvalPlansRegistry(t *testing.T) {
	ev := newOnlineEval()
	for _, q := range onlineQueries(t, goldenAsOf) {
		p, err := ev.plan(q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		if strings.HasPrefix(q, "SELECT ok") {
			if _, err := p.combiner(); err != nil {
				t.Fatalf("the pre-aggregate does not combine: %v", err)
			}
		} else if len(p.cols) != len(registry)+2 {
			t.Fatalf("feature query of %d columns", len(p.cols))
		}
	}
	// With @as_of as a parameter (how the online path plans them, once for
	// every day) the same queries give, day after day, what the texts with
	// the day's literal give, and a run without the parameter fails.
	params, literal := onlineQueries(t, asOfParam), onlineQueries(t, goldenAsOf)
	rows := evalRows([]ValidRow{
		{MerchantID: "m", TS: goldenAsOf.Add(-40 * 24 * time.Hour), AmountMicro: 12_500_000, Type: "sale", BuyerID: "b1"},
		{MerchantID: "m", TS: goldenAsOf.Add(-3 * time.Hour), AmountMicro: 2_000_000, Type: "refund"},
		{MerchantID: "m", TS: goldenAsOf.Add(20 * 24 * time.Hour), AmountMicro: 7_000_000, Type: "sale", BuyerID: "b2"},
	}, true)
	pp, err := ev.plan(params[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pp.run(map[string][][]value{evalRowsTable: rows}); err == nil || !strings.Contains(err.Error(), "no value for parameter @as_of") {
		t.Fatalf("run without @as_of: %v", err)
	}
	for _, day := range []time.Time{goldenAsOf, goldenAsOf.AddDate(0, 0, 1), goldenAsOf.AddDate(0, 0, 30)} {
		literal = onlineQueries(t, day)
		for i, q := range []string{params[0], params[3]} { // the pre-aggregate; the features over rows (single)
			lp, err := newOnlineEval().plan(literal[[]int{0, 3}[i]])
			if err != nil {
				t.Fatal(err)
			}
			want, err := lp.run(map[string][][]value{evalRowsTable: rows})
			if err != nil {
				t.Fatal(err)
			}
			p, err := ev.plan(q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.runWith(map[string][][]value{evalRowsTable: rows}, asOfArgs(day))
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got.rows) != fmt.Sprint(want.rows) || len(want.rows) == 0 {
				t.Fatalf("as of %s, query %d: with @as_of %v, with the literal %v", day.Format(time.DateOnly), i, got.rows, want.rows)
			}
		}
	}
	// The batch pipeline's grouped pre-aggregate (GROUPING SETS) is not an
	// online query: refused, by name.
	if _, err := ev.plan(bind(preSQL(evalRowsTable, "TRUE", true), goldenAsOf, true)); err == nil || !strings.Contains(err.Error(), "GROUPING") {
		t.Fatalf("GROUPING SETS: %v", err)
	}
}

// FuzzParse: the parser and binder never panic, and a query that binds runs
// over the semantics table without panicking (an error is fine).
func FuzzParse(f *testing.F) {
	asOf := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range onlineQueries(f, asOf) {
		f.Add(q)
	}
	for _, q := range []string{
		"SELECT id, list_sum(list_transform(list_value(f, g, f)[1:j], (y, k) -> ((j + 1) / 2.0 - k) * y)) AS x FROM t ORDER BY id",
		"WITH x AS (SELECT id, s FROM t), y AS (SELECT s, count(*) AS c FROM t GROUP BY s) SELECT x.id, y.c FROM x LEFT JOIN y ON x.s = y.s ORDER BY x.id",
		"SELECT sum(a) FILTER (WHERE i > 0), bit_or(u), min(ts) FROM t HAVING count(*) > 0",
		"SELECT CASE WHEN a > b THEN a ELSE b END, 1::UBIGINT << j, i // 0, f ^ 2 FROM t",
		"SELECT * FROM (SELECT id FROM t UNION ALL SELECT id + 1 FROM t) WHERE id BETWEEN 1 AND 3 AND s IN ('x', NULL)",
		"SELECT TIMESTAMP '2025-01-01 00:00:00'::DATE, epoch_us(ts) // 86400000000, least(12, i), coalesce(a, 0)::DOUBLE FROM t",
		"SELECT ((((((", "SELECT 'a''b'", "SELECT - - - 1", "SELECT a FROM t WHERE NOT NOT NOT ok",
		// DECIMAL(38) sums past int64 and what the registry does with them.
		"SELECT sum(a)::DOUBLE, coalesce(sum(a), 0) > 0, sum(a) - sum(b), CAST(sum(a) AS BIGINT) FROM (SELECT a, b FROM t UNION ALL SELECT a, b FROM t UNION ALL SELECT a, b FROM t UNION ALL SELECT a, b FROM t UNION ALL SELECT a, b FROM t UNION ALL SELECT a, b FROM t UNION ALL SELECT a, b FROM t UNION ALL SELECT a, b FROM t UNION ALL SELECT a, b FROM t UNION ALL SELECT a, b FROM t)",
		"WITH g AS (SELECT s, sum(a) AS sa FROM (SELECT s, a FROM t UNION ALL SELECT s, a FROM t) GROUP BY s) SELECT max(sa), sum(sa) * 2, list_sum(list_value(sum(sa), sum(sa))), least(sum(sa), 1.5) FROM g",
	} {
		f.Add(q)
	}
	in := map[string][][]value{"t": semEvalRows(), evalRowsTable: nil, evalPreTable: nil}
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 4000 {
			return
		}
		cols, _ := preCols()
		ev := newSQLEval(map[string][]string{"t": semCols, evalRowsTable: evalRowCols, evalPreTable: cols})
		p, err := ev.plan(q)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "sqleval: ") {
				t.Fatalf("error without the sqleval prefix: %v", err)
			}
			return
		}
		if _, err := p.run(in); err != nil && !strings.HasPrefix(err.Error(), "sqleval: ") {
			t.Fatalf("run error without the sqleval prefix: %v", err)
		}
	})
}

// TestSQLEvalOlistMatchesDuckDB: over the real Olist data, one merchant at a
// time, sqleval and DuckDB give the same pre-aggregate rows (as multisets)
// and the same feature row for the registry's queries, bit for bit: the
// pre-aggregate of the merchant's rows, and the features over it (sqleval)
// against the registry's Query over the rows (DuckDB, ValidateAndCompute).
func TestSQLEvalOlistMatchesDuckDB(t *testing.T) {
	path := testutil.SharedData(t, "olist/transactions.csv.gz")
	asOf := time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC)
	byM := map[string][]Tx{}
	var ids []string
	for _, tx := range readTx(t, path) {
		if byM[tx.MerchantID] == nil {
			ids = append(ids, tx.MerchantID)
		}
		byM[tx.MerchantID] = append(byM[tx.MerchantID], tx)
	}
	ctx := context.Background()
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	withRow, compared := 0, 0
	for _, id := range ids {
		rows := byM[id]
		hist := validRows(t, o, rows)
		// DuckDB: the registry's Query over the rows.
		_, bad, want, wantOK, err := o.ValidateAndCompute(ctx, asOf, hist, nil)
		if err != nil || bad != nil {
			t.Fatalf("%s: %v %v", id, bad, err)
		}
		// sqleval: the pre-aggregate, then the features over it.
		_, bad, got, gotOK, _, err := o.ValidateAndComputeFrom(ctx, asOf, nil, hist, nil, nil)
		if err != nil || bad != nil {
			t.Fatalf("%s: %v %v", id, bad, err)
		}
		if wantOK != gotOK {
			t.Fatalf("%s: DuckDB row %v, sqleval row %v", id, wantOK, gotOK)
		}
		if wantOK {
			compareRow(t, "sqleval", want, got)
			withRow++
		}
		// The pre-aggregate rows themselves.
		duck := duckPre(t, o, hist, asOf)
		o.mu.Lock()
		pre, err := o.preOf(hist, asOf)
		o.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		var mine []string
		for _, r := range pre {
			parts := make([]string, len(r))
			for i, v := range r {
				parts[i] = normEval(v)
			}
			mine = append(mine, strings.Join(parts, "|"))
		}
		slices.Sort(mine)
		if !slices.Equal(mine, duck) {
			t.Fatalf("%s: pre-aggregate\n sqleval %v\n  DuckDB %v", id, mine, duck)
		}
		compared++
	}
	if withRow < 100 || compared != len(ids) {
		t.Fatalf("only %d feature rows, %d of %d merchants compared", withRow, compared, len(ids))
	}
}

// duckPre is DuckDB's preOnlyQuery over rows (staged in the history table),
// each row rendered by normDuck, sorted.
func duckPre(t *testing.T, o *Online, rows []ValidRow, asOf time.Time) []string {
	t.Helper()
	ctx := context.Background()
	o.mu.Lock()
	defer o.mu.Unlock()
	end, err := o.begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer end()
	if err := o.stageHistory(ctx, rows); err != nil {
		t.Fatal(err)
	}
	res, err := o.conn.QueryContext(ctx, preOnlyQuery("("+histRel+")", asOf))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	cols, _ := res.Columns()
	var out []string
	for res.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := res.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = normDuck(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestSQLEvalComputeMatchesDuckDB: Online.Compute on an OpenOnline (sqleval)
// and ComputeRows (DuckDB) agree bit for bit on the golden history, with and
// without buyer ids, over all merchants at once (the grouped query: one()
// refuses several merchants the same way) and per merchant; an invalid row
// fails both with the same code and message.
func TestSQLEvalComputeMatchesDuckDB(t *testing.T) {
	rows := readTx(t, filepath.Join("testdata", "golden", "history.csv"))
	db := testDB(t)
	ctx := context.Background()
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	byM := map[string][]Tx{}
	for _, r := range rows {
		byM[r.MerchantID] = append(byM[r.MerchantID], r)
	}
	if len(byM) < 2 {
		t.Fatal("the golden history should hold several merchants")
	}
	var valid []Tx // the rows the batch pipeline accepts
	for _, r := range rows {
		if refValid(r.MerchantID, r.TS, r.Amount, r.Type) {
			valid = append(valid, r)
		}
	}
	compared := 0
	for _, hasBuyer := range []bool{true, false} {
		// Several merchants: DuckDB's grouped query gives one row each; the
		// online Compute refuses with EINVALID on both executors' rows.
		want, err := ComputeRows(ctx, db, goldenAsOf, hasBuyer, valid)
		if err != nil || len(want) < 2 {
			t.Fatalf("ComputeRows: %d rows, %v", len(want), err)
		}
		if _, _, err := o.Compute(ctx, goldenAsOf, hasBuyer, valid); lend.ErrorCode(err) != lend.EINVALID {
			t.Fatalf("several merchants: err = %v", err)
		}
		for _, w := range want {
			var mine []Tx
			for _, r := range valid {
				if r.MerchantID == w.MerchantID {
					mine = append(mine, r)
				}
			}
			got, ok, err := o.Compute(ctx, goldenAsOf, hasBuyer, mine)
			if err != nil || !ok {
				t.Fatalf("%s: ok=%v err=%v", w.MerchantID, ok, err)
			}
			compareRow(t, "sqleval Compute", w, got)
			if i := slices.Index(Names(), "unique_buyers_90d"); !hasBuyer && got.Values[i] != nil {
				t.Fatalf("%s: unique_buyers_90d = %v without buyer ids", w.MerchantID, *got.Values[i])
			}
			compared++
		}
	}
	if compared < 4 {
		t.Fatalf("only %d rows compared", compared)
	}
	bad := []Tx{{MerchantID: "m", TS: "2024-01-01 00:00:00", Amount: "1", Type: "sale"}, {MerchantID: "m", TS: "2024-01-01 00:00:00", Amount: "-1", Type: "sale"}}
	_, _, err1 := o.Compute(ctx, goldenAsOf, true, bad)
	_, err2 := ComputeRows(ctx, db, goldenAsOf, true, bad)
	if lend.ErrorCode(err1) != lend.EINVALID || err1 == nil || err2 == nil || err1.Error() != err2.Error() {
		t.Fatalf("invalid row: sqleval %v, DuckDB %v", err1, err2)
	}
}

// TestSQLEvalWideToDouble: sqleval's DECIMAL(38,6) → DOUBLE cast (and its
// 128-bit add, subtract and compare) give DuckDB's bits and values over the
// whole range, not only where a sum of the test table reaches: magnitudes
// 2^40 … 2^126 micro-units, each power of two ± small offsets and random
// values of that size, both signs. DuckDB's conversion is not correctly
// rounded above 2^64 of integer part (high and low words converted apart),
// so a plain big.Float conversion would differ; the reference here is
// DuckDB itself.
func TestSQLEvalWideToDouble(t *testing.T) {
	ctx := context.Background()
	ref := semDuckDB(t)
	rng := rand.New(rand.NewPCG(9, 9))
	var nums []*big.Int
	lim := new(big.Int).Exp(big.NewInt(10), big.NewInt(38), nil) // DECIMAL(38) bound
	for e := 40; e <= 126; e++ {
		p := new(big.Int).Lsh(big.NewInt(1), uint(e))
		for _, d := range []int64{-1_000_001, -1, 0, 1, 999_999, 1_000_000, 1 << 10} {
			nums = append(nums, new(big.Int).Add(p, big.NewInt(d)))
		}
		for k := 0; k < 12; k++ {
			nums = append(nums, new(big.Int).Add(p, new(big.Int).Rand(rng2big(rng), p)))
		}
	}
	var vals []*big.Int
	for _, n := range nums {
		if n.CmpAbs(lim) < 0 {
			vals = append(vals, n, new(big.Int).Neg(n))
		}
	}
	toI128 := func(n *big.Int) i128 {
		m := new(big.Int).And(n, new(big.Int).SetUint64(math.MaxUint64))
		h := new(big.Int).Rsh(n, 64) // floor: two's-complement high word
		return i128{hi: h.Int64(), lo: m.Uint64()}
	}
	for start := 0; start < len(vals); start += 500 {
		chunk := vals[start:min(start+500, len(vals))]
		lits := make([]string, len(chunk))
		for i, n := range chunk {
			lits[i] = fmt.Sprintf("(%d, CAST('%s' AS DECIMAL(38,6)))", i, wideString(toI128(n), 6))
		}
		want, err := duckRows(ctx, ref, "SELECT x::DOUBLE, x - 1, x > 1.5 FROM (VALUES "+strings.Join(lits, ", ")+") v(i, x) ORDER BY i")
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range chunk {
			x := decW(toI128(n), 6)
			if got := normEval(x); got != normDuck(duckdb.Decimal{Value: n, Scale: 6}) {
				t.Fatalf("%s: i128 holds %s", n, got)
			}
			f, err := castTo(x, "DOUBLE")
			if err != nil {
				t.Fatal(err)
			}
			m1, err := arith("-", x, intV(1))
			if err != nil && n.Cmp(new(big.Int).Neg(lim)) > 0 {
				t.Fatal(err)
			}
			c, err := compare(x, value{k: vDec, i: 15, scale: 1})
			if err != nil {
				t.Fatal(err)
			}
			got := []string{normEval(f), normEval(m1), strconv.FormatBool(c > 0)}
			if fmt.Sprint(got) != fmt.Sprint(want[i]) {
				t.Errorf("%s µ:\n sqleval %v\n  DuckDB %v", n, got, want[i])
			}
		}
	}
	if len(vals) < 2000 {
		t.Fatalf("only %d values", len(vals))
	}
	t.Logf("%d values compared", len(vals))
}

// rng2big adapts a math/rand/v2 source for big.Int.Rand.
func rng2big(r *rand.Rand) *mrand.Rand { return mrand.New(mrand.NewSource(r.Int64())) }

// FuzzWide: the 128-bit arithmetic under DECIMAL(38) sums (add, sub, neg,
// cmp, mulU, quoRem, int64) agrees with math/big, overflow reported exactly
// when the true result leaves 128 bits.
func FuzzWide(f *testing.F) {
	f.Add(int64(0), uint64(999_999_999_999_999_999), int64(0), uint64(999_999_999_999_999_999), uint64(1_000_000))
	f.Add(int64(math.MaxInt64), uint64(math.MaxUint64), int64(0), uint64(1), uint64(10))
	f.Add(int64(math.MinInt64), uint64(0), int64(-1), uint64(math.MaxUint64), uint64(1))
	f.Add(int64(-1), uint64(1<<63), int64(-1), uint64(1<<63-1), uint64(1_000_000_000_000_000_000))
	f.Fuzz(func(t *testing.T, ah int64, al uint64, bh int64, bl uint64, d uint64) {
		a, b := i128{ah, al}, i128{bh, bl}
		big128 := func(x i128) *big.Int {
			m := new(big.Int).Lsh(big.NewInt(x.hi), 64)
			return m.Add(m, new(big.Int).SetUint64(x.lo))
		}
		minB := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 127))
		maxB := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 127), big.NewInt(1))
		fits := func(n *big.Int) bool { return n.Cmp(minB) >= 0 && n.Cmp(maxB) <= 0 }
		check := func(op string, got i128, ok bool, want *big.Int) {
			if ok != fits(want) || ok && big128(got).Cmp(want) != 0 {
				t.Fatalf("%s(%v, %v) = %v ok %v, want %v", op, big128(a), big128(b), big128(got), ok, want)
			}
		}
		A, B := big128(a), big128(b)
		s, ok := a.add(b)
		check("add", s, ok, new(big.Int).Add(A, B))
		s, ok = a.sub(b)
		if !(b.hi == math.MinInt64 && b.lo == 0) { // −b itself leaves 128 bits
			check("sub", s, ok, new(big.Int).Sub(A, B))
		}
		s, ok = a.neg()
		check("neg", s, ok, new(big.Int).Neg(A))
		if c := a.cmp(b); c != A.Cmp(B) {
			t.Fatalf("cmp(%v, %v) = %d", A, B, c)
		}
		s, ok = a.mulU(d)
		check("mulU", s, ok, new(big.Int).Mul(A, new(big.Int).SetUint64(d)))
		if n, ok := a.int64(); ok != A.IsInt64() || ok && n != A.Int64() {
			t.Fatalf("int64(%v) = %d %v", A, n, ok)
		}
		if d == 0 || d > 1_000_000_000_000_000_000 {
			return // quoRem divides by 10^scale ≤ 10^18 only
		}
		q, r := a.quoRem(d)
		wq, wr := new(big.Int).QuoRem(A, new(big.Int).SetUint64(d), new(big.Int))
		if big128(q).Cmp(wq) != 0 || big.NewInt(r).Cmp(wr) != 0 {
			t.Fatalf("quoRem(%v, %d) = %v, %d, want %v, %v", A, d, big128(q), r, wq, wr)
		}
	})
}
