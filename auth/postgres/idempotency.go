package postgres

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
)

// BeginIdempotent claims (owner, key). Each step is one atomic statement, so
// two concurrent requests with the same key, in any processes, cannot both
// start: the INSERT of one does nothing on the primary key and it then reads
// the other's record.
func (s *Store) BeginIdempotent(ctx context.Context, owner, key string, hash auth.RequestHash, now time.Time, staleAfter time.Duration) (auth.IdemOutcome, auth.IdemRecord, error) {
	nowS := fmtTime(now)
	tag, err := s.pool.Exec(ctx,
		`INSERT INTO auth_idempotency (owner, key, request_sha256, state, created_at, locked_at) VALUES ($1, $2, $3, 'in_flight', $4, $4) ON CONFLICT DO NOTHING`,
		owner, key, hash[:], nowS)
	if err != nil {
		return 0, auth.IdemRecord{}, lend.Wrap(lend.EINTERNAL, err, "claiming idempotency key")
	}
	if tag.RowsAffected() == 1 {
		return auth.IdemStarted, auth.IdemRecord{}, nil
	}
	var (
		stored   []byte
		state    string
		status   *int32
		ctype    *string
		body     []byte
		lockedAt string
	)
	err = s.pool.QueryRow(ctx,
		`SELECT request_sha256, state, status, content_type, body, locked_at FROM auth_idempotency WHERE owner = $1 AND key = $2`,
		owner, key).Scan(&stored, &state, &status, &ctype, &body, &lockedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// Released between our INSERT and SELECT: the client may simply retry.
		return auth.IdemInFlightConflict, auth.IdemRecord{}, nil
	}
	if err != nil {
		return 0, auth.IdemRecord{}, lend.Wrap(lend.EINTERNAL, err, "reading idempotency key")
	}
	if !bytes.Equal(stored, hash[:]) {
		return auth.IdemMismatch, auth.IdemRecord{}, nil
	}
	if auth.IdemState(state) == auth.IdemCompleted {
		if body == nil {
			body = []byte{}
		}
		rec := auth.IdemRecord{Body: body}
		if status != nil {
			rec.Status = int(*status)
		}
		if ctype != nil {
			rec.ContentType = *ctype
		}
		return auth.IdemReplay, rec, nil
	}
	// In flight. Take it over only when its lock is stale (its process died);
	// the conditional UPDATE makes the takeover atomic between contenders.
	locked, err := parseTime(lockedAt)
	if err != nil {
		return 0, auth.IdemRecord{}, lend.Wrap(lend.EINTERNAL, err, "reading idempotency key")
	}
	if now.Sub(locked) < staleAfter {
		return auth.IdemInFlightConflict, auth.IdemRecord{}, nil
	}
	tag, err = s.pool.Exec(ctx,
		`UPDATE auth_idempotency SET locked_at = $1 WHERE owner = $2 AND key = $3 AND state = 'in_flight' AND locked_at = $4`,
		nowS, owner, key, lockedAt)
	if err != nil {
		return 0, auth.IdemRecord{}, lend.Wrap(lend.EINTERNAL, err, "taking over idempotency key")
	}
	if tag.RowsAffected() == 1 {
		return auth.IdemStarted, auth.IdemRecord{}, nil
	}
	return auth.IdemInFlightConflict, auth.IdemRecord{}, nil
}

// CompleteIdempotent stores the response of a claimed key.
func (s *Store) CompleteIdempotent(ctx context.Context, owner, key string, rec auth.IdemRecord, now time.Time) error {
	if len(rec.Body) > auth.MaxStoredResponseBytes {
		return lend.Errorf(lend.ETOOLARGE, "response of %d bytes exceeds the %d stored for idempotency", len(rec.Body), auth.MaxStoredResponseBytes)
	}
	body := rec.Body
	if body == nil {
		body = []byte{}
	}
	tag, err := s.pool.Exec(ctx,
		`UPDATE auth_idempotency SET state = 'completed', status = $1, content_type = $2, body = $3, completed_at = $4 WHERE owner = $5 AND key = $6 AND state = 'in_flight'`,
		rec.Status, rec.ContentType, body, fmtTime(now), owner, key)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "storing idempotent response")
	}
	if tag.RowsAffected() == 0 {
		return lend.Errorf(lend.ECONFLICT, "idempotency key is not in flight")
	}
	return nil
}

// ReleaseIdempotent drops an uncompleted claim.
func (s *Store) ReleaseIdempotent(ctx context.Context, owner, key string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM auth_idempotency WHERE owner = $1 AND key = $2 AND state = 'in_flight'`, owner, key); err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "releasing idempotency key")
	}
	return nil
}

// PruneIdempotent deletes completed records completed before before.
func (s *Store) PruneIdempotent(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM auth_idempotency WHERE state = 'completed' AND completed_at < $1`, fmtTime(before))
	if err != nil {
		return 0, lend.Wrap(lend.EINTERNAL, err, "pruning idempotency records")
	}
	return tag.RowsAffected(), nil
}
