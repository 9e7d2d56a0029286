package features

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/lendhq/lend"
)

// Defaults of a run.
const (
	// DefaultMaxRejectRate is the share of rejected rows above which a run fails (SPEC §2.1).
	DefaultMaxRejectRate = 0.01
	// DefaultThreads is DuckDB's worker count: the service machine has 2 cores.
	DefaultThreads = 2
	// DefaultMemoryLimit bounds DuckDB's memory; larger states spill to TempDir.
	DefaultMemoryLimit = "8GB"
	// OutputTable is the table written when --out is a DuckDB database.
	OutputTable = "features"
)

// Options configure Run.
type Options struct {
	Paths         []string  // files or globs (CSV, gzipped CSV, Parquet)
	AsOf          time.Time // midnight UTC; only rows with ts < AsOf count
	Out           string    // .parquet, .csv or .duckdb (table "features")
	Rejects       string    // rejects CSV; default Out + ".rejects.csv"; written when there are rejects, removed by a clean run (removeStaleRejects)
	MaxRejectRate float64   // 0..1; DefaultMaxRejectRate when negative
	Threads       int       // DuckDB threads; DefaultThreads when 0
	MemoryLimit   string    // DuckDB memory_limit; DefaultMemoryLimit when ""
	TempDir       string    // DuckDB spill directory; os.TempDir() when ""
	// Currency is the lending currency (ISO 4217; DefaultCurrency when
	// ""): a row naming another is rejected, never summed with it; a row
	// with no currency (empty, or no column) counts as this one.
	Currency string
}

// FileReport counts one input file's rows.
type FileReport struct {
	Path     string `json:"path"`
	Format   string `json:"format"`
	Rows     int64  `json:"rows"`
	Rejected int64  `json:"rejected"`
	Blank    int64  `json:"blank_lines"`
}

// Report says what a run read, rejected and wrote. RowsIn = Accepted + Rejected.
type Report struct {
	AsOf      string       `json:"as_of"`
	Files     []FileReport `json:"files"`
	RowsIn    int64        `json:"rows_in"`
	Accepted  int64        `json:"accepted"`
	Rejected  int64        `json:"rejected"`
	Blank     int64        `json:"blank_lines"`
	HasBuyer  bool         `json:"has_buyer_id"`
	Merchants int64        `json:"merchants"`
	Out       string       `json:"out,omitempty"`
	Rejects   string       `json:"rejects,omitempty"`
}

// RejectRate is Rejected / RowsIn (0 for no rows).
func (r *Report) RejectRate() float64 {
	if r.RowsIn == 0 {
		return 0
	}
	return float64(r.Rejected) / float64(r.RowsIn)
}

var (
	dateRe     = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	memLimitRe = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*[KMGT]i?B$`)
)

// ParseAsOf parses an as-of date (YYYY-MM-DD) to midnight UTC.
func ParseAsOf(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, lend.FieldErrorf("as-of", "required (a date, YYYY-MM-DD)")
	}
	if !dateRe.MatchString(s) {
		return time.Time{}, lend.FieldErrorf("as-of", "%q is not a date YYYY-MM-DD", s)
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, lend.FieldErrorf("as-of", "%q is not a valid date", s)
	}
	if t.Year() < 1970 || t.Year() > 9998 {
		return time.Time{}, lend.FieldErrorf("as-of", "%q is out of range (1970..9998)", s)
	}
	return t, nil
}

// OpenDB opens an in-memory DuckDB configured for the pipeline: no extension
// auto-install/auto-load (no network), UTC session time zone, bounded threads
// and memory, insertion order not preserved (lets aggregates stream).
func OpenDB(threads int, memoryLimit, tempDir string) (*sql.DB, error) {
	if threads <= 0 {
		threads = DefaultThreads
	}
	if memoryLimit == "" {
		memoryLimit = DefaultMemoryLimit
	}
	if !memLimitRe.MatchString(memoryLimit) {
		return nil, lend.FieldErrorf("memory-limit", "%q is not a size like 4GB", memoryLimit)
	}
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	connector, err := duckdb.NewConnector("?autoinstall_known_extensions=false&autoload_known_extensions=false", func(execer driver.ExecerContext) error {
		for _, q := range []string{
			fmt.Sprintf("SET threads = %d", threads),
			"SET memory_limit = " + sqlString(memoryLimit),
			"SET preserve_insertion_order = false",
			"SET TimeZone = 'UTC'",
			"SET temp_directory = " + sqlString(filepath.Join(tempDir, "lend-duckdb")),
		} {
			if _, err := execer.ExecContext(context.Background(), q, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "opening DuckDB")
	}
	return sql.OpenDB(connector), nil
}

// outputKind derives the output format from the file extension.
func outputKind(out string) (string, error) {
	switch strings.ToLower(filepath.Ext(out)) {
	case ".parquet":
		return "parquet", nil
	case ".csv":
		return "csv", nil
	case ".duckdb", ".db":
		return "duckdb", nil
	}
	return "", lend.FieldErrorf("out", "%q: extension must be .parquet, .csv or .duckdb", out)
}

// Run ingests the transaction files, validates every row, writes rejects,
// computes every registry feature as of opts.AsOf and writes one row per
// merchant to opts.Out. The output is written to a temporary file and renamed,
// so a failed run leaves no half-written output.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if opts.AsOf.IsZero() {
		return nil, lend.FieldErrorf("as-of", "required (a date, YYYY-MM-DD)")
	}
	if !opts.AsOf.Equal(opts.AsOf.UTC().Truncate(24 * time.Hour)) {
		return nil, lend.FieldErrorf("as-of", "must be midnight UTC")
	}
	if opts.Out == "" {
		return nil, lend.FieldErrorf("out", "required (.parquet, .csv or .duckdb)")
	}
	outKind, err := outputKind(opts.Out)
	if err != nil {
		return nil, err
	}
	maxRate := opts.MaxRejectRate
	if maxRate < 0 {
		maxRate = DefaultMaxRejectRate
	}
	if maxRate > 1 {
		return nil, lend.FieldErrorf("max-reject-rate", "must be between 0 and 1, got %v", maxRate)
	}
	currency, err := ParseCurrency("currency", opts.Currency)
	if err != nil {
		return nil, err
	}
	inputs, err := resolveInputs(opts.Paths)
	if err != nil {
		return nil, err
	}
	rejects := opts.Rejects
	if rejects == "" {
		rejects = opts.Out + ".rejects.csv"
	}
	if err := checkOutputPaths(inputs, opts.Out, rejects, opts.Rejects == ""); err != nil {
		return nil, err
	}
	db, err := OpenDB(opts.Threads, opts.MemoryLimit, opts.TempDir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	// One connection: temp tables and views live in it.
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "DuckDB connection")
	}
	defer conn.Close()

	rep := &Report{AsOf: opts.AsOf.Format("2006-01-02")}
	rel, err := ingest(ctx, db, conn, inputs, currency, rep)
	if err != nil {
		return nil, err
	}

	// The one scan of the input: validated rows pre-aggregated per merchant
	// and 30-day bucket, plus per-file row and reject totals.
	pre := bind(preSQL(rel, "reason IS NULL", true), opts.AsOf, rep.HasBuyer)
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE pre AS "+pre); err != nil {
		return nil, lend.Errorf(lend.EINVALID, "tx: reading input: %s", firstLine(err.Error()))
	}
	if err := countRows(ctx, conn, "pre", rep); err != nil {
		return nil, err
	}
	if rep.RowsIn == 0 {
		return rep, lend.Errorf(lend.EINVALID, "tx: no transactions in %d file(s) (header only)", len(inputs))
	}
	if rep.Rejected > 0 {
		rep.Rejects = rejects
		if err := writeRejects(ctx, conn, rep.Rejects); err != nil {
			return rep, err
		}
	}
	if rep.RejectRate() > maxRate {
		return rep, lend.Errorf(lend.EUNPROCESSABLE,
			"tx: %d of %d rows rejected (%.2f%%), above --max-reject-rate %.2f%%; see %s",
			rep.Rejected, rep.RowsIn, 100*rep.RejectRate(), 100*maxRate, rep.Rejects)
	}

	q, err := featureQueryFromPre("pre", opts.AsOf, rep.HasBuyer)
	if err != nil {
		return rep, lend.Wrap(lend.EINTERNAL, err, "building feature query")
	}
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE feature_rows AS "+q); err != nil {
		return rep, lend.Wrap(lend.EINTERNAL, err, "computing features")
	}
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM feature_rows").Scan(&rep.Merchants); err != nil {
		return rep, lend.Wrap(lend.EINTERNAL, err, "counting features")
	}
	if err := writeOutput(ctx, conn, outKind, opts.Out); err != nil {
		return rep, err
	}
	rep.Out = opts.Out
	if rep.Rejected == 0 {
		// Only now: a run that fails before its output is in place leaves the
		// earlier output and the earlier rejects as they were, a pair.
		if err := removeStaleRejects(rejects); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// rejectsHeader is the first line writeRejects writes.
const rejectsHeader = "file,line,reason,raw"

// removeStaleRejects removes the rejects file an earlier run left at path,
// so that a clean run's output never sits beside rejects that read as its
// own. A clean run writes no rejects file (Report.Rejects stays empty, as
// before) rather than an empty one: the file exists exactly when the run
// rejected rows. Only a file starting with rejectsHeader is removed: a
// --rejects path naming anything else (an input, the output, a typo) is left
// alone. os.Remove is atomic: there is no half-removed state.
func removeStaleRejects(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return lend.Errorf(lend.EINVALID, "rejects: this run rejected no rows, but %s (from an earlier run?) cannot be read: %v", path, err)
	}
	head := make([]byte, len(rejectsHeader)+2)
	n, _ := io.ReadFull(f, head)
	f.Close()
	if line := string(head[:n]); !strings.HasPrefix(line, rejectsHeader+"\n") && line != rejectsHeader+"\r\n" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return lend.Errorf(lend.EINVALID, "rejects: this run rejected no rows and wrote its output, but cannot remove %s left by an earlier run: %v", path, err)
	}
	return nil
}

// ingest stages CSV files and maps Parquet files, then defines the views
// validated (every row with its reason) and tx (valid rows only). It returns
// the name of the validated relation. A row in a currency other than
// currency is rejected (currencyReason).
func ingest(ctx context.Context, db *sql.DB, conn *sql.Conn, inputs []*inputFile, currency string, rep *Report) (string, error) {
	var csvs, pqs []*inputFile
	for _, in := range inputs {
		if in.Format == formatParquet {
			if err := parquetSchema(ctx, db, in); err != nil {
				return "", err
			}
			pqs = append(pqs, in)
		} else {
			if _, _, err := csvHeader(in); err != nil {
				return "", err
			}
			csvs = append(csvs, in)
		}
	}
	hasBuyer := true
	for _, in := range inputs {
		hasBuyer = hasBuyer && in.HasBuyer
	}
	rep.HasBuyer = hasBuyer
	blank := map[string]int64{}

	var parts []string
	if len(csvs) > 0 {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(stagingDDL, "staging")); err != nil {
			return "", lend.Wrap(lend.EINTERNAL, err, "creating staging table")
		}
		err := conn.Raw(func(dc any) error {
			app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "staging")
			if err != nil {
				return lend.Wrap(lend.EINTERNAL, err, "staging appender")
			}
			for _, in := range csvs {
				n, err := stageCSV(ctx, app, in, currency)
				if err != nil {
					app.Close()
					return err
				}
				blank[in.Path] = n
			}
			if err := app.Close(); err != nil {
				return lend.Wrap(lend.EINTERNAL, err, "staging flush")
			}
			return nil
		})
		if err != nil {
			return "", err
		}
		parts = append(parts, validationSQL("staging", true, kindText, kindText, hasBuyer))
	}
	if len(pqs) > 0 {
		paths := make([]string, len(pqs))
		for i, in := range pqs {
			paths[i] = sqlString(in.Path)
		}
		buyer := "NULL::VARCHAR AS buyer_id"
		if hasBuyer {
			buyer = "buyer_id"
		}
		// The currency check is the struct_reason of a Parquet row (a CSV
		// row's is made in Go, stageCSV): NULL when no file has the column.
		cur := "NULL::VARCHAR AS struct_reason"
		for _, in := range pqs {
			if _, ok := in.colTypes["currency"]; ok {
				cur = currencySQL("CAST(currency AS VARCHAR)", currency) + " AS struct_reason"
				break
			}
		}
		src := fmt.Sprintf(`(SELECT filename AS file, file_row_number + 1 AS line, merchant_id, ts, amount, type, %s, %s
 FROM read_parquet([%s], union_by_name = true, filename = true, file_row_number = true))`, buyer, cur, strings.Join(paths, ", "))
		// Kinds of the unified columns (files may disagree; union_by_name widens).
		var tsType, amtType string
		if err := conn.QueryRowContext(ctx, "SELECT typeof(ts), typeof(amount) FROM "+src+" s LIMIT 1").Scan(&tsType, &amtType); err != nil && err != sql.ErrNoRows {
			return "", lend.Errorf(lend.EINVALID, "tx: reading Parquet: %s", firstLine(err.Error()))
		}
		tsKind, amtKind := typeKind(tsType), typeKind(amtType)
		if tsType == "" { // no rows at all
			tsKind, amtKind = kindTimestamp, kindNumber
		}
		parts = append(parts, validationSQL(src, false, tsKind, amtKind, hasBuyer))
	}
	for _, in := range inputs {
		rep.Files = append(rep.Files, FileReport{Path: in.Path, Format: in.Format.String(), Blank: blank[in.Path]})
		rep.Blank += blank[in.Path]
	}
	validated := "(" + strings.Join(parts, ")\nUNION ALL\n(") + ")"
	if _, err := conn.ExecContext(ctx, "CREATE TEMP VIEW validated AS "+validated); err != nil {
		return "", lend.Wrap(lend.EINTERNAL, err, "creating validation view")
	}
	return "validated", nil
}

// countRows fills the per-file row and reject counts from the per-file
// totals of the stored pre-aggregate.
func countRows(ctx context.Context, conn *sql.Conn, pre string, rep *Report) error {
	rows, err := conn.QueryContext(ctx, "SELECT file, sum(n)::BIGINT, (coalesce(sum(n) FILTER (WHERE NOT ok), 0))::BIGINT FROM "+pre+" WHERE file IS NOT NULL GROUP BY file")
	if err != nil {
		return lend.Errorf(lend.EINVALID, "tx: reading input: %s", firstLine(err.Error()))
	}
	defer rows.Close()
	byFile := map[string][2]int64{}
	for rows.Next() {
		var f string
		var n, r int64
		if err := rows.Scan(&f, &n, &r); err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "counting rows")
		}
		byFile[f] = [2]int64{n, r}
	}
	if err := rows.Err(); err != nil {
		return lend.Errorf(lend.EINVALID, "tx: reading input: %s", firstLine(err.Error()))
	}
	for i := range rep.Files {
		c := byFile[rep.Files[i].Path]
		rep.Files[i].Rows, rep.Files[i].Rejected = c[0], c[1]
		rep.RowsIn += c[0]
		rep.Rejected += c[1]
	}
	rep.Accepted = rep.RowsIn - rep.Rejected
	return nil
}

// writeRejects writes every rejected row (file, line, reason, raw) in file and
// line order.
func writeRejects(ctx context.Context, conn *sql.Conn, path string) error {
	tmp := path + ".tmp"
	if _, err := conn.ExecContext(ctx, "SET preserve_insertion_order = true"); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "rejects")
	}
	defer conn.ExecContext(ctx, "SET preserve_insertion_order = false")
	q := fmt.Sprintf("COPY (SELECT file, line, reason, raw FROM validated WHERE reason IS NOT NULL ORDER BY file, line) TO %s (FORMAT csv, HEADER true)", sqlString(tmp))
	if _, err := conn.ExecContext(ctx, q); err != nil {
		os.Remove(tmp)
		return lend.Errorf(lend.EINVALID, "rejects: cannot write %s: %s", path, firstLine(err.Error()))
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return lend.Errorf(lend.EINVALID, "rejects: %v", err)
	}
	return nil
}

// writeOutput writes feature_rows, sorted by merchant_id, to out.
func writeOutput(ctx context.Context, conn *sql.Conn, kind, out string) error {
	if _, err := conn.ExecContext(ctx, "SET preserve_insertion_order = true"); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "output")
	}
	defer conn.ExecContext(ctx, "SET preserve_insertion_order = false")
	sel := "SELECT * FROM feature_rows ORDER BY merchant_id"
	if kind == "duckdb" {
		// A table in a DuckDB file: replaced in one transaction.
		stmts := []string{
			"ATTACH " + sqlString(out) + " AS outdb",
			"BEGIN",
			"CREATE OR REPLACE TABLE outdb." + OutputTable + " AS " + sel,
			"COMMIT",
			"DETACH outdb",
		}
		for _, s := range stmts {
			if _, err := conn.ExecContext(ctx, s); err != nil {
				conn.ExecContext(ctx, "ROLLBACK")
				conn.ExecContext(ctx, "DETACH DATABASE IF EXISTS outdb")
				return lend.Errorf(lend.EINVALID, "out: cannot write %s: %s", out, firstLine(err.Error()))
			}
		}
		return nil
	}
	tmp := out + ".tmp"
	opt := "FORMAT parquet, COMPRESSION zstd"
	if kind == "csv" {
		opt = "FORMAT csv, HEADER true"
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO %s (%s)", sel, sqlString(tmp), opt)); err != nil {
		os.Remove(tmp)
		return lend.Errorf(lend.EINVALID, "out: cannot write %s: %s", out, firstLine(err.Error()))
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return lend.Errorf(lend.EINVALID, "out: %v", err)
	}
	return nil
}
