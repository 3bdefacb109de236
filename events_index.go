package foundation

import (
	"context"
	"math"
	"math/bits"
	"sync"
	"time"
)

// The time index.
//
// Events arrive nearly in time order (Store stamps them from the clock) but
// a caller may set any Time. The index keeps, per block of 256 consecutive
// IDs, the min and max Time of the block's events, in a segment tree (min of
// mins, max of maxes per node) over a circular array of block slots sized to
// the ring. A time range [lo, hi] maps to the candidate blocks whose
// [min, max] intersects it: a descent of the tree that skips every subtree
// that cannot intersect, O(log B) per run of candidate blocks. In the common
// case the candidates are one contiguous run, so a time query costs
// O(log n + results); an out-of-order event costs one extra candidate block,
// never a wrong answer.
//
// Exactness: a block's summary is computed once the block is complete (all
// its IDs assigned and published, or gone), by scanning it; after that its
// events can only leave (eviction, pruning), so the summary stays an
// over-approximation, which is safe (a block is a candidate, then its events
// are checked one by one). Blocks are sealed in ID order (frontier), lazily:
// by time-range queries and by the pruner, never by Store, which pays
// nothing for this index. Blocks at or past the frontier (the newest, still
// filling) are always candidates and are scanned.
const (
	blockShift = 8
	blockSize  = 1 << blockShift
)

type timeIndex struct {
	mu       sync.RWMutex // writers: seal; readers: candidate walks
	nb       uint64       // block slots: enough for every block the ring can hold
	size     int          // leaves of the tree (a power of two ≥ nb)
	mn, mx   []int64      // tree nodes, root at 1, leaf of slot i at size+i; empty: mn > mx
	frontier uint64       // blocks < frontier are sealed; the next one to seal
	base     uint64       // blocks in [base, frontier) may have a leaf set
}

func (t *timeIndex) init(capacity int) {
	t.nb = uint64(capacity)/blockSize + 3 // the ring spans at most cap/256+2 blocks
	t.size = 1 << bits.Len64(t.nb-1)
	t.mn = make([]int64, 2*t.size)
	t.mx = make([]int64, 2*t.size)
	for i := range t.mn {
		t.mn[i], t.mx[i] = math.MaxInt64, math.MinInt64
	}
}

// setLeaf sets slot i and fixes its ancestors; under mu.
func (t *timeIndex) setLeaf(i int, mn, mx int64) {
	n := t.size + i
	t.mn[n], t.mx[n] = mn, mx
	for n >>= 1; n >= 1; n >>= 1 {
		t.mn[n] = min(t.mn[2*n], t.mn[2*n+1])
		t.mx[n] = max(t.mx[2*n], t.mx[2*n+1])
	}
}

// seal computes the summaries of the complete blocks past the frontier.
func (t *timeIndex) seal(s *EventStore) {
	first, next := s.ring.First(), s.ring.Next()
	t.mu.RLock()
	todo := t.frontier < next>>blockShift
	t.mu.RUnlock()
	if !todo {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fb := first >> blockShift
	if t.frontier < fb {
		t.frontier = fb // blocks that left before anyone sealed them
	}
	if fb > t.nb && t.base < fb-t.nb {
		t.base = fb - t.nb // older slots were all reused or cleared
	}
	for ; t.base < fb; t.base++ { // blocks gone: forget their summaries
		if t.base+t.nb >= t.frontier { // slot not reused by a sealed block
			t.setLeaf(int(t.base%t.nb), math.MaxInt64, math.MinInt64)
		}
	}
	for t.frontier < next>>blockShift {
		mn, mx, ok := scanBlock(s, t.frontier)
		if !ok {
			return // a push in flight: seal later
		}
		t.setLeaf(int(t.frontier%t.nb), mn, mx)
		t.frontier++
	}
}

// scanBlock returns the min and max Time of block b's visible events; ok is
// false when one of its IDs is assigned but not yet published.
func scanBlock(s *EventStore, b uint64) (mn, mx int64, ok bool) {
	mn, mx = math.MaxInt64, math.MinInt64
	for id := max(b<<blockShift, 1); id < (b+1)<<blockShift; id++ {
		r, found := s.ring.Get(id)
		if !found {
			if id < s.ring.First() {
				continue // gone
			}
			return 0, 0, false
		}
		if !r.visible() {
			continue
		}
		mn, mx = min(mn, r.time), max(mx, r.time)
	}
	return mn, mx, true
}

// candidates calls yield with the runs [a, b] of IDs (inclusive, in query
// order, merged when adjacent) that may hold events with Time in [lo, hi].
// It seals first. yield returns false to stop.
func (t *timeIndex) candidates(s *EventStore, lo, hi int64, desc bool, yield func(a, b uint64) bool) {
	t.seal(s)
	first, next := s.ring.First(), s.ring.Next()
	if next <= first {
		return
	}
	fb, lb := first>>blockShift, (next-1)>>blockShift // resident blocks [fb, lb]

	var runA, runB uint64
	have := false
	flush := func() bool {
		if !have {
			return true
		}
		have = false
		return yield(max(runA, first, 1), min(runB, next-1))
	}
	// emit adds block blk to the current run or starts a new one.
	emit := func(blk uint64) bool {
		a, b := blk<<blockShift, (blk+1)<<blockShift-1
		if have {
			if !desc && a == runB+1 {
				runB = b
				return true
			}
			if desc && b+1 == runA {
				runA = a
				return true
			}
			if !flush() {
				return false
			}
		}
		runA, runB, have = a, b, true
		return true
	}

	t.mu.RLock()
	sb := max(t.frontier, fb) // blocks [fb, sb) are sealed, [sb, lb] are not
	unsealed := func() bool {
		if desc {
			for blk := lb; blk >= sb && blk+1 > 0; blk-- {
				if !emit(blk) {
					return false
				}
				if blk == 0 {
					break
				}
			}
			return true
		}
		for blk := sb; blk <= lb; blk++ {
			if !emit(blk) {
				return false
			}
		}
		return true
	}
	sealed := func() bool {
		if fb >= sb {
			return true
		}
		n := sb - fb
		s0 := fb % t.nb
		// The sealed blocks occupy slots [s0, s0+n) modulo nb: one or two
		// slot intervals, each walked in block order.
		type iv struct {
			l, r int
			blk0 uint64 // block of slot l
		}
		var ivs [2]iv
		k := 0
		if s0+n <= t.nb {
			ivs[0] = iv{int(s0), int(s0 + n), fb}
			k = 1
		} else {
			ivs[0] = iv{int(s0), int(t.nb), fb}
			ivs[1] = iv{0, int(s0 + n - t.nb), fb + (t.nb - s0)}
			k = 2
		}
		order := []int{0, 1}[:k]
		if desc && k == 2 {
			order = []int{1, 0}
		}
		for _, j := range order {
			v := ivs[j]
			ok := t.walk(1, 0, t.size, v.l, v.r, lo, hi, desc, func(slot int) bool {
				return emit(v.blk0 + uint64(slot-v.l))
			})
			if !ok {
				return false
			}
		}
		return true
	}
	var ok bool
	if desc {
		ok = unsealed() && sealed()
	} else {
		ok = sealed() && unsealed()
	}
	t.mu.RUnlock()
	if ok {
		flush()
	}
}

// walk visits, in slot order (reversed when desc), the leaves in [l, r)
// whose [mn, mx] intersects [lo, hi], skipping whole subtrees that cannot.
func (t *timeIndex) walk(n, nl, nr, l, r int, lo, hi int64, desc bool, yield func(slot int) bool) bool {
	if nr <= l || nl >= r || t.mn[n] > t.mx[n] || t.mx[n] < lo || t.mn[n] > hi {
		return true
	}
	if nr-nl == 1 {
		return yield(nl)
	}
	mid := (nl + nr) / 2
	if desc {
		return t.walk(2*n+1, mid, nr, l, r, lo, hi, desc, yield) && t.walk(2*n, nl, mid, l, r, lo, hi, desc, yield)
	}
	return t.walk(2*n, nl, mid, l, r, lo, hi, desc, yield) && t.walk(2*n+1, mid, nr, l, r, lo, hi, desc, yield)
}

// pruneBefore prunes in place the live events with Time < cut that the
// candidate blocks hold; it returns how many.
func (t *timeIndex) pruneBefore(s *EventStore, cut int64) int {
	if cut == math.MinInt64 {
		return 0
	}
	n := 0
	t.candidates(s, math.MinInt64, cut-1, false, func(a, b uint64) bool {
		for id := a; id <= b; id++ {
			if r, ok := s.ring.Get(id); ok && r.time < cut && s.pruneRecord(id, r) {
				n++
			}
		}
		return true
	})
	return n
}

// ---------------------------------------------------------------- query execution

// queryRun is one query in progress.
type queryRun struct {
	s        *EventStore
	ctx      context.Context
	q        Query
	lo, hi   int64 // inclusive time bounds
	limit    int
	skip     int // matches still to skip (Offset)
	deadline time.Time
	steps    int
	err      error
	out      []Event
	arena    []byte    // CorrelationID and Data copies of the results are carved from it: one allocation per 4 KiB, not per event
	lastType string    // the Type of the last result (interned)
	cur      [2]cursor // the index cursors of up to two stripes (GOMAXPROCS <= 2)
}

// copyOut copies r out: its CorrelationID and Data in the query's arena,
// its Type the query's own (a query by type) or the last one copied or the
// store's interned copy. Each Data is capped (a 3-index slice), so a
// caller's append cannot reach a neighbour.
func (qr *queryRun) copyOut(id uint64, r *record) Event {
	e := Event{ID: id, Time: r.time, ParentID: r.parent}
	switch t := r.typ(); {
	case qr.q.Type != "":
		e.Type = qr.q.Type
	case t == qr.lastType:
		e.Type = qr.lastType
	default:
		e.Type = qr.s.types.get(t)
		qr.lastType = e.Type
	}
	if d := r.tail(); d != nil {
		if len(d) > cap(qr.arena)-len(qr.arena) {
			// The first chunk fits a few events; later ones 4 KiB.
			size := 4096
			if qr.arena == nil {
				size = min(qr.sizeHint()*len(d), 64<<10)
			}
			qr.arena = make([]byte, 0, max(size, len(d)))
		}
		n := len(qr.arena)
		qr.arena = append(qr.arena, d...)
		splitTail(&e, r, qr.arena[n:len(qr.arena):len(qr.arena)])
	}
	return e
}

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
	timed := q.Since != 0 || q.Until != 0
	switch {
	case !timed && bag != nil:
		only := q.Type == "" || q.CorrelationID == ""
		qr.scanIndex(bag, key, 1, math.MaxUint64, only)
	case !timed:
		qr.scanRing(1, math.MaxUint64)
	default:
		s.times.candidates(s, qr.lo, qr.hi, q.Descending, func(a, b uint64) bool {
			if bag != nil {
				return qr.scanIndex(bag, key, a, b, false)
			}
			return qr.scanRing(a, b)
		})
	}
	return qr.err
}

// tick counts a step and checks the deadline and the context every 256
// steps; false means stop (qr.err is set).
func (qr *queryRun) tick() bool {
	qr.steps++
	if qr.steps&255 != 0 {
		return true
	}
	if err := qr.ctx.Err(); err != nil {
		qr.err = newError(kTimeout, err, "query cancelled", "steps", qr.steps)
		return false
	}
	if qr.s.f.clock.Now().After(qr.deadline) {
		qr.err = newError(kTimeout, nil, "query exceeded interface.query_timeout", "steps", qr.steps)
		return false
	}
	return true
}

// consider checks one candidate and collects it; false means stop.
func (qr *queryRun) consider(id uint64, r *record) bool {
	if !qr.tick() {
		return false
	}
	if r == nil || !r.visible() {
		return true
	}
	q := &qr.q
	if (q.Type != "" && r.typ() != q.Type) || (q.CorrelationID != "" && r.corr() != q.CorrelationID) ||
		r.time < qr.lo || r.time > qr.hi {
		return true
	}
	if qr.skip > 0 {
		qr.skip--
		return true
	}
	if qr.out == nil {
		// Start small: most queries (by correlation id, say) return few
		// events, and a large zeroed slice per query was the harness's top
		// allocation; append grows it for the rest.
		qr.out = make([]Event, 0, qr.sizeHint())
	}
	qr.out = append(qr.out, qr.copyOut(id, r))
	return len(qr.out) < qr.limit
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

// scanIndex visits key's IDs in [a, b] in query order: a merge of one page
// per stripe (each page a binary search: O(log n + page); the stripes are
// per P, so few). With only set (key is the query's only filter), the
// Offset is skipped inside the index without reading any event (see
// index.skip).
func (qr *queryRun) scanIndex(x *index, key string, a, b uint64, only bool) bool {
	// IDs below the ring's oldest are gone; the type index may still hold
	// some (it is trimmed lazily), so never look there: offsets handed to
	// the index then count live entries only.
	if f := qr.s.ring.First(); a < f {
		a = f
	}
	return qr.mergeIndex(x, key, a, b, only)
}

// mergeIndex is the k-way merge of scanIndex.
func (qr *queryRun) mergeIndex(x *index, key string, a, b uint64, only bool) bool {
	desc := qr.q.Descending
	if only && qr.skip > 0 {
		a, b = x.skip(key, a, b, desc, qr.skip)
		qr.skip = 0
	}
	var curs []cursor
	if len(x.stripes) <= len(qr.cur) {
		curs = qr.cur[:len(x.stripes)] // on the query's stack frame: no allocation
	} else {
		curs = make([]cursor, len(x.stripes))
	}
	for i := range curs {
		curs[i] = cursor{bag: x.stripes[i], a: a, b: b}
	}
	for {
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
			return true
		}
		curs[best].pos++
		r, _ := qr.s.ring.Get(bestID)
		if !qr.consider(bestID, r) {
			return false
		}
	}
}

// sizeHint is how many results to make room for at first: the caller's
// Limit when it set a small one (it usually gets that many), else a few —
// a query left at the default limit (interface.max_results) most often
// returns far fewer, and zeroing room for a thousand was a query's main cost.
func (qr *queryRun) sizeHint() int {
	if l := qr.q.Limit; l > 0 && l <= 256 {
		return min(l, qr.limit)
	}
	return min(qr.limit, 16)
}
