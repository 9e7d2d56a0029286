package api_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/lendhq/lend/api"
	"github.com/lendhq/lend/api/apitest"
	"github.com/lendhq/lend/auth"
	authsqlite "github.com/lendhq/lend/auth/sqlite"
)

// Load shape of the loopback benchmarks: closed-loop clients and requests per
// run (-load.requests shortens a run on a busy machine; -load.clients trades
// throughput for latency).
var (
	benchClients  = flag.Int("load.clients", 32, "concurrent closed-loop clients of a loopback load run")
	benchRequests = flag.Int("load.requests", 100_000, "requests per loopback load run")
	benchRate     = flag.Float64("load.rate", 0, "open-loop offered rate in requests/s (0: closed loop); latency counts from each request's due time")
)

// BenchmarkLoopback measures requests/s and p50/p99 over loopback HTTP/1.1:
//   - empty: a bare echo route doing nothing (the ceiling for every endpoint);
//   - me: GET /v1/me through the whole stack (request id, access log to a
//     discarded handler, metrics, SQLite key lookup, rate limit).
//
// Run once: go test ./api -run '^$' -bench Loopback -benchtime 1x
func BenchmarkLoopback(b *testing.B) {
	b.Run("empty", func(b *testing.B) {
		e := echo.New()
		e.GET("/empty", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
		runLoad(b, e, func(base string) (*http.Request, error) { return http.NewRequest("GET", base+"/empty", nil) })
	})
	b.Run("me", func(b *testing.B) {
		ctx := context.Background()
		store, err := authsqlite.Open(ctx, filepath.Join(b.TempDir(), "lend.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer store.Close()
		_, secret, err := auth.Issue(ctx, store, auth.RoleMerchant, "m_1", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		srv := api.New(api.Config{Keys: store, Idempotency: store, Ready: store.Ping,
			Logger:        slog.New(slog.NewJSONHandler(io.Discard, nil)),
			RatePerSecond: 1e9, RateBurst: 1e9})
		runLoad(b, srv.Handler(), func(base string) (*http.Request, error) {
			r, err := http.NewRequest("GET", base+"/v1/me", nil)
			if err == nil {
				r.Header.Set("Authorization", "Bearer "+secret)
			}
			return r, err
		})
	})
}

func runLoad(b *testing.B, h http.Handler, newReq func(base string) (*http.Request, error)) {
	// The server in this process runs with lend serve's GC setting.
	b.Logf("GOGC=%d GOMAXPROCS=%d", api.ApplyGCPercent(), api.ApplyProcs())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	tr := &http.Transport{MaxIdleConnsPerHost: *benchClients, MaxConnsPerHost: *benchClients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ResetTimer()
	var last apitest.LoadResult
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		last, err = apitest.Load(context.Background(), apitest.LoadConfig{
			Client: client, Concurrency: *benchClients, Requests: *benchRequests, RatePerSecond: *benchRate,
			NewRequest: func(int) (*http.Request, error) { return newReq(base) },
		})
		if err != nil {
			b.Fatal(err)
		}
		if last.Failures > 0 {
			b.Fatalf("%d failures, first: %s", last.Failures, last.FirstFailure)
		}
	}
	b.StopTimer()
	// CPU time of this process (server and load generator together) per
	// request: less sensitive than req/s to other processes on the machine.
	cpuPerReq := (processCPU() - cpu0) / time.Duration(b.N**benchRequests)
	b.ReportMetric(float64(cpuPerReq.Microseconds()), "cpu_µs/req")
	b.ReportMetric(last.PerSecond, "req/s")
	b.ReportMetric(float64(last.P50.Microseconds()), "p50_µs")
	b.ReportMetric(float64(last.P99.Microseconds()), "p99_µs")
	b.Log(last, ", process CPU ", cpuPerReq, "/request")
}

// processCPU is the user + system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
