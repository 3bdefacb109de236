package shard

import (
	"iter"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/atomicx"
	"github.com/elixirscope-go/foundation/internal/pad"
)

// hkey is a key with its seeded hash, for the tables whose shards are
// xsync.MapOf ([SortedBag]): a lookup hashes once (to pick the shard) and
// the map reuses that hash instead of hashing again.
type hkey[K comparable] struct {
	h uint64
	k K
}

func hkeyHash[K comparable](k hkey[K], _ uint64) uint64 { return k.h }

// stripe is one shard of a [Set]'s writers: the buckets whose index has
// these low bits (bucket index & (stripes-1)). Its mutex serializes the
// writers of those buckets only; n counts their objects. It fills a cache
// line of its own, so that writers of different stripes never share one.
type stripe struct {
	mu sync.Mutex
	n  atomic.Uint64 // objects in the stripe's buckets; written with mu held
	_  [pad.CacheLine - unsafe.Sizeof(sync.Mutex{}) - 8]byte
}

// Set is an ETS set table: one object a key, no order. It is one hash table
// whose readers take no lock, with its writers sharded: a key's bucket
// belongs to one of a power-of-two number of stripes, and a stripe's mutex
// serializes the writers of its buckets only.
//
// Every method is safe for concurrent use. Reads ([Set.Lookup], [Set.Member])
// take no lock and do not allocate. Overwriting a key does not allocate
// either on amd64, and takes no lock there: the value is rewritten in place
// by the writer that holds the object's own sequence lock;
// elsewhere, and under the race detector, a write publishes a new copy of
// the object under its stripe's mutex. Single-object operations are atomic
// and isolated; so are [Set.InsertList] and [Set.InsertNewList] (a reader
// sees all of the list or none of it). Iteration is not a snapshot (see the
// package doc). A Set must be made with [NewSet] and not copied.
type Set[K comparable, V any] struct {
	_       noCopy
	tab     atomic.Pointer[table[K, V]]
	h       hasher[K]
	stripes []stripe
	smask   uint32 // len(stripes)-1
	minB    int    // buckets of a new or emptied table
}

// noCopy makes go vet's copylocks check flag copies of a table.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// NewSet makes an empty set table (ets:new(T, [set])). It returns an error
// wrapping [ErrOption] for a bad option. The shard count of [WithShards] is
// rounded up to a power of two.
func NewSet[K comparable, V any](opts ...Option) (*Set[K, V], error) {
	st, err := buildSettings(opts)
	if err != nil {
		return nil, err
	}
	n := 1 << bits.Len(uint(st.shards-1))
	s := &Set[K, V]{h: newHasher[K](n), stripes: make([]stripe, n), smask: uint32(n - 1)}
	s.minB = max(n, bucketsFor(st.sizeHint))
	s.tab.Store(newTable[K, V](s.minB))
	return s, nil
}

// hash is the part of k's hash that the table uses: the low 32 bits pick
// the bucket (and so the stripe) and the tag.
func (s *Set[K, V]) hash(k K) uint32 { return uint32(s.h.hash(k)) }

func (s *Set[K, V]) stripeOf(h uint32) *stripe { return &s.stripes[h&s.smask] }

// Lookup returns the value of key k and whether k is present (ets:lookup/2).
// It takes no lock and does not allocate; it waits only while a writer is
// rewriting k's value (or a list insert holds it).
func (s *Set[K, V]) Lookup(k K) (V, bool) {
	h := s.hash(k)
	t := s.tab.Load()
	tag := tagOf(h)
	for b := &t.buckets[uint64(h)&t.mask]; b != nil; b = b.next.Load() {
		for m := matches(b.meta.Load(), tag); m != 0; m &= m - 1 {
			e := b.slots[bits.TrailingZeros64(m)>>3].Load()
			if e != nil && e.h == h && e.key == k {
				q := e.seq.Load()
				v := e.val
				if q&seqWriting == 0 && e.seq.Load() == q {
					return v, true
				}
				return s.lookupSlow(h, k)
			}
		}
	}
	var zero V
	return zero, false
}

//go:noinline
func (s *Set[K, V]) lookupSlow(h uint32, k K) (V, bool) {
	for spins := 0; ; spins++ {
		s.wait(h, spins)
		e := s.tab.Load().find(h, k)
		if e == nil {
			var zero V
			return zero, false
		}
		if v, ok := e.read(); ok {
			return v, true
		}
	}
}

// wait is one round of waiting for a writer of hash h's stripe: one that
// holds the mutex, or, more rarely, a lock-free overwrite that is copying
// its value.
func (s *Set[K, V]) wait(h uint32, spins int) {
	st := s.stripeOf(h)
	// Taking and releasing the mutex waits for the writer that holds it.
	st.mu.Lock()
	//lint:ignore SA2001 the empty critical section is the wait
	st.mu.Unlock()
	if spins >= 16 {
		runtime.Gosched()
	}
}

// Member reports whether key k is present (ets:member/2). Like [Set.Lookup]
// it takes no lock and does not allocate.
func (s *Set[K, V]) Member(k K) bool {
	_, ok := s.Lookup(k)
	return ok
}

// addNew adds e, whose key is absent, to t and counts it in st. st.mu must
// be held. The table is grown, if need be, after the lock is released
// ([Set.growIfFull]).
func addNew[K comparable, V any](t *table[K, V], st *stripe, e *entry[K, V]) {
	t.add(e)
	atomicx.StoreRelease(&st.n, st.n.Load()+1)
}

// del removes the object in b.slots[i], whose entry the caller has locked
// (see [bucket.remove]), and uncounts it from st. st.mu must be held.
func del[K comparable, V any](st *stripe, b *bucket[K, V], i int) {
	b.remove(i)
	atomicx.StoreRelease(&st.n, st.n.Load()-1)
}

// growIfFull doubles the table when st holds more than its share: growLoad
// objects a bucket. It locks every stripe, in ascending order, so it must be
// called with none held.
func (s *Set[K, V]) growIfFull(st *stripe) {
	t := s.tab.Load()
	if st.n.Load() < uint64(len(t.buckets)/len(s.stripes))*growLoad {
		return
	}
	s.lockStripes(nil)
	if s.tab.Load() == t {
		s.tab.Store(t.grown())
	}
	s.unlockStripes(nil)
}

// lockStripes locks the stripes in idx, ascending (all of them for nil).
func (s *Set[K, V]) lockStripes(idx []int) {
	if idx == nil {
		for i := range s.stripes {
			s.stripes[i].mu.Lock()
		}
		return
	}
	for _, i := range idx {
		s.stripes[i].mu.Lock()
	}
}

func (s *Set[K, V]) unlockStripes(idx []int) {
	if idx == nil {
		for i := range s.stripes {
			s.stripes[i].mu.Unlock()
		}
		return
	}
	for _, i := range idx {
		s.stripes[i].mu.Unlock()
	}
}

// Insert stores the object {k, v}, replacing the object of key k if any
// (ets:insert/2 with one object). A new key locks its stripe and allocates
// its entry (and now and then a bigger table). On amd64 an existing key's
// value is overwritten in place, without a lock and without allocating: a
// CAS on the object's own sequence word makes the writer its only writer,
// so that writers of different keys never share a cache line.
func (s *Set[K, V]) Insert(k K, v V) {
	h := s.hash(k)
	if atomicx.InPlace {
		if e := s.tab.Load().find(h, k); e != nil && e.tryOverwrite(v) {
			return
		}
	}
	st := s.stripeOf(h)
	st.mu.Lock()
	t := s.tab.Load()
	if b, i := t.locate(h, k); b != nil {
		q := b.slots[i].Load().lock()
		b.rewrite(i, q, v).release(q)
		st.mu.Unlock()
		return
	}
	addNew(t, st, &entry[K, V]{h: h, key: k, val: v})
	st.mu.Unlock()
	s.growIfFull(st)
}

// held is an entry a list insert holds for writing, and the free sequence
// it took it at.
type held[K comparable, V any] struct {
	e *entry[K, V]
	q uint32
}

// lastWins returns objs with each key once, with its last value, in the
// order of the keys' first appearance, and their hashes.
func (s *Set[K, V]) lastWins(objs []Object[K, V]) ([]Object[K, V], []uint32) {
	out := make([]Object[K, V], 0, len(objs))
	hs := make([]uint32, 0, len(objs))
	var at map[K]int
	if len(objs) > 16 {
		at = make(map[K]int, len(objs))
	}
	for _, o := range objs {
		j := -1
		if at != nil {
			if i, ok := at[o.Key]; ok {
				j = i
			}
		} else {
			for i := range out {
				if out[i].Key == o.Key {
					j = i
					break
				}
			}
		}
		if j >= 0 {
			out[j].Value = o.Value
			continue
		}
		if at != nil {
			at[o.Key] = len(out)
		}
		out = append(out, o)
		hs = append(hs, s.hash(o.Key))
	}
	return out, hs
}

// stripesOf returns the sorted, deduplicated stripe indexes of hashes hs.
func (s *Set[K, V]) stripesOf(hs []uint32) []int {
	idx := make([]int, len(hs))
	for i, h := range hs {
		idx[i] = int(h & s.smask)
	}
	return sortCompact(idx)
}

// writeList writes objs (distinct keys, hashes hs) with two-phase locking:
// every object is held for writing (its seqWriting bit set; new ones are
// added already held) before any is released, so that a reader, which
// waits on a held object, sees all of the list or none of it. The stripes
// of objs must be locked.
func (s *Set[K, V]) writeList(t *table[K, V], objs []Object[K, V], hs []uint32) {
	hold := make([]held[K, V], 0, len(objs))
	for j, o := range objs {
		h := hs[j]
		st := s.stripeOf(h)
		b, i := t.locate(h, o.Key)
		if b == nil {
			e := &entry[K, V]{h: h, key: o.Key, val: o.Value}
			e.seq.Store(seqLocked | seqWriting)
			addNew(t, st, e)
			hold = append(hold, held[K, V]{e, 0})
			continue
		}
		q := b.slots[i].Load().lock()
		hold = append(hold, held[K, V]{b.rewrite(i, q, o.Value), q})
	}
	for _, x := range hold {
		x.e.release(x.q)
	}
}

// InsertList stores every object of objs atomically (ets:insert/2 with a
// list): no reader or writer sees a part of it. When a key appears more than
// once in objs the last object wins, as ETS does. It locks the stripes that
// objs touch, in ascending order. An empty list does nothing.
func (s *Set[K, V]) InsertList(objs []Object[K, V]) {
	if len(objs) == 0 {
		return
	}
	objs, hs := s.lastWins(objs)
	idx := s.stripesOf(hs)
	s.lockStripes(idx)
	s.writeList(s.tab.Load(), objs, hs)
	s.unlockStripes(idx)
	s.growStripes(idx)
}

// growIfFull for each stripe in idx: a list may have filled any of them.
func (s *Set[K, V]) growStripes(idx []int) {
	for _, i := range idx {
		s.growIfFull(&s.stripes[i])
	}
}

// InsertNew stores {k, v} only if key k is absent, and reports whether it did
// (ets:insert_new/2 with one object).
func (s *Set[K, V]) InsertNew(k K, v V) bool {
	h := s.hash(k)
	st := s.stripeOf(h)
	st.mu.Lock()
	t := s.tab.Load()
	if b, _ := t.locate(h, k); b != nil {
		st.mu.Unlock()
		return false
	}
	addNew(t, st, &entry[K, V]{h: h, key: k, val: v})
	st.mu.Unlock()
	s.growIfFull(st)
	return true
}

// InsertNewList stores all of objs if none of their keys is present, and
// nothing otherwise (ets:insert_new/2 with a list). Keys are checked against
// the table before the insert, so a key repeated inside objs is not a
// conflict: the last object wins. It is atomic like [Set.InsertList].
func (s *Set[K, V]) InsertNewList(objs []Object[K, V]) bool {
	if len(objs) == 0 {
		return true
	}
	objs, hs := s.lastWins(objs)
	idx := s.stripesOf(hs)
	s.lockStripes(idx)
	t := s.tab.Load()
	for j, o := range objs {
		if b, _ := t.locate(hs[j], o.Key); b != nil {
			s.unlockStripes(idx)
			return false
		}
	}
	s.writeList(t, objs, hs)
	s.unlockStripes(idx)
	s.growStripes(idx)
	return true
}

// Delete removes the object of key k, if any (ets:delete/2).
func (s *Set[K, V]) Delete(k K) {
	h := s.hash(k)
	st := s.stripeOf(h)
	st.mu.Lock()
	if b, i := s.tab.Load().locate(h, k); b != nil {
		b.slots[i].Load().lock()
		del(st, b, i)
	}
	st.mu.Unlock()
}

// DeleteObjectFunc removes the object of key k if match accepts its value, and
// reports whether it removed it: ets:delete_object/2, which deletes only an
// identical object (pass func(x V) bool { return x == v } for that; V need
// not be comparable). match runs once, with k's stripe locked: it must not
// use the table. A nil match returns false.
func (s *Set[K, V]) DeleteObjectFunc(k K, match func(V) bool) bool {
	if match == nil {
		return false
	}
	h := s.hash(k)
	st := s.stripeOf(h)
	st.mu.Lock()
	defer st.mu.Unlock()
	b, i := s.tab.Load().locate(h, k)
	if b == nil {
		return false
	}
	e := b.slots[i].Load()
	q := e.lock()
	if !match(e.val) {
		e.release(q)
		return false
	}
	del(st, b, i)
	return true
}

// Take removes the object of key k and returns its value (ets:take/2).
func (s *Set[K, V]) Take(k K) (V, bool) {
	h := s.hash(k)
	st := s.stripeOf(h)
	st.mu.Lock()
	defer st.mu.Unlock()
	if b, i := s.tab.Load().locate(h, k); b != nil {
		e := b.slots[i].Load()
		e.lock()
		v := e.val
		del(st, b, i)
		return v, true
	}
	var zero V
	return zero, false
}

// UpdateElement replaces the value of key k with v if k is present, and
// reports whether it was (ets:update_element/3 on position 2). An absent key
// is not an error: nothing is inserted.
func (s *Set[K, V]) UpdateElement(k K, v V) bool {
	_, ok := s.Update(k, func(V) V { return v })
	return ok
}

// Update replaces the value of key k with fn(old) if k is present and returns
// the new value (ets:update_element/3 and ets:update_counter/3 with a
// function). fn runs exactly once, while k's object is locked for writers
// (readers are not blocked): it must be quick and must not use the table. A
// nil fn, or an absent key, changes nothing and returns false.
func (s *Set[K, V]) Update(k K, fn func(old V) V) (V, bool) {
	var zero V
	if fn == nil {
		return zero, false
	}
	return s.modify(k, func(old V, ok bool) (V, bool) {
		if !ok {
			return zero, false
		}
		return fn(old), true
	})
}

// modify runs f on the value of k (ok: present) with k's stripe and object
// locked for writers, and stores the result when f says so. It returns f's
// result and the presence.
func (s *Set[K, V]) modify(k K, f func(old V, ok bool) (V, bool)) (V, bool) {
	h := s.hash(k)
	st := s.stripeOf(h)
	st.mu.Lock()
	t := s.tab.Load()
	b, i := t.locate(h, k)
	var (
		old V
		e   *entry[K, V]
		q   uint32
	)
	if b != nil {
		e = b.slots[i].Load()
		q = e.lock()
		old = e.val
	}
	defer func() { // f may be the caller's code: a panic must leave nothing locked
		if r := recover(); r != nil {
			if e != nil {
				e.release(q)
			}
			st.mu.Unlock()
			panic(r)
		}
	}()
	nv, store := f(old, b != nil)
	switch {
	case b != nil && store:
		b.rewrite(i, q, nv).release(q)
	case b != nil:
		e.release(q)
	case store:
		addNew(t, st, &entry[K, V]{h: h, key: k, val: nv})
	}
	st.mu.Unlock()
	if b == nil && store {
		s.growIfFull(st)
	}
	return nv, b != nil
}

// value returns e's value, waiting while a writer rewrites it; ok is false
// if e has been removed.
func (s *Set[K, V]) value(e *entry[K, V]) (v V, ok bool) {
	for spins := 0; ; spins++ {
		if v, ok := e.read(); ok {
			return v, true
		}
		if e.dead() {
			return v, false
		}
		s.wait(e.h, spins)
	}
}

// each calls f for the entries of stripe i (the buckets i, i+stripes, ...)
// of the current table, without a lock, until f returns false; it reports
// whether it got to the end. An entry present for the whole walk is seen
// exactly once: entries never move within a table, and a grown table puts
// an entry in a bucket of the same stripe.
func (s *Set[K, V]) each(i int, f func(*entry[K, V]) bool) bool {
	t := s.tab.Load()
	for bi := i; bi < len(t.buckets); bi += len(s.stripes) {
		if !t.buckets[bi].each(f) {
			return false
		}
	}
	return true
}

// eachObject is each with the objects' keys and values.
func (s *Set[K, V]) eachObject(i int, f func(K, V) bool) bool {
	return s.each(i, func(e *entry[K, V]) bool {
		v, ok := s.value(e)
		return !ok || f(e.key, v)
	})
}

// Select returns up to limit objects for which pred is true, and a
// continuation to get the next ones, or nil when the table has been scanned
// (ets:select/3; ets:select/1 with a continuation). limit 0 means no limit.
// pred runs without any lock held. The scan is not a snapshot: an object
// present and unchanged during the whole scan is returned exactly once;
// one inserted, changed or removed meanwhile may or may not be. Errors:
// [ErrNilFunc], [ErrLimit], [ErrContinuation]; the table is never changed.
func (s *Set[K, V]) Select(pred func(K, V) bool, limit int, c *Continuation[K, V]) ([]Object[K, V], *Continuation[K, V], error) {
	if err := checkSelect(s, pred, limit, c); err != nil {
		return nil, nil, err
	}
	out, next := selectShards(s, len(s.stripes), limit, c, func(i int, dst []Object[K, V]) []Object[K, V] {
		s.eachObject(i, func(k K, v V) bool {
			if pred(k, v) {
				dst = append(dst, Object[K, V]{k, v})
			}
			return true
		})
		return dst
	})
	return out, next, nil
}

// SelectCount returns the number of objects for which pred is true
// (ets:select_count/2). A nil pred counts nothing. Not a snapshot.
func (s *Set[K, V]) SelectCount(pred func(K, V) bool) int {
	n := 0
	if pred == nil {
		return 0
	}
	for k, v := range s.All() {
		if pred(k, v) {
			n++
		}
	}
	return n
}

// SelectDelete removes the objects for which pred is true and returns how
// many it removed (ets:select_delete/2). Each object is tested and removed
// atomically (pred runs with its stripe locked); the pass as a whole is not
// atomic. A nil pred removes nothing.
func (s *Set[K, V]) SelectDelete(pred func(K, V) bool) int {
	if pred == nil {
		return 0
	}
	n := 0
	for i := range s.stripes {
		st := &s.stripes[i]
		var cand []*entry[K, V]
		s.each(i, func(e *entry[K, V]) bool {
			if v, ok := s.value(e); ok && pred(e.key, v) {
				cand = append(cand, e)
			}
			return true
		})
		for _, c := range cand {
			st.mu.Lock()
			if b, j := s.tab.Load().locate(c.h, c.key); b != nil {
				e := b.slots[j].Load()
				q := e.lock()
				if pred(e.key, e.val) {
					del(st, b, j)
					n++
				} else {
					e.release(q)
				}
			}
			st.mu.Unlock()
		}
	}
	return n
}

// All returns an iterator over the objects, stripe by stripe (ets:foldl/3,
// ets:tab2list/1). No lock is held while the loop body runs, so the body may
// use the table. It is not a snapshot: each object present and unchanged
// during the whole loop is yielded exactly once; one written meanwhile is
// yielded at most once, with its old or new value, or not at all.
func (s *Set[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for i := range s.stripes {
			if !s.eachObject(i, yield) {
				return
			}
		}
	}
}

// Len returns the number of objects (ets:info(T, size)). It sums one counter
// per stripe without locking: under concurrent writes the result is a count
// the table had at some moment of the call, or close to it.
func (s *Set[K, V]) Len() int {
	n := 0
	for i := range s.stripes {
		n += int(s.stripes[i].n.Load())
	}
	return n
}

// Memory estimates the bytes the table uses (ets:info(T, memory), in bytes
// rather than words): the stripes, the buckets (overflow buckets included)
// and one entry per object (sequence word, hash, key, value, rounded to the
// allocator's size class). Memory that keys and values point to (string
// bytes, slices) is not counted. It walks the overflow chains: O(buckets),
// for diagnostics.
func (s *Set[K, V]) Memory() int {
	t := s.tab.Load()
	total := int(unsafe.Sizeof(*s)) + len(s.stripes)*int(unsafe.Sizeof(s.stripes[0])) + int(unsafe.Sizeof(*t))
	total += (len(t.buckets) + t.overflow()) * bucketBytes[K, V]()
	return total + s.Len()*roundClass(int(unsafe.Sizeof(entry[K, V]{})))
}

// DeleteAllObjects removes every object (ets:delete_all_objects/1), at once:
// it locks every stripe and swaps in an empty table. A reader that started
// before may still return an object it had reached; one that starts after
// sees none.
func (s *Set[K, V]) DeleteAllObjects() {
	s.lockStripes(nil)
	s.tab.Store(newTable[K, V](s.minB))
	for i := range s.stripes {
		s.stripes[i].n.Store(0)
	}
	s.unlockStripes(nil)
}

// roundClass rounds an allocation size up the way Go's small size classes
// do (to 8 below 16, to 16 below 128, to 32 below 256, then to 128): close
// enough for an estimate.
func roundClass(n int) int {
	switch {
	case n <= 8:
		return 8
	case n <= 128:
		return (n + 15) &^ 15
	case n <= 256:
		return (n + 31) &^ 31
	default:
		return (n + 127) &^ 127
	}
}
