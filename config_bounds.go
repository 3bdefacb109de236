package foundation

import (
	"fmt"
	"time"
)

// bound is the range the library accepts for a setting whose schema rule
// only asks for a sign: values outside it would break the service (a
// query_timeout of 1 ns fails every query, a flush_interval of 1 ns spins
// a core, a max_events of 2^40 asks for terabytes of preallocated slots)
// or overflow a conversion (max_age_seconds to a time.Duration).
// Durations are in nanoseconds. The table is the catalogue that
// [Config.Validate] applies and the tests walk; README "Config bounds"
// lists it.
type bound struct {
	path   string
	lo, hi int64
	dur    bool
	why    string
}

// configBounds returns the catalogue, in validation order.
func configBounds() []bound {
	return []bound{
		{"capture.ring_buffer.num_buffers", 0, 1024, false, "ring shards are allocated at start"},
		{"capture.processing.batch_size", 1, 100_000, false, "an export batch is one allocation"},
		{"capture.processing.flush_interval", int64(time.Millisecond), int64(time.Hour), true, "a shorter tick spins a core"},
		{"capture.processing.max_queue_size", 1, 1_000_000, false, "the export queue is allocated at start"},
		{"storage.hot.max_events", 1, 1 << 27, false, "event slots are allocated at start"},
		{"storage.hot.max_age_seconds", 1, 10 * 365 * 24 * 3600, false, "ten years; more overflows a time.Duration"},
		{"storage.hot.prune_interval", int64(10 * time.Millisecond), int64(24 * time.Hour), true, "a shorter tick spins a core"},
		{"storage.warm.max_size_mb", 1, 1 << 24, false, "16 TiB; more overflows the byte count"},
		{"interface.query_timeout", int64(time.Millisecond), int64(time.Hour), true, "a shorter deadline fails every query"},
		{"interface.max_results", 1, 1_000_000, false, "results are copied into one slice"},
	}
}

// inBounds checks v against the catalogue entry of path.
func inBounds(path string, v int64) error {
	for _, b := range configBounds() {
		if b.path != path {
			continue
		}
		if v >= b.lo && v <= b.hi {
			return nil
		}
		if b.dur {
			return newError(kRange, nil, fmt.Sprintf("%s = %s: must be between %s and %s (%s)",
				path, time.Duration(v), time.Duration(b.lo), time.Duration(b.hi), b.why),
				"path", path, "value", time.Duration(v), "min", time.Duration(b.lo), "max", time.Duration(b.hi))
		}
		return newError(kRange, nil, fmt.Sprintf("%s = %d: must be between %d and %d (%s)", path, v, b.lo, b.hi, b.why),
			"path", path, "value", v, "min", b.lo, "max", b.hi)
	}
	return nil
}
