package prometheus_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
	"github.com/elixirscope-go/foundation/metrics"
	fprom "github.com/elixirscope-go/foundation/prometheus"
)

// TestFoundation exports a real Foundation's telemetry: built-in counters,
// an Execute'd event's counter and histogram, and a Span's duration.
func TestFoundation(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	defer f.Close()
	tel := f.Telemetry()
	tel.Execute("http.request", foundation.Measurements{"counter": 2, "bytes": 1500}, nil)
	require.NoError(t, tel.Span("db.query", nil, func() error { return nil }))

	for name, src := range map[string]fprom.Source{
		"registry": tel.Registry(),
		"metrics":  fprom.SourceFunc(tel.Metrics),
	} {
		t.Run(name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(mustNew(t, src))
			require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP http_request_total foundation counter http.request
# TYPE http_request_total counter
http_request_total 2
# HELP foundation_config_updates_total foundation counter foundation.config_updates
# TYPE foundation_config_updates_total counter
foundation_config_updates_total 0
`), "http_request_total", "foundation_config_updates_total"))
			assert.Equal(t, uint64(1), histCount(t, reg, "http_request_bytes"))
			assert.Equal(t, uint64(1), histCount(t, reg, "db_query_stop_duration_seconds"), "a duration in ns is exported in seconds")
		})
	}
}

// TestLabelledSecondsHistogram exports a histogram declared with tags and
// the unit ns: labels from Execute's metadata, name and values in seconds,
// the overflow series, and the raw option.
func TestLabelledSecondsHistogram(t *testing.T) {
	f, err := foundation.New()
	require.NoError(t, err)
	defer f.Close()
	tel := f.Telemetry()
	_, err = tel.HistogramVec("http.request.stop.duration", foundation.MetricDesc{
		Tags: []string{"status", "route"}, Unit: metrics.Nanoseconds, MaxSeries: 2})
	require.NoError(t, err)
	_, err = tel.CounterVec("http.request.stop", foundation.MetricDesc{Tags: []string{"status"}})
	require.NoError(t, err)
	for _, ev := range []struct {
		status int
		route  string
		ns     float64
	}{{200, "/a", 2e6}, {200, "/a", 4e6}, {500, "/b", 3e9}, {200, "/c", 1e6}} {
		tel.Execute("http.request.stop", foundation.Measurements{"counter": 1, "duration": ev.ns},
			foundation.Metadata{"status": ev.status, "route": ev.route})
	}
	c := mustNew(t, tel.Registry(), fprom.WithBuckets([]float64{5e6, 1e9}))
	want := `
# HELP http_request_stop_duration_seconds foundation histogram http.request.stop.duration
# TYPE http_request_stop_duration_seconds histogram
http_request_stop_duration_seconds_bucket{route="/a",status="200",le="0.005"} 2
http_request_stop_duration_seconds_bucket{route="/a",status="200",le="1"} 2
http_request_stop_duration_seconds_bucket{route="/a",status="200",le="+Inf"} 2
http_request_stop_duration_seconds_sum{route="/a",status="200"} 0.006001152
http_request_stop_duration_seconds_count{route="/a",status="200"} 2
http_request_stop_duration_seconds_bucket{route="/b",status="500",le="0.005"} 0
http_request_stop_duration_seconds_bucket{route="/b",status="500",le="1"} 0
http_request_stop_duration_seconds_bucket{route="/b",status="500",le="+Inf"} 1
http_request_stop_duration_seconds_sum{route="/b",status="500"} 2.9999759360000002
http_request_stop_duration_seconds_count{route="/b",status="500"} 1
http_request_stop_duration_seconds_bucket{route="_overflow",status="_overflow",le="0.005"} 1
http_request_stop_duration_seconds_bucket{route="_overflow",status="_overflow",le="1"} 1
http_request_stop_duration_seconds_bucket{route="_overflow",status="_overflow",le="+Inf"} 1
http_request_stop_duration_seconds_sum{route="_overflow",status="_overflow"} 0.001000192
http_request_stop_duration_seconds_count{route="_overflow",status="_overflow"} 1
# HELP http_request_stop_total foundation counter http.request.stop
# TYPE http_request_stop_total counter
http_request_stop_total{status="200"} 3
http_request_stop_total{status="500"} 1
http_request_stop_total{status="_overflow"} 0
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want),
		"http_request_stop_duration_seconds", "http_request_stop_total"))
	raw := mustNew(t, tel.Registry(), fprom.WithRawUnits())
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(raw)
	assert.Equal(t, uint64(4), histCountAll(t, reg, "http_request_stop_duration"))
}

// histCountAll sums the sample counts of every series of a histogram family.
func histCountAll(t testing.TB, g prometheus.Gatherer, name string) uint64 {
	var n uint64
	for _, m := range family(t, g, name).GetMetric() {
		n += m.GetHistogram().GetSampleCount()
	}
	return n
}
