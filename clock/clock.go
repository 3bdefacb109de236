// Package clock is a time source that tests can drive: a [Clock] tells the
// time and makes one-shot timers; [Real] is the system clock and [Manual] a
// clock that moves only when told to, firing its timers in deadline order.
//
// It is the one clock of foundation: the root package (foundation.WithClock),
// metrics (registry snapshots, spans, the aggregator's ticks), cfgsnap (the
// time of each version) and the event store all take a Clock. It is public
// because those packages are public and usable alone: a caller of metrics or
// cfgsnap passes the same Clock, and the same Manual in tests. It imports
// nothing from the rest of the module but its padding constant.
//
// All clocks here are safe for concurrent use.
package clock

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elixirscope-go/foundation/internal/pad"
)

// Clock tells the time and makes timers. Implementations are safe for
// concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a [Clock].
type Timer interface {
	// C delivers the time once when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did so.
	Stop() bool
}

// UnixNanoer is implemented by clocks that can tell the time as Unix
// nanoseconds more cheaply than Now().UnixNano(); the real clock does.
type UnixNanoer interface {
	UnixNano() int64
}

// UnixNanoFunc returns c's cheapest way to read Unix nanoseconds.
func UnixNanoFunc(c Clock) func() int64 {
	if u, ok := c.(UnixNanoer); ok {
		return u.UnixNano
	}
	return func() int64 { return c.Now().UnixNano() }
}

// Real returns the system clock.
//
// Its Now reads only the monotonic clock and adds the elapsed time to a wall
// time read at most a second earlier: time.Now makes a wall and a monotonic
// read, which costs about twice one monotonic read where the clock source is
// slow to read (kvm-clock, hpet). A step of the wall clock (NTP, an
// operator) shows within a second; in between, times move with the
// monotonic clock, which is what ordering needs anyway.
func Real() Clock {
	c := &realClock{}
	t := time.Now()
	c.anchor.Store(&anchor{t: t, unix: t.UnixNano()})
	return c
}

// rebase is how long Now derives wall time from one anchor.
const rebase = time.Second

// The anchor and the clock are read by every timestamp on every core; both
// are small heap objects that would share cache lines with whatever the
// allocator puts next to them, and a write to a neighbour would turn each
// read into a cache miss. The padding keeps their lines to themselves.
type anchor struct {
	t    time.Time // with its monotonic reading
	unix int64     // t.UnixNano()
	_    [pad.FalseSharingRange - 32]byte
}

type realClock struct {
	_      [pad.FalseSharingRange]byte
	anchor atomic.Pointer[anchor] // readers: Load; a reader past rebase stores a new one
	_      [pad.FalseSharingRange - 8]byte
}

func (c *realClock) Now() time.Time {
	a := c.anchor.Load()
	d := time.Since(a.t)
	if d >= 0 && d < rebase {
		return a.t.Add(d)
	}
	t := time.Now()
	c.anchor.Store(&anchor{t: t, unix: t.UnixNano()})
	return t
}

// UnixNano is Now().UnixNano() without building a time.Time: one monotonic
// read added to the anchor's Unix time, where Now().UnixNano() makes a wall
// and a monotonic read. It implements [UnixNanoer].
func (c *realClock) UnixNano() int64 {
	a := c.anchor.Load()
	d := time.Since(a.t)
	if d >= 0 && d < rebase {
		return a.unix + int64(d)
	}
	return c.Now().UnixNano()
}

func (*realClock) NewTimer(d time.Duration) Timer {
	return realTimer{time.NewTimer(d)}
}

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

// Manual is a [Clock] that moves only when told to: [Manual.Add] and
// [Manual.Set] advance it and fire the timers that come due, in deadline
// order. The zero value is not usable; use [NewManual].
type Manual struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*manualTimer
	changed chan struct{} // closed and replaced whenever a timer is added
}

// NewManual returns a manual clock that reads t.
func NewManual(t time.Time) *Manual {
	return &Manual{now: t, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// NewTimer returns a timer that fires when the clock reaches now+d. A timer
// with d <= 0 fires at once.
func (m *Manual) NewTimer(d time.Duration) Timer {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := &manualTimer{m: m, at: m.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		t.c <- m.now
		t.fired = true
		return t
	}
	m.timers = append(m.timers, t)
	close(m.changed)
	m.changed = make(chan struct{})
	return t
}

// Add moves the clock forward by d and fires the timers that come due.
func (m *Manual) Add(d time.Duration) {
	m.mu.Lock()
	m.setLocked(m.now.Add(d))
	m.mu.Unlock()
}

// Set moves the clock to t (never backwards) and fires the timers that come
// due.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	if t.After(m.now) {
		m.setLocked(t)
	}
	m.mu.Unlock()
}

func (m *Manual) setLocked(t time.Time) {
	m.now = t
	sort.SliceStable(m.timers, func(i, j int) bool { return m.timers[i].at.Before(m.timers[j].at) })
	kept := m.timers[:0]
	for _, tm := range m.timers {
		if !tm.at.After(t) {
			tm.fired = true
			tm.c <- tm.at
			continue
		}
		kept = append(kept, tm)
	}
	for i := len(kept); i < len(m.timers); i++ {
		m.timers[i] = nil
	}
	m.timers = kept
}

// Waiters returns the number of timers that have not fired or been stopped.
func (m *Manual) Waiters() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.timers)
}

// BlockUntil waits until at least n timers are pending, or until done is
// closed; it reports whether the count was reached. Tests use it to know that
// a goroutine has gone to sleep on the clock before they move it.
func (m *Manual) BlockUntil(n int, done <-chan struct{}) bool {
	for {
		m.mu.Lock()
		if len(m.timers) >= n {
			m.mu.Unlock()
			return true
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return false
		}
	}
}

type manualTimer struct {
	m     *Manual
	at    time.Time
	c     chan time.Time
	fired bool
}

func (t *manualTimer) C() <-chan time.Time { return t.c }

func (t *manualTimer) Stop() bool {
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if t.fired {
		return false
	}
	for i, x := range t.m.timers {
		if x == t {
			t.m.timers = append(t.m.timers[:i], t.m.timers[i+1:]...)
			t.fired = true
			return true
		}
	}
	return false
}
