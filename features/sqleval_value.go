package features

// Values of sqleval and their DuckDB semantics: NULL propagation, exact
// DECIMAL (DECIMAL(18, s) as int64 unscaled with a scale; DECIMAL(38, s),
// the type of a DECIMAL sum, as 128-bit), BIGINT with overflow refused,
// DOUBLE, and the conversions between them as DuckDB performs them (checked
// against DuckDB itself by TestSQLEvalSemantics and TestSQLEvalWideToDouble).

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

type vkind uint8

const (
	vNull  vkind = iota
	vBool        // i: 0 or 1
	vInt         // BIGINT (and the narrower integer types DuckDB infers)
	vUint        // UBIGINT, bits in i
	vDec         // DECIMAL(18, s): unscaled i, scale
	vDecW        // DECIMAL(38, s), a sum's type: unscaled 128-bit (hi, uint64(i)), scale
	vFloat       // DOUBLE
	vStr         // VARCHAR
	vTS          // TIMESTAMP: microseconds since the epoch
	vDate        // DATE: days since the epoch
	vList        // LIST
	vTSTZ        // TIMESTAMP WITH TIME ZONE: microseconds since the epoch (only timezone('UTC', x) reads it)
)

var kindNames = [...]string{"NULL", "BOOLEAN", "BIGINT", "UBIGINT", "DECIMAL", "DECIMAL(38)", "DOUBLE", "VARCHAR", "TIMESTAMP", "DATE", "LIST", "TIMESTAMPTZ"}

// value is one SQL value. It is kept to seven machine words (a list is
// behind a pointer) so that (value, error), what every compiled expression
// returns, is passed in registers rather than through memory.
type value struct {
	k     vkind
	scale uint8
	i     int64 // see vkind; a DOUBLE's bits (fl)
	hi    int64 // vDecW: the high 64 bits of the unscaled value
	s     string
	l     *[]value // vList: the elements (list())
}

// listOf is the LIST value of elements l.
func listOf(l []value) value { return value{k: vList, l: &l} }

// list is a LIST value's elements (nil for any other value).
func (v value) list() []value {
	if v.l == nil {
		return nil
	}
	return *v.l
}

var (
	nullV  = value{}
	trueV  = value{k: vBool, i: 1}
	falseV = value{k: vBool}
)

func intV(i int64) value     { return value{k: vInt, i: i} }
func floatV(f float64) value { return value{k: vFloat, i: int64(math.Float64bits(f))} }

// fl is a DOUBLE value (its bits are kept in i).
func (v value) fl() float64 { return math.Float64frombits(uint64(v.i)) }
func boolV(b bool) value {
	if b {
		return trueV
	}
	return falseV
}

func (v value) isNull() bool { return v.k == vNull }

// errOverflow is returned where DuckDB would compute in a wider type than
// the evaluator carries (or would itself raise an overflow error).
var errOverflow = errors.New("sqleval: integer or decimal overflow")

var pow10 = [...]int64{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000, 1000000000000000,
	10000000000000000, 100000000000000000, 1000000000000000000}

var pow10f = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// parseNumber reads an integer literal (INTEGER/BIGINT in DuckDB) or a
// decimal literal such as 2.0 (DECIMAL(p, s) with s the digits after the
// point).
func parseNumber(s string) (value, error) {
	intPart, frac, isDec := strings.Cut(s, ".")
	if !isDec {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nullV, fmt.Errorf("integer literal %s out of range", s)
		}
		return intV(n), nil
	}
	if len(frac) > 18 {
		return nullV, fmt.Errorf("decimal literal %s has more than 18 digits after the point", s)
	}
	n, err := strconv.ParseInt(intPart+frac, 10, 64)
	if err != nil {
		return nullV, fmt.Errorf("decimal literal %s is wider than 18 digits", s)
	}
	return value{k: vDec, i: n, scale: uint8(len(frac))}, nil
}

// parseTimestampLit reads TIMESTAMP 'YYYY-MM-DD[ HH:MM:SS]' (the form
// asOfLiteral writes).
func parseTimestampLit(s string) (value, error) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return value{k: vTS, i: t.UnixMicro()}, nil
		}
	}
	return nullV, fmt.Errorf("TIMESTAMP %q is not YYYY-MM-DD[ HH:MM:SS]", s)
}

// sqlText renders a literal value back as SQL (for plan keys and messages).
func (v value) sqlText() string {
	switch v.k {
	case vNull:
		return "NULL"
	case vBool:
		if v.i != 0 {
			return "TRUE"
		}
		return "FALSE"
	case vInt:
		return strconv.FormatInt(v.i, 10)
	case vUint:
		return strconv.FormatUint(uint64(v.i), 10) + "::UBIGINT"
	case vDec:
		return decString(v.i, v.scale)
	case vDecW:
		return wideString(v.wide(), v.scale)
	case vFloat:
		return strconv.FormatFloat(v.fl(), 'g', -1, 64) + "::DOUBLE"
	case vStr:
		return "'" + strings.ReplaceAll(v.s, "'", "''") + "'"
	case vTS:
		return "TIMESTAMP '" + time.UnixMicro(v.i).UTC().Format("2006-01-02 15:04:05.999999") + "'"
	case vDate:
		return "DATE '" + time.Unix(v.i*86400, 0).UTC().Format("2006-01-02") + "'"
	}
	return "<list>"
}

func decString(i int64, scale uint8) string {
	neg := i < 0
	u := uint64(i)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if scale > 0 {
		for len(s) <= int(scale) {
			s = "0" + s
		}
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// decToFloat is DuckDB's DECIMAL → DOUBLE cast: unscaled / 10^scale when
// the unscaled value is exact in a double, else integer part plus fraction.
func decToFloat(i int64, scale uint8) float64 {
	if scale == 0 || (i <= 1<<53 && i >= -(1<<53)) {
		return float64(i) / pow10f[scale]
	}
	p := pow10[scale]
	return float64(i/p) + float64(i%p)/pow10f[scale]
}

// toFloat converts a numeric value to DOUBLE as DuckDB's implicit cast does.
func toFloat(v value) (float64, error) {
	switch v.k {
	case vFloat:
		return v.fl(), nil
	case vInt:
		return float64(v.i), nil
	case vUint:
		return float64(uint64(v.i)), nil
	case vDec:
		return decToFloat(v.i, v.scale), nil
	case vDecW:
		return wideToFloat(v.wide(), v.scale), nil
	}
	return 0, fmt.Errorf("sqleval: %s is not a number", kindNames[v.k])
}

func isNumeric(k vkind) bool {
	return k == vInt || k == vUint || k == vDec || k == vDecW || k == vFloat
}

// rescale multiplies a DECIMAL's unscaled value up to scale to.
func rescale(i int64, from, to uint8) (int64, error) {
	if to == from {
		return i, nil
	}
	if to < from || to > 18 {
		return 0, errOverflow
	}
	return mulInt(i, pow10[to-from])
}

func addInt(a, b int64) (int64, error) {
	s := a + b
	if (s > a) != (b > 0) {
		return 0, errOverflow
	}
	return s, nil
}

func subInt(a, b int64) (int64, error) {
	s := a - b
	if (s < a) != (b > 0) {
		return 0, errOverflow
	}
	return s, nil
}

func mulInt(a, b int64) (int64, error) {
	if a == 0 || b == 0 {
		return 0, nil
	}
	hi, lo := bits.Mul64(uint64(absI(a)), uint64(absI(b)))
	if hi != 0 || lo > math.MaxInt64 || a == math.MinInt64 || b == math.MinInt64 {
		return 0, errOverflow
	}
	r := int64(lo)
	if (a < 0) != (b < 0) {
		r = -r
	}
	return r, nil
}

func absI(a int64) int64 {
	if a < 0 {
		return -a
	}
	return a
}

// asDec views an integer or decimal as a DECIMAL (integers have scale 0).
func asDec(v value) (int64, uint8, bool) {
	switch v.k {
	case vInt:
		return v.i, 0, true
	case vDec:
		return v.i, v.scale, true
	}
	return 0, 0, false
}

// arith applies + - * to two non-NULL values with DuckDB's result type:
// DOUBLE if either is DOUBLE, else DECIMAL if either is DECIMAL, else BIGINT.
func arith(op string, a, b value) (value, error) {
	if a.k == vFloat || b.k == vFloat {
		x, err := toFloat(a)
		if err != nil {
			return nullV, err
		}
		y, err := toFloat(b)
		if err != nil {
			return nullV, err
		}
		switch op {
		case "+":
			return floatV(x + y), nil
		case "-":
			return floatV(x - y), nil
		}
		return floatV(x * y), nil
	}
	if a.k == vInt && b.k == vInt {
		var r int64
		var err error
		switch op {
		case "+":
			r, err = addInt(a.i, b.i)
		case "-":
			r, err = subInt(a.i, b.i)
		default:
			r, err = mulInt(a.i, b.i)
		}
		return intV(r), err
	}
	if a.k == vDecW || b.k == vDecW {
		return arithWide(op, a, b)
	}
	ai, as, ok1 := asDec(a)
	bi, bs, ok2 := asDec(b)
	if !ok1 || !ok2 {
		return nullV, fmt.Errorf("sqleval: %s %s %s is not supported", kindNames[a.k], op, kindNames[b.k])
	}
	if op == "*" {
		r, err := mulInt(ai, bi)
		if err != nil || as+bs > 18 {
			return nullV, errOverflow
		}
		return value{k: vDec, i: r, scale: as + bs}, nil
	}
	s := max(as, bs)
	ai, err := rescale(ai, as, s)
	if err != nil {
		return nullV, err
	}
	if bi, err = rescale(bi, bs, s); err != nil {
		return nullV, err
	}
	var r int64
	if op == "+" {
		r, err = addInt(ai, bi)
	} else {
		r, err = subInt(ai, bi)
	}
	return value{k: vDec, i: r, scale: s}, err
}

// compare orders two non-NULL values (-1, 0, 1) as DuckDB compares them
// after its implicit casts.
func compare(a, b value) (int, error) {
	if a.k == b.k {
		switch a.k {
		case vInt, vTS, vDate, vBool:
			return cmp.Compare(a.i, b.i), nil
		case vStr:
			return strings.Compare(a.s, b.s), nil
		case vDec:
			if a.scale == b.scale {
				return cmp.Compare(a.i, b.i), nil
			}
		}
	}
	if isNumeric(a.k) && isNumeric(b.k) {
		if a.k == vFloat || b.k == vFloat {
			x, _ := toFloat(a)
			y, _ := toFloat(b)
			return cmpFloat(x, y), nil
		}
		if a.k == vDecW || b.k == vDecW {
			return compareWide(a, b)
		}
		if a.k == vUint || b.k == vUint {
			if a.k == vUint && b.k == vUint {
				return cmp.Compare(uint64(a.i), uint64(b.i)), nil
			}
			if a.k == vUint && uint64(a.i) > math.MaxInt64 {
				return 1, nil
			}
			if b.k == vUint && uint64(b.i) > math.MaxInt64 {
				return -1, nil
			}
			if a.k == vUint {
				a.k = vInt
			}
			if b.k == vUint {
				b.k = vInt
			}
		}
		ai, as, _ := asDec(a)
		bi, bs, _ := asDec(b)
		s := max(as, bs)
		x, err1 := rescale(ai, as, s)
		y, err2 := rescale(bi, bs, s)
		if err1 != nil || err2 != nil {
			// Too wide to align in int64: the sign and magnitude decide
			// through exact float comparison only when it is conclusive.
			fx, fy := decToFloat(ai, as), decToFloat(bi, bs)
			if fx != fy {
				return cmpFloat(fx, fy), nil
			}
			return 0, errOverflow
		}
		return cmp.Compare(x, y), nil
	}
	if a.k != b.k {
		return 0, fmt.Errorf("sqleval: cannot compare %s with %s", kindNames[a.k], kindNames[b.k])
	}
	switch a.k {
	case vStr:
		return strings.Compare(a.s, b.s), nil
	case vBool, vTS, vDate:
		return cmp.Compare(a.i, b.i), nil
	}
	return 0, fmt.Errorf("sqleval: cannot compare %s values", kindNames[a.k])
}

// cmpFloat orders doubles as DuckDB does: NaN above everything, equal to itself.
func cmpFloat(x, y float64) int {
	switch {
	case math.IsNaN(x) && math.IsNaN(y):
		return 0
	case math.IsNaN(x):
		return 1
	case math.IsNaN(y):
		return -1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// castTo converts a non-NULL value to the named type as DuckDB's CAST does.
func castTo(v value, to string) (value, error) {
	if v.k == vStr {
		return castText(v.s, to)
	}
	switch to {
	case "DOUBLE":
		switch v.k {
		case vFloat, vInt, vUint, vDec, vDecW:
			f, err := toFloat(v)
			return floatV(f), err
		}
	case "BIGINT":
		switch v.k {
		case vInt:
			return v, nil
		case vBool:
			return intV(v.i), nil
		case vUint:
			if uint64(v.i) > math.MaxInt64 {
				return nullV, errOverflow
			}
			return intV(v.i), nil
		case vDec:
			// DuckDB rounds half away from zero.
			p := pow10[v.scale]
			q, r := v.i/p, v.i%p
			if 2*absI(r) >= p {
				if v.i < 0 {
					q--
				} else {
					q++
				}
			}
			return intV(q), nil
		case vDecW:
			// Rounded as above; a result outside BIGINT is DuckDB's
			// conversion error.
			x := v.wide()
			q, r := x.quoRem(uint64(pow10[v.scale]))
			if 2*absI(r) >= pow10[v.scale] {
				var ok bool
				if q, ok = q.add(i128of(int64(cmp.Compare(r, 0)))); !ok {
					return nullV, errOverflow
				}
			}
			n, ok := q.int64()
			if !ok {
				return nullV, errOverflow
			}
			return intV(n), nil
		case vFloat:
			if f := v.fl(); math.IsNaN(f) || math.IsInf(f, 0) || f >= 9223372036854775807.0 || f < -9223372036854775808.0 {
				return nullV, errOverflow
			}
			return intV(int64(math.RoundToEven(v.fl()))), nil
		}
	case "UBIGINT":
		switch v.k {
		case vUint:
			return v, nil
		case vInt:
			if v.i < 0 {
				return nullV, errOverflow
			}
			return value{k: vUint, i: v.i}, nil
		case vBool:
			return value{k: vUint, i: v.i}, nil
		}
	case "DATE":
		switch v.k {
		case vDate:
			return v, nil
		case vTS:
			d := v.i / 86400000000
			if v.i%86400000000 < 0 {
				d--
			}
			return value{k: vDate, i: d}, nil
		}
	}
	return nullV, fmt.Errorf("sqleval: CAST(%s AS %s) is not supported", kindNames[v.k], to)
}
