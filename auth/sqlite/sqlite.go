// Package sqlite stores API keys and HTTP idempotency records in SQLite
// (mattn/go-sqlite3, WAL, synchronous=FULL). It shares the database file with
// loans/sqlite, so its schema is versioned in its own table,
// auth_schema_migrations, and every table name is its own.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// BusyTimeoutMs is how long a writer waits for the SQLite write lock before
// failing; several processes (serve, keys create, eod) share the file.
const BusyTimeoutMs = 5000

// MaxOpenConns bounds the connection pool; SQLite has one writer anyway and
// WAL readers do not need more than a few connections on 2 cores.
const MaxOpenConns = 8

// DSN returns the mattn/go-sqlite3 data source name Lend uses for path: WAL,
// synchronous=FULL (a committed write survives power loss), foreign keys on,
// BEGIN IMMEDIATE transactions (no upgrade deadlocks between writers).
func DSN(path string) string {
	return path + fmt.Sprintf("?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=%d&_foreign_keys=1&_txlock=immediate", BusyTimeoutMs)
}

// OpenDB opens (creating if needed) the SQLite database at path with DSN.
func OpenDB(path string) (*sql.DB, error) {
	if path == "" {
		return nil, lend.FieldErrorf("db", "is empty")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, lend.FieldErrorf("db", "a SQLite path may not contain '?' or '#' (got %q)", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, lend.Wrap(lend.EINVALID, err, "db: cannot create directory %s", dir)
		}
	}
	db, err := sql.Open("sqlite3", DSN(path))
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "opening %s", path)
	}
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(MaxOpenConns)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, lend.Wrap(lend.EINVALID, err, "db: cannot open %s: %v", path, err)
	}
	return db, nil
}

// Store implements auth.KeyStore and auth.IdempotencyStore on one *sql.DB.
type Store struct {
	db     *sql.DB
	owned  bool // Close closes db only when Open created it
	byHash *sql.Stmt
}

var (
	_ auth.KeyStore         = (*Store)(nil)
	_ auth.IdempotencyStore = (*Store)(nil)
)

// Open opens the database at path, migrates the auth schema and returns the store.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New migrates the auth schema in db (opened with DSN) and returns a store on
// it; use it to share one *sql.DB with loans/sqlite. Close does not close db.
func New(ctx context.Context, db *sql.DB) (*Store, error) {
	if err := migrate(ctx, db); err != nil {
		return nil, err
	}
	st, err := db.PrepareContext(ctx, `SELECT id, role, merchant_id, created_at, revoked_at FROM auth_api_keys WHERE secret_sha256 = ?`)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "preparing key lookup")
	}
	return &Store{db: db, byHash: st}, nil
}

// DB returns the underlying database handle.
func (s *Store) DB() *sql.DB { return s.db }

// Ping checks that the database answers a query (readiness).
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM auth_schema_migrations`).Scan(&n); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "database not ready")
	}
	return nil
}

// Close releases the statements and, when Open created it, the database.
func (s *Store) Close() error {
	err := s.byHash.Close()
	if s.owned {
		if cerr := s.db.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// migrations are applied in order, each in its own transaction, and recorded
// in auth_schema_migrations. Never edit an applied migration: append one.
var migrations = []string{
	1: `
CREATE TABLE auth_api_keys (
	id            TEXT PRIMARY KEY,
	secret_sha256 BLOB NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
	role          TEXT NOT NULL CHECK (role IN ('merchant', 'officer', 'service')),
	merchant_id   TEXT CHECK (merchant_id <> '' AND (role = 'merchant') = (merchant_id IS NOT NULL)),
	created_at    TEXT NOT NULL,
	revoked_at    TEXT
) STRICT;
CREATE TABLE auth_idempotency (
	owner          TEXT NOT NULL,
	key            TEXT NOT NULL,
	request_sha256 BLOB NOT NULL,
	state          TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
	status         INTEGER,
	content_type   TEXT,
	body           BLOB,
	created_at     TEXT NOT NULL,
	locked_at      TEXT NOT NULL,
	completed_at   TEXT,
	PRIMARY KEY (owner, key)
) STRICT;
CREATE INDEX auth_idempotency_completed ON auth_idempotency (completed_at) WHERE state = 'completed';
`,
}

func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS auth_schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "creating auth_schema_migrations")
	}
	for v := 1; v < len(migrations); v++ {
		if err := applyMigration(ctx, db, v); err != nil {
			return err
		}
	}
	return nil
}

// applyMigration applies version v unless it is recorded. The check runs
// inside the (BEGIN IMMEDIATE) transaction so two processes starting at once
// cannot both apply it.
func applyMigration(ctx context.Context, db *sql.DB, v int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "auth migration %d", v)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM auth_schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "auth migration %d", v)
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "auth migration %d", v)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO auth_schema_migrations (version, applied_at) VALUES (?, ?)`, v, fmtTime(time.Now())); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "auth migration %d", v)
	}
	if err := tx.Commit(); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "auth migration %d", v)
	}
	return nil
}

// SchemaVersion returns the highest applied auth migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT max(version) FROM auth_schema_migrations`).Scan(&v); err != nil {
		return 0, lend.Wrap(lend.EINTERNAL, err, "reading auth schema version")
	}
	return int(v.Int64), nil
}

// timeLayout is fixed width (always nine fractional digits, always UTC) so
// stored times compare correctly as strings in SQL.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

// isUnique reports whether err is a SQLite UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}
