// Package procpin tells which P (scheduler processor) the calling goroutine
// runs on, so that per-P structures (stripes) keep each core's writes in
// cache lines of its own.
package procpin

import (
	_ "unsafe" // for go:linkname
)

// The runtime keeps procPin/procUnpin linkname-able on purpose
// (runtime/proc.go: "Do not remove or change the type signature",
// go.dev/issue/67401); sync.Pool uses the same pair.

//go:linkname runtimeProcPin runtime.procPin
func runtimeProcPin() int

//go:linkname runtimeProcUnpin runtime.procUnpin
func runtimeProcUnpin()

// ID returns the id of the P the goroutine runs on at the moment of the
// call, in [0, GOMAXPROCS). The goroutine may move to another P right after:
// use the id to pick a stripe, never for correctness.
func ID() int {
	id := runtimeProcPin()
	runtimeProcUnpin()
	return id
}

// Pin pins the calling goroutine to its P and returns the P's id, like
// [ID]; the pin lasts until [Unpin]. While pinned, the goroutine is not
// preempted and no other goroutine runs on that P, so a per-P cell indexed
// by the id (when every P has a cell of its own) has a single writer: a load
// and a plain store update it, no locked instruction. Keep the section a few
// instructions long: no allocation, no blocking, nothing that may schedule.
func Pin() int { return runtimeProcPin() }

// Unpin ends the section that [Pin] started.
func Unpin() { runtimeProcUnpin() }
