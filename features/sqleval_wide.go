package features

// DECIMAL(38, s) in sqleval: DuckDB sums a DECIMAL(18, s) into a
// DECIMAL(38, s) (a 128-bit HUGEINT), so a merchant's sum of valid amounts
// (each below 10^18 micro-units) may pass int64 after about ten rows. sqleval
// gives every DECIMAL sum that type (vDecW) and carries it in 128 bits, with
// DuckDB's own DECIMAL(38) → DOUBLE conversion (wideToFloat).

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"math/bits"
)

// i128 is a two's-complement 128-bit integer (DuckDB's hugeint_t).
type i128 struct {
	hi int64
	lo uint64
}

func i128of(i int64) i128 { return i128{hi: i >> 63, lo: uint64(i)} }

// wide is the unscaled value of a vDec or vDecW as 128 bits.
func (v value) wide() i128 {
	if v.k == vDecW {
		return i128{hi: v.hi, lo: uint64(v.i)}
	}
	return i128of(v.i)
}

// decW is a DECIMAL(38, scale) value.
func decW(x i128, scale uint8) value {
	return value{k: vDecW, i: int64(x.lo), hi: x.hi, scale: scale}
}

// add returns a + b and false on overflow of 128 bits.
func (a i128) add(b i128) (i128, bool) {
	lo, c := bits.Add64(a.lo, b.lo, 0)
	hi := a.hi + b.hi + int64(c)
	// Overflow only when both have one sign and the result the other.
	ok := (a.hi < 0) != (b.hi < 0) || (hi < 0) == (a.hi < 0)
	return i128{hi, lo}, ok
}

func (a i128) neg() (i128, bool) {
	lo, c := bits.Add64(^a.lo, 1, 0)
	return i128{^a.hi + int64(c), lo}, a.hi != math.MinInt64 || a.lo != 0
}

func (a i128) sub(b i128) (i128, bool) {
	nb, ok := b.neg()
	if !ok {
		return i128{}, false
	}
	return a.add(nb)
}

func (a i128) cmp(b i128) int {
	if a.hi != b.hi {
		return cmp.Compare(a.hi, b.hi)
	}
	return cmp.Compare(a.lo, b.lo)
}

// int64 returns a as an int64 when it fits.
func (a i128) int64() (int64, bool) { return int64(a.lo), a.hi == int64(a.lo)>>63 }

// abs returns |a| as an unsigned 128-bit (hi, lo); |MinInt128| fits.
func (a i128) abs() (uint64, uint64, bool) {
	if a.hi >= 0 {
		return uint64(a.hi), a.lo, false
	}
	lo, c := bits.Add64(^a.lo, 1, 0)
	return ^uint64(a.hi) + c, lo, true
}

func fromAbs(hi, lo uint64, neg bool) (i128, bool) {
	x := i128{int64(hi), lo}
	if !neg {
		return x, int64(hi) >= 0
	}
	if hi == 1<<63 && lo == 0 {
		return i128{math.MinInt64, 0}, true
	}
	if int64(hi) < 0 {
		return i128{}, false
	}
	return x.neg()
}

// mulU returns a·m and false on overflow of 128 bits.
func (a i128) mulU(m uint64) (i128, bool) {
	hi, lo, neg := a.abs()
	h1, l1 := bits.Mul64(lo, m)
	h2, l2 := bits.Mul64(hi, m)
	rhi, c := bits.Add64(l2, h1, 0)
	if h2 != 0 || c != 0 {
		return i128{}, false
	}
	return fromAbs(rhi, l1, neg)
}

// quoRem is truncated division by d > 0 (C++'s / and %, as DuckDB's
// Hugeint::DivMod): the remainder has a's sign.
func (a i128) quoRem(d uint64) (i128, int64) {
	hi, lo, neg := a.abs()
	qhi, r := hi/d, hi%d
	qlo, r := bits.Div64(r, lo, d)
	q, _ := fromAbs(qhi, qlo, neg)
	if neg {
		return q, -int64(r)
	}
	return q, int64(r)
}

// hugeToFloat is DuckDB's HUGEINT → DOUBLE cast (CastBigintToFloating):
// the low and high words converted separately and added, not a correctly
// rounded conversion, with upper = −1 special-cased.
func hugeToFloat(a i128) float64 {
	if a.hi == -1 {
		return -float64(math.MaxUint64-a.lo) - 1
	}
	// The explicit conversion keeps the product rounded before the sum (no
	// fused multiply-add), as DuckDB computes it.
	return float64(a.lo) + float64(float64(a.hi)*float64(math.MaxUint64))
}

// wideToFloat is DuckDB's DECIMAL(38, scale) → DOUBLE cast
// (TryCastDecimalToFloatingPoint): unscaled / 10^scale when |unscaled| ≤
// 2^53, else the integer part (hugeToFloat) plus the fraction.
func wideToFloat(a i128, scale uint8) float64 {
	if n, ok := a.int64(); ok && n <= 1<<53 && n >= -(1<<53) {
		return float64(n) / pow10f[scale]
	}
	q, r := a.quoRem(uint64(pow10[scale]))
	return hugeToFloat(q) + float64(r)/pow10f[scale]
}

func wideString(a i128, scale uint8) string {
	hi, lo, neg := a.abs()
	m := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
	m.Or(m, new(big.Int).SetUint64(lo))
	s := m.String()
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

// asWide views an integer or decimal as a 128-bit unscaled value and scale.
func asWide(v value) (i128, uint8, bool) {
	switch v.k {
	case vInt, vBool:
		return i128of(v.i), 0, true
	case vUint:
		return i128{lo: uint64(v.i)}, 0, true
	case vDec, vDecW:
		return v.wide(), v.scale, true
	}
	return i128{}, 0, false
}

// alignWide brings two unscaled values to their larger scale.
func alignWide(a, b value) (x, y i128, s uint8, err error) {
	x, as, ok1 := asWide(a)
	y, bs, ok2 := asWide(b)
	if !ok1 || !ok2 {
		return x, y, 0, fmt.Errorf("sqleval: %s with %s is not supported", kindNames[a.k], kindNames[b.k])
	}
	s = max(as, bs)
	if s > 18 {
		return x, y, 0, errOverflow
	}
	var ok bool
	if x, ok = x.mulU(uint64(pow10[s-as])); !ok {
		return x, y, 0, errOverflow
	}
	if y, ok = y.mulU(uint64(pow10[s-bs])); !ok {
		return x, y, 0, errOverflow
	}
	return x, y, s, nil
}

// arithWide is + and − with a DECIMAL(38) operand: DuckDB's result is
// DECIMAL(38) (an error only past 128 bits here, past 38 digits in DuckDB:
// neither reachable by sums of valid amounts). × is not used on sums by the
// registry and is refused.
func arithWide(op string, a, b value) (value, error) {
	if op != "+" && op != "-" {
		return nullV, fmt.Errorf("sqleval: %s %s %s is not supported", kindNames[a.k], op, kindNames[b.k])
	}
	x, y, s, err := alignWide(a, b)
	if err != nil {
		return nullV, err
	}
	var r i128
	var ok bool
	if op == "+" {
		r, ok = x.add(y)
	} else {
		r, ok = x.sub(y)
	}
	if !ok {
		return nullV, errOverflow
	}
	return decW(r, s), nil
}

// compareWide orders numbers one of which is DECIMAL(38) exactly.
func compareWide(a, b value) (int, error) {
	x, y, _, err := alignWide(a, b)
	if err != nil {
		return 0, err
	}
	return x.cmp(y), nil
}
