package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/scoring/fsregistry"
)

// Guard rail configuration of the scenario: 1 % of the limit a day, at
// least 10.00, so the bound is visible within a few days.
const (
	rtIncreaseBps = 100
	rtMinIncrease = 1_000
)

// realtimeEnv is loansEnv with the real-time service wired in: transactions
// in the loans database file, the golden model active in a real registry.
type realtimeEnv struct {
	*loansEnv
	svc *realtime.Service
}

func newRealtimeEnv(t *testing.T) *realtimeEnv {
	t.Helper()
	reg, err := fsregistry.Open(filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := scoring.LoadFile(filepath.Join("..", "scoring", "testdata", "golden_model.json"))
	if err != nil {
		t.Fatal(err)
	}
	m.ID, _ = m.ComputeID()
	if _, err := reg.Register(m); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Activate(m.ID); err != nil {
		t.Fatal(err)
	}
	var svc *realtime.Service
	e := newLoansEnvWith(t, func(c *api.Config) {
		st, err := rtsqlite.New(context.Background(), c.Loans.(*loanssqlite.Store).DB())
		if err != nil {
			t.Fatal(err)
		}
		svc, err = realtime.New(context.Background(), realtime.Config{Store: st, Loans: c.Loans, Engines: reg, Now: c.Now,
			DailyIncreaseBps: rtIncreaseBps, MinDailyIncreaseMinor: rtMinIncrease, Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		c.Risk = svc
	})
	t.Cleanup(func() { svc.Close() })
	return &realtimeEnv{loansEnv: e, svc: svc}
}

type ingestResp struct {
	BatchID      int64                   `json:"batch_id"`
	Accepted     int                     `json:"accepted"`
	FeaturesAsOf string                  `json:"features_as_of"`
	CreditLine   *loans.CreditLine       `json:"credit_line"`
	Change       *loans.CreditLineChange `json:"change"`
	Signals      realtime.Signals        `json:"signals"`
}

type tx struct {
	TS      string `json:"ts"`
	Amount  string `json:"amount"`
	Type    string `json:"type"`
	BuyerID string `json:"buyer_id,omitempty"`
}

// ingest posts rows for merchant as NDJSON and returns status and body.
func (e *realtimeEnv) ingest(merchant, key, idem string, rows []tx) (int, []byte) {
	e.t.Helper()
	var b bytes.Buffer
	for _, r := range rows {
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	res := e.do("POST", "/v1/merchants/"+merchant+"/transactions", key, &b, "Idempotency-Key", idem, "Content-Type", api.NDJSONContentType)
	return res.StatusCode, readBody(e.t, res)
}

func (e *realtimeEnv) mustIngest(merchant, idem string, rows []tx) ingestResp {
	e.t.Helper()
	st, b := e.ingest(merchant, e.service, idem, rows)
	if st != http.StatusCreated {
		e.t.Fatalf("ingest %s: %d %s", idem, st, b)
	}
	var r ingestResp
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// day's transactions: sales of the given amounts at 09:00, 10:00, ... and refunds after them.
func dayRows(d time.Time, sales, refunds []string) []tx {
	var out []tx
	for i, a := range sales {
		out = append(out, tx{TS: d.Add(time.Duration(9+i) * time.Hour).Format(time.RFC3339), Amount: a, Type: "sale", BuyerID: fmt.Sprintf("b%d", (d.YearDay()+i)%30)})
	}
	for i, a := range refunds {
		out = append(out, tx{TS: d.Add(time.Duration(9+len(sales)+i) * time.Hour).Format("2006-01-02 15:04:05"), Amount: a, Type: "refund"})
	}
	return out
}

// TestRealtimeScenario: a healthy merchant with a year of history; over a
// week its sales collapse and refunds spike → its available line falls and a
// draw is declined with refund_spike; then it recovers and the line comes
// back, each day's increase within the daily bound (1 % of the opening limit,
// at least 10.00); every change is in the audit trail.
func TestRealtimeScenario(t *testing.T) {
	e := newRealtimeEnv(t)
	start := e.clock.Now() // 2025-03-31 12:00 UTC
	today := start.Truncate(24 * time.Hour)

	// A year of history: 120.00 of sales a day over three sales, a 2.00 refund a week.
	var year []tx
	for d := 365; d >= 1; d-- {
		var refunds []string
		if d%7 == 0 {
			refunds = []string{"2.00"}
		}
		year = append(year, dayRows(today.AddDate(0, 0, -d), []string{"40.00", "35.50", "44.50"}, refunds)...)
	}
	var healthy ingestResp
	for i := 0; i < len(year); i += 400 {
		healthy = e.mustIngest("m_A", fmt.Sprintf("year-%d", i), year[i:min(i+400, len(year))])
	}
	if healthy.CreditLine == nil || healthy.Change == nil || healthy.CreditLine.Status != loans.LineActive {
		t.Fatalf("healthy merchant: %+v", healthy)
	}
	healthyLimit := healthy.CreditLine.LimitMinor
	// The seeded 10,050.00 exceeds what a 120.00-a-day merchant supports: the
	// first re-decision lowered it at once (a decrease is never bounded).
	if healthyLimit <= 0 || healthyLimit >= limitAMinor {
		t.Fatalf("healthy limit %d, want between 0 and the seeded %d", healthyLimit, limitAMinor)
	}
	// The week is (24 Mar 12:00, 31 Mar 12:00]: 24 March's sales (09-11h) and
	// refund (12:00) fall before it, so 6 days × 120.00 = 720.00, no refund;
	// the 8 weeks before hold 56 days × 120.00 = 6720.00, 840.00 a week.
	if s := healthy.Signals; s.RecentSalesMicro != 720_000_000 || s.RecentRefundsMicro != 0 || s.PriorWeeklyMicro != 840_000_000 {
		t.Fatalf("healthy signals %+v", s)
	}
	if st, b := e.call("POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 10_000}, "draw-ok"); st != http.StatusCreated {
		t.Fatalf("healthy draw: %d %s", st, b)
	}

	// The collapse: a week of one 5.00 sale and two 30.00 refunds a day.
	var collapsed ingestResp
	for d := 0; d < 7; d++ {
		e.clock.Add(24 * time.Hour)
		collapsed = e.mustIngest("m_A", fmt.Sprintf("collapse-%d", d), dayRows(today.AddDate(0, 0, d), []string{"5.00"}, []string{"30.00", "30.00"}))
	}
	if collapsed.CreditLine.LimitMinor >= healthyLimit || collapsed.CreditLine.AvailableMinor >= healthyLimit-10_000 {
		t.Fatalf("after the collapse the line is %+v; healthy limit was %d", collapsed.CreditLine, healthyLimit)
	}
	// The week (31 Mar 12:00, 7 Apr 12:00] holds 6 collapse days (31 March's
	// rows are before noon): 6 × 5.00 of sales, 12 × 30.00 of refunds.
	if s := collapsed.Signals; s.RecentSalesMicro != 30_000_000 || s.RecentRefundsMicro != 360_000_000 {
		t.Fatalf("collapse signals %+v", s)
	}
	st, b := e.call("POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 1_000}, "draw-declined")
	if st != http.StatusUnprocessableEntity || !strings.Contains(string(b), `"field":"risk.refund_spike"`) {
		t.Fatalf("draw after the collapse: %d %s, want 422 risk.refund_spike", st, b)
	}
	if st, b := e.call("POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 50_000, "term_months": 3}, "app-declined"); st != http.StatusUnprocessableEntity || !strings.Contains(string(b), "risk.refund_spike") {
		t.Fatalf("application after the collapse: %d %s", st, b)
	}

	// Recovery: 300.00 of sales a day, no refunds; one batch a day, so each
	// day's opening limit is the limit before that day's batch.
	prev := collapsed.CreditLine.LimitMinor
	bounded := 0
	var last ingestResp
	for d := 7; d < 60; d++ {
		e.clock.Add(24 * time.Hour)
		last = e.mustIngest("m_A", fmt.Sprintf("recover-%d", d), dayRows(today.AddDate(0, 0, d), []string{"100.00", "100.00", "100.00"}, nil))
		c := last.Change
		bound := max(prev*rtIncreaseBps/10_000, rtMinIncrease)
		want := c.ProposedLimitMinor
		if want > prev+bound {
			want, bounded = prev+bound, bounded+1
		}
		if want < prev && want < c.DrawnMinor {
			want = c.DrawnMinor
		}
		if c.PrevLimitMinor != prev || c.LimitMinor != want || last.CreditLine.LimitMinor != want {
			t.Fatalf("recovery day %d: %+v; from %d with bound %d want %d", d, c, prev, bound, want)
		}
		if (c.GuardRail == loans.GuardDailyIncreaseCap) != (c.ProposedLimitMinor > prev+bound) {
			t.Fatalf("recovery day %d: guard %q for proposed %d, cap %d", d, c.GuardRail, c.ProposedLimitMinor, prev+bound)
		}
		prev = want
		if c.LimitMinor >= healthyLimit {
			break // back to where it was before the collapse
		}
	}
	t.Logf("limit: healthy %d, after the collapse %d, back to %d after %d recovery days (%d bounded)",
		healthyLimit, collapsed.CreditLine.LimitMinor, last.CreditLine.LimitMinor, int(last.Change.At.Sub(start).Hours()/24)-7, bounded)
	if bounded == 0 || last.CreditLine.LimitMinor < healthyLimit {
		t.Fatalf("recovery: %d bounded days, last %+v; healthy limit %d", bounded, last.Change, healthyLimit)
	}
	if st, b := e.call("POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 1_000}, "draw-after"); st != http.StatusCreated {
		t.Fatalf("draw after recovery: %d %s", st, b)
	}

	// The audit trail holds every re-decision, newest first, for the merchant and officers.
	var page struct {
		Items      []loans.CreditLineChange `json:"items"`
		NextCursor *string                  `json:"next_cursor"`
	}
	e.mustCall(http.StatusOK, "GET", "/v1/merchants/m_A/credit-line/history?limit=5", e.merchA, nil, "", &page)
	if len(page.Items) != 5 || page.NextCursor == nil || page.Items[0].ID != last.Change.ID || page.Items[0].Source != loans.SourceRealtime {
		t.Fatalf("history page %+v", page)
	}
	total := 0
	cursor := ""
	for {
		path := "/v1/merchants/m_A/credit-line/history?limit=500"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		e.mustCall(http.StatusOK, "GET", path, e.officer, nil, "", &page)
		total += len(page.Items)
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	// 3 history batches + 7 collapse days + the recovery days, plus the seeding refresh.
	if want := 3 + 7 + int(last.Change.At.Sub(start.Add(7*24*time.Hour))/(24*time.Hour)) + 1; total != want {
		t.Fatalf("history has %d entries, want %d", total, want)
	}
}

// TestRealtimeHistoryAuthorization: the merchant reads its own trail, officers
// and services any; another merchant gets 404; unauthenticated 401.
func TestRealtimeHistoryAuthorization(t *testing.T) {
	e := newRealtimeEnv(t)
	for _, key := range []string{e.merchA, e.officer, e.service} {
		var page struct {
			Items []loans.CreditLineChange `json:"items"`
		}
		e.mustCall(http.StatusOK, "GET", "/v1/merchants/m_A/credit-line/history", key, nil, "", &page)
		if len(page.Items) != 1 || page.Items[0].Source != loans.SourceRefresh || page.Items[0].LimitMinor != limitAMinor {
			t.Fatalf("history %+v", page.Items)
		}
	}
	if st, b := e.call("GET", "/v1/merchants/m_A/credit-line/history", e.merchB, nil, ""); st != http.StatusNotFound {
		t.Fatalf("another merchant: %d %s", st, b)
	}
	if st, _ := e.call("GET", "/v1/merchants/m_A/credit-line/history", "", nil, ""); st != http.StatusUnauthorized {
		t.Fatalf("no key: %d", st)
	}
	if st, b := e.call("GET", "/v1/merchants/m_A/credit-line/history?cursor=%25%25", e.officer, nil, ""); st != http.StatusBadRequest {
		t.Fatalf("bad cursor: %d %s", st, b)
	}
	// Only services ingest.
	rows := dayRows(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), []string{"1.00"}, nil)
	for _, key := range []string{e.merchA, e.officer} {
		if st, b := e.ingest("m_A", key, "k", rows); st != http.StatusForbidden {
			t.Fatalf("ingest with a non-service key: %d %s", st, b)
		}
	}
}

// TestRealtimeBadBatchAndReplay: a batch with bad rows is refused naming
// every bad row index and field, and nothing is stored (the same key then
// stores the corrected batch); a replay returns the first answer byte for
// byte without storing twice; the key with another batch is 422.
func TestRealtimeBadBatchAndReplay(t *testing.T) {
	e := newRealtimeEnv(t)
	d := time.Date(2025, 3, 30, 0, 0, 0, 0, time.UTC)
	bad := []tx{
		{TS: "2025-03-30T09:00:00Z", Amount: "10.00", Type: "sale"},
		{TS: "2025-03-30T10:00:00Z", Amount: "-5", Type: "sale"},
		{TS: "yesterday", Amount: "1", Type: "sale"},
		{TS: "2025-03-30T11:00:00Z", Amount: "1", Type: "gift"},
	}
	st, b := e.ingest("m_A", e.service, "batch-1", bad)
	if st != http.StatusBadRequest {
		t.Fatalf("bad batch: %d %s", st, b)
	}
	for _, want := range []string{"transactions[1].amount: must be > 0", "transactions[2].ts:", "transactions[3].type:", `"field":"transactions[1].amount"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("problem %s does not name %q", b, want)
		}
	}
	if strings.Contains(string(b), "transactions[0]") {
		t.Errorf("problem names the good row: %s", b)
	}
	// Nothing stored: no re-decision was recorded and the key is free.
	var page struct {
		Items []loans.CreditLineChange `json:"items"`
	}
	e.mustCall(http.StatusOK, "GET", "/v1/merchants/m_A/credit-line/history", e.officer, nil, "", &page)
	if len(page.Items) != 1 {
		t.Fatalf("a refused batch changed the trail: %+v", page.Items)
	}
	// A malformed element and a mismatched merchant are named too.
	res := e.do("POST", "/v1/merchants/m_A/transactions", e.service, strings.NewReader(`[{"ts":"2025-03-30T09:00:00Z","amount":"1","type":"sale"},{"ts":5}]`), "Idempotency-Key", "batch-x")
	if body := readBody(t, res); res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "transactions[1]") {
		t.Fatalf("malformed element: %d %s", res.StatusCode, body)
	}
	if st, b := e.ingest("m_A", e.service, "batch-y", []tx{{TS: "2025-03-30T09:00:00Z", Amount: "1", Type: "sale"}}); st != http.StatusCreated {
		t.Fatalf("good batch: %d %s", st, b)
	}

	good := dayRows(d, []string{"40.00", "12.5"}, []string{"3"})
	st1, b1 := e.ingest("m_A", e.service, "batch-1", good)
	if st1 != http.StatusCreated {
		t.Fatalf("corrected batch under the same key: %d %s", st1, b1)
	}
	var first ingestResp
	if err := json.Unmarshal(b1, &first); err != nil || first.Accepted != 3 {
		t.Fatalf("first %s %v", b1, err)
	}
	// The replay is the first answer, byte for byte, even after the clock moved.
	e.clock.Add(time.Hour)
	st2, b2 := e.ingest("m_A", e.service, "batch-1", good)
	if st2 != http.StatusCreated || !bytes.Equal(b1, b2) {
		t.Fatalf("replay: %d %s, want %s", st2, b2, b1)
	}
	// Nothing stored twice: the week's sales are 1.00 + 40.00 + 12.50.
	next := e.mustIngest("m_A", "batch-2", []tx{{TS: "2025-03-31T08:00:00Z", Amount: "1", Type: "refund"}})
	if next.Signals.RecentSalesMicro != 53_500_000 || next.Signals.RecentRefundsMicro != 4_000_000 {
		t.Fatalf("signals after a replay %+v", next.Signals)
	}
	if st, b := e.ingest("m_A", e.service, "batch-1", good[:1]); st != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other batch: %d %s", st, b)
	}
	// A merchant without a credit line: its rows are stored, no line is opened.
	st, b = e.ingest("m_new", e.service, "new-1", good)
	if st != http.StatusCreated || !strings.Contains(string(b), `"credit_line":null`) || !strings.Contains(string(b), `"change":null`) {
		t.Fatalf("merchant without a line: %d %s", st, b)
	}
	if st, b := e.call("GET", "/v1/merchants/m_new/credit-line", e.officer, nil, ""); st != http.StatusNotFound {
		t.Fatalf("a transaction feed opened a line: %d %s", st, b)
	}
	// A full batch is larger than the 64 KiB command limit and still accepted.
	full := make([]tx, realtime.MaxBatchRows)
	for i := range full {
		full[i] = tx{TS: "2025-03-30T09:00:00Z", Amount: "1.00", Type: "sale", BuyerID: fmt.Sprintf("buyer-with-a-longish-id-%06d", i)}
	}
	if raw, _ := json.Marshal(full); len(raw) <= api.DefaultBodyLimitBytes {
		t.Fatalf("test batch of %d bytes does not exceed the command body limit", len(raw))
	}
	if st, b := e.ingest("m_full", e.service, "batch-full", full); st != http.StatusCreated {
		t.Fatalf("full batch: %d %.200s", st, b)
	}
	// Too large: more rows than a batch may hold.
	many := make([]tx, realtime.MaxBatchRows+1)
	for i := range many {
		many[i] = tx{TS: "2025-03-30T09:00:00Z", Amount: "1", Type: "sale"}
	}
	if st, b := e.ingest("m_A", e.service, "batch-big", many); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized batch: %d %.200s", st, b)
	}
}
