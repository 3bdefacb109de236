package foundation_test

import (
	"fmt"
	"testing"

	"github.com/elixirscope-go/foundation"
)

func BenchmarkTelemetryExecute(b *testing.B) {
	f, _ := foundation.New()
	defer f.Close()
	tel := f.Telemetry()
	m := foundation.Measurements{"counter": 1, "duration": 1500}
	b.Run("counter+histogram", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tel.Execute("http.request", m, nil)
		}
	})
	b.Run("counter+histogram/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tel.Execute("http.request", m, nil)
			}
		})
	})
	noop := func(string, foundation.Measurements, foundation.Metadata) {}
	_ = tel.Attach("h1", []string{"handled"}, noop)
	_ = tel.Attach("h2", []string{"handled"}, noop)
	b.Run("two-handlers", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			tel.Execute("handled", m, nil)
		}
	})
	c := tel.Counter("bound")
	b.Run("counter-handle", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(1)
			}
		})
	})
	b.Run("counter-by-name", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				tel.Counter("bound").Add(1)
			}
		})
	})
	h := tel.Histogram("lat")
	b.Run("histogram-handle", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			v := int64(1)
			for pb.Next() {
				h.Record(v)
				v = v*7%1_000_003 + 1
			}
		})
	})
}

// BenchmarkTelemetryMetrics takes a snapshot of 1,000 metrics: 450 counters,
// 450 gauges and 100 histograms holding 100,000 values each.
func BenchmarkTelemetryMetrics(b *testing.B) {
	f, _ := foundation.New()
	defer f.Close()
	tel := f.Telemetry()
	for i := 0; i < 450; i++ {
		tel.Counter(fmt.Sprintf("c%d", i)).Add(uint64(i))
		tel.Gauge(fmt.Sprintf("g%d", i)).Set(float64(i))
	}
	for i := 0; i < 100; i++ {
		h := tel.Histogram(fmt.Sprintf("h%d", i))
		for v := int64(1); v <= 100_000; v++ {
			h.Record(v * 100)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := tel.Metrics()
		sink.u += uint64(len(s.Counters))
	}
}
