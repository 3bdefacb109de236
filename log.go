package foundation

import (
	"context"
	"log/slog"
)

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
