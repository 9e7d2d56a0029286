// Package pipeline runs the batch steps of Lend end to end: generate a
// synthetic portfolio, compute features, train a model and refresh every
// merchant's credit line. `lend refresh-limits` and `lend serve --demo` share
// it so the nightly batch and the demo bootstrap cannot drift apart.
package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/loans"
	"github.com/lendhq/lend/scoring"
)

// Refresh limits.
const (
	// DefaultRefreshBatch is how many credit lines go to the store in one
	// UpsertCreditLines call (one SQLite transaction): large enough that the
	// per-commit fsync is amortised, small enough that a transaction never
	// holds the writer for long.
	DefaultRefreshBatch = 20_000
	// MaxRefreshBatch bounds the batch size a caller may ask for (the SQLite
	// store refuses more than 100,000 per call).
	MaxRefreshBatch = 100_000
	// MaxRefreshMerchants bounds the merchants one refresh holds in memory.
	MaxRefreshMerchants = 5_000_000
	// MaxFeatureColumns bounds the columns of a features file.
	MaxFeatureColumns = 500
	// IDColumn is the merchant id column every features file carries.
	IDColumn = "merchant_id"
	// AsOfColumn is the optional as-of date column of a features file.
	AsOfColumn = "as_of"
	// maxAsOfLen bounds an as-of date string (YYYY-MM-DD).
	maxAsOfLen = 10
	// MaxNotRefreshedIDs bounds the merchant ids a summary lists of the open
	// lines a refresh left alone: enough for an operator to start looking,
	// bounded whatever the portfolio size.
	MaxNotRefreshedIDs = 10
	// DefaultStaleAfterDays is how many days an active line may go without
	// fresh features (its as-of that many days before the run's) before the
	// refresh freezes it for stale data: long enough that a late or partial
	// feed for a night or two freezes nobody, short enough that a merchant
	// going dark stops drawing within the week.
	DefaultStaleAfterDays = 3
	// MaxStaleAfterDays bounds RefreshOptions.StaleAfterDays (a year).
	MaxStaleAfterDays = 365
	// DefaultStaleMaxShare is the largest share of the open lines one run
	// freezes for stale data. Merchants go dark a few at a time; a run that
	// would freeze more is most likely reading an incomplete features file
	// (a feed outage, a partial export), and freezing a tenth of the book on
	// that evidence would stop good merchants' credit. Such a run freezes
	// none and says so (RefreshSummary.StaleWithheld); an operator who has
	// checked the feed re-runs with a share of 1.
	DefaultStaleMaxShare = 0.10
	// StaleGuardFloor is the number of freezes a run may always make,
	// whatever the share: in a small book a few merchants are many percent.
	StaleGuardFloor = 10
)

// MerchantIDs is a short list of merchant ids, the used slots first and the
// rest empty. An array rather than a slice so that RefreshSummary stays
// comparable with ==.
type MerchantIDs [MaxNotRefreshedIDs]string

// List returns the ids that are set, in order.
func (m MerchantIDs) List() []string {
	out := make([]string, 0, len(m))
	for _, id := range m {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

// MarshalJSON writes the ids that are set as a JSON array ([] when none).
func (m MerchantIDs) MarshalJSON() ([]byte, error) { return json.Marshal(m.List()) }

// RefreshOptions configure RefreshLimits.
type RefreshOptions struct {
	Features string // features file (Parquet or CSV), one row per merchant
	// Transactions, when set instead of Features, are transaction files (or
	// globs) the feature pipeline runs on as of AsOf first.
	Transactions []string
	AsOf         string          // YYYY-MM-DD; required unless the file has an as_of column (then they must agree)
	Engine       *scoring.Engine // the champion model
	Store        loans.Store     // where credit lines live
	BatchSize    int             // lines per store call; DefaultRefreshBatch when 0
	// StaleAfterDays (0..MaxStaleAfterDays; DefaultStaleAfterDays when nil)
	// freezes an active line whose merchant is not in the features file and
	// whose as-of is more than this many days before the run's: 0 freezes
	// at the first missed night. A pointer because 0 is a real setting.
	StaleAfterDays *int
	// StaleMaxShare (0 < share <= 1; DefaultStaleMaxShare when 0) bounds
	// the stale-data freezes of one run: when more than
	// max(StaleGuardFloor, share × open lines) lines are stale, none is
	// frozen (StaleWithheld counts them). 1 turns the guard off.
	StaleMaxShare float64
}

// RefreshSummary counts what a refresh did. Every scored merchant falls in
// exactly one of New, Raised, Lowered, Unchanged, Frozen, Declined. Open lines
// whose merchant is not in the features file are not scored: NotRefreshed
// counts them so that nobody takes the run for a refresh of every line, and
// StaleFrozen those of them this run froze for stale data.
type RefreshSummary struct {
	AsOf      string `json:"as_of"`
	ModelID   string `json:"model_id"`
	Merchants int    `json:"merchants"` // rows scored
	New       int    `json:"new"`
	Raised    int    `json:"raised"`
	Lowered   int    `json:"lowered"`
	Unchanged int    `json:"unchanged"`
	Frozen    int    `json:"frozen"`   // delinquent: stays frozen, limit kept
	Declined  int    `json:"declined"` // ineligible: existing line cut to what is drawn, none opened
	Written   int    `json:"written"`  // lines written to the store (identical lines are not rewritten)
	Batches   int    `json:"batches"`
	// NotRefreshed counts the open (active or frozen) lines whose merchant is
	// not in the features file: they keep their earlier limit, grade and
	// as-of. Counted from the lines read at the start of the run, the same
	// read the refresh decides from (not from the write transactions): a line
	// opened while the run scores is neither refreshed nor counted.
	NotRefreshed int `json:"not_refreshed"`
	// NotRefreshedIDs are the first MaxNotRefreshedIDs of those merchants in
	// id (byte) order.
	NotRefreshedIDs MerchantIDs `json:"not_refreshed_ids"`
	// StaleFrozen counts the lines this run froze for stale data (frozen
	// reason stale_data): active, merchant not in the file, as-of more than
	// RefreshOptions.StaleAfterDays days before the run's. They are among
	// NotRefreshed.
	// Counted from the store's conditional writes: a line a concurrent
	// writer changed in between is not frozen and not counted.
	StaleFrozen int `json:"stale_frozen"`
	// StaleFrozenIDs are the first MaxNotRefreshedIDs of those merchants in
	// id (byte) order.
	StaleFrozenIDs MerchantIDs `json:"stale_frozen_ids"`
	// Unfrozen counts the stale_data freezes this run lifted because the
	// merchant is back in the file (the line is active again, with the
	// limit just assessed). A stale-frozen merchant found delinquent stays
	// frozen, for delinquency, and is counted in Frozen, not here.
	Unfrozen int `json:"unfrozen"`
	// StaleWithheld counts the stale lines this run did NOT freeze because
	// they were more than RefreshOptions.StaleMaxShare of the open lines (and
	// more than StaleGuardFloor): most likely an incomplete features file.
	// 0 when the freezes were made.
	StaleWithheld int `json:"stale_withheld"`
}

// RefreshLimits scores every merchant of the features file with the engine's
// champion and writes each credit line through the store, following
// scoring.RefreshLine: a frozen line stays frozen, a delinquent merchant's
// line is frozen, a line never drops below what is drawn, an ineligible
// merchant's line is cut to what is drawn. Every row is scored before anything
// is written, so bad input writes nothing. A line identical to the stored one
// is not rewritten, so a second run for the same as-of and model changes
// nothing (Written is 0). Writes go in batches; if a batch fails the earlier
// ones stay, and re-running finishes the job (the refresh is idempotent).
// An open line whose merchant is not in the file keeps its limit and is
// counted in NotRefreshed; if it is active and its as-of is more than
// StaleAfterDays days before the run's it is frozen for stale data (the
// freezes are written before the limits). A stale-frozen merchant back in the
// file is assessed as usual and unfrozen, unless delinquent (then it stays
// frozen, for delinquency, as close of business would have frozen it).
func RefreshLimits(ctx context.Context, opt RefreshOptions) (RefreshSummary, error) {
	var sum RefreshSummary
	if opt.Engine == nil || opt.Store == nil {
		return sum, lend.Errorf(lend.EINVALID, "refresh: an engine and a store are required")
	}
	staleDays := DefaultStaleAfterDays
	if opt.StaleAfterDays != nil {
		staleDays = *opt.StaleAfterDays
	}
	if staleDays < 0 || staleDays > MaxStaleAfterDays {
		return sum, lend.FieldErrorf("stale-after-days", "must be between 0 and %d, got %d", MaxStaleAfterDays, staleDays)
	}
	staleShare := opt.StaleMaxShare
	if staleShare == 0 {
		staleShare = DefaultStaleMaxShare
	}
	if !(staleShare > 0 && staleShare <= 1) { // NaN too
		return sum, lend.FieldErrorf("stale-max-share", "must be more than 0 and at most 1, got %v", staleShare)
	}
	batch := opt.BatchSize
	if batch == 0 {
		batch = DefaultRefreshBatch
	}
	if batch < 1 || batch > MaxRefreshBatch {
		return sum, lend.FieldErrorf("batch", "must be between 1 and %d, got %d", MaxRefreshBatch, batch)
	}
	if opt.AsOf != "" {
		if _, err := features.ParseAsOf(opt.AsOf); err != nil {
			return sum, err
		}
	}
	if len(opt.Transactions) > 0 {
		if opt.Features != "" {
			return sum, lend.FieldErrorf("features", "give a features file or transactions, not both")
		}
		if opt.AsOf == "" {
			return sum, lend.FieldErrorf("as-of", "required with transactions")
		}
		asOf, _ := features.ParseAsOf(opt.AsOf)
		tmp, err := os.MkdirTemp("", "lend-refresh-*")
		if err != nil {
			return sum, lend.Wrap(lend.EINTERNAL, err, "refresh: temporary directory: %v", err)
		}
		defer os.RemoveAll(tmp)
		opt.Features = filepath.Join(tmp, "features.parquet")
		if _, err := features.Run(ctx, features.Options{Paths: opt.Transactions, AsOf: asOf, Out: opt.Features,
			// Only the model's currency is lent in: other rows are rejects.
			Currency: opt.Engine.Scorer().Model().Policy.Currency}); err != nil {
			return sum, err
		}
	}
	m := opt.Engine.Scorer().Model()
	currency := m.Policy.Currency
	sum.ModelID = opt.Engine.ModelID()

	prev, err := loadLines(ctx, opt.Store)
	if err != nil {
		return sum, err
	}
	openLines := countOpen(prev) // before the loop below deletes the merchants it sees
	var updates []loans.CreditLineUpdate
	asOf := opt.AsOf
	err = readFeatures(ctx, opt.Features, numericInputs(m), func(row int, id, rowAsOf string, f *scoring.Features) error {
		if rowAsOf != "" {
			if asOf == "" {
				asOf = rowAsOf
			} else if rowAsOf != asOf {
				return lend.FieldErrorf("as_of", "features row %d (merchant %s): as-of %s differs from %s", row, id, rowAsOf, asOf)
			}
		}
		if asOf == "" {
			return lend.FieldErrorf("as-of", "required: the features file has no %s column", AsOfColumn)
		}
		sum.Merchants++
		if sum.Merchants > MaxRefreshMerchants {
			return lend.Errorf(lend.ETOOLARGE, "features: more than %d merchants in one refresh", MaxRefreshMerchants)
		}
		delinquent := false
		if staleFrozen(prev[id]) {
			var derr error
			if delinquent, derr = loans.MerchantDelinquent(ctx, opt.Store, id); derr != nil {
				return derr
			}
		}
		u, change, write, err := refreshMerchant(opt.Engine, prev[id], id, f, currency, asOf, sum.ModelID, delinquent)
		if err != nil {
			return lend.Wrap(lend.EINVALID, err, "features row %d (merchant %s): %s", row, id, lend.ErrorMessage(err))
		}
		count(&sum, change)
		if write {
			updates = append(updates, u)
		}
		// Seen: what stays in prev afterwards is the lines the file misses
		// (ids are unique in the file, so nothing reads this entry again).
		delete(prev, id)
		return nil
	})
	if err != nil {
		return sum, err
	}
	sum.AsOf = asOf
	sum.NotRefreshed, sum.NotRefreshedIDs = notRefreshed(prev)
	stale := staleLines(prev, asOf, staleDays)
	if len(stale) > staleGuard(openLines, staleShare) {
		sum.StaleWithheld, stale = len(stale), nil
	}
	if err := freezeStale(ctx, opt.Store, stale, batch, &sum); err != nil {
		return sum, err
	}
	for start := 0; start < len(updates); start += batch {
		end := min(start+batch, len(updates))
		s, err := opt.Store.UpsertCreditLines(ctx, updates[start:end])
		if err != nil {
			return sum, err
		}
		sum.Written += end - start
		sum.Unfrozen += s.Unfrozen
		sum.Batches++
	}
	return sum, nil
}

// staleFrozen reports whether l is frozen for want of fresh data.
func staleFrozen(l *loans.CreditLine) bool {
	return l != nil && l.Status == loans.LineFrozen && l.FrozenReason == loans.FrozenByStaleData
}

// staleLines are the lines of left (open lines the features file missed)
// to freeze for stale data, in id order: active, with an as-of more than
// days days before asOf. A line whose as-of is not a date carries no
// evidence of freshness and is stale; one dated after asOf (a real-time
// re-decision) is fresh.
func staleLines(left map[string]*loans.CreditLine, asOf string, days int) []loans.StaleLine {
	run, _ := time.Parse(loans.DateLayout, asOf) // checked by the caller
	var out []loans.StaleLine
	for id, l := range left {
		if l.Status != loans.LineActive {
			continue
		}
		d, err := time.Parse(loans.DateLayout, l.AsOf)
		if err == nil && run.Sub(d) <= time.Duration(days)*24*time.Hour {
			continue
		}
		out = append(out, loans.StaleLine{MerchantID: id, AsOf: l.AsOf})
	}
	slices.SortFunc(out, func(a, b loans.StaleLine) int { return strings.Compare(a.MerchantID, b.MerchantID) })
	return out
}

// countOpen counts the open (active or frozen) lines of lines.
func countOpen(lines map[string]*loans.CreditLine) int {
	n := 0
	for _, l := range lines {
		if l.Status == loans.LineActive || l.Status == loans.LineFrozen {
			n++
		}
	}
	return n
}

// staleGuard is the most stale-data freezes one run makes among open
// lines: share of them rounded down, but never fewer than StaleGuardFloor.
// The product is nudged up by a relative 1e-9 before the floor: the share is
// a decimal the operator typed, and 0.29 × 100 is 28.999999999999996 in
// binary, which must allow 29.
func staleGuard(open int, share float64) int {
	return max(StaleGuardFloor, int(math.Floor(share*float64(open)*(1+1e-9))))
}

// freezeStale freezes lines in batches and counts in sum what the store
// actually froze (the first ids, in id order, as lines is sorted).
func freezeStale(ctx context.Context, st loans.Store, lines []loans.StaleLine, batch int, sum *RefreshSummary) error {
	for start := 0; start < len(lines); start += batch {
		frozen, err := st.FreezeStaleLines(ctx, lines[start:min(start+batch, len(lines))])
		if err != nil {
			return err
		}
		for _, id := range frozen {
			if sum.StaleFrozen < MaxNotRefreshedIDs {
				sum.StaleFrozenIDs[sum.StaleFrozen] = id
			}
			sum.StaleFrozen++
		}
	}
	return nil
}

// notRefreshed counts the open (active or frozen) lines of left, the stored
// lines whose merchant the features file did not carry, and returns the
// smallest ids among them in byte order. A closed line is not counted: it
// lends nothing, so an old limit on it misleads nobody.
func notRefreshed(left map[string]*loans.CreditLine) (n int, ids MerchantIDs) {
	// keep the MaxNotRefreshedIDs smallest ids by insertion: bounded work per
	// line, no sort of what may be the whole portfolio
	low := make([]string, 0, MaxNotRefreshedIDs+1)
	for id, l := range left {
		if l.Status != loans.LineActive && l.Status != loans.LineFrozen {
			continue
		}
		n++
		if len(low) == MaxNotRefreshedIDs && id >= low[len(low)-1] {
			continue
		}
		i, _ := slices.BinarySearch(low, id)
		low = slices.Insert(low, i, id)
		if len(low) > MaxNotRefreshedIDs {
			low = low[:MaxNotRefreshedIDs]
		}
	}
	copy(ids[:], low)
	return n, ids
}

func count(s *RefreshSummary, change string) {
	switch change {
	case scoring.ChangeNew:
		s.New++
	case scoring.ChangeRaised:
		s.Raised++
	case scoring.ChangeLowered:
		s.Lowered++
	case scoring.ChangeUnchanged:
		s.Unchanged++
	case scoring.ChangeFrozen:
		s.Frozen++
	case scoring.ChangeDeclined:
		s.Declined++
	}
}

// refreshOne assesses one merchant and works out what to write. write is
// false when there is nothing to store (a declined merchant without a line)
// or the stored line already says exactly this.
// A line frozen for stale data is taken for a delinquent merchant's.
func refreshOne(e *scoring.Engine, prev *loans.CreditLine, id string, f *scoring.Features, currency, asOf, modelID string) (u loans.CreditLineUpdate, change string, write bool, err error) {
	return refreshMerchant(e, prev, id, f, currency, asOf, modelID, true)
}

// refreshMerchant is refreshOne knowing whether a merchant whose line is
// frozen for stale data is delinquent (staleDelinquent, from its loans): if
// not, the line is assessed as an active one. Such a line is always written:
// the write is what lifts the freeze in the store.
func refreshMerchant(e *scoring.Engine, prev *loans.CreditLine, id string, f *scoring.Features, currency, asOf, modelID string, staleDelinquent bool) (u loans.CreditLineUpdate, change string, write bool, err error) {
	mer := &scoring.Merchant{ID: id, Features: f}
	var ps *scoring.LineState
	if prev != nil {
		mer.ExposureMinor = prev.DrawnMinor
		// Close of business freezes a delinquent merchant's line; that is the
		// store's record of delinquency.
		mer.Delinquent = prev.Status == loans.LineFrozen
		st := string(prev.Status)
		switch {
		case prev.Status == loans.LineClosed:
			st = scoring.LineDeclined
		case staleFrozen(prev) && !staleDelinquent:
			mer.Delinquent, st = false, scoring.LineActive
		}
		ps = &scoring.LineState{LimitMinor: prev.LimitMinor, DrawnMinor: prev.DrawnMinor, Status: st}
	}
	a, err := e.Assess(mer, scoring.ProductCreditLine)
	if err != nil {
		return u, "", false, err
	}
	next, change, err := scoring.RefreshLine(ps, a, mer.Delinquent)
	if err != nil {
		return u, "", false, err
	}
	if next == nil {
		return u, change, false, nil
	}
	pd, err := strconv.ParseFloat(a.PD, 64)
	if err != nil {
		return u, "", false, lend.Errorf(lend.EINTERNAL, "pd %q: %v", a.PD, err)
	}
	u = loans.CreditLineUpdate{MerchantID: id, Currency: currency, LimitMinor: next.LimitMinor, Grade: a.Grade,
		Score: float64(a.Score), PD: pd, Reasons: reasonCodes(a), ModelID: modelID, AsOf: asOf}
	switch {
	case next.Status == scoring.LineActive && a.Pricing != nil:
		if u.APR, err = loans.ParseRate("apr", a.Pricing.APR); err != nil {
			return u, "", false, err
		}
	case prev != nil:
		u.APR = prev.APR // frozen or declined: no new draws, the price of what is drawn stands
		u.Currency = prev.Currency
	}
	if prev != nil && !staleFrozen(prev) && sameLine(prev, &u) {
		return u, change, false, nil
	}
	return u, change, true, nil
}

// reasonCodes lists the policy reasons (why declined or bounded) then the
// score's key factors, each code once.
func reasonCodes(a *scoring.Assessment) []string {
	out := make([]string, 0, len(a.Reasons)+len(a.ScoreReasons))
	for _, rs := range [][]scoring.Reason{a.Reasons, a.ScoreReasons} {
		for _, r := range rs {
			if !slices.Contains(out, r.Code) {
				out = append(out, r.Code)
			}
		}
	}
	return out
}

// sameLine reports whether writing u would leave the stored line as it is.
func sameLine(l *loans.CreditLine, u *loans.CreditLineUpdate) bool {
	limit := max(u.LimitMinor, l.DrawnMinor)
	return l.LimitMinor == limit && l.APR == u.APR && l.Grade == u.Grade && l.Score == u.Score && l.PD == u.PD &&
		l.ModelID == u.ModelID && l.AsOf == u.AsOf && slices.Equal(l.Reasons, u.Reasons)
}

// loadLines reads every stored credit line, page by page.
func loadLines(ctx context.Context, st loans.Store) (map[string]*loans.CreditLine, error) {
	out := map[string]*loans.CreditLine{}
	cursor := ""
	for {
		page, next, err := st.ListCreditLines(ctx, loans.CreditLineFilter{Cursor: cursor, Limit: loans.MaxPageSize})
		if err != nil {
			return nil, err
		}
		for i := range page {
			out[page[i].MerchantID] = &page[i]
		}
		if len(out) > MaxRefreshMerchants {
			return nil, lend.Errorf(lend.ETOOLARGE, "store: more than %d credit lines", MaxRefreshMerchants)
		}
		if next == "" || len(page) == 0 {
			return out, nil
		}
		cursor = next
	}
}

// policyNumeric are the features the eligibility rules and the sales fallback
// of the policy read as numbers (scoring/policy.go, capacity.go).
var policyNumeric = []string{scoring.FeatureTenureDays, scoring.FeatureDaysSinceLastSale,
	scoring.FeatureSales90d, scoring.FeatureRefundRate90d, scoring.FeatureChargebacks180d}

// numericInputs names the columns m reads as numbers: its numeric variables,
// its capacity model's variables and the policy features.
func numericInputs(m *scoring.Model) map[string]bool {
	out := make(map[string]bool, len(m.Variables)+len(policyNumeric))
	for _, v := range m.Variables {
		if v.Type != "categorical" {
			out[v.Name] = true
		}
	}
	if m.Capacity != nil {
		for _, v := range m.Capacity.Variables {
			out[v] = true
		}
	}
	for _, v := range policyNumeric {
		out[v] = true
	}
	return out
}

// maxBadValueLen bounds the unreadable value an error message quotes.
const maxBadValueLen = 40

// readFeatures streams a features file (Parquet, CSV or gzipped CSV) in
// merchant id order, calling fn with one reused Features per row: numeric
// columns go to Num (NULL as NaN: present but missing), text columns to Str.
// A column named in numeric must hold numbers: when the file types it as
// text (DuckDB does so for a whole CSV column when one cell is not a number),
// each value is cast, an empty or NULL one stays missing, and the first that
// is not a number fails the read naming the merchant, the column and the
// value (merchant ids are unique, so the merchant names the row; rows are read
// in id order, not file order), before fn sees that row. Other text columns go
// to Str as they are.
func readFeatures(ctx context.Context, path string, numeric map[string]bool, fn func(row int, id, asOf string, f *scoring.Features) error) error {
	if strings.TrimSpace(path) == "" {
		return lend.FieldErrorf("features", "a features file is required")
	}
	db, err := features.OpenDB(0, "", "")
	if err != nil {
		return err
	}
	defer db.Close()
	src, err := sourceOf(path)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, "DESCRIBE SELECT * FROM "+src)
	if err != nil {
		return lend.Wrap(lend.EINVALID, err, "features: cannot read %s: %v", path, firstLine(err))
	}
	type col struct {
		name    string
		numeric bool
		cast    bool // numeric input typed as text: TRY_CAST, plus the text of a bad cell
	}
	var cols []col
	hasID, asOfIdx := false, -1
	for rows.Next() {
		var name, typ string
		var n1, n2, n3, n4 sql.NullString
		if err := rows.Scan(&name, &typ, &n1, &n2, &n3, &n4); err != nil {
			rows.Close()
			return lend.Wrap(lend.EINTERNAL, err, "features: describe")
		}
		switch name {
		case IDColumn:
			hasID = true
			continue
		case AsOfColumn:
			asOfIdx = len(cols)
		}
		c := col{name: name, numeric: isNumeric(typ)}
		if !c.numeric && numeric[name] && name != AsOfColumn {
			c.numeric, c.cast = true, true
		}
		cols = append(cols, c)
	}
	rows.Close()
	if !hasID {
		return lend.FieldErrorf("features", "%s has no %s column", path, IDColumn)
	}
	if len(cols) > MaxFeatureColumns {
		return lend.FieldErrorf("features", "%s has %d columns; the limit is %d", path, len(cols), MaxFeatureColumns)
	}
	var sel strings.Builder
	sel.WriteString("SELECT CAST(" + quoteIdent(IDColumn) + " AS VARCHAR)")
	for i, c := range cols {
		switch {
		case i == asOfIdx:
			sel.WriteString(", strftime(CAST(" + quoteIdent(c.name) + " AS DATE), '%Y-%m-%d')")
		case c.cast:
			// the number DuckDB reads in the text, then the text itself only
			// where it is neither blank nor a number (NULL otherwise, so a
			// good row carries no string)
			q := "CAST(" + quoteIdent(c.name) + " AS VARCHAR)"
			sel.WriteString(", TRY_CAST(" + q + " AS DOUBLE), CASE WHEN TRY_CAST(" + q + " AS DOUBLE) IS NULL AND trim(" + q + ") <> '' THEN " + q + " END")
		case c.numeric:
			sel.WriteString(", CAST(" + quoteIdent(c.name) + " AS DOUBLE)")
		default:
			sel.WriteString(", CAST(" + quoteIdent(c.name) + " AS VARCHAR)")
		}
	}
	sel.WriteString(" FROM " + src + " ORDER BY 1")
	rows, err = db.QueryContext(ctx, sel.String())
	if err != nil {
		return lend.Wrap(lend.EINVALID, err, "features: cannot read %s: %v", path, firstLine(err))
	}
	defer rows.Close()
	nums := make([]sql.NullFloat64, len(cols))
	strs := make([]sql.NullString, len(cols))
	dest := make([]any, 1, len(cols)+1)
	var id sql.NullString
	dest[0] = &id
	for i, c := range cols {
		switch {
		case c.cast:
			dest = append(dest, &nums[i], &strs[i])
		case c.numeric && i != asOfIdx:
			dest = append(dest, &nums[i])
		default:
			dest = append(dest, &strs[i])
		}
	}
	f := &scoring.Features{Num: make(map[string]float64, len(cols)), Str: map[string]string{}}
	row := 0
	lastID := ""
	for rows.Next() {
		row++
		if err := rows.Scan(dest...); err != nil {
			return lend.Wrap(lend.EINVALID, err, "features row %d: %v", row, firstLine(err))
		}
		if !id.Valid || id.String == "" {
			return lend.FieldErrorf(IDColumn, "features row %d: empty merchant id", row)
		}
		if id.String == lastID {
			return lend.FieldErrorf(IDColumn, "features: merchant %s appears more than once", id.String)
		}
		lastID = id.String
		clear(f.Num)
		clear(f.Str)
		asOf := ""
		for i, c := range cols {
			switch {
			case i == asOfIdx:
				if strs[i].Valid {
					asOf = strs[i].String
				}
				if len(asOf) != maxAsOfLen {
					return lend.FieldErrorf(AsOfColumn, "features row %d (merchant %s): as-of %q is not a date", row, id.String, asOf)
				}
			case c.numeric:
				v := math.NaN()
				if nums[i].Valid {
					v = nums[i].Float64
				} else if c.cast && strs[i].Valid {
					return lend.FieldErrorf(c.name, "features: merchant %s: %s %q is not a number", id.String, c.name, truncate(strs[i].String, maxBadValueLen))
				}
				f.Num[c.name] = v
			case strs[i].Valid:
				f.Str[c.name] = strs[i].String
			}
		}
		if err := fn(row, id.String, asOf, f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return lend.Wrap(lend.EINVALID, err, "features: reading %s: %v", path, firstLine(err))
	}
	if row == 0 {
		return lend.FieldErrorf("features", "%s has no rows", path)
	}
	return nil
}

// sourceOf is the DuckDB table function reading path.
func sourceOf(path string) (string, error) {
	p := strings.ToLower(path)
	switch {
	case strings.HasSuffix(p, ".parquet"):
		return "read_parquet(" + quoteString(path) + ")", nil
	case strings.HasSuffix(p, ".csv"), strings.HasSuffix(p, ".csv.gz"):
		// every column as text: DuckDB types a CSV column from a sample of
		// rows, so a non-number past the sample would fail the whole read,
		// even in a column nothing uses; readFeatures casts the columns the
		// model and the policy read as numbers.
		return "read_csv(" + quoteString(path) + ", header = true, all_varchar = true, nullstr = ['', 'NULL'])", nil
	}
	return "", lend.FieldErrorf("features", "%s: want a .parquet, .csv or .csv.gz file", path)
}

func isNumeric(typ string) bool {
	t := strings.ToUpper(typ)
	for _, p := range []string{"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// truncate shortens s to at most n bytes (on a rune boundary), marking a cut with "...".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// firstLine keeps an engine error to one line for the user.
func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
