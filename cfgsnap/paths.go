package cfgsnap

import (
	"errors"
	"reflect"
	"unsafe"
)

// Schema is the path schema of T on its own, without a [Store]: it lists
// the paths of T and reads and sets them in a caller's value with the
// conversion rules of [Store.Update]. Loaders use it to build a starting
// value from files and the environment before a Store exists.
//
// A Schema is immutable after [NewSchema] and safe for concurrent use; the
// values it works on belong to the caller (no synchronisation is done on
// them).
type Schema[T any] struct{ s *schema }

// FieldInfo describes one path of a [Schema].
type FieldInfo struct {
	Path   string
	Type   reflect.Type // the field's Go type
	Parent bool         // a nested struct (its children have paths), not a leaf
	Secret bool         // tagged `cfg:",secret"`
}

// NewSchema builds the schema of T by reflection (the same walk [Open]
// does). Errors: [ErrOption] for a T whose tags are malformed or duplicate.
func NewSchema[T any]() (*Schema[T], error) {
	s, err := buildSchema(reflect.TypeFor[T]())
	if err != nil {
		return nil, errors.Join(ErrOption, err)
	}
	return &Schema[T]{s: s}, nil
}

// Paths returns every leaf path, sorted. It allocates the slice.
func (sc *Schema[T]) Paths() []string { return append([]string(nil), sc.s.leaves...) }

// Field describes path: a leaf or a parent path. ok is false for an unknown path.
func (sc *Schema[T]) Field(path string) (fi FieldInfo, ok bool) {
	f := sc.s.fields[path]
	if f == nil {
		return FieldInfo{}, false
	}
	return FieldInfo{Path: f.path, Type: f.typ, Parent: f.kind == kindStruct, Secret: f.secret}, true
}

// Get returns the value of the leaf (or, for a parent path, a copy of the
// nested struct) at path in *v. Errors: [ErrPathNotFound].
func (sc *Schema[T]) Get(v *T, path string) (any, error) {
	f := sc.s.fields[path]
	if f == nil {
		return nil, &PathError{Op: "get", Path: truncate(path), Err: ErrPathNotFound}
	}
	return f.value(unsafe.Pointer(v)), nil
}

// Set converts value to the type of the leaf at path, by the rules of
// [Store.Update], and stores it in *v. It validates nothing beyond the
// conversion, and on error *v is unchanged. Errors: [ErrPathNotFound] (an
// unknown path), [ErrForbidden] (a parent path), [ErrTypeMismatch],
// [ErrOutOfRange], [ErrInvalidValue], [ErrNotInSet].
func (sc *Schema[T]) Set(v *T, path string, value any) error {
	f := sc.s.fields[path]
	if f == nil {
		return &PathError{Op: "set", Path: truncate(path), Err: ErrPathNotFound}
	}
	if f.kind == kindStruct {
		return &PathError{Op: "set", Path: path, Err: ErrForbidden, Cause: errors.New("a parent path")}
	}
	nv, err := f.convert("set", value)
	if err != nil {
		return err
	}
	f.set(unsafe.Pointer(v), nv)
	return nil
}
