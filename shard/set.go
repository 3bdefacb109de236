package shard

import (
	"iter"
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

// setShard is one shard of a [Set]. Readers touch only the first cache line
// (seq and tab), writers also the second (mu and n): padding keeps a
// writer's lock traffic from evicting the readers' line.
type setShard[K comparable, V any] struct {
	// seq is a sequence lock for what a reader must not see half of: a
	// multi-object write (InsertList, InsertNewList, DeleteAllObjects) and
	// a table swap (growth). Writers: only with mu held. A multi-object
	// writer adds 1 (odd) before its first store into this shard and 1
	// (even) after its last; growth adds 2 after it publishes the new table,
	// so that a reader who started on the old one retries. Single-object
	// writers leave it alone: each of their stores is atomic by itself.
	// Readers: load seq, read, load seq again; if seq was odd or changed,
	// they retry (after waiting on mu).
	seq atomic.Uint64
	tab atomic.Pointer[table[K, V]]
	_   [pad.CacheLine - 16]byte
	mu  sync.Mutex    // serializes the writers of this shard only
	n   atomic.Uint64 // objects in the shard; written with mu held
	_   [pad.CacheLine - unsafe.Sizeof(sync.Mutex{}) - 8]byte
}

// Set is an ETS set table: one object a key, no order. Keys are spread over
// shards by a seeded hash; each shard is a hash table whose readers take no
// lock, plus a mutex that serializes that shard's writers only.
//
// Every method is safe for concurrent use. Reads ([Set.Lookup], [Set.Member])
// take no lock and do not allocate. Overwriting a key does not allocate
// either on amd64 (the value is rewritten in place under a per-object
// sequence lock; elsewhere, and under the race detector, a write publishes
// a new copy of the object). Single-object operations are atomic and
// isolated; so are [Set.InsertList] and [Set.InsertNewList] (a reader sees
// all of the list or none of it). Iteration is not a snapshot (see the
// package doc). A Set must be made with [NewSet] and not copied.
type Set[K comparable, V any] struct {
	_      noCopy
	h      hasher[K]
	shards []setShard[K, V]
	minB   int // buckets of a new or emptied shard table
}

// noCopy makes go vet's copylocks check flag copies of a table.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// NewSet makes an empty set table (ets:new(T, [set])). It returns an error
// wrapping [ErrOption] for a bad option.
func NewSet[K comparable, V any](opts ...Option) (*Set[K, V], error) {
	st, err := buildSettings(opts)
	if err != nil {
		return nil, err
	}
	s := &Set[K, V]{h: newHasher[K](st.shards), shards: make([]setShard[K, V], st.shards)}
	s.minB = bucketsFor(st.sizeHint / st.shards)
	for i := range s.shards {
		s.shards[i].tab.Store(newTable[K, V](s.minB))
	}
	return s, nil
}

// locate returns k's shard and the low half of k's hash, which the shard's
// table uses (the high half picked the shard).
func (s *Set[K, V]) locate(k K) (*setShard[K, V], uint32) {
	h := s.h.hash(k)
	return &s.shards[s.h.index(h)], uint32(h)
}

// Lookup returns the value of key k and whether k is present (ets:lookup/2).
// It takes no lock and does not allocate; it waits only while a list insert
// is writing into k's shard or a write is rewriting k's value.
func (s *Set[K, V]) Lookup(k K) (V, bool) {
	sh, h := s.locate(k)
	q := sh.seq.Load()
	if q&1 == 0 {
		e := sh.tab.Load().find(h, k)
		if e == nil {
			if sh.seq.Load() == q {
				var zero V
				return zero, false
			}
		} else if v, ok := e.read(); ok && sh.seq.Load() == q {
			return v, true
		}
	}
	return sh.lookupSlow(h, k)
}

//go:noinline
func (sh *setShard[K, V]) lookupSlow(h uint32, k K) (V, bool) {
	for spins := 0; ; spins++ {
		sh.wait(spins)
		q := sh.seq.Load()
		if q&1 != 0 {
			continue
		}
		e := sh.tab.Load().find(h, k)
		if e == nil {
			if sh.seq.Load() == q {
				var zero V
				return zero, false
			}
		} else if v, ok := e.read(); ok && sh.seq.Load() == q {
			return v, true
		}
	}
}

// Member reports whether key k is present (ets:member/2). Like [Set.Lookup]
// it takes no lock and does not allocate.
func (s *Set[K, V]) Member(k K) bool {
	_, ok := s.Lookup(k)
	return ok
}

// put stores {k, v} in sh (hash h), replacing the value of k if present.
// mu must be held.
func (sh *setShard[K, V]) put(h uint32, k K, v V) {
	t := sh.tab.Load()
	if b, i := t.locate(h, k); b != nil {
		b.set(i, b.slots[i].Load().lock(), v)
		return
	}
	sh.addNew(t, &entry[K, V]{h: h, key: k, val: v})
}

// addNew adds e, whose key is absent, growing the table first when it is
// full. mu must be held.
func (sh *setShard[K, V]) addNew(t *table[K, V], e *entry[K, V]) {
	n := sh.n.Load()
	if n >= uint64(len(t.buckets))*growLoad {
		t = t.grown()
		sh.tab.Store(t)
		sh.seq.Add(2) // readers that started on the old table retry
	}
	t.add(e)
	atomicx.StoreRelease(&sh.n, n+1)
}

// del removes the object in b.slots[i], whose entry the caller has locked
// (see [bucket.remove]). mu must be held.
func (sh *setShard[K, V]) del(b *bucket[K, V], i int) {
	b.remove(i)
	atomicx.StoreRelease(&sh.n, sh.n.Load()-1)
}

// Insert stores the object {k, v}, replacing the object of key k if any
// (ets:insert/2 with one object). A new key locks k's shard and allocates
// its entry (and now and then a bigger table). On amd64 an existing key's
// value is overwritten in place, without the shard lock and without
// allocating: a CAS on the object's own sequence word makes the writer its
// only writer, so that writers of different keys never share a line.
func (s *Set[K, V]) Insert(k K, v V) {
	sh, h := s.locate(k)
	if atomicx.InPlace {
		if e := sh.tab.Load().find(h, k); e != nil && e.tryOverwrite(v) {
			return
		}
	}
	sh.mu.Lock()
	sh.put(h, k, v)
	sh.mu.Unlock()
}

// lockAll locks the shards in idx (ascending) and opens their sequence locks.
func (s *Set[K, V]) lockAll(idx []int) {
	for _, i := range idx {
		s.shards[i].mu.Lock()
		s.shards[i].seq.Add(1)
	}
}

func (s *Set[K, V]) unlockAll(idx []int) {
	for _, i := range idx {
		s.shards[i].seq.Add(1)
		s.shards[i].mu.Unlock()
	}
}

// InsertList stores every object of objs atomically (ets:insert/2 with a
// list): no reader or writer sees a part of it. When a key appears more than
// once in objs the last object wins, as ETS does. It locks the shards that
// objs touch, in ascending order. An empty list does nothing.
func (s *Set[K, V]) InsertList(objs []Object[K, V]) {
	if len(objs) == 0 {
		return
	}
	var buf [8]int
	idx := shardsOf(&s.h, objs, buf[:0])
	s.lockAll(idx)
	for _, o := range objs {
		sh, h := s.locate(o.Key)
		sh.put(h, o.Key, o.Value)
	}
	s.unlockAll(idx)
}

// InsertNew stores {k, v} only if key k is absent, and reports whether it did
// (ets:insert_new/2 with one object).
func (s *Set[K, V]) InsertNew(k K, v V) bool {
	sh, h := s.locate(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	t := sh.tab.Load()
	if b, _ := t.locate(h, k); b != nil {
		return false
	}
	sh.addNew(t, &entry[K, V]{h: h, key: k, val: v})
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
	var buf [8]int
	idx := shardsOf(&s.h, objs, buf[:0])
	for _, i := range idx {
		s.shards[i].mu.Lock()
	}
	for _, o := range objs {
		sh, h := s.locate(o.Key)
		if b, _ := sh.tab.Load().locate(h, o.Key); b != nil {
			for _, i := range idx {
				s.shards[i].mu.Unlock()
			}
			return false
		}
	}
	for _, i := range idx {
		s.shards[i].seq.Add(1)
	}
	for _, o := range objs {
		sh, h := s.locate(o.Key)
		sh.put(h, o.Key, o.Value)
	}
	s.unlockAll(idx)
	return true
}

// Delete removes the object of key k, if any (ets:delete/2).
func (s *Set[K, V]) Delete(k K) {
	sh, h := s.locate(k)
	sh.mu.Lock()
	if b, i := sh.tab.Load().locate(h, k); b != nil {
		b.slots[i].Load().lock()
		sh.del(b, i)
	}
	sh.mu.Unlock()
}

// DeleteObjectFunc removes the object of key k if match accepts its value, and
// reports whether it removed it: ets:delete_object/2, which deletes only an
// identical object (pass func(x V) bool { return x == v } for that; V need
// not be comparable). match runs once, with k's shard locked: it must not
// use the table. A nil match returns false.
func (s *Set[K, V]) DeleteObjectFunc(k K, match func(V) bool) bool {
	if match == nil {
		return false
	}
	sh, h := s.locate(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b, i := sh.tab.Load().locate(h, k)
	if b == nil {
		return false
	}
	e := b.slots[i].Load()
	q := e.lock()
	if !match(e.val) {
		e.unlock(q)
		return false
	}
	sh.del(b, i)
	return true
}

// Take removes the object of key k and returns its value (ets:take/2).
func (s *Set[K, V]) Take(k K) (V, bool) {
	sh, h := s.locate(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if b, i := sh.tab.Load().locate(h, k); b != nil {
		e := b.slots[i].Load()
		e.lock()
		v := e.val
		sh.del(b, i)
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
// function). fn runs exactly once, while k's shard is locked for writers
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

// modify runs f on the value of k (ok: present) with k's shard locked, and
// stores the result when f says so. It returns f's result and the presence.
func (s *Set[K, V]) modify(k K, f func(old V, ok bool) (V, bool)) (V, bool) {
	sh, h := s.locate(k)
	sh.mu.Lock()
	t := sh.tab.Load()
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
				e.unlock(q)
			}
			sh.mu.Unlock()
			panic(r)
		}
	}()
	nv, store := f(old, b != nil)
	switch {
	case b != nil && store:
		b.set(i, q, nv)
	case b != nil:
		e.unlock(q)
	case store:
		sh.addNew(t, &entry[K, V]{h: h, key: k, val: nv})
	}
	sh.mu.Unlock()
	return nv, b != nil
}

// value returns e's value, waiting while a writer rewrites it; ok is false
// if e has been removed.
func (sh *setShard[K, V]) value(e *entry[K, V]) (v V, ok bool) {
	for spins := 0; ; spins++ {
		if v, ok := e.read(); ok {
			return v, true
		}
		if e.dead() {
			return v, false
		}
		sh.wait(spins)
	}
}

// wait is one round of waiting for a writer of the shard: one that holds the
// mutex, or, more rarely, a lock-free overwrite that is copying its value.
func (sh *setShard[K, V]) wait(spins int) {
	sh.mu.Lock()
	sh.mu.Unlock()
	if spins >= 16 {
		runtime.Gosched()
	}
}

// each calls f for the objects of shard i, without a lock, until f returns
// false; it reports whether it got to the end.
func (s *Set[K, V]) each(i int, f func(K, V) bool) bool {
	sh := &s.shards[i]
	return sh.tab.Load().each(func(e *entry[K, V]) bool {
		v, ok := sh.value(e)
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
	out, next := selectShards(s, len(s.shards), limit, c, func(i int, dst []Object[K, V]) []Object[K, V] {
		s.each(i, func(k K, v V) bool {
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
// atomically (pred runs with its shard locked); the pass as a whole is not
// atomic. A nil pred removes nothing.
func (s *Set[K, V]) SelectDelete(pred func(K, V) bool) int {
	if pred == nil {
		return 0
	}
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		var cand []hkey[K]
		sh.tab.Load().each(func(e *entry[K, V]) bool {
			if v, ok := sh.value(e); ok && pred(e.key, v) {
				cand = append(cand, hkey[K]{uint64(e.h), e.key})
			}
			return true
		})
		for _, c := range cand {
			sh.mu.Lock()
			if b, j := sh.tab.Load().locate(uint32(c.h), c.k); b != nil {
				e := b.slots[j].Load()
				q := e.lock()
				if pred(c.k, e.val) {
					sh.del(b, j)
					n++
				} else {
					e.unlock(q)
				}
			}
			sh.mu.Unlock()
		}
	}
	return n
}

// All returns an iterator over the objects, shard by shard (ets:foldl/3,
// ets:tab2list/1). No lock is held while the loop body runs, so the body may
// use the table. It is not a snapshot: each object present and unchanged
// during the whole loop is yielded exactly once; one written meanwhile is
// yielded at most once, with its old or new value, or not at all.
func (s *Set[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for i := range s.shards {
			if !s.each(i, yield) {
				return
			}
		}
	}
}

// Len returns the number of objects (ets:info(T, size)). It sums one counter
// per shard without locking: under concurrent writes the result is a count
// the table had at some moment of the call, or close to it.
func (s *Set[K, V]) Len() int {
	n := 0
	for i := range s.shards {
		n += int(s.shards[i].n.Load())
	}
	return n
}

// Memory estimates the bytes the table uses (ets:info(T, memory), in bytes
// rather than words): the shards, their buckets (overflow buckets included)
// and one entry per object (sequence word, hash, key, value, rounded to the
// allocator's size class). Memory that keys and values point to (string
// bytes, slices) is not counted. It walks the overflow chains: O(buckets),
// for diagnostics.
func (s *Set[K, V]) Memory() int {
	total := int(unsafe.Sizeof(*s)) + len(s.shards)*int(unsafe.Sizeof(s.shards[0]))
	entry := roundClass(int(unsafe.Sizeof(entry[K, V]{})))
	for i := range s.shards {
		t := s.shards[i].tab.Load()
		total += (len(t.buckets)+t.overflow())*bucketBytes[K, V]() + int(s.shards[i].n.Load())*entry
	}
	return total
}

// DeleteAllObjects removes every object (ets:delete_all_objects/1). Each
// shard is emptied atomically; shards are emptied one after another, so a
// concurrent reader may see some shards emptied and others not yet.
func (s *Set[K, V]) DeleteAllObjects() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.seq.Add(1)
		sh.tab.Store(newTable[K, V](s.minB))
		sh.n.Store(0)
		sh.seq.Add(1)
		sh.mu.Unlock()
	}
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
