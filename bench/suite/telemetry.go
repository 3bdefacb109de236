package suite

import (
	"io"
	"strconv"
	"sync"
	"testing"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/bench/genserver"
	"github.com/prometheus/client_golang/prometheus"
)

const execName = "http.request"

// execLat are the latencies executes record (ns), and execMaps the same as
// prebuilt, read-only measurement maps (the GenServer port hands the map to
// its server, so the caller can't reuse a mutable one).
var (
	execLat  = [16]float64{120, 250, 380, 510, 900, 1300, 2100, 3400, 5500, 8900, 14000, 23000, 37000, 60000, 97000, 157000}
	execMaps = func() (out [16]foundation.Measurements) {
		for i := range out {
			out[i] = foundation.Measurements{"counter": 1, "latency": execLat[i]}
		}
		return
	}()
)

// execRoutes are the tag values of the labelled cases; execMD the same as
// metadata maps.
var (
	execRoutes = [4]string{"/users", "/orders", "/items", "/login"}
	execMD     = func() (out [4]foundation.Metadata) {
		for i, r := range execRoutes {
			out[i] = foundation.Metadata{"route": r}
		}
		return
	}()
)

const (
	gatherCounters   = 50
	gatherHistograms = 50
	gatherValues     = 1000
)

// mutexTelemetry is the mutex design: the port's MetricsState under a Mutex.
type mutexTelemetry struct {
	mu sync.Mutex
	st *genserver.MetricsState
}

func (m *mutexTelemetry) execute(name string, ms foundation.Measurements) {
	m.mu.Lock()
	m.st.Execute(name, ms)
	m.mu.Unlock()
}

func (m *mutexTelemetry) build() map[string]float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st.Build()
}

// fill feeds gatherCounters counters and gatherHistograms histograms of
// gatherValues values each through execute.
func fill(exec func(name string, ms foundation.Measurements)) {
	for c := range gatherCounters {
		exec("counter."+strconv.Itoa(c), foundation.Measurements{"counter": 1})
	}
	for h := range gatherHistograms {
		name := "hist." + strconv.Itoa(h)
		for v := range gatherValues {
			exec(name, foundation.Measurements{"latency": float64(100 + 37*v)})
		}
	}
}

func init() {
	register(
		Case{Op: "Telemetry.execute", Impl: "foundation", Run: func(b *testing.B, par bool) {
			t := newFoundation(b).Telemetry()
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { t.Execute(execName, execMaps[i&15], nil); return 1 }
			})
		}},
		Case{Op: "Telemetry.execute", Impl: "foundation-labelled", Note: `Execute by name; the histogram declared with tag "route" (4 values from metadata)`, Run: func(b *testing.B, par bool) {
			t := newFoundation(b).Telemetry()
			if _, err := t.HistogramVec(execName+".latency", foundation.MetricDesc{Tags: []string{"route"}}); err != nil {
				b.Fatal(err)
			}
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { t.Execute(execName, execMaps[i&15], execMD[i&3]); return 1 }
			})
		}},
		Case{Op: "Telemetry.execute", Impl: "foundation-handles", Note: "Counter/Histogram handles bound once: Add(1) + Record(x), no map, no name lookup", Run: func(b *testing.B, par bool) {
			t := newFoundation(b).Telemetry()
			c, h := t.Counter(execName), t.Histogram(execName+".latency")
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { c.Add(1); h.Record(int64(execLat[i&15])); return 1 }
			})
		}},
		Case{Op: "Telemetry.execute", Impl: "genserver", Note: "a cast into a 4,096 mailbox; the server does the work (ns/op is the caller's cost; a full mailbox blocks)", Run: func(b *testing.B, par bool) {
			s := newGenServer(b, foundation.DefaultConfig())
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { s.Execute(execName, execMaps[i&15], nil); return 1 }
			})
			b.StopTimer()
			_ = s.Metrics() // drain: the mailbox is FIFO
		}},
		Case{Op: "Telemetry.execute", Impl: "mutex", Note: "the port's MetricsState (maps + HDR histograms) under a Mutex", Run: func(b *testing.B, par bool) {
			m := &mutexTelemetry{st: genserver.NewMetricsState()}
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { m.execute(execName, execMaps[i&15]); return 1 }
			})
		}},
		Case{Op: "Telemetry.execute", Impl: "client_golang", Note: "Counter.Inc + Histogram.Observe (default buckets), handles bound once: no map, no name lookup", Run: func(b *testing.B, par bool) {
			c := prometheus.NewCounter(prometheus.CounterOpts{Name: "http_request"})
			h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "http_request_latency", Buckets: prometheus.DefBuckets})
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { c.Inc(); h.Observe(execLat[i&15]); return 1 }
			})
		}},
		Case{Op: "Telemetry.execute", Impl: "client_golang-labelled", Note: "CounterVec.WithLabelValues + HistogramVec.WithLabelValues(route) per call: the label lookup", Run: func(b *testing.B, par bool) {
			c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_request"}, []string{"route"})
			h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_latency", Buckets: prometheus.DefBuckets}, []string{"route"})
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 {
					r := execRoutes[i&3]
					c.WithLabelValues(r).Inc()
					h.WithLabelValues(r).Observe(execLat[i&15])
					return 1
				}
			})
		}},
		Case{Op: "Telemetry.execute", Impl: "victoriametrics-labelled", Note: `GetOrCreateCounter + GetOrCreateHistogram by full name with {route="…"} per call (prebuilt names)`, Run: func(b *testing.B, par bool) {
			s := vm.NewSet()
			var cn, hn [4]string
			for i, r := range execRoutes {
				cn[i], hn[i] = `http_request{route="`+r+`"}`, `http_request_latency{route="`+r+`"}`
			}
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 {
					s.GetOrCreateCounter(cn[i&3]).Inc()
					s.GetOrCreateHistogram(hn[i&3]).Update(execLat[i&15])
					return 1
				}
			})
		}},
		Case{Op: "Telemetry.execute", Impl: "victoriametrics", Note: "Counter.Inc + Histogram.Update, handles bound once: no map, no name lookup", Run: func(b *testing.B, par bool) {
			s := vm.NewSet()
			c, h := s.NewCounter("http_request"), s.NewHistogram("http_request_latency")
			drive(b, par, func() func(int) uint64 {
				return func(i int) uint64 { c.Inc(); h.Update(execLat[i&15]); return 1 }
			})
		}},

		Case{Op: "Telemetry.get_metrics", Impl: "foundation", Note: "MetricsSnapshot with count/min/max/mean/p50/p90/p99/p999 per histogram", Run: func(b *testing.B, par bool) {
			t := newFoundation(b).Telemetry()
			fill(func(n string, m foundation.Measurements) { t.Execute(n, m, nil) })
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { s := t.Metrics(); return uint64(len(s.Counters) + len(s.Histograms)) }
			})
		}},
		Case{Op: "Telemetry.get_metrics", Impl: "genserver", Note: "a call; the flat map rebuilt in the server (same percentiles)", Run: func(b *testing.B, par bool) {
			s := newGenServer(b, foundation.DefaultConfig())
			fill(func(n string, m foundation.Measurements) { s.Execute(n, m, nil) })
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return uint64(len(s.Metrics())) }
			})
		}},
		Case{Op: "Telemetry.get_metrics", Impl: "mutex", Note: "the port's flat map rebuilt under a Mutex", Run: func(b *testing.B, par bool) {
			m := &mutexTelemetry{st: genserver.NewMetricsState()}
			fill(m.execute)
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return uint64(len(m.build())) }
			})
		}},
		Case{Op: "Telemetry.get_metrics", Impl: "client_golang", Note: "Registry.Gather: protobuf families with buckets, no percentiles", Run: func(b *testing.B, par bool) {
			reg := prometheus.NewRegistry()
			for c := range gatherCounters {
				ctr := prometheus.NewCounter(prometheus.CounterOpts{Name: "counter_" + strconv.Itoa(c)})
				reg.MustRegister(ctr)
				ctr.Inc()
			}
			for h := range gatherHistograms {
				hist := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hist_" + strconv.Itoa(h), Buckets: prometheus.DefBuckets})
				reg.MustRegister(hist)
				for v := range gatherValues {
					hist.Observe(float64(100 + 37*v))
				}
			}
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { return uint64(len(must(reg.Gather()))) }
			})
		}},
		Case{Op: "Telemetry.get_metrics", Impl: "victoriametrics", Note: "Set.WritePrometheus to io.Discard: text exposition with vmrange buckets, no percentiles", Run: func(b *testing.B, par bool) {
			s := vm.NewSet()
			for c := range gatherCounters {
				s.NewCounter("counter_" + strconv.Itoa(c)).Inc()
			}
			for h := range gatherHistograms {
				hist := s.NewHistogram("hist_" + strconv.Itoa(h))
				for v := range gatherValues {
					hist.Update(float64(100 + 37*v))
				}
			}
			drive(b, par, func() func(int) uint64 {
				return func(int) uint64 { s.WritePrometheus(io.Discard); return 1 }
			})
		}},
	)
}
