package prometheus_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation/metrics"
	fprom "github.com/elixirscope-go/foundation/prometheus"
)

func mustNew(t testing.TB, src fprom.Source, opts ...fprom.Option) *fprom.Collector {
	t.Helper()
	c, err := fprom.New(src, opts...)
	require.NoError(t, err)
	return c
}

func TestCollectAndCompare(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("foundation.config_updates").Add(3)
	r.Counter("http.requests_total").Add(7)
	r.Gauge("queue.depth").Set(2.5)
	h := r.Histogram("db.query.stop.duration")
	for _, v := range []int64{10, 30, 300, 500} {
		h.Record(v)
	}
	c := mustNew(t, r,
		fprom.WithNamespace("app"),
		fprom.WithConstLabels(prometheus.Labels{"service": "api"}),
		fprom.WithHelp("queue.depth", "Jobs waiting."),
		fprom.WithHistogramBuckets("db.query.stop.duration", []float64{5, 50, 500}),
	)
	want := `
# HELP app_db_query_stop_duration foundation histogram db.query.stop.duration
# TYPE app_db_query_stop_duration histogram
app_db_query_stop_duration_bucket{service="api",le="5"} 0
app_db_query_stop_duration_bucket{service="api",le="50"} 2
app_db_query_stop_duration_bucket{service="api",le="500"} 4
app_db_query_stop_duration_bucket{service="api",le="+Inf"} 4
app_db_query_stop_duration_sum{service="api"} 840
app_db_query_stop_duration_count{service="api"} 4
# HELP app_foundation_config_updates_total foundation counter foundation.config_updates
# TYPE app_foundation_config_updates_total counter
app_foundation_config_updates_total{service="api"} 3
# HELP app_http_requests_total foundation counter http.requests_total
# TYPE app_http_requests_total counter
app_http_requests_total{service="api"} 7
# HELP app_queue_depth Jobs waiting.
# TYPE app_queue_depth gauge
app_queue_depth{service="api"} 2.5
`
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want)))
	assert.Equal(t, 4, testutil.CollectAndCount(c))
}

// TestNoDoubleCounting scrapes repeatedly: values are the registry's
// cumulative ones, unchanged when nothing was recorded and increased by
// exactly what was recorded in between.
func TestNoDoubleCounting(t *testing.T) {
	r := metrics.NewRegistry()
	cnt := r.Counter("jobs.done")
	h := r.Histogram("jobs.latency")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(mustNew(t, r))
	want := func(n uint64) string {
		return fmt.Sprintf(`
# HELP jobs_done_total foundation counter jobs.done
# TYPE jobs_done_total counter
jobs_done_total %d
`, n)
	}
	cnt.Add(5)
	h.Record(100)
	for range 3 {
		require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want(5)), "jobs_done_total"))
		assert.Equal(t, uint64(1), histCount(t, reg, "jobs_latency"))
	}
	cnt.Add(2)
	h.Record(200)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want(7)), "jobs_done_total"))
	assert.Equal(t, uint64(2), histCount(t, reg, "jobs_latency"))
}

func family(t testing.TB, g prometheus.Gatherer, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no family %q", name)
	return nil
}

func histCount(t testing.TB, g prometheus.Gatherer, name string) uint64 {
	return family(t, g, name).GetMetric()[0].GetHistogram().GetSampleCount()
}

func TestDefaultBuckets(t *testing.T) {
	b := fprom.DefaultBounds(metrics.DefaultLowest, metrics.DefaultHighest)
	assert.Len(t, b, 39)
	assert.Equal(t, []float64{1, 2, 5, 10}, b[:4])
	assert.Equal(t, 5e12, b[len(b)-1])
	assert.Equal(t, []float64{1000, 2000, 5000}, fprom.DefaultBounds(1000, 3000))

	r := metrics.NewRegistry()
	h := r.Histogram("lat")
	vals := []int64{0, 1, 3, 7, 1500, 2_100_000, 3_000_000_000} // exact within HDR precision of the bounds
	for _, v := range vals {
		h.Record(v)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(mustNew(t, r))
	m := family(t, reg, "lat").GetMetric()[0].GetHistogram()
	require.Len(t, m.GetBucket(), len(b))
	for i, bk := range m.GetBucket() {
		assert.Equal(t, b[i], bk.GetUpperBound())
		var want uint64
		for _, v := range vals {
			if float64(v) <= b[i] {
				want++
			}
		}
		assert.Equal(t, want, bk.GetCumulativeCount(), "le=%v", b[i])
	}
	assert.Equal(t, uint64(len(vals)), m.GetSampleCount())
	assert.Nil(t, m.Schema, "native buckets are opt-in")
}

func TestNativeHistogram(t *testing.T) {
	r := metrics.NewRegistry()
	h := r.Histogram("lat")
	vals := []int64{0, 1, 2, 3, 4, 100, 1000, 1_000_000}
	for _, v := range vals {
		h.Record(v)
	}
	r.Histogram("empty")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(mustNew(t, r, fprom.WithNativeHistograms(3)))
	m := family(t, reg, "lat").GetMetric()[0].GetHistogram()
	assert.Equal(t, int32(3), m.GetSchema())
	assert.Equal(t, uint64(1), m.GetZeroCount())
	assert.NotEmpty(t, m.GetBucket(), "classic buckets stay")
	// Decode the spans and deltas back into bucket counts and check that
	// every value lies in its bucket: (2^((i-1)/8), 2^(i/8)].
	got := map[int]int64{}
	var i int
	var n int64
	d := m.GetPositiveDelta()
	for _, sp := range m.GetPositiveSpan() {
		i += int(sp.GetOffset())
		for range sp.GetLength() {
			n += d[0]
			d = d[1:]
			got[i] = n
			i++
		}
	}
	want := map[int]int64{}
	for _, v := range vals[1:] {
		want[int(math.Ceil(math.Log2(float64(v))*8))]++
	}
	assert.Equal(t, want, got)
	e := family(t, reg, "empty").GetMetric()[0].GetHistogram()
	assert.Len(t, e.GetPositiveSpan(), 1, "an empty native histogram keeps one empty span")
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"foundation.events_stored": "foundation_events_stored",
		"ok_name:sub":              "ok_name:sub",
		"9lives":                   "_9lives",
		"a-b c/d":                  "a_b_c_d",
		"é.x":                      "__x",
		"":                         "_",
	} {
		got := fprom.Sanitize(in)
		assert.Equal(t, want, got, in)
		assert.True(t, model.LegacyValidation.IsValidMetricName(got), got)
	}
}

func TestCollisions(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("a.b").Add(1)
	r.Counter("a_b").Add(2) // same sanitized name: "a.b" sorts first and wins
	r.Histogram("lat").Record(1)
	r.Gauge("lat_count").Set(1) // collides with the histogram's _count
	c := mustNew(t, r)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	for range 2 {
		mfs, err := reg.Gather()
		require.NoError(t, err)
		var names []string
		for _, mf := range mfs {
			names = append(names, mf.GetName())
		}
		assert.Equal(t, []string{"a_b_total", "lat"}, names)
		assert.Equal(t, 1.0, family(t, reg, "a_b_total").GetMetric()[0].GetCounter().GetValue())
	}
	assert.Equal(t, uint64(2), c.Collisions())
}

func TestBadOptions(t *testing.T) {
	for name, o := range map[string]fprom.Option{
		"namespace":     fprom.WithNamespace("my-app"),
		"label":         fprom.WithConstLabels(prometheus.Labels{"__reserved": "x"}),
		"label chars":   fprom.WithConstLabels(prometheus.Labels{"a.b": "x"}),
		"buckets empty": fprom.WithBuckets(nil),
		"buckets order": fprom.WithBuckets([]float64{1, 1}),
		"buckets inf":   fprom.WithHistogramBuckets("h", []float64{1, math.Inf(1)}),
		"schema":        fprom.WithNativeHistograms(9),
	} {
		t.Run(name, func(t *testing.T) {
			c, err := fprom.New(metrics.NewRegistry(), o)
			assert.Nil(t, c)
			assert.True(t, errors.Is(err, fprom.ErrInvalidOption), "%v", err)
		})
	}
	_, err := fprom.New(nil)
	assert.Error(t, err)
}

func serve(t testing.TB, c prometheus.Collector) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return srv
}

// TestHTTPScrape scrapes /metrics over HTTP, in the text format and in the
// protobuf format (which carries native buckets), and parses both with
// prometheus/common/expfmt.
func TestHTTPScrape(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("foundation.events_stored").Add(42)
	r.Gauge("mem.bytes").Set(1 << 20)
	r.Histogram("op.duration").Record(1234)
	srv := serve(t, mustNew(t, r, fprom.WithNativeHistograms(8), fprom.WithConstLabels(prometheus.Labels{"node": "n1"})))

	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	require.NoError(t, err, "%s", body)
	assert.Equal(t, 42.0, mfs["foundation_events_stored_total"].GetMetric()[0].GetCounter().GetValue())
	assert.Equal(t, dto.MetricType_COUNTER, mfs["foundation_events_stored_total"].GetType())
	assert.Equal(t, float64(1<<20), mfs["mem_bytes"].GetMetric()[0].GetGauge().GetValue())
	hm := mfs["op_duration"].GetMetric()[0]
	assert.Equal(t, uint64(1), hm.GetHistogram().GetSampleCount())
	assert.Equal(t, "node", hm.GetLabel()[0].GetName())

	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
	found := false
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		if mf.GetName() == "op_duration" {
			found = true
			h := mf.GetMetric()[0].GetHistogram()
			assert.Equal(t, int32(8), h.GetSchema())
			assert.Equal(t, []int64{1}, h.GetPositiveDelta())
		}
	}
	assert.True(t, found)
}

// TestScrapeDuringRecording records from several goroutines while scraping:
// every scrape sees counts that never go down, and the last one sees the
// exact totals.
func TestScrapeDuringRecording(t *testing.T) {
	r := metrics.NewRegistry()
	c := mustNew(t, r)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	const writers, per = 4, 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cnt := r.Counter("ops")
			h := r.Histogram("lat")
			g := r.Gauge(fmt.Sprintf("g%d", w))
			for i := range per {
				cnt.Inc()
				h.Record(int64(i))
				g.Set(float64(i))
			}
		}()
	}
	scraped := make(chan error, 1)
	go func() {
		var last, lastH float64
		for {
			select {
			case <-stop:
				scraped <- nil
				return
			default:
			}
			mfs, err := reg.Gather()
			if err != nil {
				scraped <- err
				return
			}
			for _, mf := range mfs {
				switch mf.GetName() {
				case "ops_total":
					v := mf.GetMetric()[0].GetCounter().GetValue()
					if v < last {
						scraped <- fmt.Errorf("counter went down: %v < %v", v, last)
						return
					}
					last = v
				case "lat":
					v := float64(mf.GetMetric()[0].GetHistogram().GetSampleCount())
					if v < lastH {
						scraped <- fmt.Errorf("histogram count went down: %v < %v", v, lastH)
						return
					}
					lastH = v
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	require.NoError(t, <-scraped)
	assert.Equal(t, float64(writers*per), family(t, reg, "ops_total").GetMetric()[0].GetCounter().GetValue())
	assert.Equal(t, uint64(writers*per), histCount(t, reg, "lat"))
}
