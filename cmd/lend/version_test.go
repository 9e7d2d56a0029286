package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestUnknownFlagIsAnError(t *testing.T) {
	root := newRoot()
	root.SetArgs([]string{"--no-such-flag"})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "no-such-flag") {
		t.Fatalf("want an error naming the flag, got %v", err)
	}
}

func TestVersion(t *testing.T) {
	root := newRoot()
	root.SetArgs([]string{"--version"})
	var out bytes.Buffer
	root.SetOut(&out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), version) {
		t.Fatalf("--version printed %q, want it to contain %q", out.String(), version)
	}
}
