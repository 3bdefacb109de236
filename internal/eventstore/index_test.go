package eventstore

import (
	"slices"
	"testing"

	"github.com/elixirscope-go/foundation/shard"
)

// TestIndexAllMerges: all returns the IDs of every stripe, ascending.
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
	if x.count("k") != 100 {
		t.Fatal("counts")
	}
}
