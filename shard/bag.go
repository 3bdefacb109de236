package shard

import (
	"iter"
	"slices"
	"sync"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/pad"
)

// bagShard is one shard of a bag: the per-key lists of the keys that hash to
// it, behind its own lock, padded to two cache lines so that two shards'
// locks never share one.
type bagShard[K, V comparable] struct {
	mu sync.RWMutex
	m  map[K][]V // per-key objects in insertion order; never an empty list
	n  int       // objects, under mu
	_  [2*pad.CacheLine - unsafe.Sizeof(sync.RWMutex{}) - 16]byte
}

// bagCore implements both Bag (dup false) and DuplicateBag (dup true).
type bagCore[K, V comparable] struct {
	_      noCopy
	h      hasher[K]
	dup    bool
	shards []bagShard[K, V]
}

func newBagCore[K, V comparable](dup bool, opts []Option) (*bagCore[K, V], error) {
	st, err := buildSettings(opts)
	if err != nil {
		return nil, err
	}
	c := &bagCore[K, V]{h: newHasher[K](st.shards), dup: dup, shards: make([]bagShard[K, V], st.shards)}
	for i := range c.shards {
		c.shards[i].m = make(map[K][]V, st.sizeHint/st.shards)
	}
	return c, nil
}

func (c *bagCore[K, V]) idx(k K) int               { return c.h.index(c.h.hash(k)) }
func (c *bagCore[K, V]) shard(k K) *bagShard[K, V] { return &c.shards[c.idx(k)] }

// put adds one object with the shard locked: a bag ignores an identical
// object (the existing copy keeps its place), a duplicate bag appends it.
func (c *bagCore[K, V]) put(sh *bagShard[K, V], k K, v V) {
	l := sh.m[k]
	if !c.dup && slices.Contains(l, v) {
		return
	}
	sh.m[k] = append(l, v)
	sh.n++
}

func (c *bagCore[K, V]) insert(k K, v V) {
	sh := c.shard(k)
	sh.mu.Lock()
	c.put(sh, k, v)
	sh.mu.Unlock()
}

func (c *bagCore[K, V]) lockList(objs []Object[K, V], buf []int) []int {
	buf = buf[:0]
	for _, o := range objs {
		buf = append(buf, c.idx(o.Key))
	}
	buf = sortCompact(buf)
	for _, i := range buf {
		c.shards[i].mu.Lock()
	}
	return buf
}

func (c *bagCore[K, V]) unlockList(idx []int) {
	for _, i := range idx {
		c.shards[i].mu.Unlock()
	}
}

func (c *bagCore[K, V]) insertList(objs []Object[K, V]) {
	if len(objs) == 0 {
		return
	}
	var buf [8]int
	idx := c.lockList(objs, buf[:0])
	defer c.unlockList(idx)
	for _, o := range objs {
		c.put(c.shard(o.Key), o.Key, o.Value)
	}
}

func (c *bagCore[K, V]) insertNew(k K, v V) bool {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[k]; ok {
		return false
	}
	c.put(sh, k, v)
	return true
}

func (c *bagCore[K, V]) insertNewList(objs []Object[K, V]) bool {
	if len(objs) == 0 {
		return true
	}
	var buf [8]int
	idx := c.lockList(objs, buf[:0])
	defer c.unlockList(idx)
	for _, o := range objs {
		if _, ok := c.shard(o.Key).m[o.Key]; ok {
			return false
		}
	}
	for _, o := range objs {
		c.put(c.shard(o.Key), o.Key, o.Value)
	}
	return true
}

func (c *bagCore[K, V]) lookup(dst []V, k K) []V {
	sh := c.shard(k)
	sh.mu.RLock()
	dst = append(dst, sh.m[k]...)
	sh.mu.RUnlock()
	return dst
}

func (c *bagCore[K, V]) count(k K) int {
	sh := c.shard(k)
	sh.mu.RLock()
	n := len(sh.m[k])
	sh.mu.RUnlock()
	return n
}

func (c *bagCore[K, V]) take(dst []V, k K) []V {
	sh := c.shard(k)
	sh.mu.Lock()
	l := sh.m[k]
	dst = append(dst, l...)
	sh.n -= len(l)
	delete(sh.m, k)
	sh.mu.Unlock()
	return dst
}

func (c *bagCore[K, V]) deleteObject(k K, v V) int {
	sh := c.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l, ok := sh.m[k]
	if !ok {
		return 0
	}
	var nl []V
	if c.dup {
		nl = slices.DeleteFunc(l, func(x V) bool { return x == v })
	} else if i := slices.Index(l, v); i >= 0 {
		nl = slices.Delete(l, i, i+1)
	} else {
		return 0
	}
	n := len(l) - len(nl)
	sh.n -= n
	if len(nl) == 0 {
		delete(sh.m, k)
	} else {
		sh.m[k] = nl
	}
	return n
}

// snapshot copies the objects of shard i (under its read lock) onto dst.
func (c *bagCore[K, V]) snapshot(i int, dst []Object[K, V]) []Object[K, V] {
	sh := &c.shards[i]
	sh.mu.RLock()
	dst = slices.Grow(dst, sh.n)
	for k, l := range sh.m {
		for _, v := range l {
			dst = append(dst, Object[K, V]{k, v})
		}
	}
	sh.mu.RUnlock()
	return dst
}

func (c *bagCore[K, V]) selectObjs(owner any, pred func(K, V) bool, limit int, cont *Continuation[K, V]) ([]Object[K, V], *Continuation[K, V], error) {
	if err := checkSelect(owner, pred, limit, cont); err != nil {
		return nil, nil, err
	}
	out, next := selectShards(owner, len(c.shards), limit, cont, func(i int, dst []Object[K, V]) []Object[K, V] {
		return slices.DeleteFunc(c.snapshot(i, dst), func(o Object[K, V]) bool { return !pred(o.Key, o.Value) })
	})
	return out, next, nil
}

func (c *bagCore[K, V]) selectDelete(pred func(K, V) bool) int {
	if pred == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		for _, o := range c.snapshot(i, nil) {
			if pred(o.Key, o.Value) {
				// Delete this very object; for a duplicate bag, every copy of it.
				// Removes this object; in a duplicate bag every copy of it, so
				// the later copies in the snapshot then remove nothing.
				n += c.deleteObject(o.Key, o.Value)
			}
		}
	}
	return n
}

func (c *bagCore[K, V]) all() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		var buf []Object[K, V]
		for i := range c.shards {
			buf = c.snapshot(i, buf[:0])
			for _, o := range buf {
				if !yield(o.Key, o.Value) {
					return
				}
			}
		}
	}
}

func (c *bagCore[K, V]) selectCount(pred func(K, V) bool) int {
	if pred == nil {
		return 0
	}
	n := 0
	for k, v := range c.all() {
		if pred(k, v) {
			n++
		}
	}
	return n
}

func (c *bagCore[K, V]) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += sh.n
		sh.mu.RUnlock()
	}
	return n
}

func (c *bagCore[K, V]) memory() int {
	total := int(unsafe.Sizeof(*c)) + len(c.shards)*int(unsafe.Sizeof(c.shards[0]))
	kv := int(unsafe.Sizeof(*new(K)))
	vs := int(unsafe.Sizeof(*new(V)))
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		// Go map slots: key + slice header + control byte, at ~7/8 load.
		total += len(sh.m) * (kv + 24 + 1) * 8 / 7
		for _, l := range sh.m {
			total += roundClass(cap(l) * vs)
		}
		sh.mu.RUnlock()
	}
	return total
}

func (c *bagCore[K, V]) deleteAll() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.n = 0
		sh.mu.Unlock()
	}
}
