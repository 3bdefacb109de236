package metrics

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/puzpuzpuz/xsync/v3"
)

// Registry holds named counters, gauges and histograms. A name is looked up
// only when a handle is asked for: [Registry.Counter] returns the same
// *Counter for the same name for the life of the registry, and the hot path
// is the handle's method. Counters, gauges and histograms have separate
// namespaces.
//
// All methods are safe for concurrent use. A Registry starts no goroutine and
// needs no Close. The zero value is not usable; use [NewRegistry].
type Registry struct {
	_ noCopy
	// on is read by every Add, Set and Record and written only by
	// SetEnabled; it has the lines around it to itself, so the writes of the
	// fields below (creation of metrics) never evict it from readers' caches.
	_  [pad.FalseSharingRange]byte
	on atomic.Bool
	_  [pad.FalseSharingRange - 4]byte

	s          settings
	geom       geometry
	counters   *xsync.MapOf[string, *Counter]
	gauges     *xsync.MapOf[string, *Gauge]
	histograms *xsync.MapOf[string, *Histogram]

	mu sync.Mutex // serializes creation; guards the lists below
	// Append-only lists, for Snapshot: it copies the slice headers under mu
	// and reads the elements without it (an element below the copied length
	// is never written again).
	counterList   []*Counter
	gaugeList     []*Gauge
	histogramList []*Histogram

	snapMu sync.Mutex // serializes snapshots; guards tmpl
	tmpl   template

	invalid atomic.Uint64 // handles asked for with an empty name
	// made counts the metrics and series made, against s.maxMetrics;
	// refused counts the names and series refused beyond it.
	made       atomic.Int64
	refused    atomic.Uint64
	refuseOnce sync.Once
	cvecs      *xsync.MapOf[string, *CounterVec]
	hvecs      *xsync.MapOf[string, *HistogramVec]
	vecMu      sync.Mutex // guards the lists below; taken after mu, never before
	cvecList   []*CounterVec
	hvecList   []*HistogramVec
	off        atomic.Bool // always false: the switch of the discard handles
	discardC   *Counter
	discardG   *Gauge
	discardHO  sync.Once
	discardH   *Histogram
}

// NewRegistry returns an empty, enabled registry. Invalid options are ignored
// (see [CheckOptions]).
func NewRegistry(opts ...Option) *Registry {
	s := defaultSettings()
	for _, o := range opts {
		if o != nil {
			o.apply(&s)
		}
	}
	g, _ := newGeometry(s.lowest, s.highest, s.sigfigs) // validated by the option
	r := &Registry{
		s:          s,
		geom:       g,
		counters:   xsync.NewMapOf[string, *Counter](),
		gauges:     xsync.NewMapOf[string, *Gauge](),
		histograms: xsync.NewMapOf[string, *Histogram](),
		cvecs:      xsync.NewMapOf[string, *CounterVec](),
		hvecs:      xsync.NewMapOf[string, *HistogramVec](),
	}
	r.on.Store(true)
	r.discardC = newCounter("", &r.off, 1)
	r.discardG = newGauge("", &r.off)
	return r
}

// SetEnabled turns recording on or off for every metric of the registry, at
// once: while off, Add, Inc, Set, Record and RecordN return without effect
// (the values are not counted anywhere). Handles stay valid and reads still
// work.
func (r *Registry) SetEnabled(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.on.Load() == on {
		return
	}
	for _, c := range r.counterList {
		if c.fn != nil && !on {
			c.fn.pause()
		}
	}
	r.on.Store(on)
	for _, c := range r.counterList {
		if c.fn != nil && on {
			c.fn.resume()
		}
	}
}

// Enabled reports whether recording is on.
func (r *Registry) Enabled() bool { return r.on.Load() }

// Stripes returns the stripe count of the registry's counters and histograms.
func (r *Registry) Stripes() int { return r.s.stripes }

// Counter returns the counter named name, creating it on first use. An empty
// name is invalid: it returns a counter that ignores every Add, shared by all
// invalid names, and counts the request in [Snapshot.InvalidNames]. Looking a
// name up costs an xsync map load: bind the handle once and keep it.
func (r *Registry) Counter(name string) *Counter {
	if c, ok := r.counters.Load(name); ok {
		return c
	}
	return r.newCounter(name)
}

func (r *Registry) newCounter(name string) *Counter {
	if name == "" {
		r.invalid.Add(1)
		return r.discardC
	}
	if v, ok := r.cvecs.Load(name); ok {
		return v.With(make([]string, len(v.v.desc.Tags))...)
	}
	if c := create(r, r.counters, &r.counterList, name, func() *Counter { return newCounter(name, &r.on, r.s.stripes) }); c != nil {
		return c
	}
	return r.discardC
}

// reserveName counts one more metric against [WithMaxMetrics], or refuses
// name: it counts the refusal and reports the first one to the
// [OnRefused] function.
func (r *Registry) reserveName(name string) bool {
	if r.reserve() {
		return true
	}
	r.refuseOnce.Do(func() {
		if fn := r.s.onRefused; fn != nil {
			func() {
				defer func() { _ = recover() }()
				fn(name)
			}()
		}
	})
	return false
}

// reserve counts one more metric or series against the cap; false when the
// cap is reached (the refusal is counted).
func (r *Registry) reserve() bool {
	for {
		n := r.made.Load()
		if n >= int64(r.s.maxMetrics) {
			r.refused.Add(1)
			return false
		}
		if r.made.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Refused returns how many metric names and tag sets were refused because
// the registry held [WithMaxMetrics] of them.
func (r *Registry) Refused() uint64 { return r.refused.Load() }

// Len returns the number of metrics and series that count against
// [WithMaxMetrics].
func (r *Registry) Len() int { return int(r.made.Load()) }

// CounterFunc registers a counter whose value is read(), for a count that
// its owner keeps anyway (a ring buffer's pushes, say): the hot path then
// pays nothing for the metric. read must be monotonic (it may wrap at 2^64)
// and safe for concurrent use; it is called by Value and snapshots, and by
// SetEnabled. It follows SetEnabled like any counter: while recording is
// off the value stays where it was, and what read() gains meanwhile is never
// shown. Add and Inc on it do nothing. It returns an error matching
// [ErrInvalidName] for an empty name or a name already taken by a counter,
// [ErrInvalid] for a nil read. A counter registered while recording is off
// shows read() as of its registration until recording resumes.
func (r *Registry) CounterFunc(name string, read func() uint64) (*Counter, error) {
	if read == nil {
		return nil, fmt.Errorf("metrics: counter %q: nil read func: %w", name, ErrInvalid)
	}
	if name == "" {
		return nil, fmt.Errorf("metrics: empty counter name: %w", ErrInvalidName)
	}
	fn := &counterFunc{read: read, on: &r.on}
	c := createExempt(r, r.counters, &r.counterList, name, func() *Counter {
		c := newCounter(name, &r.off, 1) // Add sees recording off: a no-op
		c.fn = fn
		if !r.on.Load() { // under r.mu, as SetEnabled
			fn.frozen = read()
		}
		return c
	})
	if c.fn != fn {
		return nil, fmt.Errorf("metrics: counter %q exists: %w", name, ErrInvalidName)
	}
	return c, nil
}

// create is the slow path of Counter, Gauge and Histogram: under r.mu, look
// the name up again (another goroutine may have made it meanwhile), else
// make the metric, append it to its list (what Snapshot walks) and publish
// it in the map (what the fast path loads).
func create[T any](r *Registry, m *xsync.MapOf[string, *T], list *[]*T, name string, mk func() *T) *T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := m.Load(name); ok {
		return v
	}
	if !r.reserveName(name) {
		return nil
	}
	v := mk()
	*list = append(*list, v)
	m.Store(name, v)
	return v
}

// createExempt is create without the cap (CounterFunc: counts its owner
// keeps anyway, registered by code, not by callers' names).
func createExempt[T any](r *Registry, m *xsync.MapOf[string, *T], list *[]*T, name string, mk func() *T) *T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := m.Load(name); ok {
		return v
	}
	v := mk()
	*list = append(*list, v)
	m.Store(name, v)
	return v
}

// Gauge returns the gauge named name, creating it on first use. An empty name
// is handled as in [Registry.Counter].
func (r *Registry) Gauge(name string) *Gauge {
	if g, ok := r.gauges.Load(name); ok {
		return g
	}
	return r.newGauge(name)
}

func (r *Registry) newGauge(name string) *Gauge {
	if name == "" {
		r.invalid.Add(1)
		return r.discardG
	}
	if g := create(r, r.gauges, &r.gaugeList, name, func() *Gauge { return newGauge(name, &r.on) }); g != nil {
		return g
	}
	return r.discardG
}

// Histogram returns the histogram named name, creating it on first use with
// the registry's geometry ([WithHistogramRange]). An empty name is handled as
// in [Registry.Counter].
func (r *Registry) Histogram(name string) *Histogram {
	if h, ok := r.histograms.Load(name); ok {
		return h
	}
	return r.newHistogram(name)
}

func (r *Registry) newHistogram(name string) *Histogram { return r.histogramUnit(name, NoUnit) }

// histogramUnit returns the histogram named name, creating it with unit u
// (a histogram that exists keeps its unit).
func (r *Registry) histogramUnit(name string, u Unit) *Histogram {
	if h, ok := r.histograms.Load(name); ok {
		return h
	}
	if name == "" {
		r.invalid.Add(1)
		return r.discardHistogram()
	}
	if v, ok := r.hvecs.Load(name); ok {
		return v.With(make([]string, len(v.v.desc.Tags))...)
	}
	h := create(r, r.histograms, &r.histogramList, name, func() *Histogram {
		h := newHistogram(name, &r.on, r.s.stripes, r.geom)
		h.unit = u
		return h
	})
	if h == nil {
		return r.discardHistogram()
	}
	return h
}

func (r *Registry) discardHistogram() *Histogram {
	r.discardHO.Do(func() { r.discardH = newHistogram("", &r.off, 1, r.geom) })
	return r.discardH
}

// CounterVec returns the labelled counter named name with the tag keys and
// caps of d, creating it on first use. The same name asked again with the
// same tags returns the same CounterVec. Errors match [ErrInvalidName] for
// an empty name, a name taken by a plain counter or by a CounterVec with
// other tags, or one refused by [WithMaxMetrics] (the vec and its overflow
// series count as one metric; each series counts as one more), and
// [ErrInvalid] for a bad d. [Registry.Counter] of the same name returns its
// series with every tag value "".
func (r *Registry) CounterVec(name string, d Desc) (*CounterVec, error) {
	if err := d.check(name); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.cvecs.Load(name); ok {
		if !slices.Equal(v.v.desc.Tags, d.Tags) {
			return nil, fmt.Errorf("%w: counter %q exists with tags %q", ErrInvalidName, name, v.v.desc.Tags)
		}
		return v, nil
	}
	if _, ok := r.counters.Load(name); ok {
		return nil, fmt.Errorf("%w: counter %q exists without tags", ErrInvalidName, name)
	}
	if !r.reserveName(name) {
		return nil, fmt.Errorf("%w: counter %q: the registry holds its maximum of %d metrics", ErrInvalidName, name, r.s.maxMetrics)
	}
	v := &CounterVec{newVec(r, name, KindCounter, d, func() *Counter { return newCounter(name, &r.on, r.s.stripes) })}
	r.vecMu.Lock()
	r.cvecList = append(r.cvecList, v)
	r.vecMu.Unlock()
	r.cvecs.Store(name, v)
	return v, nil
}

// HistogramVec returns the labelled histogram named name, as
// [Registry.CounterVec] does for counters. With no tags it is one series:
// the way to declare a plain histogram's unit.
func (r *Registry) HistogramVec(name string, d Desc) (*HistogramVec, error) {
	if err := d.check(name); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.hvecs.Load(name); ok {
		if !slices.Equal(v.v.desc.Tags, d.Tags) || v.v.desc.Unit != d.Unit {
			return nil, fmt.Errorf("%w: histogram %q exists with tags %q, unit %q", ErrInvalidName, name, v.v.desc.Tags, v.v.desc.Unit)
		}
		return v, nil
	}
	if _, ok := r.histograms.Load(name); ok {
		return nil, fmt.Errorf("%w: histogram %q exists without tags", ErrInvalidName, name)
	}
	if !r.reserveName(name) {
		return nil, fmt.Errorf("%w: histogram %q: the registry holds its maximum of %d metrics", ErrInvalidName, name, r.s.maxMetrics)
	}
	v := &HistogramVec{newVec(r, name, KindHistogram, d, func() *Histogram {
		h := newHistogram(name, &r.on, r.s.stripes, r.geom)
		h.unit = d.Unit
		return h
	})}
	r.vecMu.Lock()
	r.hvecList = append(r.hvecList, v)
	r.vecMu.Unlock()
	r.hvecs.Store(name, v)
	return v, nil
}

// Snapshot is every metric of a registry at one moment (each metric is read
// atomically; the set is not one atomic cut).
type Snapshot struct {
	// Time is the registry clock's reading, taken once per snapshot.
	Time       time.Time
	Counters   map[string]uint64
	Gauges     map[string]float64
	Histograms map[string]HistogramSnapshot
	// Dropped is the sum of the gauges' ignored updates ([Gauge.Dropped]:
	// NaN, ±Inf, overflow); nothing here is lost to a slow reader.
	Dropped uint64
	// InvalidNames counts the handles asked for with an empty name.
	InvalidNames uint64
	// Refused counts the names and tag sets refused by [WithMaxMetrics].
	Refused uint64
	// Series holds the series of the labelled metrics ([Registry.CounterVec],
	// [Registry.HistogramVec]), by metric in order of declaration, each
	// metric's series in order of creation, its overflow series last. The
	// slice is the caller's; Labels are shared and read-only.
	Series []Series
}

// Snapshot reads every metric. Histograms that changed since their last fold
// are folded again (see [Histogram.Snapshot]); the others cost a mutex and a
// copy. It allocates the three maps. Safe for concurrent use with everything.
func (r *Registry) Snapshot() Snapshot {
	return r.snapshotAt(r.s.clock.Now())
}

// template is the registry's own copy of the last snapshot's maps, with the
// values that went into them (by position in the lists). A snapshot writes
// into it only the metrics that changed, then returns clones: a map clone
// copies the table without hashing, where building a map hashes every name.
// The template is never handed out.
type template struct {
	counters   map[string]uint64
	gauges     map[string]float64
	histograms map[string]HistogramSnapshot
	lastC      []uint64
	lastG      []float64
	lastH      []HistogramSnapshot
}

func (r *Registry) snapshotAt(now time.Time) Snapshot {
	r.mu.Lock()
	cs, gs, hs := r.counterList, r.gaugeList, r.histogramList
	r.mu.Unlock()
	r.snapMu.Lock()
	defer r.snapMu.Unlock()
	t := &r.tmpl
	if t.counters == nil {
		t.counters = make(map[string]uint64, len(cs))
		t.gauges = make(map[string]float64, len(gs))
		t.histograms = make(map[string]HistogramSnapshot, len(hs))
	}
	s := Snapshot{Time: now, InvalidNames: r.invalid.Load(), Refused: r.refused.Load()}
	s.Series = r.series()
	for i, c := range cs {
		v := c.Value()
		if i == len(t.lastC) {
			t.lastC = append(t.lastC, v)
		} else if t.lastC[i] == v {
			continue
		}
		t.lastC[i] = v
		t.counters[c.name] = v
	}
	for i, g := range gs {
		v := g.Value()
		s.Dropped += g.Dropped()
		if i == len(t.lastG) {
			t.lastG = append(t.lastG, v)
		} else if math.Float64bits(t.lastG[i]) == math.Float64bits(v) {
			continue
		}
		t.lastG[i] = v
		t.gauges[g.name] = v
	}
	for i, h := range hs {
		v := h.Snapshot()
		if i == len(t.lastH) {
			t.lastH = append(t.lastH, v)
		} else if l := &t.lastH[i]; l.counts == v.counts && l.Clamped == v.Clamped {
			continue
		}
		t.lastH[i] = v
		t.histograms[h.name] = v
	}
	s.Counters = maps.Clone(t.counters)
	s.Gauges = maps.Clone(t.gauges)
	s.Histograms = maps.Clone(t.histograms)
	return s
}

// series reads every series of the labelled metrics.
func (r *Registry) series() []Series {
	r.vecMu.Lock()
	cv, hv := r.cvecList, r.hvecList
	r.vecMu.Unlock()
	var out []Series
	for _, v := range cv {
		for _, s := range v.v.all() {
			out = append(out, Series{Name: v.v.name, Kind: KindCounter, Labels: s.labels, Unit: v.v.desc.Unit,
				Overflow: s == v.v.overflow, Counter: s.m.Value()})
		}
	}
	for _, v := range hv {
		for _, s := range v.v.all() {
			out = append(out, Series{Name: v.v.name, Kind: KindHistogram, Labels: s.labels, Unit: v.v.desc.Unit,
				Overflow: s == v.v.overflow, Histogram: s.m.Snapshot()})
		}
	}
	return out
}
