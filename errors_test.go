package foundation

import (
	"errors"
	"fmt"
	"testing"
)

// TestKinds checks every sentinel against the errors of its kind: the
// fields agree, each error matches its own sentinel (and ErrValidation when
// it is a validation failure) and no other.
func TestKinds(t *testing.T) {
	if len(kinds) != 22 {
		t.Fatalf("%d kinds, want one per sentinel (22)", len(kinds))
	}
	for code, k := range kinds {
		if Kind(k.code) != code {
			t.Errorf("kinds[%d] describes %d", code, k.code)
		}
		e := newError(*k, nil, "m")
		if e.Code != code.Code() || e.Type != code.Type() || e.Category != code.Category() ||
			e.Subcategory != code.Subcategory() || e.Severity != code.Severity() || e.Retry != code.Retry() {
			t.Errorf("%d: error %+v disagrees with its sentinel", code, *e)
		}
		if want := "foundation: " + k.typ + ": " + k.msg; code.Error() != want {
			t.Errorf("%d: Error() = %q, want %q", code, code.Error(), want)
		}
		for other := range kinds {
			want := other == code || (other == ErrValidation && k.validation)
			if got := errors.Is(e, other); got != want {
				t.Errorf("errors.Is(%s error, %s) = %v", code.Type(), other.Type(), got)
			}
			if got := errors.Is(code, other); got != want {
				t.Errorf("errors.Is(%s, %s) = %v", code.Type(), other.Type(), got)
			}
		}
	}
}

// TestWrappedSentinel checks a sentinel wrapped by a caller, as the
// integrations do: it matches like an *Error of its kind, and errors.As
// finds its Kind but no *Error to change.
func TestWrappedSentinel(t *testing.T) {
	err := fmt.Errorf("nats: path %q: %w", "x", ErrRange)
	if !errors.Is(err, ErrRange) || !errors.Is(err, ErrValidation) || errors.Is(err, ErrNotFound) {
		t.Errorf("matching of %v is wrong", err)
	}
	var k Kind
	if !errors.As(err, &k) || k != ErrRange {
		t.Errorf("errors.As(Kind) = %v, %v", k, k == ErrRange)
	}
	var fe *Error
	if errors.As(err, &fe) {
		t.Errorf("errors.As found an *Error in a wrapped sentinel: %v", fe)
	}
	err = fmt.Errorf("caller: %w", newError(kNotFound, nil, "event 7"))
	if !errors.As(err, &k) || k != ErrNotFound {
		t.Errorf("errors.As(Kind) of an *Error = %v", k)
	}
	if got := Kind(7).Error(); got != "foundation: unknown: unknown error kind" {
		t.Errorf("unknown kind: %q", got)
	}
}

// TestErrorsAreOwn checks that each failing call's *Error is its own: a
// caller changing one changes no other error and no sentinel.
func TestErrorsAreOwn(t *testing.T) {
	a := newError(kRange, nil, "ai.planning.sampling_rate = 1.5", "path", "ai.planning.sampling_rate", "value", 1.5)
	b := newError(kRange, nil, "ai.planning.sampling_rate = 1.5", "path", "ai.planning.sampling_rate", "value", 1.5)
	a.Code, a.Type, a.Message = 0, "mine", "changed"
	a.Context["value"] = "changed"
	if !errors.Is(b, ErrRange) || b.Type != "range_error" || b.Message == "changed" || b.Context["value"] != 1.5 {
		t.Errorf("changing one error changed another: %+v", *b)
	}
	if ErrRange.Code() != 1101 || ErrRange.Type() != "range_error" {
		t.Errorf("the sentinel changed: %d %s", ErrRange.Code(), ErrRange.Type())
	}
	if !errors.Is(b, newError(kRange, nil, "")) {
		t.Error("an *Error target of the same code does not match")
	}
	if errors.Is(b, (*Error)(nil)) {
		t.Error("a nil *Error target matches")
	}
}
