package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
)

// TestDemoBuildsThenReuses builds the demo portfolio from an empty directory
// on a real SQLite file, then starts again and checks nothing is rebuilt.
func TestDemoBuildsThenReuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 3,000-merchant portfolio")
	}
	ctx := context.Background()
	dir := t.TempDir()
	var log bytes.Buffer
	res, err := Demo(ctx, DemoOptions{DataDir: dir, Out: &log})
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, log.String())
	}
	t.Logf("%s", log.String())
	t.Logf("elapsed %v, refresh %+v, first approved %s", res.Elapsed, res.Refresh, res.FirstApproved)
	if res.Reused {
		t.Fatal("first start must build, not reuse")
	}
	r := res.Refresh
	if r.Merchants != DemoMerchants {
		t.Errorf("scored %d merchants, want %d (one per generated merchant)", r.Merchants, DemoMerchants)
	}
	// From an empty store every merchant is either a new line or declined.
	if r.New+r.Declined != r.Merchants || r.New == 0 {
		t.Errorf("new %d + declined %d != merchants %d (or no line opened)", r.New, r.Declined, r.Merchants)
	}
	if r.Written != r.New {
		t.Errorf("written %d, want %d (one per new line)", r.Written, r.New)
	}
	model1, err := os.ReadFile(filepath.Join(dir, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	st, err := loanssqlite.Open(filepath.Join(dir, DBFile), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := st.CreditLine(ctx, res.FirstApproved)
	st.Close()
	if err != nil {
		t.Fatalf("first approved %q: %v", res.FirstApproved, err)
	}
	if l.Status != loans.LineActive || l.LimitMinor <= 0 || l.ModelID != res.ModelID || l.AsOf != res.AsOf {
		t.Errorf("line of %s = %+v; want active, positive limit, model %s, as-of %s", res.FirstApproved, l, res.ModelID, res.AsOf)
	}

	again, err := Demo(ctx, DemoOptions{DataDir: dir, MerchantID: res.FirstApproved})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Reused || again.ModelID != res.ModelID || again.FirstApproved != res.FirstApproved || !again.MerchantApproved {
		t.Errorf("second start = %+v; want reused, same model and first approved merchant", again)
	}
	if r, err := Demo(ctx, DemoOptions{DataDir: dir, MerchantID: "M000001"}); err != nil || r.MerchantApproved {
		t.Errorf("merchant M000001 (not a synth id) reported approved=%v, err %v; want false", r.MerchantApproved, err)
	}
	model2, _ := os.ReadFile(filepath.Join(dir, ModelFile))
	if !bytes.Equal(model1, model2) {
		t.Error("second start rewrote the model")
	}
}
