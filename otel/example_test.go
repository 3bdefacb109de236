package otel_test

import (
	"context"
	"errors"
	"fmt"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/elixirscope-go/foundation/metrics"
	fotel "github.com/elixirscope-go/foundation/otel"
)

// Register the producer on a reader: here a ManualReader; in a program, a
// PeriodicReader over an OTLP or stdout exporter. With a Foundation, the
// source is f.Telemetry().Registry().
func ExampleNewProducer() {
	r := metrics.NewRegistry() // f.Telemetry().Registry()
	r.Counter("foundation.events_stored").Add(5)
	h := r.Histogram("db.query.stop.duration")
	h.Record(2_000)
	h.Record(40_000)

	p, err := fotel.NewProducer(r, fotel.WithBounds([]float64{1_000, 10_000, 100_000}))
	if err != nil {
		panic(err)
	}
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(p))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				fmt.Println(m.Name, d.DataPoints[0].Value)
			case metricdata.Histogram[int64]:
				dp := d.DataPoints[0]
				fmt.Println(m.Name, dp.Count, dp.Bounds, dp.BucketCounts)
			}
		}
	}
	// Output:
	// db.query.stop.duration 2 [1000 10000 100000] [0 1 1 0]
	// foundation.events_stored 5
}

// Bridge Telemetry spans to OpenTelemetry. Attach the bridge to
// f.Telemetry() in a program; a metrics.Dispatcher emits the same events.
func ExampleSpanBridge() {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	defer tp.Shutdown(context.Background())

	b, err := fotel.NewSpanBridge(tp)
	if err != nil {
		panic(err)
	}
	tel := metrics.NewDispatcher() // f.Telemetry()
	if err := b.Attach(tel, "otel-spans", "db.query"); err != nil {
		panic(err)
	}

	// With a SpanRef, the span is live while fn runs: ref.Context() holds it.
	md, ref := fotel.WithSpanRef(context.Background(), metrics.Metadata{"table": "users"})
	_ = tel.Span("db.query", md, func() error {
		_ = ref.Context() // pass to the database client
		return errors.New("timeout")
	})

	for _, s := range sr.Ended() {
		fmt.Println(s.Name(), s.Status().Code, s.Status().Description)
		for _, kv := range s.Attributes() {
			fmt.Printf("  %s=%s\n", kv.Key, kv.Value.String())
		}
	}
	// Output:
	// db.query Error timeout
	//   table=users
}
