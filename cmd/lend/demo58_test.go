package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
)

// --demo-merchants is refused, naming the flag, before anything is built
// (the data directory stays empty): outside 1..MaxDemoMerchants, or without
// --demo.
func TestServeDemoMerchantsRefused(t *testing.T) {
	for name, args := range map[string][]string{
		"zero":     {"--demo", "--demo-merchants", "0"},
		"negative": {"--demo", "--demo-merchants", "-5"},
		"too many": {"--demo", "--demo-merchants", "100001"},
		"no demo":  {"--demo-merchants", "500"},
	} {
		data := filepath.Join(t.TempDir(), "data")
		root := newRoot()
		root.SetArgs(append([]string{"serve", "--addr", freeAddr(t), "--data", data}, args...))
		root.SetOut(&bytes.Buffer{})
		root.SetErr(&bytes.Buffer{})
		// Bounded: were the flag not checked, serve would build and serve
		// until the context ends (and then the error checks fail).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := root.ExecuteContext(ctx)
		cancel()
		if lend.ErrorCode(err) != lend.EINVALID || lend.ErrorField(err) != "demo-merchants" {
			t.Errorf("%s: %v (code %q, field %q)", name, err, lend.ErrorCode(err), lend.ErrorField(err))
		}
		if _, serr := os.Stat(data); serr == nil {
			t.Errorf("%s: %s was created", name, data)
		}
	}
}

// A demo built with 400 merchants generates 400 and opens lines only among
// them (ids m0000001..m0000400: synth.MerchantID numbers from 1, 7 digits);
// a later start asking for another size reuses the built demo and says so.
func TestDemoMerchantsSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a demo portfolio")
	}
	ctx := context.Background()
	dir := t.TempDir()
	st, err := loanssqlite.Open(filepath.Join(dir, pipeline.DBFile), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out bytes.Buffer
	if err := bootstrapDemoSize(ctx, dir, st, 400, &out); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if !strings.Contains(out.String(), "generated 400 merchants") {
		t.Fatalf("output: %s", out.String())
	}
	lines, next, err := st.ListCreditLines(ctx, loans.CreditLineFilter{Limit: loans.MaxPageSize})
	if err != nil || next != "" || len(lines) == 0 || len(lines) > 400 {
		t.Fatalf("%d lines (next %q): %v", len(lines), next, err)
	}
	if last := lines[len(lines)-1].MerchantID; last > "m0000400" {
		t.Fatalf("line of %s beyond the 400 merchants", last)
	}
	t.Logf("%d lines, %s..%s", len(lines), lines[0].MerchantID, lines[len(lines)-1].MerchantID)
	out.Reset()
	if err := bootstrapDemoSize(ctx, dir, st, 500, &out); err != nil || !strings.Contains(out.String(), "--demo-merchants 500 ignored") {
		t.Fatalf("reuse: %v: %s", err, out.String())
	}
}
