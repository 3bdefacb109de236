package metrics

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	uatomic "go.uber.org/atomic"
)

// DefaultInterval is the aggregation interval of [NewAggregator] when given 0.
const DefaultInterval = 5 * time.Second

// Exporter receives the [Delta] of every aggregation. Export is called on the
// goroutine of [Aggregator.Tick] or [Aggregator.Run], one call at a time per
// aggregator; it should return promptly (the next tick waits for it). An
// error or a panic is counted in [Aggregator.Failures] and does not stop the
// aggregator or the other exporters. Export must not modify d's maps.
type Exporter interface {
	Export(d Delta) error
}

// ExporterFunc adapts a function to [Exporter].
type ExporterFunc func(d Delta) error

// Export calls f(d).
func (f ExporterFunc) Export(d Delta) error { return f(d) }

// CounterDelta is a counter over one aggregation interval.
type CounterDelta struct {
	Value uint64  // the total at the end of the interval
	Delta uint64  // added during the interval
	Rate  float64 // Delta per second of Elapsed (0 when Elapsed <= 0)
}

// HistogramDelta is a histogram's count over one aggregation interval; the
// distribution itself is in Snapshot.Histograms.
type HistogramDelta struct {
	Count uint64  // values in total at the end of the interval
	Delta uint64  // values recorded during the interval
	Rate  float64 // Delta per second of Elapsed
}

// Delta is the result of one aggregation: the registry's [Snapshot] and, for
// counters and histograms, what changed since the previous aggregation (or
// since [NewAggregator] for the first).
type Delta struct {
	Time       time.Time     // the time of this aggregation
	Elapsed    time.Duration // since the previous one
	Snapshot   Snapshot
	Counters   map[string]CounterDelta
	Histograms map[string]HistogramDelta
}

// Aggregator snapshots a registry at an interval and hands deltas and rates
// to exporters. It starts no goroutine: [Aggregator.Run] runs in the caller's
// and returns when its context is done. Safe for concurrent use; ticks are
// serialized.
type Aggregator struct {
	_         noCopy
	r         *Registry
	interval  time.Duration
	exporters []Exporter
	mu        sync.Mutex // serializes ticks; guards last
	last      Snapshot
	failures  atomic.Uint64
	lastErr   uatomic.Error
}

// NewAggregator returns an aggregator of r that exports to exporters (nil
// ones are skipped) every interval; interval <= 0 means [DefaultInterval].
// It takes the baseline snapshot now, with r's clock.
func NewAggregator(r *Registry, interval time.Duration, exporters ...Exporter) *Aggregator {
	if interval <= 0 {
		interval = DefaultInterval
	}
	a := &Aggregator{r: r, interval: interval}
	for _, e := range exporters {
		if e != nil {
			a.exporters = append(a.exporters, e)
		}
	}
	a.last = r.Snapshot()
	return a
}

// Interval returns the aggregation interval.
func (a *Aggregator) Interval() time.Duration { return a.interval }

// Failures returns the number of exports that returned an error or panicked.
func (a *Aggregator) Failures() uint64 { return a.failures.Load() }

// Err returns the last export error (a panic is reported as an error), or nil.
func (a *Aggregator) Err() error {
	return a.lastErr.Load()
}

// Tick aggregates now: it snapshots the registry (with Time now), computes
// deltas and rates against the previous tick, hands the result to every
// exporter and returns it.
func (a *Aggregator) Tick(now time.Time) Delta {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.r.snapshotAt(now)
	prev := a.last
	elapsed := now.Sub(prev.Time)
	rate := func(n uint64) float64 {
		if elapsed <= 0 {
			return 0
		}
		return float64(n) / elapsed.Seconds()
	}
	d := Delta{
		Time: now, Elapsed: elapsed, Snapshot: cur,
		Counters:   make(map[string]CounterDelta, len(cur.Counters)),
		Histograms: make(map[string]HistogramDelta, len(cur.Histograms)),
	}
	for name, v := range cur.Counters {
		n := v - prev.Counters[name]
		d.Counters[name] = CounterDelta{Value: v, Delta: n, Rate: rate(n)}
	}
	for name, h := range cur.Histograms {
		n := h.Count - prev.Histograms[name].Count
		d.Histograms[name] = HistogramDelta{Count: h.Count, Delta: n, Rate: rate(n)}
	}
	a.last = cur
	for _, e := range a.exporters {
		if err := export(e, d); err != nil {
			a.failures.Add(1)
			a.lastErr.Store(err)
		}
	}
	return d
}

func export(e Exporter, d Delta) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("metrics: exporter panicked: %v", r)
		}
	}()
	return e.Export(d)
}

// Run calls [Aggregator.Tick] every interval, with the registry clock's time,
// until ctx is done; then it returns nil. It waits on the registry clock's
// timers (a [clock.Manual] in tests drives it), stops its timer before
// returning and leaves no goroutine behind.
func (a *Aggregator) Run(ctx context.Context) error {
	c := a.r.s.clock
	for {
		t := c.NewTimer(a.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C():
			a.Tick(c.Now())
		}
	}
}
