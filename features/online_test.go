package features

import (
	"context"
	"database/sql"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/testutil"
	"github.com/lendhq/lend/synth"
)

// TestOnlineParityOlist: the online fast path (Online.Compute over one
// merchant's rows) equals the batch pipeline for every feature of every
// Olist merchant.
func TestOnlineParityOlist(t *testing.T) {
	path := testutil.SharedData(t, "olist/transactions.csv.gz")
	asOf := time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC) // mid-history: windows are partly filled
	checkParity(t, asOf, path, false)
}

// TestOnlineParitySynth: the same over generated merchants (synth, 18 months
// of history, as-of inside the history and at its end), through both online
// entry points: the service's Online and the one-shot ComputeRows.
func TestOnlineParitySynth(t *testing.T) {
	dir := t.TempDir()
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := synth.Generate(context.Background(), synth.Config{Merchants: 40, Months: 18, AsOf: end, Seed: 7, Format: synth.FormatCSV, Workers: 1}, dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "transactions.csv.gz")
	for _, asOf := range []time.Time{end, end.AddDate(0, -7, -3)} {
		checkParity(t, asOf, path, true)
	}
}

// checkParity runs the batch pipeline over path and the online path over each
// merchant's rows of the same file, and requires the same merchants and every
// feature exactly equal (NULL = NULL). withComputeRows also checks ComputeRows.
func checkParity(t *testing.T, asOf time.Time, path string, withComputeRows bool) {
	t.Helper()
	_, batch := run(t, asOf, 0, path)
	byMerchant := map[string][]Tx{}
	for _, tx := range readTx(t, path) {
		byMerchant[tx.MerchantID] = append(byMerchant[tx.MerchantID], tx)
	}
	if len(batch) < 10 {
		t.Fatalf("only %d batch rows: the comparison would prove little", len(batch))
	}
	db := testDB(t)
	o, err := OpenOnline(context.Background(), "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	inBatch := map[string]bool{}
	for _, b := range batch {
		inBatch[b.MerchantID] = true
		got, ok, err := o.Compute(context.Background(), asOf, true, byMerchant[b.MerchantID])
		if err != nil || !ok {
			t.Fatalf("%s: ok=%v err=%v", b.MerchantID, ok, err)
		}
		compareRow(t, "online", b, got)
		if withComputeRows {
			// The service's calls: the history (the first two thirds) was
			// validated when it arrived and is kept parsed; a new batch (the
			// last third) is validated and joins it.
			rows := byMerchant[b.MerchantID]
			cut := len(rows) * 2 / 3
			hist := validRows(t, o, rows[:cut])
			parsed, bad, got, ok, err := o.ValidateAndCompute(context.Background(), asOf, hist, rows[cut:])
			if err != nil || bad != nil || !ok || len(parsed) != len(rows)-cut {
				t.Fatalf("%s: ValidateAndCompute parsed %d bad %v ok %v err %v", b.MerchantID, len(parsed), bad, ok, err)
			}
			compareRow(t, "ValidateAndCompute", b, got)
			cr, err := ComputeRows(context.Background(), db, asOf, true, rows)
			if err != nil || len(cr) != 1 {
				t.Fatalf("%s: ComputeRows gave %d rows, %v", b.MerchantID, len(cr), err)
			}
			compareRow(t, "ComputeRows", b, cr[0])
		}
	}
	// A merchant the batch leaves out (no sale before as_of) has no online row either.
	for id, rows := range byMerchant {
		if inBatch[id] {
			continue
		}
		if _, ok, err := o.Compute(context.Background(), asOf, true, rows); err != nil || ok {
			t.Errorf("%s: not in the batch output but online ok=%v err=%v", id, ok, err)
		}
	}
}

// validRows validates rows as the service does on arrival and keeps them parsed.
func validRows(t testing.TB, o *Online, rows []Tx) []ValidRow {
	t.Helper()
	parsed, bad, err := o.Validate(context.Background(), rows)
	if err != nil || bad != nil {
		t.Fatalf("history: %v %v", bad, err)
	}
	out := make([]ValidRow, len(rows))
	for i, r := range rows {
		out[i] = ValidRow{MerchantID: r.MerchantID, TS: parsed[i].TS, AmountMicro: parsed[i].AmountMicro, Type: r.Type, BuyerID: r.BuyerID}
	}
	return out
}

func compareRow(t *testing.T, path string, b, got Row) {
	t.Helper()
	if got.MerchantID != b.MerchantID || !got.AsOf.Equal(b.AsOf) {
		t.Fatalf("%s: %s row for %s as of %v, batch %s as of %v", path, path, got.MerchantID, got.AsOf, b.MerchantID, b.AsOf)
	}
	for i, name := range Names() {
		if !exactlyEqual(got.Values[i], b.Values[i]) {
			t.Errorf("%s %s: %s %s batch %s", b.MerchantID, name, path, fmtVal(got.Values[i]), fmtVal(b.Values[i]))
		}
	}
}

// TestOnlineValidateReportsEveryBadRow: the batch validation SQL, row by row,
// with the index and field of each bad row and nothing for a good batch.
func TestOnlineValidateReportsEveryBadRow(t *testing.T) {
	o, err := OpenOnline(context.Background(), "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	ok, bad, err := o.Validate(context.Background(), []Tx{
		{MerchantID: "m", TS: "2024-01-01T10:00:00+02:00", Amount: "12.345", Type: "sale"},
		{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "-1", Type: "sale"},
		{MerchantID: "m", TS: "2024-02-30 10:00:00", Amount: "1", Type: "sale"},
		{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "1", Type: "Sale"},
	})
	if err != nil || ok != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	want := []RowError{{1, "amount", "must be > 0"}, {2, "ts", "not RFC 3339 or YYYY-MM-DD HH:MM:SS[.fff]"}, {3, "type", "must be sale, refund or chargeback"}}
	if len(bad) != len(want) {
		t.Fatalf("bad = %+v", bad)
	}
	for i := range want {
		if bad[i] != want[i] {
			t.Errorf("bad[%d] = %+v, want %+v", i, bad[i], want[i])
		}
	}
	ok, bad, err = o.Validate(context.Background(), []Tx{{MerchantID: "m", TS: "2024-01-01T10:00:00+02:00", Amount: "12.345", Type: "sale"}})
	if err != nil || bad != nil || len(ok) != 1 {
		t.Fatalf("ok=%v bad=%v err=%v", ok, bad, err)
	}
	// 10:00 at +02:00 is 08:00 UTC; 12.345 is 12 345 000 millionths.
	if !ok[0].TS.Equal(time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)) || ok[0].AmountMicro != 12_345_000 {
		t.Fatalf("parsed %+v", ok[0])
	}
}

func exactlyEqual(a, b *float64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func TestComputeRowsRejectsInvalidRow(t *testing.T) {
	db := testDB(t)
	_, err := ComputeRows(context.Background(), db, goldenAsOf, true, []Tx{
		{MerchantID: "m", TS: "2024-01-01 00:00:00", Amount: "1", Type: "sale"},
		{MerchantID: "m", TS: "2024-01-01 00:00:00", Amount: "-1", Type: "sale"},
	})
	if lend.ErrorCode(err) != lend.EINVALID || !strings.Contains(err.Error(), "transactions[1]: amount: must be > 0") {
		t.Fatalf("err = %v", err)
	}
	rows, err := ComputeRows(context.Background(), db, goldenAsOf, true, nil)
	if err != nil || len(rows) != 0 {
		t.Fatalf("empty history: %v %v", rows, err)
	}
}

// refParseTS is an independent reading of the SPEC's timestamp rule with Go's
// time package: RFC 3339 or YYYY-MM-DD HH:MM:SS[.fff], UTC when no zone.
// RFC 3339 offsets are time-hour ":" time-minute, so hours 00-23 (Go's parser
// alone would take +24:00).
var refTSRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$`)

func refParseTS(s string) (time.Time, bool) {
	if !refTSRe.MatchString(s) {
		return time.Time{}, false
	}
	norm := s[:10] + "T" + s[11:]
	if !strings.HasSuffix(norm, "Z") && !strings.ContainsAny(norm[19:], "+-") {
		norm += "Z"
	}
	t, err := time.Parse(time.RFC3339Nano, norm)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

var refAmtRe = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// refValid is an independent reading of the row rules of SPEC §2.1.
func refValid(m, ts, amount, typ string) bool {
	if strings.Trim(m, " \t\n\r\v\f") == "" { // ASCII white space only

		return false
	}
	if _, ok := refParseTS(ts); !ok {
		return false
	}
	if !refAmtRe.MatchString(amount) {
		return false
	}
	v, err := strconv.ParseFloat(amount, 64)
	if err != nil || v > MaxAmount || v < 0.0000005 { // rounds to 0 at 6 decimals
		return false
	}
	return typ == "sale" || typ == "refund" || typ == "chargeback"
}

var fuzzDB struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// FuzzValidateRow checks the SQL row validation (the one both paths use)
// against the independent Go reading above: same verdict, same UTC instant to
// the microsecond, never a crash.
func FuzzValidateRow(f *testing.F) {
	for _, s := range [][4]string{
		{"m", "2024-01-01 10:00:00", "10.5", "sale"},
		{"m", "2024-01-01T10:00:00Z", "1", "refund"},
		{"m", "2024-01-01T10:00:00.123456789+05:30", "0.01", "chargeback"},
		{"m", "2024-02-30 10:00:00", "1", "sale"},
		{"m", "2024-01-01 24:00:00", "1", "sale"},
		{"m", "2024-01-01 23:59:60", "1", "sale"},
		{"m", "2024-01-01 10:00:00+24:00", "1", "sale"},
		{"m", "2024-01-01", "1", "sale"},
		{" ", "2024-01-01 10:00:00", "1", "sale"},
		{"m", "2024-01-01 10:00:00", "-1", "sale"},
		{"m", "2024-01-01 10:00:00", "1e3", "sale"},
		{"m", "2024-01-01 10:00:00", "inf", "sale"},
		{"m", "2024-01-01 10:00:00", "0.0000001", "sale"},
		{"m", "2024-01-01 10:00:00", "999999999999.9999999", "sale"},
		{"m", "2024-01-01 10:00:00", "1", "Sale"},
		{"m", "0000-01-01 00:00:00", "1", "sale"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, m, ts, amount, typ string) {
		fuzzDB.once.Do(func() { fuzzDB.db, fuzzDB.err = OpenDB(1, "1GB", t.TempDir()) })
		if fuzzDB.err != nil {
			t.Fatal(fuzzDB.err)
		}
		q := "SELECT reason, ts FROM (" + validationSQL(
			"(SELECT 'f' AS file, 1::BIGINT AS line, ?::VARCHAR AS merchant_id, ?::VARCHAR AS ts, ?::VARCHAR AS amount, ?::VARCHAR AS type, NULL::VARCHAR AS buyer_id, NULL::VARCHAR AS raw, NULL::VARCHAR AS struct_reason)",
			true, kindText, kindText, false) + ")"
		var reason sql.NullString
		var got sql.NullTime
		if err := fuzzDB.db.QueryRow(q, m, ts, amount, typ).Scan(&reason, &got); err != nil {
			if strings.ContainsRune(m+ts+amount+typ, 0) || !utf8Valid(m) || !utf8Valid(ts) || !utf8Valid(amount) || !utf8Valid(typ) {
				t.Skip("DuckDB refuses NUL bytes / invalid UTF-8 as parameters")
			}
			t.Fatalf("query: %v", err)
		}
		want := refValid(m, ts, amount, typ)
		if want != !reason.Valid {
			t.Fatalf("(%q,%q,%q,%q): SQL reason %q, Go reference valid=%v", m, ts, amount, typ, reason.String, want)
		}
		if ref, ok := refParseTS(ts); ok && got.Valid {
			if d := got.Time.Sub(ref.Truncate(time.Microsecond)); math.Abs(float64(d)) > float64(time.Microsecond) {
				t.Fatalf("ts %q: SQL %v, Go %v", ts, got.Time, ref)
			}
		}
	})
}

// yearOfHistory is one generated merchant's rows: 13 months of synth history.
func yearOfHistory(tb testing.TB) ([]Tx, time.Time) {
	dir := tb.TempDir()
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := synth.Generate(context.Background(), synth.Config{Merchants: 20, Months: 13, AsOf: end, Seed: 3, Format: synth.FormatCSV, Workers: 1}, dir); err != nil {
		tb.Fatal(err)
	}
	byM := map[string][]Tx{}
	best := ""
	for _, tx := range readTx(tb, filepath.Join(dir, "transactions.csv.gz")) {
		byM[tx.MerchantID] = append(byM[tx.MerchantID], tx)
		if len(byM[tx.MerchantID]) > len(byM[best]) {
			best = tx.MerchantID
		}
	}
	return byM[best], end
}

// BenchmarkOnlineCompute times the fast path (Online.Compute) for the busiest
// of 20 generated merchants with a year of history (docs/perf/realtime.md).
func BenchmarkOnlineCompute(b *testing.B) {
	rows, asOf := yearOfHistory(b)
	o, err := OpenOnline(context.Background(), "256MB")
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok, err := o.Compute(context.Background(), asOf, true, rows); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	b.ReportMetric(float64(len(rows)), "rows")
}

// TestOnlineIncrementalParity: features computed incrementally (each call
// aggregates only its new rows and reuses the pre-aggregate of the calls
// before, ValidateAndComputeFrom) equal the batch pipeline's features over
// all rows seen so far (ComputeRows over a real DuckDB), after every batch,
// for generated merchants: with rows pending and folded into the
// pre-aggregate, and across a day change (rows after as-of count once the
// day moves on, from a fresh pre-aggregate).
func TestOnlineIncrementalParity(t *testing.T) {
	dir := t.TempDir()
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := synth.Generate(context.Background(), synth.Config{Merchants: 30, Months: 14, AsOf: end, Seed: 11, Format: synth.FormatCSV, Workers: 1}, dir); err != nil {
		t.Fatal(err)
	}
	byM := map[string][]Tx{}
	var ids []string
	for _, tx := range readTx(t, filepath.Join(dir, "transactions.csv.gz")) {
		if byM[tx.MerchantID] == nil {
			ids = append(ids, tx.MerchantID)
		}
		byM[tx.MerchantID] = append(byM[tx.MerchantID], tx)
	}
	db := testDB(t)
	ctx := context.Background()
	// The service's Online (rows through table functions) and one on a
	// caller's database (staging tables).
	fast, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	tables, err := NewOnline(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer tables.Close()
	if fast.src == nil || tables.src != nil {
		t.Fatal("the two Onlines do not cover both ways of staging rows")
	}
	for _, o := range []*Online{fast, tables} {
		incrementalParity(t, o, db, end, byM, ids)
	}
}

func incrementalParity(t *testing.T, o *Online, db *sql.DB, end time.Time, byM map[string][]Tx, ids []string) {
	ctx := context.Background()
	checked, folded, pended := 0, 0, 0
	// Batch sizes: pending rows stay under the fold size (6 here) for the
	// first two, the third folds them; a new day starts over at the sixth.
	o.pendingFold = 6
	sizes := []int{1, 2, 5, 3, 1, 4, 2, 1}
	need := 0
	for _, n := range sizes {
		need += n
	}
	for _, id := range ids {
		rows := byM[id]
		if len(rows) < need+40 {
			continue
		}
		cut := len(rows) - need
		hist := validRows(t, o, rows[:cut])
		var pre *Pre
		day, lo := end.AddDate(0, 0, -5), 0
		for k, n := range sizes {
			var h []ValidRow
			if k == 5 { // the day moves on: start over from the stored rows
				day, pre = end, nil
			}
			if pre == nil {
				h = append(append([]ValidRow{}, hist...), validRows(t, o, rows[cut:cut+lo])...)
			}
			_, bad, got, ok, next, err := o.ValidateAndComputeFrom(ctx, day, pre, h, rows[cut+lo:cut+lo+n], nil)
			if err != nil || bad != nil {
				t.Fatalf("%s batch %d: %v %v", id, k, bad, err)
			}
			lo += n
			want, err := ComputeRows(ctx, db, day, true, rows[:cut+lo])
			if err != nil {
				t.Fatal(err)
			}
			if ok != (len(want) == 1) {
				t.Fatalf("%s batch %d: ok %v, batch rows %d", id, k, ok, len(want))
			}
			if ok {
				compareRow(t, "incremental", want[0], got)
				checked++
			}
			if next == nil || next.Len() == 0 {
				t.Fatalf("%s batch %d: no next pre-aggregate", id, k)
			}
			if len(next.pending) == 0 {
				folded++
			} else {
				pended++
			}
			pre = next
		}
	}
	if checked < 30 || folded < 8 || pended < 8 {
		t.Fatalf("only %d rows compared (%d folded, %d pending)", checked, folded, pended)
	}
	// A pre-aggregate of another day is refused, not silently misused.
	_, _, _, _, _, err := o.ValidateAndComputeFrom(ctx, end.AddDate(0, 0, 1), &Pre{merchantID: "m", asOf: end}, nil, byM[ids[0]][:1], nil)
	if err == nil {
		t.Fatal("a pre-aggregate of another day was accepted")
	}
}

// TestFeatureAggsMergeable: featureBody may run over a union of
// pre-aggregates that repeats group keys (the online incremental path) only
// because every aggregate over p is a sum, min, max or bit_or (count(*) or
// avg would change). This pins that down for every registry aggregate.
func TestFeatureAggsMergeable(t *testing.T) {
	allowed := map[string]bool{"sum": true, "min": true, "max": true, "bit_or": true, "coalesce": true, "bit_count": true}
	call := regexp.MustCompile(`([A-Za-z_]+)\s*\(`)
	for _, f := range registry {
		for _, a := range f.Aggs {
			for _, m := range call.FindAllStringSubmatch(a.SQL, -1) {
				if !allowed[strings.ToLower(m[1])] {
					t.Errorf("feature %s: aggregate %s uses %s(), not mergeable over a repeated p", f.Name, a.Name, m[1])
				}
			}
		}
	}
	// b90 regroups p by buyer with sums, so BuyerAggs see one row per buyer.
	body, err := featureBody(registry, "p", true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, "b90 AS (SELECT merchant_id, buyer90 AS buyer_id, sum(sale_n) AS n_sales, sum(sale_amt) AS sale_amount FROM p WHERE ok AND buyer90 IS NOT NULL GROUP BY merchant_id, buyer90)") {
		t.Errorf("b90 no longer regroups p by buyer with sums:\n%s", body)
	}
}

// BenchmarkOnlineIncremental times the service's hit path: a one-row batch
// over the cached pre-aggregate of a year of history (the busiest of 20
// generated merchants), for several fold sizes (rows kept unaggregated).
func BenchmarkOnlineIncremental(b *testing.B) {
	rows, asOf := yearOfHistory(b)
	ctx := context.Background()
	for _, fold := range []int{0, 8, 32, PendingFold} {
		b.Run("fold="+strconv.Itoa(fold), func(b *testing.B) {
			o, err := OpenOnline(ctx, "256MB")
			if err != nil {
				b.Fatal(err)
			}
			defer o.Close()
			o.pendingFold = fold
			parsed, _, err := o.Validate(ctx, rows)
			if err != nil {
				b.Fatal(err)
			}
			hist := make([]ValidRow, len(rows))
			for i, r := range rows {
				hist[i] = ValidRow{MerchantID: r.MerchantID, TS: parsed[i].TS, AmountMicro: parsed[i].AmountMicro, Type: r.Type, BuyerID: r.BuyerID}
			}
			_, _, _, _, pre, err := o.ValidateAndComputeFrom(ctx, asOf, nil, hist, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			at := asOf.Add(-12 * time.Hour)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				at = at.Add(time.Second)
				one := []Tx{{MerchantID: rows[0].MerchantID, TS: at.Format(time.RFC3339), Amount: "12.5", Type: "sale", BuyerID: "b" + strconv.Itoa(i%7)}}
				if _, _, _, _, pre, err = o.ValidateAndComputeFrom(ctx, asOf, pre, nil, one, nil); err != nil || pre == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
