package api

import (
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
)

// authenticate resolves "Authorization: Bearer <key>" to a principal and puts
// it in the request context (auth.FromContext, auth.MerchantScope). No or bad
// key → 401. The key itself is never logged: only its public id.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, token, ok := strings.Cut(h, " ")
		if h == "" {
			return lend.Errorf(lend.EUNAUTHORIZED, "missing API key: send Authorization: Bearer <key>")
		}
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return lend.Errorf(lend.EUNAUTHORIZED, "Authorization must be: Bearer <key>")
		}
		p, err := auth.Authenticate(c.Request().Context(), s.cfg.Keys, strings.TrimSpace(token))
		if err != nil {
			return err
		}
		c.SetRequest(c.Request().WithContext(auth.NewContext(c.Request().Context(), p)))
		if r, ok := c.Get(ctxLogger).(*reqLogger); ok {
			r.setKey(p.KeyID)
		} else {
			c.Set(ctxLogger, Logger(c).With("key_id", p.KeyID))
		}
		return next(c)
	}
}

// RequireRole lets through only callers with one of roles; others get 403.
// Use it per route:
//
//	s.v1.GET("/portfolio", s.portfolio, RequireRole(auth.RoleOfficer))
//
// For objects owned by a merchant, route guards are not enough: check the
// owner where the object is read (auth.CheckMerchant, auth.MerchantScope), so
// a merchant asking for another merchant's object gets 404.
func RequireRole(roles ...auth.Role) echo.MiddlewareFunc {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	msg := "this endpoint needs a key with role " + strings.Join(names, " or ")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !auth.HasRole(c.Request().Context(), roles...) {
				return lend.Errorf(lend.EFORBIDDEN, "%s", msg)
			}
			return next(c)
		}
	}
}

// PrincipalOf returns the authenticated caller. Inside /v1 handlers it is
// always present (authenticate ran); outside it returns the zero Principal,
// which auth.MerchantScope treats as seeing nothing.
func PrincipalOf(c echo.Context) auth.Principal {
	p, _ := auth.FromContext(c.Request().Context())
	return p
}
