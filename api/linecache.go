package api

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"math"
	"sync"

	"github.com/lendhq/lend"
	"github.com/lendhq/lend/loans"
)

// MaxCachedLines bounds the in-process credit-line cache: two generations of
// at most half each (and of at most maxLineArena bytes each), about 200 bytes
// a line. Lines are kept encoded in byte arenas (lineGen), so however full,
// the cache adds nothing for the garbage collector to mark.
const MaxCachedLines = 50_000

// maxLineArena bounds one generation's encoded lines (overwritten and dropped
// ones included until the generation is forgotten); maxLineEntry is the
// largest line cached (a line with more reasons is read from the store).
const (
	maxLineArena = 16 << 20
	maxLineEntry = 64 << 10
)

// maxLineAttempts is how many times a decision is taken on a line the store
// then finds changed before the last attempt goes without the check.
const maxLineAttempts = 3

// lineCache keeps the credit line each merchant's last decision was taken
// against, so a decision does not read the loans store for it: that read
// (a fresh read transaction whose page cache every commit invalidates) was
// about a tenth of a decision's CPU. Correctness does not rest on it: the
// application goes to the store with the line it was decided on
// (loans.Cmd.Line), and the store writes it only if that is still the
// stored line inside the writer's transaction — which also catches changes
// made by other processes sharing the database. When the line changed
// (loans.ErrLineChanged) the decision reads the line afresh and is taken
// again (decideAndStore).
//
// It holds no pointers: 50,000 loans.CreditLine values (a dozen pointers
// each) were 18 MB of live heap whose marking took 19–21 ms of every
// collection on two cores (api/review53_test.go), the kind of mark phase
// that was the p99 tail of decisions (docs/perf/api-resources.md).
// Entries are keyed by a hash of the merchant id and carry the id itself, so
// a hash collision is a miss, never another merchant's line.
type lineCache struct {
	mu       sync.Mutex
	seed     maphash.Seed
	seeded   bool
	cur, old lineGen
}

// lineGen is one generation: encoded lines appended to arena, indexed by
// the hash of their merchant id.
type lineGen struct {
	idx   map[uint64]lineSpan
	arena []byte
}

// lineSpan is where an encoded line lies in its generation's arena.
type lineSpan struct{ off, n uint32 }

// key returns the hash of merchantID under the cache's seed (lc.mu held).
func (lc *lineCache) key(merchantID string) uint64 {
	if !lc.seeded {
		lc.seed, lc.seeded = maphash.MakeSeed(), true
	}
	return maphash.String(lc.seed, merchantID)
}

// get returns merchantID's cached line, if any.
func (lc *lineCache) get(merchantID string) (loans.CreditLine, bool) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	k := lc.key(merchantID)
	for _, g := range [2]*lineGen{&lc.cur, &lc.old} {
		if sp, ok := g.idx[k]; ok {
			b := g.arena[sp.off : sp.off+sp.n]
			if string(lineMerchant(b)) != merchantID { // collision: another merchant's line
				return loans.CreditLine{}, false
			}
			return decodeLine(b)
		}
	}
	return loans.CreditLine{}, false
}

// put caches l, replacing the merchant's older line; a line that cannot be
// cached (too large) removes the older one instead.
func (lc *lineCache) put(l loans.CreditLine) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	k := lc.key(l.MerchantID)
	if lineSizeFloor(l) > maxLineEntry { // refused before it grows the arena
		delete(lc.cur.idx, k)
		delete(lc.old.idx, k)
		return
	}
	if lc.cur.idx == nil || len(lc.cur.idx) >= MaxCachedLines/2 || len(lc.cur.arena) >= maxLineArena {
		lc.old, lc.cur = lc.cur, lineGen{idx: make(map[uint64]lineSpan)}
	}
	off := len(lc.cur.arena)
	arena, ok := appendLine(lc.cur.arena, l)
	lc.cur.arena = arena
	n := len(arena) - off
	if !ok || n > maxLineEntry {
		lc.cur.arena = lc.cur.arena[:off]
		delete(lc.cur.idx, k)
		delete(lc.old.idx, k) // no older state of it may stay
		return
	}
	lc.cur.idx[k] = lineSpan{uint32(off), uint32(n)}
}

// drop forgets merchantID's line: this process just changed it (accept,
// draw, repayment), so the next decision reads it instead of being refused
// by the store first.
func (lc *lineCache) drop(merchantID string) {
	lc.mu.Lock()
	k := lc.key(merchantID)
	delete(lc.cur.idx, k)
	delete(lc.old.idx, k)
	lc.mu.Unlock()
}

// line returns merchantID's credit line: the cached one unless fresh, else
// read from the store (and cached). found is false when the merchant has no
// line (not cached: nothing in the store could check that it is still so).
func (s *Server) line(ctx context.Context, merchantID string, fresh bool) (l loans.CreditLine, found bool, err error) {
	if !fresh {
		if l, ok := s.lines.get(merchantID); ok {
			return l, true, nil
		}
	}
	l, err = s.cfg.Loans.CreditLine(ctx, merchantID)
	switch {
	case lend.ErrorCode(err) == lend.ENOTFOUND:
		s.lines.drop(merchantID)
		return l, false, nil
	case err != nil:
		return l, false, err
	}
	s.lines.put(l)
	return l, true, nil
}

// appendLine appends l's encoding to b: the merchant id first (lineMerchant
// reads it alone), then the other strings, the reasons (count+1, 0 for nil),
// the integers and floats' bits, and UpdatedAt's binary form, which keeps
// its instant and its zone as time.Parse would give it. ok is false when l
// cannot be encoded.
func appendLine(b []byte, l loans.CreditLine) (_ []byte, ok bool) {
	for _, s := range [...]string{l.MerchantID, l.Currency, l.Grade, l.ModelID, l.AsOf, string(l.Status), l.FrozenReason} {
		b = appendLineStr(b, s)
	}
	if l.Reasons == nil {
		b = binary.AppendUvarint(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(l.Reasons))+1)
	}
	for _, r := range l.Reasons {
		b = appendLineStr(b, r)
	}
	for _, v := range [...]uint64{uint64(l.LimitMinor), uint64(l.DrawnMinor), uint64(l.AvailableMinor), uint64(l.APR),
		math.Float64bits(l.Score), math.Float64bits(l.PD)} {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	t, err := l.UpdatedAt.MarshalBinary() // fails only for odd zone offsets
	return appendLineStr(b, string(t)), err == nil
}

// lineSizeFloor is at most the size of l's encoding (every string's bytes
// and a byte for each reason's length): a line above maxLineEntry by it is
// refused without being appended, which would leave the arena's backing
// array as large as it for the generation's life.
func lineSizeFloor(l loans.CreditLine) int {
	n := len(l.MerchantID) + len(l.Currency) + len(l.Grade) + len(l.ModelID) + len(l.AsOf) + len(l.Status) + len(l.FrozenReason)
	for _, r := range l.Reasons {
		n += 1 + len(r)
	}
	return n
}

func appendLineStr(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// lineMerchant returns the merchant id of the encoded line b, read without
// decoding the rest (compared as string(…) == id, it is not copied).
func lineMerchant(b []byte) []byte {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return nil
	}
	return b[w : w+int(n)]
}

// lineReader decodes an encoding of appendLine; every string of the line is
// a substring of s, one copy of the encoding, so a decode allocates that copy
// and the reasons slice only.
type lineReader struct {
	b   []byte
	s   string
	i   int
	bad bool
}

func (r *lineReader) uvarint() uint64 {
	v, w := binary.Uvarint(r.b[r.i:])
	if w <= 0 {
		r.bad, w = true, 0
	}
	r.i += w
	return v
}

func (r *lineReader) str() string {
	n := r.uvarint()
	if r.bad || uint64(len(r.b)-r.i) < n {
		r.bad = true
		return ""
	}
	r.i += int(n)
	return r.s[r.i-int(n) : r.i]
}

func (r *lineReader) u64() uint64 {
	if len(r.b)-r.i < 8 {
		r.bad = true
		return 0
	}
	r.i += 8
	return binary.LittleEndian.Uint64(r.b[r.i-8:])
}

// decodeLine decodes an encoding of appendLine (false if it is not one).
func decodeLine(b []byte) (loans.CreditLine, bool) {
	r := lineReader{b: b, s: string(b)}
	var l loans.CreditLine
	for _, p := range [...]*string{&l.MerchantID, &l.Currency, &l.Grade, &l.ModelID, &l.AsOf, (*string)(&l.Status), &l.FrozenReason} {
		*p = r.str()
	}
	if n := r.uvarint(); n > uint64(len(b)-r.i)+1 { // each reason takes a byte at least
		r.bad = true
	} else if n > 0 {
		l.Reasons = make([]string, n-1)
		for i := range l.Reasons {
			l.Reasons[i] = r.str()
		}
	}
	for _, p := range [...]*int64{&l.LimitMinor, &l.DrawnMinor, &l.AvailableMinor, (*int64)(&l.APR)} {
		*p = int64(r.u64())
	}
	l.Score, l.PD = math.Float64frombits(r.u64()), math.Float64frombits(r.u64())
	t := r.str()
	if r.bad || r.i != len(b) || l.UpdatedAt.UnmarshalBinary([]byte(t)) != nil {
		return loans.CreditLine{}, false
	}
	return l, true
}
