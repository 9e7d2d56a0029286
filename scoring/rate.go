package scoring

import (
	"math/bits"
	"strconv"
	"strings"

	"github.com/lendhq/lend"
)

// Fixed-point arithmetic for policy rates. A rate is an exact decimal stored
// as an integer count of 1e-9 (nano-units): "0.1500" is 150_000_000. Every
// policy string has at most 9 decimal places, so parsing is exact, and every
// product and quotient below is computed on 128-bit intermediates and rounded
// once, in the direction stated at the call site. No float is involved.

// rateScale is the denominator of a parsed rate (9 decimal places).
const rateScale = 1_000_000_000

// rateDecimals is the number of decimal places a rate may carry.
const rateDecimals = 9

// maxRateInt is the largest integer part a rate may have (multiples like
// "1.50" and rates like "0.36" are far below it).
const maxRateInt = 1_000_000

// pdScale is the denominator of a policy PD: the calibrated PD is rounded
// half-even to 6 decimal places before any policy arithmetic.
const pdScale = 1_000_000

// parseRate parses a non-negative decimal string with at most 9 decimal places
// ("0.15", "1.50", "2") into nano-units. Signs, exponents, spaces and empty
// parts are refused so the artifact states every rate one way.
func parseRate(field, s string) (int64, error) {
	if s == "" {
		return 0, lend.FieldErrorf(field, "missing (a decimal string such as \"0.15\")")
	}
	if len(s) > 32 {
		return 0, lend.FieldErrorf(field, "%.32q... is too long for a rate", s)
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return 0, lend.FieldErrorf(field, "%q is not a decimal such as \"0.15\"", s)
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return 0, lend.FieldErrorf(field, "%q is not a non-negative decimal such as \"0.15\"", s)
		}
	}
	trimmed := strings.TrimRight(frac, "0")
	if len(trimmed) > rateDecimals {
		return 0, lend.FieldErrorf(field, "%q has more than %d decimal places", s, rateDecimals)
	}
	ip, err := strconv.ParseInt(intPart, 10, 64)
	if err != nil || ip >= maxRateInt {
		return 0, lend.FieldErrorf(field, "%q is out of range (must be below %d)", s, maxRateInt)
	}
	v := ip * rateScale
	if trimmed != "" {
		f, _ := strconv.ParseInt(trimmed, 10, 64)
		for i := len(trimmed); i < rateDecimals; i++ {
			f *= 10
		}
		v += f
	}
	return v, nil
}

// mulDivFloor returns floor(a·b/c) for non-negative a, b and positive c, and
// false when the result does not fit in an int64.
func mulDivFloor(a, b, c int64) (int64, bool) {
	if a < 0 || b < 0 || c <= 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > 1<<63-1 {
		return 0, false
	}
	return int64(q), true
}

// mulDivCeil returns ceil(a·b/c) for non-negative a, b and positive c, and
// false when the result does not fit in an int64.
func mulDivCeil(a, b, c int64) (int64, bool) {
	if a < 0 || b < 0 || c <= 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return 0, false
	}
	q, r := bits.Div64(hi, lo, uint64(c))
	if r != 0 {
		q++
	}
	if q > 1<<63-1 {
		return 0, false
	}
	return int64(q), true
}

// floorToStep rounds v (>= 0) down to a multiple of step (> 0).
func floorToStep(v, step int64) int64 {
	if v <= 0 {
		return 0
	}
	return v - v%step
}

// formatFixed writes the exact decimal v/10^decimals, trimming trailing zeros
// but keeping at least minDecimals places: formatFixed(276096, 7, 4) is
// "0.0276096", formatFixed(600, 4, 4) is "0.0600".
func formatFixed(v int64, decimals, minDecimals int) string {
	neg := v < 0
	if neg {
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	for len(s) <= decimals {
		s = "0" + s
	}
	ip, fp := s[:len(s)-decimals], s[len(s)-decimals:]
	for len(fp) > minDecimals && fp[len(fp)-1] == '0' {
		fp = fp[:len(fp)-1]
	}
	out := ip
	if fp != "" {
		out += "." + fp
	}
	if neg {
		out = "-" + out
	}
	return out
}

// formatRate formats nano-units with at least 4 decimal places ("0.1500").
func formatRate(v int64) string { return formatFixed(v, rateDecimals, 4) }
