package auth_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
	authsqlite "github.com/lendhq/lend/auth/sqlite"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestKeyCache: found keys are served from memory until the TTL, a
// revocation through the cache holds at once, one made elsewhere once the TTL
// has passed, unknown keys are never cached, and the size bound evicts the
// least recently used key.
func TestKeyCache(t *testing.T) {
	ctx := context.Background()
	store, err := authsqlite.Open(ctx, filepath.Join(t.TempDir(), "lend.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	clk := &testClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	cache := auth.NewKeyCache(store, 10*time.Second, 2, clk.Now)
	issue := func() (auth.Key, string) {
		k, s, err := auth.Issue(ctx, store, auth.RoleOfficer, "", clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return k, s
	}
	k1, s1 := issue()
	if p, err := auth.Authenticate(ctx, cache, s1); err != nil || p.KeyID != k1.ID {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	// Revoked elsewhere (the store directly): still served from memory within the TTL…
	if err := store.RevokeKey(ctx, k1.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, cache, s1); err != nil {
		t.Fatalf("within the TTL the cached key is used: %v", err)
	}
	// …and refused once the TTL has passed.
	clk.Add(10 * time.Second)
	if _, err := auth.Authenticate(ctx, cache, s1); lend.ErrorCode(err) != lend.EUNAUTHORIZED {
		t.Fatalf("after the TTL: %v, want unauthorized", err)
	}

	// Revoked through the cache: refused at once.
	k2, s2 := issue()
	if _, err := auth.Authenticate(ctx, cache, s2); err != nil {
		t.Fatal(err)
	}
	if err := cache.RevokeKey(ctx, k2.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(ctx, cache, s2); lend.ErrorCode(err) != lend.EUNAUTHORIZED {
		t.Fatalf("revoked through the cache: %v, want unauthorized", err)
	}

	// Unknown keys are not cached; a key created after a miss works at once.
	n := cache.Len()
	if _, err := auth.Authenticate(ctx, cache, "lend_unknown"); lend.ErrorCode(err) != lend.EUNAUTHORIZED || cache.Len() != n {
		t.Fatalf("unknown key: %v, cache %d -> %d", err, n, cache.Len())
	}

	// Size bound 2: three keys leave the two most recently used.
	_, a := issue()
	_, b := issue()
	_, c := issue()
	for _, s := range []string{a, b, c} {
		if _, err := auth.Authenticate(ctx, cache, s); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Len() != 2 {
		t.Fatalf("cache holds %d keys, bound 2", cache.Len())
	}
}
