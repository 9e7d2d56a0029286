package features

import (
	"database/sql/driver"
	"os"
	"path/filepath"
	"strings"

	"github.com/lendhq/lend"
)

// DefaultCurrency is the lending currency when none is configured: the
// default policy's (docs/POLICY.md). Amounts in another currency are never
// summed with it (SPEC §2.1: one currency per merchant).
const DefaultCurrency = "USD"

// currencySpace is what a currency field is trimmed of, in Go and in SQL
// alike (DuckDB's trim takes the same characters), so CSV and Parquet rows
// agree.
const currencySpace = " \t\n\v\f\r"

// isAlpha3 reports whether s is three ASCII letters.
func isAlpha3(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		c := s[i] | 0x20 // lower-case an ASCII letter
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// ParseCurrency checks a configured lending currency (three ASCII letters,
// any case, surrounding space ignored) and returns it upper-cased; "" is
// DefaultCurrency. field names the option in the error.
func ParseCurrency(field, s string) (string, error) {
	c := strings.Trim(s, currencySpace)
	if c == "" {
		return DefaultCurrency, nil
	}
	if !isAlpha3(c) {
		return "", lend.FieldErrorf(field, "%q is not an ISO 4217 code (three letters, e.g. USD)", s)
	}
	return strings.ToUpper(c), nil
}

// currencyReason is the reject reason of a row whose currency field (the
// text as read, "" when the input has no such column) names a currency other
// than want (upper-case), "" when it is want or empty: an empty field is the
// configured currency (SPEC §2.1, "default from config"). The batch path
// (stageCSV, and currencySQL for Parquet) and the online path (Online.stage,
// goSources.set, validateEval) share it, so both give the same reason.
func currencyReason(text, want string) string {
	c := strings.Trim(text, currencySpace)
	if c == "" {
		return ""
	}
	if !isAlpha3(c) {
		return "currency: not an ISO 4217 code"
	}
	if c = strings.ToUpper(c); c != want {
		return "currency: " + c + " is not the lending currency " + want
	}
	return ""
}

// currencyValue is currencyReason as a staged struct_reason: nil (SQL
// NULL) when the row is in want.
func currencyValue(text, want string) driver.Value {
	if r := currencyReason(text, want); r != "" {
		return r
	}
	return nil
}

// currencySQL is currencyReason in SQL over col (VARCHAR, may be NULL), for
// Parquet input, which is validated in DuckDB without staging.
func currencySQL(col, want string) string {
	t := "trim(" + col + ", " + sqlString(currencySpace) + ")"
	return "(CASE WHEN " + col + " IS NULL OR " + t + " = '' THEN NULL" +
		" WHEN NOT regexp_full_match(" + t + ", '[A-Za-z]{3}') THEN 'currency: not an ISO 4217 code'" +
		" WHEN upper(" + t + ") <> " + sqlString(want) + " THEN 'currency: ' || upper(" + t + ") || ' is not the lending currency " + want + "'" +
		" END)"
}

// checkOutputPaths refuses a run whose --out or --rejects is one of its
// input files, or whose --rejects is its --out: the run would overwrite the
// data it reads (an operator typing --out tx.csv for the input tx.csv). It
// runs before anything is written. Paths are compared cleaned and absolute,
// and with os.SameFile when both exist, which catches symlinks and hard
// links. defaultRejects says rejects is the default (out + ".rejects.csv"),
// which the operator never typed, so the error says where it comes from.
func checkOutputPaths(inputs []*inputFile, out, rejects string, defaultRejects bool) error {
	type named struct{ flag, path string }
	outs := []named{{"out", out}, {"rejects", rejects}}
	for _, o := range outs {
		for _, in := range inputs {
			if samePath(o.path, in.Path) {
				return outputIsInput(o.flag, o.path, in, o.flag == "rejects" && defaultRejects)
			}
		}
	}
	if samePath(out, rejects) {
		return lend.FieldErrorf("rejects", "%s is the --out file %s: the rejects and the features need two files", rejects, out)
	}
	return nil
}

// outputIsInput is the error of an output (flag, path) that is the input
// in. A file matched by a --tx glob is most often an earlier run's output
// written beside its inputs (--tx 'data/*.csv' --out data/features.csv, run
// twice): it is still refused, not skipped, since a mistyped --out naming
// real transactions must not be overwritten; the error names the pattern
// and the way out.
func outputIsInput(flag, path string, in *inputFile, dflt bool) error {
	what := path
	if dflt {
		what += " (the default rejects file, --out + .rejects.csv)"
	}
	if in.Pattern == "" {
		return lend.FieldErrorf(flag, "%s is the input file %s (--tx): refusing to overwrite an input", what, in.Path)
	}
	return lend.FieldErrorf(flag, "%s is the input file %s (matched by --tx %q: an earlier run's output?): refusing to overwrite an input; "+
		"narrow the pattern, or move the file away and give --%s a path the pattern does not match", what, in.Path, in.Pattern, flag)
}

// samePath reports whether a and b name the same file.
func samePath(a, b string) bool {
	if absClean(a) == absClean(b) {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA != nil || errB != nil {
		return false // a path that does not exist yet is no link to the other
	}
	return os.SameFile(sa, sb)
}

// absClean is p absolute and cleaned (p cleaned when there is no working
// directory).
func absClean(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a // Abs cleans
	}
	return filepath.Clean(p)
}
