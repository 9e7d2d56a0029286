package apitest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MaxLoadRequests bounds one load run (latencies are kept in memory).
const MaxLoadRequests = 10_000_000

// MaxLoadRate bounds the offered rate of an open-loop run (requests/s).
const MaxLoadRate = 1_000_000

// LoadConfig describes a closed-loop load run: Concurrency workers each send
// a request, wait for the answer, and send the next, until Requests are done.
type LoadConfig struct {
	Client      *http.Client
	Concurrency int
	Requests    int
	// NewRequest builds request i (0-based); it must be safe for concurrent use.
	NewRequest func(i int) (*http.Request, error)
	// OK says whether a status counts as success (default: 2xx).
	OK func(status int) bool
	// RatePerSecond, when > 0, makes the run open-loop: request i is due at
	// start + i/RatePerSecond and its latency counts from that moment, not
	// from when a worker got to send it (wrk2's correction for coordinated
	// omission), so a server that falls behind the offered rate shows its
	// queueing delay. Concurrency then bounds the requests in flight.
	RatePerSecond float64
}

// LoadResult is what a run measured.
type LoadResult struct {
	Requests      int
	Failures      int // transport errors and statuses OK refused
	Elapsed       time.Duration
	PerSecond     float64
	Offered       float64 // the open-loop rate, 0 for a closed loop
	P50, P99, Max time.Duration
	FirstFailure  string
}

// String formats the result for a performance note.
func (r LoadResult) String() string {
	if r.Offered > 0 {
		return fmt.Sprintf("%d requests offered at %.0f/s in %v: %.0f req/s, p50 %v, p99 %v, max %v (from the due time), failures %d",
			r.Requests, r.Offered, r.Elapsed.Round(time.Millisecond), r.PerSecond, r.P50, r.P99, r.Max, r.Failures)
	}
	return fmt.Sprintf("%d requests in %v: %.0f req/s, p50 %v, p99 %v, max %v, failures %d",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.PerSecond, r.P50, r.P99, r.Max, r.Failures)
}

// Load runs cfg and reports throughput and latency percentiles (nearest rank).
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if cfg.Concurrency < 1 || cfg.Requests < 1 || cfg.Requests > MaxLoadRequests {
		return LoadResult{}, fmt.Errorf("load: need 1 <= concurrency and 1 <= requests <= %d", MaxLoadRequests)
	}
	if cfg.RatePerSecond < 0 || cfg.RatePerSecond > MaxLoadRate {
		return LoadResult{}, fmt.Errorf("load: rate must be between 0 and %d requests/s", MaxLoadRate)
	}
	if cfg.OK == nil {
		cfg.OK = func(s int) bool { return s >= 200 && s < 300 }
	}
	var (
		next     atomic.Int64
		failures atomic.Int64
		firstMu  sync.Mutex
		first    string
		wg       sync.WaitGroup
	)
	lat := make([][]time.Duration, cfg.Concurrency)
	fail := func(msg string) {
		failures.Add(1)
		firstMu.Lock()
		if first == "" {
			first = msg
		}
		firstMu.Unlock()
	}
	start := time.Now()
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mine := make([]time.Duration, 0, cfg.Requests/cfg.Concurrency+1)
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Requests || ctx.Err() != nil {
					break
				}
				req, err := cfg.NewRequest(i)
				if err != nil {
					fail(err.Error())
					continue
				}
				t0 := time.Now()
				if cfg.RatePerSecond > 0 {
					due := start.Add(time.Duration(float64(i) / cfg.RatePerSecond * float64(time.Second)))
					if wait := time.Until(due); wait > 0 {
						time.Sleep(wait)
					}
					t0 = due
				}
				res, err := cfg.Client.Do(req.WithContext(ctx))
				if err != nil {
					fail(err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mine = append(mine, time.Since(t0))
				if !cfg.OK(res.StatusCode) {
					fail(fmt.Sprintf("request %d: status %d", i, res.StatusCode))
				}
			}
			lat[w] = mine
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := LoadResult{Requests: len(all), Failures: int(failures.Load()), Elapsed: elapsed, FirstFailure: first, Offered: cfg.RatePerSecond}
	if len(all) > 0 {
		r.PerSecond = float64(len(all)) / elapsed.Seconds()
		r.P50 = percentile(all, 50)
		r.P99 = percentile(all, 99)
		r.Max = all[len(all)-1]
	}
	return r, ctx.Err()
}

// percentile is the nearest-rank percentile of sorted: the smallest value
// with at least p% of the values at or below it.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
