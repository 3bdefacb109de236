// Package genserver is the literal Go port of the GenServer design of the
// ElixirScope Foundation layer (the Elixir original), kept as a baseline for the benchmarks: ConfigServer,
// EventStore and TelemetryService are each one goroutine that owns its state,
// and callers reach them only by message passing: a call sends a request with
// a reply channel and waits for the answer, a cast sends and returns.
//
// It does the same work as foundation where the two are compared: the same
// config schema, conversion and whole-config validation ([foundation.Config.Validate]),
// a config update that synchronously stores a config_updated event with the
// same JSON data and counts foundation.config_updates; events validated,
// numbered, time-stamped, copied and indexed by type and correlation id, with
// the store bounded by storage.hot.max_events (evicting the oldest); and
// telemetry measurements recorded into counters, gauges and HDR histograms.
//
// What it does not do, on purpose, because the design does not: readers
// never bypass the owning goroutine, so every read is a round trip through
// two channel operations and two goroutine switches.
//
// The reply channels of calls are pooled, so a call allocates nothing of its
// own: the baseline is the best version of the design, not a strawman.
package genserver

import (
	"sync"

	"github.com/elixirscope-go/foundation"
)

// System is the three servers, started together by [Start].
type System struct {
	cfg  *ConfigServer
	ev   *EventStore
	tel  *TelemetryService
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// Start starts the three servers on [foundation.DefaultConfig].
func Start() *System { return StartWithConfig(foundation.DefaultConfig()) }

// StartWithConfig starts the three servers on cfg, which must be valid (it
// panics otherwise: this is a benchmark baseline, not a library). The event
// store is bounded by cfg.Storage.Hot.MaxEvents and caps queries at
// cfg.Interface.MaxResults as it was at start.
func StartWithConfig(cfg foundation.Config) *System {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	s := &System{quit: make(chan struct{})}
	s.tel = newTelemetryService(s.quit)
	s.ev = newEventStore(s.quit, s.tel, cfg.Storage.Hot.MaxEvents, cfg.Interface.MaxResults, maxEventSize)
	s.cfg = newConfigServer(s.quit, cfg, s.ev, s.tel)
	for _, run := range []func(){s.tel.loop, s.ev.loop, s.cfg.loop} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			run()
		}()
	}
	return s
}

// Stop stops the servers and waits for their goroutines to end. It is
// idempotent. Calls made after Stop return an error matching
// [foundation.ErrClosed]; casts are dropped.
func (s *System) Stop() {
	s.once.Do(func() {
		close(s.quit)
		s.wg.Wait()
	})
}

// Config returns the config server.
func (s *System) Config() *ConfigServer { return s.cfg }

// Events returns the event store server.
func (s *System) Events() *EventStore { return s.ev }

// Telemetry returns the telemetry server.
func (s *System) Telemetry() *TelemetryService { return s.tel }

// ConfigGet is ConfigServer.get: a call returning the whole config.
func (s *System) ConfigGet() foundation.Config { return s.cfg.Get() }

// ConfigUpdate is ConfigServer.update: a call that converts, validates,
// stores a config_updated event (a call to the event store) and counts the
// update (a cast to telemetry).
func (s *System) ConfigUpdate(path string, value any) error { return s.cfg.Update(path, value) }

// StoreEvent is EventStore.store: a call returning the event's id.
func (s *System) StoreEvent(ev foundation.Event) (uint64, error) { return s.ev.Store(ev) }

// QueryEvents is EventStore.query: a call returning copies of the matching events.
func (s *System) QueryEvents(q foundation.Query) ([]foundation.Event, error) { return s.ev.Query(q) }

// Execute is TelemetryService.execute: a cast. The maps are handed to the
// server as they are (Go does not copy messages as the BEAM does): the caller
// must not change them afterwards.
func (s *System) Execute(name string, m foundation.Measurements, md foundation.Metadata) {
	s.tel.Execute(name, m, md)
}

// Metrics is TelemetryService.get_metrics: a call that rebuilds the flat
// metrics map (counters, gauges, and count/min/max/mean/p50/p90/p99/p999 of
// every histogram) on every call, as the original does.
func (s *System) Metrics() map[string]float64 { return s.tel.Metrics() }

// call sends req on in and waits for the reply on a pooled channel. ok is
// false when the system stopped before answering.
func call[Req any, Resp any](in chan<- Req, quit <-chan struct{}, pool *sync.Pool, mk func(chan Resp) Req) (resp Resp, ok bool) {
	reply := pool.Get().(chan Resp)
	select {
	case in <- mk(reply):
	case <-quit:
		pool.Put(reply)
		return resp, false
	}
	select {
	case resp = <-reply:
		pool.Put(reply)
		return resp, true
	case <-quit:
		// The server may still answer: don't reuse this channel.
		return resp, false
	}
}

func newPool[Resp any]() *sync.Pool {
	return &sync.Pool{New: func() any { return make(chan Resp, 1) }}
}
