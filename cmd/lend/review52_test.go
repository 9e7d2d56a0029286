package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Review 52: `lend features --currency` and --out / --rejects naming an input.

const review52Tx = "merchant_id,ts,amount,type,currency\n" +
	"m1,2024-03-01 10:00:00,100.00,sale,USD\n" +
	"m1,2024-03-02 10:00:00,900.00,sale,EUR\n"

// review52Run runs `lend features ARGS...` and returns its combined output
// and exit status.
func review52Run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := lendCmd(t, append([]string{"features"}, args...)...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestReview52FeaturesCurrencyFlag: a --currency that is not three letters
// exits 2 naming the flag, writing nothing; --currency eur accepts the EUR
// row and rejects the USD one (line 2) with both codes in the reason.
func TestReview52FeaturesCurrencyFlag(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "tx.csv")
	os.WriteFile(in, []byte(review52Tx), 0o644)
	out := filepath.Join(dir, "f.csv")
	for _, bad := range []string{"EURO", "E1R", "€"} {
		msg, code := review52Run(t, "--tx", in, "--as-of", "2024-04-01", "--out", out, "--currency", bad)
		if code != 2 || !strings.Contains(msg, "currency") {
			t.Fatalf("--currency %q: exit %d, output %q; want exit 2 naming currency", bad, code, msg)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("--currency %q wrote %s", bad, out)
		}
	}
	msg, code := review52Run(t, "--tx", in, "--as-of", "2024-04-01", "--out", out, "--currency", "eur", "--max-reject-rate", "1")
	if code != 0 {
		t.Fatalf("--currency eur: exit %d: %s", code, msg)
	}
	rej, err := os.ReadFile(out + ".rejects.csv")
	if err != nil || !strings.Contains(string(rej), ",2,currency: USD is not the lending currency EUR,") {
		t.Fatalf("rejects (%v):\n%s", err, rej)
	}
	// The one accepted sale is the EUR one: sales_amount_90d = 900.
	got, _ := os.ReadFile(out)
	if !strings.Contains(string(got), "m1,") || !strings.Contains(string(got), ",900.0") {
		t.Fatalf("features:\n%s", got)
	}
}

// TestReview52FeaturesOutIsInput: --out naming the input exits 2 naming
// both, and the input is left as it was.
func TestReview52FeaturesOutIsInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "tx.csv")
	os.WriteFile(in, []byte(review52Tx), 0o644)
	msg, code := review52Run(t, "--tx", filepath.Join(dir, "*.csv"), "--as-of", "2024-04-01", "--out", in, "--max-reject-rate", "1")
	if code != 2 || !strings.Contains(msg, "out: "+in+" is the input file "+in) {
		t.Fatalf("--out = input: exit %d, output %q; want exit 2 naming --out and the input", code, msg)
	}
	if b, _ := os.ReadFile(in); string(b) != review52Tx {
		t.Fatalf("input changed:\n%s", b)
	}
	msg, code = review52Run(t, "--tx", in, "--as-of", "2024-04-01", "--out", filepath.Join(dir, "f.csv"), "--rejects", in, "--max-reject-rate", "1")
	if code != 2 || !strings.Contains(msg, "rejects: "+in) {
		t.Fatalf("--rejects = input: exit %d, output %q", code, msg)
	}
	if b, _ := os.ReadFile(in); string(b) != review52Tx {
		t.Fatalf("input changed:\n%s", b)
	}
}
