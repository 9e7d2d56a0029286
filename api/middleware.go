package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// MaxRequestIDLen bounds a client-supplied request id; longer or odd ones are
// replaced, so logs never carry attacker-sized or control-character values.
const MaxRequestIDLen = 64

const (
	ctxRequestID = "lend.request_id"
	ctxLogger    = "lend.logger"
)

// requestID takes a well-formed X-Request-Id from the client (so a trace can
// cross services) or draws one, and echoes it on the response.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(ctxRequestID, id)
		c.Set(ctxLogger, &reqLogger{base: s.log, requestID: id})
		c.Response().Header().Set(HeaderRequestID, id)
		return next(c)
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		ok := b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b == '-' || b == '_' || b == '.'
		if !ok {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // since Go 1.24 crypto/rand.Read never returns an error
	return hex.EncodeToString(b[:])
}

func requestIDOf(c echo.Context) string {
	id, _ := c.Get(ctxRequestID).(string)
	return id
}

// Logger returns the request's logger (carrying request_id and, once
// authenticated, key_id). Never log secrets, full keys or request bodies.
// Call it on the request's goroutine (the logger is built on first use) and
// hand the returned logger to any other goroutine.
func Logger(c echo.Context) *slog.Logger {
	switch l := c.Get(ctxLogger).(type) {
	case *reqLogger:
		return l.get()
	case *slog.Logger:
		return l
	}
	return slog.Default()
}

// reqLogger is a request's logger, built on first use: most requests log
// only their access line, which carries the same attributes itself, and
// slog's With renders its attributes ahead (two Withs were ~2% of a
// decision's CPU).
type reqLogger struct {
	base             *slog.Logger
	requestID, keyID string
	l                *slog.Logger // built by get
}

func (r *reqLogger) get() *slog.Logger {
	if r.l == nil {
		r.l = r.base.With("request_id", r.requestID)
		if r.keyID != "" {
			r.l = r.l.With("key_id", r.keyID)
		}
	}
	return r.l
}

// setKey adds the authenticated key's id.
func (r *reqLogger) setKey(id string) {
	r.keyID = id
	if r.l != nil {
		r.l = r.l.With("key_id", id)
	}
}

// accessLogger is the logger of the access line and the attributes it
// must lead with: the same line as Logger(c) would write, without building it.
func accessLogger(c echo.Context) (*slog.Logger, []slog.Attr) {
	if r, ok := c.Get(ctxLogger).(*reqLogger); ok && r.l == nil {
		attrs := make([]slog.Attr, 0, 10)
		attrs = append(attrs, slog.String("request_id", r.requestID))
		if r.keyID != "" {
			attrs = append(attrs, slog.String("key_id", r.keyID))
		}
		return r.base, attrs
	}
	return Logger(c), make([]slog.Attr, 0, 8)
}

// observe renders any error of the chain (so the final status is known), then
// counts the request, records its latency and writes one access-log line.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		s.metrics.inFlight.Inc()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.metrics.inFlight.Dec()
		elapsed := time.Since(start)
		res := c.Response()
		route := routeLabel(c)
		status := strconv.Itoa(res.Status)
		method := c.Request().Method
		s.metrics.requests.WithLabelValues(method, route, status).Inc()
		s.metrics.duration.WithLabelValues(method, route, status).Observe(elapsed.Seconds())
		l, attrs := accessLogger(c)
		if l.Enabled(c.Request().Context(), slog.LevelInfo) {
			attrs = append(attrs,
				slog.String("method", method),
				slog.String("route", route),
				slog.String("path", c.Request().URL.Path),
				slog.Int("status", res.Status),
				slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
				slog.Int64("bytes_out", res.Size),
			)
			if p, ok := auth.FromContext(c.Request().Context()); ok {
				attrs = append(attrs, slog.String("role", string(p.Role))) // key_id is on the logger
			}
			l.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
		}
		return nil
	}
}

// routeLabel is the route template for metrics (bounded cardinality): never
// the raw path, and one label for everything that matched no route.
func routeLabel(c echo.Context) string {
	p := c.Path()
	if p == "" || strings.HasSuffix(p, "/*") || p == "/v1" {
		return "unmatched"
	}
	return p
}

// recoverPanic turns a handler panic into an internal error, logging the stack.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				Logger(c).Error("panic in handler", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = lend.Errorf(lend.EINTERNAL, "panic")
			}
		}()
		return next(c)
	}
}

// bodyLimit refuses a declared oversized body at once and caps the rest while
// it is read (chunked bodies declare no length).
func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		limit := s.cfg.BodyLimitBytes
		if c.Path() == ingestPath { // batches of transactions are larger than commands
			limit = s.cfg.IngestBodyLimitBytes
		}
		if r.ContentLength > limit {
			return lend.Errorf(lend.ETOOLARGE, "request body of %d bytes exceeds %d bytes", r.ContentLength, limit)
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
		}
		return next(c)
	}
}

// deadline bounds the handler's context, so a stuck database call ends with an
// error the client still receives before the write timeout.
func (s *Server) deadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}
