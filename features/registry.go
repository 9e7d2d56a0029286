// Package features turns merchant transaction histories (SPEC §2.1) into one
// point-in-time feature row per merchant (SPEC §2.2).
//
// Every feature is one registry entry: its name, description, unit, window and
// the SQL that computes it. Features are computed in two steps, both shared by
// the batch pipeline (Run) and the online path (ComputeRows):
//
//  1. preSQL: one pass over the validated transactions
//     (merchant_id, ts TIMESTAMP UTC, amount DECIMAL(18,6), type, buyer_id)
//     into a small pre-aggregate p, one row per merchant, 30-day bucket bk and
//     (for sales in W(90) with a buyer) buyer_id, carrying sale/refund/
//     chargeback sums and counts, first/last sale and a bit set of W(90) sale
//     days. It is the only step that reads every input row.
//  2. featureBody: each feature's Aggs are aggregates over p grouped by
//     merchant; BuyerAggs are aggregates over the per-(merchant, buyer) W(90)
//     relation b90 built from p; SQL is a scalar over those.
//
// Placeholders @as_of (a TIMESTAMP literal, midnight UTC) and @has_buyer
// (whether the input had a buyer_id column) are bound by bind. In batch, p is a
// temp table that also carries per-file row/reject totals (the row counts come
// from the same scan). Online (features/sqleval*.go), the same query text is
// run by an in-process interpreter over the merchant's cached pre-aggregate
// and new rows: one definition, two executors.
package features

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Agg is a named aggregate expression that features share. Two features that
// use the same name must use the same SQL (checked by a test).
type Agg struct {
	Name string
	SQL  string
}

// Feature is one registry entry.
type Feature struct {
	Name        string // output column name
	Description string // one sentence for a risk officer
	Unit        string // e.g. "major currency units", "count", "ratio", "days"
	Window      string // e.g. "90d", "12 x 30d buckets", "all history"
	// Aggs are aggregates over the pre-aggregate p (see preSQL), grouped by
	// merchant, over rows with bk >= 0 (ts < as_of).
	Aggs []Agg
	// BuyerAggs are aggregates over b90(merchant_id, buyer_id, n_sales, sale_amount):
	// one row per merchant and non-empty buyer with sales in W(90).
	BuyerAggs []Agg
	// Derived are named scalar expressions over aggregates (and earlier
	// derived values), each computed once per merchant in its own projection so
	// that long expressions are not repeated inside SQL.
	Derived []Agg
	// SQL is a scalar expression over the columns named by Aggs, BuyerAggs and
	// Derived (buyer aggregates are NULL for merchants without buyers in W(90)).
	SQL string
	// Type is the SQL output type: DOUBLE or BIGINT.
	Type string
}

// bucketCount is the number of 30-day buckets of the 12-month features.
const bucketCount = 12

// Pre-aggregate bucket indexes (column bk of p). bk = k−1 for B_k, k = 1..12
// (age = as_of − ts in (0, 360] days); bkTail holds ages in (360, 365] days
// so that W(365) = bk <= bkTail; bkOld is everything older;
// bkFuture marks rows at or after as_of (kept only for the row counts).
const (
	bkTail   = 12
	bkOld    = 13
	bkFuture = -1
)

// usPerDay is microseconds per day (DuckDB TIMESTAMPs are microseconds).
const usPerDay = 86400000000

// w is the filter "ts in W(n)" on the pre-aggregate. Windows are whole 30-day
// buckets, except 365 days, which ends at the tail bucket.
func w(n int) string {
	switch {
	case n == 365:
		return fmt.Sprintf("bk <= %d", bkTail)
	case n%30 == 0 && n/30 <= bucketCount:
		return fmt.Sprintf("bk <= %d", n/30-1)
	}
	panic(fmt.Sprintf("features: window %d days is not a whole number of 30-day buckets", n))
}

// sumIf is sum(col) over the rows where cond holds (NULL when none has a
// non-NULL col): the value of sum(col) FILTER (WHERE cond), written as a CASE
// because DuckDB executes a FILTER clause per aggregate at a fixed cost of
// ~0.1 ms per query, which dominates the one-merchant online path.
func sumIf(col, cond string) string {
	return fmt.Sprintf("sum(CASE WHEN %s THEN %s END)", cond, col)
}

func saleAmt(n int) Agg {
	return Agg{fmt.Sprintf("sale_amt_%d", n), sumIf("sale_amt", w(n))}
}

func saleCnt(n int) Agg {
	return Agg{fmt.Sprintf("sale_cnt_%d", n), "coalesce(" + sumIf("sale_n", w(n)) + ", 0)"}
}

// bucket k (1-based) is B_k = [as_of − 30k days, as_of − 30(k−1) days): NULL
// when it holds no sale (sale_amt is NULL in pre-aggregate rows without sales).
func bucket(k int) Agg {
	return Agg{fmt.Sprintf("bucket_%d", k), sumIf("sale_amt", fmt.Sprintf("bk = %d", k-1))}
}

var (
	aggFirstSale = Agg{"first_sale", "min(first_sale)"}
	aggLastSale  = Agg{"last_sale", "max(last_sale)"}
)

// preSQL is the one pass over the transactions: rows grouped by merchant,
// 30-day bucket (bk) and, for sales in W(90) with a buyer, buyer_id (buyer90),
// carrying the few sums every feature is computed from. Filtered aggregates
// over ~14 buckets per merchant replace ~30 filtered aggregates per input row,
// and the W(90) sale dates are kept as a 90-bit set (days_lo: days 0..63 back,
// days_hi: 64..89) so active days need no DISTINCT over (merchant, date).
//
// src has columns merchant_id, ts, amount, type, buyer_id; okExpr says which
// rows are valid (invalid rows keep only their count). With byFile, src also
// has file and the grouping adds per-(file, ok) totals (rows where
// merchant_id, bk and buyer90 are NULL and file is set): the row counts of a
// run come from the same scan as the features.
func preSQL(src, okExpr string, byFile bool) string {
	// age_us = as_of − ts in microseconds, computed once per row; validity
	// (okExpr, the whole validation CASE in batch) likewise, one layer below
	// its uses.
	// W(n) = [as_of − n days, as_of) holds ages in (0, n days], so bucket k
	// (1-based) holds ages in (30(k−1), 30k] days: bk = (age_us − 1) // 30 days.
	bk := fmt.Sprintf(`CASE WHEN NOT ok THEN NULL WHEN age_us <= 0 THEN %d WHEN age_us > %d THEN %d WHEN age_us > %d THEN %d ELSE (age_us - 1) // %d END`,
		bkFuture, 365*usPerDay, bkOld, 360*usPerDay, bkTail, int64(30)*usPerDay)
	w90Sale := "ok AND age_us > 0 AND age_us <= " + fmt.Sprint(90*usPerDay) + " AND type = 'sale'"
	fileCol, groupBy := "", "GROUP BY ok, merchant_id, bk, buyer90"
	if byFile {
		fileCol, groupBy = "file, ", "GROUP BY GROUPING SETS ((ok, merchant_id, bk, buyer90), (file, ok))"
	}
	return fmt.Sprintf(`SELECT %[1]sok, merchant_id, bk, buyer90,
  count(*) AS n,
  count(*) FILTER (WHERE st = 'sale') AS sale_n,
  sum(amount) FILTER (WHERE st = 'sale') AS sale_amt,
  sum(amount) FILTER (WHERE st IN ('refund', 'chargeback')) AS rc_amt,
  count(*) FILTER (WHERE st = 'chargeback') AS cb_n,
  min(ts) FILTER (WHERE st = 'sale') AS first_sale,
  max(ts) FILTER (WHERE st = 'sale') AS last_sale,
  bit_or(day_lo) AS days_lo,
  bit_or(day_hi) AS days_hi
 FROM (SELECT %[1]sok, CASE WHEN ok THEN merchant_id END AS merchant_id, CASE WHEN ok THEN type END AS st,
   CASE WHEN ok THEN ts END AS ts, CASE WHEN ok THEN amount END AS amount, %[2]s AS bk,
   CASE WHEN %[3]s AND buyer_id <> '' THEN buyer_id END AS buyer90,
   CASE WHEN %[3]s AND (age_us - 1) // %[4]d < 64 THEN 1::UBIGINT << ((age_us - 1) // %[4]d) END AS day_lo,
   CASE WHEN %[3]s AND (age_us - 1) // %[4]d >= 64 THEN 1::UBIGINT << ((age_us - 1) // %[4]d - 64) END AS day_hi
  FROM (SELECT %[1]sok, merchant_id, ts, amount, type, buyer_id, epoch_us(@as_of) - epoch_us(ts) AS age_us
   FROM (SELECT %[1]s(%[5]s) AS ok, merchant_id, ts, amount, type, buyer_id FROM %[6]s)))
 %[7]s`, fileCol, bk, w90Sale, int64(usPerDay), okExpr, src, groupBy)
}

// tenureExpr is whole days from the first sale to as_of (floor; ts < as_of so
// the difference is positive and integer division floors).
const tenureExpr = "((epoch_us(@as_of) - epoch_us(first_sale)) // " + "86400000000" + ")"

// kExpr is K = min(12, floor((as_of − first sale)/30 days) + 1); floor of whole
// days / 30 equals floor of exact days / 30.
const kExpr = "least(12, " + tenureExpr + " // 30 + 1)"

func bucketAggs() []Agg {
	aggs := []Agg{aggFirstSale}
	for k := 1; k <= bucketCount; k++ {
		aggs = append(aggs, bucket(k))
	}
	return aggs
}

// bucketList is the list [y_1, …, y_K]: bucket k's sale amount as DOUBLE (0
// when the bucket has no sale) for the last K buckets. One list and list
// functions replace ~70 scalar expressions (12 per sum) that DuckDB executes
// at a fixed cost per node; sums run in k order, as Σ_{k=1..K} written out.
func bucketList() string {
	parts := make([]string, bucketCount)
	for k := 1; k <= bucketCount; k++ {
		parts[k-1] = fmt.Sprintf("coalesce(bucket_%d, 0)::DOUBLE", k)
	}
	return "list_value(" + strings.Join(parts, ", ") + ")[1:k_buckets]"
}

// bucketDerived are K, the list of bucket amounts y_1..y_K and their mean.
func bucketDerived() []Agg {
	return []Agg{
		{"k_buckets", kExpr},
		{"bucket_ys", bucketList()},
		{"bucket_mean", "(list_sum(bucket_ys) / k_buckets)"},
	}
}

// cvExpr is the population standard deviation / mean over B_1..B_K.
func cvExpr() string {
	variance := "(list_sum(list_transform(bucket_ys, y -> (y - bucket_mean) ^ 2)) / k_buckets)"
	return fmt.Sprintf("CASE WHEN k_buckets >= 3 AND bucket_mean > 0 THEN sqrt(%s) / bucket_mean END", variance)
}

// trendExpr is the least-squares slope of y_k against t = −k over k = 1..K,
// divided by the mean. With t̄ = −(K+1)/2, Σ(t−t̄)² = K(K²−1)/12 and
// Σ(t−t̄)(y−ȳ) = Σ((K+1)/2 − k)·y_k (k is the 1-based list index).
func trendExpr() string {
	cov := "list_sum(list_transform(bucket_ys, (y, k) -> ((k_buckets + 1) / 2.0 - k) * y))"
	return fmt.Sprintf("CASE WHEN k_buckets >= 3 AND bucket_mean > 0 THEN (%s / (k_buckets * (k_buckets * k_buckets - 1) / 12.0)) / bucket_mean END", cov)
}

func monthsActiveExpr() string {
	parts := make([]string, bucketCount)
	for k := 1; k <= bucketCount; k++ {
		parts[k-1] = fmt.Sprintf("(bucket_%d IS NOT NULL)::BIGINT", k)
	}
	return "(" + strings.Join(parts, " + ") + ")"
}

var (
	buyerCount  = Agg{"buyers", "count(*)"}
	buyerRepeat = Agg{"repeat_buyers", "count(CASE WHEN n_sales >= 2 THEN 1 END)"}
	buyerTop    = Agg{"top_buyer_amt", "max(sale_amount)"}
	buyerAmt    = Agg{"buyer_sale_amt", "sum(sale_amount)"}
)

func amountFeature(n int) Feature {
	a := saleAmt(n)
	return Feature{
		Name:        fmt.Sprintf("sales_amount_%dd", n),
		Description: fmt.Sprintf("Sum of sale amounts in the %d days before as_of; 0 if none.", n),
		Unit:        "major currency units", Window: fmt.Sprintf("%dd", n), Type: "DOUBLE",
		Aggs: []Agg{a},
		SQL:  fmt.Sprintf("coalesce(%s, 0)::DOUBLE", a.Name),
	}
}

func countFeature(n int) Feature {
	a := saleCnt(n)
	return Feature{
		Name:        fmt.Sprintf("sales_count_%dd", n),
		Description: fmt.Sprintf("Number of sales in the %d days before as_of.", n),
		Unit:        "count", Window: fmt.Sprintf("%dd", n), Type: "BIGINT",
		Aggs: []Agg{a},
		SQL:  a.Name,
	}
}

// registry is the ordered list of features; output columns follow this order.
var registry = []Feature{
	amountFeature(30), amountFeature(90), amountFeature(180), amountFeature(365),
	countFeature(30), countFeature(90), countFeature(365),
	{
		Name: "avg_ticket_90d", Description: "Average sale amount in W(90); NULL if no sales.",
		Unit: "major currency units", Window: "90d", Type: "DOUBLE",
		Aggs: []Agg{saleAmt(90), saleCnt(90)},
		SQL:  "CASE WHEN sale_cnt_90 > 0 THEN sale_amt_90::DOUBLE / sale_cnt_90 END",
	},
	{
		Name: "active_days_90d", Description: "Distinct UTC calendar dates in W(90) with at least one sale.",
		Unit: "days", Window: "90d", Type: "BIGINT",
		Aggs: []Agg{{"active_days_90", "(coalesce(bit_count(bit_or(days_lo)), 0) + coalesce(bit_count(bit_or(days_hi)), 0))"}},
		SQL:  "active_days_90",
	},
	{
		Name: "refund_rate_90d", Description: "(Refund + chargeback amounts in W(90)) / sales_amount_90d; NULL if no sales amount.",
		Unit: "ratio", Window: "90d", Type: "DOUBLE",
		Aggs: []Agg{saleAmt(90), {"refund_amt_90", sumIf("rc_amt", w(90))}},
		SQL:  "CASE WHEN coalesce(sale_amt_90, 0) > 0 THEN coalesce(refund_amt_90, 0)::DOUBLE / sale_amt_90::DOUBLE END",
	},
	{
		Name: "chargeback_count_180d", Description: "Number of chargebacks in W(180).",
		Unit: "count", Window: "180d", Type: "BIGINT",
		Aggs: []Agg{{"cb_cnt_180", "coalesce(" + sumIf("cb_n", w(180)) + ", 0)"}},
		SQL:  "cb_cnt_180",
	},
	{
		Name: "unique_buyers_90d", Description: "Distinct non-empty buyer_id over sales in W(90); NULL when the input has no buyer_id column.",
		Unit: "count", Window: "90d", Type: "BIGINT",
		BuyerAggs: []Agg{buyerCount},
		SQL:       "CASE WHEN @has_buyer THEN coalesce(buyers, 0) END",
	},
	{
		Name: "repeat_buyer_share_90d", Description: "Share of W(90) buyers with 2 or more sales in W(90); NULL if no buyers.",
		Unit: "ratio", Window: "90d", Type: "DOUBLE",
		BuyerAggs: []Agg{buyerCount, buyerRepeat},
		SQL:       "CASE WHEN buyers > 0 THEN repeat_buyers::DOUBLE / buyers END",
	},
	{
		Name: "top_buyer_share_90d", Description: "Largest single buyer's sale amount in W(90) / sale amounts with a buyer_id in W(90); NULL if none.",
		Unit: "ratio", Window: "90d", Type: "DOUBLE",
		BuyerAggs: []Agg{buyerTop, buyerAmt},
		SQL:       "CASE WHEN buyer_sale_amt > 0 THEN top_buyer_amt::DOUBLE / buyer_sale_amt::DOUBLE END",
	},
	{
		Name: "sales_growth_90d", Description: "sales_amount_90d / (sale amounts in [as_of−180d, as_of−90d)) − 1; NULL if that prior amount is 0.",
		Unit: "ratio", Window: "180d", Type: "DOUBLE",
		Aggs: []Agg{saleAmt(90), {"sale_amt_prev_90", sumIf("sale_amt", "bk BETWEEN 3 AND 5")}},
		SQL:  "CASE WHEN coalesce(sale_amt_prev_90, 0) > 0 THEN coalesce(sale_amt_90, 0)::DOUBLE / sale_amt_prev_90::DOUBLE - 1 END",
	},
	{
		Name: "tenure_days", Description: "Whole days from the merchant's first sale to as_of (floor).",
		Unit: "days", Window: "all history", Type: "BIGINT",
		Aggs: []Agg{aggFirstSale},
		SQL:  tenureExpr,
	},
	{
		Name: "days_since_last_sale", Description: "Whole days from the last sale to as_of (floor).",
		Unit: "days", Window: "all history", Type: "BIGINT",
		Aggs: []Agg{aggLastSale},
		SQL:  "((epoch_us(@as_of) - epoch_us(last_sale)) // 86400000000)",
	},
	{
		Name: "months_active_12m", Description: "How many of the 12 30-day buckets before as_of hold at least one sale.",
		Unit: "count", Window: "12 x 30d buckets", Type: "BIGINT",
		Aggs: bucketAggs()[1:],
		SQL:  monthsActiveExpr(),
	},
	{
		Name: "sales_cv_12m", Description: "Coefficient of variation (population sd / mean) of 30-day bucket sale amounts over the last K = min(12, tenure/30+1) buckets; NULL if K < 3 or the mean is 0.",
		Unit: "ratio", Window: "12 x 30d buckets", Type: "DOUBLE",
		Aggs: bucketAggs(), Derived: bucketDerived(),
		SQL: cvExpr(),
	},
	{
		Name: "sales_trend_12m", Description: "Least-squares slope of 30-day bucket sale amounts against time over the same K buckets, divided by the mean bucket (positive = growing); NULL if K < 3 or the mean is 0.",
		Unit: "ratio per 30 days", Window: "12 x 30d buckets", Type: "DOUBLE",
		Aggs: bucketAggs(), Derived: bucketDerived(),
		SQL: trendExpr(),
	},
}

// Registry returns the feature definitions in output column order.
func Registry() []Feature {
	out := make([]Feature, len(registry))
	copy(out, registry)
	return out
}

// Names returns the feature names in output column order.
func Names() []string {
	names := make([]string, len(registry))
	for i, f := range registry {
		names[i] = f.Name
	}
	return names
}

// collect returns the distinct aggregates of a list in first-use order, or an
// error when one name has two definitions.
func collect(fs []Feature, pick func(Feature) []Agg) ([]Agg, error) {
	seen := map[string]string{}
	var out []Agg
	for _, f := range fs {
		for _, a := range pick(f) {
			if prev, ok := seen[a.Name]; ok {
				if prev != a.SQL {
					return nil, fmt.Errorf("aggregate %s has two definitions (feature %s)", a.Name, f.Name)
				}
				continue
			}
			seen[a.Name] = a.SQL
			out = append(out, a)
		}
	}
	return out, nil
}

// asOfLiteral renders as_of as a DuckDB TIMESTAMP literal. as_of is a
// validated date, so the literal cannot carry SQL.
func asOfLiteral(asOf time.Time) string {
	return "TIMESTAMP '" + asOf.UTC().Format("2006-01-02 15:04:05") + "'"
}

// asOfParam, given to a query builder as the as-of date, leaves @as_of in
// the text: sqleval binds it at run time (sqlPlan.runWith), so the online
// path plans each query once rather than once a day. DuckDB gets the
// literal (a parameter would make it plan on every execution). It is not a
// midnight, so no caller's as-of (checked to be one) can be taken for it.
var asOfParam = time.Time{}.Add(time.Nanosecond)

// bind substitutes the placeholders of a registry SQL fragment (@as_of
// stays when asOf is asOfParam).
func bind(sqlText string, asOf time.Time, hasBuyer bool) string {
	hb := "FALSE"
	if hasBuyer {
		hb = "TRUE"
	}
	if asOf.Equal(asOfParam) {
		return strings.ReplaceAll(sqlText, "@has_buyer", hb)
	}
	return strings.NewReplacer("@as_of", asOfLiteral(asOf), "@has_buyer", hb).Replace(sqlText)
}

// Query returns the SELECT that computes every registry feature over the
// relation named rel (shaped like tx: valid rows only) as of asOf: one row per
// merchant with at least one sale before asOf, columns merchant_id, as_of, then
// the features in registry order, sorted by merchant_id. It pre-aggregates rel
// with preSQL and runs FeatureQuery's body over that: the batch pipeline runs
// the same two parts, with the pre-aggregate stored as a table.
func Query(rel string, asOf time.Time, hasBuyer bool) (string, error) {
	return buildQuery(registry, rel, asOf, hasBuyer)
}

func buildQuery(fs []Feature, rel string, asOf time.Time, hasBuyer bool) (string, error) {
	return buildQueryShape(fs, rel, asOf, hasBuyer, false)
}

// singleMerchantQuery is Query for a relation that holds one merchant only
// (the caller checks): the same features, aggregated without GROUP BY, which
// DuckDB executes at a smaller fixed cost. Over several merchants it would
// mix them.
func singleMerchantQuery(rel string, asOf time.Time, hasBuyer bool) (string, error) {
	return buildQueryShape(registry, rel, asOf, hasBuyer, true)
}

func buildQueryShape(fs []Feature, rel string, asOf time.Time, hasBuyer, single bool) (string, error) {
	body, err := featureBody(fs, "p", single)
	if err != nil {
		return "", err
	}
	return bind("WITH p AS ("+preSQL(rel, "TRUE", false)+"),\n"+body, asOf, hasBuyer), nil
}

// featureQueryFromPre returns the feature SELECT over pre, a stored
// pre-aggregate (preSQL with byFile).
func featureQueryFromPre(pre string, asOf time.Time, hasBuyer bool) (string, error) {
	body, err := featureBody(registry, pre, false)
	if err != nil {
		return "", err
	}
	return bind("WITH "+body, asOf, hasBuyer), nil
}

// preOnlyQuery returns the pre-aggregate p (preSQL, every row valid) of rel
// as of asOf: what a caller keeps to compute later features incrementally
// (Online.ValidateAndComputeFrom).
func preOnlyQuery(rel string, asOf time.Time) string {
	return bind(preSQL(rel, "TRUE", false), asOf, false)
}

// featureQueryOverPre returns the feature SELECT over pre, a stored
// pre-aggregate shaped like preSQL's output without file (rows of several
// pre-aggregates may repeat a group key: every aggregate of featureBody over
// p is a sum, min, max or bit_or, or runs over b90, which regroups p by
// buyer). With single, pre holds one merchant.
func featureQueryOverPre(pre string, asOf time.Time, hasBuyer, single bool) (string, error) {
	body, err := featureBody(registry, pre, single)
	if err != nil {
		return "", err
	}
	return bind("WITH "+body, asOf, hasBuyer), nil
}

// featureQueryOverPreAnd is featureQueryOverPre over the union of pre and
// the pre-aggregate of rel (valid rows shaped like tx): rows seen earlier
// come aggregated, new rows are aggregated by preSQL in the same query.
func featureQueryOverPreAnd(pre, rel string, asOf time.Time, hasBuyer, single bool) (string, error) {
	body, err := featureBody(registry, "p", single)
	if err != nil {
		return "", err
	}
	return bind("WITH p AS (SELECT * FROM "+pre+" UNION ALL "+preSQL(rel, "TRUE", false)+"),\n"+body, asOf, hasBuyer), nil
}

// featureBody is the common tail of the feature query: CTEs (without the
// leading WITH) over the pre-aggregate named pre, then the final SELECT. With
// single, pre holds one merchant and the aggregates run without GROUP BY
// (same values, no merchant grouping or join key).
func featureBody(fs []Feature, pre string, single bool) (string, error) {
	aggs, err := collect(fs, func(f Feature) []Agg { return f.Aggs })
	if err != nil {
		return "", err
	}
	baggs, err := collect(fs, func(f Feature) []Agg { return f.BuyerAggs })
	if err != nil {
		return "", err
	}
	derived, err := collect(fs, func(f Feature) []Agg { return f.Derived })
	if err != nil {
		return "", err
	}
	key, groupBy, having, join := "merchant_id", " GROUP BY merchant_id", "", " LEFT JOIN b ON b.merchant_id = m.merchant_id"
	if single {
		// No group: b is one row, or none when there is no buyer (so its
		// aggregates are NULL as in the grouped LEFT JOIN).
		key, groupBy, having, join = "min(merchant_id) AS merchant_id", "", " HAVING count(*) > 0", " LEFT JOIN b ON TRUE"
	}
	var b strings.Builder
	b.WriteString("m AS (SELECT " + key)
	for _, a := range aggs {
		fmt.Fprintf(&b, ",\n  %s AS %s", a.SQL, a.Name)
	}
	// Valid rows before as_of only; a merchant appears only with at least one
	// sale (first_sale is its earliest sale, NULL without one).
	fmt.Fprintf(&b, "\n FROM %s WHERE ok AND bk >= 0%s HAVING min(first_sale) IS NOT NULL)", pre, groupBy)
	if len(baggs) > 0 {
		fmt.Fprintf(&b, ",\nb90 AS (SELECT merchant_id, buyer90 AS buyer_id, sum(sale_n) AS n_sales, sum(sale_amt) AS sale_amount FROM %s"+
			" WHERE ok AND buyer90 IS NOT NULL GROUP BY merchant_id, buyer90),\n", pre)
		b.WriteString("b AS (SELECT " + key)
		for _, a := range baggs {
			fmt.Fprintf(&b, ", %s AS %s", a.SQL, a.Name)
		}
		b.WriteString(" FROM b90" + groupBy + having + ")")
	}
	// Derived values share a projection layer unless one uses a value of the
	// layer being built: each layer is a fixed execution cost in DuckDB.
	prev := "m"
	for i, layer := range derivedLayers(derived) {
		fmt.Fprintf(&b, ",\nd%d AS (SELECT *", i)
		for _, d := range layer {
			fmt.Fprintf(&b, ", %s AS %s", d.SQL, d.Name)
		}
		fmt.Fprintf(&b, " FROM %s)", prev)
		prev = fmt.Sprintf("d%d", i)
	}
	b.WriteString("\nSELECT m.merchant_id, @as_of::DATE AS as_of")
	for _, f := range fs {
		fmt.Fprintf(&b, ",\n  CAST(%s AS %s) AS %s", f.SQL, f.Type, f.Name)
	}
	fmt.Fprintf(&b, "\nFROM %s AS m", prev)
	if len(baggs) > 0 {
		b.WriteString(join)
	}
	if !single {
		b.WriteString("\nORDER BY m.merchant_id")
	}
	return b.String(), nil
}

// derivedLayers splits derived values, in order, into projection layers: a
// value starts a new layer when its SQL names a value of the current layer.
func derivedLayers(derived []Agg) [][]Agg {
	var layers [][]Agg
	var cur []Agg
	for _, d := range derived {
		for _, c := range cur {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(c.Name) + `\b`).MatchString(d.SQL) {
				layers, cur = append(layers, cur), nil
				break
			}
		}
		cur = append(cur, d)
	}
	if len(cur) > 0 {
		layers = append(layers, cur)
	}
	return layers
}

// FormatList renders the registry as a table for `lend features --list`.
func FormatList() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %-8s %-22s %-18s %s\n", "NAME", "TYPE", "UNIT", "WINDOW", "DESCRIPTION")
	for _, f := range registry {
		fmt.Fprintf(&b, "%-24s %-8s %-22s %-18s %s\n", f.Name, f.Type, f.Unit, f.Window, f.Description)
	}
	return b.String()
}
