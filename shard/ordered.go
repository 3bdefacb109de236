package shard

import (
	"cmp"
	"iter"
	"sync"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/tidwall/btree"
)

type item[K, V any] struct {
	k K
	v V
}

// orderedShard is one shard of an [OrderedSet]: a B-tree of the keys that
// hash to it, behind its own lock. Padded to two cache lines so that the
// locks of two shards never share one.
type orderedShard[K, V any] struct {
	mu sync.RWMutex
	t  *btree.BTreeG[item[K, V]]
	_  [2*pad.CacheLine - unsafe.Sizeof(sync.RWMutex{}) - 8]byte
}

// OrderedSet is an ETS ordered_set table: one object a key, iterated in key
// order, with range scans and First/Last/Next/Prev.
//
// Sharding: keys are spread over shards by a seeded hash, each shard a
// tidwall/btree behind its own RWMutex, so a writer waits only for the
// writers and readers of its own shard, never for another shard. Ordered
// operations merge the shards: [OrderedSet.First], [OrderedSet.Next] and the
// like ask every shard (O(shards · log n)), and iteration merges per-shard
// chunks (16 keys, doubling to 256), taking one shard's read lock at a time
// for one chunk.
// (Sharding by key range would keep scans on one tree but needs the key
// distribution up front; one tree behind one lock would make every writer
// wait for every other.) Use [WithShards](1) for a single tree when scans
// dominate.
//
// Every method is safe for concurrent use. Single-object operations and
// [OrderedSet.InsertList] are atomic and isolated. Iteration is not a
// snapshot but keys come out strictly ordered, each at most once (see the
// package doc). An OrderedSet must be made with [NewOrderedSet] or
// [NewOrderedSetFunc] and not copied.
type OrderedSet[K comparable, V any] struct {
	_      noCopy
	h      hasher[K]
	less   func(a, b K) bool
	shards []orderedShard[K, V]
}

// NewOrderedSet makes an empty ordered_set table (ets:new(T, [ordered_set]))
// ordered by cmp.Less, so a NaN key sorts first and all NaNs are one key. It
// returns an error wrapping [ErrOption] for a bad option.
func NewOrderedSet[K cmp.Ordered, V any](opts ...Option) (*OrderedSet[K, V], error) {
	return NewOrderedSetFunc[K, V](cmp.Less[K], opts...)
}

// NewOrderedSetFunc makes an empty ordered_set table ordered by less, a strict
// weak order that must agree with ==: two keys are equivalent under less if
// and only if they are equal. (Keys are sharded by hash, so two keys that are
// equivalent but not equal would be kept as two objects.) A nil less is an
// error wrapping [ErrNilFunc]; a bad option, one wrapping [ErrOption].
func NewOrderedSetFunc[K comparable, V any](less func(a, b K) bool, opts ...Option) (*OrderedSet[K, V], error) {
	if less == nil {
		return nil, ErrNilFunc
	}
	st, err := buildSettings(opts)
	if err != nil {
		return nil, err
	}
	o := &OrderedSet[K, V]{h: newHasher[K](st.shards), less: less, shards: make([]orderedShard[K, V], st.shards)}
	itemLess := func(a, b item[K, V]) bool { return less(a.k, b.k) }
	for i := range o.shards {
		o.shards[i].t = btree.NewBTreeGOptions(itemLess, btree.Options{NoLocks: true})
	}
	return o, nil
}

func (o *OrderedSet[K, V]) idx(k K) int {
	if k != k { // NaN: its hash is random, so pin it
		return 0
	}
	return o.h.index(o.h.hash(k))
}

func (o *OrderedSet[K, V]) shard(k K) *orderedShard[K, V] { return &o.shards[o.idx(k)] }

// Lookup returns the value of key k and whether k is present (ets:lookup/2).
// It takes k's shard read lock and does not allocate.
func (o *OrderedSet[K, V]) Lookup(k K) (V, bool) {
	sh := o.shard(k)
	sh.mu.RLock()
	it, ok := sh.t.Get(item[K, V]{k: k})
	sh.mu.RUnlock()
	return it.v, ok
}

// Member reports whether key k is present (ets:member/2).
func (o *OrderedSet[K, V]) Member(k K) bool {
	_, ok := o.Lookup(k)
	return ok
}

// Insert stores {k, v}, replacing the object of key k if any (ets:insert/2).
// It locks k's shard only.
func (o *OrderedSet[K, V]) Insert(k K, v V) {
	sh := o.shard(k)
	sh.mu.Lock()
	sh.t.Set(item[K, V]{k, v})
	sh.mu.Unlock()
}

func (o *OrderedSet[K, V]) shardIdx(objs []Object[K, V], buf []int) []int {
	buf = buf[:0]
	for _, ob := range objs {
		buf = append(buf, o.idx(ob.Key))
	}
	return sortCompact(buf)
}

// InsertList stores every object of objs atomically and isolated
// (ets:insert/2 with a list): the shards it touches are write-locked in
// ascending order for the whole insert. A key repeated in objs keeps its last
// object, as ETS does.
func (o *OrderedSet[K, V]) InsertList(objs []Object[K, V]) {
	if len(objs) == 0 {
		return
	}
	var buf [8]int
	idx := o.shardIdx(objs, buf[:0])
	for _, i := range idx {
		o.shards[i].mu.Lock()
	}
	for _, ob := range objs {
		o.shard(ob.Key).t.Set(item[K, V]{ob.Key, ob.Value})
	}
	for _, i := range idx {
		o.shards[i].mu.Unlock()
	}
}

// InsertNew stores {k, v} only if k is absent and reports whether it did
// (ets:insert_new/2).
func (o *OrderedSet[K, V]) InsertNew(k K, v V) bool {
	sh := o.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.t.Get(item[K, V]{k: k}); ok {
		return false
	}
	sh.t.Set(item[K, V]{k, v})
	return true
}

// InsertNewList stores all of objs if none of their keys is present, and
// nothing otherwise (ets:insert_new/2 with a list); atomic like
// [OrderedSet.InsertList]. A key repeated inside objs is not a conflict.
func (o *OrderedSet[K, V]) InsertNewList(objs []Object[K, V]) bool {
	if len(objs) == 0 {
		return true
	}
	var buf [8]int
	idx := o.shardIdx(objs, buf[:0])
	for _, i := range idx {
		o.shards[i].mu.Lock()
	}
	defer func() {
		for _, i := range idx {
			o.shards[i].mu.Unlock()
		}
	}()
	for _, ob := range objs {
		if _, ok := o.shard(ob.Key).t.Get(item[K, V]{k: ob.Key}); ok {
			return false
		}
	}
	for _, ob := range objs {
		o.shard(ob.Key).t.Set(item[K, V]{ob.Key, ob.Value})
	}
	return true
}

// Delete removes the object of key k, if any (ets:delete/2).
func (o *OrderedSet[K, V]) Delete(k K) {
	sh := o.shard(k)
	sh.mu.Lock()
	sh.t.Delete(item[K, V]{k: k})
	sh.mu.Unlock()
}

// DeleteObjectFunc removes the object of key k if match accepts its value and
// reports whether it did (ets:delete_object/2; see [Set.DeleteObjectFunc]).
// match runs with k's shard locked and must not use the table.
func (o *OrderedSet[K, V]) DeleteObjectFunc(k K, match func(V) bool) bool {
	if match == nil {
		return false
	}
	sh := o.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if it, ok := sh.t.Get(item[K, V]{k: k}); ok && match(it.v) {
		sh.t.Delete(it)
		return true
	}
	return false
}

// Take removes the object of key k and returns its value (ets:take/2).
func (o *OrderedSet[K, V]) Take(k K) (V, bool) {
	sh := o.shard(k)
	sh.mu.Lock()
	it, ok := sh.t.Delete(item[K, V]{k: k})
	sh.mu.Unlock()
	return it.v, ok
}

// UpdateElement replaces the value of k with v if k is present and reports
// whether it was (ets:update_element/3 on position 2).
func (o *OrderedSet[K, V]) UpdateElement(k K, v V) bool {
	_, ok := o.Update(k, func(V) V { return v })
	return ok
}

// Update replaces the value of k with fn(old) if k is present and returns the
// new value. fn runs exactly once with k's shard locked: it must be quick and
// must not use the table. A nil fn or an absent key changes nothing and
// returns false.
func (o *OrderedSet[K, V]) Update(k K, fn func(old V) V) (V, bool) {
	var zero V
	if fn == nil {
		return zero, false
	}
	return o.modify(k, func(old V, ok bool) (V, bool) {
		if !ok {
			return zero, false
		}
		return fn(old), true
	})
}

func (o *OrderedSet[K, V]) modify(k K, f func(old V, ok bool) (V, bool)) (V, bool) {
	sh := o.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	it, ok := sh.t.Get(item[K, V]{k: k})
	nv, store := f(it.v, ok)
	if store {
		sh.t.Set(item[K, V]{k, nv})
	}
	return nv, ok
}

// First returns the smallest key (ets:first/1); false on an empty table
// ('$end_of_table'). It read-locks each shard in turn.
func (o *OrderedSet[K, V]) First() (K, bool) { return o.edge(false) }

// Last returns the largest key (ets:last/1); false on an empty table.
func (o *OrderedSet[K, V]) Last() (K, bool) { return o.edge(true) }

func (o *OrderedSet[K, V]) edge(max bool) (K, bool) {
	var best K
	found := false
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.RLock()
		var it item[K, V]
		var ok bool
		if max {
			it, ok = sh.t.Max()
		} else {
			it, ok = sh.t.Min()
		}
		sh.mu.RUnlock()
		if ok && (!found || (max && o.less(best, it.k)) || (!max && o.less(it.k, best))) {
			best, found = it.k, true
		}
	}
	return best, found
}

// Next returns the smallest key strictly greater than k (ets:next/2); k need
// not be in the table. False means there is none ('$end_of_table').
func (o *OrderedSet[K, V]) Next(k K) (K, bool) { return o.step(k, false) }

// Prev returns the largest key strictly smaller than k (ets:prev/2); k need
// not be in the table. False means there is none.
func (o *OrderedSet[K, V]) Prev(k K) (K, bool) { return o.step(k, true) }

func (o *OrderedSet[K, V]) step(k K, back bool) (K, bool) {
	var best K
	found := false
	for i := range o.shards {
		it, ok := o.shards[i].neighbour(k, back, o.less)
		if ok && (!found || (back && o.less(best, it.k)) || (!back && o.less(it.k, best))) {
			best, found = it.k, true
		}
	}
	return best, found
}

func (sh *orderedShard[K, V]) neighbour(k K, back bool, less func(a, b K) bool) (it item[K, V], ok bool) {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	f := func(x item[K, V]) bool {
		if back && less(x.k, k) || !back && less(k, x.k) {
			it, ok = x, true
			return false
		}
		return true
	}
	if back {
		sh.t.Descend(item[K, V]{k: k}, f)
	} else {
		sh.t.Ascend(item[K, V]{k: k}, f)
	}
	return
}

// A merged iteration takes firstChunk objects from each shard at first (a
// short range scan then copies little), doubling on each refill up to
// maxChunk objects under one read lock.
const (
	firstChunk = 16
	maxChunk   = 256
)

// fill appends to dst up to chunk objects of this shard beyond from (strictly,
// unless incl), in the direction of iteration.
func (sh *orderedShard[K, V]) fill(dst []item[K, V], chunk int, from K, has, incl, back bool, less func(a, b K) bool) []item[K, V] {
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	f := func(x item[K, V]) bool {
		if has && !incl && !less(from, x.k) && !less(x.k, from) {
			return true // equal to from: skip
		}
		dst = append(dst, x)
		return len(dst) < chunk
	}
	switch {
	case !has && back:
		sh.t.Reverse(f)
	case !has:
		sh.t.Scan(f)
	case back:
		sh.t.Descend(item[K, V]{k: from}, f)
	default:
		sh.t.Ascend(item[K, V]{k: from}, f)
	}
	return dst
}

// scan yields objects in key order (descending if back), starting at from
// (inclusive if incl) when has, merging per-shard chunks.
func (o *OrderedSet[K, V]) scan(from K, has, incl, back bool, yield func(K, V) bool) {
	type cur struct {
		buf  []item[K, V]
		pos  int
		done bool
	}
	curs := make([]cur, len(o.shards))
	backing := make([]item[K, V], firstChunk*len(o.shards))
	for i := range curs {
		buf := backing[i*firstChunk : i*firstChunk : (i+1)*firstChunk]
		curs[i].buf = o.shards[i].fill(buf, firstChunk, from, has, incl, back, o.less)
		curs[i].done = len(curs[i].buf) < firstChunk
	}
	for {
		best := -1
		for i := range curs {
			c := &curs[i]
			if c.pos == len(c.buf) {
				if c.done {
					continue
				}
				last := c.buf[len(c.buf)-1].k
				n := min(2*cap(c.buf), maxChunk)
				if cap(c.buf) < n {
					c.buf = make([]item[K, V], 0, n)
				}
				c.buf = o.shards[i].fill(c.buf[:0], n, last, true, false, back, o.less)
				c.pos = 0
				c.done = len(c.buf) < n
				if len(c.buf) == 0 {
					continue
				}
			}
			if best < 0 {
				best = i
				continue
			}
			a, b := c.buf[c.pos].k, curs[best].buf[curs[best].pos].k
			if back && o.less(b, a) || !back && o.less(a, b) {
				best = i
			}
		}
		if best < 0 {
			return
		}
		c := &curs[best]
		it := c.buf[c.pos]
		c.pos++
		if !yield(it.k, it.v) {
			return
		}
	}
}

// All returns an iterator over the objects in ascending key order
// (ets:first/1 and ets:next/2 in a loop, ets:foldl/3, ets:tab2list/1). No
// lock is held while the loop body runs. Not a snapshot: keys come out
// strictly ascending, each at most once; an object present and unchanged for
// the whole loop is yielded; one written meanwhile may be yielded with its
// old or new value or not at all.
func (o *OrderedSet[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		var zero K
		o.scan(zero, false, false, false, yield)
	}
}

// Backward is [OrderedSet.All] in descending key order (ets:last/1 and
// ets:prev/2 in a loop, ets:foldr/3).
func (o *OrderedSet[K, V]) Backward() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		var zero K
		o.scan(zero, false, false, true, yield)
	}
}

// Range returns an iterator over the objects whose keys are in [lo, hi]
// (inclusive), ascending, or descending from hi to lo if desc
// (ets:select/2 on a key range, which ETS answers from the tree's order).
// It is empty when hi < lo; otherwise like [OrderedSet.All].
func (o *OrderedSet[K, V]) Range(lo, hi K, desc bool) iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		if o.less(hi, lo) {
			return
		}
		from, end := lo, hi
		if desc {
			from, end = hi, lo
		}
		o.scan(from, true, true, desc, func(k K, v V) bool {
			if desc && o.less(k, end) || !desc && o.less(end, k) {
				return false
			}
			return yield(k, v)
		})
	}
}

// Select returns up to limit objects, in ascending key order, for which pred
// is true, and a continuation that resumes after the last key returned, or
// nil when the table has been scanned (ets:select/3, ets:select/1). limit 0
// means no limit. pred runs without any lock held. Errors: [ErrNilFunc],
// [ErrLimit], [ErrContinuation]; the table is never changed.
func (o *OrderedSet[K, V]) Select(pred func(K, V) bool, limit int, c *Continuation[K, V]) ([]Object[K, V], *Continuation[K, V], error) {
	if err := checkSelect(o, pred, limit, c); err != nil {
		return nil, nil, err
	}
	var out []Object[K, V]
	var from K
	if c != nil {
		from = c.after
	}
	more := false
	o.scan(from, c != nil, false, false, func(k K, v V) bool {
		if limit > 0 && len(out) == limit {
			more = true
			return false
		}
		if pred(k, v) {
			out = append(out, Object[K, V]{k, v})
		}
		return true
	})
	if !more {
		return out, nil, nil
	}
	return out, &Continuation[K, V]{owner: o, after: out[len(out)-1].Key}, nil
}

// SelectCount returns the number of objects for which pred is true
// (ets:select_count/2). A nil pred counts nothing.
func (o *OrderedSet[K, V]) SelectCount(pred func(K, V) bool) int {
	if pred == nil {
		return 0
	}
	n := 0
	for k, v := range o.All() {
		if pred(k, v) {
			n++
		}
	}
	return n
}

// SelectDelete removes the objects for which pred is true and returns how
// many (ets:select_delete/2). pred runs with one shard write-locked at a
// time and must not use the table; each shard is pruned atomically, the
// table as a whole is not. A nil pred removes nothing.
func (o *OrderedSet[K, V]) SelectDelete(pred func(K, V) bool) int {
	if pred == nil {
		return 0
	}
	n := 0
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.Lock()
		var del []item[K, V]
		sh.t.Scan(func(x item[K, V]) bool {
			if pred(x.k, x.v) {
				del = append(del, x)
			}
			return true
		})
		for _, x := range del {
			sh.t.Delete(x)
		}
		n += len(del)
		sh.mu.Unlock()
	}
	return n
}

// Len returns the number of objects (ets:info(T, size)), read-locking each
// shard in turn.
func (o *OrderedSet[K, V]) Len() int {
	n := 0
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.RLock()
		n += sh.t.Len()
		sh.mu.RUnlock()
	}
	return n
}

// Memory estimates the bytes the table uses: shards plus B-tree nodes,
// counted as objects at 3/4 node occupancy plus a node header per 48
// objects. Memory that keys and values point to is not counted. O(shards).
func (o *OrderedSet[K, V]) Memory() int {
	n := o.Len()
	per := int(unsafe.Sizeof(item[K, V]{}))
	return int(unsafe.Sizeof(*o)) + len(o.shards)*int(unsafe.Sizeof(o.shards[0])) +
		n*per*4/3 + (n/48+len(o.shards))*(64+64*8)
}

// DeleteAllObjects removes every object (ets:delete_all_objects/1), one
// shard at a time: each shard is emptied atomically, the table as a whole is
// not.
func (o *OrderedSet[K, V]) DeleteAllObjects() {
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.Lock()
		sh.t.Clear()
		sh.mu.Unlock()
	}
}
