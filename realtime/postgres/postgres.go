// Package postgres stores ingested transactions (realtime.Store) in the
// PostgreSQL database of the loans store (loans/postgres), under its own
// tables (rt_*) and migrations namespace, so every `lend serve` process on
// the database sees every batch.
//
// Behaviour is the SQLite store's (realtime/sqlite), checked by the same
// suite (realtime/storetest). Where SQLite's single writer serializes
// appends, here Append locks the merchant's rt_merchants row first: a
// merchant's batches commit one at a time, whichever process stores them,
// so a key is stored once (a second Append of it waits, then finds it) and
// Prev, read under the lock, is the batch committed just before. Appends of
// different merchants do not wait for each other.
package postgres

import (
	"context"
	"embed"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lendhq/lend"
	loanspg "github.com/lendhq/lend/loans/postgres"
	"github.com/lendhq/lend/realtime"
)

// MigrationNamespace is this package's namespace in schema_migrations (the
// table loans/postgres keeps; each package has its own namespace).
const MigrationNamespace = "realtime"

// MaxHistoryRows bounds what History returns for one merchant.
const MaxHistoryRows = 1_000_000

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store is the PostgreSQL realtime.Store.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool
}

var _ realtime.Store = (*Store)(nil)

// New migrates the database behind pool (shared with loans/postgres) and
// returns the store; Close does not close a pool passed in here.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	if err := loanspg.Migrate(ctx, pool, MigrationNamespace, migrationFS); err != nil {
		return nil, err
	}
	return &Store{pool: pool}, nil
}

// Open connects to the PostgreSQL database at url with the loans store's
// pool settings (loans/postgres.NewPool), migrates it and returns a store
// that owns its pool.
func Open(ctx context.Context, url string) (*Store, error) {
	pool, err := loanspg.NewPool(ctx, url, "")
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownPool = true
	return s, nil
}

// Close releases the pool when Open created it.
func (s *Store) Close() error {
	if s.ownPool {
		s.pool.Close()
	}
	return nil
}

const batchSQL = `SELECT id, request_hash, rows, created_at, response FROM rt_batches
	WHERE merchant_id = $1 AND idempotency_key = $2`

func scanBatch(row pgx.Row, merchantID, key string) (realtime.Batch, bool, error) {
	b := realtime.Batch{MerchantID: merchantID, IdempotencyKey: key}
	var created string
	err := row.Scan(&b.ID, &b.RequestHash, &b.Rows, &created, &b.Response)
	if errors.Is(err, pgx.ErrNoRows) {
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
	return scanBatch(s.pool.QueryRow(ctx, batchSQL, merchantID, key), merchantID, key)
}

// lockMerchantSQL locks the merchant's rt_merchants row (creating it on its
// first batch) until the transaction ends and returns its latest batch id.
// Under READ COMMITTED a waiting upsert proceeds on the row as committed by
// the transaction it waited for, so the id is the latest committed one.
const lockMerchantSQL = `INSERT INTO rt_merchants (merchant_id) VALUES ($1)
	ON CONFLICT (merchant_id) DO UPDATE SET latest_batch_id = rt_merchants.latest_batch_id
	RETURNING latest_batch_id`

// insertSQL stores the batch, its rows (arrays, one round trip) and the
// merchant's new latest batch in one statement.
const insertSQL = `WITH b AS (
	INSERT INTO rt_batches (merchant_id, idempotency_key, request_hash, rows, created_at)
	VALUES ($1, $2, $3, $4, $5) RETURNING id
), t AS (
	INSERT INTO rt_transactions (batch_id, merchant_id, ts, amount, type, buyer_id, ts_us, amount_micro)
	SELECT b.id, $1, u.ts, u.amount, u.type, u.buyer_id, u.ts_us, u.amount_micro
	FROM b, unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[])
		WITH ORDINALITY AS u(ts, amount, type, buyer_id, ts_us, amount_micro, n)
	ORDER BY u.n
), m AS (
	UPDATE rt_merchants SET latest_batch_id = (SELECT id FROM b) WHERE merchant_id = $1
)
SELECT id FROM b`

// Append stores the batch and its rows in one transaction, or returns the
// batch already stored under the key (stored by any process).
func (s *Store) Append(ctx context.Context, b realtime.Batch, rows []realtime.StoredTx) (realtime.Batch, bool, error) {
	if len(rows) == 0 || len(rows) != b.Rows || len(rows) > realtime.MaxBatchRows {
		return b, false, lend.Errorf(lend.EINTERNAL, "append: batch of %d rows declares %d", len(rows), b.Rows)
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "begin: %v", err)
	}
	defer tx.Rollback(context.Background())
	// The lock, then the key: one round trip. The key's statement runs after
	// the lock is held, on a snapshot that sees every batch committed
	// before it was granted.
	var q pgx.Batch
	q.Queue(lockMerchantSQL, b.MerchantID)
	q.Queue(batchSQL, b.MerchantID, b.IdempotencyKey)
	br := tx.SendBatch(ctx, &q)
	if err := br.QueryRow().Scan(&b.Prev); err != nil {
		br.Close()
		return b, false, lend.Wrap(lend.EINTERNAL, err, "lock merchant: %v", err)
	}
	old, found, err := scanBatch(br.QueryRow(), b.MerchantID, b.IdempotencyKey)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = lend.Wrap(lend.EINTERNAL, cerr, "read batch: %v", cerr)
	}
	if err != nil || found {
		return old, found, err // the rollback releases the lock
	}
	n := len(rows)
	ts, amount, typ, buyer := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	tsUs, micro := make([]int64, n), make([]int64, n)
	for i, r := range rows {
		ts[i], amount[i], typ[i], buyer[i], tsUs[i], micro[i] = r.TS, r.Amount, r.Type, r.BuyerID, r.TSUs, r.AmountMicro
	}
	if err := tx.QueryRow(ctx, insertSQL, b.MerchantID, b.IdempotencyKey, b.RequestHash, b.Rows,
		b.CreatedAt.UTC().Format(time.RFC3339Nano), ts, amount, typ, buyer, tsUs, micro).Scan(&b.ID); err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "insert batch: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return b, false, lend.Wrap(lend.EINTERNAL, err, "commit: %v", err)
	}
	return b, false, nil
}

// LatestBatchID returns the id of the merchant's latest stored batch (0 when
// none): one probe of the (merchant_id, id) index.
func (s *Store) LatestBatchID(ctx context.Context, merchantID string) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM rt_batches WHERE merchant_id = $1`, merchantID).Scan(&id); err != nil {
		return 0, lend.Wrap(lend.EINTERNAL, err, "latest batch: %v", err)
	}
	return id, nil
}

// SetResponse records the response replayed for a batch's key.
func (s *Store) SetResponse(ctx context.Context, batchID int64, body []byte) error {
	if _, err := s.pool.Exec(ctx, `UPDATE rt_batches SET response = $2 WHERE id = $1`, batchID, body); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "record batch response: %v", err)
	}
	return nil
}

// History returns the merchant's rows at or after from, plus its first and
// last sale before from (all a feature row as of from + 366 days needs),
// ordered by time (rows of one instant in the order they were stored). Only
// the parsed fields are read (realtime.Store), the type as its code (no
// string per row).
func (s *Store) History(ctx context.Context, merchantID string, from time.Time) ([]realtime.StoredTx, error) {
	const cols = `id, ts_us, amount_micro, type, buyer_id`
	rows, err := s.pool.Query(ctx, `SELECT ts_us, amount_micro, (`+realtime.TypeCodeSQL+`)::int8, buyer_id FROM (
		(SELECT `+cols+` FROM rt_transactions WHERE merchant_id = $1 AND ts_us < $2 AND type = 'sale' ORDER BY ts_us, id LIMIT 1)
		UNION ALL (SELECT `+cols+` FROM rt_transactions WHERE merchant_id = $1 AND ts_us < $2 AND type = 'sale' ORDER BY ts_us DESC, id DESC LIMIT 1)
		UNION ALL (SELECT `+cols+` FROM rt_transactions WHERE merchant_id = $1 AND ts_us >= $2)
	) h ORDER BY ts_us, id LIMIT $3`, merchantID, from.UnixMicro(), MaxHistoryRows+1)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "history: %v", err)
	}
	defer rows.Close()
	var out []realtime.StoredTx
	for rows.Next() {
		var r realtime.StoredTx
		var code *int64
		if err := rows.Scan(&r.TSUs, &r.AmountMicro, &code, &r.BuyerID); err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "history: %v", err)
		}
		if code == nil || *code < 0 || *code >= int64(len(realtime.TxTypes)) {
			return nil, lend.Errorf(lend.EINTERNAL, "history: merchant %s: a row of unknown type", merchantID)
		}
		r.Type = realtime.TxTypes[*code]
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
