// Package postgres implements loans.Store on PostgreSQL (jackc/pgx/v5), so
// several service processes share one book of loans, ledger and credit lines.
//
// Behaviour is the SQLite store's (loans/sqlite), checked by the same
// conformance suite (loans/storetest); the money logic is the pure engine in
// package loans, never a second copy. Every command is one READ COMMITTED
// transaction that:
//   - takes a shared advisory lock that close of business takes exclusively,
//     so commands never interleave with a day being closed (SQLite gets the
//     same effect from its single writer);
//   - locks the rows it changes with SELECT … FOR UPDATE: the loan on a
//     repayment, the credit line on a draw or accept, so two processes can
//     never draw a line past its limit;
//   - stores its idempotency key, request hash and result in the same
//     transaction.
//
// Serialization failures and deadlocks (and two concurrent first uses of one
// idempotency key) roll back and retry, at most MaxAttempts times.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// Limits of the store.
const (
	// MaxAttempts bounds how often a command is retried after a
	// serialization failure or deadlock.
	MaxAttempts = 8
	// DefaultMaxConns is the pool size unless the URL sets pool_max_conns.
	DefaultMaxConns = 16
	// lockClass is the first key of Lend's advisory locks ("LEND").
	lockClass = 0x4c454e44
	// lockDay is the second key's salt of the close-of-business lock; the
	// key is salted with the schema so stores in separate schemas (tests)
	// do not block each other.
	lockDay = "eod"
	// lockMigrate salts the migrations lock.
	lockMigrate = "migrate"
)

// MigrationNamespace is this package's namespace in schema_migrations
// (auth/postgres keeps its own).
const MigrationNamespace = "loans"

//go:embed migrations/*.sql
var migrationFS embed.FS

// querier is what both a pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is the PostgreSQL loans.Store.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
	policy  loans.Policy
	mu      sync.RWMutex
	now     func() time.Time
}

var _ loans.Store = (*Store)(nil)

// NewPool opens a pgx pool on url with Lend's settings; schema, when not
// empty, becomes the connections' search_path (tests use one per test).
func NewPool(ctx context.Context, url, schema string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "db: %v", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if schema != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = schema
	}
	// Statements must not wait forever on a lock held by a dead session.
	if _, ok := cfg.ConnConfig.RuntimeParams["lock_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = "60000"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "db: %v", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, lend.Wrap(lend.EINTERNAL, err, "db: cannot reach PostgreSQL: %v", err)
	}
	return pool, nil
}

// Open connects to the PostgreSQL database at url (postgres://…), migrates it
// and returns the store. Several processes may open one database at once.
func Open(ctx context.Context, url string, policy loans.Policy) (*Store, error) {
	pool, err := NewPool(ctx, url, "")
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, pool, policy)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// New migrates the database behind pool and returns a store on it; Close
// does not close a pool passed in here (auth/postgres may share it).
func New(ctx context.Context, pool *pgxpool.Pool, policy loans.Policy) (*Store, error) {
	p, err := policy.WithDefaults()
	if err != nil {
		return nil, err
	}
	if err := Migrate(ctx, pool, MigrationNamespace, migrationFS); err != nil {
		return nil, err
	}
	return &Store{pool: pool, policy: p, now: time.Now}, nil
}

// Pool returns the connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Policy returns the store's product policy.
func (s *Store) Policy() loans.Policy { return s.policy }

// SetClock replaces the wall clock (tests pin it; production keeps time.Now).
func (s *Store) SetClock(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

func (s *Store) clock() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.now()
}

// Close releases the pool when Open created it.
func (s *Store) Close() error {
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

// Migrate applies the embedded migrations (files NNNN_name.sql under
// migrations/ in fsys) not yet recorded under namespace in schema_migrations.
// It holds a session advisory lock for the whole run, so processes starting
// together apply each migration exactly once; each migration commits with
// its record.
func Migrate(ctx context.Context, pool *pgxpool.Pool, namespace string, fsys fs.FS) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migrations: %v", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema() || $2))`, lockClass, lockMigrate); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migrations lock: %v", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, hashtext(current_schema() || $2))`, lockClass, lockMigrate)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		namespace TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
		PRIMARY KEY (namespace, version))`); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migrations: %v", err)
	}
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migrations")
	}
	sort.Strings(files)
	for _, f := range files {
		base := f[len("migrations/"):]
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return lend.Errorf(lend.EINTERNAL, "migration %s: no version prefix", f)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE namespace = $1 AND version = $2`, namespace, v).Scan(&n); err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
		}
		if n > 0 {
			continue
		}
		body, _ := fs.ReadFile(fsys, f)
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			// No arguments: the simple protocol runs the file's statements.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, $3, $4)`, namespace, v, base, nowText(time.Now()))
			return err
		})
		if err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "migration %s %s: %v", namespace, base, err)
		}
	}
	return nil
}

// retryable reports whether err is a transient conflict the whole
// transaction may be retried after: a serialization failure, a deadlock, or
// a concurrent first use of the same idempotency key.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01":
		return true
	case "23505":
		return pe.ConstraintName == "loans_idempotency_pkey"
	}
	return false
}

// txMode says which close-of-business lock a transaction holds.
type txMode int

const (
	modeCommand txMode = iota // shared: commands run together
	modeDay                   // exclusive: one business day is closed alone
	modeRead                  // none: a consistent read-only snapshot
	// modeCommandBatched: a command that takes the shared lock itself, as
	// the first statement of its first batch (lockSharedSQL), saving a
	// round trip.
	modeCommandBatched
)

// lockSharedSQL takes the close-of-business lock shared ($1 lockClass, $2
// lockDay) until the transaction ends.
const lockSharedSQL = `SELECT pg_advisory_xact_lock_shared($1, hashtext(current_schema() || $2))`

// inTx runs fn in one transaction, retrying transient conflicts; fn must be
// safe to run again (it is: everything it did was rolled back).
func (s *Store) inTx(ctx context.Context, mode txMode, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.once(ctx, mode, fn)
		if err == nil || !retryable(err) || attempt >= MaxAttempts {
			break
		}
		// Jittered backoff so two retrying processes do not collide again.
		time.Sleep(time.Duration(rand.IntN(1<<attempt)+1) * time.Millisecond)
	}
	return internal(err, "transaction")
}

func (s *Store) once(ctx context.Context, mode txMode, fn func(tx pgx.Tx) error) (err error) {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted}
	if mode == modeRead {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	tx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "begin: %v", err)
	}
	defer func() {
		if r := recover(); r != nil {
			err = lend.Errorf(lend.EINTERNAL, "command panicked: %v", r)
		}
		if err != nil {
			tx.Rollback(context.Background())
		}
	}()
	switch mode {
	case modeCommand:
		_, err = tx.Exec(ctx, lockSharedSQL, lockClass, lockDay)
	case modeDay:
		_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext(current_schema() || $2))`, lockClass, lockDay)
	}
	if err != nil {
		return err
	}
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// internal wraps a storage error as EINTERNAL (a *lend.Error passes through).
func internal(err error, what string) error {
	if err == nil {
		return nil
	}
	var le *lend.Error
	if errors.As(err, &le) {
		return err
	}
	return lend.Wrap(lend.EINTERNAL, err, "%s: %v", what, err)
}

func fmtDate(d loans.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.Format(loans.DateLayout)
}

func parseDate(s string) loans.Date {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(loans.DateLayout, s)
	if err != nil {
		panic(fmt.Sprintf("corrupt date %q in database", s))
	}
	return t
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

func nowText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
