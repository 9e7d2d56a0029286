package realtime

import (
	"container/list"
	"sync"
	"time"

	"github.com/lendhq/lend/features"
)

// History cache bounds.
const (
	// MaxHistoryCacheMerchants bounds the merchants whose history the
	// service keeps in memory (least recently ingested are dropped first).
	MaxHistoryCacheMerchants = 10_000
	// MaxHistoryCacheRows bounds the rows kept over all merchants: recent
	// transactions plus pre-aggregate rows (a year of history is ~150
	// pre-aggregate rows, whatever its number of transactions). A row is a
	// few hundred bytes: 100-300 MB at the bound.
	MaxHistoryCacheRows = 500_000
	// preGrowth: a cached pre-aggregate grows by the rows of every ingested
	// batch; once it holds this many more than when it was built from the
	// stored rows (and more than twice as many), it is rebuilt from them, so
	// the feature query never reads a long tail of one-row batches.
	preGrowth = 512
)

// histEntry is what one merchant's next ingest of the same as-of day needs
// instead of its stored history: the features' pre-aggregate of every stored
// row, and the recent rows the risk signals read. It is valid while the
// merchant's latest stored batch is last (checked against the store before
// every use, so batches stored by another process are never missed).
// Immutable once cached.
type histEntry struct {
	asOf    time.Time
	last    int64         // the merchant's latest batch id the entry includes
	pre     *features.Pre // as of asOf, over every stored row up to batch last
	builtAt int           // pre.Len() when built from the stored rows
	recent  []StoredTx    // rows after recentFrom(asOf), the signals' window
}

func (e *histEntry) cost() int { return e.pre.Len() + len(e.recent) }

// recentFrom is the oldest instant the signals may read during the day
// before asOf: rows at or before it are dropped from a cached entry.
func recentFrom(asOf time.Time) int64 {
	return asOf.AddDate(0, 0, -1-windowDays).UnixMicro()
}

// recentRows returns the rows of parts after recentFrom(asOf), in a new slice.
func recentRows(asOf time.Time, parts ...[]StoredTx) []StoredTx {
	from := recentFrom(asOf)
	var out []StoredTx
	for _, p := range parts {
		for _, r := range p {
			if r.TSUs > from {
				out = append(out, r)
			}
		}
	}
	return out
}

// histCache is a bounded LRU of histEntry by merchant.
type histCache struct {
	mu      sync.Mutex
	max     int
	maxRows int
	rows    int
	ll      *list.List // front: most recent; values *histItem
	m       map[string]*list.Element
}

type histItem struct {
	id string
	e  *histEntry
}

func (c *histCache) init(max, maxRows int) {
	c.max, c.maxRows, c.ll, c.m = max, maxRows, list.New(), make(map[string]*list.Element)
}

// get returns the merchant's entry (nil if none) and marks it recently used.
func (c *histCache) get(id string) *histEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.m[id]
	if el == nil {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*histItem).e
}

// put replaces the merchant's entry (nil drops it), then evicts the least
// recently used entries until both bounds hold.
func (c *histCache) put(id string, e *histEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.m[id]; el != nil {
		c.rows -= el.Value.(*histItem).e.cost()
		c.ll.Remove(el)
		delete(c.m, id)
	}
	if e == nil || e.cost() > c.maxRows {
		return
	}
	c.m[id] = c.ll.PushFront(&histItem{id: id, e: e})
	c.rows += e.cost()
	for len(c.m) > c.max || c.rows > c.maxRows {
		el := c.ll.Back()
		it := el.Value.(*histItem)
		c.rows -= it.e.cost()
		c.ll.Remove(el)
		delete(c.m, it.id)
	}
}
