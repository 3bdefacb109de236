package foundation

import (
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"
)

// changeEncoder encodes change events into one reused buffer. It keeps
// what the next change of the same path can copy instead of formatting
// again: the buffer's prefix {"path":"…","old": (rewritten only when the
// path changes), the last change's new value and its encoding (copied
// when the next change's old value is the same value, bit for bit, as it
// is when the field still holds it), and the last version's digits (the
// next version, one more, is an increment of them).
//
// It keeps no pointer that changes per call (the last value is its bits,
// buf is rewritten only when it grows): a pointer store costs a write
// barrier while the garbage collector marks.
// Not safe for concurrent use (the config service holds its lock).
type changeEncoder struct {
	buf    []byte  // the last event's Data; reused (the event store copies it)
	path   string  // the path buf's prefix names, when pre > 0
	pre    int     // len of {"path":"<path>","old": at the start of buf
	val    leafKey // path's last new value, encoded at buf[vs:ve]; zero when none
	vs, ve int
	ver    uint64 // the version in digits[:nd], when nd > 0
	nd     int
	digits [20]byte // a uint64 has at most 20 decimal digits
}

// leafKey identifies a leaf value of a numeric or bool type by its type
// and its bits: two values with the same key have the same encoding (bits,
// not ==: 0.0 == -0.0, but they encode as 0 and -0). The zero leafKey is
// no value (strings, whole configs: not kept).
type leafKey struct {
	kind leafKind
	bits uint64
}

type leafKind uint8

const (
	leafNone leafKind = iota
	leafFloat
	leafInt
	leafBool
	leafDuration
)

// encode returns the Data of a change event, valid until the next call.
func (e *changeEncoder) encode(path string, old, new any, version uint64) ([]byte, error) {
	if e.pre == 0 || path != e.path {
		// A change's path is one of the schema's ("" for a Reset): segments
		// of [a-z0-9_] joined by '.', which JSON quotes as they are.
		b := append(e.buf[:0], `{"path":"`...)
		b = append(b, path...)
		b = append(b, `","old":`...)
		e.keep(b)
		e.path, e.pre, e.val = path, len(b), leafKey{}
	}
	reuse := e.val.kind != leafNone && keyOf(old) == e.val
	e.val = leafKey{} // buf[vs:ve] is overwritten below
	b := e.buf[:e.pre]
	var err error
	if reuse {
		b = append(b, e.buf[e.vs:e.ve]...) // within buf, to the left: memmove copes with the overlap
	} else if b, _, err = appendLeaf(b, old); err != nil {
		return nil, err
	}
	b = append(b, `,"new":`...)
	start := len(b)
	var key leafKey
	if b, key, err = appendLeaf(b, new); err != nil {
		return nil, err
	}
	end := len(b)
	b = append(b, `,"version":`...)
	b = append(b, e.versionDigits(version)...)
	b = append(b, '}')
	if cap(b) <= 4096 {
		e.keep(b)
		e.val, e.vs, e.ve = key, start, end
	}
	return b, nil
}

// keep makes b, an append to buf, the buffer: only its length when b is
// still in buf's array (no pointer store).
func (e *changeEncoder) keep(b []byte) {
	if unsafe.SliceData(b) == unsafe.SliceData(e.buf) {
		e.buf = e.buf[:len(b)]
		return
	}
	e.buf = b
}

// versionDigits returns v in decimal: the last version's digits as they
// are when v is the same (the paths of one UpdateMany), incremented in
// place when v is one more, else formatted.
func (e *changeEncoder) versionDigits(v uint64) []byte {
	if e.nd > 0 && v == e.ver {
		return e.digits[:e.nd]
	}
	if e.nd == 0 || v != e.ver+1 || v == 0 {
		e.nd = len(strconv.AppendUint(e.digits[:0], v, 10))
		e.ver = v
		return e.digits[:e.nd]
	}
	i := e.nd - 1
	for i >= 0 && e.digits[i] == '9' {
		e.digits[i] = '0'
		i--
	}
	if i >= 0 {
		e.digits[i]++
	} else { // 99…9 + 1: one digit more (at most 20: v did not wrap)
		copy(e.digits[1:e.nd+1], e.digits[:e.nd])
		e.digits[0] = '1'
		e.nd++
	}
	e.ver = v
	return e.digits[:e.nd]
}

// keyOf returns v's leafKey: its type and bits for the numeric and bool
// leaf types, zero for any other value.
func keyOf(v any) leafKey {
	switch x := v.(type) {
	case float64:
		return leafKey{leafFloat, math.Float64bits(x)}
	case int:
		return leafKey{leafInt, uint64(x)}
	case time.Duration:
		return leafKey{leafDuration, uint64(x)}
	case bool:
		if x {
			return leafKey{leafBool, 1}
		}
		return leafKey{leafBool, 0}
	}
	return leafKey{}
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
	ev                        Event              // the event stored, reused (the store copies it); Data is enc's buffer
	store                     func(*Event) error // nil until New has built the event store
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
		// Pointers are stored only when they change (a write barrier
		// each while the collector marks): Type is one of two constants,
		// Data the encoder's buffer, which moves only when it grows.
		if r.ev.Type != typ {
			r.ev.Type = typ
		}
		if unsafe.SliceData(r.ev.Data) == unsafe.SliceData(data) {
			r.ev.Data = r.ev.Data[:len(data)]
		} else {
			r.ev.Data = data
		}
		r.ev.Time = at
		err = r.store(&r.ev)
	}
	if err != nil {
		r.failures.Add(1)
		r.log.Warn("config change not recorded as an event", "path", cc.Path, "version", cc.Version, "error", err)
	}
}

// appendLeaf appends v's JSON, itself for the leaf types of the schema,
// through encoding/json for other values (a Reset's whole configs). It
// returns v's leafKey (keyOf) too.
func appendLeaf(b []byte, v any) (_ []byte, key leafKey, err error) {
	switch x := v.(type) {
	case float64:
		b, err = appendJSONFloat(b, x)
		return b, leafKey{leafFloat, math.Float64bits(x)}, err
	case int:
		return strconv.AppendInt(b, int64(x), 10), leafKey{leafInt, uint64(x)}, nil
	case bool:
		return strconv.AppendBool(b, x), keyOf(x), nil
	case time.Duration:
		return strconv.AppendInt(b, int64(x), 10), leafKey{leafDuration, uint64(x)}, nil
	case string:
		return appendJSONString(b, x), leafKey{}, nil
	case Provider:
		return appendJSONString(b, string(x)), leafKey{}, nil
	case Strategy:
		return appendJSONString(b, string(x)), leafKey{}, nil
	case OverflowStrategy:
		return appendJSONString(b, string(x)), leafKey{}, nil
	case Compression:
		return appendJSONString(b, string(x)), leafKey{}, nil
	case nil:
		return append(b, "null"...), leafKey{}, nil
	}
	raw, err := json.Marshal(v)
	return append(b, raw...), leafKey{}, err
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
	a := math.Abs(f)
	p := 1.0
	for k := 0; k <= 15; k++ {
		x := a * p // grows with k: past limit, no larger k fits either
		if x >= limit {
			return b, false
		}
		m := int64(x) // signed conversions: one instruction each way, where uint64's take several
		if float64(m) != x || float64(m)/p != a {
			p *= 10
			continue
		}
		n := uint64(m)           // the digits: unsigned division by 10 is cheaper
		for k > 0 && n%10 == 0 { // a·10^k rounded to an integer only at a larger k
			n /= 10
			k--
		}
		// The digits, right to left: k decimals (leading zeros included),
		// the point, the integer part (at least "0"), the sign.
		var d [24]byte // at most 16 digits (n < 2^52), a "0.", a '-'
		i := len(d)
		for ; k > 0; k-- {
			i--
			d[i] = byte('0' + n%10)
			n /= 10
			if k == 1 {
				i--
				d[i] = '.'
			}
		}
		for {
			i--
			d[i] = byte('0' + n%10)
			if n /= 10; n == 0 {
				break
			}
		}
		if f < 0 {
			i--
			d[i] = '-'
		}
		return append(b, d[i:]...), true
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
