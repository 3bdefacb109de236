package eventstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// TestRecordAllocRoundTrip: records carved from slabs are 8-aligned, hold
// exactly what was stored, and never overlap (every record is checked after
// all were written), across slab boundaries, for events too large for a
// slab, and with several goroutines allocating at once (the slabs are bumped
// without a locked instruction, by the goroutine pinned to their P: a second
// writer would hand out the same bytes twice).
func TestRecordAllocRoundTrip(t *testing.T) {
	s := &Store{}
	var err error
	if s.byType, err = newIndex(); err != nil {
		t.Fatal(err)
	}
	s.alloc = make([]recordAlloc, len(s.byType.stripes))
	const writers = 4
	var parts [writers][]stored
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[w] = allocSome(s, uint64(w))
		}()
	}
	wg.Wait()
	var all []stored
	for _, p := range parts {
		all = append(all, p...)
	}
	for i, st := range all {
		r, ev := st.r, st.ev
		if r.typ() != ev.Type || r.corr() != ev.CorrelationID || !bytes.Equal(r.data(), ev.Data) ||
			r.time != ev.Time || r.parent != ev.ParentID || int(r.stripe) >= len(s.alloc) || r.state.Load() != stIndexing {
			t.Fatalf("record %d reads back %q %q %d bytes %d %d, stored %q %q %d bytes %d %d", i,
				r.typ(), r.corr(), len(r.data()), r.time, r.parent, ev.Type, ev.CorrelationID, len(ev.Data), ev.Time, ev.ParentID)
		}
		if (len(ev.Data) == 0) != (r.data() == nil) {
			t.Fatalf("record %d: empty Data must read back nil", i)
		}
	}
	zero := s.newRecord(&Event{Type: "t"}, 42)
	if zero.time != 42 {
		t.Fatalf("zero Time stamped %d, want 42", zero.time)
	}
}

type stored struct {
	r  *record
	ev Event
}

func allocSome(s *Store, seed uint64) []stored {
	rng := rand.New(rand.NewPCG(seed, 2))
	var all []stored
	for i := 0; i < 5000; i++ {
		ev := Event{Type: fmt.Sprintf("type-%d", rng.IntN(1000)), Time: int64(i + 1), ParentID: uint64(i)}
		if rng.IntN(2) == 0 {
			ev.CorrelationID = fmt.Sprintf("corr-%d", rng.Uint64())
		}
		if n := rng.IntN(4); n > 0 {
			ev.Data = make([]byte, rng.IntN(1<<(4*n)))
			for j := range ev.Data {
				ev.Data[j] = byte(rng.Uint32())
			}
		}
		r := s.newRecord(&ev, 99)
		if uintptr(unsafe.Pointer(r))%8 != 0 {
			panic(fmt.Sprintf("record %d at %p: not 8-aligned", i, r))
		}
		all = append(all, stored{r, ev})
		if i%64 == 0 {
			runtime.Gosched() // let the writers of one P interleave
		}
	}
	return all
}

// within reports whether p points into r's block.
func within(r *record, p unsafe.Pointer) bool {
	lo := uintptr(unsafe.Pointer(r))
	hi := lo + recHdr + uintptr(r.tlen+r.clen+r.dlen)
	return uintptr(p) >= lo && uintptr(p) < hi
}

// TestCopiesDoNotShareRecords: what Get, Query, Correlated and subscriptions
// return is not backed by the store's records (a result kept by a caller must
// not pin a slab, and the store's memory must not be reachable for writes).
func TestCopiesDoNotShareRecords(t *testing.T) {
	es := testStore(t, capacity(1000), nil)
	ch := make(chan Event, 1)
	sub := es.Subscribe(Query{Type: "t"}, func(e Event) { ch <- e }, func() {})
	defer sub.Close()
	id, err := es.Store(&Event{Type: "t", CorrelationID: "c", Data: []byte("payload")})
	if err != nil {
		t.Fatal(err)
	}
	r, ok := es.ring.Get(id)
	if !ok {
		t.Fatal("stored event not in the ring")
	}
	check := func(how string, e Event) {
		t.Helper()
		if e.Type != "t" || e.CorrelationID != "c" || string(e.Data) != "payload" {
			t.Fatalf("%s: got %+v", how, e)
		}
		if within(r, unsafe.Pointer(unsafe.StringData(e.Type))) || within(r, unsafe.Pointer(unsafe.StringData(e.CorrelationID))) ||
			within(r, unsafe.Pointer(unsafe.SliceData(e.Data))) {
			t.Fatalf("%s: the copy points into the record", how)
		}
	}
	e, err := es.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	check("Get", e)
	for _, q := range []Query{{}, {Type: "t"}, {CorrelationID: "c"}} {
		res, err := es.Query(q)
		if err != nil || len(res) != 1 {
			t.Fatalf("Query(%+v) = %v, %v", q, res, err)
		}
		check(fmt.Sprintf("Query(%+v)", q), res[0])
	}
	res, err := es.Correlated("c")
	if err != nil || len(res) != 1 {
		t.Fatalf("Correlated = %v, %v", res, err)
	}
	check("Correlated", res[0])
	check("Subscribe", <-ch)
}

// TestRecordAllocMorePsThanStripes: a store made under GOMAXPROCS=1 has one
// allocator; after GOMAXPROCS is raised, goroutines on the new Ps take the
// fallback (an allocation of their own) and every event still reads back
// exactly, with Stats' byte count matching the events held.
func TestRecordAllocMorePsThanStripes(t *testing.T) {
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	es := testStore(t, capacity(1<<12), nil)
	runtime.GOMAXPROCS(4)
	var wg sync.WaitGroup
	ids := make([][]uint64, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				id, err := es.Store(&Event{Type: "t", CorrelationID: fmt.Sprint(w), Data: []byte(fmt.Sprint(w, "-", i))})
				if err != nil {
					t.Error(err)
					return
				}
				ids[w] = append(ids[w], id)
				if i%32 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
	var want int64
	for w := range 4 {
		for i, id := range ids[w] {
			e, err := es.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			if e.CorrelationID != fmt.Sprint(w) || string(e.Data) != fmt.Sprint(w, "-", i) {
				t.Fatalf("event %d reads back %q %q", id, e.CorrelationID, e.Data)
			}
			want += int64(len(e.Type)+len(e.CorrelationID)+len(e.Data)) + recordOverhead
		}
	}
	if st := es.Stats(); st.Bytes != want || st.Len != 2000 {
		t.Fatalf("Stats: %d events, %d bytes; want 2000, %d", st.Len, st.Bytes, want)
	}
}

// TestEvictionsSettleLate: evictions are settled evictLag evictions later
// (evictCell). Stats counts the pending ones as settled: its byte count is
// exact, and an event pruned in place and then evicted, still pending,
// counts as pruned, not evicted.
func TestEvictionsSettleLate(t *testing.T) {
	es := testStore(t, capacity(64), nil)
	now := time.Now().UnixNano()
	for i := range 64 {
		ev := Event{Type: "t", Time: now, Data: []byte(fmt.Sprint(i))}
		if i == 10 {
			ev.Time = 1 // older than its neighbours: pruned in place
		}
		if _, err := es.Store(&ev); err != nil {
			t.Fatal(err)
		}
	}
	if n := es.PruneBefore(2); n != 1 {
		t.Fatalf("PruneBefore pruned %d, want 1", n)
	}
	for i := range 11 { // evict IDs 1-11: the pruned one (11) last
		if _, err := es.Store(&Event{Type: "u", Time: now, Data: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	pending := 0
	for i := range es.evict {
		for j := range es.evict[i].recs {
			if es.evict[i].recs[j].Load() != nil {
				pending++
			}
		}
	}
	if pending == 0 {
		t.Fatal("no eviction pending: the test does not test what it says")
	}
	var want int64
	for id := es.ring.First(); id < es.ring.Next(); id++ {
		if e, err := es.Get(id); err == nil {
			want += int64(len(e.Type)+len(e.CorrelationID)+len(e.Data)) + recordOverhead
		}
	}
	st := es.Stats()
	if st.Stored != 75 || st.Pruned != 1 || st.Evicted != 10 || st.Len != 64 || st.Bytes != want {
		t.Fatalf("Stats %+v, want 75 stored, 1 pruned, 10 evicted, 64 held, %d bytes", st, want)
	}
	if got := es.EvictedCount(); got != 10 {
		t.Fatalf("evictedCount %d, want 10", got)
	}
}

// TestRecordAlignment: the alignment that the atomic state word and the
// 64-bit fields of a record assume. Records start 8-aligned (recHdr and
// every block size are multiples of 8, slabs and large blocks come from
// the allocator 8-aligned), state sits at a multiple of 4 and time and
// parent at multiples of 8 within the header.
func TestRecordAlignment(t *testing.T) {
	var r record
	if recHdr%8 != 0 || unsafe.Offsetof(r.state)%4 != 0 || unsafe.Offsetof(r.time)%8 != 0 || unsafe.Offsetof(r.parent)%8 != 0 {
		t.Fatalf("recHdr %d, state at %d, time at %d, parent at %d", recHdr, unsafe.Offsetof(r.state), unsafe.Offsetof(r.time), unsafe.Offsetof(r.parent))
	}
	s := testStore(t, capacity(16), nil)
	for _, n := range []int{0, 1, 7, 9, slabBytes / 4, slabBytes/4 + 1, slabBytes} {
		r := s.newRecord(&Event{Type: "t", Data: make([]byte, n)}, 1)
		if uintptr(unsafe.Pointer(r))%8 != 0 {
			t.Fatalf("record of %d data bytes at %p", n, r)
		}
	}
}

// TestInternerForgets: forget drops the types its func calls unused, and
// long types are never interned.
func TestInternerForgets(t *testing.T) {
	in := newInterner()
	for i := range 100 {
		in.get(fmt.Sprint("t", i))
	}
	in.get(string(make([]byte, maxInternedLen+1)))
	if in.len() != 100 {
		t.Fatalf("%d interned, want 100", in.len())
	}
	in.forget(func(t string) bool { return t == "t7" })
	if in.len() != 1 {
		t.Fatalf("%d interned after forget, want 1", in.len())
	}
}
