package metrics

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// Unit is the unit of a metric's values, in the UCUM notation that
// OpenTelemetry uses ("ns", "s", "By"). Exporters convert [Nanoseconds] to
// seconds (see prometheus/ and otel/).
type Unit string

// Units that exporters know.
const (
	NoUnit      Unit = ""
	Nanoseconds Unit = "ns"
	Seconds     Unit = "s"
	Bytes       Unit = "By"
)

// DefaultMaxSeries is the per-metric cap on distinct tag sets of a
// [CounterVec] or [HistogramVec] when [Desc].MaxSeries is 0.
const DefaultMaxSeries = 1000

// MaxTags bounds the tag keys of one labelled metric.
const MaxTags = 16

// MaxTagValueLen bounds the bytes of one tag value. A tag set with a longer
// value, or with a value holding the byte 0xff (never in UTF-8 text; it
// separates the values in the series key), gets no series of its own: its
// values go to the overflow series and the refusal is counted, so neither a
// long value nor a crafted one can grow a metric past its cap in bytes or
// make two tag sets share a series.
const MaxTagValueLen = 256

// OverflowValue is the value of every tag of a labelled metric's overflow
// series: the series that takes the values of tag sets beyond the metric's
// cap (see [Desc]). A real tag value equal to it shares that series.
const OverflowValue = "_overflow"

// Desc declares a labelled metric (in the manner of telemetry_metrics: a
// metric with tag keys and a unit).
type Desc struct {
	// Tags are the tag keys, in the order of the values given to With.
	// Each is a non-empty string; at most [MaxTags], no duplicates.
	Tags []string
	// Unit is the unit of the values.
	Unit Unit
	// MaxSeries caps the distinct tag sets (series) of the metric; 0 means
	// [DefaultMaxSeries]. Beyond the cap, and beyond the registry's
	// [WithMaxMetrics], values go to the overflow series (every tag
	// [OverflowValue]) and the refusal is counted ([CounterVec.Overflowed]).
	MaxSeries int
}

func (d *Desc) check(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty metric name", ErrInvalidName)
	}
	if len(d.Tags) > MaxTags {
		return fmt.Errorf("%w: metric %q: %d tags, at most %d", ErrInvalid, name, len(d.Tags), MaxTags)
	}
	if d.MaxSeries < 0 {
		return fmt.Errorf("%w: metric %q: MaxSeries %d", ErrInvalid, name, d.MaxSeries)
	}
	seen := map[string]bool{}
	for _, t := range d.Tags {
		if t == "" || seen[t] {
			return fmt.Errorf("%w: metric %q: empty or repeated tag %q", ErrInvalid, name, t)
		}
		seen[t] = true
	}
	return nil
}

// Label is one tag of a series: key and value.
type Label struct{ Key, Value string }

// Kind is the kind of a metric.
type Kind uint8

// The kinds of metric.
const (
	KindCounter Kind = iota + 1
	KindHistogram
)

// Series is one tag set of a labelled metric at one moment.
type Series struct {
	Name      string
	Kind      Kind
	Labels    []Label // in the metric's tag order; shared, read-only
	Unit      Unit
	Overflow  bool              // the overflow series (every value OverflowValue)
	Counter   uint64            // KindCounter
	Histogram HistogramSnapshot // KindHistogram
}

// vec is what CounterVec and HistogramVec share: the tag keys, the series
// by joined values, the cap and the overflow series.
type vec[T any] struct {
	r    *Registry
	name string
	kind Kind
	desc Desc
	max  int
	mk   func() *T
	// series maps joined tag values to their series. Readers Load it and
	// index it with a []byte conversion (no allocation); writers hold mu,
	// copy it, add one series and Store the copy (at most max copies).
	series   atomic.Pointer[map[string]*seriesOf[T]]
	n        atomic.Int64 // series made, the overflow one excluded
	refused  atomic.Uint64
	mu       sync.Mutex // serializes creation; guards list
	list     []*seriesOf[T]
	overflow *seriesOf[T]
}

type seriesOf[T any] struct {
	labels []Label
	m      *T
}

// sep separates the values of a tag set in its map key: a byte that
// UTF-8 text never holds.
const sep = "\xff"

func newVec[T any](r *Registry, name string, kind Kind, d Desc, mk func() *T) *vec[T] {
	d.Tags = append([]string(nil), d.Tags...)
	v := &vec[T]{r: r, name: name, kind: kind, desc: d, max: d.MaxSeries, mk: mk}
	v.series.Store(&map[string]*seriesOf[T]{})
	if v.max == 0 {
		v.max = DefaultMaxSeries
	}
	ov := make([]Label, len(d.Tags))
	for i, k := range d.Tags {
		ov[i] = Label{k, OverflowValue}
	}
	v.overflow = &seriesOf[T]{labels: ov, m: mk()}
	return v
}

// with returns the series of the tag set values, creating it on first use
// (the With of both kinds of vec).
func (v *vec[T]) with(values []string) *T {
	var buf [128]byte
	k := joinKey(buf[:0], values)
	if m := v.lookup(k); m != nil {
		return m
	}
	return v.create(string(k), values)
}

// lookup returns the series of the joined values key, or nil.
func (v *vec[T]) lookup(key []byte) *T {
	if s := (*v.series.Load())[string(key)]; s != nil { // no allocation: a map index by converted bytes
		return s.m
	}
	return nil
}

func (v *vec[T]) create(key string, values []string) *T {
	if len(values) != len(v.desc.Tags) || !tagValuesOK(values) {
		v.refused.Add(1)
		return v.overflow.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	old := *v.series.Load()
	if s := old[key]; s != nil {
		return s.m
	}
	if int(v.n.Load()) >= v.max || !v.r.reserve() {
		v.refused.Add(1)
		return v.overflow.m
	}
	labels := make([]Label, len(values))
	for i, val := range values {
		labels[i] = Label{v.desc.Tags[i], strings.Clone(val)}
	}
	s := &seriesOf[T]{labels: labels, m: v.mk()}
	v.list = append(v.list, s)
	v.n.Add(1)
	next := make(map[string]*seriesOf[T], len(old)+1)
	for k, x := range old {
		next[k] = x
	}
	next[strings.Clone(key)] = s
	v.series.Store(&next)
	return s.m
}

func (v *vec[T]) all() []*seriesOf[T] {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append(v.list[:len(v.list):len(v.list)], v.overflow)
}

// tagValuesOK reports whether values may make a series of their own (see
// [MaxTagValueLen]).
func tagValuesOK(values []string) bool {
	for _, s := range values {
		if len(s) > MaxTagValueLen || strings.IndexByte(s, sep[0]) >= 0 {
			return false
		}
	}
	return true
}

// joinKey writes the map key of values into buf (growing it if needed).
func joinKey(buf []byte, values []string) []byte {
	for i, s := range values {
		if i > 0 {
			buf = append(buf, sep...)
		}
		buf = append(buf, s...)
	}
	return buf
}

// CounterVec is a counter with tag keys: one [Counter] per distinct tag set
// (series), created on first use up to a cap. Obtain one with
// [Registry.CounterVec]; bind the series you use with [CounterVec.With] and
// keep the handle. Safe for concurrent use.
type CounterVec struct{ v *vec[Counter] }

// HistogramVec is a histogram with tag keys, as [CounterVec] is a counter.
type HistogramVec struct{ v *vec[Histogram] }

// Name returns the metric's name.
func (c *CounterVec) Name() string { return c.v.name }

// Tags returns the tag keys (a copy).
func (c *CounterVec) Tags() []string { return append([]string(nil), c.v.desc.Tags...) }

// With returns the counter of the tag set values (in the order of the tag
// keys), creating it on first use: one map lookup; keep the handle to avoid
// even that. A wrong number of values, or a new tag set beyond the caps,
// returns the overflow series and counts the refusal.
func (c *CounterVec) With(values ...string) *Counter { return c.v.with(values) }

// Overflowed returns how many tag sets were refused (and folded into the
// overflow series).
func (c *CounterVec) Overflowed() uint64 { return c.v.refused.Load() }

// Name returns the metric's name.
func (h *HistogramVec) Name() string { return h.v.name }

// Tags returns the tag keys (a copy).
func (h *HistogramVec) Tags() []string { return append([]string(nil), h.v.desc.Tags...) }

// Unit returns the declared unit.
func (h *HistogramVec) Unit() Unit { return h.v.desc.Unit }

// With returns the histogram of the tag set values, as [CounterVec.With].
func (h *HistogramVec) With(values ...string) *Histogram { return h.v.with(values) }

// Overflowed returns how many tag sets were refused.
func (h *HistogramVec) Overflowed() uint64 { return h.v.refused.Load() }
