// Package realtime closes the loop between a merchant's transactions and its
// credit line between nightly refreshes: a batch of transactions (SPEC §2.1
// rows) is validated with the batch pipeline's SQL and stored durably, the
// merchant's features are recomputed as of now from its stored history with
// the same registry (features.Online, the fast path of the one definition),
// the active model re-assesses the line and the loans store applies it with
// its guard rails (loans.LineDecision). Risk rules (rules.go) re-check the
// freshest transactions before an application or a draw.
package realtime

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/scoring"
)

// Limits and defaults.
const (
	// MaxBatchRows bounds one ingested batch (the API's body limit also applies).
	MaxBatchRows = 1000
	// HistoryDays is the stored window the features read: W(365) plus one day
	// (as-of is the next midnight). Older rows matter only as the first and
	// last sale, which History adds.
	HistoryDays = 366
	// DefaultDailyIncreaseBps is the automatic daily increase bound as a
	// share of the line's current limit: 2000 bps = 20 %.
	DefaultDailyIncreaseBps = 2000
	// DefaultMinDailyIncreaseMinor is the bound's floor (500.00), so a line cut
	// to little can still recover.
	DefaultMinDailyIncreaseMinor = 50_000
	// DefaultWorkers is how many DuckDB connections compute features at once.
	DefaultWorkers = 2
	// MaxWorkers bounds Config.Workers.
	MaxWorkers = 16
	// lockStripes is the number of per-merchant ingest locks.
	lockStripes = 256
	// nextQueue bounds the builds of tomorrow's pre-aggregates waiting for
	// the background builder; past it a build is dropped (that merchant's
	// next rollover reloads, as without the build).
	nextQueue = 256
)

// Transaction is one row of an ingested batch in the SPEC §2.1 shape. Amount
// keeps the decimal text as sent (a JSON string or number), so it is parsed
// by the same SQL as a CSV field.
type Transaction struct {
	MerchantID string `json:"merchant_id"`
	TS         string `json:"ts"`
	Amount     string `json:"amount"`
	Type       string `json:"type"`
	BuyerID    string `json:"buyer_id,omitempty"`
	Currency   string `json:"currency,omitempty"`
}

// StoredTx is a validated transaction as stored: the text as received plus
// the parsed instant and amount (millionths of a major unit).
type StoredTx struct {
	TS          string
	Amount      string
	Type        string
	BuyerID     string
	TSUs        int64 // microseconds since the Unix epoch, UTC
	AmountMicro int64
}

// TxTypes are the transaction types by the code TypeCodeSQL gives them: a
// store's History selects the code, not the text, and returns these
// strings, so a row's type costs no allocation.
var TxTypes = [...]string{"sale", "refund", "chargeback"}

// TypeCodeSQL is the SQL expression (over a column named type) that a
// store's History selects for TxTypes' index; NULL for any other text,
// which the stores' CHECK constraints never let in.
const TypeCodeSQL = `CASE type WHEN 'sale' THEN 0 WHEN 'refund' THEN 1 WHEN 'chargeback' THEN 2 END`

// Batch is one stored ingestion: its idempotency key, the request's hash and,
// once the line was re-decided, the response that is replayed for the key.
type Batch struct {
	ID             int64
	MerchantID     string
	IdempotencyKey string
	RequestHash    string
	Rows           int
	CreatedAt      time.Time
	Response       []byte // nil until the re-decision is recorded
	// Prev is the merchant's latest batch id before this one (0 if none),
	// read by Append in the transaction that stores the batch: a cache
	// tells from it whether another writer stored a batch in between.
	Prev int64
}

// Store keeps ingested transactions durably. Errors are *lend.Error.
type Store interface {
	// Batch returns the merchant's batch stored under key (found false if none).
	Batch(ctx context.Context, merchantID, key string) (b Batch, found bool, err error)
	// Append stores b and its rows in one durable transaction. When the key is
	// already stored it stores nothing and returns the stored batch with
	// existed true (the caller compares hashes).
	Append(ctx context.Context, b Batch, rows []StoredTx) (stored Batch, existed bool, err error)
	// SetResponse records the response of a batch (replayed for its key).
	SetResponse(ctx context.Context, batchID int64, body []byte) error
	// History returns the merchant's rows at or after from, plus its first and
	// last sale before from, ordered by time. It fills only the fields the
	// features and the signals read: TSUs, AmountMicro, Type (one of the
	// TxTypes strings) and BuyerID; TS and Amount, the text as received, are
	// left empty (reading them cost a string per row per column).
	History(ctx context.Context, merchantID string, from time.Time) ([]StoredTx, error)
	// LatestBatchID returns the id of the merchant's latest stored batch (0
	// when none). Batch ids grow with every stored batch, whichever process
	// stores it.
	LatestBatchID(ctx context.Context, merchantID string) (int64, error)
}

// EngineSource yields the active scoring engine (scoring/fsregistry.Registry).
type EngineSource interface {
	Engine() (*scoring.Engine, error)
}

// Config configures a Service. Store, Loans and Engines are required.
type Config struct {
	Store   Store
	Loans   loans.Store
	Engines EngineSource
	// Now is the clock (default time.Now).
	Now func() time.Time
	// DailyIncreaseBps and MinDailyIncreaseMinor set the automatic increase
	// bound of a day: max(limit × bps / 10000 rounded down, min). Defaults
	// DefaultDailyIncreaseBps and DefaultMinDailyIncreaseMinor; a negative
	// DailyIncreaseBps means no automatic increase at all.
	DailyIncreaseBps      int64
	MinDailyIncreaseMinor int64
	// Rules are the draw risk rules (defaults DefaultRules()).
	Rules *Rules
	// Workers is the number of DuckDB connections (default DefaultWorkers).
	Workers int
	// DuckDBMemory is each worker's DuckDB memory limit (default "256MB").
	DuckDBMemory string
	// Logger logs what cannot be returned (default slog.Default()).
	Logger *slog.Logger
	// OnFeatures, when set, is called after every stored batch with the
	// features the re-decision used (ok false: no sale yet, no features):
	// for feature logging and the parity tests. It must be quick.
	OnFeatures func(merchantID string, asOf time.Time, row features.Row, ok bool)
}

// Service ingests transactions and re-decides credit lines.
type Service struct {
	cfg     Config
	rules   Rules
	workers chan *features.Online
	locks   [lockStripes]sync.Mutex
	cache   signalCache
	hist    histCache
	// folders fold a batch into a cached next-day pre-aggregate on the
	// request path (a few rows of sqleval); one per worker.
	folders chan *features.PreFolder
	// jobs feed the one background builder of next-day pre-aggregates
	// (buildNext), which has its own PreFolder and no feature worker, so
	// it never holds up an ingest but for CPU.
	jobs      chan nextJob
	quit      chan struct{}
	bgDone    chan struct{}
	stats     struct{ reloads, promoted, queued, built, dropped atomic.Int64 }
	closeOnce sync.Once
}

// nextJob asks the background builder for the pre-aggregate as of asOf + 1
// day of the merchant's rows up to batch last: rows when the ingest had them
// all (it read the stored history), else (nil) read from the store.
type nextJob struct {
	merchantID string
	asOf       time.Time
	last       int64
	rows       []features.ValidRow
	attempt    int // builds already tried for this merchant's day
}

// maxNextAttempts bounds the builds of one merchant's next-day
// pre-aggregate in a day: a merchant ingesting faster than a build takes
// moves its entry on before every build installs, and each retry costs a
// read of its history (it then reloads at the rollover, as without builds).
const maxNextAttempts = 3

// Stats are counters of the history cache since New.
type Stats struct {
	// Reloads counts ingests that read and re-aggregated the merchant's
	// stored history (no usable cached pre-aggregate).
	Reloads int64
	// Promoted counts day rollovers served by the cached next-day
	// pre-aggregate instead of a reload.
	Promoted int64
	// NextQueued, NextBuilt and NextDropped count the background builds of
	// next-day pre-aggregates: queued, installed in the cache, and dropped
	// (queue full, the entry moved on, another process wrote, or an error).
	// Once NextQueued equals NextBuilt + NextDropped (and the queue is not
	// full) the builder is idle.
	NextQueued, NextBuilt, NextDropped int64
}

// Stats returns the history cache's counters.
func (s *Service) Stats() Stats {
	return Stats{Reloads: s.stats.reloads.Load(), Promoted: s.stats.promoted.Load(), NextQueued: s.stats.queued.Load(),
		NextBuilt: s.stats.built.Load(), NextDropped: s.stats.dropped.Load()}
}

// New validates cfg and opens the feature workers.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Loans == nil || cfg.Engines == nil {
		return nil, lend.Errorf(lend.EINVALID, "realtime: Store, Loans and Engines are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.DailyIncreaseBps == 0 {
		cfg.DailyIncreaseBps = DefaultDailyIncreaseBps
	}
	if cfg.MinDailyIncreaseMinor == 0 {
		cfg.MinDailyIncreaseMinor = DefaultMinDailyIncreaseMinor
	}
	if cfg.MinDailyIncreaseMinor < 0 || cfg.MinDailyIncreaseMinor > loans.MaxAmountMinor {
		return nil, lend.FieldErrorf("min_daily_increase_minor", "must be between 0 and %d", loans.MaxAmountMinor)
	}
	if cfg.Workers == 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Workers < 1 || cfg.Workers > MaxWorkers {
		return nil, lend.FieldErrorf("workers", "must be between 1 and %d", MaxWorkers)
	}
	if cfg.DuckDBMemory == "" {
		cfg.DuckDBMemory = "256MB"
	}
	s := &Service{cfg: cfg, rules: DefaultRules(), workers: make(chan *features.Online, cfg.Workers)}
	if cfg.Rules != nil {
		s.rules = *cfg.Rules
	}
	if err := s.rules.validate(); err != nil {
		return nil, err
	}
	s.cache.init(MaxCachedMerchants)
	s.hist.init(MaxHistoryCacheMerchants, MaxHistoryCacheRows)
	s.folders = make(chan *features.PreFolder, cfg.Workers)
	for i := 0; i < cfg.Workers; i++ {
		s.folders <- features.NewPreFolder()
	}
	s.jobs, s.quit, s.bgDone = make(chan nextJob, nextQueue), make(chan struct{}), make(chan struct{})
	go s.buildNext(features.NewPreFolder())
	for i := 0; i < cfg.Workers; i++ {
		o, err := features.OpenOnline(ctx, cfg.DuckDBMemory)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.workers <- o
	}
	return s, nil
}

// Close releases the
// feature workers (after in-flight calls return them).
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.bgDone
	})
	for i := 0; i < cap(s.workers); i++ {
		select {
		case o := <-s.workers:
			o.Close()
		default:
			return nil // New failed part-way: the rest were never opened
		}
	}
	return nil
}

// IngestResult is the answer to an ingested batch: what was stored, the
// features' as-of, and the re-decided credit line with its recorded change
// (both nil when the merchant has no credit line or no sale yet).
type IngestResult struct {
	BatchID      int64                   `json:"batch_id"`
	MerchantID   string                  `json:"merchant_id"`
	Accepted     int                     `json:"accepted"`
	FeaturesAsOf string                  `json:"features_as_of"`
	CreditLine   *loans.CreditLine       `json:"credit_line"`
	Change       *loans.CreditLineChange `json:"change"`
	Signals      Signals                 `json:"signals"`
}

// BatchError is an invalid batch: every bad row (up to
// features.MaxRowErrors) with its index and field. It is EINVALID.
type BatchError struct {
	Rows []features.RowError
}

// Error lists the rows.
func (e *BatchError) Error() string { return batchErr(e.Rows).Error() }

func batchErr(rows []features.RowError) *lend.Error {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = "transactions[" + strconv.Itoa(r.Index) + "]." + r.Field + ": " + r.Reason
	}
	return &lend.Error{Code: lend.EINVALID, Field: "transactions[" + strconv.Itoa(rows[0].Index) + "]." + rows[0].Field,
		Message: strconv.Itoa(len(rows)) + " invalid row(s), nothing stored: " + strings.Join(parts, "; ")}
}

// Ingest validates and stores a batch for merchantID under the idempotency
// key (requestHash identifies the request: the same key with another hash is
// EUNPROCESSABLE), then re-decides the merchant's credit line. It returns the
// JSON response, identical on every replay of the key. Nothing is stored when
// any row is invalid (EINVALID naming each row index and field).
func (s *Service) Ingest(ctx context.Context, merchantID, key, requestHash string, txs []Transaction) ([]byte, error) {
	if err := checkBatch(merchantID, key, txs); err != nil {
		return nil, err
	}
	mu := &s.locks[stripe(merchantID)]
	mu.Lock()
	defer mu.Unlock()
	if b, found, err := s.cfg.Store.Batch(ctx, merchantID, key); err != nil {
		return nil, err
	} else if found {
		return s.replay(ctx, b, requestHash)
	}
	// The active model first: without one nothing is stored (no half-applied batch).
	eng, err := s.cfg.Engines.Engine()
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	asOf := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	// The cached pre-aggregate and recent rows stand for the stored history
	// while the merchant's latest stored batch is the one they include.
	latest, err := s.cfg.Store.LatestBatchID(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	e := s.hist.get(merchantID)
	// foreign: another process stored a batch since this one cached the
	// merchant today. Its next-day pre-aggregate is then not built (another
	// write would likely make it useless: with writers alternating, every
	// ingest reloads, and a build after each would double their CPU).
	foreign := e != nil && e.asOf.Equal(asOf) && e.last != latest
	if e != nil && e.last == latest && e.next != nil && e.asOf.AddDate(0, 0, 1).Equal(asOf) {
		// The day rolled over: tomorrow's pre-aggregate, kept over the
		// same rows, is today's (the signals' recent rows only shrink).
		e = &histEntry{asOf: asOf, last: e.last, pre: e.next, builtAt: e.next.Len(), recent: e.recent}
		s.stats.promoted.Add(1)
	} else if e != nil && (!e.asOf.Equal(asOf) || e.last != latest) {
		e = nil
	}
	if e == nil {
		s.stats.reloads.Add(1)
	}
	var history []StoredTx
	var pre *features.Pre
	var hist []features.ValidRow
	if e != nil {
		pre = e.pre
	} else {
		// latest was read before the rows: a batch stored in between is in
		// the rows but not in latest, so the next ingest reloads (never the
		// other way round).
		if history, err = s.cfg.Store.History(ctx, merchantID, asOf.AddDate(0, 0, -HistoryDays)); err != nil {
			return nil, err
		}
		hist = toValidRows(merchantID, history)
	}
	batch := make([]features.Tx, len(txs))
	for i, t := range txs {
		batch[i] = features.Tx{MerchantID: merchantID, TS: t.TS, Amount: t.Amount, Type: t.Type, BuyerID: t.BuyerID, Currency: t.Currency}
	}
	// The batch is stored durably as soon as it is known valid, while the
	// features are computed: the commit's wait overlaps the feature query.
	// Should the features then fail, the stored batch has no recorded
	// response and a retry of its key re-decides (replay).
	var (
		rows      []StoredTx
		b         Batch
		existed   bool
		appendErr error
		stored    chan struct{}
	)
	store := func(parsed []features.ValidTx) {
		rows = make([]StoredTx, len(txs))
		for i, t := range txs {
			rows[i] = StoredTx{TS: t.TS, Amount: t.Amount, Type: t.Type, BuyerID: t.BuyerID, TSUs: parsed[i].TS.UnixMicro(), AmountMicro: parsed[i].AmountMicro}
		}
		stored = make(chan struct{})
		go func() {
			defer close(stored)
			b, existed, appendErr = s.cfg.Store.Append(ctx, Batch{MerchantID: merchantID, IdempotencyKey: key, RequestHash: requestHash, Rows: len(rows), CreatedAt: now}, rows)
		}()
	}
	o := <-s.workers
	// The batch must be in the active model's currency: its limits and
	// features are amounts of that one currency.
	err = o.SetCurrency(lendingCurrency(eng))
	var (
		bad     []features.RowError
		row     features.Row
		haveRow bool
		next    *features.Pre
	)
	if err == nil {
		_, bad, row, haveRow, next, err = o.ValidateAndComputeFrom(ctx, asOf, pre, hist, batch, store)
	}
	s.workers <- o
	// Tomorrow's pre-aggregate is extended by the batch while its commit
	// is on its way (a few rows of sqleval, no feature query); it is
	// dropped below if the batch turns out not to be this process's next.
	var nextFold *features.Pre
	var foldErr error
	if err == nil && bad == nil && stored != nil && e != nil && e.next != nil {
		f := <-s.folders
		nextFold, foldErr = f.Fold(e.next, asOf.AddDate(0, 0, 1), toValidRows(merchantID, rows))
		s.folders <- f
	}
	if stored != nil {
		<-stored
	}
	if err != nil {
		return nil, err
	}
	if bad != nil {
		return nil, &lend.Error{Code: lend.EINVALID, Field: batchErr(bad).Field, Message: batchErr(bad).Message, Err: &BatchError{Rows: bad}}
	}
	if stored == nil {
		return nil, lend.Errorf(lend.EINTERNAL, "realtime: the batch was validated but not stored")
	}
	if appendErr != nil {
		return nil, appendErr
	}
	if existed { // stored by another process since the check above
		return s.replay(ctx, b, requestHash)
	}
	var sig Signals
	if e != nil {
		sig = signalsOf(now, e.recent, rows)
	} else {
		sig = signalsOf(now, history, rows)
	}
	s.cache.put(merchantID, sig)
	ne := nextEntry(e, asOf, latest, b, next, history, rows)
	if ne != nil && e != nil && e.next != nil {
		// On a failed fold, tomorrow starts with a reload.
		ne.next = nextFold
		if foldErr != nil {
			s.cfg.Logger.Warn("realtime: folding a batch into the next day's pre-aggregate", "merchant_id", merchantID, "error", foldErr)
			ne.next = nil
		}
	}
	if ne != nil && e != nil {
		ne.nextAsked = e.nextAsked
	}
	ask := ne != nil && ne.next == nil && !ne.nextAsked && !foreign
	if ask {
		ne.nextAsked = true
	}
	s.hist.put(merchantID, ne)
	if ask {
		job := nextJob{merchantID: merchantID, asOf: asOf, last: b.ID}
		if e == nil { // hist is every stored row up to latest; rows are b's
			job.rows = append(hist, toValidRows(merchantID, rows)...)
		}
		// Queued once this ingest is answered (on every return below): a
		// build started now would compete with the line decision and the
		// response record for the CPU and the database.
		defer s.queueNext(job)
	}
	if s.cfg.OnFeatures != nil {
		s.cfg.OnFeatures(merchantID, asOf, row, haveRow)
	}
	res := IngestResult{BatchID: b.ID, MerchantID: merchantID, Accepted: len(rows), FeaturesAsOf: asOf.Format(loans.DateLayout), Signals: sig}
	if haveRow {
		if err := s.redecide(ctx, eng, &res, row, now); err != nil {
			return nil, err
		}
	}
	// The response is recorded durably before it is answered, so a replay
	// of the key returns these bytes even after a crash; a crash before the
	// record commits leaves a stored batch without a response, which no
	// client has seen, and a retry re-decides (replay).
	return s.record(ctx, b.ID, &res)
}

// nextEntry is the merchant's cache entry after its batch b was stored:
// prev (nil when the features were computed from the stored history, read
// when latest was the latest batch) extended by b's rows, or nil (drop it)
// when another writer stored a batch in between or the pre-aggregate is
// due for a rebuild.
func nextEntry(prev *histEntry, asOf time.Time, latest int64, b Batch, next *features.Pre, history, rows []StoredTx) *histEntry {
	if next == nil || b.Prev != latest {
		return nil
	}
	if prev == nil {
		return &histEntry{asOf: asOf, last: b.ID, pre: next, builtAt: next.Len(), recent: recentRows(asOf, history, rows)}
	}
	if n := next.Len(); n > 2*prev.builtAt && n > prev.builtAt+preGrowth {
		return nil
	}
	return &histEntry{asOf: asOf, last: b.ID, pre: next, builtAt: prev.builtAt, recent: recentRows(asOf, prev.recent, rows)}
}

// queueNext hands job to the background builder, or drops it when the
// queue is full (never waits: the caller is answering an ingest).
func (s *Service) queueNext(job nextJob) {
	s.stats.queued.Add(1)
	select {
	case s.jobs <- job:
	default:
		s.stats.dropped.Add(1)
	}
}

// buildNext is the background builder: for each job it builds the
// pre-aggregate as of the day after job.asOf of the merchant's rows up to
// batch job.last and installs it in the merchant's cache entry if the entry
// is still the one the job was queued for (histCache.setNext). The stored
// rows are read when the job has none, with the ingest's check: the latest
// batch id is read first and must be job.last (a batch stored after that
// read makes the rows cover more than job.last, and the next ingest, seeing
// a newer latest id, reloads).
func (s *Service) buildNext(f *features.PreFolder) {
	defer close(s.bgDone)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.quit
		cancel()
	}()
	for {
		select {
		case <-s.quit:
			return
		case job := <-s.jobs:
			ok, moved := s.build(ctx, f, job)
			if !ok && moved != 0 && job.attempt+1 < maxNextAttempts {
				// Queued before this job counts as done: Stats never shows
				// the builder idle in between.
				s.queueNext(nextJob{merchantID: job.merchantID, asOf: job.asOf, last: moved, attempt: job.attempt + 1})
			}
			if ok {
				s.stats.built.Add(1)
			} else {
				s.stats.dropped.Add(1)
			}
		}
	}
}

// build runs one nextJob: ok when it installed the pre-aggregate; else,
// when ingests moved the merchant's entry on meanwhile, moved is the
// entry's latest batch id (a retry's job.last).
func (s *Service) build(ctx context.Context, f *features.PreFolder, job nextJob) (ok bool, moved int64) {
	tomorrow := job.asOf.AddDate(0, 0, 1)
	if ok, moved := s.hist.needsNext(job.merchantID, job.asOf, job.last); !ok {
		return false, moved
	}
	rows := job.rows
	if rows == nil {
		latest, err := s.cfg.Store.LatestBatchID(ctx, job.merchantID)
		if err != nil || latest != job.last {
			return false, 0
		}
		history, err := s.cfg.Store.History(ctx, job.merchantID, tomorrow.AddDate(0, 0, -HistoryDays))
		if err != nil {
			return false, 0
		}
		rows = toValidRows(job.merchantID, history)
	}
	pre, err := f.Fold(nil, tomorrow, rows)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("realtime: building the next day's pre-aggregate", "merchant_id", job.merchantID, "error", err)
		}
		return false, 0
	}
	if pre != nil && s.hist.setNext(job.merchantID, job.asOf, job.last, pre) {
		return true, 0
	}
	_, moved = s.hist.needsNext(job.merchantID, job.asOf, job.last)
	return false, moved
}

// replay answers a stored key: the recorded response, or (when the process
// stopped between storing the rows and recording the decision) a decision
// made now from the stored history.
func (s *Service) replay(ctx context.Context, b Batch, requestHash string) ([]byte, error) {
	if b.RequestHash != requestHash {
		return nil, &lend.Error{Code: lend.EUNPROCESSABLE, Field: "idempotency_key", Message: "Idempotency-Key was already used with a different request"}
	}
	if b.Response != nil {
		return b.Response, nil
	}
	// Recorded since the first read (by another process that stored the
	// batch and was still deciding)?
	if again, found, err := s.cfg.Store.Batch(ctx, b.MerchantID, b.IdempotencyKey); err != nil {
		return nil, err
	} else if found && again.Response != nil {
		return again.Response, nil
	}
	now := s.cfg.Now().UTC()
	asOf := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
	history, err := s.cfg.Store.History(ctx, b.MerchantID, asOf.AddDate(0, 0, -HistoryDays))
	if err != nil {
		return nil, err
	}
	o := <-s.workers
	_, _, row, haveRow, err := o.ValidateAndCompute(ctx, asOf, toValidRows(b.MerchantID, history), nil)
	s.workers <- o
	if err != nil {
		return nil, err
	}
	sig := signalsOf(now, history, nil)
	s.cache.put(b.MerchantID, sig)
	res := IngestResult{BatchID: b.ID, MerchantID: b.MerchantID, Accepted: b.Rows, FeaturesAsOf: asOf.Format(loans.DateLayout), Signals: sig}
	if haveRow {
		eng, err := s.cfg.Engines.Engine()
		if err != nil {
			return nil, err
		}
		if err := s.redecide(ctx, eng, &res, row, now); err != nil {
			return nil, err
		}
	}
	return s.record(ctx, b.ID, &res)
}

// record stores the response of a batch so its key replays it.
func (s *Service) record(ctx context.Context, batchID int64, res *IngestResult) ([]byte, error) {
	body, err := json.Marshal(res)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "encoding ingest result")
	}
	if err := s.cfg.Store.SetResponse(context.WithoutCancel(ctx), batchID, body); err != nil {
		return nil, err
	}
	return body, nil
}

// lendingCurrency is the active model's policy currency, the one currency
// the service lends in (features.DefaultCurrency if the policy has none).
func lendingCurrency(eng *scoring.Engine) string {
	if sc := eng.Scorer(); sc != nil && sc.Model() != nil && sc.Model().Policy.Currency != "" {
		return sc.Model().Policy.Currency
	}
	return features.DefaultCurrency
}

func checkBatch(merchantID, key string, txs []Transaction) error {
	switch {
	case strings.TrimSpace(merchantID) == "" || len(merchantID) > scoring.MaxMerchantIDLen:
		return lend.FieldErrorf("merchant_id", "must be 1..%d characters", scoring.MaxMerchantIDLen)
	case key == "" || len(key) > loans.MaxIdempotencyKeyLen:
		return lend.FieldErrorf("idempotency_key", "must be 1..%d characters", loans.MaxIdempotencyKeyLen)
	case len(txs) == 0:
		return lend.FieldErrorf("transactions", "the batch is empty")
	case len(txs) > MaxBatchRows:
		return lend.Errorf(lend.ETOOLARGE, "batch of %d transactions exceeds %d", len(txs), MaxBatchRows)
	}
	var bad []features.RowError
	for i, t := range txs {
		if t.MerchantID != "" && t.MerchantID != merchantID && len(bad) < features.MaxRowErrors {
			bad = append(bad, features.RowError{Index: i, Field: "merchant_id", Reason: "must be the merchant of the path (" + merchantID + ")"})
		}
	}
	if bad != nil {
		e := batchErr(bad)
		e.Err = &BatchError{Rows: bad}
		return e
	}
	return nil
}

// toValidRows hands stored rows (validated on arrival) to the features in
// their parsed form.
func toValidRows(merchantID string, rows []StoredTx) []features.ValidRow {
	out := make([]features.ValidRow, len(rows))
	for i, r := range rows {
		out[i] = features.ValidRow{MerchantID: merchantID, TS: time.UnixMicro(r.TSUs).UTC(), AmountMicro: r.AmountMicro, Type: r.Type, BuyerID: r.BuyerID}
	}
	return out
}

func stripe(merchantID string) int {
	h := fnv.New32a()
	h.Write([]byte(merchantID))
	return int(h.Sum32() % lockStripes)
}
