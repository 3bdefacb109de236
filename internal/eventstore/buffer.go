package eventstore

import "context"

// Buffer is caller-owned memory for the results of [Store.QueryInto]: a
// slice of Events and an arena for their Data, reused
// from one query to the next, so that a query copies its results without
// allocating once the buffer has grown to the size of its pages. The zero
// Buffer is ready to use. A Buffer is not safe for concurrent use.
//
// Memory: each part is grown to exactly what a page needs when it is too
// small, and never shrunk, so a Buffer keeps what its largest page needed:
// at most Limits.MaxResults Events (the largest in effect while it was
// used) and as many times the event size limit (Config.MaxEventSize)
// bytes. Reset drops it.
type Buffer struct {
	events []Event
	bytes  []byte
	used   int // the Events of the last page: events[used:] are zero
}

// Reset drops the buffer's memory (the results it backs stay valid for
// whoever holds them).
func (b *Buffer) Reset() { *b = Buffer{} }

// take returns n Events and m bytes of b's memory, grown when too small.
// The Events are capped at n, so that a caller's append cannot write into
// the buffer; the caller writes every field of all n. The last page's
// Events past n are cleared: their CorrelationIDs would keep records that
// left the store alive, and their Data an old arena.
func (b *Buffer) take(n, m int) ([]Event, []byte) {
	if n < b.used {
		clear(b.events[n:b.used])
	}
	if cap(b.bytes) < m {
		b.bytes = make([]byte, m)
	}
	if cap(b.events) < n {
		b.events = make([]Event, n)
	}
	b.used = n
	return b.events[:n:n], b.bytes[:m]
}

// QueryInto is [Store.QueryContext] with the results copied into buf's
// memory instead of new memory: the Events and their Data are backed by
// buf, valid until buf is next used; a caller keeps what it needs past
// that by copying it (bytes.Clone). Each Data is capped, so an append to
// it allocates instead of reaching a neighbour's bytes. The strings are
// never backed by buf (a string must not change): the Type is interned or
// the query's, and so is the CorrelationID when q names one; else it is
// backed by the stored record, which it keeps alive while held (its 4 KiB
// slab, or a record of over a quarter of a slab its own allocation: see
// allocRecord; strings.Clone one that is kept long).
//
// Allocations: none once buf is large enough, for the events in memory
// whose Type is interned (see interner). With Deps.Older the merge of the
// two tiers allocates its results as QueryContext does, and buf is not
// used.
//
// Errors: those of QueryContext, and [ErrInvalidQuery] for a nil buf.
func (s *Store) QueryInto(ctx context.Context, buf *Buffer, q Query) ([]Event, error) {
	if buf == nil {
		return nil, errf(ErrInvalidQuery, nil, "query buffer is nil", "field", "buffer")
	}
	return s.query(ctx, q, buf)
}
