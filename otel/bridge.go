package otel

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/elixirscope-go/foundation/metrics"
)

// Metadata keys the bridge reads; it never writes metadata.
const (
	// SpanRefKey holds a *[SpanRef] that correlates a span's start and stop
	// events (see [SpanBridge]).
	SpanRefKey = "otel.span_ref"
	// ContextKey holds a context.Context whose span becomes the parent of
	// the bridged span (when there is no SpanRef, which carries its own).
	ContextKey = "otel.context"
)

// Attacher is what [SpanBridge.Attach] attaches to: a
// *foundation.Telemetry or a *metrics.Dispatcher.
type Attacher interface {
	Attach(id string, names []string, h metrics.Handler) error
}

// SpanBridge turns the events of Telemetry spans into OpenTelemetry spans.
// Its [SpanBridge.Handle] is a telemetry handler for the events name.start,
// name.stop and name.exception; the OpenTelemetry span is named name.
//
// A start is matched with its stop in one of two ways, neither of which
// depends on goroutines or on a shared table, so both are correct under any
// concurrency:
//
//   - Live spans. The caller puts a *[SpanRef] in the metadata under
//     [SpanRefKey] (see [WithSpanRef]). On name.start the bridge starts the
//     span, as a child of the SpanRef's parent context, and stores it in the
//     SpanRef; on name.stop or name.exception (whose metadata carries the
//     same SpanRef, since Span copies metadata by value) it ends that span.
//     While fn runs, [SpanRef.Context] returns a context holding the span,
//     so that fn's own spans, and outgoing requests, are its children.
//   - Spans after the fact. Without a SpanRef, the start event is ignored
//     and the span is made on name.stop or name.exception alone: it starts
//     at the stop time minus the "duration" measurement and ends at the
//     stop time. The parent is the context under [ContextKey], if any. The
//     trace is the same; only fn cannot see the span while it runs.
//
// Metadata entries become span attributes (strings, booleans, integers,
// floats and their slices as such, an error or fmt.Stringer as its text,
// anything else formatted with %v), except the keys above and the ones
// Span adds: "telemetry_span_context" (it ties the events, not an
// attribute), "error" (recorded with RecordError, status Error), and on
// name.exception "kind", "reason" and "stacktrace", which become an
// "exception" span event (exception.type, exception.message,
// exception.stacktrace) with status Error. Measurements are not attributes.
//
// Handle is safe for concurrent use and keeps no state of its own. The zero
// value is not usable; use [NewSpanBridge].
type SpanBridge struct {
	tracer trace.Tracer
}

// NewSpanBridge returns a bridge that makes its spans with tp's tracer named
// [ScopeName]. A nil tp is an error wrapping [ErrInvalidOption].
func NewSpanBridge(tp trace.TracerProvider) (*SpanBridge, error) {
	if tp == nil {
		return nil, fmt.Errorf("%w: nil TracerProvider", ErrInvalidOption)
	}
	return &SpanBridge{tracer: tp.Tracer(ScopeName)}, nil
}

// Attach attaches [SpanBridge.Handle] under id to the three events of each
// span name in spans (name.start, name.stop, name.exception). It returns
// t's error (for a Foundation, one matching ErrHandlerExists when id is
// taken).
func (b *SpanBridge) Attach(t Attacher, id string, spans ...string) error {
	names := make([]string, 0, 3*len(spans))
	for _, s := range spans {
		names = append(names, s+".start", s+".stop", s+".exception")
	}
	return t.Attach(id, names, b.Handle)
}

// Handle is the telemetry handler: see [SpanBridge]. Events whose names do
// not end in .start, .stop or .exception are ignored.
func (b *SpanBridge) Handle(event string, m metrics.Measurements, md metrics.Metadata) {
	name, phase, ok := split(event)
	if !ok {
		return
	}
	ref, _ := md[SpanRefKey].(*SpanRef)
	if phase == phaseStart {
		if ref != nil {
			ref.start(b.tracer, name, md)
		}
		return
	}
	var span trace.Span
	if ref != nil {
		span = ref.take()
	}
	var endOpts []trace.SpanEndOption
	if span == nil {
		end := time.Now()
		parent := context.Background()
		if ref != nil {
			parent = ref.parent
		} else if ctx, ok := md[ContextKey].(context.Context); ok && ctx != nil {
			parent = ctx
		}
		start := end.Add(-time.Duration(m["duration"]))
		_, span = b.tracer.Start(parent, name, trace.WithTimestamp(start), trace.WithAttributes(attributes(md)...))
		endOpts = append(endOpts, trace.WithTimestamp(end))
	}
	if phase == phaseException {
		recordException(span, md)
	} else if err, ok := md["error"].(error); ok && err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End(endOpts...)
}

type phase uint8

const (
	phaseStart phase = iota
	phaseStop
	phaseException
)

func split(event string) (name string, p phase, ok bool) {
	if name, ok = strings.CutSuffix(event, ".start"); ok {
		return name, phaseStart, true
	}
	if name, ok = strings.CutSuffix(event, ".stop"); ok {
		return name, phaseStop, true
	}
	if name, ok = strings.CutSuffix(event, ".exception"); ok {
		return name, phaseException, true
	}
	return "", 0, false
}

func recordException(span trace.Span, md metrics.Metadata) {
	reason := md["reason"]
	typ := fmt.Sprintf("%T", reason)
	if reason == nil {
		typ = fmt.Sprint(md["kind"]) // "exit": runtime.Goexit
	}
	msg := fmt.Sprint(reason)
	if reason == nil {
		msg = typ
	}
	attrs := []attribute.KeyValue{
		attribute.String("exception.type", typ),
		attribute.String("exception.message", msg),
	}
	if st, ok := md["stacktrace"].(string); ok {
		attrs = append(attrs, attribute.String("exception.stacktrace", st))
	}
	span.AddEvent("exception", trace.WithAttributes(attrs...))
	span.SetStatus(codes.Error, msg)
}

// attributes converts metadata to span attributes, skipping the keys the
// bridge and Span use.
func attributes(md metrics.Metadata) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(md))
	for k, v := range md {
		switch k {
		case SpanRefKey, ContextKey, "error", "kind", "reason", "stacktrace", "telemetry_span_context":
			continue
		}
		out = append(out, attr(k, v))
	}
	return out
}

func attr(k string, v any) attribute.KeyValue {
	switch v := v.(type) {
	case string:
		return attribute.String(k, v)
	case bool:
		return attribute.Bool(k, v)
	case int:
		return attribute.Int(k, v)
	case int8:
		return attribute.Int64(k, int64(v))
	case int16:
		return attribute.Int64(k, int64(v))
	case int32:
		return attribute.Int64(k, int64(v))
	case int64:
		return attribute.Int64(k, v)
	case uint8:
		return attribute.Int64(k, int64(v))
	case uint16:
		return attribute.Int64(k, int64(v))
	case uint32:
		return attribute.Int64(k, int64(v))
	case float32:
		return attribute.Float64(k, float64(v))
	case float64:
		return attribute.Float64(k, v)
	case []string:
		return attribute.StringSlice(k, v)
	case []int64:
		return attribute.Int64Slice(k, v)
	case []int:
		return attribute.IntSlice(k, v)
	case []float64:
		return attribute.Float64Slice(k, v)
	case []bool:
		return attribute.BoolSlice(k, v)
	case time.Duration:
		return attribute.Int64(k, int64(v))
	case error:
		return attribute.String(k, v.Error())
	case fmt.Stringer:
		return attribute.String(k, v.String())
	default:
		return attribute.String(k, fmt.Sprint(v)) // uint, uint64 (may exceed int64), structs, …
	}
}

// SpanRef carries one live span from its start event to its stop event. Put
// it in the metadata of Telemetry.Span under [SpanRefKey] (or use
// [WithSpanRef]); it is for one Span call. Its methods are safe for
// concurrent use.
type SpanRef struct {
	parent context.Context
	mu     sync.Mutex
	span   trace.Span      // started and not yet ended; guarded by mu
	ctx    context.Context // parent plus the span, once started; guarded by mu
}

// NewSpanRef returns a SpanRef whose span will be a child of the span in
// parent (nil means context.Background()).
func NewSpanRef(parent context.Context) *SpanRef {
	if parent == nil {
		parent = context.Background()
	}
	return &SpanRef{parent: parent, ctx: parent}
}

// WithSpanRef returns a copy of md with a new SpanRef, child of parent, under
// [SpanRefKey], and the SpanRef:
//
//	md, ref := fotel.WithSpanRef(ctx, foundation.Metadata{"table": "users"})
//	err := f.Telemetry().Span("db.query", md, func() error { return query(ref.Context()) })
func WithSpanRef(parent context.Context, md metrics.Metadata) (metrics.Metadata, *SpanRef) {
	ref := NewSpanRef(parent)
	out := make(metrics.Metadata, len(md)+1)
	for k, v := range md {
		out[k] = v
	}
	out[SpanRefKey] = ref
	return out, ref
}

// Context returns the context holding the live span once its start event
// has been handled (the parent context before, and the same after the stop).
func (r *SpanRef) Context() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ctx
}

// start starts the span. A second start before the stop ends the first
// span, so that none is left open.
func (r *SpanRef) start(tr trace.Tracer, name string, md metrics.Metadata) {
	ctx, span := tr.Start(r.parent, name, trace.WithAttributes(attributes(md)...))
	r.mu.Lock()
	old := r.span
	r.span, r.ctx = span, ctx
	r.mu.Unlock()
	if old != nil {
		old.End()
	}
}

// take returns the live span and forgets it, or nil.
func (r *SpanRef) take() trace.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.span
	r.span = nil
	return s
}
