package features

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPreFolderFoldEqualsWhole folds a merchant's rows into a Pre in uneven
// pieces (as a service extends tomorrow's pre-aggregate batch by batch) and
// requires the features over it to equal the batch pipeline's over all the
// rows, and its pre-aggregate rows to equal those of one Fold of all rows.
func TestPreFolderFoldEqualsWhole(t *testing.T) {
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	byM, ids := synthByMerchant(t, 24, 14, 5, end)
	ctx := context.Background()
	db := testDB(t)
	o, err := OpenOnline(ctx, "256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	f := NewPreFolder()
	checked := 0
	for _, id := range ids {
		txs := byM[id]
		if len(txs) < 20 {
			continue
		}
		// The last row is the batch ValidateAndComputeFrom validates; the
		// others are folded in pieces of 1, 2, 7, then the rest.
		rows := validRows(t, o, txs[:len(txs)-1])
		for _, asOf := range []time.Time{end, end.AddDate(0, 0, -3)} {
			whole, err := f.Fold(nil, asOf, rows)
			if err != nil || whole == nil {
				t.Fatalf("%s: whole fold: %v", id, err)
			}
			var pre *Pre
			lo := 0
			for _, n := range []int{1, 2, 7, len(rows) - 10} {
				if pre, err = f.Fold(pre, asOf, rows[lo:lo+n]); err != nil || pre == nil {
					t.Fatalf("%s: fold of rows %d..%d: %v", id, lo, lo+n, err)
				}
				lo += n
			}
			if !samePreRows(pre.rows, whole.rows) {
				t.Fatalf("%s as of %v: folded pre-aggregate (%d rows) differs from the whole one (%d rows)", id, asOf, len(pre.rows), len(whole.rows))
			}
			_, bad, got, ok, _, err := o.ValidateAndComputeFrom(ctx, asOf, pre, nil, txs[len(txs)-1:], nil)
			if err != nil || bad != nil {
				t.Fatalf("%s: %v %v", id, bad, err)
			}
			want, err := ComputeRows(ctx, db, asOf, true, txs)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (len(want) == 1) {
				t.Fatalf("%s: ok %v, batch rows %d", id, ok, len(want))
			}
			if ok {
				compareRow(t, "folded", want[0], got)
				checked++
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d rows compared", checked)
	}
	// Misuse is refused: another day's Pre, another merchant's rows.
	rows := validRows(t, o, byM[ids[0]][:3])
	p, err := f.Fold(nil, end, rows)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fold(p, end.AddDate(0, 0, 1), rows); err == nil {
		t.Fatal("a pre-aggregate of another day was folded")
	}
	other := validRows(t, o, byM[ids[1]][:1])
	if _, err := f.Fold(p, end, other); err == nil {
		t.Fatal("another merchant's row was folded")
	}
}

// samePreRows compares two pre-aggregates as multisets of rows.
func samePreRows(a, b [][]value) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, r := range a {
		count[preRowKey(r)]++
	}
	for _, r := range b {
		k := preRowKey(r)
		if count[k] == 0 {
			return false
		}
		count[k]--
	}
	return true
}

// preRowKey is a row's values as text with their kinds (lists element by
// element).
func preRowKey(r []value) string {
	var b strings.Builder
	for _, v := range r {
		writeValKey(&b, v)
		b.WriteByte('|')
	}
	return b.String()
}

func writeValKey(b *strings.Builder, v value) {
	b.WriteString(strconv.Itoa(int(v.k)))
	b.WriteByte(':')
	if v.k == vList {
		b.WriteByte('[')
		for _, e := range v.list() {
			writeValKey(b, e)
			b.WriteByte(',')
		}
		b.WriteByte(']')
		return
	}
	if v.k == vFloat {
		b.WriteString(strconv.FormatUint(uint64(v.i), 16))
		return
	}
	b.WriteString(v.sqlText())
}
