package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
)

// HeaderIdempotencyKey is the header every POST must carry.
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderIdempotentReplayed marks a replayed response.
const HeaderIdempotentReplayed = "Idempotent-Replayed"

const ctxIdemKey = "lend.idempotency_key"

// IdempotencyKeyOf returns the request's Idempotency-Key ("" outside POSTs).
// Domain commands should store it as the command's unique external reference
// (e.g. a UNIQUE(loan_id, idempotency_key) column on repayments): the HTTP
// record and the domain write are in different transactions, so only that
// makes a re-execution after a crash between them a no-op.
func IdempotencyKeyOf(c echo.Context) string {
	k, _ := c.Get(ctxIdemKey).(string)
	return k
}

// validIdempotencyKey accepts 1..255 printable ASCII characters without spaces.
func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > auth.MaxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotency makes every POST under /v1 idempotent, scoped by the key owner:
// a replay returns the stored status and body byte for byte; the same key
// with another method, path or body is 422; a retry while the first is in
// flight is 409. Only 2xx responses are stored: a command is atomic, so an
// error response means nothing took effect and the key is released, letting
// the client fix the request or retry after a server error with the same key.
func (s *Server) idempotency(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodPost || routeLabel(c) == "unmatched" {
			return next(c)
		}
		key := r.Header.Get(HeaderIdempotencyKey)
		if key == "" {
			return &lend.Error{Code: lend.EINVALID, Field: HeaderIdempotencyKey, Message: "Idempotency-Key header is required on every POST (any unique string, e.g. a UUID)"}
		}
		if !validIdempotencyKey(key) {
			return &lend.Error{Code: lend.EINVALID, Field: HeaderIdempotencyKey, Message: "Idempotency-Key must be 1-255 printable ASCII characters without spaces"}
		}
		p, _ := auth.FromContext(r.Context())
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return err
			}
			return lend.Wrap(lend.EINVALID, err, "reading request body")
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		hash := auth.HashRequest(r.Method, r.URL.RequestURI(), body)
		// The record's fate must not depend on the client staying connected.
		ctx := context.WithoutCancel(r.Context())
		owner := p.Owner()
		outcome, rec, err := s.cfg.Idempotency.BeginIdempotent(ctx, owner, key, hash, s.cfg.Now(), s.cfg.IdempotencyStaleAfter)
		if err != nil {
			return err
		}
		switch outcome {
		case auth.IdemReplay:
			s.metrics.replays.Inc()
			c.Response().Header().Set(HeaderIdempotentReplayed, "true")
			return c.Blob(rec.Status, rec.ContentType, rec.Body)
		case auth.IdemMismatch:
			return &lend.Error{Code: lend.EUNPROCESSABLE, Field: HeaderIdempotencyKey, Message: "Idempotency-Key was already used with a different request"}
		case auth.IdemInFlightConflict:
			return &lend.Error{Code: lend.ECONFLICT, Field: HeaderIdempotencyKey, Message: "a request with this Idempotency-Key is still in flight; retry later"}
		}
		c.Set(ctxIdemKey, key)
		rw := &recordingWriter{ResponseWriter: c.Response().Writer}
		c.Response().Writer = rw
		completed := false
		defer func() {
			if !completed { // a panic unwinds through here: free the key for a retry
				_ = s.cfg.Idempotency.ReleaseIdempotent(ctx, owner, key)
			}
		}()
		if err := next(c); err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		l := Logger(c)
		switch {
		case status < 200 || status > 299:
			// nothing took effect: free the key (the deferred release)
		case rw.overflow:
			l.Warn("response too large to store for idempotency: key released", "max_bytes", auth.MaxStoredResponseBytes)
		default:
			err := s.cfg.Idempotency.CompleteIdempotent(ctx, owner, key, auth.IdemRecord{
				Status:      status,
				ContentType: c.Response().Header().Get(echo.HeaderContentType),
				Body:        rw.buf.Bytes(),
			}, s.cfg.Now())
			if err == nil {
				completed = true
				return nil
			}
			l.Error("storing idempotent response: key released", "err", err)
		}
		return nil
	}
}

// recordingWriter copies what the handler writes, up to the storable size.
type recordingWriter struct {
	http.ResponseWriter
	buf      bytes.Buffer
	overflow bool
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if !w.overflow {
		if w.buf.Len()+len(b) > auth.MaxStoredResponseBytes {
			w.overflow = true
			w.buf.Reset()
		} else {
			w.buf.Write(b)
		}
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
