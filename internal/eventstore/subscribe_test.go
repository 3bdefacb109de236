package eventstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/internal/fanout"
	"github.com/elixirscope-go/foundation/ring"
)

// recorder is a subscription's send func with an unbounded buffer.
type recorder struct {
	mu     sync.Mutex
	evs    []Event
	closed chan struct{}
}

func newRecorder() *recorder { return &recorder{closed: make(chan struct{})} }

func (r *recorder) send(e Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) close() { close(r.closed) }

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

// waitFor waits until the recorder holds n events (a generous guard, not
// a timing assertion).
func (r *recorder) waitFor(t *testing.T, n int) []Event {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if evs := r.events(); len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited for %d events, have %d", n, len(r.events()))
		}
		runtime.Gosched()
	}
}

func cursorLess(a, b Cursor) bool { return a.Time < b.Time || a.Time == b.Time && a.ID < b.ID }

// lateOf returns the events of a stream that arrived below one before them.
func lateOf(evs []Event) []Event {
	var late []Event
	var top Cursor
	for i, e := range evs {
		c := Cursor{Time: e.Time, ID: e.ID}
		if i > 0 && !cursorLess(top, c) {
			late = append(late, e)
			continue
		}
		top = c
	}
	return late
}

// TestSubscribeOrderStress: concurrent writers (clock-set and caller-set
// Times, Store and StoreBatch, IDs from per-P blocks) and subscribers with
// filters, a Limit and a small buffer. Every stream arrives in (Time, ID)
// order except the backfilled events, which are late and counted as such;
// with an unbounded buffer nothing matching is lost; with a small one,
// received + dropped is what matched; the Limit delivers exactly Limit.
func TestSubscribeOrderStress(t *testing.T) { orderStress(t, 4, 3000) }

// TestSubscribeOrderStressManyPs: the same with more Ps than the store has
// per-P cells and queues (the Ps beyond share one).
func TestSubscribeOrderStressManyPs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(flightCells + 8))
	orderStress(t, 2*flightCells, 400)
}

func orderStress(t *testing.T, writers, perWriter int) {
	s := testStore(t, capacity(1<<15), nil)
	type subCase struct {
		name string
		q    Query
		rec  *recorder
		out  *fanout.Sub[Event] // a bounded buffer instead of rec
		sub  *Subscription
	}
	cases := []*subCase{
		{name: "all", q: Query{}},
		{name: "type t1", q: Query{Type: "t1"}},
		{name: "corr c1", q: Query{CorrelationID: "c1"}},
		{name: "t2 c0", q: Query{Type: "t2", CorrelationID: "c0"}},
		{name: "limit 50", q: Query{Limit: 50}},
		{name: "buffer 8", q: Query{Type: "t0"}, out: fanout.NewSub[Event](8)},
	}
	for _, c := range cases {
		if c.out != nil {
			c.sub = s.Subscribe(c.q, func(e Event) { c.out.Send(e) }, c.out.Close)
			continue
		}
		c.rec = newRecorder()
		c.sub = s.Subscribe(c.q, c.rec.send, c.rec.close)
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		stored = map[uint64]Event{}
		back   = map[uint64]bool{} // backfilled: may be late
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 19))
			var mine []Event
			mineBack := map[uint64]bool{}
			ev := func() Event {
				e := Event{Type: fmt.Sprint("t", r.IntN(3)), Data: []byte(fmt.Sprint(w))}
				if r.IntN(2) == 0 {
					e.CorrelationID = fmt.Sprint("c", r.IntN(2))
				}
				switch r.IntN(8) {
				case 0: // backfill
					e.Time = time.Now().UnixNano() - int64(time.Second) - r.Int64N(int64(time.Second))
				case 1: // ahead of the clock: held until it passes, or Close
					e.Time = time.Now().UnixNano() + int64(time.Hour) + r.Int64N(1000)
				}
				return e
			}
			for i := 0; i < perWriter; {
				if r.IntN(5) == 0 {
					batch := make([]Event, 1+r.IntN(4))
					t0 := int64(0)
					if r.IntN(3) == 0 {
						t0 = time.Now().UnixNano() - int64(time.Second) // a backfilled batch
					}
					for j := range batch {
						batch[j] = ev()
						if t0 != 0 {
							batch[j].Time = t0 + int64(j)
						}
					}
					ids, err := s.StoreBatch(batch)
					if err != nil {
						t.Error(err)
						return
					}
					for j, id := range ids {
						batch[j].ID = id
						if batch[j].Time != 0 && batch[j].Time < time.Now().UnixNano() {
							mineBack[id] = true
						}
						mine = append(mine, batch[j])
					}
					i += len(batch)
					continue
				}
				e := ev()
				id, err := s.Store(&e)
				if err != nil {
					t.Error(err)
					return
				}
				e.ID = id
				if e.Time != 0 && e.Time < time.Now().UnixNano() {
					mineBack[id] = true
				}
				mine = append(mine, e)
				i++
			}
			mu.Lock()
			for _, e := range mine {
				stored[e.ID] = e
			}
			for id := range mineBack {
				back[id] = true
			}
			mu.Unlock()
		}()
	}
	// A subscription made while the writers run: its stream is ordered too.
	mid := newRecorder()
	midSub := s.Subscribe(Query{}, mid.send, mid.close)
	wg.Wait()
	s.Close() // sends everything held (the future Times too), closes every subscription
	_ = midSub

	matches := func(q Query, e Event) bool {
		return (q.Type == "" || q.Type == e.Type) && (q.CorrelationID == "" || q.CorrelationID == e.CorrelationID)
	}
	// checkStream: late counts the events handed over below an earlier
	// one, received or dropped; a subscriber sees at most that many.
	checkStream := func(name string, evs []Event, late uint64, exact bool) {
		t.Helper()
		l := lateOf(evs)
		for _, e := range l {
			if !back[e.ID] {
				var top Event
				for _, x := range evs {
					if x.ID == e.ID {
						break
					}
					if cursorLess(Cursor{top.Time, top.ID}, Cursor{x.Time, x.ID}) {
						top = x
					}
				}
				t.Errorf("%s: event %d (Time %d, stored %d, not backfilled) arrived late, below %d (Time %d, stored %d)", name, e.ID, e.Time, stored[e.ID].Time, top.ID, top.Time, stored[top.ID].Time)
			}
		}
		if uint64(len(l)) > late || exact && uint64(len(l)) != late {
			t.Errorf("%s: %d events arrived below an earlier one, Late() = %d", name, len(l), late)
		}
		seen := map[uint64]bool{}
		for _, e := range evs {
			if seen[e.ID] {
				t.Errorf("%s: event %d twice", name, e.ID)
			}
			seen[e.ID] = true
			if w, ok := stored[e.ID]; !ok || w.Type != e.Type || w.CorrelationID != e.CorrelationID || (w.Time != 0 && w.Time != e.Time) || string(w.Data) != string(e.Data) {
				t.Errorf("%s: got %+v, stored %+v", name, e, w)
			}
		}
	}
	nLate := 0
	for _, c := range cases {
		<-func() chan struct{} {
			if c.rec != nil {
				return c.rec.closed
			}
			ch := make(chan struct{})
			close(ch)
			return ch
		}()
		want := 0
		for _, e := range stored {
			if matches(c.q, e) {
				want++
			}
		}
		switch {
		case c.out != nil:
			var got []Event
			for e := range c.out.C() {
				got = append(got, e)
			}
			checkStream(c.name, got, c.sub.Late(), false)
			if n := uint64(len(got)) + c.out.Dropped() + c.sub.Lost(); n != uint64(want) {
				t.Errorf("%s: received %d + dropped %d + lost %d, %d matched", c.name, len(got), c.out.Dropped(), c.sub.Lost(), want)
			}
			if c.out.Dropped() == 0 {
				t.Errorf("%s: a buffer of 8 never full", c.name)
			}
		case c.q.Limit > 0:
			got := c.rec.events()
			checkStream(c.name, got, c.sub.Late(), true)
			if len(got) != c.q.Limit {
				t.Errorf("%s: received %d", c.name, len(got))
			}
		default:
			got := c.rec.events()
			checkStream(c.name, got, c.sub.Late(), true)
			nLate += len(lateOf(got))
			if len(got) != want || c.sub.Lost() != 0 {
				t.Errorf("%s: received %d of %d matching (lost %d)", c.name, len(got), want, c.sub.Lost())
			}
		}
	}
	<-mid.closed
	checkStream("made mid-way", mid.events(), midSub.Late(), true)
	t.Logf("%d events stored, %d backfilled; late deliveries over the unbounded streams: %d", len(stored), len(back), nLate)
}

// TestSubscribeWaitsForTheClock: an event whose Time the clock set is sent
// once the clock has passed it (a manual clock that does not move holds
// it), in (Time, ID) order with events whose Times a caller set.
func TestSubscribeWaitsForTheClock(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	clk := clock.NewManual(t0)
	s := testStore(t, capacity(100), clk)
	rec := newRecorder()
	sub := s.Subscribe(Query{}, rec.send, rec.close)
	defer sub.Close()
	a, _ := s.Store(&Event{Type: "a"})                           // Time t0, held: the clock may still read t0
	b, _ := s.Store(&Event{Type: "b", Time: t0.UnixNano() - 10}) // before a
	c, _ := s.Store(&Event{Type: "c", Time: t0.UnixNano() + 5})  // after a
	got := rec.waitFor(t, 1)                                     // b: below the clock
	if got[0].ID != b {
		t.Fatalf("first event %+v, want b", got[0])
	}
	clk.Add(time.Nanosecond) // past a, not c
	got = rec.waitFor(t, 2)
	if got[1].ID != a {
		t.Fatalf("second event %+v, want a", got[1])
	}
	clk.Add(time.Second)
	got = rec.waitFor(t, 3)
	if got[2].ID != c || sub.Late() != 0 || len(got) != 3 {
		t.Fatalf("got %+v, late %d", got, sub.Late())
	}
	// A backfilled event below what was sent is late: sent, counted.
	d, _ := s.Store(&Event{Type: "d", Time: t0.UnixNano() - 20})
	got = rec.waitFor(t, 4)
	if got[3].ID != d || sub.Late() != 1 {
		t.Fatalf("got %+v, late %d", got[3], sub.Late())
	}
}

// TestSubscribeClockStepsBack: when the clock goes back, the events
// stamped before the step are sent without waiting for the clock to come
// back; those stamped after it are late (below them), in order among
// themselves.
func TestSubscribeClockStepsBack(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	clk := clock.NewManual(t0)
	s := testStore(t, capacity(100), clk)
	rec := newRecorder()
	sub := s.Subscribe(Query{}, rec.send, rec.close)
	defer sub.Close()
	a, _ := s.Store(&Event{Type: "a"}) // Time t0, held
	clk.Add(-time.Hour)                // Set never goes back
	b, _ := s.Store(&Event{Type: "b"}) // Time t0-1h
	clk.Add(time.Nanosecond)
	got := rec.waitFor(t, 2)
	if got[0].ID != b || got[1].ID != a {
		t.Fatalf("got %+v", got)
	}
	c, _ := s.Store(&Event{Type: "c"}) // below a: late, sent once the clock passes it
	clk.Add(time.Nanosecond)
	got = rec.waitFor(t, 3)
	if got[2].ID != c || sub.Late() != 1 {
		t.Fatalf("got %+v, late %d", got, sub.Late())
	}
}

// TestSubscribeCloseSendsHeld: the store's Close sends the events held for
// the watermark (a Time far ahead) before closing the channel, in order.
func TestSubscribeCloseSendsHeld(t *testing.T) {
	s := testStore(t, capacity(100), nil)
	rec := newRecorder()
	s.Subscribe(Query{}, rec.send, rec.close)
	far := time.Now().Add(time.Hour).UnixNano()
	x, _ := s.Store(&Event{Type: "x", Time: far + 1})
	y, _ := s.Store(&Event{Type: "y", Time: far})
	z, _ := s.Store(&Event{Type: "z"})
	got := rec.waitFor(t, 1)
	if got[0].ID != z {
		t.Fatalf("got %+v", got)
	}
	s.Close()
	<-rec.closed
	got = rec.events()
	if len(got) != 3 || got[1].ID != y || got[2].ID != x {
		t.Fatalf("got %+v", got)
	}
}

// TestSubscribeBeforeAndAfter: a subscription gets the events of the
// Stores that begin after Subscribe returned, not those of the Stores that
// returned before it began (still queued or held for the watermark).
func TestSubscribeBeforeAndAfter(t *testing.T) {
	clk := clock.NewManual(time.Unix(1_000_000, 0))
	s := testStore(t, capacity(100), clk)
	first := newRecorder()
	s.Subscribe(Query{}, first.send, first.close)
	before, _ := s.Store(&Event{Type: "before"}) // held: the clock has not moved
	rec := newRecorder()
	s.Subscribe(Query{}, rec.send, rec.close)
	after, _ := s.Store(&Event{Type: "after"})
	clk.Add(time.Second)
	if got := first.waitFor(t, 2); got[0].ID != before || got[1].ID != after {
		t.Fatalf("first: %+v", got)
	}
	if got := rec.waitFor(t, 1); len(got) != 1 || got[0].ID != after {
		t.Fatalf("second: %+v", got)
	}
}

// TestSubscribeIdleDoesNotSpin: with nothing held the delivery sleeps until
// a commit; with an event held for a Time ahead of the clock it sleeps on a
// timer of the store's clock. Either way no round runs meanwhile.
func TestSubscribeIdleDoesNotSpin(t *testing.T) {
	clk := clock.NewManual(time.Unix(1_000_000, 0))
	s := testStore(t, capacity(100), clk)
	rec := newRecorder()
	sub := s.Subscribe(Query{}, rec.send, rec.close)
	defer sub.Close()
	rounds := func() uint64 {
		s.ord.mu.Lock()
		defer s.ord.mu.Unlock()
		return s.ord.rounds
	}
	stable := func(how string) {
		t.Helper()
		r := rounds()
		for range 1000 {
			runtime.Gosched()
		}
		if n := rounds(); n != r {
			t.Fatalf("%s: %d rounds while idle", how, n-r)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for !s.ord.sleeping.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the delivery never sleeps")
		}
		runtime.Gosched()
	}
	stable("nothing held")
	if _, err := s.Store(&Event{Type: "ahead", Time: clk.Now().Add(time.Hour).UnixNano()}); err != nil {
		t.Fatal(err)
	}
	if !clk.BlockUntil(2, nil) { // the pruner's timer and the delivery's
		t.Fatal("no timer")
	}
	stable("held for the clock")
	clk.Add(2 * time.Hour)
	if got := rec.waitFor(t, 1); got[0].Type != "ahead" {
		t.Fatalf("got %+v", got)
	}
}

// TestSubscribeStoresHelp: with the delivery task not running (as when it
// gets no CPU), Stores that find their queue full do its work: every event
// arrives, in order, none lost.
func TestSubscribeStoresHelp(t *testing.T) {
	ts := &tasks{}
	ts.ctx, ts.cancel = context.WithCancel(context.Background())
	start := func(name string, fn func(context.Context) error) error {
		if name == "events.subscriptions" {
			return nil // never runs
		}
		return ts.start(name, fn)
	}
	lim := Limits{MaxResults: 1000, QueryTimeout: 10 * time.Second, PruneInterval: time.Hour, MaxAge: time.Hour}
	s, err := New(capacity(1<<14), "drop_oldest", Deps{Clock: clock.Real(), Go: start, Limits: func() Limits { return lim }})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.stop()
	rec := newRecorder()
	sub := s.Subscribe(Query{}, rec.send, rec.close)
	const n = 10 * queueSize
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n / 2 {
				if _, err := s.Store(&Event{Type: fmt.Sprint("w", w), Data: []byte(fmt.Sprint(i))}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	helped := len(rec.events())
	s.Close()
	got := rec.events()
	if len(got) != n || sub.Lost() != 0 || sub.Late() != 0 || len(lateOf(got)) != 0 {
		t.Fatalf("received %d of %d, lost %d, late %d", len(got), n, sub.Lost(), sub.Late())
	}
	if helped == 0 {
		t.Fatal("no event sent before Close: the Stores did not help")
	}
}

// TestSubscribeBlockPolicy: under the block policy a Store waits for room
// before it registers in flight; once a prune makes room, everything
// arrives in order, the pruned event too (it was committed before it
// left).
func TestSubscribeBlockPolicy(t *testing.T) {
	s := testStore(t, Config{Capacity: 4, Policy: ring.Block}, nil)
	rec := newRecorder()
	sub := s.Subscribe(Query{}, rec.send, rec.close)
	defer sub.Close()
	var first Event
	for i := range 4 {
		e := Event{Type: "t", Data: []byte{byte(i)}}
		id, err := s.Store(&e)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first, _ = s.Get(id)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Store(&Event{Type: "t", Data: []byte{4}})
		done <- err
	}()
	for s.PruneBefore(first.Time+1) == 0 {
		runtime.Gosched()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := rec.waitFor(t, 5)
	if len(lateOf(got)) != 0 || sub.Late() != 0 {
		t.Fatalf("out of order: %+v", got)
	}
	for i, e := range got {
		if e.Data[0] != byte(i) {
			t.Fatalf("event %d carries %d", i, e.Data[0])
		}
	}
}

// TestSubscribeBlockedStoreHoldsNothingBack: a Store waiting for room under
// block has not registered in flight nor read the clock, so the events
// before it are delivered while it waits, not once it gives up
// (interface.query_timeout).
func TestSubscribeBlockedStoreHoldsNothingBack(t *testing.T) {
	t0 := time.Unix(1_000_000, 0)
	clk := clock.NewManual(t0)
	s := testStore(t, Config{Capacity: 1, Policy: ring.Block}, clk) // QueryTimeout 10 s
	rec := newRecorder()
	sub := s.Subscribe(Query{}, rec.send, rec.close)
	defer sub.Close()
	a, err := s.Store(&Event{Type: "a"}) // Time t0: held until the clock passes it
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Store(&Event{Type: "b"}) // full: waits for room
		done <- err
	}()
	waitForStack(t, "eventstore.(*Store).reserve")
	clk.Add(time.Second)
	got := rec.waitFor(t, 1)
	select {
	case err := <-done:
		t.Fatalf("a was delivered only once b gave up waiting (%v)", err)
	default:
	}
	if got[0].ID != a {
		t.Fatalf("got %+v, want a", got[0])
	}
	for s.PruneBefore(t0.UnixNano()+1) == 0 {
		runtime.Gosched()
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	if got = rec.waitFor(t, 2); got[1].Type != "b" || got[1].Time != t0.Add(time.Second).UnixNano() {
		t.Fatalf("got %+v: want b, stamped when it was stored", got[1])
	}
}

// waitForStack waits until some goroutine's stack holds fn (a generous
// guard, not a timing assertion).
func waitForStack(t *testing.T, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(string(buf[:runtime.Stack(buf, true)]), fn) {
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine reached %s", fn)
		}
		runtime.Gosched()
	}
}
