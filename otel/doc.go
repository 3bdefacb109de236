// Package otel connects a foundation Telemetry to OpenTelemetry: its metrics
// through a metric [Producer], its spans through a [SpanBridge].
//
// # Metrics
//
// A [Producer] is a go.opentelemetry.io/otel/sdk/metric Producer: register
// it on a reader with metric.WithProducer, and every collection of that
// reader (a PeriodicReader feeding OTLP or stdout, a ManualReader, the
// Prometheus exporter's reader) includes the foundation metrics, read from
// one snapshot of the registry:
//
//   - a counter becomes a cumulative, monotonic Sum (int64);
//   - a gauge becomes a Gauge (float64);
//   - a histogram becomes a cumulative explicit-bucket Histogram (int64)
//     whose bucket counts come from its HDR buckets at fixed bounds (by
//     default [DefaultBounds] of its range, or [WithBounds]), with its
//     count, min, max and sum.
//
// Values are cumulative from the registry's start, so nothing is counted
// twice across collections. The producer adds nothing to recording: it is
// only read when the reader collects.
//
// # Traces
//
// A [SpanBridge] is a telemetry handler: attached to a span's events
// (name.start, name.stop, name.exception, as Telemetry.Span emits them), it
// makes one OpenTelemetry span per Telemetry span, named name, with the
// metadata as attributes, an error recorded with status Error, and a panic
// recorded as an "exception" event with its stack trace. See [SpanBridge]
// for how a start is matched with its stop.
//
// # Example
//
//	p, _ := fotel.NewProducer(f.Telemetry().Registry())
//	reader := metric.NewPeriodicReader(exporter, metric.WithProducer(p))
//	mp := metric.NewMeterProvider(metric.WithReader(reader))
//	defer mp.Shutdown(context.Background())
//
//	b, _ := fotel.NewSpanBridge(tracerProvider)
//	_ = b.Attach(f.Telemetry(), "otel-spans", "db.query", "http.request")
//
// where fotel is this package and metric is go.opentelemetry.io/otel/sdk/metric.
package otel

// doccheck: what the package doc's example assumes (docs_test.go in the
// repository root builds it).
//
//	var f *foundation.Foundation
//	var exporter metric.Exporter
//	var tracerProvider trace.TracerProvider
