package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/scoring/fsregistry"
)

// TestRefreshLimitsUsesActiveModel: the nightly refresh scores with the model
// the API decides with. Before any model is active it uses DATA/model.json;
// once an officer activates another model in DATA/models (here a variant that
// requires 100,000 days of tenure, so it declines every merchant), the next
// refresh reports that model and declines everyone; --model still wins.
func TestRefreshLimitsUsesActiveModel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a demo portfolio")
	}
	data := t.TempDir()
	if _, err := pipeline.Demo(context.Background(), pipeline.DemoOptions{DataDir: data, Merchants: 300, Seed: 11}); err != nil {
		t.Fatal(err)
	}
	refresh := func(db string, extra ...string) pipeline.RefreshSummary {
		t.Helper()
		args := append([]string{"refresh-limits", "--data", data, "--db", filepath.Join(t.TempDir(), db), "--json"}, extra...)
		out, err := lendCmd(t, args...).Output()
		if err != nil {
			t.Fatalf("lend %v: %v", args, err)
		}
		var sum pipeline.RefreshSummary
		if err := json.Unmarshal(out, &sum); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return sum
	}
	base, err := scoring.LoadFile(filepath.Join(data, pipeline.ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	before := refresh("a.db")
	if before.ModelID != base.ID || before.Declined == before.Merchants {
		t.Fatalf("without an active model: %+v, want model %s with some lines offered", before, base.ID)
	}

	variant := *base
	variant.Policy.MinTenureDays = 100_000
	if variant.ID, err = variant.ComputeID(); err != nil {
		t.Fatal(err)
	}
	reg, err := fsregistry.Open(filepath.Join(data, "models"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(&variant); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Activate(variant.ID); err != nil {
		t.Fatal(err)
	}
	after := refresh("b.db")
	if after.ModelID != variant.ID || after.Merchants != before.Merchants || after.Declined != after.Merchants {
		t.Fatalf("with model %s active: %+v, want it used and every merchant declined", variant.ID, after)
	}
	explicit := refresh("c.db", "--model", filepath.Join(data, pipeline.ModelFile))
	if explicit != before {
		t.Fatalf("--model %s: %+v, want %+v", pipeline.ModelFile, explicit, before)
	}
	if _, err := os.Stat(filepath.Join(data, "models")); err != nil {
		t.Fatal(err)
	}
}
