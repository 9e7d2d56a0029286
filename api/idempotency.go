package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"sync"

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
// Routes registered with Server.command pass it to the loans store (storeCmd),
// which keeps it in the command's own transaction; other POSTs are covered
// by the HTTP idempotency record.
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

// idempotency makes every POST under /v1 idempotent, scoped by the key owner.
// Loans-store commands (routes.go: command) rely on the store's own
// in-transaction idempotency (commandIdempotency); every other POST gets an
// HTTP idempotency record, as follows:
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
		if s.cmdRoutes[routeLabel(c)] {
			// The store keeps this fingerprint with the key (storeCmd), so a
			// retry replays whatever the decision would be now.
			c.Set(ctxReqHash, hash[:])
			c.Set(ctxReqBody, body)
			return s.commandIdempotency(c, next, p.Owner(), key)
		}
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
			return writeBlob(c, rec.Status, rec.ContentType, rec.Body)
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
		switch {
		case status < 200 || status > 299:
			// nothing took effect: free the key (the deferred release)
		case rw.overflow:
			Logger(c).Warn("response too large to store for idempotency: key released", "max_bytes", auth.MaxStoredResponseBytes)
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
			Logger(c).Error("storing idempotent response: key released", "err", err)
		}
		return nil
	}
}

// commandIdempotency runs a POST that is one loans-store command. The store
// keeps the key, the request's hash and the result in the command's own
// transaction (one fsync for all three, shared by up to a group commit of
// commands), so the HTTP layer stores nothing: a replay re-runs the handler,
// the store returns the stored result without executing again, and the
// handler renders it — each such handler's response is a pure function of
// the stored result, so the replay is byte-identical with the same status.
// The same key with another request is the store's EUNPROCESSABLE (422).
//
// A retry arriving while the first is still executing in this process is
// 409. Across processes sharing a database the second waits for the store's
// write lock and then replays the first's result.
func (s *Server) commandIdempotency(c echo.Context, next echo.HandlerFunc, owner, key string) error {
	slot := owner + "\x00" + key
	merchant, done, claimed := s.inFlight.claimUnlessCompleted(slot)
	if done {
		// Known to have completed here (for merchant): a replay, which the
		// store answers without executing, however many arrive at once.
		c.Set(ctxIdemKey, key)
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), knownReplayKey{}, merchant)))
		return next(c)
	}
	if !claimed {
		return &lend.Error{Code: lend.ECONFLICT, Field: HeaderIdempotencyKey, Message: "a request with this Idempotency-Key is still in flight; retry later"}
	}
	ok := false
	defer func() {
		merchant, _ := c.Get(ctxCmdMerchant).(string) // set by storeCmd
		s.inFlight.release(slot, ok, merchant)
	}()
	c.Set(ctxIdemKey, key)
	err := next(c)
	ok = err == nil && c.Response().Status >= 200 && c.Response().Status <= 299
	return err
}

// ctxReqHash is the fingerprint ([]byte) of a store command's HTTP request.
const ctxReqHash = "lend.request_hash"

// ctxReqBody is a store command's request body ([]byte), read whole above
// (r.Body replays the same bytes); decodeApplication parses it in place.
const ctxReqBody = "lend.request_body"

// ctxCmdMerchant is the merchant a store command acted for (storeCmd sets it).
const ctxCmdMerchant = "lend.cmd_merchant"

// knownReplayKey marks a request context as the retry of a store command
// this process has completed, with the digest of the merchant it acted for:
// checks that would judge a new command (the risk check) must not refuse what
// the store will only replay.
type knownReplayKey struct{}

// knownReplayFor reports whether ctx is a known replay of a command for
// merchantID. A staff key reusing its key for another merchant is a new
// command to the store (keys are scoped by merchant there), so it is not.
func knownReplayFor(ctx context.Context, merchantID string) bool {
	m, ok := ctx.Value(knownReplayKey{}).(digest)
	return ok && m != (digest{}) && m == digestOf(merchantID)
}

// MaxCompletedSlots bounds the memory of recently completed store commands
// (two generations of at most half each; 32 bytes a slot, ~8 MB in all).
const MaxCompletedSlots = 200_000

// digest is the first 128 bits of a string's SHA-256. The set of completed
// commands is keyed and valued by digests, not strings, so its map holds no
// pointers and the garbage collector never scans it: 200,000 slot and
// merchant strings took most of the server's live heap, and marking them made
// every collection's mark phase last 15–30 ms, the p99 tail of decisions
// (docs/perf/api-resources.md, session 12). A collision needs about 2^64
// slots, so a new command is never taken for the replay of another.
type digest [16]byte

// digestOf returns the digest of s; the zero digest stands for "".
func digestOf(s string) digest {
	if s == "" {
		return digest{}
	}
	sum := sha256.Sum256([]byte(s))
	return digest(sum[:16])
}

// inFlightSet is the set of store commands executing in this process, and a
// bounded memory of recently completed ones (whose retries are replays, never
// conflicts).
type inFlightSet struct {
	mu   sync.Mutex
	m    map[string]struct{}
	done recent[digest, digest] // slot → the merchant the command acted for
}

// claimUnlessCompleted reports, under one hold of the lock, that slot
// completed recently (with the digest of its merchant), or else claims it
// (claimed false: it is executing). One hold, because a command finishing
// between a separate look and claim would make its retry a new command,
// checked as one (api/risk.go) instead of replayed.
func (f *inFlightSet) claimUnlessCompleted(slot string) (merchant digest, done, claimed bool) {
	k := digestOf(slot)
	f.mu.Lock()
	defer f.mu.Unlock()
	if merchant, done = f.done.get(k); done {
		return merchant, true, false
	}
	if _, busy := f.m[slot]; busy {
		return digest{}, false, false
	}
	f.m[slot] = struct{}{}
	return digest{}, false, true
}

// release drops slot, remembering it as completed for merchant when ok.
func (f *inFlightSet) release(slot string, ok bool, merchant string) {
	var k, v digest
	if ok { // hashed outside the lock
		k, v = digestOf(slot), digestOf(merchant)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, slot)
	if ok {
		f.done.put(k, v, MaxCompletedSlots)
	}
}

// recent is a bounded map that forgets its oldest half at once: two
// generations, the current filled up to max/2, then demoted. Not safe for
// concurrent use on its own.
type recent[K comparable, V any] struct {
	cur, old map[K]V
}

func (r *recent[K, V]) put(k K, v V, max int) {
	if r.cur == nil || len(r.cur) >= max/2 {
		r.old, r.cur = r.cur, make(map[K]V)
	}
	r.cur[k] = v
}

func (r *recent[K, V]) get(k K) (V, bool) {
	if v, ok := r.cur[k]; ok {
		return v, true
	}
	v, ok := r.old[k]
	return v, ok
}

// storeIdemError rewrites the store's idempotency refusal (the key used for
// another request) in the header's terms; other errors pass through.
func storeIdemError(err error) error {
	var le *lend.Error
	if errors.As(err, &le) && le.Code == lend.EUNPROCESSABLE && le.Field == "idempotency_key" {
		return &lend.Error{Code: lend.EUNPROCESSABLE, Field: HeaderIdempotencyKey, Message: "Idempotency-Key was already used with a different request"}
	}
	return err
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
