package shard

import (
	"iter"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/puzpuzpuz/xsync/v3"
)

// hkey is the key as stored in a shard's map: the table's seeded hash travels
// with the key, so a lookup hashes once (to pick the shard) and the map reuses
// that hash instead of hashing again.
type hkey[K comparable] struct {
	h uint64
	k K
}

func hkeyHash[K comparable](k hkey[K], _ uint64) uint64 { return k.h }

// setShard is one shard of a [Set]. Readers touch only the first cache line
// (seq and m), writers also the second (mu): padding keeps a writer's lock
// traffic from evicting the readers' line.
type setShard[K comparable, V any] struct {
	// seq is a sequence lock for multi-object writes (InsertList,
	// InsertNewList, DeleteAllObjects). Writers: only with mu held; a
	// multi-object writer adds 1 (odd) before its first store into this shard
	// and 1 (even) after its last. Single-object writers leave it alone: their
	// one store is atomic by itself. Readers: load seq, read m, load seq again;
	// if seq was odd or changed, they retry (after waiting on mu), so no reader
	// ever sees part of a list. Go atomics are sequentially consistent, which is
	// the ordering this needs.
	seq atomic.Uint64
	m   *xsync.MapOf[hkey[K], V]
	_   [pad.CacheLine - 16]byte
	mu  sync.Mutex // serializes the writers of this shard only
	_   [pad.CacheLine - unsafe.Sizeof(sync.Mutex{})]byte
}

// Set is an ETS set table: one object a key, no order. Keys are spread over
// shards by a seeded hash; each shard is an xsync.MapOf (lock-free reads)
// plus a mutex that serializes that shard's writers only.
//
// Every method is safe for concurrent use. Reads ([Set.Lookup], [Set.Member])
// take no lock and do not allocate. Single-object operations are atomic and
// isolated; so are [Set.InsertList] and [Set.InsertNewList] (a reader sees
// all of the list or none of it). Iteration is not a snapshot (see the
// package doc). A Set must be made with [NewSet] and not copied.
type Set[K comparable, V any] struct {
	_      noCopy
	h      hasher[K]
	shards []setShard[K, V]
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
	for i := range s.shards {
		s.shards[i].m = xsync.NewMapOfWithHasher[hkey[K], V](hkeyHash[K], xsync.WithPresize(st.sizeHint/st.shards))
	}
	return s, nil
}

func (s *Set[K, V]) locate(k K) (*setShard[K, V], hkey[K]) {
	h := s.h.hash(k)
	return &s.shards[s.h.index(h)], hkey[K]{h, k}
}

// Lookup returns the value of key k and whether k is present (ets:lookup/2).
// It takes no lock and does not allocate; it waits only while a list insert
// is writing into k's shard.
func (s *Set[K, V]) Lookup(k K) (V, bool) {
	sh, hk := s.locate(k)
	q := sh.seq.Load()
	if q&1 == 0 {
		v, ok := sh.m.Load(hk)
		if sh.seq.Load() == q {
			return v, ok
		}
	}
	return sh.lookupSlow(hk)
}

//go:noinline
func (sh *setShard[K, V]) lookupSlow(hk hkey[K]) (V, bool) {
	for {
		sh.mu.Lock() // wait for the multi-object writer to finish
		sh.mu.Unlock()
		q := sh.seq.Load()
		if q&1 == 0 {
			v, ok := sh.m.Load(hk)
			if sh.seq.Load() == q {
				return v, ok
			}
		}
	}
}

// Member reports whether key k is present (ets:member/2). Like [Set.Lookup]
// it takes no lock and does not allocate.
func (s *Set[K, V]) Member(k K) bool {
	_, ok := s.Lookup(k)
	return ok
}

// Insert stores the object {k, v}, replacing the object of key k if any
// (ets:insert/2 with one object). It locks k's shard only and allocates one
// map entry.
func (s *Set[K, V]) Insert(k K, v V) {
	sh, hk := s.locate(k)
	sh.mu.Lock()
	sh.m.Store(hk, v)
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
		sh, hk := s.locate(o.Key)
		sh.m.Store(hk, o.Value)
	}
	s.unlockAll(idx)
}

// InsertNew stores {k, v} only if key k is absent, and reports whether it did
// (ets:insert_new/2 with one object).
func (s *Set[K, V]) InsertNew(k K, v V) bool {
	sh, hk := s.locate(k)
	sh.mu.Lock()
	_, loaded := sh.m.LoadOrStore(hk, v)
	sh.mu.Unlock()
	return !loaded
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
		sh, hk := s.locate(o.Key)
		if _, ok := sh.m.Load(hk); ok {
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
		sh, hk := s.locate(o.Key)
		sh.m.Store(hk, o.Value)
	}
	s.unlockAll(idx)
	return true
}

// Delete removes the object of key k, if any (ets:delete/2).
func (s *Set[K, V]) Delete(k K) {
	sh, hk := s.locate(k)
	sh.mu.Lock()
	sh.m.Delete(hk)
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
	sh, hk := s.locate(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v, ok := sh.m.Load(hk); ok && match(v) {
		sh.m.Delete(hk)
		return true
	}
	return false
}

// Take removes the object of key k and returns its value (ets:take/2).
func (s *Set[K, V]) Take(k K) (V, bool) {
	sh, hk := s.locate(k)
	sh.mu.Lock()
	v, ok := sh.m.LoadAndDelete(hk)
	sh.mu.Unlock()
	return v, ok
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
	sh, hk := s.locate(k)
	sh.mu.Lock()
	defer sh.mu.Unlock() // f may be the caller's code: a panic must not leave the shard locked
	old, ok := sh.m.Load(hk)
	nv, store := f(old, ok)
	if store {
		sh.m.Store(hk, nv)
	}
	return nv, ok
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
		s.shards[i].m.Range(func(hk hkey[K], v V) bool {
			if pred(hk.k, v) {
				dst = append(dst, Object[K, V]{hk.k, v})
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
		sh.m.Range(func(hk hkey[K], v V) bool {
			if pred(hk.k, v) {
				cand = append(cand, hk)
			}
			return true
		})
		for _, hk := range cand {
			sh.mu.Lock()
			if v, ok := sh.m.Load(hk); ok && pred(hk.k, v) {
				sh.m.Delete(hk)
				n++
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
			ok := true
			s.shards[i].m.Range(func(hk hkey[K], v V) bool {
				ok = yield(hk.k, v)
				return ok
			})
			if !ok {
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
		n += s.shards[i].m.Size()
	}
	return n
}

// Memory estimates the bytes the table uses (ets:info(T, memory), in bytes
// rather than words): the shards, the map buckets and one entry per object
// (hash, key, value, rounded to the allocator's size class). Memory that keys
// and values point to (string bytes, slices) is not counted. It walks every
// bucket: O(objects), for diagnostics.
func (s *Set[K, V]) Memory() int {
	total := int(unsafe.Sizeof(*s)) + len(s.shards)*int(unsafe.Sizeof(s.shards[0]))
	entry := roundClass(int(unsafe.Sizeof(hkey[K]{})) + int(unsafe.Sizeof(*new(V))))
	for i := range s.shards {
		st := s.shards[i].m.Stats()
		total += st.TotalBuckets*pad.CacheLine + st.CounterLen*pad.CacheLine + st.Size*entry
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
		sh.m.Clear()
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
