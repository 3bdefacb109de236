package cfgsnap

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unsafe"
)

// leafKind classifies a field for conversion and log encoding.
type leafKind uint8

const (
	kindStruct   leafKind = iota // a parent path: a nested struct
	kindInt                      // any signed integer kind except time.Duration
	kindUint                     // any unsigned integer kind
	kindFloat                    // float32, float64
	kindBool                     // bool kinds
	kindString                   // string kinds that are not enums
	kindEnum                     // named string type with EnumValues
	kindDuration                 // time.Duration
)

// Enum is implemented by named string types whose values form a closed set.
// A field of such a type accepts, on update, a value of its own type or a
// plain string, and only when it is one of EnumValues.
type Enum interface {
	EnumValues() []string
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	stringType   = reflect.TypeFor[string]()
	enumType     = reflect.TypeFor[Enum]()
)

// field is one path of the schema: where it lives in T and how to convert
// values for it. Built once at Open, read-only afterwards.
type field struct {
	path   string
	typ    reflect.Type
	off    uintptr // byte offset from the start of T (nested structs are embedded by value)
	kind   leafKind
	enum   []string // kindEnum: the set, sorted
	secret bool     // `cfg:",secret"`: value never printed in errors
	// updatable: the path is in the store's allow-list (Config.Updatable),
	// set at Open.
	updatable bool
	exact     exactType
	// last is the box of the last value an update set in this field (exact
	// types only): the next update's old value when the field still holds
	// that value (checked), instead of a new box. Any writer may store it.
	last atomic.Value
	// check is Config.ValidatePath's check for this path (a func(*T)
	// error), or nil: Validate.
	check any
}

// exactType names the unnamed leaf types (and time.Duration) that value
// and set read and write directly, without reflection: the common case,
// and the hot path of every update.
type exactType uint8

const (
	exactNone exactType = iota
	exactInt
	exactInt64
	exactFloat64
	exactBool
	exactString
	exactDuration
)

func exactOf(t reflect.Type) exactType {
	switch t {
	case reflect.TypeFor[int]():
		return exactInt
	case reflect.TypeFor[int64]():
		return exactInt64
	case reflect.TypeFor[float64]():
		return exactFloat64
	case reflect.TypeFor[bool]():
		return exactBool
	case reflect.TypeFor[string]():
		return exactString
	case durationType:
		return exactDuration
	}
	return exactNone
}

// schema maps every path of T to its field.
type schema struct {
	fields map[string]*field
	leaves []string // sorted
}

// maxPathLen bounds a path; longer input is refused without further work.
const maxPathLen = 1024

// parsePath checks the grammar of a dotted path and splits it into
// segments: one or more non-empty segments of [a-z0-9_], joined by '.'.
// The error wraps [ErrPathNotFound].
func parsePath(p string) ([]string, error) {
	if p == "" || len(p) > maxPathLen {
		return nil, &PathError{Op: "parse", Path: truncate(p), Err: ErrPathNotFound, Cause: errMalformed}
	}
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if !validSegment(s) {
			return nil, &PathError{Op: "parse", Path: p, Err: ErrPathNotFound, Cause: errMalformed}
		}
	}
	return segs, nil
}

var errMalformed = fmt.Errorf("malformed path: want dot-separated segments of [a-z0-9_]")

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func validSegment(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// snakeCase turns a Go field name into a path segment: MaxFileSize →
// max_file_size, APIKey → api_key, CacheTTL → cache_ttl, SHA256Sum → sha256_sum.
func snakeCase(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) {
			if i > 0 {
				prev := r[i-1]
				nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
				if unicode.IsLower(prev) || unicode.IsDigit(prev) || unicode.IsUpper(prev) && nextLower {
					b.WriteByte('_')
				}
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// buildSchema walks T once. Exported fields of the leaf kinds become paths;
// nested structs (by value) become parent paths with dotted children;
// anonymous struct fields without a tag are flattened; other kinds (maps,
// slices, pointers, …) are carried in T but have no path.
func buildSchema(t reflect.Type) (*schema, error) {
	s := &schema{fields: map[string]*field{}}
	if t.Kind() == reflect.Struct {
		if _, err := s.walk(t, "", 0); err != nil {
			return nil, err
		}
	}
	for p, f := range s.fields {
		if f.kind != kindStruct {
			s.leaves = append(s.leaves, p)
		}
	}
	sort.Strings(s.leaves)
	return s, nil
}

func (s *schema) walk(t reflect.Type, prefix string, off uintptr) (leaves int, err error) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("cfg")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			n, err := s.walk(sf.Type, prefix, off+sf.Offset)
			if err != nil {
				return 0, err
			}
			leaves += n
			continue
		}
		if name == "" {
			name = snakeCase(sf.Name)
		}
		if !validSegment(name) {
			return 0, fmt.Errorf("cfgsnap: field %s: path segment %q: %w", sf.Name, name, errMalformed)
		}
		p := name
		if prefix != "" {
			p = prefix + "." + name
		}
		f := &field{path: p, typ: sf.Type, off: off + sf.Offset, secret: hasOpt(opts, "secret"), exact: exactOf(sf.Type)}
		k, ok := classify(sf.Type)
		switch {
		case ok:
			f.kind = k
			if k == kindEnum {
				f.enum = enumValues(sf.Type)
			}
			leaves++
		case sf.Type.Kind() == reflect.Struct:
			n, err := s.walk(sf.Type, p, f.off)
			if err != nil {
				return 0, err
			}
			if n == 0 {
				continue // no addressable leaves (e.g. time.Time): opaque
			}
			f.kind = kindStruct
			leaves += n
		default:
			continue // opaque: no path
		}
		if _, dup := s.fields[p]; dup {
			return 0, fmt.Errorf("cfgsnap: duplicate path %q", p)
		}
		s.fields[p] = f
	}
	return leaves, nil
}

func hasOpt(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

func classify(t reflect.Type) (leafKind, bool) {
	if t == durationType {
		return kindDuration, true
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return kindInt, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return kindUint, true
	case reflect.Float32, reflect.Float64:
		return kindFloat, true
	case reflect.Bool:
		return kindBool, true
	case reflect.String:
		if t.Implements(enumType) || reflect.PointerTo(t).Implements(enumType) {
			return kindEnum, true
		}
		return kindString, true
	}
	return 0, false
}

func enumValues(t reflect.Type) []string {
	var vals []string
	if t.Implements(enumType) {
		vals = reflect.Zero(t).Interface().(Enum).EnumValues()
	} else {
		vals = reflect.New(t).Interface().(Enum).EnumValues()
	}
	vals = append([]string(nil), vals...)
	sort.Strings(vals)
	return vals
}

// needsClone reports the first path (Go field names) under t that holds a
// reference (map, slice, pointer, chan, func, interface), which a plain
// value copy would share between snapshots. Only exported fields count:
// unexported ones are a type's own business (time.Time holds a *Location).
func needsClone(t reflect.Type, where string) (string, bool) {
	switch t.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
		return where, true
	case reflect.Array:
		return needsClone(t.Elem(), where+"[]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue // another package's internals (time.Time's *Location)
			}
			if p, ok := needsClone(sf.Type, where+"."+sf.Name); ok {
				return p, true
			}
		}
	}
	return "", false
}

func typeName(v any) string {
	if v == nil {
		return "nil"
	}
	return reflect.TypeOf(v).String()
}

// ptr returns the address of f inside the T at base.
func (f *field) ptr(base unsafe.Pointer) unsafe.Pointer { return unsafe.Add(base, f.off) }

// value returns f's value inside the T at base, boxed (a copy).
func (f *field) value(base unsafe.Pointer) any {
	p := f.ptr(base)
	switch f.exact {
	case exactInt:
		return *(*int)(p)
	case exactInt64:
		return *(*int64)(p)
	case exactFloat64:
		return *(*float64)(p)
	case exactBool:
		return *(*bool)(p)
	case exactString:
		return *(*string)(p)
	case exactDuration:
		return *(*time.Duration)(p)
	}
	return reflect.NewAt(f.typ, p).Elem().Interface()
}

// isExact reports whether v already is a value of exactly f's type, for
// the exact types (a float64 only when finite): v is then its own
// conversion, with no reflection and no new box.
func (f *field) isExact(v any) bool {
	ok := false
	switch f.exact {
	case exactInt:
		_, ok = v.(int)
	case exactInt64:
		_, ok = v.(int64)
	case exactFloat64:
		var x float64
		x, ok = v.(float64)
		ok = ok && !math.IsNaN(x) && !math.IsInf(x, 0)
	case exactBool:
		_, ok = v.(bool)
	case exactString:
		_, ok = v.(string)
	case exactDuration:
		_, ok = v.(time.Duration)
	}
	return ok
}

// setBox stores v, a value of exactly f's type, into the T at base.
func (f *field) setBox(base unsafe.Pointer, v any) {
	p := f.ptr(base)
	switch f.exact {
	case exactInt:
		*(*int)(p) = v.(int)
	case exactInt64:
		*(*int64)(p) = v.(int64)
	case exactFloat64:
		*(*float64)(p) = v.(float64)
	case exactBool:
		*(*bool)(p) = v.(bool)
	case exactString:
		*(*string)(p) = v.(string)
	case exactDuration:
		*(*time.Duration)(p) = v.(time.Duration)
	default:
		reflect.NewAt(f.typ, p).Elem().Set(reflect.ValueOf(v))
	}
}

// swap is an update's read of the old value and write of the new one, v
// (of exactly f's type), in the T at base. The old value comes back boxed:
// in f.last's box when that holds the same value (the value the previous
// update set, unless another writer got in between), else in a new box;
// v's box becomes f.last.
func (f *field) swap(base unsafe.Pointer, v any) (old any) {
	p := f.ptr(base)
	if f.exact == exactNone {
		old = f.value(base)
		f.setBox(base, v)
		return old
	}
	if l := f.last.Load(); l != nil {
		same := false
		switch f.exact {
		case exactInt:
			same = l.(int) == *(*int)(p)
		case exactInt64:
			same = l.(int64) == *(*int64)(p)
		case exactDuration:
			same = l.(time.Duration) == *(*time.Duration)(p)
		case exactFloat64: // bits: 0 and -0 differ
			same = math.Float64bits(l.(float64)) == math.Float64bits(*(*float64)(p))
		case exactBool:
			same = l.(bool) == *(*bool)(p)
		case exactString:
			same = l.(string) == *(*string)(p)
		}
		if same {
			old = l
		}
	}
	if old == nil {
		old = f.value(base)
	}
	f.setBox(base, v)
	f.last.Store(v)
	return old
}

// set stores v (already converted to f.typ) into the T at base.
func (f *field) set(base unsafe.Pointer, v reflect.Value) {
	p := f.ptr(base)
	switch f.exact {
	case exactInt:
		*(*int)(p) = int(v.Int())
	case exactInt64, exactDuration:
		*(*int64)(p) = v.Int()
	case exactFloat64:
		*(*float64)(p) = v.Float()
	case exactBool:
		*(*bool)(p) = v.Bool()
	case exactString:
		*(*string)(p) = v.String()
	default:
		reflect.NewAt(f.typ, p).Elem().Set(v)
	}
}

func (f *field) errorf(op string, v any, sentinel, cause error) *PathError {
	e := &PathError{Op: op, Path: f.path, Want: f.typ.String(), Got: typeName(v), Value: v, Err: sentinel, Cause: cause}
	if f.secret {
		e.Value = nil
	}
	return e
}

// convert applies the conversion rules of the package doc and returns a
// value of exactly f.typ.
func (f *field) convert(op string, v any) (reflect.Value, error) {
	if v == nil {
		return reflect.Value{}, f.errorf(op, v, ErrTypeMismatch, nil)
	}
	rv := reflect.ValueOf(v)
	if rv.Type() == f.typ {
		// The field's own type: the caller's box is the value (no copy, and
		// Interface on the result returns that box without allocating).
		switch f.kind {
		case kindInt, kindUint, kindBool, kindString, kindDuration:
			return rv, nil
		case kindFloat:
			if x := rv.Float(); !math.IsNaN(x) && !math.IsInf(x, 0) {
				return rv, nil
			}
		}
	}
	out := reflect.New(f.typ).Elem()
	switch f.kind {
	case kindInt:
		switch {
		case isInt(rv.Kind()):
			i := rv.Int()
			if out.OverflowInt(i) {
				return out, f.errorf(op, v, ErrOutOfRange, nil)
			}
			out.SetInt(i)
		case isUint(rv.Kind()):
			u := rv.Uint()
			if u > math.MaxInt64 || out.OverflowInt(int64(u)) {
				return out, f.errorf(op, v, ErrOutOfRange, nil)
			}
			out.SetInt(int64(u))
		case isFloat(rv.Kind()):
			i, err := integral(rv.Float())
			if err != nil {
				return out, f.errorf(op, v, err, nil)
			}
			if out.OverflowInt(i) {
				return out, f.errorf(op, v, ErrOutOfRange, nil)
			}
			out.SetInt(i)
		default:
			return out, f.errorf(op, v, ErrTypeMismatch, nil)
		}
	case kindUint:
		switch {
		case isInt(rv.Kind()):
			i := rv.Int()
			if i < 0 || out.OverflowUint(uint64(i)) {
				return out, f.errorf(op, v, ErrOutOfRange, nil)
			}
			out.SetUint(uint64(i))
		case isUint(rv.Kind()):
			u := rv.Uint()
			if out.OverflowUint(u) {
				return out, f.errorf(op, v, ErrOutOfRange, nil)
			}
			out.SetUint(u)
		case isFloat(rv.Kind()):
			i, err := integral(rv.Float())
			if err != nil {
				return out, f.errorf(op, v, err, nil)
			}
			if i < 0 || out.OverflowUint(uint64(i)) {
				return out, f.errorf(op, v, ErrOutOfRange, nil)
			}
			out.SetUint(uint64(i))
		default:
			return out, f.errorf(op, v, ErrTypeMismatch, nil)
		}
	case kindFloat:
		var x float64
		switch {
		case isFloat(rv.Kind()):
			x = rv.Float()
		case isInt(rv.Kind()):
			x = float64(rv.Int())
		case isUint(rv.Kind()):
			x = float64(rv.Uint())
		default:
			return out, f.errorf(op, v, ErrTypeMismatch, nil)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return out, f.errorf(op, v, ErrInvalidValue, nil)
		}
		if out.OverflowFloat(x) {
			return out, f.errorf(op, v, ErrOutOfRange, nil)
		}
		out.SetFloat(x)
	case kindBool:
		if rv.Kind() != reflect.Bool {
			return out, f.errorf(op, v, ErrTypeMismatch, nil)
		}
		out.SetBool(rv.Bool())
	case kindString:
		if rv.Type() != stringType && rv.Type() != f.typ {
			return out, f.errorf(op, v, ErrTypeMismatch, nil)
		}
		out.SetString(rv.String())
	case kindEnum:
		if rv.Type() != stringType && rv.Type() != f.typ {
			return out, f.errorf(op, v, ErrTypeMismatch, nil)
		}
		s := rv.String()
		i := sort.SearchStrings(f.enum, s)
		if i == len(f.enum) || f.enum[i] != s {
			e := f.errorf(op, v, ErrNotInSet, nil)
			e.Want = f.typ.String() + " in {" + strings.Join(f.enum, ", ") + "}"
			return out, e
		}
		out.SetString(s)
	case kindDuration:
		switch rv.Type() {
		case durationType:
			out.SetInt(rv.Int())
		case stringType:
			d, err := time.ParseDuration(rv.String())
			if err != nil {
				return out, f.errorf(op, v, ErrTypeMismatch, err)
			}
			out.SetInt(int64(d))
		default:
			return out, f.errorf(op, v, ErrTypeMismatch, nil)
		}
	default:
		return out, f.errorf(op, v, ErrForbidden, nil)
	}
	return out, nil
}

func isInt(k reflect.Kind) bool   { return k >= reflect.Int && k <= reflect.Int64 }
func isUint(k reflect.Kind) bool  { return k >= reflect.Uint && k <= reflect.Uintptr }
func isFloat(k reflect.Kind) bool { return k == reflect.Float32 || k == reflect.Float64 }

// integral returns x as an int64 when it has an integral value (2.0, the
// form JSON and YAML decoders give numbers in): a fractional value is
// [ErrTypeMismatch], NaN and ±Inf [ErrInvalidValue], a value outside int64
// [ErrOutOfRange].
func integral(x float64) (int64, error) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return 0, ErrInvalidValue
	case x != math.Trunc(x):
		return 0, ErrTypeMismatch
	case x < -(1<<63) || x >= 1<<63:
		return 0, ErrOutOfRange
	}
	return int64(x), nil
}
