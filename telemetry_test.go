package foundation_test

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/metrics"
)

func TestExecuteFeedsMetrics(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	for i := 1; i <= 100; i++ {
		tel.Execute("db.query", foundation.Measurements{"counter": 1, "gauge": float64(i), "duration": float64(i * 1000)}, nil)
	}
	m := tel.Metrics()
	assert.Equal(t, uint64(100), m.Counters["db.query"])
	assert.Equal(t, 100.0, m.Gauges["db.query"])
	h := m.Histograms["db.query.duration"]
	assert.Equal(t, uint64(100), h.Count)
	assert.Equal(t, int64(1000), h.Min)
	assert.InDelta(t, 50_000, h.P50, 50)  // a real distribution, not an average
	assert.InDelta(t, 99_000, h.P99, 100) // within HDR precision (3 significant figures)
	assert.Same(t, tel.Counter("db.query"), tel.Counter("db.query"))
	assert.Equal(t, uint64(100), tel.Counter("db.query").Value())
}

func TestExecuteDropsBadMeasurements(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	tel.Execute("x", foundation.Measurements{"counter": math.NaN(), "gauge": math.Inf(1), "lat": math.NaN()}, nil)
	tel.Execute("x", foundation.Measurements{"counter": -1}, nil)
	tel.Execute("", foundation.Measurements{"counter": 1}, nil)
	m := tel.Metrics()
	assert.Equal(t, uint64(0), m.Counters["x"])
	assert.Equal(t, uint64(5), m.Counters[foundation.MetricTelemetryDropped])
}

func TestAttachDetachAndHandlerFailure(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	var got atomic.Int64
	h := func(name string, m foundation.Measurements, md foundation.Metadata) { got.Add(int64(m["n"])) }
	require.NoError(t, tel.Attach("h1", []string{"a", "b"}, h))
	assert.ErrorIs(t, tel.Attach("h1", []string{"c"}, h), foundation.ErrHandlerExists)
	assert.ErrorIs(t, tel.Attach("h2", []string{"c"}, nil), foundation.ErrInvalidHandler)
	assert.ErrorIs(t, tel.Attach("", []string{"c"}, h), foundation.ErrInvalidHandler)
	tel.Execute("a", foundation.Measurements{"n": 2}, nil)
	tel.Execute("b", foundation.Measurements{"n": 3}, nil)
	tel.Execute("c", foundation.Measurements{"n": 100}, nil)
	assert.Equal(t, int64(5), got.Load())
	require.NoError(t, tel.Detach("h1"))
	assert.ErrorIs(t, tel.Detach("h1"), foundation.ErrNotFound)
	tel.Execute("a", foundation.Measurements{"n": 2}, nil)
	assert.Equal(t, int64(5), got.Load())

	// A panicking handler is detached, a failure event is executed, the caller is unharmed.
	var failures atomic.Int32
	require.NoError(t, tel.Attach("watch", []string{foundation.HandlerFailureEvent},
		func(string, foundation.Measurements, foundation.Metadata) { failures.Add(1) }))
	require.NoError(t, tel.Attach("bad", []string{"p"}, func(string, foundation.Measurements, foundation.Metadata) { panic("bad handler") }))
	assert.NotPanics(t, func() { tel.Execute("p", nil, nil) })
	assert.Equal(t, int32(1), failures.Load())
	assert.ErrorIs(t, tel.Detach("bad"), foundation.ErrNotFound, "detached after panicking")
	assert.NotPanics(t, func() { tel.Execute("p", nil, nil) })
	assert.Equal(t, int32(1), failures.Load())
	assert.Equal(t, uint64(1), tel.Metrics().Counters[foundation.MetricHandlerFailures])
}

func TestSpan(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	var mu sync.Mutex
	var seen []string
	var lastMD foundation.Metadata
	require.NoError(t, tel.Attach("spy", []string{"op.start", "op.stop", "op.exception"},
		func(name string, m foundation.Measurements, md foundation.Metadata) {
			mu.Lock()
			seen = append(seen, name)
			lastMD = md
			mu.Unlock()
		}))
	require.NoError(t, tel.Span("op", foundation.Metadata{"k": "v"}, func() error { return nil }))
	boom := errors.New("boom")
	assert.ErrorIs(t, tel.Span("op", nil, func() error { return boom }), boom)
	assert.Equal(t, boom, lastMD["error"])
	assert.PanicsWithValue(t, "crash", func() { _ = tel.Span("op", nil, func() error { panic("crash") }) })
	assert.Equal(t, "crash", lastMD["reason"])
	assert.Equal(t, []string{"op.start", "op.stop", "op.start", "op.stop", "op.start", "op.exception"}, seen)
	assert.Equal(t, uint64(2), tel.Metrics().Histograms["op.stop.duration"].Count)
	assert.ErrorIs(t, tel.Span("op", nil, nil), foundation.ErrInvalidArgument)
}

func TestBuiltinEventCounters(t *testing.T) {
	f := newF(t)
	_, err := f.Events().StoreBatch([]foundation.Event{{Type: "a"}, {Type: "a"}, {Type: "b"}, {Type: "c"}, {Type: "d"}})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), f.Telemetry().Metrics().Counters[foundation.MetricEventsStored])
}

// The built-in event counters follow dev.performance_monitoring like any
// counter: what is stored while it is off is never counted.
func TestBuiltinEventCountersFollowMonitoring(t *testing.T) {
	f := newF(t, foundation.WithEventCapacity(4))
	stored := func() uint64 { return f.Telemetry().Metrics().Counters[foundation.MetricEventsStored] }
	evicted := func() uint64 { return f.Telemetry().Metrics().Counters[foundation.MetricEventsEvicted] }
	base := stored() // the config events of New, if any
	for i := 0; i < 3; i++ {
		_, err := f.Events().Store(foundation.Event{Type: "a"})
		require.NoError(t, err)
	}
	assert.Equal(t, base+3, stored())
	require.NoError(t, f.Config().Update("dev.performance_monitoring", false))
	off := stored() // includes the config_updated event stored by the update
	offEv := evicted()
	for i := 0; i < 5; i++ {
		_, err := f.Events().Store(foundation.Event{Type: "b"})
		require.NoError(t, err)
	}
	assert.Equal(t, off, stored(), "nothing counted while off")
	assert.Equal(t, offEv, evicted(), "nothing counted while off")
	require.NoError(t, f.Config().Update("dev.performance_monitoring", true))
	on := stored()
	_, err := f.Events().Store(foundation.Event{Type: "c"})
	require.NoError(t, err)
	assert.Equal(t, on+1, stored())
	assert.Less(t, stored(), f.Events().Stats().Stored, "the store's own Stats count everything")
}

func TestTelemetryConcurrentExact(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	const g, n = 4, 2000
	var wg sync.WaitGroup
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := tel.Counter("hits")
			for j := 0; j < n; j++ {
				c.Add(1)
				tel.Execute("ev", foundation.Measurements{"counter": 2, "v": float64(j)}, nil)
			}
		}()
	}
	wg.Wait()
	m := tel.Metrics()
	assert.Equal(t, uint64(g*n), m.Counters["hits"])
	assert.Equal(t, uint64(2*g*n), m.Counters["ev"])
	assert.Equal(t, uint64(g*n), m.Histograms["ev.v"].Count)
}

func TestPeriodicAggregateReachesExporter(t *testing.T) {
	clk := foundation.NewManualClock(t0)
	got := make(chan metrics.Delta, 4)
	f := newF(t, foundation.WithClock(clk), foundation.WithMetricsExporter(metrics.ExporterFunc(func(d metrics.Delta) error {
		got <- d
		return nil
	})), foundation.WithMetricsExporter(metrics.ExporterFunc(func(metrics.Delta) error { panic("bad exporter") })))
	waitFor(t, "built-in tasks asleep", func() bool { return clk.Waiters() >= builtinClockSleepers(f) })
	f.Telemetry().Counter("reqs").Add(10)
	clk.Add(5 * time.Second)
	d := <-got
	assert.Equal(t, uint64(10), d.Counters["reqs"].Delta)
	assert.InDelta(t, 2.0, d.Counters["reqs"].Rate, 1e-9)
	waitFor(t, "aggregator asleep again", func() bool { return clk.Waiters() >= builtinClockSleepers(f) })
	f.Telemetry().Counter("reqs").Add(5)
	clk.Add(5 * time.Second)
	d = <-got
	assert.Equal(t, uint64(5), d.Counters["reqs"].Delta)
	assert.Equal(t, uint64(15), d.Counters["reqs"].Value)
	// The exporters run one after the other: the panicking one (and the
	// bookkeeping of the tick) may still be running when the first returns.
	waitFor(t, "the panicking exporter counted, twice", func() bool { return f.Telemetry().AggregateFailures() == 2 })
	waitFor(t, "the last aggregate kept", func() bool {
		last, ok := f.Telemetry().Aggregate()
		return ok && last.Counters["reqs"].Value == 15
	})
	_, err := foundation.New(foundation.WithMetricsExporter(nil))
	assert.ErrorIs(t, err, foundation.ErrInvalidArgument)
}
