// Package ring is a bounded, sharded, lock-free ring buffer of *T that
// retains items until they are overwritten or removed, and numbers every item
// it accepts with a sequence number (seq).
//
// It knows nothing of events: the event store of foundation is built on it,
// and any program can use it alone. Every method of a [Buffer] is safe for
// concurrent use; pushes and reads take no lock.
//
//	b, err := ring.New[Event](1<<16, ring.Config[Event]{
//		Policy: ring.DropOldest,
//		OnDiscard: func(seq uint64, e *Event, why ring.Reason) {
//			index.Forget(seq, e) // keep secondary indexes in step
//		},
//	})
//	if err != nil {
//		return err
//	}
//	defer b.Close()
//	seq, _ := b.Push(&Event{Type: "login"})
//	if e, ok := b.Get(seq); ok { // O(1) while retained
//		fmt.Println(e.Type)
//	}
//	for seq, e := range b.Descend(math.MaxUint64) { // newest first
//		fmt.Println(seq, e.Type)
//	}
//	b.RemoveOldest(func(_ uint64, e *Event) bool { return e.At.Before(cutoff) }) // TTL
//
// # Items
//
// The ring stores pointers: a push copies one word and never allocates, and
// a reader reads a slot with atomic loads only (no seqlock copy of non-atomic
// memory, so the race detector has nothing to report). An item is treated as
// immutable once pushed: the ring hands the same pointer to every reader.
//
// # Sequence numbers and order
//
// Seqs start at 1 (0 is never a valid seq, so callers can use it as "none")
// and come from one global claim counter, [Buffer.Next]. They are unique and
// strictly increasing for the life of the ring. The order is linearizable:
// if a push returns before another push starts (in any goroutine), the first
// has the lower seq, and a goroutine's successive pushes get strictly
// increasing seqs. Pushes that overlap in time are ordered by the moment they
// claimed their seq. A push's item is visible to [Buffer.Get] and the
// iterators once the push returns. Under [DropNewest] and [Block] a refused
// push burns no seq, so seqs are dense (Stats().Pushed == Next()-1); under
// [DropOldest] they are dense too (a push is never refused for room).
//
// What the strict order costs: the claim counter is the one write to shared
// memory that every push makes (a fetch-add under DropOldest, a
// room-checked CAS under DropNewest/Block). Two cores pushing at full rate
// bounce its cache line; the benchmarks measure it (see ring_bench_test.go).
// [Config.ClaimBlock] trades that order for scaling under [DropOldest]:
// each P takes a block of seqs from the counter at a time (one shared write
// per block) and hands them to the pushes that run on it, in order; seqs
// stay unique and Get stays O(1), but pushes on different Ps (and a
// goroutine that moves between Ps) get seqs in no real-time order. Seqs of
// a block that its P has not used when a party must see them settled (a
// push that laps them, a remover, [Buffer.Settle], [Buffer.Flush], or a
// claim that moves the counter a block per P past them) become holes: no
// item ever has them, Get reports them gone, Stats does not count them as
// pushes, and they take room: the ring may hold up to ClaimBlock-1 items
// fewer than its capacity per P. First() is then lower by
// ClaimBlock*(P+2) ([Buffer.Slack]): an item may stay that long behind
// Next()-Cap() while its overwriting seq is unused in a P's block.
//
// # Shards
//
// The capacity passed to [New] is exact: there are capacity slots, and seqs
// s and s+capacity share one, so a [DropOldest] push of s overwrites
// s-capacity in its own slot. With pos = s % capacity, the slot is in shard
// pos % Shards at index pos / Shards (when Shards divides the capacity: shard
// s % Shards, index (s / Shards) % (capacity / Shards)). Consecutive seqs,
// which concurrent writers claim, land in different shard arrays rather than
// on one cache line. Powers of two for the capacity and the shard count make
// this shifts and masks. Each slot is a state word (seq and tag) and an
// atomic pointer; the protocol is documented at the slot type.
//
// # Overflow policies
//
//   - [DropOldest] overwrites the oldest item; the pushing goroutine passes it
//     to [Config.OnDiscard] with [Overwritten], after its own item is
//     published.
//   - [DropNewest] refuses with [ErrFull] and counts the item in
//     [Stats.Dropped].
//   - [Block] waits for room: it yields a few times, then parks on a channel
//     that removals and [Buffer.Close] close (no spinning core while it
//     waits), until the context is done.
//
// A batch ([Buffer.PushBatch]) is all or nothing: it gets one contiguous run
// of seqs, or an error and nothing stored.
//
// # Reading
//
// [Buffer.Get] finds an item by seq in O(1) (three atomic loads) and reports
// false once it is gone. [Buffer.Ascend] and [Buffer.Descend] iterate in seq
// order across all shards; they are not snapshots: each yields the items
// present when it reaches their seq, in strictly monotonic order, skipping
// pushes still in flight and items gone meanwhile.
//
// # Removal
//
// [Buffer.RemoveOldest] (TTL pruning) and [Buffer.RemoveBefore] remove from
// the oldest end. Each item leaves exactly once, by one party: an
// overwriting push and a remover (or two removers) race for it with a CAS on
// the slot's state, and the winner alone calls OnDiscard. Removers take no
// lock (a CAS on the slot decides each item, a CAS-max moves the removal
// tail), so the predicate and OnDiscard never run under a lock; a remover
// never waits for a writer: it stops at an item whose push is in flight.
//
// # Counters
//
// [Buffer.Stats] costs writers nothing: Pushed and Len derive from the head
// and the tail, Overwritten from the tail and Removed; Removed and Dropped
// are counted on the removal and refusal paths. With block claiming, Pushed
// is the head less the holes and the unused block rests, and evictions are
// counted on the evicting P's own cell (no shared line). When the ring is quiescent,
// Pushed == Len + Overwritten + Removed.
//
// # Progress
//
// Pushes and reads are lock-free except in one case, the price of the
// per-slot protocol (as in the LMAX Disruptor): a push whose slot is still
// being written or discarded by a push of a lower seq (one that the ring
// lapped while it was descheduled between its claim and its publish) waits
// for it, spinning briefly and then yielding. With a capacity much larger
// than the number of concurrent writers this does not happen in practice.
// For the same reason, an OnDiscard that pushes into the same small ring
// during a [Buffer.PushBatch] can wait for that batch's own unpublished
// items; keep OnDiscard to bookkeeping.
package ring

// doccheck: what the package doc's example assumes (docs_test.go in the
// repository root builds it).
//
//	type Event struct {
//		Type string
//		At   time.Time
//	}
//
//	var index interface{ Forget(seq uint64, e *Event) }
//	var cutoff time.Time
