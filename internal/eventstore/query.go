package eventstore

import (
	"context"
	"math"
	"time"
)

// ---------------------------------------------------------------- query execution

// queryRun is one query in progress.
type queryRun struct {
	s        *Store
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
		qr.err = errf(ErrTimeout, err, "query cancelled", "steps", qr.steps)
		return false
	}
	if qr.s.deps.Clock.Now().After(qr.deadline) {
		qr.err = errf(ErrTimeout, nil, "query exceeded interface.query_timeout", "steps", qr.steps)
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
