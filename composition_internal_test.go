package foundation

import (
	"reflect"
	"testing"
)

// TestNoServiceHoldsTheFoundation: the root is a composition. New wires the
// services with hooks and values; none of them, nor their parts, holds a
// *Foundation or another service (a field whose type is, or points to, one
// of them). Function-typed hooks are how they reach each other.
func TestNoServiceHoldsTheFoundation(t *testing.T) {
	forbidden := map[reflect.Type]bool{
		reflect.TypeOf(Foundation{}):    true,
		reflect.TypeOf(ConfigService{}): true,
		reflect.TypeOf(EventStore{}):    true,
		reflect.TypeOf(Telemetry{}):     true,
	}
	for _, v := range []any{ConfigService{}, EventStore{}, Telemetry{}, exportPipeline{}, warmTier{},
		changeRecorder{}, configHooks{}, eventStoreHooks{}, configWatcher{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			f := typ.Field(i)
			ft := f.Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if forbidden[ft] && ft != typ {
				t.Errorf("%s.%s is a %s: services are wired with hooks, not held", typ.Name(), f.Name, f.Type)
			}
		}
	}
}
