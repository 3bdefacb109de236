// Package warm is the event store's warm tier: events are appended in
// batches to a [segment.Log] on local disk, compressed, and read back by ID,
// by query (type, correlation id, time range, (Time, ID) order, keyset
// paging) and by correlation. It survives restarts: what it held is
// queryable again when it is reopened on the same directory.
//
// Events are appended in ID order (the caller's contract, checked: an ID not
// above the last one is refused), so the log's sequence order is ID order.
// Each record's keys are its type, its correlation id and its ID, so a
// lookup by any of them reads only the blocks whose bloom filter admits it.
//
// Every method is safe for concurrent use. The package starts no
// goroutines.
package warm

import (
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/elixirscope-go/foundation/internal/eventstore"
	"github.com/elixirscope-go/foundation/segment"
)

// Event is the event store's event: the warm tier stores and returns the
// same layout, which the root converts in place.
type Event = eventstore.Event

// Cursor is a position in (Time, ID) order.
type Cursor = eventstore.Cursor

// Query selects events: Type and CorrelationID match exactly when set;
// Since and Until bound Time inclusively (0: open); After (when its ID is
// set) keeps the events strictly after it in the query's order; Below, when
// set, keeps the events with an ID below it (the hot tier serves the rest).
type Query struct {
	Type          string
	CorrelationID string
	Since, Until  int64
	Descending    bool
	After         Cursor
	Below         uint64
}

// Config sets up a [Tier].
type Config struct {
	Dir      string
	Codec    segment.Codec
	MaxBytes int64 // the directory's bound (storage.warm.max_size_mb)
	NoSync   bool  // tests only
}

// Stats are the tier's figures.
type Stats struct {
	Events        int64   // events on disk and pending, hidden ones in partly deleted segments included
	DiskBytes     int64   // segments and indexes
	RawBytes      int64   // uncompressed size of the records on disk
	Ratio         float64 // RawBytes / DiskBytes (0 when empty)
	Segments      int
	DroppedBySize int64 // events deleted with the oldest segments to keep MaxBytes
	CorruptBlocks int64
	WriteErrors   int64
	Skipped       uint64 // IDs gone from the source before Sync reached them
	LastID        uint64 // the highest ID appended
}

// Errors.
var (
	ErrOrder = errors.New("warm: event IDs must rise")
)

// Tier is an open warm tier.
type Tier struct {
	log     *segment.Log
	mu      sync.Mutex    // serializes appends
	lastID  atomic.Uint64 // the highest ID appended
	next    uint64        // the next ID Sync asks the source for (under mu)
	skipped atomic.Uint64 // IDs the source no longer held when Sync came to them
	buf     []byte
	keys    [3]uint64
}

// Open opens (creating if needed) the tier in cfg.Dir and finds the last
// ID it holds.
func Open(cfg Config) (*Tier, error) {
	l, err := segment.Open(cfg.Dir, segment.Config{Codec: cfg.Codec, MaxBytes: cfg.MaxBytes, NoSync: cfg.NoSync,
		SegmentSize: segmentSize(cfg.MaxBytes)})
	if err != nil {
		return nil, err
	}
	t := &Tier{log: l}
	// The last record ever appended, hidden by PruneBefore or not: IDs must
	// not repeat after a restart.
	for r, err := range l.Scan(segment.Query{Reverse: true, Hidden: true}) {
		if err != nil {
			continue // reported by the scan's counters; the next block may hold the last ID
		}
		ev, derr := decode(r)
		if derr == nil {
			t.lastID.Store(ev.ID)
			break
		}
	}
	t.next = t.lastID.Load() + 1
	return t, nil
}

// segmentSize keeps at least 8 segments under the bound, so that deleting
// the oldest frees at most an eighth.
func segmentSize(maxBytes int64) int64 {
	if maxBytes == 0 {
		return 0
	}
	return min(max(maxBytes/8, segment.MinSegmentSize), segment.DefaultSegmentSize)
}

// Recovery returns what opening the directory found and repaired.
func (t *Tier) Recovery() segment.Recovery { return t.log.Recovery() }

// LastID returns the highest ID appended (0 when empty).
func (t *Tier) LastID() uint64 { return t.lastID.Load() }

func keyOf(prefix byte, s string) uint64 {
	var b [1]byte
	b[0] = prefix
	return segment.Key(string(b[:]) + s)
}

func typeKey(s string) uint64 { return keyOf('t', s) }
func corrKey(s string) uint64 { return keyOf('c', s) }
func idKey(id uint64) uint64  { return keyOf('i', strconv.FormatUint(id, 10)) }

// encode lays out an event as a record's data: uvarint ID, uvarint
// ParentID, uvarint len + Type, uvarint len + CorrelationID, then Data.
func encode(dst []byte, ev *Event) []byte {
	dst = binary.AppendUvarint(dst, ev.ID)
	dst = binary.AppendUvarint(dst, ev.ParentID)
	dst = binary.AppendUvarint(dst, uint64(len(ev.Type)))
	dst = append(dst, ev.Type...)
	dst = binary.AppendUvarint(dst, uint64(len(ev.CorrelationID)))
	dst = append(dst, ev.CorrelationID...)
	return append(dst, ev.Data...)
}

var errBadRecord = fmt.Errorf("%w: bad event record", segment.ErrCorrupt)

// decode copies the event out of r (r's slices are reused by the scan).
func decode(r segment.Record) (Event, error) {
	ev, err := view(r)
	if err != nil {
		return ev, err
	}
	ev.Type, ev.CorrelationID = string([]byte(ev.Type)), string([]byte(ev.CorrelationID))
	if ev.Data != nil {
		ev.Data = slices.Clone(ev.Data)
	}
	return ev, nil
}

// view decodes r without copying: the strings and Data alias r.Data.
func view(r segment.Record) (Event, error) {
	b := r.Data
	var ev Event
	ev.Time = r.Time
	id, n := binary.Uvarint(b)
	if n <= 0 {
		return ev, errBadRecord
	}
	b = b[n:]
	parent, n := binary.Uvarint(b)
	if n <= 0 {
		return ev, errBadRecord
	}
	b = b[n:]
	tl, n := binary.Uvarint(b)
	if n <= 0 || tl > uint64(len(b)-n) {
		return ev, errBadRecord
	}
	typ := b[n : n+int(tl)]
	b = b[n+int(tl):]
	cl, n := binary.Uvarint(b)
	if n <= 0 || cl > uint64(len(b)-n) {
		return ev, errBadRecord
	}
	corr := b[n : n+int(cl)]
	b = b[n+int(cl):]
	ev.ID, ev.ParentID = id, parent
	ev.Type, ev.CorrelationID = unsafeString(typ), unsafeString(corr)
	if len(b) > 0 {
		ev.Data = b
	}
	return ev, nil
}

// Append writes evs (in rising ID order, each above [Tier.LastID]) and
// makes them durable before it returns nil. [ErrOrder] refuses the whole
// batch up front. On a write error ([segment.ErrWrite]) the events up to
// LastID are in the log, pending (queryable, and written by the next
// successful Append or [Tier.Flush]); the caller resumes after LastID.
func (t *Tier) Append(evs []Event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	last := t.lastID.Load()
	for i := range evs {
		if evs[i].ID <= last {
			return fmt.Errorf("%w: %d after %d", ErrOrder, evs[i].ID, last)
		}
		last = evs[i].ID
	}
	for i := range evs {
		if err := t.appendOne(&evs[i]); err != nil {
			if i > 0 {
				t.lastID.Store(evs[i-1].ID)
			}
			t.next = max(t.next, t.lastID.Load()+1)
			return err
		}
	}
	if err := t.log.Flush(); err != nil {
		if len(evs) > 0 {
			t.lastID.Store(evs[len(evs)-1].ID) // pending in the log: a retry must not append them again
			t.next = max(t.next, evs[len(evs)-1].ID+1)
		}
		return err
	}
	if len(evs) > 0 {
		t.lastID.Store(evs[len(evs)-1].ID)
		t.next = max(t.next, evs[len(evs)-1].ID+1)
	}
	return nil
}

// Flush retries writing what a failed Append left pending.
func (t *Tier) Flush() error { return t.log.Flush() }

// Get returns the event with id.
func (t *Tier) Get(id uint64) (Event, bool, error) {
	var firstErr error
	for r, err := range t.log.Scan(segment.Query{Key: idKey(id)}) {
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		ev, err := view(r)
		if err == nil && ev.ID == id {
			ev, err = decode(r)
			return ev, err == nil, err
		}
	}
	return Event{}, false, firstErr
}

// less orders events by (Time, ID).
func less(a, b *Event) bool {
	return a.Time < b.Time || (a.Time == b.Time && a.ID < b.ID)
}

// worstHeap keeps the best k events; its root is the worst of them.
type worstHeap struct {
	evs  []Event
	desc bool
}

func (h *worstHeap) Len() int { return len(h.evs) }
func (h *worstHeap) Less(i, j int) bool {
	if h.desc {
		return less(&h.evs[i], &h.evs[j])
	}
	return less(&h.evs[j], &h.evs[i])
}
func (h *worstHeap) Swap(i, j int) { h.evs[i], h.evs[j] = h.evs[j], h.evs[i] }
func (h *worstHeap) Push(x any)    { h.evs = append(h.evs, x.(Event)) }
func (h *worstHeap) Pop() any {
	e := h.evs[len(h.evs)-1]
	h.evs = h.evs[:len(h.evs)-1]
	return e
}

// better reports whether a comes before b in the query's order.
func better(a, b *Event, desc bool) bool {
	if desc {
		return less(b, a)
	}
	return less(a, b)
}

// Query returns the first k events that q selects, in (Time, ID) order
// (descending with q.Descending). It reads the blocks whose time range and
// key filter admit q, newest first when descending, and once it holds k
// candidates it skips the blocks whose times cannot beat the worst of them:
// when Time follows ID (events stamped at Store), a page costs about one
// block read per k events, at any depth with After. It checks ctx every
// 1024 records.
// Blocks that fail their checks are skipped and counted; their error is
// returned only if nothing could be read.
func (t *Tier) Query(ctx context.Context, q Query, k int) ([]Event, error) {
	if k <= 0 {
		return nil, nil
	}
	sq := segment.Query{FromTime: q.Since, Reverse: q.Descending}
	if q.Since == 0 {
		sq.FromTime = math.MinInt64
	}
	if q.Until != 0 && q.Until < math.MaxInt64 {
		sq.ToTime = q.Until + 1
	}
	if q.After.ID != 0 { // nothing before the cursor's time can follow it
		if q.Descending {
			if q.After.Time < math.MaxInt64 && (sq.ToTime == 0 || q.After.Time+1 < sq.ToTime) {
				sq.ToTime = q.After.Time + 1
			}
		} else {
			sq.FromTime = max(sq.FromTime, q.After.Time)
		}
	}
	switch {
	case q.CorrelationID != "":
		sq.Key = corrKey(q.CorrelationID)
	case q.Type != "":
		sq.Key = typeKey(q.Type)
	}
	h := &worstHeap{desc: q.Descending}
	// Once k candidates are held, a block whose times all lie beyond the
	// worst of them cannot improve the answer: skip it unread.
	sq.Narrow = func() (int64, int64) {
		if len(h.evs) < k {
			return math.MinInt64, 0
		}
		w := h.evs[0].Time
		if q.Descending {
			return w, 0
		}
		if w == math.MaxInt64 {
			return math.MinInt64, 0
		}
		return math.MinInt64, w + 1
	}
	n := 0
	for r, err := range t.log.Scan(sq) {
		if err != nil {
			continue
		}
		if n++; n&1023 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ev, err := view(r)
		if err != nil || (q.Type != "" && ev.Type != q.Type) || (q.CorrelationID != "" && ev.CorrelationID != q.CorrelationID) ||
			(q.Below != 0 && ev.ID >= q.Below) {
			continue
		}
		if q.After.ID != 0 {
			a := Event{Time: q.After.Time, ID: q.After.ID}
			if !better(&a, &ev, q.Descending) {
				continue
			}
		}
		if len(h.evs) == k && !better(&ev, &h.evs[0], q.Descending) {
			continue
		}
		if ev, err = decode(r); err != nil {
			continue
		}
		if len(h.evs) < k {
			heap.Push(h, ev)
		} else {
			h.evs[0] = ev
			heap.Fix(h, 0)
		}
	}
	out := h.evs
	slices.SortFunc(out, func(a, b Event) int {
		if better(&a, &b, q.Descending) {
			return -1
		}
		if better(&b, &a, q.Descending) {
			return 1
		}
		return 0
	})
	return out, nil
}

// PruneBefore hides every event with Time < cut at once and reclaims whole
// segments; durable when it returns nil.
func (t *Tier) PruneBefore(cut int64) error { return t.log.DeleteBeforeTime(cut) }

// Health returns the last write failure, nil when the last write succeeded.
func (t *Tier) Health() error { return t.log.Health() }

// Stats returns the tier's figures.
func (t *Tier) Stats() Stats {
	st := t.log.Stats()
	s := Stats{Events: st.Records, DiskBytes: st.DiskBytes, RawBytes: st.RawBytes, Segments: st.Segments,
		DroppedBySize: st.DroppedRecords, CorruptBlocks: st.CorruptBlocks, WriteErrors: st.WriteErrors, Skipped: t.skipped.Load(), LastID: t.lastID.Load()}
	if st.DiskBytes > 0 {
		s.Ratio = float64(st.RawBytes) / float64(st.DiskBytes)
	}
	return s
}

// Close writes what is pending and closes the log.
func (t *Tier) Close() error { return t.log.Close() }
