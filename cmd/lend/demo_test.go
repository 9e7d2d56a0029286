package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lendhq/lend/auth"
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
	eng, err := scoring.LoadEngine(filepath.Join(dir, pipeline.ModelFile), "")
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
	// Ten days later, without a transaction in between: the restart tops the
	// history up to yesterday again (else the empty last week would be a
	// sales collapse and decline the README's application).
	later := day.AddDate(0, 0, 10)
	if _, err := pipeline.Demo(ctx, pipeline.DemoOptions{DataDir: dir, MerchantID: demoMerchantID, Now: later.Add(9 * time.Hour), Store: st, Realtime: rt}); err != nil {
		t.Fatal(err)
	}
	hist, err := rt.History(ctx, demoMerchantID, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if last := time.UnixMicro(hist[len(hist)-1].TSUs).UTC(); !last.Before(later) || last.Before(later.AddDate(0, 0, -1)) {
		t.Fatalf("after the restart the history ends %s, want on %s", last, later.AddDate(0, 0, -1).Format(time.DateOnly))
	}
	now := later.Add(12 * time.Hour)
	svc, err := realtime.New(ctx, realtime.Config{Store: rt, Loans: st, Engines: demoEngine{eng}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if err := svc.CheckDraw(ctx, demoMerchantID, 100_000); err != nil {
		t.Errorf("ten days later: %v", err)
	}
	// A server left running: ten more days on, the same service declines
	// (the empty stretch reads as a sales collapse) until the daily top-up a
	// running `lend serve --demo` does (demoTopUp, through its own handle on
	// the store) has run.
	now = later.AddDate(0, 0, 10).Add(12 * time.Hour)
	if err := svc.CheckDraw(ctx, demoMerchantID, 100_000); err == nil {
		t.Fatal("control: twenty days on without a top-up the draw passed, so this test cannot see the top-up")
	}
	rt2, err := rtsqlite.New(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close()
	if err := demoTopUp(ctx, dir, rt2, now); err != nil {
		t.Fatal(err)
	}
	// The service keeps a merchant's risk signals for CacheTTL (15 minutes).
	now = now.Add(realtime.DefaultRules().CacheTTL + time.Minute)
	if err := svc.CheckDraw(ctx, demoMerchantID, 100_000); err != nil {
		t.Errorf("after the running server's daily top-up: %v", err)
	}
}

// TestDemoKeysWork: a demo keys file is reused only while its keys
// authenticate on the database served, with their roles, the merchant key
// bound to the demo merchant.
func TestDemoKeysWork(t *testing.T) {
	ctx := context.Background()
	store, err := openAuthStore(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	other, err := openAuthStore(ctx, filepath.Join(t.TempDir(), "b.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	now := time.Now()
	_, officer, _ := auth.Issue(ctx, store, auth.RoleOfficer, "", now)
	_, merchant, _ := auth.Issue(ctx, store, auth.RoleMerchant, demoMerchantID, now)
	_, old, _ := auth.Issue(ctx, store, auth.RoleMerchant, "m0000002", now)
	file := func(o, m, id string) string {
		return "LEND_OFFICER_KEY=" + o + "\nLEND_MERCHANT_KEY=" + m + "\nLEND_MERCHANT_ID=" + id + "\n"
	}
	for _, c := range []struct {
		name  string
		store auth.KeyStore
		file  string
		want  bool
	}{
		{"working", store, file(officer, merchant, demoMerchantID), true},
		{"another database", other, file(officer, merchant, demoMerchantID), false},
		{"bound to the old demo merchant", store, file(officer, old, "m0000002"), false},
		{"no merchant id line", store, "LEND_OFFICER_KEY=" + officer + "\nLEND_MERCHANT_KEY=" + merchant + "\n", false},
		{"roles swapped", store, file(merchant, officer, demoMerchantID), false},
	} {
		if got := demoKeysWork(ctx, c.store, c.file); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
