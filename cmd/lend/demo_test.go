package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
	"github.com/lendhq/lend/scoring"
)

type demoEngine struct{ e *scoring.Engine }

func (d demoEngine) Engine() (*scoring.Engine, error) { return d.e, nil }

// TestDemoMerchantPassesRiskRules: once the demo has stored the demo
// merchant's history in the real-time store (moved to end yesterday), the
// README's application (1,000.00) and draw (50.00) pass the real-time risk
// rules at any time of the first day — the rules read the last week against
// the 8 before it, measured from the clock — and the merchant holds an
// approved line larger than the application.
func TestDemoMerchantPassesRiskRules(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo portfolio")
	}
	ctx := context.Background()
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	if _, err := pipeline.Demo(ctx, pipeline.DemoOptions{DataDir: dir, MerchantID: demoMerchantID, Now: day.Add(9 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	st, err := loanssqlite.Open(filepath.Join(dir, pipeline.DBFile), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := st.CreditLine(ctx, demoMerchantID)
	if err != nil || l.Status != loans.LineActive || l.AvailableMinor < 100_000 {
		t.Fatalf("demo line %+v, %v", l, err)
	}
	rt, err := rtsqlite.New(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	b, err := os.ReadFile(filepath.Join(dir, pipeline.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	m, err := scoring.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := scoring.NewEngine(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Duration{5 * time.Minute, 12 * time.Hour, 23*time.Hour + 55*time.Minute} {
		now := day.Add(at)
		svc, err := realtime.New(ctx, realtime.Config{Store: rt, Loans: st, Engines: demoEngine{eng}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		for _, amount := range []int64{100_000, 5_000} {
			if err := svc.CheckDraw(ctx, demoMerchantID, amount); err != nil {
				t.Errorf("at %s, %d: %v", now.Format(time.TimeOnly), amount, err)
			}
		}
		svc.Close()
	}
}
