package foundation

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/metrics"
)

// Clock is the time source of a Foundation, the [clock.Clock] that every
// service shares: [Clock.Now] stamps events, config versions, metric
// snapshots and spans, and [Clock.NewTimer] drives the supervisor's backoff,
// the pruner and the telemetry aggregator. Give one with [WithClock]; tests
// use a [clock.Manual] ([NewManualClock]).
type Clock = clock.Clock

// Timer is a one-shot timer made by a [Clock].
type Timer = clock.Timer

// ManualClock is [clock.Manual], named here for tests that import only this
// package: a [Clock] that moves only when told to (Add, Set), firing the
// timers that come due. Its BlockUntil(n, done) waits until n timers are
// pending, so a test knows a goroutine is asleep on the clock.
type ManualClock = clock.Manual

// NewManualClock returns a [ManualClock] that reads t ([clock.NewManual]).
func NewManualClock(t time.Time) *ManualClock { return clock.NewManual(t) }

// Option configures a Foundation in [New]. A bad option makes New fail with
// an error matching [ErrInvalidArgument]; it never panics. When an option is
// given twice, the last one wins.
type Option interface{ apply(*settings) }

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

type settings struct {
	config        *Config
	dataDir       string
	capacity      int
	shards        int
	logger        *slog.Logger
	clock         Clock
	maxEventSize  int
	exporter      Exporter
	metricsExp    []metrics.Exporter
	maxMetrics    int
	shutdown      time.Duration
	src           sourceSettings // WithConfigFile, WithConfigWatch, WithEnv (config_source.go)
	errs          []error
	groupReadable bool
}

func (s *settings) fail(err error) { s.errs = append(s.errs, err) }

// WithConfig starts the Foundation with cfg instead of [DefaultConfig]. New
// validates it and refuses an invalid one with the validation error. It is
// also the config that [ConfigService.Reset] returns to.
func WithConfig(cfg Config) Option {
	return optionFunc(func(s *settings) { c := cfg; s.config = &c })
}

// WithDataDir makes config changes durable in dir (a write-ahead log plus
// snapshots; created 0700 if missing, files 0600, see
// [WithGroupReadableDataDir]). A restarted Foundation with the same dir
// comes back with the changes, except ai.api_key: secrets are never written
// there, the starting config's key is the one in force. Damage does not stop
// New: it starts from the newest state it can prove, keeps damaged files as
// *.corrupt, and Health reports the config service degraded, naming the
// lost versions; a write that fails, a deleted dir or a snapshot that cannot
// be written make it degraded while running (docs/faults.md).
func WithDataDir(dir string) Option {
	return optionFunc(func(s *settings) {
		if dir == "" {
			s.fail(newError(kInvalidArgument, nil, "WithDataDir: empty directory"))
		}
		s.dataDir = dir
	})
}

// WithGroupReadableDataDir makes what [WithDataDir] creates group-readable:
// the directory 0750 and its files 0640, instead of the private default 0700
// and 0600.
func WithGroupReadableDataDir() Option {
	return optionFunc(func(s *settings) { s.groupReadable = true })
}

// WithEventCapacity sets the event store's capacity (storage.hot.max_events
// of the starting config). n must be > 0.
func WithEventCapacity(n int) Option {
	return optionFunc(func(s *settings) {
		if n <= 0 {
			s.fail(newError(kInvalidArgument, nil, fmt.Sprintf("WithEventCapacity(%d): must be > 0", n), "value", n))
		}
		s.capacity = n
	})
}

// WithEventShards sets the number of ring shards of the event store
// (capture.ring_buffer.num_buffers of the starting config); 0 means one per P.
func WithEventShards(n int) Option {
	return optionFunc(func(s *settings) {
		if n < 0 {
			s.fail(newError(kInvalidArgument, nil, fmt.Sprintf("WithEventShards(%d): must be >= 0", n), "value", n))
		}
		s.shards = n
	})
}

// WithLogger sets the logger (default: one that discards everything).
// dev.debug_mode and dev.verbose_logging raise its level to debug.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(s *settings) {
		if l == nil {
			s.fail(newError(kInvalidArgument, nil, "WithLogger: nil logger"))
		}
		s.logger = l
	})
}

// WithClock sets the clock of every service (default: [clock.Real], the
// system clock). nil is an error matching [ErrInvalidArgument].
func WithClock(c Clock) Option {
	return optionFunc(func(s *settings) {
		if c == nil {
			s.fail(newError(kInvalidArgument, nil, "WithClock: nil clock"))
		}
		s.clock = c
	})
}

// WithMaxEventSize sets the largest Data an event may carry (default
// 1,000,000 bytes).
func WithMaxEventSize(n int) Option {
	return optionFunc(func(s *settings) {
		if n <= 0 {
			s.fail(newError(kInvalidArgument, nil, fmt.Sprintf("WithMaxEventSize(%d): must be > 0", n), "value", n))
		}
		s.maxEventSize = n
	})
}

// WithExporter sends stored events, in batches, to e (see [Exporter]).
func WithExporter(e Exporter) Option {
	return optionFunc(func(s *settings) {
		if e == nil {
			s.fail(newError(kInvalidArgument, nil, "WithExporter: nil exporter"))
		}
		s.exporter = e
	})
}

// WithMetricsExporter hands every periodic aggregate of the telemetry (every
// 5 s, [metrics.DefaultInterval]: each counter's and histogram's value, delta
// and rate since the last one, with the full snapshot) to e, on the
// aggregator's goroutine. An exporter that fails or panics is counted
// (see [Telemetry.AggregateFailures]) and called again next time. Repeated
// options add exporters.
func WithMetricsExporter(e metrics.Exporter) Option {
	return optionFunc(func(s *settings) {
		if e == nil {
			s.fail(newError(kInvalidArgument, nil, "WithMetricsExporter: nil exporter"))
		}
		s.metricsExp = append(s.metricsExp, e)
	})
}

// DefaultShutdownTimeout is how long Close waits for supervised tasks when
// [WithShutdownTimeout] is not given.
const DefaultShutdownTimeout = 10 * time.Second

// WithShutdownTimeout sets how long [Foundation.Close] waits for supervised
// tasks to return after cancelling their context (default
// [DefaultShutdownTimeout], 10 s). d must be > 0.
func WithShutdownTimeout(d time.Duration) Option {
	return optionFunc(func(s *settings) {
		if d <= 0 {
			s.fail(newError(kInvalidArgument, nil, fmt.Sprintf("WithShutdownTimeout(%s): must be > 0", d), "value", d.String()))
		}
		s.shutdown = d
	})
}

// WithMaxMetrics caps the metric names the telemetry holds (counters,
// gauges, histograms, labelled metrics and each of their tag sets count one
// each; default 10,000, [metrics.DefaultMaxMetrics]). Beyond it, a new name
// gets a valid handle that records nothing, and a new tag set the overflow
// series of its metric; refusals are counted in
// foundation.telemetry_metrics_refused and the first is logged. The
// built-in metrics count too. n must be >= 1.
func WithMaxMetrics(n int) Option {
	return optionFunc(func(s *settings) {
		if n < 1 {
			s.fail(newError(kInvalidArgument, nil, fmt.Sprintf("WithMaxMetrics(%d): must be >= 1", n), "value", n))
		}
		s.maxMetrics = n
	})
}
