package shard

import (
	"errors"
	"math"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestShardLayout(t *testing.T) {
	require.EqualValues(t, 64, unsafe.Sizeof(stripe{}), "a Set's writer stripes one line each")
	require.EqualValues(t, 128, unsafe.Sizeof(orderedShard[string, int]{}))
	require.EqualValues(t, 128, unsafe.Sizeof(bagShard[string, int]{}))
}

func TestBadInput(t *testing.T) {
	for _, n := range []int{0, -1, maxShards + 1} {
		_, err := NewSet[int, int](WithShards(n))
		require.ErrorIs(t, err, ErrOption)
		_, err = NewOrderedSet[int, int](WithShards(n))
		require.ErrorIs(t, err, ErrOption)
		_, err = NewBag[int, int](WithShards(n))
		require.ErrorIs(t, err, ErrOption)
		_, err = NewDuplicateBag[int, int](WithShards(n))
		require.ErrorIs(t, err, ErrOption)
	}
	_, err := NewSet[int, int](WithSizeHint(-1))
	require.ErrorIs(t, err, ErrOption)
	_, err = NewSet[int, int](nil)
	require.ErrorIs(t, err, ErrOption)
	_, err = NewOrderedSetFunc[int, int](nil)
	require.ErrorIs(t, err, ErrNilFunc)

	for _, kind := range kinds {
		a, b := newTUT(kind), newTUT(kind)
		a.insert("k", 1)
		b.insert("k", 1)
		sel := func(tb tut, pred func(string, int) bool, limit int, c *Continuation[string, int]) (*Continuation[string, int], error) {
			var err error
			var next *Continuation[string, int]
			switch x := tb.(type) {
			case setT:
				_, next, err = x.t.Select(pred, limit, c)
			case osetT:
				_, next, err = x.t.Select(pred, limit, c)
			case bagT:
				_, next, err = x.t.Select(pred, limit, c)
			case dbagT:
				_, next, err = x.t.Select(pred, limit, c)
			}
			return next, err
		}
		_, err := sel(a, nil, 1, nil)
		require.ErrorIs(t, err, ErrNilFunc, kind)
		_, err = sel(a, yes, -1, nil)
		require.ErrorIs(t, err, ErrLimit, kind)
		a.insert("k2", 2)
		c, err := sel(a, yes, 1, nil)
		require.NoError(t, err)
		require.NotNil(t, c, kind)
		_, err = sel(b, yes, 1, c)
		require.True(t, errors.Is(err, ErrContinuation), kind)
		require.Equal(t, 2, a.len())
	}

	s, _ := NewSet[string, int]()
	_, err = UpdateCounter(s, "absent", 1)
	require.ErrorIs(t, err, ErrAbsent)
	require.Zero(t, s.Len())
	_, ok := s.Update("absent", nil)
	require.False(t, ok)
	require.False(t, s.DeleteObjectFunc("absent", nil))
	require.Zero(t, s.SelectCount(nil))
	require.Zero(t, s.SelectDelete(nil))

	// A panicking update function leaves the shard unlocked.
	s.Insert("p", 1)
	require.Panics(t, func() { s.Update("p", func(int) int { panic("boom") }) })
	s.Insert("p", 2)
	v, _ := s.Lookup("p")
	require.Equal(t, 2, v)

	o, _ := NewOrderedSet[float64, int]()
	o.Insert(math.NaN(), 1)
	o.Insert(math.NaN(), 2)
	o.Insert(1, 1)
	require.Equal(t, 2, o.Len(), "NaN is one key")
	k, _ := o.First()
	require.True(t, math.IsNaN(k))
}

func TestSetLookupAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not measured under -race")
	}
	s, _ := NewSet[string, int]()
	s.Insert("key", 1)
	require.Zero(t, testing.AllocsPerRun(100, func() { s.Lookup("key"); s.Lookup("nope"); s.Member("key") }))
	o, _ := NewOrderedSet[string, int]()
	o.Insert("key", 1)
	require.Zero(t, testing.AllocsPerRun(100, func() { o.Lookup("key"); o.Lookup("nope") }))
}

func TestOrderedRangeAndSelect(t *testing.T) {
	o, _ := NewOrderedSet[int, int](WithShards(4))
	for i := range 500 {
		o.Insert(i*2, i)
	}
	var got []int
	for k := range o.Range(101, 121, false) {
		got = append(got, k)
	}
	require.Equal(t, []int{102, 104, 106, 108, 110, 112, 114, 116, 118, 120}, got)
	got = got[:0]
	for k := range o.Range(100, 110, true) {
		got = append(got, k)
	}
	require.Equal(t, []int{110, 108, 106, 104, 102, 100}, got)
	prev := 1 << 30
	n := 0
	for k := range o.Backward() {
		require.Less(t, k, prev)
		prev = k
		n++
	}
	require.Equal(t, 500, n)
	all, c, err := o.Select(func(k, _ int) bool { return k%3 == 0 }, 7, nil)
	require.NoError(t, err)
	for c != nil {
		var page []Object[int, int]
		page, c, err = o.Select(func(k, _ int) bool { return k%3 == 0 }, 7, c)
		require.NoError(t, err)
		all = append(all, page...)
	}
	require.Len(t, all, 167)
	for i := 1; i < len(all); i++ {
		require.Less(t, all[i-1].Key, all[i].Key)
	}
	require.Equal(t, 167, o.SelectDelete(func(k, _ int) bool { return k%3 == 0 }))
	require.Equal(t, 333, o.Len())
	require.Positive(t, o.Memory())
	o.DeleteAllObjects()
	require.Zero(t, o.Len())
}
