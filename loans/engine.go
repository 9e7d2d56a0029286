package loans

import (
	"math/big"
	"time"

	"github.com/lendhq/lend"
)

// Strategy is a repayment allocation strategy, named by its Apache Fineract
// transaction-processing-strategy code.
type Strategy string

// Allocation strategies.
const (
	// StrategyMifosStandard is the default: penalties → fees → each overdue
	// installment, oldest first, its interest then its principal → current
	// interest → current principal (Fineract's "Penalties, Fees, Interest,
	// Principal order"; overdue installments are settled before the current
	// one, one at a time).
	StrategyMifosStandard Strategy = "mifos-standard-strategy"
	// StrategyPrincipalInterestPenaltiesFees: each overdue installment's
	// principal then interest, oldest first → current principal → current
	// interest → penalties → fees.
	StrategyPrincipalInterestPenaltiesFees Strategy = "principal-interest-penalties-fees-order-strategy"
	// StrategyInterestPrincipalPenaltiesFees: each overdue installment's
	// interest then principal, oldest first → current interest → current
	// principal → penalties → fees.
	StrategyInterestPrincipalPenaltiesFees Strategy = "interest-principal-penalties-fees-order-strategy"
)

// ParseStrategy validates a strategy code ("" is the default).
func ParseStrategy(s string) (Strategy, error) {
	switch Strategy(s) {
	case "":
		return StrategyMifosStandard, nil
	case StrategyMifosStandard, StrategyPrincipalInterestPenaltiesFees, StrategyInterestPrincipalPenaltiesFees:
		return Strategy(s), nil
	}
	return "", lend.FieldErrorf("strategy", "%q is not a known allocation strategy", s)
}

// Policy holds the product parameters of the lifecycle. Zero fields take the
// defaults of DefaultPolicy.
type Policy struct {
	PenaltyRate  Rate // annual penalty interest on overdue principal
	ChargeOffDPD int  // days past due at which a loan is charged off
	Strategy     Strategy
	Reschedule   RescheduleMode
	// MinPaymentBps is the principal share of a revolving minimum payment, in
	// basis points of the outstanding principal at the statement.
	MinPaymentBps        int64
	MinPaymentFloorMinor int64 // smallest minimum payment principal
	StatementGraceDays   int   // days from statement to due date
	OfferValidity        time.Duration
	// IdempotencyRetention is how long a command's idempotency key (with its
	// stored response) is kept: a retry within it replays, a later one runs
	// as a new command. Close of business deletes older keys, so the table
	// does not grow without bound.
	IdempotencyRetention time.Duration
}

// Policy defaults.
const (
	DefaultPenaltyRate        Rate  = 120000 // 12% a year on overdue principal
	DefaultChargeOffDPD             = 180
	DefaultMinPaymentBps      int64 = 300 // 3% of principal
	DefaultMinPaymentFloor    int64 = 2500
	DefaultStatementGraceDays       = 20
	DefaultOfferValidity            = 72 * time.Hour
	// DefaultIdempotencyRetention: keys are kept 30 days (Stripe keeps 24 h).
	DefaultIdempotencyRetention = 30 * 24 * time.Hour
	// MinIdempotencyRetention is the shortest retention accepted: a client's
	// retries of a day-old request must still replay.
	MinIdempotencyRetention = 24 * time.Hour
	// MaxIdempotencyKeysPerEOD bounds the keys one close of business deletes
	// (the rest go at the next one), so one run's transaction stays bounded.
	MaxIdempotencyKeysPerEOD = 1_000_000
	// MaxStatementGraceDays bounds the days from a statement to its due date:
	// under the shortest statement cycle (28 days).
	MaxStatementGraceDays = 27
	// MaxChargeOffDPD bounds the configurable charge-off threshold.
	MaxChargeOffDPD = 3650
)

// DefaultPolicy returns the default product parameters.
func DefaultPolicy() Policy {
	return Policy{PenaltyRate: DefaultPenaltyRate, ChargeOffDPD: DefaultChargeOffDPD, Strategy: StrategyMifosStandard,
		Reschedule: KeepInstallment, MinPaymentBps: DefaultMinPaymentBps, MinPaymentFloorMinor: DefaultMinPaymentFloor,
		StatementGraceDays: DefaultStatementGraceDays, OfferValidity: DefaultOfferValidity,
		IdempotencyRetention: DefaultIdempotencyRetention}
}

// WithDefaults fills zero fields from DefaultPolicy and validates the rest.
func (p Policy) WithDefaults() (Policy, error) {
	d := DefaultPolicy()
	if p.PenaltyRate == 0 {
		p.PenaltyRate = d.PenaltyRate
	}
	if p.ChargeOffDPD == 0 {
		p.ChargeOffDPD = d.ChargeOffDPD
	}
	if p.ChargeOffDPD < 1 || p.ChargeOffDPD > MaxChargeOffDPD {
		return p, lend.FieldErrorf("charge_off_dpd", "must be between 1 and %d", MaxChargeOffDPD)
	}
	var err error
	if p.Strategy, err = ParseStrategy(string(p.Strategy)); err != nil {
		return p, err
	}
	switch p.Reschedule {
	case "":
		p.Reschedule = d.Reschedule
	case KeepInstallment, KeepTerm:
	default:
		return p, lend.FieldErrorf("reschedule", "%q is not keep-installment or keep-term", p.Reschedule)
	}
	if p.MinPaymentBps == 0 {
		p.MinPaymentBps = d.MinPaymentBps
	}
	if p.MinPaymentFloorMinor == 0 {
		p.MinPaymentFloorMinor = d.MinPaymentFloorMinor
	}
	if p.StatementGraceDays == 0 {
		p.StatementGraceDays = d.StatementGraceDays
	}
	if p.MinPaymentBps < 1 || p.MinPaymentBps > 10_000 {
		return p, lend.FieldErrorf("min_payment_bps", "must be between 1 and 10000 (100%%)")
	}
	if p.MinPaymentFloorMinor < 0 || p.MinPaymentFloorMinor > MaxAmountMinor {
		return p, lend.FieldErrorf("min_payment_floor_minor", "must be between 0 and %d", MaxAmountMinor)
	}
	if p.StatementGraceDays < 1 || p.StatementGraceDays > MaxStatementGraceDays {
		// A statement must fall due before the next one is billed (the
		// shortest cycle is February's 28 days): repayment allocation knows
		// one current statement.
		return p, lend.FieldErrorf("statement_grace_days", "must be between 1 and %d", MaxStatementGraceDays)
	}
	if p.OfferValidity == 0 {
		p.OfferValidity = d.OfferValidity
	}
	if p.IdempotencyRetention == 0 {
		p.IdempotencyRetention = d.IdempotencyRetention
	}
	if p.IdempotencyRetention < MinIdempotencyRetention {
		return p, lend.FieldErrorf("idempotency_retention", "must be at least %s", MinIdempotencyRetention)
	}
	return p, nil
}

// Delinquency buckets.
const (
	BucketCurrent = "current"
	Bucket1to30   = "1-30"
	Bucket31to60  = "31-60"
	Bucket61to90  = "61-90"
	Bucket90Plus  = "90+"
)

// BucketOf returns the delinquency bucket of a days-past-due count.
func BucketOf(dpd int) string {
	switch {
	case dpd <= 0:
		return BucketCurrent
	case dpd <= 30:
		return Bucket1to30
	case dpd <= 60:
		return Bucket31to60
	case dpd <= 90:
		return Bucket61to90
	}
	return Bucket90Plus
}

// EntryDraft is a journal entry before it is stored.
type EntryDraft struct {
	Kind     string
	Postings []Posting
	// On is the business date the entry belongs to; zero: the command's
	// own date (a repayment's value date). A repayment's catch-up dates
	// each day's interest and penalty on that day, as close of business
	// would have, so a month's income stays in that month.
	On Date
}

// Balanced reports whether debits equal credits, every leg is one-sided and
// non-negative, and the entry moves money. It is checked before every write.
func (e EntryDraft) Balanced() bool {
	var dr, cr int64
	for _, p := range e.Postings {
		if p.DebitMinor < 0 || p.CreditMinor < 0 || (p.DebitMinor == 0) == (p.CreditMinor == 0) {
			return false
		}
		dr += p.DebitMinor
		cr += p.CreditMinor
	}
	return len(e.Postings) >= 2 && dr == cr && dr > 0
}

// legs builds postings from (account, signed amount) pairs, positive = debit,
// dropping zero legs.
func legs(pairs ...any) []Posting {
	var out []Posting
	for i := 0; i < len(pairs); i += 2 {
		a, v := pairs[i].(Account), pairs[i+1].(int64)
		switch {
		case v > 0:
			out = append(out, Posting{Account: a, AccountName: a.String(), DebitMinor: v})
		case v < 0:
			out = append(out, Posting{Account: a, AccountName: a.String(), CreditMinor: -v})
		}
	}
	return out
}

// DisbursementEntry is the entry of lending amountMinor.
func DisbursementEntry(amountMinor int64) EntryDraft {
	return EntryDraft{Kind: KindDisbursement, Postings: legs(AcctLoanPrincipal, amountMinor, AcctSettlementCash, -amountMinor)}
}

// State is a loan with its installments (ordered by Seq): what the engine
// reads and changes for one command.
type State struct {
	Loan         Loan
	Installments []Installment
	Policy       Policy
	// ClosedThrough is the last business day close of business has closed
	// (zero: none). A repayment posts the penalty interest of the days after
	// it, before its value date, as close of business would have.
	ClosedThrough Date
}

// terms reconstructs the schedule terms of a term loan.
func (s *State) terms() Terms {
	l := &s.Loan
	return Terms{PrincipalMinor: l.PrincipalMinor, Rate: l.APR, Periods: l.TermPeriods, Method: l.Method,
		Frequency: l.Frequency, EveryDays: l.EveryDays, DayCount: l.DayCount, Start: l.DisbursedOn}
}

// currentIndex is the index of the first installment due on or after on, or -1.
func (s *State) currentIndex(on Date) int {
	for i, in := range s.Installments {
		if !in.DueDate.Before(on) {
			return i
		}
	}
	return -1
}

// billStatement bills the statement of day d on a revolving draw, the same
// rule as close of business's statement step (loans/sqlite and
// loans/postgres eod.go, step 3), and moves the next statement a month on. It
// runs when a payment dated after d is posted before close of business has
// closed d: the statement is then billed on the balance of day d, before the
// payment, and the payment counts toward it (a card issuer counts a payment
// made between the statement and its due date toward the minimum). Billed
// by close of business after the payment instead, the statement took the
// balance the payment had reduced and billed a minimum already paid.
// p is the policy with its defaults.
func (s *State) billStatement(d Date, p Policy) {
	l := &s.Loan
	var billedP, billedI int64
	seq := 0
	for _, in := range s.Installments {
		billedP += in.PrincipalMinor - in.PrincipalPaidMinor
		billedI += in.InterestMinor - in.InterestPaidMinor
		seq = max(seq, in.Seq)
	}
	unbilledP, unbilledI := l.PrincipalOutstandingMinor-billedP, l.InterestReceivableMinor-billedI
	if unbilledP+unbilledI > 0 {
		minP := max(p.MinPaymentFloorMinor, (l.PrincipalOutstandingMinor*p.MinPaymentBps+9999)/10000)
		due := d.AddDate(0, 0, p.StatementGraceDays)
		s.Installments = append(s.Installments, Installment{Seq: seq + 1, DueDate: due, DueDateText: due.Format(DateLayout),
			PrincipalMinor: min(unbilledP, minP), InterestMinor: unbilledI, Accrued: true})
	}
	l.NextStatementDate = AddMonthsClamped(l.NextStatementDate, 1)
}

// catchUp posts on s what close of business has not yet posted for the days
// before on, day by day in close of business's order (loans/sqlite eod.go
// closeDay): term installments falling due make their unpaid interest
// receivable; a revolving draw accrues the day's interest and bills the
// day's statement (before the payment, so that it counts toward it); penalty
// interest accrues on the principal overdue that day. It returns the journal
// entries to post. If on one of those days the loan reaches the charge-off
// threshold, catching up stops there and chargeOffOn is that day: close of
// business charges the loan off on it, and a payment must wait for that (it
// is then a recovery). Payoff runs catchUp on a copy, so a quote and a
// payment of it agree whether or not close of business ran.
func (s *State) catchUp(on Date) (entries []EntryDraft, chargeOffOn Date, err error) {
	l := &s.Loan
	if l.Status != LoanActive {
		return nil, Date{}, nil
	}
	p, err := s.Policy.WithDefaults()
	if err != nil {
		return nil, Date{}, lend.Wrap(lend.EINTERNAL, err, "loan %d: policy: %v", l.ID, err)
	}
	// Days after penFrom have had neither close of business nor a payment's
	// catch-up: their penalty, delinquency and charge-off are unposted.
	penFrom := Day(l.DisbursedOn)
	for _, after := range []Date{s.ClosedThrough, l.PenaltyThrough} {
		if !after.IsZero() && !after.Before(penFrom) {
			penFrom = after.AddDate(0, 0, 1)
		}
	}
	from := penFrom
	if l.Product == ProductRevolving && l.LastAccrualDate.AddDate(0, 0, 1).Before(from) {
		from = l.LastAccrualDate.AddDate(0, 0, 1)
	}
	for _, in := range s.Installments {
		if !in.Accrued && in.DueDate.Before(from) {
			from = in.DueDate
		}
	}
	for d := from; d.Before(on); d = d.AddDate(0, 0, 1) {
		var due, accrued, penalty int64
		for i := range s.Installments {
			if in := &s.Installments[i]; !in.Accrued && !in.DueDate.After(d) {
				in.Accrued = true
				x := in.InterestMinor - in.InterestPaidMinor
				due += x
				l.InterestReceivableMinor += x
			}
		}
		if l.Product == ProductRevolving && d.After(l.LastAccrualDate) {
			x := l.InterestAccrual.AddDay(l.PrincipalOutstandingMinor, l.APR)
			accrued += x
			l.InterestReceivableMinor += x
			l.LastAccrualDate = d
			if d.Equal(l.NextStatementDate) {
				s.billStatement(d, p)
			}
		}
		if d.Before(penFrom) {
			// Closed already but for interest falling due or accrual.
			entries = appendDayEntries(entries, d, due, accrued, 0)
			continue
		}
		od, oldest := s.overdue(d)
		if od > 0 && l.PenaltyRate > 0 {
			x := l.PenaltyAccrual.AddDay(od, l.PenaltyRate)
			penalty += x
			l.PenaltyReceivableMinor += x
			// Charged to the oldest installment overdue, as close of
			// business step 5 does.
			s.Installments[oldest].PenaltyMinor += x
		}
		l.PenaltyThrough = d
		entries = appendDayEntries(entries, d, due, accrued, penalty)
		if oldest >= 0 && DaysBetween(s.Installments[oldest].DueDate, d) >= int64(p.ChargeOffDPD) {
			chargeOffOn = d
			break
		}
	}
	return entries, chargeOffOn, nil
}

// EntryDate is the business date a store records entry e under when the
// command posting it is dated on: e.On, or on when e.On is zero.
func EntryDate(e EntryDraft, on Date) Date {
	if e.On.IsZero() {
		return on
	}
	return e.On
}

// appendDayEntries appends the entries close of business would post on day
// d for what catchUp charged that day: interest falling due, revolving
// accrual, penalty.
func appendDayEntries(entries []EntryDraft, d Date, dueMinor, accruedMinor, penaltyMinor int64) []EntryDraft {
	for _, e := range []struct {
		kind          string
		amount        int64
		debit, credit Account
	}{
		{KindInterestDue, dueMinor, AcctInterestReceivable, AcctInterestIncome},
		{KindAccrual, accruedMinor, AcctInterestReceivable, AcctInterestIncome},
		{KindPenalty, penaltyMinor, AcctPenaltyReceivable, AcctPenaltyIncome},
	} {
		if e.amount > 0 {
			entries = append(entries, EntryDraft{Kind: e.kind, Postings: legs(e.debit, e.amount, e.credit, -e.amount), On: d})
		}
	}
	return entries
}

// overdue is close of business's delinquency on day d: the principal of the
// installments due before d with anything unpaid, and the index of the
// oldest such installment (−1: none), which the DPD counts from and the
// day's penalty is charged to.
func (s *State) overdue(d Date) (principalMinor int64, oldest int) {
	oldest = -1
	for i, in := range s.Installments {
		if !in.DueDate.Before(d) {
			break // in due-date order
		}
		if !in.Paid() {
			principalMinor += in.PrincipalMinor - in.PrincipalPaidMinor
			if oldest < 0 {
				oldest = i
			}
		}
	}
	return principalMinor, oldest
}

// checkPenalties asserts that an active loan's penalty receivable is the
// penalty charged to its installments and not yet paid: a penalty on no
// installment would be owed without ever being due.
func (s *State) checkPenalties() error {
	if s.Loan.Status != LoanActive {
		return nil
	}
	var unpaid int64
	for _, in := range s.Installments {
		if in.PenaltyPaidMinor < 0 || in.PenaltyPaidMinor > in.PenaltyMinor {
			return lend.Errorf(lend.EINTERNAL, "loan %d installment %d: penalty paid %d of %d", s.Loan.ID, in.Seq, in.PenaltyPaidMinor, in.PenaltyMinor)
		}
		unpaid += in.PenaltyMinor - in.PenaltyPaidMinor
	}
	if unpaid != s.Loan.PenaltyReceivableMinor {
		return lend.Errorf(lend.EINTERNAL, "loan %d: penalty receivable %d but %d unpaid on its installments", s.Loan.ID, s.Loan.PenaltyReceivableMinor, unpaid)
	}
	return nil
}

// clone is a copy of s whose installments can change without changing s's.
func (s *State) clone() *State {
	c := *s
	c.Installments = append([]Installment(nil), s.Installments...)
	return &c
}

// prorataInterest is the interest of installment i earned by date on: its
// interest × elapsed days / period days, rounded half-even.
func (s *State) prorataInterest(i int, on Date) int64 {
	in := s.Installments[i]
	prev := s.periodStart(i)
	period := DaysBetween(prev, in.DueDate)
	elapsed := DaysBetween(prev, on)
	if elapsed < 0 || period <= 0 {
		// Before the period starts nothing of it is earned, the carry
		// included: a payoff then ends the loan inside the previous period.
		return 0
	}
	if elapsed >= period {
		return in.InterestMinor
	}
	// The carry (the previous period's rest, see carryRestOfPeriod) is
	// earned by the time this period starts; the installment's own
	// interest is earned pro rata by days.
	c := in.CarriedInterestMinor
	return c + DivRoundHalfEven((in.InterestMinor-c)*elapsed, period)
}

// periodStart is the day installment i's period starts: the previous due
// date, or the disbursement for the first.
func (s *State) periodStart(i int) Date {
	if i > 0 {
		return s.Installments[i-1].DueDate
	}
	return s.Loan.DisbursedOn
}

// restOfPeriodInterest is the interest on balanceMinor from on to the due
// date of installment i, at the loan's rate and day count, rounded half-even.
func (s *State) restOfPeriodInterest(i int, on Date, balanceMinor int64) int64 {
	in := s.Installments[i]
	prev := s.periodStart(i)
	period, rest := DaysBetween(prev, in.DueDate), DaysBetween(on, in.DueDate)
	if balanceMinor <= 0 || period <= 0 || rest <= 0 {
		return 0
	}
	t := s.terms()
	x := t.periodInterest(balanceMinor, in.Seq)
	return RoundHalfEven(x.Mul(x, big.NewRat(min(rest, period), period)))
}

// carryRestOfPeriod is the interest carried to installment cur+1 when cur is
// settled early (its principal and earned interest paid before its due
// date; the installment is closed at that interest): the principal still
// outstanding earns interest until cur's due date like any day of the loan,
// so the rest of the period's interest is carried to installment cur+1 and
// owed there. Without it, paying each installment's principal a day into its
// period skipped almost all interest. A later payment in the same period
// lowers the carry by the rest-of-period interest on what it repaid.
// settledBefore, oldCarry and balanceBefore describe the state before the
// payment. ok is false when cur is not settled early (nothing to carry).
func (s *State) carryRestOfPeriod(cur int, on Date, settledBefore bool, oldCarry, balanceBefore int64) (carry int64, ok bool) {
	in := s.Installments[cur]
	if in.Accrued || !in.DueDate.After(on) || !in.Paid() || cur+1 >= len(s.Installments) {
		return 0, false
	}
	after := s.Loan.PrincipalOutstandingMinor
	if settledBefore {
		return max(oldCarry-s.restOfPeriodInterest(cur, on, balanceBefore-after), 0), true
	}
	return s.restOfPeriodInterest(cur, on, after), true
}

// setCarry makes carryMinor the interest carried into installment i, and
// keeps the installment's total what it was: the carry is taken out of its
// principal (as far as it has unpaid principal). A merchant who pays the
// installment amount the schedule showed, early every period, is then never
// short: with the carry on top, 99,000.00 at 12% paid 17,082.29 ten days
// into each period fell 28.42 short on installment 2 (the carry spans the
// old period's days, the new period's interest is earned over its own) and
// turned delinquent. The principal deferred past installment i stays
// outstanding and earns interest like any other: the installments after i
// are rebuilt on the balance left after it, at the same installment amount,
// the last taking what remains (as a simple-interest loan's final payment).
func (s *State) setCarry(i int, carryMinor int64) {
	in := &s.Installments[i]
	delta := carryMinor - in.CarriedInterestMinor
	in.InterestMinor += delta
	in.CarriedInterestMinor = carryMinor
	n := len(s.Installments) - 1
	if delta == 0 || i >= n {
		return
	}
	var later int64 // principal of the installments after i
	for _, x := range s.Installments[i+1:] {
		if x.PrincipalPaidMinor != 0 || x.InterestPaidMinor != 0 {
			// Not reached (nothing is paid ahead of the current
			// installment but through a rebuild); a rebuild would drop it.
			return
		}
		later += x.PrincipalMinor
	}
	moved := min(delta, in.PrincipalMinor-in.PrincipalPaidMinor)
	if delta < 0 {
		// Only after a re-amortization, which rebuilds from a carry of 0,
		// does a carry fall; the clamp keeps every principal whole.
		moved = -min(-delta, later)
	}
	if moved == 0 {
		return
	}
	next := s.Installments[i+1]
	level := s.Loan.InstallmentMinor
	if s.Loan.Reschedule == KeepTerm {
		// Keep the installment amount the schedule now shows.
		level = next.TotalMinor()
		if s.Loan.Method == EqualPrincipal {
			level = next.PrincipalMinor
		}
	}
	in.PrincipalMinor -= moved
	in.BalanceAfterMinor = later + moved
	s.rebuildAfter(i, later+moved, level)
}

// rebuildAfter replaces the installments after index i with a schedule of
// balanceMinor up to the current last due date, at installment (or
// principal share) levelMinor, 0 for a new annuity over the periods left.
// It returns how many installments it built.
func (s *State) rebuildAfter(i int, balanceMinor, levelMinor int64) int {
	last := s.Installments[len(s.Installments)-1].Seq
	rest := buildFrom(s.terms(), balanceMinor, s.Installments[i].Seq+1, last, levelMinor)
	s.Installments = append(s.Installments[:i+1:i+1], rest...)
	return len(rest)
}

// Payoff is what settles the loan on date on: all principal, interest due
// through on (a current period's interest pro rata by days), penalties, fees
// and, for revolving draws, interest for days not yet closed. For a
// charged-off loan it is what remains to recover.
func (s *State) Payoff(on Date) PayoffQuote {
	// What close of business has not posted yet is owed as if it had.
	c, _, chargeOffOn, err := s.caughtUp(on)
	if err != nil {
		c, chargeOffOn = s, Date{}
	}
	return c.quote(on, chargeOffOn)
}

// caughtUp is a copy of s with catchUp(on) applied, and what catchUp returned.
func (s *State) caughtUp(on Date) (*State, []EntryDraft, Date, error) {
	c := s.clone()
	entries, chargeOffOn, err := c.catchUp(on)
	return c, entries, chargeOffOn, err
}

// quote is Payoff of a caught-up state; chargeOffOn is the unclosed day
// catchUp stopped at for a charge-off (zero: none).
func (s *State) quote(on Date, chargeOffOn Date) PayoffQuote {
	if !chargeOffOn.IsZero() {
		// Close of business will charge the loan off: what is then to
		// recover, as the quote of a charged-off loan shows it.
		l := &s.Loan
		owed := l.PrincipalOutstandingMinor + l.InterestReceivableMinor + l.PenaltyReceivableMinor + l.FeeReceivableMinor
		return PayoffQuote{LoanID: l.ID, Date: on.Format(DateLayout), Currency: l.Currency, PrincipalMinor: owed, TotalMinor: owed}
	}
	l := &s.Loan
	q := PayoffQuote{LoanID: l.ID, Date: on.Format(DateLayout), Currency: l.Currency}
	switch l.Status {
	case LoanChargedOff:
		q.PrincipalMinor = l.ChargedOffMinor - l.RecoveredMinor
	case LoanActive:
		q.PrincipalMinor = l.PrincipalOutstandingMinor
		q.PenaltyMinor = l.PenaltyReceivableMinor
		q.FeeMinor = l.FeeReceivableMinor
		if l.Product == ProductRevolving {
			q.InterestMinor = l.InterestReceivableMinor
		} else {
			for i, in := range s.Installments {
				owed := in.InterestMinor
				if in.DueDate.After(on) {
					owed = s.prorataInterest(i, on)
				}
				if owed > in.InterestPaidMinor {
					q.InterestMinor += owed - in.InterestPaidMinor
				}
			}
		}
	}
	q.TotalMinor = q.PrincipalMinor + q.InterestMinor + q.PenaltyMinor + q.FeeMinor
	return q
}

// RepayEffect is what a repayment does: the entries to post (a catch-up
// accrual first, when a revolving draw has unclosed days) and the allocation.
type RepayEffect struct {
	Allocation Allocation
	Entries    []EntryDraft
}

// ValidateValueDate refuses dates a payment cannot take: before
// disbursement, or before a payment already posted (refuseEarlierPeriod). A
// payoff quote checks the same, so it never quotes a figure no payment can
// settle.
func (s *State) ValidateValueDate(on Date) error { return s.ValidateDate("value_date", on) }

// ValidateDate is ValidateValueDate with the refusal naming field (a payoff
// quote's parameter is date).
func (s *State) ValidateDate(field string, on Date) error {
	if on.Before(Day(s.Loan.DisbursedOn)) {
		return lend.FieldErrorf(field, "%s is before the disbursement date %s", on.Format(DateLayout), s.Loan.DisbursedOn.Format(DateLayout))
	}
	return s.refuseEarlierPeriod(field, on)
}

// refuseEarlierPeriod refuses a term-loan payment dated in an earlier period
// than a payment already posted: it would re-amortize from that period and
// rebuild installments that hold payments, dropping them (a 1,000.00
// payment dated 2026-01-20 after one dated 2026-02-05 charged the 4 days of
// installment 2 interest already paid again: 110.04). Payments are not
// re-sequenced, so such a payment is refused. Installment j is only paid by
// a payment dated on or after its period start (on installment cur's due
// date the carry on cur+1 may be paid, the same day).
func (s *State) refuseEarlierPeriod(field string, on Date) error {
	if s.Loan.Status != LoanActive {
		return nil
	}
	if pt := s.Loan.PenaltyThrough; !pt.IsZero() && !on.After(pt) {
		// A later-dated payment, posted while close of business was behind,
		// has posted those days' interest falling due, penalty and
		// delinquency on the balance before it; this payment would repay
		// what they were charged on (48.46 on 50,000.00 dated six days
		// before a 1.00 payment; helper-41's review).
		return lend.FieldErrorf(field, "%s: the days through %s are already posted by a later-dated payment; payments are not re-sequenced",
			on.Format(DateLayout), pt.Format(DateLayout))
	}
	if s.Loan.Product == ProductRevolving {
		// The same for a draw's interest (30.00 on 18,360.00 six days early
		// at 10%; helper-39's review): penalty_through covers it since
		// migration 0005, LastAccrualDate also for catch-ups made before it.
		if !on.After(s.Loan.LastAccrualDate) {
			return lend.FieldErrorf(field, "%s: interest through %s is already posted by a later-dated payment; payments are not re-sequenced",
				on.Format(DateLayout), s.Loan.LastAccrualDate.Format(DateLayout))
		}
		return nil
	}
	cur := s.currentIndex(on)
	if cur < 0 {
		return nil
	}
	for j := cur + 1; j < len(s.Installments); j++ {
		in := s.Installments[j]
		if (in.PrincipalPaidMinor != 0 || in.InterestPaidMinor != 0) && on.Before(s.periodStart(j)) {
			return lend.FieldErrorf(field, "%s is before the period of a payment already posted (installment %d, from %s); payments are not re-sequenced",
				on.Format(DateLayout), in.Seq, s.periodStart(j).Format(DateLayout))
		}
	}
	return nil
}

// Repay applies a payment of amountMinor with value date on to the state:
// allocation by the loan's strategy, prepayment re-amortization, payoff and
// closure. It refuses (leaving s unchanged) zero or negative amounts, a loan
// that is not repayable, and any amount beyond the payoff.
func (s *State) Repay(amountMinor int64, on Date) (RepayEffect, error) {
	var eff RepayEffect
	l := &s.Loan
	if amountMinor <= 0 {
		return eff, lend.FieldErrorf("amount_minor", "must be > 0")
	}
	if amountMinor > MaxAmountMinor {
		return eff, lend.FieldErrorf("amount_minor", "exceeds the maximum %d", MaxAmountMinor)
	}
	switch l.Status {
	case LoanActive, LoanChargedOff:
	case LoanPaidOff:
		return eff, lend.Errorf(lend.ECONFLICT, "loan %d is paid off; no repayment is due", l.ID)
	default:
		return eff, lend.Errorf(lend.ECONFLICT, "loan %d is %s and cannot be repaid", l.ID, l.Status)
	}
	if err := s.ValidateValueDate(on); err != nil {
		return eff, err
	}
	// What close of business has not yet posted for the days before the
	// payment (revolving interest and statements, interest falling due,
	// penalty interest), on a copy: a payment refused below leaves s
	// unchanged. The quote is of the same copy.
	c, entries, chargeOffOn, err := s.caughtUp(on)
	if err != nil {
		return RepayEffect{}, err
	}
	q := c.quote(on, chargeOffOn)
	if amountMinor > q.TotalMinor {
		return eff, &lend.Error{Code: lend.EUNPROCESSABLE, Field: "amount_minor",
			Message: "amount_minor: " + FormatMinor(amountMinor) + " exceeds the payoff amount " + FormatMinor(q.TotalMinor) + " on " + q.Date}
	}
	if l.Status == LoanChargedOff {
		l.RecoveredMinor += amountMinor
		eff.Allocation.RecoveryMinor = amountMinor
		eff.Entries = append(eff.Entries, EntryDraft{Kind: KindRecovery, Postings: legs(AcctSettlementCash, amountMinor, AcctRecoveries, -amountMinor)})
		return eff, nil
	}
	if !chargeOffOn.IsZero() {
		return RepayEffect{}, lend.Errorf(lend.ECONFLICT, "loan %d reaches the charge-off threshold on %s, a day close of business has not closed: "+
			"run close of business; the payment is then taken as a recovery", l.ID, chargeOffOn.Format(DateLayout))
	}
	*s = *c
	eff.Entries = append(eff.Entries, entries...)
	payoff := amountMinor == q.TotalMinor
	cur := s.currentIndex(on)
	// The state carryRestOfPeriod compares with: was the current
	// installment already settled early, and what did it carry?
	balanceBefore := l.PrincipalOutstandingMinor
	var settledBefore bool
	var oldCarry int64
	if cur >= 0 && l.Product == ProductTerm {
		in := s.Installments[cur]
		settledBefore = !in.Accrued && in.DueDate.After(on) && in.Paid()
		if cur+1 < len(s.Installments) {
			oldCarry = s.Installments[cur+1].CarriedInterestMinor
		}
	}
	if payoff && l.Product == ProductTerm && cur >= 0 {
		// Closing early: the current period's interest is earned pro rata;
		// later periods earn none.
		for i := cur; i < len(s.Installments); i++ {
			in := &s.Installments[i]
			owed := in.InterestMinor
			if in.DueDate.After(on) {
				owed = s.prorataInterest(i, on)
			}
			if owed < in.InterestPaidMinor {
				owed = in.InterestPaidMinor
			}
			in.InterestMinor = owed
		}
	}
	a := &eff.Allocation
	remaining := amountMinor
	take := func(avail int64) int64 {
		if avail <= 0 || remaining <= 0 {
			return 0
		}
		x := min(avail, remaining)
		remaining -= x
		return x
	}
	var crIntRecv, crIntIncome int64
	// earned is the interest of installment i that a payment on date on may
	// take. Product rule (as Fineract with interest charged as earned): an
	// installment's interest is earned pro rata by days over its period, the
	// same rule as the payoff quote, so a payment before the due date pays
	// only the interest earned so far and the rest goes to principal. On or
	// after the due date (or once due interest was accrued) the whole
	// scheduled interest is owed, so paying each installment's scheduled
	// total on its due date settles it exactly. This keeps repayment and
	// quote consistent: paying X then the payoff quote costs the same as the
	// payoff quote on that day.
	earned := func(i int) int64 {
		in := s.Installments[i]
		if payoff || l.Product != ProductTerm || in.Accrued || !in.DueDate.After(on) {
			// A payoff already cut the installments to their earned interest above.
			return in.InterestMinor
		}
		return max(s.prorataInterest(i, on), in.InterestPaidMinor)
	}
	interest := func(from, to int, dst *int64) {
		for i := from; i < to && i < len(s.Installments); i++ {
			in := &s.Installments[i]
			x := take(earned(i) - in.InterestPaidMinor)
			in.InterestPaidMinor += x
			*dst += x
			if in.Accrued {
				crIntRecv += x
				l.InterestReceivableMinor -= x
			} else {
				crIntIncome += x
			}
		}
	}
	principal := func(from, to int, dst *int64) {
		for i := from; i < to && i < len(s.Installments); i++ {
			in := &s.Installments[i]
			x := take(in.PrincipalMinor - in.PrincipalPaidMinor)
			in.PrincipalPaidMinor += x
			*dst += x
			l.PrincipalOutstandingMinor -= x
		}
	}
	overdueEnd := len(s.Installments)
	if cur >= 0 {
		overdueEnd = cur
	}
	curFrom, curTo := 0, 0
	if cur >= 0 {
		curFrom, curTo = cur, cur+1
	}
	// A payoff also takes the interest the quote counts on later
	// installments: a carry is earned on the settled installment's due date,
	// when that installment is still the current one.
	curIntTo := curTo
	if payoff && l.Product == ProductTerm && cur >= 0 {
		curIntTo = len(s.Installments)
	}
	penalty := func(i int) {
		in := &s.Installments[i]
		x := take(in.PenaltyMinor - in.PenaltyPaidMinor)
		in.PenaltyPaidMinor += x
		a.PenaltyMinor += x
		l.PenaltyReceivableMinor -= x
	}
	overdueInterest := func(i int) { interest(i, i+1, &a.OverdueInterestMinor) }
	overduePrincipal := func(i int) { principal(i, i+1, &a.OverduePrincipalMinor) }
	// eachOverdue settles the overdue installments oldest first, each by
	// parts in order.
	eachOverdue := func(parts ...func(i int)) func() {
		return func() {
			for i := 0; i < overdueEnd; i++ {
				for _, part := range parts {
					part(i)
				}
			}
		}
	}
	steps := map[string]func(){
		// Penalties are charged to installments (the oldest overdue on the
		// day they accrue): this takes what is left of them, oldest first.
		"penalty": func() {
			for i := range s.Installments {
				penalty(i)
			}
		},
		"fee": func() {
			x := take(l.FeeReceivableMinor)
			a.FeeMinor += x
			l.FeeReceivableMinor -= x
		},
		// Overdue installments are settled one at a time, oldest first
		// (Fineract's processors loop over installments), so a payment of
		// the oldest installment's amount cures it and the delinquency age
		// moves to the next one. Taking every overdue installment's interest
		// before any principal left the oldest short whenever two were
		// overdue: a merchant paying one installment a month while one
		// behind stayed delinquent from the first missed date until
		// charge-off (helper-39's review).
		//
		// Each strategy's order applies within an installment, its penalty
		// included, so what the schedule shows unpaid on the oldest cures it.
		// The default (mifos-standard: penalties, fees, interest, principal)
		// takes the penalty first; taking every penalty of the loan first
		// left the installment short by it, past due until the merchant found
		// the difference (1.08 on a 1,415.00 statement paid 4 days late). The
		// "…-penalties-fees" strategies take it after the installment's own
		// interest and principal but before the next installment; taking it
		// after every installment sent that payment to the next one and left
		// the oldest past due by its penalty through to charge-off
		// (helper-42's review).
		"overdue-penalty-interest-principal": eachOverdue(penalty, overdueInterest, overduePrincipal),
		"overdue-interest-principal-penalty": eachOverdue(overdueInterest, overduePrincipal, penalty),
		"overdue-principal-interest-penalty": eachOverdue(overduePrincipal, overdueInterest, penalty),
		"current-interest":                   func() { interest(curFrom, curIntTo, &a.CurrentInterestMinor) },
		"current-principal":                  func() { principal(curFrom, curTo, &a.CurrentPrincipalMinor) },
	}
	var order []string
	switch l.Strategy {
	case StrategyPrincipalInterestPenaltiesFees:
		order = []string{"overdue-principal-interest-penalty", "current-principal", "current-interest", "penalty", "fee"}
	case StrategyInterestPrincipalPenaltiesFees:
		order = []string{"overdue-interest-principal-penalty", "current-interest", "current-principal", "penalty", "fee"}
	default:
		order = []string{"overdue-penalty-interest-principal", "penalty", "fee", "current-interest", "current-principal"}
	}
	for _, st := range order {
		steps[st]()
	}
	if l.Product == ProductTerm && !payoff && cur >= 0 {
		// An installment settled early — its whole principal and the interest
		// earned so far paid before the due date — is closed at that interest:
		// the rest of its period's interest is not charged to it, so a merchant who
		// pays an installment early is never left owing a residue that turns
		// delinquent on the due date.
		// The rest of the period's interest on the balance left is carried
		// to the next installment (carryRestOfPeriod, after the prepayment).
		in := &s.Installments[cur]
		if !in.Accrued && in.DueDate.After(on) && in.PrincipalPaidMinor == in.PrincipalMinor && in.InterestPaidMinor >= earned(cur) {
			in.InterestMinor = in.InterestPaidMinor
		}
	}
	if remaining > 0 && l.Product == ProductRevolving {
		// Interest accrued since the last statement, then unbilled principal.
		var billedInterest int64
		for _, in := range s.Installments {
			billedInterest += in.InterestMinor - in.InterestPaidMinor
		}
		x := take(l.InterestReceivableMinor - billedInterest)
		a.UnbilledInterestMinor += x
		l.InterestReceivableMinor -= x
		crIntRecv += x
		var billedPrincipal int64
		for _, in := range s.Installments {
			billedPrincipal += in.PrincipalMinor - in.PrincipalPaidMinor
		}
		y := take(l.PrincipalOutstandingMinor - billedPrincipal)
		a.PrepaidPrincipalMinor += y
		l.PrincipalOutstandingMinor -= y
	}
	if l.Product == ProductTerm && cur >= 0 {
		s.prepayAndCarry(cur, on, take, a, payoff, settledBefore, oldCarry, balanceBefore)
		if remaining > 0 {
			// On a settled installment's due date the carry on the next
			// installment is earned (the payoff quote counts it) but no step
			// above takes it: what the prepayment left pays it.
			interest(cur+1, len(s.Installments), &a.CurrentInterestMinor)
		}
	}
	if remaining != 0 {
		// Payoff bounds the amount, so this is a bug: refuse rather than lose money.
		return RepayEffect{}, lend.Errorf(lend.EINTERNAL, "loan %d: %d minor left unallocated", l.ID, remaining)
	}
	l.PrincipalRepaidMinor += a.PrincipalMinor()
	l.InterestPaidMinor += a.InterestMinor()
	l.PenaltyPaidMinor += a.PenaltyMinor
	eff.Entries = append(eff.Entries, EntryDraft{Kind: KindRepayment, Postings: legs(
		AcctSettlementCash, amountMinor,
		AcctPenaltyReceivable, -a.PenaltyMinor,
		AcctFeeReceivable, -a.FeeMinor,
		AcctInterestReceivable, -crIntRecv,
		AcctInterestIncome, -crIntIncome,
		AcctLoanPrincipal, -a.PrincipalMinor())})
	if l.OutstandingMinor() == 0 && (l.Product == ProductRevolving || s.allPaid()) {
		s.close(on)
	}
	if l.InterestReceivableMinor < 0 || l.PrincipalOutstandingMinor < 0 || l.PenaltyReceivableMinor < 0 {
		return RepayEffect{}, lend.Errorf(lend.EINTERNAL, "loan %d: negative balance after repayment", l.ID)
	}
	if err := s.checkPenalties(); err != nil {
		return RepayEffect{}, err
	}
	return eff, nil
}

// close marks a fully repaid loan paid off: every installment is settled as
// paid (unearned interest of later periods is not owed).
func (s *State) close(on Date) {
	s.Loan.Status = LoanPaidOff
	s.Loan.ClosedOn = on
	s.Loan.DPD, s.Loan.Bucket = 0, BucketCurrent
	kept := s.Installments[:0]
	for _, in := range s.Installments {
		if in.PrincipalPaidMinor == 0 && in.InterestPaidMinor == 0 && in.PrincipalMinor == 0 && in.PenaltyMinor == 0 && in.DueDate.After(on) {
			continue
		}
		in.InterestMinor = in.InterestPaidMinor
		in.PrincipalMinor = in.PrincipalPaidMinor
		in.Accrued = true
		kept = append(kept, in)
	}
	s.Installments = kept
}

// prepayAndCarry applies what is left of a term-loan payment after the
// current installment as a prepayment (principal of later installments, then
// a re-amortization) and sets the interest carried into the next
// installment when the current one is now settled early. The carry is
// worked out before the rebuild so the rebuild places it once.
func (s *State) prepayAndCarry(cur int, on Date, take func(int64) int64, a *Allocation, payoff, settledBefore bool, oldCarry, balanceBefore int64) {
	l := &s.Loan
	var future, prepaid int64
	for _, in := range s.Installments[cur+1:] {
		future += in.PrincipalMinor - in.PrincipalPaidMinor
	}
	prepaid = take(future)
	a.PrepaidPrincipalMinor += prepaid
	l.PrincipalOutstandingMinor -= prepaid
	carry, carrying := int64(0), false
	if !payoff {
		carry, carrying = s.carryRestOfPeriod(cur, on, settledBefore, oldCarry, balanceBefore)
	}
	if prepaid > 0 {
		if !carrying && cur+1 < len(s.Installments) {
			// cur is not settled early (e.g. its due date is today): the
			// carry earned on the balance before this payment stays.
			carry = s.Installments[cur+1].CarriedInterestMinor
		}
		s.reamortize(cur, future-prepaid, carry)
		return
	}
	if carrying {
		s.setCarry(cur+1, carry)
	}
}

// reamortize rebuilds the installments after index cur for a remaining
// balance, keeping the installment (shorter term) or the term (lower
// installment) per the loan's reschedule mode, with carryMinor carried into
// the first rebuilt installment (setCarry). The caller passes the carry
// still owed: on cur's due date a prepayment still sees cur as current, and
// the carry earned on the balance before it must not be dropped.
func (s *State) reamortize(cur int, balance, carryMinor int64) {
	head := s.Installments[:cur+1]
	var carried Installment
	if cur+1 < len(s.Installments) {
		carried = s.Installments[cur+1]
	}
	if balance <= 0 || cur+1 >= len(s.Installments) {
		s.Installments = head
		// All principal repaid but the carry still owed (or paid by a
		// payoff, which cut InterestMinor to what was earned): it stays on
		// installment cur+1, as interest only.
		if c := min(carryMinor, carried.InterestMinor); c > 0 {
			s.Installments = append(head[:cur+1:cur+1], Installment{Seq: carried.Seq, DueDate: carried.DueDate,
				DueDateText: carried.DueDateText, InterestMinor: c, InterestPaidMinor: carried.InterestPaidMinor,
				CarriedInterestMinor: c})
		}
		return
	}
	var level int64
	if s.Loan.Reschedule != KeepTerm {
		level = s.Loan.InstallmentMinor
	}
	if s.rebuildAfter(cur, balance, level) > 0 {
		s.setCarry(cur+1, carryMinor)
	}
}

// allPaid reports whether every installment is fully paid.
func (s *State) allPaid() bool {
	for _, in := range s.Installments {
		if !in.Paid() {
			return false
		}
	}
	return true
}
