// Package training builds credit scorecards from any tabular data set with a
// binary target: it reads CSV/TSV/Parquet through DuckDB, bins every usable
// column (fine then coarse classing under a monotonic WoE constraint), selects
// variables by information value and correlation, fits a logistic regression
// on the WoE values with gonum, scales it to integer points, calibrates the
// PD, measures the model and writes the artifact of SPEC §2.4.
//
// Every score training reports is computed by scoring.NewScorer(model).Score,
// so a training-time score and a `lend score` score are the same by construction.
package training

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // the DuckDB database/sql driver

	"github.com/lendhq/lend"
)

// Column kinds.
const (
	KindNumeric     = "numeric"
	KindCategorical = "categorical"
	kindTime        = "time"    // dates and timestamps: usable only as --split-by
	kindIgnored     = "ignored" // nested types DuckDB can read but a scorecard cannot use
)

// Limits on what the reader accepts.
const (
	MaxRows      = 50_000_000 // rows read from one file
	MaxColumns   = 5_000      // columns in one file
	MaxSkipRows  = 100        // leading lines --skip-rows may drop
	MaxTextBytes = 1 << 10    // a categorical level longer than this is cut (labels stay readable)
)

// duckDSN opens an in-memory DuckDB that never tries the network for extensions.
const duckDSN = "?autoinstall_known_extensions=false&autoload_known_extensions=false"

// Column is one column of a loaded table.
type Column struct {
	Name     string
	Kind     string    // KindNumeric, KindCategorical, or internal kinds
	DuckType string    // the type DuckDB sniffed
	Num      []float64 // numeric values; NaN = missing
	Str      []string  // categorical (and time, as ISO text) values; "" = missing
	Percent  bool      // numeric parsed from text such as "83.70%" (the % sign is dropped)
}

// Table is a data set loaded into memory, column by column.
type Table struct {
	Path     string
	Source   string // file base name
	SHA256   string // of the file bytes (Train replaces it with contentSHA256 after canonicalOrder)
	Rows     int
	SkipRows int // leading lines skipped before the header
	Columns  []*Column
}

// Col returns the named column or nil.
func (t *Table) Col(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ReadOptions control Read.
type ReadOptions struct {
	// SkipRows is the number of lines before the header; -1 detects it: when a
	// column of Want is not in the first line's header but is in the second's
	// (the Taiwan default file has two header lines), one line is skipped.
	SkipRows int
	// Want lists columns that must exist (target, id, split column).
	Want []string
	// Kinds forces the kind of named columns (scoring reads a column the way the
	// model was trained on it). A forced numeric column holding text that does
	// not parse as a number is an error naming the row.
	Kinds map[string]string
	// Only, when set, restricts reading to these columns (plus nothing else).
	Only []string
}

// Read loads a CSV/TSV (delimiter sniffed, optionally gzipped) or Parquet file
// through DuckDB. Numeric columns become float64 with NaN for missing; text
// columns that hold only numbers, optionally with a trailing "%", are numeric
// too; other text and booleans are categorical.
func Read(ctx context.Context, path string, opt ReadOptions) (*Table, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "data: cannot open %s: %v", path, err)
	}
	if st.IsDir() {
		return nil, lend.Errorf(lend.EINVALID, "data: %s is a directory, not a file", path)
	}
	sum, err := fileSHA256(path)
	if err != nil {
		return nil, lend.Wrap(lend.EINVALID, err, "data: cannot read %s: %v", path, err)
	}
	if opt.SkipRows > MaxSkipRows {
		return nil, lend.FieldErrorf("skip-rows", "at most %d", MaxSkipRows)
	}
	db, err := sql.Open("duckdb", duckDSN)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "open duckdb: %v", err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "open duckdb: %v", err)
	}
	defer conn.Close()

	skip := opt.SkipRows
	var names, types []string
	if skip >= 0 {
		names, types, err = describe(ctx, conn, path, skip)
		if err != nil {
			return nil, err
		}
	} else {
		skip = 0
		names, types, err = describe(ctx, conn, path, 0)
		if err != nil {
			return nil, err
		}
		if missingWanted(names, opt.Want) != "" && !isParquet(path) {
			if n2, t2, err2 := describe(ctx, conn, path, 1); err2 == nil && missingWanted(n2, opt.Want) == "" {
				skip, names, types = 1, n2, t2
			}
		}
	}
	if w := missingWanted(names, opt.Want); w != "" {
		return nil, lend.Errorf(lend.EINVALID, "data: column %q not found in %s (columns: %s)", w, filepath.Base(path), preview(names, 12))
	}
	if len(names) > MaxColumns {
		return nil, lend.Errorf(lend.ETOOLARGE, "data: %d columns, at most %d", len(names), MaxColumns)
	}
	if err := execView(ctx, conn, path, skip); err != nil {
		return nil, err
	}

	t := &Table{Path: path, Source: filepath.Base(path), SHA256: sum, SkipRows: skip}
	only := map[string]bool{}
	for _, o := range opt.Only {
		only[o] = true
	}
	var cols []*Column
	for i, n := range names {
		if len(only) > 0 && !only[n] {
			continue
		}
		cols = append(cols, &Column{Name: n, DuckType: types[i], Kind: baseKind(types[i])})
	}
	// Text columns: numeric when every non-empty value parses (after dropping a trailing %).
	for _, c := range cols {
		forced := opt.Kinds[c.Name]
		if c.Kind != KindCategorical || !isText(c.DuckType) {
			if forced == KindCategorical && c.Kind == KindNumeric {
				c.Kind = KindCategorical
			}
			continue
		}
		nonNull, parsed, firstBad, err := probeNumericText(ctx, conn, c.Name)
		if err != nil {
			return nil, err
		}
		switch {
		case forced == KindNumeric:
			if parsed < nonNull {
				return nil, lend.Errorf(lend.EINVALID, "data: column %q, data row %d: %q is not a number", c.Name, firstBad.row, firstBad.val)
			}
			c.Kind, c.Percent = KindNumeric, true
		case forced == "" && nonNull > 0 && parsed == nonNull:
			c.Kind, c.Percent = KindNumeric, true
		}
	}
	for _, c := range cols {
		if f := opt.Kinds[c.Name]; f == KindNumeric && c.Kind != KindNumeric {
			return nil, lend.Errorf(lend.EINVALID, "data: column %q has type %s; the model needs a number", c.Name, c.DuckType)
		}
	}
	if err := loadColumns(ctx, conn, t, cols); err != nil {
		return nil, err
	}
	t.Columns = cols
	return t, nil
}

func isParquet(path string) bool {
	return strings.HasSuffix(strings.ToLower(path), ".parquet")
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func sourceSQL(path string, skip int) string {
	if isParquet(path) {
		return "read_parquet(" + sqlString(path) + ")"
	}
	// sample_size=-1: sniff types on the whole file so a late "n/a" cannot break the read.
	return fmt.Sprintf("read_csv(%s, header=true, sample_size=-1, skip=%d)", sqlString(path), skip)
}

func describe(ctx context.Context, conn *sql.Conn, path string, skip int) ([]string, []string, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE SELECT * FROM "+sourceSQL(path, skip))
	if err != nil {
		return nil, nil, lend.Wrap(lend.EINVALID, err, "data: cannot read %s: %s", filepath.Base(path), firstLine(err.Error()))
	}
	defer rows.Close()
	var names, types []string
	for rows.Next() {
		var n, ty string
		var a, b, c, d sql.NullString
		if err := rows.Scan(&n, &ty, &a, &b, &c, &d); err != nil {
			return nil, nil, lend.Wrap(lend.EINTERNAL, err, "describe: %v", err)
		}
		names = append(names, n)
		types = append(types, ty)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, lend.Wrap(lend.EINVALID, err, "data: cannot read %s: %s", filepath.Base(path), firstLine(err.Error()))
	}
	return names, types, nil
}

func execView(ctx context.Context, conn *sql.Conn, path string, skip int) error {
	q := "CREATE TEMP TABLE src AS SELECT * FROM " + sourceSQL(path, skip) + fmt.Sprintf(" LIMIT %d", MaxRows+1)
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return lend.Wrap(lend.EINVALID, err, "data: cannot read %s: %s", filepath.Base(path), firstLine(err.Error()))
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func missingWanted(names, want []string) string {
	for _, w := range want {
		if w != "" && !slices.Contains(names, w) {
			return w
		}
	}
	return ""
}

func preview(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:n], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-n)
}

func isText(duckType string) bool { return duckType == "VARCHAR" }

func baseKind(duckType string) string {
	t := strings.ToUpper(duckType)
	switch {
	case t == "TINYINT", t == "SMALLINT", t == "INTEGER", t == "BIGINT", t == "HUGEINT",
		t == "UTINYINT", t == "USMALLINT", t == "UINTEGER", t == "UBIGINT", t == "UHUGEINT",
		t == "FLOAT", t == "DOUBLE", strings.HasPrefix(t, "DECIMAL"):
		return KindNumeric
	case t == "VARCHAR", t == "BOOLEAN", strings.HasPrefix(t, "ENUM"):
		return KindCategorical
	case strings.HasPrefix(t, "DATE"), strings.HasPrefix(t, "TIMESTAMP"), strings.HasPrefix(t, "TIME"):
		return kindTime
	}
	return kindIgnored
}

// numericTextSQL parses text as a number, dropping surrounding blanks and one
// trailing "%" ("83.70%" is 83.7). Training and scoring use this one expression.
func numericTextSQL(col string) string {
	return fmt.Sprintf("TRY_CAST(rtrim(trim(%s), '%%') AS DOUBLE)", ident(col))
}

type badValue struct {
	row int
	val string
}

func probeNumericText(ctx context.Context, conn *sql.Conn, col string) (nonNull, parsed int, first badValue, err error) {
	c := ident(col)
	q := fmt.Sprintf(`SELECT count(*) FILTER (WHERE trim(%[1]s) <> ''), count(*) FILTER (WHERE trim(%[1]s) <> '' AND %[2]s IS NOT NULL AND isfinite(%[2]s)) FROM src`, c, numericTextSQL(col))
	if err = conn.QueryRowContext(ctx, q).Scan(&nonNull, &parsed); err != nil {
		return 0, 0, first, lend.Wrap(lend.EINVALID, err, "data: column %q: %s", col, firstLine(err.Error()))
	}
	if parsed < nonNull {
		q = fmt.Sprintf(`SELECT rn, v FROM (SELECT row_number() OVER () AS rn, %[1]s AS v FROM src) WHERE trim(v) <> '' AND (%[2]s IS NULL OR NOT isfinite(%[2]s)) ORDER BY rn LIMIT 1`, c, strings.ReplaceAll(numericTextSQL(col), ident(col), "v"))
		_ = conn.QueryRowContext(ctx, q).Scan(&first.row, &first.val)
	}
	return nonNull, parsed, first, nil
}

func selectExpr(c *Column) string {
	switch {
	case c.Kind == KindNumeric && c.Percent:
		return numericTextSQL(c.Name)
	case c.Kind == KindNumeric:
		return "CAST(" + ident(c.Name) + " AS DOUBLE)"
	case c.Kind == kindTime:
		return "strftime(CAST(" + ident(c.Name) + " AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%f')"
	case c.Kind == KindCategorical:
		return "trim(CAST(" + ident(c.Name) + " AS VARCHAR))"
	}
	return "NULL"
}

func loadColumns(ctx context.Context, conn *sql.Conn, t *Table, cols []*Column) error {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM src").Scan(&n); err != nil {
		return lend.Wrap(lend.EINVALID, err, "data: %s", firstLine(err.Error()))
	}
	if n > MaxRows {
		return lend.Errorf(lend.ETOOLARGE, "data: more than %d rows", MaxRows)
	}
	t.Rows = n
	var exprs []string
	for _, c := range cols {
		exprs = append(exprs, selectExpr(c))
		if c.Kind == KindNumeric {
			c.Num = make([]float64, 0, n)
		} else {
			c.Str = make([]string, 0, n)
		}
	}
	if len(cols) == 0 {
		return nil
	}
	rows, err := conn.QueryContext(ctx, "SELECT "+strings.Join(exprs, ", ")+" FROM src")
	if err != nil {
		return lend.Wrap(lend.EINVALID, err, "data: %s", firstLine(err.Error()))
	}
	defer rows.Close()
	dst := make([]any, len(cols))
	nums := make([]sql.NullFloat64, len(cols))
	strs := make([]sql.NullString, len(cols))
	for i, c := range cols {
		if c.Kind == KindNumeric {
			dst[i] = &nums[i]
		} else {
			dst[i] = &strs[i]
		}
	}
	for rows.Next() {
		if err := rows.Scan(dst...); err != nil {
			return lend.Wrap(lend.EINVALID, err, "data row %d: %v", len(cols[0].Num)+len(cols[0].Str)+1, err)
		}
		for i, c := range cols {
			if c.Kind == KindNumeric {
				v := math.NaN()
				if nums[i].Valid && !math.IsInf(nums[i].Float64, 0) {
					v = nums[i].Float64
				}
				c.Num = append(c.Num, v)
			} else {
				s := ""
				if strs[i].Valid {
					s = strs[i].String
					if len(s) > MaxTextBytes {
						s = s[:MaxTextBytes]
					}
				}
				c.Str = append(c.Str, s)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return lend.Wrap(lend.EINVALID, err, "data: %s", firstLine(err.Error()))
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
