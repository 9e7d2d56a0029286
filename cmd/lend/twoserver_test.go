package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend/internal/pipeline"
	"github.com/lendhq/lend/loans"
	loanspg "github.com/lendhq/lend/loans/postgres"
	"github.com/lendhq/lend/loans/postgres/pgtest"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
)

// runMainEnv makes the test binary act as the lend binary (TestMain calls
// main), so the two-server test starts real `lend serve` processes without a
// separate build.
const runMainEnv = "LEND_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// lendCmd is `lend args...` run by the test binary.
func lendCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	c := exec.Command(os.Args[0], args...)
	c.Env = append(os.Environ(), runMainEnv+"=1")
	return c
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServer starts `lend serve` on its own data directory against db and
// waits until it answers /readyz.
func startServer(t *testing.T, db string) string {
	base, _ := startServerProc(t, db)
	return base
}

// startServerProc is startServer that also returns the process (to kill it).
func startServerProc(t *testing.T, db string) (string, *os.Process) {
	t.Helper()
	return startServerData(t, db, t.TempDir())
}

// startServerData is startServerProc on the given data directory (extra:
// more serve flags).
func startServerData(t *testing.T, db, data string, extra ...string) (string, *os.Process) {
	t.Helper()
	addr := freeAddr(t)
	c := lendCmd(t, append([]string{"serve", "--addr", addr, "--db", db, "--data", data, "--rate", "1000000", "--burst", "1000000"}, extra...)...)
	var logs bytes.Buffer
	c.Stdout, c.Stderr = &logs, &logs
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = c.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server %s log:\n%s", addr, logs.String())
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return base, c.Process
			}
		}
	}
	t.Fatalf("server on %s did not become ready:\n%s", addr, logs.String())
	return "", nil
}

type call struct {
	status int
	body   []byte
}

func post(t *testing.T, key, url, idem string, body any) call {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", idem)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return call{}
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	return call{res.StatusCode, rb}
}

// TestTwoServersOneDatabase starts two `lend serve` processes on one
// PostgreSQL database and fires concurrent draws and repayments at both:
// 40 concurrent draws of 30,000 per 1,000,000 line, split across the
// servers, place exactly 33; then repayments of those draws run while 16
// more draws per merchant race for the freed credit. The line is never
// exceeded, the
// successful draws add up to what the line says is drawn, every acknowledged
// repayment is in the journal, a key issued by `lend keys create` works on
// both servers, a replay on the other server returns the same repayment; a
// third server killed with repayments in flight loses none it acknowledged
// and every key retried elsewhere applies once; `lend eod` closes the day and
// `lend reconcile` is clean.
func TestTwoServersOneDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two servers")
	}
	db, _ := pgtest.SchemaURL(t)
	ctx := context.Background()
	st, err := loanspg.Open(ctx, db, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const limitMinor, drawMinor, repayMinor = 1_000_000, 30_000, 7_000
	merchants := []string{"m1", "m2", "m3"}
	var ups []loans.CreditLineUpdate
	for _, m := range merchants {
		ups = append(ups, loans.CreditLineUpdate{MerchantID: m, Currency: "EUR", LimitMinor: limitMinor, APR: 180000, Grade: "B", ModelID: "t", AsOf: "2026-01-01"})
	}
	if _, err := st.UpsertCreditLines(ctx, ups); err != nil {
		t.Fatal(err)
	}
	out, err := lendCmd(t, "keys", "create", "--role", "service", "--db", db).Output()
	if err != nil {
		t.Fatalf("lend keys create: %v", err)
	}
	key := strings.TrimSpace(string(out))
	servers := []string{startServer(t, db), startServer(t, db)}

	type drawResult struct {
		merchant string
		loan     loans.Loan
	}
	var mu sync.Mutex
	var drawn []drawResult
	var acked []loans.Repayment
	var wg sync.WaitGroup
	draw := func(m string, i int) {
		defer wg.Done()
		srv := servers[i%2]
		r := post(t, key, srv+"/v1/merchants/"+m+"/draws", fmt.Sprintf("draw-%s-%d", m, i), map[string]any{"amount_minor": drawMinor, "currency": "EUR"})
		switch r.status {
		case 201:
			var l loans.Loan
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Error(err)
			}
			mu.Lock()
			drawn = append(drawn, drawResult{m, l})
			mu.Unlock()
		case 422: // insufficient credit: the line is full
		default:
			t.Errorf("draw %s %d: %d %s", m, i, r.status, r.body)
		}
	}
	repay := func(l loans.Loan, i int) {
		defer wg.Done()
		r := post(t, key, servers[i%2]+fmt.Sprintf("/v1/loans/%d/repayments", l.ID), fmt.Sprintf("repay-%d", l.ID), map[string]any{"amount_minor": repayMinor})
		if r.status != 201 {
			t.Errorf("repay loan %d: %d %s", l.ID, r.status, r.body)
			return
		}
		var rp loans.Repayment
		if err := json.Unmarshal(r.body, &rp); err != nil {
			t.Error(err)
		}
		// The same key at the other server replays the same repayment.
		again := post(t, key, servers[(i+1)%2]+fmt.Sprintf("/v1/loans/%d/repayments", l.ID), fmt.Sprintf("repay-%d", l.ID), map[string]any{"amount_minor": repayMinor})
		if again.status != 201 || !bytes.Equal(again.body, r.body) {
			t.Errorf("replay of loan %d's repayment on the other server: %d %s, want %s", l.ID, again.status, again.body, r.body)
		}
		mu.Lock()
		acked = append(acked, rp)
		mu.Unlock()
	}
	// Phase 1: 40 draws per merchant, all at once, alternating servers; only
	// floor(1,000,000 / 30,000) = 33 fit on each line.
	for _, m := range merchants {
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go draw(m, i)
		}
	}
	wg.Wait()
	perMerchant := map[string]int{}
	for _, d := range drawn {
		perMerchant[d.merchant]++
	}
	for _, m := range merchants {
		if perMerchant[m] != 33 {
			t.Errorf("merchant %s: %d of 40 concurrent draws of 30,000 succeeded on a 1,000,000 line, want exactly 33", m, perMerchant[m])
		}
	}
	// Phase 2: repay 7,000 of every phase-1 draw (231,000 per line) while 16
	// more draws per merchant race for the credit the repayments free.
	first := append([]drawResult(nil), drawn...)
	for i, d := range first {
		wg.Add(1)
		go repay(d.loan, i)
	}
	for _, m := range merchants {
		for i := 40; i < 56; i++ {
			wg.Add(1)
			go draw(m, i)
		}
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	for _, m := range merchants {
		var drawnMinor int64
		for _, d := range drawn {
			if d.merchant == m {
				drawnMinor += d.loan.PrincipalMinor
			}
		}
		var repaidMinor int64
		for _, rp := range acked {
			if rp.MerchantID == m {
				repaidMinor += rp.Allocation.PrincipalMinor()
			}
		}
		cl, err := st.CreditLine(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if cl.DrawnMinor > cl.LimitMinor || cl.DrawnMinor != drawnMinor-repaidMinor {
			t.Errorf("line %s: drawn %d of limit %d; successful draws %d - repaid principal %d = %d",
				m, cl.DrawnMinor, cl.LimitMinor, drawnMinor, repaidMinor, drawnMinor-repaidMinor)
		}
		// Outstanding principal never exceeds the limit: drawn - repaid <= limit.
		if drawnMinor-repaidMinor > limitMinor {
			t.Errorf("line %s: %d outstanding exceeds the limit", m, drawnMinor-repaidMinor)
		}
		t.Logf("merchant %s: %d successful draws (%d), %d repaid principal, line drawn %d of %d", m, drawnMinor/drawMinor, drawnMinor, repaidMinor, cl.DrawnMinor, cl.LimitMinor)
	}
	for _, rp := range acked {
		j, err := st.Journal(ctx, rp.LoanID)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range j {
			if e.ID == rp.EntryID && e.Kind == loans.KindRepayment {
				found = true
			}
		}
		rps, err := st.Repayments(ctx, rp.LoanID)
		if err != nil {
			t.Fatal(err)
		}
		if !found || len(rps) != 1 || rps[0].ID != rp.ID {
			t.Errorf("acknowledged repayment %d of loan %d: journal entry %d found %v; repayments %+v", rp.ID, rp.LoanID, rp.EntryID, found, rps)
		}
	}
	if len(acked) != len(first) {
		t.Errorf("%d repayments acknowledged of %d sent", len(acked), len(first))
	}
	// Phase 3: a third server is killed (SIGKILL) while repayments are in
	// flight to it. Every repayment it acknowledged is in the journal; each
	// key retried on a surviving server then yields exactly one repayment
	// (the original where it committed, a new one where it did not).
	crashBase, crashProc := startServerProc(t, db)
	n := min(60, len(drawn))
	crashAcks := make([]call, n)
	acks := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			l := drawn[i].loan
			req, _ := http.NewRequest("POST", crashBase+fmt.Sprintf("/v1/loans/%d/repayments", l.ID), strings.NewReader(`{"amount_minor":1000}`))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprintf("crash-%d", l.ID))
			if res, err := http.DefaultClient.Do(req); err == nil { // a killed server's requests fail: unacknowledged
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				crashAcks[i] = call{res.StatusCode, b}
				acks <- struct{}{}
			}
		}(i)
	}
	// Kill once a third of the repayments are acknowledged: the rest are in
	// flight (some committed but not yet answered, some not committed).
	deadline := time.After(10 * time.Second)
wait:
	for k := 0; k < n/3; k++ {
		select {
		case <-acks:
		case <-deadline:
			break wait
		}
	}
	if err := crashProc.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	acknowledged := 0
	for i := 0; i < n; i++ {
		l := drawn[i].loan
		before, err := st.Repayments(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		r := post(t, key, servers[i%2]+fmt.Sprintf("/v1/loans/%d/repayments", l.ID), fmt.Sprintf("crash-%d", l.ID), map[string]any{"amount_minor": 1000})
		if r.status != 201 {
			t.Fatalf("retry of loan %d's repayment after the crash: %d %s", l.ID, r.status, r.body)
		}
		if crashAcks[i].status == 201 {
			acknowledged++
			if !bytes.Equal(crashAcks[i].body, r.body) {
				t.Errorf("loan %d: acknowledged before the crash %s, replayed after %s", l.ID, crashAcks[i].body, r.body)
			}
		}
		after, err := st.Repayments(ctx, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		var rp loans.Repayment
		_ = json.Unmarshal(r.body, &rp)
		if len(after) != 2 || after[1].ID != rp.ID {
			t.Errorf("loan %d: repayments %+v after the retry (had %d), want 2: phase 2's and repayment %d of the crash key", l.ID, after, len(before), rp.ID)
		}
	}
	t.Logf("crash: %d of %d repayments acknowledged before SIGKILL; every key retried once", acknowledged, n)

	// Close of business for today from the command line, while both servers
	// run; then reconcile.
	today := time.Now().UTC().Format(loans.DateLayout)
	if out, err := lendCmd(t, "eod", "--date", today, "--db", db).CombinedOutput(); err != nil {
		t.Fatalf("lend eod: %v\n%s", err, out)
	}
	if bd, err := st.BusinessDate(ctx); err != nil || bd.Format(loans.DateLayout) != today {
		t.Fatalf("business date after lend eod: %v %v, want %s", bd, err, today)
	}
	rec, err := lendCmd(t, "reconcile", "--db", db).CombinedOutput()
	if err != nil {
		t.Fatalf("lend reconcile: %v\n%s", err, rec)
	}
	t.Logf("lend reconcile: %s", strings.TrimSpace(string(rec)))
}

// TestRefreshLimitsSameOnBothStores runs `lend refresh-limits` over one demo
// portfolio (features + model) into SQLite and into PostgreSQL: both report
// the same summary and store the same credit lines; a second run on
// PostgreSQL writes nothing and reports every line unchanged.
func TestRefreshLimitsSameOnBothStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a demo portfolio")
	}
	db, _ := pgtest.SchemaURL(t)
	data := t.TempDir()
	if _, err := pipeline.Demo(context.Background(), pipeline.DemoOptions{DataDir: data, Merchants: 500, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	sqlitePath := filepath.Join(t.TempDir(), "fresh.db")
	refresh := func(dsn string) pipeline.RefreshSummary {
		t.Helper()
		out, err := lendCmd(t, "refresh-limits", "--data", data, "--db", dsn, "--json", "--batch", "100").Output()
		if err != nil {
			t.Fatalf("lend refresh-limits --db %s: %v", dsn, err)
		}
		var sum pipeline.RefreshSummary
		if err := json.Unmarshal(out, &sum); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return sum
	}
	onSQLite, onPG := refresh(sqlitePath), refresh(db)
	if onSQLite != onPG || onPG.New == 0 || onPG.Written != onPG.New {
		t.Fatalf("summaries differ or wrote nothing:\nsqlite   %+v\npostgres %+v", onSQLite, onPG)
	}
	ctx := context.Background()
	sq, err := loanssqlite.Open(sqlitePath, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer sq.Close()
	pg, err := loanspg.Open(ctx, db, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	a, b := allLines(t, sq), allLines(t, pg)
	if len(a) != onPG.New || len(a) != len(b) {
		t.Fatalf("%d lines on SQLite, %d on PostgreSQL, %d new", len(a), len(b), onPG.New)
	}
	for i := range a {
		a[i].UpdatedAt, b[i].UpdatedAt = time.Time{}, time.Time{} // wall clock of each run
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("line %d differs:\nsqlite   %+v\npostgres %+v", i, a[i], b[i])
		}
	}
	again := refresh(db)
	if again.Written != 0 || again.Unchanged != onPG.New {
		t.Fatalf("second run on PostgreSQL: %+v", again)
	}
}

func allLines(t *testing.T, st loans.Store) []loans.CreditLine {
	t.Helper()
	var out []loans.CreditLine
	cursor := ""
	for {
		page, next, err := st.ListCreditLines(context.Background(), loans.CreditLineFilter{Cursor: cursor, Limit: loans.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
}
