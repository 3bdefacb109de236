package prometheus

import (
	"errors"
	"fmt"
	"github.com/elixirscope-go/foundation/metrics"
	"regexp"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrInvalidOption is wrapped by the error [New] returns for a bad option.
var ErrInvalidOption = errors.New("prometheus: invalid option")

// Option configures a [Collector]. Options apply in order; for the same
// setting (or the same metric name) the last one wins.
type Option interface{ apply(*settings) }

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

type settings struct {
	namespace string
	labels    prometheus.Labels
	help      map[string]string
	buckets   []float64
	perHist   map[string][]float64
	native    bool
	schema    int32
	rawUnits  bool
	problems  []error
}

func (s *settings) fail(format string, args ...any) {
	s.problems = append(s.problems, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...))
}

var (
	legacyName  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	legacyLabel = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// WithNamespace prepends ns and an underscore to every metric name
// (Prometheus' namespace). ns must be a valid Prometheus metric name; "" (the
// default) means no namespace.
func WithNamespace(ns string) Option {
	return optionFunc(func(s *settings) {
		if ns != "" && !legacyName.MatchString(ns) {
			s.fail("namespace %q: want [a-zA-Z_:][a-zA-Z0-9_:]*", ns)
			return
		}
		s.namespace = ns
	})
}

// WithConstLabels adds labels to every exported metric (for example
// instance or service labels that the scrape configuration does not add).
// Label names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__".
// Repeated calls add up; a repeated label name takes the last value.
func WithConstLabels(labels prometheus.Labels) Option {
	return optionFunc(func(s *settings) {
		for k, v := range labels {
			if !legacyLabel.MatchString(k) || strings.HasPrefix(k, "__") {
				s.fail("label name %q", k)
				continue
			}
			if s.labels == nil {
				s.labels = prometheus.Labels{}
			}
			s.labels[k] = v
		}
	})
}

// WithHelp sets the HELP text of the metric named name (the foundation name,
// before sanitizing). Without it, HELP says which foundation metric the
// series comes from.
func WithHelp(name, help string) Option {
	return optionFunc(func(s *settings) {
		if s.help == nil {
			s.help = map[string]string{}
		}
		s.help[name] = help
	})
}

// WithBuckets sets the classic bucket upper bounds of every histogram that
// has none of its own ([WithHistogramBuckets]). Bounds must be finite and
// strictly increasing; +Inf is implied. Values are integers, so a bound b
// counts the values <= floor(b). The default is [DefaultBounds] over each
// histogram's range.
func WithBuckets(bounds []float64) Option {
	return optionFunc(func(s *settings) {
		if err := metrics.CheckBounds(bounds); err != nil {
			s.fail("buckets: %v", err)
			return
		}
		s.buckets = append([]float64(nil), bounds...)
	})
}

// WithHistogramBuckets sets the classic bucket upper bounds of the histogram
// named name (the foundation name), as [WithBuckets] does for all.
func WithHistogramBuckets(name string, bounds []float64) Option {
	return optionFunc(func(s *settings) {
		if err := metrics.CheckBounds(bounds); err != nil {
			s.fail("buckets of %q: %v", name, err)
			return
		}
		if s.perHist == nil {
			s.perHist = map[string][]float64{}
		}
		s.perHist[name] = append([]float64(nil), bounds...)
	})
}

// WithNativeHistograms makes every histogram carry native (sparse,
// exponential) buckets of the given schema (-4 to 8: bucket boundaries
// grow by a factor of 2^(2^-schema)) besides its classic buckets. Schema 8
// has buckets about 0.27% wide, close to the HDR precision of 3 significant
// figures. A scraper that does not negotiate the protobuf format, or a
// Prometheus without native histograms enabled, sees only the classic
// buckets. Off by default.
func WithNativeHistograms(schema int32) Option {
	return optionFunc(func(s *settings) {
		if schema < -4 || schema > 8 {
			s.fail("native histogram schema %d: want -4..8", schema)
			return
		}
		s.native, s.schema = true, schema
	})
}

// DefaultBounds returns the default classic bucket bounds of a histogram
// whose values lie in [lowest, highest]: [metrics.DefaultBounds], the 1-2-5
// series over the histogram's range (39 bounds for 1 ns to 1 h). They
// depend only on the geometry, never on the data, so every scrape of a
// histogram has the same buckets.
func DefaultBounds(lowest, highest int64) []float64 {
	return metrics.DefaultBounds(lowest, highest)
}

// WithRawUnits exports histograms in the unit they were recorded in. By
// default a histogram whose unit is [metrics.Nanoseconds] (durations: the
// "duration" of events and spans, or a histogram declared so) is exported
// in seconds, Prometheus' base unit: its name gets the suffix _seconds
// (unless it has it), and its bucket bounds and sum are divided by 1e9.
// Bucket bounds given by [WithBuckets] and [WithHistogramBuckets] are in
// the recorded unit either way.
func WithRawUnits() Option {
	return optionFunc(func(s *settings) { s.rawUnits = true })
}
