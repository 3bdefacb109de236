package foundation

import (
	"context"
	"log/slog"

	"github.com/elixirscope-go/foundation/internal/fanout"
)

// subscriber is one buffered channel of a broadcast (see fanout.Sub).
type subscriber[T any] = fanout.Sub[T]

func newSubscriber[T any](buffer int) *subscriber[T] { return fanout.NewSub[T](buffer) }

// broadcaster fans values out to subscribers over the copy-on-write list
// that the event store's subscriptions use too (fanout.List).
type broadcaster[T any] struct {
	list fanout.List[*subscriber[T]]
}

func (b *broadcaster[T]) add(s *subscriber[T]) bool { return b.list.Add(s) }

func (b *broadcaster[T]) remove(s *subscriber[T]) { b.list.Remove(s) }

func (b *broadcaster[T]) send(v T) {
	for _, s := range b.list.Load() {
		s.Send(v)
	}
}

func (b *broadcaster[T]) closeAll() {
	for _, s := range b.list.Close() {
		s.Close()
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
