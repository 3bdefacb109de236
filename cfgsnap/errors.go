package cfgsnap

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error a [Store] returns matches one of them with
// [errors.Is]; most arrive wrapped in a [*PathError] that names the path, the
// wanted and the given type and the value.
var (
	// ErrPathNotFound: the path names no field of T.
	ErrPathNotFound = errors.New("path not found")
	// ErrForbidden: the path is not in [Config.Updatable] (unknown and
	// parent paths included), or a parent path was listed there.
	ErrForbidden = errors.New("update forbidden")
	// ErrTypeMismatch: the value's type cannot be converted to the field's
	// type, or a [Handle] was bound with the wrong V.
	ErrTypeMismatch = errors.New("type mismatch")
	// ErrInvalidValue: a float value is NaN or ±Inf.
	ErrInvalidValue = errors.New("invalid value")
	// ErrOutOfRange: an integer (or float32) value does not fit the field's type.
	ErrOutOfRange = errors.New("out of range")
	// ErrNotInSet: an enum value is not one of the type's EnumValues.
	ErrNotInSet = errors.New("not in set")
	// ErrInvalid: the validator refused the candidate. The validator's own
	// error is wrapped too, so errors.Is and errors.As reach it.
	ErrInvalid = errors.New("invalid")
	// ErrVersionConflict: [Store.CompareAndUpdate] was given a version that is
	// no longer the newest.
	ErrVersionConflict = errors.New("version conflict")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store closed")
	// ErrCorrupt: a log record or snapshot file failed its checks. Open
	// reports such damage in [Recovery] rather than failing; the decoders
	// return it.
	ErrCorrupt = errors.New("corrupt data")
	// ErrLocked: the directory is locked by another open [Store] (in this
	// process or another).
	ErrLocked = errors.New("directory locked")
	// ErrDir: Config.Dir cannot be used (it is a file, not writable, or
	// an I/O error occurred). The OS error is wrapped too, so
	// errors.Is(err, fs.ErrPermission) works.
	ErrDir = errors.New("unusable directory")
)

// PathError describes a failed operation on one path. Err is one of the
// sentinels above; Cause, when set, is the underlying error (the
// validator's, a parse error, an I/O error). [errors.Is] matches both; use
// [errors.As] to read the fields.
//
// The message names the path, the wanted and the given type and the value,
// except for fields tagged `cfg:",secret"`, whose value is never printed
// (Value is nil then).
type PathError struct {
	Op    string // "update", "lookup", "compare-and-update", "open", ...
	Path  string // dotted path; "" for whole-value operations
	Want  string // wanted type (or version), when relevant
	Got   string // given type (or version), when relevant
	Value any    // the given value; nil when secret or not relevant
	Err   error  // the sentinel
	Cause error  // the underlying error, or nil
}

// Error formats the error as
// `cfgsnap: op "path": sentinel: want W, got G (value V): cause`.
func (e *PathError) Error() string {
	var b strings.Builder
	b.WriteString("cfgsnap: ")
	b.WriteString(e.Op)
	if e.Path != "" {
		fmt.Fprintf(&b, " %q", e.Path)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Want != "" || e.Got != "" {
		fmt.Fprintf(&b, ": want %s, got %s", e.Want, e.Got)
	}
	if e.Value != nil {
		fmt.Fprintf(&b, " (value %#v)", e.Value)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

// Unwrap returns the sentinel and the cause, for [errors.Is] and [errors.As].
func (e *PathError) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Cause}
}
