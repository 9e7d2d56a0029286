// Package loans is the loan lifecycle of Lend: credit lines, applications and
// offers, repayment schedules, daily accrual, repayment allocation,
// delinquency and charge-off, and the double-entry ledger those movements post
// to. Storage is reached through the Store interface declared here; loans/sqlite
// implements it.
//
// Money is always int64 minor units (names end in Minor). Rates are exact
// decimals held in millionths (RateMicro); interest is computed with integer or
// math/big rational arithmetic and rounded half-even once per posting.
package loans

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/lendhq/lend"
)

// Limits on inputs. They keep every intermediate product of the integer
// accrual arithmetic inside int64 (balance × rate micro < 2^63) and bound the
// size of a schedule.
const (
	// MaxAmountMinor is the largest principal, draw or repayment accepted (10^11
	// minor units: one billion in major units).
	MaxAmountMinor int64 = 100_000_000_000
	// MaxRateMicro is the largest annual rate accepted: 1000% a year.
	MaxRateMicro int64 = 10_000_000
	// RateScale is the number of RateMicro units in a rate of 1 (100%).
	RateScale int64 = 1_000_000
	// MaxTermPeriods bounds the number of installments in a schedule.
	MaxTermPeriods = 600
	// MaxEveryDays bounds the period length of an every-N-days schedule.
	MaxEveryDays = 366
	// DaysPerYear is the act/365 denominator (fixed; leap days are not special).
	DaysPerYear int64 = 365
	// AccrualDenominator is the sub-minor unit of the accrual residue: one
	// day's interest in minor units is balanceMinor × rateMicro / AccrualDenominator.
	AccrualDenominator = DaysPerYear * RateScale
)

// Rate is an annual rate in millionths (0.18 = 180000). Exact: it is parsed
// from a decimal string with at most six decimals, never from a float.
type Rate int64

// ParseRate parses a decimal string such as "0.18" or "0.1800" (fraction, not
// percent) into a Rate. More than six decimals, negative values, exponents and
// values above MaxRateMicro are refused with an EINVALID error naming field.
func ParseRate(field, s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, lend.FieldErrorf(field, "is required (a decimal fraction such as 0.18)")
	}
	if len(s) > 32 {
		return 0, lend.FieldErrorf(field, "too long")
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" {
		intPart = "0"
	}
	if hasDot && frac == "" {
		return 0, lend.FieldErrorf(field, "%q is not a decimal number", s)
	}
	for _, c := range intPart + frac {
		if c < '0' || c > '9' {
			return 0, lend.FieldErrorf(field, "%q is not a non-negative decimal number", s)
		}
	}
	if len(frac) > 6 {
		return 0, lend.FieldErrorf(field, "%q has more than 6 decimals", s)
	}
	if len(intPart) > 4 {
		return 0, lend.FieldErrorf(field, "%q exceeds the maximum rate %s", s, Rate(MaxRateMicro))
	}
	ip, _ := strconv.ParseInt(intPart, 10, 64)
	frac += strings.Repeat("0", 6-len(frac))
	fp, _ := strconv.ParseInt(frac, 10, 64)
	r := ip*RateScale + fp
	if r > MaxRateMicro {
		return 0, lend.FieldErrorf(field, "%q exceeds the maximum rate %s", s, Rate(MaxRateMicro))
	}
	return Rate(r), nil
}

// String formats the rate as a decimal fraction with four to six decimals
// ("0.1800"), the API's representation.
func (r Rate) String() string {
	s := strconv.FormatInt(int64(r)/RateScale, 10) + "." + leftPad(strconv.FormatInt(int64(r)%RateScale, 10), 6)
	for strings.HasSuffix(s, "0") && len(s)-strings.IndexByte(s, '.') > 5 {
		s = s[:len(s)-1]
	}
	return s
}

// Rat returns the rate as an exact rational.
func (r Rate) Rat() *big.Rat { return big.NewRat(int64(r), RateScale) }

func leftPad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}

// RoundHalfEven rounds the rational x to the nearest integer, ties to even.
// It is the one rounding rule of Lend's money arithmetic.
func RoundHalfEven(x *big.Rat) int64 { return quoRoundHalfEven(x.Num(), x.Denom()) }

// quoRoundHalfEven is num/den rounded half-even, den > 0.
func quoRoundHalfEven(num, den *big.Int) int64 {
	q, m := new(big.Int), new(big.Int)
	q.DivMod(num, den, m) // Euclidean: m >= 0, so q = floor(num/den)
	twice := m.Lsh(m, 1)
	switch twice.Cmp(den) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q.Int64()
}

// mulDivRoundHalfEven is a·b·c / den rounded half-even for non-negative
// a, b, c and den > 0 whose product fits 128 bits with a quotient below 2^63
// (ok is false otherwise): the exact value RoundHalfEven gives for the same
// rational, without big.Rat's allocations and GCDs.
func mulDivRoundHalfEven(a, b, c, den int64) (q int64, ok bool) {
	if a < 0 || b < 0 || c < 0 || den <= 0 {
		return 0, false
	}
	hi1, lo1 := bits.Mul64(uint64(a), uint64(b))
	if hi1 != 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(lo1, uint64(c))
	if hi >= uint64(den) { // quotient would not fit 64 bits
		return 0, false
	}
	uq, r := bits.Div64(hi, lo, uint64(den))
	if 2*r > uint64(den) || (2*r == uint64(den) && uq%2 == 1) {
		uq++
	}
	if uq > math.MaxInt64 {
		return 0, false
	}
	return int64(uq), true
}

// DivRoundHalfEven returns num/den rounded half-even for int64 operands, den > 0.
func DivRoundHalfEven(num, den int64) int64 {
	q, m := num/den, num%den
	if m < 0 { // floor division
		q--
		m += den
	}
	switch {
	case 2*m > den:
		q++
	case 2*m == den && q%2 != 0:
		q++
	}
	return q
}

// Accrual carries daily interest with its rounding residue, so that the sum of
// the posted daily amounts since the start always equals the one-step interest
// over the whole span rounded half-even: PostedMinor = round(exact total).
// ResidueSub is exact − posted in units of 1/AccrualDenominator minor, always
// within ±AccrualDenominator/2. The same arithmetic runs as SQL in close of
// business (loans/sqlite), and the two are tested against each other.
type Accrual struct {
	PostedMinor int64 // cumulative posted interest, minor units
	ResidueSub  int64 // exact cumulative − posted, in 1/AccrualDenominator minor
}

// AddDay accrues one day of interest on balanceMinor at rate and returns the
// amount to post for that day.
func (a *Accrual) AddDay(balanceMinor int64, rate Rate) int64 {
	x := a.ResidueSub + balanceMinor*int64(rate)
	// posted = round_half_even((P·D + x)/D) − P, computed without forming P·D.
	q, m := x/AccrualDenominator, x%AccrualDenominator
	if m < 0 {
		q--
		m += AccrualDenominator
	}
	switch {
	case 2*m > AccrualDenominator:
		q++
	case 2*m == AccrualDenominator && (a.PostedMinor+q)%2 != 0:
		q++
	}
	a.PostedMinor += q
	a.ResidueSub = x - q*AccrualDenominator
	return q
}

// Date is a calendar date (UTC midnight). Business dates, due dates and value
// dates are Dates; they serialise as YYYY-MM-DD.
type Date = time.Time

// DateLayout is the one textual form of a Date.
const DateLayout = "2006-01-02"

// ParseDate parses YYYY-MM-DD; an error names field.
func ParseDate(field, s string) (Date, error) {
	t, err := time.Parse(DateLayout, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, lend.FieldErrorf(field, "%q is not a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

// Day truncates t to its UTC calendar date.
func Day(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// DaysBetween returns the number of days from a to b (b − a).
func DaysBetween(a, b Date) int64 { return int64(Day(b).Sub(Day(a)).Hours() / 24) }

// AddMonthsClamped adds n months to d, clamping to the last day of the target
// month (31 Jan + 1 month = 28/29 Feb), the convention loan schedules use.
func AddMonthsClamped(d Date, n int) Date {
	y, m, day := d.Date()
	first := time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	if day > last {
		day = last
	}
	return time.Date(first.Year(), first.Month(), day, 0, 0, 0, 0, time.UTC)
}

// FormatMinor renders minor units as a major-unit decimal with two places
// (for CLI output only; the API carries minor units).
func FormatMinor(v int64) string {
	sign := ""
	if v < 0 {
		sign = "-"
		v = -v
	}
	return sign + strconv.FormatInt(v/100, 10) + "." + leftPad(strconv.FormatInt(v%100, 10), 2)
}

// ParseMinor parses a major-unit decimal ("12000", "12000.50") into minor
// units exactly; more than two decimals is an error naming field.
func ParseMinor(field, s string) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	ip, fp, hasDot := strings.Cut(s, ".")
	if ip == "" || (hasDot && fp == "") || len(fp) > 2 || len(ip) > 15 {
		return 0, lend.FieldErrorf(field, "%q is not an amount with at most 2 decimals", s)
	}
	for _, c := range ip + fp {
		if c < '0' || c > '9' {
			return 0, lend.FieldErrorf(field, "%q is not an amount", s)
		}
	}
	fp += strings.Repeat("0", 2-len(fp))
	a, _ := strconv.ParseInt(ip, 10, 64)
	b, _ := strconv.ParseInt(fp, 10, 64)
	v := a*100 + b
	if neg {
		v = -v
	}
	return v, nil
}

// MarshalJSON writes the rate as a decimal string ("0.1800"), as the API does.
func (r Rate) MarshalJSON() ([]byte, error) { return []byte(`"` + r.String() + `"`), nil }

// UnmarshalJSON reads a decimal string rate.
func (r *Rate) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseRate("rate", s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}
