package eventstore

import (
	"context"
	"strconv"
	"testing"
)

var (
	benchTypes = func() (out [16]string) {
		for i := range out {
			out[i] = "type." + strconv.Itoa(i)
		}
		return
	}()
	benchCorrs = func() (out [64]string) {
		for i := range out {
			out[i] = "corr-" + strconv.Itoa(i)
		}
		return
	}()
)

// seedStore is the seed table's Events.query store: 10,000 events (16
// types, 64 correlation ids, 64 B of Data) in a store of capacity 65,536.
func seedStore(b *testing.B) *Store {
	s := testStore(b, capacity(1<<16), nil)
	data := make([]byte, 64)
	for i := range 10_000 {
		if _, err := s.Store(&Event{Type: benchTypes[i&15], CorrelationID: benchCorrs[(i>>4)&63], Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkQueryNewest is the seed table's Events.query case on the engine
// alone: each query takes the newest 100 of one type, descending, the
// types in turn.
func BenchmarkQueryNewest(b *testing.B) {
	s := seedStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs, err := s.Query(Query{Type: benchTypes[i&15], Limit: 100, Descending: true})
		if err != nil || len(evs) != 100 {
			b.Fatalf("%d events, %v", len(evs), err)
		}
	}
}

// BenchmarkQueryNewestInto is BenchmarkQueryNewest with QueryInto and one
// Buffer for every query.
func BenchmarkQueryNewestInto(b *testing.B) {
	s := seedStore(b)
	ctx := context.Background()
	var buf Buffer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs, err := s.QueryInto(ctx, &buf, Query{Type: benchTypes[i&15], Limit: 100, Descending: true})
		if err != nil || len(evs) != 100 {
			b.Fatalf("%d events, %v", len(evs), err)
		}
	}
}
