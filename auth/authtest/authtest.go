// Package authtest is the behaviour suite of the auth stores (auth/sqlite,
// auth/postgres): written once, run against each.
package authtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
)

// Store is what an auth store implements.
type Store interface {
	auth.KeyStore
	auth.IdempotencyStore
}

// Opener opens a fresh, empty store for one test (closed by t.Cleanup).
type Opener func(t *testing.T) Store

// Run runs the suite against the stores open returns.
func Run(t *testing.T, open Opener) {
	t.Run("Keys", func(t *testing.T) { testKeys(t, open) })
	t.Run("IdempotencyLifecycle", func(t *testing.T) { testIdempotencyLifecycle(t, open) })
	t.Run("IdempotencyOneWinner", func(t *testing.T) { testIdempotencyOneWinner(t, open) })
}

var t0 = time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)

func testKeys(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	k, secret, err := auth.Issue(ctx, s, auth.RoleMerchant, "m_1", t0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.KeyByHash(ctx, auth.HashSecret(secret))
	if err != nil || got.ID != k.ID || got.Role != auth.RoleMerchant || got.MerchantID != "m_1" || !got.CreatedAt.Equal(t0) || got.Revoked() {
		t.Fatalf("KeyByHash = %+v, %v", got, err)
	}
	if _, err := s.KeyByHash(ctx, auth.HashSecret(secret+"x")); lend.ErrorCode(err) != lend.ENOTFOUND {
		t.Fatalf("unknown hash: %v", err)
	}
	if err := s.CreateKey(ctx, k, auth.HashSecret("other")); lend.ErrorCode(err) != lend.ECONFLICT {
		t.Fatalf("duplicate id: %v", err)
	}
	// The schema itself refuses a merchant key without a merchant.
	bad := auth.Key{ID: "key_bad", Role: auth.RoleMerchant, CreatedAt: t0}
	if err := s.CreateKey(ctx, bad, auth.HashSecret("bad")); err == nil {
		t.Fatalf("merchant key without merchant stored")
	}
	if err := s.RevokeKey(ctx, k.ID, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeKey(ctx, k.ID, t0.Add(2*time.Hour)); err != nil { // keeps the first time
		t.Fatal(err)
	}
	got, _ = s.KeyByHash(ctx, auth.HashSecret(secret))
	if !got.RevokedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("revoked at %v, want %v", got.RevokedAt, t0.Add(time.Hour))
	}
	if err := s.RevokeKey(ctx, "key_nope", t0); lend.ErrorCode(err) != lend.ENOTFOUND {
		t.Fatalf("revoke unknown: %v", err)
	}
	if _, err := s.ListKeys(ctx, "", 0); lend.ErrorCode(err) != lend.EINVALID {
		t.Fatalf("limit 0: %v", err)
	}
}

func testIdempotencyLifecycle(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	h := auth.HashRequest("POST", "/v1/loans/l1/repayments", []byte(`{"amount_minor":100}`))
	other := auth.HashRequest("POST", "/v1/loans/l1/repayments", []byte(`{"amount_minor":101}`))
	stale := time.Minute
	begin := func(owner, key string, hash auth.RequestHash, at time.Time) (auth.IdemOutcome, auth.IdemRecord) {
		t.Helper()
		o, r, err := s.BeginIdempotent(ctx, owner, key, hash, at, stale)
		if err != nil {
			t.Fatal(err)
		}
		return o, r
	}
	steps := []struct {
		name  string
		owner string
		hash  auth.RequestHash
		at    time.Time
		want  auth.IdemOutcome
	}{
		{"first claim", "merchant:A", h, t0, auth.IdemStarted},
		{"same request in flight", "merchant:A", h, t0.Add(time.Second), auth.IdemInFlightConflict},
		{"other request in flight", "merchant:A", other, t0.Add(time.Second), auth.IdemMismatch},
		{"other owner is another key", "merchant:B", h, t0, auth.IdemStarted},
		{"stale claim taken over", "merchant:A", h, t0.Add(stale), auth.IdemStarted},
	}
	for _, st := range steps {
		if o, _ := begin(st.owner, "k", st.hash, st.at); o != st.want {
			t.Fatalf("%s: outcome %d, want %d", st.name, o, st.want)
		}
	}
	body := []byte(`{"id":"r1"}`)
	if err := s.CompleteIdempotent(ctx, "merchant:A", "k", auth.IdemRecord{Status: 201, ContentType: "application/json", Body: body}, t0.Add(stale)); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteIdempotent(ctx, "merchant:A", "k", auth.IdemRecord{Status: 201}, t0); lend.ErrorCode(err) != lend.ECONFLICT {
		t.Fatalf("completing twice: %v", err)
	}
	o, rec := begin("merchant:A", "k", h, t0.Add(48*time.Hour))
	if o != auth.IdemReplay || rec.Status != 201 || rec.ContentType != "application/json" || string(rec.Body) != string(body) {
		t.Fatalf("replay = %d %+v", o, rec)
	}
	if o, _ := begin("merchant:A", "k", other, t0); o != auth.IdemMismatch {
		t.Fatalf("completed, other request: %d", o)
	}
	// Release frees a claim; completed records are not released.
	if err := s.ReleaseIdempotent(ctx, "merchant:B", "k"); err != nil {
		t.Fatal(err)
	}
	if o, _ := begin("merchant:B", "k", other, t0); o != auth.IdemStarted {
		t.Fatalf("after release: %d", o)
	}
	_ = s.ReleaseIdempotent(ctx, "merchant:A", "k")
	if o, _ := begin("merchant:A", "k", h, t0); o != auth.IdemReplay {
		t.Fatalf("release removed a completed record: %d", o)
	}
	// Prune: A's record completed at t0+1m; pruning before t0+1m keeps it, after removes it.
	if n, err := s.PruneIdempotent(ctx, t0.Add(stale)); err != nil || n != 0 {
		t.Fatalf("prune before completion = %d, %v", n, err)
	}
	if n, err := s.PruneIdempotent(ctx, t0.Add(stale+time.Nanosecond)); err != nil || n != 1 {
		t.Fatalf("prune after completion = %d, %v; want 1", n, err)
	}
}

// TestIdempotencyOneWinner: many concurrent claims of one key, exactly one starts.
func testIdempotencyOneWinner(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	h := auth.HashRequest("POST", "/x", nil)
	const n = 32
	var wg sync.WaitGroup
	outcomes := make([]auth.IdemOutcome, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			outcomes[i], _, errs[i] = s.BeginIdempotent(ctx, "key:k", "same", h, t0, time.Minute)
		}(i)
	}
	wg.Wait()
	started := 0
	for i, o := range outcomes {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if o == auth.IdemStarted {
			started++
		} else if o != auth.IdemInFlightConflict {
			t.Fatalf("outcome %d", o)
		}
	}
	if started != 1 {
		t.Fatalf("%d claims started, want exactly 1", started)
	}
}
