package synth

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/lendhq/lend"
)

const duckDSN = "?autoinstall_known_extensions=false&autoload_known_extensions=false"

func openDuck(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", duckDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func generate(t *testing.T, cfg Config) (string, Summary) {
	t.Helper()
	dir := t.TempDir()
	sum, err := Generate(context.Background(), cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, sum
}

func readAll(t *testing.T, dir string, names ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = b
	}
	return out
}

// TestDeterministic: same seed and flags give byte-identical files, whatever
// the number of workers; another seed gives other data.
func TestDeterministic(t *testing.T) {
	files := []string{TransactionsParquet, MerchantsFile, OutcomesFile}
	for _, format := range []Format{FormatParquet, FormatCSV} {
		t.Run(string(format), func(t *testing.T) {
			if format == FormatCSV {
				files = []string{TransactionsCSV, MerchantsFile, OutcomesFile}
			}
			a, _ := generate(t, Config{Merchants: 2000, Seed: 11, Format: format, Workers: 2})
			b, _ := generate(t, Config{Merchants: 2000, Seed: 11, Format: format, Workers: 1})
			c, _ := generate(t, Config{Merchants: 2000, Seed: 12, Format: format})
			fa, fb, fc := readAll(t, a, files...), readAll(t, b, files...), readAll(t, c, files...)
			for _, n := range files {
				if !bytes.Equal(fa[n], fb[n]) {
					t.Errorf("%s differs between two runs with seed 11", n)
				}
				if bytes.Equal(fa[n], fc[n]) {
					t.Errorf("%s is identical for seeds 11 and 12", n)
				}
			}
			entries, _ := os.ReadDir(a)
			if len(entries) != len(files) {
				t.Errorf("output dir holds %d entries, want exactly %v (no temp dir left)", len(entries), files)
			}
		})
	}
}

// TestFilesReadBackWithDuckDB holds the files to SPEC §2.1 and §2.3 as DuckDB
// reads them, and checks both formats carry the same transactions.
func TestFilesReadBackWithDuckDB(t *testing.T) {
	cfg := Config{Merchants: 1500, Seed: 5, AsOf: time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC), Months: 12}
	pq, sum := generate(t, cfg)
	cfg.Format = FormatCSV
	cs, sumCSV := generate(t, cfg)
	if sum.Transactions != sumCSV.Transactions || sum.BadRate != sumCSV.BadRate {
		t.Fatalf("formats disagree: %v vs %v", sum, sumCSV)
	}
	db := openDuck(t)
	pqPath := filepath.Join(pq, TransactionsParquet)

	rows, err := db.Query(fmt.Sprintf(`DESCRIBE SELECT * FROM read_parquet('%s')`, pqPath))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var name, typ string
		var a, b, c, d sql.NullString
		if err := rows.Scan(&name, &typ, &a, &b, &c, &d); err != nil {
			t.Fatal(err)
		}
		got = append(got, name+" "+typ)
	}
	rows.Close()
	want := []string{"merchant_id VARCHAR", "ts TIMESTAMP", "amount DECIMAL(18,2)", "type VARCHAR", "buyer_id VARCHAR", "currency VARCHAR"}
	if !slices.Equal(got, want) {
		t.Fatalf("parquet schema %v, want %v", got, want)
	}

	q := `SELECT count(*), max(ts) < TIMESTAMP '2025-07-01', min(ts) >= TIMESTAMP '2024-07-01', min(amount) > 0,
	        count(*) FILTER (type NOT IN ('sale','refund','chargeback')), count(DISTINCT currency), min(currency),
	        sum(amount)::VARCHAR, count(DISTINCT merchant_id), count(*) FILTER (buyer_id IS NULL OR buyer_id = '')
	      FROM %s`
	type facts struct {
		n                  int64
		beforeAsOf, inHist bool
		positive           bool
		badTypes, nCur     int64
		cur, total         string
		merchants, noBuyer int64
	}
	read := func(from string) facts {
		var f facts
		if err := db.QueryRow(fmt.Sprintf(q, from)).Scan(&f.n, &f.beforeAsOf, &f.inHist, &f.positive, &f.badTypes, &f.nCur, &f.cur, &f.total, &f.merchants, &f.noBuyer); err != nil {
			t.Fatal(err)
		}
		return f
	}
	fp := read(fmt.Sprintf("read_parquet('%s')", pqPath))
	fc := read(fmt.Sprintf("read_csv('%s', header=true, columns={'merchant_id':'VARCHAR','ts':'TIMESTAMP','amount':'DECIMAL(18,2)','type':'VARCHAR','buyer_id':'VARCHAR','currency':'VARCHAR'})", filepath.Join(cs, TransactionsCSV)))
	if fp != fc {
		t.Fatalf("parquet and csv.gz differ:\n%+v\n%+v", fp, fc)
	}
	if fp.n != sum.Transactions || !fp.beforeAsOf || !fp.inHist || !fp.positive || fp.badTypes != 0 || fp.nCur != 1 || fp.cur != "USD" || fp.merchants != 1500 {
		t.Fatalf("transactions break the contract: %+v (summary %v)", fp, sum)
	}
	if fp.noBuyer == 0 || fp.noBuyer > fp.n/4 {
		t.Errorf("%d of %d rows without buyer: want some cash-like sales, not most", fp.noBuyer, fp.n)
	}

	var nOut, nBad int64
	var asOf string
	var minPD, maxPD, minGMV float64
	err = db.QueryRow(fmt.Sprintf(`SELECT count(*), sum(bad), min(as_of)::VARCHAR, min(true_pd), max(true_pd), min(future_gmv_90d)
		FROM read_csv('%s', header=true)`, filepath.Join(pq, OutcomesFile))).Scan(&nOut, &nBad, &asOf, &minPD, &maxPD, &minGMV)
	if err != nil {
		t.Fatal(err)
	}
	if nOut != 1500 || asOf != "2025-07-01" || minPD <= 0 || maxPD >= 1 || minGMV < 0 || nBad != sum.Bad {
		t.Fatalf("outcomes: n=%d bad=%d as_of=%s pd=[%v,%v] gmv>=%v", nOut, nBad, asOf, minPD, maxPD, minGMV)
	}
}

// shape is the 4,000-merchant portfolio the statistical tests share.
var shape struct {
	once sync.Once
	dir  string
	sum  Summary
	err  error
}

const shapeMerchants, shapeSeed = 4000, 7

func shapeData(t *testing.T) (string, Summary) {
	t.Helper()
	shape.once.Do(func() {
		dir, err := os.MkdirTemp("", "lend-synth-shape-")
		if err != nil {
			shape.err = err
			return
		}
		shape.dir = dir
		shape.sum, shape.err = Generate(context.Background(), Config{Merchants: shapeMerchants, Seed: shapeSeed}, dir)
	})
	if shape.err != nil {
		t.Fatal(shape.err)
	}
	return shape.dir, shape.sum
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shape.dir != "" {
		os.RemoveAll(shape.dir)
	}
	os.Exit(code)
}

// merchantStats is what the statistical tests read per merchant, computed by
// DuckDB from the written files with the feature definitions of issue 3.
type merchantStats struct {
	id, category, trend    string
	bad                    bool
	pd                     float64
	s90, prior90, neg90    float64
	totalSales, monthsSold float64
	tenureDays, dsls       int64
	buyers, repeatBuyers   int64
	topShare               sql.NullFloat64
}

func loadStats(t *testing.T, dir string) []merchantStats {
	t.Helper()
	db := openDuck(t)
	q := fmt.Sprintf(`
WITH t AS (SELECT * FROM read_parquet('%[1]s/transactions.parquet')),
f AS (
  SELECT merchant_id,
    coalesce(sum(amount) FILTER (type = 'sale' AND ts >= TIMESTAMP '2026-01-01' - INTERVAL 90 DAY), 0)::DOUBLE AS s90,
    coalesce(sum(amount) FILTER (type = 'sale' AND ts >= TIMESTAMP '2026-01-01' - INTERVAL 180 DAY AND ts < TIMESTAMP '2026-01-01' - INTERVAL 90 DAY), 0)::DOUBLE AS prior90,
    coalesce(sum(amount) FILTER (type <> 'sale' AND ts >= TIMESTAMP '2026-01-01' - INTERVAL 90 DAY), 0)::DOUBLE AS neg90,
    sum(amount) FILTER (type = 'sale')::DOUBLE AS total_sales,
    count(DISTINCT date_trunc('month', ts)) FILTER (type = 'sale') AS months_sold,
    floor((epoch(TIMESTAMP '2026-01-01') - epoch(min(ts) FILTER (type = 'sale'))) / 86400)::BIGINT AS tenure_days,
    floor((epoch(TIMESTAMP '2026-01-01') - epoch(max(ts) FILTER (type = 'sale'))) / 86400)::BIGINT AS dsls
  FROM t GROUP BY merchant_id),
b AS (
  SELECT merchant_id, buyer_id, count(*) AS n, sum(amount) AS amt
  FROM t WHERE type = 'sale' AND buyer_id IS NOT NULL AND ts >= TIMESTAMP '2026-01-01' - INTERVAL 90 DAY
  GROUP BY ALL),
bb AS (
  SELECT merchant_id, count(*) AS buyers, count(*) FILTER (n >= 2) AS repeat_buyers, (max(amt) / sum(amt))::DOUBLE AS top_share
  FROM b GROUP BY merchant_id)
SELECT f.merchant_id, m.category, m.trend, o.bad = 1, o.true_pd, s90, prior90, neg90, total_sales, months_sold,
       tenure_days, dsls, coalesce(buyers, 0), coalesce(repeat_buyers, 0), top_share
FROM f JOIN read_csv('%[1]s/merchants.csv', header=true) m USING (merchant_id)
       JOIN read_csv('%[1]s/outcomes.csv', header=true) o USING (merchant_id)
       LEFT JOIN bb USING (merchant_id)
ORDER BY f.merchant_id`, dir)
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []merchantStats
	for rows.Next() {
		var m merchantStats
		if err := rows.Scan(&m.id, &m.category, &m.trend, &m.bad, &m.pd, &m.s90, &m.prior90, &m.neg90, &m.totalSales, &m.monthsSold,
			&m.tenureDays, &m.dsls, &m.buyers, &m.repeatBuyers, &m.topShare); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func inRange(t *testing.T, what string, got, lo, hi float64) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s = %.4f, want in [%v, %v]", what, got, lo, hi)
	} else {
		t.Logf("%s = %.4f (want [%v, %v])", what, got, lo, hi)
	}
}

// TestPortfolioShape checks the generator's statistical shape on 4,000
// merchants. The ranges are the design targets stated in merchant.go, with
// room for sampling noise.
func TestPortfolioShape(t *testing.T) {
	dir, sum := shapeData(t)
	ms := loadStats(t, dir)
	if len(ms) != shapeMerchants {
		t.Fatalf("%d merchants with sales, want every one of %d", len(ms), shapeMerchants)
	}
	inRange(t, "bad rate", sum.BadRate, 0.03, 0.10)
	inRange(t, "oracle AUC", sum.OracleAUC, 0.75, 0.95)
	inRange(t, "transactions per merchant", float64(sum.Transactions)/shapeMerchants, 80, 125)

	// Size: average sales per month sold spans ~3 orders of magnitude.
	var monthly []float64
	var declining, growing []float64
	var nDecl, young, concentrated, broad int
	var repeatSum float64
	var withBuyers int
	for _, m := range ms {
		monthly = append(monthly, m.totalSales/m.monthsSold)
		switch m.trend {
		case "declining":
			nDecl++
			if m.prior90 > 0 {
				declining = append(declining, m.s90/m.prior90-1)
			}
		case "growing":
			if m.prior90 > 0 {
				growing = append(growing, m.s90/m.prior90-1)
			}
		}
		if m.tenureDays < 365 {
			young++
		}
		if m.buyers > 0 {
			withBuyers++
			repeatSum += float64(m.repeatBuyers) / float64(m.buyers)
		}
		if m.buyers >= 10 {
			broad++
			if m.topShare.Float64 >= 0.4 {
				concentrated++
			}
		}
	}
	p5, p95 := quantile(monthly, 0.05), quantile(monthly, 0.95)
	inRange(t, "p95/p5 of monthly sales", p95/p5, 100, math.Inf(1))
	inRange(t, "share of declining merchants", float64(nDecl)/shapeMerchants, 0.12, 0.26)
	if gd, gg := quantile(declining, 0.5), quantile(growing, 0.5); gd >= gg-0.1 {
		t.Errorf("median realised 90-day growth: declining %.3f, growing %.3f; want declining lower by > 0.1", gd, gg)
	}
	inRange(t, "share younger than a year", float64(young)/shapeMerchants, 0.15, 0.40)
	inRange(t, "mean repeat-buyer share (90d)", repeatSum/float64(withBuyers), 0.2, 0.8)
	// Among merchants with a real customer base (>= 10 buyers in 90 days), a
	// few depend on one big buyer: the anchor-buyer draw is ~7% of merchants.
	inRange(t, "share of merchants with >= 10 buyers whose top buyer has >= 40% of sales (90d)", float64(concentrated)/float64(broad), 0.02, 0.15)

	// Categories differ in ticket size.
	db := openDuck(t)
	var nCat int
	var ticketRatio float64
	err := db.QueryRow(fmt.Sprintf(`SELECT count(*), max(avg_ticket) / min(avg_ticket) FROM (
		SELECT m.category, avg(t.amount)::DOUBLE AS avg_ticket
		FROM read_parquet('%[1]s/transactions.parquet') t JOIN read_csv('%[1]s/merchants.csv', header=true) m USING (merchant_id)
		WHERE t.type = 'sale' GROUP BY m.category)`, dir)).Scan(&nCat, &ticketRatio)
	if err != nil {
		t.Fatal(err)
	}
	if nCat < 6 || ticketRatio < 5 {
		t.Errorf("%d categories, average ticket ratio %.1f: want >= 6 categories and a ratio >= 5", nCat, ticketRatio)
	}

	// Weekly and yearly seasonality. The category tables say restaurants sell
	// 1.45/0.75 ≈ 1.9× as much on a Saturday as on a Monday, wholesalers barely
	// trade on Sundays (0.1 of 6.8 weekly weight ≈ 1.5%), and garden shops sell
	// 1.45/0.7 ≈ 2.1× as much in May as in January; trends and noise blur these,
	// so the checks leave room.
	var satMon, wholesaleSun, mayJan float64
	err = db.QueryRow(fmt.Sprintf(`WITH s AS (
		SELECT m.category, t.ts FROM read_parquet('%[1]s/transactions.parquet') t
		JOIN read_csv('%[1]s/merchants.csv', header=true) m USING (merchant_id) WHERE t.type = 'sale')
		SELECT (count(*) FILTER (category = 'restaurant' AND dayofweek(ts) = 6)) / (count(*) FILTER (category = 'restaurant' AND dayofweek(ts) = 1)),
		       (count(*) FILTER (category = 'wholesale' AND dayofweek(ts) = 0)) / (count(*) FILTER (category = 'wholesale')),
		       (count(*) FILTER (category = 'home_garden' AND month(ts) = 5)) / (count(*) FILTER (category = 'home_garden' AND month(ts) = 1))
		FROM s`, dir)).Scan(&satMon, &wholesaleSun, &mayJan)
	if err != nil {
		t.Fatal(err)
	}
	inRange(t, "restaurant sales Saturday/Monday", satMon, 1.5, 2.4)
	inRange(t, "wholesale share of sales on Sunday", wholesaleSun, 0, 0.04)
	inRange(t, "home_garden sales May/January", mayJan, 1.4, 3.5)
}

// TestDefaultersBehaveDifferently: defaulters show more refunds, more decline,
// shorter tenure and longer silences in the history a model can see.
func TestDefaultersBehaveDifferently(t *testing.T) {
	dir, _ := shapeData(t)
	ms := loadStats(t, dir)
	type agg struct{ n, refundSum, refundN, decl, declN, young, dsls float64 }
	var g [2]agg
	for _, m := range ms {
		k := 0
		if m.bad {
			k = 1
		}
		a := &g[k]
		a.n++
		if m.s90 > 0 {
			a.refundSum += m.neg90 / m.s90
			a.refundN++
		}
		if m.prior90 > 0 {
			a.declN++
			if m.s90 < 0.7*m.prior90 {
				a.decl++
			}
		}
		if m.tenureDays < 365 {
			a.young++
		}
		a.dsls += float64(m.dsls)
	}
	good, bad := g[0], g[1]
	if bad.n < 100 {
		t.Fatalf("only %v defaulters", bad.n)
	}
	checks := []struct {
		what      string
		bad, good float64
		ratio     float64 // bad must be at least ratio × good
	}{
		{"mean refund rate (90d)", bad.refundSum / bad.refundN, good.refundSum / good.refundN, 1.3},
		{"share with sales down > 30% on the prior quarter", bad.decl / bad.declN, good.decl / good.declN, 1.5},
		{"share younger than a year", bad.young / bad.n, good.young / good.n, 1.3},
		{"mean days since last sale", bad.dsls / bad.n, good.dsls / good.n, 1.5},
	}
	for _, c := range checks {
		if c.bad < c.ratio*c.good {
			t.Errorf("%s: defaulters %.4f, others %.4f; want defaulters >= %.1f×", c.what, c.bad, c.good, c.ratio)
		} else {
			t.Logf("%s: defaulters %.4f, others %.4f", c.what, c.bad, c.good)
		}
	}
}

// TestObservedMatchesWrittenHistory re-derives each merchant's history from
// its seed and checks that the behaviour the true PD is computed from equals
// what DuckDB measures in the written file, and that this visible behaviour
// carries at least 95% of the oracle AUC.
func TestObservedMatchesWrittenHistory(t *testing.T) {
	dir, sum := shapeData(t)
	ms := loadStats(t, dir)
	cfg, err := Config{Merchants: shapeMerchants, Seed: shapeSeed}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	cal := newCalendar(cfg.AsOf, cfg.Months)
	s := newScratch()
	beh := make([]float64, len(ms))
	bad := make([]bool, len(ms))
	for i, m := range ms {
		if m.id != MerchantID(i) {
			t.Fatalf("row %d is %s", i, m.id)
		}
		r := s.merchantRand(cfg.Seed, i)
		p := drawProfile(r, cal)
		simulate(r, &p, cal, s)
		o := observe(s.events, cal.asOf, s)
		near := func(what string, a, b float64) {
			if math.Abs(a-b) > 1e-6*math.Max(1, math.Abs(b)) {
				t.Fatalf("%s %s: generator %v, file %v", m.id, what, a, b)
			}
		}
		near("sales_amount_90d", o.sales90, m.s90)
		near("tenure_days", float64(o.tenureDays), float64(m.tenureDays))
		near("days_since_last_sale", float64(o.daysSinceLastSale), float64(m.dsls))
		if m.s90 > 0 {
			near("refund_rate_90d", o.refundRate90, m.neg90/m.s90)
		}
		if m.prior90 > 0 {
			near("sales_growth_90d", o.growth90, m.s90/m.prior90-1)
		}
		if m.topShare.Valid {
			near("top_buyer_share_90d", o.topBuyerShare90, m.topShare.Float64)
		}
		near("true_pd", logistic(pdIntercept+behaviourScale*behaviourLogit(o)+hiddenLogitCoef*p.riskZ), m.pd)
		beh[i], bad[i] = behaviourLogit(o), m.bad
	}
	visible := AUC(beh, bad)
	t.Logf("AUC of the visible-behaviour logit %.4f, oracle %.4f, ratio %.4f", visible, sum.OracleAUC, visible/sum.OracleAUC)
	if visible < 0.95*sum.OracleAUC {
		t.Errorf("visible behaviour reaches AUC %.4f < 95%% of the oracle %.4f", visible, sum.OracleAUC)
	}
	if visible > 0.995*sum.OracleAUC {
		t.Errorf("visible behaviour reaches AUC %.4f, the oracle %.4f: the hidden risk should keep something back", visible, sum.OracleAUC)
	}
}

// TestBadInput: every user mistake is a *lend.Error naming the field, and
// nothing is left in the output directory.
func TestBadInput(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	ok := Config{Merchants: 10}
	tests := []struct {
		name  string
		cfg   Config
		out   string
		field string
	}{
		{"zero merchants", Config{Merchants: 0}, "", "merchants"},
		{"negative merchants", Config{Merchants: -1}, "", "merchants"},
		{"too many merchants", Config{Merchants: MaxMerchants + 1}, "", "merchants"},
		{"negative months", Config{Merchants: 10, Months: -1}, "", "months"},
		{"too many months", Config{Merchants: 10, Months: MaxMonths + 1}, "", "months"},
		{"as-of not midnight", Config{Merchants: 10, AsOf: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}, "", "as-of"},
		{"as-of absurd", Config{Merchants: 10, AsOf: time.Date(1200, 1, 1, 0, 0, 0, 0, time.UTC)}, "", "as-of"},
		{"unknown format", Config{Merchants: 10, Format: "xml"}, "", "format"},
		{"bad currency", Config{Merchants: 10, Currency: "usd"}, "", "currency"},
		{"out under a file", ok, filepath.Join(notADir, "sub"), "out"},
		{"no out", ok, "-", "out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out
			if out == "" {
				out = filepath.Join(t.TempDir(), "out")
			} else if out == "-" {
				out = ""
			}
			_, err := Generate(context.Background(), tc.cfg, out)
			var le *lend.Error
			if !errors.As(err, &le) || le.Code != lend.EINVALID {
				t.Fatalf("err = %v, want an EINVALID *lend.Error", err)
			}
			if tc.field != "" && le.Field != tc.field {
				t.Fatalf("field = %q, want %q (%v)", le.Field, tc.field, err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("message is not one line: %q", err)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Fatalf("output dir holds %d entries after a failure", len(entries))
			}
		})
	}
	for _, s := range []string{"2025-13-01", "yesterday", "2025-01-01T00:00:00Z"} {
		if _, err := ParseAsOf(s); lend.ErrorField(err) != "as-of" {
			t.Errorf("ParseAsOf(%q) = %v, want an as-of error", s, err)
		}
	}
}

// TestCancelledLeavesNothing: a cancelled run fails and leaves no file behind,
// not even over an earlier good run's files.
func TestCancelledLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	if _, err := Generate(context.Background(), Config{Merchants: 50, Seed: 1}, dir); err != nil {
		t.Fatal(err)
	}
	before := readAll(t, dir, TransactionsParquet, MerchantsFile, OutcomesFile)
	// Cancelled before it starts, and cancelled half-way (after the first block is written).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Generate(ctx, Config{Merchants: 5000, Seed: 2}, dir); err == nil {
		t.Fatal("a cancelled run succeeded")
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{Merchants: 5 * blockMerchants, Seed: 2, Progress: func(done, total int) { cancel() }}
	if _, err := Generate(ctx, cfg, dir); lend.ErrorCode(err) != lend.EINTERNAL || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("a run cancelled half-way returned %v, want a cancellation error", err)
	}
	after := readAll(t, dir, TransactionsParquet, MerchantsFile, OutcomesFile)
	for n := range before {
		if !bytes.Equal(before[n], after[n]) {
			t.Errorf("%s changed by a cancelled run", n)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("%d entries after a cancelled run, want the 3 earlier files", len(entries))
	}
}
