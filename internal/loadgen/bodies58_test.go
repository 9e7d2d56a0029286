package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// With Bodies, request i carries Bodies[i % len(Bodies)] with its own
// Content-Length, in a closed and an open loop; the bodies differ in length
// (0, 1 and 35 bytes) so a wrong length would misframe the next request on
// the keep-alive connection. 300 requests over 3 bodies: each body 100 times.
func TestRunBodies(t *testing.T) {
	bodies := [][]byte{nil, []byte("a"), []byte(`{"merchant_id":"m0000001","x":12345}`)}
	var mu sync.Mutex
	var bad []string
	seen := map[string]int{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ := io.ReadAll(r.Body)
		i, err := strconv.Atoi(strings.TrimPrefix(r.Header.Get("Idempotency-Key"), "b-"))
		want := bodies[i%len(bodies)]
		mu.Lock()
		defer mu.Unlock()
		seen[string(got)]++
		if err != nil || string(got) != string(want) || r.ContentLength != int64(len(want)) ||
			r.Header.Get("Content-Length") != strconv.Itoa(len(want)) || r.Header.Get("X-A") != "1" {
			bad = append(bad, r.Header.Get("Idempotency-Key")+": "+string(got))
		}
		w.WriteHeader(201)
	}))
	defer ts.Close()
	const n = 300
	for _, rate := range []float64{0, 3000} {
		clear(seen)
		res, err := Run(context.Background(), Config{Addr: strings.TrimPrefix(ts.URL, "http://"), Connections: 4,
			Requests: n, Rate: rate, Method: "POST", Path: "/v1/applications", Header: []string{"X-A: 1"},
			Bodies: bodies, KeyHeader: "Idempotency-Key", KeyPrefix: "b-"})
		if err != nil || res.Failures != 0 || res.Requests != n {
			t.Fatalf("rate %v: %v, %d answered, %d failures (%s)", rate, err, res.Requests, res.Failures, res.FirstFailure)
		}
		mu.Lock()
		if len(bad) > 0 || seen[""] != n/3 || seen["a"] != n/3 || seen[string(bodies[2])] != n/3 {
			t.Fatalf("rate %v: bad requests %q; bodies seen %v", rate, bad, seen)
		}
		mu.Unlock()
	}
}

// Building a request with Bodies allocates nothing once the buffer has
// grown: the hot path shares the machine with the server.
func TestRequestBodiesNoAlloc(t *testing.T) {
	cfg := Config{Addr: "127.0.0.1:1", Method: "POST", Path: "/x", Bodies: [][]byte{[]byte("ab"), []byte("cde")},
		KeyHeader: "K", KeyPrefix: "p-"}
	r := &run{cfg: cfg, head: requestHead(cfg)}
	// Worked by hand: the head, key 1, body 1's length (3) and body.
	want := "POST /x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nK: p-1\r\nContent-Length: 3\r\n\r\ncde"
	if got := string(r.request(nil, 1)); got != want {
		t.Fatalf("request 1 = %q, want %q", got, want)
	}
	buf := make([]byte, 0, 256)
	i := 0
	if a := testing.AllocsPerRun(100, func() { buf = r.request(buf[:0], i); i++ }); a != 0 {
		t.Fatalf("%v allocations per request", a)
	}
}

func TestBodiesRefused(t *testing.T) {
	ok := Config{Addr: "127.0.0.1:1", Connections: 1, Requests: 1, Path: "/", Bodies: [][]byte{[]byte("x")}}
	for name, mod := range map[string]func(*Config){
		"body and bodies": func(c *Config) { c.Body = []byte("y") },
		"too many":        func(c *Config) { c.Bodies = make([][]byte, MaxBodies+1) },
		"too long":        func(c *Config) { c.Bodies = [][]byte{nil, make([]byte, MaxBodyBytes+1)} },
	} {
		c := ok
		mod(&c)
		if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "loadgen:") {
			t.Errorf("%s: err %v, want a loadgen error", name, err)
		}
	}
}
