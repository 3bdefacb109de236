package foundation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

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

// MetricDesc declares a labelled metric: its tag keys (taken from the
// metadata of Execute), its unit and its cap on distinct tag sets (see
// [Telemetry.HistogramVec]).
type MetricDesc = metrics.Desc

// CounterVec is a counter with tag keys; With binds the counter of one tag
// set.
type CounterVec = metrics.CounterVec

// HistogramVec is a histogram with tag keys; With binds the histogram of
// one tag set.
type HistogramVec = metrics.HistogramVec

// Built-in metric names.
const (
	MetricConfigUpdates       = "foundation.config_updates"
	MetricConfigResets        = "foundation.config_resets"
	MetricConfigEventFailures = "foundation.config_event_failures"
	MetricEventsStored        = "foundation.events_stored"
	MetricEventsPruned        = "foundation.events_pruned"
	MetricEventsEvicted       = "foundation.events_evicted"
	MetricEventsDropped       = "foundation.events_dropped"
	// MetricTelemetryDropped counts the measurements and events Execute
	// dropped (see [Telemetry.Execute]).
	MetricTelemetryDropped = "foundation.telemetry_dropped"
	MetricHandlerFailures  = "foundation.telemetry_handler_failures"
	// MetricMetricsRefused counts the metric names and tag sets refused by
	// the cap of [WithMaxMetrics].
	MetricMetricsRefused = "foundation.telemetry_metrics_refused"
)

// HandlerFailureEvent is the event executed when a handler panics and is
// detached; its metadata holds handler_id, event_name, reason and stacktrace.
const HandlerFailureEvent = metrics.FailureEvent

// Telemetry is the telemetry service, in the manner of Erlang's :telemetry:
// Execute an event by name with measurements and metadata, and every handler
// attached to that name receives it; the measurements also feed metrics
// (see [Telemetry.Execute]). Counter, Gauge and Histogram return handles that
// are bound once and then cost no lookup. All methods are safe for concurrent
// use; none blocks or fails the caller.
//
// It is a service of its own: it knows no other service. The Foundation
// wires it to the others with hooks (the event store's counts are counter
// functions registered on it).
type Telemetry struct {
	clock  Clock
	log    *slog.Logger
	reg    *metrics.Registry
	disp   *metrics.Dispatcher
	agg    *metrics.Aggregator
	closed atomic.Bool

	lastMu    sync.Mutex
	last      metrics.Delta
	lastValid bool

	configUpdates, configResets, configEventFailures *Counter
	eventsPruned, eventsDropped, handlerFailures     *Counter
}

// newTelemetry builds the service: a registry capped at maxMetrics names, a
// dispatcher that records into it, the aggregator. Recording starts on or
// off as enabled says (dev.performance_monitoring).
func newTelemetry(c Clock, log *slog.Logger, enabled bool, maxMetrics int, exporters []metrics.Exporter) *Telemetry {
	t := &Telemetry{clock: c, log: log}
	if maxMetrics <= 0 {
		maxMetrics = metrics.DefaultMaxMetrics
	}
	reg := metrics.NewRegistry(metrics.WithClock(c), metrics.WithMaxMetrics(maxMetrics),
		metrics.OnRefused(func(name string) {
			log.Warn("telemetry: metric refused: the registry holds its maximum of metrics; later refusals are only counted",
				"metric", name, "max", maxMetrics, "counter", MetricMetricsRefused)
		}))
	t.reg = reg
	t.handlerFailures = reg.Counter(MetricHandlerFailures)
	t.disp = metrics.NewDispatcher(metrics.WithClock(c), metrics.Recording(reg), metrics.OnFailure(func(hf metrics.HandlerFailure) {
		t.handlerFailures.Add(1)
		log.Error("telemetry handler panicked and was detached", "handler_id", hf.HandlerID,
			"event", hf.Event, "reason", fmt.Sprint(hf.Reason), "stack", string(hf.Stack))
	}))
	t.configUpdates = reg.Counter(MetricConfigUpdates)
	t.configResets = reg.Counter(MetricConfigResets)
	t.configEventFailures = reg.Counter(MetricConfigEventFailures)
	t.eventsPruned = reg.Counter(MetricEventsPruned)
	t.eventsDropped = reg.Counter(MetricEventsDropped)
	_, _ = reg.CounterFunc(MetricTelemetryDropped, t.disp.Dropped)
	_, _ = reg.CounterFunc(MetricMetricsRefused, reg.Refused)
	t.agg = metrics.NewAggregator(reg, metrics.DefaultInterval, exporters...)
	reg.SetEnabled(enabled)
	return t
}

// counterFunc registers the built-in counter name as read(), a count its
// owner keeps anyway (the event store's stored and evicted counts): the
// owner's hot path pays nothing for it.
func (t *Telemetry) counterFunc(name string, read func() uint64) {
	_, _ = t.reg.CounterFunc(name, read)
}

// runAggregator is the periodic aggregation (every 5 s, metrics.DefaultInterval),
// run by the Foundation as a supervised task until ctx is done.
func (t *Telemetry) runAggregator(ctx context.Context) error {
	tm := t.clock.NewTimer(t.agg.Interval())
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
			tm = t.clock.NewTimer(t.agg.Interval())
		}
	}
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

// Execute emits the event name with measurements m and metadata md. It never
// fails and never blocks (beyond the attached handlers' own cost).
//
// The measurements feed metrics ([metrics.Dispatcher.Execute] has the
// details): the key "counter" adds to the counter name and takes whole
// numbers in [0, 2^53] only; "gauge" sets the gauge name; "monotonic_time"
// and "system_time" are timestamps and not recorded; every other key
// records its value in the histogram name.key (a real distribution, not an
// average; "duration" in nanoseconds). A histogram value below 0 or above
// the range (1 h in ns) is clamped to the nearest end and counted in its
// snapshot's Clamped. A NaN, a gauge of ±Inf, a counter measurement that is
// fractional, negative, non-finite or above 2^53, and an empty name are
// dropped and counted in foundation.telemetry_dropped: never rounded. A
// metric declared with tags ([Telemetry.HistogramVec],
// [Telemetry.CounterVec]) records into the series of md's values. With
// dev.performance_monitoring off, nothing is recorded; handlers still
// receive the event.
//
// Then every handler attached to name is called, synchronously. The name is
// resolved once to a prepared entry (handlers, counter, gauge, the
// histograms of its keys): after that, Execute does one lookup by name, none
// per key, and allocates nothing.
//
// After Close, Execute does nothing.
func (t *Telemetry) Execute(name string, m Measurements, md Metadata) {
	if t.closed.Load() {
		return
	}
	t.disp.Execute(name, m, md)
}

// Span runs fn between events, as :telemetry.span does (see
// [metrics.Dispatcher.Span]): name.start with monotonic_time and
// system_time (not recorded as distributions), then name.stop with
// duration and monotonic_time (ns; "error" in the metadata when fn
// returned one), or name.exception with kind ("panic" or "exit" for
// runtime.Goexit), reason and stacktrace in the metadata if fn panics or
// exits, and the panic or exit goes on. The metadata of all three carry
// the same "telemetry_span_context". Durations go to the histogram
// name.stop.duration (unit ns). Span returns fn's error; a nil fn is an
// error matching [ErrInvalidArgument]. After Close, Span only calls fn.
func (t *Telemetry) Span(name string, md Metadata, fn func() error) error {
	if fn == nil {
		return newError(kInvalidArgument, nil, fmt.Sprintf("span %q: nil function", name), "event", name)
	}
	if t.closed.Load() {
		return fn()
	}
	return t.disp.Span(name, md, fn)
}

// Counter returns the counter named name, the same handle every time. Bind
// it once; Add then costs one uncontended atomic add and no lookup. Beyond
// [WithMaxMetrics] names, a new name gets a valid handle that records
// nothing (the refusal is counted in foundation.telemetry_metrics_refused).
func (t *Telemetry) Counter(name string) *Counter { return t.reg.Counter(name) }

// Gauge returns the gauge named name, the same handle every time (capped as
// Counter).
func (t *Telemetry) Gauge(name string) *Gauge { return t.reg.Gauge(name) }

// Histogram returns the histogram named name, the same handle every time
// (HDR range 1 ns to 1 h, 3 significant figures; values outside are clamped
// and counted; capped as Counter).
func (t *Telemetry) Histogram(name string) *Histogram { return t.reg.Histogram(name) }

// HistogramVec declares the histogram name with the tag keys, unit and
// series cap of d, the way telemetry_metrics declares a distribution: for
// the histogram of an event's measurement, name is the event name, a dot
// and the key ("http.request.stop.duration"), and Execute picks the series
// by the values of its metadata under the tag keys. With binds the
// histogram of one tag set for direct use. Beyond d.MaxSeries tag sets
// (default 1,000) values go to an overflow series whose tags are all
// "_overflow". Declare before the first Execute of the name; an error
// matches [ErrInvalidArgument] (a bad d, or a name already used otherwise).
func (t *Telemetry) HistogramVec(name string, d MetricDesc) (*HistogramVec, error) {
	v, err := t.reg.HistogramVec(name, d)
	if err != nil {
		return nil, newError(kInvalidArgument, err, fmt.Sprintf("histogram %q", name), "metric", name)
	}
	return v, nil
}

// CounterVec declares the counter name (an event name: Execute's
// "counter" measurement adds to it) with tag keys, as [Telemetry.HistogramVec].
func (t *Telemetry) CounterVec(name string, d MetricDesc) (*CounterVec, error) {
	v, err := t.reg.CounterVec(name, d)
	if err != nil {
		return nil, newError(kInvalidArgument, err, fmt.Sprintf("counter %q", name), "metric", name)
	}
	return v, nil
}

// Metrics returns a snapshot of every metric: counters, gauges and
// histograms folded from their stripes (unchanged histograms are not
// refolded), and the series of labelled metrics. It never blocks recording.
func (t *Telemetry) Metrics() MetricsSnapshot { return t.reg.Snapshot() }

// Registry returns the metrics registry behind this service, for exporters
// (Prometheus, OpenTelemetry) that read its snapshots.
func (t *Telemetry) Registry() *metrics.Registry { return t.reg }

// Attach attaches h under the unique id to the events names. An id already
// attached is an error matching [ErrHandlerExists]; a nil handler, an empty
// id or an empty list or name matches [ErrInvalidHandler]; after Close,
// [ErrClosed].
func (t *Telemetry) Attach(id string, names []string, h Handler) error {
	if t.closed.Load() {
		return errClosed("telemetry.attach")
	}
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

// close makes Attach fail with ErrClosed and Execute and Span record and
// dispatch nothing.
func (t *Telemetry) close() { t.closed.Store(true) }
