package otel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/elixirscope-go/foundation/metrics"
	fotel "github.com/elixirscope-go/foundation/otel"
)

// setup returns a dispatcher (the engine of foundation's Telemetry.Span,
// with the same events) with a bridge attached to "db.query", and the
// recorder of the bridged spans.
func setup(t *testing.T) (*metrics.Dispatcher, *sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	b, err := fotel.NewSpanBridge(tp)
	require.NoError(t, err)
	d := metrics.NewDispatcher()
	require.NoError(t, b.Attach(d, "otel", "db.query"))
	return d, tp, sr
}

func attrs(s sdktrace.ReadOnlySpan) map[string]attribute.Value {
	out := map[string]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

func TestBridgeStop(t *testing.T) {
	d, _, sr := setup(t)
	err := d.Span("db.query", metrics.Metadata{"table": "users", "rows": 3, "cached": false}, func() error { return nil })
	require.NoError(t, err)
	spans := sr.Ended()
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, "db.query", s.Name())
	assert.Equal(t, map[string]attribute.Value{
		"table": attribute.StringValue("users"), "rows": attribute.IntValue(3), "cached": attribute.BoolValue(false),
	}, attrs(s))
	assert.Equal(t, codes.Unset, s.Status().Code)
	assert.False(t, s.EndTime().Before(s.StartTime()))
	assert.Empty(t, s.Events())
	assert.Equal(t, "github.com/elixirscope-go/foundation", s.InstrumentationScope().Name)
}

func TestBridgeError(t *testing.T) {
	d, _, sr := setup(t)
	boom := errors.New("connection refused")
	err := d.Span("db.query", metrics.Metadata{"table": "users"}, func() error { return boom })
	require.ErrorIs(t, err, boom)
	spans := sr.Ended()
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, codes.Error, s.Status().Code)
	assert.Equal(t, "connection refused", s.Status().Description)
	assert.Equal(t, map[string]attribute.Value{"table": attribute.StringValue("users")}, attrs(s))
	require.Len(t, s.Events(), 1)
	assert.Equal(t, "exception", s.Events()[0].Name)
}

func TestBridgeException(t *testing.T) {
	for _, live := range []bool{false, true} {
		t.Run(fmt.Sprintf("live=%v", live), func(t *testing.T) {
			d, _, sr := setup(t)
			md := metrics.Metadata{"table": "users"}
			if live {
				md, _ = fotel.WithSpanRef(context.Background(), md)
			}
			func() {
				defer func() { assert.Equal(t, "index out of range", recover()) }()
				_ = d.Span("db.query", md, func() error { panic("index out of range") })
			}()
			spans := sr.Ended()
			require.Len(t, spans, 1)
			s := spans[0]
			assert.Equal(t, codes.Error, s.Status().Code)
			assert.Equal(t, "index out of range", s.Status().Description)
			assert.Equal(t, map[string]attribute.Value{"table": attribute.StringValue("users")}, attrs(s))
			require.Len(t, s.Events(), 1)
			ev := s.Events()[0]
			assert.Equal(t, "exception", ev.Name)
			got := map[string]string{}
			for _, kv := range ev.Attributes {
				got[string(kv.Key)] = kv.Value.AsString()
			}
			assert.Equal(t, "string", got["exception.type"])
			assert.Equal(t, "index out of range", got["exception.message"])
			assert.Contains(t, got["exception.stacktrace"], "TestBridgeException")
		})
	}
}

// TestBridgeLiveSpan checks the SpanRef mode: the span is live while fn
// runs, so fn's own spans are its children, and it is a child of the
// caller's span.
func TestBridgeLiveSpan(t *testing.T) {
	d, tp, sr := setup(t)
	tr := tp.Tracer("test")
	ctx, parent := tr.Start(context.Background(), "request")
	md, ref := fotel.WithSpanRef(ctx, metrics.Metadata{"table": "users"})
	err := d.Span("db.query", md, func() error {
		_, child := tr.Start(ref.Context(), "db.roundtrip")
		child.End()
		return nil
	})
	require.NoError(t, err)
	parent.End()
	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range sr.Ended() {
		byName[s.Name()] = s
	}
	require.Len(t, byName, 3)
	q, child := byName["db.query"], byName["db.roundtrip"]
	assert.Equal(t, parent.SpanContext().SpanID(), q.Parent().SpanID())
	assert.Equal(t, q.SpanContext().SpanID(), child.Parent().SpanID())
	assert.Equal(t, parent.SpanContext().TraceID(), child.SpanContext().TraceID())
	assert.Equal(t, map[string]attribute.Value{"table": attribute.StringValue("users")}, attrs(q))
	assert.False(t, child.StartTime().Before(q.StartTime()))
	assert.False(t, child.EndTime().After(q.EndTime()))
}

func TestBridgeContextKey(t *testing.T) {
	d, tp, sr := setup(t)
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	require.NoError(t, d.Span("db.query", metrics.Metadata{fotel.ContextKey: ctx}, func() error { return nil }))
	parent.End()
	for _, s := range sr.Ended() {
		if s.Name() == "db.query" {
			assert.Equal(t, parent.SpanContext().SpanID(), s.Parent().SpanID())
			assert.Empty(t, attrs(s))
			return
		}
	}
	t.Fatal("no db.query span")
}

func TestBridgeIgnoresOtherEvents(t *testing.T) {
	d, _, sr := setup(t)
	b, err := fotel.NewSpanBridge(sdktrace.NewTracerProvider())
	require.NoError(t, err)
	b.Handle("db.query", nil, nil)
	d.Execute("db.query.started", nil, nil)
	assert.Empty(t, sr.Ended())
	_, err = fotel.NewSpanBridge(nil)
	assert.ErrorIs(t, err, fotel.ErrInvalidOption)
}

// TestBridgeConcurrent runs spans from many goroutines, half live (SpanRef)
// and half after the fact, some failing: every span is ended exactly once,
// with its own attributes, status and children.
func TestBridgeConcurrent(t *testing.T) {
	d, tp, sr := setup(t)
	tr := tp.Tracer("test")
	const workers, per = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				id := fmt.Sprintf("%d-%d", w, i)
				md := metrics.Metadata{"id": id}
				var ref *fotel.SpanRef
				if i%2 == 0 {
					md, ref = fotel.WithSpanRef(context.Background(), md)
				}
				_ = d.Span("db.query", md, func() error {
					if ref != nil {
						_, c := tr.Start(ref.Context(), "child")
						c.SetAttributes(attribute.String("id", id))
						c.End()
					}
					if i%3 == 0 {
						return errors.New(id)
					}
					return nil
				})
			}
		}()
	}
	wg.Wait()
	queries := map[string]sdktrace.ReadOnlySpan{}
	children := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range sr.Ended() {
		id := attrs(s)["id"].AsString()
		m := queries
		if s.Name() == "child" {
			m = children
		}
		_, dup := m[id]
		require.False(t, dup, "span %s %s twice", s.Name(), id)
		m[id] = s
	}
	require.Len(t, queries, workers*per)
	require.Len(t, children, workers*per/2)
	for id, q := range queries {
		var w, i int
		_, err := fmt.Sscanf(strings.ReplaceAll(id, "-", " "), "%d %d", &w, &i)
		require.NoError(t, err)
		if i%3 == 0 {
			assert.Equal(t, codes.Error, q.Status().Code, id)
			assert.Equal(t, id, q.Status().Description)
		} else {
			assert.Equal(t, codes.Unset, q.Status().Code, id)
		}
		if c, ok := children[id]; ok {
			assert.Equal(t, q.SpanContext().SpanID(), c.Parent().SpanID(), id)
		}
	}
}
