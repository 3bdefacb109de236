package shard

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/elixirscope-go/foundation/internal/atomicx"
	"github.com/stretchr/testify/require"
)

// soak is SHARD_SOAK (default 1): a multiplier of the rounds of the
// lock-free tests below, for longer runs outside CI (SHARD_SOAK=50).
func soak() int {
	if n, err := strconv.Atoi(os.Getenv("SHARD_SOAK")); err == nil && n > 0 {
		return n
	}
	return 1
}

func TestTagMatches(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		var meta uint64
		for i := range slotsPerBucket {
			if r.IntN(3) > 0 {
				meta |= (0x80 | uint64(r.IntN(4))) << (8 * i) // few tags: many matches
			}
		}
		tag := 0x80 | uint64(r.IntN(4))
		m := matches(meta, tag)
		for i := range 8 {
			hit := m>>(8*i+7)&1 == 1
			want := i < slotsPerBucket && meta>>(8*i)&0xff == tag
			if want && !hit {
				t.Fatalf("meta %#x tag %#x: slot %d missed", meta, tag, i)
			}
			if hit && i >= slotsPerBucket {
				t.Fatalf("meta %#x tag %#x: byte %d beyond the slots", meta, tag, i)
			}
		}
	}
}

// TestSetGrowAndShrinkKeys fills one shard far past its first table, with
// deletes in between, and checks every key, Len and the overflow chains.
func TestSetGrowAndDelete(t *testing.T) {
	s, err := NewSet[int, string](WithShards(1))
	require.NoError(t, err)
	const n = 20_000
	for i := range n {
		s.Insert(i, fmt.Sprint(i))
		if i%3 == 0 {
			s.Delete(i)
		}
	}
	for i := range n {
		v, ok := s.Lookup(i)
		require.Equal(t, i%3 != 0, ok, i)
		if ok {
			require.Equal(t, fmt.Sprint(i), v)
		}
	}
	require.Equal(t, n-(n+2)/3, s.Len())
	tab := s.tab.Load()
	require.LessOrEqual(t, uint64(s.Len()), uint64(len(tab.buckets))*growLoad)
	require.Less(t, tab.overflow(), len(tab.buckets)/4, "overflow chains stay short")
	seen := 0
	for k, v := range s.All() {
		require.Equal(t, fmt.Sprint(k), v)
		seen++
	}
	require.Equal(t, s.Len(), seen)
	// Freed slots are reused: deleting and reinserting does not grow the table.
	for i := range n {
		s.Delete(i)
	}
	for i := range n {
		s.Insert(i, "x")
	}
	require.Equal(t, len(tab.buckets)*2, len(s.tab.Load().buckets), "one doubling for the third of keys that came back")
	s.DeleteAllObjects()
	require.Equal(t, 0, s.Len())
	require.Equal(t, minBuckets, len(s.tab.Load().buckets))
}

func TestSetOverwriteAllocs(t *testing.T) {
	if !atomicx.InPlace {
		t.Skip("values are rewritten in place only on amd64 without -race")
	}
	s, err := NewSet[string, [4]uint64]()
	require.NoError(t, err)
	s.Insert("k", [4]uint64{})
	n := uint64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		n++
		s.Insert("k", [4]uint64{n, n, n, n})
	})
	require.Zero(t, allocs)
	_, err = UpdateCounter(mustSet(t), "c", 1)
	require.ErrorIs(t, err, ErrAbsent)
}

func mustSet(t *testing.T) *Set[string, int] {
	s, err := NewSet[string, int]()
	require.NoError(t, err)
	return s
}

// TestSetNoTornValues checks the in-place overwrite: writers store values
// whose four words are equal while readers (Lookup and All) check that
// they never see a mix, and that keys never deleted are always found while
// other keys make the tables grow and shrink back. It means most without
// -race (the race build publishes copies instead).
func TestSetNoTornValues(t *testing.T) {
	s, err := NewSet[int, [4]uint64](WithShards(2))
	require.NoError(t, err)
	const stable = 64
	for k := range stable {
		s.Insert(k, [4]uint64{})
	}
	var bad atomic.Value
	var stop atomic.Bool
	var wg sync.WaitGroup
	rounds := 20_000 * soak()
	if raceEnabled {
		rounds = 2_000
	}
	check := func(k int, v [4]uint64) {
		if v[0] != v[1] || v[1] != v[2] || v[2] != v[3] {
			bad.Store(fmt.Sprintf("key %d: torn %v", k, v))
		}
	}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				if r == 0 || i%64 != 0 {
					k := i % stable
					v, ok := s.Lookup(k)
					if !ok {
						bad.Store(fmt.Sprintf("stable key %d not found", k))
					}
					check(k, v)
					continue
				}
				n := 0
				for k, v := range s.All() {
					check(k, v)
					if k < stable {
						n++
					}
				}
				if n != stable {
					bad.Store(fmt.Sprintf("All saw %d stable keys", n))
				}
			}
		}()
	}
	var writers sync.WaitGroup
	for w := range 2 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := range rounds {
				x := uint64(i)
				s.Insert(i%stable, [4]uint64{x, x, x, x})
				k := stable + w*rounds + i // own key: makes the tables grow
				s.Insert(k, [4]uint64{x, x, x, x})
				if i%2 == 1 {
					s.Delete(k - 1)
					s.Delete(k)
				}
				if i%1000 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	writers.Wait()
	stop.Store(true)
	wg.Wait()
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	require.Equal(t, stable, s.Len())
}

// TestSetStaleTableSeesRemoval: a reader or a lock-free writer that still
// holds the table of before a growth finds a removed object dead, not
// present, and the lock-free overwrite refuses it.
func TestSetStaleTableSeesRemoval(t *testing.T) {
	s, err := NewSet[int, int](WithShards(1))
	require.NoError(t, err)
	s.Insert(-1, 7)
	h := s.hash(-1)
	old := s.tab.Load()
	for i := 0; s.tab.Load() == old; i++ {
		s.Insert(i, i)
	}
	e := old.find(h, -1)
	require.NotNil(t, e, "the old table still holds the entry")
	v, ok := s.value(e)
	require.True(t, ok)
	require.Equal(t, 7, v)
	s.Delete(-1)
	_, ok = s.Lookup(-1)
	require.False(t, ok)
	if atomicx.InPlace {
		require.True(t, e.dead())
		_, ok = s.value(e)
		require.False(t, ok, "a removed entry reads as gone")
		require.False(t, e.tryOverwrite(8), "a removed entry takes no write")
	}
}

// TestSetTakeVersusOverwrite races lock-free overwrites of one key with
// Take and a put-back by InsertNew. A write that returned must not be lost:
// right after its Insert(k, i), the writer reads k and must find a value
// >= i. (A value taken before the write and put back afterwards cannot
// come back: InsertNew finds the key present again.) A write that landed in
// the entry Take had just removed would be lost, and the put-back of the
// older value would show it.
func TestSetTakeVersusOverwrite(t *testing.T) {
	s, err := NewSet[int, int](WithShards(1))
	require.NoError(t, err)
	const k = 1
	s.Insert(k, 0)
	rounds := 200_000 * soak()
	if raceEnabled {
		rounds = 20_000
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			if v, ok := s.Take(k); ok {
				s.InsertNew(k, v)
			}
		}
	}()
	for i := 1; i <= rounds; i++ {
		s.Insert(k, i)
		if v, ok := s.Lookup(k); ok && v < i {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("write %d lost: read %d after it", i, v)
		}
	}
	stop.Store(true)
	wg.Wait()
}
