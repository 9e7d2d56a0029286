package api

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the server's Prometheus metrics, on a registry of their own so
// several servers (tests) never collide. HTTP metrics are recorded by the
// server; Decisions, Repayments and RepaidMinor are hooks handlers increment.
type Metrics struct {
	Registry *prometheus.Registry

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	inFlight prometheus.Gauge
	replays  prometheus.Counter

	// Decisions counts application decisions by outcome
	// (approved, counter_offer, declined):
	//	s.Metrics().Decisions.WithLabelValues("approved").Inc()
	Decisions *prometheus.CounterVec
	// Repayments counts repayment commands by result (accepted, refused).
	Repayments *prometheus.CounterVec
	// RepaidMinor sums accepted repayments in minor units, by currency.
	RepaidMinor *prometheus.CounterVec

	// commitDuration and commitCommands describe the loans store's group
	// commits (when the store is a loans.CommitObserver): the serial part of
	// every write, and the first place to look when write latency grows.
	commitDuration prometheus.Histogram
	commitCommands prometheus.Histogram
}

// latencyBucketsSeconds spans 100 µs to 5 s: a decision should land in the
// low milliseconds, a durable write in a few.
var latencyBucketsSeconds = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

func newMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lend_http_requests_total", Help: "HTTP requests by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lend_http_request_duration_seconds", Help: "HTTP request latency by method, route template and status.",
			Buckets: latencyBucketsSeconds,
		}, []string{"method", "route", "status"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lend_http_errors_total", Help: "Error responses by problem code.",
		}, []string{"code"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lend_http_requests_in_flight", Help: "Requests being served.",
		}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "lend_idempotent_replays_total", Help: "POSTs answered from a stored idempotent response.",
		}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lend_decisions_total", Help: "Application decisions by outcome.",
		}, []string{"outcome"}),
		Repayments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lend_repayments_total", Help: "Repayment commands by result.",
		}, []string{"result"}),
		RepaidMinor: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lend_repaid_minor_total", Help: "Accepted repayments in minor currency units.",
		}, []string{"currency"}),
		commitDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "lend_store_commit_duration_seconds", Help: "SQLite loans store group commits: how long the COMMIT took, fsync included (empty on PostgreSQL).",
			Buckets: latencyBucketsSeconds,
		}),
		commitCommands: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "lend_store_commit_commands", Help: "SQLite loans store group commits: commands per transaction (empty on PostgreSQL).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512}, // up to loanssqlite.MaxGroupCommit
		}),
	}
	m.Registry.MustRegister(m.requests, m.duration, m.errors, m.inFlight, m.replays,
		m.Decisions, m.Repayments, m.RepaidMinor, m.commitDuration, m.commitCommands,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeCommits records a group commit of the loans store.
func (m *Metrics) observeCommits(commands int, d time.Duration) {
	m.commitDuration.Observe(d.Seconds())
	m.commitCommands.Observe(float64(commands))
}
