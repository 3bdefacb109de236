package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/metrics"
)

func ExampleRegistry_Counter() {
	r := metrics.NewRegistry()
	requests := r.Counter("requests") // bind the handle once...
	for range 3 {
		requests.Inc() // ...and add without a lookup
	}
	requests.Add(10)
	fmt.Println(requests.Value(), r.Counter("requests") == requests)
	// Output: 13 true
}

func ExampleRegistry_Gauge() {
	r := metrics.NewRegistry()
	g := r.Gauge("queue.depth")
	g.Set(10)
	g.Add(-2.5)
	g.Set(0 / func() float64 { return 0 }()) // NaN: ignored, counted
	fmt.Println(g.Value(), g.Dropped())
	// Output: 7.5 1
}

func ExampleRegistry_Histogram() {
	r := metrics.NewRegistry()
	h := r.Histogram("latency_ns")
	for v := int64(1); v <= 1000; v++ {
		h.Record(v * 1000) // 1 µs .. 1 ms
	}
	h.Record(-1) // clamped to 0, counted
	s := h.Snapshot()
	fmt.Println(s.Count, s.Clamped, s.Min, s.P50, s.P99, h.Quantile(0.999))
	// Output: 1001 1 0 500223 990207 999423
}

func ExampleHistogramSnapshot_CumulativeCounts() {
	r := metrics.NewRegistry()
	h := r.Histogram("size")
	for _, v := range []int64{1, 2, 5, 10, 50, 100} {
		h.Record(v)
	}
	// Prometheus-style "le" buckets from the HDR buckets.
	fmt.Println(h.Snapshot().CumulativeCounts([]int64{1, 5, 10, 100}))
	// Output: [1 3 4 6]
}

func ExampleRegistry_SetEnabled() {
	r := metrics.NewRegistry()
	c := r.Counter("c")
	r.SetEnabled(false)
	c.Inc() // a no-op
	r.SetEnabled(true)
	c.Inc()
	fmt.Println(c.Value())
	// Output: 1
}

func ExampleRegistry_Snapshot() {
	r := metrics.NewRegistry(metrics.WithClock(clock.NewManual(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))))
	r.Counter("b").Add(2)
	r.Counter("a").Add(1)
	r.Gauge("temp").Set(21.5)
	r.Histogram("rtt").Record(42)
	s := r.Snapshot()
	names := make([]string, 0, len(s.Counters))
	for n := range s.Counters {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Println(n, s.Counters[n])
	}
	fmt.Println(s.Time.Format(time.DateOnly), s.Gauges["temp"], s.Histograms["rtt"].P50)
	// Output:
	// a 1
	// b 2
	// 2026-11-23 21.5 42
}

func ExampleCheckOptions() {
	err := metrics.CheckOptions(metrics.WithHistogramRange(0, 100, 3))
	fmt.Println(errors.Is(err, metrics.ErrInvalid), err)
	// Output: true metrics: invalid option: histogram lowest 0: want >= 1
}

func ExampleDispatcher_Attach() {
	d := metrics.NewDispatcher()
	_ = d.Attach("printer", []string{"cache.miss"}, func(ev string, m metrics.Measurements, md metrics.Metadata) {
		fmt.Println(ev, m["count"], md["key"])
	})
	err := d.Attach("printer", []string{"cache.hit"}, func(string, metrics.Measurements, metrics.Metadata) {})
	fmt.Println(errors.Is(err, metrics.ErrHandlerExists))
	d.Execute("cache.miss", metrics.Measurements{"count": 1}, metrics.Metadata{"key": "user:7"})
	d.Execute("cache.hit", nil, nil) // nobody attached: nothing happens
	fmt.Println(d.Handlers("cache.miss"), errors.Is(d.Detach("nobody"), metrics.ErrNotFound))
	// Output:
	// true
	// cache.miss 1 user:7
	// 1 true
}

func ExampleDispatcher_Execute_failure() {
	d := metrics.NewDispatcher()
	_ = d.Attach("alarm", []string{metrics.FailureEvent}, func(_ string, _ metrics.Measurements, md metrics.Metadata) {
		fmt.Println("detached", md["handler_id"], "on", md["event_name"], "because", md["reason"])
	})
	_ = d.Attach("buggy", []string{"job.done"}, func(string, metrics.Measurements, metrics.Metadata) {
		panic("nil map")
	})
	d.Execute("job.done", nil, nil) // the caller is unharmed
	fmt.Println(d.Handlers("job.done"))
	// Output:
	// detached buggy on job.done because nil map
	// 0
}

func ExampleDispatcher_Span() {
	clk := clock.NewManual(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) // moves only when told
	d := metrics.NewDispatcher(metrics.WithClock(clk))
	_ = d.Attach("timer", []string{"db.query.start", "db.query.stop"}, func(ev string, m metrics.Measurements, md metrics.Metadata) {
		if ev == "db.query.stop" {
			fmt.Println(ev, time.Duration(m["duration"]), md["error"])
			return
		}
		fmt.Println(ev, md["table"])
	})
	err := d.Span("db.query", metrics.Metadata{"table": "users"}, func() error {
		clk.Add(time.Millisecond) // the query takes 1ms
		return errors.New("timeout")
	})
	fmt.Println(err)
	// Output:
	// db.query.start users
	// db.query.stop 1ms timeout
	// timeout
}

func ExampleAggregator() {
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	r := metrics.NewRegistry(metrics.WithClock(clock.NewManual(t0)))
	c := r.Counter("jobs")
	a := metrics.NewAggregator(r, 5*time.Second, metrics.ExporterFunc(func(d metrics.Delta) error {
		j := d.Counters["jobs"]
		fmt.Printf("%v: total %d, +%d, %.1f/s\n", d.Elapsed, j.Value, j.Delta, j.Rate)
		return nil
	}))
	c.Add(10)
	a.Tick(t0.Add(5 * time.Second)) // Run(ctx) calls Tick every interval
	c.Add(25)
	a.Tick(t0.Add(10 * time.Second))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println(a.Run(ctx))
	// Output:
	// 5s: total 10, +10, 2.0/s
	// 5s: total 35, +25, 5.0/s
	// <nil>
}

// A labelled counter: one series per tag set, bound once; a snapshot lists
// the series with their labels.
func ExampleRegistry_CounterVec() {
	r := metrics.NewRegistry()
	reqs, err := r.CounterVec("http.requests", metrics.Desc{Tags: []string{"status"}, MaxSeries: 2})
	if err != nil {
		panic(err)
	}
	ok := reqs.With("200") // bind once
	ok.Add(3)
	reqs.With("500").Inc()
	reqs.With("503").Inc() // a third tag set: beyond MaxSeries, into the overflow series
	for _, s := range r.Snapshot().Series {
		fmt.Println(s.Name, s.Labels, s.Counter, s.Overflow)
	}
	// Output:
	// http.requests [{status 200}] 3 false
	// http.requests [{status 500}] 1 false
	// http.requests [{status _overflow}] 1 true
}
