package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/lendhq/lend/internal/pipeline"
)

// TestReview12RefreshWarnsNotRefreshed: night 1 opens lines for m01..m12
// (tenure 400 days: all approved by the golden policy). Night 2's file has m01
// only, so 11 open lines (m02..m12) keep night 1's line. Before, the output
// said "refreshed 1 merchants" and nothing else. Now, exit 0 and:
//   - --json: not_refreshed 11, not_refreshed_ids the first 10 in id order,
//     m02..m11 (m12 is the 11th);
//   - stderr: a WARNING with the count and those 10 ids, not m12;
//   - text mode: the summary line ends "11 open lines not refreshed ...".
//
// Night 1 itself (nothing missing) prints no WARNING.
func TestReview12RefreshWarnsNotRefreshed(t *testing.T) {
	dir := t.TempDir()
	head := "merchant_id,refund_rate_90d,sales_trend_12m,tenure_days,sales_amount_90d,days_since_last_sale,chargeback_count_180d,category\n"
	row := func(id string) string { return id + ",0.01,0.10,400,29999,2,0,food\n" }
	var all strings.Builder
	all.WriteString(head)
	for i := 1; i <= 12; i++ {
		all.WriteString(row(fmt.Sprintf("m%02d", i)))
	}
	allPath, onePath := filepath.Join(dir, "all.csv"), filepath.Join(dir, "one.csv")
	if err := os.WriteFile(allPath, []byte(all.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(onePath, []byte(head+row("m01")), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "lend.db")
	run := func(features, asOf string, extra ...string) (stdout, stderr string) {
		t.Helper()
		args := append([]string{"refresh-limits", "--features", features, "--model", review45Golden, "--db", db,
			"--data", filepath.Join(dir, "data"), "--as-of", asOf}, extra...)
		c := lendCmd(t, args...)
		var o, e bytes.Buffer
		c.Stdout, c.Stderr = &o, &e
		if err := c.Run(); err != nil {
			t.Fatalf("lend %v: %v\n%s%s", args, err, o.String(), e.String())
		}
		return o.String(), e.String()
	}

	out, errOut := run(allPath, "2024-01-01", "--json")
	var sum pipeline.RefreshSummary
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if sum.New != 12 || sum.NotRefreshed != 0 || strings.Contains(errOut, "WARNING") {
		t.Fatalf("night 1: %+v, stderr %q; want 12 new, no WARNING", sum, errOut)
	}

	out, errOut = run(onePath, "2024-01-02", "--json")
	sum = pipeline.RefreshSummary{}
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary alone: %v: %s", err, out)
	}
	want := []string{"m02", "m03", "m04", "m05", "m06", "m07", "m08", "m09", "m10", "m11"}
	if sum.Merchants != 1 || sum.NotRefreshed != 11 || !reflect.DeepEqual(sum.NotRefreshedIDs.List(), want) {
		t.Errorf("night 2 --json: %+v; want 1 merchant, 11 not refreshed, ids %v", sum, want)
	}
	wantWarn := "WARNING: 11 open credit lines (active or frozen) were not refreshed"
	if !strings.Contains(errOut, wantWarn) || !strings.Contains(errOut, "first 10 in id order: "+strings.Join(want, ", ")+")") ||
		strings.Contains(errOut, "m12") {
		t.Errorf("night 2 stderr %q; want %q naming %v and not m12", errOut, wantWarn, want)
	}

	out, errOut = run(onePath, "2024-01-02")
	if !strings.Contains(out, "; 11 open lines not refreshed (merchant not in the features file)") || !strings.Contains(errOut, wantWarn) {
		t.Errorf("night 2 text: stdout %q stderr %q; want the count in the summary line and the WARNING", out, errOut)
	}
}
