package warm

import (
	"context"
	"time"

	"github.com/elixirscope-go/foundation/internal/clock"
	"github.com/elixirscope-go/foundation/segment"
)

// Source is the hot store as the tailer reads it.
type Source interface {
	// Committed returns the highest ID up to which every ID is settled:
	// stored, refused or gone; no event with a lower ID appears later.
	Committed() uint64
	// Range calls fn, in ID order, for each event still held with
	// from <= ID <= to, until fn returns false. The event's slices are
	// valid only during the call.
	Range(from, to uint64, fn func(ev *Event) bool)
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
	// OnError is told of each failed round (nil: ignored); the tier's
	// Health keeps the last failure until a write succeeds.
	OnError func(error)
}

// Tail copies the events the source commits into the tier until ctx ends:
// a round every flush interval, or when kicked, appends every event
// committed since the last round, batch events per block flush. An event
// the source no longer holds when its round comes (evicted or pruned
// sooner) is counted in [Stats.Skipped]. A failed round is retried at the
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
		if err := t.Sync(src, batch); err != nil && cfg.OnError != nil {
			cfg.OnError(err)
		}
	}
}

// Sync appends, now, every event the source committed since the last
// appended one, making each batch durable; the owner calls it at Close,
// after the last Store, so that a clean restart loses nothing.
func (t *Tier) Sync(src Source, batch int) error {
	batch = max(batch, 1)
	t.mu.Lock()
	defer t.mu.Unlock()
	head := src.Committed()
	for t.next <= head {
		from, to := t.next, min(head, t.next+uint64(batch)-1)
		var got uint64
		var err error
		src.Range(from, to, func(ev *Event) bool {
			if ev.ID < from || ev.ID > to || ev.ID <= t.lastID.Load() {
				return true
			}
			if err = t.appendOne(ev); err != nil {
				return false
			}
			t.lastID.Store(ev.ID)
			got++
			return true
		})
		if err == nil {
			err = t.log.Flush()
		}
		if err != nil {
			// What was appended is pending in the log (queryable, written by
			// the next successful flush): resume after it.
			t.next = max(t.next, t.lastID.Load()+1)
			return err
		}
		t.skipped.Add(to - from + 1 - got)
		t.next = to + 1
	}
	return nil
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
