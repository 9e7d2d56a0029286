package features

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// validationCases are texts at the edges of the validation's casts, each
// checked in DuckDB and in sqleval (the answers are DuckDB's: fractions past
// µs truncated, amounts rounded half away from zero, year 0000 = 1 BC).
var validationCases = []Tx{
	{MerchantID: "m", TS: "2024-01-01T10:00:00Z", Amount: "12.5", Type: "sale", BuyerID: "b"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "1", Type: "refund"},
	{MerchantID: "m", TS: "2024-01-01T10:00:00.123456789+05:30", Amount: "0.01", Type: "chargeback"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00.1234567", Amount: "1.2345675", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 23:59:59.9999999", Amount: "1.2345665", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01T10:00:00.9999999-23:59", Amount: "1.23456749999", Type: "sale"},
	{MerchantID: "m", TS: "9999-12-31T23:59:59.999999-23:59", Amount: "999999999999.9999994", Type: "sale"},
	{MerchantID: "m", TS: "0000-01-01T00:00:00+01:00", Amount: "999999999999.9999995", Type: "sale"},
	{MerchantID: "m", TS: "0000-01-01 00:00:00", Amount: "1000000000000", Type: "sale"},
	{MerchantID: "m", TS: "2023-02-29 00:00:00", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-02-29 00:00:00", Amount: "0000000000000000000000012.5", Type: "sale"},
	{MerchantID: "m", TS: "1900-02-29 00:00:00", Amount: "+5", Type: "sale"},
	{MerchantID: "m", TS: "2000-02-29T00:00:00Z", Amount: "-0", Type: "sale"},
	{MerchantID: "m", TS: "2024-00-10 00:00:00", Amount: "0.00000050", Type: "sale"},
	{MerchantID: "m", TS: "2024-04-31 00:00:00", Amount: "0.0000004999999999999999999999999", Type: "sale"},
	{MerchantID: "m", TS: "2024-13-01 00:00:00", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 24:00:00", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 23:59:60", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00+24:00", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00+05:60", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: " 2024-01-01 10:00:00", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00.", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00.1234567890", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01t10:00:00z", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "   ", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "\t", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "  ", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "1e3", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "inf", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: ".5", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "5.", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: " 5", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "-1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "0.0000001", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "1", Type: "Sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "1", Type: ""},
	{MerchantID: "", TS: "2024-01-01 10:00:00", Amount: "1", Type: "sale"},
	{MerchantID: " \t\n\v\f\r", TS: "2024-01-01 10:00:00", Amount: "1", Type: "sale"},
	{MerchantID: "\u00a0", TS: "2024-01-01 10:00:00", Amount: "1", Type: "sale"},
	{MerchantID: " m ", TS: "2024-01-01 10:00:00", Amount: "1", Type: "sale", BuyerID: ""},
	{MerchantID: "é", TS: "2024-01-01 10:00:00", Amount: "1", Type: "sale", BuyerID: "ü"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "1", Type: "sale", BuyerID: " "},
}

// validationRefused are texts sqleval must refuse (DuckDB decides): trim's
// Unicode space separators at an end.
var validationRefused = []Tx{
	{MerchantID: "m", TS: "\u00a0", Amount: "1", Type: "sale"},
	{MerchantID: "m", TS: "2024-01-01 10:00:00", Amount: "\u3000", Type: "sale"},
	{MerchantID: "m", TS: " \u2009 ", Amount: "1", Type: "sale"},
}

// validationResult is one validation's outcome as text: the row errors, or
// each row's instant (µs) and micro-units.
func validationResult(parsed []ValidTx, bad []RowError, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, e := range bad {
		fmt.Fprintf(&b, "bad %d %s: %s\n", e.Index, e.Field, e.Reason)
	}
	for _, p := range parsed {
		fmt.Fprintf(&b, "ok %d %d\n", p.TS.UnixMicro(), p.AmountMicro)
	}
	return b.String()
}

// checkValidationParity validates batch in DuckDB (Validate: the staging
// table and the batch pipeline's SQL) and in sqleval (validateEval: the same
// SQL) and fails unless both say the same. refused reports whether sqleval
// refused (allowed only when allowRefusal: DuckDB then decides).
func checkValidationParity(t *testing.T, o *Online, batch []Tx, allowRefusal bool) (refused bool) {
	t.Helper()
	want := validationResult(o.Validate(context.Background(), batch))
	o.mu.Lock()
	parsed, bad, err := o.validateEval(batch)
	o.mu.Unlock()
	if err != nil && errors.Is(err, errUnsupported) && allowRefusal {
		return true
	}
	if got := validationResult(parsed, bad, err); got != want {
		t.Fatalf("batch %q:\nsqleval: %s\nDuckDB:  %s", batch, got, want)
	}
	return false
}

// TestSQLEvalValidationMatchesDuckDB: the validation SQL run by sqleval
// (the online path) gives DuckDB's answer row for row, at the edges of the
// casts (validationCases, one row at a time and all in one batch) and over
// 3,000 random rows near the accepted forms; sqleval never refuses UTF-8
// text.
func TestSQLEvalValidationMatchesDuckDB(t *testing.T) {
	o, err := OpenOnline(context.Background(), "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for _, c := range validationCases {
		checkValidationParity(t, o, []Tx{c}, false)
	}
	checkValidationParity(t, o, validationCases, false)
	for _, c := range validationRefused {
		if !checkValidationParity(t, o, []Tx{c}, true) {
			t.Errorf("%q: sqleval answered; it must refuse", c)
		}
	}
	r := rand.New(rand.NewPCG(7, 11))
	batch := make([]Tx, 0, 30)
	for i := 0; i < 3000; i++ {
		tx := randomTx(r)
		checkValidationParity(t, o, []Tx{tx}, false)
		if batch = append(batch, tx); len(batch) == cap(batch) {
			checkValidationParity(t, o, batch, false)
			batch = batch[:0]
		}
	}
}

// randomTx is a row near the accepted forms: digits anywhere, months and
// days out of range, fraction lengths 0–11, offsets, amounts with long
// integer or fraction parts, stray spaces and letters.
func randomTx(r *rand.Rand) Tx {
	digits := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		return string(b)
	}
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	ts := fmt.Sprintf("%s-%02d-%02d%s%02d:%02d:%02d", pick(digits(4), "2024", "2000", "1900", "0000", "9999"),
		r.IntN(14), r.IntN(33), pick("T", " ", "t", "  "), r.IntN(26), r.IntN(62), r.IntN(62))
	if r.IntN(2) == 0 {
		ts += "." + digits(r.IntN(12))
	}
	ts += pick("", "", "Z", "+"+fmt.Sprintf("%02d:%02d", r.IntN(26), r.IntN(62)), "-"+fmt.Sprintf("%02d:%02d", r.IntN(25), r.IntN(61)), " ", "z", "+0530")
	amount := pick("", "+", "-") + digits(1+r.IntN(14))
	if r.IntN(3) > 0 {
		amount += "." + digits(r.IntN(10))
	}
	amount = pick(amount, amount, amount, " "+amount, amount+"x", "0"+amount)
	return Tx{MerchantID: pick("m", " ", "", "\t", "m1"), TS: ts, Amount: amount, Type: pick("sale", "refund", "chargeback", "Sale", "", "sale "), BuyerID: pick("", "b", " ")}
}

// FuzzValidateEval: whatever the text, the validation SQL run by sqleval
// gives DuckDB's answer or refuses (then DuckDB decides); it never
// disagrees and never crashes.
func FuzzValidateEval(f *testing.F) {
	for _, c := range append(validationCases[:12:12], validationRefused...) {
		f.Add(c.MerchantID, c.TS, c.Amount, c.Type, c.BuyerID)
	}
	var o *Online
	f.Fuzz(func(t *testing.T, m, ts, amount, typ, buyer string) {
		if o == nil {
			var err error
			if o, err = OpenOnline(context.Background(), "256MB"); err != nil {
				t.Fatal(err)
			}
		}
		batch := []Tx{{MerchantID: m, TS: ts, Amount: amount, Type: typ, BuyerID: buyer}}
		if strings.ContainsRune(m+ts+amount+typ+buyer, 0) {
			t.Skip("the staging appender refuses NUL bytes")
		}
		checkValidationParity(t, o, batch, true)
	})
}

// TestSQLEvalTextRefusals: a cast sqleval cannot answer exactly as DuckDB
// is an error at run time (errUnsupported), never a guessed value or a NULL
// from TRY_CAST: text outside the validation's forms, a zone-less text cast
// to TIMESTAMPTZ (DuckDB reads it in the session's time zone), a zoned one
// to TIMESTAMP, another type to VARCHAR.
func TestSQLEvalTextRefusals(t *testing.T) {
	ev := newSQLEval(map[string][]string{"t": []string{"s", "a"}})
	for _, c := range []struct {
		q string
		s string
	}{
		{"SELECT TRY_CAST(s AS TIMESTAMP) FROM t", "2024-01-01"},
		{"SELECT TRY_CAST(s AS TIMESTAMP) FROM t", "yesterday"},
		{"SELECT TRY_CAST(s AS TIMESTAMP) FROM t", "2024-01-01 10:00:00+02:00"},
		{"SELECT TRY_CAST(s AS TIMESTAMP) FROM t", "2024-01-01 24:00:00"},
		{"SELECT TRY_CAST(s AS TIMESTAMPTZ) FROM t", "2024-01-01 10:00:00"},
		{"SELECT TRY_CAST(s AS DECIMAL(18,6)) FROM t", "1e3"},
		{"SELECT TRY_CAST(s AS DECIMAL(18,6)) FROM t", " 1"},
		{"SELECT a::VARCHAR FROM t", ""},
		{"SELECT ascii(s) FROM t", "\xff"},
	} {
		p, err := ev.plan(c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		_, err = p.run(map[string][][]value{"t": {{{k: vStr, s: c.s}, {k: vDec, i: 1, scale: 6}}}})
		if err == nil || !strings.Contains(err.Error(), "not supported") && !errors.Is(err, errUnsupported) {
			t.Errorf("%s over %q: err = %v, want a refusal", c.q, c.s, err)
		}
	}
}

// TestValidateFallsBackToDuckDB: ValidateAndComputeFrom validates with
// sqleval and, for a batch sqleval refuses (text that is not UTF-8 or holds
// a NUL byte), with DuckDB, with the same answers either way.
func TestValidateFallsBackToDuckDB(t *testing.T) {
	ctx := context.Background()
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	asOf := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	good := []Tx{{MerchantID: "m", TS: "2024-01-01T10:00:00+01:00", Amount: "12.3456785", Type: "sale", BuyerID: "b"}}
	parsed, bad, _, ok, _, err := o.ValidateAndComputeFrom(ctx, asOf, nil, nil, good, nil)
	if err != nil || bad != nil || !ok || len(parsed) != 1 || parsed[0].TS.UnixMicro() != time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC).UnixMicro() || parsed[0].AmountMicro != 12_345_679 {
		t.Fatalf("sqleval: parsed %+v bad %v ok %v err %v", parsed, bad, ok, err)
	}
	if e, d, f := o.ValidationCounts(); e != 1 || d != 0 || f != 0 {
		t.Fatalf("counts after a UTF-8 batch: sqleval %d, DuckDB %d", e, d)
	}
	notUTF8 := []Tx{{MerchantID: "m", TS: "2024-01-01T10:00:00+01:00", Amount: "12.3456785", Type: "sale", BuyerID: "b\xff"}}
	parsed, bad, _, ok, _, err = o.ValidateAndComputeFrom(ctx, asOf, nil, nil, notUTF8, nil)
	if err != nil || len(bad) != 1 || bad[0] != (RowError{Index: 0, Field: "buyer_id", Reason: "not valid UTF-8"}) || ok || parsed != nil {
		t.Fatalf("DuckDB: parsed %+v bad %v ok %v err %v", parsed, bad, ok, err)
	}
	badTS := []Tx{{MerchantID: "m", TS: "2024-01-01\xff10:00:00", Amount: "1", Type: "sale"}}
	_, bad, _, _, _, err = o.ValidateAndComputeFrom(ctx, asOf, nil, nil, badTS, nil)
	if err != nil || len(bad) != 1 || bad[0].Index != 0 || bad[0].Field != "ts" {
		t.Fatalf("DuckDB, bad ts: bad %v err %v", bad, err)
	}
	nul := []Tx{{MerchantID: "m", TS: "2024-01-01T10:00:00Z", Amount: "1", Type: "sale", BuyerID: "b\x00c"}}
	want := validationResult(o.Validate(ctx, nul))
	parsed, bad, _, _, _, err = o.ValidateAndComputeFrom(ctx, asOf, nil, nil, nul, nil)
	if got := validationResult(parsed, bad, err); got != want {
		t.Fatalf("NUL byte: %s, DuckDB alone %s", got, want)
	}
	if e, d, f := o.ValidationCounts(); e != 1 || d != 3 || f != 0 {
		t.Fatalf("counts: sqleval %d, DuckDB %d; want 1, 3", e, d)
	}
}
