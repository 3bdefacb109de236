package foundation

import (
	"slices"
	"sync/atomic"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/pad"
)

// Records are carved from slabs: arrays of up to 32 KiB (the largest small
// object of Go's allocator) of records of one size class, handed out by an
// atomic increment. A malloc of a 160-byte object
// with pointers costs ~50 ns on this kind of machine (and the garbage
// collector tracks each object); a slab turns that into one uncontended
// atomic add per event and one malloc per few dozen events.
//
// Why it is safe to share a slab's life among its records: a slab is freed
// when none of its records is referenced any more. Records leave the store
// in ID order (eviction, pruning), the records of a slab were stored one
// after the other on one P, and nothing outside the store keeps a record
// (results, subscriptions and exports are copies, Data included): a slab
// outlives its last event by at most the time its neighbours stay stored.
// What it costs: per stripe and size class, up to one partly used slab of
// retained memory (slabBytes; 160 KiB a stripe, 2.5 MiB on a 16-core
// machine; a store of capacity c uses slabs of at most c/8 records). Slabs
// of 2 KiB made every ~13th Store pay for a malloc and zeroing, and p99 at
// -cpu 1 went from 1.0 to 1.8 µs (BenchmarkStore, 2026-11-23).
const slabBytes = 32 << 10

// recordWith is a record and the bytes of its Data in one object: small
// events cost one slot instead of two allocations. The Data slice points
// into the same object, which keeps it alive; the byte array has no
// pointers, so the garbage collector does not scan it.
type recordWith[A any] struct {
	rec   record
	bytes A
}

// slab is a run of records of one class; next is the index of the first
// one not handed out (it may overshoot len(recs) while a new slab is being
// installed).
type slab[A any] struct {
	next atomic.Uint32
	recs []recordWith[A]
}

// slabClass hands out the records of one size class.
type slabClass[A any] struct {
	cur atomic.Pointer[slab[A]]
	n   int // records per slab
}

func (c *slabClass[A]) init(capacity int) {
	c.n = max(1, min(slabBytes/int(unsafe.Sizeof(recordWith[A]{})), capacity/8))
}

// get returns a zeroed record of the class, never handed out before.
func (c *slabClass[A]) get() *recordWith[A] {
	for {
		s := c.cur.Load()
		if s != nil {
			if i := s.next.Add(1) - 1; i < uint32(len(s.recs)) {
				return &s.recs[i]
			}
		}
		ns := &slab[A]{recs: make([]recordWith[A], c.n)}
		ns.next.Store(1)
		if c.cur.CompareAndSwap(s, ns) {
			return &ns.recs[0]
		}
		// Another goroutine of this stripe installed one first: use it.
	}
}

// recordAlloc is one stripe's allocator (the stripe of the P that stores,
// see index.stripe): its slabs are written by one core at a time.
type recordAlloc struct {
	c0   slabClass[[0]byte]
	c32  slabClass[[32]byte]
	c64  slabClass[[64]byte]
	c128 slabClass[[128]byte]
	c256 slabClass[[256]byte]
	// The cur pointers change once per slab, but the slabs' next counters
	// are hot: keep each stripe's header on lines of its own.
	_ [pad.FalseSharingRange]byte
}

func (a *recordAlloc) init(capacity int) {
	a.c0.init(capacity)
	a.c32.init(capacity)
	a.c64.init(capacity)
	a.c128.init(capacity)
	a.c256.init(capacity)
}

// newRecord copies ev into a record, stamping now when Time is zero. Data of
// up to 256 bytes is stored inside the record's own slot; larger Data in an
// allocation of its own.
func (a *recordAlloc) newRecord(ev *Event, now int64) *record {
	var r *record
	switch n := len(ev.Data); {
	case n == 0:
		r = &a.c0.get().rec
	case n <= 32:
		r = inline(a.c32.get(), ev.Data)
	case n <= 64:
		r = inline(a.c64.get(), ev.Data)
	case n <= 128:
		r = inline(a.c128.get(), ev.Data)
	case n <= 256:
		r = inline(a.c256.get(), ev.Data)
	default:
		r = &a.c0.get().rec
		r.ev.Data = slices.Clone(ev.Data)
	}
	data := r.ev.Data
	r.ev = *ev
	r.ev.ID = 0
	r.ev.Data = data
	if r.ev.Time == 0 {
		r.ev.Time = now
	}
	return r
}

func inline[A any](w *recordWith[A], data []byte) *record {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&w.bytes)), unsafe.Sizeof(w.bytes))
	n := copy(b, data)
	w.rec.ev.Data = b[:n:n]
	return &w.rec
}
