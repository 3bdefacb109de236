package foundation_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/elixirscope-go/foundation"
)

// The Store benchmarks run three implementations side by side, doing the same
// work per event (copy the event and its Data, assign an ID, append to a
// bounded store evicting the oldest, index by type and by correlation id,
// unindex the evicted event):
//
//	impl=foundation  the EventStore (ring + sharded sorted bags)
//	impl=mutex       one mutex around a ring slice and two maps of ID slices
//	impl=genserver   a goroutine owning the mutex design's state, called over
//	                 a channel: the GenServer pattern with efficient state. The
//	                 literal port of the original GenServer (its maps, lists
//	                 and telemetry cast) is bench/genserver, compared in
//	                 `cd bench && go run ./cmd/seedtable`.

const benchCap = 100_000

var benchTypes = []string{"process.spawn", "process.exit", "message.send", "message.receive", "function.call", "function.return", "error", "state.change"}

func benchEvent(i int) foundation.Event {
	return foundation.Event{Type: benchTypes[i&7], CorrelationID: benchCorrs[i&63], Data: benchData}
}

var (
	benchData  = []byte(`{"pid":"<0.123.0>","module":"Foo","fun":"bar"}`)
	benchCorrs = func() []string {
		out := make([]string, 64)
		for i := range out {
			out[i] = fmt.Sprint("corr-", i)
		}
		return out
	}()
)

// ---- peer 1: mutex + slice + two maps

type mutexStore struct {
	mu     sync.Mutex
	next   uint64
	ring   []foundation.Event // ID i at i % cap
	byType map[string][]uint64
	byCorr map[string][]uint64
}

func newMutexStore(capacity int) *mutexStore {
	return &mutexStore{next: 1, ring: make([]foundation.Event, capacity),
		byType: map[string][]uint64{}, byCorr: map[string][]uint64{}}
}

func dropID(m map[string][]uint64, k string, id uint64) {
	s := m[k]
	if len(s) > 0 && s[0] == id {
		m[k] = s[1:]
		return
	}
	if i := slices.Index(s, id); i >= 0 {
		m[k] = slices.Delete(s, i, i+1)
	}
}

func (m *mutexStore) store(ev foundation.Event) uint64 {
	id := m.next
	m.next++
	slot := &m.ring[id%uint64(len(m.ring))]
	if slot.ID != 0 { // evict
		dropID(m.byType, slot.Type, slot.ID)
		if slot.CorrelationID != "" {
			dropID(m.byCorr, slot.CorrelationID, slot.ID)
		}
	}
	ev.ID = id
	*slot = ev
	m.byType[ev.Type] = append(m.byType[ev.Type], id)
	if ev.CorrelationID != "" {
		m.byCorr[ev.CorrelationID] = append(m.byCorr[ev.CorrelationID], id)
	}
	return id
}

func (m *mutexStore) Store(ev foundation.Event) (uint64, error) {
	if ev.Type == "" {
		return 0, foundation.ErrInvalidEvent
	}
	ev.Data = slices.Clone(ev.Data)
	if ev.Time == 0 {
		ev.Time = time.Now().UnixNano()
	}
	m.mu.Lock()
	id := m.store(ev)
	m.mu.Unlock()
	return id, nil
}

// ---- peer 2: GenServer port

type genServer struct {
	st   *mutexStore // owned by the server goroutine; its mutex unused
	reqs chan genReq
	done chan struct{}
}

type genReq struct {
	ev    foundation.Event
	reply chan uint64
}

func newGenServer(capacity int) *genServer {
	g := &genServer{st: newMutexStore(capacity), reqs: make(chan genReq), done: make(chan struct{})}
	go func() {
		defer close(g.done)
		for r := range g.reqs {
			r.reply <- g.st.store(r.ev)
		}
	}()
	return g
}

func (g *genServer) stop() { close(g.reqs); <-g.done }

// call is GenServer.call: the caller validates, copies and waits for the reply.
func (g *genServer) call(reply chan uint64, ev foundation.Event) (uint64, error) {
	if ev.Type == "" {
		return 0, foundation.ErrInvalidEvent
	}
	ev.Data = slices.Clone(ev.Data)
	if ev.Time == 0 {
		ev.Time = time.Now().UnixNano()
	}
	g.reqs <- genReq{ev, reply}
	return <-reply, nil
}

// ---- harness

// latency samples every 16th operation into an HDR histogram.
type latency struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newLatency() *latency { return &latency{h: hdrhistogram.New(1, int64(time.Second), 3)} }

// epoch is the origin of mono: time.Since reads only the monotonic clock,
// where time.Now reads the wall clock too, so a sample t1-t0 carries less of
// the clock's own cost (timerCost measures what is left).
var epoch = time.Now()

func mono() time.Duration { return time.Since(epoch) }

// timerCost is the median of an empty sample, mono()-mono(), measured in
// the same process: what each latency sample adds to the operation it
// times. report subtracts it from the percentiles it also reports raw.
func timerCost() int64 {
	h := hdrhistogram.New(1, int64(time.Second), 3)
	for i := 0; i < 100_000; i++ {
		t := mono()
		_ = h.RecordValue(int64(mono() - t))
	}
	return h.ValueAtQuantile(50)
}

func (l *latency) merge(h *hdrhistogram.Histogram) {
	l.mu.Lock()
	l.h.Merge(h)
	l.mu.Unlock()
}

func (l *latency) report(b *testing.B, start time.Time, cpu0 time.Duration) {
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(l.h.ValueAtQuantile(50)), "p50-ns")
	tc := timerCost()
	b.ReportMetric(float64(tc), "timer-ns")
	b.ReportMetric(float64(l.h.ValueAtQuantile(50)-tc), "p50-net-ns")
	b.ReportMetric(float64(l.h.ValueAtQuantile(99)-tc), "p99-net-ns")
	b.ReportMetric(float64(l.h.ValueAtQuantile(99)), "p99-ns")
	b.ReportMetric(float64(l.h.ValueAtQuantile(99.9)), "p999-ns")
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
}

// runTimed calls store(i) for i in [0, b.N) from a reset timer, timing every
// 16th call into a latency histogram, then reports as [latency.report].
func runTimed(b *testing.B, store func(i int)) {
	lat := newLatency()
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if i&15 == 0 {
			t := mono()
			store(i)
			_ = lat.h.RecordValue(int64(mono() - t))
			continue
		}
		store(i)
	}
	b.StopTimer()
	lat.report(b, start, cpu0)
}

type benchImpl struct {
	name string
	make func(b *testing.B) (store func(reply chan uint64, ev foundation.Event) (uint64, error))
}

var storeImpls = []benchImpl{
	{"foundation", func(b *testing.B) func(chan uint64, foundation.Event) (uint64, error) {
		f, err := foundation.New(foundation.WithEventCapacity(benchCap))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = f.Close() })
		es := f.Events()
		return func(_ chan uint64, ev foundation.Event) (uint64, error) { return es.Store(ev) }
	}},
	{"mutex", func(b *testing.B) func(chan uint64, foundation.Event) (uint64, error) {
		m := newMutexStore(benchCap)
		return func(_ chan uint64, ev foundation.Event) (uint64, error) { return m.Store(ev) }
	}},
	{"genserver", func(b *testing.B) func(chan uint64, foundation.Event) (uint64, error) {
		g := newGenServer(benchCap)
		b.Cleanup(g.stop)
		return g.call
	}},
}

// BenchmarkStore: one goroutine storing events with both indexes, steady
// state (the store wraps and evicts).
func BenchmarkStore(b *testing.B) {
	for _, impl := range storeImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			store := impl.make(b)
			reply := make(chan uint64)
			for i := 0; i < benchCap; i++ { // fill: measure the steady state
				_, _ = store(reply, benchEvent(i))
			}
			runTimed(b, func(i int) { _, _ = store(reply, benchEvent(i)) })
		})
	}
}

// BenchmarkStoreParallel: the same under b.RunParallel (-cpu sets the
// goroutines).
func BenchmarkStoreParallel(b *testing.B) {
	for _, impl := range storeImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			store := impl.make(b)
			for i := 0; i < benchCap; i++ {
				_, _ = store(make(chan uint64), benchEvent(i))
			}
			lat := newLatency()
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				h := hdrhistogram.New(1, int64(time.Second), 3)
				reply := make(chan uint64)
				for i := 0; pb.Next(); i++ {
					if i&15 == 0 {
						t := mono()
						_, _ = store(reply, benchEvent(i))
						_ = h.RecordValue(int64(mono() - t))
						continue
					}
					_, _ = store(reply, benchEvent(i))
				}
				lat.merge(h)
			})
			b.StopTimer()
			lat.report(b, start, cpu0)
		})
	}
}

func BenchmarkStoreBatch(b *testing.B) {
	f, err := foundation.New(foundation.WithEventCapacity(benchCap))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	es := f.Events()
	batch := make([]foundation.Event, 100)
	for i := range batch {
		batch[i] = benchEvent(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := es.StoreBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/event")
}

func BenchmarkEventGet(b *testing.B) {
	f, err := foundation.New(foundation.WithEventCapacity(benchCap))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	es := f.Events()
	// IDs are unique, not consecutive (per-core ID blocks), and holes may
	// have evicted a few of the first events: read the IDs the store holds.
	ids := make([]uint64, 0, benchCap)
	for i := 0; i < benchCap; i++ {
		id, err := es.Store(benchEvent(i))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	held := ids[:0]
	for _, id := range ids {
		if _, err := es.Get(id); err == nil {
			held = append(held, id)
		}
	}
	if len(held) == 0 {
		b.Fatal("the store holds none of the events just stored")
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := es.Get(held[i]); err != nil {
				b.Fatal(err)
			}
			if i++; i == len(held) {
				i = 0
			}
		}
	})
}

// BenchmarkQuery: 100 hits among 1,000,000 events, by each access path.
// queryStore fills a store of 1,000,000 events (8 types, 64 correlation
// ids, Time = ID, 100 "rare" events spread over it) for the query
// benchmarks.
func queryStore(b *testing.B) (*foundation.Foundation, *foundation.EventStore) {
	const n = 1_000_000
	clk := foundation.NewManualClock(time.Unix(1_700_000_000, 0))
	f, err := foundation.New(foundation.WithEventCapacity(n), foundation.WithClock(clk))
	if err != nil {
		b.Fatal(err)
	}
	es := f.Events()
	batch := make([]foundation.Event, 1000)
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			k := i + j
			batch[j] = foundation.Event{Type: benchTypes[k&7], CorrelationID: benchCorrs[k&63], Time: int64(k + 1), Data: benchData}
			if k%10_000 == 5000 { // 100 rare events spread over the store
				batch[j].Type = "rare"
				batch[j].CorrelationID = "rare-corr"
			}
		}
		if _, err := es.StoreBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	_, _ = es.Query(foundation.Query{Since: 1, Limit: 1}) // seal the time index once
	return f, es
}

// BenchmarkQueryPage reads the page of 100 events that starts 500,000
// events deep into a store of 1,000,000, by Offset and by keyset (After the
// last event of the previous page), with no filter and by type.
func BenchmarkQueryPage(b *testing.B) {
	f, es := queryStore(b)
	defer f.Close()
	for _, typ := range []string{"", benchTypes[1]} {
		deep := 500_000
		if typ != "" {
			deep /= 8 // one type in 8
		}
		prev, err := es.Query(foundation.Query{Type: typ, Limit: 1, Offset: deep - 1})
		if err != nil || len(prev) != 1 {
			b.Fatalf("%v %v", prev, err)
		}
		for _, c := range []struct {
			name string
			q    foundation.Query
		}{
			{"offset", foundation.Query{Type: typ, Limit: 100, Offset: deep}},
			{"keyset", foundation.Query{Type: typ, Limit: 100, After: prev[0].Cursor()}},
		} {
			name := "all/" + c.name
			if typ != "" {
				name = "type/" + c.name
			}
			b.Run(name, func(b *testing.B) {
				evs, err := es.Query(c.q)
				if err != nil || len(evs) != 100 {
					b.Fatalf("%d hits, %v", len(evs), err)
				}
				runtime.GC()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					_, _ = es.Query(c.q)
				}
			})
		}
	}
}

// queryCases are BenchmarkQuery's and BenchmarkQueryInto's queries: 100
// hits each.
var queryCases = []struct {
	name string
	q    foundation.Query
}{
	{"type=rare", foundation.Query{Type: "rare", Limit: 100}},
	{"type+corr=rare", foundation.Query{Type: "rare", CorrelationID: "rare-corr", Limit: 100}},
	{"type=common/desc/offset=10000", foundation.Query{Type: benchTypes[1], Limit: 100, Offset: 10_000, Descending: true}},
	{"all/limit=100", foundation.Query{Limit: 100}},
	{"time-range/100", foundation.Query{Since: 500_001, Until: 500_100}},
	{"time+type/100", foundation.Query{Type: benchTypes[3], Since: 400_001, Until: 400_800}},
}

func BenchmarkQuery(b *testing.B) {
	benchQueries(b, func(es *foundation.EventStore) func(foundation.Query) ([]foundation.Event, error) { return es.Query })
}

// BenchmarkQueryInto is BenchmarkQuery with QueryInto: the results are
// written into one EventBuffer reused by every query, so a query
// allocates nothing.
func BenchmarkQueryInto(b *testing.B) {
	benchQueries(b, func(es *foundation.EventStore) func(foundation.Query) ([]foundation.Event, error) {
		var buf foundation.EventBuffer
		return func(q foundation.Query) ([]foundation.Event, error) { return es.QueryInto(&buf, q) }
	})
}

// benchQueries runs queryCases over queryStore's events with the query
// function that query makes for each case.
func benchQueries(b *testing.B, query func(*foundation.EventStore) func(foundation.Query) ([]foundation.Event, error)) {
	f, es := queryStore(b)
	defer f.Close()
	for _, c := range queryCases {
		b.Run(c.name, func(b *testing.B) {
			run := query(es)
			evs, err := run(c.q)
			if err != nil || len(evs) != 100 {
				b.Fatalf("%d hits, %v", len(evs), err)
			}
			runtime.GC() // the fill's garbage is not the query's cost
			b.ReportAllocs()
			b.ResetTimer()
			c0 := cpuTime()
			for i := 0; i < b.N; i++ {
				_, _ = run(c.q)
			}
			b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkStoreSpill: sustained Store (one goroutine, steady state: the
// ring wraps) with the warm tier off (spill=off) and on (spill=on: the
// events.warm task copies every event to a zstd segment log on disk every
// flush interval, 50 ms by default, or every batch_size events). Store's
// own cost must not move: the copy runs off the Store path (a kick every
// 64 IDs is all Store does for it). Reports events/s and p50/p99 of Store.
func BenchmarkStoreSpill(b *testing.B) {
	for _, spill := range []bool{false, true} {
		name := "spill=off"
		if spill {
			name = "spill=on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := foundation.DefaultConfig()
			cfg.Storage.Hot.MaxEvents = benchCap
			if spill {
				cfg.Storage.Warm.Enable = true
				cfg.Storage.Warm.Path = b.TempDir()
				cfg.Storage.Warm.MaxSizeMB = 256
			}
			f, err := foundation.New(foundation.WithConfig(cfg))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = f.Close() })
			es := f.Events()
			for i := 0; i < benchCap; i++ {
				_, _ = es.Store(benchEvent(i))
			}
			runTimed(b, func(i int) { _, _ = es.Store(benchEvent(i)) })
			if spill {
				st := es.Stats().Warm
				b.ReportMetric(float64(st.Dropped)/float64(b.N), "warm-dropped/op")
			}
		})
	}
}
