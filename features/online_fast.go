package features

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/lendhq/lend"
)

// MaxRowErrors bounds the row errors one validation reports.
const MaxRowErrors = 100

// onlineTable is the staging table of an Online, a temp table of its own
// connection (shaped by stagingDDL, like every other staging table).
const onlineTable = "online_stage"

// histTable holds already validated rows (ValidRow) in their parsed form.
const histTable = "online_hist"

// histRel reads histTable shaped like the validated transactions (the
// columns Query reads): the same TIMESTAMP, the exact DECIMAL(18,6) amount
// (micro-units × 10^-6), empty buyer as NULL, as validation makes them.
const histRel = "SELECT merchant_id, ts, CAST(CAST(amount_micro AS DECIMAL(18,0)) * 0.000001::DECIMAL(7,6) AS DECIMAL(18,6)) AS amount, type, NULLIF(buyer_id, '') AS buyer_id FROM temp.main." + histTable

// planSafeOptimizers are the DuckDB optimizers a prepared plan must run
// without: they rewrite the plan from the staging table's statistics at
// prepare time (pruning CASE branches and filters, narrowing types), which
// would be wrong for the next call's rows. Disabled only in OpenOnline's own
// database, never in a caller's.
const planSafeOptimizers = "statistics_propagation,compressed_materialization"

// Online is the fast execution path of the registry for one merchant at a
// time: the batch pipeline's validation SQL and feature query (Query), run on
// one dedicated DuckDB connection whose staging table is created once and
// refilled with an appender. Opened with OpenOnline, its statements are also
// prepared once (the feature query once per as-of day), which removes the
// planning of the ~20-feature query from every call. Calls are serialized.
type Online struct {
	mu       sync.Mutex
	db       *sql.DB // owned (OpenOnline) or nil
	conn     *sql.Conn
	prepared bool
	stmts    map[string]*sql.Stmt // by SQL text, when prepared
	queries  map[string]string    // feature queries by relation, as-of and buyer flag
	closed   bool
	broken   bool // a rollback failed: staged rows may remain
}

// ValidTx is a row that passed validation: its instant (UTC, microseconds)
// and amount in millionths of a major unit, as DuckDB parsed them.
type ValidTx struct {
	TS          time.Time
	AmountMicro int64
}

// ValidRow is a row validated earlier (by Validate or ValidateAndCompute),
// kept in its parsed form: the online path reads it without parsing again.
type ValidRow struct {
	MerchantID  string
	TS          time.Time // as ValidTx.TS
	AmountMicro int64     // as ValidTx.AmountMicro
	Type        string
	BuyerID     string
}

// RowError names an invalid row of a batch by its 0-based index.
type RowError struct {
	Index  int    `json:"index"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// NewOnline uses a dedicated connection of db (from OpenDB) without prepared
// statements: db's settings are left alone.
func NewOnline(ctx context.Context, db *sql.DB) (*Online, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "DuckDB connection")
	}
	o := &Online{conn: conn, queries: map[string]string{}}
	if err := o.init(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return o, nil
}

// OpenOnline opens an in-memory DuckDB of its own (one thread, memoryLimit
// like "512MB") with prepared statements: the service's fast path.
func OpenOnline(ctx context.Context, memoryLimit string) (*Online, error) {
	db, err := OpenDB(1, memoryLimit, "")
	if err != nil {
		return nil, err
	}
	// Keep up to memoryLimit of freed memory in the allocator instead of
	// returning it after every query: the page faults and zeroing of the
	// next query's hash tables were ~30% of a one-merchant feature query.
	if _, err := db.ExecContext(ctx, "SET allocator_flush_threshold = "+sqlString(memoryLimit)); err != nil {
		db.Close()
		return nil, lend.Wrap(lend.EINTERNAL, err, "configuring online DuckDB")
	}
	if _, err := db.ExecContext(ctx, "SET disabled_optimizers = "+sqlString(planSafeOptimizers)); err != nil {
		db.Close()
		return nil, lend.Wrap(lend.EINTERNAL, err, "configuring online DuckDB")
	}
	o, err := NewOnline(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	o.db, o.prepared, o.stmts = db, true, map[string]*sql.Stmt{}
	return o, nil
}

func (o *Online) init(ctx context.Context) error {
	ddl := "CREATE OR REPLACE TEMP TABLE " + onlineTable + " " + stagingDDL[len("CREATE TABLE %s "):]
	if _, err := o.conn.ExecContext(ctx, ddl); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "creating online staging table")
	}
	ddl = "CREATE OR REPLACE TEMP TABLE " + histTable + " (merchant_id VARCHAR, ts TIMESTAMP, amount_micro BIGINT, type VARCHAR, buyer_id VARCHAR)"
	if _, err := o.conn.ExecContext(ctx, ddl); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "creating online history table")
	}
	return nil
}

// Close releases the connection (and the database OpenOnline opened).
func (o *Online) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	for _, s := range o.stmts {
		s.Close()
	}
	// The connection returns to the pool: leave no staging rows behind.
	o.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS temp.main."+onlineTable)
	o.conn.ExecContext(context.Background(), "DROP TABLE IF EXISTS temp.main."+histTable)
	err := o.conn.Close()
	if o.db != nil {
		if e := o.db.Close(); err == nil {
			err = e
		}
	}
	return err
}

// queryRows runs q on the connection, through a cached prepared statement
// when o is prepared.
func (o *Online) queryRows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if !o.prepared {
		return o.conn.QueryContext(ctx, q, args...)
	}
	st := o.stmts[q]
	if st == nil {
		var err error
		if st, err = o.conn.PrepareContext(ctx, q); err != nil {
			return nil, err
		}
		if len(o.stmts) >= 16 { // an old as-of day's feature query: drop them all
			for k, s := range o.stmts {
				s.Close()
				delete(o.stmts, k)
			}
		}
		o.stmts[q] = st
	}
	return st.QueryContext(ctx, args...)
}

// begin opens the DuckDB transaction of one call; end rolls it back, so
// the staged rows vanish with it: no DELETE and no commit per call, and the
// tables are empty when the next call begins. A failed rollback leaves rows
// behind: the Online refuses every later call (broken). o.mu is held.
func (o *Online) begin(ctx context.Context) (end func(), err error) {
	if o.closed || o.broken {
		return nil, lend.Errorf(lend.EINTERNAL, "online features are closed or broken")
	}
	if _, err := o.conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "online transaction")
	}
	return func() {
		if _, err := o.conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
			o.broken = true
		}
	}, nil
}

// stage fills the staging table (empty at the start of every transaction of
// begin) with rows then more (lines are 1-based over both).
func (o *Online) stage(ctx context.Context, hasBuyer bool, rows, more []Tx) error {
	if o.closed {
		return lend.Errorf(lend.EINTERNAL, "online features are closed")
	}
	if len(rows)+len(more) > MaxOnlineRows {
		return lend.Errorf(lend.ETOOLARGE, "history of %d rows exceeds %d", len(rows)+len(more), MaxOnlineRows)
	}
	err := o.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", onlineTable)
		if err != nil {
			return err
		}
		line := int64(0)
		for _, part := range [][]Tx{rows, more} {
			for _, r := range part {
				line++
				var buyer driver.Value
				if hasBuyer {
					buyer = r.BuyerID
				}
				if err := app.AppendRow("online", line, r.MerchantID, r.TS, r.Amount, r.Type, buyer, nil, nil); err != nil {
					app.Close()
					return err
				}
			}
		}
		return app.Close()
	})
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "staging online rows")
	}
	return nil
}

// stageHistory fills histTable (empty at the start of every transaction of
// begin) with rows.
func (o *Online) stageHistory(ctx context.Context, rows []ValidRow) error {
	err := o.conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppender(dc.(driver.Conn), "temp", "main", histTable)
		if err != nil {
			return err
		}
		for _, r := range rows {
			if err := app.AppendRow(r.MerchantID, r.TS.UTC(), r.AmountMicro, r.Type, r.BuyerID); err != nil {
				app.Close()
				return err
			}
		}
		return app.Close()
	})
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "staging online history")
	}
	return nil
}

// validatedSQL is the batch validation over the staging table.
func validatedSQL(hasBuyer bool) string {
	return "(" + validationSQL("temp.main."+onlineTable, true, kindText, kindText, hasBuyer) + ")"
}

// checkStaged validates the staged rows with the batch pipeline's SQL: the
// parsed instant and amount of each row, or up to MaxRowErrors row errors
// (index = line − 1) when any staged row is invalid. The query has no
// parameter: DuckDB re-plans a prepared statement with parameters on every
// execution (measured: +1 ms on a one-row batch).
func (o *Online) checkStaged(ctx context.Context) ([]ValidTx, []RowError, error) {
	res, err := o.queryRows(ctx, "SELECT line, reason, epoch_us(ts), CAST(amount * 1000000 AS BIGINT) FROM "+validatedSQL(true)+" ORDER BY line")
	if err != nil {
		return nil, nil, lend.Wrap(lend.EINTERNAL, err, "validating rows")
	}
	defer res.Close()
	var out []ValidTx
	var bad []RowError
	for res.Next() {
		var line int64
		var reason sql.NullString
		var tsUs, amt sql.NullInt64
		if err := res.Scan(&line, &reason, &tsUs, &amt); err != nil {
			return nil, nil, lend.Wrap(lend.EINTERNAL, err, "reading validation")
		}
		if reason.Valid {
			if len(bad) < MaxRowErrors {
				field, why, _ := strings.Cut(reason.String, ": ")
				bad = append(bad, RowError{Index: int(line) - 1, Field: field, Reason: why})
			}
			continue
		}
		out = append(out, ValidTx{TS: time.UnixMicro(tsUs.Int64).UTC(), AmountMicro: amt.Int64})
	}
	if err := res.Err(); err != nil {
		return nil, nil, lend.Wrap(lend.EINTERNAL, err, "reading validation")
	}
	if len(bad) > 0 {
		return nil, bad, nil
	}
	return out, nil, nil
}

// Validate checks rows with the batch pipeline's validation SQL. It returns
// each row's parsed instant and amount when every row is valid, or the row
// errors (up to MaxRowErrors, in row order) when some are not.
func (o *Online) Validate(ctx context.Context, rows []Tx) ([]ValidTx, []RowError, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	end, err := o.begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer end()
	if err := o.stage(ctx, true, rows, nil); err != nil {
		return nil, nil, err
	}
	out, bad, err := o.checkStaged(ctx)
	if err == nil && bad == nil && len(out) != len(rows) {
		err = lend.Errorf(lend.EINTERNAL, "validation returned %d of %d rows", len(out), len(rows))
	}
	return out, bad, err
}

// ValidateAndCompute validates a new batch with the batch pipeline's SQL
// (row errors index the batch) and, when every row is valid, computes the
// merchant's features as of asOf over its history (rows validated earlier, in
// parsed form) and the batch: the registry's Query over both. ok is false when
// there is no sale before asOf. Buyer ids are taken as present.
func (o *Online) ValidateAndCompute(ctx context.Context, asOf time.Time, history []ValidRow, batch []Tx) (parsed []ValidTx, bad []RowError, row Row, ok bool, err error) {
	if !asOf.Equal(asOf.UTC().Truncate(24 * time.Hour)) {
		return nil, nil, row, false, lend.FieldErrorf("as_of", "must be midnight UTC")
	}
	if len(history)+len(batch) > MaxOnlineRows {
		return nil, nil, row, false, lend.Errorf(lend.ETOOLARGE, "history of %d rows exceeds %d", len(history)+len(batch), MaxOnlineRows)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	end, err := o.begin(ctx)
	if err != nil {
		return nil, nil, row, false, err
	}
	defer end()
	if err := o.stage(ctx, true, batch, nil); err != nil {
		return nil, nil, row, false, err
	}
	if parsed, bad, err = o.checkStaged(ctx); err != nil || bad != nil {
		return nil, bad, row, false, err
	}
	if len(parsed) != len(batch) {
		return nil, nil, row, false, lend.Errorf(lend.EINTERNAL, "validation returned %d of %d rows", len(parsed), len(batch))
	}
	if err := o.stageHistory(ctx, history); err != nil {
		return nil, nil, row, false, err
	}
	rel := "(" + histRel + " UNION ALL SELECT merchant_id, ts, amount, type, buyer_id FROM " + validatedSQL(true) + ")"
	ids := make([]string, 0, len(history)+len(batch))
	for _, r := range history {
		ids = append(ids, r.MerchantID)
	}
	for _, r := range batch {
		ids = append(ids, r.MerchantID)
	}
	out, err := o.features(ctx, asOf, true, rel, oneMerchant(ids))
	if err != nil {
		return nil, nil, row, false, err
	}
	row, ok, err = one(out)
	return parsed, nil, row, ok, err
}

// Compute computes every registry feature as of asOf (midnight UTC) over rows
// (one merchant's history) with the batch pipeline's query; ok is false when
// the history holds no sale before asOf (the batch output has no row then).
// An invalid row fails the call naming its index, as in ComputeRows.
func (o *Online) Compute(ctx context.Context, asOf time.Time, hasBuyer bool, rows []Tx) (row Row, ok bool, err error) {
	if !asOf.Equal(asOf.UTC().Truncate(24 * time.Hour)) {
		return row, false, lend.FieldErrorf("as_of", "must be midnight UTC")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.MerchantID
	}
	out, err := o.computeAll(ctx, asOf, hasBuyer, rows, oneMerchant(ids))
	if err != nil {
		return row, false, err
	}
	return one(out)
}

// oneMerchant reports whether ids are one merchant's (equal strings are equal
// after validation): then the single-merchant form of the query applies.
// Otherwise the grouped query runs and one() refuses several merchants.
func oneMerchant(ids []string) bool {
	for _, id := range ids {
		if id != ids[0] {
			return false
		}
	}
	return len(ids) > 0
}

func one(out []Row) (Row, bool, error) {
	switch len(out) {
	case 0:
		return Row{}, false, nil
	case 1:
		return out[0], true, nil
	}
	return Row{}, false, lend.Errorf(lend.EINVALID, "history holds %d merchants; the online path takes one", len(out))
}

// computeAll stages rows, refuses the first invalid one and runs the
// feature query: one row per merchant with a sale before asOf (single: rows
// are known to be one merchant's). o.mu is held.
func (o *Online) computeAll(ctx context.Context, asOf time.Time, hasBuyer bool, rows []Tx, single bool) ([]Row, error) {
	end, err := o.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := o.stage(ctx, hasBuyer, rows, nil); err != nil {
		return nil, err
	}
	res, err := o.queryRows(ctx, "SELECT line, reason FROM "+validatedSQL(hasBuyer)+" WHERE reason IS NOT NULL ORDER BY line LIMIT 1")
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "validating online rows")
	}
	var line int64
	var reason string
	found := res.Next()
	if found {
		err = res.Scan(&line, &reason)
	}
	if e := res.Close(); err == nil {
		err = e
	}
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "validating online rows")
	}
	if found {
		return nil, lend.Errorf(lend.EINVALID, "transactions[%d]: %s", line-1, reason)
	}
	return o.features(ctx, asOf, hasBuyer, "(SELECT merchant_id, ts, amount, type, buyer_id FROM "+validatedSQL(hasBuyer)+")", single)
}

// features runs the registry's Query over rel (valid rows shaped like tx),
// or its single-merchant form when rel is known to hold one merchant.
func (o *Online) features(ctx context.Context, asOf time.Time, hasBuyer bool, rel string, single bool) ([]Row, error) {
	key := rel + "\x00" + asOf.Format(time.RFC3339) + strconv.FormatBool(hasBuyer) + strconv.FormatBool(single)
	q := o.queries[key]
	if q == "" {
		build := Query
		if single {
			build = singleMerchantQuery
		}
		var err error
		if q, err = build(rel, asOf, hasBuyer); err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "building feature query")
		}
		if len(o.queries) >= 8 { // an old as-of day: start over
			clear(o.queries)
		}
		o.queries[key] = q
	}
	res, err := o.queryRows(ctx, q)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "computing features")
	}
	defer res.Close()
	return scanRows(res)
}

// Num returns r's values by feature name for scoring (NULL as NaN: present
// but missing), the shape scoring.Features.Num takes.
func (r Row) Num() map[string]float64 {
	out := make(map[string]float64, len(registry))
	for i, f := range registry {
		if v := r.Values[i]; v != nil {
			out[f.Name] = *v
		} else {
			out[f.Name] = math.NaN()
		}
	}
	return out
}

// Value returns the named feature (nil when NULL); ok is false for an unknown name.
func (r Row) Value(name string) (v *float64, ok bool) {
	for i, f := range registry {
		if f.Name == name {
			return r.Values[i], true
		}
	}
	return nil, false
}
