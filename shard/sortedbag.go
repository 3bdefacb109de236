package shard

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v3"
)

// SortedBag is an ETS bag whose objects under a key are kept in ascending value order
// (not insertion order); built for secondary indexes (key -> IDs). Sharded by key; each key's
// list has its own lock, so writers on different keys never wait for each other.
//
// Keys are spread over shards by a seeded hash; each shard is an xsync.MapOf
// from key to list, so finding a key's list takes no lock. A list is a sorted
// ring buffer: appending a value at or above the largest is amortized O(1),
// removing the smallest is O(1), a page is a binary search plus a copy of the
// page. Values are ordered by cmp.Compare (a NaN is one value, below all
// others).
//
// Every method is safe for concurrent use and each is atomic for its key:
// a reader sees a key's list before or after a write, never during. There is
// no operation over several keys at once. Like ETS, which copies the terms
// it stores, a SortedBag keeps its own copy of a new string key: a key that
// points into a larger buffer of the caller's does not keep it alive. A
// SortedBag must be made with [NewSortedBag] and not copied.
type SortedBag[K comparable, V cmp.Ordered] struct {
	_      noCopy
	h      hasher[K]
	shards []*xsync.MapOf[hkey[K], *sortedList[V]]
	// hot remembers the list of a recently inserted key per slot (the
	// low bits of its hash), so that an insert under a hot key (an event
	// type) skips the map lookup, half the cost of finding the list: a
	// hit compares the hash and the key with the ones the list was made
	// for. A miss looks in the map and remembers what it found. A dead
	// list found here is forgotten (the inserter then asks the map).
	hot []atomic.Pointer[sortedList[V]]
}

// hotSlots is the size of a SortedBag's cache of hot lists (a power of
// two): 8 bytes each.
const hotSlots = 128

// sortedList is one key's values: a sorted deque in a ring buffer.
//
// Life cycle: a list is created by an inserter (LoadOrStore: of two racing
// inserters, one list is kept and the other is dropped unpublished) and
// removed from the map by the writer that empties it,
// which first sets dead under mu and then deletes it from the map while
// still holding mu. An inserter that finds dead set (it loaded the list
// before the removal) unlocks and looks the key up again, creating a new
// list: no insert is lost to a list that left the map. Lock order: mu, then
// the map's bucket lock; inserters never hold mu while in the map.
type sortedList[V cmp.Ordered] struct {
	mu   sync.Mutex // writers dominate: a plain Mutex costs one atomic per Lock and Unlock, an RWMutex two
	dead bool       // under mu: emptied and removed from the map
	// The hash and the key (a *K, as the map stores it) the list was made
	// for, set before it is published and never changed: SortedBag.hot
	// checks a hit against them.
	h    uint64
	key  unsafe.Pointer
	buf  []V // ring; len is 0 or a power of two
	head int // index in buf of the smallest value
	n    int // values held
	// floor is a lower bound of the values held (when n > 0): the smallest
	// value inserted since the list was last trimmed, or the trim's bound.
	// A trim whose bound is <= floor has nothing to remove and is decided
	// here, without reading the front of buf: in a long list that is old
	// memory, a cache miss per insert when every insert trims.
	floor V
}

func newSortedList[V cmp.Ordered]() *sortedList[V] { return new(sortedList[V]) }

func (l *sortedList[V]) at(i int) V     { return l.buf[(l.head+i)&(len(l.buf)-1)] }
func (l *sortedList[V]) set(i int, v V) { l.buf[(l.head+i)&(len(l.buf)-1)] = v }

// lowerBound returns the first index whose value is >= v (n if none).
func (l *sortedList[V]) lowerBound(v V) int { return l.lowerIn(0, l.n, v) }

// lowerIn is lowerBound within indexes [lo, hi): the first index there whose
// value is >= v (hi if none).
func (l *sortedList[V]) lowerIn(lo, hi int, v V) int {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp.Less(l.at(m), v) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// frontBound is lowerBound searched from the front (galloping): O(log p)
// for a result p, where lowerBound is O(log n). Trims remove a few values
// from the front of long lists; a full binary search touched log n cache
// lines of the list for each of them.
func (l *sortedList[V]) frontBound(v V) int {
	if l.n == 0 || !cmp.Less(l.at(0), v) {
		return 0
	}
	hi := 1
	for hi < l.n && cmp.Less(l.at(hi), v) {
		hi *= 2
	}
	return l.lowerIn(hi/2+1, min(hi, l.n), v) // at(hi/2) < v
}

// upperBound returns the first index whose value is > v (n if none).
func (l *sortedList[V]) upperBound(v V) int {
	lo, hi := 0, l.n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !cmp.Less(v, l.at(m)) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// resize copies the values, in order, into a ring of capacity c.
func (l *sortedList[V]) resize(c int) {
	nb := make([]V, c)
	for i := 0; i < l.n; i++ {
		nb[i] = l.at(i)
	}
	l.buf, l.head = nb, 0
}

func (l *sortedList[V]) shrink() {
	if len(l.buf) > 16 && l.n <= len(l.buf)/4 {
		l.resize(len(l.buf) / 2)
	}
}

// insert adds v in order; false if v is already there.
func (l *sortedList[V]) insert(v V) bool {
	p := l.n
	if l.n > 0 {
		switch c := cmp.Compare(l.at(l.n-1), v); {
		case c == 0:
			return false
		case c > 0:
			p = l.lowerBound(v)
			if cmp.Compare(l.at(p), v) == 0 {
				return false
			}
		}
	}
	if l.n == len(l.buf) {
		l.resize(max(8, 2*len(l.buf)))
	}
	if p < l.n-p { // fewer values in front: shift them down one
		l.head = (l.head - 1) & (len(l.buf) - 1)
		for i := 0; i < p; i++ {
			l.set(i, l.at(i+1))
		}
	} else {
		for i := l.n; i > p; i-- {
			l.set(i, l.at(i-1))
		}
	}
	l.set(p, v)
	if l.n == 0 || cmp.Less(v, l.floor) {
		l.floor = v
	}
	l.n++
	return true
}

// removeAt removes the value at index p, shifting the shorter side.
func (l *sortedList[V]) removeAt(p int) {
	var zero V
	if p < l.n/2 {
		for i := p; i > 0; i-- {
			l.set(i, l.at(i-1))
		}
		l.set(0, zero)
		l.head = (l.head + 1) & (len(l.buf) - 1)
	} else {
		for i := p; i < l.n-1; i++ {
			l.set(i, l.at(i+1))
		}
		l.set(l.n-1, zero)
	}
	l.n--
	l.shrink()
}

// trimBelow removes the values below bound and returns how many it removed.
// It reads buf only when floor says there may be some.
func (l *sortedList[V]) trimBelow(bound V) int {
	if l.n == 0 || !cmp.Less(l.floor, bound) {
		return 0
	}
	p := l.frontBound(bound)
	l.dropFront(p)
	l.floor = bound // every value left is >= bound
	return p
}

// dropFront removes the p smallest values.
func (l *sortedList[V]) dropFront(p int) {
	if reflect.TypeFor[V]().Kind() == reflect.String {
		var zero V
		for i := 0; i < p; i++ {
			l.set(i, zero) // release what strings point to; numbers need no store into old memory
		}
	}
	if p > 0 {
		l.head = (l.head + p) & (len(l.buf) - 1)
		l.n -= p
		l.shrink()
	}
}

// NewSortedBag makes an empty sorted bag. It returns an error wrapping
// [ErrOption] for a bad option.
func NewSortedBag[K comparable, V cmp.Ordered](opts ...Option) (*SortedBag[K, V], error) {
	st, err := buildSettings(opts)
	if err != nil {
		return nil, err
	}
	b := &SortedBag[K, V]{h: newHasher[K](st.shards), shards: make([]*xsync.MapOf[hkey[K], *sortedList[V]], st.shards),
		hot: make([]atomic.Pointer[sortedList[V]], hotSlots)}
	for i := range b.shards {
		b.shards[i] = xsync.NewMapOfWithHasher[hkey[K], *sortedList[V]](hkeyHash[K], xsync.WithPresize(st.sizeHint/st.shards))
	}
	return b, nil
}

func (b *SortedBag[K, V]) locate(k K) (*xsync.MapOf[hkey[K], *sortedList[V]], hkey[K]) {
	h := b.h.hash(k)
	return b.shards[b.h.index(h)], hkey[K]{h, k}
}

// find returns key k's map, hashed key and list; l is nil when k is absent.
func (b *SortedBag[K, V]) find(k K) (m *xsync.MapOf[hkey[K], *sortedList[V]], hk hkey[K], l *sortedList[V]) {
	m, hk = b.locate(k)
	l, _ = m.Load(hk)
	return m, hk, l
}

// list returns key hk's list, creating it when absent. A new key is stored
// as a copy when it is a string, as ETS copies the terms it stores: the
// table's key then never pins a larger buffer the caller's string points
// into (the event store's keys point into its slabs of events).
func (b *SortedBag[K, V]) list(m *xsync.MapOf[hkey[K], *sortedList[V]], hk hkey[K]) *sortedList[V] {
	if l, ok := m.Load(hk); ok {
		return l
	}
	if s, ok := any(hk.k).(string); ok {
		hk.k = any(strings.Clone(s)).(K)
	}
	kl := &keyedList[K, V]{k: hk.k} // one allocation for the list and its key
	kl.l.h, kl.l.key = hk.h, unsafe.Pointer(&kl.k)
	l, _ := m.LoadOrStore(hk, &kl.l)
	return l
}

// keyedList is a new list with its key, allocated together (list).
type keyedList[K comparable, V cmp.Ordered] struct {
	l sortedList[V]
	k K
}

// hotList is list through the cache of hot lists: the list of hk from its
// slot when the slot holds it, else from the map (and then remembered).
func (b *SortedBag[K, V]) hotList(m *xsync.MapOf[hkey[K], *sortedList[V]], hk hkey[K]) *sortedList[V] {
	slot := &b.hot[hk.h&(hotSlots-1)]
	if l := slot.Load(); l != nil && l.h == hk.h && *(*K)(l.key) == hk.k {
		return l
	}
	l := b.list(m, hk)
	slot.Store(l)
	return l
}

// forgetHot drops l from the cache of hot lists: it is dead.
func (b *SortedBag[K, V]) forgetHot(l *sortedList[V]) {
	b.hot[l.h&(hotSlots-1)].CompareAndSwap(l, nil)
}

// Insert adds v to key k's values (ets:insert/2 on a bag: an object already
// there is ignored). It is amortized O(1) when v is at or above the key's
// largest value, the common case for rising IDs; otherwise it binary-searches
// and shifts the shorter side. It locks k's list only; it allocates when a
// key is new or its ring grows.
func (b *SortedBag[K, V]) Insert(k K, v V) {
	l := b.lockList(k)
	l.insert(v)
	l.mu.Unlock()
}

// lockList returns key k's live list, created when absent, with its lock
// held: the list through the cache of hot lists, looked up again while the
// one found is dead (emptied and removed meanwhile).
func (b *SortedBag[K, V]) lockList(k K) *sortedList[V] {
	m, hk := b.locate(k)
	for {
		l := b.hotList(m, hk)
		l.mu.Lock()
		if !l.dead {
			return l
		}
		l.mu.Unlock()
		b.forgetHot(l)
	}
}

// InsertTrim inserts v under key k, like Insert, and in the same critical
// section removes the key's values below bound, like DeleteBelow; it returns
// how many it removed. One hash, one lookup and one lock where Insert plus
// DeleteBelow take two each: made for indexes whose old values expire from
// the bottom (the IDs of a ring buffer expire below its oldest retained
// sequence number), which can then be trimmed as they grow instead of one
// delete per expired value. v itself is kept even when it is below bound.
func (b *SortedBag[K, V]) InsertTrim(k K, v, bound V) int {
	l := b.lockList(k)
	p := l.trimBelow(bound)
	l.insert(v)
	l.mu.Unlock()
	return p
}

// TrimAll removes, under every key, the values below bound, and the keys
// left empty; it returns how many values it removed. It visits every key,
// locking one list at a time: O(keys + removed). It is the periodic sweep
// that goes with InsertTrim, for keys that no longer get inserts.
func (b *SortedBag[K, V]) TrimAll(bound V) int {
	total := 0
	for _, m := range b.shards {
		m.Range(func(hk hkey[K], l *sortedList[V]) bool {
			l.mu.Lock()
			if !l.dead {
				p := l.trimBelow(bound)
				total += p
				if p > 0 && l.n == 0 {
					b.kill(m, hk, l)
				}
			}
			l.mu.Unlock()
			return true
		})
	}
	return total
}

// kill removes an emptied list from the map; l.mu must be held.
func (b *SortedBag[K, V]) kill(m *xsync.MapOf[hkey[K], *sortedList[V]], hk hkey[K], l *sortedList[V]) {
	l.dead = true
	l.buf = nil
	m.Compute(hk, func(old *sortedList[V], loaded bool) (*sortedList[V], bool) {
		return old, !loaded || old == l // delete only this very list
	})
}

// DeleteObject removes v from key k's values and reports whether it was
// there (ets:delete_object/2). It is O(1) when v is the smallest value,
// otherwise a binary search and a shift of the shorter side. The key
// disappears when its last value goes.
func (b *SortedBag[K, V]) DeleteObject(k K, v V) bool {
	m, hk, l := b.find(k)
	if l == nil {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead || l.n == 0 {
		return false
	}
	p := 0
	if cmp.Compare(l.at(0), v) != 0 {
		p = l.lowerBound(v)
		if p == l.n || cmp.Compare(l.at(p), v) != 0 {
			return false
		}
	}
	l.removeAt(p)
	if l.n == 0 {
		b.kill(m, hk, l)
	}
	return true
}

// DeleteBelow removes key k's values smaller than bound and returns how many
// it removed: the pruning of an index whose values rise with time. It is
// O(log n + removed). The key disappears when its last value goes.
func (b *SortedBag[K, V]) DeleteBelow(k K, bound V) int {
	m, hk, l := b.find(k)
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead {
		return 0
	}
	p := l.trimBelow(bound)
	if l.n == 0 && p > 0 {
		b.kill(m, hk, l)
	}
	return p
}

// Delete removes key k and all its values, and returns how many values it
// removed (ets:delete/2).
func (b *SortedBag[K, V]) Delete(k K) int {
	m, hk, l := b.find(k)
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead {
		return 0
	}
	n := l.n
	l.n = 0
	b.kill(m, hk, l)
	return n
}

// Count returns the number of values of key k. It takes no lock to find the
// key and the list's lock to count; it does not allocate.
func (b *SortedBag[K, V]) Count(k K) int {
	_, _, l := b.find(k)
	if l == nil {
		return 0
	}
	l.mu.Lock()
	n := l.n
	l.mu.Unlock()
	return n
}

// CountRange returns the number of key k's values within [lo, hi]
// (inclusive): two binary searches under the key's lock, O(log n), no
// allocation. hi < lo counts nothing.
func (b *SortedBag[K, V]) CountRange(k K, lo, hi V) int {
	if cmp.Less(hi, lo) {
		return 0
	}
	_, _, l := b.find(k)
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dead {
		return 0
	}
	return l.upperBound(hi) - l.lowerBound(lo)
}

// Page appends to dst up to limit values of key k, in ascending (or descending) order, starting after
// skipping `offset` values among those within [lo, hi] (inclusive); O(log n + offset + limit) via binary search,
// without copying the whole list; limit <= 0 means no limit. Returns dst.
//
// A negative offset counts as 0; hi < lo selects nothing. The page is read
// under the key's lock, so it is one consistent view of the key. It
// allocates nothing when dst has room for the page.
func (b *SortedBag[K, V]) Page(dst []V, k K, lo, hi V, desc bool, offset, limit int) []V {
	_, _, l := b.find(k)
	if l == nil || cmp.Less(hi, lo) {
		return dst
	}
	offset = max(offset, 0)
	l.mu.Lock()
	defer l.mu.Unlock()
	i0, i1 := l.lowerBound(lo), l.upperBound(hi)
	cnt := i1 - i0 - offset
	if cnt <= 0 {
		return dst
	}
	if limit > 0 && cnt > limit {
		cnt = limit
	}
	dst = slices.Grow(dst, cnt)
	if desc {
		return l.appendDesc(dst, i1-1-offset, cnt)
	}
	return l.appendAsc(dst, i0+offset, cnt)
}

// appendAsc appends the cnt values from index i up, in order: at most two
// runs of buf (it is a ring), copied whole.
func (l *sortedList[V]) appendAsc(dst []V, i, cnt int) []V {
	mask := len(l.buf) - 1
	for cnt > 0 {
		p := (l.head + i) & mask
		run := l.buf[p:min(p+cnt, len(l.buf))]
		dst = append(dst, run...)
		i, cnt = i+len(run), cnt-len(run)
	}
	return dst
}

// appendDesc appends the cnt values from index i down, in that order: at
// most two runs of buf, each read backwards.
func (l *sortedList[V]) appendDesc(dst []V, i, cnt int) []V {
	mask := len(l.buf) - 1
	for cnt > 0 {
		p := (l.head + i) & mask
		run := l.buf[max(p-cnt+1, 0) : p+1]
		n := len(dst)
		dst = dst[:n+len(run)]
		out := dst[n:]
		for j, k := 0, len(run)-1; k >= 0; j, k = j+1, k-1 {
			out[j] = run[k]
		}
		i, cnt = i-len(run), cnt-len(run)
	}
	return dst
}

// Keys returns the number of keys. It sums a counter per shard without
// locking: under concurrent writes, a count the table had during the call or
// close to it.
func (b *SortedBag[K, V]) Keys() int {
	n := 0
	for _, m := range b.shards {
		n += m.Size()
	}
	return n
}

// Len returns the number of values over all keys (ets:info(T, size)). It
// visits every key: O(keys), for diagnostics.
func (b *SortedBag[K, V]) Len() int {
	n := 0
	for _, m := range b.shards {
		m.Range(func(_ hkey[K], l *sortedList[V]) bool {
			l.mu.Lock()
			n += l.n
			l.mu.Unlock()
			return true
		})
	}
	return n
}

// Memory estimates the bytes the table uses: map buckets and entries, list
// headers and ring capacity. Memory that values point to (string bytes) is
// not counted. O(keys).
func (b *SortedBag[K, V]) Memory() int {
	total := int(unsafe.Sizeof(*b)) + len(b.shards)*8
	vs := int(unsafe.Sizeof(*new(V)))
	entry := roundClass(int(unsafe.Sizeof(hkey[K]{})) + 8)
	hdr := roundClass(int(unsafe.Sizeof(sortedList[V]{})))
	for _, m := range b.shards {
		st := m.Stats()
		total += (st.TotalBuckets + st.CounterLen) * 64
		m.Range(func(_ hkey[K], l *sortedList[V]) bool {
			l.mu.Lock()
			total += entry + hdr + roundClass(len(l.buf)*vs)
			l.mu.Unlock()
			return true
		})
	}
	return total
}
