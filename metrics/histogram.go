package metrics

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// geometry is the bucket layout of hdrhistogram-go, computed with the same
// formulas (hdr.go: geometryMagnitudes, newExactGeometry, countsIndexFor,
// valueFromFlatIndex), so that index i of our stripes is index i of the
// library's counts array and folding is index-wise. TestGeometryMatchesHDR
// checks both the length and the index of every recorded value.
type geometry struct {
	lowest, highest int64
	sigfigs         int
	unitMag         uint  // log2 of the unit (lowest rounded down to a power of two)
	halfMag         uint  // log2 of half the sub-bucket count
	halfCount       int64 // half the sub-bucket count
	subBucketMask   uint64
	countsLen       int
}

func newGeometry(lowest, highest int64, sigfigs int) (geometry, error) {
	switch {
	case lowest < 1:
		return geometry{}, fmt.Errorf("%w: histogram lowest %d: want >= 1", ErrInvalid, lowest)
	case sigfigs < 1 || sigfigs > 5:
		return geometry{}, fmt.Errorf("%w: histogram significant figures %d: want 1..5", ErrInvalid, sigfigs)
	case highest/2 < lowest:
		return geometry{}, fmt.Errorf("%w: histogram highest %d: want >= 2*lowest (%d)", ErrInvalid, highest, lowest)
	}
	largest := 2 * math.Pow10(sigfigs)
	subBucketCountMag := int(math.Ceil(math.Log2(largest)))
	halfMag := max(subBucketCountMag, 1) - 1
	unitMag := max(int(math.Floor(math.Log2(float64(lowest)))), 0)
	if unitMag+halfMag > 61 {
		return geometry{}, fmt.Errorf("%w: histogram lowest %d too large for %d significant figures", ErrInvalid, lowest, sigfigs)
	}
	subBucketCount := int64(1) << (halfMag + 1)
	smallestUntrackable := subBucketCount << unitMag
	bucketsNeeded := int64(1)
	for smallestUntrackable <= highest {
		if smallestUntrackable > math.MaxInt64/2 {
			bucketsNeeded++
			break
		}
		smallestUntrackable <<= 1
		bucketsNeeded++
	}
	if countsLen := (bucketsNeeded + 1) * (subBucketCount / 2); countsLen > MaxChunks*chunkLen {
		return geometry{}, fmt.Errorf("%w: histogram geometry %d..%d at %d figures needs %d buckets, more than %d", ErrInvalid, lowest, highest, sigfigs, countsLen, MaxChunks*chunkLen)
	}
	return geometry{
		lowest: lowest, highest: highest, sigfigs: sigfigs,
		unitMag:       uint(unitMag),
		halfMag:       uint(halfMag),
		halfCount:     subBucketCount / 2,
		subBucketMask: uint64(subBucketCount-1) << unitMag,
		countsLen:     int((bucketsNeeded + 1) * (subBucketCount / 2)),
	}, nil
}

// index returns the counts index of v, 0 <= v <= highest.
func (g *geometry) index(v int64) int {
	pow2Ceiling := uint(64 - bits.LeadingZeros64(uint64(v)|g.subBucketMask))
	bucket := pow2Ceiling - g.unitMag - (g.halfMag + 1)
	sub := v >> (bucket + g.unitMag)
	return int(int64(bucket+1)<<g.halfMag + sub - g.halfCount)
}

// bucketOf returns the bucket and sub-bucket of counts index i.
func (g *geometry) bucketOf(i int) (bucket uint, sub int64) {
	b := i>>g.halfMag - 1
	sub = int64(i)&(g.halfCount-1) + g.halfCount
	if b < 0 {
		sub -= g.halfCount
		b = 0
	}
	return uint(b), sub
}

// lowestAt returns the lowest value that maps to counts index i.
func (g *geometry) lowestAt(i int) int64 {
	b, sub := g.bucketOf(i)
	return sub << (b + g.unitMag)
}

// medianAt returns the middle of the values that map to counts index i
// (hdrhistogram-go's medianEquivalentValue).
func (g *geometry) medianAt(i int) int64 {
	b, sub := g.bucketOf(i)
	return sub<<(b+g.unitMag) + int64(1)<<(b+g.unitMag)>>1
}

// highestAt returns the highest value that maps to counts index i.
func (g *geometry) highestAt(i int) int64 {
	b, sub := g.bucketOf(i)
	return sub<<(b+g.unitMag) + int64(1)<<(b+g.unitMag) - 1
}

// Stripes are stored in chunks of chunkLen counts, allocated on first use:
// the default geometry has 33,792 counts (264 KiB) per stripe, but latencies
// cluster, so a stripe usually touches a few chunks.
const (
	// MaxChunks bounds the chunks of a stripe; [WithHistogramRange] rejects
	// geometries that need more (more than 8M buckets).
	MaxChunks  = 1 << 16
	chunkShift = 7
	chunkLen   = 1 << chunkShift // 128 counts, 1 KiB: its own cache lines
	chunkMask  = chunkLen - 1
)

// chunk's counts are sync/atomic words, not go.uber.org/atomic's: they are
// the hottest words of a histogram and the standard type's Add is an
// intrinsic that inlines into Record.
type chunk [chunkLen]atomic.Uint64

// stripeChunks is the chunk table of one stripe, allocated by the first
// Record that lands on the stripe: a histogram that only one or two Ps
// record into pays for one or two tables, not one per stripe.
type stripeChunks struct {
	chunks []atomic.Pointer[chunk] // nchunks entries; see Histogram.stripes
}

// Histogram is an HDR histogram of int64 values (by default nanoseconds from
// 1 ns to 1 h at 3 significant figures), striped per P. Obtain one with
// [Registry.Histogram] and keep it: Record does no lookup.
//
// Record and RecordN are safe for concurrent use, take no lock and, once a
// value's chunk of buckets exists in the stripe, allocate nothing: one atomic
// add on the stripe of the calling P. Snapshot and Quantile fold the stripes
// under a mutex that writers never take; a histogram that has not changed
// since its last fold is not folded again.
//
// Memory: a histogram starts at about 1 KiB. The first Record on a stripe
// allocates that stripe's chunk table (8 bytes per chunk: 2 KiB with the
// default geometry), and values allocate 1 KiB chunks of 128 buckets as they
// reach them (a few chunks for clustered latencies; at most 264 with the
// default geometry). A fold keeps a table of the chunks that hold counts
// and of their totals (4 KiB) and a copy of each such chunk; percentiles are
// computed from those chunks, skipping whole chunks by their totals, with no
// counts array of the whole geometry. A histogram holds
// about 1.6 KiB idle, and about 11 KiB once recorded into from one P with
// clustered values and read (TestHistogramMemory measures it).
// The zero value is not usable; a Histogram must not be copied.
type Histogram struct {
	_       noCopy
	name    string
	unit    Unit
	on      *atomic.Bool
	g       geometry
	mask    int
	nchunks int
	// stripes holds stripe s's chunk table at s. Writers: the first Record
	// on a stripe allocates its table and CASes it in (the loser uses the
	// winner's), and likewise the first Record into a missing chunk; a
	// pointer is never changed again. Counts only grow: a count is written
	// only by atomic adds.
	stripes []atomic.Pointer[stripeChunks]
	// dirty has one bit per chunk of each stripe: stripe s's words are
	// dirty[s*dirtyStride:], padded to a cache line so that stripes never
	// share one. A writer sets its chunk's bit after its count add whenever
	// it reads it clear; the fold clears the words (Swap) before it reads the
	// counts of the chunks they name. Go atomics are sequentially
	// consistent, so an add that a fold missed is followed by a Load that
	// sees the cleared bit and sets it again: a clear bit means the chunk's
	// counts are in the last fold, and the fold reads only dirty chunks.
	dirty       []atomic.Uint64
	dirtyStride int
	f           *fold // separate allocation: readers' writes stay off this line
}

// fold is the read side of a Histogram, guarded by mu.
type fold struct {
	mu      sync.Mutex
	clamped atomic.Uint64 // values out of [0, highest], clamped (not under mu)
	// counts is the last fold, shared read-only with the snapshots taken
	// from it: a refold copies the table and replaces the chunks that
	// changed (copy on write), so older snapshots keep their counts.
	counts  *frozen
	scratch [chunkLen]uint64 // reused by every fold
	total   uint64
	snap    HistogramSnapshot // valid when counts != nil
	// sumHi:sumLo is the exact 128-bit sum of count*median of every value
	// folded so far: the mean without a walk over the buckets.
	sumHi, sumLo uint64
	changed      []uint64 // the union of the stripes' dirty words, per fold
}

// frozen is the immutable folded counts of one fold: chunk c holds counts
// c*chunkLen.., nil when all zero.
type frozen struct {
	g      geometry
	chunks []*[chunkLen]uint64
	sums   []uint64 // sums[c] is the total of chunks[c]: percentile scans skip whole chunks
}

// valueAtRanks sets out[i] to the value at rank ranks[i] (ascending, each in
// 1..total), as hdrhistogram-go's ValueAtPercentile resolves a rank: the
// highest equivalent value of the first bucket whose cumulative count
// reaches the rank, or the lowest one when low[i] (its 0th percentile).
func (fz *frozen) valueAtRanks(ranks []uint64, low []bool, out []int64) {
	var cum uint64
	k := 0
	for c, ch := range fz.chunks {
		if ch == nil {
			continue
		}
		if sum := fz.sums[c]; cum+sum < ranks[k] {
			cum += sum
			continue
		}
		for j, n := range ch {
			if n == 0 {
				continue
			}
			cum += n
			for k < len(ranks) && cum >= ranks[k] {
				if low[k] {
					out[k] = fz.g.lowestAt(c<<chunkShift + j)
				} else {
					out[k] = fz.g.highestAt(c<<chunkShift + j)
				}
				k++
			}
			if k == len(ranks) {
				return
			}
		}
	}
}

// percentileRank is hdrhistogram-go's rank of percentile p (0..100) among
// total values: at least 1, at most total.
func percentileRank(p float64, total uint64) uint64 {
	if p > 100 {
		p = 100
	}
	rank := (p/100)*float64(total) + 0.5
	if !(rank >= 1) {
		return 1
	}
	if rank >= float64(total) {
		return total
	}
	return uint64(rank)
}

func newHistogram(name string, on *atomic.Bool, stripes int, g geometry) *Histogram {
	n := (g.countsLen + chunkLen - 1) >> chunkShift
	stride := ((n+63)/64 + 7) / 8 * 8 // words per stripe, a multiple of 64 bytes
	return &Histogram{
		name: name, on: on, g: g, mask: stripes - 1, nchunks: n,
		stripes:     make([]atomic.Pointer[stripeChunks], stripes),
		dirty:       make([]atomic.Uint64, stripes*stride),
		dirtyStride: stride,
		f:           &fold{},
	}
}

// Name returns the histogram's name.
func (h *Histogram) Name() string { return h.name }

// Record adds one value. It is a no-op while the registry is disabled. A
// value below 0 is recorded as 0, one above the highest trackable value as
// that value, and both are counted in [HistogramSnapshot.Clamped].
func (h *Histogram) Record(v int64) { h.RecordN(v, 1) }

// RecordN adds n occurrences of v, like n calls of [Histogram.Record].
func (h *Histogram) RecordN(v int64, n uint64) {
	if !h.on.Load() {
		return
	}
	if uint64(v) > uint64(h.g.highest) { // negative values too
		v = h.clamp(v)
	}
	h.add(v, n)
}

// add is RecordN without the switch and the clamp, for callers that did
// both: 0 <= v <= highest.
func (h *Histogram) add(v int64, n uint64) {
	i := h.g.index(v)
	p := runtime_procPin() & h.mask
	c := i >> chunkShift
	var ch *chunk
	if st := h.stripes[p].Load(); st != nil {
		ch = st.chunks[c].Load()
	}
	if ch != nil {
		ch[i&chunkMask].Add(n)
		runtime_procUnpin()
	} else {
		runtime_procUnpin() // allocation must not happen pinned
		h.recordNew(p, i, n)
	}
	w, bit := &h.dirty[p*h.dirtyStride+c>>6], uint64(1)<<(c&63)
	if w.Load()&bit == 0 {
		w.Or(bit)
	}
}

func (h *Histogram) clamp(v int64) int64 {
	h.f.clamped.Add(1)
	if v < 0 {
		return 0
	}
	return h.g.highest
}

// recordNew is Record's slow path: it allocates stripe p's chunk table or
// the chunk of index i, whichever is missing, unpinned (the goroutine may
// have moved to another P since: it still adds to stripe p, atomically).
func (h *Histogram) recordNew(p, i int, n uint64) {
	st := h.stripes[p].Load()
	if st == nil {
		st = &stripeChunks{chunks: make([]atomic.Pointer[chunk], h.nchunks)}
		if !h.stripes[p].CompareAndSwap(nil, st) {
			st = h.stripes[p].Load()
		}
	}
	slot := &st.chunks[i>>chunkShift]
	c := slot.Load()
	if c == nil {
		c = new(chunk)
		if !slot.CompareAndSwap(nil, c) {
			c = slot.Load()
		}
	}
	c[i&chunkMask].Add(n)
}

// Snapshot folds the stripes and returns count, min, max, mean and
// percentiles as hdrhistogram-go computes them. It is safe for concurrent use;
// concurrent Records may or may not be included. It allocates only when the
// histogram changed since the last fold.
func (h *Histogram) Snapshot() HistogramSnapshot {
	f := h.f
	f.mu.Lock()
	h.foldLocked()
	s := f.snap
	f.mu.Unlock()
	s.Clamped = f.clamped.Load()
	return s
}

// Quantile returns the value at quantile q (0 <= q <= 1; 0.99 is the 99th
// percentile) as hdrhistogram-go computes it, or 0 when empty. q is clamped
// to [0, 1]; NaN reads as 0. Safe for concurrent use; it allocates only when
// the histogram changed since the last fold.
func (h *Histogram) Quantile(q float64) int64 {
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	h.foldLocked()
	return f.counts.valueAt(f.total, percent(q))
}

// valueAt returns the value at percentile p (0..100) of total values, 0
// when total is 0.
func (fz *frozen) valueAt(total uint64, p float64) int64 {
	if total == 0 || fz == nil {
		return 0
	}
	var out [1]int64
	fz.valueAtRanks([]uint64{percentileRank(p, total)}, []bool{p <= 0}, out[:])
	return out[0]
}

func percent(q float64) float64 {
	if !(q > 0) { // also NaN
		return 0
	}
	return min(q, 1) * 100
}

// foldLocked brings f.hdr and f.snap up to date. Counts only grow, so it
// records into f.hdr the difference between each count and the count of the
// previous fold: the cost follows the chunks in use, not the geometry, and a
// chunk that did not change is shared with the previous fold.
//
// Only the chunks whose dirty bit is set in some stripe are summed again;
// the others are shared with the previous fold. Min and Max follow
// hdrhistogram-go's definitions (lowest equivalent value of the first
// non-empty bucket, highest equivalent value of the last) and Mean its
// formula (sum of count*median over total, here with an exact 128-bit sum
// kept up to date by each fold): the library's Min, Max and Mean walk the
// whole counts array on every call. TestFoldMatchesHDR checks them against
// the library. Percentiles are the library's.
func (h *Histogram) foldLocked() {
	f := h.f
	stripes := h.mask + 1
	words := (h.nchunks + 63) / 64
	if f.changed == nil {
		f.changed = make([]uint64, words)
	}
	changed := f.changed
	clear(changed)
	any := false
	for s := 0; s < stripes; s++ {
		for w := 0; w < words; w++ {
			if x := h.dirty[s*h.dirtyStride+w].Load(); x != 0 {
				changed[w] |= h.dirty[s*h.dirtyStride+w].Swap(0)
				any = true
			}
		}
	}
	if f.counts != nil && !any {
		return
	}
	prev := f.counts
	cur := &frozen{g: h.g, chunks: make([]*[chunkLen]uint64, h.nchunks), sums: make([]uint64, h.nchunks)}
	if prev != nil {
		copy(cur.chunks, prev.chunks)
		copy(cur.sums, prev.sums)
	}
	for w, x := range changed {
		for x != 0 {
			c := w*64 + bits.TrailingZeros64(x)
			x &= x - 1
			h.foldChunk(cur, c)
		}
	}
	f.counts = cur
	total := f.total
	s := HistogramSnapshot{
		Count:  total,
		Lowest: h.g.lowest, Highest: h.g.highest, SignificantFigures: h.g.sigfigs,
		Unit:   h.unit,
		counts: cur,
	}
	if total > 0 {
		first, last := -1, -1
		for c, ch := range cur.chunks {
			if ch != nil && first < 0 {
				first = c
			}
			if ch != nil {
				last = c
			}
		}
		for j, n := range cur.chunks[first] {
			if n != 0 {
				s.Min = h.g.lowestAt(first<<chunkShift + j)
				break
			}
		}
		for j := chunkLen - 1; j >= 0; j-- {
			if cur.chunks[last][j] != 0 {
				s.Max = h.g.highestAt(last<<chunkShift + j)
				break
			}
		}
		// sum is the exact sum of count*median over the buckets (128 bits).
		s.Mean = (float64(f.sumHi)*0x1p64 + float64(f.sumLo)) / float64(total)
		var ps [4]int64
		cur.valueAtRanks([]uint64{percentileRank(50, total), percentileRank(90, total),
			percentileRank(99, total), percentileRank(99.9, total)}, []bool{false, false, false, false}, ps[:])
		s.P50, s.P90, s.P99, s.P999 = ps[0], ps[1], ps[2], ps[3]
	}
	f.snap = s
}

// foldChunk sums chunk c over the stripes into a new frozen chunk and records
// the growth of each count into f.hdr and the mean's sum.
func (h *Histogram) foldChunk(cur *frozen, c int) {
	f := h.f
	sc := &f.scratch
	*sc = [chunkLen]uint64{}
	for s := 0; s <= h.mask; s++ {
		st := h.stripes[s].Load()
		if st == nil {
			continue
		}
		if ch := st.chunks[c].Load(); ch != nil {
			for j := range ch {
				sc[j] += ch[j].Load()
			}
		}
	}
	old := cur.chunks[c]
	if old != nil && *old == *sc {
		return
	}
	base := c << chunkShift
	for j, n := range sc {
		var o uint64
		if old != nil {
			o = old[j]
		}
		if n != o {
			d := n - o
			f.total += d
			hi, lo := bits.Mul64(d, uint64(h.g.medianAt(base+j)))
			var carry uint64
			f.sumLo, carry = bits.Add64(f.sumLo, lo, 0)
			f.sumHi += hi + carry
		}
	}
	nc := new([chunkLen]uint64)
	*nc = *sc
	cur.chunks[c] = nc
	var sum uint64
	for _, n := range nc {
		sum += n
	}
	cur.sums[c] = sum
}

// Bucket is one non-empty HDR bucket: Count values v with
// previous UpperBound < v <= UpperBound.
type Bucket struct {
	UpperBound int64
	Count      uint64
}

// HistogramSnapshot is a histogram folded at one moment. It is an immutable
// value, safe to share between goroutines; its bucket counts are shared with
// the histogram's other snapshots (copy on write), so taking one costs no
// copy of the buckets.
type HistogramSnapshot struct {
	// Count is the number of values, including clamped ones; it equals the
	// sum of the counts of [HistogramSnapshot.Buckets].
	Count uint64
	// Clamped counts the values recorded out of [0, Highest] and clamped
	// into it (read a moment after Count: it may include values that Count
	// does not yet).
	Clamped uint64
	// Min and Max are the lowest and highest values recorded, within the
	// HDR precision (hdrhistogram-go's Min and Max); 0 when empty.
	Min, Max int64
	// Mean is hdrhistogram-go's mean; 0 when empty.
	Mean float64
	// P50, P90, P99 and P999 are the 50th, 90th, 99th and 99.9th
	// percentiles as hdrhistogram-go computes them; 0 when empty.
	P50, P90, P99, P999 int64
	// Lowest, Highest and SignificantFigures are the histogram's geometry.
	Lowest, Highest    int64
	SignificantFigures int
	// Unit is the unit of the values ([Registry.HistogramVec] declares it),
	// "" when not declared.
	Unit Unit

	counts *frozen // read-only, shared with the histogram's later folds
}

// Buckets returns the non-empty HDR buckets in ascending order of upper
// bound, with their own (not cumulative) counts; their sum is Count. It
// allocates a new slice, owned by the caller, of up to one entry per HDR
// bucket (33,792 with the default geometry).
func (s HistogramSnapshot) Buckets() []Bucket {
	var out []Bucket
	s.eachBucket(func(b Bucket) { out = append(out, b) })
	return out
}

func (s HistogramSnapshot) eachBucket(fn func(Bucket)) {
	if s.counts == nil {
		return
	}
	for c, ch := range s.counts.chunks {
		if ch == nil {
			continue
		}
		for j, n := range ch {
			if n != 0 {
				fn(Bucket{UpperBound: s.counts.g.highestAt(c<<chunkShift + j), Count: n})
			}
		}
	}
}

// Histogram returns a new hdrhistogram-go histogram holding the snapshot's
// values, owned by the caller (to merge, encode or query). It allocates the
// full counts array of the geometry (264 KiB with the defaults); nil when
// the snapshot has no geometry (the zero HistogramSnapshot).
func (s HistogramSnapshot) Histogram() *hdrhistogram.Histogram {
	g, err := newGeometry(s.Lowest, s.Highest, s.SignificantFigures)
	if err != nil {
		return nil
	}
	hd := hdrhistogram.New(s.Lowest, s.Highest, s.SignificantFigures)
	s.eachBucket(func(b Bucket) { _ = hd.RecordValues(min(b.UpperBound, g.highest), int64(b.Count)) })
	return hd
}

// Quantile returns the value at quantile q (0 <= q <= 1) as hdrhistogram-go
// computes it, or 0 when empty. It builds a histogram with
// [HistogramSnapshot.Histogram] on every call: for several quantiles, build
// it once, or use [Histogram.Quantile] on the live histogram.
func (s HistogramSnapshot) Quantile(q float64) int64 {
	if s.Count == 0 {
		return 0
	}
	hd := s.Histogram()
	if hd == nil {
		return 0
	}
	return hd.ValueAtQuantile(percent(q))
}

// CumulativeCounts returns, for each bound in bounds (ascending), the number
// of values <= bound, as Prometheus and OpenTelemetry exporters need for
// their own bucket bounds. An HDR bucket counts as <= bound when its upper
// bound is, so a count can miss values within the HDR precision of bound.
func (s HistogramSnapshot) CumulativeCounts(bounds []int64) []uint64 {
	out := make([]uint64, len(bounds))
	var cum uint64
	i := 0
	s.eachBucket(func(b Bucket) {
		for i < len(bounds) && bounds[i] < b.UpperBound {
			out[i] = cum
			i++
		}
		cum += b.Count
	})
	for ; i < len(bounds); i++ {
		out[i] = cum
	}
	return out
}
