package api

import (
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend"
	"github.com/lendhq/lend/auth"
	"golang.org/x/time/rate"
)

// MaxRateLimiters bounds the per-key limiter table; past it, limiters idle
// long enough to be full again (equivalent to new) are dropped.
const MaxRateLimiters = 100_000

// limiters holds one token bucket per API key.
type limiters struct {
	mu    sync.Mutex
	m     map[string]*limiterEntry
	limit rate.Limit
	burst int
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{m: make(map[string]*limiterEntry), limit: rate.Limit(perSecond), burst: burst}
}

// allow takes one token for key at now; when none is left it returns how long
// until one is.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[key]
	if !ok {
		if len(l.m) >= MaxRateLimiters {
			l.sweep(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(l.limit, l.burst)}
		l.m[key] = e
	}
	e.last = now
	r := e.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Hour
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // give the token back: this request is refused, not queued
		return false, d
	}
	return true, 0
}

// sweep drops limiters idle for longer than a full refill.
func (l *limiters) sweep(now time.Time) {
	refill := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second))
	for k, e := range l.m {
		if now.Sub(e.last) > refill {
			delete(l.m, k)
		}
	}
}

// rateLimit applies the per-key limit (after authenticate, so the bucket is
// the key's). Refused requests get 429 with Retry-After in whole seconds,
// rounded up so a client that waits that long will get through.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		p, _ := auth.FromContext(c.Request().Context())
		ok, wait := s.limits.allow(p.KeyID, s.cfg.Now())
		if !ok {
			secs := int64(math.Ceil(wait.Seconds()))
			if secs < 1 {
				secs = 1
			}
			c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
			return lend.Errorf(lend.ERATELIMIT, "rate limit of %g requests/s per key exceeded; retry after %d s", float64(s.limits.limit), secs)
		}
		return next(c)
	}
}
