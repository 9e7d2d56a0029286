package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// MaxEODDays bounds how many days one close-of-business call may catch up.
const MaxEODDays = 3660

// bucketSQL mirrors loans.BucketOf.
const bucketSQL = `CASE WHEN %[1]s <= 0 THEN 'current' WHEN %[1]s <= 30 THEN '1-30' WHEN %[1]s <= 60 THEN '31-60' WHEN %[1]s <= 90 THEN '61-90' ELSE '90+' END`

// accrualSQL is loans.Accrual.AddDay as SQL over a derived table with columns
// x (residue + balance × rate) and total (posted so far): the amount to post,
// round_half_even((total·D + x)/D) − total, without forming total·D. It is
// the SQLite store's expression; PostgreSQL's BIGINT division also truncates.
const accrualSQL = `q + CASE WHEN 2*(x - q*%[1]d) > %[1]d THEN 1 WHEN 2*(x - q*%[1]d) = %[1]d THEN ((total + q) & 1) ELSE 0 END`
const floorDivSQL = `CASE WHEN x >= 0 THEN x / %[1]d ELSE -((-x + %[1]d - 1) / %[1]d) END`

// lit quotes a string we generated (a date, a time, a kind) as an SQL literal.
func lit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// CloseOfBusiness closes each day after the last closed business date through
// `through`, in date order. Each day is one transaction holding the
// close-of-business lock exclusively (commands wait for it, and a second
// process running EOD waits and then finds the day closed); it also records
// the day as closed, so a crash loses at most the day in progress.
func (s *Store) CloseOfBusiness(ctx context.Context, through loans.Date, progress func(loans.Date)) (loans.EODReport, error) {
	var rep loans.EODReport
	through = loans.Day(through)
	rep.Through = fmtDate(through)
	last, err := businessDate(ctx, s.pool)
	if err != nil {
		return rep, err
	}
	from := last.AddDate(0, 0, 1)
	if last.IsZero() {
		from = through
		var first *string
		if err := s.pool.QueryRow(ctx, `SELECT min(disbursed_on) FROM loans WHERE status = 'active'`).Scan(&first); err != nil {
			return rep, internal(err, "first disbursement")
		}
		if first != nil && parseDate(*first).Before(through) {
			from = parseDate(*first)
		}
	}
	if from.After(through) {
		return rep, nil // already closed: idempotent
	}
	if n := loans.DaysBetween(from, through) + 1; n > MaxEODDays {
		return rep, lend.FieldErrorf("date", "%d days to catch up exceeds the limit %d; close earlier dates first", n, MaxEODDays)
	}
	rep.From = fmtDate(from)
	for d := from; !d.After(through); d = d.AddDate(0, 0, 1) {
		if err := ctx.Err(); err != nil {
			return rep, lend.Wrap(lend.EINTERNAL, err, "close of business interrupted before %s", fmtDate(d))
		}
		var r loans.EODReport
		err := s.inTx(ctx, modeDay, func(tx pgx.Tx) error {
			var err error
			r, err = s.closeDay(ctx, tx, d)
			return err
		})
		if err != nil {
			return rep, err
		}
		rep.Days++
		rep.InterestDue += r.InterestDue
		rep.Accruals += r.Accruals
		rep.Statements += r.Statements
		rep.Penalties += r.Penalties
		rep.ChargeOffs += r.ChargeOffs
		rep.Delinquent = r.Delinquent
		rep.FrozenLines += r.FrozenLines
		rep.UnfrozenLines += r.UnfrozenLines
		if progress != nil {
			progress(d)
		}
	}
	cutoff := nowText(s.now().Add(-s.policy.IdempotencyRetention))
	err = s.inTx(ctx, modeCommand, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM loans_idempotency WHERE (merchant_id, key) IN
			(SELECT merchant_id, key FROM loans_idempotency WHERE created_at < $1 LIMIT $2)`, cutoff, loans.MaxIdempotencyKeysPerEOD)
		if err != nil {
			return internal(err, "expire idempotency keys")
		}
		rep.KeysExpired = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return rep, err
	}
	return rep, nil
}

// eodTx runs the set-based statements of one day.
type eodTx struct {
	ctx context.Context
	tx  pgx.Tx
	day string
	now string
	err error
	// posted is set once eod_post exists in this transaction.
	posted bool
}

func (e *eodTx) exec(q string, args ...any) int64 {
	if e.err != nil {
		return 0
	}
	// The simple protocol: each day's statements carry the day as a literal,
	// so preparing (and caching) them would only cost round trips.
	tag, err := e.tx.Exec(e.ctx, q, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	if err != nil {
		e.err = lend.Wrap(lend.EINTERNAL, err, "close of business %s: %v (%s)", e.day, err, firstLine(q))
		return 0
	}
	return tag.RowsAffected()
}

func firstLine(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexByte(q, '\n'); i > 0 {
		return q[:i]
	}
	return q
}

// post writes one entry per row of temp table src (loan_id, amt > 0) with the
// given legs: each leg is (account, debit?, column of src holding the amount).
func (e *eodTx) post(kind, src string, legs ...leg) int64 {
	if e.posted {
		e.exec(`DROP TABLE pg_temp.eod_post`)
	}
	e.posted = true
	if e.exec(`CREATE TEMP TABLE eod_post ON COMMIT DROP AS SELECT nextval(pg_get_serial_sequence('journal_entries', 'id')) AS entry_id, s.*
		FROM (SELECT * FROM `+src+` WHERE amt > 0 ORDER BY loan_id) s`) == 0 {
		return 0 // nothing to post: skip the inserts and the check
	}
	n := e.exec(`INSERT INTO journal_entries (id, loan_id, merchant_id, kind, business_date, created_at)
		SELECT p.entry_id, p.loan_id, l.merchant_id, ` + lit(kind) + `, ` + lit(e.day) + `, ` + lit(e.now) + ` FROM eod_post p JOIN loans l ON l.id = p.loan_id`)
	for i, lg := range legs {
		dr, cr := lg.col, "0"
		if !lg.debit {
			dr, cr = "0", lg.col
		}
		e.exec(fmt.Sprintf(`INSERT INTO postings SELECT entry_id, %d, %d, loan_id, %s, %s FROM eod_post WHERE %s > 0`, i+1, lg.account, dr, cr, lg.col))
	}
	// The ledger invariant, asserted before commit: every new entry balances.
	if e.err == nil {
		var bad int64
		if err := e.tx.QueryRow(e.ctx, `SELECT count(*) FROM (SELECT entry_id FROM postings WHERE entry_id IN (SELECT entry_id FROM eod_post)
			GROUP BY entry_id HAVING sum(debit_minor) <> sum(credit_minor) OR count(*) < 2) x`).Scan(&bad); err != nil {
			e.err = internal(err, "balance check")
		} else if bad > 0 {
			e.err = lend.Errorf(lend.EINTERNAL, "close of business %s: %d unbalanced %s entries; rolled back", e.day, bad, kind)
		}
	}
	return n
}

type leg struct {
	account loans.Account
	debit   bool
	col     string
}

// closeDay runs one business day: interest due, revolving accrual and
// statements, delinquency, penalties, charge-off and line freezing. It is
// the SQLite store's closeDay statement for statement.
func (s *Store) closeDay(ctx context.Context, tx pgx.Tx, d loans.Date) (loans.EODReport, error) {
	var r loans.EODReport
	last, err := businessDate(ctx, tx)
	if err != nil {
		return r, err
	}
	if !last.IsZero() && !d.After(last) {
		return r, nil // closed meanwhile (another process): nothing to do
	}
	e := &eodTx{ctx: ctx, tx: tx, day: fmtDate(d), now: nowText(s.clock())}
	D := lit(e.day)
	const den = loans.AccrualDenominator
	p := s.policy

	// 1. Term installments falling due: their unpaid interest becomes receivable.
	// Each step's later statements are skipped when its set is empty
	// (CREATE TABLE AS reports its row count): a quiet day costs little.
	if e.exec(`CREATE TEMP TABLE eod_due ON COMMIT DROP AS SELECT i.loan_id, sum(i.interest_minor - i.interest_paid_minor)::bigint AS amt
		FROM installments i JOIN loans l ON l.id = i.loan_id
		WHERE i.accrued = 0 AND i.due_date <= `+D+` AND l.status = 'active' GROUP BY i.loan_id`) > 0 {
		e.exec(`UPDATE installments SET accrued = 1 WHERE accrued = 0 AND due_date <= ` + D + ` AND loan_id IN (SELECT loan_id FROM eod_due)`)
		r.InterestDue = e.post(loans.KindInterestDue, "eod_due", leg{loans.AcctInterestReceivable, true, "amt"}, leg{loans.AcctInterestIncome, false, "amt"})
		e.exec(`UPDATE loans SET interest_receivable_minor = interest_receivable_minor + u.amt FROM eod_due u WHERE loans.id = u.loan_id AND u.amt > 0`)
	}

	// 2. Revolving draws: one day of interest with the residue carried.
	if e.exec(fmt.Sprintf(`CREATE TEMP TABLE eod_acc ON COMMIT DROP AS SELECT loan_id, x, `+accrualSQL+` AS amt FROM (
		SELECT loan_id, x, total, `+floorDivSQL+` AS q FROM (
			SELECT id AS loan_id, accrued_total_minor AS total, accrual_residue + principal_outstanding_minor * apr_micro AS x
			FROM loans WHERE product = 'revolving' AND status = 'active' AND last_accrual_date < `+D+`) a) b`, den)) > 0 {
		r.Accruals = e.post(loans.KindAccrual, "eod_acc", leg{loans.AcctInterestReceivable, true, "amt"}, leg{loans.AcctInterestIncome, false, "amt"})
		e.exec(fmt.Sprintf(`UPDATE loans SET accrual_residue = a.x - a.amt * %d, accrued_total_minor = accrued_total_minor + a.amt,
		interest_receivable_minor = interest_receivable_minor + a.amt, last_accrual_date = `+D+` FROM eod_acc a WHERE loans.id = a.loan_id`, den))
	}

	// 3. Revolving statements: bill the minimum payment, due after the grace period.
	if e.exec(`CREATE TEMP TABLE eod_stmt ON COMMIT DROP AS SELECT l.id AS loan_id,
		(SELECT coalesce(max(seq), 0) + 1 FROM installments i WHERE i.loan_id = l.id) AS seq,
		l.principal_outstanding_minor - (SELECT coalesce(sum(principal_minor - principal_paid_minor), 0) FROM installments i WHERE i.loan_id = l.id)::bigint AS unbilled_p,
		l.interest_receivable_minor - (SELECT coalesce(sum(interest_minor - interest_paid_minor), 0) FROM installments i WHERE i.loan_id = l.id)::bigint AS unbilled_i,
		l.principal_outstanding_minor AS outstanding
		FROM loans l WHERE l.product = 'revolving' AND l.status = 'active' AND l.next_statement_date = `+D) > 0 {
		r.Statements = e.exec(fmt.Sprintf(`INSERT INTO installments (loan_id, seq, due_date, principal_minor, interest_minor, principal_paid_minor, interest_paid_minor, accrued)
		SELECT loan_id, seq, to_char(%s::date + %d, 'YYYY-MM-DD'), LEAST(unbilled_p, GREATEST(%d, (outstanding * %d + 9999) / 10000)), unbilled_i, 0, 0, 1
		FROM eod_stmt WHERE unbilled_p + unbilled_i > 0`, D, p.StatementGraceDays, p.MinPaymentFloorMinor, p.MinPaymentBps))
		e.exec(`UPDATE loans SET next_statement_date = to_char(next_statement_date::date + interval '1 month', 'YYYY-MM-DD') WHERE id IN (SELECT loan_id FROM eod_stmt)`)
	}

	// 4. Delinquency: DPD from the oldest unpaid installment due before today.
	nOverdue := e.exec(`CREATE TEMP TABLE eod_od ON COMMIT DROP AS SELECT i.loan_id, min(i.due_date) AS oldest, min(i.seq) AS oldest_seq,
		sum(i.principal_minor - i.principal_paid_minor)::bigint AS od_principal
		FROM installments i JOIN loans l ON l.id = i.loan_id
		WHERE i.due_date < ` + D + ` AND (i.principal_paid_minor < i.principal_minor OR i.interest_paid_minor < i.interest_minor OR i.penalty_paid_minor < i.penalty_minor) AND l.status = 'active'
		GROUP BY i.loan_id`)
	if nOverdue > 0 {
		e.exec(`UPDATE loans SET dpd = o.dpd, bucket = ` + fmt.Sprintf(bucketSQL, "o.dpd") + ` FROM
		(SELECT loan_id, (` + D + `::date - oldest::date) AS dpd FROM eod_od) o WHERE loans.id = o.loan_id`)
	}
	e.exec(`UPDATE loans SET dpd = 0, bucket = 'current' WHERE dpd > 0 AND status = 'active' AND id NOT IN (SELECT loan_id FROM eod_od)`)

	// 5. Penalty interest on overdue principal, residue carried like accrual,
	// charged to the oldest installment overdue (the one DPD counts from).
	if nOverdue > 0 && e.exec(fmt.Sprintf(`CREATE TEMP TABLE eod_pen ON COMMIT DROP AS SELECT loan_id, oldest_seq, x, `+accrualSQL+` AS amt FROM (
		SELECT loan_id, oldest_seq, x, total, `+floorDivSQL+` AS q FROM (
			SELECT l.id AS loan_id, o.oldest_seq, l.penalty_total_minor AS total, l.penalty_residue + o.od_principal * l.penalty_rate_micro AS x
			FROM eod_od o JOIN loans l ON l.id = o.loan_id WHERE o.od_principal > 0 AND l.penalty_rate_micro > 0 AND l.penalty_through < `+D+`) a) b`, den)) > 0 {
		r.Penalties = e.post(loans.KindPenalty, "eod_pen", leg{loans.AcctPenaltyReceivable, true, "amt"}, leg{loans.AcctPenaltyIncome, false, "amt"})
		e.exec(fmt.Sprintf(`UPDATE loans SET penalty_residue = a.x - a.amt * %d, penalty_total_minor = penalty_total_minor + a.amt,
		penalty_receivable_minor = penalty_receivable_minor + a.amt FROM eod_pen a WHERE loans.id = a.loan_id`, den))
		e.exec(`UPDATE installments SET penalty_minor = penalty_minor + a.amt FROM eod_pen a
		WHERE installments.loan_id = a.loan_id AND installments.seq = a.oldest_seq AND a.amt > 0`)
	}

	// 6. Charge-off at the policy's DPD: principal and receivables written off.
	if e.exec(fmt.Sprintf(`CREATE TEMP TABLE eod_co ON COMMIT DROP AS SELECT id AS loan_id, merchant_id, principal_outstanding_minor AS p, interest_receivable_minor AS i,
		penalty_receivable_minor AS pen, fee_receivable_minor AS f,
		principal_outstanding_minor + interest_receivable_minor + penalty_receivable_minor + fee_receivable_minor AS amt
		FROM loans WHERE status = 'active' AND dpd >= %d`, p.ChargeOffDPD)) > 0 {
		e.post(loans.KindChargeOff, "eod_co", leg{loans.AcctChargeOffExpense, true, "amt"}, leg{loans.AcctLoanPrincipal, false, "p"},
			leg{loans.AcctInterestReceivable, false, "i"}, leg{loans.AcctPenaltyReceivable, false, "pen"}, leg{loans.AcctFeeReceivable, false, "f"})
		r.ChargeOffs = e.exec(`UPDATE loans SET status = 'charged_off', charged_off_minor = c.amt, principal_outstanding_minor = 0,
		interest_receivable_minor = 0, penalty_receivable_minor = 0, fee_receivable_minor = 0, closed_on = ` + D + `
		FROM eod_co c WHERE loans.id = c.loan_id`)
		e.exec(`UPDATE credit_lines SET drawn_minor = drawn_minor - c.p FROM (SELECT merchant_id, sum(p)::bigint AS p FROM eod_co GROUP BY merchant_id) c
		WHERE credit_lines.merchant_id = c.merchant_id AND c.p > 0`)
	}

	// 7. Freeze lines of delinquent merchants; unfreeze the cured.
	delinquent := `SELECT merchant_id FROM loans WHERE dpd > 0 AND status = 'active'
		UNION SELECT merchant_id FROM loans WHERE status = 'charged_off' AND recovered_minor < charged_off_minor`
	r.FrozenLines = e.exec(`UPDATE credit_lines SET status = 'frozen', frozen_reason = ` + lit(loans.FrozenByDelinquency) + `, updated_at = ` + lit(e.now) +
		` WHERE status = 'active' AND merchant_id IN (` + delinquent + `)`)
	r.UnfrozenLines = e.exec(`UPDATE credit_lines SET status = 'active', frozen_reason = '', updated_at = ` + lit(e.now) +
		` WHERE status = 'frozen' AND frozen_reason = ` + lit(loans.FrozenByDelinquency) + ` AND merchant_id NOT IN (` + delinquent + `)`)
	if e.err == nil {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM loans WHERE dpd > 0 AND status = 'active'`).Scan(&r.Delinquent); err != nil {
			e.err = internal(err, "count delinquent")
		}
	}

	// 8. The day is closed, in the same transaction.
	r.From, r.Through, r.Days = e.day, e.day, 1
	body, _ := json.Marshal(r)
	e.exec(`INSERT INTO loans_meta (key, value) VALUES ('business_date', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, e.day)
	e.exec(`INSERT INTO loans_eod_runs VALUES ($1, $2, $3)`, e.day, string(body), e.now)
	return r, e.err
}

// MaxReconcileDifferences bounds the differences one report lists.
const MaxReconcileDifferences = 1000

// Reconcile recomputes every loan's balances from the journal and compares
// them with the loan table, in one repeatable-read snapshot; it also checks
// that every entry balances, that the whole ledger balances, that term
// schedules carry exactly the outstanding principal, and that credit lines
// carry their loans' principal.
func (s *Store) Reconcile(ctx context.Context) (loans.ReconcileReport, error) {
	var rep loans.ReconcileReport
	err := s.inTx(ctx, modeRead, func(tx pgx.Tx) error {
		rep = loans.ReconcileReport{}
		return s.reconcile(ctx, tx, &rep)
	})
	return rep, err
}

func (s *Store) reconcile(ctx context.Context, tx pgx.Tx, rep *loans.ReconcileReport) error {
	add := func(format string, args ...any) {
		if len(rep.Differences) < MaxReconcileDifferences {
			rep.Differences = append(rep.Differences, fmt.Sprintf(format, args...))
		}
	}
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM loans), (SELECT count(*) FROM journal_entries)`).Scan(&rep.Loans, &rep.Entries); err != nil {
		return internal(err, "reconcile")
	}
	type check struct {
		q    string
		what func(rows pgx.Rows) error
	}
	checks := []check{
		{`SELECT loan_id, sum(lp)::bigint, sum(jp)::bigint, sum(li)::bigint, sum(ji)::bigint, sum(lpen)::bigint, sum(jpen)::bigint,
			sum(lf)::bigint, sum(jf)::bigint, sum(lco)::bigint, sum(jco)::bigint, sum(lrec)::bigint, sum(jrec)::bigint
		FROM (
			SELECT id AS loan_id, principal_outstanding_minor AS lp, 0 AS jp, interest_receivable_minor AS li, 0 AS ji,
				penalty_receivable_minor AS lpen, 0 AS jpen, fee_receivable_minor AS lf, 0 AS jf, charged_off_minor AS lco, 0 AS jco,
				recovered_minor AS lrec, 0 AS jrec FROM loans
			UNION ALL
			SELECT loan_id, 0, CASE WHEN account = 1 THEN debit_minor - credit_minor ELSE 0 END, 0, CASE WHEN account = 2 THEN debit_minor - credit_minor ELSE 0 END,
				0, CASE WHEN account = 3 THEN debit_minor - credit_minor ELSE 0 END, 0, CASE WHEN account = 4 THEN debit_minor - credit_minor ELSE 0 END,
				0, CASE WHEN account = 8 THEN debit_minor - credit_minor ELSE 0 END, 0, CASE WHEN account = 9 THEN credit_minor - debit_minor ELSE 0 END
			FROM postings) u
		GROUP BY loan_id
		HAVING sum(lp) <> sum(jp) OR sum(li) <> sum(ji) OR sum(lpen) <> sum(jpen) OR sum(lf) <> sum(jf) OR sum(lco) <> sum(jco) OR sum(lrec) <> sum(jrec)`,
			func(rows pgx.Rows) error {
				var id int64
				v := make([]int64, 12)
				if err := rows.Scan(&id, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11]); err != nil {
					return err
				}
				names := []string{"principal", "interest_receivable", "penalty_receivable", "fee_receivable", "charged_off", "recovered"}
				for k, n := range names {
					if v[2*k] != v[2*k+1] {
						add("loan %d: %s is %d in the loan table, %d in the journal", id, n, v[2*k], v[2*k+1])
					}
				}
				return nil
			}},
		{`SELECT DISTINCT loan_id FROM postings p WHERE NOT EXISTS (SELECT 1 FROM loans l WHERE l.id = p.loan_id)`, func(rows pgx.Rows) error {
			var id int64
			err := rows.Scan(&id)
			add("journal postings for unknown loan %d", id)
			return err
		}},
		{`SELECT entry_id, sum(debit_minor)::bigint, sum(credit_minor)::bigint, count(*) FROM postings GROUP BY entry_id
			HAVING sum(debit_minor) <> sum(credit_minor) OR count(*) < 2`, func(rows pgx.Rows) error {
			var id, dr, cr, n int64
			err := rows.Scan(&id, &dr, &cr, &n)
			add("entry %d is unbalanced: debits %d, credits %d, %d legs", id, dr, cr, n)
			return err
		}},
		{`SELECT id FROM journal_entries e WHERE NOT EXISTS (SELECT 1 FROM postings p WHERE p.entry_id = e.id)`, func(rows pgx.Rows) error {
			var id int64
			err := rows.Scan(&id)
			add("entry %d has no postings", id)
			return err
		}},
		{`SELECT loan_id, sum(p)::bigint, sum(sched)::bigint FROM (
			SELECT id AS loan_id, principal_outstanding_minor AS p, 0 AS sched FROM loans WHERE product = 'term' AND status = 'active'
			UNION ALL
			SELECT i.loan_id, 0, i.principal_minor - i.principal_paid_minor FROM installments i JOIN loans l ON l.id = i.loan_id
			WHERE l.product = 'term' AND l.status = 'active') u
			GROUP BY loan_id HAVING sum(p) <> sum(sched)`, func(rows pgx.Rows) error {
			var id, p, sched int64
			err := rows.Scan(&id, &p, &sched)
			add("loan %d: principal outstanding %d but the schedule carries %d", id, p, sched)
			return err
		}},
		// Penalty is charged to installments (docs/LOANS.md): an active loan's
		// receivable is what its installments have unpaid.
		{`SELECT loan_id, sum(pen)::bigint, sum(sched)::bigint FROM (
			SELECT id AS loan_id, penalty_receivable_minor AS pen, 0 AS sched FROM loans WHERE status = 'active'
			UNION ALL
			SELECT i.loan_id, 0, i.penalty_minor - i.penalty_paid_minor FROM installments i JOIN loans l ON l.id = i.loan_id
			WHERE l.status = 'active') u
			GROUP BY loan_id HAVING sum(pen) <> sum(sched)`, func(rows pgx.Rows) error {
			var id, pen, sched int64
			err := rows.Scan(&id, &pen, &sched)
			add("loan %d: penalty receivable %d but its installments carry %d unpaid", id, pen, sched)
			return err
		}},
		{`SELECT merchant_id, sum(drawn)::bigint, sum(owed)::bigint FROM (
			SELECT merchant_id, drawn_minor AS drawn, 0 AS owed FROM credit_lines
			UNION ALL
			SELECT merchant_id, 0, principal_outstanding_minor FROM loans WHERE status = 'active') u
			GROUP BY merchant_id HAVING sum(drawn) <> sum(owed)`, func(rows pgx.Rows) error {
			var m string
			var drawn, owed int64
			err := rows.Scan(&m, &drawn, &owed)
			add("credit line %s: drawn %d but its active loans owe %d principal", m, drawn, owed)
			return err
		}},
	}
	for _, c := range checks {
		rows, err := tx.Query(ctx, c.q)
		if err != nil {
			return internal(err, "reconcile")
		}
		for rows.Next() {
			if err := c.what(rows); err != nil {
				rows.Close()
				return internal(err, "reconcile")
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return internal(err, "reconcile")
		}
	}
	var dr, cr int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(debit_minor), 0)::bigint, coalesce(sum(credit_minor), 0)::bigint FROM postings`).Scan(&dr, &cr); err != nil {
		return internal(err, "reconcile")
	}
	if dr != cr {
		add("ledger total: debits %d, credits %d", dr, cr)
	}
	return nil
}
