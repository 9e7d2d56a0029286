package auth

import (
	"context"
	"crypto/sha256"
	"time"
)

// Idempotency limits.
const (
	// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
	MaxIdempotencyKeyLen = 255
	// IdempotencyRetention is how long a completed response is replayed; after
	// it the key may be used again as new.
	IdempotencyRetention = 24 * time.Hour
	// MaxStoredResponseBytes bounds a stored response body; larger responses are
	// not stored (the key is released) and the event is logged.
	MaxStoredResponseBytes = 1 << 20
)

// IdemState is the state of an idempotency record.
type IdemState string

// States of an idempotency record.
const (
	IdemInFlight  IdemState = "in_flight"
	IdemCompleted IdemState = "completed"
)

// IdemOutcome is what Begin found for a key.
type IdemOutcome int

// Outcomes of BeginIdempotent.
const (
	// IdemStarted: the caller owns the key now and must Complete or Release it.
	IdemStarted IdemOutcome = iota + 1
	// IdemReplay: a completed response with the same request hash exists; replay it.
	IdemReplay
	// IdemMismatch: the key was used with a different request (HTTP 422).
	IdemMismatch
	// IdemInFlightConflict: the same request is still executing (HTTP 409).
	IdemInFlightConflict
)

// RequestHash identifies a request for idempotency: SHA-256 of method, path
// and body, so the same key with another body or target is detected.
type RequestHash [sha256.Size]byte

// HashRequest hashes method, request URI and body with separators that cannot
// occur in a method or a URI, so two different requests cannot collide by
// shifting bytes between the parts.
func HashRequest(method, requestURI string, body []byte) RequestHash {
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(requestURI))
	h.Write([]byte{0})
	h.Write(body)
	var out RequestHash
	h.Sum(out[:0])
	return out
}

// IdemRecord is a stored response to replay.
type IdemRecord struct {
	Status      int
	ContentType string
	Body        []byte
}

// IdempotencyStore keeps idempotency records, scoped by owner (Principal.Owner).
// Implementations: auth/sqlite.
type IdempotencyStore interface {
	// BeginIdempotent claims (owner, key) for a request with hash. A record left
	// in flight longer than staleAfter (a crashed process) is taken over. Only
	// IdemReplay returns a record.
	BeginIdempotent(ctx context.Context, owner, key string, hash RequestHash, now time.Time, staleAfter time.Duration) (IdemOutcome, IdemRecord, error)
	// CompleteIdempotent stores the response of a claimed key.
	CompleteIdempotent(ctx context.Context, owner, key string, rec IdemRecord, now time.Time) error
	// ReleaseIdempotent drops a claimed, uncompleted key so a retry executes again
	// (used after a server error: nothing deterministic to replay).
	ReleaseIdempotent(ctx context.Context, owner, key string) error
	// PruneIdempotent deletes completed records older than before and returns how many.
	PruneIdempotent(ctx context.Context, before time.Time) (int64, error)
}
