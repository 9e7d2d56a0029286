package realtime

import (
	"strconv"
	"testing"

	"github.com/lendhq/lend/features"
)

// TestHistCacheBounds: the history cache keeps at most max merchants and
// maxRows rows, dropping the least recently used first; an entry larger
// than the row bound is not kept; put(nil) drops.
func TestHistCacheBounds(t *testing.T) {
	var c histCache
	c.init(3, 10)
	entry := func(rows int) *histEntry { return &histEntry{pre: &features.Pre{}, recent: make([]StoredTx, rows)} }
	for i := 0; i < 3; i++ {
		c.put("m"+strconv.Itoa(i), entry(2))
	}
	c.get("m0")           // m1 is now the least recently used
	c.put("m3", entry(2)) // 4 merchants > 3: m1 goes
	if c.get("m1") != nil || c.get("m0") == nil || c.get("m2") == nil || c.get("m3") == nil {
		t.Fatal("the merchant bound dropped the wrong entry")
	}
	c.put("m4", entry(5)) // 11 rows > 10: the oldest go until both bounds hold
	if c.rows > 10 || len(c.m) > 3 || c.get("m4") == nil || c.get("m0") != nil {
		t.Fatalf("row bound: %d rows, %d merchants", c.rows, len(c.m))
	}
	c.put("big", entry(11))
	if c.get("big") != nil || c.rows > 10 {
		t.Fatal("an entry over the row bound was kept")
	}
	c.put("m4", nil)
	if c.get("m4") != nil {
		t.Fatal("put(nil) did not drop")
	}
	n := 0
	for _, el := range c.m {
		n += el.Value.(*histItem).e.cost()
	}
	if n != c.rows {
		t.Fatalf("row count %d, entries hold %d", c.rows, n)
	}
}
