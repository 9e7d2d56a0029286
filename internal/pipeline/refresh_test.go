package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/scoring"
)

// fixture is one demo portfolio (features + model) shared by the refresh
// tests; each test refreshes into its own SQLite file.
var fixture struct {
	once sync.Once
	dir  string
	res  DemoResult
	err  error
}

func demoFixture(t testing.TB) (features string, eng *scoring.Engine) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a 3,000-merchant portfolio")
	}
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "lend-pipeline-*")
		if fixture.err == nil {
			fixture.res, fixture.err = Demo(context.Background(), DemoOptions{DataDir: fixture.dir})
		}
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	eng, err := scoring.LoadEngine(filepath.Join(fixture.dir, ModelFile), "")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(fixture.dir, FeaturesFile), eng
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

func openStore(t testing.TB) *loanssqlite.Store {
	t.Helper()
	st, err := loanssqlite.Open(filepath.Join(t.TempDir(), "lend.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func allLines(t *testing.T, st loans.Store) []loans.CreditLine {
	t.Helper()
	var out []loans.CreditLine
	cursor := ""
	for {
		page, next, err := st.ListCreditLines(context.Background(), loans.CreditLineFilter{Cursor: cursor, Limit: loans.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// TestRefreshIdempotent: the second run for the same as-of and model writes
// nothing and leaves every stored line byte for byte (updated_at included).
func TestRefreshIdempotent(t *testing.T) {
	feat, eng := demoFixture(t)
	st := openStore(t)
	ctx := context.Background()
	// A small batch size forces several store transactions.
	first, err := RefreshLimits(ctx, RefreshOptions{Features: feat, Engine: eng, Store: st, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	before := allLines(t, st)
	if len(before) != first.New || first.Written != first.New {
		t.Fatalf("stored %d lines, first run new %d written %d: want all equal", len(before), first.New, first.Written)
	}
	// ceil(new / 100) batches.
	if want := (first.New + 99) / 100; first.Batches != want {
		t.Errorf("batches %d, want %d", first.Batches, want)
	}
	second, err := RefreshLimits(ctx, RefreshOptions{Features: feat, Engine: eng, Store: st, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := RefreshSummary{AsOf: first.AsOf, ModelID: first.ModelID, Merchants: first.Merchants,
		Unchanged: first.New, Declined: first.Declined}
	if second != want {
		t.Errorf("second run = %+v\nwant %+v", second, want)
	}
	if after := allLines(t, st); !reflect.DeepEqual(before, after) {
		t.Error("second run changed stored lines")
	}
}

// TestRefreshOneRules checks the line rules against a stored previous line,
// each expected value derived from the merchant's own assessment.
func TestRefreshOneRules(t *testing.T) {
	feat, eng := demoFixture(t)
	// Pick the first approved merchant's features.
	var id string
	var f *scoring.Features
	var a *scoring.Assessment
	err := readFeatures(context.Background(), feat, numericInputs(eng.Scorer().Model()), func(_ int, mid, _ string, row *scoring.Features) error {
		if f != nil {
			return nil
		}
		as, err := eng.Assess(&scoring.Merchant{ID: mid, Features: row}, scoring.ProductCreditLine)
		if err != nil {
			return err
		}
		if as.Eligible && as.Line.LimitMinor > 0 {
			id, a = mid, as
			f = &scoring.Features{Num: map[string]float64{}, Str: map[string]string{}}
			for k, v := range row.Num {
				f.Num[k] = v
			}
			for k, v := range row.Str {
				f.Str[k] = v
			}
		}
		return nil
	})
	if err != nil || f == nil {
		t.Fatalf("no approved merchant: %v", err)
	}
	limit := a.Line.LimitMinor
	const asOf, model, cur = "2026-01-01", "m1", "USD"
	tests := []struct {
		name      string
		prev      *loans.CreditLine
		change    string
		write     bool
		wantLimit int64
	}{
		{"no line: opened at the assessed limit", nil, scoring.ChangeNew, true, limit},
		{"higher previous limit: lowered", &loans.CreditLine{LimitMinor: limit + 1, Status: loans.LineActive, APR: 1}, scoring.ChangeLowered, true, limit},
		{"lower previous limit: raised", &loans.CreditLine{LimitMinor: limit - 1, Status: loans.LineActive, APR: 1}, scoring.ChangeRaised, true, limit},
		{"drawn above the new limit: floored at drawn", &loans.CreditLine{LimitMinor: limit + 500, DrawnMinor: limit + 200, Status: loans.LineActive, APR: 1}, scoring.ChangeLowered, true, limit + 200},
		{"frozen: stays frozen with its limit", &loans.CreditLine{LimitMinor: limit + 700, DrawnMinor: 10, Status: loans.LineFrozen, APR: 5}, scoring.ChangeFrozen, true, limit + 700},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, change, write, err := refreshOne(eng, tc.prev, id, f, cur, asOf, model)
			if err != nil {
				t.Fatal(err)
			}
			if change != tc.change || write != tc.write || u.LimitMinor != tc.wantLimit {
				t.Errorf("change %s write %v limit %d; want %s %v %d", change, write, u.LimitMinor, tc.change, tc.write, tc.wantLimit)
			}
			if tc.prev != nil && tc.prev.Status == loans.LineFrozen && u.APR != tc.prev.APR {
				t.Errorf("frozen line APR %d, want the previous %d", u.APR, tc.prev.APR)
			}
		})
	}
	// A previous line identical to what would be written is not rewritten.
	u, _, _, _ := refreshOne(eng, nil, id, f, cur, asOf, model)
	same := &loans.CreditLine{LimitMinor: u.LimitMinor, APR: u.APR, Grade: u.Grade, Score: u.Score, PD: u.PD,
		Reasons: u.Reasons, ModelID: model, AsOf: asOf, Status: loans.LineActive, Currency: cur}
	if _, change, write, _ := refreshOne(eng, same, id, f, cur, asOf, model); write || change != scoring.ChangeUnchanged {
		t.Errorf("identical line: change %s write %v; want unchanged, no write", change, write)
	}
}

// TestRefreshBadInput: bad files are refused with a field-naming EINVALID
// error and nothing is written.
func TestRefreshBadInput(t *testing.T) {
	_, eng := demoFixture(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, asOf, field string
	}{
		{"no merchant_id column", write("noid.csv", "x,tenure_days\n1,2\n"), "2026-01-01", "features"},
		{"duplicate merchant", write("dup.csv", "merchant_id,tenure_days\nm1,2\nm1,3\n"), "2026-01-01", IDColumn},
		{"no as-of anywhere", write("noasof.csv", "merchant_id,tenure_days\nm1,2\n"), "", "as-of"},
		{"as-of column disagrees with flag", write("asof.csv", "merchant_id,as_of,tenure_days\nm1,2026-01-01,2\n"), "2026-02-01", AsOfColumn},
		{"bad as-of flag", write("ok.csv", "merchant_id,tenure_days\nm1,2\n"), "2026-13-01", "as-of"},
		{"wrong extension", write("f.txt", "merchant_id\nm1\n"), "2026-01-01", "features"},
		{"empty file", write("empty.csv", "merchant_id,tenure_days\n"), "2026-01-01", "features"},
		{"missing file", filepath.Join(dir, "nope.parquet"), "2026-01-01", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			_, err := RefreshLimits(context.Background(), RefreshOptions{Features: tc.path, AsOf: tc.asOf, Engine: eng, Store: st})
			if lend.ErrorCode(err) != lend.EINVALID {
				t.Fatalf("err = %v (code %q), want EINVALID", err, lend.ErrorCode(err))
			}
			if tc.field != "" && lend.ErrorField(err) != tc.field {
				t.Errorf("field %q, want %q (%v)", lend.ErrorField(err), tc.field, err)
			}
			if n := len(allLines(t, st)); n != 0 {
				t.Errorf("%d lines written on bad input", n)
			}
		})
	}
}
