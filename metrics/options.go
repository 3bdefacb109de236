package metrics

import (
	"fmt"
	"math/bits"
	"runtime"
	"time"

	"github.com/elixirscope-go/foundation/clock"
)

// Defaults of the registry's settings.
const (
	// DefaultLowest is the default lowest discernible histogram value: 1 (a
	// nanosecond when values are durations).
	DefaultLowest int64 = 1
	// DefaultHighest is the default highest trackable histogram value: one
	// hour in nanoseconds.
	DefaultHighest = int64(time.Hour)
	// DefaultSignificantFigures is the default histogram precision: 3
	// significant decimal digits (a relative error of at most 0.1%).
	DefaultSignificantFigures = 3
	// DefaultMaxMetrics is the default cap on the metrics of a registry
	// (see [WithMaxMetrics]).
	DefaultMaxMetrics = 10_000
	// MaxStripes bounds the stripe count of counters and histograms.
	MaxStripes = 1024
	// defaultMaxStripes caps the automatic stripe count: beyond 64 cores the
	// memory of every counter (64 B per stripe) and histogram grows faster
	// than contention falls.
	defaultMaxStripes = 64
)

type settings struct {
	maxMetrics int
	onRefused  func(name string)
	stripes    int
	lowest     int64
	highest    int64
	sigfigs    int
	clock      clock.Clock
	problems   []error
}

func defaultSettings() settings {
	return settings{
		maxMetrics: DefaultMaxMetrics,
		stripes:    defaultStripes(),
		lowest:     DefaultLowest,
		highest:    DefaultHighest,
		sigfigs:    DefaultSignificantFigures,
		clock:      clock.Real(),
	}
}

// defaultStripes is GOMAXPROCS rounded up to a power of two, at most 64.
func defaultStripes() int {
	return roundStripes(runtime.GOMAXPROCS(0), defaultMaxStripes)
}

func roundStripes(n, limit int) int {
	if n < 1 {
		n = 1
	}
	if n > limit {
		n = limit
	}
	return 1 << bits.Len(uint(n-1))
}

// Option configures a [Registry]. Options are applied in order; the last one
// of a kind wins. An option with a value out of range is ignored by
// [NewRegistry] (the default stays) and reported by [CheckOptions].
type Option interface{ apply(*settings) }

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

// DispatcherOption configures a [Dispatcher]. The last one of a kind wins.
//
// It is a type of its own, not [Option], because a registry and a dispatcher
// take disjoint settings ([Recording] and [OnFailure] mean nothing to a
// registry, [WithStripes] nothing to a dispatcher): two types make passing
// one to the wrong constructor a compile error instead of an option silently
// ignored. The one option both take, [WithClock], is a [SharedOption].
type DispatcherOption interface{ applyDispatcher(*dispatcherSettings) }

type dispatcherOptionFunc func(*dispatcherSettings)

func (f dispatcherOptionFunc) applyDispatcher(s *dispatcherSettings) { f(s) }

// SharedOption is an option that configures both a [Registry] and a
// [Dispatcher].
type SharedOption interface {
	Option
	DispatcherOption
}

type clockOption struct{ c clock.Clock }

func (o clockOption) apply(s *settings) {
	if o.c == nil {
		s.problems = append(s.problems, fmt.Errorf("%w: WithClock(nil)", ErrInvalid))
		return
	}
	s.clock = o.c
}

func (o clockOption) applyDispatcher(s *dispatcherSettings) {
	if o.c != nil {
		s.clock = o.c
	}
}

// WithClock sets the clock of a registry or of a dispatcher; the default is
// [clock.Real]. A registry reads it once per [Registry.Snapshot] and its
// [Aggregator] ticks on its timers; a dispatcher reads it twice per
// [Dispatcher.Span] (start and end). Tests pass a [clock.Manual]. nil is
// invalid (a registry reports it) and ignored.
func WithClock(c clock.Clock) SharedOption { return clockOption{c} }

// WithStripes sets the number of stripes of every counter and histogram of the
// registry: n is rounded up to a power of two; 0 means the default, GOMAXPROCS
// rounded up to a power of two and capped at 64. More stripes than Ps waste
// memory; fewer make Ps share stripes (correct, but contended). n < 0 or
// n > [MaxStripes] is invalid.
func WithStripes(n int) Option {
	return optionFunc(func(s *settings) {
		switch {
		case n == 0:
			s.stripes = defaultStripes()
		case n < 0 || n > MaxStripes:
			s.problems = append(s.problems, fmt.Errorf("%w: WithStripes(%d): want 0..%d", ErrInvalid, n, MaxStripes))
		default:
			s.stripes = roundStripes(n, MaxStripes)
		}
	})
}

// WithMaxMetrics caps the metrics a registry holds: counters, gauges,
// histograms, labelled metrics and each of their series count one each
// ([Registry.CounterFunc] counters do not). Beyond the cap a new name gets
// the registry's shared no-op handle (valid, it records nothing) and a new
// tag set the overflow series of its metric; each refusal is counted
// ([Registry.Refused], [Snapshot.Refused]) and the first one is reported to
// the [OnRefused] function. The default is [DefaultMaxMetrics]: 10,000, at
// most about 10,000 x 11 KiB of lightly used histograms. n < 1 is invalid.
func WithMaxMetrics(n int) Option {
	return optionFunc(func(s *settings) {
		if n < 1 {
			s.problems = append(s.problems, fmt.Errorf("%w: WithMaxMetrics(%d): want >= 1", ErrInvalid, n))
			return
		}
		s.maxMetrics = n
	})
}

// OnRefused sets a function called with the first name (or labelled
// metric's name) that [WithMaxMetrics] refuses, once per registry, to log
// it. It runs on the goroutine that asked for the metric, under the
// registry's lock: it must not call the registry. A panic in fn is
// recovered.
func OnRefused(fn func(name string)) Option {
	return optionFunc(func(s *settings) { s.onRefused = fn })
}

// WithHistogramRange sets the geometry of the registry's histograms, with the
// meaning of hdrhistogram.New: values are tracked from 0 to highest, with a
// resolution of lowest and sigfigs significant decimal digits. Defaults:
// [DefaultLowest], [DefaultHighest], [DefaultSignificantFigures]. It is
// invalid unless lowest >= 1, highest >= 2*lowest, 1 <= sigfigs <= 5 and the
// geometry fits in 64 bits. Memory grows with highest/lowest and 2^sigfigs:
// the defaults need 33,792 buckets (8 bytes each) per folded histogram.
func WithHistogramRange(lowest, highest int64, sigfigs int) Option {
	return optionFunc(func(s *settings) {
		if _, err := newGeometry(lowest, highest, sigfigs); err != nil {
			s.problems = append(s.problems, err)
			return
		}
		s.lowest, s.highest, s.sigfigs = lowest, highest, sigfigs
	})
}

// CheckOptions reports the first invalid option, wrapped around [ErrInvalid],
// or nil. Callers that take options from configuration call it before
// [NewRegistry], which ignores invalid options.
func CheckOptions(opts ...Option) error {
	s := defaultSettings()
	for _, o := range opts {
		if o != nil {
			o.apply(&s)
		}
	}
	if len(s.problems) > 0 {
		return s.problems[0]
	}
	return nil
}
