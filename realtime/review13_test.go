package realtime_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
)

// TestStaleFrozenLineNotCalledDelinquent: a merchant whose line the nightly
// refresh froze for stale data (missing from the sales features) and who then
// sends transactions is re-decided in real time; the line stays frozen
// (only the nightly refresh lifts that freeze, docs/POLICY.md) but the
// recorded assessment must not carry the reason "delinquent" ("You have a
// loan that is past due."), which m1, with no loan at all, is not. A line
// frozen for delinquency keeps the reason, as before.
func TestStaleFrozenLineNotCalledDelinquent(t *testing.T) {
	e := newStaleEnv(t, "2025-03-20")
	ctx, ls := context.Background(), e.ls
	if frozen, err := ls.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m1", AsOf: "2025-03-20"}}); err != nil || len(frozen) != 1 {
		t.Fatalf("freeze: %v %v", frozen, err)
	}
	l := e.ingestAndRead(t)
	if l.Status != loans.LineFrozen || l.FrozenReason != loans.FrozenByStaleData || l.LimitMinor != 500_000 {
		t.Fatalf("line after a real-time re-decision: %s/%s limit %d, want frozen/stale_data 500000", l.Status, l.FrozenReason, l.LimitMinor)
	}
	if l.AsOf != "2025-04-01" {
		t.Fatalf("line as-of %s: the re-decision was not recorded (want 2025-04-01)", l.AsOf)
	}
	if slices.Contains(l.Reasons, "delinquent") {
		t.Fatalf("a merchant with no loan, frozen for stale data, was given the reason delinquent: %v", l.Reasons)
	}
}

// staleEnv is a real-time service on a real SQLite file at 2025-03-31 12:00
// UTC, m1 holding an active line of 5,000.00 at 18% as of asOf.
type staleEnv struct {
	svc   *realtime.Service
	ls    *loanssqlite.Store
	st    *rtsqlite.Store
	clock *benchClock
	apr   loans.Rate
}

func newStaleEnv(t *testing.T, asOf string) *staleEnv {
	t.Helper()
	e := &staleEnv{clock: &benchClock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)}}
	var got seen
	e.svc, e.ls, e.st = openService(t, filepath.Join(t.TempDir(), "lend.db"), e.clock, &got)
	e.apr, _ = loans.ParseRate("apr", "0.18")
	if _, err := e.ls.UpsertCreditLines(context.Background(), []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "USD", LimitMinor: 500_000, APR: e.apr, Grade: "B", ModelID: "seed", AsOf: asOf}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// ingestAndRead stores 120 days of m1's daily sales, ingests one more sale
// (a real-time re-decision of m1's line) and returns the line as stored.
func (e *staleEnv) ingestAndRead(t *testing.T) loans.CreditLine {
	t.Helper()
	ctx := context.Background()
	seedDailySales(t, e.st, e.clock, 120)
	if _, err := e.svc.Ingest(ctx, "m1", "k1", "h1", []realtime.Transaction{{TS: "2025-03-31T11:00:00Z", Amount: "30.00", Type: "sale", BuyerID: "b1"}}); err != nil {
		t.Fatal(err)
	}
	l, err := e.ls.CreditLine(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
