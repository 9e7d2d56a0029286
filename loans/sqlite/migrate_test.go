package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/loans/storetest"
)

// TestMigration0006ChargesExistingPenaltyToTheOldestUnpaidInstallment:
// storetest.Migration0006 on a SQLite file.
func TestMigration0006ChargesExistingPenaltyToTheOldestUnpaidInstallment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "loans.db")
	open := func(now func() time.Time) loans.Store {
		s, err := Open(path, loans.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		s.SetClock(now)
		return s
	}
	rewind := func(t *testing.T) {
		db, err := OpenDB(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range append(storetest.Migration0006SQL, `DELETE FROM schema_migrations WHERE namespace = '`+MigrationNamespace+`' AND version = 6`) {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	storetest.Migration0006(t, open, rewind)
}
