package loans

import (
	"context"
	"crypto/sha256"
	"math"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/lendhq/lend"
)

// LineStatus is the state of a merchant's credit line.
type LineStatus string

// Credit line states. A frozen line allows repayments but no new draws.
const (
	LineActive LineStatus = "active"
	LineFrozen LineStatus = "frozen"
	LineClosed LineStatus = "closed"
)

// FrozenByDelinquency is the freeze reason close of business sets and clears;
// a line frozen for another reason is never unfrozen by close of business.
const FrozenByDelinquency = "delinquency"

// FrozenByStaleData is the freeze reason the nightly refresh sets on an
// active line whose merchant has been missing from the features for too long
// (FreezeStaleLines) and lifts when fresh features come back
// (UpsertCreditLines): a merchant dropping out of the sales feed is a classic
// sign of one going dark before default, so its line stops lending.
const FrozenByStaleData = "stale_data"

// StaleLine names a line to freeze for stale data and the as-of its caller
// read: the freeze applies only while the stored line is still active with
// that as-of, so a concurrent refresh or freeze is never overwritten.
type StaleLine struct {
	MerchantID string
	AsOf       string
}

// CreditLine is a merchant's limit and what is drawn on it.
type CreditLine struct {
	MerchantID     string     `json:"merchant_id"`
	Currency       string     `json:"currency"`
	LimitMinor     int64      `json:"limit_minor"`
	DrawnMinor     int64      `json:"drawn_minor"`
	AvailableMinor int64      `json:"available_minor"`
	APR            Rate       `json:"apr"`
	Grade          string     `json:"grade"`
	Score          float64    `json:"score"`
	PD             float64    `json:"pd"`
	Reasons        []string   `json:"reasons"`
	ModelID        string     `json:"model_id"`
	AsOf           string     `json:"as_of"`
	Status         LineStatus `json:"status"`
	FrozenReason   string     `json:"frozen_reason,omitempty"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

// CreditLineUpdate is what the nightly limit refresh writes for one merchant.
// The store keeps a frozen line frozen and never sets a limit below what is
// already drawn.
type CreditLineUpdate struct {
	MerchantID string
	Currency   string
	LimitMinor int64
	APR        Rate
	Grade      string
	Score      float64
	PD         float64
	Reasons    []string
	ModelID    string
	AsOf       string // YYYY-MM-DD
}

// RefreshSummary counts what a batch of credit line updates did.
type RefreshSummary struct {
	New       int `json:"new"`
	Raised    int `json:"raised"`
	Lowered   int `json:"lowered"`
	Unchanged int `json:"unchanged"`
	Frozen    int `json:"frozen"`  // lines that stayed frozen (limit still updated)
	Floored   int `json:"floored"` // decreases stopped at the drawn amount
	// Unfrozen counts stale_data freezes lifted because the line was
	// refreshed (fresh features): the line is active again.
	Unfrozen int `json:"unfrozen"`
	// StaleToDelinquency counts stale_data freezes whose merchant turned out
	// delinquent: the line stays frozen for delinquency, limit and APR kept.
	StaleToDelinquency int `json:"stale_to_delinquency"`
}

// Decision outcomes of an application.
const (
	DecisionApproved     = "approved"
	DecisionCounterOffer = "counter_offer"
	DecisionDeclined     = "declined"
)

// Application states.
const (
	AppOpen     = "open"
	AppAccepted = "accepted"
	AppDeclined = "declined"
)

// ProductKind distinguishes term loans from revolving draws.
type ProductKind string

// Products.
const (
	ProductTerm      ProductKind = "term"
	ProductRevolving ProductKind = "revolving"
)

// Application is a merchant's request for a term loan, the decision on it and
// the offer that accepting it turns into a loan.
type Application struct {
	ID          int64       `json:"id"`
	MerchantID  string      `json:"merchant_id"`
	Currency    string      `json:"currency"`
	AmountMinor int64       `json:"amount_minor"`
	Product     ProductKind `json:"product"`
	TermPeriods int         `json:"term_periods"`
	Method      Method      `json:"method"`
	Frequency   Frequency   `json:"frequency"`
	EveryDays   int         `json:"every_days,omitempty"`
	DayCount    DayCount    `json:"day_count"`
	Decision    string      `json:"decision"`
	Reasons     []string    `json:"reasons"`
	ModelID     string      `json:"model_id"`
	Grade       string      `json:"grade"`
	Offer       *Offer      `json:"offer,omitempty"`
	Status      string      `json:"status"`
	LoanID      int64       `json:"loan_id,omitempty"`
	CreatedAt   time.Time   `json:"created_at"`
}

// Offer is what an approved application lends, at what price, until when.
type Offer struct {
	AmountMinor        int64     `json:"amount_minor"`
	APR                Rate      `json:"apr"`
	TermPeriods        int       `json:"term_periods"`
	InstallmentMinor   int64     `json:"installment_minor"`
	TotalInterestMinor int64     `json:"total_interest_minor"`
	ExpiresAt          time.Time `json:"expires_at"`
}

// LoanStatus is a loan's lifecycle state: pending → active → paid_off |
// charged_off | cancelled.
type LoanStatus string

// Loan states.
const (
	LoanPending    LoanStatus = "pending"
	LoanActive     LoanStatus = "active"
	LoanPaidOff    LoanStatus = "paid_off"
	LoanChargedOff LoanStatus = "charged_off"
	LoanCancelled  LoanStatus = "cancelled"
)

// RescheduleMode is what a prepayment does to the remaining schedule.
type RescheduleMode string

// Prepayment re-amortization modes.
const (
	// KeepInstallment keeps the installment amount and shortens the term (default).
	KeepInstallment RescheduleMode = "keep-installment"
	// KeepTerm keeps the number of installments and lowers the installment.
	KeepTerm RescheduleMode = "keep-term"
)

// Loan is one term loan or one revolving draw with its balances. Balances are
// what the journal says (reconcile checks it).
type Loan struct {
	ID            int64          `json:"id"`
	MerchantID    string         `json:"merchant_id"`
	ApplicationID int64          `json:"application_id,omitempty"`
	Product       ProductKind    `json:"product"`
	Currency      string         `json:"currency"`
	Status        LoanStatus     `json:"status"`
	Grade         string         `json:"grade"`
	APR           Rate           `json:"apr"`
	PenaltyRate   Rate           `json:"penalty_rate"`
	Method        Method         `json:"method,omitempty"`
	Frequency     Frequency      `json:"frequency,omitempty"`
	EveryDays     int            `json:"every_days,omitempty"`
	DayCount      DayCount       `json:"day_count,omitempty"`
	TermPeriods   int            `json:"term_periods,omitempty"`
	Strategy      Strategy       `json:"strategy"`
	Reschedule    RescheduleMode `json:"reschedule"`
	// InstallmentMinor is the level installment (annuity) or principal share
	// (equal-principal) a keep-installment prepayment preserves.
	InstallmentMinor int64 `json:"installment_minor"`
	PrincipalMinor   int64 `json:"principal_minor"` // lent
	DisbursedOn      Date  `json:"-"`

	PrincipalOutstandingMinor int64 `json:"principal_outstanding_minor"`
	InterestReceivableMinor   int64 `json:"interest_receivable_minor"`
	PenaltyReceivableMinor    int64 `json:"penalty_receivable_minor"`
	FeeReceivableMinor        int64 `json:"fee_receivable_minor"`
	PrincipalRepaidMinor      int64 `json:"principal_repaid_minor"`
	InterestPaidMinor         int64 `json:"interest_paid_minor"`
	PenaltyPaidMinor          int64 `json:"penalty_paid_minor"`
	ChargedOffMinor           int64 `json:"charged_off_minor"`
	RecoveredMinor            int64 `json:"recovered_minor"`

	DPD    int    `json:"dpd"`
	Bucket string `json:"bucket"`

	// Daily accrual state (revolving interest; penalty interest on any loan).
	InterestAccrual Accrual `json:"-"`
	PenaltyAccrual  Accrual `json:"-"`
	// LastAccrualDate is the last day whose revolving interest is posted.
	LastAccrualDate   Date `json:"-"`
	NextStatementDate Date `json:"-"`
	// PenaltyThrough is the last day whose penalty interest a repayment
	// posted ahead of close of business (zero: none); close of business does
	// not post those days again.
	PenaltyThrough Date      `json:"-"`
	ClosedOn       Date      `json:"-"`
	CreatedAt      time.Time `json:"created_at"`
}

// OutstandingMinor is everything the merchant owes today (excluding interest
// not yet due).
func (l *Loan) OutstandingMinor() int64 {
	return l.PrincipalOutstandingMinor + l.InterestReceivableMinor + l.PenaltyReceivableMinor + l.FeeReceivableMinor
}

// Allocation is how one repayment was split. Field order is the default
// allocation order.
type Allocation struct {
	PenaltyMinor          int64 `json:"penalty_minor"`
	FeeMinor              int64 `json:"fee_minor"`
	OverdueInterestMinor  int64 `json:"overdue_interest_minor"`
	OverduePrincipalMinor int64 `json:"overdue_principal_minor"`
	CurrentInterestMinor  int64 `json:"current_interest_minor"`
	CurrentPrincipalMinor int64 `json:"current_principal_minor"`
	// UnbilledInterestMinor: revolving interest accrued since the last statement.
	UnbilledInterestMinor int64 `json:"unbilled_interest_minor"`
	// PrepaidPrincipalMinor: principal beyond what is due (prepayment of a term
	// loan, which re-amortizes; or unbilled principal of a revolving draw).
	PrepaidPrincipalMinor int64 `json:"prepaid_principal_minor"`
	// RecoveryMinor: a payment on a charged-off loan.
	RecoveryMinor int64 `json:"recovery_minor"`
}

// TotalMinor sums the allocation.
func (a Allocation) TotalMinor() int64 {
	return a.PenaltyMinor + a.FeeMinor + a.OverdueInterestMinor + a.OverduePrincipalMinor + a.CurrentInterestMinor +
		a.CurrentPrincipalMinor + a.UnbilledInterestMinor + a.PrepaidPrincipalMinor + a.RecoveryMinor
}

// PrincipalMinor is the principal part of the allocation.
func (a Allocation) PrincipalMinor() int64 {
	return a.OverduePrincipalMinor + a.CurrentPrincipalMinor + a.PrepaidPrincipalMinor
}

// InterestMinor is the interest part of the allocation.
func (a Allocation) InterestMinor() int64 {
	return a.OverdueInterestMinor + a.CurrentInterestMinor + a.UnbilledInterestMinor
}

// Repayment is one accepted payment with its allocation and the loan's
// balances after it.
type Repayment struct {
	ID          int64      `json:"id"`
	LoanID      int64      `json:"loan_id"`
	MerchantID  string     `json:"merchant_id"`
	Currency    string     `json:"currency"`
	AmountMinor int64      `json:"amount_minor"`
	ValueDate   string     `json:"value_date"`
	Allocation  Allocation `json:"allocation"`
	EntryID     int64      `json:"entry_id"`
	// After is the loan after the repayment (balances and status).
	After     LoanBalances `json:"after"`
	CreatedAt time.Time    `json:"created_at"`
}

// LoanBalances is a loan's balances at one point.
type LoanBalances struct {
	Status                    LoanStatus `json:"status"`
	PrincipalOutstandingMinor int64      `json:"principal_outstanding_minor"`
	InterestReceivableMinor   int64      `json:"interest_receivable_minor"`
	PenaltyReceivableMinor    int64      `json:"penalty_receivable_minor"`
	FeeReceivableMinor        int64      `json:"fee_receivable_minor"`
	DPD                       int        `json:"dpd"`
}

// Balances extracts l's balances.
func (l *Loan) Balances() LoanBalances {
	return LoanBalances{Status: l.Status, PrincipalOutstandingMinor: l.PrincipalOutstandingMinor,
		InterestReceivableMinor: l.InterestReceivableMinor, PenaltyReceivableMinor: l.PenaltyReceivableMinor,
		FeeReceivableMinor: l.FeeReceivableMinor, DPD: l.DPD}
}

// PayoffQuote is what closes a loan on a date.
type PayoffQuote struct {
	LoanID         int64  `json:"loan_id"`
	Date           string `json:"date"`
	Currency       string `json:"currency"`
	PrincipalMinor int64  `json:"principal_minor"`
	InterestMinor  int64  `json:"interest_minor"`
	PenaltyMinor   int64  `json:"penalty_minor"`
	FeeMinor       int64  `json:"fee_minor"`
	TotalMinor     int64  `json:"total_minor"`
}

// Cmd identifies a mutating command: who issues it (the merchant the
// idempotency key is scoped to), its idempotency key and, optionally, the
// fingerprint of the client's request.
type Cmd struct {
	MerchantID     string
	IdempotencyKey string
	// RequestHash, when set (at most MaxRequestHashLen bytes, e.g. SHA-256 of
	// the HTTP method, path and body), is what the store compares to
	// recognise a retry under the key, instead of the command it led to: a
	// retried application then replays even after the credit line or the day
	// changed the decision it would take now. Empty: the command is hashed.
	RequestHash []byte
	// Line, when set on CreateApplication, is the credit line the caller
	// took the decision against. The store writes a new application only if
	// the merchant's line is still this one (SameLine) inside the command's
	// transaction, and otherwise fails with ErrLineChanged and writes
	// nothing; a stored key replays regardless. It lets a caller decide
	// against a line it keeps in memory (the API's line cache) and still
	// never store a decision taken on a line that is no longer current, even
	// when another process changed it. Other commands ignore it.
	Line *CreditLine
}

// ErrLineChanged is CreateApplication's refusal when Cmd.Line is no longer
// the merchant's credit line (or the line is gone): the caller reads the line
// again and decides again. Match it with errors.Is.
var ErrLineChanged = &lend.Error{Code: lend.ECONFLICT, Field: "credit_line",
	Message: "the credit line changed while the application was decided; retry"}

// SameLine reports whether a and b are the same state of a credit line:
// every field equal (floats bit for bit, times by instant, reasons element by
// element). Stores compare the line a decision was taken against with the
// stored one by it (Cmd.Line).
func SameLine(a, b CreditLine) bool {
	return a.MerchantID == b.MerchantID && a.Currency == b.Currency && a.LimitMinor == b.LimitMinor &&
		a.DrawnMinor == b.DrawnMinor && a.AvailableMinor == b.AvailableMinor && a.APR == b.APR && a.Grade == b.Grade &&
		math.Float64bits(a.Score) == math.Float64bits(b.Score) && math.Float64bits(a.PD) == math.Float64bits(b.PD) &&
		slices.Equal(a.Reasons, b.Reasons) && a.ModelID == b.ModelID && a.AsOf == b.AsOf && a.Status == b.Status &&
		a.FrozenReason == b.FrozenReason && a.UpdatedAt.Equal(b.UpdatedAt)
}

// MaxRequestHashLen bounds Cmd.RequestHash.
const MaxRequestHashLen = 64

// IdempotencyHash is the fingerprint a store keeps beside an idempotency key
// for operation op: of cmd.RequestHash when set, else of the command's
// canonical JSON (reqJSON). Both stores use it, so a key written by one
// replays on the other.
func IdempotencyHash(op string, cmd Cmd, reqJSON []byte) ([32]byte, error) {
	if n := len(cmd.RequestHash); n > 0 {
		if n > MaxRequestHashLen {
			return [32]byte{}, lend.FieldErrorf("request_hash", "longer than %d bytes", MaxRequestHashLen)
		}
		return sha256.Sum256(append([]byte(op+"\x00client\x00"), cmd.RequestHash...)), nil
	}
	return sha256.Sum256(append([]byte(op+"\x00"), reqJSON...)), nil
}

// MaxIdempotencyKeyLen bounds idempotency keys.
const MaxIdempotencyKeyLen = 255

// DrawRequest draws on a revolving credit line.
type DrawRequest struct {
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	On          string `json:"on"` // YYYY-MM-DD; empty: the business date
}

// RepayRequest repays a loan.
type RepayRequest struct {
	LoanID      int64  `json:"loan_id"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency,omitempty"` // optional; must match the loan
	ValueDate   string `json:"value_date,omitempty"`
}

// AcceptRequest accepts an application's offer and disburses the loan.
type AcceptRequest struct {
	ApplicationID int64     `json:"application_id"`
	On            string    `json:"on,omitempty"` // disbursement date; empty: the business date
	Now           time.Time `json:"-"`            // wall clock for offer expiry; zero: time.Now
}

// Account is a named ledger account.
type Account int

// Ledger accounts. Assets increase with debits; income with credits.
const (
	AcctLoanPrincipal      Account = 1 // asset: principal receivable
	AcctInterestReceivable Account = 2 // asset: interest accrued, not paid
	AcctPenaltyReceivable  Account = 3 // asset: penalty interest accrued, not paid
	AcctFeeReceivable      Account = 4 // asset: fees charged, not paid
	AcctSettlementCash     Account = 5 // asset: cash at the settlement bank
	AcctInterestIncome     Account = 6 // income
	AcctPenaltyIncome      Account = 7 // income
	AcctChargeOffExpense   Account = 8 // expense: principal and receivables written off
	AcctRecoveries         Account = 9 // income: cash collected after charge-off
)

// AccountNames maps accounts to their stable names.
var AccountNames = map[Account]string{
	AcctLoanPrincipal: "loan_principal", AcctInterestReceivable: "interest_receivable",
	AcctPenaltyReceivable: "penalty_receivable", AcctFeeReceivable: "fee_receivable",
	AcctSettlementCash: "settlement_cash", AcctInterestIncome: "interest_income",
	AcctPenaltyIncome: "penalty_income", AcctChargeOffExpense: "charge_off_expense", AcctRecoveries: "recoveries",
}

// String returns the account's name.
func (a Account) String() string { return AccountNames[a] }

// Entry kinds.
const (
	KindDisbursement = "disbursement"
	KindInterestDue  = "interest_due" // term installment interest recognised at its due date
	KindAccrual      = "accrual"      // revolving daily interest
	KindPenalty      = "penalty"
	KindRepayment    = "repayment"
	KindChargeOff    = "charge_off"
	KindRecovery     = "recovery"
)

// Posting is one leg of a journal entry: a debit or a credit on an account.
type Posting struct {
	Account     Account `json:"-"`
	AccountName string  `json:"account"`
	DebitMinor  int64   `json:"debit_minor"`
	CreditMinor int64   `json:"credit_minor"`
}

// JournalEntry is one balanced, immutable money movement.
type JournalEntry struct {
	ID           int64     `json:"id"`
	LoanID       int64     `json:"loan_id"`
	MerchantID   string    `json:"merchant_id"`
	Kind         string    `json:"kind"`
	BusinessDate string    `json:"business_date"`
	Postings     []Posting `json:"postings"`
	CreatedAt    time.Time `json:"created_at"`
}

// LoanFilter selects loans for listing.
type LoanFilter struct {
	MerchantID string
	Status     LoanStatus
	Cursor     string
	Limit      int
}

// CreditLineFilter selects credit lines for listing.
type CreditLineFilter struct {
	Status LineStatus
	Grade  string
	Cursor string
	Limit  int
}

// Page size limits for listings.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

// Portfolio summarises outstanding exposure for officers.
type Portfolio struct {
	AsOf             string                   `json:"as_of"`
	ByStatus         map[string]PortfolioCell `json:"by_status"`
	ByGrade          map[string]PortfolioCell `json:"by_grade"`
	ByBucket         map[string]PortfolioCell `json:"by_bucket"`
	OutstandingMinor int64                    `json:"outstanding_minor"`
	// PAR30Bps is the share of outstanding principal more than 30 days past
	// due, in basis points (rounded half-even).
	PAR30Bps int64 `json:"par30_bps"`
	// LinesByModel is the open (active or frozen) credit lines by the model
	// that last decided them: after a model is activated, the lines it has
	// not re-decided yet still show under the model before it.
	LinesByModel map[string]LineCell `json:"lines_by_model"`
	// par30Minor is the outstanding principal of active loans more than 30
	// days past due, summed by AddLoans for Finish.
	par30Minor int64
}

// PortfolioCell is a count and outstanding principal.
type PortfolioCell struct {
	Count            int64 `json:"count"`
	OutstandingMinor int64 `json:"outstanding_minor"`
}

// LineCell is a count of credit lines with their limits and drawn amounts.
type LineCell struct {
	Count      int64 `json:"count"`
	LimitMinor int64 `json:"limit_minor"`
	DrawnMinor int64 `json:"drawn_minor"`
}

// NewPortfolio is an empty portfolio as of the last closed business date
// (zero before the first close of business: as_of "").
func NewPortfolio(asOf Date) Portfolio {
	p := Portfolio{ByStatus: map[string]PortfolioCell{}, ByGrade: map[string]PortfolioCell{}, ByBucket: map[string]PortfolioCell{},
		LinesByModel: map[string]LineCell{}}
	if !asOf.IsZero() {
		p.AsOf = asOf.Format(DateLayout)
	}
	return p
}

// AddLoans counts c, the loans of one status, grade and bucket. Only active
// loans count in the grade, bucket, outstanding and PAR30 figures.
func (p *Portfolio) AddLoans(status, grade, bucket string, c PortfolioCell) {
	add := func(m map[string]PortfolioCell, k string) {
		x := m[k]
		x.Count += c.Count
		x.OutstandingMinor += c.OutstandingMinor
		m[k] = x
	}
	add(p.ByStatus, status)
	if status != string(LoanActive) {
		return
	}
	add(p.ByGrade, grade)
	add(p.ByBucket, bucket)
	p.OutstandingMinor += c.OutstandingMinor
	if bucket != BucketCurrent && bucket != Bucket1to30 {
		p.par30Minor += c.OutstandingMinor
	}
}

// AddLines counts c, the open credit lines last decided by modelID.
func (p *Portfolio) AddLines(modelID string, c LineCell) {
	x := p.LinesByModel[modelID]
	x.Count += c.Count
	x.LimitMinor += c.LimitMinor
	x.DrawnMinor += c.DrawnMinor
	p.LinesByModel[modelID] = x
}

// Rows is what a store's portfolio queries return (*sql.Rows, pgx.Rows).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
}

// AddLoanRows adds rows of (status, grade, bucket, count, outstanding
// principal), each store's query of its loans grouped by the first three,
// with AddLoans, then sets PAR30. The caller checks the rows'
// error and closes them.
func (p *Portfolio) AddLoanRows(rows Rows) error {
	for rows.Next() {
		var status, grade, bucket string
		var c PortfolioCell
		if err := rows.Scan(&status, &grade, &bucket, &c.Count, &c.OutstandingMinor); err != nil {
			return err
		}
		p.AddLoans(status, grade, bucket, c)
	}
	p.Finish()
	return nil
}

// AddLineRows adds rows of (model id, count, limit, drawn), each store's
// query of its open (active or frozen) lines grouped by model, with AddLines.
// The caller checks the rows' error and closes them.
func (p *Portfolio) AddLineRows(rows Rows) error {
	for rows.Next() {
		var model string
		var c LineCell
		if err := rows.Scan(&model, &c.Count, &c.LimitMinor, &c.DrawnMinor); err != nil {
			return err
		}
		p.AddLines(model, c)
	}
	return nil
}

// Finish sets PAR30 once every loan is added.
func (p *Portfolio) Finish() {
	p.PAR30Bps = Bps(p.par30Minor, p.OutstandingMinor)
}

// Bps is part/total in basis points, rounded half-even (0 when total is 0).
func Bps(part, total int64) int64 {
	if total == 0 {
		return 0
	}
	r := new(big.Rat).SetFrac64(part, total)
	return RoundHalfEven(r.Mul(r, big.NewRat(10000, 1)))
}

// EODReport summarises one close-of-business run.
type EODReport struct {
	From          string `json:"from"` // first date processed ("" if already closed)
	Through       string `json:"through"`
	Days          int    `json:"days"`
	InterestDue   int64  `json:"interest_due_entries"`
	Accruals      int64  `json:"accrual_entries"`
	Statements    int64  `json:"statements"`
	Penalties     int64  `json:"penalty_entries"`
	ChargeOffs    int64  `json:"charge_offs"`
	Delinquent    int64  `json:"delinquent_loans"`
	FrozenLines   int64  `json:"lines_frozen"`
	UnfrozenLines int64  `json:"lines_unfrozen"`
	// KeysExpired counts the idempotency keys older than the policy's
	// retention deleted by this run (at most MaxIdempotencyKeysPerEOD).
	KeysExpired int64 `json:"idempotency_keys_expired"`
}

// ReconcileReport lists every difference between the journal and the loan
// tables. Clean means none.
type ReconcileReport struct {
	Loans       int64    `json:"loans"`
	Entries     int64    `json:"entries"`
	Differences []string `json:"differences"`
}

// Clean reports whether reconcile found nothing.
func (r ReconcileReport) Clean() bool { return len(r.Differences) == 0 }

// Who changed a credit line (CreditLineChange.Source).
const (
	SourceRefresh  = "refresh"  // the nightly limit refresh (UpsertCreditLines)
	SourceRealtime = "realtime" // a re-decision after ingested transactions (ApplyLineDecision)
)

// LineDecision is a re-decision of one merchant's credit line between nightly
// refreshes. The store applies the guard rails atomically with the change:
// an increase is capped so the limit never exceeds the day's opening limit
// (the limit at the first change of Now's UTC day, or the current limit when
// there was none) plus MaxDailyIncreaseMinor; a decrease takes effect at once
// but never below what is drawn; a frozen or closed line keeps its limit and
// status. Every call is recorded in the credit line's history, with reasons.
type LineDecision struct {
	Line                  CreditLineUpdate
	Source                string // SourceRealtime unless stated
	MaxDailyIncreaseMinor int64  // >= 0; 0 = no automatic increase
	// LimitStepMinor (>= 0, the model policy's limit step) rounds a limit
	// capped by the daily bound down to a whole step, as every limit the
	// policy sets is; 0 or 1 leaves it exact.
	LimitStepMinor int64
	Now            time.Time // the change's time; its UTC day is the bound's day
}

// Validate checks a LineDecision before a store's transaction starts, and
// fills the default source.
func (d *LineDecision) Validate() error {
	u := &d.Line
	switch {
	case strings.TrimSpace(u.MerchantID) == "":
		return lend.FieldErrorf("merchant_id", "is required")
	case u.LimitMinor < 0 || u.LimitMinor > MaxAmountMinor:
		return lend.FieldErrorf("limit_minor", "must be between 0 and %d", MaxAmountMinor)
	case u.APR < 0 || int64(u.APR) > MaxRateMicro:
		return lend.FieldErrorf("apr", "out of range")
	case d.MaxDailyIncreaseMinor < 0 || d.MaxDailyIncreaseMinor > MaxAmountMinor:
		return lend.FieldErrorf("max_daily_increase_minor", "must be between 0 and %d", MaxAmountMinor)
	case d.LimitStepMinor < 0 || d.LimitStepMinor > MaxAmountMinor:
		return lend.FieldErrorf("limit_step_minor", "must be between 0 and %d", MaxAmountMinor)
	case d.Now.IsZero():
		return lend.FieldErrorf("now", "is required")
	}
	if d.Source == "" {
		d.Source = SourceRealtime
	}
	if d.Source != SourceRealtime && d.Source != SourceRefresh {
		return lend.FieldErrorf("source", "must be %s or %s", SourceRealtime, SourceRefresh)
	}
	return nil
}

// CapDailyIncrease bounds a proposed increase of a line currently at
// currentMinor: at most the day's opening limit plus maxDailyMinor, rounded
// down to a whole stepMinor, and never below the current limit (a cap never
// lowers a line). It returns the limit and GuardDailyIncreaseCap when the
// bound acted.
func CapDailyIncrease(proposedMinor, currentMinor, openingMinor, maxDailyMinor, stepMinor int64) (int64, string) {
	ceiling := openingMinor + maxDailyMinor
	if stepMinor > 1 {
		ceiling -= ceiling % stepMinor
	}
	if proposedMinor <= ceiling {
		return proposedMinor, ""
	}
	return max(currentMinor, ceiling), GuardDailyIncreaseCap
}

// CreditLineChange is one entry of a credit line's audit trail: what changed,
// from what to what, why, and which guard rail acted.
type CreditLineChange struct {
	ID             int64     `json:"id"`
	MerchantID     string    `json:"merchant_id"`
	At             time.Time `json:"at"`
	Source         string    `json:"source"`
	Change         string    `json:"change"` // new, raised, lowered, unchanged, frozen
	PrevLimitMinor int64     `json:"prev_limit_minor"`
	LimitMinor     int64     `json:"limit_minor"`
	// ProposedLimitMinor is what the model and policy asked for, before the
	// guard rails.
	ProposedLimitMinor int64    `json:"proposed_limit_minor"`
	DrawnMinor         int64    `json:"drawn_minor"`
	PrevAPR            Rate     `json:"prev_apr"`
	APR                Rate     `json:"apr"`
	Grade              string   `json:"grade"`
	Score              float64  `json:"score"`
	PD                 float64  `json:"pd"`
	ModelID            string   `json:"model_id"`
	AsOf               string   `json:"as_of"`
	Reasons            []string `json:"reasons"`
	// GuardRail names the rule that bounded the change ("" when none):
	// daily_increase_cap, drawn_floor, frozen.
	GuardRail string `json:"guard_rail,omitempty"`
}

// Guard rails named in CreditLineChange.GuardRail.
const (
	GuardDailyIncreaseCap = "daily_increase_cap"
	GuardDrawnFloor       = "drawn_floor"
	GuardFrozen           = "frozen"
)

// CommitObserver is implemented by a store whose writer groups commands into
// one transaction (the SQLite store): observe is called after every group's
// successful COMMIT with the commands it held and how long the COMMIT took
// (its fsync included), for the operator's metrics (a failed COMMIT fails
// its commands, which the API counts as errors). Setting it again replaces it.
type CommitObserver interface {
	ObserveCommits(observe func(commands int, commitDuration time.Duration))
}

// Store is the loans persistence boundary. Every mutating method is one
// atomic command: it takes a Cmd whose idempotency key (scoped by merchant) is
// stored in the same transaction, so a retry returns the original result and
// the same key with different content is EUNPROCESSABLE. Errors are *lend.Error.
type Store interface {
	// UpsertCreditLines writes the nightly refresh (frozen lines stay frozen;
	// a limit never drops below what is drawn). Fresh data lifts a
	// FrozenByStaleData freeze in the same transaction: the line becomes
	// active, or frozen for delinquency (limit and APR kept) when the merchant
	// has a loan past due or charged off and not recovered.
	UpsertCreditLines(ctx context.Context, lines []CreditLineUpdate) (RefreshSummary, error)
	// FreezeStaleLines freezes for FrozenByStaleData each listed line that is
	// still active with the listed as-of (conditionally, in one transaction,
	// with a refresh entry in its history: change frozen, limit and drawn
	// kept) and returns the merchants it froze, in input order.
	FreezeStaleLines(ctx context.Context, lines []StaleLine) (frozen []string, err error)
	CreditLine(ctx context.Context, merchantID string) (CreditLine, error)
	ListCreditLines(ctx context.Context, f CreditLineFilter) (lines []CreditLine, next string, err error)
	// ApplyLineDecision re-decides one merchant's line with the guard rails
	// of LineDecision and records the change; ENOTFOUND without a line.
	ApplyLineDecision(ctx context.Context, d LineDecision) (CreditLineChange, error)
	// CreditLineHistory lists a merchant's line changes, newest first,
	// paged like the other listings (limit 0 = DefaultPageSize).
	CreditLineHistory(ctx context.Context, merchantID string, limit int, cursor string) (changes []CreditLineChange, next string, err error)

	CreateApplication(ctx context.Context, cmd Cmd, app Application) (Application, error)
	Application(ctx context.Context, id int64) (Application, error)
	// AcceptApplication turns an open, unexpired offer into an active,
	// disbursed loan (journal entry posted, credit line drawn).
	AcceptApplication(ctx context.Context, cmd Cmd, req AcceptRequest) (Loan, error)
	// Draw opens a revolving draw on the merchant's credit line.
	Draw(ctx context.Context, cmd Cmd, req DrawRequest) (Loan, error)
	Repay(ctx context.Context, cmd Cmd, req RepayRequest) (Repayment, error)
	// PayoffQuote is what settles the loan on date on; a zero date is the
	// open business day, the value date a repayment without one takes, so
	// that paying the quote without a date closes the loan.
	PayoffQuote(ctx context.Context, loanID int64, on Date) (PayoffQuote, error)

	Loan(ctx context.Context, id int64) (Loan, error)
	Schedule(ctx context.Context, loanID int64) ([]Installment, error)
	ListLoans(ctx context.Context, f LoanFilter) (loans []Loan, next string, err error)
	Repayments(ctx context.Context, loanID int64) ([]Repayment, error)
	Journal(ctx context.Context, loanID int64) ([]JournalEntry, error)
	Portfolio(ctx context.Context) (Portfolio, error)

	// BusinessDate is the last closed business date (zero before the first EOD).
	BusinessDate(ctx context.Context) (Date, error)
	// CloseOfBusiness closes every day after the last closed one through the
	// given date, in order, one transaction per day.
	CloseOfBusiness(ctx context.Context, through Date, progress func(day Date)) (EODReport, error)
	Reconcile(ctx context.Context) (ReconcileReport, error)
	Close() error
}

// ValidateStaleLines checks a FreezeStaleLines batch before a store's
// transaction starts: at most maxBatch rows, each naming a merchant.
func ValidateStaleLines(lines []StaleLine, maxBatch int) error {
	if len(lines) > maxBatch {
		return lend.Errorf(lend.ETOOLARGE, "%d credit lines in one batch; the limit is %d", len(lines), maxBatch)
	}
	for i, l := range lines {
		if strings.TrimSpace(l.MerchantID) == "" {
			return lend.FieldErrorf("merchant_id", "row %d: is required", i)
		}
	}
	return nil
}

// StaleFreezeChange is the history entry of a stale-data freeze of line l
// (as read before the freeze) at at: source refresh, change frozen, limit,
// price and assessment kept, the reason stale_data (so the trail tells it
// from a refresh that found the line frozen for delinquency).
func StaleFreezeChange(l CreditLine, at time.Time) CreditLineChange {
	return CreditLineChange{MerchantID: l.MerchantID, At: at.UTC(), Source: SourceRefresh, Change: "frozen",
		PrevLimitMinor: l.LimitMinor, LimitMinor: l.LimitMinor, ProposedLimitMinor: l.LimitMinor, DrawnMinor: l.DrawnMinor,
		PrevAPR: l.APR, APR: l.APR, Grade: l.Grade, Score: l.Score, PD: l.PD, ModelID: l.ModelID, AsOf: l.AsOf,
		Reasons: []string{FrozenByStaleData}, GuardRail: GuardFrozen}
}
