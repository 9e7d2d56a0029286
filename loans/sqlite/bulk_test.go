package sqlite

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// openFast opens a store on a fresh file without fsync (durability is the
// crash test's subject), its clock pinned.
func openFast(t *testing.T) *Store {
	t.Helper()
	syncMode = "OFF"
	s, err := Open(filepath.Join(t.TempDir(), "lend.db"), loans.Policy{})
	syncMode = "FULL"
	if err != nil {
		t.Fatal(err)
	}
	s.SetClock(func() time.Time { return time.Date(2011, 9, 20, 10, 0, 0, 0, time.UTC) })
	t.Cleanup(func() { s.Close() })
	return s
}

// inOneGroup queues every call, in order, while the writer is held, so the
// writer takes them all in one group commit, and returns their results.
func inOneGroup(t *testing.T, s *Store, calls []func() (loans.Application, error)) ([]loans.Application, []error) {
	t.Helper()
	release, held := make(chan struct{}), make(chan struct{})
	go s.exec(ctx, true, func(*Tx) (any, error) { close(held); <-release; return nil, nil })
	<-held
	apps, errs := make([]loans.Application, len(calls)), make([]error, len(calls))
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Add(1)
		go func() { defer wg.Done(); apps[i], errs[i] = call() }()
		// Queue them in call order.
		for deadline := time.Now().Add(10 * time.Second); len(s.ops) < i+1; {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d commands queued", len(s.ops), len(calls))
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	close(release)
	wg.Wait()
	return apps, errs
}

func approved(merchant string, amount int64) loans.Application {
	apr, _ := loans.ParseRate("apr", "0.18")
	return loans.Application{MerchantID: merchant, Currency: "EUR", AmountMinor: amount, TermPeriods: 12,
		Decision: loans.DecisionApproved, Reasons: []string{}, ModelID: "m1", Grade: "B",
		Offer: &loans.Offer{AmountMinor: amount, APR: apr, TermPeriods: 12}}
}

// TestBatchedApplicationsOwnResults: applications that meet in one group
// commit are inserted together, yet each gets the result it would get
// alone: new keys get their own application (ids in queue order), a stored
// key with the same fingerprint replays its stored answer, one with another
// fingerprint is 422, the same key twice in the group is one application,
// and an invalid application fails alone.
func TestBatchedApplicationsOwnResults(t *testing.T) {
	s := openFast(t)
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	before, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "old", RequestHash: h(9)}, approved("m1", 5_000))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "old2", RequestHash: h(9)}, approved("m1", 5_000)); err != nil {
		t.Fatal(err)
	}
	create := func(merchant, key string, hash []byte, app loans.Application) func() (loans.Application, error) {
		return func() (loans.Application, error) {
			return s.CreateApplication(ctx, loans.Cmd{MerchantID: merchant, IdempotencyKey: key, RequestHash: hash}, app)
		}
	}
	var calls []func() (loans.Application, error)
	for i := range 20 {
		calls = append(calls, create(fmt.Sprintf("m%d", i%3), fmt.Sprintf("k%d", i), h(byte(i)), approved(fmt.Sprintf("m%d", i%3), int64(1000+i))))
	}
	calls = append(calls,
		create("m1", "old", h(9), approved("m1", 7_000)),  // 20: replay of the stored key
		create("m1", "old2", h(8), approved("m1", 5_000)), // 21: a stored key, another request: 422
		create("m2", "bad", h(7), approved("m2", 0)),      // 22: invalid amount
		create("m0", "late", h(6), approved("m0", 3_000)), // 23: new, after the failures
	)
	s.bulkRuns.Store(0)
	apps, errs := inOneGroup(t, s, calls)
	if n := s.bulkRuns.Load(); n != 1 {
		t.Fatalf("%d runs answered in bulk, want 1 (0-21; 22 is invalid, 23 alone)", n)
	}
	seen := map[int64]bool{before.ID: true}
	for i := range 20 {
		if errs[i] != nil {
			t.Fatalf("application %d: %v", i, errs[i])
		}
		a := apps[i]
		if seen[a.ID] || a.AmountMinor != int64(1000+i) || a.MerchantID != fmt.Sprintf("m%d", i%3) || a.Status != loans.AppOpen {
			t.Fatalf("application %d: %+v (ids so far %v)", i, a, seen)
		}
		seen[a.ID] = true
		stored, err := s.Application(ctx, a.ID)
		if err != nil || stored.AmountMinor != a.AmountMinor || stored.MerchantID != a.MerchantID || !stored.CreatedAt.Equal(a.CreatedAt) {
			t.Fatalf("application %d stored as %+v, %v; answered %+v", i, stored, err, a)
		}
		// A retry after the group replays the same answer.
		again, err := calls[i]()
		if err != nil || !jsonEqual(t, again, a) {
			t.Fatalf("retry of application %d: %+v, %v; want %+v", i, again, err, a)
		}
	}
	if errs[20] != nil || !jsonEqual(t, apps[20], before) {
		t.Fatalf("replay in the group: %+v, %v; want %+v", apps[20], errs[20], before)
	}
	if lend.ErrorCode(errs[21]) != lend.EUNPROCESSABLE {
		t.Fatalf("stored key with another request: %v, want %s", errs[21], lend.EUNPROCESSABLE)
	}
	if lend.ErrorCode(errs[22]) != lend.EINVALID || lend.ErrorField(errs[22]) != "amount_minor" {
		t.Fatalf("invalid application: %v, want invalid amount_minor", errs[22])
	}
	if errs[23] != nil || seen[apps[23].ID] || apps[23].AmountMinor != 3_000 {
		t.Fatalf("application after the failures: %+v, %v", apps[23], errs[23])
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM applications`).Scan(&n); err != nil || n != 23 {
		t.Fatalf("%d applications stored (%v), want 23 (2 before + 20 + 1)", n, err)
	}
}

// TestBatchedApplicationsSameKey: the same key twice in one group is one
// application; the second is the replay of the first (the run ends before
// the repeated key).
func TestBatchedApplicationsSameKey(t *testing.T) {
	s := openFast(t)
	h := bytes.Repeat([]byte{1}, 32)
	call := func() (loans.Application, error) {
		return s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "k", RequestHash: h}, approved("m1", 1_000))
	}
	other := func() (loans.Application, error) {
		return s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "k2", RequestHash: h}, approved("m1", 2_000))
	}
	apps, errs := inOneGroup(t, s, []func() (loans.Application, error){call, other, call})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if !jsonEqual(t, apps[0], apps[2]) || apps[0].ID == apps[1].ID {
		t.Fatalf("same key twice: %+v and %+v (other %+v), want one application", apps[0], apps[2], apps[1])
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM applications`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d applications stored (%v), want 2", n, err)
	}
}

// TestBatchedApplicationsLineCheck: in one group, applications carrying the
// line their decision used (Cmd.Line) are checked against the line as the
// group's transaction has it, including a draw queued just before them in
// the same group: the one decided on the line before the draw is refused
// with ErrLineChanged and leaves nothing, the one decided on the line after
// it, one without a line to check and one on another merchant's current
// line are inserted in one bulk run.
func TestBatchedApplicationsLineCheck(t *testing.T) {
	s := openFast(t)
	apr, _ := loans.ParseRate("apr", "0.18")
	if _, err := s.UpsertCreditLines(ctx, []loans.CreditLineUpdate{
		{MerchantID: "m1", Currency: "EUR", LimitMinor: 100_000, APR: apr, Grade: "B", ModelID: "m1", AsOf: "2011-09-01"},
		{MerchantID: "m2", Currency: "EUR", LimitMinor: 100_000, APR: apr, Grade: "B", ModelID: "m1", AsOf: "2011-09-01"},
	}); err != nil {
		t.Fatal(err)
	}
	before, err := s.CreditLine(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := s.CreditLine(ctx, "m2")
	if err != nil {
		t.Fatal(err)
	}
	// The line after a draw of 100.00 (the store's clock is pinned, so its
	// updated_at is known).
	after := before
	after.DrawnMinor, after.AvailableMinor = 10_000, 90_000
	after.UpdatedAt = s.now().UTC()
	h := bytes.Repeat([]byte{1}, 32)
	create := func(merchant, key string, l *loans.CreditLine) func() (loans.Application, error) {
		return func() (loans.Application, error) {
			return s.CreateApplication(ctx, loans.Cmd{MerchantID: merchant, IdempotencyKey: key, RequestHash: h, Line: l}, approved(merchant, 1_000))
		}
	}
	calls := []func() (loans.Application, error){
		func() (loans.Application, error) {
			_, err := s.Draw(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "draw"}, loans.DrawRequest{AmountMinor: 10_000, Currency: "EUR"})
			return loans.Application{}, err
		},
		create("m1", "stale", &before),
		create("m1", "fresh", &after),
		create("m1", "unchecked", nil),
		create("m2", "other", &m2),
	}
	s.bulkRuns.Store(0)
	_, errs := inOneGroup(t, s, calls)
	if n := s.bulkRuns.Load(); n != 1 {
		t.Fatalf("%d runs answered in bulk, want 1", n)
	}
	for i, err := range errs {
		if i == 1 {
			if !errors.Is(err, loans.ErrLineChanged) {
				t.Fatalf("application on the line before the draw: %v, want ErrLineChanged", err)
			}
		} else if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	var n, keys int
	s.DB().QueryRow(`SELECT count(*) FROM applications`).Scan(&n)
	s.DB().QueryRow(`SELECT count(*) FROM loans_idempotency WHERE key <> 'draw'`).Scan(&keys)
	if n != 3 || keys != 3 {
		t.Fatalf("%d applications and %d keys stored, want 3 and 3 (nothing of the stale one)", n, keys)
	}
}

// TestBatchedApplicationsStatementFails: when a multi-row statement fails,
// the run is retried one by one and only the failing command fails.
func TestBatchedApplicationsStatementFails(t *testing.T) {
	s := openFast(t)
	if _, err := s.DB().Exec(`CREATE TRIGGER refuse_bad BEFORE INSERT ON applications WHEN NEW.merchant_id = 'bad'
		BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	h := bytes.Repeat([]byte{1}, 32)
	var calls []func() (loans.Application, error)
	for i, m := range []string{"m1", "bad", "m2", "m3"} {
		calls = append(calls, func() (loans.Application, error) {
			return s.CreateApplication(ctx, loans.Cmd{MerchantID: m, IdempotencyKey: fmt.Sprint("k", i), RequestHash: h}, approved(m, 1_000))
		})
	}
	s.bulkDeclined.Store(0)
	_, errs := inOneGroup(t, s, calls)
	if s.bulkDeclined.Load() == 0 {
		t.Fatal("the failing run was not left to the one-by-one path")
	}
	for i, err := range errs {
		if (i == 1) != (err != nil) {
			t.Fatalf("call %d: %v; want only call 1 (merchant bad) to fail", i, err)
		}
	}
	if lend.ErrorCode(errs[1]) != lend.EINTERNAL {
		t.Fatalf("refused insert: %v, want %s", errs[1], lend.EINTERNAL)
	}
	var n, keys int
	s.DB().QueryRow(`SELECT count(*) FROM applications`).Scan(&n)
	s.DB().QueryRow(`SELECT count(*) FROM loans_idempotency`).Scan(&keys)
	if n != 3 || keys != 3 {
		t.Fatalf("%d applications and %d keys stored, want 3 and 3 (nothing of the failed one)", n, keys)
	}
}

// TestApplicationResponseIsItsEncoding: the response the writer builds from
// the stored body (the id spliced in) is byte for byte json.Marshal of the
// application with its id.
func TestApplicationResponseIsItsEncoding(t *testing.T) {
	s := openFast(t)
	declined := loans.Application{MerchantID: "m1", AmountMinor: 5, Decision: loans.DecisionDeclined, Reasons: []string{"no_limit"}}
	weekly := approved("m1", 123_456)
	weekly.Frequency, weekly.EveryDays = loans.EveryDays, 10
	for _, app := range []loans.Application{approved("m1", 1), declined, weekly} {
		if err := s.checkApplication(loans.Cmd{MerchantID: "m1"}, &app); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(app)
		r := appRow{body: body}
		for _, id := range []int64{1, 42, 1 << 40} {
			app.ID = id
			want, _ := json.Marshal(app)
			if got := r.response(id); !bytes.Equal(got, want) {
				t.Fatalf("response(%d) = %s\nwant %s", id, got, want)
			}
		}
	}
}

func jsonEqual(t *testing.T, a, b any) bool {
	t.Helper()
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestApplicationKeyStoresReference: an application's key stores a
// reference to its row, and a retry rebuilds the first answer from the row
// byte for byte, alone or in a group, even after the application was
// accepted; a key stored before (holding the whole response) still replays
// what it holds.
func TestApplicationKeyStoresReference(t *testing.T) {
	s := openFast(t)
	line(t, s, "m1", 1_000_000, "0.18")
	h := bytes.Repeat([]byte{3}, 32)
	cmd := loans.Cmd{MerchantID: "m1", IdempotencyKey: "a", RequestHash: h}
	first, err := s.CreateApplication(ctx, cmd, approved("m1", 10_000))
	if err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := s.DB().QueryRow(`SELECT response FROM loans_idempotency WHERE key = 'a'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("application:%d", first.ID); string(stored) != want {
		t.Fatalf("stored response %q, want %q", stored, want)
	}
	if _, err := s.AcceptApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "acc"}, loans.AcceptRequest{ApplicationID: first.ID}); err != nil {
		t.Fatal(err)
	}
	again, err := s.CreateApplication(ctx, cmd, approved("m1", 10_000))
	if err != nil || !jsonEqual(t, again, first) {
		t.Fatalf("retry after accept: %+v, %v; want the first answer %+v", again, err, first)
	}

	// A key written before references: its row holds the response itself.
	legacy := []byte(`{"id":777,"merchant_id":"m1","status":"open"}`)
	lh, _ := loans.IdempotencyHash("application", loans.Cmd{RequestHash: h}, nil)
	if _, err := s.DB().Exec(`INSERT INTO loans_idempotency VALUES ('m1', 'old', 'application', ?, ?, '2011-09-01T00:00:00Z')`, lh[:], legacy); err != nil {
		t.Fatal(err)
	}
	old := func() (loans.Application, error) {
		return s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "old", RequestHash: h}, approved("m1", 1))
	}
	other := func() (loans.Application, error) {
		return s.CreateApplication(ctx, loans.Cmd{MerchantID: "m1", IdempotencyKey: "b", RequestHash: h}, approved("m1", 2))
	}
	retry := func() (loans.Application, error) { return s.CreateApplication(ctx, cmd, approved("m1", 10_000)) }
	s.bulkRuns.Store(0)
	apps, errs := inOneGroup(t, s, []func() (loans.Application, error){old, other, retry})
	if s.bulkRuns.Load() != 1 {
		t.Fatal("the group was not answered in bulk")
	}
	if errs[0] != nil || apps[0].ID != 777 || apps[0].Status != loans.AppOpen || apps[0].AmountMinor != 0 {
		t.Fatalf("legacy key: %+v, %v; want the stored response (id 777)", apps[0], errs[0])
	}
	if errs[2] != nil || !jsonEqual(t, apps[2], first) {
		t.Fatalf("retry in a group: %+v, %v; want %+v", apps[2], errs[2], first)
	}
}

// TestApplicationAnswerIsItsReplay: the first answer to an application (the
// application itself, not decoded from the stored bytes) encodes exactly
// like its replay, also for values a JSON round trip changes in memory (an
// offer expiry in another zone, invalid UTF-8, HTML characters, nil reasons).
func TestApplicationAnswerIsItsReplay(t *testing.T) {
	// utf8Strings checks every string field: a new one must be added there.
	strs := 0
	for f := range reflect.TypeFor[loans.Application]().Fields() {
		if k := f.Type.Kind(); k == reflect.String || k == reflect.Slice && f.Type.Elem().Kind() == reflect.String {
			strs++
		}
	}
	if strs != 11 {
		t.Fatalf("loans.Application has %d string fields; utf8Strings checks 11", strs)
	}
	s := openFast(t)
	berlin := time.FixedZone("CEST", 2*3600)
	odd := approved("m1", 10_000)
	odd.Offer.ExpiresAt = time.Date(2011, 9, 23, 23, 59, 59, 123456789, berlin)
	odd.ModelID, odd.Grade, odd.Reasons = "model-\xff<&>", "B\xc3", []string{"a\xffb", "<x>"}
	nilReasons := approved("m1", 20_000)
	nilReasons.Reasons = nil
	declined := loans.Application{MerchantID: "m1", AmountMinor: 5, Decision: loans.DecisionDeclined}
	for i, app := range []loans.Application{odd, nilReasons, declined} {
		cmd := loans.Cmd{MerchantID: "m1", IdempotencyKey: fmt.Sprint("k", i), RequestHash: bytes.Repeat([]byte{byte(i)}, 32)}
		first, err := s.CreateApplication(ctx, cmd, app)
		if err != nil {
			t.Fatal(err)
		}
		replay, err := s.CreateApplication(ctx, cmd, app)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(replay)
		if !bytes.Equal(a, b) {
			t.Fatalf("application %d: first answer encodes as\n%s\nits replay as\n%s", i, a, b)
		}
		if first.Offer != nil && (first.Offer == app.Offer || !first.Offer.ExpiresAt.Equal(replay.Offer.ExpiresAt)) {
			t.Fatalf("application %d: offer %+v (caller's %p, answer's %p), replay %+v", i, first.Offer, app.Offer, first.Offer, replay.Offer)
		}
	}
}
