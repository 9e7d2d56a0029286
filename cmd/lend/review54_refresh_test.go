package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/loans/postgres/pgtest"
)

// review54Refresh runs night 1 (2024-01-01: m1, m2, m3, all approved by the
// golden policy at tenure 400) and night 2 (2024-01-05, 4 days later: m1
// only) against db with the given extra flags on night 2, and returns night
// 2's stdout and stderr.
func review54Refresh(t *testing.T, db string, json bool, extra ...string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	head := "merchant_id,refund_rate_90d,sales_trend_12m,tenure_days,sales_amount_90d,days_since_last_sale,chargeback_count_180d,category\n"
	row := func(id string) string { return id + ",0.01,0.10,400,29999,2,0,food\n" }
	all, one := filepath.Join(dir, "all.csv"), filepath.Join(dir, "one.csv")
	if err := os.WriteFile(all, []byte(head+row("m1")+row("m2")+row("m3")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(one, []byte(head+row("m1")), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(features, asOf string, more ...string) (string, string) {
		args := append([]string{"refresh-limits", "--features", features, "--model", review45Golden, "--db", db,
			"--data", filepath.Join(dir, "data"), "--as-of", asOf}, more...)
		c := lendCmd(t, args...)
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		if err := c.Run(); err != nil {
			t.Fatalf("lend %v: %v\n%s%s", args, err, o.String(), e.String())
		}
		return o.String(), e.String()
	}
	run(all, "2024-01-01")
	if json {
		extra = append(extra, "--json")
	}
	return run(one, "2024-01-05", extra...)
}

// review54Check: with the default (3 days) both m2 and m3 (4 days old) are
// frozen: --json says stale_frozen 2, [m2 m3], not_refreshed 2; stderr
// carries the not-refreshed WARNING and a distinct FROZEN one; the text
// summary counts them.
func review54Check(t *testing.T, db func() string) {
	out, errOut := review54Refresh(t, db(), true)
	var sum pipeline.RefreshSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if sum.StaleFrozen != 2 || !reflect.DeepEqual(sum.StaleFrozenIDs.List(), []string{"m2", "m3"}) || sum.NotRefreshed != 2 {
		t.Errorf("--json %+v; want 2 stale-frozen [m2 m3], 2 not refreshed", sum)
	}
	if !strings.Contains(errOut, "WARNING: 2 open credit lines") || !strings.Contains(errOut, "WARNING: of those, 2 credit lines were FROZEN for stale data") ||
		!strings.Contains(errOut, "(m2, m3)") {
		t.Errorf("stderr %q; want both WARNINGs naming m2, m3", errOut)
	}
	out, _ = review54Refresh(t, db(), false, "--stale-after-days", "4")
	if !strings.Contains(out, "2 open lines not refreshed (merchant not in the features file), of which 0 frozen for stale data (as-of more than 4 days old)") {
		t.Errorf("text summary with --stale-after-days 4: %q; want 0 frozen (4 days is not more than 4)", out)
	}
}

// TestReview54RefreshStaleSQLite is review54Check on a SQLite file.
func TestReview54RefreshStaleSQLite(t *testing.T) {
	review54Check(t, func() string { return filepath.Join(t.TempDir(), "lend.db") })
}

// TestReview54RefreshStalePostgres is review54Check on PostgreSQL (skipped
// without LEND_TEST_POSTGRES).
func TestReview54RefreshStalePostgres(t *testing.T) {
	pgtest.BaseURL(t)
	review54Check(t, func() string { dsn, _ := pgtest.SchemaURL(t); return dsn })
}

// TestReview54StaleAfterDaysFlag: -1 and 366 exit 2 naming the flag; nothing
// is opened or written (the store file is not even created).
func TestReview54StaleAfterDaysFlag(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lend.db")
	for _, v := range []string{"-1", "366"} {
		c := lendCmd(t, "refresh-limits", "--features", filepath.Join(dir, "none.csv"), "--model", review45Golden, "--db", db,
			"--data", filepath.Join(dir, "data"), "--stale-after-days", v)
		var e bytes.Buffer
		c.Stderr = &e
		err := c.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(e.String(), "stale-after-days") {
			t.Errorf("--stale-after-days %s: %v, stderr %q; want exit 2 naming the flag", v, err, e.String())
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("store created by a refused run: %v", err)
	}
}
