package eventstore

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/elixirscope-go/foundation/shard"
)

// TestIndexSkipMatchesModel checks the offset skip of a striped index
// against a sorted slice: after skipping n IDs in query order, the narrowed
// range holds exactly the rest, starting at the (n+1)-th.
func TestIndexSkipMatchesModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for round := 0; round < 200; round++ {
		stripes := 1 << rng.IntN(3)
		x := &index{stripes: make([]*shard.SortedBag[string, uint64], stripes), mask: stripes - 1}
		for i := range x.stripes {
			x.stripes[i], _ = shard.NewSortedBag[string, uint64]()
		}
		var all []uint64
		for id := uint64(1); id < 400; id++ {
			if rng.IntN(3) == 0 {
				x.insertTrim(uint8(rng.IntN(stripes)), "k", id, 0)
				all = append(all, id)
			}
		}
		a, b := uint64(rng.IntN(420)), uint64(rng.IntN(420))
		desc := rng.IntN(2) == 0
		var in []uint64
		for _, id := range all {
			if id >= a && id <= b {
				in = append(in, id)
			}
		}
		if desc {
			slices.Reverse(in)
		}
		n := 1 + rng.IntN(len(in)+2)
		na, nb := x.skip("k", a, b, desc, n)
		var rest []uint64
		if na <= nb {
			for _, id := range all {
				if id >= na && id <= nb {
					rest = append(rest, id)
				}
			}
		}
		if desc {
			slices.Reverse(rest)
		}
		var want []uint64
		if n < len(in) {
			want = in[n:]
		}
		if !slices.Equal(rest, want) {
			t.Fatalf("round %d: stripes %d, [%d,%d] desc=%v skip %d: got %v, want %v", round, stripes, a, b, desc, n, rest, want)
		}
	}
}

func TestIndexAllMerges(t *testing.T) {
	x := &index{stripes: make([]*shard.SortedBag[string, uint64], 4), mask: 3}
	for i := range x.stripes {
		x.stripes[i], _ = shard.NewSortedBag[string, uint64]()
	}
	for id := uint64(1); id <= 100; id++ {
		x.insertTrim(uint8(id*7%4), "k", id, 0)
	}
	ids := x.all("k", 0)
	if len(ids) != 100 || !slices.IsSorted(ids) {
		t.Fatalf("all: %v", ids)
	}
	if x.count("k") != 100 || x.countRange("k", 10, 19) != 10 {
		t.Fatal("counts")
	}
}
