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
