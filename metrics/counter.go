package metrics

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/elixirscope-go/foundation/internal/pad"
)

// cell is one stripe of a [Counter]. It fills a cache line so that the stripes
// of two Ps never share one: an add on one P would otherwise invalidate the
// line under the other P's add (false sharing), which is the very contention
// striping removes. 64, not 128 bytes (see package pad): stripes are many, and
// the adjacent-line prefetcher costs little here. The cells of a counter are
// one allocation of stripes*64 bytes, a power of two, which the Go allocator
// aligns to its size, so every cell starts on a line boundary.
//
// The word is a sync/atomic Uint64, not go.uber.org/atomic's: it is the
// hottest word of the package, and the standard type's methods are
// intrinsics that inline into Add.
type cell struct {
	v atomic.Uint64
	_ [pad.CacheLine - 8]byte
}

// Counter is a monotonic uint64 counter striped per P. Obtain one with
// [Registry.Counter] and keep it: Add does no lookup.
//
// All methods are safe for concurrent use. Add and Inc never block or
// allocate; Value folds the stripes, O(stripes). The zero value is not
// usable. A Counter must not be copied.
type Counter struct {
	_     noCopy
	name  string
	on    *atomic.Bool
	mask  int
	cells []cell
	fn    *counterFunc // set for a counter made by Registry.CounterFunc
}

// counterFunc is the source of a counter whose value its owner already
// counts (see [Registry.CounterFunc]). While the registry is disabled the
// counter shows the value it had when recording stopped; what the source
// counted meanwhile is subtracted for good when recording resumes.
type counterFunc struct {
	read   func() uint64
	on     *atomic.Bool // the registry's switch (the counter's own on is its always-off one, so Add does nothing)
	mu     sync.Mutex   // guards frozen and offset; taken by reads and SetEnabled
	frozen uint64       // read() when recording was turned off
	offset uint64       // counted by the source while recording was off
}

// pause and resume are called by SetEnabled, under the registry's lock.
func (f *counterFunc) pause() {
	f.mu.Lock()
	f.frozen = f.read()
	f.mu.Unlock()
}

func (f *counterFunc) resume() {
	f.mu.Lock()
	f.offset += f.read() - f.frozen
	f.mu.Unlock()
}

func (f *counterFunc) value(on bool) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !on {
		return f.frozen - f.offset
	}
	return f.read() - f.offset
}

func newCounter(name string, on *atomic.Bool, stripes int) *Counter {
	return &Counter{name: name, on: on, mask: stripes - 1, cells: make([]cell, stripes)}
}

// Name returns the counter's name.
func (c *Counter) Name() string { return c.name }

// Add adds n to the counter: one uncontended atomic add on the stripe of the
// calling goroutine's P. It is a no-op while the registry is disabled. The
// counter never wraps: it saturates at 2^64-1 (math.MaxUint64), and so does
// [Counter.Value].
func (c *Counter) Add(n uint64) {
	if !c.on.Load() {
		return
	}
	c.add(n)
}

// add is Add without the switch, for callers that read it already.
func (c *Counter) add(n uint64) {
	// Writers: the goroutine pinned to P p, alone on cells[p&mask] unless
	// GOMAXPROCS exceeds the stripe count. Readers: Value, any time. The
	// atomic add is the only ordering needed: a sum of monotonic cells.
	p := runtime_procPin()
	w := &c.cells[p&c.mask].v
	if w.Add(n) < n { // the add wrapped: saturate
		w.Store(math.MaxUint64)
	}
	runtime_procUnpin()
}

// Inc adds 1 to the counter, like Add(1).
func (c *Counter) Inc() { c.Add(1) }

// Value returns the sum of the stripes. Adds that run concurrently may or may
// not be included; once they have returned they are.
func (c *Counter) Value() uint64 {
	if c.fn != nil {
		return c.fn.value(c.fn.on.Load())
	}
	var sum, carry uint64
	for i := range c.cells {
		if sum, carry = bits.Add64(sum, c.cells[i].v.Load(), 0); carry != 0 {
			return math.MaxUint64
		}
	}
	return sum
}

// noCopy lets go vet's copylocks check flag copies of the types that embed it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
