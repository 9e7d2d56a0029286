package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/loans/postgres/pgtest"
	"github.com/lendhq/lend/loans/storetest"
)

// TestMigration0006ChargesExistingPenaltyToTheOldestUnpaidInstallment:
// storetest.Migration0006 on a fresh PostgreSQL schema.
func TestMigration0006ChargesExistingPenaltyToTheOldestUnpaidInstallment(t *testing.T) {
	ctx := context.Background()
	url, _ := pgtest.SchemaURL(t)
	open := func(now func() time.Time) loans.Store {
		s, err := Open(ctx, url, loans.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		s.SetClock(now)
		return s
	}
	rewind := func(t *testing.T) {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		for _, q := range append(storetest.Migration0006SQL, `DELETE FROM schema_migrations WHERE namespace = '`+MigrationNamespace+`' AND version = 6`) {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	storetest.Migration0006(t, open, rewind)
}
