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

// kind describes one class of error: its code and the fields every error of
// that class shares.
type kind struct {
	code        int
	typ         string
	category    string
	subcategory string
	severity    Severity
	retry       Retry
	validation  bool // also matches ErrValidation
}

// The kinds, one per code. Codes are grouped by category: 1xxx config,
// 2xxx events, 3xxx telemetry, 4xxx supervisor, 9xxx system.
var (
	kPathNotFound    = kind{1001, "config_path_not_found", "config", "access", SeverityMedium, RetryNever, false}
	kUpdateForbidden = kind{1002, "config_update_forbidden", "config", "access", SeverityMedium, RetryNever, false}
	kValidation      = kind{1100, "validation_failed", "config", "validation", SeverityMedium, RetryNever, true}
	kRange           = kind{1101, "range_error", "config", "validation", SeverityMedium, RetryNever, true}
	kConstraint      = kind{1102, "constraint_violation", "config", "validation", SeverityMedium, RetryNever, true}
	kInvalidValue    = kind{1103, "invalid_config_value", "config", "validation", SeverityMedium, RetryNever, true}
	kTypeMismatch    = kind{1104, "type_mismatch", "config", "validation", SeverityMedium, RetryNever, true}
	kVersionConflict = kind{1201, "version_conflict", "config", "concurrency", SeverityLow, RetryImmediately, false}
	kConfigStorage   = kind{1301, "config_storage_error", "config", "durability", SeverityHigh, RetryBackoff, false}
	kInvalidEvent    = kind{2001, "invalid_event", "data", "validation", SeverityMedium, RetryNever, true}
	kDataTooLarge    = kind{2002, "data_too_large", "data", "validation", SeverityMedium, RetryNever, true}
	kInvalidQuery    = kind{2003, "invalid_query", "data", "validation", SeverityMedium, RetryNever, true}
	kNotFound        = kind{2004, "not_found", "data", "access", SeverityLow, RetryNever, false}
	kStoreFull       = kind{2005, "event_store_full", "data", "capacity", SeverityMedium, RetryBackoff, false}
	kTimeout         = kind{2006, "timeout", "data", "capacity", SeverityMedium, RetryBackoff, false}
	kHandlerExists   = kind{3001, "handler_exists", "telemetry", "registration", SeverityLow, RetryNever, false}
	kInvalidHandler  = kind{3002, "invalid_handler", "telemetry", "registration", SeverityMedium, RetryNever, true}
	kInvalidArgument = kind{4001, "invalid_argument", "system", "argument", SeverityMedium, RetryNever, true}
	kTaskExists      = kind{4002, "task_exists", "system", "supervisor", SeverityLow, RetryNever, false}
	kClosed          = kind{9001, "closed", "system", "lifecycle", SeverityHigh, RetryNever, false}
	kInternal        = kind{9002, "internal_error", "system", "internal", SeverityCritical, RetryNever, false}
)

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
// Match errors with errors.Is against the sentinels (ErrRange, ErrNotFound,
// …): an error matches the sentinel of its own kind, and every validation
// failure also matches [ErrValidation]. Secrets are never part of an error:
// the value of ai.api_key is redacted in the message, the context, String,
// fmt and JSON. An *Error is immutable once returned; it is safe to share.
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

// Is reports whether e matches target: a target *Error matches when the
// codes are equal, and [ErrValidation] also matches every validation error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t == nil {
		return false
	}
	if t.Code == e.Code {
		return true
	}
	return t.Code == kValidation.code && e.validation
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

func sentinel(k kind, msg string) *Error {
	return &Error{Code: k.code, Type: k.typ, Category: k.category, Subcategory: k.subcategory,
		Severity: k.severity, Retry: k.retry, Message: msg, validation: k.validation}
}

// The sentinels, for errors.Is. Each is an *Error with its kind's code and
// an empty context; the errors returned carry a message and context of their
// own.
var (
	ErrPathNotFound    = sentinel(kPathNotFound, "config path not found")
	ErrUpdateForbidden = sentinel(kUpdateForbidden, "config path is not updatable")
	ErrValidation      = sentinel(kValidation, "validation failed")
	ErrRange           = sentinel(kRange, "value out of range")
	ErrConstraint      = sentinel(kConstraint, "constraint violated")
	ErrInvalidValue    = sentinel(kInvalidValue, "invalid config value")
	ErrTypeMismatch    = sentinel(kTypeMismatch, "wrong type")
	ErrVersionConflict = sentinel(kVersionConflict, "version conflict")
	ErrConfigStorage   = sentinel(kConfigStorage, "config storage failed")
	ErrInvalidEvent    = sentinel(kInvalidEvent, "invalid event")
	ErrDataTooLarge    = sentinel(kDataTooLarge, "event data too large")
	ErrInvalidQuery    = sentinel(kInvalidQuery, "invalid query")
	ErrNotFound        = sentinel(kNotFound, "not found")
	ErrFull            = sentinel(kStoreFull, "event store full")
	ErrTimeout         = sentinel(kTimeout, "timed out")
	ErrHandlerExists   = sentinel(kHandlerExists, "handler id already attached")
	ErrInvalidHandler  = sentinel(kInvalidHandler, "invalid handler")
	ErrInvalidArgument = sentinel(kInvalidArgument, "invalid argument")
	ErrTaskExists      = sentinel(kTaskExists, "task name already running")
	ErrClosed          = sentinel(kClosed, "foundation closed")
	ErrInternal        = sentinel(kInternal, "internal error")
)

// newError builds an error of kind k. ctx holds key/value pairs; values
// under a secret path are redacted.
func newError(k kind, cause error, msg string, ctx ...any) *Error {
	e := sentinel(k, msg)
	e.cause = cause
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
