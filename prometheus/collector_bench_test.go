package prometheus_test

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/elixirscope-go/foundation/metrics"
	fprom "github.com/elixirscope-go/foundation/prometheus"
)

// The scrape benchmark: 1,000 metrics (700 counters, 250 gauges, 50
// histograms with the same 12 classic buckets and 100 distinct values
// each), gathered by a prometheus.Registry from a foundation Collector
// (impl=foundation) and from client_golang's own metrics holding the same
// values (impl=client_golang).
const (
	benchCounters   = 700
	benchGauges     = 250
	benchHistograms = 50
)

var benchBounds = prometheus.ExponentialBuckets(1000, 4, 12)

func foundationGatherer(b *testing.B, opts ...fprom.Option) (prometheus.Gatherer, *metrics.Registry) {
	r := metrics.NewRegistry()
	for i := range benchCounters {
		r.Counter(fmt.Sprintf("app.counter_%d", i)).Add(uint64(i))
	}
	for i := range benchGauges {
		r.Gauge(fmt.Sprintf("app.gauge_%d", i)).Set(float64(i))
	}
	for i := range benchHistograms {
		h := r.Histogram(fmt.Sprintf("app.histogram_%d", i))
		for v := range 100 {
			h.Record(int64(v * 1_000_000))
		}
	}
	c, err := fprom.New(r, append([]fprom.Option{fprom.WithBuckets(benchBounds)}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	return reg, r
}

func clientGolangGatherer() prometheus.Gatherer {
	reg := prometheus.NewRegistry()
	for i := range benchCounters {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: fmt.Sprintf("app_counter_%d_total", i), Help: "h"})
		c.Add(float64(i))
		reg.MustRegister(c)
	}
	for i := range benchGauges {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: fmt.Sprintf("app_gauge_%d", i), Help: "h"})
		g.Set(float64(i))
		reg.MustRegister(g)
	}
	for i := range benchHistograms {
		h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: fmt.Sprintf("app_histogram_%d", i), Help: "h", Buckets: benchBounds})
		for v := range 100 {
			h.Observe(float64(v * 1_000_000))
		}
		reg.MustRegister(h)
	}
	return reg
}

func gather(b *testing.B, g prometheus.Gatherer) {
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		mfs, err := g.Gather()
		if err != nil || len(mfs) != benchCounters+benchGauges+benchHistograms {
			b.Fatal(err, len(mfs))
		}
	}
}

func BenchmarkGather1000(b *testing.B) {
	b.Run("impl=foundation", func(b *testing.B) {
		g, _ := foundationGatherer(b)
		gather(b, g)
	})
	b.Run("impl=foundation/changing", func(b *testing.B) {
		// Every histogram changes between scrapes: each one is refolded
		// and converted again.
		g, r := foundationGatherer(b)
		hs := make([]*metrics.Histogram, benchHistograms)
		for i := range hs {
			hs[i] = r.Histogram(fmt.Sprintf("app.histogram_%d", i))
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			for _, h := range hs {
				h.Record(5_000_000)
			}
			if _, err := g.Gather(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=client_golang", func(b *testing.B) {
		gather(b, clientGolangGatherer())
	})
}
