package prometheus_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/elixirscope-go/foundation/metrics"
	fprom "github.com/elixirscope-go/foundation/prometheus"
)

// Serve a registry's metrics on /metrics with promhttp. With a Foundation,
// the source is f.Telemetry().Registry(); a program would call
// http.ListenAndServe(":9100", mux) instead of starting a test server.
func ExampleNew() {
	r := metrics.NewRegistry() // f.Telemetry().Registry()
	r.Counter("foundation.events_stored").Add(5)
	r.Gauge("queue.depth").Set(3)

	c, err := fprom.New(r,
		fprom.WithNamespace("myapp"),
		fprom.WithConstLabels(prometheus.Labels{"service": "billing"}),
	)
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, "#") {
			fmt.Println(line)
		}
	}
	// Output:
	// myapp_foundation_events_stored_total{service="billing"} 5
	// myapp_queue_depth{service="billing"} 3
}

// A histogram is exported with classic buckets at fixed bounds, computed
// from its HDR buckets.
func ExampleWithHistogramBuckets() {
	r := metrics.NewRegistry()
	h := r.Histogram("http.request.duration")
	for _, ns := range []int64{800_000, 3_000_000, 40_000_000} {
		h.Record(ns)
	}
	c, _ := fprom.New(r, fprom.WithHistogramBuckets("http.request.duration", []float64{1e6, 1e7, 1e8}))
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, _ := reg.Gather()
	for _, b := range mfs[0].GetMetric()[0].GetHistogram().GetBucket() {
		fmt.Printf("le=%g %d\n", b.GetUpperBound(), b.GetCumulativeCount())
	}
	// Output:
	// le=1e+06 1
	// le=1e+07 2
	// le=1e+08 3
}
