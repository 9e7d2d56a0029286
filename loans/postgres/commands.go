package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// idempotent runs a mutating command under cmd's idempotency key in one
// transaction: a stored key with the same operation and request returns the
// stored response without running fn; with a different request it is
// EUNPROCESSABLE; otherwise fn runs and its response is stored with it. Two
// concurrent first uses of a key collide on the primary key; the loser's
// transaction is retried and then finds the winner's response.
func idempotent[T any](s *Store, ctx context.Context, cmd loans.Cmd, opName string, req any, fn func(tx pgx.Tx) (T, error)) (T, error) {
	var zero T
	if strings.TrimSpace(cmd.MerchantID) == "" {
		return zero, lend.FieldErrorf("merchant_id", "is required")
	}
	if cmd.IdempotencyKey == "" {
		return zero, lend.FieldErrorf("idempotency_key", "is required")
	}
	if len(cmd.IdempotencyKey) > loans.MaxIdempotencyKeyLen {
		return zero, lend.FieldErrorf("idempotency_key", "longer than %d bytes", loans.MaxIdempotencyKeyLen)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return zero, internal(err, "hash request")
	}
	h, err := loans.IdempotencyHash(opName, cmd, body)
	if err != nil {
		return zero, err
	}
	var out T
	err = s.inTx(ctx, modeCommandBatched, func(tx pgx.Tx) error {
		// The shared close-of-business lock, then the key lookup, in one
		// round trip; the lookup runs after the lock is granted.
		var b pgx.Batch
		b.Queue(lockSharedSQL, lockClass, lockDay)
		b.Queue(`SELECT op, request_hash, response FROM loans_idempotency WHERE merchant_id = $1 AND key = $2`,
			cmd.MerchantID, cmd.IdempotencyKey)
		br := tx.SendBatch(ctx, &b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return internal(err, "close-of-business lock")
		}
		var storedOp string
		var storedHash, resp []byte
		err := br.QueryRow().Scan(&storedOp, &storedHash, &resp)
		if cerr := br.Close(); err == nil || errors.Is(err, pgx.ErrNoRows) {
			if cerr != nil {
				return internal(cerr, "idempotency lookup")
			}
		}
		switch {
		case err == nil:
			if storedOp != opName || string(storedHash) != string(h[:]) {
				return &lend.Error{Code: lend.EUNPROCESSABLE, Field: "idempotency_key",
					Message: "idempotency key " + cmd.IdempotencyKey + " was already used for a different request"}
			}
			out = *new(T)
			return internal(json.Unmarshal(resp, &out), "decode stored response")
		case !errors.Is(err, pgx.ErrNoRows):
			return internal(err, "idempotency lookup")
		}
		v, err := fn(tx)
		if err != nil {
			return err
		}
		resp, err = json.Marshal(v)
		if err != nil {
			return internal(err, "encode response")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO loans_idempotency VALUES ($1, $2, $3, $4, $5, $6)`, cmd.MerchantID, cmd.IdempotencyKey,
			opName, h[:], resp, nowText(s.clock())); err != nil {
			return internal(err, "store idempotency key")
		}
		// Return what a replay will return, byte for byte.
		out = *new(T)
		return internal(json.Unmarshal(resp, &out), "decode response")
	})
	if err != nil {
		return zero, err
	}
	return out, nil
}

// postEntry writes one journal entry and its postings in one statement after
// asserting it balances; an unbalanced entry is a bug (EINTERNAL).
func postEntry(ctx context.Context, tx pgx.Tx, loanID int64, merchantID string, businessDate loans.Date, e loans.EntryDraft, now string) (int64, error) {
	if !e.Balanced() {
		return 0, lend.Errorf(lend.EINTERNAL, "loan %d: unbalanced %s entry refused: %+v", loanID, e.Kind, e.Postings)
	}
	n := len(e.Postings)
	legs, accts := make([]int32, n), make([]int32, n)
	drs, crs := make([]int64, n), make([]int64, n)
	for i, p := range e.Postings {
		legs[i], accts[i], drs[i], crs[i] = int32(i+1), int32(p.Account), p.DebitMinor, p.CreditMinor
	}
	var id int64
	err := tx.QueryRow(ctx, `WITH e AS (
			INSERT INTO journal_entries (loan_id, merchant_id, kind, business_date, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id),
		p AS (INSERT INTO postings SELECT e.id, g.leg, g.account, $1, g.dr, g.cr
			FROM e, unnest($6::int[], $7::int[], $8::bigint[], $9::bigint[]) AS g(leg, account, dr, cr))
		SELECT id FROM e`, loanID, merchantID, e.Kind, fmtDate(businessDate), now, legs, accts, drs, crs).Scan(&id)
	return id, internal(err, "insert journal entry")
}

const loanCols = `id, merchant_id, application_id, product, currency, status, grade, apr_micro, penalty_rate_micro,
	method, frequency, every_days, day_count, term_periods, strategy, reschedule, installment_minor, principal_minor,
	disbursed_on, principal_outstanding_minor, interest_receivable_minor, penalty_receivable_minor, fee_receivable_minor,
	principal_repaid_minor, interest_paid_minor, penalty_paid_minor, charged_off_minor, recovered_minor, dpd, bucket,
	accrued_total_minor, accrual_residue, penalty_total_minor, penalty_residue, last_accrual_date, next_statement_date,
	penalty_through, closed_on, created_at`

// loanInsert and loanUpdate are built once from loanCols.
var loanInsert, loanUpdate = func() (string, string) {
	cols := strings.Split(loanCols, ",")
	for i := range cols {
		cols[i] = strings.TrimSpace(cols[i])
	}
	var ph, set []string
	for i, c := range cols[1:] {
		ph = append(ph, "$"+strconv.Itoa(i+1))
		set = append(set, c+" = $"+strconv.Itoa(i+2))
	}
	ins := `INSERT INTO loans (` + strings.Join(cols[1:], ", ") + `) VALUES (` + strings.Join(ph, ", ") + `) RETURNING id`
	upd := `UPDATE loans SET ` + strings.Join(set, ", ") + ` WHERE id = $1`
	return ins, upd
}()

func scanLoan(r pgx.Row) (loans.Loan, error) {
	var l loans.Loan
	var disb, lastAcc, nextStmt, penThrough, closed, created string
	var apr, pen int64
	var product, status, method, freq, dc, strategy, resched string
	err := r.Scan(&l.ID, &l.MerchantID, &l.ApplicationID, &product, &l.Currency, &status, &l.Grade, &apr, &pen,
		&method, &freq, &l.EveryDays, &dc, &l.TermPeriods, &strategy, &resched, &l.InstallmentMinor,
		&l.PrincipalMinor, &disb, &l.PrincipalOutstandingMinor, &l.InterestReceivableMinor, &l.PenaltyReceivableMinor,
		&l.FeeReceivableMinor, &l.PrincipalRepaidMinor, &l.InterestPaidMinor, &l.PenaltyPaidMinor, &l.ChargedOffMinor,
		&l.RecoveredMinor, &l.DPD, &l.Bucket, &l.InterestAccrual.PostedMinor, &l.InterestAccrual.ResidueSub,
		&l.PenaltyAccrual.PostedMinor, &l.PenaltyAccrual.ResidueSub, &lastAcc, &nextStmt, &penThrough, &closed, &created)
	if err != nil {
		return l, err
	}
	l.Product, l.Status, l.APR, l.PenaltyRate = loans.ProductKind(product), loans.LoanStatus(status), loans.Rate(apr), loans.Rate(pen)
	l.Method, l.Frequency, l.DayCount = loans.Method(method), loans.Frequency(freq), loans.DayCount(dc)
	l.Strategy, l.Reschedule = loans.Strategy(strategy), loans.RescheduleMode(resched)
	l.DisbursedOn, l.LastAccrualDate, l.NextStatementDate, l.ClosedOn = parseDate(disb), parseDate(lastAcc), parseDate(nextStmt), parseDate(closed)
	l.PenaltyThrough = parseDate(penThrough)
	l.CreatedAt = parseTime(created)
	return l, nil
}

func loanArgs(l *loans.Loan) []any {
	return []any{l.ID, l.MerchantID, l.ApplicationID, string(l.Product), l.Currency, string(l.Status), l.Grade, int64(l.APR), int64(l.PenaltyRate),
		string(l.Method), string(l.Frequency), l.EveryDays, string(l.DayCount), l.TermPeriods, string(l.Strategy), string(l.Reschedule), l.InstallmentMinor,
		l.PrincipalMinor, fmtDate(l.DisbursedOn), l.PrincipalOutstandingMinor, l.InterestReceivableMinor, l.PenaltyReceivableMinor,
		l.FeeReceivableMinor, l.PrincipalRepaidMinor, l.InterestPaidMinor, l.PenaltyPaidMinor, l.ChargedOffMinor,
		l.RecoveredMinor, l.DPD, l.Bucket, l.InterestAccrual.PostedMinor, l.InterestAccrual.ResidueSub,
		l.PenaltyAccrual.PostedMinor, l.PenaltyAccrual.ResidueSub, fmtDate(l.LastAccrualDate), fmtDate(l.NextStatementDate),
		fmtDate(l.PenaltyThrough), fmtDate(l.ClosedOn), nowText(l.CreatedAt)}
}

// saveLoan inserts (id 0) or updates the loan row and returns its id.
func saveLoan(ctx context.Context, tx pgx.Tx, l *loans.Loan) (int64, error) {
	args := loanArgs(l)
	if l.ID == 0 {
		err := tx.QueryRow(ctx, loanInsert, args[1:]...).Scan(&l.ID)
		return l.ID, internal(err, "insert loan")
	}
	_, err := tx.Exec(ctx, loanUpdate, args...)
	return l.ID, internal(err, "save loan")
}

// loadLoan reads a loan; forUpdate locks its row until the transaction ends,
// which serializes every command on one loan across processes.
func loadLoan(ctx context.Context, q querier, id int64, forUpdate bool) (loans.Loan, error) {
	sql := `SELECT ` + loanCols + ` FROM loans WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	l, err := scanLoan(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, lend.Errorf(lend.ENOTFOUND, "loan %d not found", id)
	}
	return l, internal(err, "load loan")
}

func loadInstallments(ctx context.Context, q querier, loanID int64) ([]loans.Installment, error) {
	rows, err := q.Query(ctx, `SELECT seq, due_date, principal_minor, interest_minor, principal_paid_minor, interest_paid_minor, accrued,
		carried_interest_minor, penalty_minor, penalty_paid_minor FROM installments WHERE loan_id = $1 ORDER BY seq`, loanID)
	if err != nil {
		return nil, internal(err, "load installments")
	}
	return scanInstallments(rows)
}

// scanInstallments reads installment rows (in seq order) and works out each
// one's scheduled balance after it.
func scanInstallments(rows pgx.Rows) ([]loans.Installment, error) {
	defer rows.Close()
	var out []loans.Installment
	var bal int64
	for rows.Next() {
		var in loans.Installment
		var due string
		var seq, accrued int32
		if err := rows.Scan(&seq, &due, &in.PrincipalMinor, &in.InterestMinor, &in.PrincipalPaidMinor, &in.InterestPaidMinor, &accrued, &in.CarriedInterestMinor,
			&in.PenaltyMinor, &in.PenaltyPaidMinor); err != nil {
			return nil, internal(err, "scan installment")
		}
		in.Seq = int(seq)
		setAccrued(&in, accrued)
		in.DueDate, in.DueDateText = parseDate(due), due
		bal += in.PrincipalMinor
		out = append(out, in)
	}
	for i := range out {
		bal -= out[i].PrincipalMinor
		out[i].BalanceAfterMinor = bal
	}
	return out, internal(rows.Err(), "load installments")
}

// saveInstallments writes the installments that changed and deletes those
// that a re-amortization removed, in one round trip.
func saveInstallments(ctx context.Context, tx pgx.Tx, loanID int64, before, after []loans.Installment) error {
	var b pgx.Batch
	queueInstallments(&b, loanID, before, after)
	if b.Len() == 0 {
		return nil
	}
	return internal(tx.SendBatch(ctx, &b).Close(), "save installments")
}

// queueInstallments queues the statements of saveInstallments on b.
func queueInstallments(b *pgx.Batch, loanID int64, before, after []loans.Installment) {
	old := make(map[int]loans.Installment, len(before))
	for _, in := range before {
		old[in.Seq] = in
	}
	for _, in := range after {
		o, had := old[in.Seq]
		delete(old, in.Seq)
		in.BalanceAfterMinor, o.BalanceAfterMinor = 0, 0
		in.DueDateText, o.DueDateText = "", ""
		if had && o == in {
			continue
		}
		b.Queue(`INSERT INTO installments (loan_id, seq, due_date, principal_minor, interest_minor, principal_paid_minor,
			interest_paid_minor, accrued, carried_interest_minor, penalty_minor, penalty_paid_minor)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (loan_id, seq) DO UPDATE SET
			due_date = excluded.due_date, principal_minor = excluded.principal_minor, interest_minor = excluded.interest_minor,
			principal_paid_minor = excluded.principal_paid_minor, interest_paid_minor = excluded.interest_paid_minor, accrued = excluded.accrued,
			carried_interest_minor = excluded.carried_interest_minor, penalty_minor = excluded.penalty_minor,
			penalty_paid_minor = excluded.penalty_paid_minor`,
			loanID, in.Seq, fmtDate(in.DueDate), in.PrincipalMinor, in.InterestMinor, in.PrincipalPaidMinor, in.InterestPaidMinor, accruedOf(in), in.CarriedInterestMinor,
			in.PenaltyMinor, in.PenaltyPaidMinor)
	}
	for seq := range old {
		b.Queue(`DELETE FROM installments WHERE loan_id = $1 AND seq = $2`, loanID, seq)
	}
}

// businessDate is the last closed business date (zero before the first EOD).
func businessDate(ctx context.Context, q querier) (loans.Date, error) {
	var v string
	err := q.QueryRow(ctx, `SELECT value FROM loans_meta WHERE key = 'business_date'`).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return loans.Date{}, nil
	}
	if err != nil {
		return loans.Date{}, internal(err, "business date")
	}
	return parseDate(v), nil
}

// valueDate resolves a command's date: empty means the open business day
// (the day after the last closed one, or today if later); a date inside an
// already closed day is refused, because closed days are immutable.
func (s *Store) valueDate(ctx context.Context, tx pgx.Tx, field, text string) (loans.Date, error) {
	closed, err := businessDate(ctx, tx)
	if err != nil {
		return loans.Date{}, err
	}
	return s.valueDateAfter(closed, field, text)
}

// valueDateAfter is valueDate given the last closed business date.
func (s *Store) valueDateAfter(closed loans.Date, field, text string) (loans.Date, error) {
	open := loans.Day(s.clock())
	if !closed.IsZero() && !closed.Before(open) {
		open = closed.AddDate(0, 0, 1)
	}
	if strings.TrimSpace(text) == "" {
		return open, nil
	}
	d, err := loans.ParseDate(field, text)
	if err != nil {
		return d, err
	}
	if !closed.IsZero() && !d.After(closed) {
		return d, lend.FieldErrorf(field, "%s is on or before the last closed business date %s", text, fmtDate(closed))
	}
	if d.After(open) {
		return d, lend.FieldErrorf(field, "%s is after the open business day %s: it cannot be in the future", text, fmtDate(open))
	}
	return d, nil
}

// lockLine reads a credit line and locks its row until the transaction ends:
// every draw on one line waits for the one before it, in any process.
func lockLine(ctx context.Context, tx pgx.Tx, merchantID string) (loans.CreditLine, error) {
	l, err := scanLine(tx.QueryRow(ctx, `SELECT `+lineCols+` FROM credit_lines WHERE merchant_id = $1 FOR UPDATE`, merchantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, lend.Errorf(lend.ENOTFOUND, "merchant %s has no credit line", merchantID)
	}
	return l, internal(err, "load credit line")
}

// lineStill is nil when want is nil or still merchantID's stored line,
// loans.ErrLineChanged when the line differs or is gone (Cmd.Line). The row
// is read FOR SHARE: a concurrent change of the line waits for this
// transaction, so the line stays the one checked until the COMMIT.
func lineStill(ctx context.Context, tx pgx.Tx, merchantID string, want *loans.CreditLine) error {
	if want == nil {
		return nil
	}
	cur, err := scanLine(tx.QueryRow(ctx, `SELECT `+lineCols+` FROM credit_lines WHERE merchant_id = $1 FOR SHARE`, merchantID))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return loans.ErrLineChanged
	case err != nil:
		return internal(err, "load credit line")
	case !loans.SameLine(cur, *want):
		return loans.ErrLineChanged
	}
	return nil
}

// Draw opens a revolving draw on the merchant's line at the line's APR.
func (s *Store) Draw(ctx context.Context, cmd loans.Cmd, req loans.DrawRequest) (loans.Loan, error) {
	return idempotent(s, ctx, cmd, "draw", req, func(tx pgx.Tx) (loans.Loan, error) {
		line, err := lockLine(ctx, tx, cmd.MerchantID)
		if err != nil {
			return loans.Loan{}, err
		}
		if err := loans.CheckDraw(line, req.AmountMinor, req.Currency); err != nil {
			return loans.Loan{}, err
		}
		on, err := s.valueDate(ctx, tx, "on", req.On)
		if err != nil {
			return loans.Loan{}, err
		}
		cycleDay := on.Day()
		if cycleDay > 28 {
			cycleDay = 28
		}
		next := loans.AddMonthsClamped(on, 1)
		next = next.AddDate(0, 0, cycleDay-next.Day())
		now := s.clock()
		l := loans.Loan{MerchantID: cmd.MerchantID, Product: loans.ProductRevolving, Currency: line.Currency, Status: loans.LoanActive,
			Grade: line.Grade, APR: line.APR, PenaltyRate: s.policy.PenaltyRate, Strategy: s.policy.Strategy, Reschedule: s.policy.Reschedule,
			PrincipalMinor: req.AmountMinor, DisbursedOn: on, PrincipalOutstandingMinor: req.AmountMinor, Bucket: loans.BucketCurrent,
			LastAccrualDate: on.AddDate(0, 0, -1), NextStatementDate: next, CreatedAt: now}
		return s.disburse(ctx, tx, &l, nil)
	})
}

// disburse inserts a new active loan with its installments, posts the
// disbursement and draws the (already locked) credit line.
func (s *Store) disburse(ctx context.Context, tx pgx.Tx, l *loans.Loan, sched []loans.Installment) (loans.Loan, error) {
	if _, err := saveLoan(ctx, tx, l); err != nil {
		return loans.Loan{}, err
	}
	if err := saveInstallments(ctx, tx, l.ID, nil, sched); err != nil {
		return loans.Loan{}, err
	}
	now := nowText(s.clock())
	if _, err := postEntry(ctx, tx, l.ID, l.MerchantID, l.DisbursedOn, loans.DisbursementEntry(l.PrincipalMinor), now); err != nil {
		return loans.Loan{}, err
	}
	// The condition re-checks the limit in the statement itself: with the
	// row locked it always holds, and it is the last line of defence.
	tag, err := tx.Exec(ctx, `UPDATE credit_lines SET drawn_minor = drawn_minor + $1, updated_at = $2
		WHERE merchant_id = $3 AND status = 'active' AND limit_minor - drawn_minor >= $1`, l.PrincipalMinor, now, l.MerchantID)
	if err != nil {
		return loans.Loan{}, internal(err, "draw credit line")
	}
	if tag.RowsAffected() != 1 {
		return loans.Loan{}, lend.Errorf(lend.EINSUFFICIENT, "credit line of merchant %s cannot carry %s", l.MerchantID, loans.FormatMinor(l.PrincipalMinor))
	}
	return *l, nil
}

// CreateApplication stores an application with its decision and offer (the
// decision itself is made by the scoring package).
func (s *Store) CreateApplication(ctx context.Context, cmd loans.Cmd, app loans.Application) (loans.Application, error) {
	if app.MerchantID == "" {
		app.MerchantID = cmd.MerchantID
	}
	in := app
	var want *loans.CreditLine
	if cmd.Line != nil {
		l := *cmd.Line
		want = &l
	}
	return idempotent(s, ctx, cmd, "application", in, func(tx pgx.Tx) (loans.Application, error) {
		app := in // a retried transaction starts from the request again
		if app.Offer != nil {
			o := *app.Offer
			app.Offer = &o
		}
		if app.MerchantID != cmd.MerchantID {
			return app, lend.FieldErrorf("merchant_id", "does not match the caller")
		}
		if app.AmountMinor <= 0 {
			return app, lend.FieldErrorf("amount_minor", "must be > 0")
		}
		if app.Product == "" {
			app.Product = loans.ProductTerm
		}
		if app.Product != loans.ProductTerm {
			return app, lend.FieldErrorf("product", "%q: applications are for term loans; draw on the line for revolving credit", app.Product)
		}
		now := s.clock()
		switch app.Decision {
		case loans.DecisionApproved, loans.DecisionCounterOffer:
			if app.Offer == nil {
				return app, lend.FieldErrorf("offer", "is required for decision %s", app.Decision)
			}
			t := loans.Terms{PrincipalMinor: app.Offer.AmountMinor, Rate: app.Offer.APR, Periods: app.Offer.TermPeriods, Method: app.Method,
				Frequency: app.Frequency, EveryDays: app.EveryDays, DayCount: app.DayCount, Start: loans.Day(now)}
			if err := t.Validate(); err != nil {
				return app, err
			}
			app.Method, app.Frequency, app.DayCount = t.Method, t.Frequency, t.DayCount
			app.Status = loans.AppOpen
			if app.Offer.ExpiresAt.IsZero() {
				app.Offer.ExpiresAt = now.Add(s.policy.OfferValidity).UTC()
			}
		case loans.DecisionDeclined:
			app.Status = loans.AppDeclined
			app.Offer = nil
		default:
			return app, lend.FieldErrorf("decision", "%q is not approved, counter_offer or declined", app.Decision)
		}
		app.CreatedAt = now.UTC()
		if err := lineStill(ctx, tx, cmd.MerchantID, want); err != nil {
			return app, err
		}
		body, _ := json.Marshal(app)
		err := tx.QueryRow(ctx, `INSERT INTO applications (merchant_id, body, status, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			app.MerchantID, string(body), app.Status, nowText(app.CreatedAt)).Scan(&app.ID)
		if err != nil {
			return app, internal(err, "insert application")
		}
		return app, nil
	})
}

func loadApplication(ctx context.Context, q querier, id int64, forUpdate bool) (loans.Application, error) {
	var app loans.Application
	var body, status string
	var loanID *int64
	sql := `SELECT body, status, loan_id FROM applications WHERE id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	err := q.QueryRow(ctx, sql, id).Scan(&body, &status, &loanID)
	if errors.Is(err, pgx.ErrNoRows) {
		return app, lend.Errorf(lend.ENOTFOUND, "application %d not found", id)
	}
	if err != nil {
		return app, internal(err, "load application")
	}
	if err := json.Unmarshal([]byte(body), &app); err != nil {
		return app, internal(err, "decode application")
	}
	app.ID, app.Status = id, status
	if loanID != nil {
		app.LoanID = *loanID
	}
	return app, nil
}

// AcceptApplication disburses the offer of an open application as a term
// loan. The application row is locked first, then the credit line, so two
// accepts of one offer (from any process) disburse it once.
func (s *Store) AcceptApplication(ctx context.Context, cmd loans.Cmd, req loans.AcceptRequest) (loans.Loan, error) {
	return idempotent(s, ctx, cmd, "accept", req, func(tx pgx.Tx) (loans.Loan, error) {
		app, err := loadApplication(ctx, tx, req.ApplicationID, true)
		if err != nil {
			return loans.Loan{}, err
		}
		if app.MerchantID != cmd.MerchantID {
			return loans.Loan{}, lend.Errorf(lend.ENOTFOUND, "application %d not found", req.ApplicationID)
		}
		if app.Status != loans.AppOpen || app.Offer == nil {
			return loans.Loan{}, lend.Errorf(lend.ECONFLICT, "application %d is %s and has no open offer", app.ID, app.Status)
		}
		now := req.Now
		if now.IsZero() {
			now = s.clock()
		}
		if now.After(app.Offer.ExpiresAt) {
			return loans.Loan{}, lend.Errorf(lend.ECONFLICT, "the offer of application %d expired at %s", app.ID, app.Offer.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
		}
		line, err := lockLine(ctx, tx, cmd.MerchantID)
		if err != nil {
			return loans.Loan{}, err
		}
		if err := loans.CheckDraw(line, app.Offer.AmountMinor, app.Currency); err != nil {
			return loans.Loan{}, err
		}
		on, err := s.valueDate(ctx, tx, "on", req.On)
		if err != nil {
			return loans.Loan{}, err
		}
		l, sched, err := loans.TermLoanFromOffer(app, line, cmd.MerchantID, s.policy, on, s.clock())
		if err != nil {
			return loans.Loan{}, err
		}
		out, err := s.disburse(ctx, tx, &l, sched)
		if err != nil {
			return out, err
		}
		if _, err := tx.Exec(ctx, `UPDATE applications SET status = $1, loan_id = $2 WHERE id = $3`, loans.AppAccepted, l.ID, app.ID); err != nil {
			return out, internal(err, "update application")
		}
		return out, nil
	})
}

// Repay applies a repayment: allocation, journal entry, balances, schedule,
// credit line, delinquency status, all in one transaction with the loan row
// locked.
func (s *Store) Repay(ctx context.Context, cmd loans.Cmd, req loans.RepayRequest) (loans.Repayment, error) {
	return idempotent(s, ctx, cmd, "repay", req, func(tx pgx.Tx) (loans.Repayment, error) {
		var rp loans.Repayment
		if req.AmountMinor <= 0 {
			return rp, lend.FieldErrorf("amount_minor", "must be > 0")
		}
		rd, err := readForRepay(ctx, tx, req.LoanID)
		if err != nil {
			return rp, err
		}
		l := rd.loan
		if l.MerchantID != cmd.MerchantID {
			return rp, lend.Errorf(lend.ENOTFOUND, "loan %d not found", req.LoanID)
		}
		if req.Currency != "" && req.Currency != l.Currency {
			return rp, lend.FieldErrorf("currency", "%s does not match the loan currency %s", req.Currency, l.Currency)
		}
		on, err := s.valueDateAfter(rd.closed, "value_date", req.ValueDate)
		if err != nil {
			return rp, err
		}
		before := append([]loans.Installment(nil), rd.inst...)
		st := loans.State{Loan: l, Installments: rd.inst, Policy: s.policy, ClosedThrough: rd.closed}
		eff, err := st.Repay(req.AmountMinor, on)
		if err != nil {
			return rp, err
		}
		nowT := s.clock()
		now := nowText(nowT)
		var entryID int64
		for _, e := range eff.Entries {
			if entryID, err = postEntry(ctx, tx, l.ID, l.MerchantID, loans.EntryDate(e, on), e, now); err != nil {
				return rp, err
			}
		}
		nl := &st.Loan
		if nl.Status == loans.LoanActive {
			nl.DPD = dpdOn(st.Installments, on)
			nl.Bucket = loans.BucketOf(nl.DPD)
		}
		rp = loans.Repayment{ID: rd.repaymentID, LoanID: l.ID, MerchantID: l.MerchantID, Currency: l.Currency, AmountMinor: req.AmountMinor,
			ValueDate: fmtDate(on), Allocation: eff.Allocation, EntryID: entryID, After: nl.Balances(), CreatedAt: nowT.UTC()}
		body, _ := json.Marshal(rp)
		// Every write of the repayment in one round trip, in order.
		var b pgx.Batch
		b.Queue(loanUpdate, loanArgs(nl)...)
		queueInstallments(&b, l.ID, before, st.Installments)
		if p := eff.Allocation.PrincipalMinor(); p > 0 {
			b.Queue(`UPDATE credit_lines SET drawn_minor = drawn_minor - $1 WHERE merchant_id = $2`, p, l.MerchantID)
		}
		b.Queue(unfreezeSQL, l.MerchantID, loans.FrozenByDelinquency)
		b.Queue(`INSERT INTO repayments (id, loan_id, merchant_id, amount_minor, value_date, principal_minor, interest_minor,
			penalty_minor, recovery_minor, body, entry_id, idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			rp.ID, l.ID, l.MerchantID, req.AmountMinor, fmtDate(on), eff.Allocation.PrincipalMinor(), eff.Allocation.InterestMinor(),
			eff.Allocation.PenaltyMinor, eff.Allocation.RecoveryMinor, string(body), entryID, cmd.IdempotencyKey, now)
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return rp, internal(err, "apply repayment")
		}
		return rp, nil
	})
}

// repayRead is what a repayment reads, with the loan row locked.
type repayRead struct {
	loan        loans.Loan
	inst        []loans.Installment
	closed      loans.Date // last closed business date
	repaymentID int64
}

// readForRepay locks the loan and reads it, the business date, its
// installments and a repayment id in one round trip; the statements run in
// order, so everything after the lock sees the loan as it is now.
func readForRepay(ctx context.Context, tx pgx.Tx, loanID int64) (repayRead, error) {
	var rd repayRead
	var b pgx.Batch
	b.Queue(`SELECT `+loanCols+` FROM loans WHERE id = $1 FOR UPDATE`, loanID)
	b.Queue(`SELECT coalesce((SELECT value FROM loans_meta WHERE key = 'business_date'), '')`)
	b.Queue(`SELECT seq, due_date, principal_minor, interest_minor, principal_paid_minor, interest_paid_minor, accrued,
		carried_interest_minor, penalty_minor, penalty_paid_minor FROM installments WHERE loan_id = $1 ORDER BY seq`, loanID)
	b.Queue(`SELECT nextval(pg_get_serial_sequence('repayments', 'id'))`)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	l, err := scanLoan(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return rd, lend.Errorf(lend.ENOTFOUND, "loan %d not found", loanID)
	}
	if err != nil {
		return rd, internal(err, "load loan")
	}
	rd.loan = l
	var closed string
	if err := br.QueryRow().Scan(&closed); err != nil {
		return rd, internal(err, "business date")
	}
	rd.closed = parseDate(closed)
	rows, err := br.Query()
	if err != nil {
		return rd, internal(err, "load installments")
	}
	if rd.inst, err = scanInstallments(rows); err != nil {
		return rd, err
	}
	if err := br.QueryRow().Scan(&rd.repaymentID); err != nil {
		return rd, internal(err, "repayment id")
	}
	return rd, internal(br.Close(), "read loan")
}

// dpdOn is the days past due on date on: from the oldest unpaid installment
// due before on.
func dpdOn(inst []loans.Installment, on loans.Date) int {
	for _, in := range inst {
		if in.DueDate.Before(on) && !in.Paid() {
			return int(loans.DaysBetween(in.DueDate, on))
		}
	}
	return 0
}

// unfreezeSQL lifts a delinquency freeze ($1 merchant, $2 the delinquency
// freeze reason) when no loan of the merchant is past due or charged off
// with a balance still to recover.
const unfreezeSQL = `UPDATE credit_lines SET status = 'active', frozen_reason = ''
	WHERE merchant_id = $1 AND status = 'frozen' AND frozen_reason = $2
	AND NOT EXISTS (SELECT 1 FROM loans WHERE merchant_id = $1 AND
		((status = 'active' AND dpd > 0) OR (status = 'charged_off' AND recovered_minor < charged_off_minor)))`

// setAccrued and accruedOf map the INTEGER accrued flag (0/1, as in SQLite).
func setAccrued(in *loans.Installment, v int32) { in.Accrued = v != 0 }

func accruedOf(in loans.Installment) int32 {
	if in.Accrued {
		return 1
	}
	return 0
}
