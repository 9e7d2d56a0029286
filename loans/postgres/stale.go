package postgres

import (
	"context"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend/loans"
)

// delinquentSQL is true when the credit line c's merchant has a loan past due
// or charged off and not fully recovered: the predicate close of business
// freezes on.
const delinquentSQL = `EXISTS (SELECT 1 FROM loans WHERE loans.merchant_id = c.merchant_id AND
	((loans.status = 'active' AND loans.dpd > 0) OR (loans.status = 'charged_off' AND loans.recovered_minor < loans.charged_off_minor)))`

// FreezeStaleLines freezes for stale data, in one transaction, each listed
// line still active with the listed as-of: the lines are locked in merchant
// order (as UpsertCreditLines locks them, so the two never deadlock), checked,
// frozen and recorded in their history. It returns the merchants frozen.
func (s *Store) FreezeStaleLines(ctx context.Context, lines []loans.StaleLine) ([]string, error) {
	if err := loans.ValidateStaleLines(lines, MaxRefreshBatch); err != nil {
		return nil, err
	}
	var frozen []string
	err := s.inTx(ctx, modeCommand, func(tx pgx.Tx) error {
		var err error
		frozen, err = freezeStale(ctx, tx, lines, s.clock())
		return err
	})
	return frozen, err
}

// freezeStale does FreezeStaleLines' work inside its transaction.
func freezeStale(ctx context.Context, tx pgx.Tx, lines []loans.StaleLine, at time.Time) ([]string, error) {
	want := make(map[string]string, len(lines)) // merchant -> as-of read (the first listing wins)
	ids := make([]string, 0, len(lines))
	for _, l := range lines {
		if _, dup := want[l.MerchantID]; !dup {
			want[l.MerchantID] = l.AsOf
			ids = append(ids, l.MerchantID)
		}
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	rows, err := tx.Query(ctx, `SELECT `+lineCols+` FROM credit_lines WHERE merchant_id = ANY($1) ORDER BY merchant_id FOR UPDATE`, sorted)
	if err != nil {
		return nil, internal(err, "read credit lines")
	}
	found := map[string]loans.CreditLine{}
	for rows.Next() {
		l, err := scanLine(rows)
		if err != nil {
			rows.Close()
			return nil, internal(err, "read credit lines")
		}
		if l.Status == loans.LineActive && l.AsOf == want[l.MerchantID] {
			found[l.MerchantID] = l
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, internal(err, "read credit lines")
	}
	frozen := []string{}
	history := make([]loans.CreditLineChange, 0, len(found))
	for _, id := range ids {
		if l, ok := found[id]; ok {
			frozen = append(frozen, id)
			history = append(history, loans.StaleFreezeChange(l, at))
		}
	}
	if len(frozen) == 0 {
		return frozen, nil
	}
	// The rows are locked: still active with the as-of just checked.
	if _, err := tx.Exec(ctx, `UPDATE credit_lines SET status = 'frozen', frozen_reason = $2, updated_at = $3
		WHERE merchant_id = ANY($1) AND status = 'active'`, frozen, loans.FrozenByStaleData, nowText(at)); err != nil {
		return nil, internal(err, "freeze credit lines")
	}
	return frozen, insertHistory(ctx, tx, history)
}

// liftStaleFreezes lifts the stale-data freeze of the lines of ids (already
// locked by the caller) that fresh data is refreshing: active again, or
// frozen for delinquency when the merchant is delinquent (close of business
// then manages it). It returns, per merchant lifted, whether it is delinquent.
func liftStaleFreezes(ctx context.Context, tx pgx.Tx, ids []string, now string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `UPDATE credit_lines c SET
			status = CASE WHEN `+delinquentSQL+` THEN 'frozen' ELSE 'active' END,
			frozen_reason = CASE WHEN `+delinquentSQL+` THEN $2 ELSE '' END, updated_at = $3
		WHERE c.merchant_id = ANY($1) AND c.status = 'frozen' AND c.frozen_reason = $4
		RETURNING c.merchant_id, c.status`, ids, loans.FrozenByDelinquency, now, loans.FrozenByStaleData)
	if err != nil {
		return nil, internal(err, "unfreeze credit lines")
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			return nil, internal(err, "unfreeze credit lines")
		}
		out[id] = status == string(loans.LineFrozen)
	}
	return out, internal(rows.Err(), "unfreeze credit lines")
}
