package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
)

// MaxListKeys bounds one page of ListKeys.
const MaxListKeys = 1000

// CreateKey stores k with the hash of its secret.
func (s *Store) CreateKey(ctx context.Context, k auth.Key, hash auth.SecretHash) error {
	var merchant *string // NULL unless set, so the schema's CHECK sees a missing merchant
	if k.MerchantID != "" {
		merchant = &k.MerchantID
	}
	_, err := s.pool.Exec(ctx,
		`INSERT INTO auth_api_keys (id, secret_sha256, role, merchant_id, created_at) VALUES ($1, $2, $3, $4, $5)`,
		k.ID, hash[:], string(k.Role), merchant, fmtTime(k.CreatedAt))
	if isUnique(err) {
		return lend.Errorf(lend.ECONFLICT, "key %s already exists", k.ID)
	}
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "storing key %s", k.ID)
	}
	return nil
}

// KeyByHash returns the key whose secret hashes to hash.
func (s *Store) KeyByHash(ctx context.Context, hash auth.SecretHash) (auth.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT id, role, merchant_id, created_at, revoked_at FROM auth_api_keys WHERE secret_sha256 = $1`, hash[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.Key{}, lend.Errorf(lend.ENOTFOUND, "key not found")
	}
	if err != nil {
		return auth.Key{}, lend.Wrap(lend.EINTERNAL, err, "looking up a key")
	}
	return k, nil
}

// ListKeys returns up to limit keys with id > afterID, ordered by id
// (bytewise, as on SQLite).
func (s *Store) ListKeys(ctx context.Context, afterID string, limit int) ([]auth.Key, error) {
	if limit <= 0 || limit > MaxListKeys {
		return nil, lend.FieldErrorf("limit", "must be between 1 and %d", MaxListKeys)
	}
	rows, err := s.pool.Query(ctx,
		`SELECT id, role, merchant_id, created_at, revoked_at FROM auth_api_keys WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "listing keys")
	}
	defer rows.Close()
	var out []auth.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, lend.Wrap(lend.EINTERNAL, err, "listing keys")
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, lend.Wrap(lend.EINTERNAL, err, "listing keys")
	}
	return out, nil
}

// RevokeKey marks key id revoked at t. Revoking twice keeps the first time.
func (s *Store) RevokeKey(ctx context.Context, id string, t time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE auth_api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, fmtTime(t), id)
	if err != nil {
		return lend.Wrap(lend.EINTERNAL, err, "revoking key %s", id)
	}
	if tag.RowsAffected() == 0 {
		return lend.Errorf(lend.ENOTFOUND, "key %s not found", id)
	}
	return nil
}

func scanKey(r pgx.Row) (auth.Key, error) {
	var (
		k        auth.Key
		role     string
		merchant *string
		created  string
		revoked  *string
	)
	if err := r.Scan(&k.ID, &role, &merchant, &created, &revoked); err != nil {
		return auth.Key{}, err
	}
	k.Role = auth.Role(role)
	if merchant != nil {
		k.MerchantID = *merchant
	}
	var err error
	if k.CreatedAt, err = parseTime(created); err != nil {
		return auth.Key{}, err
	}
	if revoked != nil {
		if k.RevokedAt, err = parseTime(*revoked); err != nil {
			return auth.Key{}, err
		}
	}
	return k, nil
}
