package metrics

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/elixirscope-go/foundation/internal/pad"
)

// paddedSlot is the per-goroutine floor: every goroutine adds to its own line.
type paddedSlot struct {
	v atomic.Uint64
	_ [pad.CacheLine - 8]byte
}

func BenchmarkCounterAdd(b *testing.B) {
	b.Run("impl=metrics/mode=single", func(b *testing.B) {
		b.ReportAllocs()
		c := NewRegistry().Counter("c")
		for range b.N {
			c.Add(1)
		}
	})
	b.Run("impl=metrics", func(b *testing.B) {
		b.ReportAllocs()
		c := NewRegistry().Counter("c")
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(1)
			}
		})
	})
	b.Run("impl=metrics-lookup", func(b *testing.B) {
		b.ReportAllocs()
		r := NewRegistry()
		r.Counter("requests.total")
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.Counter("requests.total").Add(1)
			}
		})
	})
	b.Run("impl=shared-atomic", func(b *testing.B) {
		b.ReportAllocs()
		var c struct {
			_ [pad.FalseSharingRange]byte
			v atomic.Uint64
			_ [pad.FalseSharingRange]byte
		}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.v.Add(1)
			}
		})
	})
	b.Run("impl=padded-per-goroutine", func(b *testing.B) {
		b.ReportAllocs()
		slots := make([]paddedSlot, 64)
		var next atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			s := &slots[next.Add(1)%64]
			for pb.Next() {
				s.v.Add(1)
			}
		})
	})
}

// latencies are log-uniform values from 100 ns to 100 ms.
var latencies = func() []int64 {
	rng := rand.New(rand.NewPCG(1, 2))
	v := make([]int64, 4096)
	for i := range v {
		v[i] = int64(100 * float64(uint64(1)<<rng.IntN(20)) * (1 + rng.Float64()))
	}
	return v
}()

var goroutineSeq atomic.Int64

func BenchmarkHistogramRecord(b *testing.B) {
	b.Run("impl=metrics", func(b *testing.B) {
		b.ReportAllocs()
		h := NewRegistry().Histogram("h")
		for _, v := range latencies { // chunks exist, as in steady state
			h.Record(v)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := int(goroutineSeq.Add(1)) * 1000
			for pb.Next() {
				h.Record(latencies[i&4095])
				i++
			}
		})
	})
	b.Run("impl=hdr-mutex", func(b *testing.B) {
		b.ReportAllocs()
		var mu sync.Mutex
		h := hdrhistogram.New(DefaultLowest, DefaultHighest, DefaultSignificantFigures)
		b.RunParallel(func(pb *testing.PB) {
			i := int(goroutineSeq.Add(1)) * 1000
			for pb.Next() {
				mu.Lock()
				_ = h.RecordValue(latencies[i&4095])
				mu.Unlock()
				i++
			}
		})
	})
	b.Run("impl=shared-atomic-buckets", func(b *testing.B) {
		// The same layout in one array shared by every goroutine, no stripes.
		b.ReportAllocs()
		g, _ := newGeometry(DefaultLowest, DefaultHighest, DefaultSignificantFigures)
		counts := make([]atomic.Uint64, g.countsLen)
		b.RunParallel(func(pb *testing.PB) {
			i := int(goroutineSeq.Add(1)) * 1000
			for pb.Next() {
				counts[g.index(latencies[i&4095])].Add(1)
				i++
			}
		})
	})
}

func BenchmarkExecute(b *testing.B) {
	m := Measurements{"duration": 1200}
	md := Metadata{"path": "/"}
	for _, n := range []int{0, 2} {
		b.Run("handlers="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			d := NewDispatcher()
			for i := range n { // handlers that cost nothing: the figure is the dispatch
				_ = d.Attach("h"+strconv.Itoa(i), []string{"http.request"}, func(string, Measurements, Metadata) {})
			}
			_ = d.Attach("other", []string{"other.event"}, func(string, Measurements, Metadata) {})
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					d.Execute("http.request", m, md)
				}
			})
		})
	}
}

// BenchmarkRegistrySnapshot snapshots 1,000 metrics: 450 counters, 450
// gauges and 100 histograms holding 100,000 values each. "changed=none"
// records nothing between snapshots (no histogram is refolded);
// "changed=all" records one value into every histogram before each snapshot.
func BenchmarkRegistrySnapshot(b *testing.B) {
	setup := func() (*Registry, []*Histogram) {
		r := NewRegistry()
		for i := range 450 {
			r.Counter("counter." + strconv.Itoa(i)).Add(uint64(i))
			r.Gauge("gauge." + strconv.Itoa(i)).Set(float64(i))
		}
		rng := rand.New(rand.NewPCG(3, 4))
		hs := make([]*Histogram, 100)
		for i := range hs {
			hs[i] = r.Histogram("histogram." + strconv.Itoa(i))
			for range 100_000 {
				hs[i].Record(latencies[rng.IntN(len(latencies))])
			}
		}
		r.Snapshot()
		return r, hs
	}
	r, hs := setup()
	b.Run("changed=none", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = r.Snapshot()
		}
	})
	b.Run("changed=all", func(b *testing.B) {
		b.ReportAllocs()
		for i := range b.N {
			for _, h := range hs {
				h.Record(latencies[i&4095])
			}
			_ = r.Snapshot()
		}
	})
}

// BenchmarkSpan is a span around a function that does nothing, recording
// into a registry (the stop's duration histogram) with one handler
// attached to the stop event: the figure is the span's own cost (three
// maps of metadata and measurements per span, as :telemetry's contract
// has them).
func BenchmarkSpan(b *testing.B) {
	b.ReportAllocs()
	d := NewDispatcher(Recording(NewRegistry()))
	_ = d.Attach("h", []string{"db.query.stop"}, func(string, Measurements, Metadata) {})
	md := Metadata{"table": "users"}
	fn := func() error { return nil }
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = d.Span("db.query", md, fn)
		}
	})
}
