package eventstore

import (
	"math"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/atomicx"
	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/elixirscope-go/foundation/internal/procpin"
	"github.com/puzpuzpuz/xsync/v3"
)

// record is what the ring holds: one stored event, immutable once pushed
// except for its state. It holds no pointer: the bytes of its Type,
// CorrelationID and Data follow the header in the same block of memory
// (payload), and records are carved from byte slabs, so the garbage
// collector never scans the store's events. With pointers (two strings and
// a slice per event), marking the held events was a fifth of the cost of
// every Store at steady state, and one malloc per event another quarter.
//
// Alignment: state is a 32-bit atomic and time and parent are 64-bit words,
// so a record must start 8-aligned. It does: a slab is a 4 KiB allocation
// (page-aligned), every block carved from it is a multiple of 8 bytes, and
// a large record is its own allocation of at least 8 bytes (8-aligned by
// the allocator's size classes). TestRecordAlignment checks the offsets and
// the addresses.
type record struct {
	time   int64 // Event.Time, set by Store when zero
	parent uint64
	state  atomic.Uint32
	tlen   uint32 // bytes of Type, then of CorrelationID, then of Data
	clen   uint32
	dlen   uint32
	stripe uint8 // the index stripe its Store used (see index)
}

// recHdr is where a record's payload starts: the header, 8-aligned.
const recHdr = (unsafe.Sizeof(record{}) + 7) &^ 7

// maxPart bounds the length of a Type and a CorrelationID (validate): the
// header counts them in 32 bits.
const maxPart = math.MaxUint32

func (r *record) payload(off uint32) *byte {
	return (*byte)(unsafe.Add(unsafe.Pointer(r), recHdr+uintptr(off)))
}

// typ returns the event's Type, backed by the record (never empty).
func (r *record) typ() string { return unsafe.String(r.payload(0), int(r.tlen)) }

// corr returns the event's CorrelationID, backed by the record.
func (r *record) corr() string {
	if r.clen == 0 {
		return ""
	}
	return unsafe.String(r.payload(r.tlen), int(r.clen))
}

// data returns the event's Data, backed by the record: read only. Empty
// Data is nil.
func (r *record) data() []byte {
	if r.dlen == 0 {
		return nil
	}
	return unsafe.Slice(r.payload(r.tlen+r.clen), int(r.dlen))
}

// size is what the event counts in EventStats.Bytes.
func (r *record) size() int64 {
	return int64(r.tlen) + int64(r.clen) + int64(r.dlen) + recordOverhead
}

// eventSize is the size of the record that ev will be stored as.
func eventSize(ev *Event) int64 {
	return int64(len(ev.Type)) + int64(len(ev.CorrelationID)) + int64(len(ev.Data)) + recordOverhead
}

// visible reports whether Get and Query may return the record.
func (r *record) visible() bool { return r.state.Load() < stPruned }

// splitTail makes the CorrelationID and Data of a copy out of buf, a copy of
// the record's CorrelationID and Data (stored one after the other): the
// string and the slice share buf without overlapping, and the
// slice is capped so that an append cannot reach past it.
func splitTail(e *Event, r *record, buf []byte) {
	if r.clen > 0 {
		e.CorrelationID = unsafe.String(&buf[0], int(r.clen))
	}
	if r.dlen > 0 {
		e.Data = buf[r.clen:len(buf):len(buf)]
	}
}

// Records are carved from slabs: pointer-free byte arrays of 4 KiB (never
// scanned by the garbage collector), handed out by one atomic add on the
// slab's offset, where a malloc of a 160-byte object with pointers would be
// one of the costliest steps of a Store; a slab costs one malloc per ~35
// events. Records over a quarter of a slab get an allocation of their own.
//
// Why it is safe to share a slab's life among its records: a slab is freed
// when none of its records is referenced any more. Records leave the store
// in ID order (eviction, pruning), the records of a slab were stored one
// after the other on one P, and the store keeps no record or memory backed
// by one past its removal (subscriptions and exports are copies, strings
// included; the indexes copy a key when they first see it): a slab
// outlives its last event by at most the time its neighbours stay stored.
// What it costs: per stripe, up to one partly used slab of retained memory.
// The one exception is the caller's: the CorrelationIDs of QueryInto's
// results are backed by their records (Query's are copies), so a caller
// that keeps one keeps its slab (4 KiB, or the record's own allocation)
// until it drops the string.
//
// Why 4 KiB: in BenchmarkStore at -cpu 1 the mean is about the same from 4
// to 32 KiB, but the tail is not. A Store that allocates a slab while the
// garbage collector marks pays its assist for the whole slab at once, and
// with one P it may wait for the background worker, so p99 and p99.9 grow
// with the slab size. Smaller slabs (2 KiB) allocate too often.
const slabBytes = 4 << 10 // one page

// slab is a run of bytes that records are carved from.
type slab [slabBytes]byte

// recordAlloc is the allocator of one P (the index stripe of that P): the
// slab it carves and the offset of the first byte not handed out. Only a
// goroutine pinned to that P reads or writes them (allocRecord), so they are
// plain loads and stores, not locked instructions; they are atomics for the
// race detector, which cannot see that pinning makes the writers take turns.
// The offset lives here, not in the slab: slab headers of different Ps would
// share cache lines, these are padded apart.
type recordAlloc struct {
	cur atomic.Pointer[slab]
	off atomic.Uint64
	_   [pad.FalseSharingRange - 16]byte
}

// allocRecord returns n zeroed bytes (n a multiple of 8), 8-aligned, never
// handed out before, and the index stripe of the P it ran on. While pinned
// to its P it bumps that P's slab: two loads and a store. Blocks over a
// quarter of a slab, and calls on a P without an allocator of its own
// (GOMAXPROCS raised past the stripes after New), get an allocation of their
// own. A new slab is allocated unpinned (the allocation may block) and
// installed under the pin, on whichever P the goroutine is then on, if that
// P still needs one; otherwise it is left to the garbage collector.
func (s *Store) allocRecord(n uint64) (unsafe.Pointer, uint8) {
	var fresh *slab
	for {
		pid := procpin.Pin()
		if pid >= len(s.alloc) || n > slabBytes/4 {
			procpin.Unpin()
			return unsafe.Pointer(unsafe.SliceData(make([]byte, n))), uint8(pid & s.byType.mask)
		}
		a := &s.alloc[pid]
		cur, off := a.cur.Load(), a.off.Load()
		if cur == nil || off+n > slabBytes {
			if fresh == nil {
				procpin.Unpin()
				fresh = new(slab)
				continue
			}
			cur, off = fresh, 0
			atomicx.StorePointerBeforeRelease(&a.cur, fresh)
		}
		atomicx.StoreRelease(&a.off, off+n)
		procpin.Unpin()
		// unsafe.Add, not &cur[off]: indexing checks cur for nil by
		// reading its first byte, and on a slab's fresh page that read
		// maps the kernel's shared zero page, so the record's first
		// write then takes a second fault, a copy-on-write that flushes
		// the page from every core's TLB (an interrupt to each core the
		// process runs on). Written first, the page takes one fault.
		return unsafe.Add(unsafe.Pointer(cur), off), uint8(pid)
	}
}

// newRecord copies ev into a new record, stamping now when Time is zero.
// The caller has validated ev (lengths within maxPart).
func (s *Store) newRecord(ev *Event, now int64) *record {
	tl, cl, dl := len(ev.Type), len(ev.CorrelationID), len(ev.Data)
	p, stripe := s.allocRecord((uint64(recHdr) + uint64(tl) + uint64(cl) + uint64(dl) + 7) &^ 7)
	r := (*record)(p)
	r.time = ev.Time
	if r.time == 0 {
		r.time = now
	}
	r.parent = ev.ParentID
	r.tlen, r.clen, r.dlen = uint32(tl), uint32(cl), uint32(dl)
	r.stripe = stripe
	b := unsafe.Slice((*byte)(unsafe.Add(p, recHdr)), tl+cl+dl)
	copy(b, ev.Type)
	copy(b[tl:], ev.CorrelationID)
	copy(b[tl+cl:], ev.Data)
	return r
}

// interner hands out one shared copy of each event type for the events Get,
// Query, subscriptions and exports return, so that a copy costs no
// allocation for its Type (types are few). It keeps at most maxInterned
// types of at most maxInternedLen bytes; past that, types are copied per
// event. forget drops the types that no held event uses (the pruner's sweep
// calls it), so types that stop being stored do not stay for good.
type interner struct {
	m *xsync.MapOf[string, string]
	n atomic.Int64
}

const (
	maxInterned    = 4096
	maxInternedLen = 256
)

func newInterner() *interner { return &interner{m: xsync.NewMapOf[string, string]()} }

// get returns a copy of t that is not backed by a record.
func (in *interner) get(t string) string {
	if v, ok := in.m.Load(t); ok {
		return v
	}
	c := strings.Clone(t)
	if len(t) > maxInternedLen || in.n.Load() >= maxInterned {
		return c
	}
	v, loaded := in.m.LoadOrStore(c, c)
	if !loaded {
		in.n.Add(1)
	}
	return v
}

// forget drops every type for which used is false.
func (in *interner) forget(used func(t string) bool) {
	in.m.Range(func(k, _ string) bool {
		if !used(k) {
			if _, ok := in.m.LoadAndDelete(k); ok {
				in.n.Add(-1)
			}
		}
		return true
	})
}

// len returns how many types are interned.
func (in *interner) len() int { return int(in.n.Load()) }
