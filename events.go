package foundation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/atomicx"
	"github.com/elixirscope-go/foundation/internal/clock"
	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/elixirscope-go/foundation/internal/procpin"
	"github.com/elixirscope-go/foundation/ring"
)

// Event is one stored event.
//
// ID is assigned by [EventStore.Store]: an ID the caller sets is ignored.
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
//   - Offset: skip this many matching events first. Negative is an error.
//   - Descending: newest (highest ID) first; the default is ascending ID.
//
// Results are in ID order, which is store order.
type Query struct {
	Type          string
	CorrelationID string
	Since, Until  int64
	Limit, Offset int
	Descending    bool
}

// EventStats is a snapshot of an [EventStore]'s counters (see
// [EventStore.Stats]).
//
// When no store or prune runs, Stored == Len + Evicted + Pruned. While they
// run, each field is read on its own and the sum may be off by the
// operations in flight.
type EventStats struct {
	Stored   uint64 // events accepted since New (a batch of 5 counts 5)
	Pruned   uint64 // removed by PruneBefore and the max_age pruner
	Evicted  uint64 // overwritten by newer events under drop_oldest
	Dropped  uint64 // refused: drop_newest with no room, block timed out (never stored)
	Len      int    // events held now (Get and Query can find them)
	Capacity int    // storage.hot.max_events
	Bytes    int64  // memory held by the events: Data, Type, CorrelationID and a fixed overhead each

	// Export pipeline (all zero without an [Exporter]).
	Exported      uint64 // events acknowledged by the exporter
	ExportDropped uint64 // events lost to export: evicted or pruned before the exporter took them
	ExportPending int    // events read for export, not yet acknowledged (≤ capture.processing.max_queue_size)
}

// Record states (record.state). A record is born stIndexing; its Store moves
// it to stLive once both indexes hold it. It leaves by one of:
//   - the pruner's CAS stLive → stPruned (a logical prune: hidden, unindexed,
//     still in the ring until the ring overwrites or removes it);
//   - the ring's OnDiscard, which swaps in stGone: at once for a removal,
//     evictLag evictions later for an eviction (see evictCell). If it took
//     the record from stLive, the indexes forget it lazily (no query looks
//     below the ring's First); from stIndexing, the Store that is still
//     indexing sees its CAS fail and unindexes it itself; from stPruned, it
//     counts the event as pruned, not evicted.
//
// A record that the ring evicted but that is not settled yet may
// still go stIndexing → stLive or stLive → stPruned: the ring no longer
// holds it, so no reader reaches it, and the settling swap then sees the
// state that counts. So an index entry never outlives its event, whatever
// the interleaving.
const (
	stIndexing uint32 = iota
	stLive
	stPruned
	stGone
)

// recordOverhead is the fixed cost of one event counted in EventStats.Bytes:
// the record struct, the ring slot and the two index entries, roughly.
const recordOverhead = 128

// copyOut returns the event with its ID and its strings and Data copied
// out of the record: all three in one allocation (the bytes are stored
// together), or, for an event with neither CorrelationID nor Data, none (the
// Type from the interner).
func (s *EventStore) copyOut(id uint64, r *record) Event {
	e := Event{ID: id, Time: r.time, ParentID: r.parent}
	if r.clen+r.dlen == 0 {
		e.Type = s.types.get(r.typ())
		return e
	}
	buf := slices.Clone(unsafe.Slice(r.payload(0), int(r.tlen+r.clen+r.dlen)))
	e.Type = unsafe.String(&buf[0], int(r.tlen))
	splitTail(&e, r, buf[r.tlen:])
	return e
}

// byteStripes stripes EventStats.Bytes by P: a store adds its event's size,
// and an eviction subtracts it, on the cell of the P they run on (the sum is
// all that matters), so that each core writes a cache line of its own. P ids
// at or above byteStripes share one more cell.
const byteStripes = 16

type byteCell struct {
	n atomic.Uint64           // two's complement: evictions subtract
	_ [pad.CacheLine - 8]byte // one cell per line: no false sharing between stripes
}

// addBytes adds d to EventStats.Bytes. The cell of a P has one writer, the
// goroutine pinned to it, so the add is a load and a release store instead
// of a locked add (~6 ns each here, and a Store makes two: its own event
// and the one it evicts).
func (s *EventStore) addBytes(d int64) {
	pid := procpin.Pin()
	if pid < byteStripes {
		c := &s.bytes[pid].n
		atomicx.StoreRelease(c, c.Load()+uint64(d))
		procpin.Unpin()
		return
	}
	procpin.Unpin()
	s.bytes[byteStripes].n.Add(uint64(d))
}

// evictLag is how many evictions later a P settles an eviction (a power of
// two).
const evictLag = 16

// evictCell holds the last evictLag records that the pushes of one P
// evicted, not settled yet (state swap, byte count, pruned-then-evicted
// count): each eviction settles the one evictLag evictions older in the
// same place and prefetches its own record for writing.
//
// Why late: an evicted record was written a capacity of events ago, by
// whichever core stored it. With two cores storing, settling it at once
// was a cache miss on a line the other core had written: ~190 ns of each
// Store at -cpu 2 (~4 ns at -cpu 1), in a locked swap that cannot overlap
// other work. Prefetched evictLag evictions ahead, the line is in the cache
// when its turn comes.
//
// Only the goroutine pinned to the cell's P writes it. seq is twice the
// evictions so far, odd while one is being recorded; the next goes to
// recs[seq/2%evictLag]. Stats reads the pending records under seq
// (pendingEvictions) to count them as settled.
type evictCell struct {
	seq  atomic.Uint64
	recs [evictLag]atomic.Pointer[record]
	_    [pad.CacheLine - (8+evictLag*8)%pad.CacheLine]byte // cells of different Ps on different lines
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
// no Get or Query returns it.
//
// All methods are safe for concurrent use. After [Foundation.Close], writes
// (Store, StoreBatch) return errors matching [ErrClosed], PruneBefore does
// nothing, and reads (Get, Query, Correlated, Stats) still see the events
// held at Close.
type EventStore struct {
	f      *Foundation
	now    func() int64 // the Foundation's clock as Unix ns, its cheapest read
	ring   *ring.Buffer[record]
	byType *index
	byCorr *index
	alloc  []recordAlloc // per index stripe
	types  *interner     // the Type of the copies handed out

	// sweep kicks the pruner to sweep the indexes (sweepIndexes) when an
	// ID with id&sweepMask == 0 is stored.
	sweep     chan struct{}
	sweepMask uint64
	// trimMask rounds the index trim bound down (commit): a list is trimmed
	// once per trimMask+1 IDs, not per insert, and between trims its
	// sortedList.floor settles the check without reading the list's old
	// front. The stale IDs this leaves are at most trimMask+1 per index.
	trimMask uint64
	times    timeIndex
	policy   OverflowStrategy
	maxData  int
	capacity int
	startCfg Config

	closed atomic.Bool

	// Counters. Stored, Evicted and Len come from the ring's own counters
	// (which cost writers nothing); these count what the ring cannot know.
	dropped           atomic.Uint64 // refused stores (events)
	logicalPruned     atomic.Uint64 // stLive → stPruned transitions
	overwrittenPruned atomic.Uint64 // logically pruned records later overwritten (not evictions)
	removedPruned     atomic.Uint64 // logically pruned records later removed (not new prunes)
	// The cells are written by every Store: lines apart from the fields
	// above (read by every Store, closed among them) and below.
	_     [pad.FalseSharingRange]byte
	bytes [byteStripes + 1]byteCell // see addBytes
	_     [pad.FalseSharingRange]byte
	evict [byteStripes]evictCell // see evictCell

	// pruneMu serializes PruneBefore; pruneRemoved (guarded by it) counts
	// the events that its RemoveOldest call takes from stLive.
	pruneMu      sync.Mutex
	pruneRemoved int

	// Telemetry handles, bound once (nil without telemetry).
	// (foundation.events_stored and _evicted read storedCount and
	// evictedCount.)
	cPruned, cDropped *Counter

	subsMu sync.Mutex
	subs   atomic.Pointer[[]*EventSubscription] // copy-on-write; Store only loads it

	exp *exportPipeline // nil without an Exporter
}

// newEventStore builds the store from the config in effect at start and
// starts its supervised tasks (pruner, exporter).
func newEventStore(f *Foundation, cfg Config, maxEventSize int, exp Exporter) (*EventStore, error) {
	if maxEventSize <= 0 {
		maxEventSize = 1_000_000
	}
	s := &EventStore{
		f:        f,
		now:      clock.UnixNanoFunc(f.clock),
		policy:   cfg.Capture.RingBuffer.OverflowStrategy,
		maxData:  int(min(uint64(maxEventSize), maxPart)),
		capacity: cfg.Storage.Hot.MaxEvents,
		startCfg: cfg,
	}
	var pol ring.Policy
	switch s.policy {
	case DropOldest, "":
		pol, s.policy = ring.DropOldest, DropOldest
	case DropNewest:
		pol = ring.DropNewest
	case Block:
		pol = ring.Block
	default:
		return nil, newError(kInvalidValue, nil, fmt.Sprintf("capture.ring_buffer.overflow_strategy = %q: unknown", string(s.policy)),
			"path", "capture.ring_buffer.overflow_strategy", "value", string(s.policy))
	}
	shards := cfg.Capture.RingBuffer.NumBuffers
	if shards <= 0 {
		shards = runtime.GOMAXPROCS(0)
	}
	shards = min(shards, s.capacity)
	r, err := ring.New(s.capacity, ring.Config[record]{Shards: shards, Policy: pol, OnDiscard: s.onDiscard})
	if err != nil {
		return nil, newError(kInvalidArgument, err, fmt.Sprintf("event store: capacity %d, %d shards", s.capacity, shards),
			"capacity", s.capacity, "shards", shards)
	}
	s.ring = r
	if s.byType, err = newIndex(); err != nil {
		return nil, newError(kInternal, err, "event store: type index")
	}
	if s.byCorr, err = newIndex(); err != nil {
		return nil, newError(kInternal, err, "event store: correlation index")
	}
	s.times.init(s.capacity)
	s.types = newInterner()
	s.sweep = make(chan struct{}, 1)
	s.sweepMask = 1<<(bits.Len(uint(max(s.capacity/2, 1)))-1) - 1
	s.trimMask = 1<<(bits.Len(uint(min(max(s.capacity/16, 1), 1024)))-1) - 1
	s.alloc = make([]recordAlloc, len(s.byType.stripes))
	if t := f.telemetry; t != nil {
		s.cPruned, s.cDropped = t.eventsPruned, t.eventsDropped
		t.store.Store(s)
	}
	if err := f.Go("events.pruner", s.runPruner); err != nil {
		return nil, err
	}
	if exp != nil {
		s.exp = newExportPipeline(s, exp, cfg.Capture.Processing.MaxQueueSize)
		if err := f.Go("events.exporter", s.exp.run); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// cfg returns the config in effect: one atomic load.
func (s *EventStore) cfg() *Config {
	if c := s.f.config; c != nil {
		if snap := c.Get(); snap != nil {
			return snap.cfg
		}
	}
	return &s.startCfg
}

func add(c *Counter, n uint64) {
	if c != nil {
		c.Add(n)
	}
}

// ---------------------------------------------------------------- writes

// validate checks one event of a Store or StoreBatch call; i is its index in
// the batch (-1 for Store).
func (s *EventStore) validate(ev *Event, i int) error {
	if ev.Type == "" {
		if i < 0 {
			return newError(kInvalidEvent, nil, "event type is empty", "field", "type")
		}
		return newError(kInvalidEvent, nil, fmt.Sprintf("event %d of batch: type is empty", i), "field", "type", "index", i)
	}
	if uint64(len(ev.Type)) > maxPart || uint64(len(ev.CorrelationID)) > maxPart {
		return newError(kInvalidEvent, nil, fmt.Sprintf("event type or correlation id over %d bytes", uint64(maxPart)), "index", i)
	}
	if len(ev.Data) > s.maxData {
		return newError(kDataTooLarge, nil,
			fmt.Sprintf("event data is %d bytes, the limit is %d", len(ev.Data), s.maxData),
			"size", len(ev.Data), "max", s.maxData, "index", i)
	}
	return nil
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
// subscribers without blocking. It allocates the stored copy and its Data.
func (s *EventStore) Store(ev Event) (uint64, error) {
	if s.closed.Load() {
		return 0, errClosed("events.store")
	}
	if err := s.validate(&ev, -1); err != nil {
		return 0, err
	}
	var now int64
	if ev.Time == 0 {
		now = s.now()
	}
	r := s.newRecord(&ev, now)
	id, err := s.push(r)
	if err != nil {
		return 0, err
	}
	s.commit(id, r)
	return id, nil
}

// push puts one record into the ring under the store's policy.
func (s *EventStore) push(r *record) (uint64, error) {
	switch s.policy {
	case DropOldest:
		id, err := s.ring.Push(r)
		if err != nil {
			return 0, s.pushError(err, 1)
		}
		return id, nil
	case Block:
		// First a claim that cannot wait (doneCtx is already done): no
		// context, no timer, no allocation when there is room.
		if id, err := s.ring.PushContext(doneCtx, r); err == nil {
			return id, nil
		} else if !errors.Is(err, context.Canceled) {
			return 0, s.pushError(err, 1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg().Interface.QueryTimeout)
		defer cancel()
		id, err := s.ring.PushContext(ctx, r)
		if err != nil {
			return 0, s.pushError(err, 1)
		}
		return id, nil
	default: // DropNewest
		id, err := s.ring.Push(r)
		if err != nil {
			return 0, s.pushError(err, 1)
		}
		return id, nil
	}
}

// doneCtx is a context that is always done: a push with it claims room if
// there is some and never waits.
var doneCtx = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// pushError turns a ring error into the store's, counting refusals.
func (s *EventStore) pushError(err error, n int) error {
	switch {
	case errors.Is(err, ring.ErrClosed):
		return errClosed("events.store")
	case errors.Is(err, ring.ErrFull):
		s.dropped.Add(uint64(n))
		add(s.cDropped, uint64(n))
		return newError(kStoreFull, err, fmt.Sprintf("event store full (%d events, %s)", s.capacity, s.policy),
			"capacity", s.capacity, "policy", string(s.policy), "events", n)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		s.dropped.Add(uint64(n))
		add(s.cDropped, uint64(n))
		return newError(kTimeout, err, fmt.Sprintf("event store full (%d events): no room within interface.query_timeout", s.capacity),
			"capacity", s.capacity, "policy", string(s.policy), "events", n)
	}
	return newError(kInternal, err, "event store: push failed")
}

// commit indexes a pushed record, publishes it to subscribers and the
// byte count. See the record states for the race with eviction.
func (s *EventStore) commit(id uint64, r *record) {
	s.addBytes(r.size())
	// The type index is trimmed as it grows: IDs below the ring's oldest
	// are dropped here, under the lock the insert takes anyway, instead of
	// one delete per evicted event (few types, each hot). The pruner sweeps
	// the types that stopped growing; queries never look below First.
	// The bound: no ID below id-capacity can still be held (at most
	// capacity events are, and id is among the newest); computed, not read
	// from the ring's tail, which every push writes. Rounded down (see
	// trimMask), so that most inserts find nothing to trim.
	var bound uint64
	if id > uint64(s.capacity) {
		bound = (id - uint64(s.capacity)) &^ s.trimMask
	}
	s.byType.insertTrim(r.stripe, r.typ(), id, bound)
	if r.clen != 0 {
		s.byCorr.insertTrim(r.stripe, r.corr(), id, bound)
	}
	if id&s.sweepMask == 0 {
		// Every ~capacity/2 events: have the pruner sweep the keys that
		// stopped getting inserts (see sweepIndexes).
		select {
		case s.sweep <- struct{}{}:
		default:
		}
	}
	if !r.state.CompareAndSwap(stIndexing, stLive) {
		// Evicted or removed while we indexed: OnDiscard left the
		// unindexing to us.
		s.unindex(id, r)
		return
	}
	if p := s.subs.Load(); p != nil && len(*p) > 0 {
		s.notify(*p, id, r)
	}
	if e := s.exp; e != nil {
		e.stored(id)
	}
}

func (s *EventStore) unindex(id uint64, r *record) {
	s.byType.delete(r.stripe, r.typ(), id)
	if r.clen != 0 {
		s.byCorr.delete(r.stripe, r.corr(), id)
	}
}

// onDiscard is the ring's callback for an event leaving it: overwritten
// (drop_oldest) or removed (pruning). An eviction is settled evictLag
// evictions later on the P it runs on (see evictCell); a removal, or an
// eviction on a P beyond the cells, at once.
func (s *EventStore) onDiscard(id uint64, r *record, why ring.Reason) {
	if why == ring.Overwritten {
		pid := procpin.Pin()
		if pid < len(s.evict) {
			atomicx.PrefetchWrite(unsafe.Pointer(r))
			c := &s.evict[pid]
			q := c.seq.Load()
			slot := &c.recs[q/2&(evictLag-1)]
			atomicx.StoreRelease(&c.seq, q+1)
			if old := slot.Load(); old != nil {
				s.settle(old, why) // its line prefetched evictLag evictions ago
			}
			atomicx.StorePointerBeforeRelease(slot, r)
			atomicx.StoreRelease(&c.seq, q+2)
			procpin.Unpin()
			return
		}
		procpin.Unpin()
	}
	s.settle(r, why)
}

// settle is what an event leaving the ring changes: its state, the byte
// count, and the counts of logically pruned events that left.
func (s *EventStore) settle(r *record, why ring.Reason) {
	old := r.state.Swap(stGone)
	s.addBytes(-r.size())
	if old == stPruned { // already hidden, unindexed and counted as pruned
		if why == ring.Overwritten {
			s.overwrittenPruned.Add(1)
		} else {
			s.removedPruned.Add(1)
		}
		return
	}
	// The indexes forget the event lazily (see commit): no query looks
	// below the ring's First.
	if why == ring.Removed {
		s.pruneRemoved++ // Removed happens only inside PruneBefore, under pruneMu
	}
}

// pendingEvictions sums what the unsettled evictions will change when they
// settle: bytes to subtract, and how many were logically pruned first (to
// count as pruned, not evicted). Lock-free; exact when no Store runs.
func (s *EventStore) pendingEvictions() (bytes int64, pruned uint64) {
	for i := range s.evict {
		c := &s.evict[i]
		for spins := 0; ; spins++ {
			q := c.seq.Load()
			if q&1 == 0 {
				var b int64
				var p uint64
				for j := range c.recs {
					if r := c.recs[j].Load(); r != nil {
						b += r.size()
						if r.state.Load() == stPruned {
							p++
						}
					}
				}
				if c.seq.Load() == q {
					bytes += b
					pruned += p
					break
				}
			}
			if spins > 8 {
				runtime.Gosched() // the owner is settling one, pinned
			}
		}
	}
	return bytes, pruned
}

// StoreBatch stores evs all or nothing and returns their IDs, which are
// contiguous and in the order of evs. Every event is validated first (the
// error names the index of the first bad one); the clock is read once for
// the batch. Errors as [EventStore.Store]; a batch larger than the capacity
// matches [ErrFull] under every policy. An empty batch stores nothing and
// returns no IDs.
func (s *EventStore) StoreBatch(evs []Event) ([]uint64, error) {
	if s.closed.Load() {
		return nil, errClosed("events.store_batch")
	}
	needNow := false
	for i := range evs {
		if err := s.validate(&evs[i], i); err != nil {
			return nil, err
		}
		needNow = needNow || evs[i].Time == 0
	}
	if len(evs) == 0 {
		return nil, nil
	}
	var now int64
	if needNow {
		now = s.now()
	}
	recs := make([]*record, len(evs))
	for i := range evs {
		recs[i] = s.newRecord(&evs[i], now)
	}
	var (
		first uint64
		err   error
	)
	if s.policy == Block {
		if first, err = s.ring.PushBatch(doneCtx, recs); errors.Is(err, context.Canceled) {
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg().Interface.QueryTimeout)
			first, err = s.ring.PushBatch(ctx, recs)
			cancel()
		}
	} else {
		first, err = s.ring.PushBatch(context.Background(), recs)
	}
	if err != nil {
		return nil, s.pushError(err, len(evs))
	}
	ids := make([]uint64, len(evs))
	for i, r := range recs {
		ids[i] = first + uint64(i)
		s.commit(ids[i], r)
	}
	return ids, nil
}

// ---------------------------------------------------------------- reads

// lookup returns the live record id, or nil.
func (s *EventStore) lookup(id uint64) *record {
	r, ok := s.ring.Get(id)
	if !ok || !r.visible() {
		return nil
	}
	return r
}

// Get returns a copy of the event id. It returns an error matching
// [ErrNotFound] when no such event is held (never stored, evicted or
// pruned). O(1), no lock; it allocates the copy of Data.
func (s *EventStore) Get(id uint64) (Event, error) {
	r := s.lookup(id)
	if r == nil {
		return Event{}, newError(kNotFound, nil, fmt.Sprintf("event %d not found", id), "id", id)
	}
	return s.copyOut(id, r), nil
}

// Query returns copies of the events that match q, in ID order (see
// [Query]), within interface.query_timeout. It is [EventStore.QueryContext]
// with a background context.
func (s *EventStore) Query(q Query) ([]Event, error) {
	return s.QueryContext(context.Background(), q)
}

// QueryContext returns copies of the events that match q, in ID order
// (ascending, or descending with q.Descending).
//
// Cost: O(log n + offset + results), never a scan of the store. A query by
// Type or CorrelationID pages that index (with both, the shorter list,
// filtered by the other); a query with neither pages the ring in ID order; a
// time range is mapped to candidate blocks of IDs by the time index (see
// timeIndex) and, with a key, pages only those ID ranges of the index. Every
// hit is checked against the ring, so no evicted or pruned event is
// returned.
//
// Errors: [ErrInvalidQuery] (also [ErrValidation]) for a negative Limit or
// Offset or Since > Until; [ErrTimeout] when ctx ends or
// interface.query_timeout passes first (no partial result).
func (s *EventStore) QueryContext(ctx context.Context, q Query) ([]Event, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	cfg := s.cfg()
	limit, err := checkQuery(&q, cfg.Interface.MaxResults)
	if err != nil {
		return nil, err
	}
	qr := queryRun{s: s, ctx: ctx, q: q, limit: limit, skip: q.Offset,
		deadline: s.f.clock.Now().Add(cfg.Interface.QueryTimeout)}
	qr.lo, qr.hi = timeBounds(q.Since, q.Until)
	if err := qr.run(); err != nil {
		return nil, err
	}
	return qr.out, nil
}

// checkQuery validates q and returns its effective limit.
func checkQuery(q *Query, maxResults int) (int, error) {
	switch {
	case q.Limit < 0:
		return 0, newError(kInvalidQuery, nil, fmt.Sprintf("query limit %d is negative", q.Limit), "field", "limit", "value", q.Limit)
	case q.Offset < 0:
		return 0, newError(kInvalidQuery, nil, fmt.Sprintf("query offset %d is negative", q.Offset), "field", "offset", "value", q.Offset)
	case q.Since != 0 && q.Until != 0 && q.Since > q.Until:
		return 0, newError(kInvalidQuery, nil, fmt.Sprintf("query since %d is after until %d", q.Since, q.Until),
			"field", "since", "since", q.Since, "until", q.Until)
	}
	limit := q.Limit
	if maxResults <= 0 {
		maxResults = 1000
	}
	if limit == 0 || limit > maxResults {
		limit = maxResults
	}
	return limit, nil
}

// timeBounds turns Since/Until (0 = open) into an inclusive range.
func timeBounds(since, until int64) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if since != 0 {
		lo = since
	}
	if until != 0 {
		hi = until
	}
	return lo, hi
}

// Correlated returns copies of every event held with this correlation id,
// ascending by Time (ties by ID). It is not capped by interface.max_results:
// the store's capacity bounds it. An empty id is an error matching
// [ErrInvalidQuery]; an id with no events returns an empty slice and no error.
func (s *EventStore) Correlated(correlationID string) ([]Event, error) {
	if correlationID == "" {
		return nil, newError(kInvalidQuery, nil, "correlation id is empty", "field", "correlation_id")
	}
	ids := s.byCorr.all(correlationID, s.ring.First())
	out := make([]Event, 0, len(ids))
	for _, id := range ids {
		if r := s.lookup(id); r != nil && r.corr() == correlationID {
			out = append(out, s.copyOut(id, r))
		}
	}
	slices.SortStableFunc(out, func(a, b Event) int {
		if a.Time != b.Time {
			if a.Time < b.Time {
				return -1
			}
			return 1
		}
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out, nil
}

// ---------------------------------------------------------------- pruning

// PruneBefore removes every held event with Time < t and returns how many
// it removed. Events at the oldest end leave the ring at once
// (RemoveOldest); older-timed events that sit behind newer ones (a caller
// set their Time) are pruned in place: hidden from Get and Query, removed
// from the indexes, counted as pruned now and never again as evicted. The
// time index finds them without a scan of the store. Concurrent PruneBefore
// calls run one at a time; stores go on meanwhile (an event stored while the
// prune runs may be kept). After Close it returns 0.
func (s *EventStore) PruneBefore(t int64) int {
	if s.closed.Load() {
		return 0
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	s.pruneRemoved = 0
	s.ring.RemoveOldest(func(_ uint64, r *record) bool {
		return r.time < t || r.state.Load() == stPruned
	})
	n := s.pruneRemoved
	n += s.times.pruneBefore(s, t)
	s.sweepIndexes()
	if n > 0 {
		add(s.cPruned, uint64(n))
	}
	return n
}

// pruneRecord prunes r logically; false if it was not live.
func (s *EventStore) pruneRecord(id uint64, r *record) bool {
	if !r.state.CompareAndSwap(stLive, stPruned) {
		return false
	}
	s.unindex(id, r)
	s.logicalPruned.Add(1)
	return true
}

// sweepIndexes drops from both indexes the IDs below the ring's oldest, and
// the keys left empty: what InsertTrim did not trim because the key got no
// insert since. Run by the pruner every prune round and every ~capacity/2
// stores (kicked by commit), so stale IDs never exceed about half the
// capacity: O(keys + removed), off the Store path.
func (s *EventStore) sweepIndexes() {
	first := s.ring.First()
	s.byType.trimAll(first)
	s.byCorr.trimAll(first)
}

// runPruner is the supervised task that enforces storage.hot.max_age_seconds
// every storage.hot.prune_interval (both read live), with one clock reading
// per pass. It also keeps the time index sealed.
func (s *EventStore) runPruner(ctx context.Context) error {
	for {
		cfg := s.cfg()
		tm := s.f.clock.NewTimer(cfg.Storage.Hot.PruneInterval)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil
		case <-s.sweep:
			tm.Stop()
			s.sweepIndexes()
			continue
		case <-tm.C():
		}
		cfg = s.cfg()
		now := s.f.clock.Now()
		cut := now.Add(-time.Duration(cfg.Storage.Hot.MaxAgeSeconds) * time.Second).UnixNano()
		if n := s.PruneBefore(cut); n > 0 {
			s.f.log.Debug("pruned events", "count", n, "before", cut)
		}
	}
}

// ---------------------------------------------------------------- stats, health, close

// Stats returns the store's counters. It takes no lock and does not
// allocate: atomic loads, and a look at the evictions not settled yet (at
// most 16 per P), which it counts as settled. See [EventStats] for the
// invariant.
func (s *EventStore) Stats() EventStats {
	rs := s.ring.Stats()
	pb, pp := s.pendingEvictions()
	lp, op, rp := s.logicalPruned.Load(), s.overwrittenPruned.Load()+pp, s.removedPruned.Load()
	st := EventStats{
		Stored:   rs.Pushed,
		Dropped:  s.dropped.Load(),
		Capacity: rs.Cap,
	}
	st.Evicted = sub0(rs.Overwritten, op)
	st.Pruned = sub0(rs.Removed, rp) + lp
	hidden := sub0(lp, op+rp) // logically pruned, still in the ring
	st.Len = max(rs.Len-int(hidden), 0)
	var sum uint64
	for i := range s.bytes {
		sum += s.bytes[i].n.Load()
	}
	st.Bytes = int64(sum) - pb
	if e := s.exp; e != nil {
		st.Exported = e.exported.Load()
		st.ExportDropped = e.dropped.Load()
		st.ExportPending = int(e.pendingN.Load())
	}
	return st
}

// storedCount is Stats().Stored, for foundation.events_stored.
func (s *EventStore) storedCount() uint64 { return s.ring.Next() - 1 }

// evictedCount is Stats().Evicted, for foundation.events_evicted.
func (s *EventStore) evictedCount() uint64 {
	_, pp := s.pendingEvictions()
	return sub0(s.ring.Stats().Overwritten, s.overwrittenPruned.Load()+pp)
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

func (s *EventStore) health() ServiceHealth {
	if s.closed.Load() {
		return ServiceHealth{Status: StatusStopped, Reason: "closed"}
	}
	if e := s.exp; e != nil {
		if why := e.problem(); why != "" {
			return ServiceHealth{Status: StatusDegraded, Reason: why}
		}
	}
	return ServiceHealth{Status: StatusRunning}
}

// close is called by Foundation.Close after the supervisor stopped the
// pruner and the exporter: later writes fail with ErrClosed, subscriptions'
// channels are closed, the exporter is flushed of abandoned calls and closed.
func (s *EventStore) close() {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	s.ring.Close()
	s.subsMu.Lock()
	p := s.subs.Swap(nil)
	s.subsMu.Unlock()
	if p != nil {
		for _, sub := range *p {
			sub.sub.close()
		}
	}
	if s.exp != nil {
		s.exp.close()
	}
}

// ---------------------------------------------------------------- subscriptions

// EventSubscription delivers the events stored after [EventStore.Subscribe]
// that match its query. Its methods are safe for concurrent use.
type EventSubscription struct {
	s   *EventStore
	sub *subscriber[Event]
	q   Query
	lo  int64
	hi  int64
}

// Subscribe returns a subscription to the events stored from now on that
// match q's Type, CorrelationID and Since/Until (Offset and Descending are
// ignored). Events arrive in store order: the events of one storing
// goroutine in the order it stored them; concurrent stores may interleave.
//
// The channel is buffered: q.Limit events, or interface.max_results when
// Limit ≤ 0. A subscriber that falls behind never blocks Store: the events
// that find the buffer full are dropped for it and counted by
// [EventSubscription.Dropped]. Each event received is the subscriber's own
// copy. The channel is closed by [EventSubscription.Close] or by the
// Foundation's Close, never while live. Subscribing after Close returns a
// subscription whose channel is already closed. A query that can match
// nothing (Since > Until) is allowed; it receives nothing.
func (s *EventStore) Subscribe(q Query) *EventSubscription {
	buf := q.Limit
	if buf <= 0 {
		buf = s.cfg().Interface.MaxResults
	}
	sub := &EventSubscription{s: s, sub: newSubscriber[Event](buf), q: q}
	sub.lo, sub.hi = timeBounds(q.Since, q.Until)
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	if s.closed.Load() {
		sub.sub.close()
		return sub
	}
	var next []*EventSubscription
	if p := s.subs.Load(); p != nil {
		next = append(next, *p...)
	}
	next = append(next, sub)
	s.subs.Store(&next)
	return sub
}

// C returns the channel on which matching events arrive.
func (sub *EventSubscription) C() <-chan Event { return sub.sub.ch }

// Dropped returns how many matching events this subscriber lost because
// its buffer was full.
func (sub *EventSubscription) Dropped() uint64 { return sub.sub.dropped.Load() }

// Close ends the subscription and closes its channel; events still in the
// buffer can be read. Close is idempotent.
func (sub *EventSubscription) Close() {
	s := sub.s
	s.subsMu.Lock()
	if p := s.subs.Load(); p != nil {
		next := make([]*EventSubscription, 0, len(*p))
		for _, x := range *p {
			if x != sub {
				next = append(next, x)
			}
		}
		s.subs.Store(&next)
	}
	s.subsMu.Unlock()
	sub.sub.close()
}

func (sub *EventSubscription) matches(r *record) bool {
	return (sub.q.Type == "" || sub.q.Type == r.typ()) &&
		(sub.q.CorrelationID == "" || sub.q.CorrelationID == r.corr()) &&
		r.time >= sub.lo && r.time <= sub.hi
}

// notify sends a copy of the event to every matching subscriber, without
// blocking (a full buffer drops and counts).
func (s *EventStore) notify(subs []*EventSubscription, id uint64, r *record) {
	for _, sub := range subs {
		if sub.matches(r) {
			sub.sub.send(s.copyOut(id, r))
		}
	}
}
