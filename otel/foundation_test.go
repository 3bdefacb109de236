package otel_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/elixirscope-go/foundation"
	fotel "github.com/elixirscope-go/foundation/otel"
)

// TestFoundation bridges a real Foundation: Telemetry.Span to a span, and
// its metrics (the span's duration histogram) through the producer.
func TestFoundation(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	defer f.Close()
	tel := f.Telemetry()

	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer tp.Shutdown(context.Background())
	b, err := fotel.NewSpanBridge(tp)
	require.NoError(t, err)
	require.NoError(t, b.Attach(tel, "otel", "db.query"))
	err = b.Attach(tel, "otel", "db.query")
	assert.ErrorIs(t, err, foundation.ErrHandlerExists)

	boom := errors.New("timeout")
	md, _ := fotel.WithSpanRef(context.Background(), foundation.Metadata{"table": "users"})
	require.ErrorIs(t, tel.Span("db.query", md, func() error { return boom }), boom)
	spans := sr.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "db.query", spans[0].Name())
	assert.Equal(t, codes.Error, spans[0].Status().Code)
	assert.Equal(t, []attribute.KeyValue{attribute.String("table", "users")}, spans[0].Attributes())

	p, err := fotel.NewProducer(fotel.SourceFunc(tel.Metrics))
	require.NoError(t, err)
	found := false
	for _, m := range collect(t, p).Metrics {
		if m.Name == "db.query.stop.duration" {
			found = true
			assert.Equal(t, uint64(1), m.Data.(metricdata.Histogram[int64]).DataPoints[0].Count)
		}
	}
	assert.True(t, found)
}
