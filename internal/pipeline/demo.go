package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/synth"
	"github.com/lendhq/lend/training"
)

// Demo portfolio defaults and file names inside the data directory.
const (
	// demoBuildingFile marks a build in progress (the database may hold
	// its first lines before the model file marks it finished).
	demoBuildingFile = "demo-building"
	DemoMerchants    = 3_000 // big enough for a stable model, small enough to build in seconds
	DemoSeed         = 1     // synth.DefaultSeed: the demo is the same portfolio everywhere
	DemoDir          = "demo"
	ModelFile        = "model.json"
	FeaturesFile     = "features.parquet"
	DBFile           = "lend.db"
	trainingFile     = "training.parquet"
	// MaxDemoMerchants bounds the demo portfolio (it must build in seconds).
	MaxDemoMerchants = 100_000
)

// DemoOptions configure Demo. Zero values take the defaults above.
type DemoOptions struct {
	DataDir   string
	DB        string // SQLite path; DataDir/lend.db when ""
	Merchants int
	Seed      uint64
	Out       io.Writer // progress lines; nil discards
	// MerchantID, when set, is the merchant a demo key is bound to: Demo
	// reports whether it holds an approved line (MerchantApproved) and
	// stores its transactions in the real-time store (loadDemoHistory).
	MerchantID string
	// Now is the day the demo history is moved to end on (its eve);
	// time.Now() when zero.
	Now time.Time
	// Store, when set, holds the credit lines (the store `lend serve`
	// opened, SQLite or PostgreSQL; DB is then unused) and Realtime the
	// demo history. Both nil: Demo opens the SQLite ones at DB.
	Store    loans.Store
	Realtime realtime.Store
}

// DemoResult says what Demo did.
type DemoResult struct {
	Reused    bool           `json:"reused"` // the data directory already held a model: nothing was built
	ModelPath string         `json:"model"`
	ModelID   string         `json:"model_id"`
	AsOf      string         `json:"as_of"`
	Refresh   RefreshSummary `json:"refresh"`
	// FirstApproved is the smallest merchant id holding an active line with a
	// positive limit (a merchant a demo key can borrow as); "" if none.
	FirstApproved string `json:"first_approved"`
	// MerchantApproved: DemoOptions.MerchantID holds an active line with a
	// positive limit.
	MerchantApproved bool          `json:"merchant_approved"`
	Elapsed          time.Duration `json:"-"`
}

// Demo builds a demo portfolio in an empty data directory: a seeded synthetic
// portfolio (DATA/demo/), its features as of the generator's as-of
// (DATA/features.parquet, with an as_of column), a model trained on them with
// the outcomes as target and a repayment-capacity model on future_gmv_90d
// (DATA/model.json), and credit lines for every eligible merchant in the
// database. The model file is written last, after the credit lines, so its
// presence means the bootstrap finished: a later start reuses everything and
// a start after a crash rebuilds (every step is idempotent).
func Demo(ctx context.Context, opt DemoOptions) (DemoResult, error) {
	started := time.Now()
	var res DemoResult
	if opt.DataDir == "" {
		return res, lend.FieldErrorf("data", "a data directory is required")
	}
	if opt.Merchants == 0 {
		opt.Merchants = DemoMerchants
	}
	if opt.Merchants < 1 || opt.Merchants > MaxDemoMerchants {
		return res, lend.FieldErrorf("merchants", "must be between 1 and %d, got %d", MaxDemoMerchants, opt.Merchants)
	}
	if opt.Seed == 0 {
		opt.Seed = DemoSeed
	}
	out := opt.Out
	if out == nil {
		out = io.Discard
	}
	if opt.DB == "" {
		opt.DB = filepath.Join(opt.DataDir, DBFile)
	}
	if opt.Store == nil {
		st, err := loanssqlite.Open(opt.DB, loans.Policy{})
		if err != nil {
			return res, err
		}
		defer st.Close()
		rt, err := rtsqlite.New(ctx, st.DB())
		if err != nil {
			return res, err
		}
		defer rt.Close()
		opt.Store, opt.Realtime = st, rt
	}
	res.ModelPath = filepath.Join(opt.DataDir, ModelFile)
	if _, err := os.Stat(res.ModelPath); err == nil {
		return res, demoReuse(ctx, opt, &res, started)
	}
	if err := os.MkdirAll(opt.DataDir, 0o750); err != nil {
		return res, lend.Wrap(lend.EINVALID, err, "data: cannot create %s: %v", opt.DataDir, err)
	}
	// The demo writes synthetic credit lines: only into an empty database,
	// or one an interrupted build of this data directory started.
	building := filepath.Join(opt.DataDir, demoBuildingFile)
	if _, err := os.Stat(building); errors.Is(err, os.ErrNotExist) {
		page, _, err := opt.Store.ListCreditLines(ctx, loans.CreditLineFilter{Limit: 1})
		if err != nil {
			return res, err
		}
		if len(page) > 0 {
			return res, lend.Errorf(lend.EINVALID, "demo: the database already holds credit lines (e.g. %s): the demo builds its synthetic book only into an empty database; give --demo its own data directory or database", page[0].MerchantID)
		}
		if err := os.WriteFile(building, []byte("a demo build started here\n"), 0o640); err != nil {
			return res, lend.Wrap(lend.EINTERNAL, err, "demo: %v", err)
		}
	}

	genDir := filepath.Join(opt.DataDir, DemoDir)
	gs, err := synth.Generate(ctx, synth.Config{Merchants: opt.Merchants, Seed: opt.Seed}, genDir)
	if err != nil {
		return res, err
	}
	res.AsOf = gs.AsOf
	fmt.Fprintf(out, "lend: demo: generated %d merchants, %d transactions as of %s (%.1fs)\n", gs.Merchants, gs.Transactions, gs.AsOf, time.Since(started).Seconds())

	asOf, err := features.ParseAsOf(gs.AsOf)
	if err != nil {
		return res, err
	}
	featPath := filepath.Join(opt.DataDir, FeaturesFile)
	raw := filepath.Join(genDir, "features.parquet")
	if _, err := features.Run(ctx, features.Options{Paths: []string{filepath.Join(genDir, synth.TransactionsParquet)}, AsOf: asOf, Out: raw}); err != nil {
		return res, err
	}
	trainPath := filepath.Join(genDir, trainingFile)
	if err := joinFeatures(ctx, raw, filepath.Join(genDir, synth.OutcomesFile), gs.AsOf, featPath, trainPath); err != nil {
		return res, err
	}
	fmt.Fprintf(out, "lend: demo: features -> %s (%.1fs)\n", featPath, time.Since(started).Seconds())

	o := training.Defaults()
	o.Data, o.Target, o.ID = trainPath, "bad", IDColumn
	o.Exclude = []string{AsOfColumn}
	o.CapacityTarget = "future_gmv_90d"
	o.CreatedAt = asOf // deterministic: the same portfolio gives the same artifact bytes
	tr, err := training.Train(ctx, o)
	if err != nil {
		return res, err
	}
	m := tr.Model
	res.ModelID = m.ID
	fmt.Fprintf(out, "lend: demo: trained model %s: %d variables, test AUC %.3f (%.1fs)\n", short(m.ID), len(m.Variables), m.Metrics.Test.AUC, time.Since(started).Seconds())
	eng, err := scoring.NewEngine(m, nil)
	if err != nil {
		return res, err
	}
	if err := demoBook(ctx, opt, &res, eng, asOf); err != nil {
		return res, err
	}
	b, err := m.Marshal()
	if err != nil {
		return res, err
	}
	if err := training.WriteFileAtomic(res.ModelPath, b); err != nil {
		return res, err
	}
	_ = os.Remove(building) // the model file now marks the build finished
	r := res.Refresh
	res.Elapsed = time.Since(started)
	fmt.Fprintf(out, "lend: demo: credit lines: %d new, %d declined of %d merchants; model -> %s (%.1fs)\n",
		r.New, r.Declined, r.Merchants, res.ModelPath, res.Elapsed.Seconds())
	return res, nil
}

// demoBook opens credit lines from the demo's features with eng and stores
// the demo merchant's history in the real-time store.
func demoBook(ctx context.Context, opt DemoOptions, res *DemoResult, eng *scoring.Engine, asOf time.Time) error {
	var err error
	if res.Refresh, err = RefreshLimits(ctx, RefreshOptions{Features: filepath.Join(opt.DataDir, FeaturesFile), Engine: eng, Store: opt.Store}); err != nil {
		return err
	}
	if err := res.approved(ctx, opt.Store, opt.MerchantID); err != nil {
		return err
	}
	return demoHistory(ctx, opt, asOf)
}

// demoHistory tops up the demo merchant's history in the real-time store
// (topUpDemoHistory) so that it ends yesterday.
func demoHistory(ctx context.Context, opt DemoOptions, asOf time.Time) error {
	if opt.MerchantID == "" || opt.Realtime == nil {
		return nil
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	n, shift, err := topUpDemoHistory(ctx, opt.Realtime, filepath.Join(opt.DataDir, DemoDir, synth.TransactionsParquet), opt.MerchantID, asOf, now)
	if err != nil {
		return err
	}
	if n > 0 {
		fmt.Fprintf(opt.out(), "lend: demo: %d transactions of %s stored in the real-time store, moved %d days later (its history ends yesterday)\n", n, opt.MerchantID, shift)
	}
	return nil
}

// demoReuse is a start over a built data directory: nothing is rebuilt,
// except the credit lines and the demo history when the database holds no
// credit line at all (another database than the one the demo was built
// in, e.g. a first start with --db postgres://).
func demoReuse(ctx context.Context, opt DemoOptions, res *DemoResult, started time.Time) error {
	m, err := scoring.LoadFile(res.ModelPath)
	if err != nil {
		return err
	}
	res.Reused, res.ModelID = true, m.ID
	page, _, err := opt.Store.ListCreditLines(ctx, loans.CreditLineFilter{Limit: 1})
	if err != nil {
		return err
	}
	if len(page) == 0 {
		// The demo trains with CreatedAt = the portfolio's as-of.
		asOf, err := time.Parse(time.RFC3339, m.CreatedAt)
		if err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "demo: the model's created_at %q: %v", m.CreatedAt, err)
		}
		res.AsOf = asOf.UTC().Format(time.DateOnly)
		eng, err := scoring.NewEngine(m, nil)
		if err != nil {
			return err
		}
		if err := demoBook(ctx, opt, res, eng, asOf); err != nil {
			return err
		}
		fmt.Fprintf(opt.out(), "lend: demo: model %s reused; the database had no credit lines: opened %d\n", short(m.ID), res.Refresh.New)
	} else {
		if err := res.approved(ctx, opt.Store, opt.MerchantID); err != nil {
			return err
		}
		fmt.Fprintf(opt.out(), "lend: demo: reusing model %s in %s\n", short(m.ID), opt.DataDir)
		asOf, err := time.Parse(time.RFC3339, m.CreatedAt)
		if err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "demo: the model's created_at %q: %v", m.CreatedAt, err)
		}
		if err := demoHistory(ctx, opt, asOf); err != nil {
			return err
		}
	}
	res.Elapsed = time.Since(started)
	return nil
}

// out is where progress lines go.
func (o DemoOptions) out() io.Writer {
	if o.Out == nil {
		return io.Discard
	}
	return o.Out
}

// joinFeatures writes the features with an as_of column to featOut (what the
// refresh reads) and the same rows joined to the outcomes (bad,
// future_gmv_90d; never true_pd, which no lender can observe) to trainOut.
func joinFeatures(ctx context.Context, raw, outcomes, asOf, featOut, trainOut string) error {
	db, err := features.OpenDB(0, "", "")
	if err != nil {
		return err
	}
	defer db.Close()
	tmp := featOut + ".tmp.parquet"
	defer os.Remove(tmp)
	for _, q := range []string{
		fmt.Sprintf("COPY (SELECT *, DATE %s AS as_of FROM read_parquet(%s) ORDER BY merchant_id) TO %s (FORMAT parquet)",
			quoteString(asOf), quoteString(raw), quoteString(tmp)),
		fmt.Sprintf(`COPY (SELECT f.*, o.bad, o.future_gmv_90d FROM read_parquet(%s) f
			JOIN read_csv(%s, header = true, columns = {'merchant_id': 'VARCHAR', 'as_of': 'VARCHAR', 'bad': 'INTEGER', 'true_pd': 'DOUBLE', 'future_gmv_90d': 'DOUBLE'}) o
			USING (merchant_id) ORDER BY merchant_id) TO %s (FORMAT parquet)`,
			quoteString(tmp), quoteString(outcomes), quoteString(trainOut)),
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "demo: joining features and outcomes: %v", firstLine(err))
		}
	}
	if err := os.Rename(tmp, featOut); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "demo: writing %s: %v", featOut, err)
	}
	return nil
}

// approved fills FirstApproved and MerchantApproved.
func (r *DemoResult) approved(ctx context.Context, st loans.Store, merchantID string) error {
	var err error
	if r.FirstApproved, err = firstApproved(ctx, st); err != nil {
		return err
	}
	if merchantID == "" {
		return nil
	}
	l, err := st.CreditLine(ctx, merchantID)
	switch {
	case lend.ErrorCode(err) == lend.ENOTFOUND:
		return nil
	case err != nil:
		return err
	}
	r.MerchantApproved = l.Status == loans.LineActive && l.LimitMinor > 0
	return nil
}

// firstApproved returns the smallest merchant id with an active line and a
// positive limit.
func firstApproved(ctx context.Context, st loans.Store) (string, error) {
	cursor := ""
	for {
		page, next, err := st.ListCreditLines(ctx, loans.CreditLineFilter{Status: loans.LineActive, Cursor: cursor, Limit: loans.MaxPageSize})
		if err != nil {
			return "", err
		}
		for _, l := range page {
			if l.LimitMinor > 0 {
				return l.MerchantID, nil
			}
		}
		if next == "" || len(page) == 0 {
			return "", nil
		}
		cursor = next
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// TopUpDemo appends to the demo merchant's real-time history the generated
// days between its latest stored transaction and yesterday (as a start of
// `lend serve --demo` does), so a demo server left running for days keeps a
// history that ends yesterday instead of an ever longer empty stretch, which
// the real-time sales-collapse rule would read as a merchant whose sales
// stopped. opt needs DataDir (a built demo), MerchantID and Realtime; the
// history is topped up to the end of the day before Now (time.Now() when
// zero, UTC days). A repeat on the same day stores nothing.
func TopUpDemo(ctx context.Context, opt DemoOptions) error {
	if opt.MerchantID == "" || opt.Realtime == nil {
		return lend.FieldErrorf("merchant_id", "the demo top-up needs a merchant and a real-time store")
	}
	m, err := scoring.LoadFile(filepath.Join(opt.DataDir, ModelFile))
	if err != nil {
		return err
	}
	asOf, err := time.Parse(time.RFC3339, m.CreatedAt)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "demo: the model's created_at %q: %v", m.CreatedAt, err)
	}
	return demoHistory(ctx, opt, asOf)
}
