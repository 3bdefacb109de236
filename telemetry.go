package foundation

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/puzpuzpuz/xsync/v3"

	"github.com/elixirscope-go/foundation/metrics"
)

// Measurements are the numbers of a telemetry event, by key.
type Measurements = metrics.Measurements

// Metadata is the context of a telemetry event, by key.
type Metadata = metrics.Metadata

// Handler receives the telemetry events it is attached to (see
// [Telemetry.Attach]). It runs synchronously in the caller of Execute: keep
// it short. A handler that panics is detached.
type Handler = metrics.Handler

// Counter is a monotonically increasing count with striped per-P cells:
// Add is one uncontended atomic add, Value folds the cells.
type Counter = metrics.Counter

// Gauge is a float64 that can be set or added to atomically.
type Gauge = metrics.Gauge

// Histogram records int64 values into striped HDR buckets, lock-free; its
// percentiles come from hdrhistogram-go on read.
type Histogram = metrics.Histogram

// MetricsSnapshot is every metric at one moment: counters, gauges and
// histograms (count, min, max, mean, p50, p90, p99, p99.9, buckets).
type MetricsSnapshot = metrics.Snapshot

// HistogramSnapshot is one histogram folded at one moment.
type HistogramSnapshot = metrics.HistogramSnapshot

// Built-in metric names.
const (
	MetricConfigUpdates       = "foundation.config_updates"
	MetricConfigResets        = "foundation.config_resets"
	MetricConfigEventFailures = "foundation.config_event_failures"
	MetricEventsStored        = "foundation.events_stored"
	MetricEventsPruned        = "foundation.events_pruned"
	MetricEventsEvicted       = "foundation.events_evicted"
	MetricEventsDropped       = "foundation.events_dropped"
	MetricTelemetryDropped    = "foundation.telemetry_dropped"
	MetricHandlerFailures     = "foundation.telemetry_handler_failures"
)

// HandlerFailureEvent is the event executed when a handler panics and is
// detached; its metadata holds handler_id, event_name, reason and stacktrace.
const HandlerFailureEvent = "telemetry.handler.failure"

// Telemetry is the telemetry service, in the manner of Erlang's :telemetry:
// Execute an event by name with measurements and metadata, and every handler
// attached to that name receives it; the measurements also feed metrics
// (see [Telemetry.Execute]). Counter, Gauge and Histogram return handles that
// are bound once and then cost no lookup. All methods are safe for concurrent
// use; none blocks or fails the caller.
type Telemetry struct {
	f    *Foundation
	reg  *metrics.Registry
	disp *metrics.Dispatcher
	agg  *metrics.Aggregator

	// entries caches, per event name, the metric handles Execute feeds, so
	// that an Execute costs one lookup by name and none per measurement.
	entries *xsync.MapOf[string, *execEntry]

	lastMu    sync.Mutex
	last      metrics.Delta
	lastValid bool

	configUpdates, configResets, configEventFailures *Counter
	eventsStored, eventsPruned, eventsEvicted        *Counter
	store                                            atomic.Pointer[EventStore] // the source of eventsStored and eventsEvicted
	eventsDropped, dropped, handlerFailures          *Counter
}

// execEntry holds the handles of one event name. Fields are filled once, on
// first use, and never change afterwards.
type execEntry struct {
	name    string
	counter atomic.Pointer[Counter]
	gauge   atomic.Pointer[Gauge]
	hists   atomic.Pointer[map[string]*Histogram] // copy-on-write by measurement key
	mu      sync.Mutex                            // serializes writers of hists
	start   string                                // name + ".start", for Span
	stop    string
	exc     string
}

func newTelemetry(f *Foundation, cfg Config, exporters []metrics.Exporter) *Telemetry {
	reg := metrics.NewRegistry(metrics.WithClock(f.clock))
	t := &Telemetry{f: f, reg: reg, entries: xsync.NewMapOf[string, *execEntry]()}
	t.handlerFailures = reg.Counter(MetricHandlerFailures)
	t.disp = metrics.NewDispatcher(metrics.WithClock(f.clock), metrics.OnFailure(func(hf metrics.HandlerFailure) {
		t.handlerFailures.Add(1)
		f.log.Error("telemetry handler panicked and was detached", "handler_id", hf.HandlerID,
			"event", hf.Event, "reason", fmt.Sprint(hf.Reason), "stack", string(hf.Stack))
	}))
	t.configUpdates = reg.Counter(MetricConfigUpdates)
	t.configResets = reg.Counter(MetricConfigResets)
	t.configEventFailures = reg.Counter(MetricConfigEventFailures)
	// Stored and evicted are the event store's own counts (its ring's),
	// read when a snapshot is taken: a Store pays nothing for them.
	t.eventsStored, _ = reg.CounterFunc(MetricEventsStored, func() uint64 {
		if es := t.store.Load(); es != nil {
			return es.storedCount()
		}
		return 0
	})
	t.eventsEvicted, _ = reg.CounterFunc(MetricEventsEvicted, func() uint64 {
		if es := t.store.Load(); es != nil {
			return es.evictedCount()
		}
		return 0
	})
	t.eventsPruned = reg.Counter(MetricEventsPruned)
	t.eventsDropped = reg.Counter(MetricEventsDropped)
	t.dropped = reg.Counter(MetricTelemetryDropped)
	t.agg = metrics.NewAggregator(reg, 5*time.Second, exporters...)
	reg.SetEnabled(cfg.Dev.PerformanceMonitoring)
	return t
}

// start runs the periodic aggregation (every 5 s, as in the design) under the
// supervisor.
func (t *Telemetry) start() {
	_ = t.f.Go("telemetry.aggregator", func(ctx context.Context) error {
		tm := t.f.clock.NewTimer(t.agg.Interval())
		for {
			select {
			case <-ctx.Done():
				tm.Stop()
				return nil
			case now := <-tm.C():
				d := t.agg.Tick(now)
				t.lastMu.Lock()
				t.last, t.lastValid = d, true
				t.lastMu.Unlock()
				tm = t.f.clock.NewTimer(t.agg.Interval())
			}
		}
	})
}

// Aggregate returns the latest periodic aggregate (deltas and rates over the
// last 5 s interval); ok is false before the first interval has passed.
func (t *Telemetry) Aggregate() (d metrics.Delta, ok bool) {
	t.lastMu.Lock()
	defer t.lastMu.Unlock()
	return t.last, t.lastValid
}

// AggregateFailures returns how many times a metrics exporter (see
// [WithMetricsExporter]) failed or panicked.
func (t *Telemetry) AggregateFailures() uint64 { return t.agg.Failures() }

func (t *Telemetry) setEnabled(on bool) { t.reg.SetEnabled(on) }

func (t *Telemetry) entry(name string) *execEntry {
	if e, ok := t.entries.Load(name); ok {
		return e
	}
	e, _ := t.entries.LoadOrCompute(name, func() *execEntry {
		return &execEntry{name: name, start: name + ".start", stop: name + ".stop", exc: name + ".exception"}
	})
	return e
}

func (e *execEntry) histogram(reg *metrics.Registry, key string) *Histogram {
	if m := e.hists.Load(); m != nil {
		if h, ok := (*m)[key]; ok {
			return h
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.hists.Load()
	if old != nil {
		if h, ok := (*old)[key]; ok {
			return h
		}
	}
	next := make(map[string]*Histogram, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	h := reg.Histogram(e.name + "." + key)
	next[key] = h
	e.hists.Store(&next)
	return h
}

// Execute emits the event name with measurements m and metadata md. It never
// fails and never blocks (beyond the attached handlers' own cost).
//
// The measurements feed metrics: the key "counter" adds to the counter name,
// "gauge" sets the gauge name, and every other key records its value in the
// histogram name.key (a real distribution, not an average). A NaN or ±Inf
// value, a negative counter increment, or an empty name is dropped and
// counted in foundation.telemetry_dropped. With dev.performance_monitoring
// off, nothing is recorded; handlers still receive the event.
//
// Then every handler attached to name is called, synchronously, with a lock-
// free lookup. The handles behind an event name are cached: after the first
// call, Execute does one lookup by name and allocates nothing.
func (t *Telemetry) Execute(name string, m Measurements, md Metadata) {
	if name == "" {
		t.dropped.Add(1)
		return
	}
	if len(m) > 0 && t.reg.Enabled() {
		t.record(t.entry(name), m)
	}
	t.disp.Execute(name, m, md)
}

func (t *Telemetry) record(e *execEntry, m Measurements) {
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.dropped.Add(1)
			continue
		}
		switch k {
		case "counter":
			if v < 0 {
				t.dropped.Add(1)
				continue
			}
			c := e.counter.Load()
			if c == nil {
				c = t.reg.Counter(e.name)
				e.counter.Store(c)
			}
			c.Add(uint64(v))
		case "gauge":
			g := e.gauge.Load()
			if g == nil {
				g = t.reg.Gauge(e.name)
				e.gauge.Store(g)
			}
			g.Set(v)
		default:
			if v > math.MaxInt64 {
				v = math.MaxInt64
			}
			e.histogram(t.reg, k).Record(int64(v))
		}
	}
}

// Span runs fn between two events, as :telemetry.span does: name.start (with
// system_time), then name.stop (with duration in nanoseconds, and "error" in
// the metadata when fn returned one), or name.exception (with duration, and
// kind, reason and stacktrace in the metadata) if fn panics — the panic then
// continues. Durations also go to the histogram name.stop.duration. Span
// returns fn's error; a nil fn is an error matching [ErrInvalidArgument].
func (t *Telemetry) Span(name string, md Metadata, fn func() error) (err error) {
	if fn == nil {
		return newError(kInvalidArgument, nil, fmt.Sprintf("span %q: nil function", name), "event", name)
	}
	if name == "" {
		t.dropped.Add(1)
		return fn()
	}
	e := t.entry(name)
	start := t.f.clock.Now()
	t.Execute(e.start, Measurements{"system_time": float64(start.UnixNano())}, md)
	done := false
	defer func() {
		if done {
			return
		}
		r := recover()
		d := t.f.clock.Now().Sub(start)
		emd := make(Metadata, len(md)+3)
		for k, v := range md {
			emd[k] = v
		}
		emd["kind"] = "panic"
		emd["reason"] = r
		emd["stacktrace"] = string(debug.Stack())
		t.Execute(e.exc, Measurements{"duration": float64(d)}, emd)
		panic(r)
	}()
	err = fn()
	done = true
	d := t.f.clock.Now().Sub(start)
	smd := md
	if err != nil {
		smd = make(Metadata, len(md)+1)
		for k, v := range md {
			smd[k] = v
		}
		smd["error"] = err
	}
	t.Execute(e.stop, Measurements{"duration": float64(d)}, smd)
	return err
}

// Counter returns the counter named name, the same handle every time. Bind
// it once; Add then costs one uncontended atomic add and no lookup.
func (t *Telemetry) Counter(name string) *Counter { return t.reg.Counter(name) }

// Gauge returns the gauge named name, the same handle every time.
func (t *Telemetry) Gauge(name string) *Gauge { return t.reg.Gauge(name) }

// Histogram returns the histogram named name, the same handle every time
// (HDR range 1 ns to 1 h, 3 significant figures; values outside are clamped
// and counted).
func (t *Telemetry) Histogram(name string) *Histogram { return t.reg.Histogram(name) }

// Metrics returns a snapshot of every metric: counters, gauges and
// histograms folded from their stripes (unchanged histograms are not
// refolded). It never blocks recording.
func (t *Telemetry) Metrics() MetricsSnapshot { return t.reg.Snapshot() }

// Registry returns the metrics registry behind this service, for exporters
// (Prometheus, OpenTelemetry) that read its snapshots.
func (t *Telemetry) Registry() *metrics.Registry { return t.reg }

// Attach attaches h under the unique id to the events names. An id already
// attached is an error matching [ErrHandlerExists]; a nil handler, an empty
// id or an empty list or name matches [ErrInvalidHandler].
func (t *Telemetry) Attach(id string, names []string, h Handler) error {
	if err := t.disp.Attach(id, names, h); err != nil {
		switch {
		case errors.Is(err, metrics.ErrHandlerExists):
			return newError(kHandlerExists, nil, fmt.Sprintf("handler %q is already attached", id), "handler_id", id)
		default:
			return newError(kInvalidHandler, err, fmt.Sprintf("handler %q", id), "handler_id", id)
		}
	}
	return nil
}

// Detach detaches the handler id; an unknown id is an error matching
// [ErrNotFound].
func (t *Telemetry) Detach(id string) error {
	if err := t.disp.Detach(id); err != nil {
		return newError(kNotFound, nil, fmt.Sprintf("handler %q is not attached", id), "handler_id", id)
	}
	return nil
}

func (t *Telemetry) health() ServiceHealth {
	if !t.reg.Enabled() {
		return ServiceHealth{Status: StatusRunning, Reason: "performance monitoring off: metrics are not recorded"}
	}
	return ServiceHealth{Status: StatusRunning}
}

func (t *Telemetry) close() {}
