package ring_test

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/elixirscope-go/foundation/internal/pad"

	"github.com/elixirscope-go/foundation/ring"
)

// Peers, side by side with ring.Buffer in the same run:
//   - impl=chan: a buffered channel of *T with one goroutine draining it
//     (the usual "hand it to a goroutine" design); it cannot Get or iterate.
//   - impl=mutexring: a slice ring behind a sync.Mutex, overwriting the
//     oldest, with seqs.

const benchCap = 1 << 16

type benchItem struct{ a, b uint64 }

var benchItems = func() []*benchItem {
	s := make([]*benchItem, 1024)
	for i := range s {
		s[i] = &benchItem{a: uint64(i), b: uint64(i) * 3}
	}
	return s
}()

type mutexRing struct {
	mu   sync.Mutex
	buf  []*benchItem
	head uint64 // next seq, from 1
}

func newMutexRing(n int) *mutexRing { return &mutexRing{buf: make([]*benchItem, n), head: 1} }

func (r *mutexRing) Push(v *benchItem) uint64 {
	r.mu.Lock()
	s := r.head
	r.buf[s%uint64(len(r.buf))] = v
	r.head++
	r.mu.Unlock()
	return s
}

func (r *mutexRing) PushBatch(vs []*benchItem) uint64 {
	r.mu.Lock()
	first := r.head
	for _, v := range vs {
		r.buf[r.head%uint64(len(r.buf))] = v
		r.head++
	}
	r.mu.Unlock()
	return first
}

func (r *mutexRing) Get(s uint64) (*benchItem, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s == 0 || s >= r.head || r.head-s > uint64(len(r.buf)) {
		return nil, false
	}
	return r.buf[s%uint64(len(r.buf))], true
}

// chanPeer is a buffered channel drained by one goroutine; stop joins it.
type chanPeer struct {
	ch   chan *benchItem
	wg   sync.WaitGroup
	seen uint64
}

func newChanPeer(n int) *chanPeer {
	p := &chanPeer{ch: make(chan *benchItem, n)}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for v := range p.ch {
			p.seen += v.a & 1
		}
	}()
	return p
}

func (p *chanPeer) stop() { close(p.ch); p.wg.Wait() }

func newBenchRing(b *testing.B) *ring.Buffer[benchItem] {
	r, err := ring.New[benchItem](benchCap, ring.Config[benchItem]{})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func reportOps(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}

// BenchmarkPush is one goroutine pushing pointers (DropOldest, full ring).
func BenchmarkPush(b *testing.B) {
	b.Run("impl=ring", func(b *testing.B) {
		r := newBenchRing(b)
		defer r.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_, _ = r.Push(benchItems[i&1023])
		}
		reportOps(b)
	})
	b.Run("impl=ring/ondiscard", func(b *testing.B) {
		var n uint64
		r, err := ring.New[benchItem](benchCap, ring.Config[benchItem]{
			OnDiscard: func(uint64, *benchItem, ring.Reason) { n++ },
		})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			_, _ = r.Push(benchItems[i&1023])
		}
		reportOps(b)
	})
	b.Run("impl=chan", func(b *testing.B) {
		p := newChanPeer(benchCap)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			p.ch <- benchItems[i&1023]
		}
		reportOps(b)
		b.StopTimer()
		p.stop()
	})
	b.Run("impl=mutexring", func(b *testing.B) {
		r := newMutexRing(benchCap)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r.Push(benchItems[i&1023])
		}
		reportOps(b)
	})
}

// BenchmarkPushParallel is GOMAXPROCS goroutines pushing at once (-cpu 1,2):
// ns/op is wall time over the ops of all goroutines, so perfect scaling
// halves it at -cpu 2.
func BenchmarkPushParallel(b *testing.B) {
	b.Run("impl=ring", func(b *testing.B) {
		r := newBenchRing(b)
		defer r.Close()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_, _ = r.Push(benchItems[i&1023])
				i++
			}
		})
		reportOps(b)
	})
	// Per-P blocks of 64 seqs (Config.ClaimBlock, one shard): the shared
	// counter is written once per 64 pushes.
	b.Run("impl=ring/claimblock=64", func(b *testing.B) {
		r, err := ring.New[benchItem](benchCap, ring.Config[benchItem]{Shards: 1, ClaimBlock: 64})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				_, _ = r.Push(benchItems[i&1023])
				i++
			}
		})
		reportOps(b)
	})
	// The floor of any design with one global order: the claim counter alone
	// (one padded fetch-add per op, no slot written).
	b.Run("impl=claim-only", func(b *testing.B) {
		var c struct {
			_ [pad.FalseSharingRange]byte
			n atomic.Uint64
			_ [pad.FalseSharingRange]byte
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.n.Add(1)
			}
		})
		reportOps(b)
	})
	b.Run("impl=chan", func(b *testing.B) {
		p := newChanPeer(benchCap)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				p.ch <- benchItems[i&1023]
				i++
			}
		})
		reportOps(b)
		b.StopTimer()
		p.stop()
	})
	b.Run("impl=mutexring", func(b *testing.B) {
		r := newMutexRing(benchCap)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				r.Push(benchItems[i&1023])
				i++
			}
		})
		reportOps(b)
	})
}

// BenchmarkGet reads retained items by seq, in parallel (readers only).
func BenchmarkGet(b *testing.B) {
	b.Run("impl=ring", func(b *testing.B) {
		r := newBenchRing(b)
		defer r.Close()
		for i := 0; i < benchCap; i++ {
			_, _ = r.Push(benchItems[i&1023])
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var s uint64
			for pb.Next() {
				if _, ok := r.Get(1 + s&(benchCap-1)); !ok {
					b.Error("missing")
					return
				}
				s += 7
			}
		})
		reportOps(b)
	})
	b.Run("impl=mutexring", func(b *testing.B) {
		r := newMutexRing(benchCap)
		for i := 0; i < benchCap; i++ {
			r.Push(benchItems[i&1023])
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var s uint64
			for pb.Next() {
				if _, ok := r.Get(1 + s&(benchCap-1)); !ok {
					b.Error("missing")
					return
				}
				s += 7
			}
		})
		reportOps(b)
	})
}

// BenchmarkAscend iterates 1024 retained items per op; ns/item is the figure.
func BenchmarkAscend(b *testing.B) {
	const span = 1024
	r := newBenchRing(b)
	defer r.Close()
	for i := 0; i < benchCap; i++ {
		_, _ = r.Push(benchItems[i&1023])
	}
	from := r.Next() - span
	b.Run("dir=asc", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		var sum uint64
		for i := 0; i < b.N; i++ {
			for _, v := range r.Ascend(from) {
				sum += v.a
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/span, "ns/item")
	})
	b.Run("dir=desc", func(b *testing.B) {
		b.ReportAllocs()
		b.ResetTimer()
		var sum uint64
		for i := 0; i < b.N; i++ {
			n := 0
			for _, v := range r.Descend(math.MaxUint64) {
				sum += v.a
				if n++; n == span {
					break
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/span, "ns/item")
	})
}

// BenchmarkPushBatch pushes batches of 64 pointers (one claim per batch);
// ns/item is the figure to compare with BenchmarkPush.
func BenchmarkPushBatch(b *testing.B) {
	const batch = 64
	vs := benchItems[:batch]
	b.Run("impl=ring", func(b *testing.B) {
		r := newBenchRing(b)
		defer r.Close()
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := r.PushBatch(ctx, vs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batch, "ns/item")
	})
	b.Run("impl=chan", func(b *testing.B) {
		p := newChanPeer(benchCap)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			for _, v := range vs {
				p.ch <- v
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batch, "ns/item")
		b.StopTimer()
		p.stop()
	})
	b.Run("impl=mutexring", func(b *testing.B) {
		r := newMutexRing(benchCap)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r.PushBatch(vs)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/batch, "ns/item")
	})
}
