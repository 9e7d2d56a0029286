package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

const lineCols = `merchant_id, currency, limit_minor, drawn_minor, apr_micro, grade, score, pd, reasons, model_id, as_of, status, frozen_reason, updated_at`

func scanLine(r pgx.Row) (loans.CreditLine, error) {
	var l loans.CreditLine
	var reasons, updated, status string
	var apr int64
	err := r.Scan(&l.MerchantID, &l.Currency, &l.LimitMinor, &l.DrawnMinor, &apr, &l.Grade, &l.Score, &l.PD, &reasons,
		&l.ModelID, &l.AsOf, &status, &l.FrozenReason, &updated)
	if err != nil {
		return l, err
	}
	l.APR, l.Status = loans.Rate(apr), loans.LineStatus(status)
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

// MaxRefreshBatch bounds one UpsertCreditLines call.
const MaxRefreshBatch = 100_000

// upsertChunk is how many lines one upsert statement carries.
const upsertChunk = 5_000

// UpsertCreditLines writes a batch of refreshed credit lines in one
// transaction with set-based statements: the existing lines of a chunk are
// locked and read in merchant order (so two refreshes never deadlock), then
// one INSERT … ON CONFLICT writes the chunk. A frozen line keeps its status,
// except that fresh data lifts a stale-data freeze (liftStaleFreezes);
// a lower limit is floored at what is drawn; the currency of an existing
// line never changes.
func (s *Store) UpsertCreditLines(ctx context.Context, lines []loans.CreditLineUpdate) (loans.RefreshSummary, error) {
	var sum loans.RefreshSummary
	if err := loans.ValidateCreditLineUpdates(lines, MaxRefreshBatch); err != nil {
		return sum, err
	}
	rounds := upsertRounds(lines)
	err := s.inTx(ctx, modeCommand, func(tx pgx.Tx) error {
		sum = loans.RefreshSummary{}
		at := s.clock()
		for _, r := range rounds {
			if err := upsertRound(ctx, tx, r, at, &sum); err != nil {
				return err
			}
		}
		return nil
	})
	return sum, err
}

// upsertRounds splits lines into chunks of at most upsertChunk in which each
// merchant appears once (a later duplicate starts a new chunk), keeping the
// input order so the last update of a merchant wins, as on SQLite.
func upsertRounds(lines []loans.CreditLineUpdate) [][]loans.CreditLineUpdate {
	var out [][]loans.CreditLineUpdate
	seen := map[string]bool{}
	start := 0
	for i, u := range lines {
		if seen[u.MerchantID] || i-start >= upsertChunk {
			out = append(out, lines[start:i])
			start, seen = i, map[string]bool{}
		}
		seen[u.MerchantID] = true
	}
	if start < len(lines) {
		out = append(out, lines[start:])
	}
	return out
}

// upsertRound writes one chunk and records every line it changes in the
// credit line history (as SQLite: new lines, and existing lines whose limit,
// price or assessment changed).
func upsertRound(ctx context.Context, tx pgx.Tx, round []loans.CreditLineUpdate, at time.Time, sum *loans.RefreshSummary) error {
	now := nowText(at)
	ids := make([]string, len(round))
	for i, u := range round {
		ids[i] = u.MerchantID
	}
	sorted := append([]string(nil), ids...)
	sort.Strings(sorted)
	type old struct {
		limit, drawn, apr                   int64
		status, grade, reasons, model, asOf string
		score, pd                           float64
	}
	existing := make(map[string]old, len(round))
	var stale []string // lines frozen for want of data that this round refreshes
	rows, err := tx.Query(ctx, `SELECT merchant_id, limit_minor, drawn_minor, status, frozen_reason, apr_micro, grade, score, pd, reasons, model_id, as_of
		FROM credit_lines WHERE merchant_id = ANY($1) ORDER BY merchant_id FOR UPDATE`, sorted)
	if err != nil {
		return internal(err, "read credit lines")
	}
	for rows.Next() {
		var m, reason string
		var o old
		if err := rows.Scan(&m, &o.limit, &o.drawn, &o.status, &reason, &o.apr, &o.grade, &o.score, &o.pd, &o.reasons, &o.model, &o.asOf); err != nil {
			rows.Close()
			return internal(err, "read credit lines")
		}
		existing[m] = o
		if o.status == string(loans.LineFrozen) && reason == loans.FrozenByStaleData {
			stale = append(stale, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return internal(err, "read credit lines")
	}
	lifted, err := liftStaleFreezes(ctx, tx, stale, now)
	if err != nil {
		return err
	}
	n := len(round)
	cur, grade, model, asOf, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	limit, apr := make([]int64, n), make([]int64, n)
	score, pd := make([]float64, n), make([]float64, n)
	var history []loans.CreditLineChange
	for i, u := range round {
		// The lift of a stale-data freeze is a change of the line even when
		// nothing else is, so it is recorded.
		delinquent, unfreeze := lifted[u.MerchantID]
		if unfreeze {
			o := existing[u.MerchantID]
			if delinquent {
				sum.StaleToDelinquency++
				u.LimitMinor, u.APR = o.limit, loans.Rate(o.apr) // a delinquent merchant's line keeps its limit and price
			} else {
				sum.Unfrozen++
				o.status = string(loans.LineActive)
				existing[u.MerchantID] = o
			}
			delete(lifted, u.MerchantID) // counted once
		}
		r, _ := json.Marshal(u.Reasons)
		if u.Reasons == nil {
			r = []byte("[]")
		}
		cur[i], grade[i], model[i], asOf[i], reasons[i] = u.Currency, u.Grade, u.ModelID, u.AsOf, string(r)
		limit[i], apr[i], score[i], pd[i] = u.LimitMinor, int64(u.APR), u.Score, u.PD
		o, had := existing[u.MerchantID]
		if !had {
			sum.New++
			history = append(history, loans.RefreshChange(u, at, "new", 0, u.LimitMinor, 0, 0, ""))
			continue
		}
		l, guard := u.LimitMinor, ""
		if l < o.drawn {
			l, guard = o.drawn, loans.GuardDrawnFloor
			sum.Floored++
		}
		change := "unchanged"
		switch {
		case o.status == string(loans.LineFrozen):
			sum.Frozen++
			change, guard = "frozen", loans.GuardFrozen
		case l > o.limit:
			sum.Raised++
			change = "raised"
		case l < o.limit:
			sum.Lowered++
			change = "lowered"
		default:
			sum.Unchanged++
		}
		if unfreeze || l != o.limit || int64(u.APR) != o.apr || u.Grade != o.grade || u.Score != o.score || u.PD != o.pd ||
			reasons[i] != o.reasons || u.ModelID != o.model || u.AsOf != o.asOf {
			history = append(history, loans.RefreshChange(u, at, change, o.limit, l, o.drawn, loans.Rate(o.apr), guard))
		}
	}
	if err := insertHistory(ctx, tx, history); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO credit_lines AS c (`+lineCols+`)
		SELECT merchant_id, currency, limit_minor, 0, apr_micro, grade, score, pd, reasons, model_id, as_of, 'active', '', $11
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::float8[], $7::float8[], $8::text[], $9::text[], $10::text[])
			AS u(merchant_id, currency, limit_minor, apr_micro, grade, score, pd, reasons, model_id, as_of)
		ORDER BY merchant_id
		ON CONFLICT (merchant_id) DO UPDATE SET limit_minor = GREATEST(excluded.limit_minor, c.drawn_minor),
			apr_micro = excluded.apr_micro, grade = excluded.grade, score = excluded.score, pd = excluded.pd,
			reasons = excluded.reasons, model_id = excluded.model_id, as_of = excluded.as_of, updated_at = excluded.updated_at`,
		ids, cur, limit, apr, grade, score, pd, reasons, model, asOf, now)
	return internal(err, "upsert credit lines")
}

// CreditLine returns a merchant's credit line.
func (s *Store) CreditLine(ctx context.Context, merchantID string) (loans.CreditLine, error) {
	l, err := scanLine(s.pool.QueryRow(ctx, `SELECT `+lineCols+` FROM credit_lines WHERE merchant_id = $1`, merchantID))
	if errors.Is(err, pgx.ErrNoRows) {
		return l, lend.Errorf(lend.ENOTFOUND, "merchant %s has no credit line", merchantID)
	}
	return l, internal(err, "credit line")
}

// ListCreditLines lists lines by merchant id, filtered by status and grade,
// with an opaque cursor (the last merchant id returned). Merchant ids are
// compared bytewise (the column is COLLATE "C"), as SQLite does.
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
	q := `SELECT ` + lineCols + ` FROM credit_lines WHERE merchant_id > $1`
	args := []any{after}
	if f.Status != "" {
		args = append(args, string(f.Status))
		q += ` AND status = $` + strconv.Itoa(len(args))
	}
	if f.Grade != "" {
		args = append(args, f.Grade)
		q += ` AND grade = $` + strconv.Itoa(len(args))
	}
	args = append(args, n+1)
	q += ` ORDER BY merchant_id LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, q, args...)
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
	return loadApplication(ctx, s.pool, id, false)
}

// Loan returns a loan.
func (s *Store) Loan(ctx context.Context, id int64) (loans.Loan, error) {
	return loadLoan(ctx, s.pool, id, false)
}

// Schedule returns a loan's installments with what is paid on each. The
// loan and its installments are one snapshot: a revolving draw's balances
// after each statement come from its outstanding principal.
func (s *Store) Schedule(ctx context.Context, loanID int64) ([]loans.Installment, error) {
	var inst []loans.Installment
	err := s.inTx(ctx, modeRead, func(tx pgx.Tx) error {
		l, err := loadLoan(ctx, tx, loanID, false)
		if err != nil {
			return err
		}
		if inst, err = loadInstallments(ctx, tx, loanID); err != nil {
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
	q := `SELECT ` + loanCols + ` FROM loans WHERE id > $1`
	args := []any{after}
	if f.MerchantID != "" {
		args = append(args, f.MerchantID)
		q += ` AND merchant_id = $` + strconv.Itoa(len(args))
	}
	if f.Status != "" {
		args = append(args, string(f.Status))
		q += ` AND status = $` + strconv.Itoa(len(args))
	}
	args = append(args, n+1)
	q += ` ORDER BY id LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, q, args...)
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
	rows, err := s.pool.Query(ctx, `SELECT body FROM repayments WHERE loan_id = $1 ORDER BY id`, loanID)
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
	rows, err := s.pool.Query(ctx, `SELECT e.id, e.loan_id, e.merchant_id, e.kind, e.business_date, e.created_at,
		p.account, p.debit_minor, p.credit_minor FROM journal_entries e JOIN postings p ON p.entry_id = e.id
		WHERE e.loan_id = $1 ORDER BY e.id, p.leg`, loanID)
	if err != nil {
		return nil, internal(err, "journal")
	}
	defer rows.Close()
	out := []loans.JournalEntry{}
	for rows.Next() {
		var e loans.JournalEntry
		var p loans.Posting
		var created string
		var acct int32
		if err := rows.Scan(&e.ID, &e.LoanID, &e.MerchantID, &e.Kind, &e.BusinessDate, &created, &acct, &p.DebitMinor, &p.CreditMinor); err != nil {
			return nil, internal(err, "journal")
		}
		p.Account = loans.Account(acct)
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
// open business day, the date a repayment without one takes).
func (s *Store) PayoffQuote(ctx context.Context, loanID int64, on loans.Date) (loans.PayoffQuote, error) {
	var q loans.PayoffQuote
	err := s.inTx(ctx, modeRead, func(tx pgx.Tx) error {
		l, err := loadLoan(ctx, tx, loanID, false)
		if err != nil {
			return err
		}
		inst, err := loadInstallments(ctx, tx, loanID)
		if err != nil {
			return err
		}
		closed, err := businessDate(ctx, tx)
		if err != nil {
			return err
		}
		st := loans.State{Loan: l, Installments: inst, Policy: s.policy, ClosedThrough: closed}
		if on.IsZero() {
			// The day a repayment without a value date takes (the open
			// business day), so that paying the quote settles the loan.
			if on, err = s.valueDateAfter(closed, "date", ""); err != nil {
				return err
			}
		} else if !closed.IsZero() && !loans.Day(on).After(closed) {
			// No payment can take a closed day, and the state is today's,
			// not that day's: such a quote would be a figure nothing settles.
			return lend.FieldErrorf("date", "%s is on or before the last closed business date %s", fmtDate(on), fmtDate(closed))
		}
		if err := st.ValidateDate("date", loans.Day(on)); err != nil {
			return err
		}
		q = st.Payoff(loans.Day(on))
		return nil
	})
	return q, err
}

// BusinessDate is the last closed business date.
func (s *Store) BusinessDate(ctx context.Context) (loans.Date, error) {
	return businessDate(ctx, s.pool)
}

// Portfolio summarises outstanding principal by status, grade and bucket,
// and the open credit lines by the model that decided them, in one snapshot.
func (s *Store) Portfolio(ctx context.Context) (loans.Portfolio, error) {
	var p loans.Portfolio
	err := s.inTx(ctx, modeRead, func(tx pgx.Tx) error {
		bd, err := businessDate(ctx, tx)
		if err != nil {
			return err
		}
		p = loans.NewPortfolio(bd)
		return portfolioRows(ctx, tx, &p)
	})
	return p, err
}

// The portfolio's queries (AddLoanRows, AddLineRows read their columns);
// PostgreSQL's sum of BIGINT is NUMERIC, hence the casts.
const (
	portfolioLoansSQL = `SELECT status, grade, bucket, count(*), sum(principal_outstanding_minor)::bigint FROM loans GROUP BY 1, 2, 3`
	portfolioLinesSQL = `SELECT model_id, count(*), sum(limit_minor)::bigint, sum(drawn_minor)::bigint FROM credit_lines
		WHERE status IN ('active', 'frozen') GROUP BY 1`
)

// portfolioRows adds the loans and the open credit lines to p.
func portfolioRows(ctx context.Context, tx pgx.Tx, p *loans.Portfolio) error {
	rows, err := tx.Query(ctx, portfolioLoansSQL)
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
	lines, err := tx.Query(ctx, portfolioLinesSQL)
	if err != nil {
		return internal(err, "portfolio lines")
	}
	defer lines.Close()
	if err := p.AddLineRows(lines); err != nil {
		return internal(err, "portfolio lines")
	}
	return internal(lines.Err(), "portfolio lines")
}
