// Package loadgen is a lean HTTP/1.1 load generator for measuring Lend's API
// from a separate process, as wrk does: keep-alive connections writing
// pre-built requests and reading responses with a minimal parser, so the
// generator's own CPU leaves the most of this 2-core machine to the server.
// net/http's client costs about a quarter of a decision's CPU when it shares
// the machine (docs/perf/api-resources.md); the server's figures are what is measured.
//
// A run is closed-loop (each connection sends, waits, sends again) or
// open-loop at a fixed rate with latency counted from each request's due
// time (wrk2's correction for coordinated omission).
package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of one run.
const (
	MaxRequests    = 10_000_000 // latencies are kept in memory (8 bytes each)
	MaxConnections = 4_096
	MaxRate        = 1_000_000 // requests/s
	MaxBodyBytes   = 1 << 20   // request body
	// MaxBodies bounds Config.Bodies: one per merchant of a many-merchant
	// run (cmd/lendload -merchants).
	MaxBodies = 100_000
	// MaxHeaderBytes bounds a response's status line and headers.
	MaxHeaderBytes = 64 << 10
	// MaxResponseBodyBytes bounds a response body (read and discarded).
	MaxResponseBodyBytes = 64 << 20
)

// Config describes a run against one endpoint.
type Config struct {
	Addr        string // host:port
	Connections int
	Requests    int
	// Rate, when > 0, makes the run open-loop: request i is due at
	// start + i/Rate and its latency counts from then. Connections bound the
	// requests in flight.
	Rate   float64
	Method string
	Path   string
	// Header holds extra request header lines, each "Name: value".
	Header []string
	Body   []byte
	// Bodies, when set, gives request i the body Bodies[i % len(Bodies)],
	// each with its own Content-Length (at most MaxBodies, each at most
	// MaxBodyBytes); Body must then be empty. A run over many merchants
	// sends each a request in turn.
	Bodies [][]byte
	// KeyHeader, when set, gives request i the header KeyHeader: KeyPrefix+i
	// (a distinct Idempotency-Key per request).
	KeyHeader, KeyPrefix string
	// OK says whether a status counts as success (default: 2xx).
	OK func(status int) bool
	// Timeout bounds one request (default 10 s).
	Timeout time.Duration
	// Record keeps every answered request's timing in Result.Samples (32
	// bytes each), to see when in a run the slow requests fell.
	Record bool
}

// Sample is one answered request's timing, offsets from the run's start.
type Sample struct {
	Index int // the request's number, 0 ..< Requests
	// Start is when its latency counts from: the due time in an open loop;
	// in a closed loop, when the connection took the request (before a
	// dial, if it had to open one).
	Start   time.Duration
	Latency time.Duration
	Status  int
}

// Result is what a run measured.
type Result struct {
	Requests      int // answered requests (timed)
	Failures      int // transport errors and statuses OK refused
	Elapsed       time.Duration
	PerSecond     float64
	Offered       float64 // the open-loop rate, 0 for a closed loop
	P50, P90, P99 time.Duration
	Max           time.Duration
	Statuses      map[int]int
	FirstFailure  string
	// SendLateP99 (open loop) is the p99 of how long after its due time a
	// request was sent: when it is near P99, the tail is the generator's
	// (too few connections, or a CPU shared with the server), not the
	// server's answer time.
	SendLateP99 time.Duration
	// P99FromSend (open loop) is the p99 latency counted from when each
	// request was written instead of from its due time: the server's answer
	// time without the generator's own lateness. Both are reported because on
	// one machine the generator is late when the server takes the CPU.
	P99FromSend time.Duration
	// Samples (Config.Record) are the answered requests' timings, by Index.
	Samples []Sample
}

// String formats the result for a performance note.
func (r Result) String() string {
	mode := fmt.Sprintf("%d requests in %v", r.Requests, r.Elapsed.Round(time.Millisecond))
	if r.Offered > 0 {
		mode = fmt.Sprintf("%d requests answered, offered at %.0f/s, in %v (latency from the due time)", r.Requests, r.Offered, r.Elapsed.Round(time.Millisecond))
	}
	late := ""
	if r.Offered > 0 {
		late = fmt.Sprintf(", sends late p99 %v, p99 from the send %v", r.SendLateP99, r.P99FromSend)
	}
	return fmt.Sprintf("%s: %.0f req/s, p50 %v, p90 %v, p99 %v, max %v%s, failures %d, statuses %v",
		mode, r.PerSecond, r.P50, r.P90, r.P99, r.Max, late, r.Failures, r.Statuses)
}

func (c *Config) validate() error {
	switch {
	case c.Addr == "":
		return errors.New("loadgen: addr is required")
	case c.Connections < 1 || c.Connections > MaxConnections:
		return fmt.Errorf("loadgen: connections must be between 1 and %d", MaxConnections)
	case c.Requests < 1 || c.Requests > MaxRequests:
		return fmt.Errorf("loadgen: requests must be between 1 and %d", MaxRequests)
	case !(c.Rate >= 0 && c.Rate <= MaxRate): // NaN too
		return fmt.Errorf("loadgen: rate must be between 0 and %d requests/s", MaxRate)
	case len(c.Body) > MaxBodyBytes:
		return fmt.Errorf("loadgen: body of %d bytes exceeds %d", len(c.Body), MaxBodyBytes)
	case len(c.Bodies) > 0 && len(c.Body) > 0:
		return errors.New("loadgen: body and bodies are exclusive")
	case len(c.Bodies) > MaxBodies:
		return fmt.Errorf("loadgen: %d bodies exceed %d", len(c.Bodies), MaxBodies)
	case c.Path == "" || c.Path[0] != '/':
		return fmt.Errorf("loadgen: path %q must start with /", c.Path)
	}
	for i, b := range c.Bodies {
		if len(b) > MaxBodyBytes {
			return fmt.Errorf("loadgen: body %d of %d bytes exceeds %d", i, len(b), MaxBodyBytes)
		}
	}
	for _, h := range append(append([]string{c.Method, c.Path, c.KeyHeader, c.KeyPrefix}, c.Header...), c.Addr) {
		for i := 0; i < len(h); i++ {
			if h[i] == '\r' || h[i] == '\n' {
				return fmt.Errorf("loadgen: %q holds a line break", h)
			}
		}
	}
	return nil
}

// Run sends cfg.Requests requests and reports throughput and latency
// percentiles (nearest rank). A failed connection is re-dialled.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Method == "" {
		cfg.Method = "GET"
	}
	if err := cfg.validate(); err != nil {
		return Result{}, err
	}
	if cfg.OK == nil {
		cfg.OK = func(s int) bool { return s >= 200 && s < 300 }
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	r := &run{cfg: cfg, head: requestHead(cfg)}
	lat := make([][]time.Duration, cfg.Connections)
	open := make([]openLoopTimes, cfg.Connections)
	samples := make([][]Sample, cfg.Connections)
	statuses := make([]map[int]int, cfg.Connections)
	var wg sync.WaitGroup
	r.start = time.Now()
	for w := range cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat[w], statuses[w] = r.worker(ctx, cfg.Requests/cfg.Connections+1, &open[w], &samples[w])
		}()
	}
	wg.Wait()
	elapsed := time.Since(r.start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	res := Result{Requests: len(all), Failures: int(r.failures.Load()), Elapsed: elapsed, Offered: cfg.Rate,
		FirstFailure: r.first, Statuses: map[int]int{}}
	for _, m := range statuses {
		for k, v := range m {
			res.Statuses[k] += v
		}
	}
	if len(all) > 0 {
		res.PerSecond = float64(len(all)) / elapsed.Seconds()
		res.P50, res.P90, res.P99 = percentile(all, 50), percentile(all, 90), percentile(all, 99)
		res.Max = all[len(all)-1]
	}
	var late, fromSend []time.Duration
	for _, o := range open {
		late, fromSend = append(late, o.late...), append(fromSend, o.fromSend...)
	}
	if len(late) > 0 {
		slices.Sort(late)
		res.SendLateP99 = percentile(late, 99)
	}
	if len(fromSend) > 0 {
		slices.Sort(fromSend)
		res.P99FromSend = percentile(fromSend, 99)
	}
	if cfg.Record {
		res.Samples = slices.Concat(samples...)
		slices.SortFunc(res.Samples, func(a, b Sample) int { return a.Index - b.Index })
	}
	return res, ctx.Err()
}

// run is the state the workers share.
type run struct {
	cfg      Config
	head     []byte // the request up to the key header's value
	start    time.Time
	next     atomic.Int64
	failures atomic.Int64
	firstMu  sync.Mutex
	first    string
}

func (r *run) fail(msg string) {
	r.failures.Add(1)
	r.firstMu.Lock()
	if r.first == "" {
		r.first = msg
	}
	r.firstMu.Unlock()
}

// openLoopTimes are a worker's open-loop timings: how late each request was
// sent, and its latency counted from the send.
type openLoopTimes struct{ late, fromSend []time.Duration }

// worker drives one connection until the run's requests are taken; in an
// open loop it also records open's timings.
func (r *run) worker(ctx context.Context, capHint int, open *openLoopTimes, samples *[]Sample) ([]time.Duration, map[int]int) {
	mine := make([]time.Duration, 0, capHint)
	statuses := map[int]int{}
	var conn net.Conn
	var br *bufio.Reader
	stop := func() bool { return false } // the connection's cancellation hook
	hangUp := func() {
		stop()
		conn.Close()
		conn = nil
	}
	buf := make([]byte, 0, len(r.head)+64+max(len(r.cfg.Body), longest(r.cfg.Bodies)))
	defer func() {
		if conn != nil {
			hangUp()
		}
	}()
	dialer := net.Dialer{Timeout: r.cfg.Timeout}
	for {
		i := int(r.next.Add(1) - 1)
		if i >= r.cfg.Requests || ctx.Err() != nil {
			return mine, statuses
		}
		buf = r.request(buf[:0], i)
		t0 := time.Now()
		if r.cfg.Rate > 0 {
			due := r.start.Add(time.Duration(float64(i) / r.cfg.Rate * float64(time.Second)))
			if !sleepUntil(ctx, due) {
				return mine, statuses // cancelled while waiting: request i is never sent
			}
			t0 = due
			open.late = append(open.late, time.Since(due))
		}
		if conn == nil {
			c, err := dialer.DialContext(ctx, "tcp", r.cfg.Addr)
			if err != nil {
				r.fail(fmt.Sprintf("request %d: dial: %v", i, err))
				continue
			}
			conn, br = c, bufio.NewReaderSize(c, 16<<10)
			// A cancelled run must not wait out a request's Timeout: an
			// expired deadline ends the request in flight at once.
			stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
		}
		sent := time.Now()
		status, keep, err := r.roundTrip(ctx, conn, br, buf)
		if err != nil {
			r.fail(fmt.Sprintf("request %d: %v", i, err))
			hangUp()
			continue
		}
		latency := time.Since(t0)
		mine = append(mine, latency)
		if r.cfg.Record {
			*samples = append(*samples, Sample{Index: i, Start: t0.Sub(r.start), Latency: latency, Status: status})
		}
		if r.cfg.Rate > 0 {
			open.fromSend = append(open.fromSend, time.Since(sent))
		}
		statuses[status]++
		if !r.cfg.OK(status) {
			r.fail(fmt.Sprintf("request %d: status %d", i, status))
		}
		if !keep {
			hangUp()
		}
	}
}

// sleepUntil waits until t, or returns false when ctx ends first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	wait := time.Until(t)
	if wait <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(wait)
	defer tm.Stop()
	select {
	case <-tm.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// roundTrip writes req on conn and reads its response. The deadline is set
// before ctx is checked, so a cancellation's expired deadline (set by the
// worker's AfterFunc) is never overwritten by this request's.
func (r *run) roundTrip(ctx context.Context, conn net.Conn, br *bufio.Reader, req []byte) (status int, keep bool, err error) {
	if err := conn.SetDeadline(time.Now().Add(r.cfg.Timeout)); err != nil {
		return 0, false, err
	}
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	if _, err := conn.Write(req); err != nil {
		return 0, false, err
	}
	return ReadResponse(br, r.cfg.Method == "HEAD")
}

// requestHead is the request's bytes up to where request i's key goes (or
// up to the blank line when there is no key header).
func requestHead(cfg Config) []byte {
	b := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\n", cfg.Method, cfg.Path, cfg.Addr)
	for _, h := range cfg.Header {
		b = append(append(b, h...), "\r\n"...)
	}
	// With Bodies each request's length follows its key (request).
	if len(cfg.Bodies) == 0 && (len(cfg.Body) > 0 || cfg.Method == "POST" || cfg.Method == "PUT" || cfg.Method == "PATCH") {
		b = fmt.Appendf(b, "Content-Length: %d\r\n", len(cfg.Body))
	}
	if cfg.KeyHeader != "" {
		b = append(append(append(b, cfg.KeyHeader...), ": "...), cfg.KeyPrefix...)
	}
	return b
}

// request appends request i's bytes to b: with Bodies, its Content-Length
// line and body are appended here (no allocation: strconv.AppendInt).
func (r *run) request(b []byte, i int) []byte {
	b = append(b, r.head...)
	if r.cfg.KeyHeader != "" {
		b = append(strconv.AppendInt(b, int64(i), 10), "\r\n"...)
	}
	body := r.cfg.Body
	if n := len(r.cfg.Bodies); n > 0 {
		body = r.cfg.Bodies[i%n]
		b = append(strconv.AppendInt(append(b, "Content-Length: "...), int64(len(body)), 10), "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// longest is the length of the longest of bodies (0 for none).
func longest(bodies [][]byte) int {
	n := 0
	for _, b := range bodies {
		n = max(n, len(b))
	}
	return n
}

// percentile is the nearest-rank percentile of sorted: the smallest value
// with at least p% of the values at or below it.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
