// Package auth holds API keys, roles and the principal of a request. It knows
// nothing of HTTP: the api package authenticates a bearer key through a
// KeyStore and puts the Principal in the request context; domain code reads it
// back with MerchantScope or CheckMerchant so authorization is enforced where
// the data is read, not only at the route.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/lendhq/lend"
)

// Role is what a key may do (SPEC §4).
type Role string

// Roles. Merchant keys are bound to one merchant; officer and service keys see
// every merchant.
const (
	RoleMerchant Role = "merchant" // sees and acts on its own merchant only
	RoleOfficer  Role = "officer"  // reads everything, manages models
	RoleService  Role = "service"  // batch and ingestion jobs
)

// Limits on key material and identifiers.
const (
	// SecretBytes is the entropy of a key: 256 bits, so guessing is hopeless and
	// a plain hash (no salt, no slow KDF) is a sufficient way to store it.
	SecretBytes = 32
	// SecretPrefix starts every key so it is recognisable in a leak scanner.
	SecretPrefix = "lend_"
	// MaxSecretLen bounds what the server hashes from an Authorization header.
	MaxSecretLen = 128
	// MaxMerchantIDLen bounds a merchant id bound to a key.
	MaxMerchantIDLen = 128
	// keyIDBytes is the random part of a key id (public, safe to log).
	keyIDBytes = 8
)

// Roles lists every role, in the order help texts show them.
var Roles = []Role{RoleMerchant, RoleOfficer, RoleService}

// ParseRole returns the Role named s or an EINVALID error naming field "role".
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", lend.FieldErrorf("role", "must be one of merchant, officer, service (got %q)", s)
}

// Key is a stored API key without its secret: only the SHA-256 of the secret
// is kept. ID is public (it appears in logs, metrics and key listings).
type Key struct {
	ID         string
	Role       Role
	MerchantID string // set for RoleMerchant only
	CreatedAt  time.Time
	RevokedAt  time.Time // zero while the key is valid
}

// Revoked reports whether the key has been revoked.
func (k Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// SecretHash is the SHA-256 of a key's secret, the only form in which a secret is stored.
type SecretHash [sha256.Size]byte

// HashSecret hashes a presented key. Lookups are by this hash through a unique
// index, so no constant-time comparison is needed: a timing side channel on the
// index could at most reveal a prefix of the hash of some stored key, and that
// gives no way to a preimage of a 256-bit random secret.
func HashSecret(secret string) SecretHash { return sha256.Sum256([]byte(secret)) }

// KeyStore keeps API keys. Implementations: auth/sqlite.
type KeyStore interface {
	// CreateKey stores k with the hash of its secret. ECONFLICT if the id or hash exists.
	CreateKey(ctx context.Context, k Key, hash SecretHash) error
	// KeyByHash returns the key whose secret hashes to hash; ENOTFOUND if none.
	KeyByHash(ctx context.Context, hash SecretHash) (Key, error)
	// ListKeys returns up to limit keys with id > afterID, ordered by id.
	ListKeys(ctx context.Context, afterID string, limit int) ([]Key, error)
	// RevokeKey marks a key revoked at t; ENOTFOUND if no such key.
	RevokeKey(ctx context.Context, id string, t time.Time) error
}

// NewKey draws a fresh key for role (and merchantID for merchant keys) and
// returns it with its secret. The secret exists only in the return value: the
// caller shows it once and stores the Key with HashSecret(secret).
func NewKey(role Role, merchantID string, now time.Time) (Key, string, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return Key{}, "", err
	}
	merchantID = strings.TrimSpace(merchantID)
	switch {
	case role == RoleMerchant && merchantID == "":
		return Key{}, "", lend.FieldErrorf("merchant", "is required for a merchant key")
	case role != RoleMerchant && merchantID != "":
		return Key{}, "", lend.FieldErrorf("merchant", "only merchant keys are bound to a merchant")
	case len(merchantID) > MaxMerchantIDLen:
		return Key{}, "", lend.FieldErrorf("merchant", "longer than %d bytes", MaxMerchantIDLen)
	}
	var idb [keyIDBytes]byte
	var sb [SecretBytes]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return Key{}, "", lend.Wrap(lend.EINTERNAL, err, "drawing a key id")
	}
	if _, err := rand.Read(sb[:]); err != nil {
		return Key{}, "", lend.Wrap(lend.EINTERNAL, err, "drawing a key secret")
	}
	k := Key{ID: "key_" + hex.EncodeToString(idb[:]), Role: role, MerchantID: merchantID, CreatedAt: now.UTC()}
	return k, SecretPrefix + base64.RawURLEncoding.EncodeToString(sb[:]), nil
}

// Issue creates a key in store and returns the stored Key and its secret.
func Issue(ctx context.Context, store KeyStore, role Role, merchantID string, now time.Time) (Key, string, error) {
	k, secret, err := NewKey(role, merchantID, now)
	if err != nil {
		return Key{}, "", err
	}
	if err := store.CreateKey(ctx, k, HashSecret(secret)); err != nil {
		return Key{}, "", err
	}
	return k, secret, nil
}

// Authenticate returns the principal of a presented secret: EUNAUTHORIZED when
// the secret is malformed, unknown or revoked (one message for all, so a caller
// learns nothing about which).
func Authenticate(ctx context.Context, store KeyStore, secret string) (Principal, error) {
	if secret == "" || len(secret) > MaxSecretLen || !strings.HasPrefix(secret, SecretPrefix) {
		return Principal{}, lend.Errorf(lend.EUNAUTHORIZED, "invalid API key")
	}
	k, err := store.KeyByHash(ctx, HashSecret(secret))
	if lend.ErrorCode(err) == lend.ENOTFOUND {
		return Principal{}, lend.Errorf(lend.EUNAUTHORIZED, "invalid API key")
	}
	if err != nil {
		return Principal{}, err
	}
	if k.Revoked() {
		return Principal{}, lend.Errorf(lend.EUNAUTHORIZED, "invalid API key")
	}
	return Principal{KeyID: k.ID, Role: k.Role, MerchantID: k.MerchantID}, nil
}
