package api_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/lendhq/lend/loans"
)

var updateDecisions = flag.Bool("update.decisions", false, "rewrite testdata/decisions.golden")

// TestDecisionResponsesGolden pins the bytes of POST /v1/applications
// responses — approved, counter-offer and declined decisions, each method,
// a merchant without a line, the first answer and its replay — to
// testdata/decisions.golden, written by the build before the decision
// response got its hand-written encoder (regenerate with -update.decisions
// only for an intended change, and review the diff).
func TestDecisionResponsesGolden(t *testing.T) {
	e := newLoansEnv(t)
	e.loans.SetClock(e.clock.Now) // created_at from the test's clock
	cases := []struct {
		name, key string
		body      map[string]any
	}{
		{"approved annuity", e.merchA, map[string]any{"amount_minor": 500_000, "term_months": 12}},
		{"counter-offer", e.merchA, map[string]any{"amount_minor": 2_000_000, "term_months": 6}},
		{"equal-principal", e.merchB, map[string]any{"amount_minor": 123_456, "term_months": 7, "method": "equal-principal"}},
		{"interest-only", e.merchB, map[string]any{"amount_minor": 300_000, "term_months": 3, "method": "interest-only"}},
		{"one month", e.merchA, map[string]any{"amount_minor": 1, "term_months": 1}},
		{"declined, no line", e.service, map[string]any{"merchant_id": "m_none", "amount_minor": 10_000, "term_months": 12}},
	}
	var buf bytes.Buffer
	for i, tc := range cases {
		idem := fmt.Sprintf("golden-%d", i)
		for _, round := range []string{"first", "replay"} {
			st, b := e.call("POST", "/v1/applications", tc.key, tc.body, idem)
			if st != 201 {
				t.Fatalf("%s (%s): %d %s", tc.name, round, st, b)
			}
			fmt.Fprintf(&buf, "# %s (%s)\n", tc.name, round)
			buf.Write(b)
		}
	}
	// Frozen line: declined with the line's reasons.
	if _, err := e.loans.UpsertCreditLines(context.Background(), []loans.CreditLineUpdate{{MerchantID: "m_B", Currency: "USD",
		LimitMinor: 0, APR: 180_000, Grade: "E", Reasons: []string{"sales_down", "returns_up"}, ModelID: "model-2", AsOf: "2025-03-31"}}); err != nil {
		t.Fatal(err)
	}
	st, b := e.call("POST", "/v1/applications", e.merchB, map[string]any{"amount_minor": 10_000, "term_months": 12}, "golden-no-limit")
	if st != 201 {
		t.Fatalf("no limit: %d %s", st, b)
	}
	buf.WriteString("# declined, no limit (first)\n")
	buf.Write(b)

	const golden = "testdata/decisions.golden"
	if *updateDecisions {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("decision responses differ from %s:\n%s", golden, buf.String())
	}
}

// A decision with a year's schedule (past net/http's 2 KiB chunking
// threshold), its replay and a problem all state their Content-Length, so a
// client knows the size up front and the body goes unchunked.
func TestResponsesStateContentLength(t *testing.T) {
	e := newLoansEnv(t)
	body := []byte(`{"amount_minor":500000,"term_months":24}`)
	for _, tc := range []struct {
		name, idem string
		body       []byte
		status     int
	}{
		{"decision", "cl-1", body, 201},
		{"replay", "cl-1", body, 201},
		{"problem", "cl-2", []byte(`{"amount_minor":500000,"term_months":24,"x":1}`), 400},
	} {
		res := e.do("POST", "/v1/applications", e.merchA, bytes.NewReader(tc.body), "Idempotency-Key", tc.idem)
		b := readBody(t, res)
		if res.StatusCode != tc.status || res.ContentLength != int64(len(b)) || len(res.TransferEncoding) != 0 {
			t.Fatalf("%s: status %d, Content-Length %d, Transfer-Encoding %v, body %d bytes",
				tc.name, res.StatusCode, res.ContentLength, res.TransferEncoding, len(b))
		}
		if tc.name == "decision" && len(b) <= 2048 {
			t.Fatalf("the decision is %d bytes: not past the chunking threshold the test is about", len(b))
		}
	}
}
