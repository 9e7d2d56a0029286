package features

// Review tests (helper-55) of helper-52's currency column and output checks.
// Expected values are worked out by hand in the comments.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lendhq/lend"
)

// TestR55ShortLineWithCurrencyColumn: a file with a currency column and a
// line with fewer fields (or a broken quote) is rejected for that line, as
// without the column; the currency of such a line was read before its
// reason was looked at, past the end of its fields: the run panicked.
// Lines (header is line 1):
//
//	2: USD sale 1.00             accepted
//	3: three fields               malformed CSV: expected 5 fields, found 3
//	4: currency "EUR unterminated malformed CSV: ...
//	5: EUR sale 8.00             currency: EUR is not the lending currency USD
//
// So 4 rows in, 3 rejected; the one sale is 1.00 (sales_count_90d = 1).
func TestR55ShortLineWithCurrencyColumn(t *testing.T) {
	body := "merchant_id,ts,amount,type,currency\n" +
		"m1,2024-03-01 10:00:00,1.00,sale,USD\n" +
		"m1,2024-03-02 10:00:00,2.00\n" +
		"m1,2024-03-03 10:00:00,4.00,sale,\"EUR\n" +
		"m1,2024-03-04 10:00:00,8.00,sale,EUR\n"
	in := r44write(t, t.TempDir(), "tx.csv", body)
	rep, byM, rej := r44run(t, r52AsOf, 1, in)
	if rep.RowsIn != 4 || rep.Rejected != 3 {
		t.Fatalf("rows %d, rejected %d; want 4, 3", rep.RowsIn, rep.Rejected)
	}
	if len(rej) != 3 || rej[0][1] != "3" || rej[0][2] != "malformed CSV: expected 5 fields, found 3" ||
		rej[1][1] != "4" || !strings.HasPrefix(rej[1][2], "malformed CSV: ") ||
		rej[2][1] != "5" || rej[2][2] != r52ReasonEUR {
		t.Fatalf("rejects: %q", rej)
	}
	r44want(t, byM["m1"], "sales_amount_90d", 1)
	r44want(t, byM["m1"], "sales_count_90d", 1)
}

// TestR55GlobRerunNamesThePattern: --tx 'dir/*.csv' --out dir/f.parquet,
// run twice. The first run writes f.parquet and, since a row is bad, the
// default rejects file dir/f.parquet.rejects.csv, which the glob matches on
// the second run. That run is refused (never read a rejects file as
// transactions, never overwrite an input), nothing changed, and the error
// says why: it names the pattern and that the file is the default rejects
// file the operator never typed. Narrowing the pattern, as it suggests,
// runs.
func TestR55GlobRerunNamesThePattern(t *testing.T) {
	dir := t.TempDir()
	r44write(t, dir, "tx.csv", "merchant_id,ts,amount,type\nm1,2024-03-01 10:00:00,1.00,sale\nm1,bad,1.00,sale\n")
	glob, out := filepath.Join(dir, "*.csv"), filepath.Join(dir, "f.parquet")
	opts := Options{Paths: []string{glob}, AsOf: r52AsOf, Out: out, MaxRejectRate: 1, TempDir: t.TempDir()}
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	rejects := out + ".rejects.csv"
	before := map[string][]byte{}
	for _, p := range []string{out, rejects} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		before[p] = b
	}
	_, err := Run(context.Background(), opts)
	var le *lend.Error
	if !errors.As(err, &le) || le.Code != lend.EINVALID || le.Field != "rejects" {
		t.Fatalf("second run: %v, want EINVALID on rejects", err)
	}
	for _, part := range []string{strconv.Quote(glob), "default rejects file", "--rejects"} {
		if !strings.Contains(le.Message, part) {
			t.Errorf("message %q does not name %s", le.Message, part)
		}
	}
	for p, b := range before {
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%s changed by the refused run: %v", p, err)
		}
	}
	opts.Paths = []string{filepath.Join(dir, "tx*.csv")}
	if _, err := Run(context.Background(), opts); err != nil {
		t.Fatalf("narrowed pattern: %v", err)
	}
}

// TestR55CurrencyRejectCountsTowardTheRate: a row rejected only for its
// currency counts against MaxRejectRate like any reject: 1 of 2 rows is
// 0.5 > 0.4, so the run fails (EUNPROCESSABLE, the threshold's code) with
// no output, and the rejects file holds the EUR line (3) with its raw text.
// It passes on 0ff5502 too: a guard, not a fix.
func TestR55CurrencyRejectCountsTowardTheRate(t *testing.T) {
	dir := t.TempDir()
	in := r44write(t, dir, "tx.csv", "merchant_id,ts,amount,type,currency\n"+
		"m1,2024-03-01 10:00:00,1.00,sale,USD\n"+
		"m1,2024-03-02 10:00:00,2.00,sale,EUR\n")
	out := filepath.Join(dir, "f.csv")
	rep, err := Run(context.Background(), Options{Paths: []string{in}, AsOf: r52AsOf, Out: out, MaxRejectRate: 0.4, TempDir: t.TempDir()})
	if lend.ErrorCode(err) != lend.EUNPROCESSABLE || rep == nil || rep.Rejected != 1 || rep.RowsIn != 2 {
		t.Fatalf("1 reject of 2 under MaxRejectRate 0.4: %v, %+v; want EUNPROCESSABLE", err, rep)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("output written by a failed run (%v)", err)
	}
	b, err := os.ReadFile(out + ".rejects.csv")
	if err != nil || !strings.Contains(string(b), ",3,"+r52ReasonEUR+",\"m1,2024-03-02 10:00:00,2.00,sale,EUR\"") {
		t.Fatalf("rejects (%v):\n%s", err, b)
	}
}

// TestR55BOMBeforeQuotedHeader: a UTF-8 byte order mark before a quoted
// header (every field quoted, as pandas' QUOTE_ALL with utf-8-sig writes)
// is a header like any other: the BOM was left before the opening quote,
// and the whole file was refused as "quote inside an unquoted field".
// Rows: USD 1.00 sale (line 2) accepted, EUR 2.00 (line 3) rejected for
// its currency; the quoted "currency" header is found, as unquoted.
func TestR55BOMBeforeQuotedHeader(t *testing.T) {
	in := r44write(t, t.TempDir(), "tx.csv", "\ufeff\"merchant_id\",\"ts\",\"amount\",\"type\",\"currency\"\n"+
		"\"m1\",\"2024-03-01 10:00:00\",\"1.00\",\"sale\",\"USD\"\n"+
		"\"m1\",\"2024-03-02 10:00:00\",\"2.00\",\"sale\",\"EUR\"\n")
	rep, byM, rej := r44run(t, r52AsOf, 1, in)
	if rep.RowsIn != 2 || rep.Rejected != 1 || len(rej) != 1 || rej[0][1] != "3" || rej[0][2] != r52ReasonEUR {
		t.Fatalf("rows %d, rejected %d, rejects %q; want 2, 1, line 3 for EUR", rep.RowsIn, rep.Rejected, rej)
	}
	r44want(t, byM["m1"], "sales_amount_90d", 1)
}
