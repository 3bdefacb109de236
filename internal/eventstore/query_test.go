package eventstore

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// allocsStore is the store of the allocation tests: 1,000 events of 4
// types and 8 correlation ids, 16 bytes of Data each.
func allocsStore(t *testing.T) *Store {
	t.Helper()
	s := testStore(t, capacity(1<<12), nil)
	data := make([]byte, 16)
	for i := range 1000 {
		ev := Event{Type: "t" + strconv.Itoa(i&3), CorrelationID: "c" + strconv.Itoa(i&7), Data: data}
		if _, err := s.Store(&ev); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// TestQueryAllocs: a query allocates its results only (the Events and one
// arena for their bytes); its working state is pooled.
func TestQueryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := allocsStore(t)
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
// limits from 1 to past what one batch or one index page holds. QueryInto,
// with one Buffer reused by every query (pages longer and shorter than the
// last, events with and without Data or a CorrelationID in the slots of
// earlier pages), returns the same events as Query.
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
				ev := Event{Type: types[r.IntN(3)], CorrelationID: corrs[r.IntN(3)], ParentID: uint64(r.IntN(3))}
				if r.IntN(4) != 0 {
					ev.Data = bytes.Repeat([]byte{byte(i)}, 1+r.IntN(40))
				}
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
	var buf Buffer
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
			if !sameEvent(got[j], want[j]) {
				t.Fatalf("query %d %+v: [%d] = %+v, model %+v", i, q, j, got[j], want[j])
			}
		}
		into, err := s.QueryInto(context.Background(), &buf, q)
		if err != nil {
			t.Fatalf("query %d %+v into a buffer: %v", i, q, err)
		}
		if len(into) != len(want) {
			t.Fatalf("query %d %+v into a buffer: %d events, model %d", i, q, len(into), len(want))
		}
		for j := range into {
			if !sameEvent(into[j], want[j]) {
				t.Fatalf("query %d %+v into a buffer: [%d] = %+v, model %+v", i, q, j, into[j], want[j])
			}
		}
	}
}

// sameEvent reports whether a and b are equal in every field, Data's nil
// included (the store returns empty Data as nil).
func sameEvent(a, b Event) bool {
	return a.ID == b.ID && a.Time == b.Time && a.Type == b.Type && a.CorrelationID == b.CorrelationID &&
		a.ParentID == b.ParentID && bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil)
}

// TestQueryIntoAllocs: once its Buffer has grown, QueryInto allocates
// nothing (the events are in memory and their types interned).
func TestQueryIntoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	s := allocsStore(t)
	ctx := context.Background()
	var buf Buffer
	for _, q := range []Query{
		{Type: "t1", Limit: 100, Descending: true},
		{Type: "t2", Limit: 100},
		{CorrelationID: "c3", Limit: 50},
		{Limit: 100, Descending: true},
		{Type: "t1", Since: 1, Limit: 10},
		{Type: "t3", Limit: 20, Offset: 30},
	} {
		if _, err := s.QueryInto(ctx, &buf, q); err != nil { // grows buf
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() {
			if evs, err := s.QueryInto(ctx, &buf, q); err != nil || len(evs) == 0 {
				t.Fatalf("%+v: %d events, %v", q, len(evs), err)
			}
		}); n != 0 {
			t.Errorf("%+v: %v allocations per query into a grown buffer, want 0", q, n)
		}
	}
}

// TestQueryIntoOwnership: the results of QueryInto are the caller's until
// the buffer is next used: writing to a Data changes neither the store nor
// a neighbour, an append to a Data does not reach the next event's bytes,
// and the Events slice is capped at its length. A nil Buffer is an error.
func TestQueryIntoOwnership(t *testing.T) {
	s := testStore(t, capacity(1<<10), nil)
	for i := range 10 {
		ev := Event{Type: "t", CorrelationID: "c" + strconv.Itoa(i), Data: []byte{byte(i), byte(i)}}
		if _, err := s.Store(&ev); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	var buf Buffer
	q := Query{Type: "t"}
	evs, err := s.QueryInto(ctx, &buf, q)
	if err != nil || len(evs) != 10 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	if cap(evs) != len(evs) {
		t.Errorf("results: cap %d, len %d", cap(evs), len(evs))
	}
	for i := range evs {
		if cap(evs[i].Data) != len(evs[i].Data) {
			t.Errorf("[%d].Data: cap %d, len %d", i, cap(evs[i].Data), len(evs[i].Data))
		}
	}
	evs[0].Data[0] = 0xff
	evs[0].Data = append(evs[0].Data, 0xee, 0xee, 0xee, 0xee)
	if evs[1].CorrelationID != "c1" || !bytes.Equal(evs[1].Data, []byte{1, 1}) {
		t.Errorf("a write to [0] changed [1]: %+v", evs[1])
	}
	e, err := s.Get(evs[0].ID)
	if err != nil || !bytes.Equal(e.Data, []byte{0, 0}) {
		t.Errorf("a write to a result changed the store: %+v, %v", e, err)
	}
	again, err := s.QueryInto(ctx, &buf, q)
	if err != nil || len(again) != 10 || !bytes.Equal(again[0].Data, []byte{0, 0}) {
		t.Errorf("the next query: %+v, %v", again, err)
	}
	if _, err := s.QueryInto(ctx, nil, q); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("nil buffer: %v, want ErrInvalidQuery", err)
	}
	if _, err := s.QueryInto(ctx, &buf, Query{Limit: -1}); !errors.Is(err, ErrInvalidQuery) {
		t.Errorf("negative limit: %v, want ErrInvalidQuery", err)
	}
}

// TestBufferDropsStalePage: the Events of a page past a shorter next page
// (or all of them, when the next has no results) are cleared, so that the
// Buffer does not keep their CorrelationIDs' records alive after they left
// the store, nor an arena it replaced.
func TestBufferDropsStalePage(t *testing.T) {
	s := testStore(t, capacity(1<<10), nil)
	for i := range 20 {
		ev := Event{Type: "t", CorrelationID: "c" + strconv.Itoa(i), Data: make([]byte, 8+i)}
		if _, err := s.Store(&ev); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	var buf Buffer
	stale := func(from int) {
		t.Helper()
		for i, e := range buf.events[from:cap(buf.events)] {
			if e.ID != 0 || e.Type != "" || e.CorrelationID != "" || e.Data != nil {
				t.Errorf("events[%d] of the buffer kept %+v", from+i, e)
			}
		}
	}
	for _, c := range []struct {
		q    Query
		want int
	}{
		{Query{Type: "t", Limit: 20}, 20},
		{Query{Type: "t", Limit: 3}, 3},
		{Query{Type: "t", Limit: 20, Descending: true}, 20},
		{Query{Type: "t", Limit: 5, Descending: true}, 5},
		{Query{Type: "none"}, 0},
		{Query{Type: "t", Limit: 4}, 4},
		{Query{Since: 1, After: Cursor{Time: 0, ID: 1}, Descending: true}, 0}, // empty range
	} {
		evs, err := s.QueryInto(ctx, &buf, c.q)
		if err != nil || len(evs) != c.want {
			t.Fatalf("%+v: %d events, %v", c.q, len(evs), err)
		}
		stale(c.want)
	}
}

// TestBufferBound: a Buffer keeps what its largest page needed, not the
// sum of its pages, and Reset drops it.
func TestBufferBound(t *testing.T) {
	s := testStore(t, capacity(1<<10), nil)
	for i := range 200 {
		ev := Event{Type: "t" + strconv.Itoa(i&1), Data: make([]byte, 10*(1+i&1))}
		if _, err := s.Store(&ev); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	var buf Buffer
	for range 5 {
		for _, q := range []Query{{Type: "t0", Limit: 50}, {Type: "t1", Limit: 100}, {Limit: 10}} {
			if _, err := s.QueryInto(ctx, &buf, q); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The largest page: 100 events of 20 bytes.
	if cap(buf.events) != 100 || cap(buf.bytes) != 2000 {
		t.Errorf("buffer: %d events, %d bytes; want 100 and 2000", cap(buf.events), cap(buf.bytes))
	}
	buf.Reset()
	if buf.events != nil || buf.bytes != nil {
		t.Error("Reset kept memory")
	}
}

// TestQueryCopySizes: copyOut copies every tail size exactly (its inline
// moves cover 16 to 128 bytes; memmove the rest), with and without a
// CorrelationID before the Data, into new memory and into a reused Buffer.
func TestQueryCopySizes(t *testing.T) {
	s := testStore(t, capacity(1<<12), nil)
	want := map[uint64]Event{}
	for n := range 300 {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(n*7 + i)
		}
		for _, corr := range []string{"", "c", "corr-0123456789abcdef"} {
			ev := Event{Type: "t", CorrelationID: corr, Data: data}
			id, err := s.Store(&ev)
			if err != nil {
				t.Fatal(err)
			}
			ev.ID = id
			if n == 0 {
				ev.Data = nil
			}
			want[id] = ev
		}
	}
	var buf Buffer
	for _, q := range []Query{{Type: "t"}, {Type: "t", Descending: true}, {CorrelationID: "c"}, {CorrelationID: "corr-0123456789abcdef", Limit: 7}} {
		got, err := s.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		into, err := s.QueryInto(context.Background(), &buf, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || len(got) != len(into) {
			t.Fatalf("%+v: %d events, into a buffer %d", q, len(got), len(into))
		}
		for i := range got {
			w := want[got[i].ID]
			w.Time = got[i].Time
			if !sameEvent(got[i], w) || !sameEvent(into[i], w) {
				t.Fatalf("%+v [%d]: %+v and %+v, want %+v", q, i, got[i], into[i], w)
			}
		}
	}
}
