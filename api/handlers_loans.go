package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
	"github.com/lendhq/lend/loans"
)

// Limits of application requests.
const (
	// MaxTermMonths bounds term_months of an application.
	MaxTermMonths = 60
	// MaxAmountMinor bounds amount_minor of an application or a repayment
	// (10^13 minor units, far beyond any merchant line, far below int64 overflow).
	MaxAmountMinor = 10_000_000_000_000
	// DefaultLimitStepMinor is the step a counter-offer is rounded down to
	// when Config.LimitStepMinor is unset (scoring's default limit step).
	DefaultLimitStepMinor = 10000
	// MaxMerchantIDLen bounds merchant ids in bodies and queries (as openapi.yaml does).
	MaxMerchantIDLen = 128
	// MaxGradeLen bounds the grade filter.
	MaxGradeLen = 8
)

// Decline and counter-offer reason codes: stable strings clients can branch on.
const (
	ReasonNoCreditLine   = "no_credit_line"
	ReasonLineFrozen     = "line_frozen"
	ReasonLineClosed     = "line_closed"
	ReasonNoLimit        = "no_limit"
	ReasonFullyDrawn     = "limit_fully_drawn"
	ReasonAboveAvailable = "amount_above_available"
	// ReasonNoRecentSales follows ReasonLineFrozen when the line is frozen
	// for stale data and no loan is past due (decisionLine): the merchant
	// learns that missing sales data, not a late payment, stops the credit.
	ReasonNoRecentSales = "no_recent_sales_data"
)

// storeCmd builds the loans command for the caller acting on merchantID's
// objects. The store scopes idempotency keys by merchant, so a staff key's
// idempotency key is namespaced by the key id (hashed to stay within the
// store's key length) and can never collide with the merchant's own keys.
func storeCmd(c echo.Context, merchantID string) loans.Cmd {
	p := PrincipalOf(c)
	k := IdempotencyKeyOf(c)
	if p.Role != auth.RoleMerchant && k != "" {
		sum := sha256.Sum256([]byte(p.Owner() + "\x00" + k))
		k = "staff:" + hex.EncodeToString(sum[:])
	}
	c.Set(ctxCmdMerchant, merchantID)
	h, _ := c.Get(ctxReqHash).([]byte)
	return loans.Cmd{MerchantID: merchantID, IdempotencyKey: k, RequestHash: h}
}

// pathID parses an integer id path parameter.
func pathID(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id < 1 {
		return 0, lend.FieldErrorf(name, "must be a positive integer id")
	}
	return id, nil
}

// notFoundAs rewrites the store's not-found into what the caller asked for, so
// "not yours" and "does not exist" read the same.
func notFoundAs(err error, what string) error {
	if lend.ErrorCode(err) == lend.ENOTFOUND {
		return lend.Errorf(lend.ENOTFOUND, "%s not found", what)
	}
	return err
}

// loadOwnLoan reads a loan the caller may see; another merchant's loan is 404.
func (s *Server) loadOwnLoan(c echo.Context) (loans.Loan, error) {
	id, err := pathID(c, "loan_id")
	if err != nil {
		return loans.Loan{}, err
	}
	what := "loan " + strconv.FormatInt(id, 10)
	l, err := s.cfg.Loans.Loan(c.Request().Context(), id)
	if err != nil {
		return l, notFoundAs(err, what)
	}
	if err := auth.CheckMerchant(c.Request().Context(), l.MerchantID, what); err != nil {
		return loans.Loan{}, err
	}
	return l, nil
}

// getCreditLine: GET /v1/merchants/:merchant_id/credit-line.
func (s *Server) getCreditLine(c echo.Context) error {
	m := c.Param("merchant_id")
	what := "credit line of merchant " + m
	if err := auth.CheckMerchant(c.Request().Context(), m, what); err != nil {
		return err
	}
	line, err := s.cfg.Loans.CreditLine(c.Request().Context(), m)
	if err != nil {
		return notFoundAs(err, what)
	}
	return WriteJSON(c, http.StatusOK, line)
}

// creditLinePage is a page of credit lines.
type creditLinePage struct {
	Items      []loans.CreditLine `json:"items"`
	NextCursor *string            `json:"next_cursor"`
}

// listCreditLines: GET /v1/credit-lines (officers).
func (s *Server) listCreditLines(c echo.Context) error {
	limit, err := PageLimit(c)
	if err != nil {
		return err
	}
	cur, err := rawCursor(c)
	if err != nil {
		return err
	}
	status := loans.LineStatus(c.QueryParam("status"))
	switch status {
	case "", loans.LineActive, loans.LineFrozen, loans.LineClosed:
	default:
		return lend.FieldErrorf("status", "%q is not active, frozen or closed", status)
	}
	grade := c.QueryParam("grade")
	if len(grade) > MaxGradeLen {
		return lend.FieldErrorf("grade", "longer than %d characters", MaxGradeLen)
	}
	lines, next, err := s.cfg.Loans.ListCreditLines(c.Request().Context(), loans.CreditLineFilter{
		Status: status, Grade: grade, Cursor: cur, Limit: limit})
	if err != nil {
		return err
	}
	if lines == nil {
		lines = []loans.CreditLine{}
	}
	return WriteJSON(c, http.StatusOK, creditLinePage{Items: lines, NextCursor: nextCursor(next)})
}

// rawCursor returns the cursor query parameter, bounded; the store's cursors
// are already opaque and validated by the store.
func rawCursor(c echo.Context) (string, error) {
	raw := c.QueryParam("cursor")
	if len(raw) > MaxCursorLen {
		return "", lend.FieldErrorf("cursor", "longer than %d characters", MaxCursorLen)
	}
	return raw, nil
}

func nextCursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}

// applicationRequest is the body of POST /v1/applications.
type applicationRequest struct {
	MerchantID  string            `json:"merchant_id"`
	AmountMinor int64             `json:"amount_minor"`
	TermMonths  int               `json:"term_months"`
	Product     loans.ProductKind `json:"product"`
	Method      loans.Method      `json:"method"`
}

// applicationResponse is the stored application plus the schedule preview of
// its offer (the preview is recomputed from the stored offer, so it is not stored).
type applicationResponse struct {
	loans.Application
	SchedulePreview []loans.Installment `json:"schedule_preview"`
}

// createApplication: POST /v1/applications → 201 with the decision, taken
// against the merchant's stored credit line (written by the nightly refresh).
//
// Idempotency is the store's (routes.go command): the store hashes the
// application it is given, so everything in it is a function of the request
// and the credit line only — the offer's expiry and the preview's start are
// whole UTC days (offerExpiry, previewStart) — and a retry on the same day
// against an unchanged line replays. The response is rendered from the
// stored application alone, so the replay is byte-identical.
func (s *Server) createApplication(c echo.Context) error {
	var req applicationRequest
	if err := decodeApplication(c, &req); err != nil {
		return err
	}
	if err := s.validateApplication(c, &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := auth.CheckMerchant(ctx, req.MerchantID, "merchant "+req.MerchantID); err != nil {
		return err
	}
	if err := s.checkDrawRisk(ctx, req.MerchantID, req.AmountMinor); err != nil {
		return err
	}

	slot := PrincipalOf(c).Owner() + "\x00" + IdempotencyKeyOf(c)
	app, seen, err := s.appMemo.lookup(slot, req)
	if err != nil {
		return err
	}
	var sched []loans.Installment
	var stored loans.Application
	if seen {
		stored, err = s.cfg.Loans.CreateApplication(ctx, storeCmd(c, req.MerchantID), app)
	} else {
		app, sched, stored, err = s.decideAndStore(c, req)
	}
	if err != nil {
		return storeIdemError(err)
	}
	s.appMemo.remember(slot, req, app)
	s.metrics.Decisions.WithLabelValues(stored.Decision).Inc()
	preview, err := s.schedulePreview(stored, app, sched)
	if err != nil {
		return err
	}
	return writeApplication(c, http.StatusCreated, applicationResponse{Application: stored, SchedulePreview: preview})
}

// writeApplication writes r exactly as WriteJSON does, with loans' hand-written
// encoders (encoding/json's reflection was about a tenth of a decision's
// CPU); a value they leave to encoding/json goes through WriteJSON.
func writeApplication(c echo.Context, status int, r applicationResponse) error {
	p := appBufPool.Get().(*[]byte)
	defer func() {
		if cap(*p) <= maxPooledBufBytes {
			appBufPool.Put(p)
		}
	}()
	b, ok := loans.AppendApplicationFields(append((*p)[:0], '{'), &r.Application)
	if ok {
		b, ok = loans.AppendInstallmentsJSON(append(b, `,"schedule_preview":`...), r.SchedulePreview)
	}
	b = append(b, "}\n"...) // json.Encoder ends every value with a newline
	*p = b[:0]              // keep the grown buffer
	if !ok {
		return WriteJSON(c, status, r)
	}
	return writeBlob(c, status, echo.MIMEApplicationJSON, b) // written (copied) before the buffer is reused
}

// appBufPool recycles decision response buffers.
var appBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// decideAndStore decides req against the merchant's credit line and stores
// the application (app is what was decided, stored what the store answered).
// The line comes from the line cache when this process has it; the store
// writes the application only while that line is still the stored one
// (loans.Cmd.Line), else the line is read afresh and the decision taken
// again. The last of maxLineAttempts goes without the check, on a line just
// read, as every decision did before the cache (a line changing under a
// burst of draws must not starve an application).
func (s *Server) decideAndStore(c echo.Context, req applicationRequest) (app loans.Application, sched []loans.Installment, stored loans.Application, err error) {
	ctx := c.Request().Context()
	for attempt := 1; ; attempt++ {
		line, found, err := s.line(ctx, req.MerchantID, attempt > 1)
		if err != nil {
			return app, nil, stored, err
		}
		dl, err := s.decisionLine(ctx, line, found)
		if err != nil {
			return app, nil, stored, err
		}
		if app, sched, err = s.decideApplication(req, dl, found); err != nil {
			return app, nil, stored, err
		}
		cmd := storeCmd(c, req.MerchantID)
		if found && attempt < maxLineAttempts {
			cmd.Line = &line
		}
		stored, err = s.cfg.Loans.CreateApplication(ctx, cmd, app)
		if errors.Is(err, loans.ErrLineChanged) && attempt < maxLineAttempts {
			continue
		}
		return app, sched, stored, err
	}
}

// decisionLine is line as the decision reads it: a stale-data freeze hides
// a delinquency that fell after it (close of business freezes active lines
// only), so the line of a merchant with a loan past due is decided as frozen
// for delinquency, not told that sales data would lift the freeze. line
// itself stays the stored one (the store compares it). Only a stale-frozen
// line costs a loans read.
func (s *Server) decisionLine(ctx context.Context, line loans.CreditLine, found bool) (loans.CreditLine, error) {
	if !found || line.Status != loans.LineFrozen || line.FrozenReason != loans.FrozenByStaleData {
		return line, nil
	}
	delinquent, err := loans.MerchantDelinquent(ctx, s.cfg.Loans, line.MerchantID)
	if delinquent {
		line.FrozenReason = loans.FrozenByDelinquency
	}
	return line, err
}

// decideApplication takes the decision on req against the merchant's credit
// line (found false: the merchant has none) and prices the offer; sched is
// the offer's schedule (nil without one).
func (s *Server) decideApplication(req applicationRequest, line loans.CreditLine, found bool) (app loans.Application, sched []loans.Installment, err error) {
	app = loans.Application{MerchantID: req.MerchantID, AmountMinor: req.AmountMinor, Product: req.Product,
		TermPeriods: req.TermMonths, Method: req.Method, Frequency: loans.Monthly}
	if !found {
		app.Decision, app.Reasons = loans.DecisionDeclined, []string{ReasonNoCreditLine}
	} else {
		app.Currency, app.ModelID, app.Grade = line.Currency, line.ModelID, line.Grade
		s.decide(&app, line)
	}
	if app.Offer == nil {
		return app, nil, nil
	}
	app.Offer.ExpiresAt = s.offerExpiry(s.cfg.Now())
	t := offerTerms(app, previewStart(app.Offer.ExpiresAt, s.cfg.OfferValidity))
	if err := t.Validate(); err != nil {
		return app, nil, err
	}
	if sched, err = loans.BuildSchedule(t); err != nil {
		return app, nil, err
	}
	_, interest := loans.ScheduleTotals(sched)
	app.Offer.InstallmentMinor = sched[0].TotalMinor()
	app.Offer.TotalInterestMinor = interest
	app.DayCount = t.DayCount
	return app, sched, nil
}

// MaxRememberedApplications bounds the in-process memory of decided
// applications (two generations; a few hundred bytes each). It is small
// because the memo only spares a decision for a retry that comes soon, while
// every entry it holds is a dozen pointers the garbage collector marks in
// every cycle: at 50,000 the memo was most of the server's live heap and made
// each mark phase last 15–30 ms, the p99 tail of decisions
// (docs/perf/api-resources.md, session 12).
const MaxRememberedApplications = 4_096

// appMemo remembers, per (owner, Idempotency-Key), the request and the exact
// application given to the store, so a retry in this process re-sends the
// original application without deciding again, and a different request under
// the same key is 422 without a decision. Correctness does not depend on it:
// the store recognises a retry by the HTTP request's fingerprint
// (loans.Cmd.RequestHash), so after a restart, a line change or a new day a
// retry still replays the stored answer.
type appMemo struct {
	mu sync.Mutex
	m  recent[string, memoEntry]
}

type memoEntry struct {
	req applicationRequest
	app loans.Application
}

// lookup returns the remembered application for slot when req is the same
// request; EUNPROCESSABLE when the key was used for another request.
func (a *appMemo) lookup(slot string, req applicationRequest) (loans.Application, bool, error) {
	a.mu.Lock()
	e, ok := a.m.get(slot)
	a.mu.Unlock()
	switch {
	case !ok:
		return loans.Application{}, false, nil
	case e.req != req:
		return loans.Application{}, false, &lend.Error{Code: lend.EUNPROCESSABLE, Field: HeaderIdempotencyKey, Message: "Idempotency-Key was already used with a different request"}
	}
	return e.app, true, nil
}

func (a *appMemo) remember(slot string, req applicationRequest, app loans.Application) {
	if app.Offer != nil { // own the offer: the caller's may be changed later
		o := *app.Offer
		app.Offer = &o
	}
	a.mu.Lock()
	a.m.put(slot, memoEntry{req: req, app: app}, MaxRememberedApplications)
	a.mu.Unlock()
}

// validateApplication checks the request and fills its defaults.
func (s *Server) validateApplication(c echo.Context, req *applicationRequest) error {
	if req.MerchantID == "" {
		if p := PrincipalOf(c); p.Role == auth.RoleMerchant {
			req.MerchantID = p.MerchantID
		} else {
			return lend.FieldErrorf("merchant_id", "is required")
		}
	}
	if len(req.MerchantID) > MaxMerchantIDLen {
		return lend.FieldErrorf("merchant_id", "longer than %d characters", MaxMerchantIDLen)
	}
	if req.AmountMinor < 1 || req.AmountMinor > MaxAmountMinor {
		return lend.FieldErrorf("amount_minor", "must be from 1 to %d", int64(MaxAmountMinor))
	}
	if req.TermMonths < 1 || req.TermMonths > MaxTermMonths {
		return lend.FieldErrorf("term_months", "must be from 1 to %d", MaxTermMonths)
	}
	if req.Product == "" {
		req.Product = loans.ProductTerm
	}
	if req.Product != loans.ProductTerm {
		return lend.FieldErrorf("product", "%q: applications are for term loans", req.Product)
	}
	if req.Method == "" {
		req.Method = loans.Annuity
	}
	switch req.Method {
	case loans.Annuity, loans.EqualPrincipal, loans.InterestOnly:
	default:
		return lend.FieldErrorf("method", "%q is not annuity, equal-principal or interest-only", req.Method)
	}
	return nil
}

// offerExpiry is when an offer made at now expires: the end of the UTC day
// on which now + OfferValidity falls (so an offer is valid at least
// OfferValidity and under a day more). Whole days keep the application a
// function of the request and the line for the whole day, which is what
// lets the store recognise a retry as a replay.
func (s *Server) offerExpiry(now time.Time) time.Time {
	return loans.Day(now.Add(s.cfg.OfferValidity)).AddDate(0, 0, 1)
}

// previewStart is the day an offer's schedule (installment, total interest,
// preview) starts: the day the offer was made, recovered from its stored
// expiry (offerExpiry's inverse; exact when the validity is whole days, as
// the default 72 h is), so the preview is a function of the stored application.
func previewStart(expiresAt time.Time, validity time.Duration) loans.Date {
	return loans.Day(expiresAt.Add(-validity - time.Nanosecond))
}

// offerTerms are the loan terms of app's offer starting on start.
func offerTerms(app loans.Application, start loans.Date) loans.Terms {
	return loans.Terms{PrincipalMinor: app.Offer.AmountMinor, Rate: app.Offer.APR, Periods: app.Offer.TermPeriods,
		Method: app.Method, Frequency: app.Frequency, EveryDays: app.EveryDays, DayCount: app.DayCount,
		Start: start}
}

// sameTerms reports whether a and b's offers give the same schedule.
func sameTerms(a, b loans.Application) bool {
	x, y := a.Offer, b.Offer
	return x != nil && y != nil && x.AmountMinor == y.AmountMinor && x.APR == y.APR && x.TermPeriods == y.TermPeriods &&
		x.ExpiresAt.Equal(y.ExpiresAt) && a.Method == b.Method && a.Frequency == b.Frequency &&
		a.EveryDays == b.EveryDays && a.DayCount == b.DayCount
}

// schedulePreview is the schedule the stored application's offer would have
// if accepted on the day it was made. When the stored offer is the one just
// computed (no replay), sched is reused.
func (s *Server) schedulePreview(stored, computed loans.Application, sched []loans.Installment) ([]loans.Installment, error) {
	if stored.Offer == nil {
		return []loans.Installment{}, nil
	}
	if sched != nil && sameTerms(stored, computed) {
		return sched, nil
	}
	t := offerTerms(stored, previewStart(stored.Offer.ExpiresAt, s.cfg.OfferValidity))
	return loans.BuildSchedule(t)
}

// decide sets app's decision from the merchant's line: approved when the
// amount fits what is available on an active line; a counter-offer of the
// available amount (rounded down to the limit step) when only part fits;
// declined otherwise, with the line's scoring reasons.
func (s *Server) decide(app *loans.Application, line loans.CreditLine) {
	decline := func(reasons ...string) {
		app.Decision = loans.DecisionDeclined
		app.Reasons = append(reasons, line.Reasons...)
	}
	step := s.cfg.LimitStepMinor
	switch {
	case line.Status == loans.LineFrozen && line.FrozenReason == loans.FrozenByStaleData:
		decline(ReasonLineFrozen, ReasonNoRecentSales)
		return
	case line.Status == loans.LineFrozen:
		decline(ReasonLineFrozen)
		return
	case line.Status != loans.LineActive:
		decline(ReasonLineClosed)
		return
	case line.LimitMinor <= 0:
		decline(ReasonNoLimit)
		return
	}
	offer := app.AmountMinor
	app.Decision, app.Reasons = loans.DecisionApproved, []string{}
	if app.AmountMinor > line.AvailableMinor {
		offer = line.AvailableMinor / step * step
		if offer <= 0 {
			decline(ReasonFullyDrawn)
			return
		}
		app.Decision, app.Reasons = loans.DecisionCounterOffer, []string{ReasonAboveAvailable}
	}
	app.Offer = &loans.Offer{AmountMinor: offer, APR: line.APR, TermPeriods: app.TermPeriods}
}

// acceptApplication: POST /v1/applications/:application_id/accept → 201 loan.
func (s *Server) acceptApplication(c echo.Context) error {
	id, err := pathID(c, "application_id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	what := "application " + strconv.FormatInt(id, 10)
	// A merchant key accepts as its own merchant without a read: the store
	// refuses another merchant's application as not found in its transaction.
	// Staff keys act for the application's merchant, read first.
	merchantID := PrincipalOf(c).MerchantID
	if PrincipalOf(c).Role != auth.RoleMerchant {
		app, err := s.cfg.Loans.Application(ctx, id)
		if err != nil {
			return notFoundAs(err, what)
		}
		merchantID = app.MerchantID
	}
	l, err := s.cfg.Loans.AcceptApplication(ctx, storeCmd(c, merchantID),
		loans.AcceptRequest{ApplicationID: id, Now: s.cfg.Now()})
	if err != nil {
		return notFoundAs(storeIdemError(err), what)
	}
	s.lines.drop(merchantID)
	return WriteJSON(c, http.StatusCreated, l)
}

// getLoan: GET /v1/loans/:loan_id.
func (s *Server) getLoan(c echo.Context) error {
	l, err := s.loadOwnLoan(c)
	if err != nil {
		return err
	}
	return WriteJSON(c, http.StatusOK, l)
}

// scheduleResponse is a loan's schedule.
type scheduleResponse struct {
	LoanID       int64               `json:"loan_id"`
	Currency     string              `json:"currency"`
	Method       loans.Method        `json:"method,omitempty"`
	Installments []loans.Installment `json:"installments"`
}

// getSchedule: GET /v1/loans/:loan_id/schedule.
func (s *Server) getSchedule(c echo.Context) error {
	l, err := s.loadOwnLoan(c)
	if err != nil {
		return err
	}
	inst, err := s.cfg.Loans.Schedule(c.Request().Context(), l.ID)
	if err != nil {
		return err
	}
	if inst == nil {
		inst = []loans.Installment{}
	}
	return WriteJSON(c, http.StatusOK, scheduleResponse{LoanID: l.ID, Currency: l.Currency, Method: l.Method, Installments: inst})
}

// journalResponse is a loan's journal, oldest entry first.
type journalResponse struct {
	LoanID   int64                `json:"loan_id"`
	Currency string               `json:"currency"`
	Entries  []loans.JournalEntry `json:"entries"`
}

// getJournal: GET /v1/loans/:loan_id/journal (officers).
func (s *Server) getJournal(c echo.Context) error {
	l, err := s.loadOwnLoan(c)
	if err != nil {
		return err
	}
	entries, err := s.cfg.Loans.Journal(c.Request().Context(), l.ID)
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []loans.JournalEntry{}
	}
	return WriteJSON(c, http.StatusOK, journalResponse{LoanID: l.ID, Currency: l.Currency, Entries: entries})
}

// loanPage is a page of loans.
type loanPage struct {
	Items      []loans.Loan `json:"items"`
	NextCursor *string      `json:"next_cursor"`
}

// listLoans: GET /v1/loans. A merchant sees only its own loans: asking for
// another merchant's yields an empty page, never an error that confirms the
// merchant exists.
func (s *Server) listLoans(c echo.Context) error {
	limit, err := PageLimit(c)
	if err != nil {
		return err
	}
	cur, err := rawCursor(c)
	if err != nil {
		return err
	}
	f := loans.LoanFilter{MerchantID: c.QueryParam("merchant_id"), Status: loans.LoanStatus(c.QueryParam("status")), Cursor: cur, Limit: limit}
	switch f.Status {
	case "", loans.LoanPending, loans.LoanActive, loans.LoanPaidOff, loans.LoanChargedOff, loans.LoanCancelled:
	default:
		return lend.FieldErrorf("status", "%q is not pending, active, paid_off, charged_off or cancelled", f.Status)
	}
	if len(f.MerchantID) > MaxMerchantIDLen {
		return lend.FieldErrorf("merchant_id", "longer than %d characters", MaxMerchantIDLen)
	}
	if own, all := auth.MerchantScope(c.Request().Context()); !all {
		if f.MerchantID != "" && f.MerchantID != own {
			return WriteJSON(c, http.StatusOK, loanPage{Items: []loans.Loan{}})
		}
		f.MerchantID = own
	}
	ls, next, err := s.cfg.Loans.ListLoans(c.Request().Context(), f)
	if err != nil {
		return err
	}
	if ls == nil {
		ls = []loans.Loan{}
	}
	return WriteJSON(c, http.StatusOK, loanPage{Items: ls, NextCursor: nextCursor(next)})
}

// repaymentRequest is the body of POST /v1/loans/:loan_id/repayments.
type repaymentRequest struct {
	AmountMinor int64  `json:"amount_minor"`
	ValueDate   string `json:"value_date"`
}

// createRepayment: POST /v1/loans/:loan_id/repayments → 201 with the
// allocation and the balances after.
func (s *Server) createRepayment(c echo.Context) error {
	var req repaymentRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.AmountMinor < 1 || req.AmountMinor > MaxAmountMinor {
		return lend.FieldErrorf("amount_minor", "must be from 1 to %d", int64(MaxAmountMinor))
	}
	if req.ValueDate != "" {
		if _, err := loans.ParseDate("value_date", req.ValueDate); err != nil {
			return err
		}
	}
	merchantID, loanID, err := s.repaymentTarget(c)
	if err != nil {
		return err
	}
	rep, err := s.cfg.Loans.Repay(c.Request().Context(), storeCmd(c, merchantID),
		loans.RepayRequest{LoanID: loanID, AmountMinor: req.AmountMinor, ValueDate: req.ValueDate})
	if err != nil {
		var le *lend.Error
		if errors.As(err, &le) && le.Code != lend.EINTERNAL {
			s.metrics.Repayments.WithLabelValues("refused").Inc()
		}
		return notFoundAs(storeIdemError(err), "loan "+strconv.FormatInt(loanID, 10))
	}
	s.lines.drop(merchantID)
	s.metrics.Repayments.WithLabelValues("accepted").Inc()
	s.metrics.RepaidMinor.WithLabelValues(rep.Currency).Add(float64(rep.AmountMinor))
	return WriteJSON(c, http.StatusCreated, rep)
}

// repaymentTarget is the loan a repayment is for and the merchant it
// belongs to. A merchant key repays as its own merchant without a read: the
// store's command refuses another merchant's loan as not found (404) inside
// its transaction. Staff keys act for the loan's merchant, read first.
func (s *Server) repaymentTarget(c echo.Context) (merchantID string, loanID int64, err error) {
	if p := PrincipalOf(c); p.Role == auth.RoleMerchant {
		loanID, err = pathID(c, "loan_id")
		return p.MerchantID, loanID, err
	}
	l, err := s.loadOwnLoan(c)
	return l.MerchantID, l.ID, err
}

// drawRequest is the body of POST /v1/merchants/:merchant_id/draws.
type drawRequest struct {
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
}

// createDraw: POST /v1/merchants/:merchant_id/draws → 201 the revolving loan
// the draw opens on the merchant's credit line. The response is the store's
// result (a replay returns the stored loan, byte-identical).
func (s *Server) createDraw(c echo.Context) error {
	var req drawRequest
	if err := DecodeJSON(c, &req); err != nil {
		return err
	}
	if req.AmountMinor < 1 || req.AmountMinor > MaxAmountMinor {
		return lend.FieldErrorf("amount_minor", "must be from 1 to %d", int64(MaxAmountMinor))
	}
	if req.Currency != "" && !isCurrencyCode(req.Currency) {
		return lend.FieldErrorf("currency", "%q is not a three-letter ISO 4217 code", req.Currency)
	}
	m := c.Param("merchant_id")
	ctx := c.Request().Context()
	what := "credit line of merchant " + m
	if len(m) > MaxMerchantIDLen {
		return lend.FieldErrorf("merchant_id", "longer than %d characters", MaxMerchantIDLen)
	}
	if err := auth.CheckMerchant(ctx, m, what); err != nil {
		return err
	}
	if err := s.checkDrawRisk(ctx, m, req.AmountMinor); err != nil {
		return err
	}
	l, err := s.cfg.Loans.Draw(ctx, storeCmd(c, m), loans.DrawRequest{AmountMinor: req.AmountMinor, Currency: req.Currency})
	if err != nil {
		return notFoundAs(storeIdemError(err), what)
	}
	s.lines.drop(m)
	return WriteJSON(c, http.StatusCreated, l)
}

// isCurrencyCode reports whether s is three upper-case ASCII letters.
func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// getPayoff: GET /v1/loans/:loan_id/payoff?date=.
func (s *Server) getPayoff(c echo.Context) error {
	var on loans.Date
	if d := c.QueryParam("date"); d != "" {
		var err error
		if on, err = loans.ParseDate("date", d); err != nil {
			return err
		}
	}
	l, err := s.loadOwnLoan(c)
	if err != nil {
		return err
	}
	q, err := s.cfg.Loans.PayoffQuote(c.Request().Context(), l.ID, on)
	if err != nil {
		return err
	}
	return WriteJSON(c, http.StatusOK, q)
}

// portfolioBody is the body of GET /v1/portfolio: the book, and the model
// in use.
type portfolioBody struct {
	loans.Portfolio
	// ActiveModelID is the model that decides from now on (null without a
	// model registry or an active model); Portfolio.LinesByModel shows
	// which models the open lines were decided by.
	ActiveModelID *string `json:"active_model_id"`
}

// getPortfolio: GET /v1/portfolio (officers).
func (s *Server) getPortfolio(c echo.Context) error {
	p, err := s.cfg.Loans.Portfolio(c.Request().Context())
	if err != nil {
		return err
	}
	out := portfolioBody{Portfolio: p}
	if s.cfg.Models != nil {
		id, err := s.cfg.Models.ActiveID()
		if err != nil {
			return err
		}
		if id != "" {
			out.ActiveModelID = &id
		}
	}
	return WriteJSON(c, http.StatusOK, out)
}
