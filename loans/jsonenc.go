package loans

import (
	"encoding/json"
	"strconv"
	"time"
)

// A decision's response is an Application and its schedule preview, encoded
// on every POST /v1/applications (and the application once more for the
// store). encoding/json's reflection was about a tenth of a decision's CPU,
// so these two types have hand-written encoders that produce exactly
// encoding/json's bytes for the values they accept: integers, and strings
// of printable ASCII without '"', '\\', '<', '>' or '&' (which encoding/json
// writes as they are, with or without HTML escaping), and times it can
// encode. Anything else — an escape, non-ASCII or invalid UTF-8, a time it
// refuses — is left to encoding/json (ok false), so the output never
// differs; FuzzApplicationJSON and FuzzInstallmentsJSON compare the two.

// MarshalApplication is json.Marshal(app), byte for byte.
func MarshalApplication(app *Application) ([]byte, error) {
	b := make([]byte, 0, 512)
	b = append(b, '{')
	if b, ok := AppendApplicationFields(b, app); ok {
		return append(b, '}'), nil
	}
	return json.Marshal(app)
}

// AppendApplicationFields appends the members of app's JSON object, as
// encoding/json writes them, without the braces (so a caller can add members
// of a struct that embeds Application). ok false: app holds a value the
// fast path does not encode, b is returned unchanged and the caller uses
// encoding/json.
func AppendApplicationFields(b []byte, app *Application) (_ []byte, ok bool) {
	if !plain(app.MerchantID) || !plain(app.Currency) || !plain(string(app.Product)) || !plain(string(app.Method)) ||
		!plain(string(app.Frequency)) || !plain(string(app.DayCount)) || !plain(app.Decision) || !plain(app.ModelID) ||
		!plain(app.Grade) || !plain(app.Status) {
		return b, false
	}
	for _, r := range app.Reasons {
		if !plain(r) {
			return b, false
		}
	}
	start := len(b)
	b = appendInt(b, `"id":`, app.ID)
	b = appendStr(b, `,"merchant_id":`, app.MerchantID)
	b = appendStr(b, `,"currency":`, app.Currency)
	b = appendInt(b, `,"amount_minor":`, app.AmountMinor)
	b = appendStr(b, `,"product":`, string(app.Product))
	b = appendInt(b, `,"term_periods":`, int64(app.TermPeriods))
	b = appendStr(b, `,"method":`, string(app.Method))
	b = appendStr(b, `,"frequency":`, string(app.Frequency))
	if app.EveryDays != 0 {
		b = appendInt(b, `,"every_days":`, int64(app.EveryDays))
	}
	b = appendStr(b, `,"day_count":`, string(app.DayCount))
	b = appendStr(b, `,"decision":`, app.Decision)
	b = append(b, `,"reasons":`...)
	if app.Reasons == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range app.Reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendStr(b, "", r)
		}
		b = append(b, ']')
	}
	b = appendStr(b, `,"model_id":`, app.ModelID)
	b = appendStr(b, `,"grade":`, app.Grade)
	if o := app.Offer; o != nil {
		b = appendInt(b, `,"offer":{"amount_minor":`, o.AmountMinor)
		b = appendStr(b, `,"apr":`, o.APR.String())
		b = appendInt(b, `,"term_periods":`, int64(o.TermPeriods))
		b = appendInt(b, `,"installment_minor":`, o.InstallmentMinor)
		b = appendInt(b, `,"total_interest_minor":`, o.TotalInterestMinor)
		if b, ok = appendTime(b, `,"expires_at":`, o.ExpiresAt); !ok {
			return b[:start], false
		}
		b = append(b, '}')
	}
	b = appendStr(b, `,"status":`, app.Status)
	if app.LoanID != 0 {
		b = appendInt(b, `,"loan_id":`, app.LoanID)
	}
	if b, ok = appendTime(b, `,"created_at":`, app.CreatedAt); !ok {
		return b[:start], false
	}
	return b, true
}

// AppendInstallmentsJSON appends the JSON array of s as encoding/json
// writes it (null for nil); ok false as AppendApplicationFields.
func AppendInstallmentsJSON(b []byte, s []Installment) (_ []byte, ok bool) {
	if s == nil {
		return append(b, "null"...), true
	}
	for i := range s {
		if !plain(s[i].DueDateText) {
			return b, false
		}
	}
	b = append(b, '[')
	for i := range s {
		in := &s[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendInt(b, `{"seq":`, int64(in.Seq))
		b = appendStr(b, `,"due_date":`, in.DueDateText)
		b = appendInt(b, `,"principal_minor":`, in.PrincipalMinor)
		b = appendInt(b, `,"interest_minor":`, in.InterestMinor)
		b = appendInt(b, `,"principal_paid_minor":`, in.PrincipalPaidMinor)
		b = appendInt(b, `,"interest_paid_minor":`, in.InterestPaidMinor)
		b = appendInt(b, `,"balance_after_minor":`, in.BalanceAfterMinor)
		if in.CarriedInterestMinor != 0 {
			b = appendInt(b, `,"carried_interest_minor":`, in.CarriedInterestMinor)
		}
		if in.PenaltyMinor != 0 {
			b = appendInt(b, `,"penalty_minor":`, in.PenaltyMinor)
		}
		if in.PenaltyPaidMinor != 0 {
			b = appendInt(b, `,"penalty_paid_minor":`, in.PenaltyPaidMinor)
		}
		b = append(b, '}')
	}
	return append(b, ']'), true
}

// plain reports whether encoding/json writes s as it is between quotes,
// with or without HTML escaping.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

func appendInt(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

// appendStr appends key and the plain string s quoted.
func appendStr(b []byte, key, s string) []byte {
	b = append(append(b, key...), '"')
	return append(append(b, s...), '"')
}

// appendTime appends key and t as time.Time.MarshalJSON writes it; ok false
// when it refuses t (encoding/json then reports the error).
func appendTime(b []byte, key string, t time.Time) ([]byte, bool) {
	out, err := t.AppendText(append(append(b, key...), '"'))
	if err != nil {
		return b, false
	}
	return append(out, '"'), true
}
