package synth

import (
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGolden pins the exact output of a tiny run (3 merchants, 2 months, CSV):
// any change to the model, the draw order or the formats shows up here as a
// diff to review, and is accepted with `go test ./synth -run Golden -update`.
func TestGolden(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Merchants: 3, Months: 2, Seed: 1, Format: FormatCSV, AsOf: time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := Generate(context.Background(), cfg, dir); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	for _, name := range []string{MerchantsFile, OutcomesFile, TransactionsCSV} {
		got.WriteString("== " + name + "\n")
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var r io.Reader = f
		if filepath.Ext(name) == ".gz" {
			zr, err := gzip.NewReader(f) // reads every concatenated member
			if err != nil {
				t.Fatal(err)
			}
			r = zr
		}
		if _, err := io.Copy(&got, r); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	golden := filepath.Join("testdata", "gen_3merchants_2months_seed1.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("output differs from %s; review and run with -update if intended:\n%s", golden, got.String())
	}
}

// FuzzParseAsOf: any input either parses to a midnight-UTC date that prints
// back to itself, or is refused with an as-of error; never a panic.
func FuzzParseAsOf(f *testing.F) {
	for _, s := range []string{"2026-01-01", "2024-02-29", "2025-02-29", "", "2026-1-1", "2026-01-01T00:00:00Z", "９９９９-01-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAsOf(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if d.Location() != time.UTC || d != d.Truncate(24*time.Hour) {
			t.Fatalf("ParseAsOf(%q) = %v, not midnight UTC", s, d)
		}
		if back := d.Format(time.DateOnly); back != s {
			t.Fatalf("ParseAsOf(%q) prints back as %q", s, back)
		}
	})
}
