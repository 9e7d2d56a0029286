package features

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lendhq/lend"
)

// MaxOnlineRows bounds the history ComputeRows accepts in one call.
const MaxOnlineRows = 5_000_000

// Tx is one transaction as text, exactly as it appears in a CSV row (SPEC §2.1):
// the online path validates it with the same SQL as the batch pipeline.
type Tx struct {
	MerchantID string
	TS         string // RFC 3339 or YYYY-MM-DD HH:MM:SS[.fff] (UTC if no zone)
	Amount     string // decimal, major units, > 0
	Type       string // sale, refund or chargeback
	BuyerID    string // "" when unknown
	// Currency is the ISO 4217 code as sent, "" for the lending currency
	// (Online.SetCurrency); a row in another currency is invalid.
	Currency string
}

// Row is one merchant's features. Values follow Names(); nil is SQL NULL.
// Counts and days are whole numbers carried as float64 (exact below 2^53).
type Row struct {
	MerchantID string
	AsOf       time.Time
	Values     []*float64
}

// ComputeRows computes every registry feature as of asOf over rows
// (typically one merchant's stored history) inside db, an open DuckDB, running
// the very query the batch pipeline runs: the rows are staged like CSV lines,
// validated by the same SQL and fed to Query. hasBuyer says whether the
// history carries buyer ids (false makes unique_buyers_90d NULL, as in a file
// without the column). An invalid row fails the call naming its index;
// nothing is computed. It is Online (online_fast.go) on a connection of its
// own; a service computing repeatedly keeps an Online instead.
func ComputeRows(ctx context.Context, db *sql.DB, asOf time.Time, hasBuyer bool, rows []Tx) ([]Row, error) {
	if !asOf.Equal(asOf.UTC().Truncate(24 * time.Hour)) {
		return nil, lend.FieldErrorf("as_of", "must be midnight UTC")
	}
	if len(rows) > MaxOnlineRows {
		return nil, lend.Errorf(lend.ETOOLARGE, "history of %d rows exceeds %d", len(rows), MaxOnlineRows)
	}
	o, err := NewOnline(ctx, db)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.computeAll(ctx, asOf, hasBuyer, rows, false)
}

// scanRows reads result rows shaped merchant_id, as_of, features...
func scanRows(res *sql.Rows) ([]Row, error) {
	n := len(registry)
	var out []Row
	for res.Next() {
		var r Row
		vals := make([]any, n)
		ptrs := make([]any, n+2)
		ptrs[0], ptrs[1] = &r.MerchantID, &r.AsOf
		for i := range vals {
			ptrs[i+2] = &vals[i]
		}
		if err := res.Scan(ptrs...); err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "reading features")
		}
		r.Values = make([]*float64, n)
		for i, v := range vals {
			switch x := v.(type) {
			case nil:
			case float64:
				r.Values[i] = &x
			case int64:
				f := float64(x)
				r.Values[i] = &f
			default:
				return nil, lend.Errorf(lend.EINTERNAL, "feature %s: unexpected type %T", registry[i].Name, v)
			}
		}
		out = append(out, r)
	}
	if err := res.Err(); err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "reading features")
	}
	return out, nil
}

// ReadOutput reads a feature file written by Run (Parquet or CSV) into rows,
// in merchant order. It is how callers and tests load batch features.
func ReadOutput(ctx context.Context, db *sql.DB, path string) ([]Row, error) {
	kind, err := outputKind(path)
	if err != nil {
		return nil, err
	}
	var src string
	switch kind {
	case "parquet":
		src = "read_parquet(" + sqlString(path) + ")"
	case "csv":
		src = "read_csv(" + sqlString(path) + ", header = true, auto_detect = true)"
	default:
		return nil, lend.FieldErrorf("path", "%s: read a DuckDB output with ATTACH; ReadOutput reads .parquet and .csv", path)
	}
	cols := "merchant_id, as_of::TIMESTAMP"
	for _, f := range registry {
		cols += fmt.Sprintf(", CAST(%s AS %s)", sqlIdent(f.Name), f.Type)
	}
	res, err := db.QueryContext(ctx, "SELECT "+cols+" FROM "+src+" ORDER BY merchant_id")
	if err != nil {
		return nil, lend.Errorf(lend.EINVALID, "features: cannot read %s: %s", path, firstLine(err.Error()))
	}
	defer res.Close()
	return scanRows(res)
}
