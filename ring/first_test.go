package ring_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation/ring"
)

// TestFirst: a ring that starts at seq 1000 behaves as one that starts at
// 1, shifted: Get, Ascend, Descend, overwrite and removal, Stats, and the
// room check of DropNewest.
func TestFirst(t *testing.T) {
	_, err := ring.New[int](8, ring.Config[int]{First: 1 << 62})
	require.ErrorIs(t, err, ring.ErrInvalid)
	for _, policy := range []ring.Policy{ring.DropOldest, ring.DropNewest, ring.Block} {
		var discarded []uint64
		var mu sync.Mutex
		b, err := ring.New[int](8, ring.Config[int]{Shards: 2, Policy: policy, First: 1000,
			OnDiscard: func(seq uint64, _ *int, _ ring.Reason) { mu.Lock(); discarded = append(discarded, seq); mu.Unlock() }})
		require.NoError(t, err)
		require.Equal(t, uint64(1000), b.Next())
		require.Equal(t, uint64(1000), b.First())
		require.Equal(t, 0, b.Len())
		for i := 0; i < 8; i++ {
			v := i
			seq, err := b.Push(&v)
			require.NoError(t, err)
			require.Equal(t, uint64(1000+i), seq)
		}
		v, ok := b.Get(1003)
		require.True(t, ok)
		require.Equal(t, 3, *v)
		_, ok = b.Get(999)
		require.False(t, ok)
		var asc, desc []uint64
		for s := range b.Ascend(0) {
			asc = append(asc, s)
		}
		for s := range b.Descend(^uint64(0)) {
			desc = append(desc, s)
		}
		require.Equal(t, []uint64{1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007}, asc)
		slices.Reverse(desc)
		require.Equal(t, asc, desc)
		st := b.Stats()
		require.Equal(t, uint64(8), st.Pushed)
		require.Equal(t, uint64(0), st.Overwritten)
		require.Equal(t, 8, st.Len)

		x := 8
		switch policy {
		case ring.DropOldest:
			seq, err := b.Push(&x)
			require.NoError(t, err)
			require.Equal(t, uint64(1008), seq)
			require.Equal(t, uint64(1001), b.First())
			require.Equal(t, []uint64{1000}, discarded)
			require.Equal(t, uint64(1), b.Stats().Overwritten)
		case ring.DropNewest:
			_, err := b.Push(&x)
			require.ErrorIs(t, err, ring.ErrFull)
		case ring.Block:
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := b.PushContext(ctx, &x)
			require.ErrorIs(t, err, context.Canceled)
		}
		n := b.RemoveBefore(1004)
		require.Greater(t, n, 0)
		require.Equal(t, uint64(1004), b.First())
		if policy != ring.DropOldest {
			seq, err := b.Push(&x)
			require.NoError(t, err)
			require.Equal(t, uint64(1008), seq)
		}
		st = b.Stats()
		require.Equal(t, uint64(9), st.Pushed)
		require.Equal(t, 5, st.Len)
		b.Close()
	}
}
