package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
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
	// A repeat the same day (the running server's first tick after a start
	// that already topped up) stores nothing.
	before, err := rt.History(ctx, demoMerchantID, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := demoTopUp(ctx, dir, rt2, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if after, err := rt.History(ctx, demoMerchantID, time.Unix(0, 0)); err != nil || len(after) != len(before) || len(before) <= len(hist) {
		t.Fatalf("rows: %d after the restart, %d after the top-up, %d after a repeat the same day (%v); want more, then the same", len(hist), len(before), len(after), err)
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

// TestDemoTopUpLoop: the running server's top-up runs at the first tick
// after the start (the start's own top-up may have run on the eve: a first
// build that crossed midnight UTC; a repeat the same day stores nothing),
// then once per UTC day; a failure is logged and retried at the next tick; a
// top-up cut short by the shutdown is not logged as a failure, and the loop
// ends.
func TestDemoTopUpLoop(t *testing.T) {
	base := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return base.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	ticks := []time.Time{at(10, 0), at(11, 0), at(24, 30), at(25, 30), at(26, 30), at(48, 10), at(49, 10), at(72, 10)}
	// By hand: the first tick; nothing more that day; the next day's first
	// tick (fails) and its retry an hour later; nothing more that day; the
	// third day's first tick; nothing more; the fourth day's, cut short.
	want := []time.Time{at(10, 0), at(24, 30), at(25, 30), at(48, 10), at(72, 10)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	var got []time.Time
	topUp := func(now time.Time) error {
		got = append(got, now)
		switch {
		case now.Equal(at(24, 30)):
			return errors.New("disk full")
		case now.Equal(at(72, 10)): // the shutdown arrives during this one
			cancel()
			return ctx.Err()
		}
		return nil
	}
	ch := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		defer close(done)
		demoTopUpLoop(ctx, ch, topUp, logger)
	}()
	for _, tk := range ticks {
		ch <- tk // unbuffered: the loop has handled the tick before
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not end after the shutdown")
	}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("top-ups at %v, want %v", got, want)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "disk full") {
		t.Errorf("logged %d errors, want the one failure (disk full):\n%s", n, logs.String())
	}
}

// TestStartDemoTopUpStops: stop returns (the loop ended, the handle is
// released) before the loans store closes, as serve's defers run.
func TestStartDemoTopUpStops(t *testing.T) {
	st, err := loanssqlite.Open(filepath.Join(t.TempDir(), "lend.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stop, err := startDemoTopUp(context.Background(), t.TempDir(), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("stop did not return")
	}
}
