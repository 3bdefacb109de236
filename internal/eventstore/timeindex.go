package eventstore

import (
	"math"
	"math/bits"
	"sync"
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
	sorted   []bool       // per slot: the block's visible Times did not decrease with ID when sealed
	base     uint64       // blocks in [base, frontier) may have a leaf set
	wait     uint64       // the unsettled ID the last failed seal stopped at; 0: none
	scans    uint64       // blocks scanned by seal (tests)
}

func (t *timeIndex) init(capacity int) {
	t.nb = uint64(capacity)/blockSize + 3 // the ring spans at most cap/256+2 blocks
	t.size = 1 << bits.Len64(t.nb-1)
	t.mn = make([]int64, 2*t.size)
	t.mx = make([]int64, 2*t.size)
	t.sorted = make([]bool, t.nb)
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

// todo reports whether seal has blocks to summarize, next being the
// ring's Next; under mu (read). After a failed attempt it waits for the ID
// that attempt stopped at: an ID left unused in a P's claimed block (block
// claiming) stays unsettled until that P stores again or the ring's head
// moves its slack past it (ring.Buffer.Settled), and rescanning the block
// on every query until then would cost each query up to a block of
// lookups.
func (t *timeIndex) todo(s *Store, next uint64) bool {
	return t.frontier < next>>blockShift && (t.wait == 0 || s.ring.Settled(t.wait))
}

// sealRLock is seal, returning with mu read-locked for the caller's walk.
// When there is nothing to seal (the common case) it keeps the read lock
// its check took: one read lock per query, not two, each an atomic add on
// a line that every querying core writes.
func (t *timeIndex) sealRLock(s *Store) {
	t.mu.RLock()
	if !t.todo(s, s.ring.Next()) {
		return
	}
	t.mu.RUnlock()
	t.seal(s)
	t.mu.RLock()
}

// seal computes the summaries of the complete blocks past the frontier.
func (t *timeIndex) seal(s *Store) {
	first, next := s.ring.First(), s.ring.Next()
	t.mu.RLock()
	todo := t.todo(s, next)
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
		mn, mx, sorted, ok, wait := scanBlock(s, t.frontier)
		t.scans++
		if !ok {
			t.wait = wait // a push in flight: seal later
			return
		}
		t.wait = 0
		t.setLeaf(int(t.frontier%t.nb), mn, mx)
		t.sorted[t.frontier%t.nb] = sorted
		t.frontier++
	}
}

// scanBlock returns the min and max Time of block b's visible events and
// whether their Times never decrease with ID; ok is false when one of its
// IDs is assigned but not yet published: wait is that ID.
func scanBlock(s *Store, b uint64) (mn, mx int64, sorted, ok bool, wait uint64) {
	mn, mx, sorted = math.MaxInt64, math.MinInt64, true
	last := int64(math.MinInt64)
	for id := max(b<<blockShift, 1); id < (b+1)<<blockShift; id++ {
		r, found := s.ring.Get(id)
		if !found {
			if id < s.ring.First() {
				continue // gone
			}
			if !s.ring.Settled(id) {
				return 0, 0, false, false, id
			}
			if r, found = s.ring.Get(id); !found {
				continue // a hole, or left
			}
		}
		if !r.visible() {
			continue
		}
		mn, mx = min(mn, r.time), max(mx, r.time)
		sorted = sorted && r.time >= last
		last = r.time
	}
	return mn, mx, sorted, true, 0
}

// slotMinMax returns the min of mins and max of maxes of slots [l, r);
// under mu.
func (t *timeIndex) slotMinMax(l, r int) (mn, mx int64) {
	mn, mx = math.MaxInt64, math.MinInt64
	for l, r = l+t.size, r+t.size; l < r; l, r = l>>1, r>>1 {
		if l&1 == 1 {
			mn, mx = min(mn, t.mn[l]), max(mx, t.mx[l])
			l++
		}
		if r&1 == 1 {
			r--
			mn, mx = min(mn, t.mn[r]), max(mx, t.mx[r])
		}
	}
	return mn, mx
}

// blockMinMax returns the min and max Time over the sealed blocks
// [b0, b1) (at most nb of them): O(log nb); under mu.
func (t *timeIndex) blockMinMax(b0, b1 uint64) (mn, mx int64) {
	mn, mx = math.MaxInt64, math.MinInt64
	if b0 >= b1 {
		return mn, mx
	}
	sp, k := t.spans(b0, b1)
	for _, v := range sp[:k] {
		a, b := t.slotMinMax(v.l, v.r)
		mn, mx = min(mn, a), max(mx, b)
	}
	return mn, mx
}

// span is the slots [l, r) of consecutive sealed blocks, blk0 the block of
// slot l.
type span struct {
	l, r int
	blk0 uint64
}

// spans returns the slots of the blocks [b0, b1) (b0 < b1, at most nb
// blocks) in block order: one span, or two when they wrap around the end
// of the slots.
func (t *timeIndex) spans(b0, b1 uint64) ([2]span, int) {
	n, s0 := b1-b0, b0%t.nb
	if s0+n <= t.nb {
		return [2]span{{int(s0), int(s0 + n), b0}}, 1
	}
	return [2]span{{int(s0), int(t.nb), b0}, {0, int(s0 + n - t.nb), b0 + (t.nb - s0)}}, 2
}

// leafMeets reports whether sealed block b's summary intersects [lo, hi].
func (t *timeIndex) leafMeets(b uint64, lo, hi int64) bool {
	n := t.size + int(b%t.nb)
	return t.mn[n] <= t.mx[n] && t.mx[n] >= lo && t.mn[n] <= hi
}

// firstCandidate returns the first block of the sealed blocks [b0, b1), in
// query order (the lowest, or the highest with desc), whose summary
// intersects [lo, hi]: O(log nb) per run of skipped blocks; under mu.
// The first few blocks in order are tried leaf by leaf first: most often
// (an open range, or one that starts in the newest blocks) the first
// block is the answer, found without the walk down the tree.
func (t *timeIndex) firstCandidate(b0, b1 uint64, lo, hi int64, desc bool) (uint64, bool) {
	if b0 >= b1 {
		return 0, false
	}
	for i := uint64(0); i < min(b1-b0, 4); i++ {
		b := b0 + i
		if desc {
			b = b1 - 1 - i
		}
		if t.leafMeets(b, lo, hi) {
			return b, true
		}
	}
	sp, k := t.spans(b0, b1)
	for j := range k {
		v := sp[j]
		if desc {
			v = sp[k-1-j]
		}
		found := -1
		t.walk(1, 0, t.size, v.l, v.r, lo, hi, desc, func(slot int) bool {
			found = slot
			return false
		})
		if found >= 0 {
			return v.blk0 + uint64(found-v.l), true
		}
	}
	return 0, false
}

// candidates calls yield with the runs [a, b] of IDs (inclusive,
// ascending, merged when adjacent) that may hold events with Time in
// [lo, hi]. It seals first. yield returns false to stop; all but the
// last call run under mu's read lock.
func (t *timeIndex) candidates(s *Store, lo, hi int64, yield func(a, b uint64) bool) {
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
			if a == runB+1 {
				runB = b
				return true
			}
			if !flush() {
				return false
			}
		}
		runA, runB, have = a, b, true
		return true
	}

	ok := func() bool {
		t.mu.RLock()
		defer t.mu.RUnlock()
		sb := max(t.frontier, fb) // blocks [fb, sb) are sealed, [sb, lb] are not
		if fb < sb {
			// One or two spans of slots, each walked in block order.
			sp, k := t.spans(fb, sb)
			for _, v := range sp[:k] {
				ok := t.walk(1, 0, t.size, v.l, v.r, lo, hi, false, func(slot int) bool {
					return emit(v.blk0 + uint64(slot-v.l))
				})
				if !ok {
					return false
				}
			}
		}
		for blk := sb; blk <= lb; blk++ { // the unsealed blocks: all candidates
			if !emit(blk) {
				return false
			}
		}
		return true
	}()
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
func (t *timeIndex) pruneBefore(s *Store, cut int64) int {
	if cut == math.MinInt64 {
		return 0
	}
	n := 0
	t.candidates(s, math.MinInt64, cut-1, func(a, b uint64) bool {
		for id := a; id <= b; id++ {
			if r, ok := s.ring.Get(id); ok && r.time < cut && s.pruneRecord(id, r) {
				n++
			}
		}
		return true
	})
	return n
}
