package metrics

import (
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/puzpuzpuz/xsync/v3"
)

// Measurements are the numeric values of an event, by name.
type Measurements = map[string]float64

// Metadata is the context of an event, by name.
type Metadata = map[string]any

// Handler receives the events it is attached to. It runs on the goroutine
// that calls [Dispatcher.Execute], synchronously: a slow handler slows the
// caller. It must not modify m or md, which are shared with the other
// handlers and the caller. A handler that panics is detached (see
// [Dispatcher]).
type Handler func(event string, m Measurements, md Metadata)

// FailureEvent is the event that [Dispatcher] executes when it detaches a
// handler that panicked. Its metadata: "handler_id" (string), "event_name"
// (string: the event being handled), "reason" (the panic value) and
// "stacktrace" (string).
const FailureEvent = "telemetry.handler.failure"

// HandlerFailure describes a handler that panicked and was detached; see
// [OnFailure].
type HandlerFailure struct {
	HandlerID string
	Event     string
	Reason    any
	Stack     []byte
}

type dispatcherSettings struct {
	clock     clock.Clock
	onFailure func(HandlerFailure)
	reg       *Registry
}

// Recording makes a dispatcher feed r with the measurements of every
// event it executes (see [Dispatcher.Execute]).
func Recording(r *Registry) DispatcherOption {
	return dispatcherOptionFunc(func(s *dispatcherSettings) { s.reg = r })
}

// OnFailure sets a function called, after the handler is detached and before
// [FailureEvent] is executed, for every handler that panicked (e.g. to log
// it). A panic in fn is recovered and ignored.
func OnFailure(fn func(HandlerFailure)) DispatcherOption {
	return dispatcherOptionFunc(func(s *dispatcherSettings) { s.onFailure = fn })
}

// Dispatcher calls handlers by event name, in the manner of Erlang's
// :telemetry: [Dispatcher.Attach] a handler under a unique id to a list of
// event names, [Dispatcher.Execute] an event, [Dispatcher.Detach] the id.
//
// All methods are safe for concurrent use. Execute takes no lock: it loads an
// immutable table with one atomic load and calls the handlers found in it.
// Attach and Detach serialize on a mutex, copy the table and publish the copy,
// so an Execute that loaded the table just before a Detach may still call
// the detached handler once.
//
// A handler that panics is detached, the panic is recovered, [OnFailure]'s
// function is called and [FailureEvent] is executed; the caller of Execute
// continues with the next handler, unharmed. The zero value is ready to use
// (system clock, no failure hook); a Dispatcher must not be copied.
type Dispatcher struct {
	_ noCopy
	// tab is the published table. Writers (Attach, Detach, failures) hold
	// mu, build a new table from the loaded one and Store it; readers Load it
	// and never write it. A published table is never mutated.
	tab atomic.Pointer[table]
	mu  sync.Mutex
	s   dispatcherSettings

	// entries holds the prepared dispatch entry of each event name, at
	// most maxEntries of them (see entry).
	entriesOnce sync.Once
	entries     *xsync.MapOf[string, *entry]
	nentries    atomic.Int64
	dropped     atomic.Uint64
	spanIDs     atomic.Uint64
	baseOnce    sync.Once
	base        time.Time // the zero of monotonic_time

	// names caches entries by the address of the name's bytes: a caller
	// that passes the same string (a constant, a name kept in a variable)
	// finds its entry with no hashing, by comparing a pointer and a
	// length; the same address and length are the same bytes, as strings
	// are immutable and the cached string keeps its bytes alive. Writers:
	// an Execute that missed fills an empty slot or one whose entry is
	// stale (its table is no longer published); readers Load. A slot holds
	// the first name that filled it until it goes stale; other names of
	// the slot use the map.
	names [nameSlots]atomic.Pointer[namedEntry]
}

const nameSlots = 256

type namedEntry struct {
	name string
	e    *entry
}

type attachment struct {
	id     string
	events []string
	h      Handler
}

type table struct {
	byEvent map[string][]*attachment
	byID    map[string]*attachment
	// spans maps an event prefix to its span names when a handler is
	// attached to prefix+".start", ".stop" or ".exception".
	spans map[string]*spanNames
}

type spanNames struct{ start, stop, exception string }

var emptyTable = &table{}

// NewDispatcher returns a dispatcher with no handlers.
func NewDispatcher(opts ...DispatcherOption) *Dispatcher {
	d := &Dispatcher{}
	for _, o := range opts {
		if o != nil {
			o.applyDispatcher(&d.s)
		}
	}
	return d
}

// now reads the dispatcher's clock; a zero Dispatcher's is the system's.
func (d *Dispatcher) now() time.Time {
	if c := d.s.clock; c != nil {
		return c.Now()
	}
	return time.Now()
}

func (d *Dispatcher) load() *table {
	if t := d.tab.Load(); t != nil {
		return t
	}
	return emptyTable
}

// Attach attaches h under id to every event in events (duplicates are
// ignored; h is called once per Execute). It returns an error wrapping
// [ErrInvalidName] for an empty id, an empty list or an empty event name,
// [ErrNilHandler] for a nil h, and [ErrHandlerExists] when id is attached.
// It allocates a new table: O(handlers).
func (d *Dispatcher) Attach(id string, events []string, h Handler) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty handler id", ErrInvalidName)
	case len(events) == 0:
		return fmt.Errorf("%w: handler %q: no events", ErrInvalidName, id)
	case h == nil:
		return fmt.Errorf("%w: handler %q", ErrNilHandler, id)
	}
	seen := make(map[string]bool, len(events))
	evs := make([]string, 0, len(events))
	for _, e := range events {
		if e == "" {
			return fmt.Errorf("%w: handler %q: empty event name", ErrInvalidName, id)
		}
		if !seen[e] {
			seen[e] = true
			evs = append(evs, e)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.load()
	if _, ok := old.byID[id]; ok {
		return fmt.Errorf("%w: %q", ErrHandlerExists, id)
	}
	a := &attachment{id: id, events: evs, h: h}
	d.tab.Store(rebuild(old, a, nil))
	return nil
}

// Detach detaches the handler attached under id, or returns an error wrapping
// [ErrNotFound].
func (d *Dispatcher) Detach(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.load()
	a, ok := old.byID[id]
	if !ok {
		return fmt.Errorf("%w: handler %q", ErrNotFound, id)
	}
	d.tab.Store(rebuild(old, nil, a))
	return nil
}

// detach removes a if it is still the attachment under its id; it reports
// whether it did.
func (d *Dispatcher) detach(a *attachment) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.load()
	if old.byID[a.id] != a {
		return false
	}
	d.tab.Store(rebuild(old, nil, a))
	return true
}

// rebuild returns a copy of old with add attached and del removed.
func rebuild(old *table, add, del *attachment) *table {
	t := &table{
		byEvent: make(map[string][]*attachment, len(old.byEvent)+1),
		byID:    make(map[string]*attachment, len(old.byID)+1),
		spans:   make(map[string]*spanNames),
	}
	for id, a := range old.byID {
		if a != del {
			t.byID[id] = a
		}
	}
	if add != nil {
		t.byID[add.id] = add
	}
	for ev, as := range old.byEvent {
		var kept []*attachment
		for _, a := range as {
			if a != del {
				kept = append(kept, a)
			}
		}
		if len(kept) > 0 {
			t.byEvent[ev] = kept
		}
	}
	if add != nil {
		for _, ev := range add.events {
			t.byEvent[ev] = append(t.byEvent[ev][:len(t.byEvent[ev]):len(t.byEvent[ev])], add)
		}
	}
	for ev := range t.byEvent {
		for _, suffix := range [...]string{".start", ".stop", ".exception"} {
			if len(ev) > len(suffix) && ev[len(ev)-len(suffix):] == suffix {
				p := ev[:len(ev)-len(suffix)]
				t.spans[p] = &spanNames{start: p + ".start", stop: p + ".stop", exception: p + ".exception"}
			}
		}
	}
	return t
}

// Handlers returns the number of handlers attached to event: callers skip
// building measurements when it is 0. One atomic load and one map lookup.
func (d *Dispatcher) Handlers(event string) int { return len(d.load().byEvent[event]) }

// Dropped returns how many measurements and events Execute dropped: an
// empty event name, a NaN measurement, a gauge of ±Inf, a counter
// measurement that is not a whole number in [0, 2^53].
func (d *Dispatcher) Dropped() uint64 { return d.dropped.Load() }

// entry is the prepared dispatch of one event name: the handlers attached
// to it in the table tab, and the metrics its measurements feed. Execute
// uses it while tab is the published table; an Attach or Detach publishes
// a new table, and the next Execute prepares a new entry (sharing rec).
type entry struct {
	tab      *table
	handlers []*attachment
	rec      *recorder
	temp     bool // beyond the cap of entries: not kept
}

// recorder binds the measurement keys of one event name to metrics, on
// first use of each key; its fields are set once and never change.
type recorder struct {
	name    string
	counter atomic.Pointer[counterSink]
	gauge   atomic.Pointer[Gauge]
	keys    atomic.Pointer[[]keySink] // copy-on-write, appended under mu
	mu      sync.Mutex
	span    atomic.Pointer[spanNames]
	// shape is the keys of the first measurement map recorded (at most
	// maxShape) with their sinks, bound: an Execute with a map of those
	// keys looks each one up in the map instead of ranging over it, and
	// finds its sink with no search. Set once.
	shape atomic.Pointer[shape]
}

const maxShape = 8

type shape struct {
	sinks []sink
}

type sinkKind uint8

const (
	sinkCounter sinkKind = iota
	sinkGauge
	sinkHistogram
	sinkSkip
)

type sink struct {
	key  string
	kind sinkKind
	c    *Counter // sinkCounter, when the counter has no tags
	ks   keySink  // sinkHistogram
}

type counterSink struct {
	c   *Counter
	vec *CounterVec
}

type keySink struct {
	key  string
	h    *Histogram
	vec  *HistogramVec
	skip bool // a timestamp: monotonic_time, system_time
}

// maxEntries caps the prepared entries: the registry's metric cap, or
// DefaultMaxMetrics without a registry.
func (d *Dispatcher) maxEntries() int64 {
	if d.s.reg != nil {
		return int64(d.s.reg.s.maxMetrics)
	}
	return DefaultMaxMetrics
}

// entry returns the prepared entry of event for the table t. Beyond the
// cap of entries it returns a throw-away entry (an Execute of a name never
// seen before then costs allocations, and its metrics are capped by the
// registry).
func (d *Dispatcher) entry(event string, t *table) *entry {
	d.entriesOnce.Do(func() { d.entries = xsync.NewMapOf[string, *entry]() })
	if e, ok := d.entries.Load(event); ok && e.tab == t {
		return e
	}
	return d.prepare(event, t)
}

func (d *Dispatcher) prepare(event string, t *table) *entry {
	if _, ok := d.entries.Load(event); !ok && d.nentries.Load() >= d.maxEntries() {
		return &entry{tab: t, handlers: t.byEvent[event], rec: &recorder{name: event}, temp: true}
	}
	e, _ := d.entries.Compute(event, func(old *entry, loaded bool) (*entry, bool) {
		if loaded && old.tab == t {
			return old, false
		}
		n := &entry{tab: t, handlers: t.byEvent[event]}
		if loaded {
			n.rec = old.rec
		} else {
			n.rec = &recorder{name: event}
			d.nentries.Add(1)
		}
		return n, false
	})
	return e
}

// Execute calls every handler attached to event, in the order they were
// attached, with event, m and md. It never blocks by itself and never
// panics (see [Dispatcher] for panicking handlers).
//
// With [Recording], the measurements first feed the registry, as
// :telemetry's metrics reporters do:
//   - "counter" adds to the counter named event. It takes whole numbers in
//     [0, 2^53] only: a fractional, negative, non-finite or larger value is
//     dropped and counted ([Dispatcher.Dropped]), never rounded.
//   - "gauge" sets the gauge named event (NaN and ±Inf are dropped).
//   - "monotonic_time" and "system_time" are timestamps, not recorded.
//   - every other key records its value in the histogram event+"."+key,
//     truncated to an integer; NaN is dropped, a value below 0 or above the
//     histogram's range (±Inf too) is clamped to the nearest end and counted
//     ([HistogramSnapshot.Clamped]).
//
// When the counter or a histogram is declared with tags
// ([Registry.CounterVec], [Registry.HistogramVec]), the series is picked by
// the values of md under the tag keys (a missing key is ""; strings as
// they are, integers, floats and bools formatted by strconv, others by
// fmt).
//
// The name is resolved once to a prepared entry (handlers and metric
// handles); after that, Execute costs one map lookup by name, no lookup per
// key, and allocates nothing (a tag value that fmt formats aside).
func (d *Dispatcher) Execute(event string, m Measurements, md Metadata) {
	if event == "" {
		d.dropped.Add(1)
		return
	}
	t := d.load()
	if d.s.reg == nil {
		for _, a := range t.byEvent[event] {
			d.call(a, event, m, md)
		}
		return
	}
	// The entry by the name's address (see Dispatcher.names), else by
	// name.
	p := uintptr(unsafe.Pointer(unsafe.StringData(event)))
	var e *entry
	if c := d.names[(p>>3^p>>11^uintptr(len(event)))&(nameSlots-1)].Load(); c != nil &&
		unsafe.StringData(c.name) == unsafe.StringData(event) && len(c.name) == len(event) && c.e.tab == t {
		e = c.e
	} else {
		e = d.named(event, t)
	}
	if len(m) > 0 && d.s.reg.on.Load() {
		d.record(e.rec, m, md)
	}
	for _, a := range e.handlers {
		d.call(a, event, m, md)
	}
}

// named returns the entry of event for t through the address cache (see
// Dispatcher.names), else through entry.
func (d *Dispatcher) named(event string, t *table) *entry {
	p := uintptr(unsafe.Pointer(unsafe.StringData(event)))
	slot := &d.names[(p>>3^p>>11^uintptr(len(event)))&(nameSlots-1)]
	c := slot.Load()
	if c != nil && unsafe.StringData(c.name) == unsafe.StringData(event) && len(c.name) == len(event) && c.e.tab == t {
		return c.e
	}
	e := d.entry(event, t)
	if !e.temp && (c == nil || c.e.tab != t) {
		slot.CompareAndSwap(c, &namedEntry{name: event, e: e})
	}
	return e
}

func (d *Dispatcher) record(rec *recorder, m Measurements, md Metadata) {
	sh := rec.shape.Load()
	if sh == nil || len(sh.sinks) != len(m) {
		d.recordSlow(rec, m, md, nil)
		return
	}
	// The shape's keys are distinct and as many as m's: if each is in m,
	// they are m's keys. At the first one missing, the keys recorded so far
	// are skipped by the slow path.
	for i := range sh.sinks {
		s := &sh.sinks[i]
		v, ok := m[s.key]
		if !ok {
			d.recordSlow(rec, m, md, sh.sinks[:i])
			return
		}
		switch s.kind {
		case sinkCounter:
			if s.c != nil && v >= 0 && v <= 1<<53 && float64(uint64(v)) == v { // whole, in [0, 2^53]
				s.c.add(uint64(v)) // Execute read the registry's switch: skip the handle's (the same)
			} else {
				d.addCounter(rec, v, md)
			}
		case sinkHistogram:
			if h := s.ks.h; h != nil && v >= 0 && v <= float64(h.g.highest) {
				h.add(int64(v), 1) // in range, switch read by Execute
			} else {
				d.recordHistogram(&s.ks, v, md)
			}
		case sinkGauge:
			d.setGauge(rec, v)
		}
	}
}

// recordOne records v into a bound sink.
func (d *Dispatcher) recordOne(rec *recorder, s sink, v float64, md Metadata) {
	switch s.kind {
	case sinkCounter:
		d.addCounter(rec, v, md)
	case sinkGauge:
		d.setGauge(rec, v)
	case sinkHistogram:
		d.recordHistogram(&s.ks, v, md)
	}
}

func (d *Dispatcher) addCounter(rec *recorder, v float64, md Metadata) {
	if !(v >= 0 && v <= 1<<53 && v == math.Trunc(v)) { // NaN fails every comparison
		d.dropped.Add(1)
		return
	}
	cs := rec.counter.Load()
	if cs == nil {
		cs = d.bindCounter(rec)
	}
	if cs.vec != nil {
		seriesFor(cs.vec.v, md).Add(uint64(v))
	} else {
		cs.c.Add(uint64(v))
	}
}

func (d *Dispatcher) setGauge(rec *recorder, v float64) {
	if v-v != 0 {
		d.dropped.Add(1)
		return
	}
	g := rec.gauge.Load()
	if g == nil {
		g = d.s.reg.Gauge(rec.name)
		rec.gauge.Store(g)
	}
	g.Set(v)
}

func (d *Dispatcher) recordHistogram(ks *keySink, v float64, md Metadata) {
	var x int64
	switch {
	case v != v: // NaN
		d.dropped.Add(1)
		return
	case v < 0:
		x = -1 // clamped to 0 and counted by Record
	case v >= 1<<63:
		x = math.MaxInt64 // clamped to the highest value and counted
	default:
		x = int64(v)
	}
	if ks.vec != nil {
		seriesFor(ks.vec.v, md).Record(x)
	} else {
		ks.h.Record(x)
	}
}

// recordSlow ranges over m, skipping the keys of done (recorded already),
// and binds the shape of m if the recorder has none yet.
func (d *Dispatcher) recordSlow(rec *recorder, m Measurements, md Metadata, done []sink) {
	var sh *shape
	if rec.shape.Load() == nil && len(m) <= maxShape {
		sh = &shape{sinks: make([]sink, 0, len(m))}
	}
next:
	for k, v := range m {
		for i := range done {
			if done[i].key == k {
				continue next
			}
		}
		s := sink{key: k}
		switch k {
		case "counter":
			s.kind = sinkCounter
			cs := rec.counter.Load()
			if cs == nil {
				cs = d.bindCounter(rec)
			}
			s.c = cs.c
		case "gauge":
			s.kind = sinkGauge
		default:
			s.ks = rec.key(d.s.reg, k)
			if s.ks.skip {
				s.kind = sinkSkip
			} else {
				s.kind = sinkHistogram
			}
		}
		if sh != nil {
			sh.sinks = append(sh.sinks, s)
		}
		d.recordOne(rec, s, v, md)
	}
	if sh != nil {
		rec.shape.CompareAndSwap(nil, sh)
	}
}

func (d *Dispatcher) bindCounter(rec *recorder) *counterSink {
	cs := &counterSink{}
	if v, ok := d.s.reg.cvecs.Load(rec.name); ok {
		cs.vec = v
	} else {
		cs.c = d.s.reg.Counter(rec.name)
	}
	if !rec.counter.CompareAndSwap(nil, cs) {
		cs = rec.counter.Load()
	}
	return cs
}

// key returns the sink of measurement key k, binding it on first use.
func (rec *recorder) key(r *Registry, k string) keySink {
	if p := rec.keys.Load(); p != nil {
		for _, ks := range *p {
			if ks.key == k {
				return ks
			}
		}
	}
	return rec.bindKey(r, k)
}

func (rec *recorder) bindKey(r *Registry, k string) keySink {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var old []keySink
	if p := rec.keys.Load(); p != nil {
		old = *p
		for _, ks := range old {
			if ks.key == k {
				return ks
			}
		}
	}
	ks := keySink{key: k}
	switch k {
	case "monotonic_time", "system_time":
		ks.skip = true
	default:
		name := rec.name + "." + k
		if v, ok := r.hvecs.Load(name); ok {
			ks.vec = v
		} else {
			unit := NoUnit
			if k == "duration" {
				unit = Nanoseconds
			}
			ks.h = r.histogramUnit(name, unit)
		}
	}
	if len(old) >= MaxTags*4 { // a name fed ever new keys: bind, don't cache
		return ks
	}
	next := append(old[:len(old):len(old)], ks)
	rec.keys.Store(&next)
	return ks
}

// tagKey writes the values of md under tags into buf, joined as a vec's
// series key.
func tagKey(buf []byte, tags []string, md Metadata) []byte {
	for i, t := range tags {
		if i > 0 {
			buf = append(buf, sep...)
		}
		buf = appendTag(buf, md[t])
	}
	return buf
}

func appendTag(buf []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return buf
	case string:
		return append(buf, x...)
	case int:
		return strconv.AppendInt(buf, int64(x), 10)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case int32:
		return strconv.AppendInt(buf, int64(x), 10)
	case uint:
		return strconv.AppendUint(buf, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(buf, x, 10)
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10)
	case bool:
		return strconv.AppendBool(buf, x)
	case float64:
		return strconv.AppendFloat(buf, x, 'g', -1, 64)
	case fmt.Stringer:
		return append(buf, x.String()...)
	case error:
		return append(buf, x.Error()...)
	default:
		return fmt.Append(buf, x)
	}
}

func tagValues(tags []string, md Metadata) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = string(appendTag(nil, md[t]))
	}
	return out
}

// seriesFor finds (or creates, within the vec's cap) the series of v for
// md's tag values. With one tag whose value is a string, that string is the
// key and nothing is built; otherwise the key is built in a stack buffer.
func seriesFor[T any](v *vec[T], md Metadata) *T {
	if tags := v.desc.Tags; len(tags) == 1 {
		if s, ok := md[tags[0]].(string); ok { // one string tag: its value is the key
			if m := (*v.series.Load())[s]; m != nil {
				return m.m
			}
		}
	}
	var buf [256]byte
	k := tagKey(buf[:0], v.desc.Tags, md)
	if m := v.lookup(k); m != nil {
		return m
	}
	return v.create(string(k), tagValues(v.desc.Tags, md))
}

func (d *Dispatcher) call(a *attachment, event string, m Measurements, md Metadata) {
	defer func() {
		if r := recover(); r != nil {
			d.fail(a, event, r)
		}
	}()
	a.h(event, m, md)
}

// fail is the outlined slow path of a panicking handler.
func (d *Dispatcher) fail(a *attachment, event string, reason any) {
	stack := debug.Stack()
	if !d.detach(a) {
		return // another goroutine detached it (and reported it) first
	}
	if fn := d.s.onFailure; fn != nil {
		func() {
			defer func() { _ = recover() }()
			fn(HandlerFailure{HandlerID: a.id, Event: event, Reason: reason, Stack: stack})
		}()
	}
	d.Execute(FailureEvent, Measurements{}, Metadata{
		"handler_id": a.id, "event_name": event, "reason": reason, "stacktrace": string(stack),
	})
}

// SpanContext is the value of the metadata key "telemetry_span_context"
// that ties the start, stop and exception events of one span (unique per
// dispatcher).
type SpanContext uint64

// Span runs fn and emits, in the manner of :telemetry.span:
//   - event+".start" before fn, with the measurements "monotonic_time" and
//     "system_time" (ns; timestamps, not recorded as distributions) and md
//     plus "telemetry_span_context";
//   - event+".stop" after fn returns, with "duration" and "monotonic_time"
//     (ns) and the start's metadata, plus "error" when fn returned a
//     non-nil error;
//   - event+".exception" if fn panics or calls runtime.Goexit, with
//     "duration" and "monotonic_time" and the start's metadata plus "kind"
//     ("panic" or "exit"), "reason" (the panic value, nil for an exit) and
//     "stacktrace" (string); then the panic goes on with the same value (or
//     the goroutine goes on exiting).
//
// md itself is never modified. Each event goes through [Dispatcher.Execute]
// (so with [Recording], the stop's duration is recorded in the histogram
// event+".stop.duration", in [Nanoseconds]). It returns fn's error. When no
// registry records and no handler is attached to any of the three events,
// Span just calls fn. A nil fn returns an error wrapping [ErrNilHandler].
// The clock ([WithClock]) is read at start and end.
func (d *Dispatcher) Span(event string, md Metadata, fn func() error) error {
	if fn == nil {
		return fmt.Errorf("%w: span %q: nil function", ErrNilHandler, event)
	}
	if event == "" {
		d.dropped.Add(1)
		return fn()
	}
	t := d.load()
	var names *spanNames
	if d.s.reg != nil {
		rec := d.named(event, t).rec
		if names = rec.span.Load(); names == nil {
			names = &spanNames{start: event + ".start", stop: event + ".stop", exception: event + ".exception"}
			rec.span.Store(names)
		}
	} else if names = t.spans[event]; names == nil {
		return fn()
	}
	d.baseOnce.Do(func() { d.base = d.now() })
	smd := withMetadata(md, 4)
	smd["telemetry_span_context"] = SpanContext(d.spanIDs.Add(1))
	start := d.now()
	d.Execute(names.start, Measurements{
		"monotonic_time": float64(start.Sub(d.base)), "system_time": float64(start.UnixNano()),
	}, smd)
	returned := false
	defer func() {
		if returned {
			return
		}
		r := recover()
		kind := "panic"
		if r == nil {
			kind = "exit" // runtime.Goexit: nothing to recover (panic(nil) recovers a *runtime.PanicNilError)
		}
		end := d.now()
		emd := withMetadata(smd, 3)
		emd["kind"], emd["reason"], emd["stacktrace"] = kind, r, string(debug.Stack())
		d.Execute(names.exception, Measurements{
			"duration": float64(end.Sub(start)), "monotonic_time": float64(end.Sub(d.base)),
		}, emd)
		if r != nil {
			panic(r)
		}
	}()
	err := fn()
	returned = true
	end := d.now()
	if err != nil {
		smd = withMetadata(smd, 1)
		smd["error"] = err
	}
	d.Execute(names.stop, Measurements{
		"duration": float64(end.Sub(start)), "monotonic_time": float64(end.Sub(d.base)),
	}, smd)
	return err
}

func withMetadata(md Metadata, extra int) Metadata {
	out := make(Metadata, len(md)+extra)
	for k, v := range md {
		out[k] = v
	}
	return out
}
