package genserver

import (
	"math"
	"sync"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/metrics"
)

// mailbox is the telemetry server's mailbox size. The BEAM's mailbox is
// unbounded; a Go channel is not, so a full mailbox blocks the casting
// goroutine (backpressure the original lacks).
const mailbox = 4096

// TelemetryService owns the metrics: counters, gauges and HDR histograms in
// maps by name. Execute is a cast; Metrics is a call.
type TelemetryService struct {
	in    chan telMsg
	quit  chan struct{}
	pool  *sync.Pool
	state *MetricsState // owned by loop
}

// MetricsState is the telemetry server's state: counters, gauges and HDR
// histograms in maps by name. It is not safe for concurrent use (the
// GenServer port owns it in one goroutine; the mutex design wraps it in a
// lock).
type MetricsState struct {
	counters map[string]float64
	gauges   map[string]float64
	hists    map[string]*hdrhistogram.Histogram
	hnames   map[string]map[string]string // event name -> measurement key -> histogram name
	dropped  float64
}

type telMsg struct {
	name  string
	m     foundation.Measurements
	md    foundation.Metadata
	reply chan map[string]float64 // nil: a cast of execute
}

func newTelemetryService(quit chan struct{}) *TelemetryService {
	return &TelemetryService{in: make(chan telMsg, mailbox), quit: quit, pool: newPool[map[string]float64](),
		state: NewMetricsState()}
}

// NewMetricsState returns an empty state.
func NewMetricsState() *MetricsState {
	return &MetricsState{counters: make(map[string]float64), gauges: make(map[string]float64),
		hists: make(map[string]*hdrhistogram.Histogram), hnames: make(map[string]map[string]string)}
}

func (t *TelemetryService) loop() {
	for {
		select {
		case m := <-t.in:
			if m.reply != nil {
				m.reply <- t.state.Build()
			} else {
				t.state.Execute(m.name, m.m)
			}
		case <-t.quit:
			return
		}
	}
}

// Execute casts an execute message; it returns once the message is in the
// mailbox (blocking while the mailbox is full). The maps must not be changed
// afterwards. After Stop it does nothing.
func (t *TelemetryService) Execute(name string, m foundation.Measurements, md foundation.Metadata) {
	select {
	case t.in <- telMsg{name: name, m: m, md: md}:
	case <-t.quit:
	}
}

// Metrics is a call that rebuilds the flat metrics map: "name" for counters
// and gauges, "name.count", ".min", ".max", ".mean", ".p50", ".p90", ".p99",
// ".p999" for histograms. Nil after Stop.
func (t *TelemetryService) Metrics() map[string]float64 {
	r, _ := call(t.in, t.quit, t.pool, func(reply chan map[string]float64) telMsg { return telMsg{reply: reply} })
	return r
}

// Execute applies foundation's rules: "counter" adds to the counter
// name, "gauge" sets the gauge name, every other key records into the
// histogram name.key; NaN, ±Inf and negative counter increments are dropped
// and counted.
func (t *MetricsState) Execute(name string, m foundation.Measurements) {
	if name == "" {
		t.dropped++
		return
	}
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.dropped++
			continue
		}
		switch k {
		case "counter":
			if v < 0 {
				t.dropped++
				continue
			}
			t.counters[name] += math.Trunc(v)
		case "gauge":
			t.gauges[name] = v
		default:
			t.histogram(name, k).RecordValue(clamp(v))
		}
	}
}

func clamp(v float64) int64 {
	switch {
	case v < float64(metrics.DefaultLowest):
		return metrics.DefaultLowest
	case v > float64(metrics.DefaultHighest):
		return metrics.DefaultHighest
	}
	return int64(v)
}

func (t *MetricsState) histogram(name, key string) *hdrhistogram.Histogram {
	keys := t.hnames[name]
	if keys == nil {
		keys = make(map[string]string)
		t.hnames[name] = keys
	}
	hn, ok := keys[key]
	if !ok {
		hn = name + "." + key
		keys[key] = hn
	}
	h := t.hists[hn]
	if h == nil {
		h = hdrhistogram.New(metrics.DefaultLowest, metrics.DefaultHighest, metrics.DefaultSignificantFigures)
		t.hists[hn] = h
	}
	return h
}

// Build returns the flat metrics map described at [TelemetryService.Metrics].
func (t *MetricsState) Build() map[string]float64 {
	out := make(map[string]float64, len(t.counters)+len(t.gauges)+8*len(t.hists)+1)
	for k, v := range t.counters {
		out[k] = v
	}
	for k, v := range t.gauges {
		out[k] = v
	}
	for k, h := range t.hists {
		out[k+".count"] = float64(h.TotalCount())
		out[k+".min"] = float64(h.Min())
		out[k+".max"] = float64(h.Max())
		out[k+".mean"] = h.Mean()
		out[k+".p50"] = float64(h.ValueAtQuantile(50))
		out[k+".p90"] = float64(h.ValueAtQuantile(90))
		out[k+".p99"] = float64(h.ValueAtQuantile(99))
		out[k+".p999"] = float64(h.ValueAtQuantile(99.9))
	}
	out["foundation.telemetry_dropped"] = t.dropped
	return out
}
