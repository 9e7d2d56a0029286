package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

const lineCols = `merchant_id, currency, limit_minor, drawn_minor, apr_micro, grade, score, pd, reasons, model_id, as_of, status, frozen_reason, updated_at`

func scanLine(r scanner) (loans.CreditLine, error) {
	var l loans.CreditLine
	var reasons, updated string
	err := r.Scan(&l.MerchantID, &l.Currency, &l.LimitMinor, &l.DrawnMinor, &l.APR, &l.Grade, &l.Score, &l.PD, &reasons,
		&l.ModelID, &l.AsOf, &l.Status, &l.FrozenReason, &updated)
	if err != nil {
		return l, err
	}
	l.AvailableMinor = l.LimitMinor - l.DrawnMinor
	if l.Status != loans.LineActive || l.AvailableMinor < 0 {
		l.AvailableMinor = 0
	}
	_ = json.Unmarshal([]byte(reasons), &l.Reasons)
	if l.Reasons == nil {
		l.Reasons = []string{}
	}
	l.UpdatedAt = parseTime(updated)
	return l, nil
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// MaxRefreshBatch bounds one UpsertCreditLines call.
const MaxRefreshBatch = 100_000

// UpsertCreditLines writes a batch of refreshed credit lines in one
// transaction. A frozen line keeps its status, except that fresh data lifts a
// stale-data freeze (liftStaleFreeze); a lower limit is floored at what is
// drawn; currency of an existing line never changes.
func (s *Store) UpsertCreditLines(ctx context.Context, lines []loans.CreditLineUpdate) (loans.RefreshSummary, error) {
	var sum loans.RefreshSummary
	if err := loans.ValidateCreditLineUpdates(lines, MaxRefreshBatch); err != nil {
		return sum, err
	}
	v, err := s.exec(ctx, true, func(tx *Tx) (any, error) {
		var sum loans.RefreshSummary
		at := s.now()
		now := nowText(at)
		for _, u := range lines {
			var oldLimit, drawn, oldAPR int64
			var status, frozenReason, oldGrade, oldReasons, oldModel, oldAsOf string
			var oldScore, oldPD float64
			err := tx.QueryRow(`SELECT limit_minor, drawn_minor, status, frozen_reason, apr_micro, grade, score, pd, reasons, model_id, as_of
				FROM credit_lines WHERE merchant_id = ?`, u.MerchantID).Scan(&oldLimit, &drawn, &status, &frozenReason, &oldAPR, &oldGrade,
				&oldScore, &oldPD, &oldReasons, &oldModel, &oldAsOf)
			reasons, _ := json.Marshal(u.Reasons)
			if u.Reasons == nil {
				reasons = []byte("[]")
			}
			switch {
			case errors.Is(err, sql.ErrNoRows):
				sum.New++
				if _, err := tx.Exec(`INSERT INTO credit_lines (`+lineCols+`) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, 'active', '', ?)`,
					u.MerchantID, u.Currency, u.LimitMinor, int64(u.APR), u.Grade, u.Score, u.PD, string(reasons), u.ModelID, u.AsOf, now); err != nil {
					return nil, internal(err, "insert credit line")
				}
				c := loans.RefreshChange(u, at, "new", 0, u.LimitMinor, 0, 0, "")
				if _, err := insertHistory(tx, &c); err != nil {
					return nil, err
				}
				continue
			case err != nil:
				return nil, internal(err, "read credit line")
			}
			// Fresh data for a line frozen for want of it: the lift is a
			// change of the line even when nothing else is, so it is recorded.
			lifted := status == string(loans.LineFrozen) && frozenReason == loans.FrozenByStaleData
			if lifted {
				delinquent, err := liftStaleFreeze(tx, u.MerchantID, now)
				if err != nil {
					return nil, err
				}
				if delinquent {
					sum.StaleToDelinquency++
					u.LimitMinor, u.APR = oldLimit, loans.Rate(oldAPR) // a delinquent merchant's line keeps its limit and price
				} else {
					sum.Unfrozen++
					status = string(loans.LineActive)
				}
			}
			limit, guard := u.LimitMinor, ""
			if limit < drawn {
				limit, guard = drawn, loans.GuardDrawnFloor
				sum.Floored++
			}
			change := "unchanged"
			switch {
			case status == string(loans.LineFrozen):
				sum.Frozen++
				change, guard = "frozen", loans.GuardFrozen
			case limit > oldLimit:
				sum.Raised++
				change = "raised"
			case limit < oldLimit:
				sum.Lowered++
				change = "lowered"
			default:
				sum.Unchanged++
			}
			// Every line the refresh changes is recorded in its history.
			if lifted || limit != oldLimit || int64(u.APR) != oldAPR || u.Grade != oldGrade || u.Score != oldScore || u.PD != oldPD ||
				string(reasons) != oldReasons || u.ModelID != oldModel || u.AsOf != oldAsOf {
				c := loans.RefreshChange(u, at, change, oldLimit, limit, drawn, loans.Rate(oldAPR), guard)
				if _, err := insertHistory(tx, &c); err != nil {
					return nil, err
				}
			}
			if _, err := tx.Exec(`UPDATE credit_lines SET limit_minor = ?, apr_micro = ?, grade = ?, score = ?, pd = ?, reasons = ?,
				model_id = ?, as_of = ?, updated_at = ? WHERE merchant_id = ?`, limit, int64(u.APR), u.Grade, u.Score, u.PD,
				string(reasons), u.ModelID, u.AsOf, now, u.MerchantID); err != nil {
				return nil, internal(err, "update credit line")
			}
		}
		return sum, nil
	})
	if err != nil {
		return sum, err
	}
	return v.(loans.RefreshSummary), nil
}

// CreditLine returns a merchant's credit line.
func (s *Store) CreditLine(ctx context.Context, merchantID string) (loans.CreditLine, error) {
	l, err := scanLine(s.rd().QueryRowContext(ctx, `SELECT `+lineCols+` FROM credit_lines WHERE merchant_id = ?`, merchantID))
	if errors.Is(err, sql.ErrNoRows) {
		return l, lend.Errorf(lend.ENOTFOUND, "merchant %s has no credit line", merchantID)
	}
	return l, internal(err, "credit line")
}

// ListCreditLines lists lines by merchant id, filtered by status and grade,
// with an opaque cursor (the last merchant id returned).
func (s *Store) ListCreditLines(ctx context.Context, f loans.CreditLineFilter) ([]loans.CreditLine, string, error) {
	n, err := loans.PageSize(f.Limit)
	if err != nil {
		return nil, "", err
	}
	after := ""
	if f.Cursor != "" {
		if after, err = loans.DecodeCursor(f.Cursor); err != nil {
			return nil, "", err
		}
	}
	q := `SELECT ` + lineCols + ` FROM credit_lines WHERE merchant_id > ?`
	args := []any{after}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Grade != "" {
		q += ` AND grade = ?`
		args = append(args, f.Grade)
	}
	q += ` ORDER BY merchant_id LIMIT ?`
	args = append(args, n+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", internal(err, "list credit lines")
	}
	defer rows.Close()
	out := []loans.CreditLine{}
	for rows.Next() {
		l, err := scanLine(rows)
		if err != nil {
			return nil, "", internal(err, "scan credit line")
		}
		out = append(out, l)
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		next = loans.EncodeCursor(out[n-1].MerchantID)
	}
	return out, next, internal(rows.Err(), "list credit lines")
}

// Application returns an application.
func (s *Store) Application(ctx context.Context, id int64) (loans.Application, error) {
	return loadApplication(s.rd(), id)
}

// Loan returns a loan.
func (s *Store) Loan(ctx context.Context, id int64) (loans.Loan, error) { return loadLoan(s.rd(), id) }

// Schedule returns a loan's installments with what is paid on each. The
// loan and its installments are one snapshot: a revolving draw's balances
// after each statement come from its outstanding principal.
func (s *Store) Schedule(ctx context.Context, loanID int64) ([]loans.Installment, error) {
	var inst []loans.Installment
	err := s.snapshot(ctx, func(q connReader) error {
		l, err := loadLoan(q, loanID)
		if err != nil {
			return err
		}
		if inst, err = loadInstallments(q, loanID); err != nil {
			return err
		}
		if l.Product == loans.ProductRevolving {
			loans.SetRevolvingBalancesAfter(l.PrincipalOutstandingMinor, inst)
		}
		return nil
	})
	return inst, err
}

// ListLoans lists loans by id with an opaque cursor (the last id returned).
func (s *Store) ListLoans(ctx context.Context, f loans.LoanFilter) ([]loans.Loan, string, error) {
	n, err := loans.PageSize(f.Limit)
	if err != nil {
		return nil, "", err
	}
	var after int64
	if f.Cursor != "" {
		c, err := loans.DecodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		if after, err = strconv.ParseInt(c, 10, 64); err != nil {
			return nil, "", lend.FieldErrorf("cursor", "is not a cursor this API issued")
		}
	}
	q := `SELECT ` + loanCols + ` FROM loans WHERE id > ?`
	args := []any{after}
	if f.MerchantID != "" {
		q += ` AND merchant_id = ?`
		args = append(args, f.MerchantID)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, n+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", internal(err, "list loans")
	}
	defer rows.Close()
	out := []loans.Loan{}
	for rows.Next() {
		l, err := scanLoan(rows)
		if err != nil {
			return nil, "", internal(err, "scan loan")
		}
		out = append(out, l)
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		next = loans.EncodeCursor(strconv.FormatInt(out[n-1].ID, 10))
	}
	return out, next, internal(rows.Err(), "list loans")
}

// Repayments lists a loan's repayments, oldest first.
func (s *Store) Repayments(ctx context.Context, loanID int64) ([]loans.Repayment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM repayments WHERE loan_id = ? ORDER BY id`, loanID)
	if err != nil {
		return nil, internal(err, "repayments")
	}
	defer rows.Close()
	out := []loans.Repayment{}
	for rows.Next() {
		var body string
		var r loans.Repayment
		if err := rows.Scan(&body); err != nil {
			return nil, internal(err, "repayments")
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, internal(err, "decode repayment")
		}
		out = append(out, r)
	}
	return out, internal(rows.Err(), "repayments")
}

// Journal returns a loan's journal entries with their postings, in order.
func (s *Store) Journal(ctx context.Context, loanID int64) ([]loans.JournalEntry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT e.id, e.loan_id, e.merchant_id, e.kind, e.business_date, e.created_at,
		p.account, p.debit_minor, p.credit_minor FROM journal_entries e JOIN postings p ON p.entry_id = e.id
		WHERE e.loan_id = ? ORDER BY e.id, p.leg`, loanID)
	if err != nil {
		return nil, internal(err, "journal")
	}
	defer rows.Close()
	out := []loans.JournalEntry{}
	for rows.Next() {
		var e loans.JournalEntry
		var p loans.Posting
		var created string
		if err := rows.Scan(&e.ID, &e.LoanID, &e.MerchantID, &e.Kind, &e.BusinessDate, &created, &p.Account, &p.DebitMinor, &p.CreditMinor); err != nil {
			return nil, internal(err, "journal")
		}
		p.AccountName = p.Account.String()
		if len(out) == 0 || out[len(out)-1].ID != e.ID {
			e.CreatedAt = parseTime(created)
			out = append(out, e)
		}
		last := &out[len(out)-1]
		last.Postings = append(last.Postings, p)
	}
	return out, internal(rows.Err(), "journal")
}

// PayoffQuote returns what closes the loan on a date (without one, on the
// open business day, the date a repayment without one takes). The loan and its
// installments are read in one read transaction (one snapshot): read apart,
// a repayment committing between the two reads gives a quote mixing the
// balances after it with the schedule before it, a figure no payment settles.
func (s *Store) PayoffQuote(ctx context.Context, loanID int64, on loans.Date) (loans.PayoffQuote, error) {
	var l loans.Loan
	var inst []loans.Installment
	var closed loans.Date
	err := s.snapshot(ctx, func(q connReader) error {
		var err error
		if l, err = loadLoan(q, loanID); err != nil {
			return err
		}
		if inst, err = loadInstallments(q, loanID); err != nil {
			return err
		}
		closed, err = businessDate(q)
		return err
	})
	if err != nil {
		return loans.PayoffQuote{}, err
	}
	st := loans.State{Loan: l, Installments: inst, Policy: s.policy, ClosedThrough: closed}
	if on.IsZero() {
		// The day a repayment without a value date takes (valueDate).
		on = s.openDay(closed)
	} else if !closed.IsZero() && !loans.Day(on).After(closed) {
		// No payment can take a closed day, and the state is today's,
		// not that day's: such a quote would be a figure nothing settles.
		return loans.PayoffQuote{}, lend.FieldErrorf("date", "%s is on or before the last closed business date %s", fmtDate(on), fmtDate(closed))
	}
	if err := st.ValidateDate("date", loans.Day(on)); err != nil {
		return loans.PayoffQuote{}, err
	}
	return st.Payoff(loans.Day(on)), nil
}

// snapshot runs fn's reads on one pooled connection inside one deferred
// transaction, so they all see the same committed state. A deferred BEGIN,
// not BeginTx: the pool's connections begin IMMEDIATE (they take the write
// lock, and a quote must never wait for or hold up the writer), while a
// deferred read transaction in WAL mode only pins a snapshot.
func (s *Store) snapshot(ctx context.Context, fn func(q connReader) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return internal(err, "read snapshot")
	}
	// A connection that may still be inside the transaction (a failed
	// BEGIN or ROLLBACK, a panic in fn: parseDate panics on a corrupt
	// date) must not go back to the pool, where it would refuse every
	// later BEGIN and serve other reads this snapshot forever; it is
	// discarded instead.
	ended := false
	defer func() {
		if !ended {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, "BEGIN DEFERRED"); err != nil {
		return internal(err, "read snapshot")
	}
	ferr := fn(connReader{ctx: ctx, c: conn})
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		if ferr == nil {
			ferr = internal(err, "end read snapshot")
		}
		return ferr
	}
	ended = true
	return ferr
}

// connReader is the reads loadLoan and loadInstallments make, on one
// connection.
type connReader struct {
	ctx context.Context
	c   *sql.Conn
}

// QueryRow runs q on the connection.
func (r connReader) QueryRow(q string, args ...any) *sql.Row {
	return r.c.QueryRowContext(r.ctx, q, args...)
}

// Query runs q on the connection.
func (r connReader) Query(q string, args ...any) (*sql.Rows, error) {
	return r.c.QueryContext(r.ctx, q, args...)
}

// rd reads through the prepared statement cache on the pool.
func (s *Store) rd() reader { return reader{s.stmts} }

// BusinessDate is the last closed business date.
func (s *Store) BusinessDate(ctx context.Context) (loans.Date, error) { return businessDate(s.rd()) }

// Portfolio summarises outstanding principal by status, grade and bucket,
// and the open credit lines by the model that decided them, in one snapshot.
func (s *Store) Portfolio(ctx context.Context) (loans.Portfolio, error) {
	var p loans.Portfolio
	err := s.snapshot(ctx, func(q connReader) error {
		bd, err := businessDate(q)
		if err != nil {
			return err
		}
		p = loans.NewPortfolio(bd)
		return portfolioRows(q, &p)
	})
	return p, err
}

// The portfolio's queries (AddLoanRows, AddLineRows read their columns).
const (
	portfolioLoansSQL = `SELECT status, grade, bucket, count(*), sum(principal_outstanding_minor) FROM loans GROUP BY 1, 2, 3`
	portfolioLinesSQL = `SELECT model_id, count(*), sum(limit_minor), sum(drawn_minor) FROM credit_lines
		WHERE status IN ('active', 'frozen') GROUP BY 1`
)

// portfolioRows adds the loans and the open credit lines to p.
func portfolioRows(q connReader, p *loans.Portfolio) error {
	rows, err := q.Query(portfolioLoansSQL)
	if err != nil {
		return internal(err, "portfolio")
	}
	defer rows.Close()
	if err := p.AddLoanRows(rows); err != nil {
		return internal(err, "portfolio")
	}
	if err := rows.Err(); err != nil {
		return internal(err, "portfolio")
	}
	lines, err := q.Query(portfolioLinesSQL)
	if err != nil {
		return internal(err, "portfolio lines")
	}
	defer lines.Close()
	if err := p.AddLineRows(lines); err != nil {
		return internal(err, "portfolio lines")
	}
	return internal(lines.Err(), "portfolio lines")
}
