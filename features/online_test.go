package features

import (
	"context"
	"database/sql"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/testutil"
)

// TestOnlineParityOlist: the online path (ComputeRows over one merchant's rows)
// equals the batch pipeline for every feature of every Olist merchant.
func TestOnlineParityOlist(t *testing.T) {
	path := testutil.SharedData(t, "olist/transactions.csv.gz")
	asOf := time.Date(2018, 6, 1, 0, 0, 0, 0, time.UTC) // mid-history: windows are partly filled
	_, batch := run(t, asOf, 0, path)
	byMerchant := map[string][]Tx{}
	for _, tx := range readTx(t, path) {
		byMerchant[tx.MerchantID] = append(byMerchant[tx.MerchantID], tx)
	}
	db := testDB(t)
	for _, b := range batch {
		got, err := ComputeRows(context.Background(), db, asOf, true, byMerchant[b.MerchantID])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%s: online gave %d rows", b.MerchantID, len(got))
		}
		for i, name := range Names() {
			if !exactlyEqual(got[0].Values[i], b.Values[i]) {
				t.Errorf("%s %s: online %s batch %s", b.MerchantID, name, fmtVal(got[0].Values[i]), fmtVal(b.Values[i]))
			}
		}
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
