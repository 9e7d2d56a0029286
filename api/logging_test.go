package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/auth"
)

// logKeys is the order of the top-level keys of one JSON log line.
func logKeys(t *testing.T, line string) []string {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestRequestLogLines: the access line names the request id and the key id
// first, whether or not a handler logged through api.Logger before it (the
// request's logger is built only then), and a handler's own line carries
// both too.
func TestRequestLogLines(t *testing.T) {
	e := newEnv(t, nil)
	e.srv.V1().GET("/_test/logs", func(c echo.Context) error {
		api.Logger(c).Info("handler line", "n", 1)
		return c.NoContent(http.StatusNoContent)
	})
	p, err := auth.Authenticate(context.Background(), e.store, e.merchA)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) string {
		req, _ := http.NewRequest("GET", e.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.merchA)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		return res.Header.Get(api.HeaderRequestID)
	}
	res := e.do("GET", "/v1/me", e.merchA, nil) // validated against openapi.yaml
	res.Body.Close()
	idMe, idLogs := res.Header.Get(api.HeaderRequestID), get("/v1/_test/logs")
	want := []string{"time", "level", "msg", "request_id", "key_id", "method", "route", "path", "status", "duration_ms", "bytes_out", "role"}
	var sawHandler bool
	access := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		id, _ := rec["request_id"].(string)
		if id != idMe && id != idLogs {
			continue
		}
		if rec["key_id"] != p.KeyID {
			t.Fatalf("line %s: key_id %v, want %s", line, rec["key_id"], p.KeyID)
		}
		switch rec["msg"] {
		case "handler line":
			sawHandler = id == idLogs
		case "request":
			if got := logKeys(t, line); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("access line keys %v, want %v", got, want)
			}
			access[id] = true
		}
	}
	if !sawHandler || !access[idMe] || !access[idLogs] {
		t.Fatalf("handler line %v, access lines %v; logs:\n%s", sawHandler, access, e.logs.String())
	}
	if bytes.Count([]byte(e.logs.String()), []byte(`"msg":"handler line"`)) != 1 {
		t.Fatal("want exactly one handler line")
	}
}
