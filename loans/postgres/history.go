package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// The credit line audit trail, as loans/sqlite/history.go: the guard rails
// are decided in Go inside the transaction that holds the line's row lock,
// so two processes re-deciding one line apply one after the other.

const historyCols = `id, merchant_id, at, source, change, prev_limit_minor, limit_minor, proposed_limit_minor, drawn_minor,
	prev_apr_micro, apr_micro, grade, score, pd, model_id, as_of, reasons, guard_rail`

// ApplyLineDecision re-decides one merchant's line with the guard rails of
// loans.LineDecision, in one transaction with its history row.
func (s *Store) ApplyLineDecision(ctx context.Context, d loans.LineDecision) (loans.CreditLineChange, error) {
	if err := d.Validate(); err != nil {
		return loans.CreditLineChange{}, err
	}
	var out loans.CreditLineChange
	err := s.inTx(ctx, modeCommand, func(tx pgx.Tx) error {
		line, err := lockLine(ctx, tx, d.Line.MerchantID)
		if err != nil {
			return err
		}
		c, err := decideLine(ctx, tx, line, d)
		if err != nil {
			return err
		}
		u := d.Line
		if _, err := tx.Exec(ctx, `UPDATE credit_lines SET limit_minor = $1, apr_micro = $2, grade = $3, score = $4, pd = $5, reasons = $6,
			model_id = $7, as_of = $8, updated_at = $9 WHERE merchant_id = $10`, c.LimitMinor, int64(c.APR), u.Grade, u.Score, u.PD,
			reasonsJSON(u.Reasons), u.ModelID, u.AsOf, nowText(d.Now), u.MerchantID); err != nil {
			return internal(err, "update credit line")
		}
		if err := insertHistory(ctx, tx, []loans.CreditLineChange{c}); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT currval(pg_get_serial_sequence('credit_line_history', 'id'))`).Scan(&c.ID); err != nil {
			return internal(err, "credit line history id")
		}
		out = c
		return nil
	})
	return out, err
}

// decideLine applies the guard rails to d against the stored line.
func decideLine(ctx context.Context, tx pgx.Tx, line loans.CreditLine, d loans.LineDecision) (loans.CreditLineChange, error) {
	u := d.Line
	c := loans.CreditLineChange{MerchantID: u.MerchantID, At: d.Now.UTC(), Source: d.Source,
		PrevLimitMinor: line.LimitMinor, LimitMinor: line.LimitMinor, ProposedLimitMinor: u.LimitMinor,
		DrawnMinor: line.DrawnMinor, PrevAPR: line.APR, APR: line.APR, Grade: u.Grade, Score: u.Score, PD: u.PD,
		ModelID: u.ModelID, AsOf: u.AsOf, Reasons: append([]string{}, u.Reasons...)}
	if line.Status != loans.LineActive {
		// Frozen or closed: limit, price and status stand; the assessment is recorded.
		c.Change, c.GuardRail = "frozen", loans.GuardFrozen
		return c, nil
	}
	c.APR = u.APR
	limit := u.LimitMinor
	if limit > line.LimitMinor {
		opening, err := openingLimit(ctx, tx, u.MerchantID, d.Now, line.LimitMinor)
		if err != nil {
			return c, err
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
	return c, nil
}

// openingLimit is the limit the merchant's line had when now's UTC day began:
// the previous limit of the day's first recorded change (the new limit when
// that change opened the line), or current when the day has none.
func openingLimit(ctx context.Context, tx pgx.Tx, merchantID string, now time.Time, current int64) (int64, error) {
	var prev, limit int64
	var change string
	err := tx.QueryRow(ctx, `SELECT prev_limit_minor, limit_minor, change FROM credit_line_history
		WHERE merchant_id = $1 AND day = $2 ORDER BY id LIMIT 1`, merchantID, now.UTC().Format(loans.DateLayout)).Scan(&prev, &limit, &change)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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

// insertHistory records changes, in order, with one statement.
func insertHistory(ctx context.Context, tx pgx.Tx, cs []loans.CreditLineChange) error {
	if len(cs) == 0 {
		return nil
	}
	n := len(cs)
	merchant, at, dayS, source, change := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	grade, model, asOf, reasons, guard := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	prevLimit, limit, proposed, drawn, prevAPR, apr := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	score, pd := make([]float64, n), make([]float64, n)
	for i, c := range cs {
		merchant[i], at[i], dayS[i], source[i], change[i] = c.MerchantID, nowText(c.At), c.At.UTC().Format(loans.DateLayout), c.Source, c.Change
		grade[i], model[i], asOf[i], reasons[i], guard[i] = c.Grade, c.ModelID, c.AsOf, reasonsJSON(c.Reasons), c.GuardRail
		prevLimit[i], limit[i], proposed[i], drawn[i], prevAPR[i], apr[i] = c.PrevLimitMinor, c.LimitMinor, c.ProposedLimitMinor, c.DrawnMinor, int64(c.PrevAPR), int64(c.APR)
		score[i], pd[i] = c.Score, c.PD
	}
	_, err := tx.Exec(ctx, `INSERT INTO credit_line_history (merchant_id, at, day, source, change, prev_limit_minor, limit_minor,
		proposed_limit_minor, drawn_minor, prev_apr_micro, apr_micro, grade, score, pd, model_id, as_of, reasons, guard_rail)
		SELECT merchant_id, at, day, source, change, prev_limit_minor, limit_minor, proposed_limit_minor, drawn_minor, prev_apr_micro,
			apr_micro, grade, score, pd, model_id, as_of, reasons, guard_rail
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
			$10::bigint[], $11::bigint[], $12::text[], $13::float8[], $14::float8[], $15::text[], $16::text[], $17::text[], $18::text[])
			WITH ORDINALITY AS u(merchant_id, at, day, source, change, prev_limit_minor, limit_minor, proposed_limit_minor, drawn_minor,
			prev_apr_micro, apr_micro, grade, score, pd, model_id, as_of, reasons, guard_rail, ord)
		ORDER BY ord`, merchant, at, dayS, source, change, prevLimit, limit, proposed, drawn, prevAPR, apr, grade, score, pd, model, asOf, reasons, guard)
	return internal(err, "record credit line change")
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
	rows, err := s.pool.Query(ctx, `SELECT `+historyCols+` FROM credit_line_history
		WHERE merchant_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, merchantID, before, n+1)
	if err != nil {
		return nil, "", internal(err, "credit line history")
	}
	defer rows.Close()
	out := []loans.CreditLineChange{}
	for rows.Next() {
		var c loans.CreditLineChange
		var at, reasons string
		var prevAPR, apr int64
		if err := rows.Scan(&c.ID, &c.MerchantID, &at, &c.Source, &c.Change, &c.PrevLimitMinor, &c.LimitMinor,
			&c.ProposedLimitMinor, &c.DrawnMinor, &prevAPR, &apr, &c.Grade, &c.Score, &c.PD, &c.ModelID, &c.AsOf,
			&reasons, &c.GuardRail); err != nil {
			return nil, "", internal(err, "scan credit line history")
		}
		c.PrevAPR, c.APR = loans.Rate(prevAPR), loans.Rate(apr)
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
