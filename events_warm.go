package foundation

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/elixirscope-go/foundation/internal/eventstore"
	"github.com/elixirscope-go/foundation/internal/warm"
	"github.com/elixirscope-go/foundation/segment"
)

// WarmStats are the warm tier's figures in [EventStats] (all zero when
// storage.warm.enable is false).
type WarmStats struct {
	Enabled   bool
	Events    int64   // events on disk (and pending a block write)
	DiskBytes int64   // segments and indexes on disk, bounded by storage.warm.max_size_mb
	Ratio     float64 // uncompressed record bytes / bytes on disk
	Segments  int
	// Dropped: events that never reached the warm tier (gone from the ring
	// before the tailer copied them) plus those deleted with the oldest
	// segments to keep storage.warm.max_size_mb.
	Dropped     uint64
	WriteErrors int64
	LastID      uint64 // the highest ID on disk
}

// warmTier attaches storage.warm to the event store: a supervised task
// (events.warm) tails the ring by ID, off the Store path, and appends what
// it finds to a segment log every capture.processing.flush_interval, or
// sooner once capture.processing.batch_size events are waiting; the engine
// merges the tier into Get, Query and Correlated (Deps.Older).
type warmTier struct {
	t   *warm.Tier
	eng *eventstore.Store // set once before run starts
	// Given by the event store: the tail's clock, the config in effect
	// (capture.processing), the log.
	clock  Clock
	config func() *Config
	log    *slog.Logger

	kick  chan struct{}
	batch atomic.Uint64 // batch_size as of the last round, for the Store hook
	mask  atomic.Uint64 // kick when id&mask == 0: the power of two at or below batch
	// failing is set by a failed round and cleared by a good one: the log
	// says each change once.
	failing atomic.Bool
}

func openWarm(cfg *Config) (*warmTier, error) {
	w := cfg.Storage.Warm
	codec, err := segment.ParseCodec(string(w.Compression))
	if err != nil {
		return nil, newError(kInvalidValue, err, fmt.Sprintf("storage.warm.compression = %q", w.Compression),
			"path", "storage.warm.compression", "value", string(w.Compression))
	}
	t, err := warm.Open(warm.Config{Dir: w.Path, Codec: codec, MaxBytes: int64(w.MaxSizeMB) << 20})
	if err != nil {
		return nil, newError(kInternal, err, fmt.Sprintf("storage.warm.path = %q: cannot open the warm tier", w.Path),
			"path", "storage.warm.path", "value", w.Path)
	}
	wt := &warmTier{t: t, kick: make(chan struct{}, 1)}
	wt.setBatch(cfg.Capture.Processing.BatchSize)
	return wt, nil
}

func (w *warmTier) setBatch(n int) {
	n = max(n, 1)
	w.batch.Store(uint64(n))
	m := uint64(1)
	for m*2 <= uint64(n) {
		m *= 2
	}
	w.mask.Store(m - 1)
}

// stored is the Store hook: a non-blocking kick every batch-size-ish IDs
// (a power of two at or below batch_size, so no division on the Store path).
func (w *warmTier) stored(id uint64) {
	if id&w.mask.Load() == 0 {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// Next and Read make the engine a warm.Source.
func (w *warmTier) Next() uint64 { return w.eng.Next() }

func (w *warmTier) Read(id uint64) (warm.Event, warm.ReadState) {
	e, st := w.eng.Read(id)
	switch st {
	case eventstore.ReadFound:
		return e, warm.Found
	case eventstore.ReadInFlight:
		return warm.Event{}, warm.InFlight
	case eventstore.ReadSkip:
		return warm.Event{}, warm.Hole
	}
	return warm.Event{}, warm.Gone
}

// Get and Query make the tier the engine's eventstore.Source.
func (w *warmTier) Get(_ context.Context, id uint64) (eventstore.Event, bool, error) {
	e, ok, err := w.t.Get(id)
	return e, ok, err
}

func (w *warmTier) Query(ctx context.Context, q eventstore.Query, below uint64) ([]eventstore.Event, error) {
	evs, err := w.t.Query(ctx, warm.Query{Type: q.Type, CorrelationID: q.CorrelationID, Since: q.Since, Until: q.Until,
		Descending: q.Descending, After: q.After, Below: below}, q.Offset+q.Limit)
	if err != nil {
		return nil, err
	}
	return evs, nil // warm.Event is eventstore.Event
}

// run is the events.warm task.
func (w *warmTier) run() func(ctx context.Context) error {
	return func(ctx context.Context) error {
		return w.t.Tail(ctx, w, warm.TailConfig{
			Clock: w.clock,
			Kick:  w.kick,
			Limits: func() (int, time.Duration) {
				p := w.config().Capture.Processing
				w.setBatch(p.BatchSize)
				return p.BatchSize, p.FlushInterval
			},
			OnError: func(err error) {
				if !w.failing.Swap(true) { // once per failure, not every round
					w.log.Warn("warm tier: append failed; retrying every flush interval", "err", err)
				}
			},
			OnSuccess: func() {
				if w.failing.Swap(false) {
					w.log.Info("warm tier: appending again")
				}
			},
		})
	}
}

func (w *warmTier) stats() WarmStats {
	st := w.t.Stats()
	return WarmStats{Enabled: true, Events: st.Events, DiskBytes: st.DiskBytes, Ratio: st.Ratio, Segments: st.Segments,
		Dropped: st.Skipped + uint64(st.DroppedBySize), WriteErrors: st.WriteErrors, LastID: st.LastID}
}

// close copies what the ring still holds into the tier (the store is
// closed: nothing new arrives) and closes it, so that a clean restart
// loses nothing.
func (w *warmTier) close() error {
	err := w.t.Sync(w, int(w.batch.Load()))
	if cerr := w.t.Close(); err == nil {
		err = cerr
	}
	return err
}
