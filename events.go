package foundation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/eventstore"
	"github.com/elixirscope-go/foundation/internal/fanout"
	"github.com/elixirscope-go/foundation/ring"
)

// Event is one stored event.
//
// ID is assigned by [EventStore.Store]: an ID the caller sets is ignored.
// IDs are unique, not consecutive: under drop_oldest each core takes IDs
// from a block of its own (a goroutine's successive IDs rise while it runs
// on one core; across cores, ID order is not store order). With an
// Exporter or the warm tier, IDs follow store order.
// Time is Unix nanoseconds; Store sets it from the Foundation's clock when it
// is zero and keeps any other value, even one far in the past or the future.
// CorrelationID ties events together ([EventStore.Correlated]); ParentID is
// kept as given. Data is at most the configured max event size
// ([WithMaxEventSize], default 1,000,000 bytes); the store keeps its own copy,
// and every Event it returns carries a fresh copy that the caller may modify.
//
// The JSON form (used by the jsonl package's sink) has snake_case keys; Data is
// base64, as encoding/json encodes []byte.
type Event struct {
	ID            uint64 `json:"id"`
	Type          string `json:"type"`
	Time          int64  `json:"time"`
	CorrelationID string `json:"correlation_id,omitempty"`
	ParentID      uint64 `json:"parent_id,omitempty"`
	Data          []byte `json:"data,omitempty"`
}

// Query selects events for [EventStore.Query] and [EventStore.Subscribe].
// The zero value selects every event.
//
//   - Type and CorrelationID: exact match when non-empty.
//   - Since and Until: an inclusive range of Time; 0 leaves that end open.
//     Since > Until (both non-zero) is an error.
//   - Limit: at most this many results. 0 means interface.max_results, which
//     is also the cap of a larger Limit (read on every query, so that a
//     config update takes effect at once). Negative is an error.
//   - Offset: skip this many matching events first (O(Offset) time, and
//     with the warm tier O(Offset) memory: prefer After for deep pages).
//     Negative is an error, and so is more than [MaxQueryOffset].
//   - Descending: newest first; the default is oldest first.
//   - After: keyset paging. When After.ID is set, only the events strictly
//     after After in the query's order are returned; pass the last result
//     of a page ([Event.Cursor]) to get the next page. A page then costs
//     O(log n + Limit) at any depth (when Time mostly follows store order),
//     and events stored or removed between pages neither repeat nor shift
//     the pages.
//
// Results are ordered by (Time, ID): ascending, or descending with
// Descending, whatever the concurrency of the stores. An event stored with
// an explicit older Time (backfill, clock skew) appears at its Time's place;
// events with the same Time are in ID (store) order.
type Query struct {
	Type          string
	CorrelationID string
	Since, Until  int64
	Limit, Offset int
	Descending    bool
	After         EventCursor
}

// MaxQueryOffset (1,048,576) caps [Query.Offset]. A query keeps its Offset+Limit best
// candidates while it walks, and with the warm tier on those are copies of
// events read from disk, so an uncapped Offset would let one call hold any
// amount of memory; at the cap that is about Offset × (the event's size +
// 100 bytes). Pages deeper than this use [Query.After], which costs
// O(log n + Limit) at any depth.
const MaxQueryOffset = eventstore.MaxOffset

// EventCursor is a position in (Time, ID) order, for [Query.After]. The
// zero value means "from the start".
type EventCursor struct {
	Time int64
	ID   uint64
}

// Cursor returns e's position in (Time, ID) order: the After of the page
// that follows e.
func (e Event) Cursor() EventCursor { return EventCursor{Time: e.Time, ID: e.ID} }

func (q Query) engine() eventstore.Query {
	return eventstore.Query{Type: q.Type, CorrelationID: q.CorrelationID, Since: q.Since, Until: q.Until,
		Limit: q.Limit, Offset: q.Offset, Descending: q.Descending,
		After: eventstore.Cursor{Time: q.After.Time, ID: q.After.ID}}
}

// EventStats is a snapshot of an [EventStore]'s counters (see
// [EventStore.Stats]).
//
// When no store or prune runs, Stored == Len + Evicted + Pruned and Bytes
// is exactly the bytes of the Len events held. While they run, each field is
// read on its own and the sum may be off by the operations in flight, but at
// every instant 0 ≤ Len ≤ Capacity and Bytes ≥ 0.
type EventStats struct {
	Stored   uint64 // events accepted since New (a batch of 5 counts 5)
	Pruned   uint64 // removed by PruneBefore and the max_age pruner
	Evicted  uint64 // overwritten by newer events under drop_oldest
	Dropped  uint64 // refused: drop_newest with no room, block timed out (never stored)
	Len      int    // events held now (Get and Query can find them)
	Capacity int    // storage.hot.max_events
	Bytes    int64  // bytes of the events held (Len): Data, Type, CorrelationID and a fixed overhead each; bounded by storage.hot.max_size_mb

	// Warm tier (storage.warm; zero when disabled).
	Warm WarmStats

	// Export pipeline (all zero without an [Exporter]).
	Exported      uint64 // events acknowledged by the exporter
	ExportDropped uint64 // events lost to export: evicted or pruned before the exporter took them
	ExportPending int    // events read for export, not yet acknowledged (≤ capture.processing.max_queue_size)
}

// EventStore is the bounded in-memory event store of a Foundation: a sharded
// lock-free ring (the IDs are its sequence numbers) with two secondary
// indexes, by type and by correlation id, and a time index over blocks of
// IDs. Get it from [Foundation.Events].
//
// Bounds: storage.hot.max_events (the capacity) and the overflow strategy
// (capture.ring_buffer.overflow_strategy: drop_oldest evicts the oldest
// event, drop_newest refuses the new one with [ErrFull], block waits up to
// interface.query_timeout and then fails with [ErrTimeout]);
// storage.hot.max_age_seconds, enforced every storage.hot.prune_interval by a
// supervised pruner. An evicted or pruned event leaves every index at once:
// no Get or Query returns it from memory.
//
// The warm tier (storage.warm.enable): a supervised task, events.warm,
// copies every stored event, in ID order and off the Store path, to a
// compressed segment log in storage.warm.path (package segment), every
// capture.processing.flush_interval or once about capture.processing.batch_size
// events are waiting, one fsync per round. Events the ring overwrites before
// the task copies them are counted in [WarmStats].Dropped, never waited for.
// Get, Query and Correlated span both tiers in (Time, ID) order, each event
// once; PruneBefore removes from both; Close copies what the ring holds, so
// a clean restart loses nothing, and after a restart on the same path IDs go
// on past the last one on disk. storage.warm.max_size_mb bounds the
// directory (oldest segments deleted first, counted). Health reports the
// store degraded, with the reason, while the tier cannot write.
//
// All methods are safe for concurrent use. After [Foundation.Close], writes
// (Store, StoreBatch) return errors matching [ErrClosed], PruneBefore does
// nothing, and reads (Get, Query, Correlated, Stats) still see the events
// held at Close.
type EventStore struct {
	eng    *eventstore.Store
	config func() *Config // the config in effect: one atomic load
	log    *slog.Logger
	exp    *exportPipeline // nil without an Exporter
	warm   *warmTier       // nil without storage.warm.enable
}

// eventStoreHooks is what the event store uses outside itself, given by
// [New]: the store holds no other service, only these.
type eventStoreHooks struct {
	clock Clock
	log   *slog.Logger
	// config returns the config in effect (the config service's snapshot):
	// the store reads its live settings (interface.max_results,
	// interface.query_timeout, storage.hot.prune_interval and
	// max_age_seconds, interface.enable_streaming, capture.processing) there.
	config func() *Config
	// start starts a supervised task (the pruner, the exporter).
	start func(name string, fn func(context.Context) error) error
	// pruned and dropped count into foundation.events_pruned and
	// foundation.events_dropped; nil counts nothing.
	pruned, dropped func(n uint64)
}

// newEventStore builds the store from cfg, the config in effect at start,
// and starts its supervised tasks (pruner, exporter).
func newEventStore(cfg Config, maxEventSize int, exp Exporter, h eventStoreHooks) (*EventStore, error) {
	s := &EventStore{config: h.config, log: h.log}
	var pol ring.Policy
	policy := cfg.Capture.RingBuffer.OverflowStrategy
	switch policy {
	case DropOldest, "":
		pol, policy = ring.DropOldest, DropOldest
	case DropNewest:
		pol = ring.DropNewest
	case Block:
		pol = ring.Block
	default:
		return nil, newError(kInvalidValue, nil, fmt.Sprintf("capture.ring_buffer.overflow_strategy = %q: unknown", string(policy)),
			"path", "capture.ring_buffer.overflow_strategy", "value", string(policy))
	}
	deps := eventstore.Deps{
		Clock:   h.clock,
		Log:     h.log,
		Go:      h.start,
		Limits:  s.limits,
		Pruned:  h.pruned,
		Dropped: h.dropped,
	}
	if exp != nil {
		s.exp = newExportPipeline(exp, cfg.Capture.Processing.MaxQueueSize, h.config, h.clock, h.log)
		deps.Stored = s.exp.stored
	}
	var firstID uint64
	if cfg.Storage.Warm.Enable {
		wt, err := openWarm(&cfg)
		if err != nil {
			return nil, err
		}
		wt.clock, wt.config, wt.log = h.clock, h.config, h.log
		s.warm, deps.Older, firstID = wt, wt, wt.t.LastID()+1
		if s.exp != nil {
			deps.Stored = func(id uint64) { s.exp.stored(id); wt.stored(id) }
		} else {
			deps.Stored = wt.stored
		}
	}
	eng, err := eventstore.New(eventstore.Config{
		Capacity:     cfg.Storage.Hot.MaxEvents,
		Shards:       cfg.Capture.RingBuffer.NumBuffers,
		Policy:       pol,
		MaxEventSize: maxEventSize,
		MaxBytes:     min(int64(cfg.Storage.Hot.MaxSizeMB), math.MaxInt64>>20) << 20,
		FirstID:      firstID,
	}, string(policy), deps)
	if err != nil {
		if s.warm != nil {
			_ = s.warm.t.Close()
		}
		return nil, mapError(err)
	}
	s.eng = eng
	if s.warm != nil {
		s.warm.eng = eng
	}
	if s.exp != nil {
		s.exp.eng = eng
		// The first ID is past the warm tier's last: IDs below it are not
		// events the exporter missed.
		s.exp.next = max(firstID, 1)
		s.exp.kickAt.Store(s.exp.next)
		if err := h.start("events.exporter", s.exp.run); err != nil {
			if s.warm != nil {
				_ = s.warm.t.Close()
			}
			return nil, err
		}
	}
	if s.warm != nil {
		if err := h.start("events.warm", s.warm.run()); err != nil {
			_ = s.warm.t.Close()
			return nil, err
		}
	}
	return s, nil
}

// limits hands the engine the settings it reads live.
func (s *EventStore) limits() eventstore.Limits {
	c := s.config()
	return eventstore.Limits{
		MaxResults:    c.Interface.MaxResults,
		QueryTimeout:  c.Interface.QueryTimeout,
		PruneInterval: c.Storage.Hot.PruneInterval,
		MaxAge:        time.Duration(c.Storage.Hot.MaxAgeSeconds) * time.Second,
	}
}

// mapError turns an engine error into the root's *Error of the same kind.
func mapError(err error) error {
	var e *eventstore.Error
	if !errors.As(err, &e) {
		return err
	}
	k := kInternal
	switch e.Kind {
	case eventstore.ErrClosed:
		k = kClosed
	case eventstore.ErrInvalidEvent:
		k = kInvalidEvent
	case eventstore.ErrDataTooLarge:
		k = kDataTooLarge
	case eventstore.ErrInvalidQuery:
		k = kInvalidQuery
	case eventstore.ErrNotFound:
		k = kNotFound
	case eventstore.ErrFull:
		k = kStoreFull
	case eventstore.ErrTimeout:
		k = kTimeout
	case eventstore.ErrInvalidArg:
		k = kInvalidArgument
	}
	return newError(k, e.Cause, e.Msg, e.Attrs...)
}

// Events of the root and of the engine have one layout (TestEventLayout),
// so slices convert in place.
func toEvents(evs []eventstore.Event) []Event {
	return unsafe.Slice((*Event)(unsafe.SliceData(evs)), len(evs))
}

func fromEvents(evs []Event) []eventstore.Event {
	return unsafe.Slice((*eventstore.Event)(unsafe.SliceData(evs)), len(evs))
}

// Store validates ev, stores a copy and returns its ID. Time is set from the
// Foundation's clock when zero; a caller-set ID is ignored.
//
// Errors: [ErrInvalidEvent] for an empty Type, [ErrDataTooLarge] for Data
// over the max event size (both also match [ErrValidation]); when the store is
// full, [ErrFull] under drop_newest and [ErrTimeout] under block (after
// interface.query_timeout); [ErrClosed] after Close. On error nothing is
// stored.
//
// Store takes no lock: it pushes into the ring (one atomic claim), appends
// the ID to the type index and, when CorrelationID is set, to the
// correlation index (each locks only its key's list), and sends to matching
// subscribers' delivery without blocking (see [EventStore.Subscribe]). It
// allocates nothing at steady state: the stored copy is carved from a
// per-P slab.
func (s *EventStore) Store(ev Event) (uint64, error) {
	id, err := s.eng.Store((*eventstore.Event)(unsafe.Pointer(&ev))) // one layout (TestEventLayout)
	if err != nil {
		return 0, mapError(err)
	}
	return id, nil
}

// storeRef is Store for an event the caller reuses (the config change
// recorder): no copy of the Event on the way in (the store copies what it
// keeps), and never a wait: under the block policy a full store refuses at
// once, since the recorder runs under the config service's lock and every
// config change would otherwise wait up to interface.query_timeout.
func (s *EventStore) storeRef(ev *Event) error {
	if _, err := s.eng.StoreNoWait((*eventstore.Event)(unsafe.Pointer(ev))); err != nil {
		return mapError(err)
	}
	return nil
}

// StoreBatch stores evs all or nothing and returns their IDs, which are
// contiguous and in the order of evs. Every event is validated first (the
// error names the index of the first bad one); the clock is read once for
// the batch. Errors as [EventStore.Store]; a batch larger than the capacity
// matches [ErrFull] under every policy. An empty batch stores nothing and
// returns no IDs.
func (s *EventStore) StoreBatch(evs []Event) ([]uint64, error) {
	ids, err := s.eng.StoreBatch(fromEvents(evs))
	if err != nil {
		return nil, mapError(err)
	}
	return ids, nil
}

// Get returns a copy of the event id. It returns an error matching
// [ErrNotFound] when no such event is held (never stored, evicted or
// pruned). O(1), no lock; it allocates the copy of Data. With the warm tier
// on, an id that left the ring is read from disk (one block).
func (s *EventStore) Get(id uint64) (Event, error) {
	e, err := s.eng.Get(id)
	if err != nil {
		return Event{}, mapError(err)
	}
	return Event(e), nil
}

// Query returns copies of the events that match q, in the order of [Query],
// within interface.query_timeout. It is [EventStore.QueryContext] with a
// background context.
func (s *EventStore) Query(q Query) ([]Event, error) {
	return s.QueryContext(context.Background(), q)
}

// QueryContext returns copies of the events that match q, in the order of
// [Query].
//
// Cost: O(log n + offset + results), never a scan of the store. A query by
// Type or CorrelationID pages that index (with both, the shorter list,
// filtered by the other); a query with neither pages the ring; a time range
// is mapped to candidate blocks of IDs by the time index and, with a key,
// pages only those ID ranges of the index. Every hit is checked against the
// ring, so no evicted or pruned event is returned.
//
// Errors: [ErrInvalidQuery] (also [ErrValidation]) for a negative Limit or
// Offset, an Offset over [MaxQueryOffset] or Since > Until; [ErrTimeout]
// when ctx ends or interface.query_timeout passes first (no partial result).
func (s *EventStore) QueryContext(ctx context.Context, q Query) ([]Event, error) {
	out, err := s.eng.QueryContext(ctx, q.engine())
	if err != nil {
		return nil, mapError(err)
	}
	return toEvents(out), nil
}

// EventBuffer is memory for the results of [EventStore.QueryInto], reused
// from one query to the next, so that paging, exports and dashboards query
// without allocating once it has grown to the size of their pages. The zero
// value is ready to use. An EventBuffer is not safe for concurrent use: use
// one per goroutine.
//
// Memory: it grows to exactly what a page needs when it is too small and
// does not shrink, so it keeps what its largest page needed: at most
// interface.max_results Events (80 bytes each; the largest max_results in
// effect while it was used) and as many times the max event size
// ([WithMaxEventSize]) bytes of Data. With the defaults
// that is 1,000 events and their bytes: 80 KB plus the events' own sizes,
// 1 GB at the very worst (1,000 events of 1,000,000 bytes).
// [EventBuffer.Reset] drops it.
type EventBuffer struct {
	b eventstore.Buffer
}

// Reset drops the buffer's memory, for when a rare large page grew it.
// Results it backs stay valid for whoever still holds them.
func (b *EventBuffer) Reset() { b.b.Reset() }

// QueryInto is [EventStore.Query] with the results written into buf's
// memory instead of new memory. It is [EventStore.QueryIntoContext] with a
// background context.
func (s *EventStore) QueryInto(buf *EventBuffer, q Query) ([]Event, error) {
	return s.QueryIntoContext(context.Background(), buf, q)
}

// QueryIntoContext returns the events that match q, as
// [EventStore.QueryContext] does (same order, cost and errors), written
// into buf's memory: the returned slice and the Data of its events are
// backed by buf. They are the caller's to read and modify until buf is
// next used, which overwrites them: copy what must outlive the page
// (bytes.Clone, or copy the Event and its Data). Each Data is capped at
// its length, so an append to it allocates rather than reaching a
// neighbour's bytes. Strings are never backed by buf, so they never
// change: the Type is the store's interned copy (or q's), and the
// CorrelationID is q's when q names one, else it shares the memory the
// event is stored in, without a copy; a CorrelationID kept after the event
// left the store keeps that memory alive (a 4 KiB slab, or for an event of
// over 1 KiB the event's own allocation, up to the max event size), so
// clone one that is kept long (strings.Clone).
//
// Allocations: none once buf has grown to the size of the pages, for
// events held in memory whose Type is among the 4,096 interned (types of at
// most 256 bytes). With the warm tier on, the merge of the two tiers
// allocates the results, as Query does, and buf is not used.
//
// Errors: those of QueryContext, and [ErrInvalidQuery] for a nil buf.
func (s *EventStore) QueryIntoContext(ctx context.Context, buf *EventBuffer, q Query) ([]Event, error) {
	var b *eventstore.Buffer
	if buf != nil {
		b = &buf.b
	}
	out, err := s.eng.QueryInto(ctx, b, q.engine())
	if err != nil {
		return nil, mapError(err)
	}
	return toEvents(out), nil
}

// Correlated returns copies of every event held with this correlation id,
// ascending by Time (ties by ID). It is not capped by interface.max_results:
// the store's capacity bounds it (with the warm tier on, the tier adds at
// most storage.hot.max_events more, its oldest). An empty id is an error matching
// [ErrInvalidQuery]; an id with no events returns an empty slice and no error.
func (s *EventStore) Correlated(correlationID string) ([]Event, error) {
	out, err := s.eng.Correlated(correlationID)
	if err != nil {
		return nil, mapError(err)
	}
	return toEvents(out), nil
}

// PruneBefore removes every held event with Time < t and returns how many
// it removed from memory; with the warm tier on, it also hides every event
// of the tier with Time < t at once (durably) and reclaims whole segments. Events at the oldest end leave the ring at once; older-timed
// events that sit behind newer ones (a caller set their Time) are pruned in
// place: hidden from Get and Query, removed from the indexes, counted as
// pruned now and never again as evicted. The time index finds them without
// a scan of the store. Concurrent PruneBefore calls run one at a time;
// stores go on meanwhile (an event stored while the prune runs may be kept).
// After Close it returns 0.
func (s *EventStore) PruneBefore(t int64) int {
	n := s.eng.PruneBefore(t)
	if s.warm != nil && !s.eng.Closed() {
		if err := s.warm.t.PruneBefore(t); err != nil {
			s.log.Warn("warm tier: prune failed", "before", t, "err", err)
		}
	}
	return n
}

// Stats returns the store's counters. It takes no lock and does not
// allocate. See [EventStats] for the invariant.
func (s *EventStore) Stats() EventStats {
	es := s.eng.Stats()
	st := EventStats{Stored: es.Stored, Pruned: es.Pruned, Evicted: es.Evicted, Dropped: es.Dropped,
		Len: es.Len, Capacity: es.Capacity, Bytes: es.Bytes}
	if w := s.warm; w != nil {
		st.Warm = w.stats()
	}
	if e := s.exp; e != nil {
		st.Exported = e.exported.Load()
		st.ExportDropped = e.dropped.Load()
		st.ExportPending = int(e.pendingN.Load())
	}
	return st
}

// storedCount is Stats().Stored, for foundation.events_stored.
func (s *EventStore) storedCount() uint64 { return s.eng.StoredCount() }

// evictedCount is Stats().Evicted, for foundation.events_evicted.
func (s *EventStore) evictedCount() uint64 { return s.eng.EvictedCount() }

func (s *EventStore) health() ServiceHealth {
	if s.eng.Closed() {
		return ServiceHealth{Status: StatusStopped, Reason: "closed"}
	}
	if e := s.exp; e != nil {
		if why := e.problem(); why != "" {
			return ServiceHealth{Status: StatusDegraded, Reason: why}
		}
	}
	if w := s.warm; w != nil {
		if err := w.t.Health(); err != nil {
			return ServiceHealth{Status: StatusDegraded, Reason: "warm tier cannot write: " + err.Error()}
		}
	}
	return ServiceHealth{Status: StatusRunning}
}

// close is called by Foundation.Close after the supervisor stopped the
// pruner and the exporter (Foundation.Close closed the engine before that:
// writes fail with ErrClosed and subscriptions' channels are closed from
// the start of Close); the exporter is flushed of abandoned calls and closed.
// It returns the warm tier's failure to copy the hot tier to disk and close,
// which Foundation.Close reports (the events not copied are lost at exit).
func (s *EventStore) close() error {
	s.eng.Close() // idempotent: Foundation.Close closed it first, to refuse writes at once
	if s.exp != nil {
		s.exp.close()
	}
	if s.warm != nil {
		if err := s.warm.close(); err != nil {
			s.log.Error("warm tier: closing", "err", err)
			return newError(kInternal, err, "close: the warm tier could not copy the hot tier to disk and close")
		}
	}
	return nil
}

// EventSubscription delivers the events stored after [EventStore.Subscribe]
// that match its query. Its methods are safe for concurrent use.
type EventSubscription struct {
	sub *eventstore.Subscription // nil when Subscribe refused it
	out *fanout.Sub[Event]
	err error // why Subscribe refused it; nil otherwise
}

// SubscribeOption configures one subscription ([SubscriptionBuffer]).
type SubscribeOption interface{ applySub(*subSettings) }

type subSettings struct{ buffer int }

type subOptionFunc func(*subSettings)

func (f subOptionFunc) applySub(s *subSettings) { f(s) }

// The subscription buffer: its default, and the cap of a larger request.
const (
	DefaultSubscriptionBuffer = 256
	MaxSubscriptionBuffer     = 65_536
)

// SubscriptionBuffer sets how many events a subscription's channel
// buffers: n ≤ 0 means [DefaultSubscriptionBuffer]; more than
// [MaxSubscriptionBuffer] is capped to it.
func SubscriptionBuffer(n int) SubscribeOption {
	return subOptionFunc(func(s *subSettings) { s.buffer = n })
}

// Subscribe returns a subscription to the events stored from now on that
// match q's Type, CorrelationID and Since/Until (Offset, Descending and
// After are ignored). With q.Limit > 0, it delivers at most q.Limit matching
// events (delivered or dropped) and then closes its channel; 0 means no
// limit; a negative Limit is treated as 0.
//
// A subscription receives the events of the Stores that begin after
// Subscribe returns, not those of the Stores that returned before it
// began (a Store running meanwhile may go either way).
//
// Order: each channel receives its events in (Time, ID) order, whatever
// the concurrency of the writers. One supervised task ("events.subscriptions")
// sends them: an event is sent once the Foundation's clock has passed its
// Time and every Store that read the clock before has committed, so it
// arrives microseconds after it is stored (a Store descheduled between its
// clock read and its commit holds the others back until it commits; one
// waiting for room under the block policy registers only once it has the
// room, so it holds nothing back; with a manual clock, events stamped by
// the clock wait until it moves). An event
// stored with an explicit Time ahead of the clock is held until the clock
// passes it, or the Foundation's Close. An event that cannot take its
// place any more is late: one stored with an explicit Time below an event
// this subscription already received (backfill, another clock), or
// stamped after the clock stepped back. A late event is still sent, as
// soon as the clock passes its Time (late events in (Time, ID) order among
// themselves); the subscriber recognises it as the one below the largest
// [Event.Cursor] it received, and [EventSubscription.Late] counts them.
// Events whose Time the clock set are never late while the clock does not
// go back. At most 65,536 events (or 64 MiB of them) wait for the clock;
// past that the earliest are sent before their turn, and what comes below
// them later is late. The Foundation's Close first sends every event held
// (waiting at most a second for the Stores in flight), and
// [EventSubscription.Close] those held for that subscription.
//
// The channel buffers [DefaultSubscriptionBuffer] events, or what
// [SubscriptionBuffer] sets (at most [MaxSubscriptionBuffer]); its memory
// is allocated up front. A subscriber that falls behind never blocks Store:
// the events that find the buffer full are dropped for it and counted by
// [EventSubscription.Dropped]. The sends and copies are made by the
// delivery task, not by Store; when that task falls behind (the writers
// keep the cores busy), a Store whose queue (1,024 events per P) is full
// does its work for it. Each event received is the subscriber's own
// copy. The channel is closed by [EventSubscription.Close], by the Limit,
// or by the Foundation's Close, never otherwise. Subscribing after Close
// returns a subscription whose channel is already closed. A query that can
// match nothing (Since > Until) is allowed; it receives nothing.
//
// With interface.enable_streaming false, Subscribe refuses: the channel is
// closed at once and [EventSubscription.Err] returns an error matching
// [ErrConstraint] that names the setting. Subscribing after Close also
// returns a closed channel, with an Err matching [ErrClosed].
func (s *EventStore) Subscribe(q Query, opts ...SubscribeOption) *EventSubscription {
	if !s.config().Interface.EnableStreaming {
		return refusedSubscription(newError(kConstraint, nil,
			"subscribe: event streaming is off (interface.enable_streaming = false)",
			"path", "interface.enable_streaming", "value", false))
	}
	if s.eng.Closed() {
		return refusedSubscription(errClosed("events.subscribe"))
	}
	var set subSettings
	for _, o := range opts {
		if o != nil {
			o.applySub(&set)
		}
	}
	buf := set.buffer
	if buf <= 0 {
		buf = DefaultSubscriptionBuffer
	}
	buf = min(buf, MaxSubscriptionBuffer)
	q.Limit = max(q.Limit, 0)
	out := fanout.NewSub[Event](buf)
	sub := s.eng.Subscribe(q.engine(), func(e eventstore.Event) { out.Send(Event(e)) }, out.Close)
	return &EventSubscription{sub: sub, out: out}
}

// refusedSubscription is a subscription that Subscribe refused with err:
// its channel is closed.
func refusedSubscription(err error) *EventSubscription {
	out := fanout.NewSub[Event](0)
	out.Close()
	return &EventSubscription{out: out, err: err}
}

// C returns the channel on which matching events arrive.
func (sub *EventSubscription) C() <-chan Event { return sub.out.C() }

// Err returns why [EventStore.Subscribe] refused the subscription (its
// channel then closed at once): an error matching [ErrConstraint] when
// interface.enable_streaming is false, [ErrClosed] after the Foundation's
// Close. It is nil for a subscription that was made, also once its channel
// is closed by Close, its Limit or the Foundation's Close.
func (sub *EventSubscription) Err() error { return sub.err }

// Dropped returns how many matching events this subscriber lost because
// its buffer was full (or, rarely, the delivery's queue).
func (sub *EventSubscription) Dropped() uint64 {
	if sub.sub == nil {
		return sub.out.Dropped()
	}
	return sub.out.Dropped() + sub.sub.Lost()
}

// Late returns how many events were sent to this subscription below (in
// (Time, ID) order) one sent before them, received or dropped: see
// [EventStore.Subscribe].
func (sub *EventSubscription) Late() uint64 {
	if sub.sub == nil {
		return 0
	}
	return sub.sub.Late()
}

// Close ends the subscription and closes its channel, after sending the
// events already stored that wait for it (held for the clock: see
// [EventStore.Subscribe]); events still in the buffer can be read. Close
// is idempotent.
func (sub *EventSubscription) Close() {
	if sub.sub != nil {
		sub.sub.Close()
	}
}
