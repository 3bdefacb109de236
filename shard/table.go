package shard

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/atomicx"
)

// table is the hash table of a [Set]: buckets of entry pointers, read
// without a lock. Writers of a bucket hold the mutex of its stripe; on
// amd64 an overwrite of an existing entry needs only the entry's own lock.
//
// Why not xsync.MapOf: MapOf allocates a new
// entry on every Store, so that overwriting a key costs an allocation and
// the garbage it makes, and sharding it meant a second level of tables
// with a key wrapper that carried the hash. Here an entry is allocated once
// per key and, on amd64 without the race detector, overwritten in place
// under its sequence word (see [entry]). Everything a writer changes is
// published with release stores. A table is never changed in a way that a
// reader holding a stale pointer to it could misread: growth builds a new
// table that shares the entries, so an in-place write reaches both, and a
// removed entry is marked dead, so a reader who reaches it through the old
// table looks again.
type table[K comparable, V any] struct {
	buckets []bucket[K, V]
	mask    uint64 // len(buckets)-1; len is a power of two
}

// slotsPerBucket makes a bucket one cache line: the tag word, six entry
// pointers and the overflow pointer.
const slotsPerBucket = 6

// growLoad is the average number of objects a bucket holds before the table
// doubles (2/3 of its slots, so that few buckets overflow). Each stripe
// checks its own share after an insert.
const growLoad = 4

// minBuckets is the least size of a table (a Set's is also never below its
// stripe count, so that a bucket belongs to one stripe).
const minBuckets = 4

// bucket is one cache line of a table. Byte i of meta is the tag of
// slots[i]: 0 when the slot is empty, else 0x80 | 7 bits of the entry's hash,
// so that a lookup compares keys only on a tag match.
type bucket[K comparable, V any] struct {
	meta  atomic.Uint64
	slots [slotsPerBucket]atomic.Pointer[entry[K, V]]
	next  atomic.Pointer[bucket[K, V]] // overflow bucket, or nil
}

// entry is one object. h and key never change after the entry is published.
// When [atomicx.InPlace], val is rewritten in place by the writer that owns
// seq (see seqLocked), and readers check seq around their copy (a sequence
// lock). Otherwise a write publishes a new entry in the slot, under the
// stripe's mutex, so that a published entry's val never changes (seq then
// only marks the objects of a list insert held for writing).
//
// h is the low half of the key's hash: all that picks a bucket (a table
// never has 2^32 buckets) and the tag, so growth needs no rehash. With the
// 32-bit sequence word it fills one 8-byte word: a string key and an int
// value make a 32-byte entry, the size xsync.MapOf's entries have.
type entry[K comparable, V any] struct {
	seq atomic.Uint32
	h   uint32
	key K
	val V
}

const (
	tagHigh  = 0x8080808080808080
	tagLow   = 0x0101010101010101
	metaUsed = 1<<(8*slotsPerBucket) - 1 // the bytes of meta that describe slots
)

// tagOf is the tag byte of hash h: bits 24-30, apart from the low bits that
// pick the bucket (and so the stripe), up to tables of 2^24 buckets.
func tagOf(h uint32) uint64 { return uint64(h>>24&0x7f | 0x80) }

// matches returns one bit 7 of each byte of meta equal to tag (and maybe a
// false match above a true one: callers compare the entry).
func matches(meta, tag uint64) uint64 {
	x := meta ^ tag*tagLow
	return (x - tagLow) &^ x & tagHigh & metaUsed
}

func newTable[K comparable, V any](nBuckets int) *table[K, V] {
	n := minBuckets
	if nBuckets > n {
		n = 1 << bits.Len(uint(nBuckets-1))
	}
	return &table[K, V]{buckets: make([]bucket[K, V], n), mask: uint64(n - 1)}
}

// bucketsFor is the table size that holds n objects without growing.
func bucketsFor(n int) int { return (n + growLoad - 1) / growLoad }

// find returns the entry of key k (hash h), or nil. Like locate, it is safe
// without a lock.
func (t *table[K, V]) find(h uint32, k K) *entry[K, V] {
	if b, i := t.locate(h, k); b != nil {
		return b.slots[i].Load() // nil if removed since: k is absent now
	}
	return nil
}

// The sequence word of an entry, when [atomicx.InPlace]. It counts writes
// in steps of 4; its two low bits say what is going on:
//
//	bit 1 (seqLocked):  a writer owns the entry (other writers wait;
//	                    readers do not: the value is not changing yet)
//	bit 0 (seqWriting): the value is being rewritten (readers wait)
//	deadSeq:            the entry was removed from the table, for good
//
// A writer takes the lock with a CAS from a free (low bits 0) sequence s to
// s|seqLocked, or straight to s|seqLocked|seqWriting when it writes at once;
// it ends with a release store of nextSeq(s). A reader loads the sequence,
// copies the value and loads the sequence again: the copy is good if
// seqWriting was clear and the sequence did not change.
const (
	seqWriting = 1
	seqLocked  = 2
	seqStep    = 4
	deadSeq    = ^uint32(0)
)

// nextSeq is the free sequence after a write that locked at s: s+4, but
// wrapping to 0 before it reaches deadSeq&^3, whose locked forms would look
// dead. (A reader copies a value in nanoseconds; a billion writes in
// between, to bring the same sequence back, cannot happen.)
func nextSeq(s uint32) uint32 {
	if s+seqStep == deadSeq&^3 {
		return 0
	}
	return s + seqStep
}

// read copies e's value. ok is false while a writer is rewriting it in
// place or after e was removed: the caller waits for the stripe's writer
// and looks again.
func (e *entry[K, V]) read() (v V, ok bool) {
	s := e.seq.Load()
	v = e.val
	return v, s&seqWriting == 0 && e.seq.Load() == s
}

// locate returns the bucket and slot of key k, or nil. It is safe without a
// lock: a concurrent writer makes it see the entry as it was before or after
// the write (a caller without the stripe's mutex checks the entry's state).
// [Set.Lookup] has its own copy of this loop, so that it inlines and a
// lookup makes no call.
func (t *table[K, V]) locate(h uint32, k K) (*bucket[K, V], int) {
	tag := tagOf(h)
	for b := &t.buckets[uint64(h)&t.mask]; b != nil; b = b.next.Load() {
		for m := matches(b.meta.Load(), tag); m != 0; m &= m - 1 {
			i := bits.TrailingZeros64(m) >> 3
			if e := b.slots[i].Load(); e != nil && e.h == h && e.key == k {
				return b, i
			}
		}
	}
	return nil, 0
}

// lock takes e's write lock and returns the free sequence it took it at.
// When [atomicx.InPlace], a lock-free overwrite ([Set.Insert]'s fast path)
// takes the lock with a CAS, and a writer holding the stripe's mutex takes it
// here, spinning only while such an overwrite copies its value (e is in the
// table, so it is not dead). Readers are not held up until the holder
// writes. Otherwise entries are immutable and lock does nothing.
func (e *entry[K, V]) lock() uint32 {
	if !atomicx.InPlace {
		return 0
	}
	for spins := 0; ; spins++ {
		if s := e.seq.Load(); s&(seqLocked|seqWriting) == 0 && e.seq.CompareAndSwap(s, s|seqLocked) {
			return s
		}
		if spins >= 16 {
			runtime.Gosched() // the holder may have been preempted mid-copy
		}
	}
}

// kill marks e, which the caller has locked, removed (see [bucket.remove]).
func (e *entry[K, V]) kill() {
	if atomicx.InPlace {
		atomicx.StoreRelease32(&e.seq, deadSeq)
	}
}

// dead reports whether e was removed (only tracked when [atomicx.InPlace]).
func (e *entry[K, V]) dead() bool { return e.seq.Load() == deadSeq }

// tryOverwrite stores v in e without any other lock, if no writer owns e and
// it was not removed, and reports whether it did. Only when
// [atomicx.InPlace].
func (e *entry[K, V]) tryOverwrite(v V) bool {
	s := e.seq.Load()
	if s&(seqLocked|seqWriting) != 0 || !e.seq.CompareAndSwap(s, s|seqLocked|seqWriting) {
		return false
	}
	e.val = v
	atomicx.StoreRelease32(&e.seq, nextSeq(s))
	return true
}

// rewrite writes v as the value of the entry in b.slots[i], which the
// caller has locked at sequence s (see [entry.lock]), and leaves it held
// for writing: readers wait until [entry.release]. In place when
// [atomicx.InPlace]; otherwise the slot gets a new entry, published held,
// and the old one is left to the readers that already have it. It returns
// the entry to release. Writers holding the stripe's mutex only.
func (b *bucket[K, V]) rewrite(i int, s uint32, v V) *entry[K, V] {
	e := b.slots[i].Load()
	if atomicx.InPlace {
		atomicx.StoreRelease32(&e.seq, s|seqLocked|seqWriting)
		e.val = v
		return e
	}
	ne := &entry[K, V]{h: e.h, key: e.key, val: v}
	ne.seq.Store(seqLocked | seqWriting)
	b.slots[i].Store(ne)
	return ne
}

// release ends a lock or hold of e taken at free sequence s ([entry.lock],
// [bucket.rewrite], or a list insert adding e held): other writers may take
// it, and readers see its value. (Without [atomicx.InPlace], lock took
// nothing; the store is then harmless: seq only goes to nextSeq(0), where a
// released entry's already is.)
func (e *entry[K, V]) release(s uint32) { atomicx.StoreRelease32(&e.seq, nextSeq(s)) }

// add puts a new entry in the first free slot of k's chain, adding an
// overflow bucket when the chain is full. The key must be absent. Writers
// only.
func (t *table[K, V]) add(e *entry[K, V]) {
	b := &t.buckets[uint64(e.h)&t.mask]
	for {
		meta := b.meta.Load()
		if free := ^meta & tagHigh & metaUsed; free != 0 {
			i := bits.TrailingZeros64(free) >> 3
			atomicx.StorePointerBeforeRelease(&b.slots[i], e)
			atomicx.StoreRelease(&b.meta, meta|tagOf(e.h)<<(8*i))
			return
		}
		nb := b.next.Load()
		if nb == nil {
			nb = new(bucket[K, V])
			nb.slots[0].Store(e)
			nb.meta.Store(tagOf(e.h))
			b.next.Store(nb)
			return
		}
		b = nb
	}
}

// remove empties b.slots[i], whose entry the caller has locked and leaves
// locked for good: a lock-free overwrite that still holds a pointer to it
// fails and goes the locked way, which finds the key absent. The tag goes
// first, so that a reader who still sees the tag finds the entry or nil
// (and compares keys anyway). Writers holding the stripe's mutex only.
func (b *bucket[K, V]) remove(i int) {
	e := b.slots[i].Load()
	atomicx.StoreRelease(&b.meta, b.meta.Load()&^(0xff<<(8*i)))
	b.slots[i].Store(nil)
	e.kill()
}

// each calls f for every entry of t until f returns false. Safe without a
// lock: each entry present for the whole walk is seen exactly once (entries
// never move within a table).
func (t *table[K, V]) each(f func(*entry[K, V]) bool) bool {
	for bi := range t.buckets {
		if !t.buckets[bi].each(f) {
			return false
		}
	}
	return true
}

// each calls f for every entry of b and its overflow chain until f returns
// false.
func (b *bucket[K, V]) each(f func(*entry[K, V]) bool) bool {
	for ; b != nil; b = b.next.Load() {
		meta := b.meta.Load()
		for i := range slotsPerBucket {
			if meta>>(8*i)&0xff == 0 {
				continue
			}
			if e := b.slots[i].Load(); e != nil && !f(e) {
				return false
			}
		}
	}
	return true
}

// grown returns a copy of t with twice the buckets holding the same entries
// (shared, not copied: an in-place write reaches both tables). Writers only.
func (t *table[K, V]) grown() *table[K, V] {
	nt := newTable[K, V](2 * len(t.buckets))
	t.each(func(e *entry[K, V]) bool { nt.add(e); return true })
	return nt
}

// overflow counts the overflow buckets of t (for Memory).
func (t *table[K, V]) overflow() int {
	n := 0
	for bi := range t.buckets {
		for b := t.buckets[bi].next.Load(); b != nil; b = b.next.Load() {
			n++
		}
	}
	return n
}

// bucketBytes is the size of a bucket (one cache line on 64-bit machines).
func bucketBytes[K comparable, V any]() int { return int(unsafe.Sizeof(bucket[K, V]{})) }
