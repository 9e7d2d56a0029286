package features

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Text functions and casts of the batch pipeline's validation SQL
// (validationSQL): with them sqleval runs that SQL for the online path as
// DuckDB runs it for files, without a DuckDB query per ingest.
//
// A cast from text is implemented only for the forms the validation lets
// through its regular expressions (tsPattern, amtPattern); any other text
// is refused with an error (errUnsupported), never given a guessed
// answer, so a caller falls back to DuckDB. Inside those forms the results
// are DuckDB's (TestSQLEvalValidationMatchesDuckDB, FuzzValidateEval):
// TIMESTAMP keeps 6 fraction digits and drops the rest (truncates);
// DECIMAL(18,6) rounds half away from zero and is NULL (TRY_CAST) past 12
// integer digits; the year 0000 is 1 BC (proleptic Gregorian).

// errCastInvalid is a text that has a supported form but no value (month
// 13, 31 April, too many digits): TRY_CAST gives NULL, CAST fails.
var errCastInvalid = errors.New("sqleval: could not convert the string")

// errUnsupported wraps refusals at run time: a value sqleval cannot
// evaluate exactly as DuckDB would.
var errUnsupported = errors.New("sqleval: unsupported")

// castText is CAST(v AS to) for a VARCHAR v.
func castText(s, to string) (value, error) {
	switch to {
	case "VARCHAR":
		return value{k: vStr, s: s}, nil
	case "TIMESTAMP":
		us, zoned, err := parseTSText(s)
		if err == nil && zoned {
			err = fmt.Errorf("%w: CAST(%q AS TIMESTAMP) with a zone", errUnsupported, s)
		}
		return value{k: vTS, i: us}, err
	case "TIMESTAMPTZ":
		us, zoned, err := parseTSText(s)
		if err == nil && !zoned {
			// DuckDB reads it in the session's time zone: not ours to guess.
			err = fmt.Errorf("%w: CAST(%q AS TIMESTAMPTZ) without a zone", errUnsupported, s)
		}
		return value{k: vTSTZ, i: us}, err
	case "DECIMAL(18,6)":
		micro, err := parseDecText(s)
		return value{k: vDec, i: micro, scale: 6}, err
	}
	return nullV, fmt.Errorf("%w: CAST(VARCHAR AS %s)", errUnsupported, to)
}

// parseTSText reads YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±hh:mm] as
// microseconds since the epoch (UTC: the offset applied when there is one;
// zoned says whether there is). Another form is errUnsupported; a date that
// does not exist is errCastInvalid.
func parseTSText(s string) (us int64, zoned bool, err error) {
	bad := func() (int64, bool, error) {
		return 0, false, fmt.Errorf("%w: timestamp text %q outside YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}][Z|±hh:mm]", errUnsupported, s)
	}
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return bad()
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			if !isDigit(s[i]) {
				return 0, false
			}
			n = 10*n + int(s[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	h, ok4 := num(11, 13)
	mi, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || h > 23 || mi > 59 || sec > 59 {
		return bad()
	}
	rest := s[19:]
	frac := 0
	if len(rest) > 0 && rest[0] == '.' {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		if j == 1 || j > 10 {
			return bad()
		}
		digits := rest[1:j]
		for k := 0; k < 6; k++ {
			frac *= 10
			if k < len(digits) {
				frac += int(digits[k] - '0')
			}
		}
		rest = rest[j:]
	}
	offsetSec := 0
	switch {
	case rest == "":
	case rest == "Z":
		zoned = true
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := num(len(s)-5, len(s)-3)
		om, ok2 := num(len(s)-2, len(s))
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return bad()
		}
		offsetSec = oh*3600 + om*60
		if rest[0] == '-' {
			offsetSec = -offsetSec
		}
		zoned = true
	default:
		return bad()
	}
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return 0, zoned, errCastInvalid
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	return t.UnixMicro() + int64(frac) - int64(offsetSec)*1_000_000, zoned, nil
}

// daysIn is the length of month mo (1–12) of year y, proleptic Gregorian.
func daysIn(y, mo int) int {
	switch mo {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseDecText reads [+-]?[0-9]+(\.[0-9]+)? as DECIMAL(18,6) micro-units:
// rounded half away from zero at the 6th fraction digit; errCastInvalid
// past 12 integer digits (after rounding). Another form is errUnsupported.
func parseDecText(s string) (int64, error) {
	body := s
	neg := false
	if body != "" && (body[0] == '+' || body[0] == '-') {
		neg = body[0] == '-'
		body = body[1:]
	}
	intPart, frac, hasPoint := strings.Cut(body, ".")
	if intPart == "" || (hasPoint && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("%w: decimal text %q outside [+-]?[0-9]+(.[0-9]+)?", errUnsupported, s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 12 {
		return 0, errCastInvalid
	}
	var micro int64
	for i := 0; i < len(intPart); i++ {
		micro = 10*micro + int64(intPart[i]-'0')
	}
	for k := 0; k < 6; k++ {
		micro *= 10
		if k < len(frac) {
			micro += int64(frac[k] - '0')
		}
	}
	if len(frac) > 6 && frac[6] >= '5' {
		micro++
	}
	if micro > 999_999_999_999_999_999 {
		return 0, errCastInvalid
	}
	if neg {
		micro = -micro
	}
	return micro, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// textCall compiles the text functions of the validation SQL; ok is false
// for any other function. args are compiled; x.args are their expressions
// (a pattern or a zone must be a constant string).
func (b *binder) textCall(x *callExpr, args []cexpr) (f cexpr, ok bool, err error) {
	want := func(n ...int) error {
		for _, m := range n {
			if len(args) == m {
				return nil
			}
		}
		return fmt.Errorf("sqleval: %s() with %d arguments is not supported", x.name, len(args))
	}
	constStr := func(i int) (string, error) {
		if !b.isConst(x.args[i]) {
			return "", fmt.Errorf("sqleval: %s(): argument %d must be a constant string", x.name, i+1)
		}
		v, err := args[i](nil, nil)
		if err != nil || v.k != vStr {
			return "", fmt.Errorf("sqleval: %s(): argument %d must be a constant string", x.name, i+1)
		}
		return v.s, nil
	}
	switch x.name {
	case "regexp_full_match", "regexp_matches":
		if err := want(2); err != nil {
			return nil, true, err
		}
		pat, err := constStr(1)
		if err != nil {
			return nil, true, err
		}
		if x.name == "regexp_full_match" {
			pat = `\A(?:` + pat + `)\z`
		}
		// RE2 syntax in both (DuckDB uses RE2, Go's regexp implements its
		// syntax): a boolean match is the same.
		re, err := regexp.Compile(pat)
		if err != nil {
			return nil, true, fmt.Errorf("sqleval: %s(): %v", x.name, err)
		}
		return strFunc(args[0], func(s string) (value, error) {
			if !utf8.ValidString(s) {
				return nullV, fmt.Errorf("%w: %s() of text that is not UTF-8", errUnsupported, x.name)
			}
			return boolV(re.MatchString(s)), nil
		}), true, nil
	case "trim":
		if err := want(1, 2); err != nil {
			return nil, true, err
		}
		if len(args) == 1 {
			// DuckDB's one-argument trim removes ASCII spaces and Unicode
			// space separators (U+00A0, U+3000, …), not tabs or newlines:
			// exact here for text whose ends, once ASCII spaces are gone,
			// are ASCII; anything else is refused.
			return strFunc(args[0], func(s string) (value, error) {
				t := strings.Trim(s, " ")
				if t != "" && (t[0] >= utf8.RuneSelf || t[len(t)-1] >= utf8.RuneSelf) {
					return nullV, fmt.Errorf("%w: trim() of text with a non-ASCII end", errUnsupported)
				}
				return value{k: vStr, s: t}, nil
			}), true, nil
		}
		s, set := args[0], args[1]
		return func(row, lam []value) (value, error) {
			v, err := s(row, lam)
			if err != nil || v.k == vNull {
				return v, err
			}
			c, err := set(row, lam)
			if err != nil || c.k == vNull {
				return c, err
			}
			if v.k != vStr || c.k != vStr {
				return nullV, fmt.Errorf("sqleval: trim of %s, %s", kindNames[v.k], kindNames[c.k])
			}
			if !utf8.ValidString(v.s) || !utf8.ValidString(c.s) {
				return nullV, fmt.Errorf("%w: trim() of text that is not UTF-8", errUnsupported)
			}
			return value{k: vStr, s: strings.Trim(v.s, c.s)}, nil
		}, true, nil
	case "ascii":
		if err := want(1); err != nil {
			return nil, true, err
		}
		return strFunc(args[0], func(s string) (value, error) {
			if s == "" {
				return intV(0), nil
			}
			r, n := utf8.DecodeRuneInString(s)
			if r == utf8.RuneError && n <= 1 {
				return nullV, fmt.Errorf("%w: ascii() of text that is not UTF-8", errUnsupported)
			}
			return intV(int64(r)), nil
		}), true, nil
	case "chr":
		if err := want(1); err != nil {
			return nil, true, err
		}
		a := args[0]
		return func(row, lam []value) (value, error) {
			v, err := a(row, lam)
			if err != nil || v.k == vNull {
				return v, err
			}
			if v.k != vInt || v.i < 1 || v.i > utf8.MaxRune || !utf8.ValidRune(rune(v.i)) {
				return nullV, fmt.Errorf("%w: chr(%s)", errUnsupported, v.sqlText())
			}
			return value{k: vStr, s: string(rune(v.i))}, nil
		}, true, nil
	case "nullif":
		if err := want(2); err != nil {
			return nil, true, err
		}
		l, r := args[0], args[1]
		return func(row, lam []value) (value, error) {
			a, err := l(row, lam)
			if err != nil || a.k == vNull {
				return a, err
			}
			c, err := r(row, lam)
			if err != nil || c.k == vNull {
				return a, err
			}
			if a.k != c.k {
				return nullV, fmt.Errorf("%w: nullif(%s, %s)", errUnsupported, kindNames[a.k], kindNames[c.k])
			}
			n, err := compare(a, c)
			if err != nil || n == 0 {
				return nullV, err
			}
			return a, nil
		}, true, nil
	case "timezone":
		if err := want(2); err != nil {
			return nil, true, err
		}
		zone, err := constStr(0)
		if err != nil {
			return nil, true, err
		}
		if zone != "UTC" {
			return nil, true, fmt.Errorf("sqleval: timezone(%q, …): only 'UTC' is supported", zone)
		}
		a := args[1]
		return func(row, lam []value) (value, error) {
			v, err := a(row, lam)
			if err != nil || v.k == vNull {
				return v, err
			}
			if v.k != vTSTZ {
				return nullV, fmt.Errorf("%w: timezone('UTC', %s)", errUnsupported, kindNames[v.k])
			}
			return value{k: vTS, i: v.i}, nil
		}, true, nil
	}
	return nil, false, nil
}

// strFunc is a one-argument function of a VARCHAR (NULL in, NULL out).
func strFunc(a cexpr, f func(string) (value, error)) cexpr {
	return func(row, lam []value) (value, error) {
		v, err := a(row, lam)
		if err != nil || v.k == vNull {
			return v, err
		}
		if v.k != vStr {
			return nullV, fmt.Errorf("%w: a text function of %s", errUnsupported, kindNames[v.k])
		}
		return f(v.s)
	}
}

// concat is VARCHAR || VARCHAR (NULL if either is).
func concat(a, c value) (value, error) {
	if a.k == vNull || c.k == vNull {
		return nullV, nil
	}
	if a.k != vStr || c.k != vStr {
		return nullV, fmt.Errorf("%w: %s || %s", errUnsupported, kindNames[a.k], kindNames[c.k])
	}
	return value{k: vStr, s: a.s + c.s}, nil
}
