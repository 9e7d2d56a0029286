package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/api/apitest"
	"github.com/lendhq/lend/auth"
	authsqlite "github.com/lendhq/lend/auth/sqlite"
)

// clock is a settable clock for rate-limit tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

// env is a real server on a loopback port over a real SQLite file, with keys
// for each role and a client validating every response against openapi.yaml.
type env struct {
	t        *testing.T
	srv      *api.Server
	store    *authsqlite.Store
	base     string
	client   *http.Client
	v        *apitest.Validator
	logs     *syncBuffer
	clock    *clock
	officer  string
	service  string
	merchA   string
	merchB   string
	revoked  string
	calls    atomic.Int64  // executions of the test echo handler
	entered  chan struct{} // the block handler signals it started
	release  chan struct{} // and waits for this
	served   chan error
	shutdown bool
}

type echoReq struct {
	Name        string `json:"name"`
	AmountMinor int64  `json:"amount_minor"`
}

type echoRes struct {
	Name        string `json:"name"`
	AmountMinor int64  `json:"amount_minor"`
	Call        int64  `json:"call"`
}

func newEnv(t *testing.T, mutate func(*api.Config)) *env {
	t.Helper()
	ctx := context.Background()
	store, err := authsqlite.Open(ctx, filepath.Join(t.TempDir(), "lend.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{t: t, store: store, logs: &syncBuffer{}, clock: &clock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)},
		entered: make(chan struct{}, 1), release: make(chan struct{}), served: make(chan error, 1)}
	now := e.clock.Now()
	issue := func(role auth.Role, merchant string) string {
		_, secret, err := auth.Issue(ctx, store, role, merchant, now)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	e.officer = issue(auth.RoleOfficer, "")
	e.service = issue(auth.RoleService, "")
	e.merchA = issue(auth.RoleMerchant, "m_A")
	e.merchB = issue(auth.RoleMerchant, "m_B")
	e.revoked = issue(auth.RoleOfficer, "")
	k, err := auth.Authenticate(ctx, store, e.revoked)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RevokeKey(ctx, k.KeyID, now); err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{
		Keys: store, Idempotency: store, Ready: store.Ping,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
		Now:    e.clock.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e.srv = api.New(cfg)
	e.registerTestRoutes()

	extra, err := os.ReadFile("testdata/test-paths.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := apitest.ParseDoc(extra)
	if err != nil {
		t.Fatal(err)
	}
	if e.v, err = apitest.NewValidator(doc); err != nil {
		t.Fatal(err)
	}
	e.client = e.v.Client(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	go func() { e.served <- e.srv.Serve(ln) }()
	t.Cleanup(func() {
		if !e.shutdown {
			// A generous bound: under a loaded 2-core machine the drain of the
			// last keep-alive connections can take seconds; this is not a timing assertion.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := e.srv.Shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}
		if err := <-e.served; err != nil {
			t.Errorf("serve: %v", err)
		}
		if e.v.Checked.Load() == 0 {
			t.Errorf("no response was validated against openapi.yaml")
		}
		// No secret may ever reach the logs.
		logs := e.logs.String()
		for _, s := range []string{e.officer, e.service, e.merchA, e.merchB, e.revoked} {
			if strings.Contains(logs, s) || strings.Contains(logs, s[len(auth.SecretPrefix):len(auth.SecretPrefix)+12]) {
				t.Errorf("a key secret appears in the logs")
			}
		}
	})
	return e
}

// registerTestRoutes adds the test-only endpoints documented in
// testdata/test-paths.yaml, exactly the way real endpoints are added.
func (e *env) registerTestRoutes() {
	v1 := e.srv.V1()
	v1.POST("/_test/echo", func(c echo.Context) error {
		var req echoReq
		if err := api.DecodeJSON(c, &req); err != nil {
			return err
		}
		return api.WriteJSON(c, http.StatusCreated, echoRes{Name: req.Name, AmountMinor: req.AmountMinor, Call: e.calls.Add(1)})
	})
	v1.POST("/_test/block", func(c echo.Context) error {
		e.entered <- struct{}{}
		<-e.release
		return api.WriteJSON(c, http.StatusCreated, echoRes{Name: "released", Call: e.calls.Add(1)})
	})
	v1.GET("/_test/fail", func(c echo.Context) error {
		return errors.New("sqlite: disk I/O error at /var/secret/path password=hunter2")
	})
}

// do sends a request through the validating client.
func (e *env) do(method, path, key string, body io.Reader, hdr ...string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func readBody(t *testing.T, res *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
