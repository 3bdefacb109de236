package otel_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/elixirscope-go/foundation/metrics"
	fotel "github.com/elixirscope-go/foundation/otel"
)

// BenchmarkProduce1000 prices one collection of 1,000 metrics (700
// counters, 250 gauges, 50 histograms at 12 bounds), as a reader would.
func BenchmarkProduce1000(b *testing.B) {
	r := metrics.NewRegistry()
	for i := range 700 {
		r.Counter(fmt.Sprintf("app.counter_%d", i)).Add(uint64(i))
	}
	for i := range 250 {
		r.Gauge(fmt.Sprintf("app.gauge_%d", i)).Set(float64(i))
	}
	for i := range 50 {
		h := r.Histogram(fmt.Sprintf("app.histogram_%d", i))
		for v := range 100 {
			h.Record(int64(v * 1_000_000))
		}
	}
	bounds := make([]float64, 12)
	for i, v := 0, 1000.0; i < len(bounds); i, v = i+1, v*4 {
		bounds[i] = v
	}
	p, err := fotel.NewProducer(r, fotel.WithBounds(bounds))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sm, _ := p.Produce(ctx)
		if len(sm[0].Metrics) != 1000 {
			b.Fatal(len(sm[0].Metrics))
		}
	}
}
