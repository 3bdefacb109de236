package eventstore

import (
	"math"
	"runtime"
	"slices"

	"github.com/elixirscope-go/foundation/shard"
)

// index is a secondary index (key → IDs, ascending) striped by P: a Store
// inserts into the stripe of the P it runs on, so that the lists each core
// writes stay in its own cache. With one shared list per key, every core
// writes every hot key (an event type) and each insert pays a cache-line
// transfer for the lock and another for the tail; on this 2-core VM that
// made a parallel Store four times the cost of a lone one. A record keeps
// its stripe, so it is unindexed in O(1); a query merges the stripes (few:
// GOMAXPROCS rounded to a power of two, at most maxStripes).
type index struct {
	stripes []*shard.SortedBag[string, uint64]
	mask    int
}

const maxStripes = 16

func newIndex() (*index, error) {
	n := 1
	for n < runtime.GOMAXPROCS(0) && n < maxStripes {
		n <<= 1
	}
	x := &index{stripes: make([]*shard.SortedBag[string, uint64], n), mask: n - 1}
	for i := range x.stripes {
		b, err := shard.NewSortedBag[string, uint64]()
		if err != nil {
			return nil, err
		}
		x.stripes[i] = b
	}
	return x, nil
}

func (x *index) insertTrim(st uint8, k string, id, bound uint64) {
	x.stripes[st].InsertTrim(k, id, bound)
}

func (x *index) delete(st uint8, k string, id uint64) { x.stripes[st].DeleteObject(k, id) }

func (x *index) trimAll(bound uint64) {
	for _, b := range x.stripes {
		b.TrimAll(bound)
	}
}

func (x *index) count(k string) int {
	n := 0
	for _, b := range x.stripes {
		n += b.Count(k)
	}
	return n
}

// all returns every ID of k from lo on, ascending (unmerged order is fixed
// by a sort).
func (x *index) all(k string, lo uint64) []uint64 {
	var ids []uint64
	for _, b := range x.stripes {
		ids = b.Page(ids, k, lo, math.MaxUint64, false, 0, 0)
	}
	if len(x.stripes) > 1 {
		slices.Sort(ids)
	}
	return ids
}

// cursor pages one stripe of one key within [a, b] in query order.
type cursor struct {
	bag  *shard.SortedBag[string, uint64]
	a, b uint64
	ids  []uint64
	pos  int
	done bool
	buf  [64]uint64
}

// fill loads the next page; false when the stripe has no more IDs.
func (c *cursor) fill(key string, desc bool) bool {
	if c.pos < len(c.ids) {
		return true
	}
	if c.done || c.a > c.b {
		return false
	}
	c.ids = c.bag.Page(c.buf[:0], key, c.a, c.b, desc, 0, len(c.buf))
	c.pos = 0
	if len(c.ids) < len(c.buf) {
		c.done = true
	}
	if len(c.ids) == 0 {
		return false
	}
	last := c.ids[len(c.ids)-1]
	if desc {
		if last == 0 {
			c.done = true
		} else {
			c.b = last - 1
		}
	} else {
		if last == math.MaxUint64 {
			c.done = true
		} else {
			c.a = last + 1
		}
	}
	return true
}

// countRange counts k's IDs within [a, b] over every stripe.
func (x *index) countRange(k string, a, b uint64) int {
	n := 0
	for _, bag := range x.stripes {
		n += bag.CountRange(k, a, b)
	}
	return n
}

// skip returns the bounds of [a, b] narrowed past the first n of k's IDs in
// query order (ascending, or descending with desc): index entries at or
// above the ring's oldest are live, so they are counted, never read.
//
// With one stripe, the n-th ID is found by one Page with an offset:
// O(log n). With several, a binary search over the ID range counts each
// stripe's IDs in [a, m] in O(log n): O(64 · stripes · log n), not
// O(offset).
func (x *index) skip(k string, a, b uint64, desc bool, n int) (uint64, uint64) {
	if a > b {
		return a, b
	}
	if len(x.stripes) == 1 {
		var one [1]uint64
		ids := x.stripes[0].Page(one[:0], k, a, b, desc, n-1, 1)
		switch {
		case len(ids) == 0:
			return 1, 0 // empty
		case desc && ids[0] == 0, !desc && ids[0] == math.MaxUint64:
			return 1, 0
		case desc:
			return a, ids[0] - 1
		default:
			return ids[0] + 1, b
		}
	}
	if !desc {
		// Smallest m with count(a, m) >= n; resume after it.
		lo, hi := a, b
		if x.countRange(k, a, b) < n {
			return 1, 0 // empty
		}
		for lo < hi {
			m := lo + (hi-lo)/2
			if x.countRange(k, a, m) >= n {
				hi = m
			} else {
				lo = m + 1
			}
		}
		if lo == math.MaxUint64 {
			return 1, 0
		}
		return lo + 1, b
	}
	// Largest m with count(m, b) >= n; resume below it.
	lo, hi := a, b
	if x.countRange(k, a, b) < n {
		return 1, 0 // empty
	}
	for lo < hi {
		m := lo + (hi-lo+1)/2
		if x.countRange(k, m, b) >= n {
			lo = m
		} else {
			hi = m - 1
		}
	}
	if lo == 0 {
		return 1, 0
	}
	return a, lo - 1
}
