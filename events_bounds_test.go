package foundation_test

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

// The bounds of the event store under bad input: each test names what an
// unbounded store would do with that input.

// TestSubscribeBufferBounded: a subscription's Limit does not size its
// channel (a Limit of 1<<40 would exhaust memory, MaxInt would panic in
// makechan); the buffer is SubscriptionBuffer, capped.
func TestSubscribeBufferBounded(t *testing.T) {
	f, clk := newStore(t, 100, nil)
	es := f.Events()
	for _, limit := range []int{1 << 40, math.MaxInt, -1, 0} {
		sub := es.Subscribe(foundation.Query{Limit: limit})
		assert.Equal(t, foundation.DefaultSubscriptionBuffer, cap(sub.C()), "Limit %d", limit)
		sub.Close()
	}
	for _, n := range []int{-5, 0, 1, 1000, 1 << 40, math.MaxInt} {
		sub := es.Subscribe(foundation.Query{}, foundation.SubscriptionBuffer(n))
		want := min(max(n, 0), foundation.MaxSubscriptionBuffer)
		if n <= 0 {
			want = foundation.DefaultSubscriptionBuffer
		}
		assert.Equal(t, want, cap(sub.C()), "SubscriptionBuffer(%d)", n)
		sub.Close()
	}
	// Limit still means "at most Limit events", whatever the buffer.
	sub := es.Subscribe(foundation.Query{Limit: 3}, foundation.SubscriptionBuffer(1000))
	for range 10 {
		_, err := es.Store(foundation.Event{Type: "t"})
		require.NoError(t, err)
	}
	clk.Add(time.Nanosecond) // the events' Time is the clock's: sent once it moves on
	n := 0
	for range sub.C() {
		n++
	}
	assert.Equal(t, 3, n)
}

// TestQueryOffsetCapped: an Offset is what a query holds candidates for
// (copies read from disk with the warm tier on), so one past
// MaxQueryOffset is refused; at the cap the query runs.
func TestQueryOffsetCapped(t *testing.T) {
	f, _ := newStore(t, 100, nil)
	es := f.Events()
	for i := range 10 {
		_, err := es.Store(foundation.Event{Type: "t", Data: []byte{byte(i)}})
		require.NoError(t, err)
	}
	for _, off := range []int{foundation.MaxQueryOffset + 1, math.MaxInt} {
		_, err := es.Query(foundation.Query{Offset: off})
		require.ErrorIs(t, err, foundation.ErrInvalidQuery, "Offset %d", off)
		assert.Contains(t, err.Error(), "After")
	}
	got, err := es.Query(foundation.Query{Offset: foundation.MaxQueryOffset})
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = es.Query(foundation.Query{Offset: 8})
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

// TestEventSizeCoversAllParts: the max event size covers Type +
// CorrelationID + Data (an 8 MiB Type or CorrelationID was accepted with
// WithMaxEventSize(100)); a refused event changes nothing.
func TestEventSizeCoversAllParts(t *testing.T) {
	f, _ := newStore(t, 100, nil, foundation.WithMaxEventSize(100))
	es := f.Events()
	big := strings.Repeat("x", 8<<20)
	for _, ev := range []foundation.Event{
		{Type: big},
		{Type: "t", CorrelationID: big},
		{Type: strings.Repeat("t", 40), CorrelationID: strings.Repeat("c", 40), Data: make([]byte, 21)},
	} {
		_, err := es.Store(ev)
		assert.ErrorIs(t, err, foundation.ErrDataTooLarge)
		assert.ErrorIs(t, err, foundation.ErrValidation)
		_, err = es.StoreBatch([]foundation.Event{{Type: "ok"}, ev})
		assert.ErrorIs(t, err, foundation.ErrDataTooLarge)
	}
	_, err := es.Store(foundation.Event{Type: strings.Repeat("t", 40), CorrelationID: strings.Repeat("c", 40), Data: make([]byte, 20)})
	require.NoError(t, err, "exactly the limit is accepted")
	st := es.Stats()
	assert.Equal(t, uint64(1), st.Stored)
	assert.Equal(t, 1, st.Len)
}

// TestInternerForgetsTypes: the copies handed out share one interned copy
// of each type, but types no held event has are forgotten at the next
// sweep (without it, 4,096 large types would stay held for good, about
// 100 MiB, after their events were evicted).
func TestInternerForgetsTypes(t *testing.T) {
	f, _ := newStore(t, 64, nil)
	es := f.Events()
	const types, size = 4096, 8 << 10
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range types {
		typ := fmt.Sprintf("%06d%s", i, strings.Repeat("t", size))
		id, err := es.Store(foundation.Event{Type: typ})
		require.NoError(t, err)
		_, err = es.Get(id) // a copy out interns the type
		require.NoError(t, err)
		_, err = es.Query(foundation.Query{Type: typ})
		require.NoError(t, err)
	}
	for range 64 { // evict them all
		_, err := es.Store(foundation.Event{Type: "small"})
		require.NoError(t, err)
	}
	es.PruneBefore(1) // a prune round sweeps the indexes and the interner
	after := heap()
	grown := int64(after) - int64(before)
	assert.Less(t, grown, int64(8<<20), "heap grew by %d bytes after %d types of %d bytes left the store", grown, types, size)
}

// TestByteBudget: storage.hot.max_size_mb bounds the bytes held under
// every policy (the event count alone would let the default capacity hold
// ~93 GiB of maximum-size events).
func TestByteBudget(t *testing.T) {
	const budget = 1 << 20
	data := make([]byte, 1000)
	for _, pol := range []foundation.OverflowStrategy{foundation.DropOldest, foundation.DropNewest, foundation.Block} {
		t.Run(string(pol), func(t *testing.T) {
			f, _ := newStore(t, 100_000, func(c *foundation.Config) {
				c.Storage.Hot.MaxSizeMB = 1
				c.Capture.RingBuffer.OverflowStrategy = pol
				c.Interface.QueryTimeout = time.Millisecond // block: give up after the smallest timeout allowed
			})
			es := f.Events()
			refused := 0
			for range 5000 {
				if _, err := es.Store(foundation.Event{Type: "t", Data: data}); err != nil {
					require.True(t, pol != foundation.DropOldest, "drop_oldest never refuses: %v", err)
					if pol == foundation.DropNewest {
						require.ErrorIs(t, err, foundation.ErrFull)
					} else {
						require.ErrorIs(t, err, foundation.ErrTimeout)
					}
					refused++
				}
			}
			st := es.Stats()
			slack := int64(budget / 16)
			if pol != foundation.DropOldest {
				slack = 0 // reserved exactly
			}
			assert.LessOrEqual(t, st.Bytes, int64(budget)+slack, "%+v", st)
			assert.Greater(t, st.Bytes, int64(budget)/2, "%+v", st)
			assert.Equal(t, st.Stored, uint64(st.Len)+st.Evicted+st.Pruned, "%+v", st)
			if pol == foundation.DropOldest {
				assert.Positive(t, st.Evicted)
				assert.Zero(t, st.Pruned)
			} else {
				assert.Positive(t, refused)
				assert.Equal(t, uint64(refused), st.Dropped)
				// A prune gives the room back.
				es.PruneBefore(math.MaxInt64)
				_, err := es.Store(foundation.Event{Type: "t", Data: data})
				assert.NoError(t, err)
			}
		})
	}
	cfg := foundation.DefaultConfig()
	assert.Equal(t, 1024, cfg.Storage.Hot.MaxSizeMB)
	cfg.Storage.Hot.MaxSizeMB = 0
	assert.ErrorIs(t, cfg.Validate(), foundation.ErrValidation)
}

// TestPrunedSlotsReusable: under drop_newest and block, events pruned in
// place (an old Time behind a newer one) give their room back: a store that
// kept it would refuse new events while Stats said 1 of 10 held.
func TestPrunedSlotsReusable(t *testing.T) {
	for _, pol := range []foundation.OverflowStrategy{foundation.DropNewest, foundation.Block} {
		t.Run(string(pol), func(t *testing.T) {
			f, _ := newStore(t, 10, func(c *foundation.Config) {
				c.Capture.RingBuffer.OverflowStrategy = pol
				c.Interface.QueryTimeout = time.Millisecond // the smallest allowed
			})
			es := f.Events()
			_, err := es.Store(foundation.Event{Type: "t", Time: 100})
			require.NoError(t, err)
			for range 9 {
				_, err := es.Store(foundation.Event{Type: "t", Time: 5})
				require.NoError(t, err)
			}
			require.Equal(t, 9, es.PruneBefore(50))
			require.Equal(t, 1, es.Stats().Len)
			for i := range 9 {
				_, err := es.Store(foundation.Event{Type: "t", Time: 200})
				require.NoError(t, err, "store %d after the prune", i)
			}
			_, err = es.Store(foundation.Event{Type: "t", Time: 200})
			assert.Error(t, err, "the capacity still holds")
			st := es.Stats()
			assert.Equal(t, 10, st.Len)
			assert.Equal(t, st.Stored, uint64(st.Len)+st.Evicted+st.Pruned, "%+v", st)
		})
	}
}

// TestStatsSaneWhileStoring: while writers evict, Stats never reports
// more events than the capacity nor negative bytes (Len over Capacity and
// negative Bytes were seen), and it is exact once they stop.
func TestStatsSaneWhileStoring(t *testing.T) {
	const capacity = 1
	f, _ := newStore(t, capacity, func(c *foundation.Config) { c.Capture.RingBuffer.NumBuffers = 1 })
	es := f.Events()
	var (
		wg   sync.WaitGroup
		stop atomic.Bool
		bad  atomic.Pointer[foundation.EventStats]
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50_000 && !stop.Load(); i++ {
				if _, err := es.Store(foundation.Event{Type: "t", Data: make([]byte, (i+w)%64*100)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200_000; i++ {
			if st := es.Stats(); st.Len > st.Capacity || st.Len < 0 || st.Bytes < 0 {
				bad.CompareAndSwap(nil, &st)
				stop.Store(true)
				return
			}
		}
	}()
	wg.Wait()
	if p := bad.Load(); p != nil {
		t.Fatalf("Stats while storing: %+v", *p)
	}
	st := es.Stats()
	assert.Equal(t, capacity, st.Len)
	assert.Equal(t, st.Stored, uint64(st.Len)+st.Evicted+st.Pruned, "%+v", st)
	evs, err := es.Query(foundation.Query{})
	require.NoError(t, err)
	var bytes int64
	for _, e := range evs {
		bytes += int64(len(e.Type)+len(e.CorrelationID)+len(e.Data)) + 128
	}
	assert.Equal(t, bytes, st.Bytes)
}

// TestConfigUpdateDoesNotWaitForAFullStore: under the block policy a full
// event store makes a Store wait for room (up to interface.query_timeout,
// here an hour), but a config change, which stores its event while the
// config service holds its lock, is applied at once: its event is refused
// and counted, so no config change waits on the event store.
func TestConfigUpdateDoesNotWaitForAFullStore(t *testing.T) {
	f, clk := newStore(t, 10, func(c *foundation.Config) {
		c.Capture.RingBuffer.OverflowStrategy = foundation.Block
		c.Interface.QueryTimeout = time.Hour
	})
	es := f.Events()
	for range 10 {
		clk.Add(time.Millisecond)
		_, err := es.Store(foundation.Event{Type: "fill"})
		require.NoError(t, err)
	}
	failures := f.Telemetry().Counter(foundation.MetricConfigEventFailures)
	before := failures.Value()
	done := make(chan error, 1)
	go func() { done <- f.Config().Update("ai.planning.sampling_rate", 0.5) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second): // a guard: the wait would last an hour
		t.Fatal("Update waited for room in the event store")
	}
	assert.Equal(t, 0.5, f.Config().Get().Config().AI.Planning.SamplingRate)
	assert.Equal(t, before+1, failures.Value())
	assert.Equal(t, 10, es.Stats().Len)
}
