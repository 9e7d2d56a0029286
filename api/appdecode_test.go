package api

import (
	"bytes"
	"testing"
)

// FuzzDecodeApplication: whatever body parseApplication accepts, DecodeJSON
// (encoding/json, unknown fields refused, trailing data refused) accepts too
// and decodes to the same request; and the documented plain form is accepted
// (so the fast path is what runs for real clients).
func FuzzDecodeApplication(f *testing.F) {
	for _, s := range []string{
		`{"amount_minor":500000,"term_months":12}`,
		` { "merchant_id" : "m_1", "amount_minor": 1, "term_months": 60, "product": "term", "method": "equal-principal" } ` + "\n",
		`{}`, `{"amount_minor":-0}`, `{"amount_minor":01}`, `{"amount_minor":1e3}`, `{"amount_minor":1.0}`,
		`{"amount_minor":9223372036854775808}`, `{"Amount_Minor":5}`, `{"amount_minor":1,"amount_minor":2}`,
		`{"merchant_id":"a\"b"}`, `{"merchant_id":"caf\u00e9"}`, `{"merchant_id":"<&>"}`, `{"merchant_id":null}`,
		`{"term_months":12}x`, `{"term_months":12}{}`, `{"x":1}`, `[]`, ``, `{"amount_minor":1,}`, `{,}`,
		"{\"merchant_id\":\"\xff\"}", `{"merchant_id":"m"` + "\t" + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast applicationRequest
		if !parseApplication(b, &fast) {
			return
		}
		var std applicationRequest
		if err := decodeJSON(bytes.NewReader(b), &std); err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refuses it: %v", b, err)
		}
		if fast != std {
			t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, std)
		}
	})
}

// TestParseApplicationTakesPlainBodies: the bodies clients send go through
// the fast path, and the unusual ones are left to encoding/json.
func TestParseApplicationTakesPlainBodies(t *testing.T) {
	for _, c := range []struct {
		body string
		fast bool
	}{
		{`{"amount_minor":500000,"term_months":12}`, true},
		{"{\n  \"merchant_id\": \"m_A\",\n  \"amount_minor\": 2000000,\n  \"term_months\": 6,\n  \"method\": \"interest-only\"\n}\n", true},
		{`{"amount_minor":500000,"term_months":12,"extra":1}`, false},
		{`{"amount_minor":500000,"amount_minor":12}`, false},
		{`{"AMOUNT_MINOR":500000}`, false},
		{`{"merchant_id":"m\u0041"}`, false},
		{`{"amount_minor":5e5}`, false},
		{`{"amount_minor":"500000"}`, false},
		{`{"amount_minor":500000} {}`, false},
	} {
		var r applicationRequest
		if got := parseApplication([]byte(c.body), &r); got != c.fast {
			t.Errorf("%q: fast path %v, want %v", c.body, got, c.fast)
		}
	}
}
