package features

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/big"
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
	// Exactly: the amount rounded half up to 6 decimals (DECIMAL(18,6)) must
	// be positive and below MaxAmount + 1.
	r, ok := new(big.Rat).SetString(amount)
	if !ok {
		return false
	}
	micro := new(big.Rat).Mul(r, big.NewRat(1_000_000, 1))
	micro.Add(micro, big.NewRat(1, 2))
	m6 := new(big.Int).Div(micro.Num(), micro.Denom()) // floor for positive values
	if r.Sign() <= 0 || m6.Sign() <= 0 || m6.Cmp(new(big.Int).Mul(big.NewInt(MaxAmount+1), big.NewInt(1_000_000))) >= 0 {
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
		{"m", "2024-01-01 10:00:00", "999999999999.9999994", "sale"},
		{"m", "2024-01-01 10:00:00", "999999999999.5", "sale"},
		{"m", "2024-01-01 10:00:00", "0.0000005", "sale"},
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

// synthByMerchant generates merchants with months of synth history ending
// at end and returns their rows by merchant and the ids in first-row order.
func synthByMerchant(t *testing.T, merchants, months int, seed uint64, end time.Time) (map[string][]Tx, []string) {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), synth.Config{Merchants: merchants, Months: months, AsOf: end, Seed: seed, Format: synth.FormatCSV, Workers: 1}, dir); err != nil {
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
	return byM, ids
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
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	byM, ids := synthByMerchant(t, 30, 14, 11, end)
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

// TestOnlineParityWideSums: a merchant whose stored history holds many rows
// of the largest amount (MaxAmount: 10^18 − 10^6 micro-units, so ten of
// them pass int64) gets the same features online
// (sqleval: ValidateAndComputeFrom over the history, then batch after batch
// folded into the cached pre-aggregate whose sums are already past int64) as
// in the batch pipeline (DuckDB, ComputeRows), bit for bit. DuckDB computes
// these sums as DECIMAL(38,6) and answers; it does not fail, so neither may
// the online path. The history enters as parsed rows (ValidRow, what the
// service stores): the online validation of such amounts is
// TestOnlineValidateLargeAmount.
func TestOnlineParityWideSums(t *testing.T) {
	ctx := context.Background()
	asOf := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// MaxAmount, the largest amount SPEC-side (the validation SQL also takes
	// fractions above it, up to DECIMAL(18,6)'s 999999999999.999999).
	maxAmt, maxMicro := strconv.Itoa(MaxAmount), int64(MaxAmount)*1_000_000
	var rows []Tx
	var hist []ValidRow
	add := func(daysBack float64, amount string, micro int64, typ, buyer string) {
		ts := asOf.Add(-time.Duration(daysBack * float64(24*time.Hour))).Truncate(time.Second)
		rows = append(rows, Tx{MerchantID: "m-max", TS: ts.Format("2006-01-02 15:04:05"), Amount: amount, Type: typ, BuyerID: buyer})
		hist = append(hist, ValidRow{MerchantID: "m-max", TS: ts, AmountMicro: micro, Type: typ, BuyerID: buyer})
	}
	// W(90): 25 maximal sales (one buyer takes 14 of them: its b90 sum is
	// past 2^63 too), 12 maximal refunds and 3 chargebacks; the previous 90
	// days 11 maximal sales; buckets 6–12 hold 16–22 maximal sales each, so
	// K = 12 and the CV and trend run over bucket sums past int64.
	for k := 0; k < 25; k++ {
		buyer := "big"
		if k >= 14 {
			buyer = fmt.Sprintf("b%d", k)
		}
		add(1+float64(k)*3.3, maxAmt, maxMicro, "sale", buyer)
	}
	for k := 0; k < 12; k++ {
		add(2+float64(k)*5, maxAmt, maxMicro, "refund", "")
	}
	for k := 0; k < 3; k++ {
		add(4+float64(k)*7, maxAmt, maxMicro, "chargeback", "")
	}
	for k := 0; k < 11; k++ {
		add(95+float64(k)*7, maxAmt, maxMicro, "sale", "big")
	}
	for k := 6; k <= 12; k++ {
		for j := 0; j < 10+k; j++ {
			add(float64(30*(k-1))+1+float64(j)*0.9, maxAmt, maxMicro, "sale", "")
		}
		add(float64(30*(k-1))+2.5, "0.000001", 1, "sale", "")
	}
	add(363, "12.34", 12_340_000, "sale", "old")
	db := testDB(t)
	want, err := ComputeRows(ctx, db, asOf, true, rows)
	if err != nil || len(want) != 1 {
		t.Fatalf("batch: %d rows, %v", len(want), err)
	}
	// The sums really are past int64 (9.22 × 10^12 major units).
	if v := want[0].Num()["sales_amount_90d"]; v < 2.4e13 {
		t.Fatalf("sales_amount_90d = %v: the history does not overflow int64", v)
	}
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	_, bad, got, ok, pre, err := o.ValidateAndComputeFrom(ctx, asOf, nil, hist, nil, nil)
	if err != nil || bad != nil || !ok {
		t.Fatalf("history: ok %v bad %v err %v", ok, bad, err)
	}
	compareRow(t, "ValidateAndComputeFrom", want[0], got)
	// New batches (amounts the online validation takes) folded one after
	// another into the pre-aggregate whose sums are past int64.
	all := rows
	for b := 0; b < 4; b++ {
		var batch []Tx
		for j := 0; j < 5; j++ {
			ts := asOf.Add(-time.Duration(b*7+j+1) * 3 * time.Hour)
			batch = append(batch, Tx{MerchantID: "m-max", TS: ts.Format("2006-01-02 15:04:05"), Amount: "999999.999999", Type: []string{"sale", "refund", "sale", "chargeback", "sale"}[j], BuyerID: []string{"big", "", "n", "", ""}[j]})
		}
		_, bad, got, ok, next, err := o.ValidateAndComputeFrom(ctx, asOf, pre, nil, batch, nil)
		if err != nil || bad != nil || !ok {
			t.Fatalf("batch %d: ok %v bad %v err %v", b, ok, bad, err)
		}
		all = append(all, batch...)
		w, err := ComputeRows(ctx, db, asOf, true, all)
		if err != nil || len(w) != 1 {
			t.Fatalf("batch %d: %d rows, %v", b, len(w), err)
		}
		compareRow(t, "ValidateAndComputeFrom (folded)", w[0], got)
		pre = next
	}
}

// TestOnlineValidateLargeAmount: the online validation accepts every amount
// the batch pipeline accepts, up to MaxAmount, with its exact micro-units.
func TestOnlineValidateLargeAmount(t *testing.T) {
	o, err := OpenOnline(context.Background(), "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for _, c := range []struct {
		a     string
		micro int64
	}{{"999999.999999", 999_999_999_999}, {"1000000", 1_000_000_000_000}, {strconv.Itoa(MaxAmount), int64(MaxAmount) * 1_000_000}} {
		a, micro := c.a, c.micro
		if !refValid("m", "2025-06-01 00:00:00", a, "sale") {
			t.Fatalf("%s: the reference rejects it", a)
		}
		parsed, bad, err := o.Validate(context.Background(), []Tx{{MerchantID: "m", TS: "2025-06-01 00:00:00", Amount: a, Type: "sale"}})
		if err != nil || bad != nil || len(parsed) != 1 || parsed[0].AmountMicro != micro {
			t.Fatalf("%s: parsed %v bad %v err %v", a, parsed, bad, err)
		}
	}
}

// TestOnlineParityAdversarial: inputs a service key can post (SPEC §2.1
// rows that pass validation) at the edges of the registry's definitions give
// the same features online (sqleval: Compute, and ValidateAndComputeFrom over
// a stored half then the rest as a new batch) as in the batch pipeline
// (DuckDB, ComputeRows), bit for bit, with and without buyer ids: window
// and as_of boundaries to the microsecond, the 64-day split of the active-day
// bit set, fractional seconds and zones, dates far in the past, unicode,
// empty, blank and very long ids, buyers that differ only in normalization
// or case, a merchant with only refunds and chargebacks, or with sales only
// at or after as_of (no row in either), sales only before W(365), refunds
// above the sales,
// many buyers in W(90), the smallest amount.
func TestOnlineParityAdversarial(t *testing.T) {
	ctx := context.Background()
	asOf := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	us := func(d time.Duration) string {
		return asOf.Add(-d).Format("2006-01-02 15:04:05.999999")
	}
	const day = 24 * time.Hour
	byM := map[string][]Tx{}
	var ids []string
	add := func(m, ts, amount, typ, buyer string) {
		if byM[m] == nil {
			ids = append(ids, m)
		}
		byM[m] = append(byM[m], Tx{MerchantID: m, TS: ts, Amount: amount, Type: typ, BuyerID: buyer})
	}
	// Window edges: each boundary, one microsecond either side.
	for _, d := range []time.Duration{0, 30 * day, 60 * day, 63 * day, 64 * day, 89 * day, 90 * day, 180 * day, 330 * day, 360 * day, 365 * day} {
		for _, e := range []time.Duration{-time.Microsecond, 0, time.Microsecond} {
			add("m-edge", us(d+e), "1.000001", "sale", "b"+strconv.Itoa(int(d/day)))
			add("m-edge", us(d+e), "0.5", "refund", "")
		}
	}
	add("m-edge", "2026-01-01T00:59:59.9999995+01:00", "2", "sale", "zone") // rounds to as_of or just before
	add("m-edge", "2025-12-31T23:59:59.9999994Z", "2", "chargeback", "")
	add("m-edge", "2025-10-03T12:00:00-11:30", "3", "sale", "zone")
	add("m-edge", "9999-12-31 23:59:59", "4", "sale", "future")
	add("m-old", "0001-01-01 00:00:00", "5", "sale", "x")
	add("m-old", "1969-12-31 23:59:59.999999", "5", "sale", "x")
	add("m-old", us(10*day), "0.000001", "sale", "x")
	// Only refunds and chargebacks: no feature row.
	add("m-refunds", us(3*day), "10", "refund", "r")
	add("m-refunds", us(40*day), "10", "chargeback", "r")
	// Unicode and odd ids; buyers equal only after normalization or case.
	long := strings.Repeat("é", 20000)
	for i, b := range []string{"caf\u00e9", "cafe\u0301", "CAFÉ", " ", "  ", "NULL", "", "\t", "🙂", long, long + "x", "a'b", `a"b,c`} {
		for k := 0; k <= i%3; k++ {
			add("мерчант-🙂", us(time.Duration(i*5+k+1)*day), strconv.Itoa(i+1)+".25", "sale", b)
		}
	}
	// Sales only at or after as_of (no row), only older than W(365) (a row:
	// tenure, no window sales, K = 12 with every bucket 0), refunds larger
	// than the sales (a refund rate above 1).
	add("m-future", us(0), "7", "sale", "f")
	add("m-future", us(-40*day), "7", "sale", "f")
	add("m-ancient", us(400*day), "7", "sale", "a")
	add("m-ancient", us(2*day), "7", "refund", "")
	add("m-refund-heavy", us(5*day), "1.5", "sale", "h")
	add("m-refund-heavy", us(6*day), "999999.5", "refund", "")
	add(" m-space ", us(day), "1", "sale", "")
	// (Buyer ids that are not UTF-8 are rejected in both paths since session
	// 12: TestR12NonUTF8BuyerRejectedOnline.)
	add(strings.Repeat("m", 5000), us(2*day), "1", "sale", "z")
	// Many buyers in W(90) (b90 of ~3,000 rows), some repeat.
	for i := 0; i < 3000; i++ {
		add("m-many", us(time.Duration(i%89+1)*day+time.Duration(i)*time.Second), strconv.Itoa(i%97+1)+".01", "sale", "buyer-"+strconv.Itoa(i%2400))
	}
	db := testDB(t)
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	rowsSeen := 0
	for _, hasBuyer := range []bool{true, false} {
		for _, id := range ids {
			rows := byM[id]
			want, err := ComputeRows(ctx, db, asOf, hasBuyer, rows)
			if err != nil {
				t.Fatalf("%.20q: batch: %v", id, err)
			}
			got, ok, err := o.Compute(ctx, asOf, hasBuyer, rows)
			if err != nil || ok != (len(want) == 1) {
				t.Fatalf("%.20q: Compute ok %v err %v, batch rows %d", id, ok, err, len(want))
			}
			if (id == "m-refunds" || id == "m-future") && ok {
				t.Fatalf("%s: a merchant without sales before as_of has a feature row", id)
			}
			if !ok {
				continue
			}
			compareRow(t, "Compute", want[0], got)
			// A few values worked out by hand, so that both executors are not
			// merely equal but right.
			num := got.Num()
			if id == "мерчант-🙂" && hasBuyer && num["unique_buyers_90d"] != 12 { // 13 ids, one empty
				t.Errorf("unicode merchant: unique_buyers_90d = %v, want 12", num["unique_buyers_90d"])
			}
			if id == "m-old" && num["tenure_days"] != float64((asOf.Unix()-time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix())/86400) {
				t.Errorf("m-old: tenure_days = %v", num["tenure_days"])
			}
			if id == "m-refund-heavy" && num["refund_rate_90d"] != 999999.5/1.5 {
				t.Errorf("m-refund-heavy: refund_rate_90d = %v", num["refund_rate_90d"])
			}
			if id == "m-many" && hasBuyer && (num["unique_buyers_90d"] != 2400 || num["repeat_buyer_share_90d"] != 600.0/2400) {
				t.Errorf("m-many: buyers %v, repeat share %v", num["unique_buyers_90d"], num["repeat_buyer_share_90d"])
			}
			if hasBuyer {
				cut := len(rows) / 2
				_, bad, got2, ok2, _, err := o.ValidateAndComputeFrom(ctx, asOf, nil, validRows(t, o, rows[:cut]), rows[cut:], nil)
				if err != nil || bad != nil || !ok2 {
					t.Fatalf("%.20q: ValidateAndComputeFrom ok %v bad %v err %v", id, ok2, bad, err)
				}
				compareRow(t, "ValidateAndComputeFrom", want[0], got2)
			}
			rowsSeen++
		}
	}
	if rowsSeen != 2*(len(ids)-2) {
		t.Fatalf("compared %d rows, want %d", rowsSeen, 2*(len(ids)-2))
	}
}
