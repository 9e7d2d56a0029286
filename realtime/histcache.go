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
	// next, when set, is the pre-aggregate of the same rows (up to batch
	// last) as of the following midnight, asOf + 1 day: the first ingest of
	// that day promotes it instead of re-reading the stored history. Built
	// off the request path (Service.buildNext), then extended by every
	// ingest of the day with its batch.
	next *features.Pre
	// nextAsked: a build of next was queued for this entry's day (the
	// ingests after it queue none; the builder retries a few times itself
	// when ingests moved the entry on meanwhile).
	nextAsked bool
}

func (e *histEntry) cost() int {
	n := e.pre.Len() + len(e.recent)
	if e.next != nil {
		n += e.next.Len()
	}
	return n
}

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

// needsNext reports whether the merchant's entry is as of asOf, holds the
// rows up to batch last and has no next-day pre-aggregate yet (ok). When the
// entry is of that day and has no next but holds later batches (an ingest
// moved it on), moved is its latest batch id.
func (c *histCache) needsNext(id string, asOf time.Time, last int64) (ok bool, moved int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el := c.m[id]
	if el == nil {
		return false, 0
	}
	e := el.Value.(*histItem).e
	if !e.asOf.Equal(asOf) || e.next != nil {
		return false, 0
	}
	if e.last != last {
		return false, e.last
	}
	return true, 0
}

// setNext installs next (tomorrow's pre-aggregate over the rows up to batch
// last) in the merchant's entry when that entry is still as of asOf, holds
// the rows up to last and has no next yet; otherwise it does nothing (an
// ingest moved the entry on meanwhile: next would miss its batch). It
// reports whether it installed next.
func (c *histCache) setNext(id string, asOf time.Time, last int64, next *features.Pre) bool {
	c.mu.Lock()
	el := c.m[id]
	if el == nil {
		c.mu.Unlock()
		return false
	}
	e := el.Value.(*histItem).e
	if !e.asOf.Equal(asOf) || e.last != last || e.next != nil {
		c.mu.Unlock()
		return false
	}
	ne := *e
	ne.next = next
	c.putLocked(id, &ne)
	c.mu.Unlock()
	return true
}

// put replaces the merchant's entry (nil drops it), then evicts the least
// recently used entries until both bounds hold.
func (c *histCache) put(id string, e *histEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(id, e)
}

// putLocked is put with c.mu held.
func (c *histCache) putLocked(id string, e *histEntry) {
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
