package metrics

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
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
	clock     Clock
	onFailure func(HandlerFailure)
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

// Execute calls every handler attached to event, in the order they were
// attached, with event, m and md. It never blocks by itself, never panics
// (see [Dispatcher] for panicking handlers) and allocates nothing when no
// handler panics: one atomic load, one map lookup, the calls.
func (d *Dispatcher) Execute(event string, m Measurements, md Metadata) {
	t := d.tab.Load()
	if t == nil {
		return
	}
	for _, a := range t.byEvent[event] {
		d.call(a, event, m, md)
	}
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

// Span runs fn and emits, to the handlers attached to them:
//   - event+".start" before fn, measurements {"system_time": Unix ns}, metadata md;
//   - event+".stop" after fn returns, {"duration": ns}, md plus "error" when
//     fn returned a non-nil error (a copy: md itself is never modified);
//   - event+".exception" if fn panics (or calls runtime.Goexit), {"duration":
//     ns}, md plus "kind" ("panic" or "exit"), "reason" (the panic value) and
//     "stacktrace", and then panics again with the same value.
//
// It returns fn's error. When no handler is attached to any of the three
// events, Span just calls fn. A nil fn returns an error wrapping
// [ErrNilHandler]. The clock ([WithClock]) is read at start and end.
func (d *Dispatcher) Span(event string, md Metadata, fn func() error) error {
	if fn == nil {
		return fmt.Errorf("%w: span %q: nil function", ErrNilHandler, event)
	}
	names := d.load().spans[event]
	if names == nil {
		return fn()
	}
	clock := d.s.clock
	if clock == nil {
		clock = realClock{}
	}
	start := clock.Now()
	d.Execute(names.start, Measurements{"system_time": float64(start.UnixNano())}, md)
	returned := false
	defer func() {
		if returned {
			return
		}
		r := recover()
		kind := "panic"
		if r == nil {
			kind = "exit" // runtime.Goexit: nothing to recover
		}
		emd := withMetadata(md, 3)
		emd["kind"], emd["reason"], emd["stacktrace"] = kind, r, string(debug.Stack())
		d.Execute(names.exception, Measurements{"duration": float64(clock.Now().Sub(start))}, emd)
		if r != nil {
			panic(r)
		}
	}()
	err := fn()
	returned = true
	smd := md
	if err != nil {
		smd = withMetadata(md, 1)
		smd["error"] = err
	}
	d.Execute(names.stop, Measurements{"duration": float64(clock.Now().Sub(start))}, smd)
	return err
}

func withMetadata(md Metadata, extra int) Metadata {
	out := make(Metadata, len(md)+extra)
	for k, v := range md {
		out[k] = v
	}
	return out
}
