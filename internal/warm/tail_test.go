package warm

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation/clock"
)

// ringSource holds the last cap events, like the hot store.
type ringSource struct {
	mu       sync.Mutex
	cap      int
	head     uint64
	evs      map[uint64]Event
	inflight uint64 // when set, this ID reads as in flight
	holes    map[uint64]bool
}

func (r *ringSource) store(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < n; i++ {
		r.head++
		r.evs[r.head] = ev(r.head)
		delete(r.evs, r.head-uint64(r.cap))
	}
}

func (r *ringSource) Next() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.head + 1
}

func (r *ringSource) Read(id uint64) (Event, ReadState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.evs[id]; ok && id != r.inflight {
		return e, Found
	}
	if id > r.head || id == r.inflight {
		return Event{}, InFlight
	}
	if r.holes[id] {
		return Event{}, Hole
	}
	return Event{}, Gone
}

func TestSync(t *testing.T) {
	dir := t.TempDir()
	tr := open(t, dir)
	src := &ringSource{cap: 1000, evs: map[uint64]Event{}}
	src.store(500)
	require.NoError(t, tr.Sync(src, 64))
	require.Equal(t, uint64(500), tr.LastID())
	src.store(1500) // 500 of these are evicted before the next sync
	require.NoError(t, tr.Sync(src, 64))
	require.Equal(t, uint64(2000), tr.LastID())
	require.Equal(t, uint64(500), tr.Stats().Skipped)
	got, err := tr.Query(context.Background(), Query{}, 5000)
	require.NoError(t, err)
	require.Equal(t, 1500, len(got))

	// An ID in flight stops the round; the next one goes on from it.
	src.store(100)
	src.inflight = 2050
	require.NoError(t, tr.Sync(src, 64))
	require.Equal(t, uint64(2049), tr.LastID())
	src.inflight = 0
	require.NoError(t, tr.Sync(src, 64))
	require.Equal(t, uint64(2100), tr.LastID())
	require.Equal(t, uint64(500), tr.Stats().Skipped)
	require.NoError(t, tr.Close())

	// After a restart the tier resumes after its last ID.
	tr = open(t, dir)
	defer tr.Close()
	require.Equal(t, uint64(2100), tr.LastID())
	src.store(10)
	require.NoError(t, tr.Sync(src, 64))
	got, err = tr.Query(context.Background(), Query{Descending: true}, 3)
	require.NoError(t, err)
	require.Equal(t, []uint64{2110, 2109, 2108}, []uint64{got[0].ID, got[1].ID, got[2].ID})
}

// TestSyncHoles: IDs that no event got are passed over and not counted as
// skipped (lost) events.
func TestSyncHoles(t *testing.T) {
	tr := open(t, t.TempDir())
	defer tr.Close()
	src := &ringSource{cap: 1000, evs: map[uint64]Event{}, holes: map[uint64]bool{}}
	src.store(100)
	for id := uint64(40); id < 60; id++ {
		delete(src.evs, id)
		src.holes[id] = true
	}
	delete(src.evs, 70) // one event lost: evicted before the round
	require.NoError(t, tr.Sync(src, 64))
	require.Equal(t, uint64(100), tr.LastID())
	require.Equal(t, uint64(1), tr.Stats().Skipped)
	got, err := tr.Query(context.Background(), Query{}, 1000)
	require.NoError(t, err)
	require.Len(t, got, 79)
}

func TestTail(t *testing.T) {
	tr := open(t, t.TempDir())
	defer tr.Close()
	src := &ringSource{cap: 100000, evs: map[uint64]Event{}}
	clk := clock.NewManual(time.Unix(0, 0))
	kick := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- tr.Tail(ctx, src, TailConfig{Clock: clk, Kick: kick,
			Limits: func() (int, time.Duration) { return 100, time.Second }})
	}()
	guard := make(chan struct{})
	defer close(guard)
	for round := 1; round <= 3; round++ {
		require.True(t, clk.BlockUntil(1, guard))
		src.store(250)
		if round == 2 {
			kick <- struct{}{}
		} else {
			clk.Add(time.Second)
		}
		// The round has run once the tailer waits on a new timer; the
		// manual clock's timers count says so.
		for tr.LastID() != uint64(250*round) {
			require.True(t, clk.BlockUntil(1, guard))
		}
	}
	cancel()
	require.NoError(t, <-done)
	require.Equal(t, uint64(0), tr.Stats().Skipped)
}
