// Command lendload measures a running Lend API from a separate process with
// a lean HTTP/1.1 load generator (internal/loadgen), so the figures are the
// server's and not a Go HTTP client's sharing its CPU. `make loadtest` starts
// `lend serve --demo` on a fresh data directory and runs it.
//
//	lendload -url http://127.0.0.1:8080 -keys lend-data/demo-keys.txt -scenario decision -c 20 -n 30000
//	lendload ... -scenario decision -rate 5000 -c 64      # open loop: p99 at a fixed offered rate
//	lendload ... -rate 5000 -c 64 -latencies lat.csv     # and every request's timing, to see when the slow ones fell
//	lendload ... -scenario decision -merchants 500 -service-key "$(lend keys create --role service)"  # over 500 merchants
//
// Scenarios: healthz (GET /healthz, the ceiling: no key, no store), creditline
// (GET the merchant's line), decision (POST /v1/applications, each with its
// own Idempotency-Key: a durable decision), repayment (POST 0.01 repayments on
// one loan it applies for and accepts first), or custom (-method, -path,
// -body, -H).
//
// A decision run with -merchants N > 1 exercises the API's per-merchant
// caches: it lists the merchants with an active credit line with the officer
// key (GET /v1/credit-lines), takes the first N by merchant id, and sends
// request i for merchant i mod N with a service key (a merchant key applies
// only for its own merchant; officers move no money). `lend serve --demo
// --demo-merchants M` builds a portfolio that large; `lend keys create --role
// service` issues the key.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/lendhq/lend/internal/loadgen"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

type options struct {
	url, keysFile, key, merchant, scenario string
	officerKey, serviceKey                 string
	method, path, body                     string
	latencies                              string
	header                                 headers
	conns, requests, amountMinor, termMths int
	merchants                              int
	rate                                   float64
	asJSON                                 bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lendload:", err)
		os.Exit(2)
	}
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("lendload", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the API")
	fs.StringVar(&o.keysFile, "keys", "", "demo keys file (lend-data/demo-keys.txt): the merchant key and id, the officer key (and a LEND_SERVICE_KEY= line if added)")
	fs.StringVar(&o.key, "key", os.Getenv("LEND_MERCHANT_KEY"), "merchant API key (else from -keys)")
	fs.StringVar(&o.merchant, "merchant", os.Getenv("LEND_MERCHANT_ID"), "merchant id (else from -keys)")
	fs.StringVar(&o.officerKey, "officer-key", os.Getenv("LEND_OFFICER_KEY"), "decision -merchants > 1: officer key listing the credit lines (else from -keys)")
	fs.StringVar(&o.serviceKey, "service-key", os.Getenv("LEND_SERVICE_KEY"), "decision -merchants > 1: service key applying for them (else LEND_SERVICE_KEY= in -keys; lend keys create --role service)")
	fs.IntVar(&o.merchants, "merchants", 1, fmt.Sprintf("decision: spread the applications over this many merchants with an active line, the first by id (1..%d; 1: the -merchant alone)", maxMerchants))
	fs.StringVar(&o.scenario, "scenario", "decision", "healthz | creditline | decision | repayment | custom")
	fs.StringVar(&o.method, "method", "GET", "custom: method")
	fs.StringVar(&o.path, "path", "/healthz", "custom: path")
	fs.StringVar(&o.body, "body", "", "custom: request body")
	fs.Var(&o.header, "H", "custom: extra header line (repeatable)")
	fs.IntVar(&o.conns, "c", 20, "connections (closed loop: the concurrency; open loop: the most in flight)")
	fs.IntVar(&o.requests, "n", 30000, "requests")
	fs.Float64Var(&o.rate, "rate", 0, "open-loop offered rate in requests/s (0: closed loop)")
	fs.IntVar(&o.amountMinor, "amount", 100000, "decision: amount_minor applied for")
	fs.IntVar(&o.termMths, "term", 6, "decision: term_months")
	fs.BoolVar(&o.asJSON, "json", false, "print the result as one JSON object")
	fs.StringVar(&o.latencies, "latencies", "", "write every answered request's timing to this CSV file (index,start_us,latency_us,status; start is the due time in an open loop)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.readKeys(); err != nil {
		return err
	}
	u, err := url.Parse(o.url)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("-url %q: want http://host:port", o.url)
	}
	if o.merchants < 1 || o.merchants > maxMerchants {
		return fmt.Errorf("-merchants %d: want 1 to %d", o.merchants, maxMerchants)
	}
	if o.merchants > 1 && o.scenario != "decision" {
		return fmt.Errorf("-merchants applies to the decision scenario only, not %q", o.scenario)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := o.config(ctx, u.Host)
	if err != nil {
		return err
	}
	cfg.Record = o.latencies != ""
	res, err := loadgen.Run(ctx, cfg)
	if err != nil && ctx.Err() == nil {
		return err // the configuration was refused: nothing ran
	}
	// An interrupted run still prints what it measured, then fails.
	if err := o.print(out, res); err != nil {
		return err
	}
	if o.latencies != "" {
		if err := writeSamples(o.latencies, res.Samples); err != nil {
			return err
		}
	}
	if err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	// Failures fail the command in either output format: a throughput that
	// counts error responses is not the figure asked for.
	if res.Failures > 0 {
		return fmt.Errorf("%d failures, first: %s", res.Failures, res.FirstFailure)
	}
	return nil
}

// print writes the result as a line or, with -json, as one JSON object.
func (o *options) print(out io.Writer, res loadgen.Result) error {
	if o.asJSON {
		return json.NewEncoder(out).Encode(map[string]any{"scenario": o.scenario, "merchants": o.merchants, "connections": o.conns,
			"requests": res.Requests, "failures": res.Failures, "first_failure": res.FirstFailure, "statuses": res.Statuses,
			"elapsed_s": res.Elapsed.Seconds(), "per_second": res.PerSecond,
			"offered": res.Offered, "p50_ms": ms(res.P50), "p90_ms": ms(res.P90), "p99_ms": ms(res.P99), "send_late_p99_ms": ms(res.SendLateP99), "p99_from_send_ms": ms(res.P99FromSend), "max_ms": ms(res.Max)})
	}
	scenario := o.scenario
	if o.merchants > 1 {
		scenario += fmt.Sprintf(" over %d merchants", o.merchants)
	}
	_, err := fmt.Fprintf(out, "%s, %d connections: %v\n", scenario, o.conns, res)
	return err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// writeSamples writes the samples as CSV to path through a temporary file
// renamed into place, so a failed write leaves no partial file.
func writeSamples(path string, samples []loadgen.Sample) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".lendload-*.csv")
	if err != nil {
		return fmt.Errorf("-latencies: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "index,start_us,latency_us,status")
	for _, s := range samples {
		fmt.Fprintf(w, "%d,%d,%d,%d\n", s.Index, s.Start.Microseconds(), s.Latency.Microseconds(), s.Status)
	}
	err = w.Flush()
	if e := f.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("-latencies %s: %w", path, err)
	}
	return nil
}

// readKeys fills the keys and merchant not given otherwise from the demo
// keys file's LEND_MERCHANT_KEY=, LEND_MERCHANT_ID=, LEND_OFFICER_KEY= and
// LEND_SERVICE_KEY= lines.
func (o *options) readKeys() error {
	if o.keysFile == "" {
		return nil
	}
	f, err := os.Open(o.keysFile)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		switch {
		case !ok:
		case name == "LEND_MERCHANT_KEY" && o.key == "":
			o.key = value
		case name == "LEND_MERCHANT_ID" && o.merchant == "":
			o.merchant = value
		case name == "LEND_OFFICER_KEY" && o.officerKey == "":
			o.officerKey = value
		case name == "LEND_SERVICE_KEY" && o.serviceKey == "":
			o.serviceKey = value
		}
	}
	return sc.Err()
}

// config builds the run of the scenario (a repayment run first opens its loan).
func (o *options) config(ctx context.Context, addr string) (loadgen.Config, error) {
	c := loadgen.Config{Addr: addr, Connections: o.conns, Requests: o.requests, Rate: o.rate}
	bearer := "Authorization: Bearer " + o.key
	keyPrefix := fmt.Sprintf("lendload-%d-", time.Now().UnixNano()) // distinct across runs on one database
	needKey := func() error {
		if o.key == "" || o.merchant == "" {
			return errors.New("scenario " + o.scenario + " needs a merchant key and id (-keys FILE, or -key and -merchant)")
		}
		return nil
	}
	switch o.scenario {
	case "healthz":
		c.Path = "/healthz"
	case "creditline":
		c.Path, c.Header = "/v1/merchants/"+url.PathEscape(o.merchant)+"/credit-line", []string{bearer}
		return c, needKey()
	case "decision":
		if o.merchants > 1 {
			return o.manyMerchants(ctx, c, keyPrefix)
		}
		if err := needKey(); err != nil {
			return c, err
		}
		body, _ := json.Marshal(map[string]any{"merchant_id": o.merchant, "amount_minor": o.amountMinor, "term_months": o.termMths})
		c.Method, c.Path, c.Body = "POST", "/v1/applications", body
		c.Header = []string{bearer, "Content-Type: application/json"}
		c.KeyHeader, c.KeyPrefix = "Idempotency-Key", keyPrefix
	case "repayment":
		if err := needKey(); err != nil {
			return c, err
		}
		loanID, err := o.openLoan(ctx, keyPrefix)
		if err != nil {
			return c, err
		}
		c.Method, c.Path, c.Body = "POST", fmt.Sprintf("/v1/loans/%d/repayments", loanID), []byte(`{"amount_minor":1}`)
		c.Header = []string{bearer, "Content-Type: application/json"}
		c.KeyHeader, c.KeyPrefix = "Idempotency-Key", keyPrefix
	case "custom":
		c.Method, c.Path, c.Body, c.Header = o.method, o.path, []byte(o.body), o.header
		if o.method == "POST" {
			c.KeyHeader, c.KeyPrefix = "Idempotency-Key", keyPrefix
		}
	default:
		return c, fmt.Errorf("-scenario %q: want healthz, creditline, decision, repayment or custom", o.scenario)
	}
	return c, nil
}

// openLoan applies for a loan large enough for the run's repayments of 0.01
// and accepts it, returning the loan id.
func (o *options) openLoan(ctx context.Context, keyPrefix string) (int64, error) {
	post := func(path, key string, body []byte) (map[string]any, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(o.url, "/")+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+o.key)
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if res.StatusCode != http.StatusCreated {
			return nil, fmt.Errorf("POST %s: %d %s", path, res.StatusCode, b)
		}
		var v map[string]any
		return v, json.Unmarshal(b, &v)
	}
	body, _ := json.Marshal(map[string]any{"merchant_id": o.merchant, "amount_minor": o.amountMinor, "term_months": o.termMths})
	app, err := post("/v1/applications", keyPrefix+"setup-app", body)
	if err != nil {
		return 0, err
	}
	if app["decision"] != "approved" {
		return 0, fmt.Errorf("the setup application was %v, not approved: %v", app["decision"], app["reasons"])
	}
	loan, err := post(fmt.Sprintf("/v1/applications/%.0f/accept", app["id"]), keyPrefix+"setup-accept", nil)
	if err != nil {
		return 0, err
	}
	id, _ := loan["id"].(float64)
	if id < 1 || id != math.Trunc(id) {
		return 0, fmt.Errorf("accepting application %.0f: no loan id in %v", app["id"], loan)
	}
	return int64(id), nil
}
