package shard

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// sortedModel is the reference for SortedBag: a sorted, deduplicated slice a key.
type sortedModel map[int][]int

func (m sortedModel) insert(k, v int) {
	l := m[k]
	if i, ok := slices.BinarySearch(l, v); !ok {
		m[k] = slices.Insert(l, i, v)
	}
}

func (m sortedModel) del(k, v int) bool {
	l := m[k]
	i, ok := slices.BinarySearch(l, v)
	if ok {
		l = slices.Delete(l, i, i+1)
		m.set(k, l)
	}
	return ok
}

func (m sortedModel) set(k int, l []int) {
	if len(l) == 0 {
		delete(m, k)
	} else {
		m[k] = l
	}
}

func (m sortedModel) page(k, lo, hi int, desc bool, off, lim int) []int {
	var in []int
	for _, v := range m[k] {
		if v >= lo && v <= hi {
			in = append(in, v)
		}
	}
	if desc {
		slices.Reverse(in)
	}
	off = max(off, 0)
	if off >= len(in) {
		return nil
	}
	in = in[off:]
	if lim > 0 && len(in) > lim {
		in = in[:lim]
	}
	return in
}

// sortedOps applies the op stream in data to a SortedBag and the model and
// fails on the first difference. Shared by the property test and the fuzzer.
func sortedOps(t *testing.T, b *SortedBag[int, int], data []byte) {
	m := sortedModel{}
	for len(data) >= 4 {
		op, k, v, w := data[0]%8, int(data[1]%4), int(data[2]%64), int(data[3]%64)
		data = data[4:]
		switch op {
		case 0, 1:
			b.Insert(k, v)
			m.insert(k, v)
		case 2:
			if g, w := b.DeleteObject(k, v), m.del(k, v); g != w {
				t.Fatalf("DeleteObject(%d, %d) = %v, model %v", k, v, g, w)
			}
		case 3:
			i, _ := slices.BinarySearch(m[k], v)
			want := i
			m.set(k, slices.Clone(m[k][i:]))
			if got := b.DeleteBelow(k, v); got != want {
				t.Fatalf("DeleteBelow(%d, %d) = %d, model %d", k, v, got, want)
			}
		case 6: // InsertTrim: trims below w, then inserts v (which may be below w)
			i, _ := slices.BinarySearch(m[k], w)
			m.set(k, slices.Clone(m[k][i:]))
			m.insert(k, v)
			if got := b.InsertTrim(k, v, w); got != i {
				t.Fatalf("InsertTrim(%d, %d, %d) = %d, model %d", k, v, w, got, i)
			}
		case 7: // TrimAll below v
			want := 0
			for kk := range m {
				i, _ := slices.BinarySearch(m[kk], v)
				want += i
				m.set(kk, slices.Clone(m[kk][i:]))
			}
			if got := b.TrimAll(v); got != want {
				t.Fatalf("TrimAll(%d) = %d, model %d", v, got, want)
			}
		case 4, 5:
			desc := op == 5
			off, lim := w%7-1, w/7%6-1
			got := b.Page(nil, k, v, v+w, desc, off, lim)
			if want := m.page(k, v, v+w, desc, off, lim); !slices.Equal(got, want) {
				t.Fatalf("Page(%d, [%d,%d], desc=%v, off=%d, lim=%d) = %v, model %v (all %v)", k, v, v+w, desc, off, lim, got, want, m[k])
			}
		}
		for k := range 4 {
			if b.Count(k) != len(m[k]) {
				t.Fatalf("Count(%d) = %d, model %d", k, b.Count(k), len(m[k]))
			}
		}
		if b.Keys() != len(m) {
			t.Fatalf("Keys = %d, model %d", b.Keys(), len(m))
		}
	}
	for k, l := range m {
		require.Equal(t, l, b.Page(nil, k, math.MinInt, math.MaxInt, false, 0, 0))
	}
}

func TestSortedBagModel(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 2))
	for range 50 {
		data := make([]byte, 4*400)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		b, err := NewSortedBag[int, int](WithShards(1 + r.IntN(3)))
		require.NoError(t, err)
		sortedOps(t, b, data)
	}
}

func FuzzSortedBag(f *testing.F) {
	f.Add([]byte{0, 1, 5, 0, 0, 1, 3, 0, 4, 1, 0, 63, 2, 1, 3, 0})
	f.Add([]byte{0, 0, 9, 0, 0, 0, 8, 0, 0, 0, 7, 0, 3, 0, 8, 0, 5, 0, 0, 63})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := NewSortedBag[int, int](WithShards(2))
		if err != nil {
			t.Fatal(err)
		}
		sortedOps(t, b, data)
	})
}

// TestSortedBagRing pushes one key through growth, wrap-around and shrink.
func TestSortedBagRing(t *testing.T) {
	b, _ := NewSortedBag[string, int64]()
	for i := range int64(1000) {
		b.Insert("k", i)
		if i%3 == 0 {
			b.DeleteBelow("k", i-50)
		}
	}
	// The last prune (i = 999) kept 949..999.
	var want []int64
	for v := int64(949); v < 1000; v++ {
		want = append(want, v)
	}
	require.Equal(t, want, b.Page(nil, "k", 0, 2000, false, 0, 0))
	m, hk := b.locate("k")
	l, _ := m.Load(hk)
	require.LessOrEqual(t, len(l.buf), 256, "ring shrinks after pruning")
	// Out-of-order inserts into a wrapped ring, then removals from both ends.
	for _, v := range []int64{960, 2, 5000, 955} {
		b.Insert("k", v)
	}
	require.True(t, b.DeleteObject("k", 2))
	require.True(t, b.DeleteObject("k", 5000))
	require.Equal(t, want, b.Page(nil, "k", 0, 2000, false, 0, 0))
	require.Equal(t, 51, b.DeleteBelow("k", 5000))
	require.Zero(t, b.Keys())
}

func TestSortedBagPageAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not measured under -race")
	}
	b, _ := NewSortedBag[string, uint64]()
	for i := range uint64(10000) {
		b.Insert("type:a", i)
	}
	dst := make([]uint64, 0, 100)
	n := testing.AllocsPerRun(100, func() {
		dst = b.Page(dst[:0], "type:a", 500, 9000, true, 10, 100)
	})
	require.Zero(t, n)
	require.Len(t, dst, 100)
	require.Equal(t, uint64(8990), dst[0])
	n = testing.AllocsPerRun(100, func() { b.Insert("type:a", 20000); b.DeleteObject("type:a", 20000) })
	require.Zero(t, n)
}

func TestSortedBagBadInput(t *testing.T) {
	_, err := NewSortedBag[int, int](WithShards(0))
	require.True(t, errors.Is(err, ErrOption))
	b, _ := NewSortedBag[int, float64]()
	b.Insert(1, math.NaN())
	b.Insert(1, math.NaN())
	b.Insert(1, 2)
	require.Equal(t, 2, b.Count(1)) // NaN is one value, below all others
	require.Equal(t, []float64{2}, b.Page(nil, 1, 0, 10, false, -5, 0))
	require.Empty(t, b.Page(nil, 1, 10, 0, false, 0, 0))
	require.Empty(t, b.Page(nil, 2, 0, 10, false, 0, 0))
	require.False(t, b.DeleteObject(2, 1))
	require.Zero(t, b.DeleteBelow(2, 1))
}

func TestSortedBagInsertTrim(t *testing.T) {
	b, err := NewSortedBag[string, uint64]()
	if err != nil {
		t.Fatal(err)
	}
	for v := uint64(1); v <= 10; v++ {
		b.Insert("a", v)
	}
	b.Insert("b", 3)
	if n := b.InsertTrim("a", 11, 6); n != 5 {
		t.Fatalf("InsertTrim removed %d, want 5", n)
	}
	if got := b.Page(nil, "a", 0, 100, false, 0, 0); len(got) != 6 || got[0] != 6 || got[5] != 11 {
		t.Fatalf("after InsertTrim: %v", got)
	}
	// v below bound is kept: the caller decides what it inserts.
	b.InsertTrim("c", 1, 5)
	if b.Count("c") != 1 {
		t.Fatal("InsertTrim dropped the inserted value")
	}
	if n := b.TrimAll(8); n != 2+1+1 {
		t.Fatalf("TrimAll removed %d, want 4", n)
	}
	if b.Count("b") != 0 || b.Count("c") != 0 || b.Keys() != 1 {
		t.Fatalf("emptied keys must go: keys=%d", b.Keys())
	}
	if got := b.Page(nil, "a", 0, 100, false, 0, 0); len(got) != 4 || got[0] != 8 {
		t.Fatalf("after TrimAll: %v", got)
	}
	// A key emptied by TrimAll takes inserts again.
	b.InsertTrim("b", 20, 8)
	if b.Count("b") != 1 {
		t.Fatal("insert after TrimAll lost")
	}
}

func TestSortedBagCountRange(t *testing.T) {
	b, _ := NewSortedBag[string, uint64]()
	for v := uint64(10); v <= 100; v += 10 {
		b.Insert("k", v)
	}
	for _, c := range []struct {
		lo, hi uint64
		want   int
	}{{0, 1000, 10}, {10, 10, 1}, {11, 19, 0}, {15, 55, 4}, {100, 200, 1}, {50, 40, 0}} {
		if got := b.CountRange("k", c.lo, c.hi); got != c.want {
			t.Errorf("CountRange(%d, %d) = %d, want %d", c.lo, c.hi, got, c.want)
		}
	}
	if b.CountRange("none", 0, 100) != 0 {
		t.Error("absent key")
	}
}

func TestSortedListFrontBoundMatchesLowerBound(t *testing.T) {
	for n := 0; n <= 70; n++ {
		l := new(sortedList[int])
		for i := 0; i < n; i++ {
			l.insert(2 * i)
		}
		w := l.wview()
		for v := -1; v <= 2*n+1; v++ {
			if got, want := w.frontBound(v), w.lowerBound(v); got != want {
				t.Fatalf("n=%d v=%d: frontBound %d, lowerBound %d", n, v, got, want)
			}
		}
	}
}

// A new string key is stored as a copy (as ETS copies terms): the table does
// not keep the caller's backing memory, which may change or be large.
func TestSortedBagCopiesNewStringKeys(t *testing.T) {
	b, err := NewSortedBag[string, uint64]()
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("key-1")
	k := unsafe.String(&buf[0], len(buf)) // a string over memory the caller reuses
	b.Insert(k, 1)
	b.InsertTrim(k, 2, 0)
	copy(buf, "XXXXX") // the caller reuses its buffer
	if got := b.Count("key-1"); got != 2 {
		t.Fatalf("Count(key-1) = %d after the caller's buffer changed, want 2", got)
	}
	if got := b.Count("XXXXX"); got != 0 {
		t.Fatalf("Count(XXXXX) = %d, want 0", got)
	}
}

// TestSortedBagPageWraps pages a list whose values wrap around the end of
// its ring buffer, in both orders, with offsets and limits that start and
// stop on either side of the wrap.
func TestSortedBagPageWraps(t *testing.T) {
	b, err := NewSortedBag[string, int]()
	require.NoError(t, err)
	for v := 1; v <= 8; v++ {
		b.Insert("k", v)
	}
	require.Equal(t, 5, b.DeleteBelow("k", 6)) // 6 7 8 at the end of the ring
	for v := 9; v <= 12; v++ {
		b.Insert("k", v) // 9..12 at its start
	}
	all := []int{6, 7, 8, 9, 10, 11, 12}
	for off := 0; off <= len(all); off++ {
		for lim := 0; lim <= len(all); lim++ {
			want := all[off:]
			if lim > 0 && lim < len(want) {
				want = want[:lim]
			}
			if len(want) == 0 {
				want = nil
			}
			require.Equal(t, want, b.Page(nil, "k", 0, 100, false, off, lim), "asc off %d lim %d", off, lim)
			rev := slices.Clone(all)
			slices.Reverse(rev)
			want = rev[off:]
			if lim > 0 && lim < len(want) {
				want = want[:lim]
			}
			if len(want) == 0 {
				want = nil
			}
			got := b.Page(nil, "k", 0, 100, true, off, lim)
			require.Equal(t, want, got, "desc off %d lim %d", off, lim)
		}
	}
	require.Equal(t, []int{11, 10, 9, 8, 7}, b.Page(nil, "k", 7, 11, true, 0, 0))
	require.Equal(t, []int{7, 8, 9, 10, 11}, b.Page(nil, "k", 7, 11, false, 0, 0))
}

// TestSortedBagEmptyingDoesNotShrink: a trim that empties a long key
// (DeleteBelow, TrimAll) does not copy it into a smaller ring first: the
// list is removed right after.
func TestSortedBagEmptyingDoesNotShrink(t *testing.T) {
	b, err := NewSortedBag[string, uint64]()
	require.NoError(t, err)
	const n = 1000 // a ring of 1024 values: 8 KiB
	for _, empty := range []func() int{
		func() int { return b.DeleteBelow("k", n) },
		func() int { return b.TrimAll(n) },
	} {
		for v := range uint64(n) {
			b.Insert("k", v)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got := empty()
		runtime.ReadMemStats(&after)
		require.Equal(t, n, got)
		require.Zero(t, b.Keys())
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1024), "bytes allocated to empty the key")
	}
}
