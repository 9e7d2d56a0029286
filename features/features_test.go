package features

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite formatting golden files (never hand-worked values)")

var goldenAsOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

// run runs the pipeline into a Parquet file in t.TempDir() and reads it back.
func run(t *testing.T, asOf time.Time, maxRate float64, paths ...string) (*Report, []Row) {
	t.Helper()
	return runIn(t, "", asOf, maxRate, paths...)
}

// goldenCurrency is the currency of testdata/golden/history.csv (every row
// is EUR): its runs lend in it, or every row would be rejected.
const goldenCurrency = "EUR"

// runIn is run with Options.Currency set to currency.
func runIn(t *testing.T, currency string, asOf time.Time, maxRate float64, paths ...string) (*Report, []Row) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "features.parquet")
	rep, err := Run(context.Background(), Options{Paths: paths, AsOf: asOf, Out: out, MaxRejectRate: maxRate, TempDir: t.TempDir(), Currency: currency})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.RowsIn != rep.Accepted+rep.Rejected {
		t.Fatalf("rows in %d != accepted %d + rejected %d", rep.RowsIn, rep.Accepted, rep.Rejected)
	}
	return rep, readBack(t, out)
}

func testDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := OpenDB(2, "2GB", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func readBack(t *testing.T, out string) []Row {
	t.Helper()
	rows, err := ReadOutput(context.Background(), testDB(t), out)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// loadExpected reads a hand-worked expected CSV (see testdata/golden/expected.md).
func loadExpected(t *testing.T, path string) map[string][]*float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(recs[0][1:], ","), strings.Join(Names(), ","); got != want {
		t.Fatalf("expected file columns\n%s\nwant registry order\n%s", got, want)
	}
	out := map[string][]*float64{}
	for _, r := range recs[1:] {
		vals := make([]*float64, len(r)-1)
		for i, s := range r[1:] {
			if s == "NULL" {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatal(err)
			}
			vals[i] = &v
		}
		out[r[0]] = vals
	}
	return out
}

func fmtVal(v *float64) string {
	if v == nil {
		return "NULL"
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

func sameVal(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return math.Abs(*a-*b) <= 1e-12*math.Max(1, math.Abs(*b))
}

func compareRows(t *testing.T, got []Row, want map[string][]*float64) {
	t.Helper()
	if len(got) != len(want) {
		names := []string{}
		for _, r := range got {
			names = append(names, r.MerchantID)
		}
		t.Fatalf("got %d merchants %v, want %d", len(got), names, len(want))
	}
	for _, r := range got {
		w, ok := want[r.MerchantID]
		if !ok {
			t.Errorf("unexpected merchant %s", r.MerchantID)
			continue
		}
		for i, name := range Names() {
			if !sameVal(r.Values[i], w[i]) {
				t.Errorf("%s %s = %s, want %s", r.MerchantID, name, fmtVal(r.Values[i]), fmtVal(w[i]))
			}
		}
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct{ input, expected string }{
		{"history.csv", "expected.csv"},
		{"nobuyer.csv", "expected_nobuyer.csv"},
	} {
		t.Run(tc.input, func(t *testing.T) {
			dir := filepath.Join("testdata", "golden")
			want := loadExpected(t, filepath.Join(dir, tc.expected))
			rep, rows := runIn(t, goldenCurrency, goldenAsOf, 0, filepath.Join(dir, tc.input))
			if rep.Rejected != 0 {
				t.Fatalf("rejected %d rows", rep.Rejected)
			}
			compareRows(t, rows, want)
			for _, r := range rows {
				if !r.AsOf.Equal(goldenAsOf) {
					t.Errorf("%s as_of = %v", r.MerchantID, r.AsOf)
				}
			}
		})
	}
}

// TestGoldenParquetAndOnline runs the same hand-worked history through two
// other paths: a Parquet copy (typed ts and amount, read by read_parquet) and
// the online single-merchant path, ComputeRows.
func TestGoldenParquetAndOnline(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	want := loadExpected(t, filepath.Join(dir, "expected.csv"))
	src := filepath.Join(dir, "history.csv")
	db := testDB(t)
	pq := filepath.Join(t.TempDir(), "history.parquet")
	// Typed columns: ts as TIMESTAMP (zones converted by our validator first), amount as DOUBLE.
	q := fmt.Sprintf(`COPY (SELECT merchant_id, ts, amount::DOUBLE AS amount, type, buyer_id FROM (%s) WHERE reason IS NULL) TO %s (FORMAT parquet)`,
		validationSQL(fmt.Sprintf("(SELECT 'f' AS file, 0 AS line, *, NULL AS raw, NULL AS struct_reason FROM read_csv(%s, all_varchar = true))", sqlString(src)), true, kindText, kindText, true),
		sqlString(pq))
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	_, rows := run(t, goldenAsOf, 0, pq)
	compareRows(t, rows, want)

	online, err := ComputeRows(context.Background(), db, goldenAsOf, true, readTx(t, src))
	if err != nil {
		t.Fatal(err)
	}
	compareRows(t, online, want)
}

// readTx reads a CSV (optionally gzipped) into Tx values with Go's csv package.
func readTx(t testing.TB, path string) []Tx {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r *csv.Reader
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		r = csv.NewReader(gz)
	} else {
		r = csv.NewReader(f)
	}
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	idx := map[string]int{}
	for i, h := range recs[0] {
		idx[h] = i
	}
	var out []Tx
	for _, rec := range recs[1:] {
		tx := Tx{MerchantID: rec[idx["merchant_id"]], TS: rec[idx["ts"]], Amount: rec[idx["amount"]], Type: rec[idx["type"]]}
		if i, ok := idx["buyer_id"]; ok {
			tx.BuyerID = rec[i]
		}
		out = append(out, tx)
	}
	return out
}

// TestNoLeakage: adding transactions at or after as_of changes no feature.
func TestNoLeakage(t *testing.T) {
	dir := t.TempDir()
	base, err := os.ReadFile(filepath.Join("testdata", "golden", "history.csv"))
	if err != nil {
		t.Fatal(err)
	}
	future := []string{
		"m_a,2024-07-01 00:00:00,999,sale,b1,EUR",        // exactly as_of
		"m_a,2024-06-30T20:00:00-04:00,999,sale,b2,EUR",  // 2024-07-01 00:00 UTC
		"m_a,2024-07-01 00:00:00.000001,5,refund,,EUR",   // 1 µs after
		"m_c,2025-01-01 00:00:00,1000,chargeback,b7,EUR", // far future
		"m_d,2024-07-02T00:00:00Z,77,sale,b9,EUR",
		"m_new,2024-07-15 00:00:00,10,sale,b1,EUR", // a merchant that only exists after as_of
	}
	leaky := filepath.Join(dir, "leaky.csv")
	if err := os.WriteFile(leaky, append(base, []byte(strings.Join(future, "\n")+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	_, clean := runIn(t, goldenCurrency, goldenAsOf, 0, filepath.Join("testdata", "golden", "history.csv"))
	rep, dirty := runIn(t, goldenCurrency, goldenAsOf, 0, leaky)
	if rep.Accepted != 15+int64(len(future)) {
		t.Fatalf("accepted %d rows, want %d", rep.Accepted, 15+len(future))
	}
	if len(clean) != len(dirty) {
		t.Fatalf("merchants %d vs %d", len(clean), len(dirty))
	}
	for i := range clean {
		for j, name := range Names() {
			if clean[i].MerchantID != dirty[i].MerchantID || !sameVal(clean[i].Values[j], dirty[i].Values[j]) {
				t.Errorf("%s %s: %s without future rows, %s with", clean[i].MerchantID, name, fmtVal(clean[i].Values[j]), fmtVal(dirty[i].Values[j]))
			}
		}
	}
}

func TestListGolden(t *testing.T) {
	got := FormatList()
	path := filepath.Join("testdata", "list.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("--list output changed; run go test -run TestListGolden -update and review the diff\n%s", got)
	}
	for _, f := range Registry() {
		if f.Name == "" || f.Description == "" || f.Unit == "" || f.Window == "" || f.SQL == "" {
			t.Errorf("registry entry %+v incomplete", f.Name)
		}
	}
}

func TestRegistryAggregatesConsistent(t *testing.T) {
	if _, err := Query("tx", goldenAsOf, true); err != nil {
		t.Fatal(err)
	}
	bad := append(Registry(), Feature{Name: "x", Aggs: []Agg{{"sale_amt_30", "sum(1)"}}, SQL: "1", Type: "BIGINT"})
	if _, err := buildQuery(bad, "tx", goldenAsOf, true); err == nil {
		t.Fatal("a second definition of sale_amt_30 was accepted")
	}
}

func TestParseAsOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want time.Time
	}{
		{"2024-07-01", true, goldenAsOf},
		{" 2024-02-29 ", true, time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"", false, time.Time{}},
		{"2023-02-29", false, time.Time{}},
		{"2024-13-01", false, time.Time{}},
		{"2024-07-01T00:00:00Z", false, time.Time{}},
		{"01/07/2024", false, time.Time{}},
		{"yesterday", false, time.Time{}},
	} {
		got, err := ParseAsOf(tc.in)
		if tc.ok != (err == nil) || (tc.ok && !got.Equal(tc.want)) {
			t.Errorf("ParseAsOf(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && (lend.ErrorCode(err) != lend.EINVALID || lend.ErrorField(err) != "as-of") {
			t.Errorf("ParseAsOf(%q) error %v: want EINVALID on as-of", tc.in, err)
		}
	}
}

// TestBadInput: missing, empty, header-only, wrong-column, non-CSV inputs and bad
// options give a *lend.Error with a clear message (the CLI exits 2 on these)
// and write no output.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.csv", "")
	headerOnly := write("header.csv", "merchant_id,ts,amount,type\n")
	wrongCols := write("orders.csv", "order_id,merchant_id,price,created\n1,m,2,2024-01-01\n")
	notParquet := write("bad.parquet", "PAR1 this is not really parquet")
	good := filepath.Join("testdata", "golden", "history.csv")
	for _, tc := range []struct {
		name  string
		opts  Options
		code  string
		parts []string
	}{
		{"missing file", Options{Paths: []string{filepath.Join(dir, "nope.csv")}}, lend.ENOTFOUND, []string{"nope.csv", "no such file"}},
		{"glob without match", Options{Paths: []string{filepath.Join(dir, "*.nothing")}}, lend.ENOTFOUND, []string{"no file matches"}},
		{"empty file", Options{Paths: []string{empty}}, lend.EINVALID, []string{"empty.csv", "empty file"}},
		{"header only", Options{Paths: []string{headerOnly}}, lend.EINVALID, []string{"no transactions"}},
		{"wrong columns", Options{Paths: []string{wrongCols}}, lend.EINVALID, []string{"orders.csv", "not a transaction file", "missing column(s) ts, amount, type"}},
		{"not parquet", Options{Paths: []string{notParquet}}, lend.EINVALID, []string{"bad.parquet", "not a readable Parquet file"}},
		{"no as-of", Options{Paths: []string{good}, AsOf: time.Time{}}, lend.EINVALID, []string{"as-of"}},
		{"as-of not midnight", Options{Paths: []string{good}, AsOf: goldenAsOf.Add(time.Hour)}, lend.EINVALID, []string{"as-of", "midnight"}},
		{"bad out extension", Options{Paths: []string{good}, Out: filepath.Join(dir, "f.xlsx")}, lend.EINVALID, []string{"out", ".parquet"}},
		{"bad reject rate", Options{Paths: []string{good}, MaxRejectRate: 2}, lend.EINVALID, []string{"max-reject-rate"}},
		{"no paths", Options{}, lend.EINVALID, []string{"tx"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f.parquet")
			if tc.opts.Out == "" {
				tc.opts.Out = out
			}
			if tc.opts.AsOf.IsZero() && tc.name != "no as-of" {
				tc.opts.AsOf = goldenAsOf
			}
			_, err := Run(context.Background(), tc.opts)
			var le *lend.Error
			if !errors.As(err, &le) || le.Code != tc.code {
				t.Fatalf("err = %v (%T), want *lend.Error %s", err, err, tc.code)
			}
			for _, p := range tc.parts {
				if !strings.Contains(err.Error(), p) {
					t.Errorf("message %q lacks %q", err.Error(), p)
				}
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("output written despite the error")
			}
		})
	}
}

// TestCSVLineSplitting pins the CSV dialect.
func TestCSVLineSplitting(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`a,b,c`, []string{"a", "b", "c"}, false},
		{`a,,`, []string{"a", "", ""}, false},
		{`"a,1","b""q",c`, []string{"a,1", `b"q`, "c"}, false},
		{`""`, []string{""}, false},
		{`"open,b`, nil, true},
		{`"a"x,b`, nil, true},
		{`a"b,c`, nil, true},
	} {
		got, err := splitCSVLine([]byte(tc.in))
		if (err != nil) != tc.err || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("splitCSVLine(%q) = %q, %v", tc.in, got, err)
		}
	}
}

// goCount is an independent Go computation over a transactions CSV.
type goCount struct {
	rows, sales365, zeroAmount int64
	amt365                     float64
	buyers90                   map[string]bool
	merchants                  map[string]bool
	zeroLines                  []int64
}

func countWithGo(t *testing.T, path string, asOf time.Time) goCount {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(gz) // Go's own CSV parser, independent of the pipeline's
	c := goCount{buyers90: map[string]bool{}, merchants: map[string]bool{}}
	if _, err := r.Read(); err != nil { // header
		t.Fatal(err)
	}
	for {
		p, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		line, _ := r.FieldPos(0)
		c.rows++
		ts, err := time.Parse("2006-01-02 15:04:05", p[1])
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		amt, _ := strconv.ParseFloat(p[2], 64)
		if amt <= 0 {
			c.zeroAmount++
			c.zeroLines = append(c.zeroLines, int64(line))
			continue
		}
		if p[3] != "sale" || !ts.Before(asOf) {
			continue
		}
		c.merchants[p[0]] = true
		if !ts.Before(asOf.AddDate(0, 0, -365)) {
			c.sales365++
			c.amt365 += amt
		}
		if !ts.Before(asOf.AddDate(0, 0, -90)) && p[4] != "" {
			c.buyers90[p[0]+"/"+p[4]] = true
		}
	}
	return c
}

func col(name string) int {
	for i, n := range Names() {
		if n == name {
			return i
		}
	}
	panic(name)
}

func sumCol(rows []Row, name string) float64 {
	s := 0.0
	for _, r := range rows {
		if v := r.Values[col(name)]; v != nil {
			s += *v
		}
	}
	return s
}

// plausible checks range facts every feature row must satisfy.
func plausible(t *testing.T, rows []Row) {
	t.Helper()
	for _, r := range rows {
		v := func(n string) *float64 { return r.Values[col(n)] }
		le := func(a, b string) {
			if *v(a) > *v(b)+1e-6 {
				t.Errorf("%s: %s %v > %s %v", r.MerchantID, a, *v(a), b, *v(b))
			}
		}
		le("sales_amount_30d", "sales_amount_90d")
		le("sales_amount_90d", "sales_amount_180d")
		le("sales_amount_180d", "sales_amount_365d")
		le("sales_count_30d", "sales_count_90d")
		le("days_since_last_sale", "tenure_days")
		if *v("active_days_90d") > 90 || *v("months_active_12m") > 12 || *v("months_active_12m") < 0 {
			t.Errorf("%s: active days %v, months %v", r.MerchantID, *v("active_days_90d"), *v("months_active_12m"))
		}
		for _, n := range []string{"repeat_buyer_share_90d", "top_buyer_share_90d"} {
			if x := v(n); x != nil && (*x < 0 || *x > 1) {
				t.Errorf("%s: %s = %v outside [0,1]", r.MerchantID, n, *x)
			}
		}
		if (v("avg_ticket_90d") == nil) != (*v("sales_count_90d") == 0) {
			t.Errorf("%s: avg ticket NULL-ness disagrees with sales_count_90d", r.MerchantID)
		}
	}
}

func TestRealOlist(t *testing.T) {
	path := testutil.SharedData(t, "olist/transactions.csv.gz")
	asOf := time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC)
	rep, rows := run(t, asOf, DefaultMaxRejectRate, path)
	// README: 11,296 rows (11,253 sales, 43 refunds) across 1,638 merchants, all before 2018-08-30.
	if rep.RowsIn != 11296 || rep.Rejected != 0 || len(rows) != 1638 {
		t.Fatalf("rows %d rejected %d merchants %d; want 11296, 0, 1638", rep.RowsIn, rep.Rejected, len(rows))
	}
	g := countWithGo(t, path, asOf)
	if got := sumCol(rows, "sales_count_365d"); got != float64(g.sales365) {
		t.Errorf("Σ sales_count_365d = %v, Go count %d", got, g.sales365)
	}
	if got := sumCol(rows, "sales_amount_365d"); math.Abs(got-g.amt365) > 0.005 {
		t.Errorf("Σ sales_amount_365d = %.2f, Go sum %.2f", got, g.amt365)
	}
	if got := sumCol(rows, "unique_buyers_90d"); got != float64(len(g.buyers90)) {
		t.Errorf("Σ unique_buyers_90d = %v, Go count %d", got, len(g.buyers90))
	}
	plausible(t, rows)
	// As of a date after all data, every merchant's history is shorter than
	// 2016-09-04 → 2018-09-01 = 727 days.
	for _, r := range rows {
		if *r.Values[col("tenure_days")] > 727 {
			t.Errorf("%s tenure %v > 727", r.MerchantID, *r.Values[col("tenure_days")])
		}
	}
}

func TestRealOnlineRetail(t *testing.T) {
	path := testutil.SharedData(t, "online_retail/transactions.csv.gz")
	asOf := time.Date(2011, 12, 10, 0, 0, 0, 0, time.UTC)
	out := filepath.Join(t.TempDir(), "f.csv")
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	rep, err := Run(context.Background(), Options{Paths: []string{path}, AsOf: asOf, Out: out, Rejects: rejects, MaxRejectRate: -1})
	if err != nil {
		t.Fatal(err)
	}
	g := countWithGo(t, path, asOf)
	// README: 1,038,580 rows. 17 sale lines round to 0.00 (|qty × price| < 0.005):
	// amount must be > 0, so they are rejected, each with its line.
	if rep.RowsIn != 1038580 || rep.Rejected != g.zeroAmount || g.zeroAmount != 17 {
		t.Fatalf("rows %d rejected %d; Go finds %d zero amounts", rep.RowsIn, rep.Rejected, g.zeroAmount)
	}
	recs := readCSV(t, rejects)
	for i, rec := range recs {
		if rec[1] != strconv.FormatInt(g.zeroLines[i], 10) || rec[2] != "amount: must be > 0" || !strings.Contains(rec[3], ",0.00,sale,") {
			t.Errorf("reject %d = %q, want line %d", i, rec, g.zeroLines[i])
		}
	}
	rows := readBack(t, out)
	if len(rows) != 1 || rows[0].MerchantID != "uci-online-retail-uk" {
		t.Fatalf("rows %+v", rows)
	}
	r := rows[0]
	if got := *r.Values[col("sales_count_365d")]; got != float64(g.sales365) {
		t.Errorf("sales_count_365d = %v, Go %d", got, g.sales365)
	}
	if got := *r.Values[col("sales_amount_365d")]; math.Abs(got-g.amt365) > 0.005 {
		t.Errorf("sales_amount_365d = %.2f, Go %.2f", got, g.amt365)
	}
	if got := *r.Values[col("unique_buyers_90d")]; got != float64(len(g.buyers90)) {
		t.Errorf("unique_buyers_90d = %v, Go %d", got, len(g.buyers90))
	}
	// Facts of the README: first sale 2009-12-01 07:45 → 738 whole days to 2011-12-10;
	// last sale 2011-12-09 → 0 days; sales in all 12 buckets; no chargebacks.
	for name, want := range map[string]float64{"tenure_days": 738, "days_since_last_sale": 0, "months_active_12m": 12, "chargeback_count_180d": 0} {
		if got := *r.Values[col(name)]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	plausible(t, rows)
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs[1:]
}
