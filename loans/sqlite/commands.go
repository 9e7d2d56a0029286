package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// idemKey is a command's idempotency key with the fingerprint a retry must
// match: the client's request hash when the caller gives one, else a hash of
// the command's request.
type idemKey struct {
	merchantID, key, op string
	hash                [32]byte
}

// newIdemKey checks cmd's key and fingerprints the command. The request is
// only encoded when there is no client fingerprint (the API always sends one).
func newIdemKey(cmd loans.Cmd, opName string, req any) (idemKey, error) {
	if strings.TrimSpace(cmd.MerchantID) == "" {
		return idemKey{}, lend.FieldErrorf("merchant_id", "is required")
	}
	if cmd.IdempotencyKey == "" {
		return idemKey{}, lend.FieldErrorf("idempotency_key", "is required")
	}
	if len(cmd.IdempotencyKey) > loans.MaxIdempotencyKeyLen {
		return idemKey{}, lend.FieldErrorf("idempotency_key", "longer than %d bytes", loans.MaxIdempotencyKeyLen)
	}
	var body []byte
	if len(cmd.RequestHash) == 0 {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return idemKey{}, internal(err, "hash request")
		}
	}
	h, err := loans.IdempotencyHash(opName, cmd, body)
	if err != nil {
		return idemKey{}, err
	}
	return idemKey{merchantID: cmd.MerchantID, key: cmd.IdempotencyKey, op: opName, hash: h}, nil
}

// replay is the answer to a stored key: its response when op and fingerprint
// match, else EUNPROCESSABLE. An application's key stores a reference to
// its row (appRef), read back here.
func (k *idemKey) replay(tx *Tx, storedOp string, storedHash, resp []byte) ([]byte, error) {
	if storedOp != k.op || string(storedHash) != string(k.hash[:]) {
		return nil, &lend.Error{Code: lend.EUNPROCESSABLE, Field: "idempotency_key",
			Message: "idempotency key " + k.key + " was already used for a different request"}
	}
	if k.op == "application" && bytes.HasPrefix(resp, appRefPrefix) {
		id, err := strconv.ParseInt(string(resp[len(appRefPrefix):]), 10, 64)
		if err != nil {
			return nil, lend.Errorf(lend.EINTERNAL, "idempotency key %s: corrupt application reference %q", k.key, resp)
		}
		var body []byte
		if err := tx.QueryRow(`SELECT body FROM applications WHERE id = ?`, id).Scan(&body); err != nil {
			return nil, internal(err, "replay application")
		}
		return (&appRow{body: body}).response(id), nil
	}
	return resp, nil
}

// run runs fn under the key inside the writer's transaction: a stored key
// returns its stored response bytes (or EUNPROCESSABLE) without running fn;
// otherwise fn's answer is returned and what replays it is stored with the
// key (stored, or when nil the answer, then the response bytes).
func (k *idemKey) run(s *Store, tx *Tx, fn func(tx *Tx) (answer any, stored []byte, err error)) (any, error) {
	var storedOp string
	var storedHash, resp []byte
	err := tx.QueryRow(`SELECT op, request_hash, response FROM loans_idempotency WHERE merchant_id = ? AND key = ?`,
		k.merchantID, k.key).Scan(&storedOp, &storedHash, &resp)
	switch {
	case err == nil:
		return k.replay(tx, storedOp, storedHash, resp)
	case !errors.Is(err, sql.ErrNoRows):
		return nil, internal(err, "idempotency lookup")
	}
	answer, stored, err := fn(tx)
	if err != nil {
		return nil, err
	}
	if stored == nil {
		stored = answer.([]byte)
	}
	if _, err := tx.Exec(`INSERT INTO loans_idempotency VALUES (?, ?, ?, ?, ?, ?)`, k.merchantID, k.key,
		k.op, k.hash[:], stored, nowText(s.now())); err != nil {
		return nil, internal(err, "store idempotency key")
	}
	return answer, nil
}

// decodeResponse decodes the response bytes a command's writer function
// returned. Decoding happens in the caller's goroutine, off the single
// writer, and a first answer is decoded from the same bytes as a replay, so
// both are identical.
func decodeResponse[T any](v any, err error) (T, error) {
	var out T
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(v.([]byte), &out); err != nil {
		return out, internal(err, "decode response")
	}
	return out, nil
}

// idempotent runs a mutating command under cmd's idempotency key, inside the
// writer's transaction: a stored key with the same operation and request
// returns the stored response without running fn; with a different request it
// is EUNPROCESSABLE; otherwise fn runs and its response is stored with it.
func idempotent[T any](s *Store, ctx context.Context, cmd loans.Cmd, opName string, req any, fn func(tx *Tx) (T, error)) (T, error) {
	k, err := newIdemKey(cmd, opName, req)
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeResponse[T](s.exec(ctx, false, func(tx *Tx) (any, error) {
		return k.run(s, tx, func(tx *Tx) (any, []byte, error) {
			out, err := fn(tx)
			if err != nil {
				return nil, nil, err
			}
			resp, err := json.Marshal(out)
			return resp, nil, internal(err, "encode response")
		})
	}))
}

// postEntry writes one journal entry after asserting it balances; an
// unbalanced entry is a bug and fails the command with EINTERNAL.
func postEntry(tx *Tx, loanID int64, merchantID string, businessDate loans.Date, e loans.EntryDraft, now string) (int64, error) {
	if !e.Balanced() {
		return 0, lend.Errorf(lend.EINTERNAL, "loan %d: unbalanced %s entry refused: %+v", loanID, e.Kind, e.Postings)
	}
	res, err := tx.Exec(`INSERT INTO journal_entries (loan_id, merchant_id, kind, business_date, created_at) VALUES (?, ?, ?, ?, ?)`,
		loanID, merchantID, e.Kind, fmtDate(businessDate), now)
	if err != nil {
		return 0, internal(err, "insert journal entry")
	}
	id, _ := res.LastInsertId()
	// One multi-row INSERT per entry (an entry has a handful of legs).
	args := make([]any, 0, 6*len(e.Postings))
	for i, p := range e.Postings {
		args = append(args, id, i+1, int(p.Account), loanID, p.DebitMinor, p.CreditMinor)
	}
	if len(args) > 0 {
		q := `INSERT INTO postings VALUES ` + strings.TrimSuffix(strings.Repeat(`(?, ?, ?, ?, ?, ?), `, len(e.Postings)), ", ")
		if _, err := tx.Exec(q, args...); err != nil {
			return 0, internal(err, "insert posting")
		}
	}
	return id, nil
}

const loanCols = `id, merchant_id, application_id, product, currency, status, grade, apr_micro, penalty_rate_micro,
	method, frequency, every_days, day_count, term_periods, strategy, reschedule, installment_minor, principal_minor,
	disbursed_on, principal_outstanding_minor, interest_receivable_minor, penalty_receivable_minor, fee_receivable_minor,
	principal_repaid_minor, interest_paid_minor, penalty_paid_minor, charged_off_minor, recovered_minor, dpd, bucket,
	accrued_total_minor, accrual_residue, penalty_total_minor, penalty_residue, last_accrual_date, next_statement_date,
	penalty_through, closed_on, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanLoan(r scanner) (loans.Loan, error) {
	var l loans.Loan
	var disb, lastAcc, nextStmt, penThrough, closed, created string
	err := r.Scan(&l.ID, &l.MerchantID, &l.ApplicationID, &l.Product, &l.Currency, &l.Status, &l.Grade, &l.APR, &l.PenaltyRate,
		&l.Method, &l.Frequency, &l.EveryDays, &l.DayCount, &l.TermPeriods, &l.Strategy, &l.Reschedule, &l.InstallmentMinor,
		&l.PrincipalMinor, &disb, &l.PrincipalOutstandingMinor, &l.InterestReceivableMinor, &l.PenaltyReceivableMinor,
		&l.FeeReceivableMinor, &l.PrincipalRepaidMinor, &l.InterestPaidMinor, &l.PenaltyPaidMinor, &l.ChargedOffMinor,
		&l.RecoveredMinor, &l.DPD, &l.Bucket, &l.InterestAccrual.PostedMinor, &l.InterestAccrual.ResidueSub,
		&l.PenaltyAccrual.PostedMinor, &l.PenaltyAccrual.ResidueSub, &lastAcc, &nextStmt, &penThrough, &closed, &created)
	if err != nil {
		return l, err
	}
	l.DisbursedOn, l.LastAccrualDate, l.NextStatementDate, l.ClosedOn = parseDate(disb), parseDate(lastAcc), parseDate(nextStmt), parseDate(closed)
	l.PenaltyThrough = parseDate(penThrough)
	l.CreatedAt = parseTime(created)
	return l, nil
}

func loanArgs(l *loans.Loan) []any {
	return []any{l.ID, l.MerchantID, l.ApplicationID, l.Product, l.Currency, l.Status, l.Grade, int64(l.APR), int64(l.PenaltyRate),
		l.Method, l.Frequency, l.EveryDays, l.DayCount, l.TermPeriods, l.Strategy, l.Reschedule, l.InstallmentMinor,
		l.PrincipalMinor, fmtDate(l.DisbursedOn), l.PrincipalOutstandingMinor, l.InterestReceivableMinor, l.PenaltyReceivableMinor,
		l.FeeReceivableMinor, l.PrincipalRepaidMinor, l.InterestPaidMinor, l.PenaltyPaidMinor, l.ChargedOffMinor,
		l.RecoveredMinor, l.DPD, l.Bucket, l.InterestAccrual.PostedMinor, l.InterestAccrual.ResidueSub,
		l.PenaltyAccrual.PostedMinor, l.PenaltyAccrual.ResidueSub, fmtDate(l.LastAccrualDate), fmtDate(l.NextStatementDate),
		fmtDate(l.PenaltyThrough), fmtDate(l.ClosedOn), nowText(l.CreatedAt)}
}

// saveLoan inserts (id 0) or replaces the loan row and returns its id.
func saveLoan(tx *Tx, l *loans.Loan) (int64, error) {
	args := loanArgs(l)
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")
	if l.ID == 0 {
		args[0] = nil
	}
	res, err := tx.Exec(`INSERT OR REPLACE INTO loans (`+loanCols+`) VALUES (`+ph+`)`, args...)
	if err != nil {
		return 0, internal(err, "save loan")
	}
	if l.ID == 0 {
		l.ID, _ = res.LastInsertId()
	}
	return l.ID, nil
}

// loanColNames are the columns of loanCols, in loanArgs order.
var loanColNames = func() []string {
	f := strings.Split(loanCols, ",")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return f
}()

// updateLoan writes only the columns of an existing loan that differ
// between before (as loaded) and after: the same row as saveLoan's
// INSERT OR REPLACE, without deleting and re-inserting it and its indexes.
func updateLoan(tx *Tx, before, after *loans.Loan) error {
	if before.ID == 0 || before.ID != after.ID {
		return lend.Errorf(lend.EINTERNAL, "update loan %d as loan %d", before.ID, after.ID)
	}
	a, b := loanArgs(before), loanArgs(after)
	if len(a) != len(loanColNames) {
		return lend.Errorf(lend.EINTERNAL, "loan columns and arguments differ: %d != %d", len(loanColNames), len(a))
	}
	var set strings.Builder
	args := make([]any, 0, len(b))
	for i := 1; i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		if len(args) > 0 {
			set.WriteString(", ")
		}
		set.WriteString(loanColNames[i] + " = ?")
		args = append(args, b[i])
	}
	if len(args) == 0 {
		return nil
	}
	res, err := tx.Exec(`UPDATE loans SET `+set.String()+` WHERE id = ?`, append(args, after.ID)...)
	if err != nil {
		return internal(err, "save loan")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return lend.Errorf(lend.EINTERNAL, "save loan %d: %d rows updated", after.ID, n)
	}
	return nil
}

func loadLoan(q interface {
	QueryRow(string, ...any) *sql.Row
}, id int64) (loans.Loan, error) {
	l, err := scanLoan(q.QueryRow(`SELECT `+loanCols+` FROM loans WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return l, lend.Errorf(lend.ENOTFOUND, "loan %d not found", id)
	}
	return l, internal(err, "load loan")
}

func loadInstallments(q interface {
	Query(string, ...any) (*sql.Rows, error)
}, loanID int64) ([]loans.Installment, error) {
	rows, err := q.Query(`SELECT seq, due_date, principal_minor, interest_minor, principal_paid_minor, interest_paid_minor, accrued,
		carried_interest_minor, penalty_minor, penalty_paid_minor FROM installments WHERE loan_id = ? ORDER BY seq`, loanID)
	if err != nil {
		return nil, internal(err, "load installments")
	}
	defer rows.Close()
	var out []loans.Installment
	var bal int64
	for rows.Next() {
		var in loans.Installment
		var due string
		if err := rows.Scan(&in.Seq, &due, &in.PrincipalMinor, &in.InterestMinor, &in.PrincipalPaidMinor, &in.InterestPaidMinor, &in.Accrued, &in.CarriedInterestMinor,
			&in.PenaltyMinor, &in.PenaltyPaidMinor); err != nil {
			return nil, internal(err, "scan installment")
		}
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
// that a re-amortization removed.
func saveInstallments(tx *Tx, loanID int64, before, after []loans.Installment) error {
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
		if _, err := tx.Exec(`INSERT OR REPLACE INTO installments (loan_id, seq, due_date, principal_minor, interest_minor,
			principal_paid_minor, interest_paid_minor, accrued, carried_interest_minor, penalty_minor, penalty_paid_minor)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, loanID, in.Seq,
			fmtDate(in.DueDate), in.PrincipalMinor, in.InterestMinor, in.PrincipalPaidMinor, in.InterestPaidMinor, in.Accrued, in.CarriedInterestMinor,
			in.PenaltyMinor, in.PenaltyPaidMinor); err != nil {
			return internal(err, "save installment")
		}
	}
	for seq := range old {
		if _, err := tx.Exec(`DELETE FROM installments WHERE loan_id = ? AND seq = ?`, loanID, seq); err != nil {
			return internal(err, "delete installment")
		}
	}
	return nil
}

// businessDate is the last closed business date (zero before the first EOD).
func businessDate(q interface {
	QueryRow(string, ...any) *sql.Row
}) (loans.Date, error) {
	var v string
	err := q.QueryRow(`SELECT value FROM loans_meta WHERE key = 'business_date'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
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
func (s *Store) valueDate(tx *Tx, field, text string) (loans.Date, error) {
	closed, err := businessDate(tx)
	if err != nil {
		return loans.Date{}, err
	}
	return s.valueDateAfter(closed, field, text)
}

// valueDateAfter is valueDate given the last closed business date.
func (s *Store) valueDateAfter(closed loans.Date, field, text string) (loans.Date, error) {
	if strings.TrimSpace(text) == "" {
		return s.openDay(closed), nil
	}
	d, err := loans.ParseDate(field, text)
	if err != nil {
		return d, err
	}
	if !closed.IsZero() && !d.After(closed) {
		return d, lend.FieldErrorf(field, "%s is on or before the last closed business date %s", text, fmtDate(closed))
	}
	if open := s.openDay(closed); d.After(open) {
		return d, lend.FieldErrorf(field, "%s is after the open business day %s: it cannot be in the future", text, fmtDate(open))
	}
	return d, nil
}

// openDay is the open business day given the last closed one: the day
// after it, or today if later. A command without a date takes it, and so
// does a payoff quote without one, so that paying the quote settles the loan.
func (s *Store) openDay(closed loans.Date) loans.Date {
	open := loans.Day(s.now())
	if !closed.IsZero() && !closed.Before(open) {
		open = closed.AddDate(0, 0, 1)
	}
	return open
}

// loadLine reads a credit line inside the transaction.
func loadLine(tx *Tx, merchantID string) (loans.CreditLine, error) {
	l, err := scanLine(tx.QueryRow(`SELECT `+lineCols+` FROM credit_lines WHERE merchant_id = ?`, merchantID))
	if errors.Is(err, sql.ErrNoRows) {
		return l, lend.Errorf(lend.ENOTFOUND, "merchant %s has no credit line", merchantID)
	}
	return l, internal(err, "load credit line")
}

// Draw opens a revolving draw on the merchant's line at the line's APR.
func (s *Store) Draw(ctx context.Context, cmd loans.Cmd, req loans.DrawRequest) (loans.Loan, error) {
	return idempotent(s, ctx, cmd, "draw", req, func(tx *Tx) (loans.Loan, error) {
		line, err := loadLine(tx, cmd.MerchantID)
		if err != nil {
			return loans.Loan{}, err
		}
		if err := loans.CheckDraw(line, req.AmountMinor, req.Currency); err != nil {
			return loans.Loan{}, err
		}
		on, err := s.valueDate(tx, "on", req.On)
		if err != nil {
			return loans.Loan{}, err
		}
		cycleDay := on.Day()
		if cycleDay > 28 {
			cycleDay = 28
		}
		next := loans.AddMonthsClamped(on, 1)
		next = next.AddDate(0, 0, cycleDay-next.Day())
		l := loans.Loan{MerchantID: cmd.MerchantID, Product: loans.ProductRevolving, Currency: line.Currency, Status: loans.LoanActive,
			Grade: line.Grade, APR: line.APR, PenaltyRate: s.policy.PenaltyRate, Strategy: s.policy.Strategy, Reschedule: s.policy.Reschedule,
			PrincipalMinor: req.AmountMinor, DisbursedOn: on, PrincipalOutstandingMinor: req.AmountMinor, Bucket: loans.BucketCurrent,
			LastAccrualDate: on.AddDate(0, 0, -1), NextStatementDate: next, CreatedAt: s.now()}
		return s.disburse(tx, &l, nil)
	})
}

// disburse inserts a new active loan with its installments, posts the
// disbursement and draws the credit line.
func (s *Store) disburse(tx *Tx, l *loans.Loan, sched []loans.Installment) (loans.Loan, error) {
	if _, err := saveLoan(tx, l); err != nil {
		return loans.Loan{}, err
	}
	if err := saveInstallments(tx, l.ID, nil, sched); err != nil {
		return loans.Loan{}, err
	}
	if _, err := postEntry(tx, l.ID, l.MerchantID, l.DisbursedOn, loans.DisbursementEntry(l.PrincipalMinor), nowText(s.now())); err != nil {
		return loans.Loan{}, err
	}
	res, err := tx.Exec(`UPDATE credit_lines SET drawn_minor = drawn_minor + ?, updated_at = ?
		WHERE merchant_id = ? AND status = 'active' AND limit_minor - drawn_minor >= ?`, l.PrincipalMinor, nowText(s.now()), l.MerchantID, l.PrincipalMinor)
	if err != nil {
		return loans.Loan{}, internal(err, "draw credit line")
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return loans.Loan{}, lend.Errorf(lend.EINSUFFICIENT, "credit line of merchant %s cannot carry %s", l.MerchantID, loans.FormatMinor(l.PrincipalMinor))
	}
	return *l, nil
}

// CreateApplication stores an application with its decision and offer (the
// decision itself is made by the scoring package). The application is
// checked and encoded before it reaches the writer, which only looks up the
// key and inserts; consecutive applications in a group commit share their
// statements (bulkApplications).
func (s *Store) CreateApplication(ctx context.Context, cmd loans.Cmd, app loans.Application) (loans.Application, error) {
	if app.MerchantID == "" {
		app.MerchantID = cmd.MerchantID
	}
	k, err := newIdemKey(cmd, "application", app)
	if err != nil {
		return loans.Application{}, err
	}
	r := &appRow{k: k}
	if cmd.Line != nil {
		line := *cmd.Line
		r.line = &line
	}
	if r.pre = s.checkApplication(cmd, &app); r.pre == nil {
		body, err := loans.MarshalApplication(&app)
		if err != nil {
			return loans.Application{}, internal(err, "encode application")
		}
		r.body, r.status, r.created = body, app.Status, nowText(app.CreatedAt)
	}
	v, err := s.submit(ctx, op{fn: r.single(s), app: r})
	if id, ok := v.(newApp); ok && err == nil {
		if !utf8Strings(&app) {
			// Encoding replaced invalid UTF-8: answer what a replay decodes.
			return decodeResponse[loans.Application](r.response(int64(id)), nil)
		}
		// Inserted now: the answer is the application itself, which encodes
		// to the bytes a replay decodes (the body with its id), so it is not
		// decoded from them (TestApplicationAnswerIsItsReplay).
		app.ID = int64(id)
		app.Reasons = slices.Clone(app.Reasons)
		if app.Offer != nil {
			o := *app.Offer
			app.Offer = &o
		}
		return app, nil
	}
	return decodeResponse[loans.Application](v, err)
}

// utf8Strings reports whether every string of app is valid UTF-8, so that
// its JSON encoding decodes back to the same strings.
func utf8Strings(app *loans.Application) bool {
	for _, v := range []string{app.MerchantID, app.Currency, string(app.Product), string(app.Method), string(app.Frequency),
		string(app.DayCount), app.Decision, app.ModelID, app.Grade, app.Status} {
		if !utf8.ValidString(v) {
			return false
		}
	}
	for _, v := range app.Reasons {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// newApp is the writer's answer to an application it inserted: its id.
type newApp int64

// checkApplication validates app for the caller of cmd and fills what the
// store decides: defaults, status, offer expiry and creation time.
func (s *Store) checkApplication(cmd loans.Cmd, app *loans.Application) error {
	if app.MerchantID != cmd.MerchantID {
		return lend.FieldErrorf("merchant_id", "does not match the caller")
	}
	if app.AmountMinor <= 0 {
		return lend.FieldErrorf("amount_minor", "must be > 0")
	}
	if app.Product == "" {
		app.Product = loans.ProductTerm
	}
	if app.Product != loans.ProductTerm {
		return lend.FieldErrorf("product", "%q: applications are for term loans; draw on the line for revolving credit", app.Product)
	}
	now := s.now()
	switch app.Decision {
	case loans.DecisionApproved, loans.DecisionCounterOffer:
		if app.Offer == nil {
			return lend.FieldErrorf("offer", "is required for decision %s", app.Decision)
		}
		t := loans.Terms{PrincipalMinor: app.Offer.AmountMinor, Rate: app.Offer.APR, Periods: app.Offer.TermPeriods, Method: app.Method,
			Frequency: app.Frequency, EveryDays: app.EveryDays, DayCount: app.DayCount, Start: loans.Day(now)}
		if err := t.Validate(); err != nil {
			return err
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
		return lend.FieldErrorf("decision", "%q is not approved, counter_offer or declined", app.Decision)
	}
	app.CreatedAt = now.UTC()
	return nil
}

// appRow is one application command as the writer inserts it.
type appRow struct {
	k       idemKey
	body    []byte // the checked Application as JSON, id 0 (applications.body)
	status  string
	created string
	// pre is the check's verdict, returned only after the key lookup, so a
	// retry of a stored key replays (or is 422) whatever its body.
	pre error
	// line is the credit line the decision was taken against (Cmd.Line):
	// a new application is inserted only while it is still the stored line.
	line *loans.CreditLine
}

// lineStill is nil when want is nil or still the stored line of merchantID
// in the writer's transaction, loans.ErrLineChanged when the line differs or
// is gone. The writer holds the write lock, so no one can change the line
// between this check and the COMMIT.
func lineStill(tx *Tx, merchantID string, want *loans.CreditLine) error {
	if want == nil {
		return nil
	}
	cur, err := storedLine(tx, merchantID)
	switch {
	case err != nil:
		return err
	case cur == nil || !loans.SameLine(*cur, *want):
		return loans.ErrLineChanged
	}
	return nil
}

// storedLine is merchantID's credit line in the writer's transaction, nil
// when there is none.
func storedLine(tx *Tx, merchantID string) (*loans.CreditLine, error) {
	l, err := loadLine(tx, merchantID)
	switch {
	case lend.ErrorCode(err) == lend.ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, err
	}
	return &l, nil
}

// appRefPrefix begins the stored response of an application's key: a
// reference to its applications row instead of a second copy of it. The
// response is the row's body with its id (appRow.response), and the body is
// never updated (accepting changes the status and loan_id columns), so a
// replay rebuilds the first answer byte for byte from half the bytes
// written. Keys stored before hold the response itself, replayed as is.
var appRefPrefix = []byte("application:")

// appRef is the stored response of the key of application id.
func appRef(id int64) []byte { return strconv.AppendInt(append([]byte(nil), appRefPrefix...), id, 10) }

// appIDPrefix begins every encoded Application (ID is its first field).
var appIDPrefix = []byte(`{"id":0,`)

// response is the stored application with id as the command's response: its
// body with the id in place (what json.Marshal gives for the application
// with ID set, checked by TestApplicationResponseIsItsEncoding).
func (r *appRow) response(id int64) []byte {
	if !bytes.HasPrefix(r.body, appIDPrefix) {
		var app loans.Application
		if json.Unmarshal(r.body, &app) == nil {
			app.ID = id
			if b, err := json.Marshal(app); err == nil {
				return b
			}
		}
	}
	out := make([]byte, 0, len(r.body)+20)
	out = append(out, `{"id":`...)
	out = strconv.AppendInt(out, id, 10)
	return append(out, r.body[len(appIDPrefix)-1:]...)
}

// single is the command run on its own (in its savepoint).
func (r *appRow) single(s *Store) func(tx *Tx) (any, error) {
	return func(tx *Tx) (any, error) {
		return r.k.run(s, tx, func(tx *Tx) (any, []byte, error) {
			if r.pre != nil {
				return nil, nil, r.pre
			}
			if err := lineStill(tx, r.k.merchantID, r.line); err != nil {
				return nil, nil, err
			}
			res, err := tx.Exec(`INSERT INTO applications (merchant_id, body, status, created_at) VALUES (?, ?, ?, ?)`,
				r.k.merchantID, string(r.body), r.status, r.created)
			if err != nil {
				return nil, nil, internal(err, "insert application")
			}
			id, _ := res.LastInsertId()
			return newApp(id), appRef(id), nil
		})
	}
}

func loadApplication(q interface {
	QueryRow(string, ...any) *sql.Row
}, id int64) (loans.Application, error) {
	var app loans.Application
	var body, status string
	var loanID sql.NullInt64
	err := q.QueryRow(`SELECT body, status, loan_id FROM applications WHERE id = ?`, id).Scan(&body, &status, &loanID)
	if errors.Is(err, sql.ErrNoRows) {
		return app, lend.Errorf(lend.ENOTFOUND, "application %d not found", id)
	}
	if err != nil {
		return app, internal(err, "load application")
	}
	if err := json.Unmarshal([]byte(body), &app); err != nil {
		return app, internal(err, "decode application")
	}
	app.ID, app.Status, app.LoanID = id, status, loanID.Int64
	return app, nil
}

// AcceptApplication disburses the offer of an open application as a term loan.
func (s *Store) AcceptApplication(ctx context.Context, cmd loans.Cmd, req loans.AcceptRequest) (loans.Loan, error) {
	return idempotent(s, ctx, cmd, "accept", req, func(tx *Tx) (loans.Loan, error) {
		app, err := loadApplication(tx, req.ApplicationID)
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
			now = s.now()
		}
		if now.After(app.Offer.ExpiresAt) {
			return loans.Loan{}, lend.Errorf(lend.ECONFLICT, "the offer of application %d expired at %s", app.ID, app.Offer.ExpiresAt.Format("2006-01-02T15:04:05Z07:00"))
		}
		line, err := loadLine(tx, cmd.MerchantID)
		if err != nil {
			return loans.Loan{}, err
		}
		if err := loans.CheckDraw(line, app.Offer.AmountMinor, app.Currency); err != nil {
			return loans.Loan{}, err
		}
		on, err := s.valueDate(tx, "on", req.On)
		if err != nil {
			return loans.Loan{}, err
		}
		l, sched, err := loans.TermLoanFromOffer(app, line, cmd.MerchantID, s.policy, on, s.now())
		if err != nil {
			return loans.Loan{}, err
		}
		out, err := s.disburse(tx, &l, sched)
		if err != nil {
			return out, err
		}
		if _, err := tx.Exec(`UPDATE applications SET status = ?, loan_id = ? WHERE id = ?`, loans.AppAccepted, l.ID, app.ID); err != nil {
			return out, internal(err, "update application")
		}
		return out, nil
	})
}

// Repay applies a repayment: allocation, journal entry, balances, schedule,
// credit line, delinquency status, all in one transaction.
func (s *Store) Repay(ctx context.Context, cmd loans.Cmd, req loans.RepayRequest) (loans.Repayment, error) {
	return idempotent(s, ctx, cmd, "repay", req, func(tx *Tx) (loans.Repayment, error) {
		var rp loans.Repayment
		if req.AmountMinor <= 0 {
			return rp, lend.FieldErrorf("amount_minor", "must be > 0")
		}
		l, err := loadLoan(tx, req.LoanID)
		if err != nil {
			return rp, err
		}
		if l.MerchantID != cmd.MerchantID {
			return rp, lend.Errorf(lend.ENOTFOUND, "loan %d not found", req.LoanID)
		}
		if req.Currency != "" && req.Currency != l.Currency {
			return rp, lend.FieldErrorf("currency", "%s does not match the loan currency %s", req.Currency, l.Currency)
		}
		closed, err := businessDate(tx)
		if err != nil {
			return rp, err
		}
		on, err := s.valueDateAfter(closed, "value_date", req.ValueDate)
		if err != nil {
			return rp, err
		}
		inst, err := loadInstallments(tx, l.ID)
		if err != nil {
			return rp, err
		}
		before := append([]loans.Installment(nil), inst...)
		st := loans.State{Loan: l, Installments: inst, Policy: s.policy, ClosedThrough: closed}
		eff, err := st.Repay(req.AmountMinor, on)
		if err != nil {
			return rp, err
		}
		now := nowText(s.now())
		var entryID int64
		for _, e := range eff.Entries {
			if entryID, err = postEntry(tx, l.ID, l.MerchantID, loans.EntryDate(e, on), e, now); err != nil {
				return rp, err
			}
		}
		nl := &st.Loan
		if nl.Status == loans.LoanActive {
			nl.DPD = dpdOn(st.Installments, on)
			nl.Bucket = loans.BucketOf(nl.DPD)
		}
		if err := updateLoan(tx, &l, nl); err != nil {
			return rp, err
		}
		if err := saveInstallments(tx, l.ID, before, st.Installments); err != nil {
			return rp, err
		}
		if p := eff.Allocation.PrincipalMinor(); p > 0 {
			if _, err := tx.Exec(`UPDATE credit_lines SET drawn_minor = drawn_minor - ? WHERE merchant_id = ?`, p, l.MerchantID); err != nil {
				return rp, internal(err, "release credit line")
			}
		}
		if err := unfreezeIfCured(tx, l.MerchantID); err != nil {
			return rp, err
		}
		rp = loans.Repayment{LoanID: l.ID, MerchantID: l.MerchantID, Currency: l.Currency, AmountMinor: req.AmountMinor,
			ValueDate: fmtDate(on), Allocation: eff.Allocation, EntryID: entryID, After: nl.Balances(), CreatedAt: s.now().UTC()}
		res, err := tx.Exec(`INSERT INTO repayments (loan_id, merchant_id, amount_minor, value_date, principal_minor, interest_minor,
			penalty_minor, recovery_minor, body, entry_id, idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)`,
			l.ID, l.MerchantID, req.AmountMinor, fmtDate(on), eff.Allocation.PrincipalMinor(), eff.Allocation.InterestMinor(),
			eff.Allocation.PenaltyMinor, eff.Allocation.RecoveryMinor, entryID, cmd.IdempotencyKey, now)
		if err != nil {
			return rp, internal(err, "insert repayment")
		}
		rp.ID, _ = res.LastInsertId()
		body, _ := json.Marshal(rp)
		if _, err := tx.Exec(`UPDATE repayments SET body = ? WHERE id = ?`, string(body), rp.ID); err != nil {
			return rp, internal(err, "store repayment")
		}
		return rp, nil
	})
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

// unfreezeIfCured lifts a delinquency freeze when no loan of the merchant is
// past due or charged off with a balance still to recover.
func unfreezeIfCured(tx *Tx, merchantID string) error {
	_, err := tx.Exec(`UPDATE credit_lines SET status = 'active', frozen_reason = ''
		WHERE merchant_id = ? AND status = 'frozen' AND frozen_reason = ?
		AND NOT EXISTS (SELECT 1 FROM loans WHERE merchant_id = ? AND
			((status = 'active' AND dpd > 0) OR (status = 'charged_off' AND recovered_minor < charged_off_minor)))`,
		merchantID, loans.FrozenByDelinquency, merchantID)
	return internal(err, "unfreeze line")
}
