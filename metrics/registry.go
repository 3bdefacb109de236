package metrics

import (
	"fmt"
	"maps"
	"math"
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

	invalid   atomic.Uint64 // handles asked for with an empty name
	off       atomic.Bool   // always false: the switch of the discard handles
	discardC  *Counter
	discardG  *Gauge
	discardHO sync.Once
	discardH  *Histogram
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
	return create(r, r.counters, &r.counterList, name, func() *Counter { return newCounter(name, &r.on, r.s.stripes) })
}

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
	c := create(r, r.counters, &r.counterList, name, func() *Counter {
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
	return create(r, r.gauges, &r.gaugeList, name, func() *Gauge { return newGauge(name, &r.on) })
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

func (r *Registry) newHistogram(name string) *Histogram {
	if name == "" {
		r.invalid.Add(1)
		r.discardHO.Do(func() { r.discardH = newHistogram("", &r.off, 1, r.geom) })
		return r.discardH
	}
	return create(r, r.histograms, &r.histogramList, name, func() *Histogram {
		return newHistogram(name, &r.on, r.s.stripes, r.geom)
	})
}

// Snapshot is every metric of a registry at one moment (each metric is read
// atomically; the set is not one atomic cut).
type Snapshot struct {
	// Time is the registry clock's reading, taken once per snapshot.
	Time       time.Time
	Counters   map[string]uint64
	Gauges     map[string]float64
	Histograms map[string]HistogramSnapshot
	// Dropped is the sum of the gauges' dropped updates (NaN, ±Inf).
	Dropped uint64
	// InvalidNames counts the handles asked for with an empty name.
	InvalidNames uint64
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
	s := Snapshot{Time: now, InvalidNames: r.invalid.Load()}
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
