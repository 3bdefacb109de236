// Package fanout holds the one copy-on-write subscriber list that the config
// service and the event store use to hand values to subscribers without
// blocking.
//
// A [List] is read with one atomic load (senders take no lock); adding and
// removing copy the list under a mutex. A [Sub] is one buffered channel: Send
// never blocks, a full channel drops the value and counts it, and the
// channel is closed exactly once, never while a Send runs.
package fanout

import (
	"sync"
	"sync/atomic"
)

// Sub is one subscriber: a buffered channel with a drop count. Safe for
// concurrent use; do not copy.
type Sub[T any] struct {
	ch      chan T
	dropped atomic.Uint64
	mu      sync.RWMutex // Send holds it shared; Close holds it exclusively
	closed  bool
}

// NewSub returns a subscriber whose channel buffers buffer values (the
// caller caps it; negative is taken as 0).
func NewSub[T any](buffer int) *Sub[T] {
	return &Sub[T]{ch: make(chan T, max(buffer, 0))}
}

// C returns the channel.
func (s *Sub[T]) C() <-chan T { return s.ch }

// Dropped returns how many values found the channel full.
func (s *Sub[T]) Dropped() uint64 { return s.dropped.Load() }

// Send hands v to the channel without blocking; false if it was dropped (a
// full channel counts it) or the subscriber is closed.
func (s *Sub[T]) Send(v T) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return false
	}
	select {
	case s.ch <- v:
		return true
	default:
		s.dropped.Add(1)
		return false
	}
}

// Close closes the channel; idempotent.
func (s *Sub[T]) Close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
}

// List is a copy-on-write list of subscribers. The zero value is an empty,
// open list. Load takes no lock and does not allocate; Add, Remove and Close
// serialize on a mutex and copy the list.
type List[E comparable] struct {
	mu     sync.Mutex
	closed bool
	list   atomic.Pointer[[]E]
}

// Add appends e; false (nothing added) once the list is closed.
func (l *List[E]) Add(e E) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	var next []E
	if p := l.list.Load(); p != nil {
		next = append(next, *p...)
	}
	next = append(next, e)
	l.list.Store(&next)
	return true
}

// Remove drops e from the list (every occurrence); a no-op if absent.
func (l *List[E]) Remove(e E) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.list.Load()
	if p == nil {
		return
	}
	next := make([]E, 0, len(*p))
	for _, x := range *p {
		if x != e {
			next = append(next, x)
		}
	}
	l.list.Store(&next)
}

// Load returns the current list: read only, never modified later.
func (l *List[E]) Load() []E {
	if p := l.list.Load(); p != nil {
		return *p
	}
	return nil
}

// Close empties the list, refuses later Adds and returns what it held, for
// the caller to close.
func (l *List[E]) Close() []E {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	if p := l.list.Swap(nil); p != nil {
		return *p
	}
	return nil
}
