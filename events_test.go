package foundation_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

var evT0 = time.Unix(1_700_000_000, 0)

// newStore returns a Foundation on a manual clock with a small store.
func newStore(t testing.TB, capacity int, mut func(*foundation.Config), opts ...foundation.Option) (*foundation.Foundation, *foundation.ManualClock) {
	t.Helper()
	clk := foundation.NewManualClock(evT0)
	cfg := foundation.DefaultConfig()
	cfg.Storage.Hot.MaxEvents = capacity
	if mut != nil {
		mut(&cfg)
	}
	opts = append([]foundation.Option{foundation.WithConfig(cfg), foundation.WithClock(clk)}, opts...)
	return newF(t, opts...), clk
}

// model is the reference: the events held, by ID.
type model struct{ evs []foundation.Event }

// before reports whether a precedes b in (Time, ID) order.
func before(a, b foundation.EventCursor) bool {
	return a.Time < b.Time || (a.Time == b.Time && a.ID < b.ID)
}

func (m *model) query(q foundation.Query, maxResults int) []foundation.Event {
	var out []foundation.Event
	for _, e := range m.evs {
		if (q.Type == "" || e.Type == q.Type) && (q.CorrelationID == "" || e.CorrelationID == q.CorrelationID) &&
			(q.Since == 0 || e.Time >= q.Since) && (q.Until == 0 || e.Time <= q.Until) {
			if q.After.ID != 0 && (q.Descending && !before(e.Cursor(), q.After) || !q.Descending && !before(q.After, e.Cursor())) {
				continue
			}
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return before(out[i].Cursor(), out[j].Cursor()) })
	if q.Descending {
		slices.Reverse(out)
	}
	if q.Offset >= len(out) {
		return nil
	}
	out = out[q.Offset:]
	limit := q.Limit
	if limit == 0 || limit > maxResults {
		limit = maxResults
	}
	return out[:min(limit, len(out))]
}

func ids(evs []foundation.Event) []uint64 {
	if len(evs) == 0 {
		return nil
	}
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestEventBadInput(t *testing.T) {
	f, _ := newStore(t, 100, nil, foundation.WithMaxEventSize(10))
	es := f.Events()
	id, err := es.Store(foundation.Event{Type: "keep", Data: []byte("x")})
	require.NoError(t, err)

	cases := []struct {
		name string
		call func() error
		want []error
	}{
		{"empty type", func() error { _, err := es.Store(foundation.Event{}); return err },
			[]error{foundation.ErrInvalidEvent, foundation.ErrValidation}},
		{"oversized data", func() error { _, err := es.Store(foundation.Event{Type: "a", Data: make([]byte, 11)}); return err },
			[]error{foundation.ErrDataTooLarge, foundation.ErrValidation}},
		{"batch with one empty type", func() error {
			_, err := es.StoreBatch([]foundation.Event{{Type: "a"}, {Type: ""}, {Type: "c"}})
			return err
		}, []error{foundation.ErrInvalidEvent, foundation.ErrValidation}},
		{"batch with one oversized", func() error {
			_, err := es.StoreBatch([]foundation.Event{{Type: "a"}, {Type: "b", Data: make([]byte, 11)}})
			return err
		}, []error{foundation.ErrDataTooLarge}},
		{"negative limit", func() error { _, err := es.Query(foundation.Query{Limit: -1}); return err },
			[]error{foundation.ErrInvalidQuery, foundation.ErrValidation}},
		{"negative offset", func() error { _, err := es.Query(foundation.Query{Offset: -1}); return err },
			[]error{foundation.ErrInvalidQuery, foundation.ErrValidation}},
		{"since after until", func() error { _, err := es.Query(foundation.Query{Since: 10, Until: 5}); return err },
			[]error{foundation.ErrInvalidQuery}},
		{"unknown id", func() error { _, err := es.Get(9999); return err }, []error{foundation.ErrNotFound}},
		{"id zero", func() error { _, err := es.Get(0); return err }, []error{foundation.ErrNotFound}},
		{"empty correlation id", func() error { _, err := es.Correlated(""); return err }, []error{foundation.ErrInvalidQuery}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.call()
			require.Error(t, err)
			for _, w := range c.want {
				assert.ErrorIs(t, err, w)
			}
			var fe *foundation.Error
			assert.ErrorAs(t, err, &fe)
		})
	}
	// Nothing stored or changed by the failures.
	st := es.Stats()
	assert.Equal(t, uint64(1), st.Stored)
	assert.Equal(t, 1, st.Len)
	ev, err := es.Get(id)
	require.NoError(t, err)
	assert.Equal(t, "keep", ev.Type)

	// After Close: writes fail with ErrClosed, reads still work.
	require.NoError(t, f.Close())
	_, err = es.Store(foundation.Event{Type: "a"})
	assert.ErrorIs(t, err, foundation.ErrClosed)
	_, err = es.StoreBatch([]foundation.Event{{Type: "a"}})
	assert.ErrorIs(t, err, foundation.ErrClosed)
	assert.Equal(t, 0, es.PruneBefore(1<<62))
	_, err = es.Get(id)
	assert.NoError(t, err)
	assert.Equal(t, foundation.StatusStopped, f.Health().Events.Status)
	sub := es.Subscribe(foundation.Query{})
	_, open := <-sub.C()
	assert.False(t, open, "a subscription after Close is closed")
	sub.Close()
}

func TestEventStoreGetCopies(t *testing.T) {
	f, clk := newStore(t, 100, nil)
	es := f.Events()
	data := []byte("hello")
	id, err := es.Store(foundation.Event{ID: 777, Type: "t", CorrelationID: "c", ParentID: 3, Data: data})
	require.NoError(t, err)
	assert.Equal(t, uint64(1), id, "caller's ID is ignored")
	data[0] = 'X' // the store kept its own copy
	ev, err := es.Get(id)
	require.NoError(t, err)
	assert.Equal(t, foundation.Event{ID: 1, Type: "t", Time: evT0.UnixNano(), CorrelationID: "c", ParentID: 3, Data: []byte("hello")}, ev)
	ev.Data[0] = 'Y' // a result is a copy
	ev2, _ := es.Get(id)
	assert.Equal(t, "hello", string(ev2.Data))

	clk.Add(time.Second)
	id2, err := es.Store(foundation.Event{Type: "t", Time: 42})
	require.NoError(t, err)
	ev, _ = es.Get(id2)
	assert.Equal(t, int64(42), ev.Time, "a caller's Time is kept")
	assert.Nil(t, ev.Data)

	ids, err := es.StoreBatch([]foundation.Event{{Type: "a"}, {Type: "b", Time: 7}, {Type: "c"}})
	require.NoError(t, err)
	assert.Equal(t, []uint64{3, 4, 5}, ids)
	evs, err := es.Query(foundation.Query{Since: 1})
	require.NoError(t, err)
	now := evT0.Add(time.Second).UnixNano()
	// (Time, ID) order: the caller-set older Times come first.
	assert.Equal(t, []int64{7, 42, evT0.UnixNano(), now, now}, func() (ts []int64) {
		for _, e := range evs {
			ts = append(ts, e.Time)
		}
		return
	}())
	b, err := es.StoreBatch(nil)
	assert.NoError(t, err)
	assert.Empty(t, b)
	st := es.Stats()
	assert.Equal(t, uint64(5), st.Stored)
	assert.Positive(t, st.Bytes)
}

// fill stores n events with types, correlation ids and times that exercise
// every filter; every 7th event has a time far out of order.
func fill(t testing.TB, es *foundation.EventStore, n int, seed uint64) *model {
	m := &model{}
	r := rand.New(rand.NewPCG(seed, 1))
	types := []string{"a", "b", "c"}
	corrs := []string{"", "x", "y"}
	for i := 0; i < n; i++ {
		ev := foundation.Event{Type: types[r.IntN(3)], CorrelationID: corrs[r.IntN(3)], Time: int64(1000 + i*10)}
		if i%7 == 3 {
			ev.Time = int64(r.IntN(n*10) + 1000)
		}
		ev.Data = []byte(fmt.Sprint(i))
		id, err := es.Store(ev)
		require.NoError(t, err)
		ev.ID = id
		m.evs = append(m.evs, ev)
	}
	return m
}

func TestEventQueryMatchesModel(t *testing.T) {
	for _, n := range []int{0, 5, 300, 1500} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			f, _ := newStore(t, 4096, nil)
			es := f.Events()
			m := fill(t, es, n, uint64(n))
			checkQueries(t, es, m, 1000, uint64(n))
		})
	}
}

func checkQueries(t *testing.T, es *foundation.EventStore, m *model, maxResults int, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	span := int64(len(m.evs)*10 + 2000)
	var buf foundation.EventBuffer // one for every query: QueryInto must match Query
	for _, typ := range []string{"", "a", "b", "zzz"} {
		for _, corr := range []string{"", "x", "y", "nope"} {
			for _, desc := range []bool{false, true} {
				for k := 0; k < 6; k++ {
					q := foundation.Query{Type: typ, CorrelationID: corr, Descending: desc}
					switch k {
					case 1:
						q.Limit, q.Offset = 7, 3
					case 2:
						q.Since = 1000 + r.Int64N(span)
					case 3:
						q.Until = 1000 + r.Int64N(span)
					case 4:
						q.Since = 1000 + r.Int64N(span)
						q.Until = q.Since + r.Int64N(span/4+1)
						q.Limit, q.Offset = 5, r.IntN(4)
					case 5:
						q.Offset = r.IntN(len(m.evs) + 2)
					}
					got, err := es.Query(q)
					require.NoError(t, err, "%+v", q)
					want := m.query(q, maxResults)
					require.Equal(t, ids(want), ids(got), "%+v", q)
					for i := range got {
						require.Equal(t, want[i], got[i])
					}
					into, err := es.QueryInto(&buf, q)
					require.NoError(t, err, "%+v", q)
					require.Equal(t, got, into, "%+v into a buffer", q)
				}
			}
		}
	}
	// Paging through everything, both directions, in pages of 13.
	for _, desc := range []bool{false, true} {
		var all []uint64
		for off := 0; ; off += 13 {
			got, err := es.Query(foundation.Query{Type: "a", Limit: 13, Offset: off, Descending: desc})
			require.NoError(t, err)
			all = append(all, ids(got)...)
			if len(got) < 13 {
				break
			}
		}
		assert.Equal(t, ids(m.query(foundation.Query{Type: "a", Descending: desc, Limit: 1 << 30}, 1<<30)), all)
	}
	// Keyset paging through everything, with and without a key and a
	// time range, both directions, in pages of 13.
	for _, base := range []foundation.Query{{}, {Type: "a"}, {CorrelationID: "x"}, {Since: 1500, Until: 1000 + span/2}} {
		for _, desc := range []bool{false, true} {
			q := base
			q.Descending, q.Limit = desc, 13
			var all []uint64
			for {
				got, err := es.Query(q)
				require.NoError(t, err)
				all = append(all, ids(got)...)
				if len(got) < 13 {
					break
				}
				q.After = got[len(got)-1].Cursor()
			}
			whole := base
			whole.Descending, whole.Limit = desc, 1<<30
			assert.Equal(t, ids(m.query(whole, 1<<30)), all, "keyset %+v", q)
		}
	}
	// Correlated: ascending by (Time, ID).
	for _, c := range []string{"x", "y", "nope"} {
		got, err := es.Correlated(c)
		require.NoError(t, err)
		want := m.query(foundation.Query{CorrelationID: c, Limit: 1 << 30}, 1<<30)
		sort.SliceStable(want, func(i, j int) bool { return want[i].Time < want[j].Time })
		assert.Equal(t, ids(want), ids(got))
	}
}

func TestEventMaxResultsLive(t *testing.T) {
	f, _ := newStore(t, 100, nil)
	es := f.Events()
	for i := 0; i < 50; i++ {
		_, err := es.Store(foundation.Event{Type: "t"})
		require.NoError(t, err)
	}
	evs, _ := es.Query(foundation.Query{})
	assert.Len(t, evs, 50)
	require.NoError(t, f.Config().Update("interface.max_results", 10))
	evs, _ = es.Query(foundation.Query{})
	assert.Len(t, evs, 10, "Limit 0 = max_results")
	evs, _ = es.Query(foundation.Query{Limit: 30})
	assert.Len(t, evs, 10, "max_results caps Limit")
	evs, _ = es.Query(foundation.Query{Limit: 3})
	assert.Len(t, evs, 3)
}

func TestEventQueryContext(t *testing.T) {
	f, _ := newStore(t, 10_000, nil)
	es := f.Events()
	for i := 0; i < 2000; i++ {
		_, err := es.Store(foundation.Event{Type: "t", Time: int64(i + 1)})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := es.QueryContext(ctx, foundation.Query{Type: "nomatch-but-scan", Offset: 0})
	assert.NoError(t, err, "an empty index costs nothing")
	_, err = es.QueryContext(ctx, foundation.Query{Offset: 1500, Limit: 10})
	assert.ErrorIs(t, err, foundation.ErrTimeout, "a cancelled context stops a long query")
	evs, err := es.QueryContext(context.Background(), foundation.Query{Offset: 1500, Limit: 10})
	require.NoError(t, err)
	// The 1501st event in (Time, ID) order: its Time, not its ID (a
	// goroutine that changes core leaves the rest of its block of IDs as
	// holes, so IDs need not be 1..2000).
	assert.Equal(t, int64(1501), evs[0].Time)
}

func TestEventEvictionLeavesIndexes(t *testing.T) {
	f, _ := newStore(t, 16, func(c *foundation.Config) { c.Capture.RingBuffer.NumBuffers = 2 })
	es := f.Events()
	m := fill(t, es, 100, 7)
	live := &model{evs: m.evs[len(m.evs)-16:]}
	for _, e := range m.evs[:len(m.evs)-16] {
		_, err := es.Get(e.ID)
		assert.ErrorIs(t, err, foundation.ErrNotFound)
	}
	checkQueries(t, es, live, 1000, 7)
	st := es.Stats()
	assert.Equal(t, foundation.EventStats{Stored: 100, Evicted: 84, Len: 16, Capacity: 16, Bytes: st.Bytes}, st)
}

func TestEventPruneBefore(t *testing.T) {
	f, _ := newStore(t, 1000, nil)
	es := f.Events()
	m := fill(t, es, 600, 3)
	for _, cut := range []int64{500, 1500, 3000, 4000, 4500, 7000} {
		var keep []foundation.Event
		want := 0
		for _, e := range m.evs {
			if e.Time < cut {
				want++
			} else {
				keep = append(keep, e)
			}
		}
		got := es.PruneBefore(cut)
		assert.Equal(t, want, got, "cut %d", cut)
		m.evs = keep
		checkQueries(t, es, m, 1000, uint64(cut))
		st := es.Stats()
		assert.Equal(t, len(m.evs), st.Len)
		assert.Equal(t, st.Stored, uint64(st.Len)+st.Evicted+st.Pruned, "%+v", st)
	}
	assert.Equal(t, 0, es.PruneBefore(4000), "nothing left to prune")
	// Pruned events are not counted again when overwritten.
	for i := 0; i < 2000; i++ {
		_, err := es.Store(foundation.Event{Type: "z", Time: 1 << 40})
		require.NoError(t, err)
	}
	// With per-core ID blocks, a goroutine that changes core leaves its
	// block's rest as holes, which take slots: the store then holds up to
	// the ring's slack fewer than its capacity, and the events the holes
	// pushed out count as evicted.
	slack := 64 * (runtime.GOMAXPROCS(0) + 2)
	st := es.Stats()
	assert.Equal(t, uint64(2600), st.Stored, "%+v", st)
	assert.Equal(t, uint64(600), st.Pruned, "%+v", st)
	assert.Equal(t, 1000, st.Capacity, "%+v", st)
	assert.Equal(t, st.Stored, uint64(st.Len)+st.Evicted+st.Pruned, "%+v", st)
	assert.LessOrEqual(t, st.Len, 1000, "%+v", st)
	assert.GreaterOrEqual(t, st.Len, 1000-slack, "%+v", st)
}

func TestEventMaxAgePruner(t *testing.T) {
	f, clk := newStore(t, 1000, func(c *foundation.Config) {
		c.Storage.Hot.MaxAgeSeconds = 60
		c.Storage.Hot.PruneInterval = 10 * time.Second
	})
	es := f.Events()
	_, err := es.Store(foundation.Event{Type: "old"})
	require.NoError(t, err)
	clk.Add(59 * time.Second)
	_, err = es.Store(foundation.Event{Type: "new"})
	require.NoError(t, err)
	// Move time a second at a a time, letting the pruner run, until the old
	// event is gone; the new one (59 s younger) must survive.
	for i := 0; es.Stats().Pruned == 0; i++ {
		require.Less(t, i, 50, "pruner did not prune within 50 s of clock time")
		clk.Add(time.Second)
		for j := 0; j < 1000 && es.Stats().Pruned == 0; j++ {
			runtime.Gosched()
		}
	}
	evs, _ := es.Query(foundation.Query{})
	require.Len(t, evs, 1)
	assert.Equal(t, "new", evs[0].Type)
}

func TestEventPolicies(t *testing.T) {
	t.Run("drop_newest", func(t *testing.T) {
		f, _ := newStore(t, 4, func(c *foundation.Config) { c.Capture.RingBuffer.OverflowStrategy = foundation.DropNewest })
		es := f.Events()
		for i := 0; i < 4; i++ {
			_, err := es.Store(foundation.Event{Type: "t"})
			require.NoError(t, err)
		}
		_, err := es.Store(foundation.Event{Type: "t"})
		assert.ErrorIs(t, err, foundation.ErrFull)
		_, err = es.StoreBatch([]foundation.Event{{Type: "t"}, {Type: "t"}})
		assert.ErrorIs(t, err, foundation.ErrFull)
		st := es.Stats()
		assert.Equal(t, uint64(3), st.Dropped)
		assert.Equal(t, uint64(4), st.Stored)
		assert.Equal(t, 4, es.PruneBefore(evT0.UnixNano()+1), "prune makes room")
		_, err = es.Store(foundation.Event{Type: "t"})
		assert.NoError(t, err)
	})
	t.Run("block", func(t *testing.T) {
		f, _ := newStore(t, 2, func(c *foundation.Config) {
			c.Capture.RingBuffer.OverflowStrategy = foundation.Block
			c.Interface.QueryTimeout = 20 * time.Millisecond
		})
		es := f.Events()
		_, err := es.StoreBatch([]foundation.Event{{Type: "t", Time: 1}, {Type: "t", Time: 2}})
		require.NoError(t, err)
		_, err = es.Store(foundation.Event{Type: "t"})
		assert.ErrorIs(t, err, foundation.ErrTimeout)
		assert.Equal(t, uint64(1), es.Stats().Dropped)
		// A pruner making room wakes a blocked Store.
		require.NoError(t, f.Config().Update("interface.query_timeout", "10s"))
		done := make(chan error)
		go func() { _, err := es.Store(foundation.Event{Type: "t", Time: 3}); done <- err }()
		for es.PruneBefore(2) == 0 {
			runtime.Gosched()
		}
		require.NoError(t, <-done)
	})
}

// TestEventSubscribe: filters, Limit, (Time, ID) order and late events.
// The Times are ahead of the manual clock, so every event is held until the
// clock moves: the order received does not depend on when the delivery
// runs.
func TestEventSubscribe(t *testing.T) {
	f, clk := newStore(t, 100, nil)
	es := f.Events()
	all := es.Subscribe(foundation.Query{})
	at := func(d int64) int64 { return evT0.UnixNano() + d }
	onlyA := es.Subscribe(foundation.Query{Type: "a", CorrelationID: "c1", Since: at(10), Until: at(20)})
	tiny := es.Subscribe(foundation.Query{Limit: 2})
	evs := []foundation.Event{
		{Type: "a", CorrelationID: "c1", Time: at(15), Data: []byte("d")},
		{Type: "a", CorrelationID: "c2", Time: at(15)},
		{Type: "b", CorrelationID: "c1", Time: at(15)},
		{Type: "a", CorrelationID: "c1", Time: at(25)},
		{Type: "a", CorrelationID: "c1", Time: at(10)},
	}
	for _, e := range evs {
		_, err := es.Store(e)
		require.NoError(t, err)
	}
	clk.Add(time.Second)
	recv := func(s *foundation.EventSubscription, n int) (out []uint64) {
		t.Helper()
		guard := time.After(30 * time.Second)
		for len(out) < n {
			select {
			case e, ok := <-s.C():
				if !ok {
					return
				}
				out = append(out, e.ID)
			case <-guard:
				t.Fatalf("received %v, waiting for %d", out, n)
			}
		}
		return out
	}
	assert.Equal(t, []uint64{5, 1, 2, 3, 4}, recv(all, 5), "(Time, ID) order")
	assert.Equal(t, []uint64{5, 1}, recv(onlyA, 2))
	assert.Equal(t, []uint64{5, 1}, recv(tiny, 2), "Limit 2: at most 2 events")
	assert.Zero(t, tiny.Dropped())
	_, open := <-tiny.C()
	assert.False(t, open, "a subscription that reached its Limit is closed")
	assert.Zero(t, all.Dropped())
	assert.Zero(t, all.Late())

	onlyA.Close()
	onlyA.Close()
	_, open = <-onlyA.C()
	assert.False(t, open)
	_, err := es.Store(evs[0]) // Time at(15), below at(25) already received: late
	require.NoError(t, err)
	assert.Equal(t, []uint64{6}, recv(all, 1))
	assert.Equal(t, uint64(1), all.Late())

	require.NoError(t, f.Close())
	_, open = <-all.C()
	assert.False(t, open, "Close closes live subscriptions")
	all.Close()
}

func TestEventStressRace(t *testing.T) {
	const capacity = 512
	f, _ := newStore(t, capacity, func(c *foundation.Config) { c.Capture.RingBuffer.NumBuffers = 2 })
	es := f.Events()
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		failure atomic.Pointer[string]
		clock   atomic.Int64 // caller-set times: mostly rising
	)
	fail := func(format string, a ...any) {
		s := fmt.Sprintf(format, a...)
		failure.CompareAndSwap(nil, &s)
	}
	types := []string{"a", "b", "c", "d"}
	mk := func(r *rand.Rand) foundation.Event {
		tm := clock.Add(1)
		if r.IntN(20) == 0 {
			tm -= int64(r.IntN(1000))
		}
		return foundation.Event{Type: types[r.IntN(4)], CorrelationID: fmt.Sprint("c", r.IntN(3)), Time: max(tm, 1)}
	}
	iters := 3000
	if testing.Short() {
		iters = 500
	}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 9))
			for i := 0; i < iters; i++ {
				if r.IntN(4) == 0 {
					batch := []foundation.Event{mk(r), mk(r), mk(r)}
					if _, err := es.StoreBatch(batch); err != nil {
						fail("batch: %v", err)
					}
				} else if _, err := es.Store(mk(r)); err != nil {
					fail("store: %v", err)
				}
			}
		}(w)
	}
	var readers sync.WaitGroup
	for w := 0; w < 2; w++ {
		readers.Add(1)
		go func(w int) {
			defer readers.Done()
			r := rand.New(rand.NewPCG(uint64(w), 10))
			var seen []uint64
			gone := map[uint64]bool{}
			for !stop.Load() {
				q := foundation.Query{Descending: r.IntN(2) == 0, Limit: r.IntN(50)}
				if r.IntN(2) == 0 {
					q.Type = types[r.IntN(4)]
				}
				if r.IntN(3) == 0 {
					q.CorrelationID = fmt.Sprint("c", r.IntN(3))
				}
				if r.IntN(3) == 0 {
					q.Since = max(clock.Load()-int64(r.IntN(2000)), 1)
					q.Until = q.Since + int64(r.IntN(1000))
				}
				// An event seen before and not found now has left the store
				// (evicted or pruned): no later query may return it.
				for _, id := range seen {
					if _, err := es.Get(id); err != nil {
						gone[id] = true
					}
				}
				evs, err := es.Query(q)
				if err != nil {
					fail("query: %v", err)
					return
				}
				for i, e := range evs {
					if (q.Type != "" && e.Type != q.Type) || (q.CorrelationID != "" && e.CorrelationID != q.CorrelationID) ||
						(q.Since != 0 && e.Time < q.Since) || (q.Until != 0 && e.Time > q.Until) {
						fail("query %+v returned %+v", q, e)
					}
					if i > 0 && before(evs[i-1].Cursor(), e.Cursor()) == q.Descending {
						fail("query %+v: order %+v then %+v", q, evs[i-1].Cursor(), e.Cursor())
					}
				}
				seen = seen[:0]
				for _, e := range evs {
					if gone[e.ID] {
						fail("query %+v returned %d, which had left the store", q, e.ID)
					}
					seen = append(seen, e.ID)
				}
				if r.IntN(10) == 0 {
					es.PruneBefore(clock.Load() - 3000)
				}
			}
		}(w)
	}
	subs := make([]*foundation.EventSubscription, 2)
	for i := range subs {
		subs[i] = es.Subscribe(foundation.Query{Type: types[i], Limit: 64})
	}
	var drained sync.WaitGroup
	var received [2]atomic.Int64
	for i, s := range subs {
		drained.Add(1)
		go func() {
			defer drained.Done()
			for e := range s.C() {
				if e.Type != types[i] {
					fail("subscriber %d got %q", i, e.Type)
				}
				received[i].Add(1)
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	for _, s := range subs {
		s.Close()
	}
	drained.Wait()
	if p := failure.Load(); p != nil {
		t.Fatal(*p)
	}
	st := es.Stats()
	assert.Equal(t, st.Stored, uint64(st.Len)+st.Evicted+st.Pruned, "%+v", st)
	assert.LessOrEqual(t, st.Len, capacity)
	// Every held event is found by every index it belongs to.
	evs, err := es.Query(foundation.Query{Limit: capacity})
	require.NoError(t, err)
	assert.Len(t, evs, st.Len)
	for _, e := range evs {
		byType, _ := es.Query(foundation.Query{Type: e.Type, Since: e.Time, Until: e.Time, Limit: capacity})
		assert.Contains(t, ids(byType), e.ID)
	}
	for i := range subs {
		assert.Positive(t, received[i].Load()+int64(subs[i].Dropped()))
	}
}

// fuzzBuf is reused by every run of FuzzEventQuery in a process, so that
// QueryInto writes each page over an earlier one of another store.
var fuzzBuf foundation.EventBuffer

func FuzzEventQuery(f *testing.F) {
	f.Add(uint64(1), 40, "a", "", int64(0), int64(0), 0, 0, false)
	f.Add(uint64(2), 300, "b", "x", int64(1100), int64(2000), 5, 3, true)
	f.Add(uint64(3), 5, "", "y", int64(-5), int64(0), 0, 100, false)
	f.Add(uint64(6), 1400, "", "", int64(0), int64(0), 10, 0, false)
	f.Add(uint64(11), 1400, "a", "", int64(3000), int64(0), 10, 0, true)
	f.Fuzz(func(t *testing.T, seed uint64, n int, typ, corr string, since, until int64, limit, offset int, desc bool) {
		n = max(min(n, 1500), 0)
		fd, err := foundation.New(foundation.WithEventCapacity(1024), foundation.WithClock(foundation.NewManualClock(evT0)))
		require.NoError(t, err)
		defer fd.Close()
		es := fd.Events()
		m := fill(t, es, n, seed)
		// The store holds the newest 1024 IDs; with per-core ID blocks
		// (a goroutine that changes core leaves its block's rest as holes,
		// which take slots) it may hold up to the ring's slack fewer. The
		// model keeps what Get finds, which must be at least that many and
		// include the newest event; Query must agree with it.
		slack := 64 * (runtime.GOMAXPROCS(0) + 2)
		var held []foundation.Event
		for _, e := range m.evs {
			if _, err := es.Get(e.ID); err == nil {
				held = append(held, e)
			}
		}
		require.GreaterOrEqual(t, len(held), min(len(m.evs), 1024)-slack)
		require.LessOrEqual(t, len(held), 1024)
		if len(m.evs) > 0 {
			_, err := es.Get(m.evs[len(m.evs)-1].ID)
			require.NoError(t, err, "the newest event")
		}
		m.evs = held
		if seed%3 == 0 {
			cut := int64(1000 + seed%uint64(n*10+1))
			es.PruneBefore(cut)
			var keep []foundation.Event
			for _, e := range m.evs {
				if e.Time >= cut {
					keep = append(keep, e)
				}
			}
			m.evs = keep
		}
		q := foundation.Query{Type: typ, CorrelationID: corr, Since: since, Until: until, Limit: limit, Offset: offset, Descending: desc}
		if len(m.evs) > 0 && seed%5 == 1 {
			q.After = m.evs[int(seed/5)%len(m.evs)].Cursor()
			q.After.Time += int64(seed%3) - 1
		}
		got, err := es.Query(q)
		if limit < 0 || offset < 0 || (since != 0 && until != 0 && since > until) {
			require.ErrorIs(t, err, foundation.ErrInvalidQuery)
			return
		}
		require.NoError(t, err)
		require.Equal(t, ids(m.query(q, 1000)), ids(got))
		into, err := es.QueryInto(&fuzzBuf, q)
		require.NoError(t, err)
		require.Equal(t, got, into, "into a reused buffer")
	})
}
