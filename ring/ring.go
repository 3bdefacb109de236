package ring

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/elixirscope-go/foundation/internal/atomicx"
	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/elixirscope-go/foundation/internal/procpin"
)

// ErrFull is returned by a push that finds no room under [DropNewest]. A
// batch that can never fit (more items than the capacity, under any policy)
// returns an error that matches ErrFull with [errors.Is].
var ErrFull = errors.New("ring: full")

// ErrClosed is returned by a push that starts after [Buffer.Close]; writers
// blocked under [Block] wake up with it.
var ErrClosed = errors.New("ring: closed")

// ErrInvalid is matched (with [errors.Is]) by the error of a bad argument: a
// capacity <= 0 or above [MaxCapacity], a shard count < 0 or above the
// capacity, an unknown [Policy], a nil context or a nil item.
var ErrInvalid = errors.New("ring: invalid argument")

// MaxCapacity is the largest capacity [New] accepts (2^32 items: 64 GiB of
// slots).
const MaxCapacity = 1 << 32

// Policy says what a push does when the ring holds [Buffer.Cap] items.
type Policy uint8

const (
	// DropOldest overwrites the oldest item: a push never waits and never
	// fails for lack of room. The overwritten item is reported to
	// [Config.OnDiscard] with reason [Overwritten].
	DropOldest Policy = iota
	// DropNewest refuses the push with [ErrFull] and counts it in
	// [Stats.Dropped]. Nothing already stored changes.
	DropNewest
	// Block makes the push wait for room (made by [Buffer.RemoveOldest] or
	// [Buffer.RemoveBefore]) until its context is done or the ring is closed.
	Block
)

// String returns the policy's name.
func (p Policy) String() string {
	switch p {
	case DropOldest:
		return "DropOldest"
	case DropNewest:
		return "DropNewest"
	case Block:
		return "Block"
	}
	return fmt.Sprintf("Policy(%d)", uint8(p))
}

// Reason says why an item left the ring; [Config.OnDiscard] receives it.
type Reason uint8

const (
	// Overwritten: a push under [DropOldest] took the item's place.
	Overwritten Reason = iota + 1
	// Removed: [Buffer.RemoveOldest] or [Buffer.RemoveBefore] removed it.
	Removed
)

// String returns the reason's name.
func (r Reason) String() string {
	switch r {
	case Overwritten:
		return "Overwritten"
	case Removed:
		return "Removed"
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Config is the only way to configure a [Buffer]; the zero value is valid
// (one shard per P, [DropOldest], no callback).
type Config[T any] struct {
	// Shards is the number of shards; 0 means runtime.GOMAXPROCS(0), lowered
	// to the capacity if that is smaller. An explicit value must be between
	// 1 and the capacity. Index arithmetic is cheapest when both Shards and
	// capacity/Shards are powers of two.
	Shards int
	// Policy is what a push does when the ring is full.
	Policy Policy
	// OnDiscard, if set, is called synchronously, exactly once per item
	// that leaves the ring: by the pushing goroutine for an item overwritten
	// under [DropOldest] (after the new item is published), and by the
	// removing goroutine for items removed by [Buffer.RemoveOldest] and
	// [Buffer.RemoveBefore]. It is never called under a lock, and may be
	// called from several goroutines at once. It may call any method of the
	// Buffer; see the package doc for the one way a push from it can wait.
	OnDiscard func(seq uint64, v *T, why Reason)
	// First is the seq of the first push; 0 means 1. A store that keeps
	// older items elsewhere (on disk) sets it past them, so that seqs stay
	// one sequence across restarts. At most 2^61.
	First uint64
	// ClaimBlock, when above 1, makes [DropOldest] pushes claim seqs from
	// the shared counter in blocks of that many (a power of two, at most
	// the capacity), one block per P at a time: a push then takes the next
	// seq of its P's block, and the shared counter is written once per
	// block instead of once per push. What it gives up: the order of seqs
	// is no longer linearizable (two pushes on different Ps take seqs from
	// different blocks, whatever their real-time order, and a goroutine
	// that moves to another P may get a lower seq than its previous push);
	// seqs stay unique, and Get stays O(1). A block's seqs that its P has
	// not used when a party needs them settled (a push that laps them, a
	// remover, [Buffer.Settle]) are taken from it and become holes: never
	// items, counted nowhere but in Next(). So the ring may hold up to
	// ClaimBlock-1 items fewer than its capacity per P. 0 or 1: one seq per
	// claim, in the linearizable order the package doc describes. Only
	// valid with [DropOldest].
	ClaimBlock int
}

// Stats is a snapshot of a [Buffer]'s counters. Each field is read with an
// atomic load; while pushes or removals run, the fields are not one instant
// (Overwritten may lag or lead by the items in flight). When the ring is
// quiescent, Pushed == Len + Overwritten + Removed exactly.
type Stats struct {
	// Pushed is the number of items accepted since New (= Next()-Config.First).
	Pushed uint64
	// Overwritten is the number of items that left under DropOldest because
	// a push took their place.
	Overwritten uint64
	// Dropped is the number of items refused for lack of room: ErrFull
	// (including batches larger than the capacity) and Block pushes whose
	// context ended while they waited. Pushes refused with ErrClosed or
	// ErrInvalid are not counted.
	Dropped uint64
	// Removed is the number of items removed by RemoveOldest/RemoveBefore.
	Removed uint64
	// Len is the number of seqs in [First(), Next()): retained items plus
	// pushes in flight.
	Len int
	// Cap is the capacity given to New.
	Cap int
}

// Slot states. A slot's state word holds seq<<2 | tag:
//
//	tagFree  (seq<<2|0): the item seq has left (or, for state 0, the slot was
//	                     never written); the writer of seq+capacity may take it.
//	tagPub   (seq<<2|1): the slot holds the published item seq.
//	tagClear (seq<<2|2): a remover took seq and is clearing the pointer;
//	                     readers and evicters see seq gone, the next writer
//	                     waits for tagFree.
const (
	tagFree  = 0
	tagPub   = 1
	tagClear = 2
	// maxSeq bounds the seqs a state word can encode; 2^62 pushes take
	// 146 years at one per nanosecond.
	maxSeq = 1 << 62
)

// slot is one cell of a shard. Protocol:
//
//   - Writer of seq s: waits until state == free(s-capacity) (the previous
//     occupant of this cell has left; under DropOldest the writer itself
//     evicts it, see Discard), stores val, then stores
//     state = pub(s) (the store is the release: a reader that sees pub(s)
//     sees the val of s). Both stores are fence-free (internal/atomicx: two
//     MOVs on amd64 instead of two XCHGs, each a full fence): the writer
//     owns the slot between its claim and this store, and no later load of
//     the writer depends on the store being seen first.
//   - Reader of s: loads state, val, state; the val is the item s only if
//     both state loads are pub(s). A writer only touches val after the
//     state left pub(s), and states never repeat, so a val loaded between
//     two pub(s) loads is the item s.
//   - Discard of s (an evicting push or a remover): CAS pub(s) -> free(s)
//     (or -> clear(s) for a remover, which then nils val and stores
//     free(s)). The CAS decides who discards s: exactly one party calls
//     OnDiscard, with the val it loaded before the CAS (val cannot change
//     while state is pub(s)).
//
// 16 bytes: four slots per cache line (checked by a test).
type slot[T any] struct {
	state atomic.Uint64
	val   atomic.Pointer[T]
}

func pubState(s uint64) uint64  { return s<<2 | tagPub }
func freeState(s uint64) uint64 { return s << 2 }

// Buffer is a bounded, sharded, lock-free ring of *T that retains items
// until they are overwritten or removed. Every method is safe for
// concurrent use. A Buffer must be made with [New]; it must not be copied.
type Buffer[T any] struct {
	_ noCopy

	// Read-only after New. Shared by every reader and writer; kept off the
	// lines of head and tail below so that writes there do not invalidate it.
	slots     []slot[T] // shard r is slots[r*base+min(r, extra):][:base+(r<extra)]
	capacity  uint64    // = len(slots); seqs s and s+capacity share a slot
	shards    uint64
	base      uint64 // capacity / shards
	extra     uint64 // capacity % shards: shards below it hold one more slot
	shShift   uint8  // log2(shards) when shards is a power of two
	shPow2    bool
	capPow2   bool // capacity is a power of two
	policy    Policy
	start     uint64 // Config.First: the seq of the first push
	onDiscard func(seq uint64, v *T, why Reason)
	done      chan struct{} // closed by Close
	closed    atomic.Bool   // written once by Close, read by every push

	_ [pad.FalseSharingRange]byte
	// head is the claim counter: the seq the next push gets. The one write
	// every push makes to shared memory (fetch-add under DropOldest, CAS
	// under DropNewest/Block): what a linearizable order costs. Alone on its
	// pair of lines (FalseSharingRange) so that nothing else pays for it.
	head atomic.Uint64
	_    [pad.FalseSharingRange - 8]byte
	// rtail is the removal tail: every seq below it has left the ring.
	// Advanced (CAS max) by removers after they free the slots, read by
	// First and by DropNewest/Block pushers for their room check. The
	// oldest retained seq is max(rtail, head-capacity).
	rtail atomic.Uint64
	_     [pad.FalseSharingRange - 8]byte

	// Block claiming (Config.ClaimBlock > 1): one cell per P (as many as
	// GOMAXPROCS at New; pushes on Ps beyond claim one seq at a time).
	block   uint64
	lag     uint64 // block * (cells + 2): First() is head - capacity - lag
	cells   []claimCell
	holes   atomic.Uint64 // seqs taken from unfinished blocks (never items)
	skipped atomic.Uint64 // writes (pushes, holes) past capacity whose slot held no item to evict

	// Slow-path counters and the Block wait; written on refusal and removal.
	removed atomic.Uint64
	dropped atomic.Uint64
	waiters atomic.Int64  // Block pushers parked or about to park
	wmu     sync.Mutex    // guards wake
	wake    chan struct{} // closed (and replaced) by a removal that makes room
}

// claimCell is one P's current block of seqs: [next, end). Only a
// goroutine pinned to the cell's P takes seqs from it (a CAS on next, on a
// line no other P writes) or installs a new block (next, then end);
// another party takes the unused rest with a CAS of next to end (steal).
// next only grows, so a stale CAS always fails.
type claimCell struct {
	next atomic.Uint64
	end  atomic.Uint64
	_    [pad.FalseSharingRange - 16]byte // one cell per pair of lines: no false sharing between Ps
}

// noCopy makes go vet's copylocks check flag copies of a Buffer.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// New returns an empty Buffer that holds at most capacity items. It returns
// an error matching [ErrInvalid] for a capacity <= 0 or > [MaxCapacity], a
// cfg.Shards < 0 or > capacity, or an unknown cfg.Policy. New allocates the
// capacity slots of 16 bytes and starts no goroutine.
func New[T any](capacity int, cfg Config[T]) (*Buffer[T], error) {
	if capacity <= 0 || uint64(capacity) > MaxCapacity {
		return nil, fmt.Errorf("ring: capacity %d out of [1, %d]: %w", capacity, MaxCapacity, ErrInvalid)
	}
	if cfg.Shards < 0 || cfg.Shards > capacity {
		return nil, fmt.Errorf("ring: shards %d out of [0, capacity %d]: %w", cfg.Shards, capacity, ErrInvalid)
	}
	if cfg.Policy > Block {
		return nil, fmt.Errorf("ring: policy %d unknown: %w", uint8(cfg.Policy), ErrInvalid)
	}
	if cfg.First > maxSeq/2 {
		return nil, fmt.Errorf("ring: first seq %d above 2^61: %w", cfg.First, ErrInvalid)
	}
	start := max(cfg.First, 1)
	if cfg.ClaimBlock < 0 || cfg.ClaimBlock > capacity || cfg.ClaimBlock&(cfg.ClaimBlock-1) != 0 {
		return nil, fmt.Errorf("ring: claim block %d is not a power of two in [1, capacity %d]: %w", cfg.ClaimBlock, capacity, ErrInvalid)
	}
	if cfg.ClaimBlock > 1 && cfg.Policy != DropOldest {
		return nil, fmt.Errorf("ring: claim block %d with policy %v (only DropOldest): %w", cfg.ClaimBlock, cfg.Policy, ErrInvalid)
	}
	n := cfg.Shards
	if n == 0 {
		n = min(runtime.GOMAXPROCS(0), capacity)
	}
	b := &Buffer[T]{
		slots:     make([]slot[T], capacity),
		capacity:  uint64(capacity),
		shards:    uint64(n),
		base:      uint64(capacity / n),
		extra:     uint64(capacity % n),
		shPow2:    n&(n-1) == 0,
		shShift:   uint8(bits.TrailingZeros64(uint64(n))),
		capPow2:   capacity&(capacity-1) == 0,
		policy:    cfg.Policy,
		start:     start,
		onDiscard: cfg.OnDiscard,
		done:      make(chan struct{}),
	}
	if cfg.ClaimBlock > 1 {
		b.block = uint64(cfg.ClaimBlock)
		b.cells = make([]claimCell, runtime.GOMAXPROCS(0))
		b.lag = b.block * uint64(len(b.cells)+2)
	}
	b.head.Store(start)
	b.rtail.Store(start)
	return b, nil
}

// claimOne returns the seq for one DropOldest push: the next of its P's
// block, or the first of a new block claimed from head.
func (b *Buffer[T]) claimOne() uint64 {
	if b.cells == nil {
		return b.head.Add(1) - 1
	}
	pid := procpin.Pin()
	if pid >= len(b.cells) {
		procpin.Unpin()
		s := b.head.Add(1) - 1
		b.stealStale(s + 1)
		return s
	}
	c := &b.cells[pid]
	if n := c.next.Load(); n < c.end.Load() && c.next.CompareAndSwap(n, n+1) {
		procpin.Unpin()
		return n
	}
	// The block is used up (or was taken): claim the next. next is stored
	// before end, so that a stealer never sees [old next, new end).
	s := b.head.Add(b.block) - b.block
	c.next.Store(s + 1)
	c.end.Store(s + b.block)
	procpin.Unpin()
	b.stealStale(s + b.block)
	return s
}

// claimRun takes n seqs from the rest of the P's block when they fit
// (block claiming), so that a goroutine's batch follows its single pushes;
// 0 when they do not.
func (b *Buffer[T]) claimRun(n uint64) uint64 {
	pid := procpin.Pin()
	if pid < len(b.cells) {
		c := &b.cells[pid]
		if s := c.next.Load(); s+n <= c.end.Load() && c.next.CompareAndSwap(s, s+n) {
			procpin.Unpin()
			return s
		}
	}
	procpin.Unpin()
	return 0
}

// steal takes the unused rest of a cell's block and makes each of its seqs
// a hole: the slot's previous occupant is evicted as by a push, and the
// slot is left free for the seq's next lap.
//
// It steals only a rest [next, end) that holds seq want (want == 0: any
// rest) and ends at or below maxEnd, checked on the values the CAS takes:
// the owner may install a new block between a caller's look and the
// steal, and a push that stole a newer block than the one it waits for
// could have to fill a hole that waits for its own unpublished seq.
func (b *Buffer[T]) steal(c *claimCell, want, maxEnd uint64) bool {
	for {
		n, e := c.next.Load(), c.end.Load()
		if n >= e || e > maxEnd || (want != 0 && (want < n || want >= e)) {
			return false
		}
		if c.next.CompareAndSwap(n, e) {
			b.holes.Add(e - n)
			for s := n; s < e; s++ {
				b.store(s, nil)
			}
			return true
		}
	}
}

// unstick steals the block whose unused rest holds seq s, if any: a party
// that must see s settled (published or gone) does not wait for a P that
// may never push again. It reports whether it stole.
func (b *Buffer[T]) unstick(s uint64) bool {
	for i := range b.cells {
		c := &b.cells[i]
		if n := c.next.Load(); n <= s && s < c.end.Load() {
			if b.steal(c, s, math.MaxUint64) {
				return true
			}
		}
	}
	return false
}

// Settled reports whether seq is settled: published, or gone (overwritten,
// removed, a hole, or below [Buffer.First]). false means that seq is not
// assigned yet, or its push is in flight, or (block claiming) it is the
// unused rest of a P's block: [Buffer.Flush] makes those holes.
func (b *Buffer[T]) Settled(seq uint64) bool {
	if seq < b.start || seq >= maxSeq || seq >= b.head.Load() {
		return false
	}
	st := b.slot(seq).state.Load()
	if st>>2 >= seq { // pub(seq), free(seq) (left, or a hole), clear(seq), or lapped
		return true
	}
	return seq < b.First()
}

// Slack is how far below Next()-Cap() an item may still be retained: 0,
// or with block claiming ClaimBlock*(P+2) (see [Buffer.First]).
func (b *Buffer[T]) Slack() uint64 { return b.lag }

// Settle is [Buffer.Settled], but first makes a hole of seq (with the rest
// of its block) if seq is the unused rest of a P's block: a reader that
// walks seqs in order (an exporter) does not wait for a P that may not push
// again. It costs that P a new block claim and the ring up to a block of
// slots; a reader at the head of the ring calls it once per catch-up.
func (b *Buffer[T]) Settle(seq uint64) bool {
	if b.Settled(seq) {
		return true
	}
	return b.cells != nil && b.unstick(seq) && b.Settled(seq)
}

// Flush makes holes of the unused rest of every P's block (block
// claiming), so that a reader walking seqs up to Next() does not wait for a
// P that stopped pushing. It costs those Ps a new block claim; call it
// rarely (a periodic task). Without block claiming it does nothing.
func (b *Buffer[T]) Flush() {
	for i := range b.cells {
		b.steal(&b.cells[i], 0, math.MaxUint64)
	}
}

// stealStale makes holes of the blocks that end more than a block per P
// (plus one) below head (run by each claim that moves head), so that
// First() = head - capacity - lag bounds the oldest retained item: once
// the claim that moved head has returned, every unused seq is above
// head - lag (a cell left holds a block ending above head - lag + block),
// so every item below head - capacity - lag has been overwritten (or its
// overwriting push is in flight).
func (b *Buffer[T]) stealStale(head uint64) {
	if head <= b.lag-b.block {
		return
	}
	old := head - (b.lag - b.block)
	for i := range b.cells {
		c := &b.cells[i]
		if n, e := c.next.Load(), c.end.Load(); n < e && e <= old {
			b.steal(c, 0, old)
		}
	}
}

// slot returns the cell of seq s. With pos = s % capacity, the cell is in
// shard pos%shards at index pos/shards: consecutive seqs (claimed by
// different cores) fall in different shards, about capacity/shards*16 bytes
// apart, not on one cache line. When shards divides capacity this is shard
// s%shards, index (s/shards)%(capacity/shards). Seqs s and s+capacity share
// a cell, so the item a DropOldest push evicts sits in the pusher's own cell.
// Powers of two take shifts and masks; other sizes one 64-bit and one 32-bit
// division (pos < capacity <= 2^32).
func (b *Buffer[T]) slot(s uint64) *slot[T] {
	var pos uint64
	if b.capPow2 {
		pos = s & (b.capacity - 1)
	} else {
		pos = s % b.capacity
	}
	var q, r uint64
	if b.shPow2 {
		q, r = pos>>b.shShift, pos&(b.shards-1)
	} else {
		q, r = uint64(uint32(pos)/uint32(b.shards)), uint64(uint32(pos)%uint32(b.shards))
	}
	return &b.slots[r*b.base+min(r, b.extra)+q]
}

// Push stores v and returns its seq. Under [Block] it waits with
// context.Background (use [Buffer.PushContext] to bound the wait). Errors:
// [ErrInvalid] for a nil v, [ErrClosed] after Close, [ErrFull] under
// [DropNewest]. Push does not allocate; under [DropOldest] it never waits
// (except for a writer of the same slot that the ring lapped during its own
// push, see the package doc) and may call OnDiscard for the item it
// overwrote.
func (b *Buffer[T]) Push(v *T) (seq uint64, err error) {
	if v == nil || b.closed.Load() || b.policy != DropOldest {
		return b.pushSlow(context.Background(), v)
	}
	s := b.claimOne()
	b.store(s, v)
	return s, nil
}

// PushContext is [Buffer.Push] with a context for the [Block] wait: when ctx
// is done first, it returns ctx.Err() (and counts the item in
// [Stats.Dropped]). Under the other policies ctx is only checked for nil.
// A nil ctx returns an error matching [ErrInvalid].
func (b *Buffer[T]) PushContext(ctx context.Context, v *T) (uint64, error) {
	if ctx == nil {
		return 0, fmt.Errorf("ring: nil context: %w", ErrInvalid)
	}
	if v == nil || b.closed.Load() || b.policy != DropOldest {
		return b.pushSlow(ctx, v)
	}
	s := b.claimOne()
	b.store(s, v)
	return s, nil
}

// pushSlow handles errors and the DropNewest/Block claim.
func (b *Buffer[T]) pushSlow(ctx context.Context, v *T) (uint64, error) {
	if v == nil {
		return 0, fmt.Errorf("ring: nil item: %w", ErrInvalid)
	}
	if b.closed.Load() {
		return 0, ErrClosed
	}
	// Here the policy is DropNewest or Block: Push and PushContext took the
	// DropOldest path for every non-nil item while open (closed never reopens).
	s, err := b.claim(ctx, 1)
	if err != nil {
		return 0, err
	}
	b.store(s, v)
	return s, nil
}

// store publishes v as seq s in its slot, whose previous occupant is
// e = s-capacity. Under DropOldest the pusher evicts e itself (CAS pub(e) ->
// free(e), racing removers) and, once v is published, reports e to
// OnDiscard. Otherwise (and when a remover took e) it waits for free(e),
// which a removal that made room for s has stored already unless it is in
// its last few instructions.
func (b *Buffer[T]) store(s uint64, v *T) {
	sl := b.slot(s)
	st := pubState(s)
	if v == nil { // a hole (steal): the slot is left free for s's next lap
		st = freeState(s)
	}
	if s-b.start < b.capacity { // first lap: the slot was never written (state 0)
		if sl.state.Load() != 0 {
			b.waitState(sl, 0, 0)
		}
		atomicx.StorePointerBeforeRelease(&sl.val, v)
		atomicx.StoreRelease(&sl.state, st)
		return
	}
	e := s - b.capacity
	var old *T
	evicted := false
	if b.policy == DropOldest {
		pub := pubState(e)
		if sl.state.Load() == pub {
			old = sl.val.Load()
			evicted = sl.state.CompareAndSwap(pub, freeState(e))
		}
		if !evicted {
			old, evicted = b.evictSlow(sl, e)
		}
	}
	if !evicted && sl.state.Load() != freeState(e) {
		b.waitState(sl, freeState(e), e)
	}
	atomicx.StorePointerBeforeRelease(&sl.val, v)
	atomicx.StoreRelease(&sl.state, st)
	if evicted && b.onDiscard != nil {
		b.onDiscard(e, old, Overwritten)
	}
}

// waitState waits until the slot's state is want: another push (of a lower
// seq, e) is still writing or discarding this slot. Spins briefly, then
// yields; with block claiming, e may be the unused rest of a P's block,
// which it then steals (makes holes of) instead of waiting for that P.
//
//go:noinline
func (b *Buffer[T]) waitState(sl *slot[T], want, e uint64) {
	for i := 0; sl.state.Load() != want; i++ {
		if i >= 8 && b.cells != nil && e != 0 && b.unstick(e) {
			continue
		}
		backoff(i)
	}
}

// backoff spins for the first few rounds, then yields the P so that the
// goroutine being waited for (perhaps descheduled) can run.
func backoff(i int) {
	if i >= 8 {
		runtime.Gosched()
	}
}

// evictSlow is the eviction of e when the slot did not hold pub(e) at first
// sight: e's push (lapped) is still in flight, so wait for it; or a remover
// took e, or e is a hole (ok false). With block claiming, e may be the
// unused rest of a P's block: it is stolen (made a hole) rather than waited
// for.
//
//go:noinline
func (b *Buffer[T]) evictSlow(sl *slot[T], e uint64) (*T, bool) {
	pub := pubState(e)
	for i := 0; ; i++ {
		st := sl.state.Load()
		if st == pub {
			v := sl.val.Load()
			if sl.state.CompareAndSwap(pub, freeState(e)) {
				return v, true
			}
			continue
		}
		if st>>2 >= e { // free(e), clear(e): removed, or a hole
			if b.cells != nil {
				b.skipped.Add(1) // a write past capacity that evicted nothing (blockStats)
			}
			return nil, false
		}
		if i >= 8 && b.cells != nil && b.unstick(e) {
			continue
		}
		backoff(i) // the writer of e, lapped during its push, has not published yet
	}
}

// claim reserves n seqs under DropNewest/Block: a CAS on head that only
// succeeds while head+n <= rtail+capacity, so a refused push burns no seq.
func (b *Buffer[T]) claim(ctx context.Context, n uint64) (uint64, error) {
	if n > b.capacity {
		b.dropped.Add(n)
		return 0, fmt.Errorf("ring: batch of %d items exceeds capacity %d: %w", n, b.capacity, ErrFull)
	}
	for i := 0; ; i++ {
		if h, ok := b.tryClaim(n); ok {
			return h, nil
		}
		if b.closed.Load() {
			return 0, ErrClosed
		}
		if b.policy == DropNewest {
			b.dropped.Add(n)
			return 0, ErrFull
		}
		if err := ctx.Err(); err != nil {
			b.dropped.Add(n)
			return 0, err
		}
		if i < 4 {
			runtime.Gosched()
			continue
		}
		if err := b.park(ctx, n); err != nil {
			if err != ErrClosed {
				b.dropped.Add(n)
			}
			return 0, err
		}
	}
}

// tryClaim is one round of the room-checked CAS on head.
func (b *Buffer[T]) tryClaim(n uint64) (uint64, bool) {
	for {
		if b.closed.Load() {
			return 0, false
		}
		h := b.head.Load()
		if h+n > b.rtail.Load()+b.capacity {
			return 0, false
		}
		if b.head.CompareAndSwap(h, h+n) {
			return h, true
		}
	}
}

// park waits for a removal, Close or ctx. The waiter registers (waiters++)
// before it takes the wake channel and rechecks room; a remover advances
// rtail before it reads waiters. With sequentially consistent atomics one of
// the two sees the other: either the recheck sees the room, or the remover
// sees the waiter and closes the channel it holds (or a later one, whose
// predecessor it holds was closed first).
func (b *Buffer[T]) park(ctx context.Context, n uint64) error {
	b.waiters.Add(1)
	defer b.waiters.Add(-1)
	b.wmu.Lock()
	if b.wake == nil {
		b.wake = make(chan struct{})
	}
	ch := b.wake
	b.wmu.Unlock()
	if b.closed.Load() {
		return ErrClosed
	}
	if b.head.Load()+n <= b.rtail.Load()+b.capacity {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-b.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wakeWriters wakes parked Block pushers after rtail moved.
func (b *Buffer[T]) wakeWriters() {
	if b.waiters.Load() == 0 {
		return
	}
	b.wmu.Lock()
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
	b.wmu.Unlock()
}

// PushBatch stores vs all or nothing, with the contiguous seqs
// first..first+len(vs)-1, and returns first (0 for an empty batch). Errors:
// [ErrInvalid] for a nil ctx or a nil item, [ErrClosed] after Close, an
// error matching [ErrFull] for a batch larger than the capacity (any policy)
// or, under [DropNewest], larger than the free room; under [Block],
// ctx.Err() if ctx ends before there is room for the whole batch. On error
// nothing is stored. The batch costs one claim; readers may see its items
// appear one by one. PushBatch does not allocate (except the message of a
// too-large error).
func (b *Buffer[T]) PushBatch(ctx context.Context, vs []*T) (first uint64, err error) {
	if ctx == nil {
		return 0, fmt.Errorf("ring: nil context: %w", ErrInvalid)
	}
	for i, v := range vs {
		if v == nil {
			return 0, fmt.Errorf("ring: nil item at index %d of batch: %w", i, ErrInvalid)
		}
	}
	if len(vs) == 0 {
		return 0, nil
	}
	if b.closed.Load() {
		return 0, ErrClosed
	}
	n := uint64(len(vs))
	if b.policy == DropOldest {
		if n > b.capacity {
			b.dropped.Add(n)
			return 0, fmt.Errorf("ring: batch of %d items exceeds capacity %d: %w", n, b.capacity, ErrFull)
		}
		if b.cells == nil {
			first = b.head.Add(n) - n
		} else if first = b.claimRun(n); first == 0 {
			first = b.head.Add(n) - n
			b.stealStale(first + n)
		}
	} else if first, err = b.claim(ctx, n); err != nil {
		return 0, err
	}
	for i, v := range vs {
		b.store(first+uint64(i), v)
	}
	return first, nil
}

// Get returns the item seq in O(1) with three atomic loads and no
// allocation. It returns false when seq was never assigned, is not yet
// published, or has been overwritten or removed. An item whose overwriting
// push is still in flight may still be returned; once that push has
// returned, Get reports it gone.
func (b *Buffer[T]) Get(seq uint64) (*T, bool) {
	if seq >= maxSeq {
		return nil, false
	}
	sl := b.slot(seq)
	pub := pubState(seq)
	if sl.state.Load() != pub {
		return nil, false
	}
	v := sl.val.Load()
	if sl.state.Load() != pub {
		return nil, false
	}
	return v, true
}

// GetBatch is Get for many seqs at once: out[i] is the item seqs[i], or
// nil where Get would report false. It panics if out is shorter than seqs.
// The ring's geometry is read once for the batch, and the lookups of
// different seqs are independent loads, so the CPU overlaps their cache
// misses; with a power-of-two capacity and shard count (the common case)
// each lookup is inline, where Get is a call. No allocation.
func (b *Buffer[T]) GetBatch(seqs []uint64, out []*T) {
	if len(out) < len(seqs) {
		panic("ring: GetBatch: out is shorter than seqs")
	}
	out = out[:len(seqs)]
	if !b.capPow2 || !b.shPow2 {
		for i, s := range seqs {
			out[i], _ = b.Get(s)
		}
		return
	}
	// slot's arithmetic for powers of two: shards divides capacity, so
	// extra is 0 and base is a power of two too; the shifts are masked to
	// 63, so that they compile to one instruction each.
	slots, capMask, shMask := b.slots, b.capacity-1, b.shards-1
	shShift, baseShift := uint(b.shShift)&63, uint(bits.TrailingZeros64(b.base))&63
	for i, s := range seqs {
		var v *T
		if s < maxSeq {
			pos := s & capMask
			sl := &slots[(pos&shMask)<<baseShift|pos>>shShift]
			pub := pubState(s)
			if sl.state.Load() == pub {
				v = sl.val.Load()
				if sl.state.Load() != pub {
					v = nil
				}
			}
		}
		out[i] = v
	}
}

// Ascend returns an iterator over the retained items with seq >= from, in
// strictly ascending seq order. It is not a snapshot: it reads Next() when it
// starts and does not go beyond it; it yields each item present when it
// reaches its seq, skips items not yet published or already gone, and jumps
// ahead when the writers overtake it. It takes no lock and allocates nothing
// per item.
func (b *Buffer[T]) Ascend(from uint64) iter.Seq2[uint64, *T] {
	return func(yield func(uint64, *T) bool) {
		end := b.head.Load()
		s := max(from, b.First())
		for s < end {
			if v, ok := b.Get(s); ok {
				if !yield(s, v) {
					return
				}
			} else if f := b.First(); f > s+1 {
				s = f
				continue
			}
			s++
		}
	}
}

// Descend returns an iterator over the retained items with seq <= from, in
// strictly descending seq order; from = math.MaxUint64 starts at the newest.
// Like [Buffer.Ascend] it is not a snapshot: it starts at min(from, Next()-1)
// and stops at the first gone seq below First(). It takes no lock and
// allocates nothing per item.
func (b *Buffer[T]) Descend(from uint64) iter.Seq2[uint64, *T] {
	return func(yield func(uint64, *T) bool) {
		s := min(from, b.head.Load()-1)
		for s >= b.start {
			if v, ok := b.Get(s); ok {
				if !yield(s, v) {
					return
				}
			} else if s < b.First() {
				return
			}
			s--
		}
	}
}

// First returns the lowest seq that may still be retained (the tail):
// max(removal tail, Next()-Cap()), and with block claiming a block per P
// (plus one) lower still, Next()-Cap()-ClaimBlock*(P+1). Every seq below it has left the ring
// (or is being overwritten by a push in flight). Two atomic loads.
func (b *Buffer[T]) First() uint64 {
	h := b.head.Load()
	t := b.rtail.Load()
	if c := b.capacity + b.lag; h > c && h-c > t {
		return h - c
	}
	return t
}

// Next returns the seq the next push will get (the head); the newest seq is
// Next()-1, and Next()-Config.First seqs have been assigned since New. One
// atomic load.
func (b *Buffer[T]) Next() uint64 { return b.head.Load() }

// RemoveOldest removes items from the oldest while pred(seq, v) holds and
// returns how many it removed; OnDiscard is called for each with reason
// [Removed], by this goroutine. It stops at the first item for which pred is
// false, and at an item whose push is still in flight (it never waits for a
// writer). pred runs without any lock held. Removals from several goroutines
// are safe: each item is removed once, by one of them. Removal makes room
// for [Block] pushers and wakes them. A nil pred removes nothing.
func (b *Buffer[T]) RemoveOldest(pred func(seq uint64, v *T) bool) int {
	if pred == nil {
		return 0
	}
	return b.remove(maxSeq, pred)
}

// RemoveBefore removes every item with a seq below seq and returns how many
// it removed, like [Buffer.RemoveOldest] with a predicate on the seq; it
// stops early at an item whose push is still in flight.
func (b *Buffer[T]) RemoveBefore(seq uint64) int {
	return b.remove(seq, nil)
}

// remove is the removal loop. It takes the oldest seq e = First(); when the
// slot holds pub(e) (and pred agrees) it claims e with a CAS pub(e) ->
// clear(e), nils the pointer (so the ring does not keep the item alive),
// stores free(e) (the slot's next writer may go), and only then advances
// rtail past e. A seq that is already gone (overwritten, or removed by
// another remover) is stepped over.
func (b *Buffer[T]) remove(limit uint64, pred func(uint64, *T) bool) int {
	n := 0
	for {
		e := b.First()
		if e >= limit || e >= b.head.Load() {
			return n
		}
		sl := b.slot(e)
		st := sl.state.Load()
		pub := pubState(e)
		if st == pub {
			v := sl.val.Load()
			if sl.state.Load() != pub {
				continue // e left while we read it (v may be its successor's, or nil)
			}
			if pred != nil && !pred(e, v) {
				return n
			}
			if sl.state.CompareAndSwap(pub, e<<2|tagClear) {
				sl.val.Store(nil)
				sl.state.Store(freeState(e))
				b.removed.Add(1)
				b.advanceTail(e + 1)
				b.wakeWriters()
				n++
				if b.onDiscard != nil {
					b.onDiscard(e, v, Removed)
				}
			}
			continue // lost the CAS: e is gone now; the next round steps over it
		}
		if st>>2 < e {
			if b.cells != nil && b.unstick(e) {
				continue // e was the unused rest of a P's block: now a hole
			}
			return n // e's push is in flight: never wait for a writer
		}
		// e is gone (overwritten, or removed by a concurrent remover that
		// has not moved rtail yet): step over it.
		b.advanceTail(e + 1)
	}
}

// advanceTail raises rtail to t (never lowers it).
func (b *Buffer[T]) advanceTail(t uint64) {
	for {
		cur := b.rtail.Load()
		if cur >= t || b.rtail.CompareAndSwap(cur, t) {
			return
		}
	}
}

// Stats returns the counters; see [Stats] for what holds while the ring is
// in use. A handful of atomic loads; writers pay nothing for them (Pushed,
// Len and Overwritten are derived from head and tail).
func (b *Buffer[T]) Stats() Stats {
	if b.cells != nil {
		return b.blockStats()
	}
	removed := b.removed.Load()
	first := b.First()
	head := b.head.Load()
	if head < first {
		head = first
	}
	var over uint64
	if first-b.start > removed {
		over = first - b.start - removed
	}
	return Stats{
		Pushed:      head - b.start,
		Overwritten: over,
		Dropped:     b.dropped.Load(),
		Removed:     removed,
		Len:         int(head - first),
		Cap:         int(b.capacity),
	}
}

// blockStats is Stats under block claiming: seqs not used yet (the rest of
// each P's block) and holes are not pushes, and a hole is not an item, so
// Overwritten cannot derive from the tail. It derives from the writes
// instead: every write (push or hole) of a seq s > capacity evicts s -
// capacity unless that slot held no item (removed, or a hole), which the
// slow path counts (skipped). Len = Pushed - Overwritten - Removed, exact
// when the ring is quiescent; writers pay nothing on the fast path.
func (b *Buffer[T]) blockStats() Stats {
	var unused, unusedPast uint64 // unused seqs, and those above capacity
	for i := range b.cells {
		c := &b.cells[i]
		if n, e := c.next.Load(), c.end.Load(); n < e {
			unused += e - n
			if lo := max(n, b.start+b.capacity); lo < e {
				unusedPast += e - lo
			}
		}
	}
	skipped := b.skipped.Load()
	removed := b.removed.Load()
	holes := b.holes.Load()
	head := b.head.Load()
	written := sub0(sub0(head-b.start, b.capacity), unusedPast) // writes of seqs past the first lap
	over := sub0(written, skipped)
	pushed := sub0(head-b.start, holes+unused)
	return Stats{
		Pushed:      pushed,
		Overwritten: over,
		Dropped:     b.dropped.Load(),
		Removed:     removed,
		Len:         int(min(sub0(pushed, over+removed), b.capacity)),
		Cap:         int(b.capacity),
	}
}

func sub0(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Len returns the number of seqs in [First(), Next()): the retained items,
// plus pushes in flight. Two atomic loads.
func (b *Buffer[T]) Len() int {
	h := b.head.Load()
	t := b.rtail.Load()
	if c := b.capacity + b.lag; h > c && h-c > t {
		t = h - c
	}
	if t > h {
		return 0
	}
	return int(h - t)
}

// Cap returns the capacity given to [New].
func (b *Buffer[T]) Cap() int { return int(b.capacity) }

// Close makes later pushes fail with [ErrClosed] and wakes the [Block]
// pushers that wait, which return ErrClosed. Items stay readable and
// removable. Close is idempotent and does not wait; pushes already past
// their claim complete normally.
func (b *Buffer[T]) Close() {
	if b.closed.CompareAndSwap(false, true) {
		close(b.done)
	}
}
