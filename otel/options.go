package otel

import (
	"fmt"
	"github.com/elixirscope-go/foundation/metrics"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Option configures a [Producer]. Options apply in order; for the same
// setting (or the same metric name) the last one wins, except
// [WithAttributes], whose calls add up.
type Option interface{ apply(*settings) }

type optionFunc func(*settings)

func (f optionFunc) apply(s *settings) { f(s) }

type settings struct {
	start    time.Time
	scope    string
	attrs    []attribute.KeyValue
	bounds   bounds
	perHist  map[string]bounds
	descs    map[string]string
	units    map[string]string
	problems []error
}

func (s *settings) fail(format string, args ...any) {
	s.problems = append(s.problems, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...))
}

func (s *settings) description(name, kind string) string {
	if d, ok := s.descs[name]; ok {
		return d
	}
	return "foundation " + kind + " " + name
}

// WithStartTime sets the start time of the cumulative data points: when the
// registry began counting. The default is the time [NewProducer] ran.
func WithStartTime(t time.Time) Option {
	return optionFunc(func(s *settings) { s.start = t })
}

// WithScope sets the instrumentation scope name; the default is [ScopeName].
func WithScope(name string) Option {
	return optionFunc(func(s *settings) { s.scope = name })
}

// WithAttributes adds attributes to every data point (the OpenTelemetry
// resource usually carries the service's identity instead). Repeated calls
// add up.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(s *settings) { s.attrs = append(s.attrs, attrs...) })
}

// WithBounds sets the bucket upper bounds of every histogram that has none of
// its own ([WithHistogramBounds]). Bounds must be finite and strictly
// increasing; the last bucket, to +Inf, is implied. Values are integers: a
// bound b counts the values <= floor(b), and an HDR bucket counts as below a
// bound when its upper end is, so a value within the HDR precision (0.1% by
// default) of a bound can land in the next bucket. The default is
// [DefaultBounds] of each histogram's range.
func WithBounds(b []float64) Option {
	return optionFunc(func(s *settings) {
		if err := metrics.CheckBounds(b); err != nil {
			s.fail("bounds: %v", err)
			return
		}
		s.bounds = newBounds(append([]float64(nil), b...))
	})
}

// WithHistogramBounds sets the bucket bounds of the histogram named name, as
// [WithBounds] does for all.
func WithHistogramBounds(name string, b []float64) Option {
	return optionFunc(func(s *settings) {
		if err := metrics.CheckBounds(b); err != nil {
			s.fail("bounds of %q: %v", name, err)
			return
		}
		if s.perHist == nil {
			s.perHist = map[string]bounds{}
		}
		s.perHist[name] = newBounds(append([]float64(nil), b...))
	})
}

// WithDescription sets the description of the metric named name. Without
// it, the description says which foundation metric it is.
func WithDescription(name, description string) Option {
	return optionFunc(func(s *settings) {
		if s.descs == nil {
			s.descs = map[string]string{}
		}
		s.descs[name] = description
	})
}

// WithUnit sets the unit of the metric named name, in UCUM ("ns", "By",
// "1"); the default is none.
func WithUnit(name, unit string) Option {
	return optionFunc(func(s *settings) {
		if s.units == nil {
			s.units = map[string]string{}
		}
		s.units[name] = unit
	})
}
