package loans

import (
	"math/big"
	"time"

	"github.com/lendhq/lend"
)

// Method is how a term loan's principal is repaid.
type Method string

// Amortization methods.
const (
	// Annuity: equal installments (principal + interest) on a declining balance.
	Annuity Method = "annuity"
	// EqualPrincipal: the same principal each period plus interest on the balance.
	EqualPrincipal Method = "equal-principal"
	// InterestOnly: interest each period, all principal at the end (bullet).
	InterestOnly Method = "interest-only"
)

// Frequency is the length of a repayment period.
type Frequency string

// Period lengths.
const (
	Monthly   Frequency = "monthly"
	Weekly    Frequency = "weekly"
	EveryDays Frequency = "days" // every N days (Terms.EveryDays)
)

// DayCount is the interest day-count convention of a schedule.
type DayCount string

// Day-count conventions.
const (
	// DayCount30360: a monthly period is 1/12 of a year whatever its length
	// (balance × rate / 12); a period of N days is N/360 of a year.
	DayCount30360 DayCount = "30/360"
	// DayCountAct365: a period is its actual number of days / 365.
	DayCountAct365 DayCount = "act/365"
)

// Terms describe a term loan's schedule.
type Terms struct {
	PrincipalMinor int64
	Rate           Rate // annual nominal rate
	Periods        int  // number of installments
	Method         Method
	Frequency      Frequency
	EveryDays      int // period length when Frequency is EveryDays
	DayCount       DayCount
	Start          Date // disbursement date; installment k is due one period after k−1
}

// Installment is one line of a repayment schedule and, once a loan exists,
// what has been paid against it.
type Installment struct {
	Seq                int    `json:"seq"` // 1-based
	DueDate            Date   `json:"-"`
	DueDateText        string `json:"due_date"`
	PrincipalMinor     int64  `json:"principal_minor"`
	InterestMinor      int64  `json:"interest_minor"`
	PrincipalPaidMinor int64  `json:"principal_paid_minor"`
	InterestPaidMinor  int64  `json:"interest_paid_minor"`
	// Accrued is true once the installment's interest is recognised as
	// receivable (term loans: at close of business on the due date).
	Accrued bool `json:"-"`
	// BalanceAfterMinor is the scheduled principal balance after this installment.
	BalanceAfterMinor int64 `json:"balance_after_minor"`
	// CarriedInterestMinor is the part of InterestMinor carried from the
	// previous installment's period: interest on the balance left after that
	// installment was settled early, for the rest of its period. It is earned
	// in full once this installment's period starts (never pro-rated).
	// Shown (when not zero) so a merchant can see why an installment's
	// interest is above the period's own.
	CarriedInterestMinor int64 `json:"carried_interest_minor,omitempty"`
	// PenaltyMinor is the penalty interest charged to this installment:
	// each day's penalty on the principal overdue that day is charged to the
	// oldest installment overdue (the one the DPD counts from), so the
	// installment's unpaid total is what cures it (docs/LOANS.md).
	// PenaltyPaidMinor is the part of it paid. Both absent when zero.
	PenaltyMinor     int64 `json:"penalty_minor,omitempty"`
	PenaltyPaidMinor int64 `json:"penalty_paid_minor,omitempty"`
}

// SetRevolvingBalancesAfter sets each statement's BalanceAfterMinor on a
// revolving draw whose principal outstanding is outstandingMinor: the
// principal left once that statement and the earlier ones are paid (a card
// statement's new balance), not the principal of later statements, which on
// a draw is only what they billed. Statements are in seq order. Never
// negative: a charged-off draw has no principal outstanding but keeps its
// unpaid statements (helper-40's review: −1,095.00 and −2,190.00 shown).
func SetRevolvingBalancesAfter(outstandingMinor int64, statements []Installment) {
	bal := outstandingMinor
	for i := range statements {
		bal -= statements[i].PrincipalMinor - statements[i].PrincipalPaidMinor
		statements[i].BalanceAfterMinor = max(bal, 0)
	}
}

// TotalMinor is the installment's scheduled amount.
func (in Installment) TotalMinor() int64 { return in.PrincipalMinor + in.InterestMinor }

// Paid reports whether the installment is fully paid: principal, interest
// and the penalty charged to it. An unpaid penalty keeps it past due, as an
// unpaid installment charge does in Fineract.
func (in Installment) Paid() bool {
	return in.PrincipalPaidMinor >= in.PrincipalMinor && in.InterestPaidMinor >= in.InterestMinor &&
		in.PenaltyPaidMinor >= in.PenaltyMinor
}

// UnpaidMinor is what is left to pay of the installment as it stands:
// principal, interest and penalty (a term installment's interest before its
// due date is the scheduled interest; a payment then takes only what is
// earned, docs/LOANS.md).
func (in Installment) UnpaidMinor() int64 {
	return in.PrincipalMinor - in.PrincipalPaidMinor + in.InterestMinor - in.InterestPaidMinor + in.PenaltyMinor - in.PenaltyPaidMinor
}

// Validate checks terms and returns an EINVALID error naming the field.
func (t *Terms) Validate() error {
	if t.PrincipalMinor <= 0 {
		return lend.FieldErrorf("principal", "must be > 0")
	}
	if t.PrincipalMinor > MaxAmountMinor {
		return lend.FieldErrorf("principal", "exceeds the maximum %s", FormatMinor(MaxAmountMinor))
	}
	if t.Rate < 0 || int64(t.Rate) > MaxRateMicro {
		return lend.FieldErrorf("rate", "must be between 0 and %s", Rate(MaxRateMicro))
	}
	if t.Periods < 1 || t.Periods > MaxTermPeriods {
		return lend.FieldErrorf("term", "must be between 1 and %d periods", MaxTermPeriods)
	}
	switch t.Method {
	case Annuity, EqualPrincipal, InterestOnly:
	case "":
		t.Method = Annuity
	default:
		return lend.FieldErrorf("method", "%q is not annuity, equal-principal or interest-only", t.Method)
	}
	switch t.Frequency {
	case Monthly, Weekly:
	case "":
		t.Frequency = Monthly
	case EveryDays:
		if t.EveryDays < 1 || t.EveryDays > MaxEveryDays {
			return lend.FieldErrorf("every_days", "must be between 1 and %d", MaxEveryDays)
		}
	default:
		return lend.FieldErrorf("frequency", "%q is not monthly, weekly or days", t.Frequency)
	}
	switch t.DayCount {
	case DayCount30360, DayCountAct365:
	case "":
		t.DayCount = DayCount30360
	default:
		return lend.FieldErrorf("day_count", "%q is not 30/360 or act/365", t.DayCount)
	}
	if t.Start.IsZero() {
		return lend.FieldErrorf("start", "is required")
	}
	return nil
}

// DueDate returns the due date of installment k (1-based) counted from start.
func (t *Terms) DueDate(k int) Date {
	switch t.Frequency {
	case Weekly:
		return Day(t.Start).AddDate(0, 0, 7*k)
	case EveryDays:
		return Day(t.Start).AddDate(0, 0, t.EveryDays*k)
	default:
		y, m, d := t.Start.UTC().Date()
		y, m, d = addMonthsClamped(y, m, d, k)
		return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	}
}

// dueDates is DueDate for installments first..last with their text
// (DateLayout): a schedule is built for every decision, and deriving each
// date from the start's calendar fields, formatted by hand into one string,
// costs a fraction of time.Date + AddDate + Format per installment. Same
// dates and text.
func (t *Terms) dueDates(first, last int) (dates []Date, texts []string) {
	n := last - first + 1
	if n <= 0 {
		return nil, nil
	}
	dates, texts = make([]Date, n), make([]string, n)
	y0, m0, d0 := t.Start.UTC().Date()
	buf := make([]byte, 0, 10*n)
	at := make([]int, n) // where texts[i] starts in buf; -1: texts[i] is set
	for i := range n {
		var d Date
		if t.Frequency == Weekly || t.Frequency == EveryDays {
			d = t.DueDate(first + i)
		} else {
			y, m, day := addMonthsClamped(y0, m0, d0, first+i)
			d = time.Date(y, m, day, 0, 0, 0, 0, time.UTC)
		}
		dates[i] = d
		y, m, day := d.Date()
		if y < 0 || y > 9999 {
			texts[i], at[i] = d.Format(DateLayout), -1
			continue
		}
		at[i] = len(buf)
		buf = append(buf, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
			byte('0'+int(m)/10), byte('0'+int(m)%10), '-', byte('0'+day/10), byte('0'+day%10))
	}
	all := string(buf)
	for i, a := range at {
		if a >= 0 {
			texts[i] = all[a : a+10]
		}
	}
	return dates, texts
}

// addMonthsClamped is AddMonthsClamped on calendar fields: n months after
// y-m-d, the day clamped to the target month's last day.
func addMonthsClamped(y int, m time.Month, d, n int) (int, time.Month, int) {
	mm := int(m) - 1 + n
	y += mm / 12
	if mm %= 12; mm < 0 {
		mm += 12
		y--
	}
	month := time.Month(mm + 1)
	if last := daysIn(month, y); d > last {
		d = last
	}
	return y, month, d
}

// daysIn is the number of days of month in year (proleptic Gregorian, as
// package time counts).
func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// nominalPeriodRate is the rate of one period used for the annuity formula:
// rate/12 for monthly periods, rate × N/365 (act/365) or N/360 (30/360) for
// periods of N days.
func (t *Terms) nominalPeriodRate() *big.Rat {
	num, den := t.periodRateFrac()
	return big.NewRat(num, den)
}

// periodRateFrac is nominalPeriodRate in lowest terms as int64s (what
// big.Rat's Num and Denom give), without big.Rat's allocations: the rate of
// a validated Terms is at most MaxRateMicro and N at most MaxEveryDays, so
// both fit.
func (t *Terms) periodRateFrac() (num, den int64) {
	switch t.Frequency {
	case Weekly, EveryDays:
		n := int64(7)
		if t.Frequency == EveryDays {
			n = int64(t.EveryDays)
		}
		d := int64(360)
		if t.DayCount == DayCountAct365 {
			d = DaysPerYear
		}
		num, den = int64(t.Rate)*n, RateScale*d
	default:
		num, den = int64(t.Rate), RateScale*12
	}
	if num == 0 {
		return 0, 1
	}
	g := gcd(num, den)
	return num / g, den / g
}

// gcd is the greatest common divisor of a and b > 0.
func gcd(a, b int64) int64 {
	if a < 0 {
		a = -a
	}
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// periodInterest is the exact interest on balance for the period ending at
// installment k: 30/360 uses the nominal period rate; act/365 uses the actual
// days between the previous and this due date.
func (t *Terms) periodInterest(balanceMinor int64, k int) *big.Rat {
	b := new(big.Rat).SetInt64(balanceMinor)
	if t.DayCount == DayCountAct365 {
		days := DaysBetween(t.DueDate(k-1), t.DueDate(k))
		r := t.Rate.Rat()
		r.Mul(r, big.NewRat(days, DaysPerYear))
		return b.Mul(b, r)
	}
	return b.Mul(b, t.nominalPeriodRate())
}

// periodInterestMinor is periodInterest rounded half-even, computed in
// 128-bit integers (balance·rateMicro·n / (RateScale·d)); the big.Rat path
// is the fallback for operands outside that range. Same value either way.
func (t *Terms) periodInterestMinor(balanceMinor int64, k int) int64 {
	var n, d int64
	switch {
	case t.DayCount == DayCountAct365:
		n, d = DaysBetween(t.DueDate(k-1), t.DueDate(k)), DaysPerYear
	case t.Frequency == Weekly || t.Frequency == EveryDays:
		n, d = 7, 360
		if t.Frequency == EveryDays {
			n = int64(t.EveryDays)
		}
	default:
		n, d = 1, 12
	}
	if q, ok := mulDivRoundHalfEven(balanceMinor, int64(t.Rate), n, RateScale*d); ok {
		return q
	}
	return RoundHalfEven(t.periodInterest(balanceMinor, k))
}

// AnnuityInstallment returns the level installment P·r / (1 − (1+r)^−n) rounded
// half-even to the minor unit (P/n when the rate is zero). With r = a/b it is
// P·a·(a+b)^n / (b·((a+b)^n − b^n)), computed in integers (no GCDs).
func AnnuityInstallment(principalMinor int64, r *big.Rat, n int) int64 {
	if r.Sign() == 0 {
		return DivRoundHalfEven(principalMinor, int64(n))
	}
	return annuity(principalMinor, r.Num(), r.Denom(), n)
}

// annuity is AnnuityInstallment of a non-zero rate a/b in lowest terms.
func annuity(principalMinor int64, a, b *big.Int, n int) int64 {
	en := big.NewInt(int64(n))
	pow := new(big.Int).Exp(new(big.Int).Add(a, b), en, nil)
	num := new(big.Int).Mul(big.NewInt(principalMinor), a)
	num.Mul(num, pow)
	den := pow.Sub(pow, new(big.Int).Exp(b, en, nil))
	den.Mul(den, b)
	return quoRoundHalfEven(num, den)
}

// BuildSchedule computes the repayment schedule of terms: interest per
// installment rounded half-even to the minor unit; principal is the level
// installment less interest (annuity), an equal share rounded half-even
// (equal-principal) or zero until the end (interest-only); the last installment
// takes whatever principal remains, so principal sums exactly to the amount lent.
func BuildSchedule(t Terms) ([]Installment, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return buildFrom(t, t.PrincipalMinor, 1, t.Periods, 0), nil
}

// buildFrom schedules balance over installments first..last. level overrides
// the annuity installment (or the equal principal share) when > 0, which is how
// a prepayment keeps the installment and shortens the term.
func buildFrom(t Terms, balance int64, first, last int, level int64) []Installment {
	n := last - first + 1
	var installment, share int64
	switch t.Method {
	case Annuity:
		installment = level
		if installment <= 0 {
			if num, den := t.periodRateFrac(); num == 0 {
				installment = DivRoundHalfEven(balance, int64(n))
			} else {
				installment = annuity(balance, big.NewInt(num), big.NewInt(den), n)
			}
		}
	case EqualPrincipal:
		share = level
		if share <= 0 {
			share = DivRoundHalfEven(balance, int64(n))
		}
	}
	out := make([]Installment, 0, n)
	dates, texts := t.dueDates(first, last)
	for k := first; k <= last && balance > 0; k++ {
		interest := t.periodInterestMinor(balance, k)
		var principal int64
		switch t.Method {
		case Annuity:
			principal = installment - interest
			if principal < 0 { // installment too small to cover interest: pay interest only
				principal = 0
			}
		case EqualPrincipal:
			principal = share
		case InterestOnly:
			principal = 0
		}
		if k == last || principal >= balance {
			principal = balance
		}
		balance -= principal
		out = append(out, Installment{Seq: k, DueDate: dates[k-first], DueDateText: texts[k-first],
			PrincipalMinor: principal, InterestMinor: interest, BalanceAfterMinor: balance})
	}
	return out
}

// ScheduleTotals sums a schedule.
func ScheduleTotals(s []Installment) (principalMinor, interestMinor int64) {
	for _, in := range s {
		principalMinor += in.PrincipalMinor
		interestMinor += in.InterestMinor
	}
	return
}
