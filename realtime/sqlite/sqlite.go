// Package sqlite stores ingested transactions (realtime.Store) in the same
// SQLite database file as the loans store, under its own migrations
// namespace. A batch and its rows commit in one transaction with the
// idempotency key, durably (the database is opened with synchronous=FULL by
// loans/sqlite.OpenDB).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/realtime"
)

// MigrationNamespace is this package's namespace in schema_migrations.
const MigrationNamespace = "realtime"

// MaxHistoryRows bounds what History returns for one merchant.
const MaxHistoryRows = 1_000_000

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is the SQLite realtime.Store.
type Store struct {
	db *sql.DB
	// Statements prepared once (New): mattn/go-sqlite3 otherwise prepares
	// every statement with arguments again on each call, a large share of
	// an ingest's store CPU.
	loadBatch, latest, insertBatch, insertTx, setResponse, history *sql.Stmt
}

// The store's fixed statements.
const (
	qLoadBatch = `SELECT id, request_hash, rows, created_at, response FROM rt_batches
		WHERE merchant_id = ? AND idempotency_key = ?`
	qLatest      = `SELECT coalesce(max(id), 0) FROM rt_batches WHERE merchant_id = ?`
	qInsertBatch = `INSERT INTO rt_batches (merchant_id, idempotency_key, request_hash, rows, created_at) VALUES (?, ?, ?, ?, ?)`
	qInsertTx    = `INSERT INTO rt_transactions (batch_id, merchant_id, ts, amount, type, buyer_id, ts_us, amount_micro)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qSetResponse = `UPDATE rt_batches SET response = ? WHERE id = ?`
	// qHistory (History): the first and last sale before ?2, then every row
	// from ?2 on. Prepared once: a merchant's first decision reads it, and
	// preparing this union on every call was a third of that read's CPU
	// (docs/perf/api-resources.md, session 13).
	qHistoryCols = `ts_us, amount_micro, ` + realtime.TypeCodeSQL + ` AS code, buyer_id`
	qHistory     = `SELECT * FROM (
		SELECT ` + qHistoryCols + ` FROM (SELECT ts_us, amount_micro, type, buyer_id FROM rt_transactions WHERE merchant_id = ?1 AND ts_us < ?2 AND type = 'sale' ORDER BY ts_us LIMIT 1)
		UNION ALL SELECT ` + qHistoryCols + ` FROM (SELECT ts_us, amount_micro, type, buyer_id FROM rt_transactions WHERE merchant_id = ?1 AND ts_us < ?2 AND type = 'sale' ORDER BY ts_us DESC LIMIT 1)
		UNION ALL SELECT ` + qHistoryCols + ` FROM rt_transactions WHERE merchant_id = ?1 AND ts_us >= ?2
	) ORDER BY ts_us LIMIT ?3`
)

var _ realtime.Store = (*Store)(nil)

// New migrates db (opened with loans/sqlite.OpenDB, shared with the loans
// store) and returns the store. Close of db is the caller's.
func New(ctx context.Context, db *sql.DB) (*Store, error) {
	if err := migrate(ctx, db); err != nil {
		return nil, err
	}
	s := &Store{db: db}
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&s.loadBatch, qLoadBatch}, {&s.latest, qLatest}, {&s.insertBatch, qInsertBatch}, {&s.insertTx, qInsertTx}, {&s.setResponse, qSetResponse}, {&s.history, qHistory}} {
		st, err := db.PrepareContext(ctx, p.q)
		if err != nil {
			s.Close()
			return nil, lend.Wrap(lend.EINTERNAL, err, "preparing the realtime store's statements: %v", err)
		}
		*p.st = st
	}
	return s, nil
}

// Close releases the prepared statements (the database is the caller's).
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.loadBatch, s.latest, s.insertBatch, s.insertTx, s.setResponse, s.history} {
		if st != nil {
			st.Close()
		}
	}
	return nil
}

// migrate applies the embedded migrations not yet recorded under
// MigrationNamespace, each in its own transaction with its record.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		namespace TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,
		PRIMARY KEY (namespace, version))`); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migrations: %v", err)
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
		if err := applyOne(ctx, db, f, base, v); err != nil {
			return err
		}
	}
	return nil
}

func applyOne(ctx context.Context, db *sql.DB, f, base string, v int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE namespace = ? AND version = ?`, MigrationNamespace, v).Scan(&n); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
	}
	if n > 0 {
		return nil
	}
	body, _ := migrationFS.ReadFile(f)
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, ?, ?)`, MigrationNamespace, v, base, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
	}
	if err := tx.Commit(); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "migration %s: %v", base, err)
	}
	return nil
}

// loadBatch reads the batch stored under key with st (qLoadBatch).
func loadBatch(ctx context.Context, st *sql.Stmt, merchantID, key string) (realtime.Batch, bool, error) {
	b := realtime.Batch{MerchantID: merchantID, IdempotencyKey: key}
	var created string
	err := st.QueryRowContext(ctx, merchantID, key).Scan(&b.ID, &b.RequestHash, &b.Rows, &created, &b.Response)
	if errors.Is(err, sql.ErrNoRows) {
		return b, false, nil
	}
	if err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "read batch: %v", err)
	}
	b.CreatedAt, _ = time.Parse(time.RFC3339Nano, created)
	return b, true, nil
}

// Batch returns the merchant's batch stored under key.
func (s *Store) Batch(ctx context.Context, merchantID, key string) (realtime.Batch, bool, error) {
	return loadBatch(ctx, s.loadBatch, merchantID, key)
}

// Append stores the batch and its rows in one durable transaction, or
// returns the batch already stored under the key.
func (s *Store) Append(ctx context.Context, b realtime.Batch, rows []realtime.StoredTx) (realtime.Batch, bool, error) {
	if len(rows) == 0 || len(rows) != b.Rows || len(rows) > realtime.MaxBatchRows {
		return b, false, lend.Errorf(lend.EINTERNAL, "append: batch of %d rows declares %d", len(rows), b.Rows)
	}
	tx, err := s.db.BeginTx(ctx, nil) // BEGIN IMMEDIATE (OpenDB's _txlock)
	if err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "begin: %v", err)
	}
	defer tx.Rollback()
	if old, found, err := loadBatch(ctx, tx.StmtContext(ctx, s.loadBatch), b.MerchantID, b.IdempotencyKey); err != nil || found {
		return old, found, err
	}
	if err := tx.StmtContext(ctx, s.latest).QueryRowContext(ctx, b.MerchantID).Scan(&b.Prev); err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "latest batch: %v", err)
	}
	res, err := tx.StmtContext(ctx, s.insertBatch).ExecContext(ctx,
		b.MerchantID, b.IdempotencyKey, b.RequestHash, b.Rows, b.CreatedAt.UTC().Format(time.RFC3339Nano))
	if err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "insert batch: %v", err)
	}
	if b.ID, err = res.LastInsertId(); err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "insert batch: %v", err)
	}
	st := tx.StmtContext(ctx, s.insertTx)
	for _, r := range rows {
		if _, err := st.ExecContext(ctx, b.ID, b.MerchantID, r.TS, r.Amount, r.Type, r.BuyerID, r.TSUs, r.AmountMicro); err != nil {
			return b, false, lend.Wrap(lend.EINTERNAL, err, "insert transaction: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "commit: %v", err)
	}
	return b, false, nil
}

// LatestBatchID returns the id of the merchant's latest stored batch (0 when
// none): one probe of the (merchant_id, id) index.
func (s *Store) LatestBatchID(ctx context.Context, merchantID string) (int64, error) {
	var id int64
	if err := s.latest.QueryRowContext(ctx, merchantID).Scan(&id); err != nil {
		return 0, lend.Wrap(lend.EINTERNAL, err, "latest batch: %v", err)
	}
	return id, nil
}

// SetResponse records the response replayed for a batch's key.
func (s *Store) SetResponse(ctx context.Context, batchID int64, body []byte) error {
	if _, err := s.setResponse.ExecContext(ctx, body, batchID); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "record batch response: %v", err)
	}
	return nil
}

// History returns the merchant's rows at or after from, plus its first and
// last sale before from (all a feature row as of from + 366 days needs),
// ordered by time. Only the parsed fields are read (realtime.Store): every
// column is read from the covering index rt_transactions_history (no table
// row per history row), the type as its code (no string per row).
func (s *Store) History(ctx context.Context, merchantID string, from time.Time) ([]realtime.StoredTx, error) {
	rows, err := s.history.QueryContext(ctx, merchantID, from.UnixMicro(), MaxHistoryRows+1)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "history: %v", err)
	}
	defer rows.Close()
	var out []realtime.StoredTx
	// Scanning into *any hands over the driver's values as they are (no
	// conversion by reflection per column).
	var ts, amt, code, buyer any
	for rows.Next() {
		if err := rows.Scan(&ts, &amt, &code, &buyer); err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "history: %v", err)
		}
		r, ok := historyRow(ts, amt, code, buyer)
		if !ok {
			return nil, lend.Errorf(lend.EINTERNAL, "history: merchant %s: unreadable row %v %v %v %v", merchantID, ts, amt, code, buyer)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "history: %v", err)
	}
	if len(out) > MaxHistoryRows {
		return nil, lend.Errorf(lend.ETOOLARGE, "merchant %s has more than %d transactions in its feature window", merchantID, MaxHistoryRows)
	}
	return out, nil
}

// historyRow is a History row from the driver's values: integers for
// ts_us, amount_micro and the type's code, text for buyer_id.
func historyRow(ts, amt, code, buyer any) (realtime.StoredTx, bool) {
	t, ok1 := ts.(int64)
	a, ok2 := amt.(int64)
	c, ok3 := code.(int64)
	b, ok4 := buyer.(string)
	if !ok1 || !ok2 || !ok3 || !ok4 || c < 0 || c >= int64(len(realtime.TxTypes)) {
		return realtime.StoredTx{}, false
	}
	return realtime.StoredTx{Type: realtime.TxTypes[c], BuyerID: b, TSUs: t, AmountMicro: a}, true
}
