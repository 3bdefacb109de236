package ring

import (
	"testing"
	"unsafe"

	"github.com/elixirscope-go/foundation/internal/pad"
)

// TestLayout pins the memory layout the hot paths rely on: 16-byte slots
// (four per cache line) and head and rtail each alone on their pair of lines.
func TestLayout(t *testing.T) {
	if got := unsafe.Sizeof(slot[int]{}); got != 16 {
		t.Fatalf("slot size = %d, want 16", got)
	}
	var b Buffer[int]
	head, rtail, removed := unsafe.Offsetof(b.head), unsafe.Offsetof(b.rtail), unsafe.Offsetof(b.removed)
	closed := unsafe.Offsetof(b.closed)
	if head-closed < pad.FalseSharingRange {
		t.Errorf("head at %d only %d bytes after the read-mostly fields", head, head-closed)
	}
	if rtail-head < pad.FalseSharingRange {
		t.Errorf("rtail at %d only %d bytes after head", rtail, rtail-head)
	}
	if removed-rtail < pad.FalseSharingRange {
		t.Errorf("slow-path counters at %d only %d bytes after rtail", removed, removed-rtail)
	}
}

// TestSlotMapping checks that seq -> slot is a bijection on every window of
// capacity consecutive seqs, and that s and s+capacity share a slot.
func TestSlotMapping(t *testing.T) {
	for _, c := range []struct{ capacity, shards int }{
		{1, 1}, {8, 1}, {8, 2}, {8, 8}, {5, 2}, {7, 3}, {10, 4}, {64, 3}, {100, 7}, {96, 6},
	} {
		b, err := New[int](c.capacity, Config[int]{Shards: c.shards})
		if err != nil {
			t.Fatal(err)
		}
		seen := make(map[*slot[int]]uint64)
		for s := uint64(1); s <= uint64(c.capacity); s++ {
			sl := b.slot(s)
			if prev, dup := seen[sl]; dup {
				t.Fatalf("cap %d shards %d: seqs %d and %d share a slot", c.capacity, c.shards, prev, s)
			}
			seen[sl] = s
			if b.slot(s+uint64(c.capacity)) != sl || b.slot(s+7*uint64(c.capacity)) != sl {
				t.Fatalf("cap %d shards %d: seq %d and %d+k*cap differ", c.capacity, c.shards, s, s)
			}
			if c.capacity%c.shards == 0 {
				per := uint64(c.capacity / c.shards)
				want := &b.slots[(s%uint64(c.shards))*per+(s/uint64(c.shards))%per]
				if sl != want {
					t.Fatalf("cap %d shards %d: seq %d not at shard s%%N, index (s/N)%%shardCap", c.capacity, c.shards, s)
				}
			}
		}
	}
}
