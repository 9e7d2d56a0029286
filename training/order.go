package training

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"strings"
)

// canonicalOrder sorts the rows of t in place: by the id column when there is
// one, then by every column in file order, so the seeded split and every
// fixed-order sum see the same rows in the same order however the file was
// written (features.OpenDB does not preserve insertion order, so a features
// export may list the same merchants in a different order each time). It
// returns, for each new row position, the row's 0-based position in the file,
// so messages can still name a file row. Numbers order NaN (missing) first.
func canonicalOrder(t *Table, id string) []int {
	keys := make([]*Column, 0, len(t.Columns)+1)
	if c := t.Col(id); id != "" && c != nil {
		keys = append(keys, c)
	}
	keys = append(keys, t.Columns...)
	perm := sortedRows(keys, t.Rows)
	parallel(len(t.Columns), func(j int) {
		c := t.Columns[j]
		if c.Num != nil {
			c.Num = permuted(c.Num, perm)
		}
		if c.Str != nil {
			c.Str = permuted(c.Str, perm)
		}
	})
	return perm
}

// sortedRows returns the row indices ordered by keys (then by index, which
// only matters for rows equal in every key and so interchangeable). The first
// key is sorted as a packed uint64 or string (fast), then each run of rows
// equal in it is sorted by the remaining keys.
func sortedRows(keys []*Column, n int) []int {
	type rk struct {
		u uint64
		s string
		i int
	}
	first := keys[0]
	rows := make([]rk, n)
	for i := range rows {
		rows[i].i = i
		if first.Kind == KindNumeric {
			rows[i].u = sortableBits(first.Num[i])
		} else {
			rows[i].s = first.Str[i]
		}
	}
	slices.SortFunc(rows, func(a, b rk) int {
		if c := cmp.Compare(a.u, b.u); c != 0 {
			return c
		}
		if c := strings.Compare(a.s, b.s); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	perm := make([]int, n)
	for k, r := range rows {
		perm[k] = r.i
	}
	rest := keys[1:]
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && rows[hi].u == rows[lo].u && rows[hi].s == rows[lo].s {
			hi++
		}
		if hi-lo > 1 {
			slices.SortFunc(perm[lo:hi], func(a, b int) int {
				for _, c := range rest {
					if r := compareCell(c, a, b); r != 0 {
						return r
					}
				}
				return cmp.Compare(a, b)
			})
		}
		lo = hi
	}
	return perm
}

// sortableBits maps a float to a uint64 with the same order as compareCell:
// NaN (missing) lowest, then -Inf … +Inf, with -0 equal to +0.
func sortableBits(x float64) uint64 {
	if math.IsNaN(x) {
		return 0
	}
	if x == 0 {
		x = 0 // -0 sorts as +0, as cmp.Compare has them equal
	}
	b := math.Float64bits(x)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

func compareCell(c *Column, a, b int) int {
	if c.Kind == KindNumeric {
		x, y := c.Num[a], c.Num[b]
		switch xn, yn := math.IsNaN(x), math.IsNaN(y); {
		case xn && yn:
			return 0
		case xn:
			return -1
		case yn:
			return 1
		}
		return cmp.Compare(x, y)
	}
	return strings.Compare(c.Str[a], c.Str[b])
}

func permuted[T any](v []T, perm []int) []T {
	out := make([]T, len(v))
	for k, r := range perm {
		out[k] = v[r]
	}
	return out
}

// contentSHA256 hashes the loaded table (column names, kinds and every value
// in row order) rather than the file bytes, so the same rows in another
// order, after canonicalOrder, give the same fingerprint and the same
// artifact. Columns are hashed separately (in parallel) and the column
// digests hashed together in column order.
func contentSHA256(t *Table) string {
	sums := make([][]byte, len(t.Columns))
	parallel(len(t.Columns), func(j int) { sums[j] = columnSHA256(t.Columns[j]) })
	h := sha256.New()
	for _, s := range sums {
		h.Write(s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func columnSHA256(c *Column) []byte {
	h := sha256.New()
	buf := make([]byte, 0, 64<<10)
	flush := func() {
		h.Write(buf)
		buf = buf[:0]
	}
	put := func(s string) {
		buf = binary.LittleEndian.AppendUint64(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	put(c.Name)
	put(c.Kind)
	if c.Num != nil {
		for _, x := range c.Num {
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(canonNaN(x)))
			if len(buf) >= cap(buf)-8 {
				flush()
			}
		}
	}
	for _, s := range c.Str {
		if len(buf)+len(s)+8 > cap(buf) {
			flush()
		}
		put(s)
	}
	flush()
	return h.Sum(nil)
}

// canonNaN maps every NaN to one bit pattern (missing is missing).
func canonNaN(x float64) float64 {
	if math.IsNaN(x) {
		return math.NaN()
	}
	return x
}
