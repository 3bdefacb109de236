package metrics

import (
	"errors"
	"fmt"
	"math"
)

// DefaultBounds returns bucket upper bounds for exporting a histogram whose
// values lie in [lowest, highest] to systems with fixed buckets (Prometheus
// classic histograms, OpenTelemetry explicit buckets): the 1-2-5 series
// (1, 2, 5, 10, 20, 50, …) from the largest power of ten <= lowest up to the
// first bound >= highest — 39 bounds for the default range of 1 ns to 1 h.
// The bounds depend only on the range, never on the data, so that every
// export of a histogram has the same buckets. It allocates the slice.
func DefaultBounds(lowest, highest int64) []float64 {
	if lowest < 1 {
		lowest = 1
	}
	if highest < lowest {
		highest = lowest
	}
	p := 1.0
	for p*10 <= float64(lowest) {
		p *= 10
	}
	var out []float64
	for ; ; p *= 10 {
		for _, m := range [...]float64{1, 2, 5} {
			b := m * p
			out = append(out, b)
			if b >= float64(highest) {
				return out
			}
		}
	}
}

// CheckBounds reports whether b can serve as bucket upper bounds: at least
// one, every one finite, strictly increasing. The error says which bound is
// wrong.
func CheckBounds(b []float64) error {
	if len(b) == 0 {
		return errors.New("no bounds")
	}
	for i, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bound %v is not finite", v)
		}
		if i > 0 && v <= b[i-1] {
			return fmt.Errorf("bounds not strictly increasing at %v", v)
		}
	}
	return nil
}
