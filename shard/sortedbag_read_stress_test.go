package shard

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// TestStressSortedBagReads races lock-free readers against every kind of
// write, checking that each read is one state the key had during the read.
//
// Each key of bag has a backbone: the even values 2x for x in a contiguous
// range [a, b] (empty when a > b), below oddBase, changed only by the
// backbone writer, one op at a time, each op leaving it contiguous: append
// (Insert, or InsertTrim trimming some of the front), prepend, delete of
// the smallest or largest (DeleteObject), DeleteBelow, Delete (churn key
// only), TrimAll (all keys at once). Before an op the writer records the
// state it leads to (hist[v+1], then pending = v+1); after it, ver = v+1.
// A reader that loads ver before a read and pending after it knows the
// read must show the backbone of one of the states ver..pending: a page
// of values below oddBase (in any direction, with offset and limit) must
// equal that state's page exactly, and a full page's even part must equal
// one state's backbone. The keys other than the churn key also get odd
// values at and above oddBase from oddWriters writers (each its own odd
// values, inserted and deleted in and out of order), so that the
// backbone's appends are inserts below the largest value (shifts), and
// checked at the end against each writer's model. The churn key holds no
// odd values: its appends are true appends, and it is emptied (the list
// removed) and created again over and over.
func TestStressSortedBagReads(t *testing.T) {
	const (
		oddBase    = 1 << 40
		oddWriters = 2
		readers    = 2
		base       = 1 << 20 // backbones start here (room to prepend)
	)
	ops := 600_000
	if raceEnabled {
		ops = 20_000
	}
	bag, err := NewSortedBag[string, uint64](WithShards(2))
	must(err)
	keys := []string{"k0", "k1", "k2", "churn"}
	churn := len(keys) - 1

	type state struct{ a, b uint64 } // backbone [a, b]; empty when a > b
	pack := func(s state) uint64 { return s.a<<32 | s.b }
	unpack := func(w uint64) state { return state{w >> 32, w & (1<<32 - 1)} }
	type track struct {
		hist         []atomic.Uint64 // hist[v]: the state after op v
		ver, pending atomic.Uint64
	}
	tracks := make([]*track, len(keys))
	for i := range tracks {
		tracks[i] = &track{hist: make([]atomic.Uint64, ops+2)}
		tracks[i].hist[0].Store(pack(state{1, 0}))
	}
	// backbonePage is Page's answer for state s over [lo, hi] (hi < oddBase).
	backbonePage := func(s state, lo, hi uint64, desc bool, off, lim int) []uint64 {
		var out []uint64
		if s.a > s.b {
			return out
		}
		x0, x1 := max(s.a, (lo+1)/2), min(s.b, hi/2)
		if x0 > x1 {
			return out
		}
		cnt := int(x1-x0+1) - off
		if cnt <= 0 {
			return out
		}
		if lim > 0 {
			cnt = min(cnt, lim)
		}
		for i := range cnt {
			if desc {
				out = append(out, 2*(x1-uint64(off)-uint64(i)))
			} else {
				out = append(out, 2*(x0+uint64(off)+uint64(i)))
			}
		}
		return out
	}

	var stop atomic.Bool
	var bad sync.Map
	fail := func(what string, args ...any) { bad.LoadOrStore(what, fmt.Sprint(args...)) }
	var wg sync.WaitGroup

	// The backbone writer.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop.Store(true)
		r := rand.New(rand.NewPCG(1, 2))
		cur := make([]state, len(keys))
		for i := range cur {
			cur[i] = state{1, 0}
		}
		// apply records next as key i's coming state, runs op, publishes it.
		begin := func(i int, next state) {
			tr := tracks[i]
			v := tr.ver.Load()
			tr.hist[v+1].Store(pack(next))
			tr.pending.Store(v + 1)
		}
		end := func(i int, next state) {
			cur[i] = next
			tracks[i].ver.Add(1)
		}
		for op := 0; op < ops; op++ {
			if op%500 == 499 { // TrimAll: every key at once
				c := cur[r.IntN(len(keys))].a + uint64(r.IntN(4))
				want := 0
				nexts := make([]state, len(keys))
				for i, s := range cur {
					nexts[i] = s
					if s.a <= s.b && c > s.a {
						want += int(min(c, s.b+1) - s.a)
						nexts[i].a = c
					}
					if nexts[i].a > nexts[i].b {
						nexts[i] = state{1, 0}
					}
					begin(i, nexts[i])
				}
				if got := bag.TrimAll(2 * c); got != want {
					fail("TrimAll", got, " want ", want)
				}
				for i := range keys {
					end(i, nexts[i])
				}
				continue
			}
			i := r.IntN(len(keys))
			k, s := keys[i], cur[i]
			size := 0
			if s.a <= s.b {
				size = int(s.b - s.a + 1)
			}
			next := s
			switch c := r.IntN(10); {
			case size == 0:
				x := uint64(base + r.IntN(1000))
				next = state{x, x}
				begin(i, next)
				if r.IntN(2) == 0 {
					bag.Insert(k, 2*x)
				} else {
					bag.InsertTrim(k, 2*x, 2*x+2) // x itself is kept
				}
			case c < 4 && size < 400: // append, sometimes trimming the front
				next.b++
				if r.IntN(3) == 0 {
					next.a += uint64(r.IntN(size + 1))
					begin(i, next)
					if got := bag.InsertTrim(k, 2*next.b, 2*next.a); got != int(next.a-s.a) {
						fail("InsertTrim", got, " want ", next.a-s.a)
					}
				} else {
					begin(i, next)
					bag.Insert(k, 2*next.b)
				}
			case c < 5 && s.a > 1: // prepend
				next.a--
				begin(i, next)
				bag.Insert(k, 2*next.a)
			case c < 6: // delete the smallest
				next.a++
				begin(i, next)
				if !bag.DeleteObject(k, 2*s.a) {
					fail("DeleteObject smallest missed ", 2*s.a)
				}
			case c < 7: // delete the largest
				next.b--
				begin(i, next)
				if !bag.DeleteObject(k, 2*s.b) {
					fail("DeleteObject largest missed ", 2*s.b)
				}
			case c < 8 || i != churn: // DeleteBelow
				next.a += uint64(1 + r.IntN(size))
				begin(i, next)
				if got := bag.DeleteBelow(k, 2*next.a); got != int(next.a-s.a) {
					fail("DeleteBelow", got, " want ", next.a-s.a)
				}
			default: // empty the churn key at once
				next = state{1, 0}
				begin(i, next)
				if got := bag.Delete(k); got != size {
					fail("Delete", got, " want ", size)
				}
			}
			if next.a > next.b {
				next = state{1, 0}
			}
			end(i, next)
		}
	}()

	// The odd writers: writer w's values are oddBase + 2*(w + oddWriters*j) + 1.
	models := make([]map[string][]uint64, oddWriters)
	for w := range oddWriters {
		m := map[string][]uint64{}
		models[w] = m
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w)+10, 3))
			for !stop.Load() {
				k := keys[r.IntN(churn)]
				l := m[k]
				if len(l) > 0 && (len(l) > 200 || r.IntN(3) == 0) {
					j := r.IntN(len(l))
					if !bag.DeleteObject(k, l[j]) {
						fail("odd DeleteObject missed ", l[j])
					}
					m[k] = slices.Delete(l, j, j+1)
					continue
				}
				v := oddBase + 2*(uint64(w)+oddWriters*uint64(r.IntN(5000))) + 1
				bag.Insert(k, v)
				if i, ok := slices.BinarySearch(l, v); !ok {
					m[k] = slices.Insert(l, i, v)
				}
			}
		}()
	}

	// The readers.
	var reads atomic.Int64
	for g := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g)+20, 4))
			var buf []uint64
			for !stop.Load() {
				i := r.IntN(len(keys))
				k, tr := keys[i], tracks[i]
				states := func(v0 uint64) []state {
					p := tr.pending.Load()
					var out []state
					for v := v0; v <= p; v++ {
						out = append(out, unpack(tr.hist[v].Load()))
					}
					return out
				}
				v0 := tr.ver.Load()
				switch r.IntN(4) {
				case 0, 1: // a page of the backbone
					lo := uint64(2*base - 400 + r.IntN(2000))
					hi := lo + uint64(r.IntN(1200))
					desc, off, lim := r.IntN(2) == 0, r.IntN(4)-1, r.IntN(40)-1
					buf = bag.Page(buf[:0], k, lo, hi, desc, off, lim)
					ok := false
					for _, s := range states(v0) {
						if slices.Equal(buf, backbonePage(s, lo, hi, desc, max(off, 0), lim)) {
							ok = true
							break
						}
					}
					if !ok {
						fail("backbone page", k, " ", lo, "..", hi, " desc ", desc, " off ", off, " lim ", lim, ": ", buf, " in none of ", states(v0))
					}
				case 2: // the whole key: sorted, its backbone one state's
					buf = bag.Page(buf[:0], k, 0, math.MaxUint64, false, 0, 0)
					evens := 0
					for j, v := range buf {
						if j > 0 && buf[j-1] >= v {
							fail("unsorted page ", k)
						}
						if v < oddBase {
							if v%2 != 0 {
								fail("odd value below oddBase ", v)
							}
							evens++
						} else if v%2 != 1 {
							fail("even value above oddBase ", v)
						}
					}
					ok := false
					for _, s := range states(v0) {
						if slices.Equal(buf[:evens], backbonePage(s, 0, oddBase-1, false, 0, 0)) {
							ok = true
							break
						}
					}
					if !ok {
						fail("full page backbone", k, ": ", buf[:evens])
					}
				case 3: // counts
					lo := uint64(2*base - 400 + r.IntN(2000))
					hi := lo + uint64(r.IntN(1200))
					n, c := bag.CountRange(k, lo, hi), -1
					if i == churn {
						c = bag.Count(k)
					}
					okN, okC := false, c < 0
					for _, s := range states(v0) {
						okN = okN || n == len(backbonePage(s, lo, hi, false, 0, 0))
						okC = okC || c == len(backbonePage(s, 0, oddBase-1, false, 0, 0))
					}
					if !okN || !okC {
						fail("count ", k, " range ", n, " count ", c, " in none of ", states(v0))
					}
				}
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	bad.Range(func(k, v any) bool { t.Errorf("%v: %v", k, v); return true })

	// The end state matches the models.
	for i, k := range keys {
		s := unpack(tracks[i].hist[tracks[i].ver.Load()].Load())
		want := backbonePage(s, 0, oddBase-1, false, 0, 0)
		for _, m := range models {
			want = append(want, m[k]...)
		}
		slices.Sort(want)
		if got := bag.Page(nil, k, 0, math.MaxUint64, false, 0, 0); !slices.Equal(got, want) {
			t.Errorf("key %s: %d values, want %d", k, len(got), len(want))
		}
		if got := bag.Count(k); got != len(want) {
			t.Errorf("key %s: Count %d, want %d", k, got, len(want))
		}
	}
	t.Logf("%d ops, %d reads", ops, reads.Load())
}

// TestSortedBagReadFallsBackToLock: a read whose every try finds a write in
// progress (seq odd) reads under the key's lock instead, and gets the
// values.
func TestSortedBagReadFallsBackToLock(t *testing.T) {
	b, err := NewSortedBag[string, uint64]()
	must(err)
	for v := range uint64(100) {
		b.Insert("k", v)
	}
	_, _, l := b.find("k")
	if !l.lockFree() {
		t.Skip("reads lock here: V is not one 8-byte word")
	}
	l.seq.Add(1) // as if a writer had stopped inside its window
	if got := b.Page(nil, "k", 10, 20, true, 1, 3); !slices.Equal(got, []uint64{19, 18, 17}) {
		t.Errorf("Page = %v", got)
	}
	if got := b.Count("k"); got != 100 {
		t.Errorf("Count = %d", got)
	}
	if got := b.CountRange("k", 10, 20); got != 11 {
		t.Errorf("CountRange = %d", got)
	}
	l.seq.Add(1)
}

// TestSortedBagLockFreeTypes: reads are lock-free for the 8-byte types on
// 64-bit platforms only.
func TestSortedBagLockFreeTypes(t *testing.T) {
	wide := unsafe.Sizeof(uintptr(0)) == 8
	for name, got := range map[string]bool{
		"uint64":  (&sortedList[uint64]{}).lockFree(),
		"int64":   (&sortedList[int64]{}).lockFree(),
		"float64": (&sortedList[float64]{}).lockFree(),
		"int":     (&sortedList[int]{}).lockFree(),
	} {
		if got != wide {
			t.Errorf("%s: lockFree %v", name, got)
		}
	}
	for name, got := range map[string]bool{
		"string": (&sortedList[string]{}).lockFree(),
		"int32":  (&sortedList[int32]{}).lockFree(),
		"uint8":  (&sortedList[uint8]{}).lockFree(),
	} {
		if got {
			t.Errorf("%s: lockFree", name)
		}
	}
	if !wide {
		return
	}
	b, err := NewSortedBag[string, float64]()
	must(err)
	for _, v := range []float64{3, math.NaN(), -1, 2.5, math.Inf(1)} {
		b.Insert("f", v)
	}
	got := b.Page(nil, "f", math.Inf(-1), math.Inf(1), false, 0, 0)
	if want := []float64{-1, 2.5, 3, math.Inf(1)}; !slices.Equal(got, want) {
		t.Errorf("float page %v, want %v", got, want)
	}
}
