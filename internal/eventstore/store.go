// Package eventstore is the engine of foundation's event store: records
// carved from pointer-free slabs, a sharded lock-free ring (the IDs are its
// sequence numbers), secondary indexes by type and by correlation id, a time
// index over blocks of IDs, the query executor, subscriptions and the
// counters behind the root's EventStats.
//
// It knows nothing of the root package: New takes its dependencies (clock,
// logger, task starter, live limits, counter funcs) explicitly, and errors
// are [*Error] values that match one of this package's sentinels, which the
// root maps to its own error type. Every method is safe for concurrent use.
package eventstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/internal/atomicx"
	"github.com/elixirscope-go/foundation/internal/fanout"
	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/elixirscope-go/foundation/internal/procpin"
	"github.com/elixirscope-go/foundation/ring"
)

// Event is one stored event. Its layout is the root's Event field for field
// (the root converts slices of them without copying; a test checks it).
type Event struct {
	ID            uint64 `json:"id"`
	Type          string `json:"type"`
	Time          int64  `json:"time"`
	CorrelationID string `json:"correlation_id,omitempty"`
	ParentID      uint64 `json:"parent_id,omitempty"`
	Data          []byte `json:"data,omitempty"`
}

// Query selects events; see the root's Query for the contract.
type Query struct {
	Type          string
	CorrelationID string
	Since, Until  int64
	Limit, Offset int
	Descending    bool
	After         Cursor // keyset paging: only events after it in the query's order
}

// Stats is a snapshot of the store's counters; see the root's EventStats.
type Stats struct {
	Stored   uint64
	Pruned   uint64
	Evicted  uint64
	Dropped  uint64
	Len      int
	Capacity int
	Bytes    int64
}

// Config is what New sizes the store by (fixed for its life).
type Config struct {
	Capacity     int         // events held at most (storage.hot.max_events), > 0
	Shards       int         // ring shards; <= 0: GOMAXPROCS
	Policy       ring.Policy // overflow policy
	MaxEventSize int         // bytes of Type + CorrelationID + Data of one event; <= 0: 1,000,000
	MaxBytes     int64       // bytes held at most (storage.hot.max_size_mb), as Stats.Bytes counts them; <= 0: no bound
	FirstID      uint64      // the ID of the first Store; 0 means 1 (an older tier holds the IDs below)
}

// Limits are the settings read live, on every call that needs them.
type Limits struct {
	MaxResults    int           // interface.max_results (<= 0: 1000)
	QueryTimeout  time.Duration // interface.query_timeout
	PruneInterval time.Duration // storage.hot.prune_interval
	MaxAge        time.Duration // storage.hot.max_age_seconds
}

// Deps are the store's dependencies on its owner.
type Deps struct {
	Clock  clock.Clock
	Log    *slog.Logger
	Go     func(name string, fn func(ctx context.Context) error) error // starts a supervised task
	Limits func() Limits                                               // one atomic load, ideally
	// Counter funcs, each may be nil: events pruned, events refused.
	Pruned, Dropped func(n uint64)
	// Stored is called, when non-nil, after each committed ID (the export
	// pipeline's kick): one call per event on the Store path.
	Stored func(id uint64)
	// Older, when non-nil, is the tier that holds what left the ring: Get,
	// Query and Correlated merge it in (see tiers.go).
	Older Source
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
func (s *Store) copyOut(id uint64, r *record) Event {
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
// of a locked add (and a Store makes two: its own event and the one it
// evicts). It reports true when an add carries the cell
// across a multiple of 1<<checkShift bytes: the caller then checks the byte
// budget (checkBudget), so each P checks it once per 1<<checkShift bytes it
// stores, at the cost of a shift and a compare.
func (s *Store) addBytes(d int64) (check bool) {
	check = s.addBytesPinned(procpin.Pin(), d)
	procpin.Unpin()
	return check
}

// addBytesPinned is addBytes for a caller pinned to P pid.
func (s *Store) addBytesPinned(pid int, d int64) (check bool) {
	if pid < byteStripes {
		c := &s.bytes[pid].n
		old := c.Load()
		atomicx.StoreRelease(c, old+uint64(d))
		return d > 0 && old>>s.checkShift != (old+uint64(d))>>s.checkShift
	}
	v := s.bytes[byteStripes].n.Add(uint64(d))
	return d > 0 && (v-uint64(d))>>s.checkShift != v>>s.checkShift
}

// heldBytes sums the byte cells: the bytes of the events held plus those of
// the evictions not settled yet (never less than what is held).
func (s *Store) heldBytes() int64 {
	var sum uint64
	for i := range s.bytes {
		sum += s.bytes[i].n.Load()
	}
	return int64(sum)
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
// whichever core stored it. With several cores storing, settling it at
// once is often a cache miss on a line another core wrote, taken in a
// locked swap that cannot overlap other work (with one core storing, the
// line is usually still cached). Prefetched evictLag evictions ahead, the
// line is in the cache when its turn comes.
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

// Store is the bounded in-memory event store: a sharded lock-free ring (the
// IDs are its sequence numbers) with two secondary indexes, by type and by
// correlation id, and a time index over blocks of IDs.
//
// Bounds: the capacity and the overflow policy (DropOldest evicts the oldest
// event, DropNewest refuses the new one with [ErrFull], Block waits up to
// Limits.QueryTimeout and then fails with [ErrTimeout]); Limits.MaxAge,
// enforced every Limits.PruneInterval by a supervised pruner. An evicted or
// pruned event leaves every index at once: no Get or Query returns it.
//
// All methods are safe for concurrent use. After [Store.Close], writes
// (Store, StoreBatch) return errors matching [ErrClosed], PruneBefore does
// nothing, and reads (Get, Query, Correlated, Stats) still see the events
// held at Close.
type Store struct {
	deps   Deps
	now    func() int64 // the clock as Unix ns, its cheapest read
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
	// front. A trim searches that front, old memory: a cache miss per step
	// of the search, whose steps grow with the log of what it removes, so
	// rarer trims cost less in all. The stale IDs this leaves are at most
	// trimMask+1 per index (up to 4096: 32 KiB).
	trimMask   uint64
	times      timeIndex
	policy     ring.Policy
	policyName string
	maxData    int    // bytes of Type + CorrelationID + Data of one event
	capacity   int    // events held at most (EventStats.Capacity)
	slots      int    // the ring's capacity: capacity, or twice it when pruned records must not take room (reserve)
	slack      uint64 // ring.Slack: how far below Next-slots an event may still be held (block claiming)
	maxBytes   int64  // the byte budget
	// 1<<checkShift is how many bytes a P's cell adds between two checks
	// of the byte budget under DropOldest: the budget holds to within that
	// per P (at most 1/16 of it in all).
	checkShift uint

	closed atomic.Bool

	// Under DropNewest and Block, room is reserved before a push (reserve):
	// live events and their bytes, each at most its bound, exactly. Pruning
	// gives the room back (release) and wakes blocked stores (room).
	_         [pad.FalseSharingRange]byte
	live      atomic.Int64
	liveBytes atomic.Int64
	roomMu    sync.Mutex
	room      chan struct{} // closed and replaced when room is released
	_         [pad.FalseSharingRange]byte

	budgetEvicted atomic.Uint64 // live events removed for the byte budget (DropOldest): evictions, not prunes
	budgetMode    bool          // under pruneMu: the RemoveOldest running is the budget's

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

	subs fanout.List[*Subscription] // copy-on-write; Store only loads it
	ord  orderer                    // the subscriptions' ordered delivery (subscribe.go)
}

// New builds the store and starts its supervised pruner (deps.Go).
// policyName names the policy in error messages. Errors match
// [ErrInvalidArg] for a bad capacity, shard count or policy.
func New(cfg Config, policyName string, deps Deps) (*Store, error) {
	if cfg.MaxEventSize <= 0 {
		cfg.MaxEventSize = 1_000_000
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	if deps.Limits == nil {
		deps.Limits = func() Limits { return Limits{} }
	}
	if cfg.Capacity <= 0 {
		return nil, errf(ErrInvalidArg, nil, fmt.Sprintf("event store: capacity %d", cfg.Capacity), "capacity", cfg.Capacity)
	}
	s := &Store{
		deps:       deps,
		now:        clock.UnixNanoFunc(deps.Clock),
		policy:     cfg.Policy,
		policyName: policyName,
		maxData:    int(min(uint64(cfg.MaxEventSize), maxPart)),
		capacity:   cfg.Capacity,
		slots:      cfg.Capacity,
		maxBytes:   cfg.MaxBytes,
		room:       make(chan struct{}),
	}
	s.ord.init()
	if s.maxBytes <= 0 {
		s.maxBytes = math.MaxInt64
	}
	if cfg.Policy != ring.DropOldest {
		// Pruned-in-place events keep their ring slot until the ring's
		// oldest end reaches them; the capacity is enforced on live
		// events (reserve), so they must not take its room: the ring has
		// as many slots again for them.
		if cfg.Capacity > math.MaxInt/2 {
			return nil, errf(ErrInvalidArg, nil, fmt.Sprintf("event store: capacity %d", cfg.Capacity), "capacity", cfg.Capacity)
		}
		s.slots = 2 * cfg.Capacity
	}
	shards := cfg.Shards
	if shards <= 0 {
		shards = runtime.GOMAXPROCS(0)
	}
	shards = min(shards, s.capacity)
	block := 1
	if deps.Older == nil && deps.Stored == nil && cfg.FirstID <= 1 {
		// The readers that walk the ring by ID (the export pipeline and
		// an older tier's tailer, both fed by Deps.Stored) count what
		// they miss by ranges of IDs and expect store order; an older
		// tier completes the ring below First, and FirstID continues its
		// IDs. With any of them the store claims one ID at a time.
		block = claimBlock(cfg.Policy, s.slots, runtime.GOMAXPROCS(0))
	}
	if block > 1 {
		// A P's block is contiguous in the ring; one shard keeps its
		// slots on consecutive lines (the shards spread consecutive seqs
		// apart for writers that take them in turn, which blocks avoid).
		shards = 1
	}
	r, err := ring.New(s.slots, ring.Config[record]{Shards: shards, Policy: cfg.Policy, OnDiscard: s.onDiscard, First: cfg.FirstID, ClaimBlock: block})
	if err != nil {
		return nil, errf(ErrInvalidArg, err, fmt.Sprintf("event store: capacity %d, %d shards", s.capacity, shards),
			"capacity", s.capacity, "shards", shards)
	}
	s.ring = r
	if s.byType, err = newIndex(); err != nil {
		return nil, errf(ErrInternal, err, "event store: type index")
	}
	if s.byCorr, err = newIndex(); err != nil {
		return nil, errf(ErrInternal, err, "event store: correlation index")
	}
	s.slack = r.Slack()
	s.times.init(s.slots + int(s.slack))
	s.types = newInterner()
	s.sweep = make(chan struct{}, 1)
	s.sweepMask = 1<<(bits.Len(uint(max(s.capacity/2, 1)))-1) - 1
	s.trimMask = 1<<(bits.Len(uint(min(max(s.capacity/16, 1), 4096)))-1) - 1
	s.alloc = make([]recordAlloc, len(s.byType.stripes))
	every := max(min(s.maxBytes/int64(16*len(s.byType.stripes)), 1<<30), 4096)
	s.checkShift = uint(bits.Len64(uint64(every))) - 1 // rounded down to a power of two
	if deps.Go != nil {
		if err := deps.Go("events.pruner", s.runPruner); err != nil {
			return nil, err
		}
		if err := deps.Go("events.subscriptions", s.runDelivery); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// claimBlock is the ring's ClaimBlock for a store: under DropOldest, blocks
// of up to 64 IDs per P, so that a Store writes the shared claim counter
// once per 64 events instead of once per event, as long as a block per P
// (which may sit unused, see ring.Config.ClaimBlock) is at most 1/8 of the
// capacity, and at least 8; 1 (one ID per claim) otherwise, with one P
// (GOMAXPROCS at New), and under the other policies, whose room check is a
// CAS on the counter.
func claimBlock(p ring.Policy, slots, procs int) int {
	if p != ring.DropOldest || procs <= 1 {
		// With one P, blocks save no contention and cost a pin and a CAS
		// per claim; Ps added after New claim one ID at a time anyway.
		return 1
	}
	b := 64
	for b > 1 && b*procs*8 > slots {
		b /= 2
	}
	if b < 8 { // small stores: one ID per claim
		return 1
	}
	return b
}

func add(f func(uint64), n uint64) {
	if f != nil {
		f(n)
	}
}

// ---------------------------------------------------------------- writes

// validate checks one event of a Store or StoreBatch call; i is its index in
// the batch (-1 for Store).
func (s *Store) validate(ev *Event, i int) error {
	if ev.Type == "" {
		if i < 0 {
			return errf(ErrInvalidEvent, nil, "event type is empty", "field", "type")
		}
		return errf(ErrInvalidEvent, nil, fmt.Sprintf("event %d of batch: type is empty", i), "field", "type", "index", i)
	}
	if uint64(len(ev.Type)) > maxPart || uint64(len(ev.CorrelationID)) > maxPart {
		return errf(ErrInvalidEvent, nil, fmt.Sprintf("event type or correlation id over %d bytes", uint64(maxPart)), "index", i)
	}
	if n := len(ev.Type) + len(ev.CorrelationID) + len(ev.Data); n > s.maxData {
		return errf(ErrDataTooLarge, nil,
			fmt.Sprintf("event is %d bytes (type %d, correlation id %d, data %d), the limit is %d",
				n, len(ev.Type), len(ev.CorrelationID), len(ev.Data), s.maxData),
			"size", n, "max", s.maxData, "index", i)
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
// IDs are unique, not consecutive nor in store order across cores: under
// drop_oldest, in a store large enough for blocks of 8 or more (claimBlock)
// and without an ID reader or an older tier (Deps.Stored, Deps.Older,
// FirstID), a Store takes its ID from its P's block, which that P claims
// from the shared counter once per block; IDs of a block left unused
// become holes (see ring.Config.ClaimBlock).
// Queries order by (Time, ID) whatever the IDs.
//
// Store takes no lock: it pushes into the ring (one atomic claim), appends
// the ID to the type index and, when CorrelationID is set, to the
// correlation index (each locks only its key's list), and, when a
// subscription matches, queues the event for the subscriptions' delivery
// without blocking (subscribe.go). It allocates the stored copy and its
// Data.
func (s *Store) Store(ev *Event) (uint64, error) { return s.store(ev, true) }

// StoreNoWait is [Store.Store], except that under the Block policy a full
// store fails at once (ErrFull) instead of waiting for room: for a caller
// that must not wait, such as the config service, which stores its change
// events while it holds its lock.
func (s *Store) StoreNoWait(ev *Event) (uint64, error) { return s.store(ev, false) }

// store is Store; wait says whether a full store under Block waits for
// room.
func (s *Store) store(ev *Event, wait bool) (uint64, error) {
	if s.closed.Load() {
		return 0, errClosed("events.store")
	}
	if err := s.validate(ev, -1); err != nil {
		return 0, err
	}
	// Room is taken before the Store registers in flight and reads the
	// clock: a Store waiting for room (Block) holds no subscription's
	// delivery back, and its Time is when it was stored, not when it began
	// to wait.
	size := eventSize(ev)
	if s.policy != ring.DropOldest {
		if err := s.reserve(1, size, wait); err != nil {
			return 0, err
		}
	}
	fl := s.enter(ev.Time == 0) // before the clock read (subscribe.go)
	var now int64
	if ev.Time == 0 {
		now = s.now()
	}
	r := s.newRecord(ev, now)
	id, err := s.push(r)
	if err != nil {
		if s.policy != ring.DropOldest {
			s.release(1, size)
		}
		s.exit(fl)
		return 0, err
	}
	s.commit(id, r, fl)
	s.exit(fl)
	return id, nil
}

// reserve takes room for n events of size bytes in all (DropNewest,
// Block): ErrFull under DropNewest, and under Block a wait for a prune to
// make room, up to Limits.QueryTimeout (ErrTimeout), when wait is set
// (ErrFull at once otherwise).
func (s *Store) reserve(n int, size int64, wait bool) error {
	if s.tryReserve(n, size) {
		return nil
	}
	if s.policy != ring.Block || !wait {
		return s.pushError(ring.ErrFull, n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.deps.Limits().QueryTimeout)
	defer cancel()
	for {
		s.roomMu.Lock()
		ch := s.room
		s.roomMu.Unlock()
		if s.closed.Load() {
			return errClosed("events.store")
		}
		if s.tryReserve(n, size) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.pushError(ctx.Err(), n)
		}
	}
}

// tryReserve takes room for n events and size bytes if both fit.
func (s *Store) tryReserve(n int, size int64) bool {
	for {
		v := s.live.Load()
		if v+int64(n) > int64(s.capacity) {
			return false
		}
		if s.live.CompareAndSwap(v, v+int64(n)) {
			break
		}
	}
	for {
		b := s.liveBytes.Load()
		if b+size > s.maxBytes && b > 0 { // one event alone always fits
			s.live.Add(-int64(n))
			return false
		}
		if s.liveBytes.CompareAndSwap(b, b+size) {
			return true
		}
	}
}

// release gives back the room of n events of size bytes in all.
func (s *Store) release(n int, size int64) {
	s.live.Add(-int64(n))
	s.liveBytes.Add(-size)
}

// wakeBlocked wakes the stores waiting for room (Block).
func (s *Store) wakeBlocked() {
	s.roomMu.Lock()
	close(s.room)
	s.room = make(chan struct{})
	s.roomMu.Unlock()
}

// checkBudget enforces the byte budget under DropOldest: when the held
// bytes exceed it, the oldest events are removed until they fit (counted as
// evicted). Called by a Store whose P cell added checkEvery bytes.
func (s *Store) checkBudget() {
	if s.policy != ring.DropOldest || s.heldBytes() <= s.maxBytes {
		return
	}
	s.pruneMu.Lock()
	defer s.pruneMu.Unlock()
	excess := s.heldBytes() - s.maxBytes
	if excess <= 0 {
		return
	}
	s.budgetMode = true
	var freed int64
	s.ring.RemoveOldest(func(_ uint64, r *record) bool {
		if freed >= excess {
			return false
		}
		freed += r.size()
		return true
	})
	s.budgetMode = false
}

// push puts one record into the ring under the store's policy.
func (s *Store) push(r *record) (uint64, error) {
	switch s.policy {
	case ring.DropOldest:
		id, err := s.ring.Push(r)
		if err != nil {
			return 0, s.pushError(err, 1)
		}
		return id, nil
	case ring.Block:
		// First a claim that cannot wait (doneCtx is already done): no
		// context, no timer, no allocation when there is room.
		if id, err := s.ring.PushContext(doneCtx, r); err == nil {
			return id, nil
		} else if !errors.Is(err, context.Canceled) {
			return 0, s.pushError(err, 1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.deps.Limits().QueryTimeout)
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
func (s *Store) pushError(err error, n int) error {
	switch {
	case errors.Is(err, ring.ErrClosed):
		return errClosed("events.store")
	case errors.Is(err, ring.ErrFull):
		s.dropped.Add(uint64(n))
		add(s.deps.Dropped, uint64(n))
		return errf(ErrFull, err, fmt.Sprintf("event store full (%d events or %d bytes, %s)", s.capacity, s.maxBytes, s.policyName),
			"capacity", s.capacity, "max_bytes", s.maxBytes, "policy", s.policyName, "events", n)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		s.dropped.Add(uint64(n))
		add(s.deps.Dropped, uint64(n))
		return errf(ErrTimeout, err, fmt.Sprintf("event store full (%d events): no room within interface.query_timeout", s.capacity),
			"capacity", s.capacity, "policy", s.policyName, "events", n)
	}
	return errf(ErrInternal, err, "event store: push failed")
}

// commit indexes a pushed record, publishes it to subscribers (fl: what
// enter returned) and the byte count. See the record states for the race
// with eviction.
func (s *Store) commit(id uint64, r *record, fl flight) {
	if s.addBytes(r.size()) {
		s.checkBudget()
	}
	// The type index is trimmed as it grows: IDs below the ring's oldest
	// are dropped here, under the lock the insert takes anyway, instead of
	// one delete per evicted event (few types, each hot). The pruner sweeps
	// the types that stopped growing; queries never look below First.
	// The bound: no ID below id-capacity can still be held (at most
	// capacity events are, and id is among the newest); computed, not read
	// from the ring's tail, which every push writes. Rounded down (see
	// trimMask), so that most inserts find nothing to trim.
	// With block claiming an event below id-capacity may be held up to
	// the ring's slack longer (its overwriting ID unused in a P's block).
	var bound uint64
	if w := uint64(s.slots) + s.slack; id > w {
		bound = (id - w) &^ s.trimMask
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
	if fl != flightOff {
		if subs := s.subs.Load(); len(subs) > 0 {
			s.publish(subs, id, r, fl)
		}
	}
	if f := s.deps.Stored; f != nil {
		f(id)
	}
}

func (s *Store) unindex(id uint64, r *record) {
	s.byType.delete(r.stripe, r.typ(), id)
	if r.clen != 0 {
		s.byCorr.delete(r.stripe, r.corr(), id)
	}
}

// onDiscard is the ring's callback for an event leaving it: overwritten
// (drop_oldest) or removed (pruning). An eviction is settled evictLag
// evictions later on the P it runs on (see evictCell); a removal, or an
// eviction on a P beyond the cells, at once.
func (s *Store) onDiscard(id uint64, r *record, why ring.Reason) {
	if why == ring.Overwritten {
		pid := procpin.Pin()
		if pid < len(s.evict) {
			atomicx.PrefetchWrite(unsafe.Pointer(r))
			c := &s.evict[pid]
			q := c.seq.Load()
			slot := &c.recs[q/2&(evictLag-1)]
			atomicx.StoreRelease(&c.seq, q+1)
			if old := slot.Load(); old != nil {
				s.settleEviction(pid, old) // its line prefetched evictLag evictions ago
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

// settleEviction is settle for an eviction, by a caller pinned to P pid
// (onDiscard): the byte count goes to that P's cell without a second pin.
// Evictions happen only under drop_oldest, which reserves no room: there
// is none to release.
func (s *Store) settleEviction(pid int, r *record) {
	old := r.state.Swap(stGone)
	if old == stPruned { // already hidden, unindexed, uncounted in bytes and counted as pruned
		s.overwrittenPruned.Add(1)
		return
	}
	s.addBytesPinned(pid, -r.size())
}

// settle is what an event leaving the ring changes: its state, the byte
// count, and the counts of logically pruned events that left.
func (s *Store) settle(r *record, why ring.Reason) {
	old := r.state.Swap(stGone)
	if old == stPruned { // already hidden, unindexed, uncounted in bytes and counted as pruned
		if why == ring.Overwritten {
			s.overwrittenPruned.Add(1)
		} else {
			s.removedPruned.Add(1)
		}
		return
	}
	s.addBytes(-r.size())
	// The indexes forget the event lazily (see commit): no query looks
	// below the ring's First.
	if why == ring.Removed { // only inside PruneBefore or checkBudget, under pruneMu
		if s.budgetMode {
			s.budgetEvicted.Add(1)
		} else {
			s.pruneRemoved++
		}
	}
	if s.policy != ring.DropOldest {
		s.release(1, r.size())
	}
}

// pendingEvictions sums what the unsettled evictions will change when they
// settle: bytes to subtract, and how many were logically pruned first (to
// count as pruned, not evicted). Lock-free; exact when no Store runs.
func (s *Store) pendingEvictions() (bytes int64, pruned uint64) {
	for i := range s.evict {
		c := &s.evict[i]
		for spins := 0; ; spins++ {
			q := c.seq.Load()
			if q&1 == 0 {
				var b int64
				var p uint64
				for j := range c.recs {
					if r := c.recs[j].Load(); r != nil {
						if r.state.Load() == stPruned {
							p++ // its bytes left when it was pruned
						} else {
							b += r.size()
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
// the batch. Errors as [Store.Store]; a batch larger than the capacity
// matches [ErrFull] under every policy. An empty batch stores nothing and
// returns no IDs.
func (s *Store) StoreBatch(evs []Event) ([]uint64, error) {
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
	if len(evs) > s.capacity {
		return nil, s.pushError(ring.ErrFull, len(evs))
	}
	// Room first, as in store: a batch waiting for room holds no
	// subscription's delivery back. size is only needed for room.
	var size int64
	if s.policy != ring.DropOldest {
		for i := range evs {
			size += eventSize(&evs[i])
		}
		if len(evs) > 1 && size > s.maxBytes {
			return nil, s.pushError(ring.ErrFull, len(evs))
		}
		if err := s.reserve(len(evs), size, true); err != nil {
			return nil, err
		}
	}
	fl := s.enter(needNow) // before the clock read (subscribe.go)
	defer s.exit(fl)
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
	if s.policy == ring.Block {
		if first, err = s.ring.PushBatch(doneCtx, recs); errors.Is(err, context.Canceled) {
			ctx, cancel := context.WithTimeout(context.Background(), s.deps.Limits().QueryTimeout)
			first, err = s.ring.PushBatch(ctx, recs)
			cancel()
		}
	} else {
		first, err = s.ring.PushBatch(context.Background(), recs)
	}
	if err != nil {
		if s.policy != ring.DropOldest {
			s.release(len(evs), size)
		}
		return nil, s.pushError(err, len(evs))
	}
	ids := make([]uint64, len(evs))
	for i, r := range recs {
		ids[i] = first + uint64(i)
		f := fl
		if f > 0 && evs[i].Time != 0 {
			f = flightFree // registered for the batch, but its Time is the caller's
		}
		s.commit(ids[i], r, f)
	}
	return ids, nil
}

// ---------------------------------------------------------------- reads

// lookup returns the live record id, or nil.
func (s *Store) lookup(id uint64) *record {
	r, ok := s.ring.Get(id)
	if !ok || !r.visible() {
		return nil
	}
	return r
}

// Get returns a copy of the event id. It returns an error matching
// [ErrNotFound] when no such event is held (never stored, evicted or
// pruned). O(1), no lock; it allocates the copy of Data. With Deps.Older,
// an id below First that the ring misses is asked of the older tier.
func (s *Store) Get(id uint64) (Event, error) {
	r := s.lookup(id)
	if r == nil {
		if o := s.deps.Older; o != nil && id < s.ring.First() {
			e, ok, err := o.Get(context.Background(), id)
			if err != nil {
				return Event{}, errf(ErrInternal, err, fmt.Sprintf("event %d: older tier", id), "id", id)
			}
			if ok {
				return e, nil
			}
		}
		return Event{}, errf(ErrNotFound, nil, fmt.Sprintf("event %d not found", id), "id", id)
	}
	return s.copyOut(id, r), nil
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
func (s *Store) PruneBefore(t int64) int {
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
	if n > 0 && s.policy == ring.Block {
		s.wakeBlocked()
	}
	if n > 0 {
		add(s.deps.Pruned, uint64(n))
	}
	return n
}

// pruneRecord prunes r logically; false if it was not live.
func (s *Store) pruneRecord(id uint64, r *record) bool {
	if !r.state.CompareAndSwap(stLive, stPruned) {
		return false
	}
	s.unindex(id, r)
	s.logicalPruned.Add(1)
	s.addBytes(-r.size())
	if s.policy != ring.DropOldest {
		s.release(1, r.size())
	}
	return true
}

// sweepIndexes drops from both indexes the IDs below the ring's oldest, and
// the keys left empty: what InsertTrim did not trim because the key got no
// insert since. Run by the pruner every prune round and every ~capacity/2
// stores (kicked by commit), so stale IDs never exceed about half the
// capacity: O(keys + removed), off the Store path.
func (s *Store) sweepIndexes() {
	first := s.ring.First()
	s.byType.trimAll(first)
	s.byCorr.trimAll(first)
	// The interner forgets the types no held event has.
	s.types.forget(func(t string) bool { return s.byType.count(t) > 0 })
}

// runPruner is the supervised task that enforces storage.hot.max_age_seconds
// every storage.hot.prune_interval (both read live), with one clock reading
// per pass. It also keeps the time index sealed.
func (s *Store) runPruner(ctx context.Context) error {
	for {
		tm := s.deps.Clock.NewTimer(s.deps.Limits().PruneInterval)
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
		s.ring.Flush() // readers in ID order (export) wait at most a round for an idle P's block
		now := s.deps.Clock.Now()
		cut := now.Add(-s.deps.Limits().MaxAge).UnixNano()
		if n := s.PruneBefore(cut); n > 0 {
			s.deps.Log.Debug("pruned events", "count", n, "before", cut)
		}
	}
}

// ---------------------------------------------------------------- stats, close

// Stats returns the store's counters. It takes no lock and does not
// allocate: atomic loads, and a look at the evictions not settled yet (at
// most 16 per P), which it counts as settled. When no store or prune runs,
// Stored == Len + Evicted + Pruned.
func (s *Store) Stats() Stats {
	rs := s.ring.Stats()
	pb, pp := s.pendingEvictions()
	lp, op, rp := s.logicalPruned.Load(), s.overwrittenPruned.Load()+pp, s.removedPruned.Load()
	be := s.budgetEvicted.Load()
	st := Stats{
		Stored:   rs.Pushed,
		Dropped:  s.dropped.Load(),
		Capacity: s.capacity,
	}
	st.Evicted = sub0(rs.Overwritten, op) + be
	st.Pruned = sub0(sub0(rs.Removed, rp)+lp, be)
	hidden := sub0(lp, op+rp) // logically pruned, still in the ring
	// Each counter is read on its own, so while stores run the raw figures
	// can disagree by the operations in flight; what is held is never
	// negative nor over the capacity.
	st.Len = min(max(rs.Len-int(hidden), 0), s.capacity)
	st.Bytes = max(s.heldBytes()-pb, 0)
	return st
}

// StoredCount is Stats().Stored, cheaper: one load without block
// claiming, a load per P with it.
func (s *Store) StoredCount() uint64 {
	if s.slack == 0 {
		return s.ring.Next() - 1
	}
	return s.ring.Stats().Pushed
}

// EvictedCount is Stats().Evicted.
func (s *Store) EvictedCount() uint64 {
	_, pp := s.pendingEvictions()
	return sub0(s.ring.Stats().Overwritten, s.overwrittenPruned.Load()+pp)
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Closed reports whether Close ran.
func (s *Store) Closed() bool { return s.closed.Load() }

// Close makes later writes fail with ErrClosed and closes every
// subscription's channel. The owner stops the pruner (the task it started
// with Deps.Go) first. Idempotent.
func (s *Store) Close() {
	if !s.closed.CompareAndSwap(false, true) {
		return
	}
	s.ring.Close()
	s.wakeBlocked()
	s.closeSubs() // sends what is held, then closes every subscription
}

// ---------------------------------------------------------------- reading in ID order

// ReadState is what [Store.Read] found at an ID.
type ReadState uint8

// The states of an ID.
const (
	ReadFound    ReadState = iota // held: the event is returned
	ReadHidden                    // still in the ring, but pruned: never to be returned
	ReadGone                      // below First: evicted or pruned
	ReadInFlight                  // assigned, not yet published (or not assigned yet)
	ReadSkip                      // no event: an ID that no Store got (a hole, made by Read itself of a P's unused rest; rarely, one removed as it was read)
)

// Flush turns the IDs that Ps claimed but did not use yet into holes
// (ReadSkip), so that a reader walking IDs in order up to Next does not
// wait for a P that stopped storing. The pruner calls it every round.
func (s *Store) Flush() { s.ring.Flush() }

// Next returns the ID the next Store will get.
func (s *Store) Next() uint64 { return s.ring.Next() }

// First returns the oldest ID the ring may still hold.
func (s *Store) First() uint64 { return s.ring.First() }

// Read returns a copy of the event id for a reader that walks IDs in order
// (the export pipeline), and what it found there.
func (s *Store) Read(id uint64) (Event, ReadState) {
	r, st := s.find(id)
	if st != ReadFound {
		return Event{}, st
	}
	return s.copyOut(id, r), ReadFound
}

// StateOf is what Read would find at id, without copying the event.
func (s *Store) StateOf(id uint64) ReadState {
	_, st := s.find(id)
	return st
}

// find returns the record at id when Read may return it, and the state.
func (s *Store) find(id uint64) (*record, ReadState) {
	r, ok := s.ring.Get(id)
	if !ok {
		if id < s.ring.First() {
			return nil, ReadGone
		}
		if !s.ring.Settle(id) {
			return nil, ReadInFlight
		}
		// Gone above First: a hole (an ID no event got, perhaps made just
		// now of an idle P's unused block), or it left meanwhile.
		if r, ok = s.ring.Get(id); !ok {
			if id < s.ring.First() {
				return nil, ReadGone
			}
			return nil, ReadSkip
		}
	}
	if !r.visible() {
		return nil, ReadHidden
	}
	return r, ReadFound
}
