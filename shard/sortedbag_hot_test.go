package shard

import (
	"fmt"
	"slices"
	"testing"
)

// TestSortedBagHotListDies: a key whose list was emptied (removed from the
// map, dead) while the cache of hot lists still holds it gets a new list on
// its next insert, which the readers see.
func TestSortedBagHotListDies(t *testing.T) {
	b, err := NewSortedBag[string, uint64]()
	must(err)
	for round := range uint64(100) {
		b.InsertTrim("k", round*10+1, 0) // remembered in the cache
		b.Insert("k", round*10+2)
		if !b.DeleteObject("k", round*10+1) || !b.DeleteObject("k", round*10+2) {
			t.Fatalf("round %d: delete missed", round)
		}
		if b.Keys() != 0 {
			t.Fatalf("round %d: %d keys after emptying the only one", round, b.Keys())
		}
		b.InsertTrim("k", round*10+3, 0) // the cached list is dead
		if got := b.Page(nil, "k", 0, 1<<62, false, 0, 0); !slices.Equal(got, []uint64{round*10 + 3}) {
			t.Fatalf("round %d: Page = %v, want [%d]", round, got, round*10+3)
		}
		if !b.DeleteObject("k", round*10+3) {
			t.Fatalf("round %d: delete of the value inserted after the death missed", round)
		}
	}
}

// TestSortedBagHotSlotsShared: far more keys than cache slots, so that
// keys share slots and evict each other; every value lands under its own
// key.
func TestSortedBagHotSlotsShared(t *testing.T) {
	b, err := NewSortedBag[string, uint64]()
	must(err)
	const keys = 8 * hotSlots
	name := func(k int) string { return fmt.Sprint("key-", k) }
	for v := range uint64(20 * keys) {
		k := int(v*7919) % keys // keys interleaved
		if v%3 == 0 {
			b.InsertTrim(name(k), v, 0)
		} else {
			b.Insert(name(k), v)
		}
	}
	for k := range keys {
		var want []uint64
		for v := range uint64(20 * keys) {
			if int(v*7919)%keys == k {
				want = append(want, v)
			}
		}
		if got := b.Page(nil, name(k), 0, 1<<62, false, 0, 0); !slices.Equal(got, want) {
			t.Fatalf("key %d: %d values, want %d", k, len(got), len(want))
		}
	}
	if b.Keys() != keys {
		t.Fatalf("Keys %d, want %d", b.Keys(), keys)
	}
}

// TestSortedBagInsertAllocs: an insert under a key that has a list
// allocates nothing, whether its list is in the cache or not (a key that
// misses evicts another from its slot without allocating).
func TestSortedBagInsertAllocs(t *testing.T) {
	b, err := NewSortedBag[string, uint64]()
	must(err)
	keys := make([]string, 4*hotSlots)
	for i := range keys {
		keys[i] = fmt.Sprint("key-", i)
		b.Insert(keys[i], 0)
		for range 64 { // room in the ring: no growth below
			b.Insert(keys[i], 1)
		}
	}
	i, v := 0, uint64(2)
	allocs := testing.AllocsPerRun(1000, func() {
		b.InsertTrim(keys[i%len(keys)], v, 0)
		b.DeleteObject(keys[i%len(keys)], v)
		i, v = i+1, v+1
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per insert", allocs)
	}
}
