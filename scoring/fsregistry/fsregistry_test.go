package fsregistry_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/scoring/fsregistry"
)

// model loads scoring's golden artifact with the given test AUC (which
// changes its content, hence its id) and creation time, and seals its id.
func model(t *testing.T, auc float64, created string) *scoring.Model {
	t.Helper()
	m, err := scoring.LoadFile(filepath.Join("..", "testdata", "golden_model.json"))
	if err != nil {
		t.Fatal(err)
	}
	m.Metrics.Test.AUC, m.Metrics.Test.Gini, m.CreatedAt = auc, 2*auc-1, created
	if m.ID, err = m.ComputeID(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRegisterListActivate(t *testing.T) {
	dir := t.TempDir()
	r, err := fsregistry.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	older, newer := model(t, 0.71, "2025-01-01T00:00:00Z"), model(t, 0.74, "2025-02-01T00:00:00Z")
	if older.ID == newer.ID {
		t.Fatal("different content, same id")
	}
	for _, m := range []*scoring.Model{newer, older, newer} { // twice: a no-op
		if id, err := r.Register(m); err != nil || id != m.ID {
			t.Fatalf("register: %q %v", id, err)
		}
	}
	// The file is the artifact's canonical bytes under its content id.
	want, _ := older.Marshal()
	if got, err := os.ReadFile(filepath.Join(dir, older.ID+".json")); err != nil || string(got) != string(want) {
		t.Fatalf("stored artifact differs: %v", err)
	}

	list, active, err := r.List()
	if err != nil || active != "" || len(list) != 2 || list[0].ID != older.ID || list[1].ID != newer.ID {
		t.Fatalf("list = %+v active %q %v", list, active, err)
	}
	if list[1].Test.AUC != 0.74 || strings.Join(list[0].Variables, ",") != "refund_rate_90d,sales_trend_12m,tenure_days,category" || list[0].Active {
		t.Fatalf("entry = %+v", list[1])
	}
	if _, err := r.Engine(); lend.ErrorCode(err) != lend.ENOTFOUND {
		t.Fatalf("engine without an active model: %v", err)
	}

	e, err := r.Activate(newer.ID)
	if err != nil || !e.Active || e.ActivatedAt.IsZero() || e.ID != newer.ID {
		t.Fatalf("activate = %+v %v", e, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ACTIVE")); string(b) != newer.ID+"\n" {
		t.Fatalf("ACTIVE = %q", b)
	}
	eng1, err := r.Engine()
	if err != nil {
		t.Fatal(err)
	}
	if eng2, _ := r.Engine(); eng2 != eng1 {
		t.Fatal("engine recompiled although the active model did not change")
	}
	// Activating the active model again changes nothing (ACTIVE not rewritten).
	before, _ := os.Stat(filepath.Join(dir, "ACTIVE"))
	again, err := r.Activate(newer.ID)
	after, _ := os.Stat(filepath.Join(dir, "ACTIVE"))
	if err != nil || !again.Active || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("re-activate = %+v %v; ACTIVE %v -> %v", again, err, before.ModTime(), after.ModTime())
	}
	if eng2, _ := r.Engine(); eng2 != eng1 {
		t.Fatal("re-activating the active model recompiled the engine")
	}

	// Another process (another Registry on the directory) switches models:
	// this one's Engine follows.
	other, _ := fsregistry.Open(dir)
	if _, err := other.Activate(older.ID); err != nil {
		t.Fatal(err)
	}
	if id, _ := r.ActiveID(); id != older.ID {
		t.Fatalf("active = %s, want %s", id, older.ID)
	}
	eng3, err := r.Engine()
	if err != nil || eng3 == eng1 {
		t.Fatalf("engine did not follow the activation: %v", err)
	}
	list, active, _ = r.List()
	if active != older.ID || !list[0].Active || list[1].Active {
		t.Fatalf("after switch: %+v %q", list, active)
	}
}

func TestRefusals(t *testing.T) {
	dir := t.TempDir()
	r, _ := fsregistry.Open(dir)
	for _, id := range []string{"0123456789abcdef", "../ACTIVE", "ACTIVE", "", "ABCDEF"} {
		if _, err := r.Activate(id); lend.ErrorCode(err) != lend.ENOTFOUND {
			t.Errorf("activate %q: %v, want not found", id, err)
		}
	}
	// A tampered artifact (content no longer matches its id) is refused.
	m := model(t, 0.7, "2025-01-01T00:00:00Z")
	m.Intercept += 0.5
	if _, err := r.Register(m); lend.ErrorCode(err) != lend.EINVALID {
		t.Fatalf("tampered artifact: %v", err)
	}
	// An unsealed artifact (no id) cannot be registered: the id names the file.
	m.ID = ""
	if _, err := r.Register(m); lend.ErrorCode(err) != lend.EINVALID {
		t.Fatalf("artifact without id: %v", err)
	}
	// A corrupt file in the directory fails loudly, it is not skipped.
	if err := os.WriteFile(filepath.Join(dir, "00000000000000aa.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.List(); lend.ErrorCode(err) != lend.EINTERNAL {
		t.Fatalf("corrupt artifact: %v", err)
	}
}

func TestSeed(t *testing.T) {
	dir := t.TempDir()
	r, _ := fsregistry.Open(filepath.Join(dir, "models"))
	if err := r.Seed(filepath.Join(dir, "model.json")); err != nil { // no file: nothing to do
		t.Fatal(err)
	}
	first, second := model(t, 0.7, "2025-01-01T00:00:00Z"), model(t, 0.8, "2025-03-01T00:00:00Z")
	write := func(m *scoring.Model) {
		b, _ := m.Marshal()
		if err := os.WriteFile(filepath.Join(dir, "model.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(first)
	if err := r.Seed(filepath.Join(dir, "model.json")); err != nil {
		t.Fatal(err)
	}
	if id, _ := r.ActiveID(); id != first.ID {
		t.Fatalf("first start: active %q, want %s", id, first.ID)
	}
	// A later start with another model.json registers it but keeps the
	// officer's choice of active model.
	write(second)
	if err := r.Seed(filepath.Join(dir, "model.json")); err != nil {
		t.Fatal(err)
	}
	list, active, _ := r.List()
	if active != first.ID || len(list) != 2 {
		t.Fatalf("second start: %d models, active %q", len(list), active)
	}
}
