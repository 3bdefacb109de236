package foundation

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// subscriber is one buffered channel of a broadcast. send never blocks: a
// full channel drops the value and counts it. The channel is closed exactly
// once, by close, and never while a send is running (mu orders them).
type subscriber[T any] struct {
	ch      chan T
	dropped atomic.Uint64
	mu      sync.RWMutex // send holds it shared; close holds it exclusively
	closed  bool
}

func newSubscriber[T any](buffer int) *subscriber[T] {
	return &subscriber[T]{ch: make(chan T, buffer)}
}

func (s *subscriber[T]) send(v T) {
	s.mu.RLock()
	if !s.closed {
		select {
		case s.ch <- v:
		default:
			s.dropped.Add(1)
		}
	}
	s.mu.RUnlock()
}

func (s *subscriber[T]) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ch)
	}
	s.mu.Unlock()
}

// broadcaster fans values out to subscribers. The list is copy-on-write
// behind an atomic pointer: send takes no lock of the broadcaster's.
type broadcaster[T any] struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*subscriber[T]]
}

func (b *broadcaster[T]) add(s *subscriber[T]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var next []*subscriber[T]
	if p := b.list.Load(); p != nil {
		next = append(next, *p...)
	}
	next = append(next, s)
	b.list.Store(&next)
}

func (b *broadcaster[T]) remove(s *subscriber[T]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.list.Load()
	if p == nil {
		return
	}
	next := make([]*subscriber[T], 0, len(*p))
	for _, x := range *p {
		if x != s {
			next = append(next, x)
		}
	}
	b.list.Store(&next)
}

func (b *broadcaster[T]) send(v T) {
	if p := b.list.Load(); p != nil {
		for _, s := range *p {
			s.send(v)
		}
	}
}

func (b *broadcaster[T]) closeAll() {
	b.mu.Lock()
	p := b.list.Swap(nil)
	b.mu.Unlock()
	if p != nil {
		for _, s := range *p {
			s.close()
		}
	}
}

// levelHandler filters records below a level that config changes move
// (dev.debug_mode, dev.verbose_logging), in front of the user's handler.
type levelHandler struct {
	level *slog.LevelVar
	next  slog.Handler
}

func (h levelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level.Level() && h.next.Enabled(ctx, l)
}
func (h levelHandler) Handle(ctx context.Context, r slog.Record) error { return h.next.Handle(ctx, r) }
func (h levelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return levelHandler{h.level, h.next.WithAttrs(as)}
}
func (h levelHandler) WithGroup(name string) slog.Handler {
	return levelHandler{h.level, h.next.WithGroup(name)}
}
