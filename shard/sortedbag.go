package shard

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/atomicx"
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
// no operation over several keys at once.
//
// Readers (Page, Count, CountRange, Len, Memory) take no lock when V is 8
// bytes on a 64-bit platform (int, int64, uint64, float64 and the like): a
// read checks the key's sequence word before and after its copy and tries
// again when a write overlapped it (a sequence lock). Such readers write no
// shared memory: they do not wait for each other, and writers do not wait
// for them. A read that finds a write in progress or overlapping it on four
// tries in a row takes the key's lock instead, so it cannot starve.
// Appending a value above the largest (with room in the key's ring) does
// not disturb the reads in flight; every other write to the key (an insert
// below the largest, a delete, a trim, a growth or shrink of the ring)
// makes them try again. For other V (strings, and every V on 32-bit
// platforms) a read takes the key's lock. Like ETS, which copies the terms
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
// Writers hold mu. When lockFree (V is one 8-byte word), readers take no
// lock: they load seq (and try again while it is odd), then ring, head and
// n, read the values, and load seq again; the read stands if seq did not
// change, else it is tried again, up to readTries times, then done under mu
// (SortedBag.Page, sortedList.count). A writer changing the list other than
// by an append makes seq odd (open) before its first store and even again
// (unlock) after its last, all under mu, so a read overlapped by such a
// write sees seq odd or changed. An append writes the value past the end
// and then stores n with release order, without a window: the values a
// reader can index (below the n it loaded, from the head and in the ring
// it loaded) are not written by it, and the reader sees the list before
// the append or after it. Head and ring change only inside a window. Where
// [atomicx.InPlace] (amd64 without the race detector), writers store values
// and head with plain stores, kept in order with the release stores
// ([atomicx.StoreRelease]) of seq and n by x86-TSO and by the opaque calls
// that make those; readers load values with sync/atomic (plain loads there)
// but copy ascending runs with memmove, as [table] readers copy an entry's
// value: a value torn by a concurrent write is only ever in a copy that
// seq then rejects. Elsewhere (other architectures, and under the race
// detector, which then sees every access synchronized) writers and readers
// use sync/atomic for each value. A ring, once published, keeps its
// length; growth and shrinking publish a new one, so a reader indexes the
// ring it loaded within its bounds even when a write tears its view, and
// throws that copy away. Readers of other V lock mu.
//
// Life cycle: a list is created by an inserter (LoadOrStore: of two racing
// inserters, one list is kept and the other is dropped unpublished) and
// removed from the map by the writer that empties it,
// which first sets dead under mu and then deletes it from the map while
// still holding mu. An inserter that finds dead set (it loaded the list
// before the removal) unlocks and looks the key up again, creating a new
// list: no insert is lost to a list that left the map. Lock order: mu, then
// the map's bucket lock; inserters never hold mu while in the map. A dead
// list holds no values (n is 0, ring nil): a reader that loaded it before
// the removal reads the key as empty, as a reader that locked it did.
type sortedList[V cmp.Ordered] struct {
	mu   sync.Mutex // writers' (readers take it only when not lockFree, or after readTries): a plain Mutex costs one atomic per Lock and Unlock, an RWMutex two
	dead bool       // under mu: emptied and removed from the map
	// The hash and the key (a *K, as the map stores it) the list was made
	// for, set before it is published and never changed: SortedBag.hot
	// checks a hit against them.
	h   uint64
	key unsafe.Pointer
	// seq is the sequence word of lock-free reads: odd while a writer
	// changes the list in place (only when lockFree).
	seq atomic.Uint64
	// ring holds buf for lock-free readers (only when lockFree): a new
	// ring for each growth or shrink, nil once dead.
	ring atomic.Pointer[ring[V]]
	buf  []V           // under mu: the ring's values; len is 0 or a power of two
	head atomic.Uint64 // index in buf of the smallest value
	n    atomic.Uint64 // values held
	// floor is a lower bound of the values held (when n > 0): the smallest
	// value inserted since the list was last trimmed, or the trim's bound.
	// A trim whose bound is <= floor has nothing to remove and is decided
	// here, without reading the front of buf: in a long list that is old
	// memory, a cache miss per insert when every insert trims.
	floor V
}

// lockFree reports whether the list is read without its lock: V is one
// 8-byte word on a 64-bit platform, so that sync/atomic's 64-bit operations
// load and store a value whole (and it holds no pointer: among cmp.Ordered
// types only strings do, and they are 16 bytes there). A constant of each
// instantiation. (A method, not a generic function: called from the list's
// methods it costs no dictionary lookup.)
func (l *sortedList[V]) lockFree() bool {
	return unsafe.Sizeof(l.floor) == 8 && unsafe.Sizeof(uintptr(0)) == 8
}

// ring is a ring buffer of a lock-free list as its readers load it: a's
// length (a power of two) never changes.
type ring[V cmp.Ordered] struct{ a []V }

// minRing is the capacity of a list's first ring.
const minRing = 8

// firstRing is a ring of minRing values allocated with its header, so that
// a new key's first insert allocates once.
type firstRing[V cmp.Ordered] struct {
	r    ring[V]
	vals [minRing]V
}

func newRing[V cmp.Ordered](c int) *ring[V] {
	if c == minRing {
		f := new(firstRing[V])
		f.r.a = f.vals[:]
		return &f.r
	}
	return &ring[V]{a: make([]V, c)}
}

// put stores v in *p, an element of buf, for a writer: a plain store when
// the list is read under its lock or where [atomicx.InPlace] (a later
// release store of seq or n publishes it in order), else a sync/atomic
// store.
func (l *sortedList[V]) put(p *V, v V) {
	if !l.lockFree() || atomicx.InPlace {
		*p = v
		return
	}
	atomic.StoreUint64((*uint64)(unsafe.Pointer(p)), *(*uint64)(unsafe.Pointer(&v)))
}

// storeWord stores v in *p for a writer inside a window (see open): plain
// where [atomicx.InPlace], the closing release store of seq publishing it,
// else a sync/atomic store.
func storeWord(p *atomic.Uint64, v uint64) {
	if atomicx.InPlace {
		*(*uint64)(unsafe.Pointer(p)) = v
		return
	}
	p.Store(v)
}

// open makes seq odd, if it is not yet, before a writer changes the list
// other than by an append: a read it overlaps tries again. The writer's
// unlock makes it even. Writers only.
func (l *sortedList[V]) open() {
	if l.lockFree() {
		if s := l.seq.Load(); s&1 == 0 {
			atomicx.StoreRelease(&l.seq, s+1)
		}
	}
}

// unlock ends the write that holds mu: it closes the window open opened,
// if any, then unlocks. (Insert and InsertTrim have a copy of it, which
// the compiler does not inline.)
func (l *sortedList[V]) unlock() {
	if l.seq.Load()&1 != 0 { // never odd unless lockFree
		l.close()
	}
	l.mu.Unlock()
}

// close makes seq even again after open: the write is visible to readers.
func (l *sortedList[V]) close() { atomicx.StoreRelease(&l.seq, l.seq.Load()+1) }

// len returns the number of values. Writers only (a reader uses count).
func (l *sortedList[V]) len() int { return int(l.n.Load()) }

// setN stores the number of values: with release order, so that it also
// publishes an append made without a window.
func (l *sortedList[V]) setN(n int) { atomicx.StoreRelease(&l.n, uint64(n)) }

// setHead moves the smallest value to index h of buf. Inside a window only.
func (l *sortedList[V]) setHead(h int) { storeWord(&l.head, uint64(h&(len(l.buf)-1))) }

// at returns the value at index i; writers only.
func (l *sortedList[V]) at(i int) V {
	return l.buf[(int(l.head.Load())+i)&(len(l.buf)-1)]
}

// set stores v at index i; writers only, inside a window unless i is past
// the end.
func (l *sortedList[V]) set(i int, v V) {
	l.put(&l.buf[(int(l.head.Load())+i)&(len(l.buf)-1)], v)
}

// view returns the list's values as a reader sees them: consistent under
// mu, otherwise to be checked against seq (see Page).
func (l *sortedList[V]) view() view[V] {
	var a []V
	if !l.lockFree() {
		a = l.buf // under mu
	} else if r := l.ring.Load(); r != nil {
		a = r.a
	}
	return view[V]{a: a, head: int(l.head.Load()), n: int(l.n.Load())}
}

// wview is the list as its writer sees it (under mu).
func (l *sortedList[V]) wview() view[V] {
	return view[V]{a: l.buf, head: int(l.head.Load()), n: l.len()}
}

// view is a list's values in a ring (n of them from index head of a, whose
// length is 0 or a power of two). Taken without the lock, its fields may be
// torn by a write: at then stays within a (which a write never changes),
// and the reader throws the result away.
type view[V cmp.Ordered] struct {
	a       []V
	head, n int
}

// lockFree is sortedList.lockFree: values are loaded with sync/atomic.
func (v *view[V]) lockFree() bool {
	var x V
	return unsafe.Sizeof(x) == 8 && unsafe.Sizeof(uintptr(0)) == 8
}

// at returns the value at index i: a sync/atomic load when lockFree.
func (v *view[V]) at(i int) V { return v.load(&v.a[(v.head+i)&(len(v.a)-1)]) }

// load returns *p, an element of a: a sync/atomic load when lockFree.
func (v *view[V]) load(p *V) V {
	if !v.lockFree() {
		return *p
	}
	w := atomic.LoadUint64((*uint64)(unsafe.Pointer(p)))
	return *(*V)(unsafe.Pointer(&w))
}

// lowerBound returns the first index whose value is >= x (n if none).
func (v *view[V]) lowerBound(x V) int { return v.lowerIn(0, v.n, x) }

// lowerIn is lowerBound within indexes [lo, hi): the first index there whose
// value is >= x (hi if none).
func (v *view[V]) lowerIn(lo, hi int, x V) int {
	a, h := v.a, v.head // in registers: the loads below are sync/atomic
	mask := len(a) - 1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if cmp.Less(v.load(&a[(h+m)&mask]), x) {
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
func (v *view[V]) frontBound(x V) int {
	if v.n == 0 || !cmp.Less(v.at(0), x) {
		return 0
	}
	hi := 1
	for hi < v.n && cmp.Less(v.at(hi), x) {
		hi *= 2
	}
	return v.lowerIn(hi/2+1, min(hi, v.n), x) // at(hi/2) < x
}

// upperBound returns the first index whose value is > x (n if none).
func (v *view[V]) upperBound(x V) int {
	lo, hi := 0, v.n
	a, h := v.a, v.head
	mask := len(a) - 1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !cmp.Less(x, v.load(&a[(h+m)&mask])) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// resize copies the values, in order, into a ring of capacity c. Inside a
// window only.
func (l *sortedList[V]) resize(c int) {
	n := l.len()
	var nb []V
	var r *ring[V]
	if l.lockFree() {
		r = newRing[V](c)
		nb = r.a
	} else {
		nb = make([]V, c)
	}
	for i := 0; i < n; i++ {
		nb[i] = l.at(i) // not yet published: plain stores
	}
	l.buf = nb
	storeWord(&l.head, 0)
	if l.lockFree() {
		l.ring.Store(r)
	}
}

// shrink halves the ring when it is at most a quarter full. Not an emptied
// one: it is removed next (kill), or gets a value at once (InsertTrim).
func (l *sortedList[V]) shrink() {
	if n := l.len(); n > 0 && len(l.buf) > 16 && n <= len(l.buf)/4 {
		l.resize(len(l.buf) / 2)
	}
}

// insert adds v in order; false if v is already there. An append (v above
// the largest, room in the ring) opens no window: it stores v past the end,
// then n.
func (l *sortedList[V]) insert(v V) bool {
	n, buf := l.len(), l.buf
	if n > 0 && n < len(buf) {
		h, mask := int(l.head.Load()), len(buf)-1
		if cmp.Less(buf[(h+n-1)&mask], v) { // above the largest (and floor)
			l.put(&buf[(h+n)&mask], v)
			l.setN(n + 1)
			return true
		}
	}
	return l.insertSlow(v)
}

// insertSlow is insert for an empty or full ring or v not above the
// largest value: in a window.
func (l *sortedList[V]) insertSlow(v V) bool {
	n := l.len()
	p := n
	if n > 0 {
		switch c := cmp.Compare(l.at(n-1), v); {
		case c == 0:
			return false
		case c > 0:
			w := l.wview()
			p = w.lowerBound(v)
			if cmp.Compare(l.at(p), v) == 0 {
				return false
			}
		}
	}
	l.open()
	if n == len(l.buf) {
		l.resize(max(minRing, 2*len(l.buf)))
	}
	buf, mask := l.buf, len(l.buf)-1
	h := int(l.head.Load())
	if p < n-p { // fewer values in front: shift them down one
		h = (h - 1) & mask
		l.setHead(h)
		for i := 0; i < p; i++ {
			l.put(&buf[(h+i)&mask], buf[(h+i+1)&mask])
		}
	} else {
		for i := n; i > p; i-- {
			l.put(&buf[(h+i)&mask], buf[(h+i-1)&mask])
		}
	}
	l.put(&buf[(h+p)&mask], v)
	if n == 0 || cmp.Less(v, l.floor) {
		l.floor = v
	}
	l.setN(n + 1)
	return true
}

// removeAt removes the value at index p, shifting the shorter side.
func (l *sortedList[V]) removeAt(p int) {
	l.open()
	var zero V
	n := l.len()
	buf, mask := l.buf, len(l.buf)-1
	h := int(l.head.Load())
	if p < n/2 {
		for i := p; i > 0; i-- {
			l.put(&buf[(h+i)&mask], buf[(h+i-1)&mask])
		}
		l.put(&buf[h], zero)
		l.setHead(h + 1)
	} else {
		for i := p; i < n-1; i++ {
			l.put(&buf[(h+i)&mask], buf[(h+i+1)&mask])
		}
		l.put(&buf[(h+n-1)&mask], zero)
	}
	l.setN(n - 1)
	l.shrink()
}

// trimBelow removes the values below bound and returns how many it removed.
// It reads buf only when floor says there may be some.
func (l *sortedList[V]) trimBelow(bound V) int {
	if l.len() == 0 || !cmp.Less(l.floor, bound) {
		return 0
	}
	w := l.wview()
	p := w.frontBound(bound)
	l.dropFront(p)
	l.floor = bound // every value left is >= bound
	return p
}

// dropFront removes the p smallest values.
func (l *sortedList[V]) dropFront(p int) {
	if p <= 0 {
		return
	}
	l.open()
	if reflect.TypeFor[V]().Kind() == reflect.String {
		var zero V
		for i := 0; i < p; i++ {
			l.set(i, zero) // release what strings point to; numbers need no store into old memory
		}
	}
	l.setHead(int(l.head.Load()) + p)
	l.setN(l.len() - p)
	l.shrink()
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
	if l.seq.Load()&1 != 0 { // l.unlock, inlined
		l.close()
	}
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
		l.mu.Unlock() // dead: nothing was changed
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
	if l.seq.Load()&1 != 0 { // l.unlock, inlined
		l.close()
	}
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
				if p > 0 && l.len() == 0 {
					b.kill(m, hk, l)
				}
			}
			l.unlock()
			return true
		})
	}
	return total
}

// kill removes an emptied list from the map; l.mu must be held.
func (b *SortedBag[K, V]) kill(m *xsync.MapOf[hkey[K], *sortedList[V]], hk hkey[K], l *sortedList[V]) {
	l.open()
	l.dead = true
	l.buf = nil
	if l.lockFree() {
		l.ring.Store(nil)
	}
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
	defer l.unlock()
	if l.dead || l.len() == 0 {
		return false
	}
	p := 0
	if cmp.Compare(l.at(0), v) != 0 {
		w := l.wview()
		p = w.lowerBound(v)
		if p == w.n || cmp.Compare(l.at(p), v) != 0 {
			return false
		}
	}
	l.removeAt(p)
	if l.len() == 0 {
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
	defer l.unlock()
	if l.dead {
		return 0
	}
	p := l.trimBelow(bound)
	if l.len() == 0 && p > 0 {
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
	defer l.unlock()
	if l.dead {
		return 0
	}
	n := l.len()
	l.open()
	l.setN(0)
	b.kill(m, hk, l)
	return n
}

// Count returns the number of values of key k. It takes no lock to find the
// key, nor to count where reads are lock-free (see [SortedBag]); it does not
// allocate.
func (b *SortedBag[K, V]) Count(k K) int {
	_, _, l := b.find(k)
	if l == nil {
		return 0
	}
	return l.count()
}

// count returns the number of values, as of one instant.
func (l *sortedList[V]) count() int {
	if l.lockFree() {
		for range readTries {
			s := l.seq.Load()
			n := l.n.Load()
			if s&1 == 0 && l.seq.Load() == s {
				return int(n)
			}
		}
	}
	l.mu.Lock()
	n := l.len()
	l.mu.Unlock()
	return n
}

// readTries is how many times a lock-free read is tried before it takes the
// list's lock: a write overlapping each try (or in progress) makes it fail.
const readTries = 4

// CountRange returns the number of key k's values within [lo, hi]
// (inclusive): two binary searches, O(log n), no allocation, without a lock
// where reads are lock-free (see [SortedBag]), else under the key's lock.
// hi < lo counts nothing.
func (b *SortedBag[K, V]) CountRange(k K, lo, hi V) int {
	if cmp.Less(hi, lo) {
		return 0
	}
	_, _, l := b.find(k)
	if l == nil {
		return 0
	}
	if l.lockFree() {
		for range readTries {
			s := l.seq.Load()
			if s&1 != 0 {
				continue
			}
			v := l.view()
			c := v.countRange(lo, hi)
			if l.seq.Load() == s {
				return c
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.view()
	return v.countRange(lo, hi)
}

func (v *view[V]) countRange(lo, hi V) int {
	if len(v.a) == 0 { // dead (or torn)
		return 0
	}
	return v.upperBound(hi) - v.lowerBound(lo)
}

// Page appends to dst up to limit values of key k, in ascending (or descending) order, starting after
// skipping `offset` values among those within [lo, hi] (inclusive); O(log n + offset + limit) via binary search,
// without copying the whole list; limit <= 0 means no limit. Returns dst.
//
// A negative offset counts as 0; hi < lo selects nothing. The page is one
// consistent view of the key: read without a lock and checked against the
// key's sequence word where reads are lock-free (see [SortedBag]), else
// read under the key's lock. It allocates nothing when dst has room for the
// page.
func (b *SortedBag[K, V]) Page(dst []V, k K, lo, hi V, desc bool, offset, limit int) []V {
	_, _, l := b.find(k)
	if l == nil || cmp.Less(hi, lo) {
		return dst
	}
	offset = max(offset, 0)
	if l.lockFree() {
		n0 := len(dst)
		for range readTries {
			s := l.seq.Load()
			if s&1 != 0 {
				continue
			}
			v := l.view()
			dst = v.page(dst[:n0], lo, hi, desc, offset, limit)
			if l.seq.Load() == s {
				return dst
			}
		}
		dst = dst[:n0]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.view()
	return v.page(dst, lo, hi, desc, offset, limit)
}

// page is Page on v.
func (v *view[V]) page(dst []V, lo, hi V, desc bool, offset, limit int) []V {
	if len(v.a) == 0 { // dead (or torn)
		return dst
	}
	i0, i1 := v.lowerBound(lo), v.upperBound(hi)
	cnt := i1 - i0 - offset
	if cnt <= 0 {
		return dst
	}
	if limit > 0 && cnt > limit {
		cnt = limit
	}
	dst = slices.Grow(dst, cnt)
	if desc {
		return v.appendDesc(dst, i1-1-offset, cnt)
	}
	return v.appendAsc(dst, i0+offset, cnt)
}

// appendAsc appends the cnt values from index i up, in order: at most two
// runs of a (it is a ring), each copied whole; word by word with
// sync/atomic loads when lockFree unless [atomicx.InPlace]. (Where InPlace,
// writers store values with plain stores too, and a copy that a write
// overlapped is thrown away: see sortedList.)
func (v *view[V]) appendAsc(dst []V, i, cnt int) []V {
	mask := len(v.a) - 1
	for cnt > 0 {
		p := (v.head + i) & mask
		run := v.a[p:min(p+cnt, len(v.a))]
		if v.lockFree() && !atomicx.InPlace {
			n := len(dst)
			dst = dst[:n+len(run)]
			loadWords(words(dst[n:]), words(run))
		} else {
			dst = append(dst, run...)
		}
		i, cnt = i+len(run), cnt-len(run)
	}
	return dst
}

// appendDesc appends the cnt values from index i down, in that order: at
// most two runs of a, each read backwards (with sync/atomic loads when
// lockFree).
func (v *view[V]) appendDesc(dst []V, i, cnt int) []V {
	mask := len(v.a) - 1
	for cnt > 0 {
		p := (v.head + i) & mask
		run := v.a[max(p-cnt+1, 0) : p+1]
		n := len(dst)
		dst = dst[:n+len(run)]
		if v.lockFree() {
			loadWordsReversed(words(dst[n:]), words(run))
		} else {
			out := dst[n:]
			for j, k := 0, len(run)-1; k >= 0; j, k = j+1, k-1 {
				out[j] = run[k]
			}
		}
		i, cnt = i-len(run), cnt-len(run)
	}
	return dst
}

// words is s as 64-bit words; only for 8-byte V (lockFree).
func words[V cmp.Ordered](s []V) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// loadWords copies src to dst (of the same length), loading each word with
// sync/atomic. Not generic, so that the loop has no dictionary lookups.
func loadWords(dst, src []uint64) {
	dst = dst[:len(src)]
	for j := range src {
		dst[j] = atomic.LoadUint64(&src[j])
	}
}

// loadWordsReversed is loadWords into dst in reverse order.
func loadWordsReversed(dst, src []uint64) {
	dst = dst[:len(src)]
	for j, k := 0, len(src)-1; k >= 0; j, k = j+1, k-1 {
		dst[j] = atomic.LoadUint64(&src[k])
	}
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
			n += l.count()
			return true
		})
	}
	return n
}

// capacity returns the number of values the list's ring holds: without a
// lock where reads are lock-free (an estimate, for Memory).
func (l *sortedList[V]) capacity() int {
	if l.lockFree() {
		if r := l.ring.Load(); r != nil {
			return len(r.a)
		}
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buf)
}

// Memory estimates the bytes the table uses: map buckets and entries, list
// headers (each with its copy of the key) and ring capacity. Memory that values point to (string bytes) is
// not counted. O(keys).
func (b *SortedBag[K, V]) Memory() int {
	total := int(unsafe.Sizeof(*b)) + len(b.shards)*8
	vs := int(unsafe.Sizeof(*new(V)))
	entry := roundClass(int(unsafe.Sizeof(hkey[K]{})) + 8)
	hdr := roundClass(int(unsafe.Sizeof(keyedList[K, V]{}))) // a list is allocated with its key (list)
	for _, m := range b.shards {
		st := m.Stats()
		total += (st.TotalBuckets + st.CounterLen) * 64
		m.Range(func(_ hkey[K], l *sortedList[V]) bool {
			total += entry + hdr
			switch c := l.capacity(); {
			case !l.lockFree():
				total += roundClass(c * vs)
			case c == minRing:
				total += roundClass(int(unsafe.Sizeof(firstRing[V]{})))
			case c > 0:
				total += roundClass(int(unsafe.Sizeof(ring[V]{}))) + roundClass(c*vs)
			}
			return true
		})
	}
	return total
}
