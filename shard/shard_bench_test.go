package shard

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/puzpuzpuz/xsync/v3"
	"github.com/tidwall/btree"
)

const benchKeys = 1 << 14

var benchKeyStrs = func() []string {
	k := make([]string, benchKeys)
	for i := range k {
		k[i] = fmt.Sprintf("event-type-%05d", i)
	}
	return k
}()

// kv is the common face of the implementations compared here.
type kv interface {
	load(k string) (int, bool)
	store(k string, v int)
}

type shardSet struct{ s *Set[string, int] }

func (m shardSet) load(k string) (int, bool) { return m.s.Lookup(k) }
func (m shardSet) store(k string, v int)     { m.s.Insert(k, v) }

type xsyncMap struct{ m *xsync.MapOf[string, int] }

func (m xsyncMap) load(k string) (int, bool) { return m.m.Load(k) }
func (m xsyncMap) store(k string, v int)     { m.m.Store(k, v) }

type syncMap struct{ m *sync.Map }

func (m syncMap) load(k string) (int, bool) {
	v, ok := m.m.Load(k)
	if !ok {
		return 0, false
	}
	return v.(int), true
}
func (m syncMap) store(k string, v int) { m.m.Store(k, v) }

type rwMap struct {
	mu *sync.RWMutex
	m  map[string]int
}

func (m rwMap) load(k string) (int, bool) {
	m.mu.RLock()
	v, ok := m.m[k]
	m.mu.RUnlock()
	return v, ok
}
func (m rwMap) store(k string, v int) { m.mu.Lock(); m.m[k] = v; m.mu.Unlock() }

type shardOrdered struct{ s *OrderedSet[string, int] }

func (m shardOrdered) load(k string) (int, bool) { return m.s.Lookup(k) }
func (m shardOrdered) store(k string, v int)     { m.s.Insert(k, v) }

type rwBtree struct {
	mu *sync.RWMutex
	t  *btree.Map[string, int]
}

func (m rwBtree) load(k string) (int, bool) {
	m.mu.RLock()
	v, ok := m.t.Get(k)
	m.mu.RUnlock()
	return v, ok
}
func (m rwBtree) store(k string, v int) { m.mu.Lock(); m.t.Set(k, v); m.mu.Unlock() }

func hashImpls() []struct {
	name string
	new  func() kv
} {
	return []struct {
		name string
		new  func() kv
	}{
		{"shard.Set", func() kv { s, _ := NewSet[string, int](); return shardSet{s} }},
		{"xsync.MapOf", func() kv { return xsyncMap{xsync.NewMapOf[string, int]()} }},
		{"sync.Map", func() kv { return syncMap{new(sync.Map)} }},
		{"RWMutex-map", func() kv { return rwMap{new(sync.RWMutex), map[string]int{}} }},
	}
}

func orderedImpls() []struct {
	name string
	new  func() kv
} {
	return []struct {
		name string
		new  func() kv
	}{
		{"shard.OrderedSet", func() kv { s, _ := NewOrderedSet[string, int](); return shardOrdered{s} }},
		{"RWMutex-btree", func() kv { return rwBtree{new(sync.RWMutex), new(btree.Map[string, int])} }},
	}
}

var benchSeq atomic.Uint64

// runMix runs a parallel workload over a full table: reads% lookups, the
// rest overwrites of existing keys, each goroutine from its own random start
// (so that every goroutine writes every key, and a write of a key often finds
// its memory in another core's cache).
func runMix(b *testing.B, m kv, reads int) {
	for i, k := range benchKeyStrs {
		m.store(k, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(benchSeq.Add(1), 1))
		i := r.IntN(benchKeys)
		n := 0
		for pb.Next() {
			i = (i + 1) & (benchKeys - 1)
			n++
			if n%100 < reads {
				m.load(benchKeyStrs[i])
			} else {
				m.store(benchKeyStrs[i], n)
			}
		}
	})
}

// runDisjoint runs parallel overwrites where each goroutine writes its own
// keys (a per-connection or per-worker key, the common case for a table
// that many goroutines update): what remains is the cost of the table, not
// of cache lines moving between cores.
func runDisjoint(b *testing.B, m kv) {
	for i, k := range benchKeyStrs {
		m.store(k, i)
	}
	var g atomic.Uint64
	per := uint64(benchKeys / runtime.GOMAXPROCS(0)) // keys of one goroutine: a block of its own
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		base := (g.Add(1) - 1) % uint64(runtime.GOMAXPROCS(0)) * per
		n, j := 0, uint64(0)
		for pb.Next() {
			n++
			if j++; j == per {
				j = 0
			}
			m.store(benchKeyStrs[base+j], n)
		}
	})
}

func benchKinds(b *testing.B, impls []struct {
	name string
	new  func() kv
}) {
	for _, w := range []struct {
		name  string
		reads int
	}{{"lookup", 100}, {"insert", 0}, {"reads=90%", 90}} {
		b.Run(w.name, func(b *testing.B) {
			for _, im := range impls {
				b.Run("impl="+im.name, func(b *testing.B) { runMix(b, im.new(), w.reads) })
			}
		})
	}
	b.Run("insert-disjoint", func(b *testing.B) {
		for _, im := range impls {
			b.Run("impl="+im.name, func(b *testing.B) { runDisjoint(b, im.new()) })
		}
	})
}

// BenchmarkSet compares Set with xsync.MapOf, sync.Map and an RWMutex map on
// 16k string keys: lookups, overwrites (of shared keys, and of each
// goroutine's own keys), and a 90/10 mix, all in parallel.
func BenchmarkSet(b *testing.B) { benchKinds(b, hashImpls()) }

// BenchmarkOrderedSet compares OrderedSet with a tidwall/btree behind an
// RWMutex, and adds ordered scans of 100 keys.
func BenchmarkOrderedSet(b *testing.B) {
	benchKinds(b, orderedImpls())
	b.Run("range100", func(b *testing.B) {
		b.Run("impl=shard.OrderedSet", func(b *testing.B) {
			s, _ := NewOrderedSet[string, int]()
			for i, k := range benchKeyStrs {
				s.Insert(k, i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				lo := benchKeyStrs[i&(benchKeys-1)]
				n := 0
				for range s.Range(lo, "\xff", false) {
					if n++; n == 100 {
						break
					}
				}
			}
		})
		b.Run("impl=RWMutex-btree", func(b *testing.B) {
			var mu sync.RWMutex
			t := new(btree.Map[string, int])
			for i, k := range benchKeyStrs {
				t.Set(k, i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				lo := benchKeyStrs[i&(benchKeys-1)]
				n := 0
				mu.RLock()
				t.Ascend(lo, func(string, int) bool { n++; return n < 100 })
				mu.RUnlock()
			}
		})
	})
}

// BenchmarkSortedBag prices the index operations: appending rising IDs to
// a key (with pruning to keep it bounded), and reading a page of 50.
func BenchmarkSortedBag(b *testing.B) {
	b.Run("insert-rising", func(b *testing.B) {
		s, _ := NewSortedBag[string, uint64]()
		var id atomic.Uint64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				v := id.Add(1)
				k := benchKeyStrs[v&63]
				s.Insert(k, v)
				if v&1023 == 0 {
					s.DeleteBelow(k, v-4096)
				}
			}
		})
	})
	b.Run("page50", func(b *testing.B) {
		s, _ := NewSortedBag[string, uint64]()
		for i := range uint64(100_000) {
			s.Insert(benchKeyStrs[i&7], i)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			dst := make([]uint64, 0, 50)
			i := 0
			for pb.Next() {
				i++
				dst = s.Page(dst[:0], benchKeyStrs[i&7], 1000, 90_000, i&1 == 0, i&255, 50)
			}
		})
	})
}
