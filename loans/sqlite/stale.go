package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lendhq/lend/loans"
)

// delinquentSQL is true when merchant ? has a loan past due or charged off
// and not fully recovered: the predicate close of business freezes on.
const delinquentSQL = `EXISTS (SELECT 1 FROM loans WHERE merchant_id = ? AND
	((status = 'active' AND dpd > 0) OR (status = 'charged_off' AND recovered_minor < charged_off_minor)))`

// FreezeStaleLines freezes for stale data, in one writer transaction, each
// listed line still active with the listed as-of, recording each freeze in
// the line's history; it returns the merchants frozen.
func (s *Store) FreezeStaleLines(ctx context.Context, lines []loans.StaleLine) ([]string, error) {
	if err := loans.ValidateStaleLines(lines, MaxRefreshBatch); err != nil {
		return nil, err
	}
	v, err := s.exec(ctx, true, func(tx *Tx) (any, error) {
		at := s.now()
		frozen := []string{}
		for _, sl := range lines {
			ok, err := freezeStale(tx, sl, at)
			if err != nil {
				return nil, err
			}
			if ok {
				frozen = append(frozen, sl.MerchantID)
			}
		}
		return frozen, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]string), nil
}

// freezeStale freezes one line if it is still active with the as-of the
// caller read (the writer transaction makes the read and the write one step).
func freezeStale(tx *Tx, sl loans.StaleLine, at time.Time) (bool, error) {
	l, err := scanLine(tx.QueryRow(`SELECT `+lineCols+` FROM credit_lines WHERE merchant_id = ? AND status = 'active' AND as_of = ?`,
		sl.MerchantID, sl.AsOf))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, internal(err, "read credit line")
	}
	if _, err := tx.Exec(`UPDATE credit_lines SET status = 'frozen', frozen_reason = ?, updated_at = ?
		WHERE merchant_id = ? AND status = 'active' AND as_of = ?`, loans.FrozenByStaleData, nowText(at), sl.MerchantID, sl.AsOf); err != nil {
		return false, internal(err, "freeze credit line")
	}
	c := loans.StaleFreezeChange(l, at)
	if _, err := insertHistory(tx, &c); err != nil {
		return false, err
	}
	return true, nil
}

// liftStaleFreeze lifts the stale-data freeze of a merchant's line that fresh
// data is refreshing: active again, or frozen for delinquency when the
// merchant is delinquent (close of business then manages it). It reports
// whether the merchant is delinquent.
func liftStaleFreeze(tx *Tx, merchantID string, now string) (bool, error) {
	var delinquent bool
	if err := tx.QueryRow(`SELECT `+delinquentSQL, merchantID).Scan(&delinquent); err != nil {
		return false, internal(err, "read delinquency")
	}
	status, reason := string(loans.LineActive), ""
	if delinquent {
		status, reason = string(loans.LineFrozen), loans.FrozenByDelinquency
	}
	_, err := tx.Exec(`UPDATE credit_lines SET status = ?, frozen_reason = ?, updated_at = ?
		WHERE merchant_id = ? AND status = 'frozen' AND frozen_reason = ?`, status, reason, now, merchantID, loans.FrozenByStaleData)
	return delinquent, internal(err, "unfreeze credit line")
}
