package otel

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/elixirscope-go/foundation/metrics"
)

// ScopeName is the default instrumentation scope of the produced metrics.
const ScopeName = "github.com/elixirscope-go/foundation"

// ErrInvalidOption is wrapped by the errors of [NewProducer] and
// [NewSpanBridge] for a bad argument or option.
var ErrInvalidOption = errors.New("otel: invalid option")

// Source is what a [Producer] reads on every collection. A
// *metrics.Registry (for a Foundation, f.Telemetry().Registry()) is a
// Source; so is SourceFunc(f.Telemetry().Metrics).
type Source interface {
	Snapshot() metrics.Snapshot
}

// SourceFunc adapts a function to [Source].
type SourceFunc func() metrics.Snapshot

// Snapshot calls f.
func (f SourceFunc) Snapshot() metrics.Snapshot { return f() }

var _ metric.Producer = (*Producer)(nil)

// Producer is an OpenTelemetry metric producer over a [Source]. Produce is
// safe for concurrent use, with itself and with recording; it reads one
// snapshot per call, which never blocks recorders. The zero value is not
// usable; use [NewProducer].
type Producer struct {
	src   Source
	s     settings
	start time.Time
	scope instrumentation.Scope
	attrs attribute.Set
	// bounds caches the default bounds of the last geometry seen (all the
	// histograms of a registry share one). Copy-on-write: a stored value is
	// never modified.
	bounds atomic.Pointer[boundsCache]
}

type boundsCache struct {
	lowest, highest int64
	b               bounds
}

type bounds struct {
	f []float64
	i []int64
}

func newBounds(f []float64) bounds {
	b := bounds{f: f, i: make([]int64, len(f))}
	for j, v := range f {
		switch v = math.Floor(v); {
		case v >= math.MaxInt64:
			b.i[j] = math.MaxInt64
		case v <= math.MinInt64:
			b.i[j] = math.MinInt64
		default:
			b.i[j] = int64(v)
		}
	}
	return b
}

// NewProducer returns a producer of src's metrics. A nil src or a bad
// option is an error wrapping [ErrInvalidOption] (all problems, joined).
func NewProducer(src Source, opts ...Option) (*Producer, error) {
	var s settings
	for _, o := range opts {
		if o != nil {
			o.apply(&s)
		}
	}
	if src == nil {
		s.fail("nil source")
	}
	if err := errors.Join(s.problems...); err != nil {
		return nil, err
	}
	p := &Producer{src: src, s: s, start: s.start, scope: instrumentation.Scope{Name: ScopeName}}
	if p.start.IsZero() {
		p.start = time.Now()
	}
	if s.scope != "" {
		p.scope.Name = s.scope
	}
	p.attrs = attribute.NewSet(s.attrs...)
	return p, nil
}

// Produce returns the source's metrics as one ScopeMetrics, sorted by name:
// counters as cumulative monotonic Sums, gauges as Gauges, histograms as
// cumulative Histograms. A labelled metric is one metric with a data point
// per series, its tags as attributes (the overflow series carries
// [OverflowAttribute] instead). Units are those of [WithUnit], else the
// declared ones ("ns" for durations). The data point time is the snapshot's; the start
// time is the producer's ([WithStartTime]), or the snapshot's time if that
// is earlier. It never fails; ctx is not used.
func (p *Producer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	snap := p.src.Snapshot()
	now := snap.Time
	if now.IsZero() {
		now = time.Now()
	}
	start := p.start
	if now.Before(start) {
		start = now
	}
	ms := make([]metricdata.Metrics, 0, len(snap.Counters)+len(snap.Gauges)+len(snap.Histograms))
	for name, v := range snap.Counters {
		ms = append(ms, metricdata.Metrics{
			Name: name, Description: p.s.description(name, "counter"), Unit: p.s.units[name],
			Data: metricdata.Sum[int64]{
				Temporality: metricdata.CumulativeTemporality,
				IsMonotonic: true,
				DataPoints: []metricdata.DataPoint[int64]{{
					Attributes: p.attrs, StartTime: start, Time: now, Value: int64(min(v, math.MaxInt64)),
				}},
			},
		})
	}
	for name, v := range snap.Gauges {
		ms = append(ms, metricdata.Metrics{
			Name: name, Description: p.s.description(name, "gauge"), Unit: p.s.units[name],
			Data: metricdata.Gauge[float64]{
				DataPoints: []metricdata.DataPoint[float64]{{Attributes: p.attrs, StartTime: start, Time: now, Value: v}},
			},
		})
	}
	for name, h := range snap.Histograms {
		ms = append(ms, metricdata.Metrics{
			Name: name, Description: p.s.description(name, "histogram"), Unit: p.unit(name, h.Unit),
			Data: metricdata.Histogram[int64]{
				Temporality: metricdata.CumulativeTemporality,
				DataPoints:  []metricdata.HistogramDataPoint[int64]{p.histogram(name, &h, p.attrs, start, now)},
			},
		})
	}
	ms = p.series(ms, snap.Series, start, now)
	slices.SortFunc(ms, func(a, b metricdata.Metrics) int { return cmp.Compare(a.Name, b.Name) })
	return []metricdata.ScopeMetrics{{Scope: p.scope, Metrics: ms}}, nil
}

// unit is the unit of the metric name: the one of [WithUnit], else the one
// the metric was declared with (UCUM, as metrics.Unit is).
func (p *Producer) unit(name string, u metrics.Unit) string {
	if x, ok := p.s.units[name]; ok {
		return x
	}
	return string(u)
}

// OverflowAttribute is the attribute of the overflow series of a labelled
// metric (the series of the tag sets beyond its cap), as OpenTelemetry's
// SDK marks its own: otel.metric.overflow=true, in place of the tags.
var OverflowAttribute = attribute.Bool("otel.metric.overflow", true)

// series appends the labelled metrics: one metric per name, one data point
// per series, its tags as attributes (besides [WithAttributes]).
func (p *Producer) series(ms []metricdata.Metrics, ss []metrics.Series, start, now time.Time) []metricdata.Metrics {
	for i := 0; i < len(ss); {
		j := i
		for j < len(ss) && ss[j].Name == ss[i].Name && ss[j].Kind == ss[i].Kind {
			j++
		}
		group := ss[i:j]
		name := ss[i].Name
		switch ss[i].Kind {
		case metrics.KindCounter:
			dps := make([]metricdata.DataPoint[int64], len(group))
			for k := range group {
				dps[k] = metricdata.DataPoint[int64]{Attributes: p.seriesAttrs(&group[k]), StartTime: start, Time: now,
					Value: int64(min(group[k].Counter, math.MaxInt64))}
			}
			ms = append(ms, metricdata.Metrics{Name: name, Description: p.s.description(name, "counter"), Unit: p.unit(name, group[0].Unit),
				Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: dps}})
		case metrics.KindHistogram:
			dps := make([]metricdata.HistogramDataPoint[int64], len(group))
			for k := range group {
				dps[k] = p.histogram(name, &group[k].Histogram, p.seriesAttrs(&group[k]), start, now)
			}
			ms = append(ms, metricdata.Metrics{Name: name, Description: p.s.description(name, "histogram"), Unit: p.unit(name, group[0].Unit),
				Data: metricdata.Histogram[int64]{Temporality: metricdata.CumulativeTemporality, DataPoints: dps}})
		}
		i = j
	}
	return ms
}

func (p *Producer) seriesAttrs(s *metrics.Series) attribute.Set {
	kv := make([]attribute.KeyValue, 0, len(p.s.attrs)+len(s.Labels))
	kv = append(kv, p.s.attrs...)
	if s.Overflow {
		kv = append(kv, OverflowAttribute)
	} else {
		for _, l := range s.Labels {
			kv = append(kv, attribute.String(l.Key, l.Value))
		}
	}
	return attribute.NewSet(kv...)
}

func (p *Producer) histogram(name string, h *metrics.HistogramSnapshot, attrs attribute.Set, start, now time.Time) metricdata.HistogramDataPoint[int64] {
	b := p.boundsOf(name, h)
	cum := h.CumulativeCounts(b.i)
	counts := make([]uint64, len(cum)+1)
	var prev uint64
	for i, c := range cum {
		counts[i] = c - prev
		prev = c
	}
	counts[len(cum)] = h.Count - prev
	dp := metricdata.HistogramDataPoint[int64]{
		Attributes: attrs, StartTime: start, Time: now,
		Count: h.Count, Bounds: b.f, BucketCounts: counts,
		Sum: int64(math.Round(min(h.Mean*float64(h.Count), math.MaxInt64))),
	}
	if h.Count > 0 {
		dp.Min, dp.Max = metricdata.NewExtrema(h.Min), metricdata.NewExtrema(h.Max)
	}
	return dp
}

func (p *Producer) boundsOf(name string, h *metrics.HistogramSnapshot) bounds {
	if b, ok := p.s.perHist[name]; ok {
		return b
	}
	if p.s.bounds.f != nil {
		return p.s.bounds
	}
	if c := p.bounds.Load(); c != nil && c.lowest == h.Lowest && c.highest == h.Highest {
		return c.b
	}
	c := &boundsCache{lowest: h.Lowest, highest: h.Highest, b: newBounds(DefaultBounds(h.Lowest, h.Highest))}
	p.bounds.Store(c)
	return c.b
}

// DefaultBounds returns the default histogram bucket bounds for values in
// [lowest, highest]: [metrics.DefaultBounds], the 1-2-5 series over the
// histogram's range (39 bounds for 1 ns to 1 h). They depend only on the
// geometry, never on the data.
func DefaultBounds(lowest, highest int64) []float64 {
	return metrics.DefaultBounds(lowest, highest)
}
