package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/auth"
	authsqlite "github.com/lendhq/lend/auth/sqlite"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
)

// BenchmarkResources measures the resource endpoints over loopback through
// the whole stack (auth, rate limit, idempotency, real SQLite files):
//   - creditline: GET /v1/merchants/{id}/credit-line;
//   - decision: POST /v1/applications (decision + durable application + idempotency record);
//   - repayment: POST /v1/loans/{id}/repayments of 0.01 each (durable journal entry).
//
// Compare with BenchmarkLoopback/empty (the ceiling). Run once:
//
//	go test ./api -run '^$' -bench Resources -benchtime 1x
func BenchmarkResources(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	keys, err := authsqlite.Open(ctx, filepath.Join(dir, "auth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer keys.Close()
	st, err := loanssqlite.Open(filepath.Join(dir, "loans.db"), loans.Policy{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	apr, _ := loans.ParseRate("apr", "0.18")
	// A line large enough that no decision in the run draws it down.
	if _, err := st.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m_1", Currency: "USD",
		LimitMinor: 1_000_000_000, APR: apr, Grade: "B", ModelID: "bench", AsOf: "2025-01-01"}}); err != nil {
		b.Fatal(err)
	}
	_, secret, err := auth.Issue(ctx, keys, auth.RoleMerchant, "m_1", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	srv := api.New(api.Config{Keys: keys, Idempotency: keys, Loans: st,
		Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
		RatePerSecond: 1e9, RateBurst: 1e9})

	// One loan to repay: 100,000.00 over 12 months.
	ts := httptest.NewServer(srv.Handler())
	post := func(path, idem string, body any) []byte {
		bb, _ := json.Marshal(body)
		r, _ := http.NewRequest("POST", ts.URL+path, bytes.NewReader(bb))
		r.Header.Set("Authorization", "Bearer "+secret)
		r.Header.Set("Idempotency-Key", idem)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode != 201 {
			b.Fatalf("%s: %d %s", path, res.StatusCode, out)
		}
		return out
	}
	var app struct{ ID int64 }
	json.Unmarshal(post("/v1/applications", "setup-app", map[string]any{"amount_minor": 10_000_000, "term_months": 12}), &app)
	var loan struct{ ID int64 }
	json.Unmarshal(post(fmt.Sprintf("/v1/applications/%d/accept", app.ID), "setup-accept", nil), &loan)
	ts.Close()

	var seq atomic.Int64
	auth := func(r *http.Request, err error) (*http.Request, error) {
		if err == nil {
			r.Header.Set("Authorization", "Bearer "+secret)
		}
		return r, err
	}
	b.Run("creditline", func(b *testing.B) {
		runLoad(b, srv.Handler(), func(base string) (*http.Request, error) {
			return auth(http.NewRequest("GET", base+"/v1/merchants/m_1/credit-line", nil))
		})
	})
	b.Run("decision", func(b *testing.B) {
		runLoad(b, srv.Handler(), func(base string) (*http.Request, error) {
			r, err := auth(http.NewRequest("POST", base+"/v1/applications", bytes.NewReader([]byte(`{"amount_minor":500000,"term_months":12}`))))
			if err == nil {
				r.Header.Set("Idempotency-Key", "d-"+strconv.FormatInt(seq.Add(1), 10))
			}
			return r, err
		})
	})
	b.Run("repayment", func(b *testing.B) {
		path := fmt.Sprintf("/v1/loans/%d/repayments", loan.ID)
		runLoad(b, srv.Handler(), func(base string) (*http.Request, error) {
			r, err := auth(http.NewRequest("POST", base+path, bytes.NewReader([]byte(`{"amount_minor":1}`))))
			if err == nil {
				r.Header.Set("Idempotency-Key", "r-"+strconv.FormatInt(seq.Add(1), 10))
			}
			return r, err
		})
	})
}
