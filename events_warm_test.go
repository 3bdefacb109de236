package foundation

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/segment"
)

func warmConfig(dir string) Config {
	cfg := DefaultConfig()
	cfg.Storage.Hot.MaxEvents = 1000
	cfg.Storage.Warm.Enable = true
	cfg.Storage.Warm.Path = dir
	cfg.Capture.Processing.BatchSize = 100
	return cfg
}

// syncWarm copies what the ring holds into the warm tier now (the task
// does it every flush interval).
func syncWarm(t *testing.T, f *Foundation) {
	t.Helper()
	require.NoError(t, f.events.warm.t.Sync(f.events.warm, 100))
}

func allEvents(t *testing.T, f *Foundation, q Query) []Event {
	t.Helper()
	var out []Event
	q.Limit = 300
	for {
		page, err := f.Events().Query(q)
		require.NoError(t, err)
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		q.After = page[len(page)-1].Cursor()
	}
}

func checkOrder(t *testing.T, evs []Event, desc bool) {
	t.Helper()
	seen := map[uint64]bool{}
	for i, e := range evs {
		require.False(t, seen[e.ID], "event %d twice", e.ID)
		seen[e.ID] = true
		if i > 0 {
			p := evs[i-1]
			less := p.Time < e.Time || (p.Time == e.Time && p.ID < e.ID)
			require.True(t, less != desc, "out of order at %d: %v then %v", i, p.Cursor(), e.Cursor())
		}
	}
}

// TestWarmTier: with storage.warm.enable, events that left the ring are
// found by Get, Query (filters, order, keyset paging, Offset) and
// Correlated; Stats and Health report the tier; Close copies the ring into
// it, so that after a restart on the same path everything is queryable and
// IDs go on; PruneBefore removes from both tiers.
func TestWarmTier(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	f, err := New(WithConfig(warmConfig(dir)), WithClock(clk))
	require.NoError(t, err)
	const n = 5000
	for i := 1; i <= n; i++ {
		clk.Add(time.Millisecond)
		id, err := f.Events().Store(Event{Type: "t" + strconv.Itoa(i%3), CorrelationID: "c" + strconv.Itoa(i%50),
			Data: []byte(fmt.Sprintf(`{"i":%d}`, i))})
		require.NoError(t, err)
		require.Equal(t, uint64(i), id)
		if i%500 == 0 {
			syncWarm(t, f)
		}
	}
	check := func(f *Foundation, n int) {
		t.Helper()
		all := allEvents(t, f, Query{})
		require.Equal(t, n, len(all))
		checkOrder(t, all, false)
		desc := allEvents(t, f, Query{Descending: true})
		checkOrder(t, desc, true)
		require.Equal(t, n, len(desc))
		typ := allEvents(t, f, Query{Type: "t1"})
		checkOrder(t, typ, false)
		for _, e := range typ {
			require.Equal(t, "t1", e.Type)
		}
		require.InDelta(t, n/3, len(typ), 1)
		off, err := f.Events().Query(Query{Offset: 10, Limit: 5})
		require.NoError(t, err)
		require.Equal(t, all[10:15], off)
		var buf EventBuffer
		for _, q := range []Query{{Offset: 10, Limit: 5}, {Type: "t2", Descending: true, Limit: 700}, {CorrelationID: "c3", Limit: 3}} {
			want, err := f.Events().Query(q)
			require.NoError(t, err)
			into, err := f.Events().QueryInto(&buf, q)
			require.NoError(t, err)
			require.Equal(t, want, into, "%+v into a buffer", q)
		}
		e, err := f.Events().Get(all[0].ID)
		require.NoError(t, err)
		require.Equal(t, all[0], e)
		corr, err := f.Events().Correlated("c7")
		require.NoError(t, err)
		checkOrder(t, corr, false)
		require.Equal(t, n/50, len(corr))
	}
	check(f, n)
	st := f.Events().Stats()
	require.True(t, st.Warm.Enabled)
	require.GreaterOrEqual(t, st.Warm.Events, int64(n-1000))
	require.Equal(t, uint64(0), st.Warm.Dropped)
	require.Equal(t, StatusRunning, f.Health().Events.Status)
	require.NoError(t, f.Close())

	f, err = New(WithConfig(warmConfig(dir)), WithClock(clk))
	require.NoError(t, err)
	defer f.Close()
	check(f, n)
	require.Equal(t, uint64(n), f.Events().Stats().Warm.LastID)
	id, err := f.Events().Store(Event{Type: "t0"})
	require.NoError(t, err)
	require.Equal(t, uint64(n+1), id)
	all := allEvents(t, f, Query{})
	cut := all[2500].Time
	f.Events().PruneBefore(cut)
	left := allEvents(t, f, Query{})
	require.Equal(t, slices.IndexFunc(all, func(e Event) bool { return e.Time >= cut }), len(all)-len(left))
	require.GreaterOrEqual(t, left[0].Time, cut)
}

// TestWarmTierHealth: when the warm tier cannot write (its directory was
// deleted), Health says so with the reason; Store goes on.
func TestWarmTierHealth(t *testing.T) {
	dir := t.TempDir() + "/warm"
	f, err := New(WithConfig(warmConfig(dir)))
	require.NoError(t, err)
	defer f.Close()
	for i := 0; i < 100; i++ {
		_, err := f.Events().Store(Event{Type: "a"})
		require.NoError(t, err)
	}
	syncWarm(t, f)
	require.Equal(t, StatusRunning, f.Health().Events.Status)
	require.NoError(t, os.RemoveAll(dir))
	for i := 0; i < 100; i++ {
		_, err := f.Events().Store(Event{Type: "a"})
		require.NoError(t, err)
	}
	require.Error(t, f.events.warm.t.Sync(f.events.warm, 100))
	h := f.Health()
	require.Equal(t, StatusDegraded, h.Events.Status)
	require.Contains(t, h.Events.Reason, "warm tier cannot write")
	require.Greater(t, f.Events().Stats().Warm.WriteErrors, int64(0))
}

// TestWarmTierOpenErrors: a warm path held by another Foundation, or that is
// a file, fails New with the path named.
func TestWarmTierOpenErrors(t *testing.T) {
	dir := t.TempDir()
	f, err := New(WithConfig(warmConfig(dir)))
	require.NoError(t, err)
	defer f.Close()
	_, err = New(WithConfig(warmConfig(dir)))
	require.ErrorIs(t, err, segment.ErrLocked)
	require.ErrorContains(t, err, "storage.warm.path")
	file := t.TempDir() + "/f"
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = New(WithConfig(warmConfig(file)))
	require.ErrorIs(t, err, segment.ErrDir)
}

// TestWarmTierConcurrent: two goroutines store while a third pages through
// Query (keyset, both orders) and Gets, with a small ring that wraps and
// the events.warm task copying every 2 ms: every page is in order with no
// event twice, and every Get of an ID the tier or the ring holds succeeds.
// At the end, after Close and a reopen, the store holds exactly what was
// stored minus what the tier counted as dropped.
func TestWarmTierConcurrent(t *testing.T) {
	dir := t.TempDir()
	cfg := warmConfig(dir)
	cfg.Storage.Hot.MaxEvents = 500
	cfg.Capture.Processing.FlushInterval = 2 * time.Millisecond
	f, err := New(WithConfig(cfg))
	require.NoError(t, err)
	per := 100_000
	if raceOn {
		per = 10_000
	}
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := f.Events().Store(Event{Type: "t" + strconv.Itoa(g), CorrelationID: "c" + strconv.Itoa(i%7)}); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	pages := 0
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		default:
		}
		for _, desc := range []bool{false, true} {
			q := Query{Limit: 200, Descending: desc, Type: "t1"}
			seen := map[uint64]bool{}
			for range 5 {
				page, err := f.Events().Query(q)
				require.NoError(t, err)
				if len(page) == 0 {
					break
				}
				checkOrder(t, page, desc)
				for _, e := range page {
					require.False(t, seen[e.ID], "event %d on two pages", e.ID)
					seen[e.ID] = true
					require.Equal(t, "t1", e.Type)
				}
				q.After = page[len(page)-1].Cursor()
				pages++
			}
		}
		if last := f.Events().Stats().Warm.LastID; last > 0 {
			_, err := f.Events().Get(last)
			require.NoError(t, err)
		}
	}
	require.Greater(t, pages, 0)
	require.NoError(t, f.Close())
	dropped := f.Events().Stats().Warm.Dropped

	f, err = New(WithConfig(cfg))
	require.NoError(t, err)
	defer f.Close()
	all := allEvents(t, f, Query{})
	checkOrder(t, all, false)
	require.Equal(t, uint64(2*per)-dropped, uint64(len(all)))
}

// TestWarmTierHugeOffset: with the warm tier on, an Offset near the largest
// int is refused (ErrInvalidQuery), not a panic (Offset+Limit overflowed)
// nor a heap of that many candidates; at MaxQueryOffset it has no results.
func TestWarmTierHugeOffset(t *testing.T) {
	f, err := New(WithConfig(warmConfig(t.TempDir())))
	require.NoError(t, err)
	defer f.Close()
	for i := 0; i < 10; i++ {
		_, err := f.Events().Store(Event{Type: "t"})
		require.NoError(t, err)
	}
	syncWarm(t, f)
	for _, off := range []int{math.MaxInt, math.MaxInt - 1, math.MaxInt - 1000} {
		for _, desc := range []bool{false, true} {
			_, err := f.Events().Query(Query{Offset: off, Descending: desc})
			require.ErrorIs(t, err, ErrInvalidQuery)
		}
	}
	for _, desc := range []bool{false, true} {
		got, err := f.Events().Query(Query{Offset: MaxQueryOffset, Descending: desc})
		require.NoError(t, err)
		require.Empty(t, got)
	}
	got, err := f.Events().Query(Query{Offset: 9})
	require.NoError(t, err)
	require.Len(t, got, 1)
}

type countingExporter struct{ n atomic.Int64 }

func (e *countingExporter) Export(_ context.Context, b []Event) error {
	e.n.Add(int64(len(b)))
	return nil
}

// TestWarmTierRestartExport: after a restart on a warm tier that holds
// events, IDs start past its last one; the exporter starts there too and
// counts none of the IDs below as dropped.
func TestWarmTierRestartExport(t *testing.T) {
	dir := t.TempDir()
	f, err := New(WithConfig(warmConfig(dir)))
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		_, err := f.Events().Store(Event{Type: "t"})
		require.NoError(t, err)
	}
	require.NoError(t, f.Close())

	exp := &countingExporter{}
	f, err = New(WithConfig(warmConfig(dir)), WithExporter(exp))
	require.NoError(t, err)
	defer f.Close()
	for i := 0; i < 10; i++ {
		id, err := f.Events().Store(Event{Type: "t"})
		require.NoError(t, err)
		require.Greater(t, id, uint64(50))
	}
	deadline := time.Now().Add(20 * time.Second) // a guard, not a timing
	for exp.n.Load() < 10 {
		require.True(t, time.Now().Before(deadline), "export did not reach the events stored")
		time.Sleep(time.Millisecond)
	}
	st := f.Events().Stats()
	require.Equal(t, uint64(0), st.ExportDropped)
	require.Equal(t, uint64(10), st.Exported)
}

// TestWarmTierCloseReportsLoss: when the warm tier cannot copy the hot tier
// to disk at Close (its directory is gone), Close says so instead of
// returning nil, and stays idempotent.
func TestWarmTierCloseReportsLoss(t *testing.T) {
	dir := t.TempDir() + "/warm"
	f, err := New(WithConfig(warmConfig(dir)))
	require.NoError(t, err)
	for i := 0; i < 100; i++ {
		_, err := f.Events().Store(Event{Type: "a"})
		require.NoError(t, err)
	}
	require.NoError(t, os.RemoveAll(dir))
	err = f.Close()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrInternal)
	require.Contains(t, err.Error(), "warm tier")
	require.NoError(t, f.Close(), "a second Close")
}
