package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
	loanssqlite "github.com/lendhq/lend/loans/sqlite"
)

// review53Line builds merchant i's line the way loans/sqlite scanLine does:
// every string its own allocation (converted from the row's bytes), Reasons
// decoded from the stored JSON, UpdatedAt parsed from RFC3339Nano text.
func review53Line(i int) loans.CreditLine {
	str := func(s string) string { return string([]byte(s)) }
	l := loans.CreditLine{
		MerchantID: str(fmt.Sprintf("merchant-%08d", i)), Currency: str("EUR"),
		LimitMinor: int64(100_000 + i), DrawnMinor: int64(i % 5_000), APR: loans.Rate(180_000 + i%7),
		Grade: str("B"), Score: 0.61 + float64(i%100)/1e4, PD: 0.031 + float64(i%50)/1e5,
		ModelID: str("gbm-2026-11-01"), AsOf: str("2026-11-24"), Status: loans.LineStatus(str("active")),
	}
	if i%10 == 0 {
		l.Status, l.FrozenReason = loans.LineStatus(str("frozen")), str("manual review: chargebacks")
	}
	l.AvailableMinor = l.LimitMinor - l.DrawnMinor
	if l.Status != loans.LineActive {
		l.AvailableMinor = 0
	}
	if i%3 == 0 {
		l.Reasons = []string{}
	} else {
		_ = json.Unmarshal([]byte(`["high_refund_rate","short_tenure"]`), &l.Reasons)
	}
	l.UpdatedAt, _ = time.Parse(time.RFC3339Nano, time.Date(2026, 11, 24, 3, 0, i%60, i*1000, time.UTC).Format(time.RFC3339Nano))
	return l
}

// review53GCMedian returns the median wall time of n forced collections.
func review53GCMedian(n int) time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		t := time.Now()
		runtime.GC()
		d[i] = time.Since(t)
	}
	slices.Sort(d)
	return d[n/2]
}

func review53Heap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestReview53LineCacheHeap measures (it asserts nothing about timing) what
// a full line cache costs the garbage collector: 100,000 distinct realistic
// lines put (the most two generations of MaxCachedLines/2 hold), the live heap
// they add, and the median forced-collection time with the cache full
// against empty. Run with -v (and GODEBUG=gctrace=1 for mark CPU).
func TestReview53LineCacheHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	const n = 100_000
	empty := review53GCMedian(9)
	before := review53Heap()
	var lc lineCache
	for i := range n {
		lc.put(review53Line(i))
	}
	after := review53Heap()
	full := review53GCMedian(9)
	held := 0
	for i := range n {
		if _, ok := lc.get(fmt.Sprintf("merchant-%08d", i)); ok {
			held++
		}
	}
	t.Logf("lineCache: lines held %d; live heap added %.1f MB; forced GC median: empty %v, full %v (GOMAXPROCS %d)",
		held, float64(int64(after)-int64(before))/1e6, empty, full, runtime.GOMAXPROCS(0))
	runtime.KeepAlive(&lc)
	lc = lineCache{}

	// The representation it replaced, for comparison in the same run.
	empty = review53GCMedian(9)
	before = review53Heap()
	var old recent[string, loans.CreditLine]
	for i := range n {
		l := review53Line(i)
		old.put(l.MerchantID, l, MaxCachedLines)
	}
	after = review53Heap()
	full = review53GCMedian(9)
	t.Logf("recent[string, loans.CreditLine]: lines held %d; live heap added %.1f MB; forced GC median: empty %v, full %v",
		len(old.cur)+len(old.old), float64(int64(after)-int64(before))/1e6, empty, full)
	runtime.KeepAlive(&old)
}

// BenchmarkReview53LineCacheGet is the cost of a hit (hash, merchant check,
// decode), against the SQLite read it spares.
func BenchmarkReview53LineCacheGet(b *testing.B) {
	var lc lineCache
	l := review53Line(1)
	lc.put(l)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := lc.get(l.MerchantID); !ok {
			b.Fatal("miss")
		}
	}
}

// TestReview53LineCacheRoundTrip: every field of lines as the SQLite store
// returns them (reasons empty and not, frozen with its reason, UpdatedAt to
// the nanosecond) comes back from the cache deeply equal, and lines no store
// returns (nil reasons, zero and zoned times) too.
func TestReview53LineCacheRoundTrip(t *testing.T) {
	ctx := context.Background()
	st, err := loanssqlite.Open(filepath.Join(t.TempDir(), "loans.db"), loans.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	apr, _ := loans.ParseRate("apr", "0.1825")
	if _, err := st.UpsertCreditLines(ctx, []loans.CreditLineUpdate{
		{MerchantID: "m_a", Currency: "EUR", LimitMinor: 500_000, APR: apr, Grade: "B", Score: 0.6180339887, PD: 0.0314159,
			Reasons: []string{"high_refund_rate", "short_tenure"}, ModelID: "gbm-2026-11-01", AsOf: "2026-11-24"},
		{MerchantID: "m_b", Currency: "USD", LimitMinor: 7, APR: apr, Grade: "E", ModelID: "m1", AsOf: "2026-11-24"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FreezeStaleLines(ctx, []loans.StaleLine{{MerchantID: "m_b", AsOf: "2026-11-24"}}); err != nil {
		t.Fatal(err)
	}
	var want []loans.CreditLine
	for _, m := range []string{"m_a", "m_b"} {
		l, err := st.CreditLine(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, l)
	}
	if want[1].Status != loans.LineFrozen || want[1].FrozenReason == "" || len(want[0].Reasons) != 2 || want[0].UpdatedAt.IsZero() {
		t.Fatalf("fixture lines are not what the test needs: %+v", want)
	}
	zoned, _ := time.Parse(time.RFC3339Nano, "2026-11-24T03:00:00.123456789+02:00")
	want = append(want,
		loans.CreditLine{MerchantID: "m_nil_reasons"},
		loans.CreditLine{MerchantID: "m_zoned", Reasons: []string{""}, UpdatedAt: zoned, Score: math.Copysign(0, -1)},
		loans.CreditLine{MerchantID: "m_local", UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.Local)})
	var lc lineCache
	for _, l := range want {
		lc.put(l)
	}
	for _, w := range want {
		got, ok := lc.get(w.MerchantID)
		if !ok || !reflect.DeepEqual(got, w) || !loans.SameLine(got, w) {
			t.Errorf("get(%q) = %+v, %v; want %+v", w.MerchantID, got, ok, w)
		}
	}
	if _, ok := lc.get("m_c"); ok {
		t.Error("a line never put was found")
	}
}

// TestReview53LineCacheDrop: drop forgets the line in both generations.
func TestReview53LineCacheDrop(t *testing.T) {
	var lc lineCache
	lc.put(loans.CreditLine{MerchantID: "m_old", LimitMinor: 1})
	for i := range MaxCachedLines / 2 { // demotes m_old's generation
		lc.put(loans.CreditLine{MerchantID: fmt.Sprint("f", i)})
	}
	lc.put(loans.CreditLine{MerchantID: "m_new", LimitMinor: 2})
	for _, m := range []string{"m_old", "m_new"} {
		if _, ok := lc.get(m); !ok {
			t.Fatalf("%s not cached before drop", m)
		}
		lc.drop(m)
		if l, ok := lc.get(m); ok {
			t.Errorf("%s still cached after drop: %+v", m, l)
		}
	}
}

// TestReview53LineCacheBound: after 3×MaxCachedLines distinct lines the cache
// holds at most MaxCachedLines (two generations of MaxCachedLines/2), and
// the most recent MaxCachedLines/2 are all there; a merchant putting the same
// line again and again does not grow a generation's arena past its bound.
func TestReview53LineCacheBound(t *testing.T) {
	var lc lineCache
	const n = 3 * MaxCachedLines
	for i := range n {
		lc.put(loans.CreditLine{MerchantID: fmt.Sprint("m_", i), Reasons: []string{"r"}})
	}
	held := 0
	for i := range n {
		if _, ok := lc.get(fmt.Sprint("m_", i)); ok {
			held++
		} else if i >= n-MaxCachedLines/2 {
			t.Fatalf("recent line m_%d missing", i)
		}
	}
	if held > MaxCachedLines || len(lc.cur.idx)+len(lc.old.idx) > MaxCachedLines {
		t.Errorf("holds %d lines (%d indexed), bound %d", held, len(lc.cur.idx)+len(lc.old.idx), MaxCachedLines)
	}
	lc = lineCache{}
	big := loans.CreditLine{MerchantID: "m_big", Reasons: []string{strings.Repeat("x", 60_000)}}
	for range 2 * maxLineArena / 60_000 {
		lc.put(big)
		if len(lc.cur.arena) > maxLineArena+maxLineEntry || len(lc.old.arena) > maxLineArena+maxLineEntry {
			t.Fatalf("arena %d and %d bytes, bound %d", len(lc.cur.arena), len(lc.old.arena), maxLineArena+maxLineEntry)
		}
	}
	if got, ok := lc.get("m_big"); !ok || !loans.SameLine(got, big) {
		t.Error("m_big lost")
	}
	// A line too large to cache is not, and leaves no older state behind.
	lc.put(loans.CreditLine{MerchantID: "m_big", Reasons: []string{strings.Repeat("x", maxLineEntry)}})
	if _, ok := lc.get("m_big"); ok {
		t.Error("an oversized line is cached, or its older state is still")
	}
}

// TestReview53LineCacheCollision: an entry found under merchant A's hash that
// holds merchant B's line (a hash collision, forced here by indexing B's
// encoding under A's hash) is a miss for A, never B's line: a decision for A
// must not be taken on B's limit.
func TestReview53LineCacheCollision(t *testing.T) {
	var lc lineCache
	lc.put(loans.CreditLine{MerchantID: "m_b", LimitMinor: 1_000_000})
	lc.mu.Lock()
	kb := lc.key("m_b")
	lc.cur.idx[lc.key("m_a")] = lc.cur.idx[kb]
	lc.mu.Unlock()
	if l, ok := lc.get("m_a"); ok {
		t.Fatalf("get(m_a) returned %+v", l)
	}
	// Same in the old generation.
	lc.mu.Lock()
	lc.old, lc.cur = lc.cur, lineGen{idx: map[uint64]lineSpan{}}
	delete(lc.old.idx, kb)
	lc.mu.Unlock()
	if l, ok := lc.get("m_a"); ok {
		t.Fatalf("get(m_a) from the old generation returned %+v", l)
	}
}

// BenchmarkReview53RecentGet is a hit in the representation lineCache
// replaced, for comparison.
func BenchmarkReview53RecentGet(b *testing.B) {
	var mu sync.Mutex
	var r recent[string, loans.CreditLine]
	l := review53Line(1)
	r.put(l.MerchantID, l, MaxCachedLines)
	b.ReportAllocs()
	for b.Loop() {
		mu.Lock()
		_, ok := r.get(l.MerchantID)
		mu.Unlock()
		if !ok {
			b.Fatal("miss")
		}
	}
}
