package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/synth"
)

type oneEngine struct{ e *scoring.Engine }

func (o oneEngine) Engine() (*scoring.Engine, error) { return o.e, nil }

// TestDemoHistoryFeedsRealtime: the demo stores its key merchant's generated
// transactions in the real-time store, every one moved by the same whole
// number of days (2026-01-01 → 2026-11-25: 328) so the history ends
// yesterday; a sale sent through the feed then re-decides the line on that
// history and the sale: the line stays active and does not fall by a tenth.
func TestDemoHistoryFeedsRealtime(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 3,000-merchant portfolio")
	}
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 14, 30, 0, 0, time.UTC)
	const merchant = "m0000081" // cmd/lend's demo merchant
	var log bytes.Buffer
	if _, err := Demo(ctx, DemoOptions{DataDir: dir, MerchantID: merchant, Now: now, Out: &log}); err != nil {
		t.Fatalf("demo: %v\n%s", err, log.String())
	}
	// The generated rows, read straight from the Parquet file.
	db, err := features.OpenDB(0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var firstUs, lastUs int64
	err = db.QueryRow("SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM read_parquet(?) WHERE merchant_id = ?",
		filepath.Join(dir, DemoDir, synth.TransactionsParquet), merchant).Scan(&n, &firstUs, &lastUs)
	db.Close()
	if err != nil || n == 0 {
		t.Fatalf("parquet: %d rows, %v", n, err)
	}
	const shiftUs = 328 * 86_400_000_000
	st, err := loanssqlite.Open(filepath.Join(dir, DBFile), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rt, err := rtsqlite.New(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	hist, err := rt.History(ctx, merchant, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != n || hist[0].TSUs != firstUs+shiftUs || hist[len(hist)-1].TSUs != lastUs+shiftUs {
		t.Fatalf("stored %d rows from %d to %d µs; want %d from %d to %d", len(hist), hist[0].TSUs, hist[len(hist)-1].TSUs, n, firstUs+shiftUs, lastUs+shiftUs)
	}
	if last := time.UnixMicro(hist[len(hist)-1].TSUs).UTC(); last.Format(time.DateOnly) != "2026-11-24" {
		t.Fatalf("history ends %s, want yesterday 2026-11-24", last)
	}

	before, err := st.CreditLine(ctx, merchant)
	if err != nil || before.Status != loans.LineActive || before.LimitMinor <= 0 {
		t.Fatalf("demo line of %s: %+v %v", merchant, before, err)
	}
	eng, err := scoring.LoadEngine(filepath.Join(dir, ModelFile), "")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := realtime.New(ctx, realtime.Config{Store: rt, Loans: st, Engines: oneEngine{eng}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	body, err := svc.Ingest(ctx, merchant, "feed-1", "h1", []realtime.Transaction{{TS: "2026-11-25T09:00:00Z", Amount: "120.50", Type: "sale", BuyerID: "b1"}})
	if err != nil {
		t.Fatal(err)
	}
	var res realtime.IngestResult
	if err := json.Unmarshal(body, &res); err != nil || res.CreditLine == nil {
		t.Fatalf("ingest result %s: %v", body, err)
	}
	after := res.CreditLine
	t.Logf("line of %s: limit %d → %d, status %s → %s, grade %s → %s", merchant, before.LimitMinor, after.LimitMinor, before.Status, after.Status, before.Grade, after.Grade)
	if after.Status != loans.LineActive || after.LimitMinor*10 < before.LimitMinor*9 {
		t.Fatalf("after one sale on its history the line is %s with limit %d (was %d)", after.Status, after.LimitMinor, before.LimitMinor)
	}
}

// TestDemoRefusesNonEmptyDatabase: the demo writes synthetic credit lines
// only into an empty database: a fresh data directory over a database that
// already holds a line is refused before anything is generated or written.
func TestDemoRefusesNonEmptyDatabase(t *testing.T) {
	ctx := context.Background()
	st, err := loanssqlite.Open(filepath.Join(t.TempDir(), "real.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "real-1", Currency: "EUR", LimitMinor: 500_000, APR: 180000, Grade: "B", ModelID: "t", AsOf: "2026-01-01"}}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, err = Demo(ctx, DemoOptions{DataDir: dir, Store: st, Merchants: 50})
	if lend.ErrorCode(err) != lend.EINVALID || !strings.Contains(err.Error(), "already holds credit lines") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the refused demo left %d entries in its data directory", len(entries))
	}
	lines, _, err := st.ListCreditLines(ctx, loans.CreditLineFilter{Limit: 10})
	if err != nil || len(lines) != 1 {
		t.Fatalf("the database holds %d lines (%v), want the one it had", len(lines), err)
	}
}
