package eventstore

import (
	"errors"
)

// The sentinels: every error the store returns is an [*Error] that matches
// exactly one of them with errors.Is.
var (
	ErrClosed       = errors.New("eventstore: closed")
	ErrInvalidEvent = errors.New("eventstore: invalid event")
	ErrDataTooLarge = errors.New("eventstore: event too large")
	ErrInvalidQuery = errors.New("eventstore: invalid query")
	ErrNotFound     = errors.New("eventstore: not found")
	ErrFull         = errors.New("eventstore: full")
	ErrTimeout      = errors.New("eventstore: timeout")
	ErrInvalidArg   = errors.New("eventstore: invalid argument")
	ErrInternal     = errors.New("eventstore: internal error")
)

// Error is an error of the store: the sentinel it matches (Kind), a message
// naming the values involved, the underlying cause if any, and key/value
// context for the root's error type.
type Error struct {
	Kind  error
	Msg   string
	Cause error
	Attrs []any
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + ": " + e.Cause.Error()
	}
	return e.Msg
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Kind, e.Cause}
	}
	return []error{e.Kind}
}

func errf(kind, cause error, msg string, attrs ...any) *Error {
	return &Error{Kind: kind, Msg: msg, Cause: cause, Attrs: attrs}
}

func errClosed(op string) error {
	return errf(ErrClosed, nil, op+": foundation is closed", "op", op)
}
