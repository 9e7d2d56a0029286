package features

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/lendhq/lend"
)

// Limits of ingestion.
const (
	// MaxInputFiles bounds how many files one run reads (after glob expansion).
	MaxInputFiles = 10000
	// MaxLineBytes bounds one CSV line; a longer line is rejected, not split.
	MaxLineBytes = 1 << 20
	// MaxRawBytes bounds the raw row copied into the rejects file.
	MaxRawBytes = 4096
	// MaxAmount is the largest whole number of major units an amount may
	// have: amounts are DECIMAL(18,6), so every accepted amount is below
	// MaxAmount + 1 (999999999999.999999 is the largest).
	MaxAmount = 999_999_999_999
)

// Required and optional input columns (SPEC §2.1).
var (
	requiredColumns = []string{"merchant_id", "ts", "amount", "type"}
	optionalColumns = []string{"buyer_id", "currency"}
)

// format is an input file format.
type format int

const (
	formatCSV format = iota
	formatCSVGzip
	formatParquet
)

func (f format) String() string {
	return [...]string{"csv", "csv.gz", "parquet"}[f]
}

// inputFile is one resolved input.
type inputFile struct {
	Path     string
	Format   format
	HasBuyer bool
	// Pattern is the --tx glob that matched the file, "" when it was
	// named: an output refused for being an input says which (--out in
	// the globbed directory, found again as an input on the next run).
	Pattern string
	// colTypes maps a Parquet column (lower-cased name) to its DuckDB type.
	colTypes map[string]string
	colNames map[string]string // lower-cased → name as in the file
}

// resolveInputs expands globs and checks that every path exists, is a regular
// non-empty file, and is CSV, gzipped CSV or Parquet.
func resolveInputs(paths []string) ([]*inputFile, error) {
	if len(paths) == 0 {
		return nil, lend.FieldErrorf("tx", "at least one transaction file is required")
	}
	seen := map[string]bool{}
	var out []*inputFile
	for _, p := range paths {
		var matches []string
		glob := strings.ContainsAny(p, "*?[")
		if glob {
			m, err := filepath.Glob(p)
			if err != nil {
				return nil, lend.FieldErrorf("tx", "bad glob %q: %v", p, err)
			}
			if len(m) == 0 {
				return nil, lend.Errorf(lend.ENOTFOUND, "tx: no file matches %q", p)
			}
			sort.Strings(m)
			matches = m
		} else {
			matches = []string{p}
		}
		for _, m := range matches {
			// One file under two spellings ("d/x.csv", "./d/x.csv", an
			// absolute path, a glob) is read once.
			key, err := filepath.Abs(m)
			if err != nil {
				key = filepath.Clean(m)
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			st, err := os.Stat(m)
			if errors.Is(err, os.ErrNotExist) {
				return nil, lend.Errorf(lend.ENOTFOUND, "tx: %s: no such file", m)
			}
			if err != nil {
				return nil, lend.Errorf(lend.EINVALID, "tx: %s: %v", m, err)
			}
			if !st.Mode().IsRegular() {
				return nil, lend.Errorf(lend.EINVALID, "tx: %s: not a regular file", m)
			}
			if st.Size() == 0 {
				return nil, lend.Errorf(lend.EINVALID, "tx: %s: empty file (no header, no rows)", m)
			}
			f, err := detectFormat(m)
			if err != nil {
				return nil, err
			}
			in := &inputFile{Path: m, Format: f}
			if glob {
				in.Pattern = p
			}
			out = append(out, in)
			if len(out) > MaxInputFiles {
				return nil, lend.Errorf(lend.ETOOLARGE, "tx: more than %d input files", MaxInputFiles)
			}
		}
	}
	return out, nil
}

// detectFormat reads the magic bytes: Parquet files start with PAR1, gzip with 1f 8b.
func detectFormat(path string) (format, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, lend.Errorf(lend.EINVALID, "tx: %s: %v", path, err)
	}
	defer f.Close()
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	switch {
	case n == 4 && string(magic[:]) == "PAR1":
		return formatParquet, nil
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return formatCSVGzip, nil
	}
	return formatCSV, nil
}

// openText opens a CSV file, decompressing gzip.
func openText(in *inputFile) (io.ReadCloser, error) {
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, lend.Errorf(lend.EINVALID, "tx: %s: %v", in.Path, err)
	}
	if in.Format != formatCSVGzip {
		return f, nil
	}
	gz, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, lend.Errorf(lend.EINVALID, "tx: %s: not a valid gzip file: %v", in.Path, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{gz, f}, nil
}

// lineReader yields physical lines with their 1-based line numbers. A line
// longer than MaxLineBytes is returned truncated with tooLong set; the rest of
// it is consumed so the next line number stays right.
type lineReader struct {
	br   *bufio.Reader
	line int64
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its line terminator (\n or \r\n).
func (lr *lineReader) next() (text []byte, lineNo int64, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, e := lr.br.ReadSlice('\n')
		n := len(chunk) // the line's bytes in chunk, terminator excluded
		if e == nil {
			n--
			if n > 0 && chunk[n-1] == '\r' {
				n--
			}
		}
		if len(buf)+n > MaxLineBytes {
			if !tooLong {
				room := MaxLineBytes - len(buf)
				if room > 0 && room <= len(chunk) {
					buf = append(buf, chunk[:room]...)
				}
			}
			tooLong = true
		} else {
			buf = append(buf, chunk...)
		}
		if e == bufio.ErrBufferFull {
			continue
		}
		if e == io.EOF && len(buf) == 0 && !tooLong {
			return nil, 0, false, io.EOF
		}
		if e != nil && e != io.EOF {
			return nil, 0, false, e
		}
		break
	}
	lr.line++
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	return buf, lr.line, tooLong, nil
}

// splitCSVLine splits one line by RFC 4180 rules (comma separator, double
// quotes, "" inside quotes). A field never spans lines: transaction fields hold
// no newlines, and a quote left open at the end of the line rejects that line
// alone, so one bad quote cannot swallow the rest of the file.
func splitCSVLine(line []byte) ([]string, error) {
	var fields []string
	i := 0
	for {
		if i < len(line) && line[i] == '"' {
			var b strings.Builder
			i++
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					closed = true
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, errors.New("unterminated quoted field")
			}
			fields = append(fields, b.String())
			if i == len(line) {
				return fields, nil
			}
			if line[i] != ',' {
				return nil, fmt.Errorf("unexpected character %q after closing quote", line[i])
			}
			i++
			continue
		}
		j := bytes.IndexByte(line[i:], ',')
		var f []byte
		if j < 0 {
			f = line[i:]
		} else {
			f = line[i : i+j]
		}
		if bytes.IndexByte(f, '"') >= 0 {
			return nil, errors.New("quote inside an unquoted field")
		}
		fields = append(fields, string(f))
		if j < 0 {
			return fields, nil
		}
		i += j + 1
	}
}

// headerColumns maps lower-cased, trimmed column names to their index.
func headerColumns(names []string) map[string]int {
	idx := map[string]int{}
	for i, n := range names {
		n = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(n, "\ufeff")))
		if _, dup := idx[n]; !dup {
			idx[n] = i
		}
	}
	return idx
}

// missingColumns lists the required columns absent from idx.
func missingColumns(has func(string) bool) []string {
	var miss []string
	for _, c := range requiredColumns {
		if !has(c) {
			miss = append(miss, c)
		}
	}
	return miss
}

func notTransactionFile(path string, miss []string) error {
	return lend.Errorf(lend.EINVALID, "tx: %s is not a transaction file: missing column(s) %s (need %s; optional %s)",
		path, strings.Join(miss, ", "), strings.Join(requiredColumns, ", "), strings.Join(optionalColumns, ", "))
}

// csvHeader reads and checks the header of a CSV file.
func csvHeader(in *inputFile) (map[string]int, int, error) {
	rc, err := openText(in)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	lr := newLineReader(rc)
	text, _, tooLong, err := lr.next()
	if err == io.EOF {
		return nil, 0, lend.Errorf(lend.EINVALID, "tx: %s: empty file (no header, no rows)", in.Path)
	}
	if err != nil {
		return nil, 0, lend.Errorf(lend.EINVALID, "tx: %s: %v", in.Path, err)
	}
	if tooLong {
		return nil, 0, lend.Errorf(lend.EINVALID, "tx: %s: header longer than %d bytes", in.Path, MaxLineBytes)
	}
	// A UTF-8 byte order mark (Excel's "CSV UTF-8") goes before the
	// split: left in, it stands before an opening quote, which then reads
	// as a quote inside an unquoted field.
	names, err := splitCSVLine(bytes.TrimPrefix(text, []byte("\ufeff")))
	if err != nil {
		return nil, 0, lend.Errorf(lend.EINVALID, "tx: %s line 1 (header): %v", in.Path, err)
	}
	idx := headerColumns(names)
	if miss := missingColumns(func(c string) bool { _, ok := idx[c]; return ok }); len(miss) > 0 {
		return nil, 0, notTransactionFile(in.Path, miss)
	}
	_, in.HasBuyer = idx["buyer_id"]
	return idx, len(names), nil
}

// utf8Columns are the text columns checked for UTF-8 before staging, in the
// order their reasons take precedence: the required ones, then buyer_id.
var utf8Columns = [...]string{"merchant_id", "ts", "amount", "type", "buyer_id"}

// notUTF8Reason is the reject reason of a row whose text (in utf8Columns
// order) is not all valid UTF-8, "" when it all is. The check must run
// before DuckDB's appender, which stores such text as NULL: a required field
// would then read as missing and a buyer_id as no buyer, so the sale would
// count with its buyer silently lost. buyer_id is checked only when the
// input has the column (hasBuyer); empty text is valid. The batch path
// (stageCSV) and the online path (Online.stage, goSources.set) share it, so
// both give the same reason for the same row.
func notUTF8Reason(text *[len(utf8Columns)]string, hasBuyer bool) string {
	n := len(text)
	if !hasBuyer {
		n--
	}
	for i, s := range text[:n] {
		if !utf8.ValidString(s) {
			return utf8Columns[i] + ": not valid UTF-8"
		}
	}
	return ""
}

// stagingDDL is the table CSV rows (and online rows) are staged in: text as
// read, plus where it came from. Validation happens in SQL (validatedSQL), the
// same for every path.
const stagingDDL = `CREATE TABLE %s (
	file VARCHAR, line BIGINT, merchant_id VARCHAR, ts VARCHAR, amount VARCHAR,
	type VARCHAR, buyer_id VARCHAR, raw VARCHAR, struct_reason VARCHAR)`

// stageCSV reads one CSV file line by line into the staging table through the
// appender. Every physical line after the header becomes exactly one staged
// row (blank lines excepted, which are counted), so nothing is lost. A row
// in a currency other than currency is staged with that reason
// (currencyReason).
func stageCSV(ctx context.Context, app *duckdb.Appender, in *inputFile, currency string) (blank int64, err error) {
	idx, nCols, err := csvHeader(in)
	if err != nil {
		return 0, err
	}
	rc, err := openText(in)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	lr := newLineReader(rc)
	if _, _, _, err := lr.next(); err != nil { // header, checked above
		return 0, lend.Errorf(lend.EINVALID, "tx: %s: %v", in.Path, err)
	}
	col := func(fields []string, name string) driver.Value {
		i, ok := idx[name]
		if !ok {
			return nil
		}
		return fields[i]
	}
	for {
		if lr.line%65536 == 0 && ctx.Err() != nil {
			return blank, ctx.Err()
		}
		text, lineNo, tooLong, err := lr.next()
		if err == io.EOF {
			return blank, nil
		}
		if err != nil {
			return blank, lend.Errorf(lend.EINVALID, "tx: %s line %d: %v", in.Path, lr.line+1, err)
		}
		if len(text) == 0 && !tooLong {
			blank++
			continue
		}
		// DuckDB's appender stores text that is not UTF-8 as NULL: the raw
		// copy is made valid (and cut on a character boundary) so that the
		// rejects file keeps it, and a field that is not UTF-8 is rejected
		// for that (notUTF8Reason), not reported as missing, nor kept as no
		// buyer.
		valid := utf8.Valid(text)
		raw := string(text)
		if !valid {
			raw = strings.ToValidUTF8(raw, "\uFFFD")
		}
		if len(raw) > MaxRawBytes {
			n := MaxRawBytes
			for n > 0 && !utf8.RuneStart(raw[n]) {
				n--
			}
			raw = raw[:n]
		}
		var reason string
		var fields []string
		if tooLong {
			reason = fmt.Sprintf("line longer than %d bytes", MaxLineBytes)
		} else if fields, err = splitCSVLine(text); err != nil {
			reason = "malformed CSV: " + err.Error()
		} else if len(fields) != nCols {
			reason = fmt.Sprintf("malformed CSV: expected %d fields, found %d", nCols, len(fields))
		} else if !valid {
			var text [len(utf8Columns)]string
			for i, c := range utf8Columns {
				if j, ok := idx[c]; ok {
					text[i] = fields[j]
				}
			}
			reason = notUTF8Reason(&text, in.HasBuyer)
		}
		if reason != "" {
			err = app.AppendRow(in.Path, lineNo, nil, nil, nil, nil, nil, raw, reason)
		} else {
			// Only now are there nCols fields: a short or malformed line
			// has no currency field to read (it has its reason already).
			var curReason driver.Value
			if c, ok := col(fields, "currency").(string); ok {
				curReason = currencyValue(c, currency)
			}
			err = app.AppendRow(in.Path, lineNo, col(fields, "merchant_id"), col(fields, "ts"), col(fields, "amount"),
				col(fields, "type"), col(fields, "buyer_id"), raw, curReason)
		}
		if err != nil {
			return blank, lend.Wrap(lend.EINTERNAL, err, "staging %s line %d", in.Path, lineNo)
		}
	}
}

// parquetSchema reads the column names and types of a Parquet file.
func parquetSchema(ctx context.Context, db *sql.DB, in *inputFile) error {
	rows, err := db.QueryContext(ctx, "DESCRIBE SELECT * FROM read_parquet("+sqlString(in.Path)+")")
	if err != nil {
		return lend.Errorf(lend.EINVALID, "tx: %s: not a readable Parquet file: %s", in.Path, firstLine(err.Error()))
	}
	defer rows.Close()
	in.colTypes = map[string]string{}
	in.colNames = map[string]string{}
	cols, _ := rows.Columns()
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return lend.Wrap(lend.EINTERNAL, err, "reading schema of %s", in.Path)
		}
		name := fmt.Sprint(vals[0])
		key := strings.ToLower(strings.TrimSpace(name))
		if _, dup := in.colTypes[key]; !dup {
			in.colTypes[key] = fmt.Sprint(vals[1])
			in.colNames[key] = name
		}
	}
	if err := rows.Err(); err != nil {
		return lend.Errorf(lend.EINVALID, "tx: %s: not a readable Parquet file: %s", in.Path, firstLine(err.Error()))
	}
	if miss := missingColumns(func(c string) bool { _, ok := in.colTypes[c]; return ok }); len(miss) > 0 {
		return notTransactionFile(in.Path, miss)
	}
	_, in.HasBuyer = in.colTypes["buyer_id"]
	if k := typeKind(in.colTypes["ts"]); k != kindText && k != kindTimestamp && k != kindTimestampTZ {
		return lend.Errorf(lend.EINVALID, "tx: %s: column ts has type %s; want a timestamp or text", in.Path, in.colTypes["ts"])
	}
	if k := typeKind(in.colTypes["amount"]); k != kindText && k != kindNumber {
		return lend.Errorf(lend.EINVALID, "tx: %s: column amount has type %s; want a number or text", in.Path, in.colTypes["amount"])
	}
	return nil
}

type kind int

const (
	kindOther kind = iota
	kindText
	kindTimestamp
	kindTimestampTZ
	kindNumber
)

func typeKind(t string) kind {
	t = strings.ToUpper(t)
	switch {
	case t == "VARCHAR" || strings.HasPrefix(t, "VARCHAR"):
		return kindText
	case t == "TIMESTAMP WITH TIME ZONE":
		return kindTimestampTZ
	case strings.HasPrefix(t, "TIMESTAMP"):
		return kindTimestamp
	case t == "DOUBLE" || t == "FLOAT" || strings.HasPrefix(t, "DECIMAL") || strings.HasSuffix(t, "INT") ||
		t == "BIGINT" || t == "INTEGER" || t == "SMALLINT" || t == "TINYINT" || t == "HUGEINT":
		return kindNumber
	}
	return kindOther
}

// Timestamp text accepted (SPEC §2.1): RFC 3339 or "YYYY-MM-DD HH:MM:SS[.fff]",
// UTC when no zone is given. The zone, when present, is Z or ±hh:mm.
const (
	tsPattern   = `[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?`
	zonePattern = `(Z|[+-][0-9]{2}:[0-9]{2})$`
	amtPattern  = `[+-]?[0-9]+(\.[0-9]+)?`
)

// tsTextSQL parses timestamp text to a UTC TIMESTAMP, NULL when invalid.
func tsTextSQL(c string) string {
	return fmt.Sprintf(`(CASE WHEN NOT regexp_full_match(%[1]s, '%[2]s') THEN NULL
 WHEN regexp_matches(%[1]s, '%[3]s') THEN timezone('UTC', TRY_CAST(%[1]s AS TIMESTAMPTZ))
 ELSE TRY_CAST(%[1]s AS TIMESTAMP) END)`, c, tsPattern, zonePattern)
}

// validationSQL returns the SELECT producing (file, line, merchant_id, ts,
// amount, type, buyer_id, reason, raw) over src, a relation with columns file,
// line, merchant_id, ts, amount, type, buyer_id (+ raw and struct_reason when
// staged; struct_reason, a reason found before SQL, NULL when none, always).
// tsKind and amtKind are the kinds of src's ts and amount columns.
// reason is NULL for a valid row and names the first problem otherwise.
//
// The whitespace-only merchant_id check trims only ids whose first character
// is a control character or space (ascii <= 32; 0 for the empty string):
// trimming every id cost more than reading the file (3 s per 10M rows).
func validationSQL(src string, staged bool, tsKind, amtKind kind, hasBuyer bool) string {
	var tsExpr, amtExpr, amtReason string
	tsMissing := "ts_in IS NULL"
	switch tsKind {
	case kindText:
		tsExpr = tsTextSQL("s.ts")
		tsMissing = "ts_in IS NULL OR trim(ts_in) = ''"
	case kindTimestampTZ:
		tsExpr = "timezone('UTC', s.ts)"
	default:
		tsExpr = "CAST(s.ts AS TIMESTAMP)"
	}
	if amtKind == kindText {
		amtExpr = fmt.Sprintf("(CASE WHEN regexp_full_match(s.amount, '%s') THEN TRY_CAST(s.amount AS DECIMAL(18,6)) END)", amtPattern)
		amtReason = fmt.Sprintf(`WHEN s.amount IS NULL OR trim(s.amount) = '' THEN 'amount: missing'
 WHEN NOT regexp_full_match(s.amount, '%s') THEN 'amount: not a decimal number'`, amtPattern)
	} else {
		amtExpr = "(CASE WHEN isfinite(s.amount::DOUBLE) THEN TRY_CAST(s.amount AS DECIMAL(18,6)) END)"
		amtReason = `WHEN s.amount IS NULL THEN 'amount: missing'
 WHEN NOT isfinite(s.amount::DOUBLE) THEN 'amount: not a finite number'`
	}
	buyer := "NULL::VARCHAR"
	if hasBuyer {
		buyer = "NULLIF(CAST(s.buyer_id AS VARCHAR), '')"
	}
	structReason, raw := "s.struct_reason", "concat_ws(',', CAST(s.merchant_id AS VARCHAR), CAST(s.ts AS VARCHAR), CAST(s.amount AS VARCHAR), CAST(s.type AS VARCHAR))"
	if staged {
		raw = "s.raw"
	}
	return fmt.Sprintf(`SELECT file, line, merchant_id, p_ts AS ts, p_amount AS amount, type, buyer_id,
 CASE WHEN struct_reason IS NOT NULL THEN struct_reason
 WHEN merchant_id IS NULL OR (ascii(merchant_id) <= 32 AND trim(merchant_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '') THEN 'merchant_id: empty'
 WHEN %[9]s THEN 'ts: missing'
 WHEN p_ts IS NULL THEN 'ts: not RFC 3339 or YYYY-MM-DD HH:MM:SS[.fff]'
 %[3]s
 WHEN p_amount IS NULL THEN 'amount: exceeds %[4]d.999999'
 WHEN p_amount <= 0 THEN 'amount: must be > 0'
 WHEN type IS NULL OR type NOT IN ('sale', 'refund', 'chargeback') THEN 'type: must be sale, refund or chargeback'
 END AS reason,
 raw
FROM (SELECT s.file, s.line, CAST(s.merchant_id AS VARCHAR) AS merchant_id, CAST(s.type AS VARCHAR) AS type,
  %[1]s AS buyer_id, %[2]s AS struct_reason, s.ts AS ts_in, s.amount,
  %[7]s AS p_ts, %[8]s AS p_amount, %[5]s AS raw
 FROM %[6]s s) s`,
		buyer, structReason, strings.ReplaceAll(amtReason, "s.amount", "amount"), int64(MaxAmount), raw, src, tsExpr, amtExpr, tsMissing)
}

// sqlString quotes s as a SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// sqlIdent quotes s as a SQL identifier.
func sqlIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
