package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// MaxCachedStmts bounds the prepared statement cache (the store's SQL is a
// fixed set of texts; the bound only guards against a future dynamic query).
const MaxCachedStmts = 256

// stmtCache keeps one *sql.Stmt per SQL text, prepared on the store's pool:
// mattn/go-sqlite3 otherwise re-prepares every Exec/QueryRow with arguments,
// which was the largest CPU cost of a command. database/sql prepares each
// statement once per connection and reuses it (the writer's included).
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sql.Stmt)}
}

// get returns the prepared statement for q, or nil if it cannot be prepared
// or cached (the caller then runs q unprepared, with the same outcome).
func (c *stmtCache) get(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	if c.m == nil || len(c.m) >= MaxCachedStmts {
		return nil
	}
	st, err := c.db.Prepare(q)
	if err != nil {
		return nil
	}
	c.m[q] = st
	return st
}

// close releases every statement; later gets prepare nothing.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// Tx is the writer's transaction: *sql.Tx whose Exec, QueryRow and Query run
// cached prepared statements. Set-based close-of-business SQL with temporary
// tables uses the embedded *sql.Tx directly.
type Tx struct {
	*sql.Tx
	c *stmtCache
	// bound keeps each statement bound to this transaction once: a group
	// commit runs the same few statements for every command, and binding
	// (sql.Tx.Stmt) allocates and locks each time. database/sql closes them
	// with the transaction.
	bound map[*sql.Stmt]*sql.Stmt
}

// stmt returns q prepared and bound to the transaction, or nil (run q
// unprepared).
func (t *Tx) stmt(q string) *sql.Stmt {
	st := t.c.get(q)
	if st == nil {
		return nil
	}
	if b, ok := t.bound[st]; ok {
		return b
	}
	if t.bound == nil {
		t.bound = make(map[*sql.Stmt]*sql.Stmt)
	}
	b := t.Tx.Stmt(st)
	t.bound[st] = b
	return b
}

// Exec runs q as a cached statement inside the transaction.
func (t *Tx) Exec(q string, args ...any) (sql.Result, error) {
	if st := t.stmt(q); st != nil {
		return st.Exec(args...)
	}
	return t.Tx.Exec(q, args...)
}

// QueryRow runs q as a cached statement inside the transaction.
func (t *Tx) QueryRow(q string, args ...any) *sql.Row {
	if st := t.stmt(q); st != nil {
		return st.QueryRow(args...)
	}
	return t.Tx.QueryRow(q, args...)
}

// Query runs q as a cached statement inside the transaction.
func (t *Tx) Query(q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(q); st != nil {
		return st.Query(args...)
	}
	return t.Tx.Query(q, args...)
}

// reader runs cached statements on the pool's read connections.
type reader struct{ c *stmtCache }

// QueryRow runs q as a cached statement on a pooled connection.
func (r reader) QueryRow(q string, args ...any) *sql.Row {
	return r.QueryRowContext(context.Background(), q, args...)
}

// QueryRowContext runs q as a cached statement on a pooled connection.
func (r reader) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := r.c.get(q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.c.db.QueryRowContext(ctx, q, args...)
}

// Query runs q as a cached statement on a pooled connection.
func (r reader) Query(q string, args ...any) (*sql.Rows, error) {
	if st := r.c.get(q); st != nil {
		return st.Query(args...)
	}
	return r.c.db.Query(q, args...)
}
