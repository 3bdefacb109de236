package metrics

import (
	_ "unsafe" // for go:linkname
)

// procPin and procUnpin pick a stripe per P without a lock. procPin disables
// preemption of the calling goroutine and returns the id of its P; while
// pinned, no other goroutine runs on that P, so the stripe indexed by the id
// is written by one core at a time and its atomic add is uncontended.
// procUnpin re-enables preemption.
//
// The runtime keeps both linkname-able on purpose (runtime/proc.go: "Do not
// remove or change the type signature", go.dev/issue/67401); sync.Pool uses
// the same pair. Nothing may block, allocate or take a lock between the two
// calls: the garbage collector cannot stop a pinned goroutine.
//
// The P id is below GOMAXPROCS when pinned, but GOMAXPROCS may change at run
// time; callers mask the id with their stripe count, so a P beyond it shares
// a stripe (still correct, only contended).

//go:linkname runtime_procPin runtime.procPin
func runtime_procPin() int

//go:linkname runtime_procUnpin runtime.procUnpin
func runtime_procUnpin()
