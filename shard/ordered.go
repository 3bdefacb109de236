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
// Shards: by default an OrderedSet is one tidwall/btree behind one RWMutex,
// as ETS's ordered_set is one tree: range scans copy a chunk of that tree
// (64 objects, then 64, doubling to 256) under its read lock and yield it
// with no lock held, and point operations cost one tree search. The price
// is that all writers share that lock. [WithShards](n) with n > 1 spreads
// keys over n trees by a seeded hash, each behind its own RWMutex, so a
// writer waits only for the writers and readers of its own shard, never for
// another shard; ordered operations then pay for it: [OrderedSet.First],
// [OrderedSet.Next] and the like ask every shard (O(n · log size)), and
// iteration seeks in every shard and merges per-shard chunks (16 objects,
// doubling to 256) through a heap, taking one shard's read lock at a time.
// A scan of 100 keys costs several times more with 8 shards than with one.
// Use more shards when writes from many goroutines dominate and scans are
// rare.
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
	st, err := buildSettingsShards(opts, 1)
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
	if len(o.shards) == 1 {
		return 0
	}
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

// A merged iteration copies a chunk of each shard at a time: firstChunk
// objects at first (a short range scan then copies little), doubling on each
// refill up to maxChunk objects under one read lock. A single-shard table
// starts at firstChunk1: it needs no merge, so the whole first chunk is
// likely to be used.
const (
	firstChunk  = 16
	firstChunk1 = 64
	maxChunk    = 256
)

// fill appends to dst up to chunk objects of this shard from from on (all
// objects when !has), in the direction of iteration, skipping an object
// equal to from unless incl.
func (sh *orderedShard[K, V]) fill(dst []item[K, V], chunk int, from K, has, incl, back bool, less func(a, b K) bool) []item[K, V] {
	// Ascend and Descend start at the object nearest to from on its side,
	// so only the first object visited can be equal to from.
	skip := has && !incl
	f := func(x item[K, V]) bool {
		if skip {
			skip = false
			if back && !less(x.k, from) || !back && !less(from, x.k) {
				return true // equal to from
			}
		}
		dst = append(dst, x)
		return len(dst) < chunk
	}
	sh.mu.RLock()
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
	sh.mu.RUnlock()
	return dst
}

// scan yields objects in key order (descending if back), starting at from
// (inclusive if incl) when has. One shard: chunks of its tree in turn.
// Several: a k-way merge of per-shard chunks over a binary heap of cursors.
// A cursor is refilled as soon as its chunk is used up, before anything else
// is yielded: everything yielded so far is then at or before the key it
// refills from, so keys stay strictly ordered even under concurrent inserts.
//
// With hasEnd, the scan stops after end (before it if back): each chunk is
// cut at end by a binary search, so keys are not compared with end one by
// one.
func (o *OrderedSet[K, V]) scan(from K, has, incl bool, end K, hasEnd, back bool, yield func(K, V) bool) {
	if len(o.shards) == 1 {
		o.scan1(from, has, incl, end, hasEnd, back, yield)
		return
	}
	o.merge(from, has, incl, end, hasEnd, back, yield)
}

// cut drops the objects of the sorted chunk buf that lie beyond end, and
// reports whether it dropped any (the scan of that shard is then over).
func (o *OrderedSet[K, V]) cut(buf []item[K, V], end K, back bool) ([]item[K, V], bool) {
	beyond := func(k K) bool {
		if back {
			return o.less(k, end)
		}
		return o.less(end, k)
	}
	n := len(buf)
	if n == 0 || !beyond(buf[n-1].k) {
		return buf, false
	}
	i, j := 0, n-1 // buf[j] is beyond end; find the first one that is
	for i < j {
		h := int(uint(i+j) >> 1)
		if beyond(buf[h].k) {
			j = h
		} else {
			i = h + 1
		}
	}
	return buf[:i], true
}

func (o *OrderedSet[K, V]) scan1(from K, has, incl bool, end K, hasEnd, back bool, yield func(K, V) bool) {
	sh := &o.shards[0]
	var first [firstChunk1]item[K, V] // the first two chunks: no allocation for short scans
	chunk, fills := firstChunk1, 0
	buf := sh.fill(first[:0], chunk, from, has, incl, back, o.less)
	for {
		full := len(buf) == chunk
		if hasEnd {
			var over bool
			if buf, over = o.cut(buf, end, back); over {
				full = false
			}
		}
		for _, it := range buf {
			if !yield(it.k, it.v) {
				return
			}
		}
		if !full {
			return
		}
		last := buf[len(buf)-1].k
		if fills++; fills > 1 && chunk < maxChunk {
			chunk *= 2
			buf = make([]item[K, V], 0, chunk)
		}
		buf = sh.fill(buf[:0], chunk, last, true, false, back, o.less)
	}
}

// cursor is one shard's place in a merge: its current chunk and whether the
// shard has nothing beyond it.
type cursor[K, V any] struct {
	buf  []item[K, V]
	pos  int
	done bool
}

func (o *OrderedSet[K, V]) merge(from K, has, incl bool, end K, hasEnd, back bool, yield func(K, V) bool) {
	n := len(o.shards)
	curs := make([]cursor[K, V], n)
	heap := make([]int32, 0, n)
	backing := make([]item[K, V], firstChunk*n)
	// before reports whether cursor a's current key comes before b's.
	before := func(a, b int32) bool {
		x, y := curs[a].buf[curs[a].pos].k, curs[b].buf[curs[b].pos].k
		if back {
			return o.less(y, x)
		}
		return o.less(x, y)
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(heap) {
				return
			}
			m := l
			if r := l + 1; r < len(heap) && before(heap[r], heap[l]) {
				m = r
			}
			if !before(heap[m], heap[i]) {
				return
			}
			heap[i], heap[m] = heap[m], heap[i]
			i = m
		}
	}
	for i := range curs {
		c := &curs[i]
		c.buf = o.shards[i].fill(backing[i*firstChunk:i*firstChunk:(i+1)*firstChunk], firstChunk, from, has, incl, back, o.less)
		c.done = len(c.buf) < firstChunk
		if hasEnd {
			var over bool
			c.buf, over = o.cut(c.buf, end, back)
			c.done = c.done || over
		}
		if len(c.buf) > 0 {
			heap = append(heap, int32(i))
		}
	}
	for i := len(heap)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(heap) > 0 {
		top := heap[0]
		c := &curs[top]
		it := c.buf[c.pos]
		c.pos++
		if c.pos == len(c.buf) {
			if c.done {
				c.buf = nil
			} else {
				m := min(2*cap(c.buf), maxChunk)
				if cap(c.buf) < m {
					c.buf = make([]item[K, V], 0, m)
				}
				c.buf = o.shards[top].fill(c.buf[:0], m, it.k, true, false, back, o.less)
				c.pos = 0
				c.done = len(c.buf) < m
				if hasEnd {
					var over bool
					c.buf, over = o.cut(c.buf, end, back)
					c.done = c.done || over
				}
			}
			if len(c.buf) == 0 {
				heap[0] = heap[len(heap)-1]
				heap = heap[:len(heap)-1]
			}
		}
		down(0)
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
		o.scan(zero, false, false, zero, false, false, yield)
	}
}

// Backward is [OrderedSet.All] in descending key order (ets:last/1 and
// ets:prev/2 in a loop, ets:foldr/3).
func (o *OrderedSet[K, V]) Backward() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		var zero K
		o.scan(zero, false, false, zero, false, true, yield)
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
		o.scan(from, true, true, end, true, desc, yield)
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
	o.scan(from, c != nil, false, from, false, false, func(k K, v V) bool {
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
