package loans

// Helpers shared by the store implementations (loans/sqlite, loans/postgres):
// domain rules that must not differ between them.

import (
	"encoding/base64"
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
		return lend.Errorf(lend.ECONFLICT, "credit line of merchant %s is %s", line.MerchantID, line.Status)
	}
	if amountMinor > line.AvailableMinor {
		return &lend.Error{Code: lend.EINSUFFICIENT, Field: "amount_minor", Message: "amount_minor: " +
			FormatMinor(amountMinor) + " exceeds the available credit " + FormatMinor(line.AvailableMinor)}
	}
	return nil
}

// RefreshChange is the history row of one nightly refresh write.
func RefreshChange(u CreditLineUpdate, at time.Time, change string, prevLimit, limit, drawn int64, prevAPR Rate, guard string) CreditLineChange {
	return CreditLineChange{MerchantID: u.MerchantID, At: at.UTC(), Source: SourceRefresh, Change: change,
		PrevLimitMinor: prevLimit, LimitMinor: limit, ProposedLimitMinor: u.LimitMinor, DrawnMinor: drawn,
		PrevAPR: prevAPR, APR: u.APR, Grade: u.Grade, Score: u.Score, PD: u.PD, ModelID: u.ModelID, AsOf: u.AsOf,
		Reasons: u.Reasons, GuardRail: guard}
}
