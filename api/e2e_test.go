package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
)

// loansEnv is env with a real loans store (its own SQLite file in t.TempDir())
// wired into the server, and credit lines seeded for m_A and m_B the way the
// nightly refresh writes them.
type loansEnv struct {
	*env
	loans *loanssqlite.Store
	path  string // the loans database file
}

// Seeded lines. m_A: limit 10,050.00 at 18% APR, so a counter-offer on a
// larger request is the available 10,050.00 rounded down to the 100.00 step
// = 10,000.00. m_B: an active line of 5,000.00.
const (
	limitAMinor = 1_005_000
	limitBMinor = 500_000
)

func newLoansEnv(t *testing.T) *loansEnv { t.Helper(); return newLoansEnvWith(t, nil) }

// newLoansEnvWith is newLoansEnv with a further change to the server's Config.
func newLoansEnvWith(t *testing.T, mutate func(*api.Config)) *loansEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "loans.db")
	st, err := loanssqlite.Open(path, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	apr, err := loans.ParseRate("apr", "0.18")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertCreditLines(context.Background(), []loans.CreditLineUpdate{
		{MerchantID: "m_A", Currency: "USD", LimitMinor: limitAMinor, APR: apr, Grade: "B", Score: 612, PD: 0.031, Reasons: []string{"tenure_short"}, ModelID: "model-1", AsOf: "2025-03-30"},
		{MerchantID: "m_B", Currency: "USD", LimitMinor: limitBMinor, APR: apr, Grade: "C", Score: 580, PD: 0.06, ModelID: "model-1", AsOf: "2025-03-30"},
	}); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *api.Config) {
		c.Loans = st
		if mutate != nil {
			mutate(c)
		}
	})
	return &loansEnv{env: e, loans: st, path: path}
}

// call sends method path with body (JSON-encoded unless nil) and, for POSTs,
// the idempotency key; it returns the status and the body.
func (e *loansEnv) call(method, path, key string, body any, idem string) (int, []byte) {
	e.t.Helper()
	var hdr []string
	if idem != "" {
		hdr = []string{"Idempotency-Key", idem}
	}
	var res *http.Response
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		res = e.do(method, path, key, bytes.NewReader(b), hdr...)
	} else {
		res = e.do(method, path, key, nil, hdr...)
	}
	return res.StatusCode, readBody(e.t, res)
}

// mustCall is call that fails the test unless the status is want, decoding the body into out.
func (e *loansEnv) mustCall(want int, method, path, key string, body any, idem string, out any) {
	e.t.Helper()
	st, b := e.call(method, path, key, body, idem)
	if st != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, st, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

type appResp struct {
	loans.Application
	SchedulePreview []loans.Installment `json:"schedule_preview"`
}

// TestEndToEnd: credit line → apply → accept → schedule → partial repayment →
// close of business past a missed installment (DPD shows, line frozen) →
// repayment cures → payoff → paid_off; reconcile clean.
func TestEndToEnd(t *testing.T) {
	e := newLoansEnv(t)
	ctx := context.Background()

	var line loans.CreditLine
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.merchA, nil, "", &line)
	if line.LimitMinor != limitAMinor || line.AvailableMinor != limitAMinor || line.Status != loans.LineActive || line.APR.String() != "0.1800" {
		t.Fatalf("credit line = %+v", line)
	}

	// Decisions (table): amount within available → approved; above → counter
	// offer of the available 10,050.00 floored to the 100.00 step.
	for _, tc := range []struct {
		amount, wantOffer int64
		decision          string
	}{
		{300_000, 300_000, loans.DecisionApproved},
		{2_000_000, 1_000_000, loans.DecisionCounterOffer},
	} {
		var app appResp
		e.mustCall(201, "POST", "/v1/applications", e.merchA,
			map[string]any{"merchant_id": "m_A", "amount_minor": tc.amount, "term_months": 3}, fmt.Sprintf("app-%d", tc.amount), &app)
		if app.Decision != tc.decision || app.Offer == nil || app.Offer.AmountMinor != tc.wantOffer {
			t.Fatalf("apply %d: decision %s offer %+v, want %s %d", tc.amount, app.Decision, app.Offer, tc.decision, tc.wantOffer)
		}
	}

	// 3,000.00 over 3 months at 18% (30/360: 1.5% a month), annuity, worked by hand:
	//   installment = 300000 × 0.015 / (1 − 1.015^−3) = 4500 / 0.0436830 = 103014.89 → 103015
	//   1: interest 300000 × 0.015 = 4500.00; principal 98515; balance 201485
	//   2: interest 201485 × 0.015 = 3022.275 → 3022; principal 99993; balance 101492
	//   3: interest 101492 × 0.015 = 1522.38 → 1522; principal 101492 (last absorbs)
	//   total interest 4500 + 3022 + 1522 = 9044
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA,
		map[string]any{"amount_minor": 300_000, "term_months": 3}, "app-main", &app)
	if app.Offer.InstallmentMinor != 103_015 || app.Offer.TotalInterestMinor != 9044 || len(app.SchedulePreview) != 3 ||
		app.SchedulePreview[1].InterestMinor != 3022 || app.SchedulePreview[2].PrincipalMinor != 101_492 {
		t.Fatalf("offer %+v preview %+v", app.Offer, app.SchedulePreview)
	}

	var loan loans.Loan
	e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", app.ID), e.merchA, nil, "accept-main", &loan)
	if loan.Status != loans.LoanActive || loan.PrincipalMinor != 300_000 || loan.PrincipalOutstandingMinor != 300_000 || loan.MerchantID != "m_A" {
		t.Fatalf("loan = %+v", loan)
	}
	loanPath := fmt.Sprintf("/v1/loans/%d", loan.ID)
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.merchA, nil, "", &line)
	if line.DrawnMinor != 300_000 || line.AvailableMinor != limitAMinor-300_000 {
		t.Fatalf("line after draw = %+v", line)
	}

	var sched struct {
		Installments []loans.Installment `json:"installments"`
	}
	e.mustCall(200, "GET", loanPath+"/schedule", e.merchA, nil, "", &sched)
	if len(sched.Installments) != 3 || sched.Installments[0].TotalMinor() != 103_015 {
		t.Fatalf("schedule = %+v", sched.Installments)
	}

	// Partial repayment of 500.00 before anything is due: every cent is
	// allocated and principal falls by exactly the principal part.
	var rep loans.Repayment
	e.mustCall(201, "POST", loanPath+"/repayments", e.merchA, map[string]any{"amount_minor": 50_000}, "rep-1", &rep)
	if rep.Allocation.TotalMinor() != 50_000 || rep.After.PrincipalOutstandingMinor != 300_000-rep.Allocation.PrincipalMinor() {
		t.Fatalf("partial repayment = %+v", rep)
	}

	// Close business through 5 days after the first due date without paying.
	e.mustCall(200, "GET", loanPath+"/schedule", e.merchA, nil, "", &sched)
	due1, err := loans.ParseDate("due_date", sched.Installments[0].DueDateText)
	if err != nil {
		t.Fatal(err)
	}
	const lateDays = 5
	if _, err := e.loans.CloseOfBusiness(ctx, due1.AddDate(0, 0, lateDays), nil); err != nil {
		t.Fatal(err)
	}
	e.mustCall(200, "GET", loanPath, e.merchA, nil, "", &loan)
	if loan.DPD != lateDays || loan.Bucket != "1-30" {
		t.Fatalf("after a missed installment: dpd %d bucket %q, want %d 1-30", loan.DPD, loan.Bucket, lateDays)
	}
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.merchA, nil, "", &line)
	if line.Status != loans.LineFrozen {
		t.Fatalf("line of a delinquent merchant: status %s, want frozen", line.Status)
	}
	var frozenApp appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 10_000, "term_months": 3}, "app-frozen", &frozenApp)
	if frozenApp.Decision != loans.DecisionDeclined || frozenApp.Reasons[0] != api.ReasonLineFrozen || frozenApp.Offer != nil {
		t.Fatalf("application on a frozen line = %+v", frozenApp.Application)
	}

	// Cure: pay what is overdue (unpaid parts of installments due by now, plus penalty).
	e.mustCall(200, "GET", loanPath+"/schedule", e.merchA, nil, "", &sched)
	overdue := loan.PenaltyReceivableMinor + loan.FeeReceivableMinor
	for _, in := range sched.Installments {
		if d, _ := loans.ParseDate("due_date", in.DueDateText); !d.After(due1) {
			overdue += in.PrincipalMinor - in.PrincipalPaidMinor + in.InterestMinor - in.InterestPaidMinor
		}
	}
	if overdue <= 0 {
		t.Fatalf("nothing overdue after a missed installment")
	}
	e.mustCall(201, "POST", loanPath+"/repayments", e.merchA, map[string]any{"amount_minor": overdue}, "rep-cure", &rep)
	if rep.After.DPD != 0 {
		t.Fatalf("cure repayment left dpd %d: %+v", rep.After.DPD, rep)
	}
	e.mustCall(200, "GET", loanPath, e.merchA, nil, "", &loan)
	if loan.DPD != 0 || loan.Bucket != "current" || loan.Status != loans.LoanActive {
		t.Fatalf("after cure: %+v", loan)
	}

	// Payoff the day after the last closed day, then pay exactly that.
	payDate := due1.AddDate(0, 0, lateDays+1).Format("2006-01-02")
	var q loans.PayoffQuote
	e.mustCall(200, "GET", loanPath+"/payoff?date="+payDate, e.merchA, nil, "", &q)
	if q.TotalMinor != q.PrincipalMinor+q.InterestMinor+q.PenaltyMinor+q.FeeMinor || q.PrincipalMinor != loan.PrincipalOutstandingMinor {
		t.Fatalf("payoff = %+v, loan %+v", q, loan)
	}
	e.mustCall(201, "POST", loanPath+"/repayments", e.merchA, map[string]any{"amount_minor": q.TotalMinor, "value_date": payDate}, "rep-payoff", &rep)
	if rep.After.Status != loans.LoanPaidOff || rep.After.PrincipalOutstandingMinor != 0 {
		t.Fatalf("payoff repayment = %+v", rep)
	}
	e.mustCall(200, "GET", loanPath, e.merchA, nil, "", &loan)
	if loan.Status != loans.LoanPaidOff || loan.PrincipalRepaidMinor != 300_000 {
		t.Fatalf("loan after payoff = %+v", loan)
	}
	// Overpaying a closed loan is refused.
	if st, b := e.call("POST", loanPath+"/repayments", e.merchA, map[string]any{"amount_minor": 1, "value_date": payDate}, "rep-over"); st < 400 || st >= 500 {
		t.Fatalf("repaying a paid-off loan: %d %s", st, b)
	}

	// Officer views.
	var journal struct {
		Entries []loans.JournalEntry `json:"entries"`
	}
	e.mustCall(200, "GET", loanPath+"/journal", e.officer, nil, "", &journal)
	if len(journal.Entries) < 4 || journal.Entries[0].Kind != loans.KindDisbursement {
		t.Fatalf("journal = %+v", journal.Entries)
	}
	var pf loans.Portfolio
	e.mustCall(200, "GET", "/v1/portfolio", e.officer, nil, "", &pf)
	if pf.ByStatus["paid_off"].Count != 1 {
		t.Fatalf("portfolio = %+v", pf)
	}
	var lines struct {
		Items []loans.CreditLine `json:"items"`
	}
	e.mustCall(200, "GET", "/v1/credit-lines?limit=1", e.officer, nil, "", &lines)
	if len(lines.Items) != 1 {
		t.Fatalf("credit lines page = %+v", lines)
	}
	var list struct {
		Items []loans.Loan `json:"items"`
	}
	e.mustCall(200, "GET", "/v1/loans?status=paid_off", e.merchA, nil, "", &list)
	if len(list.Items) != 1 || list.Items[0].ID != loan.ID {
		t.Fatalf("merchant's paid-off loans = %+v", list.Items)
	}
	e.mustCall(200, "GET", "/v1/loans?merchant_id=m_A", e.merchB, nil, "", &list)
	if len(list.Items) != 0 {
		t.Fatalf("merchant B listing A's loans saw %d", len(list.Items))
	}

	r, err := e.loans.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Clean() {
		t.Fatalf("reconcile: %v", r.Differences)
	}
}

// TestLoanAuthorization: every resource endpoint refuses the wrong caller —
// another merchant's object is 404, a merchant on an officer endpoint 403,
// an officer moving money 403.
func TestLoanAuthorization(t *testing.T) {
	e := newLoansEnv(t)
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 100_000, "term_months": 6}, "a1", &app)
	var other appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 100_000, "term_months": 6}, "a2", &other)
	acceptPath := fmt.Sprintf("/v1/applications/%d/accept", app.ID)
	e.mustCall(404, "POST", acceptPath, e.merchB, nil, "b-accept", nil)
	var loan loans.Loan
	e.mustCall(201, "POST", acceptPath, e.merchA, nil, "accept", &loan)
	lp := "/v1/loans/" + strconv.FormatInt(loan.ID, 10)

	for i, tc := range []struct {
		name, method, path, key string
		body                    any
		want                    int
	}{
		{"B reads A's line", "GET", "/v1/merchants/m_A/credit-line", e.merchB, nil, 404},
		{"B reads A's loan", "GET", lp, e.merchB, nil, 404},
		{"B reads A's schedule", "GET", lp + "/schedule", e.merchB, nil, 404},
		{"B reads A's payoff", "GET", lp + "/payoff", e.merchB, nil, 404},
		{"B repays A's loan", "POST", lp + "/repayments", e.merchB, map[string]any{"amount_minor": 100}, 404},
		{"B applies for A", "POST", "/v1/applications", e.merchB, map[string]any{"merchant_id": "m_A", "amount_minor": 100, "term_months": 1}, 404},
		{"B accepts A's offer", "POST", fmt.Sprintf("/v1/applications/%d/accept", other.ID), e.merchB, nil, 404},
		{"no such loan", "GET", "/v1/loans/999999", e.officer, nil, 404},
		{"merchant on journal", "GET", lp + "/journal", e.merchA, nil, 403},
		{"merchant on portfolio", "GET", "/v1/portfolio", e.merchA, nil, 403},
		{"merchant on credit-lines", "GET", "/v1/credit-lines", e.merchA, nil, 403},
		{"merchant on models", "GET", "/v1/models", e.merchA, nil, 403},
		{"officer applies", "POST", "/v1/applications", e.officer, map[string]any{"merchant_id": "m_A", "amount_minor": 100, "term_months": 1}, 403},
		{"officer repays", "POST", lp + "/repayments", e.officer, map[string]any{"amount_minor": 100}, 403},
		{"no key", "GET", lp, "", nil, 401},
		{"bad key", "GET", lp, "lend_notakey", nil, 401},
		{"revoked key", "GET", lp, e.revoked, nil, 401},
		{"unknown field", "POST", lp + "/repayments", e.merchA, map[string]any{"amount_minor": 100, "status": "paid_off"}, 400},
		{"mass assignment on apply", "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 100, "term_months": 1, "decision": "approved"}, 400},
		{"zero amount", "POST", lp + "/repayments", e.merchA, map[string]any{"amount_minor": 0}, 400},
		{"term too long", "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 100, "term_months": 61}, 400},
		{"bad loan id", "GET", "/v1/loans/abc", e.officer, nil, 400},
		{"bad payoff date", "GET", lp + "/payoff?date=2025-13-01", e.merchA, nil, 400},
		{"officer reads A's loan", "GET", lp, e.officer, nil, 200},
		{"service repays", "POST", lp + "/repayments", e.service, map[string]any{"amount_minor": 100}, 201},
		{"models without a registry", "GET", "/v1/models", e.officer, nil, 501},
	} {
		idem := ""
		if tc.method == "POST" {
			idem = "authz-" + strconv.Itoa(i)
		}
		t.Run(tc.name, func(t *testing.T) {
			st, b := e.call(tc.method, tc.path, tc.key, tc.body, idem)
			if st != tc.want {
				t.Fatalf("status %d, want %d: %s", st, tc.want, b)
			}
		})
	}
}

// TestConcurrentRepayments: 50 parallel repayments with distinct keys on one
// loan all land exactly once, and 50 parallel replays of one key return the
// identical response.
func TestConcurrentRepayments(t *testing.T) {
	e := newLoansEnv(t)
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 1_000_000, "term_months": 12}, "app", &app)
	var loan loans.Loan
	e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", app.ID), e.merchA, nil, "acc", &loan)
	lp := "/v1/loans/" + strconv.FormatInt(loan.ID, 10)

	const n, amount = 50, 1_000
	reps := make([]loans.Repayment, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, b := e.call("POST", lp+"/repayments", e.merchA, map[string]any{"amount_minor": amount}, fmt.Sprintf("par-%d", i))
			statuses[i] = st
			_ = json.Unmarshal(b, &reps[i])
		}()
	}
	wg.Wait()
	var principal, interest int64
	ids := map[int64]bool{}
	for i := range n {
		if statuses[i] != 201 {
			t.Fatalf("repayment %d: status %d", i, statuses[i])
		}
		if reps[i].Allocation.TotalMinor() != amount {
			t.Fatalf("repayment %d allocated %d of %d", i, reps[i].Allocation.TotalMinor(), amount)
		}
		ids[reps[i].ID] = true
		principal += reps[i].Allocation.PrincipalMinor()
		interest += reps[i].Allocation.InterestMinor()
	}
	if len(ids) != n {
		t.Fatalf("%d distinct repayments, want %d", len(ids), n)
	}
	e.mustCall(200, "GET", lp, e.merchA, nil, "", &loan)
	if principal+interest != n*amount || loan.PrincipalRepaidMinor != principal || loan.InterestPaidMinor != interest ||
		loan.PrincipalOutstandingMinor != 1_000_000-principal {
		t.Fatalf("after %d × %d: principal %d interest %d; loan %+v", n, amount, principal, interest, loan)
	}

	// One key, first answered, then replayed 50 times at once.
	st0, first := e.call("POST", lp+"/repayments", e.merchA, map[string]any{"amount_minor": amount}, "replayed")
	if st0 != 201 {
		t.Fatalf("first: %d %s", st0, first)
	}
	bodies := make([][]byte, n)
	statuses = make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], bodies[i] = e.call("POST", lp+"/repayments", e.merchA, map[string]any{"amount_minor": amount}, "replayed")
		}()
	}
	wg.Wait()
	for i := range n {
		if statuses[i] != 201 || !bytes.Equal(bodies[i], first) {
			t.Fatalf("replay %d: %d %s, want 201 %s", i, statuses[i], bodies[i], first)
		}
	}
	var after loans.Loan
	e.mustCall(200, "GET", lp, e.merchA, nil, "", &after)
	if after.PrincipalRepaidMinor+after.InterestPaidMinor != (n+1)*amount {
		t.Fatalf("replays moved money: repaid %d + %d, want %d", after.PrincipalRepaidMinor, after.InterestPaidMinor, (n+1)*amount)
	}
	r, err := e.loans.Reconcile(context.Background())
	if err != nil || !r.Clean() {
		t.Fatalf("reconcile: %v %v", err, r.Differences)
	}
}

// TestApplicationLifecycle: counter-offers disburse the offered amount, an
// offer expires on the server's clock, a used or declined application cannot
// be accepted, list filters are validated, and decisions and repayments are
// counted in /metrics.
func TestApplicationLifecycle(t *testing.T) {
	e := newLoansEnv(t)

	// m_B's line is 5,000.00: asking 7,777.77 → counter-offer of 5,000.00.
	var counter appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchB, map[string]any{"amount_minor": 777_777, "term_months": 6}, "c1", &counter)
	if counter.Decision != loans.DecisionCounterOffer || counter.Offer.AmountMinor != limitBMinor || counter.Reasons[0] != api.ReasonAboveAvailable {
		t.Fatalf("counter-offer = %+v", counter.Application)
	}
	var loan loans.Loan
	e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", counter.ID), e.merchB, nil, "c1-accept", &loan)
	if loan.PrincipalMinor != limitBMinor {
		t.Fatalf("counter-offer loan principal %d, want %d", loan.PrincipalMinor, limitBMinor)
	}
	// Accepted once; a second accept (new key) is a conflict.
	e.mustCall(409, "POST", fmt.Sprintf("/v1/applications/%d/accept", counter.ID), e.merchB, nil, "c1-accept-again", nil)

	// Line fully drawn: declined, no offer; accepting it is a conflict.
	var declined appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchB, map[string]any{"amount_minor": 100, "term_months": 6}, "d1", &declined)
	if declined.Decision != loans.DecisionDeclined || declined.Offer != nil || declined.Reasons[0] != api.ReasonFullyDrawn || len(declined.SchedulePreview) != 0 {
		t.Fatalf("declined = %+v", declined)
	}
	e.mustCall(409, "POST", fmt.Sprintf("/v1/applications/%d/accept", declined.ID), e.merchB, nil, "d1-accept", nil)

	// No credit line at all: a service applying for an unknown merchant is declined.
	var none appResp
	e.mustCall(201, "POST", "/v1/applications", e.service, map[string]any{"merchant_id": "m_NONE", "amount_minor": 100, "term_months": 1}, "n1", &none)
	if none.Decision != loans.DecisionDeclined || none.Reasons[0] != api.ReasonNoCreditLine {
		t.Fatalf("no line = %+v", none.Application)
	}

	// An offer is valid 72 h (loans.DefaultOfferValidity) and then to the end
	// of that UTC day: made 2025-03-31 12:00, 72 h later is 2025-04-03 12:00,
	// so it expires at 2025-04-04 00:00 UTC.
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 1000, "term_months": 2, "method": "equal-principal"}, "x1", &app)
	if want := time.Date(2025, 4, 4, 0, 0, 0, 0, time.UTC); !app.Offer.ExpiresAt.Equal(want) {
		t.Fatalf("expires_at %s, want %s", app.Offer.ExpiresAt, want)
	}
	e.clock.Add(loans.DefaultOfferValidity + 11*time.Hour + 59*time.Minute + 59*time.Second) // 2025-04-03 23:59:59: still valid
	var accepted loans.Loan
	e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", app.ID), e.merchA, nil, "x1-accept-last-second", &accepted)
	var app2 appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 1000, "term_months": 2}, "x2", &app2)
	if want := time.Date(2025, 4, 7, 0, 0, 0, 0, time.UTC); !app2.Offer.ExpiresAt.Equal(want) {
		t.Fatalf("expires_at %s, want %s", app2.Offer.ExpiresAt, want)
	}
	e.clock.Add(3*24*time.Hour + 2*time.Second) // 2025-04-07 00:00:01: expired
	e.mustCall(409, "POST", fmt.Sprintf("/v1/applications/%d/accept", app2.ID), e.merchA, nil, "x2-accept", nil)

	// A service key and the merchant using the same Idempotency-Key for the
	// same merchant are two different commands, not a replay.
	var mine, svc appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 1000, "term_months": 2}, "shared", &mine)
	e.mustCall(201, "POST", "/v1/applications", e.service, map[string]any{"merchant_id": "m_A", "amount_minor": 2000, "term_months": 2}, "shared", &svc)
	if mine.ID == svc.ID || svc.AmountMinor != 2000 {
		t.Fatalf("service command taken for the merchant's: %d %d %+v", mine.ID, svc.ID, svc.Application)
	}

	for _, q := range []string{"/v1/loans?status=bogus", "/v1/loans?limit=0", "/v1/credit-lines?status=open", "/v1/credit-lines?cursor=%21%21"} {
		e.mustCall(400, "GET", q, e.officer, nil, "", nil)
	}

	e.mustCall(201, "POST", fmt.Sprintf("/v1/loans/%d/repayments", loan.ID), e.merchB, map[string]any{"amount_minor": 1234}, "r1", nil)
	res := e.do("GET", "/metrics", "", nil)
	metrics := string(readBody(t, res))
	for _, want := range []string{
		`lend_decisions_total{outcome="counter_offer"} 1`,
		`lend_decisions_total{outcome="declined"} 2`,
		`lend_decisions_total{outcome="approved"} 4`, // x1, x2, mine, svc
		`lend_repayments_total{result="accepted"} 1`,
		`lend_repaid_minor_total{currency="USD"} 1234`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestStoreCommitMetrics: /metrics describes the loans store's group
// commits: every application is one store command, so the commands summed
// over commits grow by exactly the applications made; one at a time, each is
// its own commit; twenty at once take between one and twenty commits (how
// many share one depends on timing).
func TestStoreCommitMetrics(t *testing.T) {
	e := newLoansEnv(t)
	read := func() (commits, commands, timed float64) {
		metrics := string(readBody(t, e.do("GET", "/metrics", "", nil)))
		val := func(name string) float64 {
			for _, line := range strings.Split(metrics, "\n") {
				if v, ok := strings.CutPrefix(line, name+" "); ok {
					f, err := strconv.ParseFloat(v, 64)
					if err != nil {
						t.Fatalf("%s: %v", line, err)
					}
					return f
				}
			}
			t.Fatalf("/metrics lacks %s", name)
			return 0
		}
		return val("lend_store_commit_commands_count"), val("lend_store_commit_commands_sum"), val("lend_store_commit_duration_seconds_count")
	}
	c0, n0, d0 := read()
	for i := range 3 {
		e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 1000, "term_months": 2}, fmt.Sprintf("seq-%d", i), nil)
	}
	c1, n1, d1 := read()
	if c1-c0 != 3 || n1-n0 != 3 || d1-d0 != 3 {
		t.Fatalf("three applications one at a time: %v commits, %v commands, %v timed; want 3 each", c1-c0, n1-n0, d1-d0)
	}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, b := e.call("POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 1000, "term_months": 2}, fmt.Sprintf("par-%d", i)); st != 201 {
				t.Errorf("application %d: %d %s", i, st, b)
			}
		}()
	}
	wg.Wait()
	c2, n2, _ := read()
	if n2-n1 != 20 || c2-c1 < 1 || c2-c1 > 20 {
		t.Fatalf("twenty applications at once: %v commits, %v commands; want 20 commands in 1 to 20 commits", c2-c1, n2-n1)
	}
	t.Logf("twenty concurrent applications in %v group commits", c2-c1)
}

// TestScheduleShowsCarriedInterest: a merchant who settles an installment
// early sees, in the schedule, the interest carried to the next one, so the
// higher interest on it is explained (docs/LOANS.md). The loan of
// TestEndToEnd (3,000.00 over 3 months at 18%: installment 1 = 985.15
// principal + 45.00 interest; 2 = 999.93 + 30.22; 3 = 1,014.92 + 15.22)
// has installment 1's principal paid on the disbursement day: no interest
// is earned yet, so it is settled at 0.00 interest, and the 2,014.85 left
// earns the whole first period: 2,014.85 × 1.5% = 30.22275 → 30.22 carried.
// Installment 2: interest 30.22 + 30.22 = 60.44, principal 999.93 − 30.22 =
// 969.71 (its total stays 1,030.15); installment 3's principal takes the
// 30.22: 1,045.14. Every response is checked against the OpenAPI document.
func TestScheduleShowsCarriedInterest(t *testing.T) {
	e := newLoansEnv(t)
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 300_000, "term_months": 3}, "app", &app)
	var loan loans.Loan
	e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", app.ID), e.merchA, nil, "accept", &loan)
	loanPath := fmt.Sprintf("/v1/loans/%d", loan.ID)
	var rep loans.Repayment
	e.mustCall(201, "POST", loanPath+"/repayments", e.merchA, map[string]any{"amount_minor": 98_515}, "early", &rep)
	if rep.Allocation.CurrentPrincipalMinor != 98_515 || rep.Allocation.InterestMinor() != 0 {
		t.Fatalf("early repayment allocation %+v, want 98,515 principal", rep.Allocation)
	}
	var sched struct {
		Installments []loans.Installment `json:"installments"`
	}
	e.mustCall(200, "GET", loanPath+"/schedule", e.merchA, nil, "", &sched)
	in := sched.Installments
	if len(in) != 3 || in[0].InterestMinor != 0 || !in[0].Paid() || in[0].CarriedInterestMinor != 0 ||
		in[1].InterestMinor != 6_044 || in[1].CarriedInterestMinor != 3_022 || in[1].PrincipalMinor != 96_971 ||
		in[2].PrincipalMinor != 104_514 || in[2].CarriedInterestMinor != 0 {
		t.Fatalf("schedule after settling installment 1 on the disbursement day: %+v", in)
	}
	_, body := e.call("GET", loanPath+"/schedule", e.merchA, nil, "")
	if n := bytes.Count(body, []byte(`"carried_interest_minor"`)); n != 1 {
		t.Fatalf("carried_interest_minor appears %d times, want once (absent when zero): %s", n, body)
	}
}
