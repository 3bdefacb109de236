package warm

import (
	"errors"
	"testing"

	"github.com/elixirscope-go/foundation/segment"
)

// FuzzEventRecord feeds arbitrary bytes to the event record decoder: it
// must not panic, an error must match segment.ErrCorrupt, and what it
// decodes must encode back to the same bytes.
func FuzzEventRecord(f *testing.F) {
	for _, id := range []uint64{1, 5, 77, 1 << 40} {
		e := ev(id)
		f.Add(encode(nil, &e))
	}
	f.Add([]byte{})
	f.Add([]byte{0x80})
	f.Add([]byte{1, 2, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := view(segment.Record{Time: 7, Data: b})
		if err != nil {
			if !errors.Is(err, segment.ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		again := encode(nil, &e)
		e2, err := view(segment.Record{Time: 7, Data: again})
		if err != nil || e2.ID != e.ID || e2.ParentID != e.ParentID || e2.Type != e.Type ||
			e2.CorrelationID != e.CorrelationID || string(e2.Data) != string(e.Data) {
			t.Fatalf("round trip: %+v became %+v (%v)", e, e2, err)
		}
	})
}
