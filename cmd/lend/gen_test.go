package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runLend(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	root.SetArgs(args)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	return out.String(), err
}

// TestGenTwiceIsByteIdentical runs `lend gen` twice with the same seed and
// once with another, through the CLI, and reads the --json summary.
func TestGenTwiceIsByteIdentical(t *testing.T) {
	base := t.TempDir()
	var summaries []map[string]any
	for _, run := range []struct{ dir, seed string }{{"A", "11"}, {"B", "11"}, {"C", "12"}} {
		out, err := runLend(t, "gen", "--merchants", "300", "--seed", run.seed, "--json", "--out", filepath.Join(base, run.dir))
		if err != nil {
			t.Fatal(err)
		}
		var s map[string]any
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("--json printed %q: %v", out, err)
		}
		summaries = append(summaries, s)
	}
	if summaries[0]["merchants"] != float64(300) || summaries[0]["transactions"].(float64) < 300 {
		t.Fatalf("summary %v", summaries[0])
	}
	for _, name := range []string{"transactions.parquet", "merchants.csv", "outcomes.csv"} {
		a, _ := os.ReadFile(filepath.Join(base, "A", name))
		b, _ := os.ReadFile(filepath.Join(base, "B", name))
		c, _ := os.ReadFile(filepath.Join(base, "C", name))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with --seed 11", name)
		}
		if bytes.Equal(a, c) {
			t.Errorf("%s is the same for --seed 11 and --seed 12", name)
		}
	}
}

// TestGenBadInput: a one-line message naming the flag and exit status 2.
func TestGenBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"gen", "--merchants", "-1", "--out", out}, "merchants"},
		{[]string{"gen", "--merchants", "0", "--out", out}, "merchants"},
		{[]string{"gen", "--out", out}, "merchants"},
		{[]string{"gen", "--merchants", "5"}, "out"},
		{[]string{"gen", "--merchants", "5", "--months", "0", "--out", out}, "months"},
		{[]string{"gen", "--merchants", "5", "--as-of", "2025-02-30", "--out", out}, "as-of"},
		{[]string{"gen", "--merchants", "5", "--format", "xml", "--out", out}, "format"},
		{[]string{"gen", "--merchants", "5", "--out", filepath.Join(file, "sub")}, "out"},
		{[]string{"gen", "--merchants", "many", "--out", out}, "merchants"},
		{[]string{"gen", "--no-such-flag"}, "no-such-flag"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := runLend(t, tc.args...)
			if err == nil {
				t.Fatal("want an error")
			}
			if msg := oneLine(err); !strings.Contains(msg, tc.want) || msg != err.Error() {
				t.Fatalf("message %q: want one line naming %q", err.Error(), tc.want)
			}
			if code := exitCode(err); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed gen created %s", out)
	}
}
