package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/loans"
	loanspg "github.com/lendhq/lend/loans/postgres"
	"github.com/lendhq/lend/loans/postgres/pgtest"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	rtpg "github.com/lendhq/lend/realtime/postgres"
)

// lineRows are st's credit lines as "merchant status limit grade" (allLines).
func lineRows(t *testing.T, st loans.Store) []string {
	t.Helper()
	var out []string
	for _, l := range allLines(t, st) {
		out = append(out, fmt.Sprintf("%s %s %d %s", l.MerchantID, l.Status, l.LimitMinor, l.Grade))
	}
	return out
}

// TestDemoOnPostgres: `lend serve --demo --db postgres://…` over a data
// directory whose demo was built in SQLite reuses the model and opens the
// same credit lines in the empty PostgreSQL database (line for line the
// SQLite book), with the demo merchant's history in the PostgreSQL real-time
// store; a second start reuses everything.
func TestDemoOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a demo portfolio")
	}
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := pipeline.Demo(ctx, pipeline.DemoOptions{DataDir: dir, Merchants: 500, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	sq, err := loanssqlite.Open(filepath.Join(dir, pipeline.DBFile), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	want := lineRows(t, sq)
	sq.Close()
	dsn, _ := pgtest.SchemaURL(t)
	pg, err := loanspg.Open(ctx, dsn, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var log bytes.Buffer
	if err := bootstrapDemo(ctx, dir, pg, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), "the database had no credit lines") {
		t.Fatalf("log: %s", log.String())
	}
	got := lineRows(t, pg)
	if len(want) == 0 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("PostgreSQL book (%d lines) differs from the SQLite book (%d lines)", len(got), len(want))
	}
	rt, err := rtpg.New(ctx, pg.Pool())
	if err != nil {
		t.Fatal(err)
	}
	hist, err := rt.History(ctx, demoMerchantID, time.Unix(0, 0))
	if err != nil || len(hist) == 0 {
		t.Fatalf("history of %s in PostgreSQL: %d rows, %v", demoMerchantID, len(hist), err)
	}
	log.Reset()
	if err := bootstrapDemo(ctx, dir, pg, &log); err != nil || !strings.Contains(log.String(), "reusing model") {
		t.Fatalf("second start: %v\n%s", err, log.String())
	}
	if again := lineRows(t, pg); strings.Join(again, "\n") != strings.Join(want, "\n") {
		t.Fatal("the second start changed the book")
	}
}
