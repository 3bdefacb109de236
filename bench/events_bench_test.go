package bench

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/bench/genserver"
)

// BenchmarkEventsStoreTwoGoroutines: exactly two goroutines storing at once
// (b.N events in all), for the event store, the literal GenServer port (a
// call to its event server per Store, and the telemetry cast) and the
// mutex design (the port's EventLog under a mutex). ns/op is wall time per
// event; run with -cpu 2 so that both goroutines have a core.
func BenchmarkEventsStoreTwoGoroutines(b *testing.B) {
	const capacity = 1 << 16
	data := make([]byte, 64)
	var types [16]string
	var corrs [64]string
	for i := range types {
		types[i] = "type." + strconv.Itoa(i)
	}
	for i := range corrs {
		corrs[i] = "corr-" + strconv.Itoa(i)
	}
	ev := func(i int) foundation.Event {
		return foundation.Event{Type: types[i&15], CorrelationID: corrs[(i>>4)&63], Data: data}
	}
	impls := []struct {
		name string
		mk   func(b *testing.B) func(foundation.Event) (uint64, error)
	}{
		{"foundation", func(b *testing.B) func(foundation.Event) (uint64, error) {
			f, err := foundation.New(foundation.WithEventCapacity(capacity))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = f.Close() })
			return f.Events().Store
		}},
		{"genserver", func(b *testing.B) func(foundation.Event) (uint64, error) {
			cfg := foundation.DefaultConfig()
			cfg.Storage.Hot.MaxEvents = capacity
			s := genserver.StartWithConfig(cfg)
			b.Cleanup(s.Stop)
			return s.StoreEvent
		}},
		{"mutex", func(b *testing.B) func(foundation.Event) (uint64, error) {
			var mu sync.Mutex
			log := genserver.NewEventLog(capacity, 1000, 1_000_000)
			return func(e foundation.Event) (uint64, error) {
				mu.Lock()
				defer mu.Unlock()
				id, _, err := log.Store(&e)
				return id, err
			}
		}},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			store := impl.mk(b)
			for i := range capacity { // steady state: every Store evicts
				if _, err := store(ev(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := g; i < b.N; i += 2 {
						if _, err := store(ev(i)); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkEventsPage reads a page of 100 events 500,000 deep into
// 1,000,000 (by type: one type in 16, so 31,250 deep), by Offset and by
// keyset (Query.After the last event of the page before), against the
// mutex design's Offset (the port's EventLog has no keyset paging).
func BenchmarkEventsPage(b *testing.B) {
	const n = 1_000_000
	data := make([]byte, 64)
	f, err := foundation.New(foundation.WithEventCapacity(n))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	es := f.Events()
	log := genserver.NewEventLog(n, 1000, 1_000_000)
	var mu sync.RWMutex
	base := time.Now().UnixNano() // recent: the max-age pruner keeps them
	batch := make([]foundation.Event, 1000)
	for i := 0; i < n; i += len(batch) {
		for j := range batch {
			batch[j] = foundation.Event{Type: "type." + strconv.Itoa((i+j)&15), Time: base + int64(i+j), Data: data}
		}
		if _, err := es.StoreBatch(batch); err != nil {
			b.Fatal(err)
		}
		for j := range batch {
			if _, _, err := log.Store(&batch[j]); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, typ := range []string{"", "type.3"} {
		deep := 500_000
		name := "all"
		if typ != "" {
			deep, name = deep/16, "type"
		}
		prev, err := es.Query(foundation.Query{Type: typ, Limit: 1, Offset: deep - 1})
		if err != nil || len(prev) != 1 {
			b.Fatal(prev, err)
		}
		cases := []struct {
			name string
			run  func() int
		}{
			{"foundation/offset", func() int {
				evs, _ := es.Query(foundation.Query{Type: typ, Limit: 100, Offset: deep})
				return len(evs)
			}},
			{"foundation/keyset", func() int {
				evs, _ := es.Query(foundation.Query{Type: typ, Limit: 100, After: prev[0].Cursor()})
				return len(evs)
			}},
			{"mutex/offset", func() int {
				mu.RLock()
				defer mu.RUnlock()
				evs, _ := log.Query(&foundation.Query{Type: typ, Limit: 100, Offset: deep})
				return len(evs)
			}},
		}
		for _, c := range cases {
			b.Run(name+"/"+c.name, func(b *testing.B) {
				if got := c.run(); got != 100 {
					b.Fatalf("%d results", got)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					c.run()
				}
			})
		}
	}
}
