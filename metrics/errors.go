package metrics

import "errors"

// The errors of package metrics. They are plain sentinels: the functions that
// return them wrap them with the offending name or value (test with
// [errors.Is]), and the root package maps them onto its own error type.
var (
	// ErrInvalidName reports an empty metric name, handler id, event name or
	// event list.
	ErrInvalidName = errors.New("metrics: invalid name")
	// ErrNilHandler reports a nil [Handler] given to [Dispatcher.Attach].
	ErrNilHandler = errors.New("metrics: nil handler")
	// ErrHandlerExists reports that a handler id is already attached.
	ErrHandlerExists = errors.New("metrics: handler already exists")
	// ErrNotFound reports a handler id that is not attached.
	ErrNotFound = errors.New("metrics: not found")
	// ErrInvalid reports an option value out of range (see [CheckOptions]).
	ErrInvalid = errors.New("metrics: invalid option")
)
