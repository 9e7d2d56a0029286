// Package storetest is the conformance suite every loans.Store
// implementation passes: each behaviour is written once, here, and run
// against SQLite (loans/sqlite) and PostgreSQL (loans/postgres) by their own
// test files calling Run.
package storetest

import (
	"sort"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// Opener opens a fresh, empty store with the given product policy whose wall
// clock is now (never nil). The store is closed by the opener's t.Cleanup.
type Opener func(t testing.TB, policy loans.Policy, now func() time.Time) loans.Store

// tests holds the suite, registered by each file's init so several files
// (and several authors) can add tests without touching a shared list.
var tests = map[string]func(t *testing.T, open Opener){}

// register adds a conformance test; names must be unique.
func register(name string, fn func(t *testing.T, open Opener)) {
	if _, dup := tests[name]; dup {
		panic("storetest: duplicate test " + name)
	}
	tests[name] = fn
}

// Run runs every conformance test against the stores open makes, in name
// order, each as a subtest.
func Run(t *testing.T, open Opener) {
	names := make([]string, 0, len(tests))
	for n := range tests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fn := tests[n]
		t.Run(n, func(t *testing.T) { fn(t, open) })
	}
}
