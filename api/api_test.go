package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/api/apitest"
)

func problemOf(t *testing.T, res *http.Response) api.Problem {
	t.Helper()
	b := readBody(t, res)
	var p api.Problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("not a problem: %v: %s", err, b)
	}
	if p.Status != res.StatusCode {
		t.Errorf("problem status %d, response status %d", p.Status, res.StatusCode)
	}
	return p
}

func TestPublicEndpoints(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		path, wantContains string
	}{
		{"/healthz", `"status":"ok"`},
		{"/readyz", `"status":"ready"`},
		{"/openapi.yaml", "openapi: 3.0.3"},
		{"/metrics", "lend_http_requests_total"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			// /metrics lists request counters only after a request was served.
			res := e.do("GET", tc.path, "", nil)
			b := readBody(t, res)
			if res.StatusCode != 200 || !strings.Contains(string(b), tc.wantContains) {
				t.Fatalf("GET %s = %d, want 200 containing %q:\n%.300s", tc.path, res.StatusCode, tc.wantContains, b)
			}
		})
	}
	res := e.do("GET", "/openapi.yaml", "", nil)
	if b := readBody(t, res); !bytes.Equal(b, api.OpenAPI) {
		t.Errorf("/openapi.yaml is not the embedded document")
	}
}

// TestAuth covers 401, 403 and 404 on the infrastructure routes.
func TestAuth(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, method, path, authz string
		wantStatus                int
		wantCode                  string
	}{
		{"no key", "GET", "/v1/me", "", 401, lend.EUNAUTHORIZED},
		{"basic scheme", "GET", "/v1/me", "Basic " + e.officer, 401, lend.EUNAUTHORIZED},
		{"bearer without key", "GET", "/v1/me", "Bearer ", 401, lend.EUNAUTHORIZED},
		{"unknown key", "GET", "/v1/me", "Bearer lend_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 401, lend.EUNAUTHORIZED},
		{"not a lend key", "GET", "/v1/me", "Bearer sk_live_123", 401, lend.EUNAUTHORIZED},
		{"revoked key", "GET", "/v1/me", "Bearer " + e.revoked, 401, lend.EUNAUTHORIZED},
		{"merchant on officer route", "GET", "/v1/keys", "Bearer " + e.merchA, 403, lend.EFORBIDDEN},
		{"service on officer route", "GET", "/v1/keys", "Bearer " + e.service, 403, lend.EFORBIDDEN},
		{"no key on officer route", "GET", "/v1/keys", "", 401, lend.EUNAUTHORIZED},
		{"unknown v1 route without key", "GET", "/v1/nope", "", 401, lend.EUNAUTHORIZED},
		{"unknown v1 route with key", "GET", "/v1/nope", "Bearer " + e.officer, 404, lend.ENOTFOUND},
		{"unknown root route", "GET", "/nope", "", 404, lend.ENOTFOUND},
		{"wrong method", "DELETE", "/healthz", "", 405, api.CodeMethodNotAllowed},
		{"wrong method under v1 without key", "DELETE", "/v1/me", "", 401, lend.EUNAUTHORIZED},
		// echo's /v1 catch-all answers a wrong method 404 rather than 405.
		{"wrong method under v1", "DELETE", "/v1/me", "Bearer " + e.merchA, 404, lend.ENOTFOUND},
		{"bad limit", "GET", "/v1/keys?limit=0", "Bearer " + e.officer, 400, lend.EINVALID},
		{"bad cursor", "GET", "/v1/keys?cursor=***", "Bearer " + e.officer, 400, lend.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.authz != "" {
				hdr = []string{"Authorization", tc.authz}
			}
			res := e.do(tc.method, tc.path, "", nil, hdr...)
			p := problemOf(t, res)
			if res.StatusCode != tc.wantStatus || p.Code != tc.wantCode {
				t.Fatalf("%s %s = %d %q (%s), want %d %q", tc.method, tc.path, res.StatusCode, p.Code, p.Detail, tc.wantStatus, tc.wantCode)
			}
			if p.Type != "urn:lend:problem:"+tc.wantCode || p.Instance != strings.Split(tc.path, "?")[0] || p.RequestID != res.Header.Get("X-Request-Id") {
				t.Errorf("problem = %+v", p)
			}
			if tc.wantStatus == 401 && res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

func TestMe(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		name, key, role, merchant string
	}{
		{"merchant A", e.merchA, "merchant", "m_A"},
		{"merchant B", e.merchB, "merchant", "m_B"},
		{"officer", e.officer, "officer", ""},
		{"service", e.service, "service", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do("GET", "/v1/me", tc.key, nil)
			var me struct {
				KeyID      string `json:"key_id"`
				Role       string `json:"role"`
				MerchantID string `json:"merchant_id"`
			}
			b := readBody(t, res)
			if err := json.Unmarshal(b, &me); err != nil || res.StatusCode != 200 {
				t.Fatalf("%d %s", res.StatusCode, b)
			}
			if me.Role != tc.role || me.MerchantID != tc.merchant || !strings.HasPrefix(me.KeyID, "key_") {
				t.Fatalf("me = %+v", me)
			}
			if strings.Contains(string(b), tc.key) {
				t.Fatalf("/v1/me echoes the secret")
			}
		})
	}
}

func TestListKeysPagesWithoutSecrets(t *testing.T) {
	e := newEnv(t, nil)
	// 5 keys exist (officer, service, two merchants, revoked): pages of 2 are 2+2+1.
	var ids []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		path := "/v1/keys?limit=2"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		res := e.do("GET", path, e.officer, nil)
		b := readBody(t, res)
		for _, s := range []string{e.officer, e.service, e.merchA, e.merchB, e.revoked} {
			if strings.Contains(string(b), s) {
				t.Fatal("key list contains a secret")
			}
		}
		var list struct {
			Items []struct {
				ID        string  `json:"id"`
				RevokedAt *string `json:"revoked_at"`
			} `json:"items"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatal(err)
		}
		for _, k := range list.Items {
			ids = append(ids, k.ID)
		}
		if list.NextCursor == nil {
			break
		}
		cursor = *list.NextCursor
	}
	if len(ids) != 5 {
		t.Fatalf("listed %d keys over the pages, want 5: %v", len(ids), ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			t.Fatalf("keys not in id order or repeated across pages: %v", ids)
		}
	}
}

func TestBodyLimit(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.BodyLimitBytes = 1024 })
	big := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	t.Run("declared length", func(t *testing.T) {
		res := e.do("POST", "/v1/_test/echo", e.merchA, strings.NewReader(big), "Idempotency-Key", "big-1")
		if p := problemOf(t, res); res.StatusCode != 413 || p.Code != lend.ETOOLARGE {
			t.Fatalf("= %d %+v, want 413 too_large", res.StatusCode, p)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		// io.MultiReader hides the length, so the client sends it chunked.
		res := e.do("POST", "/v1/_test/echo", e.merchA, io.MultiReader(strings.NewReader(big)), "Idempotency-Key", "big-2")
		if p := problemOf(t, res); res.StatusCode != 413 || p.Code != lend.ETOOLARGE {
			t.Fatalf("= %d %+v, want 413 too_large", res.StatusCode, p)
		}
	})
	t.Run("at the limit is fine", func(t *testing.T) {
		// {"name":"…"} is 11 bytes of syntax + 1013 x's = 1024 bytes exactly.
		body := `{"name":"` + strings.Repeat("x", 1013) + `"}`
		if len(body) != 1024 {
			t.Fatalf("body is %d bytes", len(body))
		}
		res := e.do("POST", "/v1/_test/echo", e.merchA, strings.NewReader(body), "Idempotency-Key", "big-3")
		if b := readBody(t, res); res.StatusCode != 201 {
			t.Fatalf("= %d %s", res.StatusCode, b)
		}
	})
}

func TestJSONDecoding(t *testing.T) {
	e := newEnv(t, nil)
	for i, tc := range []struct {
		name, body, wantField string
	}{
		{"unknown field (mass assignment)", `{"name":"a","amount_minor":1,"merchant_id":"m_B"}`, "merchant_id"},
		{"wrong type", `{"name":"a","amount_minor":"100"}`, "amount_minor"},
		{"fraction for an integer", `{"amount_minor":1.5}`, "amount_minor"},
		{"malformed", `{"name":`, "body"},
		{"syntax error", `{"name" "a"}`, "body"},
		{"empty", ``, "body"},
		{"array instead of object", `[1,2]`, "body"},
		{"trailing data", `{"name":"a"} {"name":"b"}`, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do("POST", "/v1/_test/echo", e.merchA, strings.NewReader(tc.body), "Idempotency-Key", fmt.Sprintf("json-%d", i))
			p := problemOf(t, res)
			if res.StatusCode != 400 || p.Code != lend.EINVALID || p.Field != tc.wantField {
				t.Fatalf("= %d %+v, want 400 invalid naming %q", res.StatusCode, p, tc.wantField)
			}
		})
	}
	if n := e.calls.Load(); n != 0 {
		t.Fatalf("handler completed %d times on bad input", n)
	}
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t, nil)
	post := func(key, idem, body string) (*http.Response, []byte) {
		var hdr []string
		if idem != "" {
			hdr = []string{"Idempotency-Key", idem}
		}
		res := e.do("POST", "/v1/_test/echo", key, strings.NewReader(body), hdr...)
		return res, readBody(t, res)
	}
	body := `{"name":"repay","amount_minor":12345}`

	res, b := post(e.merchA, "", body)
	if res.StatusCode != 400 || !strings.Contains(string(b), `"field":"Idempotency-Key"`) {
		t.Fatalf("without key: %d %s", res.StatusCode, b)
	}
	res, b = post(e.merchA, "has space", body)
	if res.StatusCode != 400 {
		t.Fatalf("bad key: %d %s", res.StatusCode, b)
	}

	res, first := post(e.merchA, "k1", body)
	if res.StatusCode != 201 || res.Header.Get(api.HeaderIdempotentReplayed) != "" {
		t.Fatalf("first: %d %s", res.StatusCode, first)
	}
	for i := 0; i < 3; i++ {
		res, again := post(e.merchA, "k1", body)
		if res.StatusCode != 201 || !bytes.Equal(again, first) || res.Header.Get(api.HeaderIdempotentReplayed) != "true" {
			t.Fatalf("replay %d: %d %q, want 201 %q replayed", i, res.StatusCode, again, first)
		}
	}
	if n := e.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times for one key, want 1", n)
	}

	res, b = post(e.merchA, "k1", `{"name":"repay","amount_minor":99999}`)
	if res.StatusCode != 422 || !strings.Contains(string(b), `"code":"unprocessable"`) {
		t.Fatalf("same key, other body: %d %s", res.StatusCode, b)
	}

	// Scoped by owner: merchant B's k1 is another key.
	res, b = post(e.merchB, "k1", body)
	if res.StatusCode != 201 || bytes.Equal(b, first) || res.Header.Get(api.HeaderIdempotentReplayed) != "" {
		t.Fatalf("other owner, same key: %d %s", res.StatusCode, b)
	}

	// An error response is not stored: the key is free for the corrected request.
	res, b = post(e.merchA, "k2", `{"name":"x","bogus":1}`)
	if res.StatusCode != 400 {
		t.Fatalf("bad body: %d %s", res.StatusCode, b)
	}
	res, b = post(e.merchA, "k2", body)
	if res.StatusCode != 201 || res.Header.Get(api.HeaderIdempotentReplayed) != "" {
		t.Fatalf("after a refused request the key should run: %d %s", res.StatusCode, b)
	}
	if n := e.calls.Load(); n != 3 {
		t.Fatalf("handler ran %d times, want 3 (k1 by A, k1 by B, k2 by A)", n)
	}
}

func TestIdempotencyInFlight(t *testing.T) {
	e := newEnv(t, nil)
	type result struct {
		status int
		body   []byte
	}
	done := make(chan result, 1)
	go func() {
		res := e.do("POST", "/v1/_test/block", e.service, strings.NewReader(`{}`), "Idempotency-Key", "slow")
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{res.StatusCode, b}
	}()
	<-e.entered
	res := e.do("POST", "/v1/_test/block", e.service, strings.NewReader(`{}`), "Idempotency-Key", "slow")
	if p := problemOf(t, res); res.StatusCode != 409 || p.Code != lend.ECONFLICT {
		t.Fatalf("retry in flight = %d %+v, want 409 conflict", res.StatusCode, p)
	}
	close(e.release)
	first := <-done
	if first.status != 201 {
		t.Fatalf("first = %d %s", first.status, first.body)
	}
	res = e.do("POST", "/v1/_test/block", e.service, strings.NewReader(`{}`), "Idempotency-Key", "slow")
	if b := readBody(t, res); res.StatusCode != 201 || !bytes.Equal(b, first.body) {
		t.Fatalf("replay after completion = %d %s, want %s", res.StatusCode, b, first.body)
	}
}

func TestRateLimit(t *testing.T) {
	// 0.5 requests/s with a burst of 1: after the first request the bucket is
	// empty and the next token comes 1 / 0.5 = 2 s later, so Retry-After is 2.
	e := newEnv(t, func(c *api.Config) { c.RatePerSecond = 0.5; c.RateBurst = 1 })
	if res := e.do("GET", "/v1/me", e.merchA, nil); res.StatusCode != 200 {
		t.Fatalf("first = %d", res.StatusCode)
	}
	res := e.do("GET", "/v1/me", e.merchA, nil)
	if p := problemOf(t, res); res.StatusCode != 429 || p.Code != lend.ERATELIMIT || res.Header.Get("Retry-After") != "2" {
		t.Fatalf("second = %d %+v Retry-After %q, want 429 rate_limited 2", res.StatusCode, p, res.Header.Get("Retry-After"))
	}
	if res := e.do("GET", "/v1/me", e.merchB, nil); res.StatusCode != 200 {
		t.Fatalf("another key is limited separately; got %d", res.StatusCode)
	}
	e.clock.Add(1 * time.Second) // half a token: still refused, 1 s to go
	res = e.do("GET", "/v1/me", e.merchA, nil)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("after 1 s = %d Retry-After %q, want 429 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	readBody(t, res)
	e.clock.Add(1 * time.Second)
	if res := e.do("GET", "/v1/me", e.merchA, nil); res.StatusCode != 200 {
		t.Fatalf("after 2 s = %d, want 200", res.StatusCode)
	}
}

func TestInternalErrorHidesCause(t *testing.T) {
	e := newEnv(t, nil)
	res := e.do("GET", "/v1/_test/fail", e.officer, nil)
	reqID := res.Header.Get("X-Request-Id")
	b := readBody(t, res)
	if res.StatusCode != 500 || strings.Contains(string(b), "hunter2") || strings.Contains(string(b), "sqlite") {
		t.Fatalf("= %d %s", res.StatusCode, b)
	}
	if !strings.Contains(string(b), `"code":"internal"`) || !strings.Contains(string(b), reqID) {
		t.Fatalf("internal problem should carry the code and request id %s: %s", reqID, b)
	}
	// The operator finds the cause in the log under the same request id.
	if logs := e.logs.String(); !strings.Contains(logs, "disk I/O error") || !strings.Contains(logs, reqID) {
		t.Fatalf("cause not logged with the request id")
	}
}

func TestRequestID(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct{ in, want string }{
		{"trace-42.a_b", "trace-42.a_b"},
		{"bad id with spaces", ""},
		{strings.Repeat("a", 65), ""},
	} {
		res := e.do("GET", "/healthz", "", nil, "X-Request-Id", tc.in)
		readBody(t, res)
		got := res.Header.Get("X-Request-Id")
		if tc.want != "" && got != tc.want || tc.want == "" && (got == tc.in || len(got) != 24) {
			t.Errorf("X-Request-Id %q -> %q", tc.in, got)
		}
	}
}

func TestReadyzReportsDatabaseDown(t *testing.T) {
	e := newEnv(t, func(c *api.Config) {
		c.Ready = func(context.Context) error { return fmt.Errorf("database is locked") }
	})
	res := e.do("GET", "/readyz", "", nil)
	if p := problemOf(t, res); res.StatusCode != 503 || p.Code != api.CodeUnavailable || strings.Contains(p.Detail, "locked") {
		t.Fatalf("= %d %+v", res.StatusCode, p)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	e := newEnv(t, nil)
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.base+"/v1/_test/block", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+e.service)
		req.Header.Set("Idempotency-Key", "during-shutdown")
		res, err := e.client.Do(req)
		if err != nil {
			done <- result{0, err}
			return
		}
		res.Body.Close()
		done <- result{res.StatusCode, nil}
	}()
	<-e.entered
	shuttingDown := make(chan struct{})
	e.srv.HTTPServer().RegisterOnShutdown(func() { close(shuttingDown) })
	shutdownErr := make(chan error, 1)
	e.shutdown = true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shutdownErr <- e.srv.Shutdown(ctx)
	}()
	<-shuttingDown // shutdown has begun while the request is in flight
	close(e.release)
	if r := <-done; r.err != nil || r.status != 201 {
		t.Fatalf("in-flight request = %d %v, want 201", r.status, r.err)
	}
	if err := <-shutdownErr; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := http.Get(e.base + "/healthz"); err == nil {
		t.Fatalf("server still accepts connections after shutdown")
	}
	// The completed command's response was stored before the server went away.
	var n int
	if err := e.store.DB().QueryRow(`SELECT count(*) FROM auth_idempotency WHERE key = 'during-shutdown' AND state = 'completed'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("completed records = %d, %v", n, err)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, nil)
	readBody(t, e.do("GET", "/v1/me", e.merchA, nil))
	readBody(t, e.do("GET", "/v1/keys", e.merchA, nil))
	readBody(t, e.do("GET", "/v1/no/such/route/12345", e.merchA, nil))
	e.srv.Metrics().Decisions.WithLabelValues("approved").Inc()
	e.srv.Metrics().RepaidMinor.WithLabelValues("BRL").Add(12345)
	b := readBody(t, e.do("GET", "/metrics", "", nil))
	for _, want := range []string{
		`lend_http_requests_total{method="GET",route="/v1/me",status="200"} 1`,
		`lend_http_requests_total{method="GET",route="/v1/keys",status="403"} 1`,
		`lend_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`lend_http_request_duration_seconds_bucket{method="GET",route="/v1/me",status="200",le="+Inf"} 1`,
		`lend_http_errors_total{code="forbidden"} 1`,
		`lend_decisions_total{outcome="approved"} 1`,
		`lend_repaid_minor_total{currency="BRL"} 12345`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(string(b), "12345\"") || strings.Contains(string(b), "/v1/no/such") {
		t.Errorf("raw paths leak into metric labels")
	}
}

// TestEveryRouteIsDocumented: each registered route has an operation in
// openapi.yaml (the validator checks the other direction on every response).
func TestEveryRouteIsDocumented(t *testing.T) {
	e := newEnv(t, nil)
	readBody(t, e.do("GET", "/healthz", "", nil))
	doc, err := apitest.ParseDoc()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range e.srv.Echo().Routes() {
		if r.Method == "echo_route_not_found" || strings.HasPrefix(r.Path, "/v1/_test/") {
			continue
		}
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s is not in openapi.yaml", r.Method, path)
		}
		n++
	}
	if n < 6 {
		t.Fatalf("only %d routes checked", n)
	}
}

// TestValidatorCatchesDrift proves the response validator can fail: a body
// the document does not allow is refused.
func TestValidatorCatchesDrift(t *testing.T) {
	doc, err := apitest.ParseDoc()
	if err != nil {
		t.Fatal(err)
	}
	v, err := apitest.NewValidator(doc)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://x/v1/me", nil)
	js := http.Header{"Content-Type": {"application/json"}}
	pj := http.Header{"Content-Type": {"application/problem+json"}}
	for _, tc := range []struct {
		name   string
		status int
		hdr    http.Header
		body   string
		ok     bool
	}{
		{"documented", 200, js, `{"key_id":"key_1","role":"officer"}`, true},
		{"extra field", 200, js, `{"key_id":"key_1","role":"officer","secret":"x"}`, false},
		{"bad enum", 200, js, `{"key_id":"key_1","role":"admin"}`, false},
		{"undocumented status", 418, pj, `{"type":"t","title":"t","status":418,"code":"invalid"}`, false},
		{"problem as plain json", 401, js, `{"type":"t","title":"t","status":401,"code":"unauthorized"}`, false},
		{"unknown code", 401, pj, `{"type":"t","title":"t","status":401,"code":"nope"}`, false},
	} {
		err := v.Validate(req, tc.status, tc.hdr, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
