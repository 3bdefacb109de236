//go:build amd64 && !race

package atomicx

import (
	"sync/atomic"
	"unsafe"
)

// InPlace reports whether a seqlock writer may rewrite a value in place with
// plain stores between two [StoreRelease]s of its sequence word: true on
// amd64 without the race detector, where stores become visible in program
// order. Where it is false, writers must not: they publish a fresh copy, or
// store each word with sync/atomic (which readers then load with sync/atomic).
const InPlace = true

// storeRel64 is a MOVQ: a release store on x86-TSO (release_amd64.s).
//
//go:noescape
func storeRel64(addr *uint64, val uint64)

// storeRel32 is a MOVL: a release store on x86-TSO (release_amd64.s).
//
//go:noescape
func storeRel32(addr *uint32, val uint32)

//go:noescape
func prefetchW(addr unsafe.Pointer)

// PrefetchWrite asks the CPU to bring the cache line at p into its caches,
// ready to be written (x86 PREFETCHW), without waiting for it: a hint that
// never faults and never blocks, for memory the caller will write soon but
// not yet. A no-op where it is not supported and under the race detector.
func PrefetchWrite(p unsafe.Pointer) { prefetchW(p) }

// StoreRelease32 is [StoreRelease] for a 32-bit word.
func StoreRelease32(p *atomic.Uint32, v uint32) {
	storeRel32((*uint32)(unsafe.Pointer(p)), v)
}

// StoreRelease stores v in *p with release order: every load and store this
// goroutine made before it is visible to a goroutine that loads v from *p
// with p.Load. It is not a fence for later loads (see the package doc).
func StoreRelease(p *atomic.Uint64, v uint64) {
	storeRel64((*uint64)(unsafe.Pointer(p)), v)
}

// StorePointerBeforeRelease stores v in *p without a fence. It is correct
// only when a [StoreRelease] (or any sync/atomic write) that readers check
// follows it, and readers load *p with p.Load only after they saw that
// write — the publish step of a seqlock or a Vyukov slot. The GC's write
// barrier is kept.
func StorePointerBeforeRelease[T any](p *atomic.Pointer[T], v *T) {
	*(*unsafe.Pointer)(unsafe.Pointer(p)) = unsafe.Pointer(v)
}
