// Package api is Lend's REST API: an echo v4 server with bearer-key auth,
// per-key rate limits, idempotent POSTs, problem+json errors, Prometheus
// metrics and an OpenAPI 3 document the test suite holds every response to.
//
// Adding an endpoint is a handler plus a path in openapi.yaml: register the
// handler in routes.go on s.v1 (which already authenticates, rate-limits and
// makes every POST idempotent), guard it with RequireRole, read the caller with
// PrincipalOf or auth.MerchantScope, decode bodies with DecodeJSON and return
// *lend.Error values; the one error handler renders them.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
	"github.com/lendhq/lend/loans"
)

// Defaults and limits of the server. Every one can be overridden in Config.
const (
	DefaultAddr           = ":8080"
	DefaultBodyLimitBytes = 64 << 10 // 64 KiB: the largest request (an application) is < 1 KiB
	// DefaultIngestBodyLimitBytes bounds a transaction batch: a full batch of
	// realtime.MaxBatchRows rows with long ids and buyer ids fits (~250 B a row).
	DefaultIngestBodyLimitBytes = 512 << 10
	DefaultRatePerSecond        = 100 // per key, sustained
	DefaultRateBurst            = 200 // per key, burst
	DefaultReadHeaderTimout     = 5 * time.Second
	DefaultReadTimeout          = 15 * time.Second
	DefaultWriteTimeout         = 30 * time.Second
	DefaultIdleTimeout          = 120 * time.Second
	// DefaultRequestTimeout bounds a handler's context; shorter than the write
	// timeout so the handler's own error can still be written to the client.
	DefaultRequestTimeout = 20 * time.Second
	// DefaultShutdownTimeout is how long Shutdown waits for in-flight requests.
	DefaultShutdownTimeout = 25 * time.Second
	// MaxHeaderBytes bounds request headers.
	MaxHeaderBytes = 64 << 10
	// pruneEvery is how often expired idempotency records are deleted.
	pruneEvery = time.Hour
)

// Config configures a Server. Keys and Idempotency are required.
type Config struct {
	Addr        string                          // listen address for Start (default :8080)
	Keys        auth.KeyStore                   // API keys
	Idempotency auth.IdempotencyStore           // idempotency records
	Ready       func(ctx context.Context) error // readiness check (e.g. database ping); nil = always ready
	Logger      *slog.Logger                    // nil = slog.Default()
	Now         func() time.Time                // clock for rate limits and records; nil = time.Now
	// Loans is the loans store the resource endpoints (credit lines,
	// applications, loans, portfolio) read and command; nil = those
	// endpoints are not registered (404).
	Loans loans.Store
	// LimitStepMinor is the step a counter-offer is rounded down to
	// (default DefaultLimitStepMinor, scoring's default limit step).
	LimitStepMinor int64
	// OfferValidity is how long an offer can be accepted, on the server's
	// clock (default loans.DefaultOfferValidity).
	OfferValidity time.Duration

	BodyLimitBytes int64 // request body limit (default DefaultBodyLimitBytes)
	// IngestBodyLimitBytes is the body limit of transaction ingestion
	// (default DefaultIngestBodyLimitBytes).
	IngestBodyLimitBytes int64
	RatePerSecond        float64 // per-key sustained rate (default DefaultRatePerSecond)
	RateBurst            int     // per-key burst (default DefaultRateBurst)

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	RequestTimeout    time.Duration
	// IdempotencyStaleAfter is when an in-flight idempotency claim is
	// considered abandoned by a dead process (default 2 × WriteTimeout).
	IdempotencyStaleAfter time.Duration

	// KeyCacheTTL is how long an authenticated key is trusted from memory
	// (default auth.DefaultKeyCacheTTL; negative = no cache, every request
	// reads the key store). A key revoked by another process (the CLI) stops
	// working within this time; revoked through Keys of this server, at once.
	KeyCacheTTL time.Duration
	// KeyCacheSize bounds the cached keys (default auth.DefaultKeyCacheSize).
	KeyCacheSize int

	// Models is the model registry behind /v1/models; nil = those endpoints
	// answer 501.
	Models ModelRegistry
	// Risk checks applications and draws against real-time risk rules
	// (api/risk.go); nil = no check.
	Risk DrawRiskChecker
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.LimitStepMinor <= 0 {
		c.LimitStepMinor = DefaultLimitStepMinor
	}
	if c.OfferValidity <= 0 {
		c.OfferValidity = loans.DefaultOfferValidity
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.BodyLimitBytes <= 0 {
		c.BodyLimitBytes = DefaultBodyLimitBytes
	}
	if c.IngestBodyLimitBytes <= 0 {
		c.IngestBodyLimitBytes = DefaultIngestBodyLimitBytes
	}
	if c.RatePerSecond <= 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.RateBurst <= 0 {
		c.RateBurst = DefaultRateBurst
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.IdempotencyStaleAfter <= 0 {
		c.IdempotencyStaleAfter = 2 * c.WriteTimeout
	}
	if c.KeyCacheTTL >= 0 && c.Keys != nil {
		c.Keys = auth.NewKeyCache(c.Keys, c.KeyCacheTTL, c.KeyCacheSize, c.Now)
	}
}

// Server is the HTTP server. Create it with New, run it with Start or Serve,
// stop it with Shutdown.
type Server struct {
	cfg     Config
	log     *slog.Logger
	e       *echo.Echo
	v1      *echo.Group
	http    *http.Server
	metrics *Metrics
	limits  *limiters

	// cmdRoutes are the POST routes that are loans-store commands: their
	// idempotency lives in the command's own transaction (idempotency.go).
	cmdRoutes map[string]bool
	// inFlight holds the (owner, Idempotency-Key) pairs of store commands
	// executing in this process, for the 409 of a concurrent retry.
	inFlight inFlightSet
	// appMemo remembers decided applications for exact replays (handlers_loans.go).
	appMemo appMemo
	// lines caches the credit lines decisions are taken against (linecache.go).
	lines lineCache

	shuttingDown atomic.Bool
	stopPrune    chan struct{}
	stopOnce     sync.Once
}

// New builds the server and registers every route (routes.go).
func New(cfg Config) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		metrics:   newMetrics(),
		limits:    newLimiters(cfg.RatePerSecond, cfg.RateBurst),
		stopPrune: make(chan struct{}),
		cmdRoutes: make(map[string]bool),
		inFlight:  inFlightSet{m: make(map[string]struct{})},
	}
	if o, ok := cfg.Loans.(loans.CommitObserver); ok {
		o.ObserveCommits(s.metrics.observeCommits)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	// Outermost first: request id, access log + metrics (renders errors),
	// panic recovery, body limit, handler deadline.
	e.Use(s.requestID, s.observe, s.recoverPanic, s.bodyLimit, s.deadline)
	s.e = e
	s.v1 = e.Group("/v1", s.authenticate, s.rateLimit, s.idempotency)
	s.http = &http.Server{
		Addr:              cfg.Addr,
		Handler:           e,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	s.http.RegisterOnShutdown(func() { s.shuttingDown.Store(true) })
	s.routes()
	return s
}

// Handler returns the server's http.Handler (for httptest or embedding).
func (s *Server) Handler() http.Handler { return s.e }

// Echo returns the echo instance, for registering routes outside /v1.
func (s *Server) Echo() *echo.Echo { return s.e }

// V1 returns the /v1 group: authenticated, rate-limited, POSTs idempotent.
func (s *Server) V1() *echo.Group { return s.v1 }

// Metrics returns the server's metrics, whose domain counters
// (Decisions, Repayments, RepaidMinor) handlers increment.
func (s *Server) Metrics() *Metrics { return s.metrics }

// HTTPServer returns the underlying http.Server (timeouts, RegisterOnShutdown).
func (s *Server) HTTPServer() *http.Server { return s.http }

// Start listens on Config.Addr and serves until Shutdown; it returns nil after
// a graceful shutdown.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return lend.Wrap(lend.EINVALID, err, "addr: cannot listen on %s: %v", s.cfg.Addr, err)
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown; it returns nil after a graceful shutdown.
func (s *Server) Serve(ln net.Listener) error {
	go s.pruneLoop()
	s.log.Info("serving", "addr", ln.Addr().String())
	if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, makes /readyz report 503, and waits
// for in-flight requests to finish (each runs to its end: a command is never
// cut in half by shutdown) or for ctx to expire.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	s.stopOnce.Do(func() { close(s.stopPrune) })
	return s.http.Shutdown(ctx)
}

// pruneLoop deletes expired idempotency records hourly.
func (s *Server) pruneLoop() {
	t := time.NewTicker(pruneEvery)
	defer t.Stop()
	for {
		s.prune()
		select {
		case <-s.stopPrune:
			return
		case <-t.C:
		}
	}
}

func (s *Server) prune() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n, err := s.cfg.Idempotency.PruneIdempotent(ctx, s.cfg.Now().Add(-auth.IdempotencyRetention))
	if err != nil {
		s.log.Error("pruning idempotency records", "err", err)
		return
	}
	if n > 0 {
		s.log.Info("pruned idempotency records", "count", n)
	}
}
