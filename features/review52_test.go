package features

// Review tests (helper-52): the currency column (SPEC §2.1, one currency per
// merchant) in the batch and online paths, and --out / --rejects naming an
// input. Expected values are worked out by hand in the comments.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lendhq/lend"
)

// r52Rows are the rows of the currency test, in file order (CSV lines 2..7,
// Parquet lines 1..6). As of 2024-04-01 every row is inside W(90) =
// [2024-01-02, 2024-04-01).
var r52Rows = []struct{ ts, amount, typ, currency string }{
	{"2024-03-01 10:00:00", "100.00", "sale", "USD"},
	{"2024-03-02 10:00:00", "20.50", "sale", "usd"},
	{"2024-03-03 10:00:00", "5.25", "sale", ""},
	{"2024-03-04 10:00:00", "1000.00", "sale", "EUR"},
	{"2024-03-05 10:00:00", "7.00", "sale", "US"},
	{"2024-03-06 10:00:00", "10.00", "refund", " USD "},
}

var r52AsOf = time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)

const (
	r52ReasonEUR = "currency: EUR is not the lending currency USD"
	r52ReasonUS  = "currency: not an ISO 4217 code"
)

// r52CheckFeatures: the accepted rows are lines USD, usd, empty and
// " USD ": sales 100.00 + 20.50 + 5.25 = 125.75 over 3 sales, one refund
// of 10.00. So sales_amount_90d = 125.75, sales_count_90d = 3,
// avg_ticket_90d = 125.75 / 3, refund_rate_90d = 10 / 125.75. Summing the
// EUR and "US" rows too would give 1132.75 over 5 sales.
func r52CheckFeatures(t *testing.T, r Row) {
	t.Helper()
	r44want(t, r, "sales_amount_90d", 125.75)
	r44want(t, r, "sales_count_90d", 3)
	if v := r44num(t, r, "avg_ticket_90d"); v == nil || *v < 125.75/3-1e-9 || *v > 125.75/3+1e-9 {
		t.Errorf("avg_ticket_90d = %s, want 125.75/3", fmtVal(v))
	}
	if v := r44num(t, r, "refund_rate_90d"); v == nil || *v < 10/125.75-1e-9 || *v > 10/125.75+1e-9 {
		t.Errorf("refund_rate_90d = %s, want 10/125.75", fmtVal(v))
	}
}

// TestR52CurrencyBatchCSV: EUR and "US" rows go to the rejects file with
// their lines (5 and 6: the header is line 1) and reasons; the rest count.
func TestR52CurrencyBatchCSV(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("merchant_id,ts,amount,type,currency\n")
	for _, r := range r52Rows {
		fmt.Fprintf(&b, "m1,%s,%s,%s,%s\n", r.ts, r.amount, r.typ, r.currency)
	}
	in := r44write(t, t.TempDir(), "tx.csv", b.String())
	rep, byM, rej := r44run(t, r52AsOf, 1, in)
	if rep.RowsIn != 6 || rep.Rejected != 2 || rep.Accepted != 4 {
		t.Fatalf("rows %d, rejected %d, accepted %d; want 6, 2, 4", rep.RowsIn, rep.Rejected, rep.Accepted)
	}
	want := [][]string{
		{in, "5", r52ReasonEUR, "m1,2024-03-04 10:00:00,1000.00,sale,EUR"},
		{in, "6", r52ReasonUS, "m1,2024-03-05 10:00:00,7.00,sale,US"},
	}
	if !reflect.DeepEqual(rej, want) {
		t.Fatalf("rejects:\n got %q\nwant %q", rej, want)
	}
	r52CheckFeatures(t, byM["m1"])
}

// TestR52CurrencyBatchParquet: the same rows in Parquet (lines are 1-based
// row numbers: EUR is line 4, "US" line 5), checked in SQL.
func TestR52CurrencyBatchParquet(t *testing.T) {
	db := testDB(t)
	pq := filepath.Join(t.TempDir(), "tx.parquet")
	var vals bytes.Buffer
	for i, r := range r52Rows {
		if i > 0 {
			vals.WriteString(", ")
		}
		fmt.Fprintf(&vals, "(%d, 'm1', TIMESTAMP '%s', %s::DOUBLE, '%s', '%s')", i, r.ts, r.amount, r.typ, r.currency)
	}
	q := fmt.Sprintf("COPY (SELECT merchant_id, ts, amount, type, currency FROM (VALUES %s) v(i, merchant_id, ts, amount, type, currency) ORDER BY i) TO %s (FORMAT parquet)", vals.String(), sqlString(pq))
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	rep, byM, rej := r44run(t, r52AsOf, 1, pq)
	if rep.Rejected != 2 || rep.Accepted != 4 {
		t.Fatalf("rejected %d, accepted %d; want 2, 4", rep.Rejected, rep.Accepted)
	}
	if len(rej) != 2 || rej[0][1] != "4" || rej[0][2] != r52ReasonEUR || rej[1][1] != "5" || rej[1][2] != r52ReasonUS {
		t.Fatalf("rejects: %q", rej)
	}
	r52CheckFeatures(t, byM["m1"])
}

// TestR52CurrencyRunOption: Options.Currency EUR makes the EUR row the one
// accepted sale besides the empty one (1000.00 + 5.25 = 1005.25 over 2);
// every USD row (USD, usd, " USD ") and "US" are rejected: 4 of 6.
func TestR52CurrencyRunOption(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("merchant_id,ts,amount,type,currency\n")
	for _, r := range r52Rows {
		fmt.Fprintf(&b, "m1,%s,%s,%s,%s\n", r.ts, r.amount, r.typ, r.currency)
	}
	dir := t.TempDir()
	in := r44write(t, dir, "tx.csv", b.String())
	out := filepath.Join(dir, "f.csv")
	rep, err := Run(context.Background(), Options{Paths: []string{in}, AsOf: r52AsOf, Out: out, MaxRejectRate: 1, TempDir: t.TempDir(), Currency: "eur"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rejected != 4 {
		t.Fatalf("rejected %d, want 4", rep.Rejected)
	}
	rows := readBack(t, out)
	r44want(t, rows[0], "sales_amount_90d", 1005.25)
	r44want(t, rows[0], "sales_count_90d", 2)
	_, err = Run(context.Background(), Options{Paths: []string{in}, AsOf: r52AsOf, Out: out, Currency: "EURO"})
	var le *lend.Error
	if !errors.As(err, &le) || le.Code != lend.EINVALID || le.Field != "currency" {
		t.Fatalf("Currency EURO: %v, want EINVALID on field currency", err)
	}
}

// TestR52CurrencyOnlineParity: the online path rejects the same rows with
// the same reasons, on each of its three ways to stage a batch (staging
// table: Validate; sqleval: ValidateAndComputeFrom; table function: the same
// batch with a non-UTF-8 row, which sqleval refuses), and its features over
// the accepted rows are the batch's.
func TestR52CurrencyOnlineParity(t *testing.T) {
	ctx := context.Background()
	batch := make([]Tx, len(r52Rows))
	for i, r := range r52Rows {
		batch[i] = Tx{MerchantID: "m1", TS: r.ts, Amount: r.amount, Type: r.typ, BuyerID: "", Currency: r.currency}
	}
	wantBad := []RowError{{Index: 3, Field: "currency", Reason: "EUR is not the lending currency USD"}, {Index: 4, Field: "currency", Reason: "not an ISO 4217 code"}}
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, bad, err := o.Validate(ctx, batch); err != nil || !reflect.DeepEqual(bad, wantBad) {
		t.Fatalf("Validate: %v, %+v; want %+v", err, bad, wantBad)
	}
	if _, bad, _, _, _, err := o.ValidateAndComputeFrom(ctx, r52AsOf, nil, nil, batch, nil); err != nil || !reflect.DeepEqual(bad, wantBad) {
		t.Fatalf("ValidateAndComputeFrom (sqleval): %v, %+v; want %+v", err, bad, wantBad)
	}
	withBadUTF8 := append(append([]Tx{}, batch...), Tx{MerchantID: "m1", TS: "2024-03-07 10:00:00", Amount: "1", Type: "sale", BuyerID: "\xff"})
	wantUTF8 := append(append([]RowError{}, wantBad...), RowError{Index: 6, Field: "buyer_id", Reason: "not valid UTF-8"})
	if _, bad, _, _, _, err := o.ValidateAndComputeFrom(ctx, r52AsOf, nil, nil, withBadUTF8, nil); err != nil || !reflect.DeepEqual(bad, wantUTF8) {
		t.Fatalf("ValidateAndComputeFrom (table function): %v, %+v; want %+v", err, bad, wantUTF8)
	}
	if _, err := ComputeRows(ctx, testDB(t), r52AsOf, false, batch); lend.ErrorCode(err) != lend.EINVALID {
		t.Fatalf("ComputeRows with an EUR row: %v, want EINVALID", err)
	}
	var good []Tx
	for i, tx := range batch {
		if i != 3 && i != 4 {
			good = append(good, tx)
		}
	}
	rows, err := ComputeRows(ctx, testDB(t), r52AsOf, false, good)
	if err != nil || len(rows) != 1 {
		t.Fatalf("ComputeRows: %v, %d rows", err, len(rows))
	}
	r52CheckFeatures(t, rows[0])
	// The lending currency set to EUR: the EUR row is fine, USD rows not.
	if err := o.SetCurrency("EUR"); err != nil {
		t.Fatal(err)
	}
	_, bad, err := o.Validate(ctx, batch[3:4])
	if err != nil || bad != nil {
		t.Fatalf("EUR row with lending currency EUR: %v, %+v", err, bad)
	}
	if _, bad, _ = o.Validate(ctx, batch[:1]); len(bad) != 1 || bad[0].Reason != "USD is not the lending currency EUR" {
		t.Fatalf("USD row with lending currency EUR: %+v", bad)
	}
	if err := o.SetCurrency("E1R"); lend.ErrorCode(err) != lend.EINVALID {
		t.Fatalf("SetCurrency(E1R): %v", err)
	}
}

// TestR52OutputIsAnInput: --out or --rejects naming an input (by any
// spelling, a symlink, a hard link or a glob), or --rejects naming --out, is
// refused before anything is written: the input is untouched and no output
// appears.
func TestR52OutputIsAnInput(t *testing.T) {
	dir := t.TempDir()
	body := "merchant_id,ts,amount,type\nm1,2024-03-01 10:00:00,1.00,sale\nm1,bad,1.00,sale\n"
	in := r44write(t, dir, "tx.csv", body)
	other := r44write(t, dir, "tx2.csv", body)
	link := filepath.Join(dir, "link.csv")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	hard := filepath.Join(dir, "hard.csv")
	if err := os.Link(in, hard); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "new.csv")
	cases := []struct {
		name         string
		paths        []string
		out, rejects string
		field        string
	}{
		{"out is the input", []string{in}, in, "", "out"},
		{"out is the input spelled otherwise", []string{in}, dir + "//sub/../tx.csv", "", "out"},
		{"out is a symlink to the input", []string{in}, link, "", "out"},
		{"out is a hard link to the input", []string{in}, hard, "", "out"},
		{"out matched by the glob", []string{filepath.Join(dir, "tx*.csv")}, other, "", "out"},
		{"rejects is the input", []string{in}, fresh, in, "rejects"},
		{"rejects is a later input", []string{other, in}, fresh, in, "rejects"},
		{"rejects is out", []string{other}, fresh, fresh, "rejects"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Run(context.Background(), Options{Paths: c.paths, AsOf: r52AsOf, Out: c.out, Rejects: c.rejects, MaxRejectRate: 1, TempDir: t.TempDir()})
			var le *lend.Error
			if !errors.As(err, &le) || le.Code != lend.EINVALID || le.Field != c.field {
				t.Fatalf("Run: %v, want EINVALID on %s", err, c.field)
			}
			for _, p := range []string{in, other} {
				if b, err := os.ReadFile(p); err != nil || string(b) != body {
					t.Fatalf("%s changed: %v %q", p, err, b)
				}
			}
			for _, p := range []string{fresh, fresh + ".rejects.csv", c.out + ".tmp"} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("%s written by a refused run (%v)", p, err)
				}
			}
		})
	}
	// A distinct --out and --rejects still run.
	if _, err := Run(context.Background(), Options{Paths: []string{in}, AsOf: r52AsOf, Out: fresh, MaxRejectRate: 1, TempDir: t.TempDir()}); err != nil {
		t.Fatalf("distinct paths: %v", err)
	}
}
