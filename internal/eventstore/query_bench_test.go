package eventstore

import (
	"strconv"
	"testing"
)

// BenchmarkQueryNewest is the seed table's Events.query case on the engine
// alone: 10,000 events (16 types, 64 correlation ids, 64 B of Data) in a
// store of capacity 65,536; each query takes the newest 100 of one type,
// descending, the types in turn.
func BenchmarkQueryNewest(b *testing.B) {
	s := testStore(b, capacity(1<<16), nil)
	var types [16]string
	var corrs [64]string
	for i := range types {
		types[i] = "type." + strconv.Itoa(i)
	}
	for i := range corrs {
		corrs[i] = "corr-" + strconv.Itoa(i)
	}
	data := make([]byte, 64)
	for i := range 10_000 {
		if _, err := s.Store(&Event{Type: types[i&15], CorrelationID: corrs[(i>>4)&63], Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		evs, err := s.Query(Query{Type: types[i&15], Limit: 100, Descending: true})
		if err != nil || len(evs) != 100 {
			b.Fatalf("%d events, %v", len(evs), err)
		}
		n += len(evs)
	}
	_ = n
}
