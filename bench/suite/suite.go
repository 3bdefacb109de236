// Package suite holds the benchmark bodies of bench/: for each row of the
// seed latency table (the ElixirScope Foundation design's targets, listed
// in [Ops] with their ranges), one [Case] per implementation. The
// go test benchmarks (bench/*_test.go) and the seedtable command
// (bench/cmd/seedtable) both run these, so the two always measure the same
// code.
//
// Every case runs single-goroutine (parallel=false) or under RunParallel
// (parallel=true), reports allocations, and times every 64th operation into
// an HDR histogram reported as p50-ns and p99-ns. Timing a sample costs two
// clock reads, which are included in the sampled latency but, one sample in
// 64, amortized to a small share of ns/op.
package suite

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Op is one row of the seed table.
type Op struct {
	Name     string // e.g. "Config.get"
	Workload string // what one operation does
	SeedLo   float64
	SeedHi   float64 // the design's target range, in µs
}

// Ops are the seed table's rows, in its order.
var Ops = []Op{
	{"Config.get", "read ai.planning.sampling_rate from the current config", 10, 50},
	{"Config.update", "set ai.planning.sampling_rate (0.5/0.25): convert, validate whole config, commit, store a config_updated event, count", 100, 500},
	{"Events.store", "store a 64-byte event (16 types, 64 correlation ids) into a store bounded at 65,536 events, indexed by type and correlation id", 50, 200},
	{"Events.query", "newest 100 events of one type (of 16) from 10,000 stored, results copied", 200, 1000},
	{"Telemetry.execute", `execute "http.request" {counter: 1, latency: x}: a counter add and a histogram record`, 20, 100},
	{"Telemetry.get_metrics", "read all metrics: 50 counters + 50 histograms of 1,000 values each", 100, 300},
}

// Case is one implementation of one operation.
type Case struct {
	Op   string
	Impl string
	// Note says how the work differs from foundation's, if it does.
	Note string
	// Run is the benchmark body.
	Run func(b *testing.B, parallel bool)
}

// Cases returns every case, grouped by operation in the order of [Ops].
func Cases() []Case {
	var out []Case
	for _, op := range Ops {
		for _, c := range all {
			if c.Op == op.Name {
				out = append(out, c)
			}
		}
	}
	return out
}

// For returns the cases of one operation.
func For(op string) []Case {
	var out []Case
	for _, c := range all {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// RunOp runs the cases of op as sub-benchmarks impl=<name>/{serial,parallel}.
func RunOp(b *testing.B, op string) {
	for _, c := range For(op) {
		b.Run("impl="+c.Impl, func(b *testing.B) {
			b.Run("serial", func(b *testing.B) { c.Run(b, false) })
			b.Run("parallel", func(b *testing.B) { c.Run(b, true) })
		})
	}
}

var all []Case

func register(cs ...Case) { all = append(all, cs...) }

// Sink keeps results alive so the compiler can't discard the work.
var Sink atomic.Uint64

const sampleMask = 63 // time every 64th operation

type latency struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newLatency() *latency {
	return &latency{h: hdrhistogram.New(1, int64(10*time.Second), 3)}
}

type recorder struct {
	h *hdrhistogram.Histogram
	n uint
}

func (l *latency) recorder() *recorder {
	return &recorder{h: hdrhistogram.New(1, int64(10*time.Second), 3)}
}

func (l *latency) merge(r *recorder) {
	l.mu.Lock()
	l.h.Merge(r.h)
	l.mu.Unlock()
}

// drive runs op b.N times, single or RunParallel; mk makes one op per
// goroutine (called after the timer starts: keep it cheap). Each op returns
// a value folded into Sink.
func drive(b *testing.B, parallel bool, mk func() func(i int) uint64) {
	b.ReportAllocs()
	lat := newLatency()
	if !parallel {
		op := mk()
		r := lat.recorder()
		var acc uint64
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if r.n++; r.n&sampleMask == 0 {
				t := time.Now()
				acc += op(i)
				r.h.RecordValue(int64(time.Since(t)))
				continue
			}
			acc += op(i)
		}
		b.StopTimer()
		Sink.Add(acc)
		lat.merge(r)
	} else {
		var gid atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			op := mk()
			r := lat.recorder()
			i := int(gid.Add(1)) << 32
			var acc uint64
			for pb.Next() {
				if r.n++; r.n&sampleMask == 0 {
					t := time.Now()
					acc += op(i)
					r.h.RecordValue(int64(time.Since(t)))
				} else {
					acc += op(i)
				}
				i++
			}
			Sink.Add(acc)
			lat.merge(r)
		})
		b.StopTimer()
	}
	if lat.h.TotalCount() > 0 {
		b.ReportMetric(float64(lat.h.ValueAtQuantile(50)), "p50-ns")
		b.ReportMetric(float64(lat.h.ValueAtQuantile(99)), "p99-ns")
	}
}
