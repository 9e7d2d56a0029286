package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A real net/http server sees every request once, with its own key and the
// exact body, whatever the response framing (Content-Length, chunked, a
// connection closed by the server); the statuses are counted as sent.
func TestRunAgainstNetHTTP(t *testing.T) {
	var mu sync.Mutex
	keys := map[string]int{}
	body := `{"amount_minor":100000}`
	big := strings.Repeat("x", 5000) // past net/http's 2 KiB: sent chunked
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		k := r.Header.Get("Idempotency-Key")
		mu.Lock()
		keys[k]++
		mu.Unlock()
		if string(got) != body || r.Header.Get("Authorization") != "Bearer s3cret" || r.URL.Path != "/v1/applications" {
			w.WriteHeader(400)
			return
		}
		i, _ := strconv.Atoi(strings.TrimPrefix(k, "run1-"))
		switch i % 4 {
		case 0:
			w.WriteHeader(201)
			io.WriteString(w, big)
		case 1:
			w.Header().Set("Connection", "close")
			w.WriteHeader(201)
			io.WriteString(w, "closing")
		case 2:
			w.WriteHeader(409)
		default:
			w.WriteHeader(204)
		}
	}))
	defer ts.Close()
	const n = 2000
	res, err := Run(context.Background(), Config{
		Addr: strings.TrimPrefix(ts.URL, "http://"), Connections: 8, Requests: n, Method: "POST",
		Path: "/v1/applications", Header: []string{"Authorization: Bearer s3cret", "Content-Type: application/json"},
		Body: []byte(body), KeyHeader: "Idempotency-Key", KeyPrefix: "run1-",
		OK: func(s int) bool { return s == 201 || s == 204 || s == 409 },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != n || res.Failures != 0 {
		t.Fatalf("requests %d failures %d (%s), want %d and 0", res.Requests, res.Failures, res.FirstFailure, n)
	}
	if len(keys) != n {
		t.Fatalf("server saw %d distinct keys, want %d", len(keys), n)
	}
	for i := range n {
		if c := keys["run1-"+strconv.Itoa(i)]; c != 1 {
			t.Fatalf("key run1-%d seen %d times", i, c)
		}
	}
	want := map[int]int{201: n / 2, 409: n / 4, 204: n / 4}
	for s, c := range want {
		if res.Statuses[s] != c {
			t.Fatalf("statuses %v, want %v", res.Statuses, want)
		}
	}
	if !(res.P50 <= res.P90 && res.P90 <= res.P99 && res.P99 <= res.Max && res.P50 > 0) {
		t.Fatalf("percentiles out of order: %v", res)
	}
}

// Statuses OK refuses are failures, named in FirstFailure; an open-loop run
// takes at least Requests/Rate.
func TestRunFailuresAndOpenLoop(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	res, err := Run(context.Background(), Config{Addr: addr, Connections: 2, Requests: 100, Path: "/x", Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failures != 100 || !strings.Contains(res.FirstFailure, "status 503") || res.Statuses[503] != 100 {
		t.Fatalf("got %v (first %q)", res, res.FirstFailure)
	}
	if res.Elapsed < 99*time.Millisecond { // the last request is due at 99 ms
		t.Fatalf("open loop at 1000/s ran 100 requests in %v", res.Elapsed)
	}
	// A refused connection fails each request, and the run still ends.
	ts.Close()
	res, _ = Run(context.Background(), Config{Addr: addr, Connections: 1, Requests: 3, Path: "/x", Timeout: time.Second})
	if res.Failures != 3 || res.Requests != 0 || !strings.Contains(res.FirstFailure, "dial") {
		t.Fatalf("closed server: %v (first %q)", res, res.FirstFailure)
	}
}

func TestConfigRefused(t *testing.T) {
	ok := Config{Addr: "127.0.0.1:1", Connections: 1, Requests: 1, Path: "/"}
	for name, mod := range map[string]func(*Config){
		"addr":        func(c *Config) { c.Addr = "" },
		"connections": func(c *Config) { c.Connections = MaxConnections + 1 },
		"requests":    func(c *Config) { c.Requests = 0 },
		"rate":        func(c *Config) { c.Rate = -1 },
		"rate NaN":    func(c *Config) { c.Rate = math.NaN() },
		"path":        func(c *Config) { c.Path = "x" },
		"header":      func(c *Config) { c.Header = []string{"A: b\r\nInjected: 1"} },
		"body":        func(c *Config) { c.Body = make([]byte, MaxBodyBytes+1) },
	} {
		c := ok
		mod(&c)
		if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "loadgen:") {
			t.Errorf("%s: err %v, want a loadgen error", name, err)
		}
	}
}

// Hand-written responses: framing read exactly (the next response starts
// where this one ends) and malformed ones refused.
func TestReadResponse(t *testing.T) {
	next := "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name, in     string
		head         bool
		status       int
		keep, wantOK bool
	}{
		{"length", "HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello", false, 201, true, true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n", false, 200, true, true},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, 200, false, true},
		{"http10", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, false, true},
		{"http10 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", false, 200, true, true},
		// "close" wins wherever it appears (net/http's shouldClose).
		{"http10 close then keep-alive", "HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false, 200, false, true},
		{"head", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", true, 200, true, true},
		{"204 ignores length", "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n", false, 204, true, true},
		{"no length", "HTTP/1.1 200 OK\r\n\r\nbody", false, 0, false, false},
		{"both", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, 0, false, false},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", false, 0, false, false},
		// net/http refuses both: it compares the values as text.
		{"same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\nhello", false, 0, false, false},
		// net/http ignores Transfer-Encoding in HTTP/1.0 and reads to EOF.
		{"http10 chunked", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false, 0, false, false},
		{"chunk extension", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;x=y\r\na\r\n0\r\n\r\n", false, 0, false, false},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, 0, false, false},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", false, 0, false, false},
		{"1xx", "HTTP/1.1 100 Continue\r\n\r\n", false, 0, false, false},
		{"folded header", "HTTP/1.1 200 OK\r\n X: y\r\nContent-Length: 0\r\n\r\n", false, 0, false, false},
		{"bad chunk end", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", false, 0, false, false},
		{"trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\r\n", false, 0, false, false},
		{"gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, 0, false, false},
	} {
		in := tc.in
		if tc.wantOK {
			in += next
		}
		br := bufio.NewReader(strings.NewReader(in))
		status, keep, err := ReadResponse(br, tc.head)
		if (err == nil) != tc.wantOK {
			t.Errorf("%s: err %v, want ok %v", tc.name, err, tc.wantOK)
			continue
		}
		if !tc.wantOK {
			continue
		}
		if status != tc.status || keep != tc.keep {
			t.Errorf("%s: status %d keep %v, want %d %v", tc.name, status, keep, tc.status, tc.keep)
		}
		if s, _, err := ReadResponse(br, false); err != nil || s != 200 {
			t.Errorf("%s: the next response: %d %v", tc.name, s, err)
		}
	}
}

// FuzzReadResponse: a response ReadResponse accepts is read the same way by
// net/http: same status, same connection reuse, and the same bytes left for
// the next response.
func FuzzReadResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nrest",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nxy",
		"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 404 Not Found\r\nConnection: close, te\r\nContent-Length: 0\r\n\r\n",
		// Each of these was once accepted and read differently from net/http.
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\nhellorest",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nrest",
		"HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\nrest",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + strings.Repeat("1;"+strings.Repeat("e", 3000)+"\r\nx\r\n", 7) + "0\r\n\r\nrest",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, in []byte, head bool) {
		status, keep, err := ReadResponse(bufio.NewReader(bytes.NewReader(in)), head)
		if err != nil {
			return
		}
		ours := bufio.NewReader(bytes.NewReader(in))
		ReadResponse(ours, head)
		oursLeft, _ := io.ReadAll(ours)

		method := "GET"
		if head {
			method = "HEAD"
		}
		theirs := bufio.NewReader(bytes.NewReader(in))
		res, err := http.ReadResponse(theirs, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("ReadResponse accepted %q (status %d), net/http refused: %v", in, status, err)
		}
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			t.Fatalf("ReadResponse accepted %q, net/http's body read failed: %v", in, err)
		}
		res.Body.Close()
		theirsLeft, _ := io.ReadAll(theirs)
		if res.StatusCode != status || res.Close == keep || !bytes.Equal(oursLeft, theirsLeft) {
			t.Fatalf("%q: ours status %d keep %v left %q; net/http status %d close %v left %q",
				in, status, keep, oursLeft, res.StatusCode, res.Close, theirsLeft)
		}
	})
}

// A cancelled run ends at once: an open-loop request waiting for its due
// time is not sent, and a request in flight does not wait out its Timeout.
func TestRunCancelled(t *testing.T) {
	var mu sync.Mutex
	seen := 0
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen++
		mu.Unlock()
		if r.URL.Path == "/hang" {
			<-release
		}
	}))
	defer ts.Close()
	defer close(release)
	addr := strings.TrimPrefix(ts.URL, "http://")
	for _, tc := range []struct {
		name, path string
		rate       float64
		wantSeen   int
	}{
		// At 0.5/s request 1 is due 2 s in: cancelled at 0.2 s, it never goes.
		{"waiting for the due time", "/x", 0.5, 1},
		// Request 0 hangs on the server; its Timeout is 10 s.
		{"in flight", "/hang", 0, 1},
	} {
		mu.Lock()
		seen = 0
		mu.Unlock()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(200*time.Millisecond, cancel)
		t0 := time.Now()
		_, err := Run(ctx, Config{Addr: addr, Connections: 1, Requests: 2, Path: tc.path, Rate: tc.rate})
		took := time.Since(t0)
		cancel()
		mu.Lock()
		got := seen
		mu.Unlock()
		if !errors.Is(err, context.Canceled) || took > time.Second || got != tc.wantSeen {
			t.Errorf("%s: err %v after %v, server saw %d request(s); want context.Canceled within 1 s and %d",
				tc.name, err, took.Round(time.Millisecond), got, tc.wantSeen)
		}
	}
}

// SendLateP99 tells a generator that fell behind from a slow server: with
// one connection to a server taking 20 ms a request, requests due every
// 1 ms are sent ever later (the 20th about 380 ms late); with one connection
// per request they go out on time and the latency is the server's.
// P99FromSend is the server's answer time either way.
func TestSendLateness(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.WriteHeader(200)
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	one, err := Run(context.Background(), Config{Addr: addr, Connections: 1, Requests: 20, Path: "/", Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	many, err := Run(context.Background(), Config{Addr: addr, Connections: 20, Requests: 20, Path: "/", Rate: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if one.SendLateP99 < 300*time.Millisecond || one.P99 < one.SendLateP99 {
		t.Errorf("one connection: sends late p99 %v, latency p99 %v; want ≥ 300 ms, latency above it", one.SendLateP99, one.P99)
	}
	// Counted from the send, one connection's latency is the server's 20 ms.
	if one.P99FromSend < 20*time.Millisecond || one.P99FromSend > 150*time.Millisecond {
		t.Errorf("one connection: p99 from the send %v, want the server's ≈ 20 ms", one.P99FromSend)
	}
	if many.SendLateP99 > 15*time.Millisecond || many.P99 < 20*time.Millisecond {
		t.Errorf("20 connections: sends late p99 %v, latency p99 %v; want < 15 ms and ≥ 20 ms", many.SendLateP99, many.P99)
	}
}

// Record keeps one sample per answered request, in index order: an open
// loop's request i is due i/Rate after the start (at 2,000/s, i × 0.5 ms,
// exact to the nanosecond because the due time is computed, not measured),
// and each sample's status is the one the server gave that request (here the
// key's number mod 3 picks 200, 201 or 202).
func TestRecordSamples(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(strings.TrimPrefix(r.Header.Get("Idempotency-Key"), "rec-"))
		w.WriteHeader(200 + i%3)
	}))
	defer ts.Close()
	const n = 300
	for _, rate := range []float64{0, 2000} {
		res, err := Run(context.Background(), Config{Addr: strings.TrimPrefix(ts.URL, "http://"), Connections: 4,
			Requests: n, Rate: rate, Method: "POST", Path: "/x", KeyHeader: "Idempotency-Key", KeyPrefix: "rec-", Record: true})
		if err != nil || res.Failures != 0 {
			t.Fatalf("rate %v: %v, %d failures (%s)", rate, err, res.Failures, res.FirstFailure)
		}
		if len(res.Samples) != n {
			t.Fatalf("rate %v: %d samples, want %d", rate, len(res.Samples), n)
		}
		for i, s := range res.Samples {
			if s.Index != i || s.Status != 200+i%3 || s.Latency <= 0 || s.Start < 0 || s.Start+s.Latency > res.Elapsed {
				t.Fatalf("rate %v: sample %d = %+v (elapsed %v)", rate, i, s, res.Elapsed)
			}
			if want := time.Duration(i) * 500 * time.Microsecond; rate > 0 && s.Start != want {
				t.Fatalf("sample %d due at %v, want %v", i, s.Start, want)
			}
		}
	}
	res, err := Run(context.Background(), Config{Addr: strings.TrimPrefix(ts.URL, "http://"), Connections: 1, Requests: 3, Path: "/x"})
	if err != nil || res.Samples != nil {
		t.Fatalf("without Record: %v, samples %v", err, res.Samples)
	}
}
