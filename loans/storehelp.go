package loans

// Helpers shared by the store implementations (loans/sqlite, loans/postgres):
// domain rules that must not differ between them.

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/lendhq/lend"
)

// PageSize resolves a list request's limit: 0 is DefaultPageSize; outside
// 1..MaxPageSize is EINVALID naming "limit".
func PageSize(n int) (int, error) {
	switch {
	case n == 0:
		return DefaultPageSize, nil
	case n < 0 || n > MaxPageSize:
		return 0, lend.FieldErrorf("limit", "must be between 1 and %d", MaxPageSize)
	}
	return n, nil
}

// EncodeCursor makes a store's position (the last key returned) an opaque
// cursor for the next page.
func EncodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// DecodeCursor reads a cursor EncodeCursor issued; anything else (or longer
// than 256 bytes) is EINVALID naming "cursor".
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 256 {
		return "", lend.FieldErrorf("cursor", "is not a cursor this API issued")
	}
	return string(b), nil
}

// CheckDraw refuses a draw the line cannot carry: a non-positive or
// oversized amount, another currency, a line that is not active (ECONFLICT),
// or more than is available (EINSUFFICIENT).
func CheckDraw(line CreditLine, amountMinor int64, currency string) error {
	if amountMinor <= 0 {
		return lend.FieldErrorf("amount_minor", "must be > 0")
	}
	if amountMinor > MaxAmountMinor {
		return lend.FieldErrorf("amount_minor", "exceeds the maximum %d", MaxAmountMinor)
	}
	if currency != "" && currency != line.Currency {
		return lend.FieldErrorf("currency", "%s does not match the credit line currency %s", currency, line.Currency)
	}
	if line.Status != LineActive {
		return lend.Errorf(lend.ECONFLICT, "credit line of merchant %s is %s%s", line.MerchantID, line.Status, frozenWhy(line))
	}
	if amountMinor > line.AvailableMinor {
		return &lend.Error{Code: lend.EINSUFFICIENT, Field: "amount_minor", Message: "amount_minor: " +
			FormatMinor(amountMinor) + " exceeds the available credit " + FormatMinor(line.AvailableMinor)}
	}
	return nil
}

// frozenWhy tells a merchant refused new credit why the line is frozen and
// what lifts the freeze ("" unless frozen).
func frozenWhy(l CreditLine) string {
	switch {
	case l.Status != LineFrozen:
		return ""
	case l.FrozenReason == FrozenByDelinquency:
		return " (delinquency: a loan is past due; the freeze is lifted at the close of business after no loan is past due)"
	case l.FrozenReason == FrozenByStaleData:
		return " (stale_data: no recent sales data; the nightly refresh lifts the freeze once the merchant's sales data arrives again, unless a loan is past due)"
	case l.FrozenReason != "":
		return " (" + l.FrozenReason + ")"
	}
	return ""
}

// RefreshChange is the history row of one nightly refresh write.
func RefreshChange(u CreditLineUpdate, at time.Time, change string, prevLimit, limit, drawn int64, prevAPR Rate, guard string) CreditLineChange {
	return CreditLineChange{MerchantID: u.MerchantID, At: at.UTC(), Source: SourceRefresh, Change: change,
		PrevLimitMinor: prevLimit, LimitMinor: limit, ProposedLimitMinor: u.LimitMinor, DrawnMinor: drawn,
		PrevAPR: prevAPR, APR: u.APR, Grade: u.Grade, Score: u.Score, PD: u.PD, ModelID: u.ModelID, AsOf: u.AsOf,
		Reasons: u.Reasons, GuardRail: guard}
}

// ValidateCreditLineUpdates checks a refresh batch before a store writes it:
// at most maxBatch rows, each with a merchant, a limit and APR in range and
// an ISO 4217 currency; the first bad row is named.
func ValidateCreditLineUpdates(lines []CreditLineUpdate, maxBatch int) error {
	if len(lines) > maxBatch {
		return lend.Errorf(lend.ETOOLARGE, "%d credit lines in one batch; the limit is %d", len(lines), maxBatch)
	}
	for i, u := range lines {
		switch {
		case strings.TrimSpace(u.MerchantID) == "":
			return lend.FieldErrorf("merchant_id", "row %d: is required", i)
		case u.LimitMinor < 0 || u.LimitMinor > MaxAmountMinor:
			return lend.FieldErrorf("limit_minor", "row %d: must be between 0 and %d", i, MaxAmountMinor)
		case u.APR < 0 || int64(u.APR) > MaxRateMicro:
			return lend.FieldErrorf("apr", "row %d: out of range", i)
		case len(u.Currency) != 3:
			return lend.FieldErrorf("currency", "row %d: %q is not an ISO 4217 code", i, u.Currency)
		}
	}
	return nil
}

// TermLoanFromOffer is the active term loan (not yet stored) and its
// schedule that accepting app's offer disburses on date on for merchantID,
// on the merchant's line under policy: the level installment is the first
// installment's total (its principal for equal-principal), and the grade is
// the application's, else the line's.
func TermLoanFromOffer(app Application, line CreditLine, merchantID string, policy Policy, on Date, now time.Time) (Loan, []Installment, error) {
	t := Terms{PrincipalMinor: app.Offer.AmountMinor, Rate: app.Offer.APR, Periods: app.Offer.TermPeriods, Method: app.Method,
		Frequency: app.Frequency, EveryDays: app.EveryDays, DayCount: app.DayCount, Start: on}
	sched, err := BuildSchedule(t)
	if err != nil {
		return Loan{}, nil, err
	}
	level := sched[0].TotalMinor()
	if t.Method == EqualPrincipal {
		level = sched[0].PrincipalMinor
	}
	l := Loan{MerchantID: merchantID, ApplicationID: app.ID, Product: ProductTerm, Currency: line.Currency,
		Status: LoanActive, Grade: app.Grade, APR: t.Rate, PenaltyRate: policy.PenaltyRate, Method: t.Method,
		Frequency: t.Frequency, EveryDays: t.EveryDays, DayCount: t.DayCount, TermPeriods: t.Periods, Strategy: policy.Strategy,
		Reschedule: policy.Reschedule, InstallmentMinor: level, PrincipalMinor: t.PrincipalMinor, DisbursedOn: on,
		PrincipalOutstandingMinor: t.PrincipalMinor, Bucket: BucketCurrent, LastAccrualDate: on, CreatedAt: now}
	if l.Grade == "" {
		l.Grade = line.Grade
	}
	return l, sched, nil
}

// LoanLister is the part of a Store that MerchantDelinquent reads.
type LoanLister interface {
	ListLoans(ctx context.Context, f LoanFilter) (loans []Loan, next string, err error)
}

// MerchantDelinquent reports whether merchantID has a loan past due, or
// charged off and not fully recovered: the predicate close of business
// freezes a line on. A line frozen for stale data hides it (close of
// business freezes only active lines), so the nightly refresh, the real-time
// re-decision and the application decision read it from the loans.
func MerchantDelinquent(ctx context.Context, st LoanLister, merchantID string) (bool, error) {
	cursor := ""
	for {
		page, next, err := st.ListLoans(ctx, LoanFilter{MerchantID: merchantID, Cursor: cursor, Limit: MaxPageSize})
		if err != nil {
			return false, err
		}
		for _, l := range page {
			if (l.Status == LoanActive && l.DPD > 0) || (l.Status == LoanChargedOff && l.RecoveredMinor < l.ChargedOffMinor) {
				return true, nil
			}
		}
		if next == "" || len(page) == 0 {
			return false, nil
		}
		cursor = next
	}
}
