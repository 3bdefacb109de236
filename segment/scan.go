package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"os"
	"slices"
)

// Query selects records for [Log.Scan]. The zero Query selects everything.
type Query struct {
	// FromSeq and ToSeq bound the sequence: FromSeq <= Seq < ToSeq; ToSeq
	// 0 means no upper bound.
	FromSeq, ToSeq uint64
	// FromTime and ToTime bound the time: FromTime <= Time < ToTime;
	// ToTime 0 means no upper bound. FromTime 0 is no lower bound for
	// non-negative times.
	FromTime, ToTime int64
	// Key, when not 0, selects the records whose Keys contain it. Blocks
	// whose filter rules the key out are not read.
	Key uint64
	// Reverse yields the records in descending sequence order.
	Reverse bool
	// Hidden also yields the records below the low-water mark that are
	// still on disk (their segment not yet reclaimed): for recovery, such
	// as finding the last record ever appended.
	Hidden bool
	// Narrow, when set, is called before each block is considered and
	// returns a time range [from, to) (to 0: no upper bound) that the
	// block must meet as well, so that a caller keeping the best k records
	// by time can skip the blocks that cannot improve them. It runs on the
	// scanning goroutine, between the records it yields.
	Narrow func() (from, to int64)
}

// view is what a Scan saw of one segment.
type view struct {
	s       *segment
	blocks  []blockInfo
	filters []byte // the blocks' filters, when mem
	mem     bool   // filters are in memory (the active segment); else read from the index
}

// Scan returns the records q selects, in sequence order (descending with
// q.Reverse), including those
// appended but not yet written. The records' Keys and Data are valid only
// until the loop body returns: copy what you keep. Scan sees the log as it
// was when the loop started (later appends are not seen) and runs
// concurrently with writers; a segment deleted meanwhile stays readable
// until the loop ends.
//
// A block that fails its checks is yielded as (Record{}, err) with err
// matching [ErrCorrupt], counted in [Stats.CorruptBlocks], and the scan goes
// on with the next block; its segment's index is removed so the next
// [Open] repairs the segment and sets the damaged file aside. An I/O error
// is yielded the same way.
func (l *Log) Scan(q Query) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		l.mu.RLock()
		if l.closed {
			l.mu.RUnlock()
			yield(Record{}, ErrClosed)
			return
		}
		fromSeq, fromTime := max(q.FromSeq, l.lowSeq), max(q.FromTime, l.lowTime)
		if q.Hidden {
			fromSeq, fromTime = q.FromSeq, q.FromTime
		}
		views := make([]view, 0, len(l.segs))
		for _, s := range l.segs {
			if len(s.blocks) == 0 {
				continue
			}
			if q.ToSeq != 0 && s.blocks[0].firstSeq >= q.ToSeq {
				break
			}
			if s.blocks[len(s.blocks)-1].endSeq() <= fromSeq {
				continue
			}
			s.refs.Add(1)
			views = append(views, view{s: s, blocks: s.blocks, filters: s.filters, mem: s.filters != nil || !s.sealed})
		}
		l.c.acquire()
		defer l.c.Close()
		var pending blockWriter
		if l.w.count > 0 {
			pending = blockWriter{raw: slices.Clone(l.w.raw), firstSeq: l.w.firstSeq, count: l.w.count,
				minTime: l.w.minTime, maxTime: l.w.maxTime}
		}
		l.mu.RUnlock()
		released := 0
		defer func() {
			for _, v := range views[released:] {
				v.s.release()
			}
		}()

		sc := scanner{l: l, q: q, fromSeq: fromSeq, fromTime: fromTime, yield: yield}
		pb := blockInfo{firstSeq: pending.firstSeq, count: pending.count, minTime: pending.minTime, maxTime: pending.maxTime}
		if q.Reverse {
			if pending.count > 0 && !sc.skip(&pb) && !sc.records(&pb, pending.raw) {
				return
			}
			for i := len(views) - 1; i >= 0; i-- {
				if !sc.segment(&views[i]) {
					return
				}
			}
			return
		}
		for i := range views {
			ok := sc.segment(&views[i])
			views[i].s.release()
			released = i + 1
			if !ok {
				return
			}
		}
		if pending.count > 0 && !sc.skip(&pb) {
			sc.records(&pb, pending.raw)
		}
	}
}

// scanner carries one Scan's state and buffers.
type scanner struct {
	l        *Log
	q        Query
	fromSeq  uint64
	fromTime int64
	yield    func(Record, error) bool
	buf      []byte
	raw      []byte
	keys     []uint64
	recs     []rawRecord // a block's records, for Reverse
}

// skip reports whether block b cannot hold a selected record.
func (sc *scanner) skip(b *blockInfo) bool {
	if b.endSeq() <= sc.fromSeq || (sc.q.ToSeq != 0 && b.firstSeq >= sc.q.ToSeq) ||
		b.maxTime < sc.fromTime || (sc.q.ToTime != 0 && b.minTime >= sc.q.ToTime) {
		return true
	}
	if sc.q.Narrow != nil {
		from, to := sc.q.Narrow()
		return b.maxTime < from || (to != 0 && b.minTime >= to)
	}
	return false
}

// segment scans one segment; false means the caller stopped.
func (sc *scanner) segment(v *view) bool {
	filters, have := v.filters, v.mem
	var offs []int64 // offs[i]: block i's filter in filters
	if sc.q.Key != 0 {
		if !have {
			if v.s.filterLen == 0 {
				return true // no block of the segment has keys
			}
			filters = sc.loadFilters(v.s)
			have = filters != nil
		}
		if have {
			offs = make([]int64, len(v.blocks)+1)
			for i := range v.blocks {
				offs[i+1] = offs[i] + int64(v.blocks[i].filterLen)
			}
		}
	}
	n := len(v.blocks)
	for k := 0; k < n; k++ {
		i := k
		if sc.q.Reverse {
			i = n - 1 - k
		}
		b := &v.blocks[i]
		if sc.skip(b) {
			continue
		}
		if offs != nil && !bloomMay(filters[offs[i]:offs[i+1]], sc.q.Key) {
			continue
		}
		raw, err := sc.readBlock(v.s, b)
		if err != nil {
			if !sc.yield(Record{}, err) {
				return false
			}
			continue
		}
		if !sc.records(b, raw) {
			return false
		}
	}
	return true
}

// loadFilters reads a sealed segment's filter area from its index; nil
// (every block is read) if that fails.
func (sc *scanner) loadFilters(s *segment) []byte {
	f, err := sc.l.fs.OpenFile(s.idxPath(), os.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer f.Close()
	b := make([]byte, s.filterLen)
	if _, err := f.ReadAt(b, s.filterOff); err != nil || crcOf(b) != s.filterCRC {
		return nil
	}
	return b
}

// readBlock reads, checks and decompresses block b of s.
func (sc *scanner) readBlock(s *segment, b *blockInfo) ([]byte, error) {
	sc.buf = slices.Grow(sc.buf[:0], int(b.size))[:b.size]
	if _, err := s.f.ReadAt(sc.buf, b.off); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", s.path, b.off, err)
	}
	h, err := parseHeader(sc.buf)
	if err == nil && (h.firstSeq != b.firstSeq || h.count != b.count || h.size() != int64(b.size)) {
		err = fmt.Errorf("%w: block does not match the index", ErrCorrupt)
	}
	var payload []byte
	if err == nil {
		_, payload, err = checkBody(&h, sc.buf)
	}
	if err == nil {
		sc.raw, err = sc.l.c.decompress(h.codec, sc.raw[:0], payload, h.rawLen)
	}
	if err != nil {
		if errors.Is(err, ErrCorrupt) {
			// The next Open repairs the segment: without its index it is
			// checked block by block.
			sc.l.corrupt.Add(1)
			_ = sc.l.fs.Remove(s.idxPath())
		}
		return nil, fmt.Errorf("%s block at %d (sequences %d..%d): %w", s.path, b.off, b.firstSeq, b.endSeq()-1, err)
	}
	return sc.raw, nil
}

// records yields the selected records of one block's raw bytes, in
// sequence order or, with q.Reverse, backwards (the block is decoded whole
// first).
func (sc *scanner) records(b *blockInfo, raw []byte) bool {
	rr := recordReader{raw: raw, left: b.count}
	sc.recs = sc.recs[:0]
	for seq := b.firstSeq; ; seq++ {
		rec, ok, err := rr.next()
		if err != nil {
			sc.l.corrupt.Add(1)
			return sc.yield(Record{}, fmt.Errorf("block of sequences %d..%d: %w", b.firstSeq, b.endSeq()-1, err))
		}
		if !ok {
			break
		}
		if !sc.q.Reverse {
			if !sc.emit(seq, &rec) {
				return false
			}
			continue
		}
		sc.recs = append(sc.recs, rec)
	}
	for i := len(sc.recs) - 1; i >= 0; i-- {
		if !sc.emit(b.firstSeq+uint64(i), &sc.recs[i]) {
			return false
		}
	}
	return true
}

// emit yields rec if q selects it; false means the caller stopped.
func (sc *scanner) emit(seq uint64, rec *rawRecord) bool {
	if seq < sc.fromSeq || (sc.q.ToSeq != 0 && seq >= sc.q.ToSeq) || rec.time < sc.fromTime ||
		(sc.q.ToTime != 0 && rec.time >= sc.q.ToTime) || (sc.q.Key != 0 && !rec.hasKey(sc.q.Key)) {
		return true
	}
	sc.keys = sc.keys[:0]
	for i := 0; i+8 <= len(rec.keys); i += 8 {
		sc.keys = append(sc.keys, binary.LittleEndian.Uint64(rec.keys[i:]))
	}
	return sc.yield(Record{Seq: seq, Time: rec.time, Keys: sc.keys, Data: rec.data}, nil)
}
