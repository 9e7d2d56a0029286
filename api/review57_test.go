package api

// Review of bc7f672 (the credit-line cache keeps lines encoded in byte
// arenas). Tests marked BUG failed on bc7f672.

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lendhq/lend/loans"
)

// review57Encoded is every loans.CreditLine field appendLine and decodeLine
// handle. Adding a field to loans.CreditLine without adding it to the
// encoder (and here) fails TestReview57EncoderHandlesEveryField instead of
// the cache silently returning lines without it.
var review57Encoded = []string{"MerchantID", "Currency", "LimitMinor", "DrawnMinor", "AvailableMinor", "APR",
	"Grade", "Score", "PD", "Reasons", "ModelID", "AsOf", "Status", "FrozenReason", "UpdatedAt"}

// review57Set sets field f of l to a non-zero value of its kind (false for a
// kind the test does not know yet: extend it with the encoder).
func review57Set(f reflect.Value) bool {
	switch {
	case f.Type() == reflect.TypeFor[time.Time]():
		f.Set(reflect.ValueOf(time.Date(2026, 11, 25, 13, 0, 0, 123456789, time.UTC)))
	case f.Kind() == reflect.String:
		f.SetString("v\x00\xff")
	case f.Kind() == reflect.Int64:
		f.SetInt(-1 << 62)
	case f.Kind() == reflect.Float64:
		f.SetFloat(-0.125)
	case f.Type() == reflect.TypeFor[[]string]():
		f.Set(reflect.ValueOf([]string{"", "r"}))
	default:
		return false
	}
	return true
}

// TestReview57EncoderHandlesEveryField: loans.CreditLine has exactly the
// fields the encoder handles, and each, set alone to a non-zero value (the
// merchant id apart, always set), comes back from the cache: a field the
// encoder dropped would come back zero.
func TestReview57EncoderHandlesEveryField(t *testing.T) {
	typ := reflect.TypeFor[loans.CreditLine]()
	var fields []string
	for i := range typ.NumField() {
		fields = append(fields, typ.Field(i).Name)
	}
	if !slices.Equal(fields, review57Encoded) {
		t.Fatalf("loans.CreditLine fields %v, the line cache encodes %v: encode the new field in appendLine and decodeLine", fields, review57Encoded)
	}
	for i := range typ.NumField() {
		var l loans.CreditLine
		if !review57Set(reflect.ValueOf(&l).Elem().Field(i)) {
			t.Fatalf("field %s of kind %s: teach review57Set and the encoder", typ.Field(i).Name, typ.Field(i).Type)
		}
		l.MerchantID = fmt.Sprint("m_", i)
		var lc lineCache
		lc.put(l)
		got, ok := lc.get(l.MerchantID)
		if !ok || !reflect.DeepEqual(got, l) || reflect.ValueOf(got).Field(i).IsZero() {
			t.Errorf("field %s: cached %+v, %v; want %+v", typ.Field(i).Name, got, ok, l)
		}
	}
}

// BUG. TestReview57OversizedLineDoesNotGrowTheArena: a line too large to cache
// (a reason of 4 MB) was encoded into the arena before its size was checked,
// so the arena's backing array grew to hold it and stayed that large for the
// generation's life though the line was not kept: len(arena) stayed within
// maxLineArena + maxLineEntry, cap(arena) did not. Expected: the line is
// refused before anything is appended, the arena not reallocated (its
// capacity stays what the first small line needed, well under 4 MB).
func TestReview57OversizedLineDoesNotGrowTheArena(t *testing.T) {
	var lc lineCache
	lc.put(loans.CreditLine{MerchantID: "m_small"})
	before := cap(lc.cur.arena)
	lc.put(loans.CreditLine{MerchantID: "m_huge", Reasons: []string{strings.Repeat("x", 4<<20)}})
	lc.put(loans.CreditLine{MerchantID: "m_many", Reasons: make([]string, 4<<20)}) // 4 MB of empty reasons
	if _, ok := lc.get("m_huge"); ok {
		t.Error("an oversized line is cached")
	}
	if _, ok := lc.get("m_many"); ok {
		t.Error("a line of 4M reasons is cached")
	}
	if c := cap(lc.cur.arena); c != before {
		t.Errorf("arena capacity %d after oversized lines, was %d", c, before)
	}
	if _, ok := lc.get("m_small"); !ok {
		t.Error("m_small lost")
	}
}

// BUG. TestReview57CorruptReasonCountIsRefused: an encoding whose reasons count
// says more reasons than there are bytes left was decoded as a line without
// reasons (the count was ignored when larger than the encoding) instead of
// being refused as not an encoding of appendLine.
func TestReview57CorruptReasonCountIsRefused(t *testing.T) {
	b, ok := appendLine(nil, loans.CreditLine{MerchantID: "m"})
	if !ok {
		t.Fatal("not encoded")
	}
	// Seven empty strings (one zero byte each, merchant "m" two bytes:
	// 1 + 1 + 6 = 8 bytes), then the reasons count 0 (nil) at index 8.
	if b[8] != 0 {
		t.Fatalf("reasons count byte %d, want 0", b[8])
	}
	bad := slices.Concat(b[:8], binary.AppendUvarint(nil, uint64(len(b))+100), b[9:])
	if l, ok := decodeLine(bad); ok {
		t.Errorf("a count of %d reasons in %d bytes decoded as %+v", len(b)+99, len(bad), l)
	}
}

// TestReview57ConcurrentMerchantsGetTheirOwnLines: under -race, merchants
// putting, getting and dropping their lines at once (generations turning
// over meanwhile) only ever get their own line, with their own limit.
func TestReview57ConcurrentMerchantsGetTheirOwnLines(t *testing.T) {
	var lc lineCache
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 20_000 {
				m := fmt.Sprintf("m_%d_%d", g, i%500)
				limit := int64(g*1_000_000 + i%500)
				switch i % 7 {
				case 0:
					lc.drop(m)
				case 1, 2, 3:
					lc.put(loans.CreditLine{MerchantID: m, LimitMinor: limit, Reasons: []string{m}})
				default:
					if l, ok := lc.get(m); ok && (l.MerchantID != m || l.LimitMinor != limit || !slices.Equal(l.Reasons, []string{m})) {
						errs <- fmt.Sprintf("get(%s) = %+v", m, l)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// FuzzDecodeLine: decodeLine never panics on any bytes (a truncated or
// corrupt span is refused); what it accepts encodes to bytes that decode to
// the same line; and a line made of the fuzz input round-trips exactly.
func FuzzDecodeLine(f *testing.F) {
	for i := range 4 {
		b, _ := appendLine(nil, review53Line(i))
		f.Add(b, "m", int64(i), 0.5, "reason")
		f.Add(b[:len(b)/2], "", int64(-1), -0.0, "")
	}
	f.Fuzz(func(t *testing.T, b []byte, s string, n int64, x float64, r string) {
		if l, ok := decodeLine(b); ok {
			b2, ok2 := appendLine(nil, l)
			l2, ok3 := decodeLine(b2)
			if !ok2 || !ok3 || !reflect.DeepEqual(l, l2) {
				t.Fatalf("accepted %+v re-decodes as %+v (%v %v)", l, l2, ok2, ok3)
			}
		}
		var reasons []string
		if n%3 != 0 {
			reasons = []string{r, s}[:min(2, max(0, n%3))]
		}
		l := loans.CreditLine{MerchantID: s, Currency: r, LimitMinor: n, DrawnMinor: ^n, AvailableMinor: n >> 3, APR: loans.Rate(n * 3),
			Grade: s + r, Score: x, PD: -x, Reasons: reasons, ModelID: string(b), AsOf: r, Status: loans.LineStatus(s),
			FrozenReason: r + s, UpdatedAt: time.Unix(n%(1<<40), n&0x3fffffff%1_000_000_000).UTC()}
		enc, ok := appendLine(nil, l)
		if !ok {
			t.Fatalf("%+v not encoded", l)
		}
		got, ok := decodeLine(enc)
		if !ok || !reflect.DeepEqual(got, l) && !(x != x && loans.SameLine(got, l)) {
			t.Fatalf("round trip %+v, %v; want %+v", got, ok, l)
		}
		for k := range len(enc) { // every truncation is refused, never a panic
			if _, ok := decodeLine(enc[:k]); ok {
				t.Fatalf("truncated to %d of %d bytes decoded", k, len(enc))
			}
		}
	})
}
