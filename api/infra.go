package api

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds the readiness check.
const readyTimeout = 2 * time.Second

// statusBody is the body of /healthz and /readyz.
type statusBody struct {
	Status string `json:"status"`
}

// healthz says the process is alive; it checks nothing else, so an orchestrator
// restarts only a wedged process, never one whose database is slow.
func (s *Server) healthz(c echo.Context) error {
	return WriteJSON(c, http.StatusOK, statusBody{Status: "ok"})
}

// readyz says whether to send traffic here: the database answers and the
// server is not shutting down.
func (s *Server) readyz(c echo.Context) error {
	if s.shuttingDown.Load() {
		return &lend.Error{Code: CodeUnavailable, Message: "shutting down"}
	}
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			Logger(c).Warn("not ready", "err", err)
			return &lend.Error{Code: CodeUnavailable, Message: "database not ready", Err: err}
		}
	}
	return WriteJSON(c, http.StatusOK, statusBody{Status: "ready"})
}

func (s *Server) metricsHandler() echo.HandlerFunc {
	h := promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{Registry: s.metrics.Registry})
	return echo.WrapHandler(h)
}

// meBody is GET /v1/me: who the key is.
type meBody struct {
	KeyID      string `json:"key_id"`
	Role       string `json:"role"`
	MerchantID string `json:"merchant_id,omitempty"`
}

func (s *Server) me(c echo.Context) error {
	p := PrincipalOf(c)
	return WriteJSON(c, http.StatusOK, meBody{KeyID: p.KeyID, Role: string(p.Role), MerchantID: p.MerchantID})
}

// keyBody is one key in GET /v1/keys: never the secret or its hash.
type keyBody struct {
	ID         string  `json:"id"`
	Role       string  `json:"role"`
	MerchantID string  `json:"merchant_id,omitempty"`
	CreatedAt  string  `json:"created_at"`
	RevokedAt  *string `json:"revoked_at"`
}

type keyListBody struct {
	Items      []keyBody `json:"items"`
	NextCursor *string   `json:"next_cursor"`
}

func (s *Server) listKeys(c echo.Context) error {
	limit, err := PageLimit(c)
	if err != nil {
		return err
	}
	after, err := DecodeCursor(c)
	if err != nil {
		return err
	}
	// One extra row tells whether another page exists.
	keys, err := s.cfg.Keys.ListKeys(c.Request().Context(), after, limit+1)
	if err != nil {
		return err
	}
	out := keyListBody{Items: make([]keyBody, 0, min(len(keys), limit))}
	for i, k := range keys {
		if i == limit {
			next := EncodeCursor(keys[i-1].ID)
			out.NextCursor = &next
			break
		}
		out.Items = append(out.Items, toKeyBody(k))
	}
	return WriteJSON(c, http.StatusOK, out)
}

func toKeyBody(k auth.Key) keyBody {
	b := keyBody{ID: k.ID, Role: string(k.Role), MerchantID: k.MerchantID, CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339)}
	if k.Revoked() {
		r := k.RevokedAt.UTC().Format(time.RFC3339)
		b.RevokedAt = &r
	}
	return b
}
