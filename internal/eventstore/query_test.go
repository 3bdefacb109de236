package eventstore

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestQueryAllocs: a query allocates its results only (the Events and one
// arena for their bytes); its working state is pooled.
func TestQueryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := testStore(t, capacity(1<<12), nil)
	data := make([]byte, 16)
	for i := range 1000 {
		ev := Event{Type: "t" + strconv.Itoa(i&3), CorrelationID: "c" + strconv.Itoa(i&7), Data: data}
		if _, err := s.Store(&ev); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []Query{
		{Type: "t1", Limit: 100, Descending: true},
		{Type: "t2", Limit: 100},
		{CorrelationID: "c3", Limit: 50},
		{Limit: 100, Descending: true},
		{Type: "t1", Since: 1, Limit: 10},
	} {
		if n := testing.AllocsPerRun(100, func() {
			if evs, err := s.Query(q); err != nil || len(evs) == 0 {
				t.Fatalf("%+v: %d events, %v", q, len(evs), err)
			}
		}); n > 2 {
			t.Errorf("%+v: %v allocations per query, want at most 2", q, n)
		}
	}
}

// TestQueryMatchesModel checks queries against a brute-force model (every
// event Get finds, filtered and sorted by (Time, ID)) on a store filled by
// two goroutines at once (so both index stripes hold IDs of every key),
// with some explicit Times out of order, some events pruned in place, and
// the ring wrapped: keys, time ranges, After, Offset, both orders, and
// limits from 1 to past what one batch or one index page holds.
func TestQueryMatchesModel(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	s := testStore(t, capacity(1<<12), nil)
	types := []string{"a", "b", "c"}
	corrs := []string{"", "x", "y"}
	var wg sync.WaitGroup
	for g := range 2 {
		r := rand.New(rand.NewPCG(seed, uint64(g)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				ev := Event{Type: types[r.IntN(3)], CorrelationID: corrs[r.IntN(3)], Data: []byte{byte(i)}}
				if r.IntN(10) == 0 {
					ev.Time = 1 + r.Int64N(1<<40) // out of order
				}
				if _, err := s.Store(&ev); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Prune in place a slice of the explicit (old) Times.
	s.PruneBefore(1 << 38)

	var held []Event
	for id := s.ring.First(); id < s.ring.Next(); id++ {
		if e, err := s.Get(id); err == nil {
			held = append(held, e)
		}
	}
	less := func(a, b Event) int {
		if c := cmp.Compare(a.Time, b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	}
	slices.SortFunc(held, less)
	model := func(q Query) []Event {
		var out []Event
		for _, e := range held {
			if (q.Type != "" && e.Type != q.Type) || (q.CorrelationID != "" && e.CorrelationID != q.CorrelationID) ||
				(q.Since != 0 && e.Time < q.Since) || (q.Until != 0 && e.Time > q.Until) {
				continue
			}
			out = append(out, e)
		}
		if q.Descending {
			slices.Reverse(out)
		}
		if q.After.ID != 0 {
			a := Event{Time: q.After.Time, ID: q.After.ID}
			i := 0
			for i < len(out) && (q.Descending && less(out[i], a) >= 0 || !q.Descending && less(out[i], a) <= 0) {
				i++
			}
			out = out[i:]
		}
		limit := q.Limit
		if limit == 0 || limit > 1000 {
			limit = 1000
		}
		out = out[min(q.Offset, len(out)):]
		return out[:min(limit, len(out))]
	}
	mid := held[len(held)/2].Time
	for i := range 400 {
		q := Query{Limit: []int{1, 5, 64, 100, 300, 1000}[rng.IntN(6)], Descending: rng.IntN(2) == 0}
		switch rng.IntN(4) {
		case 0:
			q.Type = types[rng.IntN(3)]
		case 1:
			q.CorrelationID = corrs[1+rng.IntN(2)]
		case 2:
			q.Type, q.CorrelationID = types[rng.IntN(3)], corrs[1+rng.IntN(2)]
		}
		if rng.IntN(4) == 0 {
			q.Since = mid - rng.Int64N(1<<20)
		}
		if rng.IntN(4) == 0 {
			q.Until = mid + rng.Int64N(1<<20)
		}
		if rng.IntN(4) == 0 {
			q.Offset = rng.IntN(200)
		}
		if rng.IntN(4) == 0 {
			e := held[rng.IntN(len(held))]
			q.After = Cursor{Time: e.Time, ID: e.ID}
		}
		got, err := s.Query(q)
		if err != nil {
			t.Fatalf("query %d %+v: %v", i, q, err)
		}
		want := model(q)
		if len(got) != len(want) {
			t.Fatalf("query %d %+v: %d events, model %d", i, q, len(got), len(want))
		}
		for j := range got {
			if got[j].ID != want[j].ID || got[j].Time != want[j].Time || got[j].Type != want[j].Type ||
				got[j].CorrelationID != want[j].CorrelationID || !bytes.Equal(got[j].Data, want[j].Data) {
				t.Fatalf("query %d %+v: [%d] = %+v, model %+v", i, q, j, got[j], want[j])
			}
		}
	}
}
