package features

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

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
// time. Rows are validated by the batch pipeline's validation SQL on one
// dedicated DuckDB connection (staging table created once and refilled with
// an appender; opened with OpenOnline, statements are prepared once and
// ValidateAndComputeFrom hands the batch over through a table function).
// The features are the registry's SQL text too: ValidateAndComputeFrom, and
// Compute on an OpenOnline, run the generated pre-aggregate and feature
// queries in sqleval (the in-process evaluator of that SQL) over the
// parsed rows; ValidateAndCompute, and Compute on a NewOnline (ComputeRows),
// run them in DuckDB. Calls are serialized.
type Online struct {
	mu       sync.Mutex
	db       *sql.DB // owned (OpenOnline) or nil
	conn     *sql.Conn
	prepared bool
	stmts    map[string]*sql.Stmt // by SQL text, when prepared
	queries  map[string]string    // feature queries by relation, as-of and buyer flag
	closed   bool
	broken   bool // a rollback failed: staged rows may remain
	// pendingFold is PendingFold (lowered by tests to fold small histories).
	pendingFold int
	// Batches of ValidateAndComputeFrom validated by sqleval, by DuckDB
	// where sqleval refused them, and by DuckDB after sqleval failed
	// otherwise (a bug in sqleval, not a refusal: evalFailed should stay 0).
	evalValidated, duckValidated, evalFailed int64
	// src, in OpenOnline's own database, hands the batch to DuckDB's
	// validation through a table function instead of a staging table (nil:
	// staging table).
	src *goSources
	// ev runs the registry's pre-aggregate and feature SQL over Go rows
	// (sqleval) for ValidateAndComputeFrom and, in OpenOnline's Online,
	// Compute.
	ev *sqlEval
	// rowBuf is preOf's input rows, reused from call to call (a year of
	// history is thousands of rows: a fresh buffer each time was most of
	// what the uncached path allocated). The plan's output never aliases
	// its input rows.
	rowBuf evalRowBuf
	// currency is the lending currency (SetCurrency); "" is
	// DefaultCurrency. A batch row naming another is invalid.
	currency string
}

// SetCurrency sets the lending currency the batches validated from now on
// must be in (ISO 4217; "" is DefaultCurrency): a row naming another
// currency is invalid, as in the batch pipeline (Options.Currency).
func (o *Online) SetCurrency(code string) error {
	c, err := ParseCurrency("currency", code)
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.currency = c
	o.mu.Unlock()
	return nil
}

// lendingCurrency is o's currency, DefaultCurrency when unset. o.mu is held.
func (o *Online) lendingCurrency() string {
	if o.currency == "" {
		return DefaultCurrency
	}
	return o.currency
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
	o := &Online{conn: conn, queries: map[string]string{}, pendingFold: PendingFold, ev: newOnlineEval()}
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
	if o.src, err = registerSources(ctx, o.conn); err != nil {
		o.Close()
		return nil, err
	}
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

// notUTF8 is the reject reason of a row whose text is not all UTF-8 (the
// batch path's, notUTF8Reason), "" when it all is: the appender and the
// table function would make such text NULL, losing a buyer silently.
func (t *Tx) notUTF8(hasBuyer bool) string {
	if utf8.ValidString(t.MerchantID) && utf8.ValidString(t.TS) && utf8.ValidString(t.Amount) &&
		utf8.ValidString(t.Type) && utf8.ValidString(t.BuyerID) {
		return ""
	}
	return notUTF8Reason(&[len(utf8Columns)]string{t.MerchantID, t.TS, t.Amount, t.Type, t.BuyerID}, hasBuyer)
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
				var err error
				if reason := r.notUTF8(hasBuyer); reason != "" {
					// As stageCSV stages a line it rejects: the reason, no fields.
					err = app.AppendRow("online", line, nil, nil, nil, nil, nil, nil, reason)
				} else {
					err = app.AppendRow("online", line, r.MerchantID, r.TS, r.Amount, r.Type, buyer, nil, currencyValue(r.Currency, o.lendingCurrency()))
				}
				if err != nil {
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
	if len(rows) == 0 {
		return nil
	}
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
	return validatedOf("temp.main."+onlineTable, hasBuyer)
}

// validatedOf is the batch validation over src, shaped like the staging table.
func validatedOf(src string, hasBuyer bool) string {
	return "(" + validationSQL(src, true, kindText, kindText, hasBuyer) + ")"
}

// Relations of the fast path: table functions (goSources) when o has them,
// else the staging tables.
func (o *Online) batchRel() string {
	if o.src != nil {
		return srcBatch + "()"
	}
	return "temp.main." + onlineTable
}

// checkStaged validates the rows of src (the staging table or the batch
// table function) with the batch pipeline's SQL: the
// parsed instant and amount of each row, or up to MaxRowErrors row errors
// (index = line − 1) when any staged row is invalid. The query has no
// parameter: DuckDB re-plans a prepared statement with parameters on every
// execution (measured: +1 ms on a one-row batch).
func (o *Online) checkStaged(ctx context.Context, src string) ([]ValidTx, []RowError, error) {
	res, err := o.queryRows(ctx, "SELECT line, reason, epoch_us(ts), CAST(amount::DECIMAL(38,6) * 1000000 AS BIGINT) FROM "+validatedOf(src, true)+" ORDER BY line")
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

// Validate checks rows with the batch pipeline's validation SQL, in DuckDB
// (the reference the tests hold sqleval's validation to; the online path
// runs the same SQL in sqleval, validateBatch). It returns each row's parsed
// instant and amount when every row is valid, or the row errors (up to
// MaxRowErrors, in row order) when some are not.
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
	out, bad, err := o.checkStaged(ctx, "temp.main."+onlineTable)
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
	if parsed, bad, err = o.checkStaged(ctx, "temp.main."+onlineTable); err != nil || bad != nil {
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

// MaxPreRows bounds a Pre: past it ValidateAndComputeFrom returns no next
// Pre (the caller starts over from the stored rows).
const MaxPreRows = 100_000

// PendingFold is how many rows a Pre carries unaggregated before a call
// folds them into its pre-aggregate. Folding is cheap now that the
// pre-aggregate runs in sqleval and merges by group key (combinePre), and
// pending rows are re-aggregated by every call that carries them, so every
// call folds.
const PendingFold = 0

// Pre is one merchant's pre-aggregate as of one day: the rows of the
// registry's p (preSQL, the one pass over the transactions) for the rows seen
// so far, plus the latest rows not yet aggregated (pending, at most
// PendingFold), kept so that a later call of the same day aggregates only
// the pending and new rows and runs the feature query over the union. A Pre
// is immutable.
type Pre struct {
	merchantID string
	asOf       time.Time
	rows       [][]value // rows of preOnlyQuery's result (sqleval values)
	pending    []ValidRow
}

// Len is the number of rows a Pre holds, aggregated or pending (what a cache
// bound counts).
func (p *Pre) Len() int { return len(p.rows) + len(p.pending) }

// AsOf is the day the pre-aggregate is for.
func (p *Pre) AsOf() time.Time { return p.asOf }

// ValidateAndComputeFrom is ValidateAndCompute over base, the pre-aggregate
// of rows seen earlier (nil: none), plus history and the batch: the features
// come from the registry's feature query over base's p rows and the p rows of
// base's pending rows, history and the batch (preSQL over those only). next
// stands for all of them, for the next call as of the same day (nil when it
// would exceed MaxPreRows or hold several merchants). base must be for asOf
// and the same merchant. onValid, when set, is called with the parsed batch
// as soon as it is known valid, before the features are computed (the
// service starts storing the batch meanwhile).
//
// The batch is validated with the batch pipeline's SQL text run by sqleval
// (validateBatch; by DuckDB when sqleval refuses the text, e.g. not UTF-8);
// the pre-aggregate and the features are the registry's SQL text run by
// sqleval over the parsed rows: no DuckDB query on the way.
func (o *Online) ValidateAndComputeFrom(ctx context.Context, asOf time.Time, base *Pre, history []ValidRow, batch []Tx, onValid func([]ValidTx)) (parsed []ValidTx, bad []RowError, row Row, ok bool, next *Pre, err error) {
	if !asOf.Equal(asOf.UTC().Truncate(24 * time.Hour)) {
		return nil, nil, row, false, nil, lend.FieldErrorf("as_of", "must be midnight UTC")
	}
	if len(history)+len(batch) > MaxOnlineRows {
		return nil, nil, row, false, nil, lend.Errorf(lend.ETOOLARGE, "history of %d rows exceeds %d", len(history)+len(batch), MaxOnlineRows)
	}
	ids := make([]string, 0, len(history)+len(batch)+1)
	var rows [][]value
	if base != nil {
		if !base.asOf.Equal(asOf) {
			return nil, nil, row, false, nil, lend.Errorf(lend.EINTERNAL, "pre-aggregate as of %s used as of %s", base.asOf.Format(time.DateOnly), asOf.Format(time.DateOnly))
		}
		ids = append(ids, base.merchantID)
		rows = base.rows
		if len(base.pending) > 0 {
			history = append(append(make([]ValidRow, 0, len(base.pending)+len(history)), base.pending...), history...)
		}
	}
	for _, r := range history {
		ids = append(ids, r.MerchantID)
	}
	for _, r := range batch {
		ids = append(ids, r.MerchantID)
	}
	single := oneMerchant(ids)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.broken {
		return nil, nil, row, false, nil, lend.Errorf(lend.EINTERNAL, "online features are closed or broken")
	}
	if parsed, bad, err = o.validateBatch(ctx, batch); err != nil || bad != nil {
		return nil, bad, row, false, nil, err
	}
	if len(parsed) != len(batch) {
		return nil, nil, row, false, nil, lend.Errorf(lend.EINTERNAL, "validation returned %d of %d rows", len(parsed), len(batch))
	}
	if onValid != nil {
		onValid(parsed)
	}
	// The rows not yet aggregated: pending and history, then the batch as
	// validation parsed it.
	fresh := make([]ValidRow, 0, len(history)+len(batch))
	fresh = append(fresh, history...)
	for i, t := range batch {
		fresh = append(fresh, ValidRow{MerchantID: t.MerchantID, TS: parsed[i].TS, AmountMicro: parsed[i].AmountMicro, Type: t.Type, BuyerID: t.BuyerID})
	}
	var out []Row
	all := rows
	fold := rows == nil || len(fresh) > o.pendingFold
	if fold {
		// The fresh rows' p joins the stored one and comes back for next.
		added, err := o.preOf(fresh, asOf)
		if err != nil {
			return nil, nil, row, false, nil, err
		}
		if all, err = o.combinePre(rows, added); err != nil {
			return nil, nil, row, false, nil, err
		}
		out, err = o.featuresOverPre(asOf, single, all, nil)
	} else {
		out, err = o.featuresOverPre(asOf, single, rows, fresh)
	}
	if err != nil {
		return nil, nil, row, false, nil, err
	}
	if row, ok, err = one(out); err != nil {
		return nil, nil, row, false, nil, err
	}
	if !single || len(all)+len(fresh) > MaxPreRows {
		return parsed, nil, row, ok, nil, nil
	}
	next = &Pre{merchantID: ids[0], asOf: asOf, rows: all}
	if !fold {
		next.pending = fresh
	}
	return parsed, nil, row, ok, next, nil
}

// validateBatch validates batch with the batch pipeline's validation SQL:
// run by sqleval, or by DuckDB (through the table function or the staging
// table) when sqleval refuses the batch or fails. o.mu is held.
func (o *Online) validateBatch(ctx context.Context, batch []Tx) ([]ValidTx, []RowError, error) {
	parsed, bad, err := o.validateEval(batch)
	switch {
	case lend.ErrorCode(err) == lend.ETOOLARGE:
		return nil, nil, err
	case err == nil:
		o.evalValidated++
		return parsed, bad, nil
	case errors.Is(err, errUnsupported):
		o.duckValidated++
	default:
		o.evalFailed++
	}
	if o.src != nil {
		// The batch goes to DuckDB through the table function: nothing is
		// written, so no transaction to roll back.
		o.src.set(batch, o.lendingCurrency())
		defer o.src.clear()
	} else {
		end, err := o.begin(ctx)
		if err != nil {
			return nil, nil, err
		}
		defer end()
		if err := o.stage(ctx, true, batch, nil); err != nil {
			return nil, nil, err
		}
	}
	return o.checkStaged(ctx, o.batchRel())
}

// Input tables of sqleval in the online path: validated rows shaped like
// tx (what preSQL reads), a stored pre-aggregate (preSQL's output) and a
// batch to validate, shaped like the staging table (stagingDDL).
const (
	evalRowsTable  = "online_rows"
	evalPreTable   = "online_pre"
	evalBatchTable = "online_batch"
)

// evalBatchCols are the columns of evalBatchTable: stagingDDL's.
var evalBatchCols = []string{"file", "line", "merchant_id", "ts", "amount", "type", "buyer_id", "raw", "struct_reason"}

// evalValidationQuery is the batch pipeline's validation SQL over a staged
// batch (validatedOf, as checkStaged runs it in DuckDB), read by
// validateEval: line, reason, the instant in µs and the amount in
// micro-units (DECIMAL(18,6) is int64 micro-units in sqleval already).
var evalValidationQuery = "SELECT line, reason, epoch_us(ts), amount FROM " + validatedOf(evalBatchTable, true) + " ORDER BY line"

// validateEval validates batch with the batch pipeline's validation SQL run
// by sqleval (checkStaged's result, without a DuckDB query). An error means
// sqleval refused (text it cannot cast exactly as DuckDB, see
// sqleval_text.go): the caller validates with DuckDB instead. o.mu is held.
func (o *Online) validateEval(batch []Tx) ([]ValidTx, []RowError, error) {
	if len(batch) > MaxOnlineRows {
		return nil, nil, lend.Errorf(lend.ETOOLARGE, "%d rows exceed %d", len(batch), MaxOnlineRows)
	}
	p, err := o.ev.plan(evalValidationQuery)
	if err != nil {
		return nil, nil, err
	}
	in := make([][]value, len(batch))
	flat := make([]value, 9*len(batch))
	for i := range batch {
		t := &batch[i]
		r := flat[9*i : 9*i+9 : 9*i+9]
		r[0], r[1] = value{k: vStr, s: "online"}, intV(int64(i+1))
		for c, s := range [...]string{t.MerchantID, t.TS, t.Amount, t.Type, t.BuyerID} {
			if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
				// What DuckDB makes of it is DuckDB's to say.
				return nil, nil, fmt.Errorf("%w: row %d: %s is not UTF-8 or holds a NUL byte", errUnsupported, i+1, evalBatchCols[c+2])
			}
			r[c+2] = value{k: vStr, s: s}
		}
		if reason := currencyReason(t.Currency, o.lendingCurrency()); reason != "" {
			r[8] = value{k: vStr, s: reason} // struct_reason, as stage stages it
		}
		in[i] = r
	}
	t, err := p.run(map[string][][]value{evalBatchTable: in})
	if err != nil {
		return nil, nil, err
	}
	if len(t.rows) != len(batch) {
		return nil, nil, fmt.Errorf("sqleval: validation returned %d of %d rows", len(t.rows), len(batch))
	}
	out := make([]ValidTx, 0, len(batch))
	var bad []RowError
	for _, r := range t.rows {
		if r[0].k != vInt {
			return nil, nil, fmt.Errorf("sqleval: validation line is %s", kindNames[r[0].k])
		}
		if r[1].k == vStr {
			if len(bad) < MaxRowErrors {
				field, why, _ := strings.Cut(r[1].s, ": ")
				bad = append(bad, RowError{Index: int(r[0].i) - 1, Field: field, Reason: why})
			}
			continue
		}
		if r[1].k != vNull || r[2].k != vInt || r[3].k != vDec || r[3].scale != 6 {
			return nil, nil, fmt.Errorf("sqleval: valid row shaped %s, %s, %s", kindNames[r[1].k], kindNames[r[2].k], kindNames[r[3].k])
		}
		out = append(out, ValidTx{TS: time.UnixMicro(r[2].i).UTC(), AmountMicro: r[3].i})
	}
	if len(bad) > 0 {
		return nil, bad, nil
	}
	return out, nil, nil
}

// evalRowCols are the columns of evalRowsTable (see evalRows).
var evalRowCols = []string{"merchant_id", "ts", "amount", "type", "buyer_id"}

// preCols are the columns of preOnlyQuery's result, read from its plan.
var preCols = sync.OnceValues(func() ([]string, error) {
	p, err := newSQLEval(map[string][]string{evalRowsTable: evalRowCols}).plan(preOnlyQuery(evalRowsTable, time.Unix(0, 0)))
	if err != nil {
		return nil, err
	}
	return p.cols, nil
})

// newOnlineEval is the evaluator of an Online over its two input tables.
// The registry's preSQL failing to parse is a programming error caught by
// every online test; the evaluator then refuses each query with that error.
func newOnlineEval() *sqlEval {
	cols, err := preCols()
	if err != nil {
		cols = nil
	}
	return newSQLEval(map[string][]string{evalRowsTable: evalRowCols, evalPreTable: cols, evalBatchTable: evalBatchCols})
}

// evalRows are rows as preSQL's input: merchant_id, ts TIMESTAMP, amount
// DECIMAL(18,6) (micro-units), type, buyer_id (NULL when empty or when the
// history has no buyer ids, as validation makes it).
func evalRows(rows []ValidRow, hasBuyer bool) [][]value {
	var b evalRowBuf
	return b.rows(rows, hasBuyer)
}

// evalRowBuf holds evalRows' storage for reuse.
type evalRowBuf struct {
	flat []value
	out  [][]value
}

// maxEvalRowBuf bounds the rows an evalRowBuf keeps between calls (its
// values hold strings of the last call alive).
const maxEvalRowBuf = 1 << 16

// rows is evalRows in b's storage, valid until the next call.
func (b *evalRowBuf) rows(rows []ValidRow, hasBuyer bool) [][]value {
	var flat []value
	var out [][]value
	if len(rows) <= cap(b.out) && len(rows) <= maxEvalRowBuf {
		flat, out = b.flat[:5*len(rows)], b.out[:len(rows)]
	} else {
		flat, out = make([]value, 5*len(rows)), make([][]value, len(rows))
		if len(rows) <= maxEvalRowBuf {
			b.flat, b.out = flat, out
		}
	}
	for i := range rows {
		r := &rows[i]
		row := flat[5*i : 5*i+5 : 5*i+5]
		row[0] = value{k: vStr, s: r.MerchantID}
		row[1] = value{k: vTS, i: r.TS.UnixMicro()}
		row[2] = value{k: vDec, i: r.AmountMicro, scale: 6}
		row[3] = value{k: vStr, s: r.Type}
		// A buyer id that is not UTF-8 is NULL, as DuckDB's appender makes
		// it (stageHistory). Validation rejects such a row (notUTF8Reason),
		// so only a ValidRow made elsewhere can carry one.
		row[4] = nullV
		if hasBuyer && r.BuyerID != "" && utf8.ValidString(r.BuyerID) {
			row[4] = value{k: vStr, s: r.BuyerID}
		}
		out[i] = row
	}
	return out
}

// evalQuery returns the cached text of a registry query for sqleval
// (generating it costs more than running it over one merchant's rows),
// built with @as_of as a parameter (asOfParam): one text, and one plan,
// for every day. o.mu is held.
func (o *Online) evalQuery(kind string, single bool, build func() (string, error)) (string, error) {
	key := "eval\x00" + kind + "\x00" + strconv.FormatBool(single)
	if q := o.queries[key]; q != "" {
		return q, nil
	}
	q, err := build()
	if err != nil {
		return "", lend.Wrap(lend.EINTERNAL, err, "building feature query")
	}
	if len(o.queries) >= maxQueryTexts { // bounded: start over
		clear(o.queries)
	}
	o.queries[key] = q
	return q, nil
}

// maxQueryTexts bounds Online.queries: the sqleval texts (at most 9: pre,
// overpre and overpreand × single, rows × buyer flag × single) and the
// DuckDB feature texts of a few as-of days.
const maxQueryTexts = 24

// asOfArgs are the run-time parameters of an evalQuery text.
func asOfArgs(asOf time.Time) map[string]value {
	return map[string]value{"as_of": {k: vTS, i: asOf.UnixMicro()}}
}

// preOf returns the pre-aggregate (preOnlyQuery) of rows as of asOf. o.mu
// is held.
func (o *Online) preOf(rows []ValidRow, asOf time.Time) ([][]value, error) {
	q, _ := o.evalQuery("pre", true, func() (string, error) { return preOnlyQuery(evalRowsTable, asOfParam), nil })
	p, err := o.ev.plan(q)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "planning the online pre-aggregate")
	}
	t, err := p.runWith(map[string][][]value{evalRowsTable: o.rowBuf.rows(rows, true)}, asOfArgs(asOf))
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "pre-aggregating online rows")
	}
	return t.rows, nil
}

// combinePre merges two pre-aggregates (rows of preOnlyQuery) into one,
// rows of one group key merged by the query's own aggregates (sqleval's
// combiner): the stored pre-aggregate keeps one row per group however many
// calls folded rows into it. o.mu is held.
func (o *Online) combinePre(a, b [][]value) ([][]value, error) {
	if len(a) == 0 {
		return b, nil
	}
	q, _ := o.evalQuery("pre", true, func() (string, error) { return preOnlyQuery(evalRowsTable, asOfParam), nil })
	p, err := o.ev.plan(q)
	if err == nil {
		var c *combiner
		if c, err = p.combiner(); err == nil {
			var out [][]value
			if out, err = c.combine(a, b); err == nil {
				return out, nil
			}
		}
	}
	return nil, lend.Wrap(lend.EINTERNAL, err, "merging online pre-aggregates")
}

// featuresOverPre runs the registry's feature query over the stored
// pre-aggregate pre and, unless fresh is nil, the pre-aggregate of fresh
// (featureQueryOverPreAnd: in the same query). o.mu is held.
func (o *Online) featuresOverPre(asOf time.Time, single bool, pre [][]value, fresh []ValidRow) ([]Row, error) {
	var q string
	var err error
	in := map[string][][]value{evalPreTable: pre}
	if fresh == nil {
		q, err = o.evalQuery("overpre", single, func() (string, error) {
			return featureQueryOverPre(evalPreTable, asOfParam, true, single)
		})
	} else {
		q, err = o.evalQuery("overpreand", single, func() (string, error) {
			return featureQueryOverPreAnd(evalPreTable, evalRowsTable, asOfParam, true, single)
		})
		in[evalRowsTable] = evalRows(fresh, true)
	}
	if err != nil {
		return nil, err
	}
	return o.evalFeatures(q, in, asOf)
}

// evalFeatures runs a feature query (columns merchant_id, as_of, then the
// features in registry order) with sqleval, @as_of bound to asOf. o.mu is
// held.
func (o *Online) evalFeatures(q string, in map[string][][]value, asOf time.Time) ([]Row, error) {
	p, err := o.ev.plan(q)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "planning the feature query")
	}
	t, err := p.runWith(in, asOfArgs(asOf))
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "computing features")
	}
	return evalToRows(t)
}

// evalToRows converts feature query rows to Rows as scanRows reads them
// from DuckDB.
func evalToRows(t *evalTable) ([]Row, error) {
	n := len(registry)
	if len(t.cols) != n+2 {
		return nil, lend.Errorf(lend.EINTERNAL, "feature query has %d columns, want %d", len(t.cols), n+2)
	}
	out := make([]Row, len(t.rows))
	vals := make([]float64, n*len(t.rows))
	for ri, r := range t.rows {
		if r[0].k != vStr || r[1].k != vDate {
			return nil, lend.Errorf(lend.EINTERNAL, "feature row starts with %s, %s", kindNames[r[0].k], kindNames[r[1].k])
		}
		row := Row{MerchantID: r[0].s, AsOf: time.Unix(r[1].i*86400, 0).UTC(), Values: make([]*float64, n)}
		for i, v := range r[2:] {
			f := &vals[ri*n+i]
			switch {
			case v.k == vNull:
				continue
			case v.k == vFloat && registry[i].Type == "DOUBLE":
				*f = v.fl()
			case v.k == vInt && registry[i].Type == "BIGINT":
				*f = float64(v.i)
			default:
				return nil, lend.Errorf(lend.EINTERNAL, "feature %s: %s value for a %s column", registry[i].Name, kindNames[v.k], registry[i].Type)
			}
			row.Values[i] = f
		}
		out[ri] = row
	}
	return out, nil
}

// Compute computes every registry feature as of asOf (midnight UTC) over rows
// (one merchant's history) with the batch pipeline's validation and query
// (Query: in sqleval on an OpenOnline, in DuckDB otherwise); ok is false when
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
	compute := o.computeAll
	if o.src != nil {
		compute = o.computeEval
	}
	out, err := compute(ctx, asOf, hasBuyer, rows, oneMerchant(ids))
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

// computeEval is computeAll with the features computed by sqleval: the
// rows are validated with the batch pipeline's SQL (validateBatch) and the registry's
// Query (or its single-merchant form) runs over the parsed rows. o.mu is
// held.
func (o *Online) computeEval(ctx context.Context, asOf time.Time, hasBuyer bool, rows []Tx, single bool) ([]Row, error) {
	checked := rows
	if !hasBuyer {
		// A history without buyer ids is a file without the column: its
		// buyer text is neither read nor refused (computeAll's stage, the
		// batch's notUTF8Reason). validateBatch checks every column, so it
		// gets the rows without it.
		checked = make([]Tx, len(rows))
		for i, r := range rows {
			r.BuyerID = ""
			checked[i] = r
		}
	}
	parsed, bad, err := o.validateBatch(ctx, checked)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, lend.Errorf(lend.EINVALID, "transactions[%d]: %s: %s", bad[0].Index, bad[0].Field, bad[0].Reason)
	}
	if len(parsed) != len(rows) {
		return nil, lend.Errorf(lend.EINTERNAL, "validation returned %d of %d rows", len(parsed), len(rows))
	}
	valid := make([]ValidRow, len(rows))
	for i, r := range rows {
		valid[i] = ValidRow{MerchantID: r.MerchantID, TS: parsed[i].TS, AmountMicro: parsed[i].AmountMicro, Type: r.Type, BuyerID: r.BuyerID}
	}
	q, err := o.evalQuery("rows"+strconv.FormatBool(hasBuyer), single, func() (string, error) {
		if single {
			return singleMerchantQuery(evalRowsTable, asOfParam, hasBuyer)
		}
		return Query(evalRowsTable, asOfParam, hasBuyer)
	})
	if err != nil {
		return nil, err
	}
	return o.evalFeatures(q, map[string][][]value{evalRowsTable: evalRows(valid, hasBuyer)}, asOf)
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
		if len(o.queries) >= maxQueryTexts { // old as-of days: start over
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

// The table function of the fast path (OpenOnline): the batch of the
// current call, read straight from Go memory by the validation query. A
// staging table costs an appender flush into fresh transaction-local
// storage and a BEGIN/ROLLBACK (~0.6 ms a table, measured); a table
// function costs neither. Its columns are the staging table's.
const srcBatch = "online_batch_rows"

// goRows is the table function's rows for the current call: n rows, row i
// written by fill. Bound once (prepared statements keep the binding), so
// the rows change by changing n and fill, under Online.mu. A query may
// scan it more than once: each scan has its own cursor (the local state).
type goRows struct {
	cols []duckdb.ColumnInfo
	n    int
	fill func(r duckdb.Row, i int) error
}

func (s *goRows) ColumnInfos() []duckdb.ColumnInfo     { return s.cols }
func (s *goRows) Cardinality() *duckdb.CardinalityInfo { return nil }

// Init starts a scan, on one thread.
func (s *goRows) Init() duckdb.ParallelTableSourceInfo {
	return duckdb.ParallelTableSourceInfo{MaxThreads: 1}
}

// NewLocalState is a scan's cursor.
func (s *goRows) NewLocalState() any { return new(int) }

// FillRow writes the scan's next row.
func (s *goRows) FillRow(state any, r duckdb.Row) (bool, error) {
	i := state.(*int)
	if *i >= s.n {
		return false, nil
	}
	if err := s.fill(r, *i); err != nil {
		return false, err
	}
	*i++
	return true, nil
}

// goSources are an Online's table functions (the batch only, now that the
// pre-aggregate and the features run in sqleval).
type goSources struct {
	batch goRows
}

// set makes the table function yield batch (staged like CSV lines, buyer
// ids present; a row not in currency carries that reason).
func (g *goSources) set(batch []Tx, currency string) {
	g.batch.n = len(batch)
	g.batch.fill = func(r duckdb.Row, i int) error {
		t := &batch[i]
		vals := [...]any{"online", int64(i + 1), t.MerchantID, t.TS, t.Amount, t.Type, t.BuyerID, nil, currencyValue(t.Currency, currency)}
		if reason := t.notUTF8(true); reason != "" {
			// As stage (and stageCSV) stage a row they reject.
			vals = [...]any{"online", int64(i + 1), nil, nil, nil, nil, nil, nil, reason}
		}
		for c, v := range vals {
			if err := r.SetRowValue(c, v); err != nil {
				return err
			}
		}
		return nil
	}
}

// clear empties the table function after a call (no stale rows for a
// statement run outside one).
func (g *goSources) clear() {
	g.batch.n, g.batch.fill = 0, nil
}

// registerSources registers the table function on conn, with the columns
// of the staging table (created by init).
func registerSources(ctx context.Context, conn *sql.Conn) (*goSources, error) {
	g := &goSources{}
	cols, err := tableColumns(ctx, conn, onlineTable)
	if err != nil {
		return nil, err
	}
	g.batch.cols = cols
	src := &g.batch
	err = duckdb.RegisterTableUDF(conn, srcBatch, duckdb.ParallelRowTableFunction{
		BindArguments: func(map[string]any, ...any) (duckdb.ParallelRowTableSource, error) { return src, nil }})
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "registering %s", srcBatch)
	}
	return g, nil
}

// tableColumns describes a temp table of conn as table function columns.
func tableColumns(ctx context.Context, conn *sql.Conn, table string) ([]duckdb.ColumnInfo, error) {
	res, err := conn.QueryContext(ctx, "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns WHERE table_catalog = 'temp' AND table_name = "+sqlString(table)+" ORDER BY ordinal_position")
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "describing %s", table)
	}
	defer res.Close()
	var cols []duckdb.ColumnInfo
	for res.Next() {
		var name, typ string
		var prec, scale sql.NullInt64
		if err := res.Scan(&name, &typ, &prec, &scale); err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "describing %s", table)
		}
		var ti duckdb.TypeInfo
		if strings.HasPrefix(typ, "DECIMAL") {
			ti, err = duckdb.NewDecimalInfo(uint8(prec.Int64), uint8(scale.Int64))
		} else if t, ok := map[string]duckdb.Type{"BOOLEAN": duckdb.TYPE_BOOLEAN, "VARCHAR": duckdb.TYPE_VARCHAR, "BIGINT": duckdb.TYPE_BIGINT,
			"HUGEINT": duckdb.TYPE_HUGEINT, "UBIGINT": duckdb.TYPE_UBIGINT, "INTEGER": duckdb.TYPE_INTEGER, "TIMESTAMP": duckdb.TYPE_TIMESTAMP, "DOUBLE": duckdb.TYPE_DOUBLE}[typ]; ok {
			ti, err = duckdb.NewTypeInfo(t)
		} else {
			err = lend.Errorf(lend.EINTERNAL, "column %s.%s: type %s has no table function mapping", table, name, typ)
		}
		if err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "describing %s", table)
		}
		cols = append(cols, duckdb.ColumnInfo{Name: name, T: ti})
	}
	if err := res.Err(); err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "describing %s", table)
	}
	if len(cols) == 0 {
		return nil, lend.Errorf(lend.EINTERNAL, "describing %s: no columns", table)
	}
	return cols, nil
}

// PreFolder builds and extends a Pre by folding rows into it with the
// registry's pre-aggregate SQL (preSQL) and its combine step, in sqleval
// only: no validation and no feature query, so no DuckDB. A service uses it
// to keep a merchant's pre-aggregate as of a later day (tomorrow's midnight)
// current off the request path. A PreFolder's calls are serialized; use one
// per goroutine for parallelism.
type PreFolder struct {
	mu      sync.Mutex
	ev      *sqlEval
	queries map[string]string
	rowBuf  evalRowBuf
}

// NewPreFolder returns a PreFolder (its plans are built on first use).
func NewPreFolder() *PreFolder {
	return &PreFolder{ev: newOnlineEval(), queries: make(map[string]string)}
}

// ValidationCounts returns how many batches ValidateAndComputeFrom
// validated with sqleval, with DuckDB because sqleval refused them (text it
// cannot answer exactly), and with DuckDB because sqleval failed otherwise
// (a bug: failed should stay 0; the answer is DuckDB's either way).
func (o *Online) ValidationCounts() (eval, duck, failed int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.evalValidated, o.duckValidated, o.evalFailed
}

// Fold returns the Pre, as of asOf, of base's rows (nil: none) and rows
// (validated rows, e.g. a store's history or a parsed batch): equal to the
// Pre built from all those rows at once, since preSQL's groups merge by
// their own aggregates. base must be as of asOf; every row must be of one
// merchant (base's, if any). base is not modified. The result is nil, with
// no error, when it would exceed MaxPreRows (the caller rebuilds from the
// stored rows instead).
func (f *PreFolder) Fold(base *Pre, asOf time.Time, rows []ValidRow) (*Pre, error) {
	if !asOf.Equal(asOf.UTC().Truncate(24 * time.Hour)) {
		return nil, lend.FieldErrorf("as_of", "must be midnight UTC")
	}
	id := ""
	var stored [][]value
	if base != nil {
		if !base.asOf.Equal(asOf) {
			return nil, lend.Errorf(lend.EINTERNAL, "pre-aggregate as of %s folded as of %s", base.asOf.Format(time.DateOnly), asOf.Format(time.DateOnly))
		}
		id, stored = base.merchantID, base.rows
		if len(base.pending) > 0 {
			rows = append(append(make([]ValidRow, 0, len(base.pending)+len(rows)), base.pending...), rows...)
		}
	}
	for i := range rows {
		if id == "" && i == 0 && base == nil {
			id = rows[0].MerchantID
		}
		if rows[i].MerchantID != id {
			return nil, lend.Errorf(lend.EINTERNAL, "pre-aggregate of %q folded with a row of %q", id, rows[i].MerchantID)
		}
	}
	if len(rows) == 0 {
		if base == nil {
			return nil, lend.Errorf(lend.EINTERNAL, "folding no rows into no pre-aggregate")
		}
		return base, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queries["pre"]
	if q == "" {
		q = preOnlyQuery(evalRowsTable, asOfParam)
		f.queries["pre"] = q
	}
	p, err := f.ev.plan(q)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "planning the online pre-aggregate")
	}
	t, err := p.runWith(map[string][][]value{evalRowsTable: f.rowBuf.rows(rows, true)}, asOfArgs(asOf))
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "pre-aggregating online rows")
	}
	all := t.rows
	if len(stored) > 0 {
		c, err := p.combiner()
		if err == nil {
			all, err = c.combine(stored, t.rows)
		}
		if err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "merging online pre-aggregates")
		}
	}
	if len(all) > MaxPreRows {
		return nil, nil
	}
	return &Pre{merchantID: id, asOf: asOf, rows: all}, nil
}
