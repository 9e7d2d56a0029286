package features

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend/internal/testutil"
)

// breakage replaces one physical line of a copy of the Olist file.
type breakage struct {
	line   int
	edit   func(fields []string) string
	reason string // expected reason prefix
}

func setField(i int, v string) func([]string) string {
	return func(f []string) string { f[i] = v; return strings.Join(f, ",") }
}

var olistBreakages = []breakage{
	{10, setField(1, "2017-13-45 99:00:00"), "ts: not RFC 3339"},
	{100, setField(2, "-3.50"), "amount: must be > 0"},
	{500, setField(3, "sales"), "type: must be"},
	{1000, setField(0, ""), "merchant_id: empty"},
	{2000, func(f []string) string { return `"` + strings.Join(f, ",") }, "malformed CSV: unterminated quoted field"},
	{3000, func(f []string) string { return strings.Join(f, ",") + ",extra" }, "malformed CSV: expected 5 fields, found 6"},
	{4000, setField(2, "abc"), "amount: not a decimal number"},
	{5000, setField(2, "NaN"), "amount: not a decimal number"},
	{6000, setField(1, ""), "ts: missing"},
	{7000, setField(1, "2018-02-30 10:00:00"), "ts: not RFC 3339"},
	{8000, setField(2, "1e3"), "amount: not a decimal number"},
	{9000, setField(2, "0"), "amount: must be > 0"},
	{10000, func(f []string) string { return "just some text" }, "malformed CSV: expected 5 fields, found 1"},
	{11297, setField(2, "1000000000000"), "amount: exceeds"}, // the last line
}

// writeBroken writes a copy of the Olist file with olistBreakages applied, as
// plain CSV and as gzipped CSV.
func writeBroken(t *testing.T) (plain, gz string) {
	t.Helper()
	f, err := os.Open(testutil.SharedData(t, "olist/transactions.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
	for _, b := range olistBreakages {
		lines[b.line-1] = b.edit(strings.Split(lines[b.line-1], ","))
	}
	dir := t.TempDir()
	plain = filepath.Join(dir, "broken.csv")
	data := []byte(strings.Join(lines, "\n") + "\n")
	if err := os.WriteFile(plain, data, 0o644); err != nil {
		t.Fatal(err)
	}
	gz = filepath.Join(dir, "broken.csv.gz")
	out, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	zw.Write(data)
	zw.Close()
	out.Close()
	return plain, gz
}

func TestBrokenRowsLandInRejects(t *testing.T) {
	plain, gz := writeBroken(t)
	for _, path := range []string{plain, gz} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f.parquet")
			rejects := filepath.Join(t.TempDir(), "rejects.csv")
			rep, err := Run(context.Background(), Options{Paths: []string{path}, AsOf: time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC), Out: out, Rejects: rejects, MaxRejectRate: -1})
			if err != nil {
				t.Fatal(err)
			}
			n := int64(len(olistBreakages))
			if rep.RowsIn != 11296 || rep.Rejected != n || rep.Accepted != 11296-n {
				t.Fatalf("in %d accepted %d rejected %d; want 11296 = %d + %d", rep.RowsIn, rep.Accepted, rep.Rejected, 11296-n, n)
			}
			recs := readCSV(t, rejects)
			if len(recs) != len(olistBreakages) {
				t.Fatalf("%d rejects, want %d: %q", len(recs), len(olistBreakages), recs)
			}
			for i, b := range olistBreakages {
				r := recs[i]
				if r[0] != path || r[1] != strconv.Itoa(b.line) || !strings.HasPrefix(r[2], b.reason) {
					t.Errorf("reject %d = %q, want line %d reason %q", i, r[:3], b.line, b.reason)
				}
			}
		})
	}
}

// TestRejectRateExceeded: more than --max-reject-rate invalid rows fails the
// run, still writes the rejects and reports counts, and writes no output.
func TestRejectRateExceeded(t *testing.T) {
	plain, _ := writeBroken(t) // 14 of 11,296 rows = 0.12 %
	out := filepath.Join(t.TempDir(), "f.parquet")
	rejects := filepath.Join(t.TempDir(), "rejects.csv")
	rep, err := Run(context.Background(), Options{Paths: []string{plain}, AsOf: time.Date(2018, 9, 1, 0, 0, 0, 0, time.UTC), Out: out, Rejects: rejects, MaxRejectRate: 0.001})
	if err == nil || !strings.Contains(err.Error(), "14 of 11296 rows rejected") || !strings.Contains(err.Error(), "max-reject-rate") {
		t.Fatalf("err = %v", err)
	}
	if rep == nil || rep.Rejected != 14 {
		t.Fatalf("report %+v", rep)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("output written despite the reject rate")
	}
	if len(readCSV(t, rejects)) != 14 {
		t.Error("rejects not written")
	}
}

// TestParquetRejectsRowNumbers: Parquet rows (text-typed columns) are
// validated the same way; their "line" is the 1-based row number in the file.
func TestParquetRejectsRowNumbers(t *testing.T) {
	rows := [][5]string{
		{"m1", "2024-01-01 10:00:00", "10", "sale", "b1"},
		{"m1", "not a time", "10", "sale", "b1"}, // row 2
		{"m1", "2024-01-02T10:00:00+02:00", "5", "sale", ""},
		{"", "2024-01-02 10:00:00", "5", "sale", ""},  // row 4
		{"m2", "2024-01-03 10:00:00", "7", "tip", ""}, // row 5
		{"m2", "2024-01-03 10:00:00", "7.25", "sale", "b2"},
	}
	var vals []string
	for i, r := range rows {
		vals = append(vals, fmt.Sprintf("(%d, %s, %s, %s, %s, %s)", i, sqlString(r[0]), sqlString(r[1]), sqlString(r[2]), sqlString(r[3]), sqlString(r[4])))
	}
	dir := t.TempDir()
	pq := filepath.Join(dir, "tx.parquet")
	db := testDB(t)
	if _, err := db.Exec("SET preserve_insertion_order = true"); err != nil {
		t.Fatal(err)
	}
	q := fmt.Sprintf("COPY (SELECT merchant_id, ts, amount, type, buyer_id FROM (VALUES %s) v(i, merchant_id, ts, amount, type, buyer_id) ORDER BY i) TO %s (FORMAT parquet)", strings.Join(vals, ", "), sqlString(pq))
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	rejects := filepath.Join(dir, "rejects.csv")
	rep, err := Run(context.Background(), Options{Paths: []string{pq}, AsOf: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), Out: filepath.Join(dir, "f.csv"), Rejects: rejects, MaxRejectRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsIn != 6 || rep.Rejected != 3 {
		t.Fatalf("report %+v", rep)
	}
	want := [][2]string{{"2", "ts: not RFC 3339"}, {"4", "merchant_id: empty"}, {"5", "type: must be"}}
	recs := readCSV(t, rejects)
	for i, w := range want {
		if recs[i][1] != w[0] || !strings.HasPrefix(recs[i][2], w[1]) {
			t.Errorf("reject %d = %q, want row %s %s", i, recs[i], w[0], w[1])
		}
	}
	got := readBack(t, filepath.Join(dir, "f.csv"))
	// W(90): m1 10 + 5 (the +02:00 row is 08:00 UTC), m2 7.25.
	if len(got) != 2 || *got[0].Values[col("sales_amount_90d")] != 15 || *got[1].Values[col("sales_amount_90d")] != 7.25 {
		t.Errorf("features %v %v", fmtVal(got[0].Values[0]), fmtVal(got[1].Values[0]))
	}
}

// TestLineNumbersWithBlankAndCRLF: CRLF endings and blank lines keep physical
// line numbers; blank lines are counted, not rows.
func TestLineNumbersWithBlankAndCRLF(t *testing.T) {
	body := "merchant_id,ts,amount,type\r\nm1,2024-01-01 00:00:00,1,sale\r\n\r\nm1,2024-01-01 00:00:00,x,sale\r\n\nm1,\"2024-01-02 00:00:00\",\"2\",sale\r\n"
	dir := t.TempDir()
	p := filepath.Join(dir, "tx.csv")
	os.WriteFile(p, []byte(body), 0o644)
	rejects := filepath.Join(dir, "r.csv")
	rep, err := Run(context.Background(), Options{Paths: []string{p}, AsOf: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC), Out: filepath.Join(dir, "f.csv"), Rejects: rejects, MaxRejectRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsIn != 3 || rep.Rejected != 1 || rep.Blank != 2 {
		t.Fatalf("report %+v", rep)
	}
	recs := readCSV(t, rejects)
	if len(recs) != 1 || recs[0][1] != "4" || recs[0][3] != "m1,2024-01-01 00:00:00,x,sale" {
		t.Errorf("rejects %q", recs)
	}
}
