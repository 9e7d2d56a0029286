// Package postgres stores API keys and HTTP idempotency records in
// PostgreSQL (jackc/pgx/v5), so every `lend serve` process sharing one
// database accepts the same keys and replays the same responses. Semantics
// are auth/sqlite's; the schema is versioned in its own table,
// auth_schema_migrations, and every table name is its own, so it shares the
// database (and the pool) with loans/postgres.
package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
)

// Store implements auth.KeyStore and auth.IdempotencyStore on a pgx pool.
type Store struct {
	pool  *pgxpool.Pool
	owned bool // Close closes the pool only when Open created it
}

var (
	_ auth.KeyStore         = (*Store)(nil)
	_ auth.IdempotencyStore = (*Store)(nil)
)

// Open connects to url (postgres://…), migrates the auth schema and returns
// the store.
func Open(ctx context.Context, url string) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "db: %v", err)
	}
	s, err := New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New migrates the auth schema through pool and returns a store on it;
// Close does not close a pool passed in here.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if err := migrate(ctx, pool); err != nil {
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Ping checks that the database answers a query (readiness).
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM auth_schema_migrations`).Scan(&n); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "database not ready")
	}
	return nil
}

// Close releases the pool when Open created it.
func (s *Store) Close() error {
	if s.owned {
		s.pool.Close()
	}
	return nil
}

// migrations are applied in order, each in its own transaction, and recorded
// in auth_schema_migrations. Never edit an applied migration: append one.
// Times are TEXT in timeLayout, as on SQLite, so they compare as strings.
var migrations = []string{
	1: `
CREATE TABLE auth_api_keys (
	id            TEXT COLLATE "C" PRIMARY KEY, -- bytewise, as SQLite orders ListKeys
	secret_sha256 BYTEA NOT NULL UNIQUE CHECK (length(secret_sha256) = 32),
	role          TEXT NOT NULL CHECK (role IN ('merchant', 'officer', 'service')),
	merchant_id   TEXT CHECK (merchant_id <> '' AND (role = 'merchant') = (merchant_id IS NOT NULL)),
	created_at    TEXT NOT NULL,
	revoked_at    TEXT
);
CREATE TABLE auth_idempotency (
	owner          TEXT NOT NULL,
	key            TEXT NOT NULL,
	request_sha256 BYTEA NOT NULL,
	state          TEXT NOT NULL CHECK (state IN ('in_flight', 'completed')),
	status         INTEGER,
	content_type   TEXT,
	body           BYTEA,
	created_at     TEXT NOT NULL,
	locked_at      TEXT NOT NULL,
	completed_at   TEXT,
	PRIMARY KEY (owner, key)
);
CREATE INDEX auth_idempotency_completed ON auth_idempotency (completed_at) WHERE state = 'completed';
`,
}

// lockClass is the first key of Lend's advisory locks ("LEND").
const lockClass = 0x4c454e44

// migrate applies the missing migrations under a session advisory lock, so
// several processes starting at once apply each exactly once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "auth migrations: %v", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema() || 'auth-migrate'))`, lockClass); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "auth migrations lock: %v", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, hashtext(current_schema() || 'auth-migrate'))`, lockClass)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS auth_schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "creating auth_schema_migrations: %v", err)
	}
	for v := 1; v < len(migrations); v++ {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM auth_schema_migrations WHERE version = $1`, v).Scan(&n); err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "auth migration %d: %v", v, err)
		}
		if n > 0 {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO auth_schema_migrations (version, applied_at) VALUES ($1, $2)`, v, fmtTime(time.Now()))
			return err
		})
		if err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "auth migration %d: %v", v, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest applied auth migration.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v *int32
	if err := s.pool.QueryRow(ctx, `SELECT max(version) FROM auth_schema_migrations`).Scan(&v); err != nil {
		return 0, lend.Wrap(lend.EINTERNAL, err, "reading auth schema version")
	}
	if v == nil {
		return 0, nil
	}
	return int(*v), nil
}

// timeLayout is fixed width (always nine fractional digits, always UTC) so
// stored times compare correctly as strings in SQL.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(timeLayout, s) }

// isUnique reports whether err is a unique or primary key violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
