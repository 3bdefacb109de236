package eventstore

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
	"unsafe"
)

// Cursor is a position in (Time, ID) order: the Time and ID of an event.
// The zero Cursor (ID 0, never assigned) means "from the start".
type Cursor struct {
	Time int64
	ID   uint64
}

// Query returns copies of the events that match q, in (Time, ID) order; it
// is [Store.QueryContext] with a background context.
func (s *Store) Query(q Query) ([]Event, error) {
	return s.QueryContext(context.Background(), q)
}

// QueryContext returns copies of the events that match q, ordered by
// (Time, ID): ascending, or descending with q.Descending. q.After, when its
// ID is set, keeps only the events strictly after it in that order (keyset
// paging: pass the last result of a page to get the next one).
//
// How: the newest blocks of IDs that the time index has not sealed yet are
// scanned whole; then the sealed blocks are visited in ID order (ascending
// or descending), only those whose [min, max] Time meets the query's range,
// through the key's index or the ring. The best Offset+Limit candidates by
// (Time, ID) are kept in a heap; the walk stops at the first block whose
// remaining blocks cannot beat the heap's worst (their min Time, from the
// tree, is above it; below it when descending), and leaves a block early
// when the block's Times were sorted at sealing and the heap is full.
// When Time follows ID (events stamped by the store), a page costs
// O(log n + Limit + one block), at any depth with After; Offset costs
// O(Offset) more. Every hit is checked against the ring, so no evicted or
// pruned event is returned. With Deps.Older, the best Offset+Limit of the
// ring are merged with the older tier's best Offset+Limit below First (see
// mergeOlder), each event once.
//
// Errors: [ErrInvalidQuery] for a negative Limit or Offset or Since > Until;
// [ErrTimeout] when ctx ends or Limits.QueryTimeout passes first (no
// partial result).
func (s *Store) QueryContext(ctx context.Context, q Query) ([]Event, error) {
	return s.query(ctx, q, nil)
}

// query runs q; the results are copied into buf when it is not nil (see
// QueryInto), else into new memory.
func (s *Store) query(ctx context.Context, q Query, buf *Buffer) ([]Event, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	lim := s.deps.Limits()
	limit, err := checkQuery(&q, lim.MaxResults)
	if err != nil {
		return nil, err
	}
	deadline := s.deps.Clock.Now().Add(lim.QueryTimeout)
	older := s.deps.Older
	for _, skipMode := range [2]bool{q.Offset > 0 && older == nil, false} {
		lo, hi := timeBounds(q.Since, q.Until)
		if q.After.ID != 0 {
			if q.Descending {
				hi = min(hi, q.After.Time)
			} else {
				lo = max(lo, q.After.Time)
			}
		}
		if lo > hi {
			if buf != nil {
				buf.take(0, 0) // drops the last page
			}
			return nil, nil
		}
		k := limit
		if !skipMode {
			// Keep Offset+Limit candidates, never more than the store
			// can hold.
			k = int(min(uint64(q.Offset)+uint64(limit), uint64(s.capacity)+uint64(limit)))
		}
		qr := getRun()
		qr.s, qr.ctx, qr.q, qr.limit, qr.k, qr.deadline, qr.skipMode = s, ctx, q, limit, k, deadline, skipMode
		qr.lo, qr.hi = lo, hi
		err := qr.run()
		var out []Event
		restart := qr.restart
		if err == nil && !restart {
			if older == nil {
				out = qr.results(buf)
			} else {
				// The merge allocates its results (see QueryInto).
				out, err = s.mergeOlder(ctx, q, limit, lim.QueryTimeout, qr.ordered())
			}
		}
		putRun(qr)
		if err != nil {
			return nil, err
		}
		if !restart {
			return out, nil
		}
	}
	panic("unreachable: a query without skip mode does not restart")
}

// MaxOffset caps Query.Offset: a query keeps Offset+Limit candidates, and
// with Deps.Older those are copies of the older tier's events.
const MaxOffset = 1 << 20

// checkQuery validates q and returns its effective limit.
func checkQuery(q *Query, maxResults int) (int, error) {
	switch {
	case q.Limit < 0:
		return 0, errf(ErrInvalidQuery, nil, fmt.Sprintf("query limit %d is negative", q.Limit), "field", "limit", "value", q.Limit)
	case q.Offset < 0:
		return 0, errf(ErrInvalidQuery, nil, fmt.Sprintf("query offset %d is negative", q.Offset), "field", "offset", "value", q.Offset)
	case q.Offset > MaxOffset:
		return 0, errf(ErrInvalidQuery, nil, fmt.Sprintf("query offset %d is over %d: page with After", q.Offset, MaxOffset),
			"field", "offset", "value", q.Offset, "max", MaxOffset)
	case q.Since != 0 && q.Until != 0 && q.Since > q.Until:
		return 0, errf(ErrInvalidQuery, nil, fmt.Sprintf("query since %d is after until %d", q.Since, q.Until),
			"field", "since", "since", q.Since, "until", q.Until)
	}
	limit := q.Limit
	if maxResults <= 0 {
		maxResults = 1000
	}
	if limit == 0 || limit > maxResults {
		limit = maxResults
	}
	return limit, nil
}

// timeBounds turns Since/Until (0 = open) into an inclusive range.
func timeBounds(since, until int64) (int64, int64) {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if since != 0 {
		lo = since
	}
	if until != 0 {
		hi = until
	}
	return lo, hi
}

// Correlated returns copies of every event held with this correlation id,
// ascending by (Time, ID). It is not capped by Limits.MaxResults: the
// store's capacity bounds it, and with Deps.Older the older tier adds at
// most Capacity more (its oldest). An empty id is an error matching
// [ErrInvalidQuery]; an id with no events returns an empty slice and no
// error.
func (s *Store) Correlated(correlationID string) ([]Event, error) {
	if correlationID == "" {
		return nil, errf(ErrInvalidQuery, nil, "correlation id is empty", "field", "correlation_id")
	}
	ids := s.byCorr.all(correlationID, s.ring.First())
	hits := make([]cand, 0, len(ids))
	for _, id := range ids {
		if r := s.lookup(id); r != nil && r.corr() == correlationID {
			hits = append(hits, cand{r.time, id, r})
		}
	}
	sortCands(hits, false)
	qr := queryRun{s: s, q: Query{CorrelationID: correlationID}}
	out := qr.copyAll(hits)
	if o := s.deps.Older; o != nil {
		// The older tier adds at most the store's capacity of events.
		ctx, cancel := context.WithTimeout(context.Background(), s.deps.Limits().QueryTimeout)
		defer cancel()
		old, err := o.Query(ctx, Query{CorrelationID: correlationID, Limit: s.capacity}, s.ring.First())
		if err != nil {
			return nil, olderError(err)
		}
		out = mergeOrdered(out, old, false, 0, len(out)+len(old))
	}
	if out == nil {
		out = []Event{}
	}
	return out, nil
}

// ---------------------------------------------------------------- query execution

// cand is a candidate result: its (Time, ID) key and its record.
type cand struct {
	t  int64
	id uint64
	r  *record
}

// cmp orders candidates by (Time, ID) ascending.
func (c cand) cmp(d cand) int {
	if c.t != d.t {
		return cmp.Compare(c.t, d.t)
	}
	return cmp.Compare(c.id, d.id)
}

// Phases of a query's walk.
const (
	phaseUnsealed = iota // the newest blocks, not summarized: scanned whole
	phaseSealed          // summarized blocks, with skips and an early stop
)

// queryRun is one query in progress.
type queryRun struct {
	s        *Store
	ctx      context.Context
	q        Query
	lo, hi   int64 // inclusive time bounds (narrowed by After)
	limit    int
	k        int // candidates kept: Offset+Limit
	deadline time.Time
	steps    int
	err      error
	heap     []cand // the best k so far: sorted best first, or a heap (heaped) with the worst at [0]
	heaped   bool
	// With skipMode (an Offset, first try), the first Offset candidates
	// are counted, not kept, while they arrive in the query's order (the
	// common case): skipped of them so far, lastSkipped the last. A
	// candidate that belongs among them (out of order) sets restart: the
	// query runs again keeping Offset+Limit candidates.
	skipMode    bool
	skipped     int
	lastSkipped cand
	restart     bool
	// The candidates of the unsealed blocks, collected first and sorted in
	// the query's order, then merged into the sealed walk, so that the
	// candidates are offered in order when Time follows ID: pending is
	// what is left to offer of pendBuf.
	pending []cand
	pendBuf []cand

	phase     int
	fb, sb    uint64 // sealed blocks: [fb, sb)
	curBlk    uint64 // the block of the last candidate (phaseSealed)
	haveBlk   bool
	blkSorted bool
	// Set when consider stops the walk: stop ends it; jump resumes it at
	// the next candidate block after (before, descending) jumpFrom.
	stop     bool
	jump     bool
	jumpFrom uint64

	curs []cursor // the index cursors, one per stripe (kept by the pool)
}

// worse reports whether a ranks after b in the query's order.
func (qr *queryRun) worse(a, b cand) bool {
	if qr.q.Descending {
		return a.cmp(b) < 0
	}
	return a.cmp(b) > 0
}

// runs holds finished queries for reuse (their candidate lists and index
// pages): a query's only allocations are then its results (the Events and
// one arena).
var runs = sync.Pool{New: func() any { return new(queryRun) }}

// getRun returns a cleared queryRun that keeps the buffers of an earlier
// one: the pool holds only new ones and those putRun cleared.
func getRun() *queryRun { return runs.Get().(*queryRun) }

// putRun clears what qr points to (records must not stay reachable from
// the pool, nor the store or the query's strings) and pools it, unless its
// lists grew past 64 Ki candidates (an Offset query's).
func putRun(qr *queryRun) {
	if cap(qr.heap) > 64<<10 || cap(qr.pendBuf) > 64<<10 {
		return
	}
	clear(qr.heap)
	clear(qr.pendBuf)
	for i := range qr.curs {
		qr.curs[i].bag = nil
	}
	*qr = queryRun{heap: qr.heap[:0], pendBuf: qr.pendBuf[:0], curs: qr.curs}
	runs.Put(qr)
}

// offer keeps c if it is among the best k. While candidates arrive in the
// query's order (the common case: Time follows ID), the kept ones are a
// sorted run: an append, and a full run rejects with one compare against
// its last. The first candidate out of order turns the run into a heap
// (heap[0] the worst).
func (qr *queryRun) offer(c cand) {
	if qr.skipMode {
		switch {
		case qr.skipped > 0 && qr.worse(qr.lastSkipped, c):
			qr.restart, qr.stop = true, true
			return
		case qr.skipped < qr.q.Offset:
			qr.skipped++
			qr.lastSkipped = c
			return
		}
	}
	h := qr.heap
	if !qr.heaped {
		if len(h) == 0 || !qr.worse(h[len(h)-1], c) {
			if len(h) < qr.k {
				qr.heap = append(h, c)
			}
			return
		}
		// Out of order: heapify (the run is sorted best first, so its
		// reverse already satisfies "parents are worse").
		slices.Reverse(h)
		qr.heaped = true
	}
	if len(h) < qr.k {
		h = append(h, c)
		for i := len(h) - 1; i > 0; { // sift up: parents are worse
			p := (i - 1) / 2
			if !qr.worse(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
		qr.heap = h
		return
	}
	if !qr.worse(h[0], c) {
		return
	}
	h[0] = c
	for i := 0; ; { // sift down
		l, w := 2*i+1, i
		if l < len(h) && qr.worse(h[l], h[w]) {
			w = l
		}
		if l+1 < len(h) && qr.worse(h[l+1], h[w]) {
			w = l + 1
		}
		if w == i {
			break
		}
		h[i], h[w] = h[w], h[i]
		i = w
	}
}

// worst returns the worst kept candidate (the caller checked full).
func (qr *queryRun) worst() cand {
	if qr.heaped {
		return qr.heap[0]
	}
	return qr.heap[len(qr.heap)-1]
}

func (qr *queryRun) full() bool { return len(qr.heap) >= qr.k }

func (qr *queryRun) run() error {
	s, q := qr.s, qr.q
	var (
		bag *index
		key string
	)
	switch {
	case q.Type != "" && q.CorrelationID != "":
		// Page the shorter list, filter by the other key.
		if s.byCorr.count(q.CorrelationID) < s.byType.count(q.Type) {
			bag, key = s.byCorr, q.CorrelationID
		} else {
			bag, key = s.byType, q.Type
		}
	case q.Type != "":
		bag, key = s.byType, q.Type
	case q.CorrelationID != "":
		bag, key = s.byCorr, q.CorrelationID
	}
	scan := func(a, b uint64) bool {
		if bag != nil {
			return qr.mergeIndex(bag, key, a, b)
		}
		return qr.scanRing(a, b)
	}

	t := &s.times
	t.sealRLock(s)
	defer t.mu.RUnlock()
	first, next := s.ring.First(), s.ring.Next()
	if next <= first {
		return nil
	}
	first = max(first, 1)
	fb, lb := first>>blockShift, (next-1)>>blockShift
	sb := min(max(t.frontier, fb), lb+1)
	qr.fb, qr.sb = fb, sb

	// The unsealed blocks, whole: their Times are not summarized, so any
	// of them may belong anywhere in the order.
	qr.phase = phaseUnsealed
	qr.pending = qr.pendBuf
	if a := max(sb<<blockShift, first); a <= next-1 {
		ok := scan(a, next-1)
		qr.pendBuf = qr.pending
		if !ok && qr.stop {
			return qr.err
		}
	}
	sortCands(qr.pending, q.Descending)
	// The sealed blocks, in ID order, candidates only.
	qr.phase = phaseSealed
	desc := q.Descending
	blk, ok := t.firstCandidate(fb, sb, qr.lo, qr.hi, desc)
	for ok {
		if qr.full() && qr.beyond(blk) {
			break // no event from blk on can beat the kept ones: do not page
		}
		qr.jump, qr.haveBlk = false, false
		if desc {
			scan(max(fb<<blockShift, first), (blk+1)<<blockShift-1)
		} else {
			scan(max(blk<<blockShift, first), sb<<blockShift-1)
		}
		if qr.stop || !qr.jump {
			break
		}
		if desc {
			if qr.jumpFrom <= fb {
				break
			}
			blk, ok = t.firstCandidate(fb, qr.jumpFrom, qr.lo, qr.hi, true)
		} else {
			blk, ok = t.firstCandidate(qr.jumpFrom+1, sb, qr.lo, qr.hi, false)
		}
	}
	if qr.err == nil && !qr.restart {
		qr.stop = false
		for _, c := range qr.pending {
			if qr.offer(c); qr.stop {
				break
			}
		}
	}
	return qr.err
}

// flushPending offers the pending candidates that rank before c.
func (qr *queryRun) flushPending(c cand) {
	i := 0
	for ; i < len(qr.pending) && qr.worse(c, qr.pending[i]); i++ {
		if qr.offer(qr.pending[i]); qr.stop {
			break
		}
	}
	qr.pending = qr.pending[i:]
}

// enterBlock is called when the sealed walk reaches a candidate in block b;
// false stops the scan (qr.stop or qr.jump set).
func (qr *queryRun) enterBlock(b uint64) bool {
	t := &qr.s.times
	qr.curBlk, qr.haveBlk = b, true
	if !t.leafMeets(b, qr.lo, qr.hi) {
		qr.jump, qr.jumpFrom = true, b
		return false
	}
	qr.blkSorted = t.sorted[b%t.nb]
	if qr.full() && qr.beyond(b) {
		qr.stop = true
		return false
	}
	return true
}

// beyond reports whether no event of sealed block b, nor of the sealed
// blocks after it in the query's order, can rank before the worst kept
// candidate (the caller checked full): their Times are all after its Time
// (before it, descending); under mu.
func (qr *queryRun) beyond(b uint64) bool {
	t, worst := &qr.s.times, qr.worst().t
	if qr.q.Descending {
		_, mx := t.blockMinMax(qr.fb, b+1)
		return mx < worst
	}
	mn, _ := t.blockMinMax(b, qr.sb)
	return mn > worst
}

// tick counts a step and checks the deadline and the context every 256
// steps; false means stop (qr.err is set).
func (qr *queryRun) tick() bool {
	qr.steps++
	if qr.steps&255 != 0 {
		return true
	}
	return qr.check()
}

// check checks the context and the deadline; false means stop (qr.err is
// set).
func (qr *queryRun) check() bool {
	if err := qr.ctx.Err(); err != nil {
		qr.err = errf(ErrTimeout, err, "query cancelled", "steps", qr.steps)
		qr.stop = true
		return false
	}
	if qr.s.deps.Clock.Now().After(qr.deadline) {
		qr.err = errf(ErrTimeout, nil, "query exceeded interface.query_timeout", "steps", qr.steps)
		qr.stop = true
		return false
	}
	return true
}

// consider checks one candidate in ID order and offers it; false means the
// scan stops (qr.stop, or qr.jump to skip the rest of a block).
func (qr *queryRun) consider(id uint64, r *record) bool {
	if !qr.tick() {
		return false
	}
	if qr.phase == phaseSealed {
		if b := id >> blockShift; !qr.haveBlk || b != qr.curBlk {
			if !qr.enterBlock(b) {
				return false
			}
		}
	}
	if r == nil || !r.visible() {
		return true
	}
	q := &qr.q
	if (q.Type != "" && r.typ() != q.Type) || (q.CorrelationID != "" && r.corr() != q.CorrelationID) {
		return true
	}
	t := r.time
	if t < qr.lo || t > qr.hi {
		if qr.phase == phaseSealed && qr.blkSorted && ((!q.Descending && t > qr.hi) || (q.Descending && t < qr.lo)) {
			return qr.leaveBlock() // the rest of the block is out of range too
		}
		return true
	}
	c := cand{t, id, r}
	if q.After.ID != 0 {
		if a := (cand{t: q.After.Time, id: q.After.ID}); !qr.worse(c, a) {
			return true
		}
	}
	if qr.phase == phaseUnsealed {
		qr.pending = append(qr.pending, c)
		return true
	}
	if len(qr.pending) > 0 {
		if qr.flushPending(c); qr.stop {
			return false
		}
	}
	if qr.full() && !qr.worse(qr.worst(), c) {
		// Not among the best; in a sorted block, neither is the rest of it.
		if qr.phase == phaseSealed && qr.blkSorted && t != qr.worst().t {
			return qr.leaveBlock()
		}
		return true
	}
	qr.offer(c)
	return !qr.stop
}

// leaveBlock ends the scan of the current block and resumes at the next
// candidate block.
func (qr *queryRun) leaveBlock() bool {
	if qr.q.Descending && qr.curBlk == 0 {
		qr.stop = true
		return false
	}
	qr.jump, qr.jumpFrom = true, qr.curBlk
	return false
}

// scanRing visits the ring's events with IDs in [a, b] in query order.
func (qr *queryRun) scanRing(a, b uint64) bool {
	if qr.q.Descending {
		for id, r := range qr.s.ring.Descend(b) {
			if id < a {
				break
			}
			if !qr.consider(id, r) {
				return false
			}
		}
		return true
	}
	for id, r := range qr.s.ring.Ascend(a) {
		if id > b {
			break
		}
		if !qr.consider(id, r) {
			return false
		}
	}
	return true
}

// batch is how many IDs mergeIndex takes from the index at a time.
const batch = 64

// mergeIndex visits key's IDs in [a, b] in query order: a merge of one page
// per stripe (each page a binary search: O(log n + page); the stripes are
// per P, so few). It works in batches: the IDs of a batch are taken from
// the pages first, then the batch's records are loaded in one loop of
// independent loads (the CPU overlaps their cache misses, where loading
// each record just before considering it would wait for each miss in
// turn), then the records are considered in order.
func (qr *queryRun) mergeIndex(x *index, key string, a, b uint64) bool {
	desc := qr.q.Descending
	if len(qr.curs) < len(x.stripes) {
		qr.curs = make([]cursor, len(x.stripes))
	}
	curs := qr.curs[:len(x.stripes)]
	// A first page of about each stripe's share of what the query still
	// needs (pages then double).
	page := min(max((qr.k-len(qr.heap)+1)/len(curs)+8, 16), maxPage)
	for i := range curs {
		curs[i].reset(x.stripes[i], a, b, page)
	}
	var (
		ids   [batch]uint64
		recs  [batch]*record
		times [batch]int64
	)
	ring := qr.s.ring
	// plain: the sealed walk of a query with one key, no time range, no
	// After and no Offset to skip: what consider checks beyond visibility
	// and order always passes.
	q := &qr.q
	plain := qr.phase == phaseSealed && !qr.skipMode && q.After.ID == 0 &&
		qr.lo == math.MinInt64 && qr.hi == math.MaxInt64 && (q.Type == "" || q.CorrelationID == "")
	for {
		// Not more than the query still needs, so that a small Limit
		// does not load a whole batch of records.
		want := min(max(qr.k-len(qr.heap)+1, 8), batch)
		n := 0
		switch len(curs) {
		case 1:
			n = curs[0].take(key, desc, ids[:want])
		case 2:
			n = merge2(&curs[0], &curs[1], key, desc, ids[:want])
		default:
			for n < want {
				best, bestID := -1, uint64(0)
				for i := range curs {
					c := &curs[i]
					if !c.fill(key, desc) {
						continue
					}
					id := c.ids[c.pos]
					if best < 0 || (desc && id > bestID) || (!desc && id < bestID) {
						best, bestID = i, id
					}
				}
				if best < 0 {
					break
				}
				curs[best].pos++
				ids[n] = bestID
				n++
			}
		}
		ring.GetBatch(ids[:n], recs[:n])
		for i, r := range recs[:n] {
			if r != nil {
				times[i] = r.time // the record's miss, overlapped with the others
			}
		}
		// The batch counts its steps at once; the deadline is checked
		// when they cross a multiple of 256, as tick does.
		if qr.steps>>8 != (qr.steps+n)>>8 {
			if !qr.check() {
				return false
			}
		}
		qr.steps += n
		for i := 0; i < n; i++ {
			if plain && qr.haveBlk && len(qr.pending) == 0 && !qr.heaped {
				if i = qr.appendRun(ids[:n], recs[:n], times[:n], i, desc); i == n {
					break
				}
			}
			if !qr.consider(ids[i], recs[i]) {
				return false
			}
			qr.steps-- // consider counted it again
		}
		if n < want {
			return true // every stripe is done
		}
	}
}

// appendRun is consider for the common case, without its general checks:
// an open query (see mergeIndex's plain) in the sealed walk, nothing
// pending, the kept candidates a sorted run. From index i on, it keeps the
// candidates while there is room and each is in order after the last one
// kept (IDs are distinct, so a tie on Time is decided by the ID), and skips
// the records not visible. It enters the next block as enterBlock does
// (with room left, entering a block whose summary meets the query's range
// cannot stop the walk), and leaves to consider a block whose summary does
// not. It returns the index of the first candidate it did not take, for
// consider.
func (qr *queryRun) appendRun(ids []uint64, recs []*record, times []int64, i int, desc bool) int {
	h, k, blk := qr.heap, qr.k, qr.curBlk
	recs, times = recs[:len(ids)], times[:len(ids)]
	// Room for every candidate this batch could add, so that the loop
	// stores by index (no append, no growth check per candidate).
	if room := min(k, len(h)+len(ids)-i); cap(h) < room {
		h = slices.Grow(h, room-len(h))
	}
	n, lim := len(h), min(k, cap(h))
	h = h[:cap(h)]
	var lt int64
	var lid uint64
	if n > 0 {
		lt, lid = h[n-1].t, h[n-1].id
	}
	ti := &qr.s.times
	for ; i < len(ids) && n < lim; i++ {
		id, r := ids[i], recs[i]
		if r == nil {
			break
		}
		if b := id >> blockShift; b != blk {
			if !ti.leafMeets(b, qr.lo, qr.hi) {
				break
			}
			blk = b
			qr.curBlk, qr.blkSorted = b, ti.sorted[b%ti.nb]
		}
		if !r.visible() {
			continue
		}
		t := times[i]
		if n > 0 {
			if desc {
				if !(t < lt || t == lt && id < lid) {
					break
				}
			} else if !(t > lt || t == lt && id > lid) {
				break
			}
		}
		h[n] = cand{t, id, r}
		n++
		lt, lid = t, id
	}
	qr.heap = h[:n]
	return i
}

// merge2 fills ids with the next IDs of two stripes' cursors, merged in
// query order, and returns how many: len(ids) unless both are done.
func merge2(a, b *cursor, key string, desc bool, ids []uint64) int {
	n := 0
	for n < len(ids) {
		okA, okB := a.fill(key, desc), b.fill(key, desc)
		switch {
		case !okA && !okB:
			return n
		case !okB:
			return n + a.take(key, desc, ids[n:])
		case !okA:
			return n + b.take(key, desc, ids[n:])
		}
		// Both pages hold IDs: merge until one of them runs out.
		pa, pb := a.ids[a.pos:], b.ids[b.pos:]
		i, j := 0, 0
		for n < len(ids) && i < len(pa) && j < len(pb) {
			if x, y := pa[i], pb[j]; (x < y) != desc {
				ids[n] = x
				i++
			} else {
				ids[n] = y
				j++
			}
			n++
		}
		a.pos += i
		b.pos += j
	}
	return n
}

// results sorts the kept candidates into the query's order, drops the
// Offset first and copies the rest out: into buf when it is not nil.
func (qr *queryRun) results(buf *Buffer) []Event {
	h := qr.kept()
	if !qr.skipMode {
		h = h[min(qr.q.Offset, len(h)):]
	}
	h = h[:min(len(h), qr.limit)]
	if buf != nil {
		return qr.copyInto(buf, h)
	}
	return qr.copyAll(h)
}

// ordered returns copies of every kept candidate, in the query's order
// (Offset and Limit not applied: the older tier's merge applies them).
func (qr *queryRun) ordered() []Event {
	return qr.copyAll(qr.kept())
}

// kept returns the kept candidates in the query's order: the sorted run
// as it is, or the heap sorted.
func (qr *queryRun) kept() []cand {
	if qr.heaped {
		sortCands(qr.heap, qr.q.Descending)
	}
	return qr.heap
}

// sortCands sorts cs by (Time, ID), ascending or with desc descending.
func sortCands(cs []cand, desc bool) {
	if desc {
		slices.SortFunc(cs, func(a, b cand) int { return b.cmp(a) })
		return
	}
	slices.SortFunc(cs, func(a, b cand) int { return a.cmp(b) })
}

// v16 is what copyOut moves at a time: 16 bytes, one vector register.
type v16 = [16]byte

// copyAll copies the candidates out, in order, into new memory: one slice
// of Events and one arena for their bytes (see copyOut).
func (qr *queryRun) copyAll(cs []cand) []Event {
	if len(cs) == 0 {
		return nil
	}
	out := make([]Event, len(cs))
	var arena []byte
	if n := qr.arenaLen(cs, false); n > 0 {
		arena = make([]byte, n)
	}
	qr.copyOut(out, arena, cs, false)
	return out
}

// copyInto copies the candidates out, in order, into buf's memory, grown
// when it is too small. The CorrelationIDs are the records' own bytes
// (recordCorr), not buf's: a string must never change, and buf's bytes
// change with its next page.
func (qr *queryRun) copyInto(buf *Buffer, cs []cand) []Event {
	if len(cs) == 0 {
		buf.take(0, 0) // drops the last page
		return nil
	}
	out, arena := buf.take(len(cs), qr.arenaLen(cs, true))
	qr.copyOut(out, arena, cs, true)
	return out
}

// arenaLen returns the bytes copyOut needs for cs: every Data, and every
// CorrelationID unless the query names it or recordCorr is set.
func (qr *queryRun) arenaLen(cs []cand, recordCorr bool) int {
	n := 0
	if qr.q.CorrelationID != "" || recordCorr {
		for i := range cs {
			n += int(cs[i].r.dlen)
		}
		return n
	}
	for i := range cs {
		r := cs[i].r
		n += int(r.clen + r.dlen)
	}
	return n
}

// copyOut writes copies of the candidates' events, in order, to out
// (len(cs) Events, every field written: out may hold an earlier page), and
// their bytes to arena (arenaLen(cs) bytes): each CorrelationID and Data,
// each Data capped by a 3-index slice, so that a caller's append cannot
// reach a neighbour. The Type and the CorrelationID are the query's own
// when it names them (every result has them), else the Type is the
// store's interned copy and the CorrelationID is backed by the arena, or
// with recordCorr by the record (immutable: records are never written
// once pushed, and the string keeps the record's memory alive).
func (qr *queryRun) copyOut(out []Event, arena []byte, cs []cand, recordCorr bool) {
	qtype, qcorr := qr.q.Type, qr.q.CorrelationID
	out = out[:len(cs)]
	// arena holds exactly the bytes of cs (arenaLen, from the same
	// immutable lengths): the loop writes it through a pointer, with one
	// check per event that it stays within.
	skipCorr := qcorr != "" || recordCorr
	recordCorr = recordCorr && qcorr == ""
	base, off, end := unsafe.Pointer(unsafe.SliceData(arena)), uintptr(0), uintptr(len(arena))
	for i := range cs {
		c := &cs[i]
		r := c.r
		// The bytes to copy: CorrelationID and Data as stored (they
		// follow each other in the record), or Data alone when the query
		// names the CorrelationID.
		start, cl, m := r.tlen, r.clen, r.clen+r.dlen
		if skipCorr {
			start, cl, m = r.tlen+r.clen, 0, r.dlen
		}
		corr := qcorr
		if recordCorr {
			corr = r.corr()
		}
		var data []byte
		if m > 0 {
			if off+uintptr(m) > end {
				panic("eventstore: copyOut's arena is smaller than its events")
			}
			p := unsafe.Add(base, off) // never one past the arena's end
			b := unsafe.Slice((*byte)(p), m)
			// Sizes from 16 to 128 bytes (a typical event's tail) are
			// copied inline, as memmove does: 16-byte moves from each
			// end (2, 4 or 8) that overlap in the middle; no call, so
			// the loop keeps its values in registers. Other sizes call
			// memmove.
			d, s, n := p, unsafe.Pointer(r.payload(start)), uintptr(m)
			if n < 16 || n > 128 {
				copy(b, unsafe.Slice((*byte)(s), n))
			} else {
				// dl, sl: the last 16 bytes, so that each address is a
				// register and a constant offset.
				dl, sl := unsafe.Add(d, n-16), unsafe.Add(s, n-16)
				if n > 32 {
					if n > 64 {
						*(*v16)(unsafe.Add(d, 32)) = *(*v16)(unsafe.Add(s, 32))
						*(*v16)(unsafe.Add(d, 48)) = *(*v16)(unsafe.Add(s, 48))
						*(*v16)(unsafe.Add(dl, -48)) = *(*v16)(unsafe.Add(sl, -48))
						*(*v16)(unsafe.Add(dl, -32)) = *(*v16)(unsafe.Add(sl, -32))
					}
					*(*v16)(unsafe.Add(d, 16)) = *(*v16)(unsafe.Add(s, 16))
					*(*v16)(unsafe.Add(dl, -16)) = *(*v16)(unsafe.Add(sl, -16))
				}
				*(*v16)(d) = *(*v16)(s)
				*(*v16)(dl) = *(*v16)(sl)
			}
			if cl > 0 {
				corr = unsafe.String((*byte)(p), cl)
			}
			if m > cl {
				data = b[cl:]
			}
			off += uintptr(m)
		}
		// Every field, the pointer words together (they share one write
		// barrier check).
		e := &out[i]
		e.ID, e.Time, e.ParentID = c.id, r.time, r.parent
		e.Type, e.CorrelationID, e.Data = qtype, corr, data
	}
	if qtype == "" {
		// The store's interned copies of the Types (consecutive events
		// often share one): a loop of its own, so that the copy loop
		// makes no call for sizes of 16 to 128 bytes.
		var last string
		for i := range cs {
			if t := cs[i].r.typ(); t != last {
				last = qr.s.types.get(t)
			}
			out[i].Type = last
		}
	}
}
