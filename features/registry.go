// Package features turns merchant transaction histories (SPEC §2.1) into one
// point-in-time feature row per merchant (SPEC §2.2).
//
// Every feature is one registry entry: its name, description, unit, window and
// the SQL that computes it. The SQL is written against one relation,
//
//	tx(merchant_id VARCHAR, ts TIMESTAMP /* UTC */, amount DECIMAL(18,6), type VARCHAR, buyer_id VARCHAR /* NULL if none */)
//
// and the placeholders @as_of (a TIMESTAMP literal, midnight UTC) and
// @has_buyer (whether the input had a buyer_id column). The same query text is
// run by two execution paths: the batch pipeline (Run), where tx is a validated
// view over whole CSV/Parquet files, and the online path (ComputeRows), where tx
// holds one merchant's stored rows. One definition, two execution paths.
//
// A feature's SQL is split in two parts so the whole registry compiles to a
// single pass over the data: Aggs are aggregate expressions over tx grouped by
// merchant (filtered aggregates, shared by name between features), and SQL is a
// scalar expression over those aggregates. Buyer features read per-merchant
// aggregates of a per-(merchant, buyer) relation, declared as BuyerAggs.
package features

import (
	"fmt"
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
	// Aggs are aggregates over tx (one row per merchant, rows with ts < as_of).
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

// w is the filter condition "ts in W(n)" = [as_of − n days, as_of). The upper
// bound holds for every tx row already (the pipeline filters ts < as_of once).
func w(n int) string { return fmt.Sprintf("ts >= @as_of - INTERVAL %d DAY", n) }

// sale is the filter for sales.
const sale = "type = 'sale'"

func saleAmt(n int) Agg {
	return Agg{fmt.Sprintf("sale_amt_%d", n), fmt.Sprintf("sum(amount) FILTER (WHERE %s AND %s)", sale, w(n))}
}

func saleCnt(n int) Agg {
	return Agg{fmt.Sprintf("sale_cnt_%d", n), fmt.Sprintf("count(*) FILTER (WHERE %s AND %s)", sale, w(n))}
}

// bucket k (1-based) is B_k = [as_of − 30k days, as_of − 30(k−1) days).
func bucket(k int) Agg {
	return Agg{fmt.Sprintf("bucket_%d", k), fmt.Sprintf(
		"sum(amount) FILTER (WHERE %s AND ts >= @as_of - INTERVAL %d DAY AND ts < @as_of - INTERVAL %d DAY)",
		sale, 30*k, 30*(k-1))}
}

var (
	aggFirstSale = Agg{"first_sale", "min(ts) FILTER (WHERE " + sale + ")"}
	aggLastSale  = Agg{"last_sale", "max(ts) FILTER (WHERE " + sale + ")"}
)

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

// y(k) is bucket k's sale amount as DOUBLE, 0 when the bucket has no sale.
func y(k int) string { return fmt.Sprintf("coalesce(bucket_%d, 0)::DOUBLE", k) }

// sumOverK is Σ_{k=1..K} term(k), with buckets beyond K contributing 0.
func sumOverK(term func(k int) string) string {
	parts := make([]string, bucketCount)
	for k := 1; k <= bucketCount; k++ {
		parts[k-1] = fmt.Sprintf("(CASE WHEN %d <= k_buckets THEN %s ELSE 0 END)", k, term(k))
	}
	return "(" + strings.Join(parts, " + ") + ")"
}

// bucketDerived are K and the mean bucket amount over B_1..B_K.
func bucketDerived() []Agg {
	return []Agg{
		{"k_buckets", kExpr},
		{"bucket_mean", "(" + sumOverK(y) + " / k_buckets)"},
	}
}

// cvExpr is the population standard deviation / mean over B_1..B_K.
func cvExpr() string {
	variance := "(" + sumOverK(func(k int) string { return fmt.Sprintf("(%s - bucket_mean) ^ 2", y(k)) }) + " / k_buckets)"
	return fmt.Sprintf("CASE WHEN k_buckets >= 3 AND bucket_mean > 0 THEN sqrt(%s) / bucket_mean END", variance)
}

// trendExpr is the least-squares slope of y_k against t = −k over k = 1..K,
// divided by the mean. With t̄ = −(K+1)/2, Σ(t−t̄)² = K(K²−1)/12 and
// Σ(t−t̄)(y−ȳ) = Σ((K+1)/2 − k)·y_k.
func trendExpr() string {
	cov := sumOverK(func(k int) string { return fmt.Sprintf("((k_buckets + 1) / 2.0 - %d) * %s", k, y(k)) })
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
	buyerRepeat = Agg{"repeat_buyers", "count(*) FILTER (WHERE n_sales >= 2)"}
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
		Aggs: []Agg{{"active_days_90", "count(DISTINCT ts::DATE) FILTER (WHERE " + sale + " AND " + w(90) + ")"}},
		SQL:  "active_days_90",
	},
	{
		Name: "refund_rate_90d", Description: "(Refund + chargeback amounts in W(90)) / sales_amount_90d; NULL if no sales amount.",
		Unit: "ratio", Window: "90d", Type: "DOUBLE",
		Aggs: []Agg{saleAmt(90), {"refund_amt_90", "sum(amount) FILTER (WHERE type IN ('refund', 'chargeback') AND " + w(90) + ")"}},
		SQL:  "CASE WHEN coalesce(sale_amt_90, 0) > 0 THEN coalesce(refund_amt_90, 0)::DOUBLE / sale_amt_90::DOUBLE END",
	},
	{
		Name: "chargeback_count_180d", Description: "Number of chargebacks in W(180).",
		Unit: "count", Window: "180d", Type: "BIGINT",
		Aggs: []Agg{{"cb_cnt_180", "count(*) FILTER (WHERE type = 'chargeback' AND " + w(180) + ")"}},
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
		Aggs: []Agg{saleAmt(90), {"sale_amt_prev_90", "sum(amount) FILTER (WHERE " + sale + " AND " + w(180) + " AND ts < @as_of - INTERVAL 90 DAY)"}},
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

// bind substitutes the placeholders of a registry SQL fragment.
func bind(sqlText string, asOf time.Time, hasBuyer bool) string {
	hb := "FALSE"
	if hasBuyer {
		hb = "TRUE"
	}
	return strings.NewReplacer("@as_of", asOfLiteral(asOf), "@has_buyer", hb).Replace(sqlText)
}

// Query returns the SELECT that computes every registry feature over the
// relation named rel (shaped like tx) as of asOf: one row per merchant with at
// least one sale before asOf, columns merchant_id, as_of, then the features in
// registry order, sorted by merchant_id.
func Query(rel string, asOf time.Time, hasBuyer bool) (string, error) {
	return buildQuery(registry, rel, asOf, hasBuyer)
}

func buildQuery(fs []Feature, rel string, asOf time.Time, hasBuyer bool) (string, error) {
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
	var b strings.Builder
	fmt.Fprintf(&b, "WITH t AS (SELECT merchant_id, ts, amount, type, buyer_id FROM %s WHERE ts < @as_of),\n", rel)
	b.WriteString("m AS (SELECT merchant_id")
	for _, a := range aggs {
		fmt.Fprintf(&b, ",\n  %s AS %s", a.SQL, a.Name)
	}
	// A merchant appears only with at least one sale before as_of.
	b.WriteString("\n FROM t GROUP BY merchant_id HAVING count(*) FILTER (WHERE " + sale + ") > 0)")
	if len(baggs) > 0 {
		b.WriteString(",\nb90 AS (SELECT merchant_id, buyer_id, count(*) AS n_sales, sum(amount) AS sale_amount FROM t WHERE " +
			sale + " AND buyer_id IS NOT NULL AND buyer_id <> '' AND " + w(90) + " GROUP BY merchant_id, buyer_id),\n")
		b.WriteString("b AS (SELECT merchant_id")
		for _, a := range baggs {
			fmt.Fprintf(&b, ", %s AS %s", a.SQL, a.Name)
		}
		b.WriteString(" FROM b90 GROUP BY merchant_id)")
	}
	// Each derived value gets its own projection layer, so later ones can use earlier ones.
	prev := "m"
	for i, d := range derived {
		fmt.Fprintf(&b, ",\nd%d AS (SELECT *, %s AS %s FROM %s)", i, d.SQL, d.Name, prev)
		prev = fmt.Sprintf("d%d", i)
	}
	b.WriteString("\nSELECT m.merchant_id, @as_of::DATE AS as_of")
	for _, f := range fs {
		fmt.Fprintf(&b, ",\n  CAST(%s AS %s) AS %s", f.SQL, f.Type, f.Name)
	}
	fmt.Fprintf(&b, "\nFROM %s AS m", prev)
	if len(baggs) > 0 {
		b.WriteString(" LEFT JOIN b ON b.merchant_id = m.merchant_id")
	}
	b.WriteString("\nORDER BY m.merchant_id")
	return bind(b.String(), asOf, hasBuyer), nil
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
