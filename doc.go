// Package foundation is the embedded foundation layer of a service: config,
// events and telemetry on a lock-free core, with a supervisor for goroutine
// tasks. It is the Go version of the ElixirScope Foundation layer.
//
// # Services
//
//   - [ConfigService]: reads are one atomic load of an immutable [Snapshot];
//     updates of the nine updatable paths are converted, validated as a whole,
//     swapped in all-or-nothing, versioned, logged durably with
//     [WithDataDir], stored as events, counted, and announced to subscribers.
//   - [EventStore]: a bounded, sharded lock-free ring of events with indexes
//     by type, correlation id and time; queries cost O(log n + results).
//   - [Telemetry]: Erlang :telemetry-style Execute/Attach/Span over striped
//     counters and HDR histograms folded on read.
//
// # Config sources
//
// The starting config is built from, lowest first: the defaults,
// [WithConfig], a JSON, YAML or TOML file ([WithConfigFile], strict, errors
// naming file, key and line), environment variables ([WithEnv]), then the
// runtime updates of updatable paths kept in the data dir ([WithDataDir]).
// [WithConfigWatch] also reloads the file while the service runs, publishing
// only files that parse and validate, through [ConfigService.UpdateMany]
// (see [ExampleWithConfigWatch]).
//
// # Errors
//
// Every error is an [*Error] with a unique code, a type, a category, a
// severity and a retry hint. Match them with errors.Is against the
// sentinels, the [Kind] constants: errors.Is(err, ErrRange), and every
// validation failure also matches [ErrValidation].
//
// # Options
//
// The packages of this module are configured in one of two ways, by kind:
//
//   - Storage engines sized once or opened on a directory — ring.New,
//     cfgsnap.Open, segment.Open — take one Config struct. Its zero value
//     is the defaults, each field documents its default and range, and a
//     bad field makes the constructor fail with an error that errors.Is
//     matches (ring.ErrInvalid, cfgsnap.ErrOption, segment.ErrConfig).
//   - Tables and services — the shard tables, metrics.NewRegistry and
//     metrics.NewDispatcher, jsonl.New and [New] — take functional options
//     of one form, an Option interface with an unexported apply method
//     (With… functions build them). The last of repeated options wins
//     unless its doc says otherwise; a bad option makes the constructor fail
//     with an errors.Is-able error ([ErrInvalidArgument] here,
//     shard.ErrOption, jsonl.ErrOption). The metrics constructors, which
//     have no error result, keep the default instead; metrics.CheckOptions
//     reports a bad registry option.
//
// A package takes one or the other, never both.
//
// # Concurrency
//
// Every exported method is safe for concurrent use. Reads never take a lock.
// Subscribers never block writers: they lose values and can count them.
// [Foundation.Close] stops every goroutine the Foundation started.
//
// # A short program
//
//	dir, err := os.MkdirTemp("", "app-config") // or a directory under os.UserCacheDir
//	if err != nil {
//		log.Fatal(err)
//	}
//	f, err := foundation.New(foundation.WithDataDir(dir))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer f.Close()
//
//	rate := f.Config().Get().Config().AI.Planning.SamplingRate
//	if err := f.Config().Update("ai.planning.sampling_rate", rate/2); err != nil {
//		log.Print(err)
//	}
//
//	id, _ := f.Events().Store(foundation.Event{Type: "login", CorrelationID: "req-1"})
//	evs, _ := f.Events().Query(foundation.Query{Type: "login", Limit: 10})
//	fmt.Println(id, len(evs))
//
//	hits := f.Telemetry().Counter("http.hits") // bind once
//	hits.Add(1)                                // then one atomic add
//	f.Telemetry().Execute("http.request", foundation.Measurements{"duration": 1200}, nil)
//
// # More
//
// The repository's docs/ pages hold the references: config.md (every config
// key, its default, rule and reader), events.md (order, bounds, overflow,
// paging, subscriptions), faults.md (what is promised on each fault) and
// telemetry.md (metric names, span shape, units, caps).
//
// Every code block of this package's docs, of the README and of docs/ is
// built by a test (docs_test.go), so it cannot rot.
package foundation
