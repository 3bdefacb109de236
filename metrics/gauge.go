package metrics

import (
	"sync/atomic"

	uatomic "go.uber.org/atomic"

	"github.com/elixirscope-go/foundation/internal/pad"
)

// Gauge is a float64 that goes up and down. Obtain one with
// [Registry.Gauge] and keep it.
//
// All methods are safe for concurrent use, never allocate, and never block
// (Add retries a compare-and-swap while other writers win it). NaN and ±Inf
// are ignored and counted in [Gauge.Dropped]. The zero value is not usable;
// a Gauge must not be copied.
type Gauge struct {
	_       noCopy
	v       uatomic.Float64 // the value; Add is a compare-and-swap of its bits
	dropped atomic.Uint64
	on      *atomic.Bool
	name    string
	// pad gives each gauge its own cache line, so that two gauges written on
	// two cores never share one (false sharing between neighbours in the heap).
	_ [pad.CacheLine - 8 - 8 - 8 - 16]byte
}

func newGauge(name string, on *atomic.Bool) *Gauge { return &Gauge{name: name, on: on} }

// Name returns the gauge's name.
func (g *Gauge) Name() string { return g.name }

// Set stores v. It is a no-op while the registry is disabled; NaN and ±Inf
// are dropped and counted.
func (g *Gauge) Set(v float64) {
	if !g.on.Load() {
		return
	}
	if v-v != 0 { // NaN or ±Inf (v-v is NaN), in one comparison: keeps Set inlinable
		g.drop()
		return
	}
	g.v.Store(v)
}

func (g *Gauge) drop() { g.dropped.Add(1) }

// Add adds v (which may be negative). It is a no-op while the registry is
// disabled; NaN and ±Inf, and an Add whose result would overflow to ±Inf, are
// dropped and counted.
func (g *Gauge) Add(v float64) {
	if !g.on.Load() {
		return
	}
	for {
		old := g.v.Load()
		n := old + v
		if n-n != 0 { // NaN or ±Inf
			g.drop()
			return
		}
		if g.v.CompareAndSwap(old, n) {
			return
		}
	}
}

// Value returns the current value (0 until the first Set or Add).
func (g *Gauge) Value() float64 { return g.v.Load() }

// Dropped returns the number of NaN, ±Inf or overflowing updates ignored.
func (g *Gauge) Dropped() uint64 { return g.dropped.Load() }
