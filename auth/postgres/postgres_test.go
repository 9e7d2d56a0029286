package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
	"github.com/lendhq/lend/auth/authtest"
	"github.com/lendhq/lend/auth/postgres"
	"github.com/lendhq/lend/loans/postgres/pgtest"
)

// The same behaviour tests as auth/sqlite, on PostgreSQL ($LEND_TEST_POSTGRES),
// each in a fresh schema.

func open(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	url, _ := pgtest.SchemaURL(t)
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, url
}

var t0 = time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)

// TestTwoProcessesShareKeysAndClaims: two stores on separate pools (as two
// server processes) migrate the same schema once, accept each other's keys,
// and only one of them can start a request under one idempotency key.
func TestTwoProcessesShareKeysAndClaims(t *testing.T) {
	ctx := context.Background()
	a, url := open(t)
	b, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := b.SchemaVersion(ctx); err != nil || v != 1 {
		t.Fatalf("schema version %d, %v; want 1", v, err)
	}
	k, secret, err := auth.Issue(ctx, a, auth.RoleOfficer, "", t0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := auth.Authenticate(ctx, b, secret)
	if err != nil || p.KeyID != k.ID || p.Role != auth.RoleOfficer {
		t.Fatalf("key issued on a, authenticated on b: %+v %v", p, err)
	}
	if err := b.RevokeKey(ctx, k.ID, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, a, secret); lend.ErrorCode(err) != lend.EUNAUTHORIZED {
		t.Fatalf("revoked on b, still valid on a: %v", err)
	}
	h := auth.HashRequest("POST", "/v1/x", []byte("{}"))
	var wg sync.WaitGroup
	outcomes := make([]auth.IdemOutcome, 16)
	for i := range outcomes {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			o, _, err := s.BeginIdempotent(ctx, "key:k", "same", h, t0, time.Minute)
			if err != nil {
				t.Error(err)
			}
			outcomes[i] = o
		}(i)
	}
	wg.Wait()
	started := 0
	for _, o := range outcomes {
		if o == auth.IdemStarted {
			started++
		}
	}
	if started != 1 {
		t.Fatalf("%d claims started across two stores, want exactly 1", started)
	}
}

// TestConformance runs the auth store suite (auth/authtest), written once for
// every store.
func TestConformance(t *testing.T) {
	authtest.Run(t, func(t *testing.T) authtest.Store { s, _ := open(t); return s })
}
