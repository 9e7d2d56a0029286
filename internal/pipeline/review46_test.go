package pipeline

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/scoring"
)

// Review 46: a numeric input column that DuckDB types as text (one cell of a
// CSV column is not a number) must not silently turn into "missing" for
// every merchant.

// The golden model reads refund_rate_90d, sales_trend_12m, tenure_days
// (numeric), category (categorical); its capacity model sales_amount_90d and
// sales_trend_12m; the policy tenure_days, days_since_last_sale,
// sales_amount_90d, refund_rate_90d, chargeback_count_180d.
var review46Golden = filepath.Join("..", "..", "scoring", "testdata", "golden_model.json")

const review46Head = "merchant_id,refund_rate_90d,sales_trend_12m,tenure_days,sales_amount_90d,days_since_last_sale,chargeback_count_180d,category"

func review46Row(id, tenure string) string { return id + ",0.01,0.10," + tenure + ",29999,2,0,food" }

func review46Engine(t *testing.T) *scoring.Engine {
	t.Helper()
	eng, err := scoring.LoadEngine(review46Golden, "")
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func review46File(t *testing.T, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReview46RefreshBadCellRefused: tenure_days "four hundred" for m3 only.
// Before the fix DuckDB typed tenure_days VARCHAR, it went to Str, and all
// three merchants were declined policy_data_missing (their lines cut) with no
// error. Now the refresh fails EINVALID naming m3, tenure_days and the value,
// and writes nothing: the lines of a prior good run stay as they were.
func TestReview46RefreshBadCellRefused(t *testing.T) {
	eng := review46Engine(t)
	st := openStore(t)
	ctx := context.Background()
	good := review46File(t, "good.csv", review46Head, review46Row("m1", "400"), review46Row("m2", "400"), review46Row("m3", "400"))
	bad := review46File(t, "bad.csv", review46Head, review46Row("m1", "400"), review46Row("m2", "400"), review46Row("m3", "four hundred"))
	sum, err := RefreshLimits(ctx, RefreshOptions{Features: good, AsOf: "2024-01-01", Engine: eng, Store: st})
	if err != nil || sum.New != 3 {
		t.Fatalf("good file: %v %+v", err, sum)
	}
	before, err := loadLines(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	sum, err = RefreshLimits(ctx, RefreshOptions{Features: bad, AsOf: "2024-01-02", Engine: eng, Store: st})
	if err == nil {
		t.Fatalf("bad cell: no error, %+v", sum)
	}
	msg := lend.ErrorMessage(err)
	if lend.ErrorCode(err) != lend.EINVALID || !strings.Contains(msg, "m3") || !strings.Contains(msg, "tenure_days") || !strings.Contains(msg, `"four hundred"`) {
		t.Errorf("bad cell: %s %q; want EINVALID naming m3, tenure_days and \"four hundred\"", lend.ErrorCode(err), msg)
	}
	after, err := loadLines(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	for id, l := range before {
		a := after[id]
		if a == nil || a.LimitMinor != l.LimitMinor || a.AsOf != l.AsOf || a.Status != l.Status {
			t.Errorf("%s: line changed by the refused refresh: %+v -> %+v", id, l, a)
		}
	}
}

// TestReview46BadCellInUnusedColumnIgnored: a column neither the model nor
// the policy reads ("notes", and "region_code" with one non-number among
// numbers) is not a reason to refuse; the summary equals that of the same
// file without those columns.
func TestReview46BadCellInUnusedColumnIgnored(t *testing.T) {
	eng := review46Engine(t)
	ctx := context.Background()
	plain := review46File(t, "plain.csv", review46Head, review46Row("m1", "400"), review46Row("m2", "30"), review46Row("m3", "400"))
	extra := review46File(t, "extra.csv", review46Head+",region_code,notes",
		review46Row("m1", "400")+",12,ok", review46Row("m2", "30")+",n/a,late", review46Row("m3", "400")+",7,")
	want, err := RefreshLimits(ctx, RefreshOptions{Features: plain, AsOf: "2024-01-01", Engine: eng, Store: openStore(t)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := RefreshLimits(ctx, RefreshOptions{Features: extra, AsOf: "2024-01-01", Engine: eng, Store: openStore(t)})
	if err != nil {
		t.Fatalf("unused text column refused: %v", err)
	}
	if got != want || want.Merchants != 3 {
		t.Errorf("with unused columns %+v, without %+v", got, want)
	}
	// m2's tenure 30 is below the golden policy's 90 days: declined, the
	// other two new. Shows the file was really scored, not all declined.
	if want.New != 2 || want.Declined != 1 {
		t.Errorf("want 2 new and 1 declined (m2, tenure 30 < 90): %+v", want)
	}
}

// TestReview46TextTypedColumnCast: a Parquet file whose tenure_days and
// refund_rate_90d are VARCHAR. Before the fix both went to Str and scored as
// absent for everyone. Now each value is cast: "400" -> 400, " 250 " -> 250,
// "" and NULL -> NaN (missing, as an empty numeric cell always was); a
// VARCHAR column the model does not read ("notes") stays in Str.
func TestReview46TextTypedColumnCast(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.parquet")
	db, err := features.OpenDB(0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`COPY (SELECT * FROM (VALUES
		('m1', '400', '0.02', 'a'), ('m2', ' 250 ', NULL, 'b'), ('m3', '', '0.5', NULL), ('m4', NULL, '1e-2', '9'))
		AS t(merchant_id, tenure_days, refund_rate_90d, notes)) TO ` + quoteString(p) + ` (FORMAT parquet)`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]float64{"m1": {400, 0.02}, "m2": {250, math.NaN()}, "m3": {math.NaN(), 0.5}, "m4": {math.NaN(), 0.01}}
	notes := map[string]string{"m1": "a", "m2": "b", "m4": "9"}
	seen := 0
	err = readFeatures(context.Background(), p, numericInputs(review46Engine(t).Scorer().Model()), func(_ int, id, _ string, f *scoring.Features) error {
		seen++
		for k, col := range []string{"tenure_days", "refund_rate_90d"} {
			v, ok := f.Num[col]
			w := want[id][k]
			if !ok || (math.IsNaN(w) != math.IsNaN(v)) || (!math.IsNaN(w) && v != w) {
				t.Errorf("%s %s: got %v (present %v), want %v", id, col, v, ok, w)
			}
			if _, ok := f.Str[col]; ok {
				t.Errorf("%s %s: also in Str", id, col)
			}
		}
		if n, ok := f.Str["notes"]; ok != (notes[id] != "") || n != notes[id] {
			t.Errorf("%s notes: %q %v, want %q", id, n, ok, notes[id])
		}
		if _, ok := f.Num["notes"]; ok {
			t.Errorf("%s: notes (not a model input) was cast to a number", id)
		}
		return nil
	})
	if err != nil || seen != 4 {
		t.Fatalf("read %d rows: %v", seen, err)
	}
}

// TestReview46BadValueTruncated: a 300-character bad cell is quoted cut to
// maxBadValueLen bytes plus "...", and the message still names the merchant
// and the column (here a capacity/policy input, sales_amount_90d).
func TestReview46BadValueTruncated(t *testing.T) {
	long := strings.Repeat("x", 300)
	p := review46File(t, "long.csv", review46Head,
		"m1,0.01,0.10,400,29999,2,0,food", "m2,0.01,0.10,400,"+long+",2,0,food")
	err := readFeatures(context.Background(), p, numericInputs(review46Engine(t).Scorer().Model()), func(int, string, string, *scoring.Features) error { return nil })
	msg := lend.ErrorMessage(err)
	if err == nil || !strings.Contains(msg, "m2") || !strings.Contains(msg, "sales_amount_90d") ||
		!strings.Contains(msg, `"`+strings.Repeat("x", maxBadValueLen)+`..."`) || strings.Contains(msg, strings.Repeat("x", maxBadValueLen+1)) {
		t.Errorf("long bad value: %v", err)
	}
}

// TestReview46BadCellPastSniffSample: DuckDB types a CSV column from its
// first 20,480 rows. Before the fix a non-number at row 24,000 of an unused
// column ("notes": 5 everywhere else) failed the whole read ("Conversion
// Error: CSV Error on Line: 24002", exit 2), and one in tenure_days failed it
// without naming the column or merchant. Now the unused one is read, and the
// used one is refused naming its merchant, column and value.
func TestReview46BadCellPastSniffSample(t *testing.T) {
	const n, badAt = 25_000, 24_000
	body := func(tenure, notes string) string {
		var b strings.Builder
		b.WriteString(review46Head + ",notes\n")
		for i := range n {
			tn, nt := "400", "5"
			if i == badAt {
				tn, nt = tenure, notes
			}
			fmt.Fprintf(&b, "%s,%s\n", review46Row(fmt.Sprintf("m%05d", i), tn), nt)
		}
		return b.String()
	}
	num := numericInputs(review46Engine(t).Scorer().Model())
	read := func(content string) (int, error) {
		p := filepath.Join(t.TempDir(), "big.csv")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		rows := 0
		err := readFeatures(context.Background(), p, num, func(_ int, _, _ string, f *scoring.Features) error {
			rows++
			if f.Num["tenure_days"] != 400 {
				t.Fatalf("tenure_days %v, want 400", f.Num["tenure_days"])
			}
			return nil
		})
		return rows, err
	}
	if rows, err := read(body("400", "n/a")); err != nil || rows != n {
		t.Errorf("bad cell in unused column past the sample: %d rows, %v; want %d rows, no error", rows, err, n)
	}
	_, err := read(body("four hundred", "5"))
	msg := lend.ErrorMessage(err)
	if lend.ErrorCode(err) != lend.EINVALID || !strings.Contains(msg, fmt.Sprintf("m%05d", badAt)) || !strings.Contains(msg, "tenure_days") || !strings.Contains(msg, "four hundred") {
		t.Errorf("bad tenure_days past the sample: %v; want EINVALID naming m%05d, tenure_days, \"four hundred\"", err, badAt)
	}
}
