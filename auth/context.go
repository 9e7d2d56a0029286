package auth

import (
	"context"

	"github.com/lendhq/lend"
)

// Principal is who is calling: the key id (public), its role and, for merchant
// keys, the one merchant it may see.
type Principal struct {
	KeyID      string
	Role       Role
	MerchantID string
}

// Owner is the scope of the principal's idempotency keys: the merchant for
// merchant keys (so rotating a merchant's key mid-retry still replays), the key
// itself for staff keys.
func (p Principal) Owner() string {
	if p.Role == RoleMerchant {
		return "merchant:" + p.MerchantID
	}
	return "key:" + p.KeyID
}

type ctxKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal in ctx, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// MerchantScope says which merchants the caller may see: all=true for officer
// and service keys; merchantID (and all=false) for a merchant key. A context
// without a principal sees nothing (merchantID "" and all=false), so a handler
// that forgot authentication fails closed. Stores filter lists with it:
//
//	m, all := auth.MerchantScope(ctx)
//	if !all { query += " AND merchant_id = ?" ; args = append(args, m) }
func MerchantScope(ctx context.Context) (merchantID string, all bool) {
	p, ok := FromContext(ctx)
	if !ok {
		return "", false
	}
	if p.Role == RoleOfficer || p.Role == RoleService {
		return "", true
	}
	return p.MerchantID, false
}

// CanSee reports whether the caller may see an object owned by merchantID.
func CanSee(ctx context.Context, merchantID string) bool {
	m, all := MerchantScope(ctx)
	return all || (m != "" && m == merchantID)
}

// CheckMerchant returns nil when the caller may see an object of merchantID and
// otherwise ENOTFOUND with what the caller asked for — never EFORBIDDEN, so a
// merchant cannot learn that another merchant's object exists (SPEC §4).
// what names the object as the caller would ("loan ln_123").
func CheckMerchant(ctx context.Context, merchantID, what string) error {
	if CanSee(ctx, merchantID) {
		return nil
	}
	return lend.Errorf(lend.ENOTFOUND, "%s not found", what)
}

// HasRole reports whether the caller has one of roles.
func HasRole(ctx context.Context, roles ...Role) bool {
	p, ok := FromContext(ctx)
	if !ok {
		return false
	}
	for _, r := range roles {
		if p.Role == r {
			return true
		}
	}
	return false
}
