package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/lendhq/lend/auth/authtest"
	"github.com/lendhq/lend/auth/sqlite"
)

func open(t *testing.T) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lend.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestMigrationsShareTheFile(t *testing.T) {
	ctx := context.Background()
	s, path := open(t)
	// Another package's migrations table in the same file is left alone.
	if _, err := s.DB().Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY); INSERT INTO schema_migrations VALUES (7)`); err != nil {
		t.Fatal(err)
	}
	s2, err := sqlite.Open(ctx, path) // reopening applies nothing twice
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, err := s2.SchemaVersion(ctx); err != nil || v != 1 {
		t.Fatalf("auth schema version = %d, %v; want 1", v, err)
	}
	var n int
	if err := s2.DB().QueryRow(`SELECT count(*) FROM auth_schema_migrations`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("auth_schema_migrations rows = %d, %v", n, err)
	}
	if err := s2.DB().QueryRow(`SELECT version FROM schema_migrations`).Scan(&n); err != nil || n != 7 {
		t.Fatalf("other package's migrations touched: %d, %v", n, err)
	}
	var mode string
	if err := s2.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	var sync int
	if err := s2.DB().QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 { // 2 = FULL
		t.Fatalf("synchronous = %d, %v; want 2 (FULL)", sync, err)
	}
}

// TestConformance runs the auth store suite (auth/authtest), written once for
// every store.
func TestConformance(t *testing.T) {
	authtest.Run(t, func(t *testing.T) authtest.Store { s, _ := open(t); return s })
}
