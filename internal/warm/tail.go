package warm

import (
	"context"
	"time"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/segment"
)

// ReadState is what [Source.Read] found at an ID.
type ReadState uint8

// Read states.
const (
	Found    ReadState = iota // the event is held and returned
	Gone                      // evicted or pruned: it will never be returned
	InFlight                  // not stored yet (assigned and unpublished, or not assigned)
	Hole                      // no event ever got this ID: nothing to copy, nothing lost
)

// Source is the hot store as the tailer reads it: IDs are assigned 1, 2,
// 3, ... (above the tier's LastID after a restart) in Store order.
type Source interface {
	// Next returns the ID the next stored event will get.
	Next() uint64
	// Read returns a copy of the event id and what was found there.
	Read(id uint64) (Event, ReadState)
}

// TailConfig drives [Tier.Tail].
type TailConfig struct {
	Clock clock.Clock
	// Limits returns the batch size and the flush interval
	// (capture.processing.batch_size and flush_interval), read at every
	// round so that a config change takes effect at the next one.
	Limits func() (batch int, interval time.Duration)
	// Kick, when it delivers, starts a round before the interval ends (the
	// owner sends, without blocking, when a batch's worth is committed).
	Kick <-chan struct{}
	// OnError is told of each failed round and OnSuccess of each good one
	// (nil: ignored); the tier's Health keeps the last failure until a
	// write succeeds.
	OnError   func(error)
	OnSuccess func()
}

// Tail copies the events the source commits into the tier until ctx ends:
// a round every flush interval, or when kicked, appends every event
// committed since the last round, batch events per block flush. An event
// the source no longer holds when its round comes (evicted or pruned
// sooner) is counted in [Stats.Skipped]; an ID that no event got (Hole) is
// passed over and not counted. A failed round is retried at the
// next one, from the first event not yet appended.
func (t *Tier) Tail(ctx context.Context, src Source, cfg TailConfig) error {
	for {
		batch, interval := cfg.Limits()
		tm := cfg.Clock.NewTimer(interval)
		select {
		case <-ctx.Done():
			tm.Stop()
			return nil
		case <-tm.C():
		case <-cfg.Kick:
			tm.Stop()
		}
		switch err := t.Sync(src, batch); {
		case err != nil && cfg.OnError != nil:
			cfg.OnError(err)
		case err == nil && cfg.OnSuccess != nil:
			cfg.OnSuccess()
		}
	}
}

// Sync appends, now, every event the source has stored since the last
// appended one, in ID order, and makes them durable with one flush at the
// end (full blocks are written, and synced, as they fill); it stops at the
// first ID still in flight. batch bounds how many IDs one pass reads
// before it looks at the source's head again. The owner also calls it at
// Close, after the last Store, so that a clean restart loses nothing.
func (t *Tier) Sync(src Source, batch int) error {
	batch = max(batch, 1)
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	for head := src.Next(); t.next < head && err == nil; head = src.Next() {
		from, to := t.next, min(head-1, t.next+uint64(batch)-1)
		var got, holes uint64
		id := from
		for ; id <= to; id++ {
			ev, st := src.Read(id)
			if st == InFlight {
				break
			}
			if st == Hole {
				holes++
				continue
			}
			if st != Found {
				continue
			}
			if err = t.appendOne(&ev); err != nil {
				break
			}
			t.lastID.Store(id)
			got++
		}
		if err != nil {
			break
		}
		t.skipped.Add(id - from - got - holes)
		t.next = id
		if id <= to {
			break // in flight: the next round goes on from here
		}
	}
	if err == nil {
		err = t.log.Flush()
	}
	if err != nil {
		// What was appended is pending in the log (queryable, written by
		// the next successful flush): resume after it.
		t.next = max(t.next, t.lastID.Load()+1)
	}
	return err
}

// appendOne adds ev to the log's pending block. Called with t.mu held.
func (t *Tier) appendOne(ev *Event) error {
	t.buf = encode(t.buf[:0], ev)
	keys := t.keys[:0]
	keys = append(keys, typeKey(ev.Type), idKey(ev.ID))
	if ev.CorrelationID != "" {
		keys = append(keys, corrKey(ev.CorrelationID))
	}
	_, err := t.log.Append(segment.Record{Time: ev.Time, Keys: keys, Data: t.buf})
	return err
}
