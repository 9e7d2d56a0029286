package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStaleMaxShareFlag: 0, -0.5, 1.5 and NaN exit 2 naming the flag, and
// nothing is opened or written (the store file is not even created).
func TestStaleMaxShareFlag(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "lend.db")
	for _, v := range []string{"0", "-0.5", "1.5", "NaN"} {
		c := lendCmd(t, "refresh-limits", "--features", filepath.Join(dir, "none.csv"), "--model", review45Golden, "--db", db,
			"--data", filepath.Join(dir, "data"), "--stale-max-share", v)
		var e bytes.Buffer
		c.Stderr = &e
		err := c.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(e.String(), "stale-max-share") {
			t.Errorf("--stale-max-share %s: %v, stderr %q; want exit 2 naming the flag", v, err, e.String())
		}
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("store created by a refused run: %v", err)
	}
}
