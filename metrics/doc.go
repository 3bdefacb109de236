// Package metrics is the measuring core of foundation: counters striped per
// P, float gauges, HDR histograms folded on read, a registry of them by name,
// and event dispatch in the manner of Erlang's :telemetry. It knows nothing
// of the root package's services; any program can use it alone.
//
// Every exported function and method is safe for concurrent use unless its
// documentation says otherwise.
//
// # Handles
//
// [Registry.Counter], [Registry.Gauge] and [Registry.Histogram] look a name up
// (an xsync map load) and return a handle, the same one for the same name
// for the life of the registry. Bind handles once and keep them: the hot-path
// methods ([Counter.Add], [Gauge.Set], [Histogram.Record]) do no lookup, take
// no lock and allocate nothing. [Registry.SetEnabled](false) turns all of them
// into no-ops at once; handles stay valid.
//
// # Striping
//
// A [Counter] has one 64-byte cell per stripe (GOMAXPROCS rounded up to a
// power of two, at most 64; see [WithStripes]). Add pins the goroutine to its
// P (runtime.procPin, as sync.Pool does), adds atomically to the P's cell,
// and unpins: the add is uncontended, and the value is the sum of the cells.
// A [Histogram] stripes its bucket counts the same way.
//
// # Histograms
//
// Histograms have the bucket layout of hdrhistogram-go (lowest discernible
// value, highest trackable value, significant figures: [WithHistogramRange];
// by default 1 ns to 1 h at 3 figures). Record computes the bucket index as
// that library does and adds 1 to it in the caller's stripe. Reading
// ([Histogram.Snapshot], [Registry.Snapshot]) folds the stripes, index by
// index, into an hdrhistogram-go Histogram, whose percentile math gives P50,
// P90, P99, P99.9 and any [Histogram.Quantile]. A histogram that did not
// change since its last fold is not folded again. Values below 0 or above the
// highest trackable value are clamped into range and counted
// ([HistogramSnapshot.Clamped]), never lost.
//
// # Dispatch
//
// A [Dispatcher] calls [Handler]s attached under unique ids to event names.
// [Dispatcher.Execute] is one atomic load of an immutable table and a map
// lookup; attaching or detaching publishes a new table. A handler that panics
// is detached and reported as the event [FailureEvent]; the caller goes on.
// [Dispatcher.Span] wraps a function in start, stop and exception events,
// shaped as :telemetry.span's. With [Recording], Execute feeds a registry
// from the measurements (a "counter" key, a "gauge" key, a histogram per
// other key, series picked by metadata for labelled metrics): each event
// name is resolved once to a prepared entry, so an Execute costs one lookup
// by name and allocates nothing.
//
// # Bounds and exactness
//
// A registry holds at most [WithMaxMetrics] metrics and series (10,000 by
// default); beyond, new names get a shared no-op handle and new tag sets
// their metric's overflow series, and refusals are counted. Counters
// saturate at 2^64-1 rather than wrap; Execute's "counter" takes whole
// numbers in [0, 2^53] only; histogram values out of range are clamped and
// counted.
//
// # Labelled metrics
//
// [Registry.CounterVec] and [Registry.HistogramVec] declare a metric with
// tag keys and a [Unit]; With binds the handle of one tag set, and each
// metric caps its distinct tag sets ([Desc]).
//
// # Aggregation
//
// An [Aggregator] turns registry snapshots into deltas and rates per
// interval ([DefaultInterval], 5 s) for [Exporter]s; [Aggregator.Run] runs
// in the caller's goroutine until its context is done.
//
// # Example
//
//	r := metrics.NewRegistry()
//	requests := r.Counter("http.requests")   // bind once
//	latency := r.Histogram("http.latency_ns")
//
//	d := metrics.NewDispatcher()
//	_ = d.Attach("log-slow", []string{"http.request.stop"}, func(_ string, m metrics.Measurements, md metrics.Metadata) {
//		if m["duration"] > 1e8 {
//			log.Printf("slow request %v", md["path"])
//		}
//	})
//
//	handle := func(path string) error {
//		return d.Span("http.request", metrics.Metadata{"path": path}, func() error {
//			start := time.Now()
//			defer func() { latency.Record(int64(time.Since(start))) }()
//			requests.Inc()
//			return serve(path)
//		})
//	}
//	_ = handle("/index.html")
//
//	snap := r.Snapshot()
//	fmt.Println(snap.Counters["http.requests"], snap.Histograms["http.latency_ns"].P99)
package metrics

// doccheck: what the package doc's example assumes (docs_test.go in the
// repository root builds it).
//
//	var serve func(path string) error
