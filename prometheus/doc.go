// Package prometheus exposes the metrics of a foundation Telemetry (or of any
// [metrics.Registry]) to Prometheus, as a client_golang [prometheus.Collector].
//
// # Mapping
//
// Every scrape reads one [metrics.Snapshot] and turns it into constant
// metrics; nothing is kept between scrapes but name descriptors, so there is
// no double counting: counters and histograms are exported as the cumulative
// values the registry holds.
//
//   - A counter becomes a Prometheus counter named <name>_total.
//   - A gauge becomes a Prometheus gauge.
//   - A histogram becomes a Prometheus histogram (<name>_bucket, _sum,
//     _count) whose classic buckets are computed from the HDR buckets at
//     fixed bounds: by default a 1-2-5 series over the histogram's range
//     ([DefaultBounds]), or the bounds given with [WithBuckets]. With
//     [WithNativeHistograms] the same histogram also carries native
//     (sparse, exponential) buckets, which Prometheus ingests over the
//     protobuf exposition format when its native histograms feature is on;
//     the text format still shows the classic buckets.
//
// Histogram values are integers (nanoseconds for durations): a bound b
// counts the values <= floor(b), and an HDR bucket counts as below a bound
// when its upper end is, so a value within the HDR precision (0.1% by
// default) of a bound can land in the next bucket. The sum is the HDR mean
// times the count, within the same precision.
//
// Names are sanitized: every character outside [a-zA-Z0-9_:] (dots
// included) becomes an underscore, a leading digit gets an underscore before
// it, and the namespace of [WithNamespace] is prepended. Two metrics whose
// sanitized names collide are exported once (the first name in sorted order
// wins) and the collision is counted in [Collector.Collisions].
//
// # Cost
//
// The collector adds nothing to recording: it is only read when scraped.
// A scrape takes no lock that recorders take (see [metrics.Registry.Snapshot]);
// it folds the histograms that changed since the last scrape. Descriptors are
// built once per metric name and cached.
//
// # Example
//
//	c, err := fprom.New(f.Telemetry().Registry(), fprom.WithNamespace("myapp"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// where fprom is this package and prometheus is client_golang's.
package prometheus

// doccheck: what the package doc's example assumes (docs_test.go in the
// repository root builds it).
//
//	var f *foundation.Foundation
