package foundation_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

// TestEventSubscribeOrderStress: through the public API, with the real
// clock: writers store concurrently (clock-set Times, backfilled Times,
// Times an hour ahead, batches) while subscribers with filters, a Limit and
// a small buffer read. Each stream is in (Time, ID) order but for late
// events, which are backfilled ones only and which Late() counts; a
// subscriber that keeps up receives every matching event; with a small
// buffer received + Dropped() is what matched; the Foundation's Close sends
// the events held (those ahead of the clock) before closing the channels.
func TestEventSubscribeOrderStress(t *testing.T) {
	const (
		writers   = 4
		perWriter = 2000
	)
	f := newF(t, foundation.WithEventCapacity(1<<15))
	es := f.Events()
	type reader struct {
		q    foundation.Query
		sub  *foundation.EventSubscription
		got  []foundation.Event
		slow bool // reads only after Close: its small buffer overflows
	}
	readers := []*reader{
		{q: foundation.Query{}},
		{q: foundation.Query{Type: "t1"}},
		{q: foundation.Query{CorrelationID: "c0"}},
		{q: foundation.Query{Limit: 100}},
		{q: foundation.Query{Type: "t2"}, slow: true},
	}
	var rwg sync.WaitGroup
	for _, r := range readers {
		if r.slow {
			r.sub = es.Subscribe(r.q, foundation.SubscriptionBuffer(16))
			continue
		}
		r.sub = es.Subscribe(r.q, foundation.SubscriptionBuffer(foundation.MaxSubscriptionBuffer))
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			for e := range r.sub.C() {
				r.got = append(r.got, e)
			}
		}()
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored = map[uint64]foundation.Event{}
		back   = map[uint64]bool{}
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 77))
			mk := func() (foundation.Event, bool) {
				e := foundation.Event{Type: fmt.Sprint("t", rng.IntN(3)), CorrelationID: fmt.Sprint("c", rng.IntN(2))}
				switch rng.IntN(10) {
				case 0:
					e.Time = time.Now().Add(-time.Second).UnixNano() - rng.Int64N(1000)
					return e, true
				case 1:
					e.Time = time.Now().Add(time.Hour).UnixNano() + rng.Int64N(1000)
				}
				return e, false
			}
			local := map[uint64]foundation.Event{}
			localBack := map[uint64]bool{}
			for i := 0; i < perWriter; {
				if rng.IntN(5) == 0 {
					batch := make([]foundation.Event, 1+rng.IntN(4))
					isBack := make([]bool, len(batch))
					for j := range batch {
						batch[j], isBack[j] = mk()
					}
					ids, err := es.StoreBatch(batch)
					if !assert.NoError(t, err) {
						return
					}
					for j, id := range ids {
						batch[j].ID = id
						local[id], localBack[id] = batch[j], isBack[j]
					}
					i += len(batch)
					continue
				}
				e, isBack := mk()
				id, err := es.Store(e)
				if !assert.NoError(t, err) {
					return
				}
				e.ID = id
				local[id], localBack[id] = e, isBack
				i++
			}
			mu.Lock()
			for id, e := range local {
				stored[id] = e
				back[id] = localBack[id]
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	require.NoError(t, f.Close())
	rwg.Wait()
	for _, r := range readers {
		if r.slow {
			for e := range r.sub.C() {
				r.got = append(r.got, e)
			}
		}
		want := 0
		for _, e := range stored {
			if (r.q.Type == "" || e.Type == r.q.Type) && (r.q.CorrelationID == "" || e.CorrelationID == r.q.CorrelationID) {
				want++
			}
		}
		var top foundation.EventCursor
		late := 0
		for i, e := range r.got {
			s, ok := stored[e.ID]
			require.True(t, ok, "%+v: unknown event %d", r.q, e.ID)
			assert.Equal(t, s.Type, e.Type)
			if i > 0 && !before(top, e.Cursor()) {
				late++
				assert.True(t, back[e.ID], "%+v: event %d (Time %d) arrived below %+v and is not backfilled", r.q, e.ID, e.Time, top)
				continue
			}
			top = e.Cursor()
		}
		switch {
		case r.slow:
			assert.Equal(t, want, len(r.got)+int(r.sub.Dropped()), "%+v: received + dropped", r.q)
			assert.Positive(t, r.sub.Dropped(), "%+v", r.q)
			assert.LessOrEqual(t, uint64(late), r.sub.Late())
		case r.q.Limit > 0:
			assert.Len(t, r.got, r.q.Limit)
			assert.Equal(t, uint64(late), r.sub.Late())
		default:
			assert.Equal(t, want, len(r.got), "%+v: every matching event", r.q)
			assert.Zero(t, r.sub.Dropped())
			assert.Equal(t, uint64(late), r.sub.Late(), "%+v", r.q)
		}
	}
}
