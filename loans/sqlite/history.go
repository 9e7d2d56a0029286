package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

const historyCols = `id, merchant_id, at, source, change, prev_limit_minor, limit_minor, proposed_limit_minor, drawn_minor,
	prev_apr_micro, apr_micro, grade, score, pd, model_id, as_of, reasons, guard_rail`

// ApplyLineDecision re-decides one merchant's line with the guard rails of
// loans.LineDecision, in one writer transaction with its history row.
func (s *Store) ApplyLineDecision(ctx context.Context, d loans.LineDecision) (loans.CreditLineChange, error) {
	if err := d.Validate(); err != nil {
		return loans.CreditLineChange{}, err
	}
	v, err := s.exec(ctx, false, func(tx *Tx) (any, error) {
		line, err := loadLine(tx, d.Line.MerchantID)
		if err != nil {
			return nil, err
		}
		c := decideLine(tx, line, d)
		if c.err != nil {
			return nil, c.err
		}
		u := d.Line
		reasons := reasonsJSON(u.Reasons)
		if _, err := tx.Exec(`UPDATE credit_lines SET limit_minor = ?, apr_micro = ?, grade = ?, score = ?, pd = ?, reasons = ?,
			model_id = ?, as_of = ?, updated_at = ? WHERE merchant_id = ?`, c.LimitMinor, int64(c.APR), u.Grade, u.Score, u.PD,
			reasons, u.ModelID, u.AsOf, nowText(d.Now), u.MerchantID); err != nil {
			return nil, internal(err, "update credit line")
		}
		id, err := insertHistory(tx, &c.CreditLineChange)
		if err != nil {
			return nil, err
		}
		c.ID = id
		return c.CreditLineChange, nil
	})
	if err != nil {
		return loans.CreditLineChange{}, err
	}
	return v.(loans.CreditLineChange), nil
}

// decided is a change worked out inside the transaction (err when the
// opening limit could not be read).
type decided struct {
	loans.CreditLineChange
	err error
}

// decideLine applies the guard rails to d against the stored line.
func decideLine(tx *Tx, line loans.CreditLine, d loans.LineDecision) decided {
	u := d.Line
	c := loans.CreditLineChange{MerchantID: u.MerchantID, At: d.Now.UTC(), Source: d.Source,
		PrevLimitMinor: line.LimitMinor, LimitMinor: line.LimitMinor, ProposedLimitMinor: u.LimitMinor,
		DrawnMinor: line.DrawnMinor, PrevAPR: line.APR, APR: line.APR, Grade: u.Grade, Score: u.Score, PD: u.PD,
		ModelID: u.ModelID, AsOf: u.AsOf, Reasons: append([]string{}, u.Reasons...)}
	if line.Status != loans.LineActive {
		// Frozen or closed: limit, price and status stand; the assessment is recorded.
		c.Change, c.GuardRail = "frozen", loans.GuardFrozen
		return decided{CreditLineChange: c}
	}
	c.APR = u.APR
	limit := u.LimitMinor
	if limit > line.LimitMinor {
		opening, err := openingLimit(tx, u.MerchantID, d.Now, line.LimitMinor)
		if err != nil {
			return decided{err: err}
		}
		limit, c.GuardRail = loans.CapDailyIncrease(limit, line.LimitMinor, opening, d.MaxDailyIncreaseMinor, d.LimitStepMinor)
	}
	if limit < line.DrawnMinor {
		limit = line.DrawnMinor
		c.GuardRail = loans.GuardDrawnFloor
	}
	c.LimitMinor = limit
	switch {
	case limit > line.LimitMinor:
		c.Change = "raised"
	case limit < line.LimitMinor:
		c.Change = "lowered"
	default:
		c.Change = "unchanged"
	}
	return decided{CreditLineChange: c}
}

// openingLimit is the limit the merchant's line had when now's UTC day began:
// the previous limit of the day's first recorded change (the new limit when
// that change opened the line), or current when the day has none.
func openingLimit(tx *Tx, merchantID string, now time.Time, current int64) (int64, error) {
	var prev, limit int64
	var change string
	err := tx.QueryRow(`SELECT prev_limit_minor, limit_minor, change FROM credit_line_history
		WHERE merchant_id = ? AND day = ? ORDER BY id LIMIT 1`, merchantID, now.UTC().Format(loans.DateLayout)).Scan(&prev, &limit, &change)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return current, nil
	case err != nil:
		return 0, internal(err, "credit line history")
	case change == "new":
		return limit, nil
	}
	return prev, nil
}

func reasonsJSON(r []string) string {
	if r == nil {
		return "[]"
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// insertHistory records one change and returns its id.
func insertHistory(tx *Tx, c *loans.CreditLineChange) (int64, error) {
	res, err := tx.Exec(`INSERT INTO credit_line_history (merchant_id, at, day, source, change, prev_limit_minor, limit_minor,
		proposed_limit_minor, drawn_minor, prev_apr_micro, apr_micro, grade, score, pd, model_id, as_of, reasons, guard_rail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.MerchantID, nowText(c.At), c.At.UTC().Format(loans.DateLayout), c.Source, c.Change, c.PrevLimitMinor, c.LimitMinor,
		c.ProposedLimitMinor, c.DrawnMinor, int64(c.PrevAPR), int64(c.APR), c.Grade, c.Score, c.PD, c.ModelID, c.AsOf,
		reasonsJSON(c.Reasons), c.GuardRail)
	if err != nil {
		return 0, internal(err, "record credit line change")
	}
	return res.LastInsertId()
}

// CreditLineHistory lists a merchant's line changes, newest first; the
// cursor is the last id returned.
func (s *Store) CreditLineHistory(ctx context.Context, merchantID string, limit int, cursor string) ([]loans.CreditLineChange, string, error) {
	n, err := loans.PageSize(limit)
	if err != nil {
		return nil, "", err
	}
	before := int64(1<<63 - 1)
	if cursor != "" {
		c, err := loans.DecodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before <= 0 {
			return nil, "", lend.FieldErrorf("cursor", "is not a cursor this API issued")
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+historyCols+` FROM credit_line_history
		WHERE merchant_id = ? AND id < ? ORDER BY id DESC LIMIT ?`, merchantID, before, n+1)
	if err != nil {
		return nil, "", internal(err, "credit line history")
	}
	defer rows.Close()
	out := []loans.CreditLineChange{}
	for rows.Next() {
		var c loans.CreditLineChange
		var at, reasons string
		if err := rows.Scan(&c.ID, &c.MerchantID, &at, &c.Source, &c.Change, &c.PrevLimitMinor, &c.LimitMinor,
			&c.ProposedLimitMinor, &c.DrawnMinor, &c.PrevAPR, &c.APR, &c.Grade, &c.Score, &c.PD, &c.ModelID, &c.AsOf,
			&reasons, &c.GuardRail); err != nil {
			return nil, "", internal(err, "scan credit line history")
		}
		c.At = parseTime(at)
		_ = json.Unmarshal([]byte(reasons), &c.Reasons)
		if c.Reasons == nil {
			c.Reasons = []string{}
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", internal(err, "credit line history")
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		next = loans.EncodeCursor(strconv.FormatInt(out[n-1].ID, 10))
	}
	return out, next, nil
}
