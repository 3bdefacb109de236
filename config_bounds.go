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
// [Config.Validate] applies and the tests walk; docs/config.md "Bounds"
// lists it.
type bound struct {
	path   string
	lo, hi int64
	dur    bool
	why    string
}

// The bounds, as constants so that Validate costs no lookup.
const (
	maxNumBuffers    = 1024
	maxBatchSize     = 100_000
	minFlushInterval = time.Millisecond
	maxFlushInterval = time.Hour
	maxQueueSize     = 1_000_000
	maxHotEvents     = 1 << 27
	maxHotSizeMB     = 1 << 20
	maxAgeSeconds    = 10 * 365 * 24 * 3600
	minPruneInterval = 10 * time.Millisecond
	maxPruneInterval = 24 * time.Hour
	maxWarmSizeMB    = 1 << 24
	minQueryTimeout  = time.Millisecond
	maxQueryTimeout  = time.Hour
	maxResultsBound  = 1_000_000
)

// configBounds returns the catalogue, in validation order.
func configBounds() []bound {
	return []bound{
		{"capture.ring_buffer.num_buffers", 0, maxNumBuffers, false, "ring shards are allocated at start"},
		{"capture.processing.batch_size", 1, maxBatchSize, false, "an export batch is one allocation"},
		{"capture.processing.flush_interval", int64(minFlushInterval), int64(maxFlushInterval), true, "a shorter tick spins a core"},
		{"capture.processing.max_queue_size", 1, maxQueueSize, false, "the export queue is allocated at start"},
		{"storage.hot.max_events", 1, maxHotEvents, false, "event slots are allocated at start"},
		{"storage.hot.max_size_mb", 1, maxHotSizeMB, false, "the byte budget of the events in memory"},
		{"storage.hot.max_age_seconds", 1, maxAgeSeconds, false, "ten years; more overflows a time.Duration"},
		{"storage.hot.prune_interval", int64(minPruneInterval), int64(maxPruneInterval), true, "a shorter tick spins a core"},
		{"storage.warm.max_size_mb", 1, maxWarmSizeMB, false, "16 TiB; more overflows the byte count"},
		{"interface.query_timeout", int64(minQueryTimeout), int64(maxQueryTimeout), true, "a shorter deadline fails every query"},
		{"interface.max_results", 1, maxResultsBound, false, "results are copied into one slice"},
	}
}

// boundedInt is positiveInt, then at most hi.
func boundedInt(path string, v int, hi int64) error {
	if err := positiveInt(path, v); err != nil {
		return err
	}
	if int64(v) <= hi {
		return nil
	}
	return outOfBounds(path, int64(v))
}

// boundedDur is positiveDur, then the range [lo, hi].
func boundedDur(path string, v, lo, hi time.Duration) error {
	if err := positiveDur(path, v); err != nil {
		return err
	}
	if v >= lo && v <= hi {
		return nil
	}
	return outOfBounds(path, int64(v))
}

// outOfBounds is the error for v outside path's catalogue range (the slow
// path: it walks the catalogue for the message).
func outOfBounds(path string, v int64) error {
	for _, b := range configBounds() {
		if b.path != path {
			continue
		}
		if b.dur {
			return newError(kRange, nil, fmt.Sprintf("%s = %s: must be between %s and %s (%s)",
				path, time.Duration(v), time.Duration(b.lo), time.Duration(b.hi), b.why),
				"path", path, "value", time.Duration(v), "min", time.Duration(b.lo), "max", time.Duration(b.hi))
		}
		return newError(kRange, nil, fmt.Sprintf("%s = %d: must be between %d and %d (%s)", path, v, b.lo, b.hi, b.why),
			"path", path, "value", v, "min", b.lo, "max", b.hi)
	}
	return newError(kRange, nil, fmt.Sprintf("%s = %d: out of range", path, v), "path", path, "value", v)
}
