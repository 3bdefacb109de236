package eventstore

import (
	"context"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elixirscope-go/foundation/clock"
	"github.com/elixirscope-go/foundation/internal/atomicx"
	"github.com/elixirscope-go/foundation/internal/pad"
	"github.com/elixirscope-go/foundation/internal/procpin"
)

// Subscriptions deliver in (Time, ID) order. A Store that finds a
// subscription hands its committed event to a per-P queue; one supervised
// task, the delivery ("events.subscriptions"), moves the queues into a list
// kept in (Time, ID) order and sends each event once nothing smaller can still
// come: once its Time is below the watermark W.
//
// The watermark. A Store whose Time the store's clock sets registers as in
// flight before it reads the clock and unregisters after its commit, in
// per-P counters split by epoch (two parities, as in SRCU): the Store adds
// one to the lock counter of the current epoch's parity on the cell of its
// P, and later one to the unlock counter of the same parity on the cell of
// whatever P it is then on; only the sums matter. A round (advance) reads
// the clock (T_k), moves the epoch on, and completes once the old parity's
// unlock sum equals its lock sum (unlocks summed first, then locks, so a
// Store counted in the unlocks is in the locks). After round k every
// Store still in flight registered after round k-1's check, so it read the
// clock after T_{k-1}: W = T_{k-1} (exclusive; a coarse clock can give the
// same reading again). A Store that read the epoch just before a flip and
// registered after the check (a straggler) lands in the parity that the
// next-but-one round checks: the one-round lag is what covers it. When,
// after the check and before the round drains the queues, the new parity
// has no Store in flight either, every Store still to commit reads the
// clock after T_k: W = T_k. Nothing in this depends on how many
// goroutines share a P, and no time is kept per cell: a laggard (a Store
// descheduled between its clock read and its commit) holds W back until
// it commits, no longer.
//
// What it costs a Store. With no subscription: one load of a read-mostly
// flag (active). With one: a locked add on its P's line before the clock
// read, a slot and a seq-cst store on its P's queue, a load of the
// delivery's sleeping flag, and a release store on its P's line; the lines
// are the P's own (the delivery only reads them), so no line is written by
// every Store on every core. Copies and channel sends happen on the
// delivery, not on the Store, except when the delivery falls behind and a
// Store's queue is full (publish): that Store then does the delivery's work.
//
// A clock that steps back is seen when a round reads less than the round
// before, or less than a Time it set on an event already drained: two
// rounds later everything stamped before the step is drained, and the held
// events up to the highest reading seen are sent (advance), instead of
// waiting for the clock to come back.
//
// Events with a caller-set Time register nothing: they join the held list at
// their place, and one whose Time is already below what a subscription was
// handed is late (see Subscribe).

const (
	// flightCells is how many Ps have in-flight counters and queues of
	// their own; Ps beyond share one more.
	flightCells = byteStripes
	// queueSize is each queue's room (events committed and not yet taken
	// by the delivery). A Store that finds its queue full does the
	// delivery's work to make room, up to helpTries times (publish); past
	// that the event is lost for the subscriptions it matches (Lost).
	queueSize = 1 << 10
	// maxPending bounds the events the delivery holds for the watermark,
	// and maxPendingBytes their bytes (as Stats.Bytes counts them). Past
	// either, the smallest are sent before the watermark reaches them; an
	// event that then arrives below them is late. Events wait past the
	// watermark when a Store is descheduled in flight for long, or when a
	// caller sets Times in the future.
	maxPending      = 1 << 16
	maxPendingBytes = 64 << 20
	// closeWait bounds how long Close waits for Stores in flight to
	// commit before the last delivery.
	closeWait = time.Second
)

// flightCell counts the Stores in flight of one P, by epoch parity.
type flightCell struct {
	lock   [2]atomic.Uint64
	unlock [2]atomic.Uint64
	_      [pad.CacheLine - 32]byte // one cell per line: each P writes its own
}

// flight is what enter returns for exit and commit.
type flight int32

const (
	flightOff  flight = -1 // no subscription when the Store began: its events go to none
	flightFree flight = 0  // caller-set Time: delivered, nothing registered
	// 1 + parity: registered in that parity.
)

// queue is one P's queue of committed events: single producer (the
// goroutine pinned to the P; the shared queue's producers hold mu),
// single consumer (the delivery).
type queue struct {
	tail      atomic.Uint64 // next position to write
	headCache atomic.Uint64 // the producer's last look at head
	mu        sync.Mutex    // the shared queue's producers only
	_         [pad.FalseSharingRange - 24]byte
	head      atomic.Uint64 // next position to read (the delivery)
	_         [pad.FalseSharingRange - 8]byte
	slots     [queueSize]qslot
}

type qslot struct {
	id      uint64
	r       *record
	stamped bool // the store's clock set its Time
}

// item is an event the delivery holds: its (Time, ID) key and record (a
// query's cand, ordered as queries order), and where it came from (queue
// and position), which tells the subscriptions made after it was queued.
type item struct {
	cand
	pos uint64
	q   int
}

func (a *item) less(b *item) bool { return a.cmp(b.cand) < 0 }

// orderer is the ordered delivery's state, a part of Store.
type orderer struct {
	_ [pad.FalseSharingRange]byte
	// Read by every Store, written only as subscriptions come and go:
	// active, true while a subscription exists; queues and wake, which
	// every Store that publishes loads. They are kept off the lines of mu
	// and the delivery's state, which the delivery writes on every pass.
	active atomic.Bool
	queues atomic.Pointer[[flightCells + 1]queue] // allocated by the first Subscribe
	wake   chan struct{}
	_      [pad.FalseSharingRange - 24]byte
	// epoch is read by registering Stores and written by each round;
	// sleeping is read after every enqueue and written when the delivery
	// sleeps and wakes.
	epoch    atomic.Uint64
	sleeping atomic.Bool
	_        [pad.FalseSharingRange - 12]byte
	cells    [flightCells + 1]flightCell

	subMu sync.Mutex // Subscribe and Close: activation, queues

	// The delivery's state, under mu (the delivery task, and Close).
	mu sync.Mutex
	// The events held: held[hs:] in (Time, ID) order, and batch, drained
	// since the last merge.
	held, batch, tmp []item
	hs               int
	heldBytes        int64
	w                int64 // the watermark: events with Time < w are sent
	prevT            int64 // the last completed round's clock reading
	flipT            int64 // the clock reading of the round under way (flipped)
	flipped          bool  // a round is under way: waiting for parity oldP
	oldP             int
	rounds           uint64
	flushAt          uint64 // a round that sends everything held (the clock went back)
	// hi is the largest clock reading seen: the rounds' and the Times
	// the store's clock set on the events drained.
	hi int64
	// flushedHi is hi when the last flush after a step back ran.
	flushedHi int64
	done      bool // Close delivered the rest and closed the subscriptions
}

func (o *orderer) init() {
	o.wake = make(chan struct{}, 1)
	o.w = math.MinInt64
	o.prevT = math.MinInt64
	o.hi = math.MinInt64
	o.flushedHi = math.MinInt64
}

// enter is called by a Store before it reads the clock (stamped) or, with a
// caller-set Time, before it pushes: with no subscription it costs one load.
func (s *Store) enter(stamped bool) flight {
	if !s.ord.active.Load() { // inlined: the whole cost without a subscription
		return flightOff
	}
	return s.register(stamped)
}

func (s *Store) register(stamped bool) flight {
	o := &s.ord
	if !stamped {
		return flightFree
	}
	e := o.epoch.Load() & 1
	pid := procpin.ID()
	if pid > flightCells {
		pid = flightCells
	}
	// A locked add: a full fence, so the registration is visible before
	// the clock is read.
	o.cells[pid].lock[e].Add(1)
	return flight(1 + e)
}

// exit ends what enter registered, after the commit (or the failure).
func (s *Store) exit(f flight) {
	if f > 0 { // inlined
		s.unregister(f)
	}
}

func (s *Store) unregister(f flight) {
	e := int(f - 1)
	o := &s.ord
	pid := procpin.Pin()
	if pid < flightCells {
		// Pinned: the only writer of this P's counter, a release store
		// (everything the Store did is visible before it).
		c := &o.cells[pid].unlock[e]
		atomicx.StoreRelease(c, c.Load()+1)
		procpin.Unpin()
		return
	}
	procpin.Unpin()
	o.cells[flightCells].unlock[e].Add(1)
}

// inFlight returns how many Stores of parity e are in flight (0 means
// every one that registered before the call's unlock sum exited).
func (o *orderer) inFlight(e int) uint64 {
	var un, lk uint64
	for i := range o.cells {
		un += o.cells[i].unlock[e].Load()
	}
	for i := range o.cells {
		lk += o.cells[i].lock[e].Load()
	}
	return lk - un
}

// publish queues a committed event for the delivery when one of subs
// matches it. It never waits for a subscriber. When its queue is full (the
// delivery task is behind, typically not scheduled while writers keep the
// cores busy), the Store does the delivery's work itself if no one else is
// doing it (TryLock): it moves the queues into the held list, advances the
// watermark if it can and sends what is ready. After helpTries attempts it
// gives up: the event is lost for the subscriptions it matches (Lost).
func (s *Store) publish(subs []*Subscription, id uint64, r *record, fl flight) {
	match := false
	for _, sub := range subs {
		if sub.matches(r) {
			match = true
			break
		}
	}
	if !match {
		return
	}
	o := &s.ord
	qs := o.queues.Load()
	for try := 0; ; try++ {
		pid := procpin.Pin()
		var ok bool
		if pid < flightCells {
			ok = qs[pid].put(id, r, fl > 0)
			procpin.Unpin()
		} else {
			procpin.Unpin()
			q := &qs[flightCells]
			q.mu.Lock()
			ok = q.put(id, r, fl > 0)
			q.mu.Unlock()
		}
		if ok {
			break
		}
		if try == helpTries {
			s.lose(subs, r)
			return
		}
		if try < 4 && !o.mu.TryLock() {
			runtime.Gosched() // the holder drains the queues
			continue
		}
		if try >= 4 {
			// The delivery's pass under way is in-memory work that ends
			// (its sends never wait): wait for it rather than lose.
			o.mu.Lock()
		}
		if !o.done {
			s.pass()
		}
		o.mu.Unlock()
	}
	if o.sleeping.Load() && o.sleeping.CompareAndSwap(true, false) {
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
}

// helpTries bounds how often a Store whose queue is full tries to make
// room before it gives the event up.
const helpTries = 64

// lose counts an event that found no room for the subscriptions it matches.
func (s *Store) lose(subs []*Subscription, r *record) {
	for _, sub := range subs {
		if !sub.matches(r) {
			continue
		}
		if ok, last := sub.take(); ok {
			sub.lost.Add(1)
			if last {
				sub.end() // its Limit is reached: nothing more for it
			}
		}
	}
}

// put appends (id, r); false if the queue is full.
func (q *queue) put(id uint64, r *record, stamped bool) bool {
	t := q.tail.Load()
	if t-q.headCache.Load() >= queueSize {
		h := q.head.Load()
		atomicx.StoreRelease(&q.headCache, h)
		if t-h >= queueSize {
			return false
		}
	}
	q.slots[t&(queueSize-1)] = qslot{id: id, r: r, stamped: stamped}
	// Seq-cst: the delivery stores sleeping and then loads tail, the
	// producer stores tail and then loads sleeping; one sees the other.
	q.tail.Store(t + 1)
	return true
}

// drain moves every queued event into the held list. Under o.mu.
func (s *Store) drain() {
	qs := s.ord.queues.Load()
	if qs == nil {
		return
	}
	for i := range qs {
		q := &qs[i]
		h, t := q.head.Load(), q.tail.Load()
		for p := h; p < t; p++ {
			sl := &q.slots[p&(queueSize-1)]
			if sl.stamped {
				s.ord.hi = max(s.ord.hi, sl.r.time)
			}
			s.ord.push(item{cand: cand{t: sl.r.time, id: sl.id, r: sl.r}, pos: p, q: i})
			sl.r = nil // the record is the held list's now
		}
		if t != h {
			q.head.Store(t)
		}
	}
}

// queued reports whether a queue holds events.
func (o *orderer) queued() bool {
	qs := o.queues.Load()
	if qs == nil {
		return false
	}
	for i := range qs {
		if qs[i].head.Load() != qs[i].tail.Load() {
			return true
		}
	}
	return false
}

// push adds a drained event; merge puts it in order. Under o.mu.
func (o *orderer) push(it item) {
	o.batch = append(o.batch, it)
	o.heldBytes += it.r.size()
}

// merge puts the events drained since the last merge into held, in
// (Time, ID) order. The common case costs an append: a batch sorted on its
// own (events of one P arrive mostly in order) that starts after held's
// last. Otherwise the part of held after the batch's first event is merged
// with it (that part is short unless Times far ahead of the clock wait
// there). Under o.mu.
func (o *orderer) merge() {
	b := o.batch
	if len(b) == 0 {
		return
	}
	if !slices.IsSortedFunc(b, cmpItem) {
		slices.SortFunc(b, cmpItem)
	}
	live := o.held[o.hs:]
	if len(live) == 0 || !b[0].less(&live[len(live)-1]) {
		o.held = append(o.held, b...)
	} else {
		i, _ := slices.BinarySearchFunc(live, b[0], cmpItem)
		o.tmp = append(o.tmp[:0], live[i:]...)
		o.held = o.held[:o.hs+i]
		x, y := o.tmp, b
		for len(x) > 0 && len(y) > 0 {
			if y[0].less(&x[0]) {
				o.held, y = append(o.held, y[0]), y[1:]
			} else {
				o.held, x = append(o.held, x[0]), x[1:]
			}
		}
		o.held = append(append(o.held, x...), y...)
		clear(o.tmp)
	}
	clear(b)
	o.batch = b[:0]
}

func cmpItem(a, b item) int { return a.cmp(b.cand) }

// minHeld returns how many events are held, and the smallest Time among them.
// Under o.mu.
func (o *orderer) minHeld() (int, int64) {
	o.merge()
	if n := len(o.held) - o.hs; n > 0 {
		return n, o.held[o.hs].t
	}
	return 0, 0
}

// pop takes the smallest held event (after merge). Under o.mu.
func (o *orderer) pop() item {
	it := o.held[o.hs]
	o.held[o.hs] = item{}
	o.hs++
	if o.hs == len(o.held) {
		o.held, o.hs = o.held[:0], 0
	}
	o.heldBytes -= it.r.size()
	return it
}

// sendReady sends the held events below the watermark (or below upTo when
// that is larger; all of them with all), and the smallest past it while
// over the bounds. Under o.mu.
func (s *Store) sendReady(upTo int64, all bool) {
	o := &s.ord
	upTo = max(upTo, o.w)
	o.merge()
	for len(o.held) > o.hs {
		if !all && o.held[o.hs].t >= upTo && len(o.held)-o.hs <= maxPending && o.heldBytes <= maxPendingBytes {
			break
		}
		it := o.pop()
		s.deliver(&it)
	}
	if n := len(o.held) - o.hs; o.hs > 0 && o.hs >= n {
		copy(o.held, o.held[o.hs:])
		clear(o.held[n:])
		o.held, o.hs = o.held[:n], 0
	}
	if n := len(o.held); cap(o.held) > 4096 && n < cap(o.held)/8 {
		// Give back a burst's memory, keeping room for the usual load.
		o.held = append(make([]item, 0, max(2*n, 1024)), o.held...)
	}
}

// deliver hands the event to every subscription that matches it and was
// made before it was queued. Under o.mu.
func (s *Store) deliver(it *item) {
	for _, sub := range s.subs.Load() {
		s.handTo(sub, it)
	}
}

// handTo hands the event to sub if it is sub's. Under o.mu.
func (s *Store) handTo(sub *Subscription, it *item) {
	if sub.ended || it.pos < sub.from[it.q] || !sub.matches(it.r) {
		return
	}
	ok, last := sub.take()
	if !ok {
		return
	}
	if sub.last.ID != 0 && (cand{t: sub.last.Time, id: sub.last.ID}).cmp(it.cand) >= 0 {
		sub.late.Add(1)
	} else {
		sub.last = Cursor{Time: it.t, ID: it.id}
	}
	sub.send(s.copyOut(it.id, it.r))
	if last {
		sub.ended = true
		sub.end()
	}
}

// advance moves the watermark on if it can, without waiting: a round
// reads the clock and moves the epoch on (flip), and completes once no
// Store of the old parity is in flight; it then drains the queues and sends
// what the new watermark allows. It reports whether a round completed.
// Under o.mu (the delivery task, or a Store helping).
func (s *Store) advance() bool {
	o := &s.ord
	if !o.flipped {
		o.flipT = s.now() // before the flip
		e := o.epoch.Load()
		o.epoch.Store(e + 1) // writers hold o.mu
		o.oldP, o.flipped = int(e&1), true
	}
	if o.inFlight(o.oldP) != 0 {
		return false
	}
	o.flipped = false
	// No Store of the new parity is in flight either: every Store that
	// registered before this check has committed, and its event is in a
	// queue that the drain below moves into held; every Store still to
	// commit registers after this check (or registered in the old parity
	// after its check), so it reads the clock after flipT. The watermark
	// needs no lag then (one round saved when the store is quiet). The
	// check must precede the drain: a Store of the new parity that
	// committed after the drain would be neither in flight nor held, and
	// its event, stamped before flipT, would come after ones sent past it.
	quiet := o.inFlight(1-o.oldP) == 0
	s.drain()
	o.rounds++
	upTo := int64(math.MinInt64)
	if o.rounds == o.flushAt && o.hi < math.MaxInt64 {
		upTo, o.flushedHi = o.hi+1, o.hi
	}
	if (o.flipT < o.prevT || o.hi > o.flushedHi && s.now() < o.hi) && o.flushAt <= o.rounds {
		// The clock went back (it reads less than it did, or than a
		// Store read before the drain): what was stamped before the step
		// is held once the next two rounds have waited for its Stores;
		// send it then (up to the highest reading seen) instead of when
		// the clock is back where it was. The Times stamped after the
		// step keep the watermark of the clock as it reads now.
		o.flushAt = o.rounds + 2
	}
	o.hi = max(o.hi, o.flipT)
	o.w = max(o.w, o.prevT)
	if quiet {
		o.w = max(o.w, o.flipT)
	}
	o.prevT = o.flipT
	s.sendReady(upTo, false)
	return true
}

// pass is one pass of the delivery: a round if it can complete (advance),
// else a drain of the queues and the sends that the bounds force. It
// reports whether a round completed. Under o.mu.
func (s *Store) pass() bool {
	if s.advance() {
		return true
	}
	s.drain()
	s.sendReady(math.MinInt64, false) // only what the bounds force
	return false
}

// runDelivery is the supervised task that delivers subscriptions' events:
// rounds while events are held and the clock is past the smallest, a sleep
// until the next commit when nothing is held, a timer on the store's clock
// when the smallest Time held is ahead of it. While a Store of the old
// parity is in flight (between its clock read and its commit) it yields at
// first, then sleeps, at most a millisecond at a time (a laggard may be
// descheduled for long), draining the queues meanwhile.
func (s *Store) runDelivery(ctx context.Context) error {
	o := &s.ord
	pause, spins := time.Microsecond, 0
	for ctx.Err() == nil {
		o.mu.Lock()
		if o.done {
			o.mu.Unlock()
			break
		}
		moved := s.pass()
		n, minT := o.minHeld()
		flush := o.flushAt > o.rounds
		o.mu.Unlock()
		if !moved {
			if spins++; spins < 16 {
				runtime.Gosched()
			} else {
				time.Sleep(pause)
				pause = min(2*pause, time.Millisecond)
			}
			continue
		}
		pause, spins = time.Microsecond, 0
		if flush {
			continue // the round after a backward step sends what is held
		}
		var wait time.Duration
		if n > 0 {
			now := s.now()
			if minT < now {
				continue // two rounds at most bring the watermark past it
			}
			wait = time.Duration(min(minT-now, int64(time.Hour))) + 1
		}
		o.sleeping.Store(true)
		if o.queued() {
			o.sleeping.Store(false)
			continue
		}
		var tc <-chan time.Time
		var tm clock.Timer
		if wait > 0 {
			tm = s.deps.Clock.NewTimer(wait)
			tc = tm.C()
			if s.now() > minT { // the clock moved on before the timer was set
				tm.Stop()
				o.sleeping.Store(false)
				continue
			}
		}
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-tc:
		}
		if tm != nil {
			tm.Stop()
		}
		o.sleeping.Store(false)
	}
	<-ctx.Done()
	return nil
}

// closeSubs is the store's Close for subscriptions: it waits (at most
// closeWait) for the Stores in flight, sends every event held, in (Time,
// ID) order, and closes every subscription.
func (s *Store) closeSubs() {
	o := &s.ord
	deadline := time.Now().Add(closeWait)
	for o.inFlight(0)+o.inFlight(1) != 0 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	o.mu.Lock()
	if !o.done {
		s.drain()
		s.sendReady(math.MinInt64, true)
		o.done = true
		o.held, o.batch, o.tmp = nil, nil, nil
	}
	o.mu.Unlock()
	for _, sub := range s.subs.Close() {
		sub.close()
	}
	o.subMu.Lock()
	o.active.Store(false)
	o.subMu.Unlock()
	select { // the delivery sees done
	case o.wake <- struct{}{}:
	default:
	}
}

// ---------------------------------------------------------------- the subscription

// Subscription delivers the events stored after [Store.Subscribe] that
// match its query to its owner's send func. Its methods are safe for
// concurrent use.
type Subscription struct {
	s     *Store
	send  func(Event)
	close func()
	q     Query
	lo    int64
	hi    int64
	from  [flightCells + 1]uint64 // the queues' tails when it was made
	left  atomic.Int64            // with q.Limit > 0: matching events still to hand over
	lost  atomic.Uint64           // matching events that found a queue full
	late  atomic.Uint64           // events handed over below one handed before
	// Under the delivery's mu: the largest (Time, ID) handed over (ID 0
	// before the first: IDs start at 1), and whether Close or the Limit
	// ended it.
	last  Cursor
	ended bool
}

// Subscribe registers a subscription to the events stored from now on that
// match q's Type, CorrelationID and Since/Until: those of the Stores that
// begin after Subscribe returns, not those that returned before it began
// (a Store running meanwhile may be either). The delivery task hands send
// each event's own copy in (Time, ID) order: an event is sent once every
// Store that read the clock before its Time has committed and the clock
// has passed its Time. send must not block (the owner's fanout.Sub drops
// when full).
//
// An event that a caller stored with a Time below the last one handed to
// this subscription (backfill, a clock that stepped back, or past the
// delivery's bounds, see maxPending) is late: it is still sent, as soon as
// possible (several late ones in (Time, ID) order among themselves), and
// counted by [Subscription.Late]. Events of Stores whose Time the store's
// clock sets are never late while the clock does not go back.
//
// With q.Limit > 0, the subscription ends (Close) once q.Limit matching
// events were handed to send or lost. closeFn is called once, by Close or
// by the store's Close (which first sends the events held); after the
// store's Close, and without Deps.Go (no delivery task), it is called at
// once.
func (s *Store) Subscribe(q Query, send func(Event), closeFn func()) *Subscription {
	sub := &Subscription{s: s, send: send, close: sync.OnceFunc(closeFn), q: q}
	sub.lo, sub.hi = timeBounds(q.Since, q.Until)
	sub.left.Store(int64(q.Limit))
	if s.deps.Go == nil {
		sub.close()
		return sub
	}
	o := &s.ord
	o.subMu.Lock()
	defer o.subMu.Unlock()
	qs := o.queues.Load()
	if qs == nil {
		qs = new([flightCells + 1]queue)
		o.queues.Store(qs)
	}
	o.active.Store(true)
	for i := range qs {
		sub.from[i] = qs[i].tail.Load()
	}
	if !s.subs.Add(sub) {
		o.active.Store(len(s.subs.Load()) > 0)
		sub.close()
	}
	return sub
}

// Close ends the subscription. It first sends the events already
// committed that wait for it (queued, or held for the clock: in (Time, ID)
// order, since none will follow), then calls its closeFn; no send after it
// returns. Idempotent.
func (sub *Subscription) Close() {
	s, o := sub.s, &sub.s.ord
	o.mu.Lock()
	if !sub.ended && !o.done {
		s.drain()
		o.merge()
		for i := o.hs; i < len(o.held); i++ { // in order, as held
			s.handTo(sub, &o.held[i]) // sends only sub's own
		}
	}
	sub.ended = true
	o.mu.Unlock()
	sub.end()
}

// end removes the subscription and calls its closeFn.
func (sub *Subscription) end() {
	o := &sub.s.ord
	o.subMu.Lock()
	sub.s.subs.Remove(sub)
	o.active.Store(len(sub.s.subs.Load()) > 0)
	o.subMu.Unlock()
	sub.close()
}

// Lost returns how many matching events found the delivery's queue full
// (dropped for this subscription before reaching send).
func (sub *Subscription) Lost() uint64 { return sub.lost.Load() }

// Late returns how many events were handed over below one handed before.
func (sub *Subscription) Late() uint64 { return sub.late.Load() }

// take counts one matching event against the Limit: ok when it may be
// handed over (or counted lost), last when it is the Limit's last.
func (sub *Subscription) take() (ok, last bool) {
	if sub.q.Limit <= 0 {
		return true, false
	}
	n := sub.left.Add(-1)
	return n >= 0, n == 0
}

func (sub *Subscription) matches(r *record) bool {
	return (sub.q.Type == "" || sub.q.Type == r.typ()) &&
		(sub.q.CorrelationID == "" || sub.q.CorrelationID == r.corr()) &&
		r.time >= sub.lo && r.time <= sub.hi
}
