package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeAPI answers the routes lendload's scenarios call, as Lend does, and
// records what it was sent.
type fakeAPI struct {
	mu         sync.Mutex
	keys       map[string]bool
	bodies     map[string]int
	repayPaths map[string]int
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer mk_secret" {
		w.WriteHeader(401)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == "POST" {
		k := r.Header.Get("Idempotency-Key")
		if k == "" || f.keys[k] {
			w.WriteHeader(409)
			return
		}
		f.keys[k] = true
	}
	switch {
	case r.URL.Path == "/v1/applications" && strings.Contains(string(b), `"amount_minor":13,`):
		// An application whose acceptance answers without a loan id.
		w.WriteHeader(201)
		io.WriteString(w, `{"id":8,"decision":"approved","reasons":[]}`)
	case r.URL.Path == "/v1/applications/8/accept":
		w.WriteHeader(201)
		io.WriteString(w, `{"status":"active"}`)
	case r.URL.Path == "/v1/applications":
		f.bodies[string(b)]++
		w.WriteHeader(201)
		io.WriteString(w, `{"id":7,"decision":"approved","reasons":[]}`)
	case r.URL.Path == "/v1/applications/7/accept":
		w.WriteHeader(201)
		io.WriteString(w, `{"id":42,"status":"active"}`)
	case strings.HasPrefix(r.URL.Path, "/v1/loans/") && string(b) == `{"amount_minor":1}`:
		f.repayPaths[r.URL.Path]++
		w.WriteHeader(201)
	case r.URL.Path == "/v1/merchants/m0000081/credit-line":
		w.WriteHeader(200)
	default:
		w.WriteHeader(404)
	}
}

func TestScenarios(t *testing.T) {
	f := &fakeAPI{keys: map[string]bool{}, bodies: map[string]int{}, repayPaths: map[string]int{}}
	ts := httptest.NewServer(f)
	defer ts.Close()
	keys := filepath.Join(t.TempDir(), "demo-keys.txt")
	os.WriteFile(keys, []byte("# demo keys\nLEND_OFFICER_KEY=ok_x\nLEND_MERCHANT_KEY=mk_secret\nLEND_MERCHANT_ID=m0000081\n"), 0o600)
	t.Setenv("LEND_MERCHANT_KEY", "")
	t.Setenv("LEND_MERCHANT_ID", "")
	base := []string{"-url", ts.URL, "-keys", keys, "-n", "60", "-c", "4"}

	var out bytes.Buffer
	if err := run(append(base, "-scenario", "decision", "-json"), &out); err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res["requests"] != 60.0 || res["failures"] != 0.0 || res["p99_ms"].(float64) <= 0 {
		t.Fatalf("decision run: %v", res)
	}
	if want := `{"amount_minor":100000,"merchant_id":"m0000081","term_months":6}`; f.bodies[want] != 60 || len(f.keys) != 60 {
		t.Fatalf("server saw bodies %v and %d keys, want 60 × %s", f.bodies, len(f.keys), want)
	}

	out.Reset()
	if err := run(append(base, "-scenario", "repayment"), &out); err != nil {
		t.Fatal(err)
	}
	if f.repayPaths["/v1/loans/42/repayments"] != 60 || !strings.Contains(out.String(), "60 requests") {
		t.Fatalf("repayments %v; output %q", f.repayPaths, out.String())
	}
	out.Reset()
	if err := run(append(base, "-scenario", "creditline"), &out); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}

	for name, args := range map[string][]string{
		"unknown scenario": append(base, "-scenario", "nope"),
		"failures":         {"-url", ts.URL, "-scenario", "custom", "-path", "/missing", "-n", "3"},
		"no key":           {"-url", ts.URL, "-scenario", "decision", "-n", "3"},
		"bad url":          {"-url", "https://x", "-scenario", "healthz"},
		// Without a loan id the repayments would all go to loan 0.
		"no loan id": append(base, "-scenario", "repayment", "-amount", "13"),
	} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// -json reports failures too: the statuses and the first failure are in the
// object, and the command fails as it does without -json (3 requests with no
// key: 3 × 401).
func TestJSONFailures(t *testing.T) {
	ts := httptest.NewServer(&fakeAPI{keys: map[string]bool{}, bodies: map[string]int{}, repayPaths: map[string]int{}})
	defer ts.Close()
	var out bytes.Buffer
	err := run([]string{"-url", ts.URL, "-scenario", "custom", "-path", "/v1/merchants/m0000081/credit-line", "-n", "3", "-c", "1", "-json"}, &out)
	var res struct {
		Requests, Failures int
		FirstFailure       string         `json:"first_failure"`
		Statuses           map[string]int `json:"statuses"`
	}
	if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
		t.Fatalf("%v: %q", jerr, out.String())
	}
	if err == nil || res.Requests != 3 || res.Failures != 3 || res.Statuses["401"] != 3 || !strings.Contains(res.FirstFailure, "status 401") {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

// -latencies writes one CSV line per answered request, in request order,
// with the header first; an open loop at 1,000/s has request i due at i ms
// (start_us = 1000·i). A path that cannot be written fails the command after
// the result is printed, and leaves no file behind.
func TestLatenciesFile(t *testing.T) {
	ts := httptest.NewServer(&fakeAPI{keys: map[string]bool{}, bodies: map[string]int{}, repayPaths: map[string]int{}})
	defer ts.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "lat.csv")
	base := []string{"-url", ts.URL, "-scenario", "creditline", "-key", "mk_secret", "-merchant", "m0000081"}
	args := append(base, "-n", "20", "-c", "2", "-rate", "1000", "-latencies", path)
	if err := run(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 21 || lines[0] != "index,start_us,latency_us,status" {
		t.Fatalf("%d lines, first %q", len(lines), lines[0])
	}
	for i, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) != 4 || f[0] != strconv.Itoa(i) || f[1] != strconv.Itoa(1000*i) || f[3] != "200" {
			t.Fatalf("line %d: %q", i+1, l)
		}
	}
	bad := filepath.Join(dir, "no-such-dir", "lat.csv")
	if err := run(append(base, "-n", "2", "-latencies", bad), io.Discard); err == nil || !strings.Contains(err.Error(), "-latencies") {
		t.Fatalf("unwritable path: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("files left in %s: %v", dir, entries)
	}
}
