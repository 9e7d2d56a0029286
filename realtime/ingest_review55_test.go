package realtime_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
	"github.com/lendhq/lend/scoring"
)

// r55Engines is an active model that can change between ingests (a
// promotion), as the registry's is.
type r55Engines struct {
	e atomic.Pointer[scoring.Engine]
}

func (r *r55Engines) Engine() (*scoring.Engine, error) { return r.e.Load(), nil }

// r55Engine loads the golden model (policy currency USD) with its policy
// currency set to currency.
func r55Engine(t *testing.T, currency string) *scoring.Engine {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "scoring", "testdata", "golden_model.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["policy"].(map[string]any)["currency"] = currency
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "model.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	eng, err := scoring.LoadEngine(p, "")
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// TestR55CurrencyFollowsTheActiveModel: one worker (Workers: 1) serves
// every ingest, so a currency left on it by one batch would show in the
// next. Under the USD model a USD batch is stored (k1); after a promotion
// to an EUR model, k1 replayed with its hash answers the recorded response
// byte for byte (stored batches are not re-validated), a USD batch is
// refused naming transactions[0].currency, an EUR one is stored; back on
// the USD model, an EUR batch is refused again.
func TestR55CurrencyFollowsTheActiveModel(t *testing.T) {
	ctx := context.Background()
	ls, err := loanssqlite.Open(filepath.Join(t.TempDir(), "lend.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	st, err := rtsqlite.New(ctx, ls.DB())
	if err != nil {
		t.Fatal(err)
	}
	usd, eur := r55Engine(t, "USD"), r55Engine(t, "EUR")
	var engines r55Engines
	engines.e.Store(usd)
	clock := &benchClock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)}
	svc, err := realtime.New(ctx, realtime.Config{Store: st, Loans: ls, Engines: &engines, Now: clock.now, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	tx := func(cur string) []realtime.Transaction {
		return []realtime.Transaction{{TS: "2025-03-31T09:00:00Z", Amount: "10.00", Type: "sale", Currency: cur}}
	}
	refused := func(key, cur string) {
		t.Helper()
		_, err := svc.Ingest(ctx, "m1", key, "h-"+key, tx(cur))
		var le *lend.Error
		if !errors.As(err, &le) || le.Code != lend.EINVALID || le.Field != "transactions[0].currency" {
			t.Fatalf("%s (%s): %v, want EINVALID on transactions[0].currency", key, cur, err)
		}
	}
	first, err := svc.Ingest(ctx, "m1", "k1", "h-k1", tx("USD"))
	if err != nil {
		t.Fatal(err)
	}
	engines.e.Store(eur)
	again, err := svc.Ingest(ctx, "m1", "k1", "h-k1", tx("USD"))
	if err != nil || !bytes.Equal(again, first) {
		t.Fatalf("k1 replayed under the EUR model: %v\n%s\nwant\n%s", err, again, first)
	}
	refused("k2", "USD")
	if _, err := svc.Ingest(ctx, "m1", "k3", "h-k3", tx("EUR")); err != nil {
		t.Fatalf("EUR batch under the EUR model: %v", err)
	}
	engines.e.Store(usd)
	refused("k4", "EUR")
}
