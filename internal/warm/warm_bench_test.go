package warm

import (
	"context"
	"testing"

	"github.com/elixirscope-go/foundation/segment"
)

// BenchmarkQuery pages through 1M warm events (zstd): the newest 100, 100
// of one type, 100 after a cursor half way, and a Get by ID.
func BenchmarkQuery(b *testing.B) {
	const n = 1_000_000
	tr, err := Open(Config{Dir: b.TempDir(), Codec: segment.Zstd, NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	batch := make([]Event, 0, 1000)
	for id := uint64(1); id <= n; id++ {
		batch = append(batch, ev(id))
		if len(batch) == cap(batch) {
			if err := tr.Append(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	mid := ev(n / 2)
	for _, c := range []struct {
		name string
		q    Query
	}{
		{"newest", Query{Descending: true}},
		{"type", Query{Type: "type.1", Descending: true}},
		{"after-half", Query{After: Cursor{Time: mid.Time, ID: mid.ID}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				got, err := tr.Query(context.Background(), c.q, 100)
				if err != nil || len(got) != 100 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, ok, err := tr.Get(uint64(i%n) + 1); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
}
