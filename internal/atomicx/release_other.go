//go:build !amd64 || race

package atomicx

import (
	"sync/atomic"
	"unsafe"
)

// PrefetchWrite is a no-op here (not amd64, or the race detector on): a
// hint to bring p's cache line closer, which only amd64 builds give.
func PrefetchWrite(unsafe.Pointer) {}

// InPlace reports whether a seqlock writer may rewrite a value in place with
// plain stores between two [StoreRelease]s of its sequence word. Here (not
// amd64, or the race detector on) it is false: a plain store may become
// visible before the sequence word says "writing" (weak memory order), and
// the race detector would report the reader's copy. Writers publish a fresh
// copy instead, or store each word with sync/atomic (and readers load it so).
const InPlace = false

// StoreRelease stores v in *p with release order: every load and store this
// goroutine made before it is visible to a goroutine that loads v from *p
// with p.Load. Here (not amd64, or the race detector on) it is p.Store.
func StoreRelease(p *atomic.Uint64, v uint64) { p.Store(v) }

// StoreRelease32 is [StoreRelease] for a 32-bit word: p.Store here.
func StoreRelease32(p *atomic.Uint32, v uint32) { p.Store(v) }

// StorePointerBeforeRelease stores v in *p; a [StoreRelease] that readers
// check must follow it. Here (not amd64, or the race detector on) it is
// p.Store.
func StorePointerBeforeRelease[T any](p *atomic.Pointer[T], v *T) { p.Store(v) }
