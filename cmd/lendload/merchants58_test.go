package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/auth"
	authsqlite "github.com/lendhq/lend/auth/sqlite"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
)

// seenApps records, per request index (from lendload's Idempotency-Key
// "lendload-<ns>-<i>"), the merchant an application was for and its status.
type seenApps struct {
	mu   sync.Mutex
	byI  map[int]string
	bad  []string
	next http.Handler
}

func (s *seenApps) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "POST" && r.URL.Path == "/v1/applications" {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		var app struct {
			MerchantID string `json:"merchant_id"`
		}
		k := r.Header.Get("Idempotency-Key")
		i, err := strconv.Atoi(k[strings.LastIndexByte(k, '-')+1:])
		s.mu.Lock()
		if json.Unmarshal(b, &app) != nil || err != nil || r.ContentLength != int64(len(b)) {
			s.bad = append(s.bad, k+" "+string(b))
		}
		s.byI[i] = app.MerchantID
		s.mu.Unlock()
	}
	s.next.ServeHTTP(w, r)
}

// manyMerchantServer is a real API over SQLite files in a temporary
// directory: 600 merchants m00000..m00599 with active lines, of which
// m00001 and m00003 are then frozen; an officer and a service key.
func manyMerchantServer(t *testing.T) (rec *seenApps, url, officer, service string) {
	ctx := context.Background()
	dir := t.TempDir()
	keys, err := authsqlite.Open(ctx, filepath.Join(dir, "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	st, err := loanssqlite.Open(filepath.Join(dir, "loans.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	apr, _ := loans.ParseRate("apr", "0.18")
	lines := make([]loans.CreditLineUpdate, 600)
	for i := range lines {
		lines[i] = loans.CreditLineUpdate{MerchantID: fmt.Sprintf("m%05d", i), Currency: "USD",
			LimitMinor: 1_000_000_000, APR: apr, Grade: "B", ModelID: "t", AsOf: "2025-01-01"}
	}
	if _, err := st.UpsertCreditLines(ctx, lines); err != nil {
		t.Fatal(err)
	}
	frozen, err := st.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m00001", AsOf: "2025-01-01"}, {MerchantID: "m00003", AsOf: "2025-01-01"}})
	if err != nil || len(frozen) != 2 {
		t.Fatalf("froze %v: %v", frozen, err)
	}
	_, officer, _ = auth.Issue(ctx, keys, auth.RoleOfficer, "", time.Now())
	_, service, _ = auth.Issue(ctx, keys, auth.RoleService, "", time.Now())
	srv := api.New(api.Config{Keys: keys, Idempotency: keys, Loans: st,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RatePerSecond: 1e9, RateBurst: 1e9})
	rec = &seenApps{byI: map[int]string{}, next: srv.Handler()}
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	return rec, ts.URL, officer, service
}

// -merchants 550 takes the first 550 merchants with an active line by id
// (two pages of the listing at 500 a page): of m00000..m00551 (552 ids) all
// but the frozen m00001 and m00003, i.e. m00000, m00002, m00004..m00551.
// 1,100 decisions: request i applies for the (i mod 550)-th of them, so each
// twice, and all are answered 201 by the real API (lendload fails otherwise).
func TestManyMerchantsDecisions(t *testing.T) {
	rec, url, officer, service := manyMerchantServer(t)
	want := []string{"m00000", "m00002"}
	for i := 4; i <= 551; i++ {
		want = append(want, fmt.Sprintf("m%05d", i))
	}
	keys := filepath.Join(t.TempDir(), "keys.txt")
	os.WriteFile(keys, []byte("LEND_OFFICER_KEY="+officer+"\nLEND_SERVICE_KEY="+service+"\n"), 0o600)
	t.Setenv("LEND_OFFICER_KEY", "")
	t.Setenv("LEND_SERVICE_KEY", "")
	var out bytes.Buffer
	for _, rate := range []string{"0", "2000"} {
		clear(rec.byI)
		args := []string{"-url", url, "-keys", keys, "-scenario", "decision", "-merchants", "550", "-n", "1100", "-c", "4", "-rate", rate}
		if err := run(args, &out); err != nil {
			t.Fatalf("rate %s: %v: %s", rate, err, out.String())
		}
		if len(rec.bad) > 0 || len(rec.byI) != 1100 {
			t.Fatalf("rate %s: %d applications, malformed %q", rate, len(rec.byI), rec.bad)
		}
		for i := range 1100 {
			if rec.byI[i] != want[i%550] {
				t.Fatalf("rate %s: request %d applied for %q, want %q", rate, i, rec.byI[i], want[i%550])
			}
		}
	}
	if n := strings.Count(out.String(), "decision over 550 merchants, 4 connections: 1100 "); n != 2 {
		t.Fatalf("%d result lines name the merchants: %s", n, out.String())
	}
	t.Log(out.String())

	// Flags instead of the keys file; too few active lines (598 < 599),
	// a missing service key, and bounds are refused before any decision.
	clear(rec.byI)
	base := []string{"-url", url, "-scenario", "decision", "-n", "10", "-officer-key", officer}
	for name, args := range map[string][]string{
		"too few":      append(base, "-service-key", service, "-merchants", "599"),
		"no service":   append(base, "-merchants", "2"),
		"zero":         append(base, "-service-key", service, "-merchants", "0"),
		"too many":     append(base, "-service-key", service, "-merchants", "100001"),
		"not decision": {"-url", url, "-scenario", "creditline", "-merchants", "2", "-key", "k", "-merchant", "m"},
	} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if len(rec.byI) != 0 {
		t.Fatalf("refused runs sent %d applications", len(rec.byI))
	}
	if err := run(append(base, "-service-key", service, "-merchants", "598"), io.Discard); err != nil || len(rec.byI) != 10 {
		t.Fatalf("-merchants 598 (all active lines): %v, %d applications", err, len(rec.byI))
	}
}
