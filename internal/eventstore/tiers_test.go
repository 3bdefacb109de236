package eventstore

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/ring"
)

// olderMap is an older tier in memory: what left the ring, by ID.
type olderMap struct {
	mu  sync.Mutex
	evs map[uint64]Event
}

func (o *olderMap) Get(_ context.Context, id uint64) (Event, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, ok := o.evs[id]
	return e, ok, nil
}

func (o *olderMap) Query(_ context.Context, q Query, below uint64) ([]Event, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []Event
	for _, e := range o.evs {
		if e.ID >= below || !matches(q, &e) {
			continue
		}
		out = append(out, e)
	}
	sortQ(out, q.Descending)
	return out[:min(len(out), q.Offset+q.Limit)], nil
}

func matches(q Query, e *Event) bool {
	if (q.Type != "" && e.Type != q.Type) || (q.CorrelationID != "" && e.CorrelationID != q.CorrelationID) ||
		(q.Since != 0 && e.Time < q.Since) || (q.Until != 0 && e.Time > q.Until) {
		return false
	}
	if q.After.ID != 0 {
		after := e.Time > q.After.Time || (e.Time == q.After.Time && e.ID > q.After.ID)
		if after == q.Descending || (e.Time == q.After.Time && e.ID == q.After.ID) {
			return false
		}
	}
	return true
}

func sortQ(evs []Event, desc bool) {
	slices.SortFunc(evs, func(a, b Event) int {
		c := a.Time - b.Time
		if c == 0 {
			c = int64(a.ID) - int64(b.ID)
		}
		if desc {
			c = -c
		}
		switch {
		case c < 0:
			return -1
		case c > 0:
			return 1
		}
		return 0
	})
}

// TestOlderTier: with Deps.Older, Get, Query (filters, both orders,
// Offset, keyset paging) and Correlated return what the ring holds merged
// with what the older tier holds below First, each event once, in order;
// FirstID starts the IDs past the older tier's.
func TestOlderTier(t *testing.T) {
	older := &olderMap{evs: map[uint64]Event{}}
	// The older tier already holds IDs 1..300 (times 10 apart), and IDs
	// 250..300 are also what the ring will be asked about: overlap is kept once.
	all := map[uint64]Event{}
	for id := uint64(1); id <= 300; id++ {
		e := Event{ID: id, Type: "t" + strconv.Itoa(int(id%3)), Time: int64(id) * 10, CorrelationID: "c" + strconv.Itoa(int(id%4))}
		older.evs[id], all[id] = e, e
	}
	clk := clock.NewManual(time.Unix(0, 3000))
	ts := &tasks{}
	ts.ctx, ts.cancel = context.WithCancel(context.Background())
	lim := Limits{MaxResults: 1000, QueryTimeout: 10 * time.Second, PruneInterval: time.Hour, MaxAge: time.Hour}
	s, err := New(Config{Capacity: 200, Policy: ring.DropOldest, FirstID: 301}, "drop_oldest",
		Deps{Clock: clk, Go: ts.start, Limits: func() Limits { return lim }, Older: older})
	require.NoError(t, err)
	defer func() { ts.stop(); s.Close() }()
	for i := 301; i <= 600; i++ {
		clk.Add(10)
		e := Event{Type: "t" + strconv.Itoa(i%3), CorrelationID: "c" + strconv.Itoa(i%4)}
		id, err := s.Store(&e)
		require.NoError(t, err)
		require.Equal(t, uint64(i), id)
		e.ID, e.Time = id, clk.Now().UnixNano()
		all[id] = e
		if id < s.First()+50 { // the tier copies what is about to leave
			older.mu.Lock()
			for j := uint64(301); j < s.First()+50 && j <= id; j++ {
				if _, ok := older.evs[j]; !ok {
					older.evs[j] = all[j]
				}
			}
			older.mu.Unlock()
		}
	}
	// Everything the ring evicted is in the older tier.
	older.mu.Lock()
	for id := uint64(301); id < s.First(); id++ {
		older.evs[id] = all[id]
	}
	older.mu.Unlock()
	var want []Event
	for _, e := range all {
		want = append(want, e)
	}
	var buf Buffer
	for _, q := range []Query{{}, {Descending: true}, {Type: "t1"}, {CorrelationID: "c2", Descending: true},
		{Since: 2000, Until: 4000}, {Offset: 250, Limit: 100}, {Offset: 10, Limit: 30, Descending: true, Type: "t2"},
		{After: Cursor{Time: 2990, ID: 299}, Limit: 50}} {
		got, err := s.Query(q)
		require.NoError(t, err)
		var exp []Event
		for _, e := range want {
			if matches(q, &e) {
				exp = append(exp, e)
			}
		}
		sortQ(exp, q.Descending)
		lim := q.Limit
		if lim == 0 {
			lim = 1000
		}
		exp = exp[min(q.Offset, len(exp)):]
		exp = exp[:min(lim, len(exp))]
		require.Equal(t, len(exp), len(got), "%+v", q)
		for i := range exp {
			require.Equal(t, exp[i].ID, got[i].ID, "%+v at %d", q, i)
		}
		into, err := s.QueryInto(context.Background(), &buf, q)
		require.NoError(t, err)
		require.Equal(t, got, into, "%+v into a buffer", q)
	}
	e, err := s.Get(5)
	require.NoError(t, err)
	require.Equal(t, uint64(5), e.ID)
	_, err = s.Get(601)
	require.ErrorIs(t, err, ErrNotFound)
	corr, err := s.Correlated("c1")
	require.NoError(t, err)
	require.Equal(t, 150, len(corr))
	for i := 1; i < len(corr); i++ {
		require.Less(t, corr[i-1].ID, corr[i].ID)
	}
}

func TestMergeOrdered(t *testing.T) {
	ev := func(tm int64, id uint64) Event { return Event{Time: tm, ID: id} }
	a := []Event{ev(1, 1), ev(3, 3), ev(5, 5)}
	b := []Event{ev(2, 2), ev(3, 3), ev(4, 4), ev(6, 6)}
	ids := func(evs []Event) (out []uint64) {
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return
	}
	require.Equal(t, []uint64{1, 2, 3, 4, 5, 6}, ids(mergeOrdered(a, b, false, 0, 10)))
	require.Equal(t, []uint64{3, 4}, ids(mergeOrdered(a, b, false, 2, 2)))
	require.Nil(t, mergeOrdered(a, b, false, 6, 2))
	slices.Reverse(a)
	slices.Reverse(b)
	require.Equal(t, []uint64{6, 5, 4, 3, 2, 1}, ids(mergeOrdered(a, b, true, 0, 10)))
}

// TestFirstIDLarge: a store whose IDs start at 2^40 (an older tier's
// history) stores, pages by time and prunes as one that starts at 1: the
// time index starts at the first block, not at block 0.
func TestFirstIDLarge(t *testing.T) {
	const first = 1 << 40
	clk := clock.NewManual(time.Unix(0, 0))
	ts := &tasks{}
	ts.ctx, ts.cancel = context.WithCancel(context.Background())
	lim := Limits{MaxResults: 1000, QueryTimeout: 10 * time.Second, PruneInterval: time.Hour, MaxAge: time.Hour}
	s, err := New(Config{Capacity: 1000, Policy: ring.DropOldest, FirstID: first}, "drop_oldest",
		Deps{Clock: clk, Go: ts.start, Limits: func() Limits { return lim }})
	require.NoError(t, err)
	defer func() { ts.stop(); s.Close() }()
	for i := 0; i < 3000; i++ {
		clk.Add(10)
		id, err := s.Store(&Event{Type: "a"})
		require.NoError(t, err)
		require.Equal(t, uint64(first+i), id)
	}
	got, err := s.Query(Query{Since: 25000, Until: 25990})
	require.NoError(t, err)
	require.Equal(t, 100, len(got))
	require.Equal(t, uint64(first+2499), got[0].ID)
	require.Equal(t, 499, s.PruneBefore(25000)) // IDs first+2000..first+2498 (times 20010..24990)
	got, err = s.Query(Query{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(first+2499), got[0].ID)
}
