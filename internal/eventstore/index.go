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
// transfer for the lock and another for the tail, so parallel Stores would
// take turns on those lines. A record keeps its stripe, so it is unindexed
// in O(1); a query merges the stripes (few: GOMAXPROCS rounded to a power
// of two, at most maxStripes).
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

// maxPage bounds a cursor's page (its buffer stays with the pooled query).
const maxPage = 1024

// cursor pages one stripe of one key within [a, b] in query order. Its
// pages start at the size reset is given and double up to maxPage.
type cursor struct {
	bag  *shard.SortedBag[string, uint64]
	a, b uint64
	ids  []uint64 // the current page, in buf
	pos  int
	page int
	done bool
	buf  []uint64
}

// reset points c at bag's IDs in [a, b], with a first page of page IDs.
func (c *cursor) reset(bag *shard.SortedBag[string, uint64], a, b uint64, page int) {
	*c = cursor{bag: bag, a: a, b: b, page: page, buf: c.buf}
}

// fill loads the next page; false when the stripe has no more IDs.
func (c *cursor) fill(key string, desc bool) bool {
	if c.pos < len(c.ids) {
		return true
	}
	if c.done || c.a > c.b {
		return false
	}
	if cap(c.buf) < c.page {
		c.buf = make([]uint64, 0, max(c.page, 64))
	}
	c.ids = c.bag.Page(c.buf[:0], key, c.a, c.b, desc, 0, c.page)
	c.pos = 0
	if len(c.ids) < c.page {
		c.done = true
	}
	c.page = min(2*c.page, maxPage)
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

// take copies c's next IDs into ids, paging as it goes, and returns how
// many: len(ids) unless the stripe runs out.
func (c *cursor) take(key string, desc bool, ids []uint64) int {
	n := 0
	for n < len(ids) && c.fill(key, desc) {
		m := copy(ids[n:], c.ids[c.pos:])
		c.pos += m
		n += m
	}
	return n
}
