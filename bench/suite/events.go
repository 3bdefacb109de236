package suite

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	diodes "code.cloudfoundry.org/go-diodes"
	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/bench/genserver"
	"github.com/elixirscope-go/foundation/ring"
)

const (
	eventCapacity = 1 << 16 // every store is bounded at this
	queryFill     = 10_000  // events stored before the query benchmark
	queryLimit    = 100
	maxResults    = 1000 // interface.max_results default
	maxEventSize  = 1_000_000
)

var (
	evTypes = func() (out [16]string) {
		for i := range out {
			out[i] = "type." + strconv.Itoa(i)
		}
		return
	}()
	evCorrs = func() (out [64]string) {
		for i := range out {
			out[i] = "corr-" + strconv.Itoa(i)
		}
		return
	}()
	evData = make([]byte, 64)
)

func event(i int) foundation.Event {
	return foundation.Event{Type: evTypes[i&15], CorrelationID: evCorrs[(i>>4)&63], Data: evData}
}

func query(i int) foundation.Query {
	return foundation.Query{Type: evTypes[i&15], Limit: queryLimit, Descending: true}
}

// mutexEvents is the mutex design: the GenServer port's EventLog (same
// bound, copies and indexes) under an RWMutex, and an atomic stored count.
type mutexEvents struct {
	mu     sync.RWMutex
	log    *genserver.EventLog
	stored atomic.Uint64
}

func newMutexEvents(capacity int) *mutexEvents {
	return &mutexEvents{log: genserver.NewEventLog(capacity, maxResults, maxEventSize)}
}

func (m *mutexEvents) store(ev foundation.Event) (uint64, error) {
	m.mu.Lock()
	id, _, err := m.log.Store(&ev)
	m.mu.Unlock()
	if err == nil {
		m.stored.Add(1)
	}
	return id, err
}

func (m *mutexEvents) query(q foundation.Query) ([]foundation.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.log.Query(&q)
}

// mutexBuffer is a reused result buffer for the mutex design: the Events
// and an arena for their Data.
type mutexBuffer struct {
	evs   []foundation.Event
	arena []byte
}

// queryInto is query with the results written over buf's previous ones.
func (m *mutexEvents) queryInto(buf *mutexBuffer, q foundation.Query) ([]foundation.Event, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var err error
	buf.evs, buf.arena, err = m.log.QueryAppend(buf.evs[:0], buf.arena[:0], &q)
	return buf.evs, err
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func init() {
	register(
		Case{Op: "Events.store", Impl: "foundation", Run: func(b *testing.B, par bool) {
			es := newFoundation(b, foundation.WithEventCapacity(eventCapacity)).Events()
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return must(es.Store(event(i))) }
			})
		}},
		Case{Op: "Events.store", Impl: "genserver", Note: "a call, plus a telemetry cast for events_stored", Run: func(b *testing.B, par bool) {
			cfg := foundation.DefaultConfig()
			cfg.Storage.Hot.MaxEvents = eventCapacity
			s := newGenServer(b, cfg)
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return must(s.StoreEvent(event(i))) }
			})
		}},
		Case{Op: "Events.store", Impl: "mutex", Note: "the port's EventLog under a Mutex", Run: func(b *testing.B, par bool) {
			m := newMutexEvents(eventCapacity)
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return must(m.store(event(i))) }
			})
		}},
		Case{Op: "Events.store", Impl: "channel", Note: "async: a buffered channel (4,096) to one goroutine that stores into an EventLog; no id returned, not queryable on return", Run: func(b *testing.B, par bool) {
			ch := make(chan foundation.Event, 4096)
			log := genserver.NewEventLog(eventCapacity, maxResults, maxEventSize)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ev := range ch {
					_, _, _ = log.Store(&ev)
				}
			}()
			b.Cleanup(func() { close(ch); <-done })
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { ch <- event(i); return 1 }
			})
		}},
		Case{Op: "Events.store", Impl: "diodes", Note: "async: go-diodes ManyToOne (4,096, overwrites when full) polled by one goroutine into an EventLog; the caller copies the event to the heap; drops possible", Run: func(b *testing.B, par bool) {
			var drops atomic.Uint64
			d := diodes.NewManyToOne(4096, diodes.AlertFunc(func(n int) { drops.Add(uint64(n)) }))
			log := genserver.NewEventLog(eventCapacity, maxResults, maxEventSize)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					data, ok := d.TryNext()
					if !ok {
						select {
						case <-stop:
							return
						default:
						}
						spinYield()
						continue
					}
					_, _, _ = log.Store((*foundation.Event)(unsafe.Pointer(data)))
				}
			}()
			b.Cleanup(func() { close(stop); <-done })
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 {
					ev := event(i)
					d.Set(diodes.GenericDataType(unsafe.Pointer(&ev)))
					return 1
				}
			})
		}},
		Case{Op: "Events.store", Impl: "ring", Note: "foundation/ring alone: a push of a heap copy, no validation, no indexes", Run: func(b *testing.B, par bool) {
			r := must(ring.New[foundation.Event](eventCapacity, ring.Config[foundation.Event]{}))
			b.Cleanup(r.Close)
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { ev := event(i); return must(r.Push(&ev)) }
			})
		}},

		Case{Op: "Events.query", Impl: "foundation", Run: func(b *testing.B, par bool) {
			es := newFoundation(b, foundation.WithEventCapacity(eventCapacity)).Events()
			for i := range queryFill {
				must(es.Store(event(i)))
			}
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return uint64(len(must(es.Query(query(i))))) }
			})
		}},
		Case{Op: "Events.query", Impl: "foundation-into", Note: "QueryInto: results written into one EventBuffer per goroutine, reused by every query", Run: func(b *testing.B, par bool) {
			es := newFoundation(b, foundation.WithEventCapacity(eventCapacity)).Events()
			for i := range queryFill {
				must(es.Store(event(i)))
			}
			drive(b, par, func() func(int) uint64 {
				buf := new(foundation.EventBuffer)
				return func(i int) uint64 { return uint64(len(must(es.QueryInto(buf, query(i))))) }
			})
		}},
		Case{Op: "Events.query", Impl: "genserver", Note: "a call; the query runs in the server through its type index", Run: func(b *testing.B, par bool) {
			cfg := foundation.DefaultConfig()
			cfg.Storage.Hot.MaxEvents = eventCapacity
			s := newGenServer(b, cfg)
			for i := range queryFill {
				must(s.StoreEvent(event(i)))
			}
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return uint64(len(must(s.QueryEvents(query(i))))) }
			})
		}},
		Case{Op: "Events.query", Impl: "mutex", Note: "the port's EventLog under an RWMutex read lock", Run: func(b *testing.B, par bool) {
			m := newMutexEvents(eventCapacity)
			for i := range queryFill {
				must(m.store(event(i)))
			}
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { return uint64(len(must(m.query(query(i))))) }
			})
		}},
		Case{Op: "Events.query", Impl: "mutex-into", Note: "the mutex design appending into one reused []Event and Data arena per goroutine (EventLog.QueryAppend)", Run: func(b *testing.B, par bool) {
			m := newMutexEvents(eventCapacity)
			for i := range queryFill {
				must(m.store(event(i)))
			}
			drive(b, par, func() func(int) uint64 {
				buf := new(mutexBuffer)
				return func(i int) uint64 { return uint64(len(must(m.queryInto(buf, query(i))))) }
			})
		}},
	)
}
