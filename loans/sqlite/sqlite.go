// Package sqlite implements loans.Store on SQLite (mattn/go-sqlite3) in WAL
// mode with synchronous=FULL, so an acknowledged command survives power loss.
//
// All writes go through one writer goroutine that owns one connection and
// commits in groups: it takes every command waiting in its queue (up to
// MaxGroupCommit), runs each inside its own SAVEPOINT within one BEGIN
// IMMEDIATE transaction, and acknowledges them only after the COMMIT is
// durable. A failing command rolls back to its savepoint and leaves nothing
// behind; the others commit. Consecutive applications of a group share
// multi-row statements in one savepoint (bulk.go), with the same results. One writer means commands on a loan or a credit
// line are serialized, so two concurrent draws can never exceed a line.
// Reads use the other pooled connections and see committed snapshots.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

// Limits of the writer.
const (
	// MaxGroupCommit is the most commands one transaction commits together.
	MaxGroupCommit = 512
	// QueueDepth is how many commands may wait for the writer.
	QueueDepth = 4096
	// BusyTimeoutMs is how long a connection waits for another process's lock.
	BusyTimeoutMs = 30000
	// MaxReadConns bounds the pooled read connections.
	MaxReadConns = 8
)

// MigrationNamespace is this package's namespace in the shared
// schema_migrations table (other packages, e.g. auth/sqlite, keep theirs).
const MigrationNamespace = "loans"

//go:embed migrations/*.sql
var migrationFS embed.FS

// syncMode is synchronous=FULL in production; only property tests relax it.
var syncMode = "FULL"

// OpenDB opens (creating if needed) the SQLite database at path with Lend's
// connection settings: WAL, synchronous=FULL, foreign keys, a busy timeout
// and BEGIN IMMEDIATE transactions. Other stores may share the *sql.DB.
func OpenDB(path string) (*sql.DB, error) {
	if path == "" {
		return nil, lend.FieldErrorf("db", "is required")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "open %s: %v", path, err)
	}
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", syncMode)
	q.Set("_foreign_keys", "1")
	q.Set("_busy_timeout", strconv.Itoa(BusyTimeoutMs))
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "open %s: %v", path, err)
	}
	db.SetMaxOpenConns(MaxReadConns + 1)
	db.SetMaxIdleConns(MaxReadConns + 1)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, lend.Wrap(lend.EINTERNAL, err, "open %s: %v", path, err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, lend.Errorf(lend.EINTERNAL, "open %s: journal_mode is %q, want wal (%v)", path, mode, err)
	}
	return db, nil
}

// Store is the SQLite loans.Store.
type Store struct {
	db     *sql.DB
	ownDB  bool
	policy loans.Policy
	wconn  *sql.Conn
	stmts  *stmtCache
	ops    chan op
	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	// now is the wall clock (tests may replace it).
	now func() time.Time
	// bulkRuns and bulkDeclined count runs of applications answered in
	// bulk and runs left to the one-by-one path (tests assert which ran).
	bulkRuns, bulkDeclined atomic.Int64
	// commitObserver, when set, hears of every group commit (ObserveCommits).
	commitObserver atomic.Pointer[func(int, time.Duration)]
}

var _ loans.CommitObserver = (*Store)(nil)

// ObserveCommits implements loans.CommitObserver.
func (s *Store) ObserveCommits(observe func(commands int, commitDuration time.Duration)) {
	s.commitObserver.Store(&observe)
}

var _ loans.Store = (*Store)(nil)

// Open opens the database at path, migrates it and starts the writer.
func Open(path string, policy loans.Policy) (*Store, error) {
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	s, err := New(db, policy)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.ownDB = true
	return s, nil
}

// New runs the loans migrations on db (opened with OpenDB) and starts the
// writer. Close does not close a db passed in here.
func New(db *sql.DB, policy loans.Policy) (*Store, error) {
	p, err := policy.WithDefaults()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "loans store: connection")
	}
	if err := migrate(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	s := &Store{db: db, policy: p, wconn: conn, ops: make(chan op, QueueDepth), now: time.Now,
		stmts: newStmtCache(db)}
	s.wg.Add(1)
	go s.writer()
	return s, nil
}

// DB returns the shared database handle.
func (s *Store) DB() *sql.DB { return s.db }

// SetClock replaces the wall clock (tests pin it; production keeps
// time.Now). Call it before the first command.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Policy returns the store's product policy.
func (s *Store) Policy() loans.Policy { return s.policy }

// Close stops the writer after the queued commands and releases the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.mu.Unlock()
	s.wg.Wait()
	s.stmts.close()
	err := s.wconn.Close()
	if s.ownDB {
		if e := s.db.Close(); err == nil {
			err = e
		}
	}
	return err
}

// migrate applies the embedded migrations not yet recorded under
// MigrationNamespace, each in its own transaction with its record.
func migrate(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		namespace TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
		PRIMARY KEY (namespace, version))`); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migrations: %v", err)
	}
	var hasNS int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('schema_migrations') WHERE name = 'namespace'`).Scan(&hasNS); err != nil || hasNS == 0 {
		return lend.Errorf(lend.EINTERNAL, "migrations: schema_migrations exists without a namespace column; cannot share it safely")
	}
	files, err := fs.Glob(migrationFS, "migrations/*.sql")
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
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE namespace = ? AND version = ?`, MigrationNamespace, v).Scan(&n); err != nil {
			tx.Rollback()
			return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
		}
		if n > 0 {
			tx.Rollback()
			continue
		}
		body, _ := migrationFS.ReadFile(f)
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, ?, ?)`, MigrationNamespace, v, base, time.Now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
		}
		if err := tx.Commit(); err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
		}
	}
	return nil
}

// op is one command for the writer: fn runs inside the group transaction.
type op struct {
	ctx  context.Context
	fn   func(tx *Tx) (any, error)
	solo bool // run alone in its own transaction (close of business)
	// app, when set, is the application fn inserts: the writer may insert
	// it together with its neighbours in the group (bulkApplications).
	app  *appRow
	done chan result
}

type result struct {
	v   any
	err error
}

// errClosed is returned for commands submitted after Close.
var errClosed = lend.Errorf(lend.EINTERNAL, "loans store is closed")

// exec submits fn to the writer and waits until its transaction commits or
// rolls back. The wait ignores ctx once the command is queued: the caller must
// learn the outcome of a command that may already be committed.
func (s *Store) exec(ctx context.Context, solo bool, fn func(tx *Tx) (any, error)) (any, error) {
	return s.submit(ctx, op{fn: fn, solo: solo})
}

// submit queues o for the writer and waits for its result, as exec.
func (s *Store) submit(ctx context.Context, o op) (any, error) {
	o.ctx, o.done = ctx, make(chan result, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	select {
	case s.ops <- o:
		s.mu.Unlock()
	case <-ctx.Done():
		s.mu.Unlock()
		return nil, lend.Wrap(lend.EINTERNAL, ctx.Err(), "command not started: %v", ctx.Err())
	}
	r := <-o.done
	return r.v, r.err
}

func (s *Store) writer() {
	defer s.wg.Done()
	var pending *op
	for {
		var first op
		if pending != nil {
			first, pending = *pending, nil
		} else {
			o, ok := <-s.ops
			if !ok {
				return
			}
			first = o
		}
		batch := []op{first}
		if !first.solo {
		drain:
			for len(batch) < MaxGroupCommit {
				select {
				case o, ok := <-s.ops:
					if !ok {
						break drain
					}
					if o.solo {
						pending = &o
						break drain
					}
					batch = append(batch, o)
				default:
					break drain
				}
			}
		}
		s.runGroup(batch)
	}
}

// runGroup runs a batch in one transaction, each command in a savepoint.
func (s *Store) runGroup(batch []op) {
	ctx := context.Background()
	results := make([]result, len(batch))
	stx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		for i := range batch {
			batch[i].done <- result{err: lend.Wrap(lend.EINTERNAL, err, "begin: %v", err)}
		}
		return
	}
	tx := &Tx{Tx: stx, c: s.stmts}
	ok := 0
	scanned, bulkDone := 0, 0 // batch[:scanned] looked at for a bulk run; batch[:bulkDone] answered in bulk
	for i, o := range batch {
		if i >= scanned {
			j := bulkRun(batch, i)
			scanned = max(j, i+1)
			if j-i >= 2 {
				done, err := s.bulkApplications(tx, batch[i:j], results[i:j])
				if err != nil {
					// The transaction is unusable: fail the whole group.
					tx.Rollback()
					for k := range batch {
						batch[k].done <- result{err: err}
					}
					return
				}
				if done {
					bulkDone = j
					s.bulkRuns.Add(1)
				} else {
					s.bulkDeclined.Add(1)
				}
			}
		}
		if i < bulkDone {
			continue
		}
		if _, err := tx.Exec("SAVEPOINT cmd"); err != nil {
			results[i] = result{err: lend.Wrap(lend.EINTERNAL, err, "savepoint: %v", err)}
			continue
		}
		v, err := safeRun(o.fn, tx)
		if err == nil {
			if _, e := tx.Exec(releaseStmt()); e != nil {
				// The command's writes are still inside its savepoint: the
				// group's COMMIT would keep them while its caller is told
				// it failed. Undo them like a failed command's.
				err = lend.Wrap(lend.EINTERNAL, e, "release: %v", e)
			}
		}
		if err != nil {
			_, e1 := tx.Exec("ROLLBACK TO cmd")
			_, e2 := tx.Exec("RELEASE cmd")
			if e1 != nil || e2 != nil {
				// The transaction is unusable: fail the whole group.
				tx.Rollback()
				for j := range batch {
					batch[j].done <- result{err: lend.Errorf(lend.EINTERNAL, "rollback to savepoint failed: %v %v", e1, e2)}
				}
				return
			}
			results[i] = result{err: err}
			continue
		}
		results[i] = result{v: v}
		ok++
	}
	commitStart := time.Now()
	err = tx.Commit()
	if observe := s.commitObserver.Load(); observe != nil && err == nil {
		(*observe)(len(batch), time.Since(commitStart))
	}
	if err != nil {
		tx.Rollback()
		for i := range batch {
			if results[i].err == nil {
				results[i] = result{err: lend.Wrap(lend.EINTERNAL, err, "commit: %v", err)}
			}
		}
	}
	for i := range batch {
		batch[i].done <- results[i]
	}
}

// releaseFaults makes that many coming RELEASEs of a command's savepoint
// fail (tests only: a RELEASE failing is rare and cannot be provoked from
// outside).
var releaseFaults atomic.Int32

// releaseStmt is the statement that ends a command's savepoint.
func releaseStmt() string {
	if releaseFaults.Load() > 0 && releaseFaults.Add(-1) >= 0 {
		return "RELEASE no_such_savepoint"
	}
	return "RELEASE cmd"
}

// safeRun turns a panic in a command into EINTERNAL so the savepoint is rolled back.
func safeRun(fn func(tx *Tx) (any, error), tx *Tx) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, lend.Errorf(lend.EINTERNAL, "command panicked: %v", r)
		}
	}()
	v, err = fn(tx)
	if err != nil {
		var le *lend.Error
		if !errors.As(err, &le) {
			err = lend.Wrap(lend.EINTERNAL, err, "%v", err)
		}
	}
	return v, err
}

// internal wraps a storage error.
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

func nowText(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
