package foundation

import (
	"reflect"
	"testing"

	"github.com/elixirscope-go/foundation/internal/eventstore"
)

// TestEventLayout: Event and the engine's Event have the same fields at the
// same offsets, which toEvents and fromEvents rely on to convert slices in
// place.
func TestEventLayout(t *testing.T) {
	a, b := reflect.TypeFor[Event](), reflect.TypeFor[eventstore.Event]()
	if a.Size() != b.Size() || a.NumField() != b.NumField() {
		t.Fatalf("sizes %d/%d, fields %d/%d", a.Size(), b.Size(), a.NumField(), b.NumField())
	}
	for i := range a.NumField() {
		fa, fb := a.Field(i), b.Field(i)
		if fa.Name != fb.Name || fa.Type != fb.Type || fa.Offset != fb.Offset {
			t.Fatalf("field %d: %s %s @%d vs %s %s @%d", i, fa.Name, fa.Type, fa.Offset, fb.Name, fb.Type, fb.Offset)
		}
	}
}
