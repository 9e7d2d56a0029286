package apitest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestOpenLoopCountsQueueing: a server that serves one request per 10 ms
// offered 200 requests/s falls behind; the open-loop run charges the queueing
// delay to latency (request 49 is due at 245 ms and cannot finish before
// 50 × 10 ms = 500 ms), where a closed loop would report ~10 ms each.
func TestOpenLoopCountsQueueing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond)
	}))
	defer srv.Close()
	run := func(rate float64) LoadResult {
		r, err := Load(context.Background(), LoadConfig{Client: srv.Client(), Concurrency: 1, Requests: 50, RatePerSecond: rate,
			NewRequest: func(int) (*http.Request, error) { return http.NewRequest("GET", srv.URL, nil) }})
		if err != nil || r.Failures != 0 || r.Requests != 50 {
			t.Fatalf("rate %v: %+v, %v", rate, r, err)
		}
		return r
	}
	open := run(200)
	if open.Max < 255*time.Millisecond {
		t.Errorf("open loop max latency %v: the queueing delay of the last request (>= 255 ms) is missing", open.Max)
	}
	if open.Offered != 200 {
		t.Errorf("offered %v, want 200", open.Offered)
	}
	if _, err := Load(context.Background(), LoadConfig{Client: srv.Client(), Concurrency: 1, Requests: 1, RatePerSecond: -1,
		NewRequest: func(int) (*http.Request, error) { return http.NewRequest("GET", srv.URL, nil) }}); err == nil {
		t.Error("a negative rate was accepted")
	}
}
