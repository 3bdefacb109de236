package eventstore

import "context"

// The seam for an older tier (storage.warm: segments on disk). Nothing in
// the store calls these yet; they fix the contract the wiring will follow.
//
// Feeding the tier. An event leaves the hot tier inside a Store (eviction
// by capacity or byte budget) or a prune; neither may wait for a disk. So
// the tier is fed off the Store path, as the export pipeline is: a
// supervised reader walks IDs in order with [Store.Read] (ReadFound /
// ReadHidden / ReadGone / ReadInFlight), hands batches to a [Sink] and
// stays ahead of the ring's oldest end. What the ring overwrites before the
// reader copies it is lost to the tier and counted, never waited for. A
// pruned event (ReadHidden) is not handed on: max-age pruning removes it
// from every tier. A Sink that needs "on eviction" rather than "on store"
// keeps the batch until the hot tier's First passes it ([Store.First]).
//
// Reading it back. IDs are one sequence for both tiers: the hot tier holds
// IDs >= First, the older tier what it was handed below that. So Get(id)
// asks the [Source] when id < First and the hot tier misses; Query and
// Correlated merge the hot results with the Source's results restricted to
// IDs < First, both already in (Time, ID) order, in one pass: the merge
// keeps the best Offset+Limit, and After (a (Time, ID) cursor) means the
// same in both tiers, so keyset paging crosses the boundary unchanged.

// Sink receives the events leaving the hot tier, in ID order, in batches.
// It is called by one goroutine at a time, never on the Store path; batch
// is only valid during the call.
type Sink interface {
	Append(ctx context.Context, batch []Event) error
}

// Source is an older tier that reads merge in: Get by ID, and Query
// returning the events with ID < below that match q, in q's (Time, ID)
// order, at most q.Offset+q.Limit of them (the caller applies Offset
// across both tiers).
type Source interface {
	Get(ctx context.Context, id uint64) (Event, bool, error)
	Query(ctx context.Context, q Query, below uint64) ([]Event, error)
}
