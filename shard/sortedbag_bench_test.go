package shard

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// The read and write paths of one hot key of a SortedBag[string, uint64],
// as the event store's type index uses it: rising IDs appended with
// InsertTrim (a bound rounded down, so that one insert in 256 trims), and
// queries reading the newest 64 IDs or a page from the middle.

const (
	hotKeyLen  = 1 << 14 // IDs kept under the hot key
	hotTrimOff = 255     // trim bounds are rounded down to a multiple of 256
)

// hotBag is a bag whose key "hot" holds the IDs 1..hotKeyLen.
func hotBag() *SortedBag[string, uint64] {
	b, _ := NewSortedBag[string, uint64]()
	for id := uint64(1); id <= hotKeyLen; id++ {
		b.Insert("hot", id)
	}
	return b
}

// insertHot appends id to the hot key, trimming it to about hotKeyLen IDs.
func insertHot(b *SortedBag[string, uint64], id uint64) {
	var bound uint64
	if id > hotKeyLen {
		bound = (id - hotKeyLen) &^ hotTrimOff
	}
	b.InsertTrim("hot", id, bound)
}

// BenchmarkSortedBagHot: "insert" is the single-goroutine insert path
// (InsertTrim of rising IDs; with -cpu 2, two goroutines on the same key);
// "insert-middle" inserts below the largest value (a shift) and deletes it
// again; "page" reads pages of 64 without writers; "page-under-inserts"
// reads them while one more goroutine appends to the same key without
// pause (ns/op is per page; the writer's rate is reported as inserts/op;
// a reader delayed long enough may find its range trimmed: its page is
// then short);
// "mixed" has every goroutine alternate one insert and one page.
func BenchmarkSortedBagHot(b *testing.B) {
	b.Run("insert", func(b *testing.B) {
		bag := hotBag()
		var id atomic.Uint64
		id.Store(hotKeyLen)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				insertHot(bag, id.Add(1))
			}
		})
	})
	b.Run("insert-middle", func(b *testing.B) {
		bag := hotBag()
		b.ReportAllocs()
		b.ResetTimer()
		i := uint64(0)
		for b.Loop() {
			v := (i*7919)%hotKeyLen<<1 | 1 // odd: not held, lands among the held ones
			bag.Insert("hot", v)
			bag.DeleteObject("hot", v)
			i++
		}
	})
	page := func(bag *SortedBag[string, uint64], dst []uint64, i int, newest uint64) []uint64 {
		if i&1 == 0 { // the newest 64, as a query for the latest events
			return bag.Page(dst[:0], "hot", 0, newest, true, 0, 64)
		}
		lo := newest - hotKeyLen/2 // 64 from the middle, ascending
		return bag.Page(dst[:0], "hot", lo, math.MaxUint64, false, 0, 64)
	}
	b.Run("page", func(b *testing.B) {
		bag := hotBag()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]uint64, 0, 64)
			for i := 0; pb.Next(); i++ {
				if dst = page(bag, dst, i, hotKeyLen); len(dst) != 64 {
					panic("short page")
				}
			}
		})
	})
	b.Run("page-under-inserts", func(b *testing.B) {
		bag := hotBag()
		var id atomic.Uint64
		id.Store(hotKeyLen)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if i&63 == 0 {
					select {
					case <-stop:
						return
					default:
					}
					runtime.Gosched() // with -cpu 1, let the readers run too
				}
				insertHot(bag, id.Add(1))
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		start := id.Load()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]uint64, 0, 64)
			for i := 0; pb.Next(); i++ {
				dst = page(bag, dst, i, id.Load())
			}
		})
		b.StopTimer()
		b.ReportMetric(float64(id.Load()-start)/float64(b.N), "inserts/op")
		close(stop)
		wg.Wait()
	})
	b.Run("mixed", func(b *testing.B) {
		bag := hotBag()
		var id atomic.Uint64
		id.Store(hotKeyLen)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]uint64, 0, 64)
			for i := 0; pb.Next(); i++ {
				v := id.Add(1)
				insertHot(bag, v)
				dst = page(bag, dst, i, v)
			}
		})
	})
}
