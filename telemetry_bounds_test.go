package foundation_test

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/metrics"
)

func TestMaxMetricsRefusesNewNames(t *testing.T) {
	var logs syncBuffer
	f := newF(t, foundation.WithMaxMetrics(20), foundation.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	tel := f.Telemetry()
	for i := range 100 {
		tel.Counter("c." + strconv.Itoa(i)).Add(1)
		tel.Histogram("h." + strconv.Itoa(i)).Record(5)
		tel.Execute("e."+strconv.Itoa(i), foundation.Measurements{"counter": 1, "latency": 7}, nil)
	}
	m := tel.Metrics()
	assert.LessOrEqual(t, len(m.Counters)+len(m.Gauges)+len(m.Histograms)-4, 20,
		"at most the cap (four counter funcs are exempt)")
	assert.Positive(t, m.Counters[foundation.MetricMetricsRefused])
	assert.Equal(t, m.Refused, m.Counters[foundation.MetricMetricsRefused])
	assert.Equal(t, 1, strings.Count(logs.String(), "metric refused"), "logged once:\n%s", logs.String())
	// A refused handle is valid and records nothing.
	c := tel.Counter("refused.name")
	c.Add(5)
	assert.Zero(t, c.Value())
	assert.NotContains(t, tel.Metrics().Counters, "refused.name")
	assert.ErrorIs(t, func() error { _, err := foundation.New(foundation.WithMaxMetrics(0)); return err }(), foundation.ErrInvalidArgument)
}

// TestRefusedNamesMemory asks for 1e6 names beyond the cap (half as handles,
// half through Execute) and checks that the heap grows by at most 50 MiB.
func TestRefusedNamesMemory(t *testing.T) {
	n := 1_000_000
	if raceEnabled || testing.Short() {
		n = 100_000
	}
	f := newF(t, foundation.WithMaxMetrics(100))
	tel := f.Telemetry()
	for i := range 100 {
		tel.Counter("fill." + strconv.Itoa(i))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m := foundation.Measurements{"counter": 1, "latency": 100}
	for i := range n / 2 {
		tel.Counter("/users/" + strconv.Itoa(i)).Add(1)
		tel.Histogram("/orders/" + strconv.Itoa(i)).Record(1)
		tel.Execute("/items/"+strconv.Itoa(i), m, nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d refused names: heap %+d bytes", 3*n/2, grew)
	assert.Less(t, grew, int64(50<<20))
	assert.GreaterOrEqual(t, tel.Metrics().Counters[foundation.MetricMetricsRefused], uint64(3*n/2))
}

func TestExecuteExactValues(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	tel.Execute("h", foundation.Measurements{"v": 1e300}, nil)
	tel.Execute("h", foundation.Measurements{"v": math.Inf(1)}, nil)
	tel.Execute("h", foundation.Measurements{"v": -5}, nil)
	tel.Execute("h", foundation.Measurements{"v": 42}, nil)
	hs := tel.Metrics().Histograms["h.v"]
	assert.Equal(t, uint64(4), hs.Count)
	assert.Equal(t, uint64(3), hs.Clamped)
	assert.Equal(t, int64(0), hs.Min, "-5 clamps to the bottom")
	assert.GreaterOrEqual(t, hs.Max, metrics.DefaultHighest, "1e300 and +Inf clamp to the top, not to 0")

	for _, v := range []float64{0.9, 0.9, 1e30, -1, math.NaN(), math.Inf(1), 1e19, 1<<53 + 2} {
		tel.Execute("c", foundation.Measurements{"counter": v}, nil)
	}
	m := tel.Metrics()
	assert.Zero(t, m.Counters["c"], "no fraction, negative, non-finite or > 2^53 value is counted")
	assert.Equal(t, uint64(8), m.Counters[foundation.MetricTelemetryDropped])
	tel.Execute("c", foundation.Measurements{"counter": 1 << 53}, nil)
	tel.Execute("c", foundation.Measurements{"counter": 3}, nil)
	assert.Equal(t, uint64(1<<53+3), tel.Metrics().Counters["c"])
}

type spanEvent struct {
	name string
	m    foundation.Measurements
	md   foundation.Metadata
}

func spanLog(t *testing.T, tel *foundation.Telemetry, prefix string) func() []spanEvent {
	var mu sync.Mutex
	var got []spanEvent
	require.NoError(t, tel.Attach("log-"+prefix, []string{prefix + ".start", prefix + ".stop", prefix + ".exception"},
		func(name string, m foundation.Measurements, md foundation.Metadata) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, spanEvent{name, m, md})
		}))
	return func() []spanEvent {
		mu.Lock()
		defer mu.Unlock()
		return append([]spanEvent(nil), got...)
	}
}

func TestSpanShape(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	got := spanLog(t, tel, "db")
	require.NoError(t, tel.Span("db", foundation.Metadata{"table": "t"}, func() error { return nil }))
	ev := got()
	require.Len(t, ev, 2)
	assert.Contains(t, ev[0].m, "monotonic_time")
	assert.Contains(t, ev[0].m, "system_time")
	assert.Contains(t, ev[1].m, "duration")
	assert.Contains(t, ev[1].m, "monotonic_time")
	assert.NotNil(t, ev[0].md["telemetry_span_context"])
	assert.Equal(t, ev[0].md["telemetry_span_context"], ev[1].md["telemetry_span_context"])
	m := tel.Metrics()
	for name := range m.Histograms {
		assert.NotContains(t, name, "system_time", "timestamps are not distributions")
		assert.NotContains(t, name, "monotonic_time")
	}
	d := m.Histograms["db.stop.duration"]
	assert.Equal(t, uint64(1), d.Count)
	assert.Equal(t, metrics.Nanoseconds, d.Unit)

	assert.PanicsWithValue(t, "boom", func() { _ = tel.Span("db", nil, func() error { panic("boom") }) })
	ev = got()
	require.Len(t, ev, 4)
	x := ev[3]
	assert.Equal(t, "db.exception", x.name)
	assert.Equal(t, "panic", x.md["kind"])
	assert.Equal(t, "boom", x.md["reason"])
	assert.Contains(t, x.md["stacktrace"], "TestSpanShape")
	assert.Equal(t, ev[2].md["telemetry_span_context"], x.md["telemetry_span_context"])
}

// TestSpanGoexit: fn calling runtime.Goexit is an exception of kind "exit";
// the goroutine goes on exiting (no panic(nil)).
func TestSpanGoexit(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	got := spanLog(t, tel, "job")
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		_ = tel.Span("job", nil, func() error { runtime.Goexit(); return nil })
		done <- "returned" // never reached: Goexit goes on
	}()
	assert.Nil(t, <-done, "no panic")
	ev := got()
	require.Len(t, ev, 2)
	assert.Equal(t, "job.exception", ev[1].name)
	assert.Equal(t, "exit", ev[1].md["kind"])
	assert.Nil(t, ev[1].md["reason"])
}

func TestTelemetryAfterClose(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	tel := f.Telemetry()
	calls := 0
	require.NoError(t, tel.Attach("h", []string{"e"}, func(string, foundation.Measurements, foundation.Metadata) { calls++ }))
	require.NoError(t, f.Close())
	assert.ErrorIs(t, tel.Attach("h2", []string{"e"}, func(string, foundation.Measurements, foundation.Metadata) {}), foundation.ErrClosed)
	tel.Execute("e", foundation.Measurements{"counter": 1}, nil)
	ran := false
	require.NoError(t, tel.Span("e", nil, func() error { ran = true; return nil }))
	assert.True(t, ran)
	assert.Zero(t, calls)
	assert.NotContains(t, tel.Metrics().Counters, "e")
}

func TestLabelledSeries(t *testing.T) {
	f := newF(t)
	tel := f.Telemetry()
	hv, err := tel.HistogramVec("http.request.stop.duration",
		foundation.MetricDesc{Tags: []string{"status", "route"}, Unit: metrics.Nanoseconds, MaxSeries: 3})
	require.NoError(t, err)
	cv, err := tel.CounterVec("http.request.stop", foundation.MetricDesc{Tags: []string{"status"}})
	require.NoError(t, err)
	for i, r := range []string{"/a", "/b", "/a", "/c", "/d", "/e"} {
		tel.Execute("http.request.stop", foundation.Measurements{"counter": 1, "duration": float64(1000 * (i + 1))},
			foundation.Metadata{"status": 200, "route": r})
	}
	tel.Execute("http.request.stop", foundation.Measurements{"counter": 1}, foundation.Metadata{"status": "500"})
	assert.Equal(t, uint64(6), cv.With("200").Value())
	assert.Equal(t, uint64(1), cv.With("500").Value())
	assert.Equal(t, uint64(2), hv.With("200", "/a").Snapshot().Count, "a bound handle is the series Execute feeds")
	assert.Equal(t, uint64(2), hv.Overflowed(), "/a, /b and /c fill the cap of 3; /d and /e overflow")
	var series []metrics.Series
	for _, s := range tel.Metrics().Series {
		if s.Name == "http.request.stop.duration" {
			series = append(series, s)
		}
	}
	require.Len(t, series, 4)
	assert.Equal(t, []metrics.Label{{Key: "status", Value: "200"}, {Key: "route", Value: "/a"}}, series[0].Labels)
	assert.True(t, series[3].Overflow)
	assert.Equal(t, metrics.OverflowValue, series[3].Labels[1].Value)
	assert.Equal(t, uint64(2), series[3].Histogram.Count)
	assert.Equal(t, metrics.Nanoseconds, series[0].Unit)
	_, err = tel.HistogramVec("x", foundation.MetricDesc{Tags: []string{""}})
	assert.ErrorIs(t, err, foundation.ErrInvalidArgument)
}

func TestExecuteAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under -race")
	}
	f := newF(t)
	tel := f.Telemetry()
	_, err := tel.HistogramVec("lab.latency", foundation.MetricDesc{Tags: []string{"route"}})
	require.NoError(t, err)
	m := foundation.Measurements{"counter": 1, "latency": 1234}
	md := foundation.Metadata{"route": "/users/:id"}
	tel.Execute("plain", m, nil)
	tel.Execute("lab", m, md)
	assert.Zero(t, testing.AllocsPerRun(1000, func() { tel.Execute("plain", m, nil) }))
	assert.Zero(t, testing.AllocsPerRun(1000, func() { tel.Execute("lab", m, md) }))
}

// TestCloseShutdownTimeout: a task that ignores its context does not hang
// Close; writes fail with ErrClosed from the moment Close starts; the error
// and Health name the task.
func TestCloseShutdownTimeout(t *testing.T) {
	f, err := foundation.New(foundation.WithShutdownTimeout(50 * time.Millisecond))
	require.NoError(t, err)
	cancelled, release := make(chan struct{}), make(chan struct{})
	require.NoError(t, f.Go("stubborn", func(ctx context.Context) error {
		<-ctx.Done()
		close(cancelled)
		<-release // ignores the cancellation
		return nil
	}, foundation.WithRestart(foundation.Temporary)))
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	<-cancelled // Close has started
	_, err = f.Events().Store(foundation.Event{Type: "late"})
	assert.ErrorIs(t, err, foundation.ErrClosed)
	assert.ErrorIs(t, f.Config().Update("ai.planning.sampling_rate", 0.5), foundation.ErrClosed)
	assert.ErrorIs(t, f.Go("late", func(context.Context) error { return nil }), foundation.ErrClosed)
	assert.ErrorIs(t, f.Telemetry().Attach("late", []string{"e"}, func(string, foundation.Measurements, foundation.Metadata) {}), foundation.ErrClosed)
	err = <-closed
	require.Error(t, err)
	assert.ErrorIs(t, err, foundation.ErrTimeout)
	assert.Contains(t, err.Error(), "stubborn")
	h := f.Health()
	assert.Equal(t, foundation.TaskAbandoned, h.Tasks["stubborn"].State)
	assert.Contains(t, h.Tasks["stubborn"].LastError, "shutdown timeout")
	close(release)
	require.Eventually(t, func() bool { return f.Health().Tasks["stubborn"].State == foundation.TaskStopped },
		10*time.Second, time.Millisecond, "the task ends once released")
	_, err = foundation.New(foundation.WithShutdownTimeout(0))
	assert.ErrorIs(t, err, foundation.ErrInvalidArgument)
}

func TestTaskGoexit(t *testing.T) {
	f := newF(t)
	runs := make(chan int, 4)
	n := 0
	require.NoError(t, f.Go("exiter", func(ctx context.Context) error {
		n++
		runs <- n
		if n == 1 {
			runtime.Goexit()
		}
		return nil
	}, foundation.WithRestart(foundation.Transient), foundation.WithBackoff(time.Millisecond, time.Millisecond)))
	assert.Equal(t, 1, <-runs)
	assert.Equal(t, 2, <-runs, "restarted after Goexit, as after a failure")
	require.Eventually(t, func() bool { return f.Health().Tasks["exiter"].State == foundation.TaskCompleted },
		10*time.Second, time.Millisecond)
	assert.Contains(t, f.Health().Tasks["exiter"].LastError, "Goexit")

	require.NoError(t, f.Go("once", func(ctx context.Context) error { runtime.Goexit(); return nil },
		foundation.WithRestart(foundation.Temporary)))
	require.Eventually(t, func() bool { return f.Health().Tasks["once"].State == foundation.TaskFailed },
		10*time.Second, time.Millisecond)
	assert.NoError(t, f.Go("once", func(ctx context.Context) error { return nil }), "the name is free again")
}
