//go:build !amd64 || race

package atomicx

import "sync/atomic"

// StoreRelease stores v in *p with release order: every load and store this
// goroutine made before it is visible to a goroutine that loads v from *p
// with p.Load. Here (not amd64, or the race detector on) it is p.Store.
func StoreRelease(p *atomic.Uint64, v uint64) { p.Store(v) }

// StorePointerBeforeRelease stores v in *p; a [StoreRelease] that readers
// check must follow it. Here (not amd64, or the race detector on) it is
// p.Store.
func StorePointerBeforeRelease[T any](p *atomic.Pointer[T], v *T) { p.Store(v) }
