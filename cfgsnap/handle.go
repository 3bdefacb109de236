package cfgsnap

import (
	"reflect"
	"unsafe"
)

// Handle reads one field of a [Snapshot] with no lookup: it holds the
// field's offset inside T, found once by [Field]. A Handle is a small
// value, safe for concurrent use; its zero value returns V's zero value.
type Handle[T, V any] struct {
	off  uintptr
	path string
	ok   bool
}

// Field binds a [Handle] to path (a leaf or a parent path). V must be
// exactly the field's type. Errors: [ErrPathNotFound], [ErrTypeMismatch].
func Field[T, V any](st *Store[T], path string) (Handle[T, V], error) {
	f := st.schema.fields[path]
	if f == nil {
		return Handle[T, V]{}, &PathError{Op: "field", Path: truncate(path), Err: ErrPathNotFound}
	}
	if vt := reflect.TypeFor[V](); vt != f.typ {
		return Handle[T, V]{}, &PathError{Op: "field", Path: path, Err: ErrTypeMismatch, Want: f.typ.String(), Got: vt.String()}
	}
	return Handle[T, V]{off: f.off, path: path, ok: true}, nil
}

// Get returns the field's value in s: one load at a fixed offset, no
// allocation, inlinable.
func (h Handle[T, V]) Get(s *Snapshot[T]) V {
	if !h.ok {
		var zero V
		return zero
	}
	return *(*V)(unsafe.Add(unsafe.Pointer(&s.v), h.off))
}

// Path returns the path the handle was bound to.
func (h Handle[T, V]) Path() string { return h.path }
