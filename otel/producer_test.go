package otel_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/elixirscope-go/foundation/metrics"
	fotel "github.com/elixirscope-go/foundation/otel"
)

// collect registers p on a ManualReader of a MeterProvider, collects, and
// returns the foundation scope.
func collect(t *testing.T, p *fotel.Producer) metricdata.ScopeMetrics {
	t.Helper()
	reader := sdkmetric.NewManualReader(sdkmetric.WithProducer(p))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name == fotel.ScopeName {
			return sm
		}
	}
	t.Fatalf("no scope %s in %+v", fotel.ScopeName, rm)
	return metricdata.ScopeMetrics{}
}

func TestProducerManualReader(t *testing.T) {
	r := metrics.NewRegistry()
	r.Counter("foundation.events_stored").Add(5)
	r.Gauge("queue.depth").Set(2.5)
	h := r.Histogram("db.query.stop.duration")
	for _, v := range []int64{10, 30, 300, 500} {
		h.Record(v)
	}
	r.Histogram("empty")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	attrs := attribute.NewSet(attribute.String("node", "n1"))
	p, err := fotel.NewProducer(r,
		fotel.WithStartTime(start),
		fotel.WithAttributes(attribute.String("node", "n1")),
		fotel.WithHistogramBounds("db.query.stop.duration", []float64{5, 50, 500}),
		fotel.WithHistogramBounds("empty", []float64{1}),
		fotel.WithUnit("db.query.stop.duration", "ns"),
		fotel.WithDescription("queue.depth", "Jobs waiting."),
	)
	require.NoError(t, err)
	want := metricdata.ScopeMetrics{
		Scope: instrumentation.Scope{Name: fotel.ScopeName},
		Metrics: []metricdata.Metrics{
			{
				Name: "db.query.stop.duration", Description: "foundation histogram db.query.stop.duration", Unit: "ns",
				Data: metricdata.Histogram[int64]{
					Temporality: metricdata.CumulativeTemporality,
					DataPoints: []metricdata.HistogramDataPoint[int64]{{
						Attributes: attrs, StartTime: start,
						Count: 4, Bounds: []float64{5, 50, 500}, BucketCounts: []uint64{0, 2, 2, 0},
						Min: metricdata.NewExtrema[int64](10), Max: metricdata.NewExtrema[int64](500), Sum: 840,
					}},
				},
			},
			{
				Name: "empty", Description: "foundation histogram empty",
				Data: metricdata.Histogram[int64]{
					Temporality: metricdata.CumulativeTemporality,
					DataPoints: []metricdata.HistogramDataPoint[int64]{{
						Attributes: attrs, StartTime: start, Bounds: []float64{1}, BucketCounts: []uint64{0, 0},
					}},
				},
			},
			{
				Name: "foundation.events_stored", Description: "foundation counter foundation.events_stored",
				Data: metricdata.Sum[int64]{
					Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
					DataPoints: []metricdata.DataPoint[int64]{{Attributes: attrs, StartTime: start, Value: 5}},
				},
			},
			{
				Name: "queue.depth", Description: "Jobs waiting.",
				Data: metricdata.Gauge[float64]{
					DataPoints: []metricdata.DataPoint[float64]{{Attributes: attrs, StartTime: start, Value: 2.5}},
				},
			},
		},
	}
	got := collect(t, p)
	metricdatatest.AssertEqual(t, want, got, metricdatatest.IgnoreTimestamp())
	for _, m := range got.Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			assert.Equal(t, start, d.DataPoints[0].StartTime)
			assert.False(t, d.DataPoints[0].Time.Before(start))
		}
	}

	// Cumulative: a second collection reports totals, not increments.
	r.Counter("foundation.events_stored").Add(2)
	h.Record(20)
	got = collect(t, p)
	for _, m := range got.Metrics {
		switch d := m.Data.(type) {
		case metricdata.Sum[int64]:
			assert.Equal(t, int64(7), d.DataPoints[0].Value)
		case metricdata.Histogram[int64]:
			if m.Name == "db.query.stop.duration" {
				assert.Equal(t, uint64(5), d.DataPoints[0].Count)
				assert.Equal(t, []uint64{0, 3, 2, 0}, d.DataPoints[0].BucketCounts)
			}
		}
	}
}

// TestProducerDefaultBounds checks that the bucket counts at the default
// bounds add up to the count and put every value in its bucket.
func TestProducerDefaultBounds(t *testing.T) {
	r := metrics.NewRegistry()
	h := r.Histogram("lat")
	vals := []int64{0, 1, 3, 7, 1500, 2_100_000, 3_000_000_000, math.MaxInt64}
	for _, v := range vals {
		h.Record(v)
	}
	p, err := fotel.NewProducer(r)
	require.NoError(t, err)
	sm := collect(t, p)
	require.Len(t, sm.Metrics, 1)
	dp := sm.Metrics[0].Data.(metricdata.Histogram[int64]).DataPoints[0]
	bounds := fotel.DefaultBounds(metrics.DefaultLowest, metrics.DefaultHighest)
	assert.Equal(t, bounds, dp.Bounds)
	require.Len(t, dp.BucketCounts, len(bounds)+1)
	want := make([]uint64, len(bounds)+1)
	for _, v := range vals {
		v = min(v, metrics.DefaultHighest) // clamped by the registry
		i := 0
		for i < len(bounds) && float64(v) > bounds[i] {
			i++
		}
		want[i]++
	}
	assert.Equal(t, want, dp.BucketCounts)
	var sum uint64
	for _, c := range dp.BucketCounts {
		sum += c
	}
	assert.Equal(t, uint64(len(vals)), sum)
	assert.Equal(t, dp.Count, sum)
	v, ok := dp.Max.Value()
	assert.True(t, ok)
	assert.InEpsilon(t, float64(metrics.DefaultHighest), float64(v), 0.001)
}

func TestProducerBadOptions(t *testing.T) {
	for name, o := range map[string]fotel.Option{
		"empty":     fotel.WithBounds(nil),
		"order":     fotel.WithBounds([]float64{2, 1}),
		"nan":       fotel.WithHistogramBounds("h", []float64{math.NaN()}),
		"duplicate": fotel.WithHistogramBounds("h", []float64{1, 1}),
	} {
		t.Run(name, func(t *testing.T) {
			p, err := fotel.NewProducer(metrics.NewRegistry(), o)
			assert.Nil(t, p)
			assert.True(t, errors.Is(err, fotel.ErrInvalidOption), "%v", err)
		})
	}
	_, err := fotel.NewProducer(nil)
	assert.True(t, errors.Is(err, fotel.ErrInvalidOption))
}

// TestProducerLabelledSeries: a labelled metric is one metric with a data
// point per series, tags as attributes, the overflow series marked as
// OpenTelemetry's SDK marks it, and the declared unit on the instrument.
func TestProducerLabelledSeries(t *testing.T) {
	r := metrics.NewRegistry()
	hv, err := r.HistogramVec("rpc.duration", metrics.Desc{Tags: []string{"method"}, Unit: metrics.Nanoseconds, MaxSeries: 1})
	require.NoError(t, err)
	hv.With("Get").Record(1000)
	hv.With("Put").Record(2000) // beyond the cap: overflow
	cv, err := r.CounterVec("rpc.calls", metrics.Desc{Tags: []string{"method"}})
	require.NoError(t, err)
	cv.With("Get").Add(3)
	p, err := fotel.NewProducer(r, fotel.WithAttributes(attribute.String("node", "n1")))
	require.NoError(t, err)
	got := collect(t, p)
	byName := map[string]metricdata.Metrics{}
	for _, m := range got.Metrics {
		byName[m.Name] = m
	}
	h := byName["rpc.duration"]
	assert.Equal(t, "ns", h.Unit)
	dps := h.Data.(metricdata.Histogram[int64]).DataPoints
	require.Len(t, dps, 2)
	assert.Equal(t, attribute.NewSet(attribute.String("node", "n1"), attribute.String("method", "Get")), dps[0].Attributes)
	assert.Equal(t, attribute.NewSet(attribute.String("node", "n1"), fotel.OverflowAttribute), dps[1].Attributes)
	assert.Equal(t, uint64(1), dps[1].Count)
	c := byName["rpc.calls"].Data.(metricdata.Sum[int64]).DataPoints
	require.Len(t, c, 2)
	assert.Equal(t, int64(3), c[0].Value)
	v, ok := c[0].Attributes.Value("method")
	assert.True(t, ok)
	assert.Equal(t, "Get", v.AsString())
}
