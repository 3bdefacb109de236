package metrics

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation/clock"
)

func nop(string, Measurements, Metadata) {}

func TestAttachErrors(t *testing.T) {
	d := NewDispatcher()
	require.NoError(t, d.Attach("a", []string{"e"}, nop))
	for _, tc := range []struct {
		name   string
		id     string
		events []string
		h      Handler
		want   error
	}{
		{"empty id", "", []string{"e"}, nop, ErrInvalidName},
		{"nil list", "b", nil, nop, ErrInvalidName},
		{"empty list", "b", []string{}, nop, ErrInvalidName},
		{"empty event", "b", []string{"e", ""}, nop, ErrInvalidName},
		{"nil handler", "b", []string{"e"}, nil, ErrNilHandler},
		{"duplicate id", "a", []string{"f"}, nop, ErrHandlerExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.ErrorIs(t, d.Attach(tc.id, tc.events, tc.h), tc.want)
			assert.Equal(t, 1, d.Handlers("e"))
			assert.Zero(t, d.Handlers("f"))
		})
	}
	assert.ErrorIs(t, d.Detach("nope"), ErrNotFound)
	require.NoError(t, d.Detach("a"))
	assert.ErrorIs(t, d.Detach("a"), ErrNotFound)
	assert.Zero(t, d.Handlers("e"))
	require.NoError(t, d.Attach("a", []string{"e"}, nop), "an id is free again after Detach")
}

func TestExecute(t *testing.T) {
	var d Dispatcher // the zero value is ready
	d.Execute("e", nil, nil)
	var got []string
	rec := func(id string) Handler {
		return func(ev string, m Measurements, md Metadata) {
			got = append(got, fmt.Sprintf("%s:%s:%v:%v", id, ev, m["x"], md["k"]))
		}
	}
	require.NoError(t, d.Attach("1", []string{"a", "b", "a"}, rec("1")))
	require.NoError(t, d.Attach("2", []string{"a"}, rec("2")))
	d.Execute("a", Measurements{"x": 1}, Metadata{"k": "v"})
	d.Execute("b", Measurements{"x": 2}, nil)
	d.Execute("c", nil, nil)
	assert.Equal(t, []string{"1:a:1:v", "2:a:1:v", "1:b:2:<nil>"}, got)
	assert.Equal(t, 2, d.Handlers("a"))
	require.NoError(t, d.Detach("1"))
	got = nil
	d.Execute("a", nil, nil)
	d.Execute("b", nil, nil)
	assert.Equal(t, []string{"2:a:0:<nil>"}, got)
}

func TestPanickingHandler(t *testing.T) {
	var failures []HandlerFailure
	d := NewDispatcher(OnFailure(func(f HandlerFailure) {
		failures = append(failures, f)
		panic("the hook panics too")
	}))
	var events []Metadata
	require.NoError(t, d.Attach("watcher", []string{FailureEvent}, func(_ string, _ Measurements, md Metadata) {
		events = append(events, md)
	}))
	calls := 0
	require.NoError(t, d.Attach("bad", []string{"e"}, func(string, Measurements, Metadata) { panic(errors.New("boom")) }))
	require.NoError(t, d.Attach("good", []string{"e"}, func(string, Measurements, Metadata) { calls++ }))
	assert.NotPanics(t, func() { d.Execute("e", nil, nil) })
	assert.Equal(t, 1, calls, "the next handler still runs")
	assert.Equal(t, 1, d.Handlers("e"), "bad detached")
	require.Len(t, events, 1)
	assert.Equal(t, "bad", events[0]["handler_id"])
	assert.Equal(t, "e", events[0]["event_name"])
	assert.EqualError(t, events[0]["reason"].(error), "boom")
	assert.Contains(t, events[0]["stacktrace"], "TestPanickingHandler")
	require.Len(t, failures, 1)
	assert.Equal(t, "bad", failures[0].HandlerID)
	d.Execute("e", nil, nil)
	assert.Equal(t, 2, calls)
	assert.Len(t, events, 1)

	// A failure handler that panics is detached too; nothing loops.
	require.NoError(t, d.Attach("bad-watcher", []string{FailureEvent, "x"}, func(string, Measurements, Metadata) { panic("again") }))
	assert.NotPanics(t, func() { d.Execute("x", nil, nil) })
	assert.Zero(t, d.Handlers("x"))
	assert.Equal(t, 1, d.Handlers(FailureEvent))
	assert.Len(t, events, 2)
}

// TestDispatchStress attaches and detaches while other goroutines execute: no
// handler is called for an event it is not attached to, a handler attached
// for the whole run sees every event, and panicking handlers are detached.
func TestDispatchStress(t *testing.T) {
	d := NewDispatcher()
	var steady atomic.Int64
	require.NoError(t, d.Attach("steady", []string{"e"}, func(ev string, _ Measurements, _ Metadata) {
		if ev != "e" {
			t.Errorf("steady got %q", ev)
		}
		steady.Add(1)
	}))
	var failures atomic.Int64
	require.NoError(t, d.Attach("failures", []string{FailureEvent}, func(string, Measurements, Metadata) { failures.Add(1) }))
	const executors, executes = 4, 5000
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	var churned atomic.Int64
	var churn sync.WaitGroup
	for w := range 2 {
		churn.Add(1)
		go func() {
			defer churn.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := "churn-" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				evs := []string{"e", "other"}
				var h Handler = func(ev string, _ Measurements, _ Metadata) {
					if ev != "e" && ev != "other" {
						t.Errorf("%s got %q", id, ev)
					}
				}
				if i%10 == 0 {
					h = func(string, Measurements, Metadata) { panic(id) }
				}
				if err := d.Attach(id, evs, h); err != nil {
					t.Error(err)
					return
				}
				churned.Add(1)
				runtime.Gosched()
				err := d.Detach(id)
				if err != nil && !errors.Is(err, ErrNotFound) { // NotFound: panicked and detached
					t.Error(err)
				}
			}
		}()
	}
	for range executors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range executes {
				d.Execute("e", nil, nil)
			}
		}()
	}
	wg.Wait()
	cancel()
	churn.Wait()
	assert.Equal(t, int64(executors*executes), steady.Load())
	assert.Equal(t, 1, d.Handlers("e"))
	assert.Zero(t, d.Handlers("other"))
	t.Logf("%d attach/detach cycles, %d failures", churned.Load(), failures.Load())
}

type spanEvent struct {
	name string
	m    Measurements
	md   Metadata
}

func spanRecorder(t *testing.T, d *Dispatcher) *[]spanEvent {
	var got []spanEvent
	require.NoError(t, d.Attach("rec", []string{"db.query.start", "db.query.stop", "db.query.exception"},
		func(ev string, m Measurements, md Metadata) { got = append(got, spanEvent{ev, m, md}) }))
	return &got
}

func TestSpan(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := NewDispatcher(WithClock(stepClock{clock.NewManual(start), time.Millisecond}))
	got := spanRecorder(t, d)
	md := Metadata{"table": "users"}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		fn      func() error
		wantErr error
	}{
		{"ok", func() error { return nil }, nil},
		{"error", func() error { return boom }, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			*got = nil
			assert.ErrorIs(t, d.Span("db.query", md, tc.fn), tc.wantErr)
			require.Len(t, *got, 2)
			s, e := (*got)[0], (*got)[1]
			assert.Equal(t, "db.query.start", s.name)
			assert.Positive(t, s.m["system_time"])
			assert.Contains(t, s.m, "monotonic_time")
			assert.Equal(t, "users", s.md["table"])
			require.IsType(t, SpanContext(0), s.md["telemetry_span_context"])
			assert.Equal(t, s.md["telemetry_span_context"], e.md["telemetry_span_context"], "one context ties start and stop")
			assert.Equal(t, s.m["monotonic_time"]+float64(time.Millisecond), e.m["monotonic_time"])
			assert.Equal(t, "db.query.stop", e.name)
			assert.Equal(t, float64(time.Millisecond), e.m["duration"])
			assert.Equal(t, "users", e.md["table"])
			if tc.wantErr != nil {
				assert.Equal(t, boom, e.md["error"])
			} else {
				assert.NotContains(t, e.md, "error")
			}
		})
	}
	assert.Equal(t, Metadata{"table": "users"}, md, "caller's metadata untouched")

	*got = nil
	assert.PanicsWithValue(t, "kaput", func() {
		_ = d.Span("db.query", md, func() error { panic("kaput") })
	})
	require.Len(t, *got, 2)
	x := (*got)[1]
	assert.Equal(t, "db.query.exception", x.name)
	assert.Equal(t, float64(time.Millisecond), x.m["duration"])
	assert.Equal(t, "panic", x.md["kind"])
	assert.Equal(t, "kaput", x.md["reason"])
	assert.Contains(t, x.md["stacktrace"], "TestSpan")
	assert.Equal(t, "users", x.md["table"])

	*got = nil
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = d.Span("db.query", nil, func() error { runtime.Goexit(); return nil })
	}()
	<-done
	require.Len(t, *got, 2)
	assert.Equal(t, "exit", (*got)[1].md["kind"])

	assert.ErrorIs(t, d.Span("db.query", nil, nil), ErrNilHandler)
	ran := false
	assert.NoError(t, d.Span("unwatched", nil, func() error { ran = true; return nil }))
	assert.True(t, ran)
}

func TestAggregator(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := NewRegistry(WithClock(clock.NewManual(t0)))
	c := r.Counter("c")
	h := r.Histogram("h")
	c.Add(10)
	var exported []Delta
	fail := ExporterFunc(func(Delta) error { return errors.New("down") })
	panicky := ExporterFunc(func(Delta) error { panic("bad exporter") })
	a := NewAggregator(r, 0, ExporterFunc(func(d Delta) error { exported = append(exported, d); return nil }), nil, fail, panicky)
	assert.Equal(t, DefaultInterval, a.Interval())
	c.Add(20)
	h.Record(5)
	h.Record(6)
	d := a.Tick(t0.Add(2 * time.Second))
	assert.Equal(t, 2*time.Second, d.Elapsed)
	assert.Equal(t, CounterDelta{Value: 30, Delta: 20, Rate: 10}, d.Counters["c"])
	assert.Equal(t, HistogramDelta{Count: 2, Delta: 2, Rate: 1}, d.Histograms["h"])
	c.Add(5)
	r.Counter("new").Add(4)
	d = a.Tick(t0.Add(4 * time.Second))
	assert.Equal(t, CounterDelta{Value: 35, Delta: 5, Rate: 2.5}, d.Counters["c"])
	assert.Equal(t, CounterDelta{Value: 4, Delta: 4, Rate: 2}, d.Counters["new"])
	assert.Equal(t, HistogramDelta{Count: 2}, d.Histograms["h"])
	d = a.Tick(t0.Add(4 * time.Second))
	assert.Zero(t, d.Counters["c"].Rate, "no time elapsed")
	assert.Len(t, exported, 3)
	assert.Equal(t, uint64(6), a.Failures())
	assert.Error(t, a.Err())
}

func TestAggregatorRun(t *testing.T) {
	r := NewRegistry()
	r.Counter("c").Inc()
	ticks := make(chan Delta, 1)
	a := NewAggregator(r, time.Millisecond, ExporterFunc(func(d Delta) error {
		select {
		case ticks <- d:
		default:
		}
		return nil
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	select {
	case d := <-ticks:
		assert.Equal(t, uint64(1), d.Counters["c"].Value)
	case <-time.After(10 * time.Second): // a guard, not a synchronization
		t.Fatal("no tick")
	}
	cancel()
	assert.NoError(t, <-done)
	// goleak.VerifyTestMain checks that Run left nothing behind.
}

// TestLabelledStress executes from several goroutines into a labelled
// histogram and counter with more tag sets than the cap, while snapshots
// run: at the end no value is lost (the series' counts add up to the
// executes), no metric holds more series than its cap, and the refusals
// equal the values that went to the overflow series' tag sets.
func TestLabelledStress(t *testing.T) {
	const goroutines, rounds, routes, maxSeries = 4, 2000, 40, 16
	r := NewRegistry()
	hv, err := r.HistogramVec("req.duration", Desc{Tags: []string{"route", "ok"}, Unit: Nanoseconds, MaxSeries: maxSeries})
	require.NoError(t, err)
	cv, err := r.CounterVec("req", Desc{Tags: []string{"route"}, MaxSeries: maxSeries})
	require.NoError(t, err)
	d := NewDispatcher(Recording(r))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = r.Snapshot()
			}
		}
	}()
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := Measurements{"counter": 1, "duration": 1000}
			for i := range rounds {
				route := "/r" + strconv.Itoa((i*7+g)%routes)
				d.Execute("req", m, Metadata{"route": route, "ok": i%2 == 0})
			}
		}()
	}
	wg.Wait()
	close(stop)
	var hcount, ccount uint64
	hseries, cseries := 0, 0
	for _, s := range r.Snapshot().Series {
		switch s.Name {
		case "req.duration":
			hcount += s.Histogram.Count
			hseries++
		case "req":
			ccount += s.Counter
			cseries++
		}
	}
	assert.Equal(t, uint64(goroutines*rounds), hcount, "no value lost")
	assert.Equal(t, uint64(goroutines*rounds), ccount)
	assert.LessOrEqual(t, hseries, maxSeries+1, "the cap and the overflow series")
	assert.LessOrEqual(t, cseries, maxSeries+1)
	assert.Positive(t, hv.Overflowed())
	assert.Positive(t, cv.Overflowed())
	assert.LessOrEqual(t, r.Len(), 2+2*maxSeries)
}
