// Package testutil has helpers shared by tests: locating the real data sets in
// ../shared/data and building the lend binary once.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// ModuleRoot returns the directory holding go.mod, walking up from the working directory.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// workplaceData is where the shared data sets live on this workplace's machines.
const workplaceData = "/work/shared/data"

// SharedData returns the path of rel inside the shared data sets
// ($LEND_SHARED_DATA, default ../shared/data beside the repository, else
// /work/shared/data). The data
// sets are part of the test contract: a missing file fails the test, it is not skipped.
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	base := os.Getenv("LEND_SHARED_DATA")
	if base == "" {
		base = filepath.Join(ModuleRoot(t), "..", "shared", "data")
		// A checkout elsewhere (a CI clone in /tmp) finds the workplace's copy.
		if _, err := os.Stat(base); err != nil {
			if _, err := os.Stat(workplaceData); err == nil {
				base = workplaceData
			}
		}
	}
	p := filepath.Join(base, rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared data set %s missing (set LEND_SHARED_DATA): %v", p, err)
	}
	return p
}
