package realtime_test

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/lendhq/lend/features"
	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
	"github.com/lendhq/lend/realtime"
	rtsqlite "github.com/lendhq/lend/realtime/sqlite"
	"github.com/lendhq/lend/scoring"
	"github.com/lendhq/lend/synth"
)

// seen records the features each ingest used (Config.OnFeatures).
type seen struct {
	asOf time.Time
	row  features.Row
	ok   bool
	n    int
}

// openService is one process's view of the database file at path: its own
// SQLite connections, realtime store and service.
func openService(t *testing.T, path string, clock *benchClock, got *seen) (*realtime.Service, *loanssqlite.Store, *rtsqlite.Store) {
	t.Helper()
	ctx := context.Background()
	ls, err := loanssqlite.Open(path, loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	st, err := rtsqlite.New(ctx, ls.DB())
	if err != nil {
		t.Fatal(err)
	}
	eng, err := scoring.LoadEngine(filepath.Join("..", "scoring", "testdata", "golden_model.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := realtime.New(ctx, realtime.Config{Store: st, Loans: ls, Engines: fixedEngine{eng}, Now: clock.now, Workers: 1,
		OnFeatures: func(_ string, asOf time.Time, row features.Row, ok bool) {
			got.asOf, got.row, got.ok = asOf, row, ok
			got.n++
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc, ls, st
}

// batchFeatures is the batch pipeline's feature row for rows as of asOf
// (features.ComputeRows over a real DuckDB): ok false when it has none.
func batchFeatures(t *testing.T, db *sql.DB, asOf time.Time, merchant string, rows []realtime.Transaction) (features.Row, bool) {
	t.Helper()
	txs := make([]features.Tx, len(rows))
	for i, r := range rows {
		txs[i] = features.Tx{MerchantID: merchant, TS: r.TS, Amount: r.Amount, Type: r.Type, BuyerID: r.BuyerID}
	}
	out, err := features.ComputeRows(context.Background(), db, asOf, true, txs)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > 1 {
		t.Fatalf("batch pipeline gave %d rows for one merchant", len(out))
	}
	if len(out) == 0 {
		return features.Row{}, false
	}
	return out[0], true
}

// sameFeatures requires every feature of the service's row to equal the
// batch pipeline's, exactly (NULL = NULL).
func sameFeatures(t *testing.T, what string, got *seen, asOf time.Time, want features.Row, wantOK bool) {
	t.Helper()
	if !got.asOf.Equal(asOf) || got.ok != wantOK {
		t.Fatalf("%s: service features as of %v ok %v, batch as of %v ok %v", what, got.asOf, got.ok, asOf, wantOK)
	}
	if !wantOK {
		return
	}
	for i, name := range features.Names() {
		a, b := got.row.Values[i], want.Values[i]
		if (a == nil) != (b == nil) || (a != nil && *a != *b) {
			t.Errorf("%s: %s service %v batch %v", what, name, fmtPtr(a), fmtPtr(b))
		}
	}
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(*v)
}

// busiestSynthMerchant generates 30 merchants over 18 months and returns the
// busiest one's rows in time order (synth writes UTC "YYYY-MM-DD HH:MM:SS").
func busiestSynthMerchant(t *testing.T, end time.Time) (string, []realtime.Transaction, []time.Time) {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.Generate(context.Background(), synth.Config{Merchants: 30, Months: 18, AsOf: end, Seed: 5, Format: synth.FormatCSV, Workers: 1}, dir); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "transactions.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(gz).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	by := map[string][][]string{}
	best := ""
	for _, r := range recs[1:] {
		m := r[col["merchant_id"]]
		by[m] = append(by[m], r)
		if len(by[m]) > len(by[best]) {
			best = m
		}
	}
	rows := by[best]
	ts := make([]time.Time, len(rows))
	for i, r := range rows {
		if ts[i], err = time.Parse(time.DateTime, r[col["ts"]]); err != nil {
			t.Fatal(err)
		}
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ts[idx[a]].Before(ts[idx[b]]) })
	out := make([]realtime.Transaction, len(rows))
	outTS := make([]time.Time, len(rows))
	for i, j := range idx {
		r := rows[j]
		out[i] = realtime.Transaction{TS: r[col["ts"]], Amount: r[col["amount"]], Type: r[col["type"]], BuyerID: r[col["buyer_id"]]}
		outTS[i] = ts[j]
	}
	return best, out, outTS
}

// TestIngestFeaturesMatchBatch: a generated merchant's 18 months of history
// ingested through Service.Ingest in several batches over several days (the
// clock advancing, so the as-of day changes and the service's cached
// pre-aggregate is rebuilt and extended): after every ingest, every feature
// the service used equals the batch pipeline's over the same rows as of the
// same day.
func TestIngestFeaturesMatchBatch(t *testing.T) {
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	merchant, rows, ts := busiestSynthMerchant(t, end)
	if len(rows) < 300 || end.Sub(ts[0]) < 400*24*time.Hour {
		t.Fatalf("merchant %s: %d rows from %v: too little history to test the windows", merchant, len(rows), ts[0])
	}
	clock := &benchClock{}
	var got seen
	svc, ls, _ := openService(t, filepath.Join(t.TempDir(), "lend.db"), clock, &got)
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := ls.UpsertCreditLines(context.Background(), []loans.CreditLineUpdate{{MerchantID: merchant, Currency: "USD", LimitMinor: 500_000, APR: apr, Grade: "B", ModelID: "seed", AsOf: "2025-12-01"}}); err != nil {
		t.Fatal(err)
	}
	db, err := features.OpenDB(1, "256MB", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	n, calls := 0, 0
	var ingested []realtime.Transaction
	ingest := func(part []realtime.Transaction) {
		t.Helper()
		calls++
		if _, err := svc.Ingest(ctx, merchant, fmt.Sprintf("k%d", calls), "h", part); err != nil {
			t.Fatalf("ingest %d: %v", calls, err)
		}
		ingested = append(ingested, part...)
		// As when sales arrive minutes apart: the background build of
		// tomorrow's pre-aggregate is done before the next ingest.
		waitIdle(t, svc)
		asOf := clock.t.Truncate(24 * time.Hour).Add(24 * time.Hour)
		want, ok := batchFeatures(t, db, asOf, merchant, ingested)
		sameFeatures(t, fmt.Sprintf("ingest %d (%d rows, as of %s)", calls, len(ingested), asOf.Format(time.DateOnly)), &got, asOf, want, ok)
	}
	// The history before the last 10 days, stored at noon of the day before.
	d0 := end.AddDate(0, 0, -10)
	clock.t = d0.Add(-12 * time.Hour)
	cut := sort.Search(len(rows), func(i int) bool { return !ts[i].Before(d0) })
	for lo := 0; lo < cut; lo += 250 {
		ingest(rows[lo:min(lo+250, cut)])
	}
	n = cut
	before := svc.Stats()
	// Then day by day, at 09:00 and 18:00: the day's rows so far, each
	// followed by a one-row sale (and a refund at 18:00), several ingests a
	// day.
	for d := d0; d.Before(end); d = d.AddDate(0, 0, 1) {
		for _, hour := range []int{9, 18} {
			clock.t = d.Add(time.Duration(hour) * time.Hour)
			hi := sort.Search(len(rows), func(i int) bool { return ts[i].After(clock.t) })
			if hi > n {
				ingest(rows[n:hi])
				n = hi
			}
			ingest([]realtime.Transaction{{TS: clock.t.Add(-time.Minute).Format(time.RFC3339), Amount: "12.34", Type: "sale", BuyerID: "walk-in"}})
			if hour == 18 {
				ingest([]realtime.Transaction{{TS: clock.t.Format(time.RFC3339), Amount: "5.00", Type: "refund", BuyerID: "walk-in"}})
			}
		}
	}
	// Rows after the last clock (none, or the end instant) and beyond.
	if n < len(rows) {
		ingest(rows[n:])
	}
	if calls < 30 || got.n != calls {
		t.Fatalf("%d ingests, %d feature rows seen", calls, got.n)
	}
	// Ten midnights passed, each one promoted tomorrow's pre-aggregate:
	// not one ingest of the ten days re-read the stored history.
	after := svc.Stats()
	if r, p := after.Reloads-before.Reloads, after.Promoted-before.Promoted; r != 0 || p != 10 {
		t.Fatalf("over ten days: %d reloads, %d promoted rollovers (want 0 and 10); stats %+v", r, p, after)
	}
}

// waitIdle waits until svc's background builder has handled every queued
// build.
func waitIdle(t *testing.T, svc *realtime.Service) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		st := svc.Stats()
		if st.NextQueued == st.NextBuilt+st.NextDropped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background builds still pending: %+v", st)
		}
	}
}

// TestIngestRolloverSeesOtherProcesses: A caches the merchant with
// tomorrow's pre-aggregate; B stores a batch the same day; A's first
// ingest of the next day must not promote (it would miss B's rows): it
// reloads, and its features equal the batch pipeline's. The day after, with
// no other writer, A promotes.
func TestIngestRolloverSeesOtherProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lend.db")
	clock := &benchClock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)}
	var gotA, gotB seen
	a, _, st := openService(t, path, clock, &gotA)
	b, _, _ := openService(t, path, clock, &gotB)
	ctx := context.Background()
	all := seedDailySales(t, st, clock, 200)
	db, err := features.OpenDB(1, "256MB", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	step := func(svc *realtime.Service, got *seen, key string, at time.Time, amount, typ string) {
		t.Helper()
		clock.t = at
		tx := realtime.Transaction{TS: at.Add(-time.Minute).Format(time.RFC3339), Amount: amount, Type: typ, BuyerID: "b9"}
		if _, err := svc.Ingest(ctx, "m1", key, "h-"+key, []realtime.Transaction{tx}); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		waitIdle(t, svc)
		all = append(all, tx)
		asOf := at.Truncate(24 * time.Hour).Add(24 * time.Hour)
		want, ok := batchFeatures(t, db, asOf, "m1", all)
		sameFeatures(t, key, got, asOf, want, ok)
	}
	day := time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC)
	step(a, &gotA, "a1", day.Add(11*time.Hour), "30.00", "sale")
	step(a, &gotA, "a2", day.Add(12*time.Hour), "31.00", "sale")
	step(b, &gotB, "b1", day.Add(13*time.Hour), "75.50", "refund")
	s0 := a.Stats()
	step(a, &gotA, "a3", day.Add(33*time.Hour), "20.00", "sale") // next day, after B's batch
	s1 := a.Stats()
	if s1.Reloads != s0.Reloads+1 || s1.Promoted != s0.Promoted {
		t.Fatalf("rollover after another process's batch: before %+v after %+v (want one reload, no promotion)", s0, s1)
	}
	step(a, &gotA, "a4", day.Add(34*time.Hour), "21.00", "sale")
	step(a, &gotA, "a5", day.Add(58*time.Hour), "22.00", "sale") // the day after: no other writer
	s2 := a.Stats()
	if s2.Reloads != s1.Reloads || s2.Promoted != s1.Promoted+1 {
		t.Fatalf("rollover without another writer: before %+v after %+v (want a promotion, no reload)", s1, s2)
	}
}

// TestIngestSeesOtherProcesses: two services over one SQLite file (two
// processes). A ingests (and caches the merchant's history), B stores a
// refund batch for the same merchant, then A ingests again: A's features and
// signals include B's rows, as the batch pipeline and a hand count say.
func TestIngestSeesOtherProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lend.db")
	clock := &benchClock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)}
	var gotA, gotB seen
	a, ls, st := openService(t, path, clock, &gotA)
	b, _, _ := openService(t, path, clock, &gotB)
	ctx := context.Background()
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := ls.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "USD", LimitMinor: 500_000, APR: apr, Grade: "B", ModelID: "seed", AsOf: "2025-03-30"}}); err != nil {
		t.Fatal(err)
	}
	all := seedDailySales(t, st, clock, 120)
	db, err := features.OpenDB(1, "256MB", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	asOf := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	answers := map[string][]byte{}
	step := func(svc *realtime.Service, got *seen, key string, tx realtime.Transaction) realtime.IngestResult {
		t.Helper()
		body, err := svc.Ingest(ctx, "m1", key, "h-"+key, []realtime.Transaction{tx})
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		answers[key] = body
		all = append(all, tx)
		want, ok := batchFeatures(t, db, asOf, "m1", all)
		sameFeatures(t, key, got, asOf, want, ok)
		var res realtime.IngestResult
		if err := json.Unmarshal(body, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	step(a, &gotA, "a1", realtime.Transaction{TS: "2025-03-31T11:00:00Z", Amount: "30.00", Type: "sale", BuyerID: "b1"})
	step(a, &gotA, "a2", realtime.Transaction{TS: "2025-03-31T11:01:00Z", Amount: "31.00", Type: "sale", BuyerID: "b2"}) // from A's cache
	step(b, &gotB, "b1", realtime.Transaction{TS: "2025-03-31T11:30:00Z", Amount: "75.50", Type: "refund", BuyerID: "b3"})
	res := step(a, &gotA, "a3", realtime.Transaction{TS: "2025-03-31T11:45:00Z", Amount: "20.00", Type: "sale", BuyerID: "b4"})
	// Signals at 12:00 by hand: the recent week (03-24 12:00, 03-31 12:00]
	// holds the daily sales of 03-25..03-30 (6 × 40), A's three (81) and
	// B's refund; the 8 weeks before hold 56 daily sales.
	want := realtime.Signals{At: clock.t, RecentSalesMicro: (6*40 + 81) * 1_000_000, RecentRefundsMicro: 75_500_000, PriorWeeklyMicro: 56 * 40_000_000 / 8}
	if !res.Signals.At.Equal(want.At) || res.Signals.RecentSalesMicro != want.RecentSalesMicro || res.Signals.RecentRefundsMicro != want.RecentRefundsMicro || res.Signals.PriorWeeklyMicro != want.PriorWeeklyMicro {
		t.Fatalf("A's signals %+v, want %+v", res.Signals, want)
	}
	// A again, now from its cache: the same count plus this sale.
	res = step(a, &gotA, "a4", realtime.Transaction{TS: "2025-03-31T11:55:00Z", Amount: "15.00", Type: "sale", BuyerID: "b1"})
	want.RecentSalesMicro += 15_000_000
	if res.Signals.RecentSalesMicro != want.RecentSalesMicro || res.Signals.RecentRefundsMicro != want.RecentRefundsMicro || res.Signals.PriorWeeklyMicro != want.PriorWeeklyMicro {
		t.Fatalf("A's signals from its cache %+v, want %+v", res.Signals, want)
	}
	// And the other way round: B, which cached before A's last batches.
	step(b, &gotB, "b2", realtime.Transaction{TS: "2025-03-31T11:50:00Z", Amount: "10.00", Type: "sale", BuyerID: "b5"})
	// A key answered by one process replays byte for byte from the other,
	// which never held that answer in memory, after the line and the clock
	// moved: the response was durable before it was answered.
	clock.t = clock.t.Add(2 * time.Hour)
	for _, k := range []struct {
		svc *realtime.Service
		key string
	}{{b, "a1"}, {a, "b1"}, {b, "a4"}} {
		again, err := k.svc.Ingest(ctx, "m1", k.key, "h-"+k.key, []realtime.Transaction{{TS: "2025-03-31T23:00:00Z", Amount: "1.00", Type: "sale"}})
		if err != nil || string(again) != string(answers[k.key]) {
			t.Fatalf("replay of %s: %v\n%s\nwant\n%s", k.key, err, again, answers[k.key])
		}
	}
}

// failingRecord is the real SQLite store whose response record fails: the
// fault a full disk or a lost database connection causes between the line
// decision and the answer.
type failingRecord struct{ *rtsqlite.Store }

func (failingRecord) SetResponse(context.Context, int64, []byte) error {
	return errors.New("disk full")
}

// TestIngestNotAnsweredUntilRecorded: an ingest whose response cannot be
// recorded is not acknowledged (an error, not the body), and a retry of its
// key on a healthy process answers — and from then on replays — one response.
func TestIngestNotAnsweredUntilRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lend.db")
	clock := &benchClock{t: time.Date(2025, 3, 31, 12, 0, 0, 0, time.UTC)}
	var got seen
	healthy, ls, st := openService(t, path, clock, &got)
	ctx := context.Background()
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := ls.UpsertCreditLines(ctx, []loans.CreditLineUpdate{{MerchantID: "m1", Currency: "USD", LimitMinor: 500_000, APR: apr, Grade: "B", ModelID: "seed", AsOf: "2025-03-30"}}); err != nil {
		t.Fatal(err)
	}
	eng, err := scoring.LoadEngine(filepath.Join("..", "scoring", "testdata", "golden_model.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	broken, err := realtime.New(ctx, realtime.Config{Store: failingRecord{st}, Loans: ls, Engines: fixedEngine{eng}, Now: clock.now, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer broken.Close()
	txs := []realtime.Transaction{{TS: "2025-03-31T11:00:00Z", Amount: "30.00", Type: "sale", BuyerID: "b1"}}
	if body, err := broken.Ingest(ctx, "m1", "k1", "h1", txs); err == nil {
		t.Fatalf("acknowledged without a recorded response: %s", body)
	}
	first, err := healthy.Ingest(ctx, "m1", "k1", "h1", txs)
	if err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(time.Hour)
	again, err := healthy.Ingest(ctx, "m1", "k1", "h1", txs)
	if err != nil || string(again) != string(first) {
		t.Fatalf("replay: %v\n%s\nwant\n%s", err, again, first)
	}
	var res realtime.IngestResult
	if err := json.Unmarshal(first, &res); err != nil || res.Accepted != 1 {
		t.Fatalf("answer %s: %v", first, err)
	}
}

// seedDailySales stores, directly, m1's history of one 40.00 sale a day at
// 10:00 UTC (buyer b<d mod 7>) for the days days before 2025-03-31, and
// returns it as transactions (for the batch pipeline's reference).
func seedDailySales(t *testing.T, st *rtsqlite.Store, clock *benchClock, days int) []realtime.Transaction {
	t.Helper()
	var all []realtime.Transaction
	var stored []realtime.StoredTx
	for d := days; d >= 1; d-- {
		at := time.Date(2025, 3, 31, 10, 0, 0, 0, time.UTC).AddDate(0, 0, -d)
		tx := realtime.Transaction{TS: at.Format(time.RFC3339), Amount: "40.00", Type: "sale", BuyerID: fmt.Sprintf("b%d", d%7)}
		all = append(all, tx)
		stored = append(stored, realtime.StoredTx{TS: tx.TS, Amount: tx.Amount, Type: tx.Type, BuyerID: tx.BuyerID, TSUs: at.UnixMicro(), AmountMicro: 40_000_000})
	}
	if _, _, err := st.Append(context.Background(), realtime.Batch{MerchantID: "m1", IdempotencyKey: "seed", RequestHash: "x", Rows: len(stored), CreatedAt: clock.t}, stored); err != nil {
		t.Fatal(err)
	}
	return all
}
