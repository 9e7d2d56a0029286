package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	srv, secret, loanID := newBenchServer(b)
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
		path := fmt.Sprintf("/v1/loans/%d/repayments", loanID)
		runLoad(b, srv.Handler(), func(base string) (*http.Request, error) {
			r, err := auth(http.NewRequest("POST", base+path, bytes.NewReader([]byte(`{"amount_minor":1}`))))
			if err == nil {
				r.Header.Set("Idempotency-Key", "r-"+strconv.FormatInt(seq.Add(1), 10))
			}
			return r, err
		})
	})
}

// BenchmarkDecisionHandler is one decision through the whole handler chain
// (auth, rate limit, idempotency, decision, durable application), called
// directly without a network: its allocs/op and B/op are the server-side
// allocations of a decision, steady from run to run where the loopback
// figures drift with the machine. Each call is its own group commit, so the
// writer's per-group work is counted in full.
//
//	go test ./api -run '^$' -bench DecisionHandler -benchmem
func BenchmarkDecisionHandler(b *testing.B) {
	srv, secret, _ := newBenchServer(b)
	h := srv.Handler()
	body := []byte(`{"amount_minor":500000,"term_months":12}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := httptest.NewRequest("POST", "/v1/applications", bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+secret)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Idempotency-Key", "h-"+strconv.Itoa(i))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("decision %d: %d %s", i, w.Code, w.Body.Bytes())
		}
	}
}

// newBenchServer is the server of the resource benchmarks: real SQLite
// stores in a temporary directory, merchant m_1's key and a line no run
// draws down, and one loan of 100,000.00 over 12 months to repay.
func newBenchServer(b *testing.B) (srv *api.Server, secret string, loanID int64) {
	ctx := context.Background()
	dir := b.TempDir()
	keys, err := authsqlite.Open(ctx, filepath.Join(dir, "auth.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { keys.Close() })
	st, err := loanssqlite.Open(filepath.Join(dir, "loans.db"), loans.Policy{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	apr, _ := loans.ParseRate("apr", "0.18")
	// A line large enough that no decision in the run draws it down.
	if _, err := st.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m_1", Currency: "USD",
		LimitMinor: 1_000_000_000, APR: apr, Grade: "B", ModelID: "bench", AsOf: "2025-01-01"}}); err != nil {
		b.Fatal(err)
	}
	_, secret, err = auth.Issue(ctx, keys, auth.RoleMerchant, "m_1", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	srv = api.New(api.Config{Keys: keys, Idempotency: keys, Loans: st,
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
	return srv, secret, loan.ID
}

// BenchmarkStoreCeiling is the raw-engine ceiling of the durable rows of
// BenchmarkResources: the same loans-store commands (an application with a
// decision; a repayment of 0.01 on one loan) called directly by the same
// number of goroutines as the load generator's clients, without HTTP. Run
// beside BenchmarkResources:
//
//	go test ./api -run '^$' -bench 'StoreCeiling' -benchtime 1x -load.requests 20000
func BenchmarkStoreCeiling(b *testing.B) {
	ctx := context.Background()
	st, err := loanssqlite.Open(filepath.Join(b.TempDir(), "loans.db"), loans.Policy{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := st.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m_1", Currency: "USD",
		LimitMinor: 1_000_000_000, APR: apr, Grade: "B", ModelID: "bench", AsOf: "2025-01-01"}}); err != nil {
		b.Fatal(err)
	}
	var seq atomic.Int64
	cmd := func() loans.Cmd {
		// As the API sends it: the key with the HTTP request's fingerprint.
		k := "c-" + strconv.FormatInt(seq.Add(1), 10)
		h := sha256.Sum256([]byte(k))
		return loans.Cmd{MerchantID: "m_1", IdempotencyKey: k, RequestHash: h[:]}
	}
	app := func() loans.Application {
		return loans.Application{MerchantID: "m_1", Currency: "USD", AmountMinor: 500_000, Product: loans.ProductTerm,
			TermPeriods: 12, Method: loans.Annuity, Frequency: loans.Monthly, Decision: loans.DecisionApproved, Reasons: []string{},
			ModelID: "bench", Grade: "B", Offer: &loans.Offer{AmountMinor: 500_000, APR: apr, TermPeriods: 12,
				InstallmentMinor: 45_840, TotalInterestMinor: 50_080, ExpiresAt: time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)}}
	}
	first, err := st.CreateApplication(ctx, cmd(), app())
	if err != nil {
		b.Fatal(err)
	}
	loan, err := st.AcceptApplication(ctx, cmd(), loans.AcceptRequest{ApplicationID: first.ID})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decision", func(b *testing.B) {
		runDirect(b, func() error { _, err := st.CreateApplication(ctx, cmd(), app()); return err })
	})
	b.Run("repayment", func(b *testing.B) {
		runDirect(b, func() error {
			_, err := st.Repay(ctx, cmd(), loans.RepayRequest{LoanID: loan.ID, AmountMinor: 1})
			return err
		})
	})
}

// runDirect runs *benchRequests calls of do on *benchClients goroutines and
// reports calls/s and process CPU per call.
func runDirect(b *testing.B, do func() error) {
	b.Logf("GOGC=%d GOMAXPROCS=%d", api.ApplyGCPercent(), api.ApplyProcs())
	b.ResetTimer()
	cpu0, t0 := processCPU(), time.Now()
	var next atomic.Int64
	var failed atomic.Value
	done := make(chan struct{})
	for w := 0; w < *benchClients; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for next.Add(1) <= int64(*benchRequests) {
				if err := do(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	for w := 0; w < *benchClients; w++ {
		<-done
	}
	elapsed := time.Since(t0)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	perSec := float64(*benchRequests) / elapsed.Seconds()
	cpu := (processCPU() - cpu0) / time.Duration(*benchRequests)
	b.ReportMetric(perSec, "cmd/s")
	b.ReportMetric(float64(cpu.Microseconds()), "cpu_µs/cmd")
	b.Logf("%d commands in %v: %.0f/s, process CPU %v/command", *benchRequests, elapsed.Round(time.Millisecond), perSec, cpu)
}
