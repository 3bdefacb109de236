package eventstore

import (
	"cmp"
	"context"
	"errors"
	"math"
	"time"
)

// The seam for an older tier (storage.warm: segments on disk).
//
// Feeding the tier. An event leaves the hot tier inside a Store (eviction
// by capacity or byte budget) or a prune; neither may wait for a disk. So
// the tier is fed off the Store path, as the export pipeline is: a
// supervised reader (the root's events.warm task, package internal/warm)
// walks IDs in order with [Store.Read] (ReadFound / ReadHidden / ReadGone /
// ReadInFlight) and copies every stored event, in batches, within a flush
// interval of its Store: long before max-age pruning or eviction takes it
// from the ring. What the ring overwrites before the reader copies it is
// lost to the tier and counted, never waited for. [Config.FirstID] starts
// the ring past the tier's last ID after a restart, so IDs are one
// sequence for both tiers.
//
// Reading it back ([Deps.Older]). The hot tier holds IDs >= First, the
// older tier what it copied. So Get(id) asks the [Source] when id < First
// and the hot tier misses; Query and Correlated merge the hot results with
// the Source's results restricted to IDs < First (read after the hot walk),
// both already in (Time, ID) order, in one pass that keeps an event found
// in both once: the merge keeps the best Offset+Limit, and After (a (Time,
// ID) cursor) means the same in both tiers, so keyset paging crosses the
// boundary unchanged. An event pruned in place by the max-age pruner (a
// caller-set Time older than newer events) stays in the ring, hidden, at
// an ID >= First: the older tier serves it again once the ring passes it.

// Source is an older tier that reads merge in: Get by ID, and Query
// returning the events with ID < below that match q, in q's (Time, ID)
// order, at most q.Offset+q.Limit of them (the caller applies Offset
// across both tiers).
type Source interface {
	Get(ctx context.Context, id uint64) (Event, bool, error)
	Query(ctx context.Context, q Query, below uint64) ([]Event, error)
}

// mergeOlder merges the hot tier's ordered candidates (the best
// Offset+Limit) with the older tier's best Offset+Limit below the ring's
// First, read after the hot walk: an event that left the ring meanwhile is
// found in the older tier, and one found in both is kept once.
func (s *Store) mergeOlder(ctx context.Context, q Query, limit int, timeout time.Duration, hot []Event) ([]Event, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Offset+Limit must not overflow (here and in the older tier): an
	// offset that large has no results anyway.
	offset := min(q.Offset, math.MaxInt-limit)
	oq := q
	oq.Limit, oq.Offset = limit, offset
	old, err := s.deps.Older.Query(ctx, oq, s.ring.First())
	if err != nil {
		return nil, olderError(err)
	}
	return mergeOrdered(hot, old, q.Descending, offset, limit), nil
}

// olderError maps an older tier's failure: a context's end is a timeout.
func olderError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return errf(ErrTimeout, err, "query timed out in the older tier")
	}
	return errf(ErrInternal, err, "older tier")
}

// mergeOrdered merges two lists sorted in (Time, ID) order (descending
// with desc), keeps an event present in both once, skips offset and
// returns at most limit.
func mergeOrdered(a, b []Event, desc bool, offset, limit int) []Event {
	before := func(x, y *Event) bool { // strictly before in the query's order
		c := cmp.Compare(x.Time, y.Time)
		if c == 0 {
			c = cmp.Compare(x.ID, y.ID)
		}
		if desc {
			c = -c
		}
		return c < 0
	}
	k := offset + limit
	out := make([]Event, 0, min(len(a)+len(b), k))
	i, j := 0, 0
	for len(out) < k && (i < len(a) || j < len(b)) {
		if j >= len(b) || (i < len(a) && !before(&b[j], &a[i])) {
			if j < len(b) && b[j].ID == a[i].ID {
				j++
			}
			out = append(out, a[i])
			i++
			continue
		}
		out = append(out, b[j])
		j++
	}
	if offset >= len(out) {
		return nil
	}
	return out[offset:]
}
