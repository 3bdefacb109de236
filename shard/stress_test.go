package shard

import (
	"fmt"
	"slices"
	"sync"
	"testing"
)

const (
	workers = 4
	iters   = 1500
)

func run(n int, f func(g int)) {
	var wg sync.WaitGroup
	for g := range n {
		wg.Add(1)
		go func() { defer wg.Done(); f(g) }()
	}
	wg.Wait()
}

// stop is closed when the writers are done; readers loop until then.
func readersUntil(stop <-chan struct{}, n int, f func()) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					f()
				}
			}
		}()
	}
	return &wg
}

// setLike is what the stress test needs of Set and OrderedSet.
type setLike interface {
	Insert(k, v int)
	InsertList([]Object[int, int])
	Lookup(k int) (int, bool)
	Delete(k int)
	Len() int
	All() func(func(int, int) bool)
	CounterTable[int, int]
}

type setAdapter struct{ *Set[int, int] }

func (s setAdapter) All() func(func(int, int) bool) { return s.Set.All() }

type osetAdapter struct{ *OrderedSet[int, int] }

func (s osetAdapter) All() func(func(int, int) bool) { return s.OrderedSet.All() }

// TestStressSets hammers a Set and an OrderedSet with counters, inserts,
// deletes, atomic list inserts and iteration at once, then checks exact
// counter totals and the exact set of surviving keys.
func TestStressSets(t *testing.T) {
	s, err := NewSet[int, int](WithShards(3))
	must(err)
	o, err := NewOrderedSet[int, int](WithShards(3))
	must(err)
	for name, tb := range map[string]setLike{"set": setAdapter{s}, "ordered_set": osetAdapter{o}} {
		t.Run(name, func(t *testing.T) {
			const counterKeys = 8
			const pairX, pairY = -1, -2 // written together by InsertList
			stop := make(chan struct{})
			var bad sync.Map
			readers := readersUntil(stop, 2, func() {
				// List atomicity: X and Y are written together with the same
				// rising n, Y after X in the list, so X=n implies Y>=n.
				x, okx := tb.Lookup(pairX)
				y, oky := tb.Lookup(pairY)
				if okx && (!oky || y < x) {
					bad.Store("torn list", fmt.Sprint(x, y, oky))
				}
				seen := map[int]bool{}
				prev, first := 0, true
				for k, v := range tb.All() {
					if seen[k] {
						bad.Store("dup key", k)
					}
					seen[k] = true
					if k >= 1000 && v != 2*k {
						bad.Store("wrong value", k)
					}
					if name == "ordered_set" && !first && k <= prev {
						bad.Store("out of order", k)
					}
					prev, first = k, false
				}
			})
			run(workers, func(g int) {
				for i := range iters {
					UpdateCounterDefault(tb, i%counterKeys, 1, 0)
					k := 1000 + g*iters + i // own keys: insert all, delete the odd ones
					tb.Insert(k, 2*k)
					if i%2 == 1 {
						tb.Delete(k)
					}
					if g == 0 {
						tb.InsertList([]Object[int, int]{{pairX, i}, {pairY, i}})
					}
				}
			})
			close(stop)
			readers.Wait()
			bad.Range(func(k, v any) bool { t.Errorf("%v: %v", k, v); return true })
			total := 0
			for k := range counterKeys {
				v, ok := tb.Lookup(k)
				if !ok {
					t.Fatalf("counter %d lost", k)
				}
				total += v
			}
			if total != workers*iters {
				t.Errorf("counter total %d, want %d", total, workers*iters)
			}
			for g := range workers {
				for i := range iters {
					k := 1000 + g*iters + i
					if _, ok := tb.Lookup(k); ok != (i%2 == 0) {
						t.Fatalf("key %d present=%v", k, ok)
					}
				}
			}
			if want := counterKeys + 2 + workers*iters/2; tb.Len() != want {
				t.Errorf("Len %d, want %d", tb.Len(), want)
			}
		})
	}
}

// TestStressBags hammers a Bag and a DuplicateBag on shared keys and checks
// that no object is lost or duplicated (and a bag never holds one twice).
func TestStressBags(t *testing.T) {
	for _, dup := range []bool{false, true} {
		name := map[bool]string{false: "bag", true: "duplicate_bag"}[dup]
		t.Run(name, func(t *testing.T) {
			c, err := newBagCore[int, int](dup, []Option{WithShards(3)})
			must(err)
			const keys = 64
			stop := make(chan struct{})
			var bad sync.Map
			readers := readersUntil(stop, 2, func() {
				for k := range keys {
					l := c.lookup(nil, k)
					if !dup {
						s := slices.Clone(l)
						slices.Sort(s)
						if len(slices.Compact(s)) != len(l) {
							bad.Store("bag holds an object twice", k)
						}
					}
				}
				for range c.all() {
				}
			})
			run(workers, func(g int) {
				for i := range iters {
					k := i % keys
					c.insert(k, 42) // the same object from every worker
					v := 1000 + g*iters + i
					c.insertList([]Object[int, int]{{k, v}, {(k + 1) % keys, v}})
					if i%3 == 0 {
						c.deleteObject((k+1)%keys, v)
					}
				}
			})
			close(stop)
			readers.Wait()
			bad.Range(func(k, v any) bool { t.Errorf("%v: %v", k, v); return true })
			want := map[int]int{} // object (key*1e6+value) -> copies
			for g := range workers {
				for i := range iters {
					k, v := i%keys, 1000+g*iters+i
					want[k*1e6+v]++
					if i%3 != 0 {
						want[((k+1)%keys)*1e6+v]++
					}
				}
			}
			forty2 := 0
			got := map[int]int{}
			for k, v := range c.all() {
				if v == 42 {
					forty2++
					continue
				}
				got[k*1e6+v]++
			}
			wantForty2 := keys
			if dup {
				wantForty2 = workers * iters
			}
			if forty2 != wantForty2 {
				t.Errorf("object {k, 42}: %d copies, want %d", forty2, wantForty2)
			}
			if len(got) != len(want) {
				t.Fatalf("%d distinct objects, want %d", len(got), len(want))
			}
			for o, n := range want {
				if got[o] != n {
					t.Fatalf("object %d: %d copies, want %d", o, got[o], n)
				}
			}
			if c.len() != len(want)+wantForty2 {
				t.Errorf("Len %d, want %d", c.len(), len(want)+wantForty2)
			}
		})
	}
}

// TestStressSortedBag inserts out of order from several writers, deletes and
// prunes while readers page: pages are always sorted and in bounds, and at
// the end each key holds exactly the values that should survive.
func TestStressSortedBag(t *testing.T) {
	b, err := NewSortedBag[int, int](WithShards(2))
	must(err)
	const keys = 4
	stop := make(chan struct{})
	var bad sync.Map
	readers := readersUntil(stop, 2, func() {
		var buf [64]int
		for k := range keys + 1 {
			for _, desc := range []bool{false, true} {
				lo, hi := 100, 5000
				p := b.Page(buf[:0], k, lo, hi, desc, 3, 20)
				if len(p) > 20 {
					bad.Store("over limit", len(p))
				}
				for i, v := range p {
					if v < lo || v > hi {
						bad.Store("out of bounds", v)
					}
					if i > 0 && (!desc && p[i-1] >= v || desc && p[i-1] <= v) {
						bad.Store("unsorted page", fmt.Sprint(p))
					}
				}
			}
		}
	})
	// Worker g inserts the values congruent to g mod workers, descending
	// (each one out of order for its key), plus value 7 on every key, then
	// deletes its multiples of 5. Key `keys` is emptied and refilled over and
	// over to race list removal against inserts.
	run(workers, func(g int) {
		for i := iters - 1; i >= 0; i-- {
			v := i*workers + g
			k := v % keys
			b.Insert(k, v)
			b.Insert(k, 7)
			if v%5 == 0 {
				if !b.DeleteObject(k, v) {
					bad.Store("delete missed", v)
				}
			}
			b.Insert(keys, v)
			b.DeleteObject(keys, v)
		}
	})
	close(stop)
	readers.Wait()
	bad.Range(func(k, v any) bool { t.Errorf("%v: %v", k, v); return true })
	for k := range keys {
		var want []int
		for v := range workers * iters {
			if v%keys == k && v%5 != 0 || v == 7 {
				want = append(want, v)
			}
		}
		if k != 7%keys {
			want = append(want, 7)
		}
		slices.Sort(want)
		want = slices.Compact(want)
		got := b.Page(nil, k, -1<<62, 1<<62, false, 0, 0)
		if !slices.Equal(got, want) {
			t.Fatalf("key %d: %d values, want %d", k, len(got), len(want))
		}
		if b.Count(k) != len(want) {
			t.Fatalf("key %d: Count %d, want %d", k, b.Count(k), len(want))
		}
	}
	if n := b.Count(keys); n != 0 {
		t.Errorf("churn key holds %d values", n)
	}
	if b.Keys() != keys {
		t.Errorf("Keys %d, want %d", b.Keys(), keys)
	}

}
