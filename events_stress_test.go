package foundation_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/elixirscope-go/foundation"
)

// stressEvent builds an event whose Data names its Type, CorrelationID and
// Time, so that any result can be checked for a torn or mixed-up copy.
func stressEvent(r *rand.Rand, explicit int64) foundation.Event {
	ev := foundation.Event{Type: fmt.Sprint("t", r.IntN(4))}
	if r.IntN(2) == 0 {
		ev.CorrelationID = fmt.Sprint("c", r.IntN(5))
	}
	if explicit != 0 {
		ev.Time = explicit
	}
	return ev
}

func stressData(e foundation.Event) string { return e.Type + "/" + e.CorrelationID }

// TestEventStressModel runs rounds of concurrent Store, StoreBatch, Query
// (every filter, both orders, Offset and After) and subscriptions, with
// store-assigned Times (the manual clock moves between rounds) and explicit
// ones (some older than the events around them: backfill). During a round,
// every result must match its filter, be in (Time, ID) order, carry its
// own data, and never hold an event that a Get had already found gone;
// every subscriber receives only matching events, each writer's in its
// store order. Between rounds the writers stop: PruneBefore runs, and every
// query is compared with a model of what the store must hold (the newest
// capacity IDs, less the pruned), with the Stats invariants exact. At the
// end the Foundation is closed while everything runs.
func TestEventStressModel(t *testing.T) {
	const capacity = 700
	rounds, perRound := 10, 600
	if testing.Short() {
		rounds, perRound = 3, 200
	}
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	f, clk := newStore(t, capacity, func(c *foundation.Config) { c.Capture.RingBuffer.NumBuffers = 2 })
	es := f.Events()
	m := &model{}
	var (
		failure atomic.Pointer[string]
		maxID   uint64
		nStored uint64
	)
	fail := func(format string, a ...any) {
		s := fmt.Sprintf(format, a...)
		failure.CompareAndSwap(nil, &s)
	}
	checkResult := func(q foundation.Query, evs []foundation.Event) {
		for i, e := range evs {
			if (q.Type != "" && e.Type != q.Type) || (q.CorrelationID != "" && e.CorrelationID != q.CorrelationID) ||
				(q.Since != 0 && e.Time < q.Since) || (q.Until != 0 && e.Time > q.Until) {
				fail("query %+v returned %+v", q, e)
			}
			if string(e.Data) != stressData(e) {
				fail("query %+v: event %d carries %q", q, e.ID, e.Data)
			}
			if i > 0 && before(evs[i-1].Cursor(), e.Cursor()) == q.Descending {
				fail("query %+v: order %+v then %+v", q, evs[i-1].Cursor(), e.Cursor())
			}
			if q.After.ID != 0 && (before(e.Cursor(), q.After) != q.Descending || e.Cursor() == q.After) {
				fail("query %+v returned %+v, not after the cursor", q, e.Cursor())
			}
		}
	}
	for round := range rounds {
		now := clk.Now().UnixNano()
		var (
			writers sync.WaitGroup
			readers sync.WaitGroup
			stop    atomic.Bool
			mu      sync.Mutex
			stored  []foundation.Event
		)
		// Subscribers of this round.
		type subCheck struct {
			sub  *foundation.EventSubscription
			q    foundation.Query
			last map[string]uint64 // per writer (Data suffix): the last ID seen
		}
		var subs []*subCheck
		for i := range 3 {
			q := foundation.Query{Type: fmt.Sprint("t", i)}
			if i == 2 {
				q = foundation.Query{CorrelationID: "c1"}
			}
			subs = append(subs, &subCheck{sub: es.Subscribe(q, foundation.SubscriptionBuffer(4096)), q: q, last: map[string]uint64{}})
		}
		var drained sync.WaitGroup
		for _, sc := range subs {
			drained.Add(1)
			go func() {
				defer drained.Done()
				for e := range sc.sub.C() {
					if (sc.q.Type != "" && e.Type != sc.q.Type) || (sc.q.CorrelationID != "" && e.CorrelationID != sc.q.CorrelationID) {
						fail("subscriber %+v got %+v", sc.q, e)
					}
					if string(e.Data) != stressData(e) {
						fail("subscriber got event %d carrying %q", e.ID, e.Data)
					}
				}
			}()
		}
		for w := range 3 {
			writers.Add(1)
			go func() {
				defer writers.Done()
				r := rand.New(rand.NewPCG(seed, uint64(round*10+w)))
				var mine []foundation.Event
				for i := 0; i < perRound; {
					var explicit int64
					switch r.IntN(4) {
					case 0:
						explicit = now - int64(r.IntN(1_000_000)) - 1 // backfill
					case 1:
						explicit = now + int64(r.IntN(1000)) + 1
					}
					if r.IntN(4) == 0 {
						batch := make([]foundation.Event, 1+r.IntN(4))
						for j := range batch {
							batch[j] = stressEvent(r, explicit)
							batch[j].Data = []byte(stressData(batch[j]))
						}
						ids, err := es.StoreBatch(batch)
						if err != nil {
							fail("batch: %v", err)
							return
						}
						for j, id := range ids {
							batch[j].ID = id
							if batch[j].Time == 0 {
								batch[j].Time = now
							}
							mine = append(mine, batch[j])
						}
						i += len(batch)
						continue
					}
					ev := stressEvent(r, explicit)
					ev.Data = []byte(stressData(ev))
					id, err := es.Store(ev)
					if err != nil {
						fail("store: %v", err)
						return
					}
					ev.ID = id
					if ev.Time == 0 {
						ev.Time = now
					}
					mine = append(mine, ev)
					i++
				}
				mu.Lock()
				stored = append(stored, mine...)
				mu.Unlock()
			}()
		}
		for w := range 2 {
			readers.Add(1)
			go func() {
				defer readers.Done()
				r := rand.New(rand.NewPCG(seed, uint64(1000+round*10+w)))
				gone := map[uint64]bool{}
				var seen []uint64
				for !stop.Load() {
					q := foundation.Query{Descending: r.IntN(2) == 0, Limit: r.IntN(60)}
					if r.IntN(2) == 0 {
						q.Type = fmt.Sprint("t", r.IntN(4))
					}
					if r.IntN(3) == 0 {
						q.CorrelationID = fmt.Sprint("c", r.IntN(5))
					}
					if r.IntN(3) == 0 {
						q.Since = now - int64(r.IntN(2_000_000))
						q.Until = q.Since + int64(r.IntN(3_000_000))
					}
					if r.IntN(4) == 0 {
						q.Offset = r.IntN(50)
					}
					for _, id := range seen {
						if _, err := es.Get(id); err != nil {
							gone[id] = true
						}
					}
					evs, err := es.Query(q)
					if err != nil {
						fail("query: %v", err)
						return
					}
					checkResult(q, evs)
					for _, e := range evs {
						if gone[e.ID] {
							fail("query %+v returned %d after it had left the store", q, e.ID)
						}
					}
					// The next page by keyset.
					if len(evs) > 0 && q.Limit > 0 {
						q.After, q.Offset = evs[len(evs)-1].Cursor(), 0
						next, err := es.Query(q)
						if err != nil {
							fail("query: %v", err)
							return
						}
						checkResult(q, next)
					}
					seen = ids(evs)
				}
			}()
		}
		writers.Wait()
		stop.Store(true)
		readers.Wait()
		for _, sc := range subs {
			sc.sub.Close()
		}
		drained.Wait()
		if p := failure.Load(); p != nil {
			t.Fatalf("round %d: %s", round, *p)
		}

		// Quiescent: build the model and compare.
		slices.SortFunc(stored, func(a, b foundation.Event) int { return int(a.ID - b.ID) })
		m.evs = append(m.evs, stored...)
		for _, e := range stored {
			maxID = max(maxID, e.ID)
		}
		nStored += uint64(len(stored))
		// Which events are held: with one ID per claim, exactly the newest
		// capacity IDs. With per-P blocks of IDs (the store's claim blocks,
		// at most 64 IDs each) an ID that no event got (the unused rest of
		// a P's block, made a hole) takes a slot too, so the store may hold
		// fewer: every event with an ID above the newest capacity-slack
		// IDs is held, none below the newest capacity+slack may be, and in
		// between Get decides; Query and Stats must then agree with it.
		slack := uint64(64 * (runtime.GOMAXPROCS(0) + 2))
		var held []foundation.Event
		for _, e := range m.evs {
			switch {
			case e.ID+capacity > maxID+slack:
				held = append(held, e) // must be held: checked by the queries below
			case e.ID+capacity+slack > maxID:
				if _, err := es.Get(e.ID); err == nil {
					held = append(held, e)
				}
			}
		}
		m.evs = held
		if round%2 == 1 {
			cut := now - 500_000
			n := es.PruneBefore(cut)
			var keep []foundation.Event
			for _, e := range m.evs {
				if e.Time >= cut {
					keep = append(keep, e)
				}
			}
			require.Equal(t, len(m.evs)-len(keep), n, "round %d: PruneBefore(%d)", round, cut)
			m.evs = keep
		}
		st := es.Stats()
		require.Equal(t, len(m.evs), st.Len, "round %d: %+v", round, st)
		require.Equal(t, st.Stored, uint64(st.Len)+st.Evicted+st.Pruned, "round %d: %+v", round, st)
		require.Equal(t, nStored, st.Stored)
		var bytes int64
		for _, e := range m.evs {
			bytes += int64(len(e.Type)+len(e.CorrelationID)+len(e.Data)) + 128
		}
		require.Equal(t, bytes, st.Bytes, "round %d", round)
		checkQueries(t, es, m, 1000, seed+uint64(round))
		clk.Add(time.Millisecond)
	}

	// Close while writers, readers and a subscriber run: writes fail with
	// ErrClosed, reads go on, nothing hangs.
	var wg sync.WaitGroup
	sub := es.Subscribe(foundation.Query{})
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(9000+w)))
			for {
				ev := stressEvent(r, 0)
				ev.Data = []byte(stressData(ev))
				if _, err := es.Store(ev); err != nil {
					if !errors.Is(err, foundation.ErrClosed) {
						fail("store during close: %v", err)
					}
					return
				}
				evs, err := es.Query(foundation.Query{Limit: 20, Descending: true})
				if err != nil {
					fail("query during close: %v", err)
					return
				}
				checkResult(foundation.Query{Descending: true}, evs)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range sub.C() {
		}
	}()
	require.NoError(t, f.Close())
	wg.Wait()
	if p := failure.Load(); p != nil {
		t.Fatal(*p)
	}
	st := es.Stats()
	assert.Equal(t, st.Stored, uint64(st.Len)+st.Evicted+st.Pruned, "%+v", st)
}
