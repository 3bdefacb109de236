package foundation

import (
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendChangeJSON appends the Data of a config change event,
// {"path":…,"old":…,"new":…,"version":…}, byte for byte what encoding/json
// gives for it, without reflection or allocation for the leaf types of the
// schema; other values (a Reset's whole configs) go through encoding/json.
func appendChangeJSON(b []byte, path string, old, new any, version uint64) ([]byte, error) {
	b = append(b, `{"path":`...)
	b = appendJSONString(b, path)
	b = append(b, `,"old":`...)
	b, err := appendJSONValue(b, old)
	if err != nil {
		return b, err
	}
	b = append(b, `,"new":`...)
	if b, err = appendJSONValue(b, new); err != nil {
		return b, err
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, version, 10)
	return append(b, '}'), nil
}

// changeEncoder encodes change events, remembering the last change's new
// value: the next change of the same path has it as its old value, which is
// then copied instead of formatted again. Not safe for concurrent use (the
// config service holds its lock).
type changeEncoder struct {
	buf  []byte // the last event's Data; reused (the event store copies it)
	path string // path and new value of the last change, when a scalar
	val  any
	enc  []byte // val, encoded
}

// encode returns the Data of a change event, valid until the next call.
func (e *changeEncoder) encode(path string, old, new any, version uint64) ([]byte, error) {
	b := append(e.buf[:0], `{"path":"`...)
	// A change's path is one of the schema's ("" for a Reset): segments of
	// [a-z0-9_] joined by '.', which JSON quotes as they are.
	b = append(b, path...)
	b = append(b, '"')
	b = append(b, `,"old":`...)
	var err error
	if e.val != nil && path == e.path && isScalar(old) && old == e.val {
		b = append(b, e.enc...)
	} else if b, err = appendJSONValue(b, old); err != nil {
		return nil, err
	}
	b = append(b, `,"new":`...)
	start := len(b)
	if b, err = appendJSONValue(b, new); err != nil {
		return nil, err
	}
	if isScalar(new) {
		e.path, e.val, e.enc = path, new, append(e.enc[:0], b[start:]...)
	} else {
		e.val = nil
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, version, 10)
	b = append(b, '}')
	if cap(b) <= 4096 {
		e.buf = b
	}
	return b, nil
}

// changeRecorder is the config service's on-change hook as [New] wires it:
// it stores each change as a config_updated or config_reset event (Data:
// JSON {"path","old","new","version"}) and counts it in
// foundation.config_updates or foundation.config_resets. A store that
// refuses (closed, full, or not yet built while New replays the data dir)
// does not fail the change: the failure is logged and counted in
// foundation.config_event_failures. Not safe for concurrent use: the config
// service calls it under its lock.
type changeRecorder struct {
	enc                       changeEncoder
	store                     func(Event) error // nil until New has built the event store
	updates, resets, failures *Counter
	log                       *slog.Logger
}

// record is the hook. The event's Time is at, the change's (one clock read
// per change).
func (r *changeRecorder) record(cc ConfigChange, at int64) {
	typ := "config_updated"
	if cc.Kind == Reset {
		typ = "config_reset"
		r.resets.Add(1)
	} else {
		r.updates.Add(1)
	}
	if r.store == nil {
		return
	}
	data, err := r.enc.encode(cc.Path, cc.Old, cc.New, cc.Version)
	if err == nil {
		err = r.store(Event{Type: typ, Time: at, Data: data})
	}
	if err != nil {
		r.failures.Add(1)
		r.log.Warn("config change not recorded as an event", "path", cc.Path, "version", cc.Version, "error", err)
	}
}

// isScalar reports whether v is one of the leaf types appendJSONValue
// encodes itself (comparable, and cheap to compare).
func isScalar(v any) bool {
	switch v.(type) {
	case float64, int, bool, time.Duration, string, Provider, Strategy, OverflowStrategy, Compression:
		return true
	}
	return false
}

func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case float64:
		return appendJSONFloat(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case time.Duration:
		return strconv.AppendInt(b, int64(x), 10), nil
	case string:
		return appendJSONString(b, x), nil
	case Provider:
		return appendJSONString(b, string(x)), nil
	case Strategy:
		return appendJSONString(b, string(x)), nil
	case OverflowStrategy:
		return appendJSONString(b, string(x)), nil
	case Compression:
		return appendJSONString(b, string(x)), nil
	case nil:
		return append(b, "null"...), nil
	}
	raw, err := json.Marshal(v)
	return append(b, raw...), err
}

// appendJSONFloat is encoding/json's float64 encoding.
func appendJSONFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		_, err := json.Marshal(f) // the same *json.UnsupportedValueError
		return b, err
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	} else if d, ok := appendShortDecimal(b, f); ok {
		return d, nil
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 → e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// jsonSpecialLow has bit c set for the bytes below 64 that encoding/json
// escapes: controls, '"', '&', '<' and '>'.
const jsonSpecialLow = 1<<0x20 - 1 | 1<<'"' | 1<<'&' | 1<<'<' | 1<<'>'

// appendShortDecimal formats f the way strconv's shortest 'f' formatting
// does, for the common case of a value with few decimals (0.25, 30, 0.01),
// at a fraction of its cost: it finds decimals k for which n = f·10^k is an
// integer below 2^52 with n/10^k == f. The division is correctly rounded,
// so the decimal n·10^-k parses back to f; below 2^52 the spacing 10^-k
// exceeds f's ulp, so it is the only decimal of k places that does. A
// shorter decimal that round-trips is also one of k places (with trailing
// zeros), hence the same: n stripped of its trailing zeros is the shortest.
func appendShortDecimal(b []byte, f float64) ([]byte, bool) {
	const limit = 1 << 52
	if f == 0 {
		if math.Signbit(f) {
			return append(b, '-', '0'), true
		}
		return append(b, '0'), true
	}
	p := 1.0
	for k := 0; k <= 15; k++ {
		x := f * p
		if x > -limit && x < limit && x == math.Trunc(x) && float64(int64(x))/p == f {
			n := int64(x)
			for k > 0 && n%10 == 0 { // f·10^k rounded to an integer only at a larger k
				n /= 10
				k--
			}
			if n < 0 {
				b = append(b, '-')
				n = -n
			}
			var digits [20]byte
			d := strconv.AppendInt(digits[:0], n, 10)
			if k == 0 {
				return append(b, d...), true
			}
			if len(d) <= k { // 0.0025: leading zeros
				b = append(b, '0', '.')
				for i := len(d); i < k; i++ {
					b = append(b, '0')
				}
				return append(b, d...), true
			}
			b = append(b, d[:len(d)-k]...)
			b = append(b, '.')
			return append(b, d[len(d)-k:]...), true
		}
		p *= 10
	}
	return b, false
}

// appendJSONString quotes s as encoding/json does (HTML-safe); strings
// that need more than plain quoting take encoding/json's path.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || (c < 64 && jsonSpecialLow>>c&1 != 0) || c == '\\' {
			raw, _ := json.Marshal(s)
			return append(b, raw...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
