package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/loans/storetest"
)

// TestConformance runs the loans.Store conformance suite on SQLite, each
// test on a fresh database file. Durability (synchronous=FULL) is the crash
// test's subject; here fsync is off so the property search stays fast.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB, policy loans.Policy, now func() time.Time) loans.Store {
		t.Helper()
		syncMode = "OFF"
		s, err := Open(filepath.Join(t.TempDir(), "lend.db"), policy)
		syncMode = "FULL"
		if err != nil {
			t.Fatal(err)
		}
		s.SetClock(now)
		t.Cleanup(func() { s.Close() })
		return s
	})
}
