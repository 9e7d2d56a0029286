package features

// Review tests (helper-12): a buyer_id that is not UTF-8 is rejected in the
// batch and the online path alike; a clean run leaves no stale rejects file
// of an earlier run beside its output. Expected values are worked by hand in
// the comments.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend"
)

// r12AsOf is the as-of day of every test here; r12TS is 11 days before it,
// inside W(30) and W(90).
var r12AsOf = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

const r12TS = "2024-06-20 10:00:00"

// r12Rows are the hand-worked rows: one merchant, three sales with buyers
// b1, b\xff (Latin-1 ÿ, not UTF-8), b1, and a fourth sale with no buyer.
//
//	line 2  m1 10 sale b1      accepted
//	line 3  m1 20 sale b\xff   rejected: "buyer_id: not valid UTF-8"
//	line 4  m1 30 sale b1      accepted
//	line 5  m1 40 sale ""      accepted (buyer_id is optional)
//
// Accepted: 3 sales, 10+30+40 = 80; buyers {b1} = 1 (the empty one is no
// buyer). Before the fix the row of line 3 was accepted as a sale without a
// buyer: 4 sales, 100, nothing rejected.
var r12Rows = []Tx{
	{MerchantID: "m1", TS: r12TS, Amount: "10", Type: "sale", BuyerID: "b1"},
	{MerchantID: "m1", TS: r12TS, Amount: "20", Type: "sale", BuyerID: "b\xff"},
	{MerchantID: "m1", TS: r12TS, Amount: "30", Type: "sale", BuyerID: "b1"},
	{MerchantID: "m1", TS: r12TS, Amount: "40", Type: "sale", BuyerID: ""},
}

// r12CSV writes rows as a CSV file with a buyer_id column.
func r12CSV(t *testing.T, dir, name string, rows []Tx) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("merchant_id,ts,amount,type,buyer_id\n")
	for _, r := range rows {
		b.WriteString(r.MerchantID + "," + r.TS + "," + r.Amount + "," + r.Type + "," + r.BuyerID + "\n")
	}
	return r44write(t, dir, name, b.String())
}

// TestR12NonUTF8BuyerRejectedBatch: the batch path rejects the row of line 3
// with its file, line, reason and raw line, and computes the features over
// the three other rows.
func TestR12NonUTF8BuyerRejectedBatch(t *testing.T) {
	p := r12CSV(t, t.TempDir(), "tx.csv", r12Rows)
	rep, byM, rej := r44run(t, r12AsOf, 1, p)
	if rep.RowsIn != 4 || rep.Accepted != 3 || rep.Rejected != 1 || len(rej) != 1 {
		t.Fatalf("rows %d accepted %d rejected %d (%d records), want 4, 3, 1", rep.RowsIn, rep.Accepted, rep.Rejected, len(rej))
	}
	// The raw line keeps the row, its \xff shown as U+FFFD (the file is UTF-8).
	want := []string{p, "3", "buyer_id: not valid UTF-8", "m1," + r12TS + ",20,sale,b\uFFFD"}
	for i := range want {
		if rej[0][i] != want[i] {
			t.Errorf("rejects record field %d = %q, want %q", i, rej[0][i], want[i])
		}
	}
	m := byM["m1"]
	r44want(t, m, "unique_buyers_90d", 1)
	r44want(t, m, "sales_count_30d", 3)
	r44want(t, m, "sales_amount_30d", 80)

	// The Latin-1 export of docs/ARCHITECTURE.md: buyers b\xff and b\xfe
	// gave 0 buyers and no reject; now both rows are rejects (lines 2, 3)
	// and the one UTF-8 row (line 4, buyer c) is the merchant's only buyer.
	p2 := r44write(t, t.TempDir(), "latin1.csv", "merchant_id,ts,amount,type,buyer_id\n"+
		"m2,"+r12TS+",5,sale,b\xff\n"+
		"m2,"+r12TS+",5,sale,b\xfe\n"+
		"m2,"+r12TS+",5,sale,c\n")
	rep, byM, rej = r44run(t, r12AsOf, 1, p2)
	if rep.Rejected != 2 || len(rej) != 2 || rej[0][1] != "2" || rej[1][1] != "3" ||
		rej[0][2] != "buyer_id: not valid UTF-8" || rej[1][2] != "buyer_id: not valid UTF-8" {
		t.Fatalf("rejected %d: %q", rep.Rejected, rej)
	}
	r44want(t, byM["m2"], "unique_buyers_90d", 1)
}

// TestR12NonUTF8BuyerCountsAgainstThreshold: the reject is a reject like any
// other: 1 of 4 rows is 25%, above a 10% threshold, so the run fails (and
// the rejects file names the row).
func TestR12NonUTF8BuyerCountsAgainstThreshold(t *testing.T) {
	dir := t.TempDir()
	p := r12CSV(t, dir, "tx.csv", r12Rows)
	out := filepath.Join(dir, "f.csv")
	rep, err := Run(context.Background(), Options{Paths: []string{p}, AsOf: r12AsOf, Out: out, MaxRejectRate: 0.10, TempDir: t.TempDir()})
	if lend.ErrorCode(err) != lend.EUNPROCESSABLE || rep == nil || rep.Rejected != 1 {
		t.Fatalf("err %v, report %+v; want EUNPROCESSABLE with 1 reject", err, rep)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output written by a failed run: %v", err)
	}
	recs := readCSV(t, out+".rejects.csv")
	if len(recs) != 1 || recs[0][2] != "buyer_id: not valid UTF-8" { // readCSV drops the header
		t.Errorf("rejects %q", recs)
	}
}

// TestR12NonUTF8BuyerRejectedOnline: the online path refuses the same row
// with the same reason in every entry point (DuckDB's ComputeRows and
// Validate, the service's ValidateAndComputeFrom and Compute on an
// OpenOnline), and computes over the three valid rows exactly the batch
// features of the file.
func TestR12NonUTF8BuyerRejectedOnline(t *testing.T) {
	ctx := context.Background()
	p := r12CSV(t, t.TempDir(), "tx.csv", r12Rows)
	_, byM, _ := r44run(t, r12AsOf, 1, p)
	batch := byM["m1"]

	db := testDB(t)
	_, err := ComputeRows(ctx, db, r12AsOf, true, r12Rows)
	if lend.ErrorCode(err) != lend.EINVALID || !strings.Contains(err.Error(), "transactions[1]: buyer_id: not valid UTF-8") {
		t.Fatalf("ComputeRows: err = %v", err)
	}
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	wantBad := RowError{Index: 1, Field: "buyer_id", Reason: "not valid UTF-8"}
	if _, bad, err := o.Validate(ctx, r12Rows); err != nil || len(bad) != 1 || bad[0] != wantBad {
		t.Fatalf("Validate: bad %+v err %v, want [%+v]", bad, err, wantBad)
	}
	if _, bad, _, _, _, err := o.ValidateAndComputeFrom(ctx, r12AsOf, nil, nil, r12Rows, nil); err != nil || len(bad) != 1 || bad[0] != wantBad {
		t.Fatalf("ValidateAndComputeFrom: bad %+v err %v, want [%+v]", bad, err, wantBad)
	}
	if _, _, err := o.Compute(ctx, r12AsOf, true, r12Rows); lend.ErrorCode(err) != lend.EINVALID || !strings.Contains(err.Error(), "transactions[1]: buyer_id: not valid UTF-8") {
		t.Fatalf("Compute: err = %v", err)
	}

	// The rows the batch accepted give the batch's features online.
	valid := []Tx{r12Rows[0], r12Rows[2], r12Rows[3]}
	rows, err := ComputeRows(ctx, db, r12AsOf, true, valid)
	if err != nil || len(rows) != 1 {
		t.Fatalf("ComputeRows over the valid rows: %d rows, %v", len(rows), err)
	}
	compareRow(t, "ComputeRows", batch, rows[0])
	got, ok, err := o.Compute(ctx, r12AsOf, true, valid)
	if err != nil || !ok {
		t.Fatalf("Compute over the valid rows: ok %v err %v", ok, err)
	}
	compareRow(t, "Compute", batch, got)
	_, bad, got, ok, _, err := o.ValidateAndComputeFrom(ctx, r12AsOf, nil, validRows(t, o, valid[:1]), valid[1:], nil)
	if err != nil || bad != nil || !ok {
		t.Fatalf("ValidateAndComputeFrom over the valid rows: bad %v ok %v err %v", bad, ok, err)
	}
	compareRow(t, "ValidateAndComputeFrom", batch, got)

	// A history without buyer ids (hasBuyer false) is a file without the
	// column: the buyer text is not read, so it is not refused either.
	// All 4 sales count: 10+20+30+40 = 100.
	rows, err = ComputeRows(ctx, db, r12AsOf, false, r12Rows)
	if err != nil || len(rows) != 1 {
		t.Fatalf("ComputeRows without buyers: %d rows, %v", len(rows), err)
	}
	r44want(t, rows[0], "sales_amount_30d", 100)
	if v := r44num(t, rows[0], "unique_buyers_90d"); v != nil {
		t.Errorf("unique_buyers_90d = %v without buyer ids, want NULL", *v)
	}
}

// TestR12NonUTF8RequiredFieldSameReasonOnline: a required field that is not
// UTF-8 has the batch's reason online too ("ts: not valid UTF-8"; online it
// was "ts: missing", as DuckDB's appender stored NULL).
func TestR12NonUTF8RequiredFieldSameReasonOnline(t *testing.T) {
	ctx := context.Background()
	rows := []Tx{
		{MerchantID: "m1", TS: r12TS, Amount: "10", Type: "sale", BuyerID: "b1"},
		{MerchantID: "m1", TS: "2024-06-20\xff10:00:00", Amount: "10", Type: "sale", BuyerID: "b1"},
	}
	p := r12CSV(t, t.TempDir(), "tx.csv", rows)
	_, _, rej := r44run(t, r12AsOf, 1, p)
	if len(rej) != 1 || rej[0][1] != "3" || rej[0][2] != "ts: not valid UTF-8" {
		t.Fatalf("batch rejects %q", rej)
	}
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	want := RowError{Index: 1, Field: "ts", Reason: "not valid UTF-8"}
	if _, bad, err := o.Validate(ctx, rows); err != nil || len(bad) != 1 || bad[0] != want {
		t.Fatalf("Validate: bad %+v err %v, want [%+v]", bad, err, want)
	}
	if _, bad, _, _, _, err := o.ValidateAndComputeFrom(ctx, r12AsOf, nil, nil, rows, nil); err != nil || len(bad) != 1 || bad[0] != want {
		t.Fatalf("ValidateAndComputeFrom: bad %+v err %v, want [%+v]", bad, err, want)
	}
}

// TestR12CleanRunRemovesStaleRejects: run 1 to OUT with one bad row writes
// OUT.rejects.csv (1 record); run 2, clean, to the same OUT removes it: no
// rejects file beside the fresh output. The same holds for an explicit
// --rejects path.
func TestR12CleanRunRemovesStaleRejects(t *testing.T) {
	dir := t.TempDir()
	// One bad amount (line 3): the rejects file does not hang on the buyer fix.
	bad := r12CSV(t, dir, "bad.csv", []Tx{r12Rows[0], {MerchantID: "m1", TS: r12TS, Amount: "-1", Type: "sale"}, r12Rows[2]})
	clean := r12CSV(t, dir, "clean.csv", []Tx{r12Rows[0], r12Rows[2]})
	for _, explicit := range []string{"", filepath.Join(dir, "my-rejects.csv")} {
		out := filepath.Join(dir, "features.parquet")
		rejects := explicit
		if rejects == "" {
			rejects = out + ".rejects.csv"
		}
		rep, err := Run(context.Background(), Options{Paths: []string{bad}, AsOf: r12AsOf, Out: out, Rejects: explicit, MaxRejectRate: 1, TempDir: t.TempDir()})
		if err != nil || rep.Rejected != 1 || rep.Rejects != rejects {
			t.Fatalf("run 1: %v, report %+v", err, rep)
		}
		if recs := readCSV(t, rejects); len(recs) != 1 { // readCSV drops the header
			t.Fatalf("run 1: rejects %q", recs)
		}
		rep, err = Run(context.Background(), Options{Paths: []string{clean}, AsOf: r12AsOf, Out: out, Rejects: explicit, MaxRejectRate: 1, TempDir: t.TempDir()})
		if err != nil || rep.Rejected != 0 || rep.Rejects != "" {
			t.Fatalf("run 2: %v, report %+v", err, rep)
		}
		if _, err := os.Stat(rejects); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("rejects %q: the clean run left run 1's rejects file (stat: %v)", explicit, err)
		}
		// Run 2's output: 2 sales of 10 and 30.
		rows := readBack(t, out)
		if len(rows) != 1 {
			t.Fatalf("run 2: %d rows", len(rows))
		}
		r44want(t, rows[0], "sales_amount_30d", 40)
	}
}

// TestR12CleanRunKeepsWhatIsNotARejectsFile: the clean run removes only a
// rejects file (its header file,line,reason,raw): a --rejects path that
// names anything else, here the input itself, is left alone. Since
// helper-52 a --rejects naming an input is refused before the run
// (checkOutputPaths, EINVALID on rejects); the input stays as it was.
func TestR12CleanRunKeepsWhatIsNotARejectsFile(t *testing.T) {
	dir := t.TempDir()
	clean := r12CSV(t, dir, "clean.csv", []Tx{r12Rows[0]})
	before, err := os.ReadFile(clean)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "f.csv")
	_, err = Run(context.Background(), Options{Paths: []string{clean}, AsOf: r12AsOf, Out: out, Rejects: clean, MaxRejectRate: 1, TempDir: t.TempDir()})
	var le *lend.Error
	if !errors.As(err, &le) || le.Code != lend.EINVALID || le.Field != "rejects" {
		t.Fatalf("--rejects naming the input: %v, want EINVALID on rejects", err)
	}
	after, err := os.ReadFile(clean)
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the input named as --rejects was changed or removed: %v", err)
	}
	// A --rejects naming a file that is neither an input nor a rejects file.
	notes := filepath.Join(dir, "notes.csv")
	if err := os.WriteFile(notes, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), Options{Paths: []string{clean}, AsOf: r12AsOf, Out: out, Rejects: notes, MaxRejectRate: 1, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(notes); err != nil || string(b) != "keep me\n" {
		t.Fatalf("a --rejects file that is no rejects file was changed or removed: %v %q", err, b)
	}
}

// TestR12FailedRunKeepsEarlierFiles: a run that fails leaves nothing
// half-written. Run 1 (one reject) writes OUT and OUT.rejects.csv. Run 2,
// clean, fails writing its output (OUT.tmp is a directory): the earlier
// output and its rejects stay, both run 1's. Run 3 fails its reject
// threshold (1 of 4 rows, 25% > 10%): the earlier output stays unchanged and
// the rejects file is run 3's (as docs/ARCHITECTURE.md says).
func TestR12FailedRunKeepsEarlierFiles(t *testing.T) {
	dir := t.TempDir()
	bad := r12CSV(t, dir, "bad.csv", r12Rows)
	clean := r12CSV(t, dir, "clean.csv", []Tx{r12Rows[0]})
	bad3 := r12CSV(t, dir, "bad3.csv", []Tx{r12Rows[0], r12Rows[0], r12Rows[0], {MerchantID: "m1", TS: r12TS, Amount: "-1", Type: "sale"}})
	out := filepath.Join(dir, "features.csv")
	rejects := out + ".rejects.csv"
	run := func(path string, rate float64) error {
		_, err := Run(context.Background(), Options{Paths: []string{path}, AsOf: r12AsOf, Out: out, MaxRejectRate: rate, TempDir: t.TempDir()})
		return err
	}
	if err := run(bad, 1); err != nil {
		t.Fatal(err)
	}
	out1, _ := os.ReadFile(out)
	rej1, _ := os.ReadFile(rejects)
	// A directory that is not empty: writeOutput's cleanup cannot remove it.
	if err := os.Mkdir(out+".tmp", 0o755); err != nil {
		t.Fatal(err)
	}
	r44write(t, out+".tmp", "keep", "x")
	if err := run(clean, 1); err == nil {
		t.Fatal("run 2 wrote its output through a directory")
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, out1) {
		t.Error("run 2 changed the output")
	}
	if got, _ := os.ReadFile(rejects); !bytes.Equal(got, rej1) {
		t.Error("run 2 (failed) removed or changed run 1's rejects")
	}
	if err := os.RemoveAll(out + ".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := run(bad3, 0.10); lend.ErrorCode(err) != lend.EUNPROCESSABLE {
		t.Fatalf("run 3: err %v, want EUNPROCESSABLE", err)
	}
	if got, _ := os.ReadFile(out); !bytes.Equal(got, out1) {
		t.Error("run 3 changed the output")
	}
	recs := readCSV(t, rejects)
	if len(recs) != 1 || recs[0][0] != bad3 || recs[0][1] != "5" || recs[0][2] != "amount: must be > 0" {
		t.Errorf("run 3 rejects %q, want bad3.csv line 5", recs)
	}
}
