package eventstore

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/elixirscope-go/foundation/internal/procpin"
)

// TestSealWaitsCheaply: with block claiming, a P that stops storing leaves
// the rest of its block of IDs unused and unsettled until the ring's head
// moves its slack past them. Sealing stops there; the queries meanwhile
// must neither rescan the unsealable block each (one check of the ID the
// last attempt stopped at) nor miss or misorder an event; once the head
// moves on, the frontier follows it. A helper goroutine stores one event
// on another P than the test's (the test spins on its own P meanwhile).
func TestSealWaitsCheaply(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps to leave a P's block idle")
	}
	stuck := 0
	for round := 0; round < 50 && stuck < 3; round++ {
		s := testStore(t, capacity(1<<14), nil)
		if s.slack == 0 {
			t.Skip("no block claiming")
		}
		stored := 0
		store := func(typ string) uint64 {
			id, err := s.Store(&Event{Type: typ})
			if err != nil {
				t.Fatal(err)
			}
			stored++
			return id
		}
		store("b")
		mine := procpin.ID()
		var other, after int = -1, -2
		var hid uint64
		var done atomic.Bool
		go func() {
			defer done.Store(true)
			other = procpin.ID()
			id, err := s.Store(&Event{Type: "b"})
			if err != nil {
				t.Error(err)
			}
			hid = id
			after = procpin.ID()
		}()
		// Keep this P busy (no blocking, no yield), so that the helper
		// runs on another one.
		for spins := 0; !done.Load(); spins++ {
		}
		stored++
		// The head past the first block of 256 IDs, within the slack of the
		// helper's block: the block is complete but unsealable.
		for s.ring.Next() <= 1<<blockShift {
			store("b")
		}
		if other == mine || other != after || procpin.ID() != mine || s.ring.Settled(hid+1) || hid>>blockShift != 0 {
			continue // no idle block for sure: try again
		}
		stuck++
		scans0 := s.times.scans
		for range 10 {
			evs, err := s.Query(Query{Type: "b", Since: 1, Limit: 100_000})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != stored {
				t.Fatalf("%d events, want %d", len(evs), stored)
			}
			for i := 1; i < len(evs); i++ {
				if a, b := evs[i-1], evs[i]; a.Time > b.Time || a.Time == b.Time && a.ID >= b.ID {
					t.Fatalf("out of order: %+v before %+v", a, b)
				}
			}
		}
		if n := s.times.scans - scans0; n > 1 {
			t.Errorf("round %d: 10 queries scanned %d blocks while the frontier waits", round, n)
		}
		for s.ring.Next() < 1<<blockShift+3*s.slack {
			store("b")
		}
		if _, err := s.Query(Query{Type: "b", Since: 1}); err != nil {
			t.Fatal(err)
		}
		s.times.mu.RLock()
		frontier, wait := s.times.frontier, s.times.wait
		s.times.mu.RUnlock()
		if want := (s.ring.Next() - s.slack) >> blockShift; frontier < want {
			t.Errorf("round %d: frontier %d (waiting for %d), want >= %d", round, frontier, wait, want)
		}
	}
	if stuck == 0 {
		t.Skip("no P's block was left idle")
	}
}

// TestFirstCandidate: firstCandidate returns the first block in order, of
// any range of slots (wrapping or not), whose summary meets [lo, hi], as a
// scan of the leaves would: whether its leaf-by-leaf probe of the first
// blocks finds it or the walk down the tree does.
func TestFirstCandidate(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		var ti timeIndex
		ti.init(1 << 13) // 35 slots
		for i := range int(ti.nb) {
			if rng.IntN(3) > 0 { // a third stay empty
				mn := rng.Int64N(1000)
				ti.setLeaf(i, mn, mn+rng.Int64N(100))
			}
		}
		for range 200 {
			b0 := rng.Uint64N(3 * ti.nb)
			b1 := b0 + rng.Uint64N(ti.nb+1)
			lo, hi := rng.Int64N(1100)-50, int64(math.MaxInt64)
			if rng.IntN(2) == 0 {
				hi = lo + rng.Int64N(200)
			}
			if rng.IntN(4) == 0 {
				lo, hi = math.MinInt64, math.MaxInt64
			}
			desc := rng.IntN(2) == 0
			want, wantOK := uint64(0), false
			for i := range b1 - b0 {
				b := b0 + i
				if desc {
					b = b1 - 1 - i
				}
				if ti.leafMeets(b, lo, hi) {
					want, wantOK = b, true
					break
				}
			}
			got, ok := ti.firstCandidate(b0, b1, lo, hi, desc)
			if ok != wantOK || got != want {
				t.Fatalf("firstCandidate(%d, %d, %d, %d, %v) = %d %v, want %d %v", b0, b1, lo, hi, desc, got, ok, want, wantOK)
			}
		}
	}
}
