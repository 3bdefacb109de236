package shard

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestOrderedSetDefaultShards checks that an OrderedSet is one tree unless
// WithShards says otherwise.
func TestOrderedSetDefaultShards(t *testing.T) {
	o, err := NewOrderedSet[int, int]()
	must(err)
	if len(o.shards) != 1 {
		t.Fatalf("default shards %d, want 1", len(o.shards))
	}
	o, err = NewOrderedSet[int, int](WithShards(5))
	must(err)
	if len(o.shards) != 5 {
		t.Fatalf("shards %d, want 5", len(o.shards))
	}
}

// TestOrderedSetScans compares All, Backward, Range and Select of a single
// tree and of merged shards with a sorted slice, over scans long enough to
// refill chunks several times and bounds that cut chunks anywhere.
func TestOrderedSetScans(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, shards := range []int{1, 2, 7, 16} {
		o, err := NewOrderedSet[int, int](WithShards(shards))
		must(err)
		var keys []int
		for range 3000 {
			k := r.IntN(10000)
			if o.InsertNew(k, -k) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		collect := func(seq func(func(int, int) bool)) []int {
			var got []int
			for k, v := range seq {
				if v != -k {
					t.Fatalf("shards %d: key %d value %d", shards, k, v)
				}
				got = append(got, k)
			}
			return got
		}
		if got := collect(o.All()); !slices.Equal(got, keys) {
			t.Fatalf("shards %d: All differs (%d keys, want %d)", shards, len(got), len(keys))
		}
		rev := slices.Clone(keys)
		slices.Reverse(rev)
		if got := collect(o.Backward()); !slices.Equal(got, rev) {
			t.Fatalf("shards %d: Backward differs", shards)
		}
		for range 200 {
			lo, hi := r.IntN(10100)-50, r.IntN(10100)-50
			var want []int
			for _, k := range keys {
				if k >= lo && k <= hi {
					want = append(want, k)
				}
			}
			if got := collect(o.Range(lo, hi, false)); !slices.Equal(got, want) {
				t.Fatalf("shards %d: Range(%d, %d) = %d keys, want %d", shards, lo, hi, len(got), len(want))
			}
			slices.Reverse(want)
			if got := collect(o.Range(lo, hi, true)); !slices.Equal(got, want) {
				t.Fatalf("shards %d: Range(%d, %d, desc) = %d keys, want %d", shards, lo, hi, len(got), len(want))
			}
			// Stopping early yields a prefix.
			n := r.IntN(300)
			var got []int
			for k := range o.Range(lo, hi, true) {
				if len(got) == n {
					break
				}
				got = append(got, k)
			}
			if !slices.Equal(got, want[:min(n, len(want))]) {
				t.Fatalf("shards %d: early stop after %d differs", shards, n)
			}
		}
		var sel []int
		var c *Continuation[int, int]
		for {
			objs, next, err := o.Select(func(k, _ int) bool { return k%3 == 0 }, 97, c)
			must(err)
			for _, ob := range objs {
				sel = append(sel, ob.Key)
			}
			if next == nil {
				break
			}
			c = next
		}
		var want []int
		for _, k := range keys {
			if k%3 == 0 {
				want = append(want, k)
			}
		}
		if !slices.Equal(sel, want) {
			t.Fatalf("shards %d: Select differs", shards)
		}
	}
}

func TestOrderedSetScanAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under -race")
	}
	o, _ := NewOrderedSet[string, int]()
	for i, k := range benchKeyStrs[:1000] {
		o.Insert(k, i)
	}
	a := testing.AllocsPerRun(100, func() {
		n := 0
		for range o.Range(benchKeyStrs[10], "\xff", false) {
			if n++; n == 100 {
				break
			}
		}
	})
	if a != 0 {
		t.Errorf("range of 100 keys: %v allocs, want 0", a)
	}
}
