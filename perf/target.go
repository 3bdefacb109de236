package main

import (
	"sync"
	"sync/atomic"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/bench/genserver"
)

// target is what the workload runs against: the operations of the
// foundation API that the workload uses. Every method is safe for concurrent
// use. Both implementations do the same work for the same call, so that a
// side-by-side compares designs, not workloads.
type target interface {
	// name is the target's name in tables and file names.
	name() string
	// configGet reads the current config and returns one of its fields.
	configGet() float64
	// configUpdate updates an updatable path.
	configUpdate(path string, v any) error
	// store stores an event and returns its id.
	store(ev foundation.Event) (uint64, error)
	// query runs q and returns the number of events found.
	query(q foundation.Query) (int, error)
	// execute emits a telemetry event.
	execute(name string, m foundation.Measurements, md foundation.Metadata)
	// counterAdd adds n to the i-th counter of bind.
	counterAdd(i int, n uint64)
	// histogramRecord records v in the i-th histogram of bind.
	histogramRecord(i int, v int64)
	// bind binds the counter and histogram names used by counterAdd and
	// histogramRecord. It is called once, before any worker starts.
	bind(counters, histograms []string)
	// subscribe starts draining the target's event and config-change
	// streams, if it has them, the event stream through a buffer of
	// buffer events. The returned func stops the drain and returns what
	// was received and what the subscriptions lost.
	subscribe(buffer int) (stop func() subStats)
	// close stops the target.
	close()
}

// subStats is what the harness's two subscribers saw. A store never waits
// for a subscriber: an event that finds the subscriber's buffer full is not
// delivered to it (and counted by [foundation.EventSubscription.Dropped]),
// but it is stored all the same.
type subStats struct {
	supported bool
	buffer    int    // the event subscriber's buffer, in events
	events    uint64 // events delivered to the event subscriber
	dropped   uint64 // events not delivered to it: its buffer was full
	changes   uint64 // config changes delivered to the config subscriber
	missed    uint64 // config changes not delivered to it: its buffer was full
	stored    uint64 // events the store accepted during the run (EventStats.Stored)
	refused   uint64 // events the store refused during the run (EventStats.Dropped)
}

// foundationTarget is an embedded default [foundation.Foundation].
type foundationTarget struct {
	f     *foundation.Foundation
	cs    *foundation.ConfigService
	es    *foundation.EventStore
	tel   *foundation.Telemetry
	ctrs  []*foundation.Counter
	hists []*foundation.Histogram
}

func newFoundationTarget(capacity int) (*foundationTarget, error) {
	var opts []foundation.Option
	if capacity > 0 {
		opts = append(opts, foundation.WithEventCapacity(capacity))
	}
	f, err := foundation.New(opts...)
	if err != nil {
		return nil, err
	}
	return &foundationTarget{f: f, cs: f.Config(), es: f.Events(), tel: f.Telemetry()}, nil
}

func (t *foundationTarget) name() string { return "foundation" }

func (t *foundationTarget) configGet() float64 {
	return t.cs.Get().Config().AI.Planning.SamplingRate
}

func (t *foundationTarget) configUpdate(path string, v any) error { return t.cs.Update(path, v) }

func (t *foundationTarget) store(ev foundation.Event) (uint64, error) { return t.es.Store(ev) }

func (t *foundationTarget) query(q foundation.Query) (int, error) {
	evs, err := t.es.Query(q)
	return len(evs), err
}

func (t *foundationTarget) execute(name string, m foundation.Measurements, md foundation.Metadata) {
	t.tel.Execute(name, m, md)
}

func (t *foundationTarget) counterAdd(i int, n uint64) { t.ctrs[i].Add(n) }

func (t *foundationTarget) histogramRecord(i int, v int64) { t.hists[i].Record(v) }

func (t *foundationTarget) bind(counters, histograms []string) {
	for _, n := range counters {
		t.ctrs = append(t.ctrs, t.tel.Counter(n))
	}
	for _, n := range histograms {
		t.hists = append(t.hists, t.tel.Histogram(n))
	}
}

func (t *foundationTarget) subscribe(buffer int) func() subStats {
	st0 := t.es.Stats()
	es := t.es.Subscribe(foundation.Query{}, foundation.SubscriptionBuffer(buffer))
	cs := t.cs.Subscribe()
	var events, changes atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range es.C() {
			events.Add(1)
		}
	}()
	go func() {
		defer wg.Done()
		for range cs.C() {
			changes.Add(1)
		}
	}()
	return func() subStats {
		es.Close()
		cs.Close()
		wg.Wait()
		st := t.es.Stats()
		return subStats{supported: true, buffer: buffer, events: events.Load(), dropped: es.Dropped(),
			changes: changes.Load(), missed: cs.Dropped(),
			stored: st.Stored - st0.Stored, refused: st.Dropped - st0.Dropped}
	}
}

func (t *foundationTarget) close() { _ = t.f.Close() }

// genserverTarget is the literal GenServer port of the ElixirScope
// Foundation design (bench/genserver): each service is a goroutine owning its state, reached
// by channel calls and casts. It has no subscriptions and no bound handles:
// a counter add is an Execute with the "counter" measurement, a histogram
// record an Execute with one measurement, as the original's API offers.
type genserverTarget struct {
	s     *genserver.System
	ctrs  []string
	hists []string
}

func newGenserverTarget(capacity int) *genserverTarget {
	cfg := foundation.DefaultConfig()
	if capacity > 0 {
		cfg.Storage.Hot.MaxEvents = capacity
	}
	return &genserverTarget{s: genserver.StartWithConfig(cfg)}
}

func (t *genserverTarget) name() string { return "genserver" }

func (t *genserverTarget) configGet() float64 {
	return t.s.ConfigGet().AI.Planning.SamplingRate
}

func (t *genserverTarget) configUpdate(path string, v any) error { return t.s.ConfigUpdate(path, v) }

func (t *genserverTarget) store(ev foundation.Event) (uint64, error) { return t.s.StoreEvent(ev) }

func (t *genserverTarget) query(q foundation.Query) (int, error) {
	evs, err := t.s.QueryEvents(q)
	return len(evs), err
}

func (t *genserverTarget) execute(name string, m foundation.Measurements, md foundation.Metadata) {
	t.s.Execute(name, m, md)
}

// counterAdd and histogramRecord build a Measurements per call: the port
// hands the map to its server as it is, so a shared one would race.
func (t *genserverTarget) counterAdd(i int, n uint64) {
	t.s.Execute(t.ctrs[i], foundation.Measurements{"counter": float64(n)}, nil)
}

func (t *genserverTarget) histogramRecord(i int, v int64) {
	t.s.Execute(t.hists[i], foundation.Measurements{"value": float64(v)}, nil)
}

func (t *genserverTarget) bind(counters, histograms []string) {
	t.ctrs = append(t.ctrs, counters...)
	t.hists = append(t.hists, histograms...)
}

func (t *genserverTarget) subscribe(int) func() subStats {
	return func() subStats { return subStats{} }
}

func (t *genserverTarget) close() { t.s.Stop() }
