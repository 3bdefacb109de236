package prometheus

import (
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/elixirscope-go/foundation/metrics"
)

// Source is what a [Collector] reads on every scrape. A *metrics.Registry
// (for a Foundation, f.Telemetry().Registry()) is a Source; so is
// SourceFunc(f.Telemetry().Metrics).
type Source interface {
	Snapshot() metrics.Snapshot
}

// SourceFunc adapts a function to [Source].
type SourceFunc func() metrics.Snapshot

// Snapshot calls f.
func (f SourceFunc) Snapshot() metrics.Snapshot { return f() }

// Collector is a [prometheus.Collector] over the metrics of a [Source]. It
// is unchecked (Describe sends nothing), because the set of metric names
// grows while the program runs; the registry still checks every scrape for
// consistency.
//
// Collect is safe for concurrent use, with itself and with recording. It
// reads one snapshot per call (which never blocks recorders), looks the
// descriptors up in a copy-on-write cache without a lock, and holds no lock
// while it sends on the channel. The zero value is not usable; use [New].
type Collector struct {
	src Source
	s   settings
	// entries is the descriptor cache, by kind and foundation name. Readers
	// (Collect) Load it and never write it. Writers hold mu, copy the map,
	// add the names a scrape missed and Store the copy. A published map and
	// its entries are never modified, except entry.hist (atomic).
	entries atomic.Pointer[map[key]*entry]
	mu      sync.Mutex
	claimed map[string]key // sanitized name -> its owner; guarded by mu

	collisions atomic.Uint64
}

type kind uint8

const (
	kindCounter kind = iota
	kindGauge
	kindHistogram
)

func (k kind) String() string {
	return [...]string{"counter", "gauge", "histogram"}[k]
}

type key struct {
	kind kind
	name string
}

// entry is the immutable description of one exported metric.
type entry struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair // constant labels, shared read-only by every Write
	skip   bool             // its sanitized name collides with another metric's
	// scale converts recorded values to exported ones (1e-9 for a
	// histogram in nanoseconds exported in seconds, else 1).
	scale float64
	// Histograms only: classic bounds, and the conversion of the last
	// snapshot seen (reused while the histogram does not change).
	ubounds []float64
	ibounds []int64
	hist    atomic.Pointer[histCache]
}

// histCache is the conversion of one histogram snapshot. Snapshots of an
// unchanged histogram are equal (==: they share the fold's read-only
// counts, by pointer); holding the snapshot keeps that pointer from being
// reused.
type histCache struct {
	snap metrics.HistogramSnapshot
	h    *dto.Histogram
}

// New returns a collector of src's metrics. It returns an error wrapping
// [ErrInvalidOption] for a bad option (all of them, joined), and nothing is
// built. Register it with a prometheus.Registry (MustRegister) and serve
// that registry with promhttp.
func New(src Source, opts ...Option) (*Collector, error) {
	if src == nil {
		return nil, errors.New("prometheus: nil source")
	}
	c := &Collector{src: src, claimed: map[string]key{}}
	for _, o := range opts {
		if o != nil {
			o.apply(&c.s)
		}
	}
	if err := errors.Join(c.s.problems...); err != nil {
		return nil, err
	}
	c.entries.Store(&map[key]*entry{})
	return c, nil
}

// Collisions returns how many foundation metrics were left out of the
// export because their sanitized names collided with another metric's
// (for example "a.b" and "a_b", or a gauge "x_count" next to a histogram
// "x").
func (c *Collector) Collisions() uint64 { return c.collisions.Load() }

// Describe sends nothing: the collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads a snapshot of the source and sends one constant metric per
// counter, gauge and histogram in it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.src.Snapshot()
	m := *c.entries.Load()
	if missing := c.missing(m, snap); len(missing) > 0 {
		m = c.add(missing)
	}
	for name, v := range snap.Counters {
		if e := m[key{kindCounter, name}]; !e.skip {
			ch <- &counterMetric{e: e, v: float64(v)}
		}
	}
	for name, v := range snap.Gauges {
		if e := m[key{kindGauge, name}]; !e.skip {
			ch <- &gaugeMetric{e: e, v: v}
		}
	}
	for name, h := range snap.Histograms {
		if e := m[key{kindHistogram, name}]; !e.skip {
			ch <- &histogramMetric{e: e, h: c.histogram(e, &h)}
		}
	}
	for i := range snap.Series {
		sr := &snap.Series[i]
		k := key{kindCounter, sr.Name}
		if sr.Kind == metrics.KindHistogram {
			k.kind = kindHistogram
		}
		e := m[k]
		if e.skip {
			continue
		}
		values := make([]string, len(sr.Labels))
		for j, l := range sr.Labels {
			values[j] = l.Value
		}
		labels := prometheus.MakeLabelPairs(e.desc, values)
		if k.kind == kindCounter {
			ch <- &counterMetric{e: e, v: float64(sr.Counter), labels: labels}
		} else {
			ch <- &histogramMetric{e: e, h: c.convert(e, &sr.Histogram), labels: labels}
		}
	}
}

// pending is a metric a scrape found no entry for; lowest and highest are
// a histogram's geometry, from which its default bounds are computed.
type pending struct {
	key
	lowest, highest int64
	unit            metrics.Unit
	tags            []string // a labelled metric's tag keys
}

func (c *Collector) missing(m map[key]*entry, snap metrics.Snapshot) []pending {
	var out []pending
	for name := range snap.Counters {
		if _, ok := m[key{kindCounter, name}]; !ok {
			out = append(out, pending{key: key{kindCounter, name}})
		}
	}
	for name := range snap.Gauges {
		if _, ok := m[key{kindGauge, name}]; !ok {
			out = append(out, pending{key: key{kindGauge, name}})
		}
	}
	for name, h := range snap.Histograms {
		if _, ok := m[key{kindHistogram, name}]; !ok {
			out = append(out, pending{key: key{kindHistogram, name}, lowest: h.Lowest, highest: h.Highest, unit: h.Unit})
		}
	}
	for i := range snap.Series {
		sr := &snap.Series[i]
		k := key{kindCounter, sr.Name}
		if sr.Kind == metrics.KindHistogram {
			k.kind = kindHistogram
		}
		if _, ok := m[k]; ok || (len(out) > 0 && out[len(out)-1].key == k) {
			continue
		}
		tags := make([]string, len(sr.Labels))
		for j, l := range sr.Labels {
			tags[j] = l.Key
		}
		out = append(out, pending{key: k, lowest: sr.Histogram.Lowest, highest: sr.Histogram.Highest, unit: sr.Unit, tags: tags})
	}
	return out
}

// add builds the entries of the missing keys, in sorted order (so that the
// winner of a name collision does not depend on map order), and publishes a
// new cache.
func (c *Collector) add(missing []pending) map[key]*entry {
	slices.SortFunc(missing, func(a, b pending) int {
		if a.name != b.name {
			return strings.Compare(a.name, b.name)
		}
		return int(a.kind) - int(b.kind)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.entries.Load()
	next := make(map[key]*entry, len(old)+len(missing))
	for k, e := range old {
		next[k] = e
	}
	for _, p := range missing {
		if _, ok := next[p.key]; ok {
			continue // added by a concurrent scrape, or twice in missing
		}
		next[p.key] = c.newEntry(p)
	}
	c.entries.Store(&next)
	return next
}

// newEntry builds the entry of p; c.mu is held.
func (c *Collector) newEntry(p pending) *entry {
	k := p.key
	base := Sanitize(k.name)
	if c.s.namespace != "" {
		base = c.s.namespace + "_" + base
	}
	fq := base
	names := []string{fq} // every series name the metric produces
	switch k.kind {
	case kindCounter:
		fq = strings.TrimSuffix(base, "_total") + "_total"
		names = []string{fq}
	case kindHistogram:
		if p.unit == metrics.Nanoseconds && !c.s.rawUnits {
			fq = strings.TrimSuffix(base, "_seconds") + "_seconds"
		}
		names = []string{fq, fq + "_bucket", fq + "_sum", fq + "_count"}
	}
	for _, n := range names {
		if owner, ok := c.claimed[n]; ok && owner != k {
			c.collisions.Add(1)
			return &entry{skip: true}
		}
	}
	for _, n := range names {
		c.claimed[n] = k
	}
	help, ok := c.s.help[k.name]
	if !ok {
		help = "foundation " + k.kind.String() + " " + k.name
	}
	var varLabels []string
	for _, t := range p.tags {
		varLabels = append(varLabels, SanitizeLabel(t))
	}
	e := &entry{desc: prometheus.NewDesc(fq, help, varLabels, c.s.labels), scale: 1}
	if len(varLabels) == 0 {
		e.labels = prometheus.MakeLabelPairs(e.desc, nil)
	}
	if k.kind == kindHistogram {
		if p.unit == metrics.Nanoseconds && !c.s.rawUnits {
			e.scale = 1e-9
		}
		switch {
		case c.s.perHist[k.name] != nil:
			e.ubounds = c.s.perHist[k.name]
		case c.s.buckets != nil:
			e.ubounds = c.s.buckets
		default:
			e.ubounds = DefaultBounds(p.lowest, p.highest)
		}
		e.ibounds = make([]int64, len(e.ubounds))
		for i, b := range e.ubounds {
			e.ibounds[i] = floorInt(b)
		}
		if e.scale != 1 { // exported bounds in the exported unit
			scaled := make([]float64, len(e.ubounds))
			for i, b := range e.ubounds {
				scaled[i] = b * e.scale
			}
			e.ubounds = scaled
		}
	}
	return e
}

// SanitizeLabel returns name as a valid Prometheus label name: every
// character outside [a-zA-Z0-9_] becomes '_', and a name that is empty,
// starts with a digit or with "__" (reserved) gets a leading "t".
func SanitizeLabel(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 1)
	if name == "" || (name[0] >= '0' && name[0] <= '9') || strings.HasPrefix(name, "__") {
		b.WriteByte('t')
	}
	for _, r := range name {
		if r < 0x80 && r != ':' && validByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// histogram returns the conversion of h, reusing the previous one while h
// is unchanged.
func (c *Collector) histogram(e *entry, h *metrics.HistogramSnapshot) *dto.Histogram {
	if hc := e.hist.Load(); hc != nil && hc.snap == *h {
		return hc.h
	}
	out := c.convert(e, h)
	e.hist.Store(&histCache{snap: *h, h: out})
	return out
}

// convert converts h with e's bounds and scale.
func (c *Collector) convert(e *entry, h *metrics.HistogramSnapshot) *dto.Histogram {
	counts := h.CumulativeCounts(e.ibounds)
	buckets := make([]dto.Bucket, len(counts))
	out := &dto.Histogram{
		SampleCount: &h.Count,
		SampleSum:   new(h.Mean * float64(h.Count) * e.scale),
		Bucket:      make([]*dto.Bucket, len(counts)),
	}
	for i := range counts {
		buckets[i].CumulativeCount = &counts[i]
		buckets[i].UpperBound = &e.ubounds[i]
		out.Bucket[i] = &buckets[i]
	}
	if c.s.native {
		addNative(out, h.Buckets(), c.s.schema, e.scale)
	}
	return out
}

// floorInt returns floor(b) as an int64, saturated.
func floorInt(b float64) int64 {
	switch f := math.Floor(b); {
	case f >= math.MaxInt64: // 2^63 as a float64
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	default:
		return int64(f)
	}
}

// Sanitize returns name as a valid Prometheus metric name: every character
// outside [a-zA-Z0-9_:] becomes '_', and a name that is empty or starts with
// a digit gets a leading '_'. It does not add the namespace or _total.
func Sanitize(name string) string {
	ok := name != "" && (name[0] < '0' || name[0] > '9')
	for i := 0; ok && i < len(name); i++ {
		ok = validByte(name[i])
	}
	if ok {
		return name
	}
	var b strings.Builder
	b.Grow(len(name) + 1)
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		b.WriteByte('_')
	}
	for _, r := range name {
		if r < 0x80 && validByte(byte(r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func validByte(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// counterMetric, gaugeMetric and histogramMetric are throw-away metrics made
// by one Collect; they share their entry's descriptor and label pairs.
type counterMetric struct {
	e      *entry
	v      float64
	labels []*dto.LabelPair // a series' labels; nil: the entry's
}

func (m *counterMetric) Desc() *prometheus.Desc { return m.e.desc }

func (m *counterMetric) Write(out *dto.Metric) error {
	out.Label = m.e.labels
	if m.labels != nil {
		out.Label = m.labels
	}
	out.Counter = &dto.Counter{Value: &m.v}
	return nil
}

type gaugeMetric struct {
	e *entry
	v float64
}

func (m *gaugeMetric) Desc() *prometheus.Desc { return m.e.desc }

func (m *gaugeMetric) Write(out *dto.Metric) error {
	out.Label = m.e.labels
	out.Gauge = &dto.Gauge{Value: &m.v}
	return nil
}

type histogramMetric struct {
	e      *entry
	h      *dto.Histogram
	labels []*dto.LabelPair // a series' labels; nil: the entry's
}

func (m *histogramMetric) Desc() *prometheus.Desc { return m.e.desc }

func (m *histogramMetric) Write(out *dto.Metric) error {
	out.Label = m.e.labels
	if m.labels != nil {
		out.Label = m.labels
	}
	out.Histogram = m.h
	return nil
}
