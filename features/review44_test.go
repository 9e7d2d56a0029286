package features

// Review tests (helper-44): point-in-time boundaries across DST and Feb 29,
// input-path deduplication, rejects of non-UTF-8 lines, currency, determinism,
// no partial output. Every expected value is worked out by hand in a comment.

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func r44write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// r44run runs the pipeline to a CSV output in a fresh directory and returns
// the report, the rows by merchant and the rejects records (header dropped).
func r44run(t *testing.T, asOf time.Time, maxRate float64, paths ...string) (*Report, map[string]Row, [][]string) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "features.csv")
	rep, err := Run(context.Background(), Options{Paths: paths, AsOf: asOf, Out: out, MaxRejectRate: maxRate, TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.RowsIn != rep.Accepted+rep.Rejected {
		t.Fatalf("rows in %d != accepted %d + rejected %d", rep.RowsIn, rep.Accepted, rep.Rejected)
	}
	byM := map[string]Row{}
	for _, r := range readBack(t, out) {
		byM[r.MerchantID] = r
	}
	var rej [][]string
	if rep.Rejects != "" {
		f, err := os.Open(rep.Rejects)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatalf("rejects file is not CSV: %v", err)
		}
		rej = recs[1:]
	}
	return rep, byM, rej
}

func r44num(t *testing.T, r Row, name string) *float64 {
	t.Helper()
	v, ok := r.Value(name)
	if !ok {
		t.Fatalf("no feature %s", name)
	}
	return v
}

func r44want(t *testing.T, r Row, name string, want float64) {
	t.Helper()
	if v := r44num(t, r, name); v == nil || *v != want {
		t.Errorf("%s %s = %s, want %v", r.MerchantID, name, fmtVal(v), want)
	}
}

// TestR44SameFileTwoSpellings: one file named twice (as "DIR//tx.csv" and
// through the glob "./DIR/*.csv" or "DIR/tx.csv") is one input, read once.
// Run already skips a path it has seen, but compares the strings as given, so
// the same file under another spelling was read twice and every sale counted
// twice. m1 has two sales of 5 on 2024-06-30: sales_amount_30d = 10, count 2.
func TestR44SameFileTwoSpellings(t *testing.T) {
	dir := t.TempDir()
	p := r44write(t, dir, "tx.csv", "merchant_id,ts,amount,type\nm1,2024-06-30 10:00:00,5,sale\nm1,2024-06-29 10:00:00,5,sale\n")
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, paths := range [][]string{
		{p, dir + "//tx.csv"},
		{filepath.Join(dir, ".") + "/./tx.csv", filepath.Join(dir, "*.csv")},
	} {
		rep, byM, _ := r44run(t, asOf, 0, paths...)
		if rep.RowsIn != 2 || len(rep.Files) != 1 {
			t.Errorf("%q: read %d rows from %d files, want 2 rows from 1 file", paths, rep.RowsIn, len(rep.Files))
		}
		r44want(t, byM["m1"], "sales_amount_30d", 10)
		r44want(t, byM["m1"], "sales_count_30d", 2)
	}
}

// TestR44RejectsKeepRawOfNonUTF8Lines: the rejects file promises the raw row
// of each rejected line. A line that is not valid UTF-8, or a long line whose
// 4096-byte raw prefix cuts a multi-byte character, came out with an empty
// raw (DuckDB's appender turns invalid UTF-8 into NULL); a merchant_id that is
// not UTF-8 was reported as "merchant_id: empty", which it is not.
//
//	line 2: m1 ... 6 fields (header has 5)   -> malformed, raw of 6000+ bytes
//	line 3: m2 ... b\xff,extra (6 fields)    -> malformed, raw holds "m2,"
//	line 4: m\xff,...                         -> merchant_id: not UTF-8
func TestR44RejectsKeepRawOfNonUTF8Lines(t *testing.T) {
	dir := t.TempDir()
	long := "m1,2024-06-30 23:59:59,5,sale,b" + strings.Repeat("é", 3000) + ",extra"
	p := r44write(t, dir, "tx.csv", "merchant_id,ts,amount,type,buyer_id\n"+
		long+"\n"+
		"m2,2024-06-30 23:59:59,5,sale,b\xff,extra\n"+
		"m\xff,2024-06-30 23:59:59,5,sale,b\n"+
		"ok,2024-06-30 23:59:59,5,sale,b\n")
	rep, _, rej := r44run(t, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), 1, p)
	if rep.Rejected != 3 || len(rej) != 3 {
		t.Fatalf("rejected %d (%d records), want 3", rep.Rejected, len(rej))
	}
	for i, wantPrefix := range []string{"m1,2024-06-30 23:59:59,5,sale,bé", "m2,2024-06-30 23:59:59,5,sale,b", "m"} {
		raw := rej[i][3]
		if !strings.HasPrefix(raw, wantPrefix) || !utf8.ValidString(raw) {
			t.Errorf("line %s: raw %.60q, want a valid UTF-8 text starting %q", rej[i][1], raw, wantPrefix)
		}
	}
	if len(rej[0][3]) > MaxRawBytes {
		t.Errorf("raw of %d bytes, above MaxRawBytes", len(rej[0][3]))
	}
	if reason := rej[2][2]; !strings.Contains(reason, "merchant_id") || strings.Contains(reason, "empty") {
		t.Errorf("line 4 (merchant_id \"m\\xff\"): reason %q, want one naming merchant_id as not UTF-8", reason)
	}
}

// TestR44DSTAndLeapDayBoundaries: zone offsets around the US DST change of
// 2024-03-10 and the leap day. as_of = 2024-03-11 00:00 UTC.
//
//	a 2024-03-10T19:59:59-04:00 = 03-10 23:59:59Z   1 s before as_of: counts
//	b 2024-03-10T20:00:00-04:00 = 03-11 00:00:00Z   at as_of: excluded
//	c 2024-03-10T01:59:59-05:00 = 03-10 06:59:59Z   (before the change) counts
//	d 2024-03-10T03:00:00-04:00 = 03-10 07:00:00Z   (after the change) counts
//	e 2024-02-10 00:00:00       = as_of − 30 days (Feb has 29): W(30) edge, counts in W(30)
//	f 2024-02-09 23:59:59                              not in W(30); in W(90)
//	g 2024-02-29 23:59:59+00:00                        leap day, counts
//	h 2024-03-11T01:00:00+02:00 = 03-10 23:00:00Z   counts (east of UTC, local date is as_of)
//
// amounts 1,2,4,8,16,32,64,128: sales_amount_30d = 1+4+8+16+64+128 = 221,
// _90d = 221+32 = 253; sales_count_30d = 6. active_days_90d (UTC dates):
// 03-10 (a,c,d,h), 02-10 (e), 02-09 (f), 02-29 (g) = 4. days_since_last_sale
// = 0 (a, 1 s). tenure_days: first sale f, 30 days + 1 s → 30.
func TestR44DSTAndLeapDayBoundaries(t *testing.T) {
	dir := t.TempDir()
	p := r44write(t, dir, "tx.csv", "merchant_id,ts,amount,type\n"+
		"m,2024-03-10T19:59:59-04:00,1,sale\n"+
		"m,2024-03-10T20:00:00-04:00,2,sale\n"+
		"m,2024-03-10T01:59:59-05:00,4,sale\n"+
		"m,2024-03-10T03:00:00-04:00,8,sale\n"+
		"m,2024-02-10 00:00:00,16,sale\n"+
		"m,2024-02-09 23:59:59,32,sale\n"+
		"m,2024-02-29 23:59:59+00:00,64,sale\n"+
		"m,2024-03-11T01:00:00+02:00,128,sale\n")
	rep, byM, _ := r44run(t, time.Date(2024, 3, 11, 0, 0, 0, 0, time.UTC), 0, p)
	if rep.Accepted != 8 {
		t.Fatalf("accepted %d, want 8", rep.Accepted)
	}
	m := byM["m"]
	r44want(t, m, "sales_amount_30d", 221)
	r44want(t, m, "sales_amount_90d", 253)
	r44want(t, m, "sales_count_30d", 6)
	r44want(t, m, "active_days_90d", 4)
	r44want(t, m, "days_since_last_sale", 0)
	r44want(t, m, "tenure_days", 30)
}

// TestR44EdgeMerchants: empty history before as_of, one transaction, only
// refunds, duplicate identical rows, huge amounts.
//
//	solo: one sale of 7 at 2024-06-30 → one row: amount 7, avg 7, K = 1 so
//	      cv and trend NULL, refund rate 0, growth NULL.
//	future-only: sale at as_of → no row. refunds-only: no row (no sale).
//	dup: the same row twice (no transaction id in SPEC §2.1) → both count: 2 × 3 = 6.
//	big: 3 × 999999999999.999999 → 2999999999999.999997 ≈ 3e12 as DOUBLE;
//	     1000000000000 is rejected ("amount: exceeds").
func TestR44EdgeMerchants(t *testing.T) {
	dir := t.TempDir()
	p := r44write(t, dir, "tx.csv", "merchant_id,ts,amount,type\n"+
		"solo,2024-06-30 12:00:00,7,sale\n"+
		"future-only,2024-07-01 00:00:00,7,sale\n"+
		"refunds-only,2024-06-30 12:00:00,7,refund\n"+
		"dup,2024-06-30 12:00:00,3,sale\n"+
		"dup,2024-06-30 12:00:00,3,sale\n"+
		"big,2024-06-30 12:00:00,999999999999.999999,sale\n"+
		"big,2024-06-29 12:00:00,999999999999.999999,sale\n"+
		"big,2024-06-28 12:00:00,999999999999.999999,sale\n"+
		"big,2024-06-27 12:00:00,1000000000000,sale\n")
	rep, byM, rej := r44run(t, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), 1, p)
	if len(byM) != 3 {
		t.Errorf("merchants %d, want 3 (solo, dup, big)", len(byM))
	}
	if rep.Rejected != 1 || len(rej) != 1 || rej[0][1] != "10" || !strings.Contains(rej[0][2], "amount") {
		t.Errorf("rejects %v, want line 10 for amount", rej)
	}
	s := byM["solo"]
	r44want(t, s, "sales_amount_30d", 7)
	r44want(t, s, "avg_ticket_90d", 7)
	r44want(t, s, "refund_rate_90d", 0)
	for _, n := range []string{"sales_cv_12m", "sales_trend_12m", "sales_growth_90d"} {
		if v := r44num(t, s, n); v != nil {
			t.Errorf("solo %s = %v, want NULL", n, *v)
		}
	}
	r44want(t, byM["dup"], "sales_amount_30d", 6)
	r44want(t, byM["big"], "sales_amount_30d", 2999999999999.999997)
	r44want(t, byM["big"], "sales_count_30d", 3)
}

// TestR44DeterministicOutOfOrder: the same rows in another order, another
// file split and run twice give byte-identical CSV and Parquet outputs.
func TestR44DeterministicOutOfOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(44, 44))
	var lines []string
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 6000; i++ {
		ts := start.Add(time.Duration(rng.Int64N(int64(560 * 24 * time.Hour))))
		typ := []string{"sale", "sale", "sale", "refund", "chargeback"}[rng.IntN(5)]
		lines = append(lines, fmt.Sprintf("m%02d,%s,%d.%02d,%s,b%d", rng.IntN(40), ts.Format("2006-01-02T15:04:05Z07:00"), rng.IntN(5000), rng.IntN(100), typ, rng.IntN(300)))
	}
	dir := t.TempDir()
	hdr := "merchant_id,ts,amount,type,buyer_id\n"
	a := r44write(t, dir, "a.csv", hdr+strings.Join(lines, "\n")+"\n")
	shuffled := append([]string(nil), lines...)
	rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b1 := r44write(t, dir, "b1.csv", hdr+strings.Join(shuffled[:2500], "\n")+"\n")
	b2 := r44write(t, dir, "b2.csv", hdr+strings.Join(shuffled[2500:], "\n")+"\n")
	asOf := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	for _, ext := range []string{".csv", ".parquet"} {
		var outs [][]byte
		for _, paths := range [][]string{{a}, {b1, b2}, {a}} {
			out := filepath.Join(t.TempDir(), "f"+ext)
			if _, err := Run(context.Background(), Options{Paths: paths, AsOf: asOf, Out: out, Threads: 2, TempDir: t.TempDir()}); err != nil {
				t.Fatal(err)
			}
			body, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			outs = append(outs, body)
		}
		if !bytes.Equal(outs[0], outs[1]) || !bytes.Equal(outs[0], outs[2]) {
			t.Errorf("%s: outputs differ (%d, %d, %d bytes)", ext, len(outs[0]), len(outs[1]), len(outs[2]))
		}
	}
}

// TestR44NoPartialOutputOnFailure: a run refused for too many rejects writes
// the rejects file and no output, and leaves no temporary file behind; a
// previous output at the same path is not replaced by a half-written one.
func TestR44NoPartialOutputOnFailure(t *testing.T) {
	dir := t.TempDir()
	p := r44write(t, dir, "tx.csv", "merchant_id,ts,amount,type\nm,2024-06-30 10:00:00,5,sale\nm,not-a-time,5,sale\n")
	outDir := t.TempDir()
	for _, ext := range []string{".csv", ".parquet", ".duckdb"} {
		out := filepath.Join(outDir, "f"+ext)
		rep, err := Run(context.Background(), Options{Paths: []string{p}, AsOf: time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), Out: out, MaxRejectRate: 0.4, TempDir: t.TempDir()})
		if err == nil {
			t.Fatalf("%s: 1 of 2 rows rejected with max 40%%: no error", ext)
		}
		if rep == nil || rep.Rejected != 1 || rep.Rejects != out+".rejects.csv" {
			t.Fatalf("%s: report %+v", ext, rep)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: output written despite the failure", ext)
		}
	}
	ents, _ := os.ReadDir(outDir)
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".rejects.csv") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestR44LineOfExactlyMaxBytes: MaxLineBytes is the longest line accepted
// ("a longer line is rejected"); a row whose text is exactly MaxLineBytes
// bytes (terminator excluded) is valid and counts. The terminator itself was
// counted, so it was rejected as "line longer than 1048576 bytes".
func TestR44LineOfExactlyMaxBytes(t *testing.T) {
	tail := ",2024-06-30 10:00:00,5,sale"
	id := strings.Repeat("m", MaxLineBytes-len(tail))
	dir := t.TempDir()
	p := r44write(t, dir, "tx.csv", "merchant_id,ts,amount,type\n"+id+tail+"\n"+id+"x"+tail+"\n")
	rep, byM, rej := r44run(t, time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC), 1, p)
	if rep.Rejected != 1 || len(rej) != 1 || rej[0][1] != "3" {
		t.Errorf("rejected %d, lines %v; want only line 3 (MaxLineBytes + 1 bytes)", rep.Rejected, rej)
	}
	if _, ok := byM[id]; !ok {
		t.Errorf("the row of exactly MaxLineBytes bytes has no feature row")
	}
}
