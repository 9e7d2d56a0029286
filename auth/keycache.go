package auth

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Key cache defaults.
const (
	// DefaultKeyCacheTTL is how long a looked-up key is trusted without asking
	// the store again: the longest a revocation made by another process (the
	// `lend keys revoke` CLI) takes to be seen. A revocation through the cache
	// itself takes effect at once.
	DefaultKeyCacheTTL = 10 * time.Second
	// DefaultKeyCacheSize bounds the cached keys (least recently used evicted).
	DefaultKeyCacheSize = 10_000
)

// KeyCache is a KeyStore that remembers found keys in memory for a bounded
// time and number, so authenticating a request costs a SHA-256 and a map
// lookup instead of a database read. Unknown keys are not cached (a flood of
// bad keys cannot evict good ones, and a key created elsewhere works at once).
// Safe for concurrent use.
type KeyCache struct {
	KeyStore
	ttl time.Duration
	max int
	now func() time.Time

	mu  sync.Mutex
	lru *list.List // of *cachedKey, most recently used first
	m   map[SecretHash]*list.Element
}

type cachedKey struct {
	hash    SecretHash
	key     Key
	expires time.Time
}

// NewKeyCache wraps store. ttl <= 0 and size <= 0 take the defaults; now nil
// is time.Now.
func NewKeyCache(store KeyStore, ttl time.Duration, size int, now func() time.Time) *KeyCache {
	if ttl <= 0 {
		ttl = DefaultKeyCacheTTL
	}
	if size <= 0 {
		size = DefaultKeyCacheSize
	}
	if now == nil {
		now = time.Now
	}
	return &KeyCache{KeyStore: store, ttl: ttl, max: size, now: now, lru: list.New(), m: make(map[SecretHash]*list.Element)}
}

// KeyByHash returns the cached key while it is fresh, else asks the store.
func (c *KeyCache) KeyByHash(ctx context.Context, hash SecretHash) (Key, error) {
	now := c.now()
	c.mu.Lock()
	if el, ok := c.m[hash]; ok {
		ck := el.Value.(*cachedKey)
		if now.Before(ck.expires) {
			c.lru.MoveToFront(el)
			k := ck.key
			c.mu.Unlock()
			return k, nil
		}
		c.lru.Remove(el)
		delete(c.m, hash)
	}
	c.mu.Unlock()
	k, err := c.KeyStore.KeyByHash(ctx, hash)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[hash]; ok { // another request filled it meanwhile
		c.lru.Remove(el)
	}
	c.m[hash] = c.lru.PushFront(&cachedKey{hash: hash, key: k, expires: now.Add(c.ttl)})
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.m, old.Value.(*cachedKey).hash)
	}
	return k, nil
}

// RevokeKey revokes in the store and drops the key from the cache, so the
// revocation holds for this process at once.
func (c *KeyCache) RevokeKey(ctx context.Context, id string, t time.Time) error {
	err := c.KeyStore.RevokeKey(ctx, id, t)
	c.Forget(id)
	return err
}

// Forget drops key id from the cache (e.g. after a revocation made elsewhere).
func (c *KeyCache) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, el := range c.m {
		if el.Value.(*cachedKey).key.ID == id {
			c.lru.Remove(el)
			delete(c.m, h)
		}
	}
}

// Len is the number of cached keys.
func (c *KeyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
