package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/auth"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/scoring/fsregistry"
)

// TestDraws: a merchant draws on its revolving line (the line's drawn amount
// grows by exactly the draw), a retry replays the same loan byte for byte,
// and every role and ownership rule holds.
func TestDraws(t *testing.T) {
	e := newLoansEnv(t)
	const draw = 123_456 // 1,234.56
	st, first := e.call("POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": draw}, "draw-1")
	if st != 201 {
		t.Fatalf("draw: %d %s", st, first)
	}
	var loan loans.Loan
	if err := json.Unmarshal(first, &loan); err != nil {
		t.Fatal(err)
	}
	if loan.Product != loans.ProductRevolving || loan.MerchantID != "m_A" || loan.PrincipalMinor != draw ||
		loan.PrincipalOutstandingMinor != draw || loan.Status != loans.LoanActive || loan.Currency != "USD" {
		t.Fatalf("draw loan = %+v", loan)
	}
	var line loans.CreditLine
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.merchA, nil, "", &line)
	if line.DrawnMinor != draw || line.AvailableMinor != limitAMinor-draw {
		t.Fatalf("line after a draw of %d: drawn %d available %d (limit %d)", draw, line.DrawnMinor, line.AvailableMinor, limitAMinor)
	}

	// Replay: same status, same bytes, no second draw.
	st, again := e.call("POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": draw}, "draw-1")
	if st != 201 || !bytes.Equal(again, first) {
		t.Fatalf("replay: %d %s, want 201 %s", st, again, first)
	}
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.merchA, nil, "", &line)
	if line.DrawnMinor != draw {
		t.Fatalf("replay drew again: drawn %d", line.DrawnMinor)
	}

	for i, tc := range []struct {
		name, path, key string
		body            any
		want            int
	}{
		{"same key, other amount", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": draw + 1}, 422},
		{"B draws on A's line", "/v1/merchants/m_A/draws", e.merchB, map[string]any{"amount_minor": 100}, 404},
		{"officer draws", "/v1/merchants/m_A/draws", e.officer, map[string]any{"amount_minor": 100}, 403},
		{"no key", "/v1/merchants/m_A/draws", "", map[string]any{"amount_minor": 100}, 401},
		{"revoked key", "/v1/merchants/m_A/draws", e.revoked, map[string]any{"amount_minor": 100}, 401},
		{"no line", "/v1/merchants/m_NONE/draws", e.service, map[string]any{"amount_minor": 100}, 404},
		{"above available", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": limitAMinor - draw + 1}, 422},
		{"other currency", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 100, "currency": "EUR"}, 400},
		{"bad currency", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 100, "currency": "usd"}, 400},
		{"zero", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 0}, 400},
		{"unknown field", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 100, "apr": "0"}, 400},
		{"service for A", "/v1/merchants/m_A/draws", e.service, map[string]any{"amount_minor": 100, "currency": "USD"}, 201},
	} {
		idem := "draw-" + strconv.Itoa(i+2)
		if i == 0 {
			idem = "draw-1"
		}
		t.Run(tc.name, func(t *testing.T) {
			if st, b := e.call("POST", tc.path, tc.key, tc.body, idem); st != tc.want {
				t.Fatalf("status %d, want %d: %s", st, tc.want, b)
			}
		})
	}
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.merchA, nil, "", &line)
	if line.DrawnMinor != draw+100 {
		t.Fatalf("drawn %d, want %d (the merchant's draw and the service's)", line.DrawnMinor, draw+100)
	}
	if st, b := e.call("POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 100}, ""); st != 400 {
		t.Fatalf("draw without Idempotency-Key: %d %s", st, b)
	}
}

// TestServiceActsForAnyMerchant: a service key applies, accepts, repays and
// reads for any merchant; the objects belong to that merchant, whose own key
// sees them.
func TestServiceActsForAnyMerchant(t *testing.T) {
	e := newLoansEnv(t)
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.service, map[string]any{"merchant_id": "m_B", "amount_minor": 120_000, "term_months": 3}, "s-app", &app)
	if app.MerchantID != "m_B" || app.Decision != loans.DecisionApproved {
		t.Fatalf("service application = %+v", app.Application)
	}
	var loan loans.Loan
	e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", app.ID), e.service, nil, "s-acc", &loan)
	if loan.MerchantID != "m_B" || loan.PrincipalMinor != 120_000 {
		t.Fatalf("service loan = %+v", loan)
	}
	lp := "/v1/loans/" + strconv.FormatInt(loan.ID, 10)
	var rep loans.Repayment
	e.mustCall(201, "POST", lp+"/repayments", e.service, map[string]any{"amount_minor": 5_000}, "s-rep", &rep)
	if rep.MerchantID != "m_B" || rep.Allocation.TotalMinor() != 5_000 {
		t.Fatalf("service repayment = %+v", rep)
	}
	// The merchant's own key sees the loan the service made; the other merchant does not.
	var mine loans.Loan
	e.mustCall(200, "GET", lp, e.merchB, nil, "", &mine)
	if mine.PrincipalRepaidMinor+mine.InterestPaidMinor != 5_000 {
		t.Fatalf("merchant B's view of its loan = %+v", mine)
	}
	e.mustCall(404, "GET", lp, e.merchA, nil, "", nil)
	// Services read any merchant's line; they need a merchant_id to apply.
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.service, nil, "", nil)
	e.mustCall(400, "POST", "/v1/applications", e.service, map[string]any{"amount_minor": 100, "term_months": 1}, "s-nomerchant", nil)
}

// TestPagination walks every page of the credit lines and of a merchant's
// loans with a small limit: each item once, in order, and a null cursor on
// the last page.
func TestPagination(t *testing.T) {
	e := newLoansEnv(t)
	apr, _ := loans.ParseRate("apr", "0.2")
	var ups []loans.CreditLineUpdate
	for i := 0; i < 5; i++ {
		ups = append(ups, loans.CreditLineUpdate{MerchantID: fmt.Sprintf("m_P%d", i), Currency: "USD", LimitMinor: 100_000, APR: apr, Grade: "A", ModelID: "model-1", AsOf: "2025-03-30"})
	}
	if _, err := e.loans.UpsertCreditLines(context.Background(), ups); err != nil {
		t.Fatal(err)
	}
	// Lines: m_A, m_B (seeded by the env) and m_P0..m_P4 = 7; pages of 2 → 4 pages.
	want := map[string]bool{"m_A": true, "m_B": true, "m_P0": true, "m_P1": true, "m_P2": true, "m_P3": true, "m_P4": true}
	seen := map[string]bool{}
	pages := 0
	for cursor := ""; ; {
		var page struct {
			Items      []loans.CreditLine `json:"items"`
			NextCursor *string            `json:"next_cursor"`
		}
		e.mustCall(200, "GET", "/v1/credit-lines?limit=2&cursor="+cursor, e.officer, nil, "", &page)
		pages++
		for _, l := range page.Items {
			if seen[l.MerchantID] || !want[l.MerchantID] {
				t.Fatalf("page %d: line %s repeated or unexpected", pages, l.MerchantID)
			}
			seen[l.MerchantID] = true
		}
		if page.NextCursor == nil {
			break
		}
		if len(page.Items) != 2 || pages > 10 {
			t.Fatalf("page %d has %d items and a next cursor", pages, len(page.Items))
		}
		cursor = *page.NextCursor
	}
	if len(seen) != 7 || pages != 4 {
		t.Fatalf("walked %d lines in %d pages, want 7 in 4", len(seen), pages)
	}

	// Five loans for m_A; one for m_B that m_A's pages must never show.
	var ids []int64
	for i := 0; i < 5; i++ {
		var app appResp
		e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 10_000, "term_months": 2}, fmt.Sprintf("pa-%d", i), &app)
		var l loans.Loan
		e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", app.ID), e.merchA, nil, fmt.Sprintf("pacc-%d", i), &l)
		ids = append(ids, l.ID)
	}
	e.mustCall(201, "POST", "/v1/merchants/m_B/draws", e.merchB, map[string]any{"amount_minor": 1_000}, "pb", nil)
	for _, who := range []struct{ key, query string }{{e.merchA, ""}, {e.officer, "&merchant_id=m_A"}} {
		var got []int64
		pages := 0
		for cursor := ""; ; {
			var page struct {
				Items      []loans.Loan `json:"items"`
				NextCursor *string      `json:"next_cursor"`
			}
			e.mustCall(200, "GET", "/v1/loans?limit=2"+who.query+"&cursor="+cursor, who.key, nil, "", &page)
			pages++
			for _, l := range page.Items {
				got = append(got, l.ID)
			}
			if page.NextCursor == nil || pages > 10 {
				break
			}
			cursor = *page.NextCursor
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(ids) || len(got) != 5 || pages != 3 {
			t.Fatalf("loans of m_A paged as %v in %d pages, want %v in 3", got, pages, ids)
		}
	}
}

func sorted(xs []int64) []int64 {
	out := append([]int64(nil), xs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestApplicationReplay: a retried application returns the first response
// byte for byte — in this process or a fresh one on the same database (a
// restart), even after the credit line changed and a day passed — and a
// different request under the key is 422.
func TestApplicationReplay(t *testing.T) {
	e := newLoansEnv(t)
	// 20,000.00 asked of m_A's 10,050.00 line: a counter-offer of 10,000.00,
	// which depends on what is available.
	body := map[string]any{"amount_minor": 2_000_000, "term_months": 12}
	st, first := e.call("POST", "/v1/applications", e.merchA, body, "rep-1")
	if st != 201 {
		t.Fatalf("first: %d %s", st, first)
	}
	var app appResp
	_ = json.Unmarshal(first, &app)
	if app.Decision != loans.DecisionCounterOffer || app.Offer.AmountMinor != 1_000_000 || len(app.SchedulePreview) != 12 {
		t.Fatalf("first = %+v", app)
	}
	// The preview is the offer's schedule: principal sums to the offer, and
	// its first installment is the offer's installment.
	var sum int64
	for _, in := range app.SchedulePreview {
		sum += in.PrincipalMinor
	}
	if sum != app.Offer.AmountMinor || app.SchedulePreview[0].TotalMinor() != app.Offer.InstallmentMinor {
		t.Fatalf("preview principal %d (offer %d), first installment %d (offer %d)", sum, app.Offer.AmountMinor,
			app.SchedulePreview[0].TotalMinor(), app.Offer.InstallmentMinor)
	}

	// Another process on the same database: the store replays the stored
	// application and the preview is rebuilt from it, identical.
	other := api.New(api.Config{Keys: e.store, Idempotency: e.store, Loans: e.loans, Now: e.clock.Now})
	if st, b := serveOnce(t, other, "/v1/applications", e.merchA, body, "rep-1"); st != 201 || !bytes.Equal(b, first) {
		t.Fatalf("replay on a fresh server: %d\n%s\nwant\n%s", st, b, first)
	}

	// The line changes (a draw of 500.00 leaves 9,550.00: a fresh decision
	// would offer 9,500.00), yet this server replays the first answer.
	e.mustCall(201, "POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 50_000}, "rep-draw", nil)
	if st, b := e.call("POST", "/v1/applications", e.merchA, body, "rep-1"); st != 201 || !bytes.Equal(b, first) {
		t.Fatalf("replay after the line changed: %d\n%s\nwant\n%s", st, b, first)
	}
	// ... and so does a fresh server (a restart: no in-process memory), on
	// a later day: the store recognises the retry by the client's request,
	// not by the decision it led to.
	e.clock.Add(36 * time.Hour)
	restarted := api.New(api.Config{Keys: e.store, Idempotency: e.store, Loans: e.loans, Now: e.clock.Now})
	if st, b := serveOnce(t, restarted, "/v1/applications", e.merchA, body, "rep-1"); st != 201 || !bytes.Equal(b, first) {
		t.Fatalf("replay after a restart, a line change and a day: %d\n%s\nwant\n%s", st, b, first)
	}
	if st, b := serveOnce(t, restarted, "/v1/applications", e.merchA, map[string]any{"amount_minor": 2_000_000, "term_months": 6}, "rep-1"); st != 422 {
		t.Fatalf("after a restart, same key, other request: %d %s", st, b)
	}
	var fresh appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, body, "rep-2", &fresh)
	if fresh.Offer.AmountMinor != 950_000 || fresh.ID == app.ID {
		t.Fatalf("a new key decides afresh: %+v", fresh.Application)
	}
	if st, b := e.call("POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 2_000_000, "term_months": 6}, "rep-1"); st != 422 {
		t.Fatalf("same key, other request: %d %s", st, b)
	}
}

// TestDecisionOnLineChangedElsewhere: the server keeps the credit line of
// its last decision in memory, yet a decision is never taken on a line that
// changed behind its back (another process drawing on it, the nightly
// refresh raising it): the store refuses the application decided on the
// old line and the server decides again on the current one.
func TestDecisionOnLineChangedElsewhere(t *testing.T) {
	e := newLoansEnv(t)
	ctx := context.Background()
	body := map[string]any{"amount_minor": 2_000_000, "term_months": 12}
	var a appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, body, "else-1", &a)
	if a.Decision != loans.DecisionCounterOffer || a.Offer.AmountMinor != 1_000_000 {
		t.Fatalf("first decision: %+v", a.Application)
	}
	// Another process draws 500.00 on the line: 9,550.00 left.
	if _, err := e.loans.Draw(ctx, loans.Cmd{MerchantID: "m_A", IdempotencyKey: "elsewhere"}, loans.DrawRequest{AmountMinor: 50_000, Currency: "USD"}); err != nil {
		t.Fatal(err)
	}
	e.mustCall(201, "POST", "/v1/applications", e.merchA, body, "else-2", &a)
	if a.Decision != loans.DecisionCounterOffer || a.Offer.AmountMinor != 950_000 {
		t.Fatalf("decision after a draw elsewhere: %+v, want a counter-offer of 9,500.00", a.Application)
	}
	// The refresh raises the limit to 30,000.00: the whole amount fits.
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := e.loans.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m_A", Currency: "USD", LimitMinor: 3_000_000,
		APR: apr, Grade: "A", ModelID: "model-2", AsOf: "2025-03-31"}}); err != nil {
		t.Fatal(err)
	}
	e.mustCall(201, "POST", "/v1/applications", e.merchA, body, "else-3", &a)
	if a.Decision != loans.DecisionApproved || a.Offer.AmountMinor != 2_000_000 || a.Grade != "A" || a.ModelID != "model-2" {
		t.Fatalf("decision after the limit was raised elsewhere: %+v, want approved 20,000.00, grade A, model-2", a.Application)
	}
}

// TestModels: officers list the registered models and activate one
// (idempotently); other roles are refused; an unknown id is 404.
func TestModels(t *testing.T) {
	reg, err := fsregistry.Open(filepath.Join(t.TempDir(), "models"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i, created := range []string{"2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"} {
		m, err := scoring.LoadFile(filepath.Join("..", "scoring", "testdata", "golden_model.json"))
		if err != nil {
			t.Fatal(err)
		}
		m.CreatedAt, m.Metrics.Test.AUC, m.Metrics.Test.KS = created, 0.7+float64(i)/100, 0.3
		m.ID, _ = m.ComputeID()
		if _, err := reg.Register(m); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	e := newLoansEnvWith(t, func(c *api.Config) { c.Models = reg })
	type model struct {
		ID          string     `json:"id"`
		Active      bool       `json:"active"`
		ActivatedAt *time.Time `json:"activated_at"`
		Metrics     struct {
			AUC float64 `json:"auc"`
			KS  float64 `json:"ks"`
		} `json:"metrics"`
	}
	var list struct {
		Items  []model `json:"items"`
		Active *string `json:"active_model_id"`
	}
	e.mustCall(200, "GET", "/v1/models", e.officer, nil, "", &list)
	if len(list.Items) != 2 || list.Active != nil || list.Items[0].ID != ids[0] || list.Items[1].Metrics.AUC != 0.71 || list.Items[0].Metrics.KS != 0.3 || list.Items[0].Active {
		t.Fatalf("models = %+v", list)
	}
	// The portfolio names the model in use: none active yet; the two seeded
	// lines were decided by model-1 (10,050.00 + 5,000.00, nothing drawn).
	type portfolio struct {
		Active *string                   `json:"active_model_id"`
		Lines  map[string]loans.LineCell `json:"lines_by_model"`
	}
	var pf portfolio
	e.mustCall(200, "GET", "/v1/portfolio", e.officer, nil, "", &pf)
	if want := map[string]loans.LineCell{"model-1": {Count: 2, LimitMinor: 1_505_000}}; pf.Active != nil || !reflect.DeepEqual(pf.Lines, want) {
		t.Fatalf("portfolio before activation: active %v, lines %+v; want null, %+v", pf.Active, pf.Lines, want)
	}
	var m model
	e.mustCall(200, "POST", "/v1/models/"+ids[1]+"/activate", e.officer, nil, "act-1", &m)
	e.mustCall(200, "GET", "/v1/portfolio", e.officer, nil, "", &pf)
	if pf.Active == nil || *pf.Active != ids[1] {
		t.Fatalf("portfolio's model in use %v, want %s", pf.Active, ids[1])
	}
	if m.ID != ids[1] || !m.Active || m.ActivatedAt == nil {
		t.Fatalf("activated = %+v", m)
	}
	e.mustCall(200, "POST", "/v1/models/"+ids[1]+"/activate", e.officer, nil, "act-2", &m) // again: no-op
	e.mustCall(200, "GET", "/v1/models", e.officer, nil, "", &list)
	if list.Active == nil || *list.Active != ids[1] || list.Items[0].Active || !list.Items[1].Active {
		t.Fatalf("after activation = %+v", list)
	}
	if eng, err := reg.Engine(); err != nil || eng == nil {
		t.Fatalf("engine of the active model: %v", err)
	}
	for i, tc := range []struct {
		name, method, path, key string
		want                    int
	}{
		{"merchant lists", "GET", "/v1/models", e.merchA, 403},
		{"service lists", "GET", "/v1/models", e.service, 403},
		{"no key", "GET", "/v1/models", "", 401},
		{"merchant activates", "POST", "/v1/models/" + ids[0] + "/activate", e.merchA, 403},
		{"service activates", "POST", "/v1/models/" + ids[0] + "/activate", e.service, 403},
		{"unknown model", "POST", "/v1/models/0123456789abcdef/activate", e.officer, 404},
		{"not an id", "POST", "/v1/models/..%2FACTIVE/activate", e.officer, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idem := ""
			if tc.method == "POST" {
				idem = "models-" + strconv.Itoa(i)
			}
			if st, b := e.call(tc.method, tc.path, tc.key, nil, idem); st != tc.want {
				t.Fatalf("status %d, want %d: %s", st, tc.want, b)
			}
		})
	}
	if id, _ := reg.ActiveID(); id != ids[1] {
		t.Fatalf("refused requests changed the active model to %s", id)
	}
}

// TestKeyCacheRevocation: a key revoked by another process (straight in the
// key store, as the CLI does) stops working once the cache TTL has passed on
// the server's clock.
func TestKeyCacheRevocation(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.KeyCacheTTL = 5 * time.Second })
	ctx := context.Background()
	k, secret, err := auth.Issue(ctx, e.store, auth.RoleMerchant, "m_R", e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res := e.do("GET", "/v1/me", secret, nil); res.StatusCode != 200 {
		t.Fatalf("fresh key: %d", res.StatusCode)
	}
	if err := e.store.RevokeKey(ctx, k.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(5*time.Second + time.Millisecond)
	if res := e.do("GET", "/v1/me", secret, nil); res.StatusCode != 401 {
		t.Fatalf("revoked key after the cache TTL: %d, want 401", res.StatusCode)
	}
}

// serveOnce posts one request to srv over a real loopback server.
func serveOnce(t *testing.T, srv *api.Server, path, key string, body any, idem string) (int, []byte) {
	t.Helper()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	return postTo(t, ts.URL, path, key, body, idem)
}

// gate is a risk checker that holds each check until released, or refuses
// amounts above a cap: enough to hold a command in flight and to see that
// applications and draws consult it.
type gate struct {
	entered  chan string
	release  chan struct{}
	capMinor int64
}

func (g *gate) CheckDraw(ctx context.Context, merchantID string, amountMinor int64) error {
	if g.entered != nil {
		g.entered <- fmt.Sprintf("%s:%d", merchantID, amountMinor)
		<-g.release
	}
	if g.capMinor > 0 && amountMinor > g.capMinor {
		return lend.FieldErrorf("amount_minor", "above the real-time risk cap")
	}
	return nil
}

// TestCommandInFlightConflict: while a store command runs, a retry with the
// same key is 409; once it is done, the retry replays its response.
func TestCommandInFlightConflict(t *testing.T) {
	g := &gate{entered: make(chan string, 1), release: make(chan struct{})}
	e := newLoansEnvWith(t, func(c *api.Config) { c.Risk = g })
	body := map[string]any{"amount_minor": 1_000, "term_months": 2}
	type resp struct {
		st int
		b  []byte
	}
	done := make(chan resp, 1)
	go func() {
		st, b := e.call("POST", "/v1/applications", e.merchA, body, "slow")
		done <- resp{st, b}
	}()
	if got := <-g.entered; got != "m_A:1000" {
		t.Fatalf("risk check saw %s, want m_A:1000", got)
	}
	if st, b := e.call("POST", "/v1/applications", e.merchA, body, "slow"); st != 409 {
		t.Fatalf("retry in flight: %d %s, want 409", st, b)
	}
	close(g.release) // every later check passes at once
	g.entered = nil
	first := <-done
	if first.st != 201 {
		t.Fatalf("first: %d %s", first.st, first.b)
	}
	if st, b := e.call("POST", "/v1/applications", e.merchA, body, "slow"); st != 201 || !bytes.Equal(b, first.b) {
		t.Fatalf("retry after completion: %d %s, want the first response", st, b)
	}
}

// TestRiskCheckRefuses: a refusal of the risk checker refuses applications
// and draws with its error, before anything is stored.
func TestRiskCheckRefuses(t *testing.T) {
	e := newLoansEnvWith(t, func(c *api.Config) { c.Risk = &gate{capMinor: 5_000} })
	e.mustCall(201, "POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 5_000}, "ok-draw", nil)
	e.mustCall(400, "POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 5_001}, "big-draw", nil)
	e.mustCall(400, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 5_001, "term_months": 2}, "big-app", nil)
	var line loans.CreditLine
	e.mustCall(200, "GET", "/v1/merchants/m_A/credit-line", e.merchA, nil, "", &line)
	if line.DrawnMinor != 5_000 {
		t.Fatalf("drawn %d, want only the allowed 5,000", line.DrawnMinor)
	}
}

// exposureCap refuses new credit that would take a merchant's drawn amount
// (read from the real loans store) above capMinor.
type exposureCap struct {
	store    loans.Store
	capMinor int64
}

func (x exposureCap) CheckDraw(ctx context.Context, merchantID string, amountMinor int64) error {
	line, err := x.store.CreditLine(ctx, merchantID)
	if err != nil {
		return err
	}
	if line.DrawnMinor+amountMinor > x.capMinor {
		return lend.Errorf(lend.EUNPROCESSABLE, "exposure cap")
	}
	return nil
}

// TestRiskCheckSparesReplays: a retry of a draw is a replay even when the
// first draw itself now makes the risk check refuse the same amount.
func TestRiskCheckSparesReplays(t *testing.T) {
	e := newLoansEnvWith(t, func(c *api.Config) { c.Risk = exposureCap{store: c.Loans, capMinor: 6_000} })
	st, first := e.call("POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 5_000}, "cap-1")
	if st != 201 {
		t.Fatalf("first draw: %d %s", st, first)
	}
	if st, b := e.call("POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 5_000}, "cap-1"); st != 201 || !bytes.Equal(b, first) {
		t.Fatalf("replay: %d %s, want the first 201", st, b)
	}
	e.mustCall(422, "POST", "/v1/merchants/m_A/draws", e.merchA, map[string]any{"amount_minor": 5_000}, "cap-2", nil)

	// A service key reusing its key for another merchant is a new command
	// there, so it is checked: m_B has 5,000 drawn, 5,000 more is refused.
	e.mustCall(201, "POST", "/v1/merchants/m_B/draws", e.merchB, map[string]any{"amount_minor": 5_000}, "b-1", nil)
	e.mustCall(201, "POST", "/v1/merchants/m_A/draws", e.service, map[string]any{"amount_minor": 1_000}, "svc-k", nil)
	e.mustCall(422, "POST", "/v1/merchants/m_B/draws", e.service, map[string]any{"amount_minor": 5_000}, "svc-k", nil)
}

// TestTwoProcessesOneKey: two servers, each with its own loans store on the
// same database file (two processes), get the same repayment at once: one
// executes, the other waits for the write lock and replays; both answer 201
// with the same body and the loan is repaid once.
func TestTwoProcessesOneKey(t *testing.T) {
	e := newLoansEnv(t)
	var app appResp
	e.mustCall(201, "POST", "/v1/applications", e.merchA, map[string]any{"amount_minor": 100_000, "term_months": 3}, "tp-app", &app)
	var loan loans.Loan
	e.mustCall(201, "POST", fmt.Sprintf("/v1/applications/%d/accept", app.ID), e.merchA, nil, "tp-acc", &loan)

	st2, err := loanssqlite.Open(e.path, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	other := api.New(api.Config{Keys: e.store, Idempotency: e.store, Loans: st2, Now: e.clock.Now})
	ts := httptest.NewServer(other.Handler())
	defer ts.Close()

	path := "/v1/loans/" + strconv.FormatInt(loan.ID, 10) + "/repayments"
	body := map[string]any{"amount_minor": 7_000}
	const rounds = 10
	for r := 0; r < rounds; r++ {
		key := "tp-rep-" + strconv.Itoa(r)
		var st1, st2 int
		var b1, b2 []byte
		done := make(chan struct{})
		go func() { st1, b1 = e.call("POST", path, e.merchA, body, key); close(done) }()
		st2, b2 = postTo(t, ts.URL, path, e.merchA, body, key)
		<-done
		if st1 != 201 || st2 != 201 || !bytes.Equal(b1, b2) {
			t.Fatalf("round %d: %d %s / %d %s", r, st1, b1, st2, b2)
		}
	}
	var after loans.Loan
	e.mustCall(200, "GET", "/v1/loans/"+strconv.FormatInt(loan.ID, 10), e.merchA, nil, "", &after)
	if paid := after.PrincipalRepaidMinor + after.InterestPaidMinor; paid != rounds*7_000 {
		t.Fatalf("repaid %d, want %d (each key once)", paid, rounds*7_000)
	}
}

// postTo posts body as JSON to base+path with key and Idempotency-Key idem.
func postTo(t *testing.T, base, path, key string, body any, idem string) (int, []byte) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Idempotency-Key", idem)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, readBody(t, res)
}
