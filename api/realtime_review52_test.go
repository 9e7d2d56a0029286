package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/lendhq/lend/loans"
)

// TestRealtimeReview52Currency: the golden model's policy lends in USD, so a
// batch with an EUR row is refused like a batch with a bad amount (400,
// naming the row and the field, nothing stored); the same key then stores
// the batch with the row in USD ("usd" and an absent currency count as USD).
func TestRealtimeReview52Currency(t *testing.T) {
	e := newRealtimeEnv(t)
	post := func(body string) (int, []byte) {
		res := e.do("POST", "/v1/merchants/m_A/transactions", e.service, strings.NewReader(body), "Idempotency-Key", "batch-cur")
		return res.StatusCode, readBody(t, res)
	}
	st, b := post(`[{"ts":"2025-03-30T09:00:00Z","amount":"10.00","type":"sale","currency":"USD"},
		{"ts":"2025-03-30T10:00:00Z","amount":"900.00","type":"sale","currency":"EUR"},
		{"ts":"2025-03-30T11:00:00Z","amount":"1.00","type":"sale","currency":"dollars"}]`)
	if st != http.StatusBadRequest {
		t.Fatalf("EUR batch: %d %s", st, b)
	}
	for _, want := range []string{`"field":"transactions[1].currency"`, "transactions[1].currency: EUR is not the lending currency USD",
		"transactions[2].currency: not an ISO 4217 code"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("problem %s does not name %q", b, want)
		}
	}
	if strings.Contains(string(b), "transactions[0]") {
		t.Errorf("problem names the good row: %s", b)
	}
	var page struct {
		Items []loans.CreditLineChange `json:"items"`
	}
	e.mustCall(http.StatusOK, "GET", "/v1/merchants/m_A/credit-line/history", e.officer, nil, "", &page)
	if len(page.Items) != 1 {
		t.Fatalf("a refused batch changed the trail: %+v", page.Items)
	}
	st, b = post(`[{"ts":"2025-03-30T09:00:00Z","amount":"10.00","type":"sale","currency":"USD"},
		{"ts":"2025-03-30T10:00:00Z","amount":"900.00","type":"sale","currency":"usd"},
		{"ts":"2025-03-30T11:00:00Z","amount":"1.00","type":"sale"}]`)
	if st != http.StatusCreated {
		t.Fatalf("USD batch under the same key: %d %s", st, b)
	}
	var r ingestResp
	if err := json.Unmarshal(b, &r); err != nil || r.Accepted != 3 {
		t.Fatalf("USD batch: accepted %d (%v), want 3: %s", r.Accepted, err, b)
	}
}
