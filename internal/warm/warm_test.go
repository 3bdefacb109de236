package warm

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/elixirscope-go/foundation/segment"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ev(id uint64) Event {
	e := Event{ID: id, Type: fmt.Sprintf("type.%d", id%4), Time: int64(id/3) * 10, ParentID: id / 2,
		Data: []byte(fmt.Sprintf(`{"n":%d}`, id))}
	if id%5 != 0 {
		e.CorrelationID = fmt.Sprintf("corr-%d", id%7)
	}
	return e
}

func open(t *testing.T, dir string) *Tier {
	t.Helper()
	tr, err := Open(Config{Dir: dir, Codec: segment.Zstd, NoSync: true})
	require.NoError(t, err)
	return tr
}

// model answers q over ids 1..n by brute force.
func model(n uint64, q Query, k int) []Event {
	var out []Event
	for id := uint64(1); id <= n; id++ {
		e := ev(id)
		if (q.Type != "" && e.Type != q.Type) || (q.CorrelationID != "" && e.CorrelationID != q.CorrelationID) ||
			(q.Since != 0 && e.Time < q.Since) || (q.Until != 0 && e.Time > q.Until) || (q.Below != 0 && e.ID >= q.Below) {
			continue
		}
		if q.After.ID != 0 {
			a := Event{Time: q.After.Time, ID: q.After.ID}
			if !better(&a, &e, q.Descending) {
				continue
			}
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Event) int {
		if better(&a, &b, q.Descending) {
			return -1
		}
		return 1
	})
	return out[:min(k, len(out))]
}

func TestTier(t *testing.T) {
	dir := t.TempDir()
	tr := open(t, dir)
	const n = 5000
	var batch []Event
	for id := uint64(1); id <= n; id++ {
		batch = append(batch, ev(id))
		if len(batch) == 97 || id == n {
			require.NoError(t, tr.Append(batch))
			batch = batch[:0]
		}
	}
	require.ErrorIs(t, tr.Append([]Event{ev(3)}), ErrOrder)
	check := func(tr *Tier) {
		require.Equal(t, uint64(n), tr.LastID())
		for _, id := range []uint64{1, 2, 777, n} {
			got, ok, err := tr.Get(id)
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, ev(id), got)
		}
		_, ok, err := tr.Get(n + 1)
		require.NoError(t, err)
		require.False(t, ok)
		for _, q := range []Query{
			{}, {Descending: true}, {Type: "type.2"}, {CorrelationID: "corr-3", Descending: true},
			{Since: 1000, Until: 2000}, {Since: 1000, Until: 2000, Type: "type.1", Descending: true},
			{After: Cursor{Time: 500, ID: 150}}, {After: Cursor{Time: 500, ID: 150}, Descending: true, CorrelationID: "corr-1"},
			{Below: 4000, Descending: true}, {Below: 2, Type: "type.1"},
		} {
			for _, k := range []int{1, 10, 1000} {
				got, err := tr.Query(context.Background(), q, k)
				require.NoError(t, err)
				require.Equal(t, model(n, q, k), got, "%+v k=%d", q, k)
			}
		}
		// Keyset paging walks everything once.
		var all []uint64
		q := Query{Type: "type.3"}
		for {
			page, err := tr.Query(context.Background(), q, 100)
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				all = append(all, e.ID)
			}
			q.After = Cursor{Time: page[len(page)-1].Time, ID: page[len(page)-1].ID}
		}
		require.Equal(t, n/4, len(all))
	}
	check(tr)
	st := tr.Stats()
	require.Equal(t, int64(n), st.Events)
	require.Greater(t, st.Ratio, 1.0)
	require.NoError(t, tr.Close())
	tr = open(t, dir)
	check(tr)
	require.NoError(t, tr.PruneBefore(1000))
	got, err := tr.Query(context.Background(), Query{}, 1)
	require.NoError(t, err)
	require.Equal(t, int64(1000), got[0].Time)
	// Everything pruned: after a restart the last ID is still known.
	require.NoError(t, tr.PruneBefore(1<<62))
	got, err = tr.Query(context.Background(), Query{}, 1)
	require.NoError(t, err)
	require.Empty(t, got)
	require.NoError(t, tr.Close())
	tr = open(t, dir)
	require.Equal(t, uint64(n), tr.LastID())
	require.NoError(t, tr.Close())
}
