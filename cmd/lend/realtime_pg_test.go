package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/loans"
	loanspg "github.com/lendhq/lend/loans/postgres"
	"github.com/lendhq/lend/loans/postgres/pgtest"
	"github.com/lendhq/lend/realtime"
	"github.com/lendhq/lend/scoring"
)

// rtIngest posts rows as NDJSON to POST /v1/merchants/{m}/transactions.
func rtIngest(t *testing.T, key, base, m, idem string, rows []realtime.Transaction) call {
	t.Helper()
	var b bytes.Buffer
	for _, r := range rows {
		line, _ := json.Marshal(r)
		b.Write(line)
		b.WriteByte('\n')
	}
	req, _ := http.NewRequest("POST", base+"/v1/merchants/"+m+"/transactions", &b)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", api.NDJSONContentType)
	req.Header.Set("Idempotency-Key", idem)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return call{res.StatusCode, body}
}

// TestRealtimeTwoServersOneDatabase: two `lend serve` processes on one
// PostgreSQL database ingest one merchant's transactions in turn. Server A
// stores 49 days of 100.00 sales (days 7 to 55 before now), server B the
// last week's 50.00 a day (days 0 to 6). Both answer 201 with the line
// re-decided by the real-time source; B's signals count A's rows (the 8
// weeks before the recent week hold 4,900.00: 612.50 a week), which B could
// only have read from the shared database; A's key replayed on B returns A's
// answer byte for byte; the line's history shows both changes.
func TestRealtimeTwoServersOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	db, _ := pgtest.SchemaURL(t)
	ctx := context.Background()
	st, err := loanspg.Open(ctx, db, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const m = "m_rt"
	if _, err := st.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: m, Currency: "EUR", LimitMinor: 500_000, APR: 180000, Grade: "B", ModelID: "t", AsOf: "2026-01-01"}}); err != nil {
		t.Fatal(err)
	}
	out, err := lendCmd(t, "keys", "create", "--role", "service", "--db", db).Output()
	if err != nil {
		t.Fatalf("lend keys create: %v", err)
	}
	key := string(bytes.TrimSpace(out))
	// Each server has its own data directory with the golden model, which
	// it registers and activates on start.
	gm, err := scoring.LoadFile(filepath.Join("..", "..", "scoring", "testdata", "golden_model.json"))
	if err != nil {
		t.Fatal(err)
	}
	if gm.ID, err = gm.ComputeID(); err != nil {
		t.Fatal(err)
	}
	model, err := gm.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var servers []string
	for range 2 {
		data := t.TempDir()
		if err := os.WriteFile(filepath.Join(data, "model.json"), model, 0o644); err != nil {
			t.Fatal(err)
		}
		base, _ := startServerData(t, db, data)
		servers = append(servers, base)
	}
	a, b := servers[0], servers[1]

	// Rows an hour off a whole number of days before now, so the 7-day and
	// 63-day windows of the signals (measured from each server's now, a
	// little later) put day d < 7 in the recent week and 7 <= d < 63 in the
	// 8 weeks before it.
	now := time.Now().UTC()
	days := func(from, to int, amount string) []realtime.Transaction {
		var rows []realtime.Transaction
		for d := to; d >= from; d-- {
			ts := now.Add(-time.Duration(d)*24*time.Hour - time.Hour)
			rows = append(rows, realtime.Transaction{TS: ts.Format(time.RFC3339), Amount: amount, Type: "sale", BuyerID: fmt.Sprintf("b%d", d%5)})
		}
		return rows
	}
	decode := func(who string, c call) realtime.IngestResult {
		t.Helper()
		if c.status != http.StatusCreated {
			t.Fatalf("ingest on %s: %d %s", who, c.status, c.body)
		}
		var r realtime.IngestResult
		if err := json.Unmarshal(c.body, &r); err != nil {
			t.Fatal(err)
		}
		if r.CreditLine == nil || r.Change == nil || r.Change.Source != loans.SourceRealtime {
			t.Fatalf("ingest on %s did not re-decide the line: %s", who, c.body)
		}
		return r
	}
	first := rtIngest(t, key, a, m, "batch-a", days(7, 55, "100.00"))
	ra := decode("A", first)
	if ra.Accepted != 49 || ra.Signals.RecentSalesMicro != 0 || ra.Signals.PriorWeeklyMicro != 612_500_000 {
		t.Fatalf("A: accepted %d, signals %+v; want 49, 0 recent, 612.50 a week before", ra.Accepted, ra.Signals)
	}
	rb := decode("B", rtIngest(t, key, b, m, "batch-b", days(0, 6, "50.00")))
	if rb.Accepted != 7 || rb.Signals.RecentSalesMicro != 350_000_000 || rb.Signals.PriorWeeklyMicro != 612_500_000 {
		t.Fatalf("B: accepted %d, signals %+v; want 7, 350.00 recent and A's 612.50 a week before", rb.Accepted, rb.Signals)
	}
	if rb.BatchID <= ra.BatchID {
		t.Fatalf("batch ids %d on A, then %d on B", ra.BatchID, rb.BatchID)
	}

	// A records its answer just after sending it: wait for the record, then
	// replay A's key on B.
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var recorded bool
		if err := conn.QueryRow(ctx, `SELECT response IS NOT NULL FROM rt_batches WHERE merchant_id = $1 AND id = $2`, m, ra.BatchID).Scan(&recorded); err != nil {
			t.Fatal(err)
		}
		if recorded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A never recorded its answer")
		}
	}
	again := rtIngest(t, key, b, m, "batch-a", days(7, 55, "100.00"))
	if again.status != http.StatusCreated || !bytes.Equal(again.body, first.body) {
		t.Fatalf("replay of A's key on B: %d\n%s\nwant A's answer\n%s", again.status, again.body, first.body)
	}
	if c := rtIngest(t, key, b, m, "batch-a", days(0, 0, "1.00")); c.status != http.StatusUnprocessableEntity {
		t.Fatalf("A's key with another body on B: %d %s, want 422", c.status, c.body)
	}

	// The line's history, read from A, holds both re-decisions.
	req, _ := http.NewRequest("GET", a+"/v1/merchants/"+m+"/credit-line/history", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var page struct {
		Items []loans.CreditLineChange `json:"items"`
	}
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != 200 {
		t.Fatalf("history: %d %v", res.StatusCode, err)
	}
	seen := map[int64]bool{}
	for _, c := range page.Items {
		if c.Source == loans.SourceRealtime {
			seen[c.ID] = true
		}
	}
	if len(seen) != 2 || !seen[ra.Change.ID] || !seen[rb.Change.ID] {
		t.Fatalf("real-time changes in the history %v, want A's %d and B's %d", seen, ra.Change.ID, rb.Change.ID)
	}
}
