package foundation

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Severity ranks how bad an error is for the program that meets it.
type Severity uint8

// The severities, from least to most severe.
const (
	SeverityLow Severity = iota + 1
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

// String returns the severity's name: low, medium, high or critical.
func (s Severity) String() string {
	switch s {
	case SeverityLow:
		return "low"
	case SeverityMedium:
		return "medium"
	case SeverityHigh:
		return "high"
	case SeverityCritical:
		return "critical"
	}
	return "unknown"
}

// Retry says whether and how an operation that failed with an error may be
// retried, as the original error model's retry strategy did.
type Retry uint8

// The retry hints.
const (
	RetryNever       Retry = iota + 1 // the same call will fail the same way
	RetryImmediately                  // a conflict: re-read and try again at once
	RetryBackoff                      // a transient condition: try again later, backing off
)

// String returns the hint's name: never, immediately or backoff.
func (r Retry) String() string {
	switch r {
	case RetryNever:
		return "never"
	case RetryImmediately:
		return "immediately"
	case RetryBackoff:
		return "backoff"
	}
	return "unknown"
}

// Kind is one class of [Error], named by its code. The sentinels ErrRange,
// ErrNotFound, … are the Kinds' constants: being constants, they cannot be
// changed by anyone, and errors.Is(err, ErrRange) matches an *Error of that
// code anywhere in err's chain (and [ErrValidation] every validation
// failure). A Kind is itself an error, so a caller may wrap a sentinel
// (fmt.Errorf("…: %w", ErrInvalidArgument)). errors.As(err, &k), k a Kind,
// finds the kind of the first *Error or wrapped Kind in err's chain. Its
// methods return what every *Error of the kind carries.
type Kind int

// The sentinels, one per kind. Codes are grouped by category: 1xxx config,
// 2xxx events, 3xxx telemetry, 4xxx supervisor and arguments, 9xxx system.
const (
	ErrPathNotFound    Kind = 1001 // config path not found
	ErrUpdateForbidden Kind = 1002 // config path is not updatable
	ErrValidation      Kind = 1100 // validation failed; every validation error matches it
	ErrRange           Kind = 1101 // value out of range
	ErrConstraint      Kind = 1102 // constraint violated
	ErrInvalidValue    Kind = 1103 // invalid config value
	ErrTypeMismatch    Kind = 1104 // wrong type
	ErrVersionConflict Kind = 1201 // version conflict
	ErrConfigStorage   Kind = 1301 // config storage failed
	ErrConfigSource    Kind = 1401 // a config file or variable cannot be read or parsed
	ErrInvalidEvent    Kind = 2001 // invalid event
	ErrDataTooLarge    Kind = 2002 // event data too large
	ErrInvalidQuery    Kind = 2003 // invalid query
	ErrNotFound        Kind = 2004 // not found
	ErrFull            Kind = 2005 // event store full
	ErrTimeout         Kind = 2006 // timed out
	ErrHandlerExists   Kind = 3001 // handler id already attached
	ErrInvalidHandler  Kind = 3002 // invalid handler
	ErrInvalidArgument Kind = 4001 // invalid argument
	ErrTaskExists      Kind = 4002 // task name already running
	ErrClosed          Kind = 9001 // foundation closed
	ErrInternal        Kind = 9002 // internal error
)

// kind describes one class of error: its code and the fields every error of
// that class shares.
type kind struct {
	code        int // its Kind
	typ         string
	category    string
	subcategory string
	severity    Severity
	retry       Retry
	validation  bool   // also matches ErrValidation
	msg         string // the sentinel's message
}

// The kinds, one per sentinel.
var (
	kPathNotFound    = kind{int(ErrPathNotFound), "config_path_not_found", "config", "access", SeverityMedium, RetryNever, false, "config path not found"}
	kUpdateForbidden = kind{int(ErrUpdateForbidden), "config_update_forbidden", "config", "access", SeverityMedium, RetryNever, false, "config path is not updatable"}
	kValidation      = kind{int(ErrValidation), "validation_failed", "config", "validation", SeverityMedium, RetryNever, true, "validation failed"}
	kRange           = kind{int(ErrRange), "range_error", "config", "validation", SeverityMedium, RetryNever, true, "value out of range"}
	kConstraint      = kind{int(ErrConstraint), "constraint_violation", "config", "validation", SeverityMedium, RetryNever, true, "constraint violated"}
	kInvalidValue    = kind{int(ErrInvalidValue), "invalid_config_value", "config", "validation", SeverityMedium, RetryNever, true, "invalid config value"}
	kTypeMismatch    = kind{int(ErrTypeMismatch), "type_mismatch", "config", "validation", SeverityMedium, RetryNever, true, "wrong type"}
	kVersionConflict = kind{int(ErrVersionConflict), "version_conflict", "config", "concurrency", SeverityLow, RetryImmediately, false, "version conflict"}
	kConfigStorage   = kind{int(ErrConfigStorage), "config_storage_error", "config", "durability", SeverityHigh, RetryBackoff, false, "config storage failed"}
	kConfigSource    = kind{int(ErrConfigSource), "config_source_error", "config", "source", SeverityHigh, RetryNever, false, "config source unusable"}
	kInvalidEvent    = kind{int(ErrInvalidEvent), "invalid_event", "data", "validation", SeverityMedium, RetryNever, true, "invalid event"}
	kDataTooLarge    = kind{int(ErrDataTooLarge), "data_too_large", "data", "validation", SeverityMedium, RetryNever, true, "event data too large"}
	kInvalidQuery    = kind{int(ErrInvalidQuery), "invalid_query", "data", "validation", SeverityMedium, RetryNever, true, "invalid query"}
	kNotFound        = kind{int(ErrNotFound), "not_found", "data", "access", SeverityLow, RetryNever, false, "not found"}
	kStoreFull       = kind{int(ErrFull), "event_store_full", "data", "capacity", SeverityMedium, RetryBackoff, false, "event store full"}
	kTimeout         = kind{int(ErrTimeout), "timeout", "data", "capacity", SeverityMedium, RetryBackoff, false, "timed out"}
	kHandlerExists   = kind{int(ErrHandlerExists), "handler_exists", "telemetry", "registration", SeverityLow, RetryNever, false, "handler id already attached"}
	kInvalidHandler  = kind{int(ErrInvalidHandler), "invalid_handler", "telemetry", "registration", SeverityMedium, RetryNever, true, "invalid handler"}
	kInvalidArgument = kind{int(ErrInvalidArgument), "invalid_argument", "system", "argument", SeverityMedium, RetryNever, true, "invalid argument"}
	kTaskExists      = kind{int(ErrTaskExists), "task_exists", "system", "supervisor", SeverityLow, RetryNever, false, "task name already running"}
	kClosed          = kind{int(ErrClosed), "closed", "system", "lifecycle", SeverityHigh, RetryNever, false, "foundation closed"}
	kInternal        = kind{int(ErrInternal), "internal_error", "system", "internal", SeverityCritical, RetryNever, false, "internal error"}
)

// kinds finds a Kind's description.
var kinds = func() map[Kind]*kind {
	m := map[Kind]*kind{}
	for _, k := range []*kind{&kPathNotFound, &kUpdateForbidden, &kValidation, &kRange, &kConstraint,
		&kInvalidValue, &kTypeMismatch, &kVersionConflict, &kConfigStorage, &kConfigSource, &kInvalidEvent, &kDataTooLarge,
		&kInvalidQuery, &kNotFound, &kStoreFull, &kTimeout, &kHandlerExists, &kInvalidHandler,
		&kInvalidArgument, &kTaskExists, &kClosed, &kInternal} {
		m[Kind(k.code)] = k
	}
	return m
}()

// unknownKind describes a Kind that is none of the constants.
var unknownKind = kind{typ: "unknown", severity: SeverityMedium, retry: RetryNever, msg: "unknown error kind"}

func (k Kind) info() *kind {
	if d, ok := kinds[k]; ok {
		return d
	}
	return &unknownKind
}

// Error returns "foundation: <type>: <message>", e.g.
// "foundation: range_error: value out of range".
func (k Kind) Error() string {
	d := k.info()
	return "foundation: " + d.typ + ": " + d.msg
}

// Is reports whether target is [ErrValidation] and k a validation kind (k
// equal to target is matched by errors.Is itself).
func (k Kind) Is(target error) bool {
	t, ok := target.(Kind)
	return ok && t == ErrValidation && k.info().validation
}

// Code returns the kind's code, the Code of its errors.
func (k Kind) Code() int { return int(k) }

// Type returns the kind's name, e.g. "range_error".
func (k Kind) Type() string { return k.info().typ }

// Category returns where errors of the kind come from, e.g. "config".
func (k Kind) Category() string { return k.info().category }

// Subcategory returns the finer origin, e.g. "validation".
func (k Kind) Subcategory() string { return k.info().subcategory }

// Severity returns how bad an error of the kind is.
func (k Kind) Severity() Severity { return k.info().severity }

// Retry returns whether retrying can help.
func (k Kind) Retry() Retry { return k.info().retry }

// Error is the one error type of foundation. Every error a method of this
// package returns is an *Error (possibly wrapped by the caller), carrying:
//
//   - Code: a unique number per kind (1xxx config, 2xxx events, 3xxx
//     telemetry, 4xxx supervisor and arguments, 9xxx system);
//   - Type: the kind's name, e.g. "range_error";
//   - Category and Subcategory: where it comes from, e.g. "config"/"validation";
//   - Severity and Retry: how bad it is and whether retrying can help;
//   - Message: lowercase, naming the path and the offending value;
//   - Context: structured details (path, value, limits);
//   - the wrapped cause, reached by [errors.Unwrap], [errors.Is] and [errors.As].
//
// Match errors with errors.Is against the sentinels, the [Kind] constants
// (ErrRange, ErrNotFound, …): an error matches the sentinel of its own code,
// and every validation failure also matches [ErrValidation]. Secrets are
// never part of an error: the value of ai.api_key is redacted in the
// message, the context, String, fmt and JSON.
//
// Every failing call returns a new *Error of its own, which the package
// never changes afterwards: it is safe to share. Its fields are exported to
// be read; a caller that changes them changes only that error.
type Error struct {
	Code        int
	Type        string
	Category    string
	Subcategory string
	Severity    Severity
	Retry       Retry
	Message     string
	Context     map[string]any
	cause       error
	validation  bool
	also        int // a second code the error matches (0: none)
}

// Error returns "foundation: <type>: <message>", followed by the cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("foundation: ")
	b.WriteString(e.Type)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// String is the same as Error.
func (e *Error) String() string { return e.Error() }

// Unwrap returns the cause, or nil.
func (e *Error) Unwrap() error { return e.cause }

// Is reports whether e matches target: a [Kind] or an *Error of the same
// code; [ErrValidation] also matches every validation error. An update of
// an unknown path matches both [ErrUpdateForbidden] and [ErrPathNotFound].
func (e *Error) Is(target error) bool {
	var code int
	switch t := target.(type) {
	case Kind:
		code = int(t)
	case *Error:
		if t == nil {
			return false
		}
		code = t.Code
	default:
		return false
	}
	return code == e.Code || (e.also != 0 && code == e.also) || (code == int(ErrValidation) && e.validation)
}

// As sets *target to e's [Kind] when target is a *Kind, for errors.As.
func (e *Error) As(target any) bool {
	if k, ok := target.(*Kind); ok {
		*k = Kind(e.Code)
		return true
	}
	return false
}

// MarshalJSON encodes the error with its fields and its cause's message.
func (e *Error) MarshalJSON() ([]byte, error) {
	type wire struct {
		Code        int            `json:"code"`
		Type        string         `json:"type"`
		Category    string         `json:"category"`
		Subcategory string         `json:"subcategory"`
		Severity    string         `json:"severity"`
		Retry       string         `json:"retry"`
		Message     string         `json:"message"`
		Context     map[string]any `json:"context,omitempty"`
		Cause       string         `json:"cause,omitempty"`
	}
	w := wire{e.Code, e.Type, e.Category, e.Subcategory, e.Severity.String(), e.Retry.String(), e.Message, e.Context, ""}
	if e.cause != nil {
		w.Cause = e.cause.Error()
	}
	return json.Marshal(w)
}

// newError builds an error of kind k. ctx holds key/value pairs; values
// under a secret path are redacted.
func newError(k kind, cause error, msg string, ctx ...any) *Error {
	e := &Error{Code: k.code, Type: k.typ, Category: k.category, Subcategory: k.subcategory,
		Severity: k.severity, Retry: k.retry, Message: msg, cause: cause, validation: k.validation}
	if len(ctx) > 0 {
		e.Context = make(map[string]any, len(ctx)/2)
		for i := 0; i+1 < len(ctx); i += 2 {
			key, _ := ctx[i].(string)
			e.Context[key] = ctx[i+1]
		}
		if p, ok := e.Context["path"].(string); ok && isSecretPath(p) {
			for key := range e.Context {
				if key != "path" {
					e.Context[key] = redacted
				}
			}
		}
	}
	return e
}

const redacted = "[REDACTED]"

// isSecretPath reports whether a path names a secret, case-insensitively
// and whether or not the path exists: ai.api_key, and any path whose last
// segment speaks of a key, secret, password, token or credential. Errors
// never hold a value given for such a path.
func isSecretPath(p string) bool {
	p = strings.ToLower(strings.TrimSpace(p))
	if p == "ai.api_key" {
		return true
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		p = p[i+1:]
	}
	for _, w := range []string{"api_key", "apikey", "secret", "password", "passwd", "token", "credential", "private_key"} {
		if strings.Contains(p, w) {
			return true
		}
	}
	return false
}

// formatValue renders a value for a message: quoted strings, Go syntax for
// the rest, the secret path redacted.
func formatValue(path string, v any) string {
	if isSecretPath(path) {
		return redacted
	}
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprintf("%v", v)
}
